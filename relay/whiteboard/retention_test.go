package whiteboard

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRetention: each op is deleted Retention after it was accepted; an
// open board stops showing it at its deadline, before the sweep ran.
func TestRetention(t *testing.T) {
	e := newEnv(t, nil, Options{})
	b := e.open(meetingA)
	t0 := e.clock.Now()
	apply(t, b, customer, stroke(1, 0.1, 0.1)) // x
	e.clock.Advance(24 * time.Hour)
	y := apply(t, b, advisor, stroke(1, 0.2, 0.2))
	apply(t, b, advisor, Op{Kind: KindErase, IDs: []string{y.ID}})
	apply(t, b, advisor, Op{Kind: KindUndo}) // y back
	other := e.open(meetingB)
	apply(t, other, customer, stroke(2, 0.3, 0.3))

	res, err := e.svc.DeleteExpired(e.ctx, t0.Add(Retention-time.Nanosecond))
	if err != nil || res.Ops != 0 {
		t.Fatalf("before the deadline: %+v %v", res, err)
	}
	e.clock.Set(t0.Add(Retention))
	eq(t, visibleIDs(t, b, page1), []string{y.ID})
	if b.Generation() != 1 {
		t.Fatalf("generation %d after x expired", b.Generation())
	}
	_, err = b.Since(e.ctx, 0, 0)
	wantErr(t, err, ErrResync)
	res, err = e.svc.DeleteExpired(e.ctx, t0.Add(Retention))
	if err != nil || res.Ops != 1 {
		t.Fatalf("at x's deadline: %+v %v", res, err)
	}
	res, err = e.svc.DeleteExpired(e.ctx, t0.Add(Retention+24*time.Hour))
	if err != nil || res.Ops != 4 || res.Boards != 2 {
		t.Fatalf("a day later: %+v %v", res, err)
	}
	if n, _ := storedKeys(t, e.kv); n != 0 {
		t.Fatalf("%d keys left", n)
	}
	e.clock.Set(t0.Add(Retention + 24*time.Hour))
	st, err := b.State(e.ctx, PageRef{})
	must(t, err)
	if len(st.Pages) != 0 {
		t.Fatalf("expired content still shown: %s", jsonOf(t, st))
	}
	// Numbers keep rising on the live board, so replicas see new ops.
	z := apply(t, b, customer, stroke(1, 0.5, 0.5))
	if z.Seq <= st.Seq || st.Seq < 4 {
		t.Fatalf("seq %d after %d", z.Seq, st.Seq)
	}
}

// TestRetentionRule: per-meeting periods, holds and a failing rule, as the
// relay's sweep passes them.
func TestRetentionRule(t *testing.T) {
	const meetingC = "00000000000000000000000000000000"
	e := newEnv(t, nil, Options{})
	t0 := e.clock.Now()
	for _, m := range []string{meetingA, meetingB, meetingC} {
		b := e.open(m)
		for range opBatch + 3 {
			apply(t, b, customer, stroke(1, 0.1, 0.1))
		}
	}
	rule := func(_ context.Context, meetingID string) (time.Duration, bool, error) {
		switch meetingID {
		case meetingA:
			return time.Hour, false, nil
		case meetingB:
			return time.Hour, true, nil
		}
		return 0, false, errors.New("policy store gone")
	}
	res, st, err := e.svc.DeleteExpiredSweep(e.ctx, t0.Add(time.Hour), rule)
	if err == nil || res.Ops != opBatch+3 || st.Due != opBatch+3 || st.Failed != 1 {
		t.Fatalf("sweep: %+v %+v %v", res, st, err)
	}
	// A board reading with the same rule stops serving at the deadline.
	e2 := newEnv(t, e.kv, Options{Rule: rule})
	e2.clock.Set(t0.Add(time.Hour))
	held, err := e2.svc.Open(e.ctx, meetingB)
	must(t, err)
	st2, err := held.State(e.ctx, PageRef{})
	must(t, err)
	if len(st2.Objects(page1)) != opBatch+3 {
		t.Fatalf("held board shows %d objects", len(st2.Objects(page1)))
	}
	_, err = e2.svc.Open(e.ctx, meetingC)
	if err == nil {
		t.Fatal("a failing rule served the board")
	}
}

// TestDeleteMeeting: erasure removes a board's every key; an open board
// shows nothing afterwards and tells its caller through Generation.
func TestDeleteMeeting(t *testing.T) {
	e := newEnv(t, nil, Options{})
	b := e.open(meetingA)
	keep := e.open(meetingB)
	for range opBatch*2 + 5 {
		apply(t, b, customer, stroke(1, 0.1, 0.1))
	}
	apply(t, keep, customer, stroke(1, 0.1, 0.1))
	res, err := e.svc.DeleteMeeting(e.ctx, meetingA)
	if err != nil || res.Ops != opBatch*2+5 || res.Boards != 1 {
		t.Fatalf("delete: %+v %v", res, err)
	}
	if n, _ := storedKeys(t, e.kv); n != 3 {
		t.Fatalf("%d keys left, want meeting B's 3", n)
	}
	st, err := b.State(e.ctx, PageRef{})
	must(t, err)
	if len(st.Pages) != 0 || b.Generation() != 1 {
		t.Fatalf("after erasure: %s, generation %d", jsonOf(t, st), b.Generation())
	}
	_, err = e.svc.DeleteMeeting(e.ctx, "../x")
	wantErr(t, err, ErrInvalid)
}
