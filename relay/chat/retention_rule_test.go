package chat

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestDeleteExpiredByRule checks per-meeting periods, holds and a failing
// rule, with more held entries than one batch ahead of the due ones.
func TestDeleteExpiredByRule(t *testing.T) {
	e := newEnv(t, nil, Options{})
	const meetingC = "00000000000000000000000000000000"
	t0 := e.clock.Now()
	for i := range entryBatch + 6 {
		_, _, err := e.svc.Post(e.ctx, meetingB, advisor, "gehalten "+strconv.Itoa(i), "")
		must(t, err)
	}
	_, _, err := e.svc.Post(e.ctx, meetingC, advisor, "kaputt", "")
	must(t, err)
	e.clock.Advance(time.Minute)
	for range 3 {
		_, _, err := e.svc.Post(e.ctx, meetingA, customer, "kurz", "")
		must(t, err)
	}
	asked := map[string]int{}
	rule := func(_ context.Context, meetingID string) (time.Duration, bool, error) {
		asked[meetingID]++
		switch meetingID {
		case meetingA:
			return 24 * time.Hour, false, nil
		case meetingB:
			return time.Hour, true, nil
		}
		return 0, false, errors.New("policy store gone")
	}
	res, err := e.svc.DeleteExpiredBy(e.ctx, t0.Add(time.Minute+24*time.Hour-time.Nanosecond), rule)
	if res.Entries != 0 || err == nil {
		t.Fatalf("before A's period: %+v, %v", res, err)
	}
	res, err = e.svc.DeleteExpiredBy(e.ctx, t0.Add(time.Minute+24*time.Hour), rule)
	if res.Entries != 3 || err == nil {
		t.Fatalf("at A's period: %+v, %v", res, err)
	}
	if asked[meetingB] != 2 || asked[meetingA] != 2 {
		t.Fatalf("rule asked %v, want once per meeting and call", asked)
	}
	// Long after the default period the held and the broken meeting keep
	// everything.
	res, _ = e.svc.DeleteExpiredBy(e.ctx, t0.Add(10*Retention), rule)
	if res.Entries != 0 {
		t.Fatalf("held or broken content deleted: %+v", res)
	}
	for id, n := range map[string]int{meetingA: 0, meetingB: entryBatch + 6, meetingC: 1} {
		left, err := e.svc.Since(e.ctx, id, 0, 0)
		must(t, err)
		if len(left) != n {
			t.Errorf("meeting %s has %d entries, want %d", id, len(left), n)
		}
	}
	// Without a rule the default applies to everything.
	res, err = e.svc.DeleteExpired(e.ctx, t0.Add(10*Retention))
	if err != nil || res.Entries != entryBatch+7 {
		t.Fatalf("default sweep: %+v, %v", res, err)
	}
}
