package meeting

import (
	"strings"
	"testing"
	"time"
)

func TestMetadataLifecycle(t *testing.T) {
	e := newEnv(t, nil, nil)
	created := e.clock.Now()
	m, tok := e.instant()
	md := e.meta(m.ID)
	if md.Type != TypeInstant || md.Initiator != advisor.UserID || md.AdvisorName != "Anna Beraterin" ||
		!md.Created.Equal(created) || !md.Started.IsZero() || !md.FirstCustomerEntry.IsZero() {
		t.Fatalf("metadata after create %+v", md)
	}
	e.clock.Advance(time.Minute)
	a := e.join(tok, "Max Kunde", "198.51.100.7")
	b := e.join(tok, "Erika Kundin", "2001:db8:1:2::5")
	e.clock.Advance(time.Minute)
	firstEntry := e.clock.Now()
	must(t, e.svc.Admit(e.ctx, advisor, m.ID, a.ParticipantID))
	e.clock.Advance(time.Minute)
	must(t, e.svc.Admit(e.ctx, advisor, m.ID, b.ParticipantID))
	md = e.meta(m.ID)
	if !md.FirstCustomerEntry.Equal(firstEntry) || !md.Started.Equal(firstEntry) {
		t.Fatalf("first customer entry %v, start %v, want %v", md.FirstCustomerEntry, md.Started, firstEntry)
	}
	if len(md.Participants) != 2 || md.Participants[0].Name != "Max Kunde" || md.Participants[0].IP != "198.51.100.7" ||
		md.Participants[1].IP != "2001:db8:1:2::5" || !md.Participants[0].Admitted.Equal(firstEntry) {
		t.Fatalf("participants %+v", md.Participants)
	}
	// Remove and a later admission of someone else do not move the first entry.
	must(t, e.svc.Remove(e.ctx, advisor, m.ID, a.ParticipantID))
	c := e.join(tok, "Dritter", "")
	e.clock.Advance(time.Minute)
	must(t, e.svc.Admit(e.ctx, advisor, m.ID, c.ParticipantID))
	if md = e.meta(m.ID); !md.FirstCustomerEntry.Equal(firstEntry) {
		t.Fatalf("first customer entry moved to %v", md.FirstCustomerEntry)
	}
	e.clock.Advance(37 * time.Minute)
	must(t, e.svc.End(e.ctx, advisor, m.ID))
	md = e.meta(m.ID)
	if !md.Ended.Equal(e.clock.Now()) || md.Duration != 39*time.Minute {
		t.Fatalf("end %v, duration %v; want 39m", md.Ended, md.Duration)
	}
}

func TestMetadataBooked(t *testing.T) {
	e := newEnv(t, nil, nil)
	start := e.clock.Now().Add(time.Hour)
	m, _ := e.booked(start)
	md := e.meta(m.ID)
	if md.Type != TypeBooked || md.Initiator != "booking" || md.AdvisorID != advisor.UserID {
		t.Fatalf("metadata %+v", md)
	}
	// Ended without ever starting: no duration.
	must(t, e.svc.End(e.ctx, advisor, m.ID))
	if md := e.meta(m.ID); md.Duration != 0 || md.Ended.IsZero() {
		t.Fatalf("metadata after End %+v", md)
	}
}

