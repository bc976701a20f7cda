package meeting

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAnonymiseMetadataByRule checks that a per-meeting rule sets the
// period, that a held meeting is left alone, and that a failing rule keeps
// the meeting's data and reports the error.
func TestAnonymiseMetadataByRule(t *testing.T) {
	e := newEnv(t, nil, nil)
	short, shortTok := e.instant()
	held, heldTok := e.instant()
	broken, brokenTok := e.instant()
	e.join(shortTok, "Max Kunde", "198.51.100.7")
	e.join(heldTok, "Erika Kundin", "198.51.100.8")
	e.join(brokenTok, "Dritter", "198.51.100.9")
	for _, id := range []string{short.ID, held.ID, broken.ID} {
		must(t, e.svc.End(e.ctx, advisor, id))
	}
	ended := e.clock.Now()
	var asked []string
	rule := func(_ context.Context, tenantID, meetingID string) (time.Duration, bool, error) {
		if tenantID != short.TenantID {
			t.Errorf("rule asked for tenant %q", tenantID)
		}
		asked = append(asked, meetingID)
		switch meetingID {
		case short.ID:
			return 6 * time.Hour, false, nil
		case held.ID:
			return time.Hour, true, nil
		}
		return 0, false, errors.New("policy store gone")
	}
	res, err := e.svc.AnonymiseMetadataBy(e.ctx, ended.Add(6*time.Hour-time.Second), rule)
	if res.Meetings != 0 || err == nil {
		t.Fatalf("before the short period: %+v, %v", res, err)
	}
	res, err = e.svc.AnonymiseMetadataBy(e.ctx, ended.Add(6*time.Hour), rule)
	if res.Meetings != 1 || res.Names != 2 || err == nil {
		t.Fatalf("at the short period: %+v, %v", res, err)
	}
	if md := e.meta(short.ID); md.Anonymised.IsZero() || md.Participants[0].Name != "" {
		t.Fatalf("short meeting not anonymised: %+v", md)
	}
	// Long after the default period the held and the broken one are kept.
	res, _ = e.svc.AnonymiseMetadataBy(e.ctx, ended.Add(30*24*time.Hour), rule)
	if res.Meetings != 0 {
		t.Fatalf("held or broken meeting anonymised: %+v", res)
	}
	for _, id := range []string{held.ID, broken.ID} {
		if md := e.meta(id); !md.Anonymised.IsZero() || md.Participants[0].Name == "" {
			t.Fatalf("meeting %s lost its data: %+v", id, md)
		}
	}
	if len(asked) == 0 {
		t.Fatal("rule never asked")
	}
}
