package chat

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// readRule is a ContentRule whose answers a test changes while it runs.
type readRule struct {
	mu     sync.Mutex
	period map[string]time.Duration
	held   map[string]bool
	err    error
	asked  int
}

func (r *readRule) rule(_ context.Context, meetingID string) (time.Duration, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked++
	p, ok := r.period[meetingID]
	if !ok {
		p = Retention
	}
	return p, r.held[meetingID], r.err
}

// served reports whether meetingID's timeline lists the entry and whether
// its file (if fileID is not empty) opens.
func served(t *testing.T, e *env, meetingID, entryID, fileID string) (listed, opens bool) {
	t.Helper()
	list, err := e.svc.Since(e.ctx, meetingID, 0, 0)
	must(t, err)
	for _, en := range list {
		listed = listed || en.ID == entryID
	}
	if fileID == "" {
		return listed, false
	}
	_, rc, err := e.svc.OpenFile(e.ctx, meetingID, fileID)
	switch {
	case err == nil:
		must(t, rc.Close())
		return listed, true
	case errors.Is(err, ErrNotFound):
		return listed, false
	}
	t.Fatal(err)
	return
}

// TestReadsHideExpiredEntriesBeforeTheSweep checks that from an entry's
// deadline on neither Since nor OpenFile serves it, although no
// DeleteExpired ran, with the period and hold from Options.Rule.
func TestReadsHideExpiredEntriesBeforeTheSweep(t *testing.T) {
	r := &readRule{period: map[string]time.Duration{}, held: map[string]bool{}}
	e := newEnv(t, nil, Options{Rule: r.rule})
	post := func(meetingID string) (string, string) {
		f, err := e.svc.PutFile(e.ctx, meetingID, customer, "notiz.txt", strings.NewReader("Vertrag bitte bis Freitag\n"))
		must(t, err)
		return f.ID, f.ID
	}
	aEntry, aFile := post(meetingA)
	bEntry, bFile := post(meetingB)
	r.held[meetingB] = true

	e.clock.Advance(Retention - time.Second)
	if l, o := served(t, e, meetingA, aEntry, aFile); !l || !o {
		t.Fatalf("deadline - 1 s: listed %v, opens %v; want both", l, o)
	}
	before := r.asked
	if _, err := e.svc.Since(e.ctx, meetingA, 0, 0); err != nil {
		t.Fatal(err)
	}
	if r.asked != before+1 {
		t.Fatalf("Since asked the rule %d times, want once", r.asked-before)
	}

	e.clock.Advance(2 * time.Second)
	if l, o := served(t, e, meetingA, aEntry, aFile); l || o {
		t.Fatalf("deadline + 1 s: listed %v, opens %v; want neither", l, o)
	}
	if l, o := served(t, e, meetingB, bEntry, bFile); !l || !o {
		t.Fatalf("held meeting past its deadline: listed %v, opens %v; want both", l, o)
	}

	// A shorter period takes effect on the next read.
	cEntry, _ := post(meetingA)
	if l, _ := served(t, e, meetingA, cEntry, ""); !l {
		t.Fatal("new entry not listed")
	}
	r.period[meetingA] = time.Hour
	e.clock.Advance(time.Hour)
	if l, _ := served(t, e, meetingA, cEntry, ""); l {
		t.Fatal("entry listed past a shortened period")
	}

	// A failing rule serves nothing rather than what may have expired.
	r.err = errors.New("policy store gone")
	if _, err := e.svc.Since(e.ctx, meetingB, 0, 0); err == nil {
		t.Fatal("Since served with a failing rule")
	}
	if _, _, err := e.svc.OpenFile(e.ctx, meetingB, bFile); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("OpenFile with a failing rule: %v, want the rule's error", err)
	}
}

// TestReadsWithoutRuleUseRetention checks the default: past Retention an
// entry is neither listed nor opened, before DeleteExpired.
func TestReadsWithoutRuleUseRetention(t *testing.T) {
	e := newEnv(t, nil, Options{})
	f, err := e.svc.PutFile(e.ctx, meetingA, customer, "notiz.txt", strings.NewReader("hallo\n"))
	must(t, err)
	e.clock.Advance(Retention - time.Second)
	if l, o := served(t, e, meetingA, f.ID, f.ID); !l || !o {
		t.Fatalf("deadline - 1 s: listed %v, opens %v", l, o)
	}
	e.clock.Advance(2 * time.Second)
	if l, o := served(t, e, meetingA, f.ID, f.ID); l || o {
		t.Fatalf("deadline + 1 s: listed %v, opens %v", l, o)
	}
}