func TestTruncateIP(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7":        "198.51.100.0",
		"10.0.0.255":          "10.0.0.0",
		"255.255.255.255":     "255.255.255.0",
		"::ffff:198.51.100.7": "198.51.100.0",
		"2001:db8:1:2::5":     "2001:db8:1::",
		"2001:0db8:abcd:ffff:ffff:ffff:ffff:ffff": "2001:db8:abcd::",
		"::1":          "::",
		"fe80::1%eth0": "fe80::",
		"":             "",
		"not an ip":    "",
	} {
		if got := TruncateIP(in); got != want {
			t.Errorf("TruncateIP(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAnonymiseAtExactlyTwoDays(t *testing.T) {
	e := newEnv(t, nil, nil)
	m, tok := e.instant()
	a, err := e.svc.Join(e.ctx, tok, JoinRequest{Name: "Max Kunde", Phone: "+49 170 1234567", IP: "198.51.100.7"})
	must(t, err)
	b := e.join(tok, "Erika Kundin", "2001:db8:1:2::5")
	must(t, e.svc.Admit(e.ctx, advisor, m.ID, a.ParticipantID))
	e.clock.Advance(30 * time.Minute)
	must(t, e.svc.End(e.ctx, advisor, m.ID))
	ended := e.clock.Now()
	before := e.meta(m.ID)

	// A second meeting, still running, must never be touched.
	other, otherTok := e.instant()
	o := e.join(otherTok, "Noch Da", "203.0.113.9")

	res, err := e.svc.AnonymiseMetadata(e.ctx, ended.Add(2*24*time.Hour-time.Second))
	if err != nil || res != (AnonymiseResult{}) {
		t.Fatalf("1 s before due: %+v, %v", res, err)
	}
	if md := e.meta(m.ID); md.Participants[0].Name != "Max Kunde" || !md.Anonymised.IsZero() {
		t.Fatalf("anonymised too early: %+v", md)
	}
	res, err = e.svc.AnonymiseMetadata(e.ctx, ended.Add(2*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res != (AnonymiseResult{Meetings: 1, Names: 3, IPs: 2}) {
		t.Fatalf("result %+v", res)
	}
	md := e.meta(m.ID)
	if md.AdvisorName != "" || md.Participants[0].Name != "" || md.Participants[1].Name != "" {
		t.Fatalf("names kept: %+v", md)
	}
	if md.Participants[0].IP != "198.51.100.0" || md.Participants[1].IP != "2001:db8:1::" {
		t.Fatalf("IPs %q %q", md.Participants[0].IP, md.Participants[1].IP)
	}
	// Counts and times are kept.
	if len(md.Participants) != 2 || !md.Ended.Equal(before.Ended) || md.Duration != before.Duration ||
		!md.FirstCustomerEntry.Equal(before.FirstCustomerEntry) || md.MeetingID != m.ID || md.Type != TypeInstant {
		t.Fatalf("anonymised record lost data: %+v", md)
	}
	// The meeting record lost names and secrets too.
	ps, _ := e.svc.Participants(e.ctx, advisor, m.ID)
	for _, p := range ps {
		if p.Name != "" || p.Phone != "" {
			t.Fatalf("meeting record keeps personal data for %s", p.ID)
		}
	}
	for _, s := range []string{a.Secret, b.Secret} {
		if _, err := e.svc.ParticipantBySecret(e.ctx, s); err == nil {
			t.Fatal("secret still works after anonymisation")
		}
	}
	dump := dumpKV(t, e)
	for k, v := range dump {
		if k == string(metaKey(other.ID)) || k == string(meetingKey(other.ID)) {
			continue
		}
		for _, pd := range []string{"Max Kunde", "Erika Kundin", "Anna Beraterin", "198.51.100.7", "2001:db8:1:2::5", "491701234567"} {
			if strings.Contains(v, pd) {
				t.Errorf("%q still stored in a %s record", pd, keyKind([]byte(k)))
			}
		}
	}
	// The running meeting is untouched; a second run changes nothing.
	if st := e.state(o.Secret); st != StateWaiting {
		t.Fatalf("other meeting's participant %s", st)
	}
	if md := e.meta(other.ID); md.Participants[0].Name != "Noch Da" || md.Participants[0].IP != "203.0.113.9" {
		t.Fatalf("other meeting touched: %+v", md)
	}
	res, err = e.svc.AnonymiseMetadata(e.ctx, ended.Add(2*24*time.Hour))
	if err != nil || res != (AnonymiseResult{}) {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	e.assertLogsClean("Max Kunde", "Erika Kundin", "Anna Beraterin", "198.51.100.7", "2001:db8:1:2::5")
}

// TestAnonymiseNeverEnded: an instant meeting that never ended is due 2
// days after its link expired (2 days + 24 h after creation), not before.
func TestAnonymiseNeverEnded(t *testing.T) {
	e := newEnv(t, nil, nil)
	created := e.clock.Now()
	m, tok := e.instant()
	e.join(tok, "Max Kunde", "198.51.100.7")
	due := created.Add(2*24*time.Hour + 24*time.Hour)
	if res, _ := e.svc.AnonymiseMetadata(e.ctx, due.Add(-time.Second)); res.Meetings != 0 {
		t.Fatalf("anonymised 1 s early: %+v", res)
	}
	res, err := e.svc.AnonymiseMetadata(e.ctx, due)
	if err != nil || res.Meetings != 1 {
		t.Fatalf("at due: %+v, %v", res, err)
	}
	if md := e.meta(m.ID); md.Participants[0].Name != "" || md.Participants[0].IP != "198.51.100.0" {
		t.Fatalf("metadata %+v", md)
	}
	if _, err := e.svc.Resolve(e.ctx, tok); err == nil {
		t.Fatal("link works after anonymisation")
	}
}

func TestRetentionClasses(t *testing.T) {
	cls := RetentionClasses()
	found := false
	for _, c := range cls {
		if c.Name == "" || c.What == "" || c.Period <= 0 || (c.Action != ActionAnonymise && c.Action != ActionDelete) {
			t.Errorf("incomplete class %+v", c)
		}
		if c.Name == ClassMeetingMetadata {
			found = true
			if c.Period != 48*time.Hour || c.Action != ActionAnonymise {
				t.Errorf("meeting metadata class %+v", c)
			}
		}
	}
	if !found || ClassMeetingMetadata != "meeting_metadata" {
		t.Fatal("no meeting_metadata class")
	}
}
