package messaging

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"parley/relay/store"
)

// keysOf returns the store keys that mention the conversation.
func keysOf(t *testing.T, f *fixture, conv string) []string {
	var out []string
	for k, v := range rawKeys(t, f.mem) {
		if strings.Contains(k, conv) || strings.Contains(string(v), conv) {
			if strings.HasPrefix(k, prefixFeed) && strings.Contains(string(v), `"kind":"deleted"`) {
				continue // the tombstone
			}
			out = append(out, k)
		}
	}
	return out
}

func TestSweepDeadlines(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Retention = func(tenant string) time.Duration {
			if tenant == tenantB {
				return 7 * 24 * time.Hour
			}
			return 0 // default
		}
	})
	c := f.open(t, advisorA, cust1)
	f.send(t, customer1, c.ID, "m1", "Frage")
	if _, err := f.svc.Send(ctx, advisorA, c.ID, Draft{ClientID: "m2", Text: "Antwort",
		Attachments: []AttachmentInput{{Name: "info.pdf", Data: []byte("%PDF-1.7\n...")}}}); err != nil {
		t.Fatal(err)
	}
	held := f.open(t, advisorA, cust2)
	f.send(t, advisorA, held.ID, "h1", "keep me")
	closed, _ := f.svc.SetStatus(ctx, advisorA, c.ID, StatusClosed)
	f.svc.SetStatus(ctx, advisorA, held.ID, StatusClosed)
	deadline := closed.ClosedAt.Add(DefaultRetention)
	if !closed.Expires.Equal(deadline) {
		t.Fatalf("expires %v, want %v", closed.Expires, deadline)
	}
	isHeld := func(cv Conversation) bool { return cv.ID == held.ID }
	headBefore, _ := f.svc.Head(ctx, advisorA, advA)

	// One second before the deadline: served and kept by a sweep.
	f.clock.Set(deadline.Add(-time.Second))
	if _, err := f.svc.Get(ctx, advisorA, c.ID); err != nil {
		t.Fatalf("before deadline: %v", err)
	}
	if st, err := f.svc.SweepExpired(ctx, f.clock.Now(), isHeld); err != nil || st.Deleted != 0 || st.Due != 0 {
		t.Fatalf("sweep before deadline: %+v %v", st, err)
	}
	// One second after: not served anywhere, still stored.
	f.clock.Set(deadline.Add(time.Second))
	if _, err := f.svc.Get(ctx, advisorA, c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after deadline: %v", err)
	}
	if _, err := f.svc.Messages(ctx, advisorA, c.ID, 0, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("messages after deadline: %v", err)
	}
	if _, err := f.svc.Send(ctx, customer1, c.ID, Draft{ClientID: "late", Text: "x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("send after deadline: %v", err)
	}
	if l, _ := f.svc.List(ctx, advisorA, ListFilter{}); len(l) != 0 {
		t.Fatalf("listed after deadline: %+v", l)
	}
	p, _ := f.svc.Changes(ctx, advisorA, advA, 0, 0)
	for _, ch := range p.Changes {
		if ch.Conversation != nil || ch.Message != nil {
			t.Fatalf("feed serves expired content: %+v", ch)
		}
	}
	if ex, err := f.svc.ExportCustomer(ctx, tenantA, cust1); err != nil || len(ex) != 0 {
		t.Fatalf("export after deadline: %v %+v", err, ex)
	}
	if len(keysOf(t, f, c.ID)) == 0 {
		t.Fatal("deleted before the sweep")
	}
	// The sweep deletes it and leaves a tombstone; the held one stays.
	st, err := f.svc.SweepExpired(ctx, f.clock.Now(), isHeld)
	if err != nil || st.Deleted != 1 || st.Held != 1 || st.Due != 1 {
		t.Fatalf("sweep: %+v %v", st, err)
	}
	if left := keysOf(t, f, c.ID); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	if len(keysOf(t, f, held.ID)) == 0 {
		t.Fatal("held conversation deleted")
	}
	p, _ = f.svc.Changes(ctx, advisorA, advA, headBefore, 0)
	if len(p.Changes) != 1 || p.Changes[0].Kind != ChangeDeleted || p.Changes[0].ConversationID != c.ID {
		t.Fatalf("tombstone: %+v", p)
	}
	// Released hold: deleted by the next sweep.
	if st, err := f.svc.SweepExpired(ctx, f.clock.Now(), nil); err != nil || st.Deleted != 1 {
		t.Fatalf("sweep after release: %+v %v", st, err)
	}
	if len(keysOf(t, f, held.ID)) != 0 {
		t.Fatal("released conversation kept")
	}

	// A tenant's shorter period.
	b := Actor{TenantID: tenantB, UserID: advA, Role: RoleAdvisor}
	cb := f.open(t, b, cust1)
	cb, _ = f.svc.SetStatus(ctx, b, cb.ID, StatusClosed)
	if !cb.Expires.Equal(cb.ClosedAt.Add(7 * 24 * time.Hour)) {
		t.Fatalf("tenant period: %+v", cb)
	}
}

func TestSweepResumesInterruptedDeletion(t *testing.T) {
	f := newFixture(t, nil)
	c := f.open(t, advisorA, cust1)
	for i := range deleteBatch*2 + 5 {
		f.send(t, customer1, c.ID, fmt.Sprintf("m%d", i), "x")
	}
	f.svc.SetStatus(ctx, advisorA, c.ID, StatusClosed)
	f.clock.Advance(DefaultRetention)
	// A cancelled context interrupts after the first step.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.svc.group = store.NewGroup(store.GroupOptions{KV: &cancelAfter{KV: f.mem, cancel: cancel, n: 1}})
	_ = f.svc.deleteConversation(cctx, c.ID, func(*convRecord) bool { return true })
	f.svc.group = store.NewGroup(store.GroupOptions{KV: f.mem})
	if _, err := f.svc.Get(ctx, adminA, c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("half-deleted conversation served: %v", err)
	}
	if len(keysOf(t, f, c.ID)) == 0 {
		t.Fatal("interruption did not interrupt")
	}
	st, err := f.svc.SweepExpired(ctx, f.clock.Now(), func(Conversation) bool { return true })
	if err != nil || st.Deleted != 1 {
		t.Fatalf("resume (a hold cannot stop a deletion that began): %+v %v", st, err)
	}
	if left := keysOf(t, f, c.ID); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestSweepPropertyNothingNotDue builds random conversations with random
// states, closing times, tenant periods and holds, sweeps at a random
// time, and checks that exactly the due, unheld conversations are gone
// and every other one is intact.
func TestSweepPropertyNothingNotDue(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		periods := map[string]time.Duration{}
		for _, tn := range []string{"t0", "t1", "t2"} {
			periods[tn] = time.Duration(1+rng.IntN(40)) * 24 * time.Hour
		}
		f := newFixture(t, func(o *Options) {
			o.Retention = func(tenant string) time.Duration { return periods[tenant] }
		})
		type item struct {
			c     Conversation
			a     Actor
			msgs  int
			held  bool
			state Status
		}
		var items []*item
		for i := range 30 {
			tn := fmt.Sprintf("t%d", rng.IntN(3))
			a := Actor{TenantID: tn, UserID: fmt.Sprintf("adv%d", rng.IntN(3)), Role: RoleAdvisor}
			c := f.open(t, a, fmt.Sprintf("%032x", i+1))
			it := &item{c: c, a: a, held: rng.IntN(4) == 0}
			for j := range rng.IntN(5) {
				f.send(t, a, c.ID, fmt.Sprintf("m%d", j), "x")
				it.msgs++
			}
			it.state = []Status{StatusOpen, StatusPending, StatusClosed, StatusClosed}[rng.IntN(4)]
			if it.state != StatusOpen {
				if _, err := f.svc.SetStatus(ctx, a, c.ID, it.state); err != nil {
					t.Fatal(err)
				}
			}
			items = append(items, it)
			f.clock.Advance(time.Duration(rng.IntN(72)) * time.Hour)
		}
		now := f.clock.Now().Add(time.Duration(rng.IntN(60*24)) * time.Hour)
		held := map[string]bool{}
		for _, it := range items {
			held[it.c.ID] = it.held
		}
		// Read the records as stored to know the truth.
		due := map[string]bool{}
		for _, it := range items {
			var r *convRecord
			f.mem.View(ctx, func(tx txn) error { r, _ = getConv(tx, it.c.ID); return nil })
			due[it.c.ID] = r.Status == StatusClosed && !now.Before(r.ClosedAt.Add(periods[r.TenantID]))
		}
		st, err := f.svc.SweepExpired(ctx, now, func(c Conversation) bool { return held[c.ID] })
		if err != nil {
			t.Fatal(err)
		}
		deleted := 0
		for _, it := range items {
			gone := len(keysOf(t, f, it.c.ID)) == 0
			want := due[it.c.ID] && !it.held
			if gone != want {
				t.Fatalf("seed %d: conversation (due %v, held %v) gone=%v", seed, due[it.c.ID], it.held, gone)
			}
			if gone {
				deleted++
				continue
			}
			var r *convRecord
			f.mem.View(ctx, func(tx txn) error { r, _ = getConv(tx, it.c.ID); return nil })
			if r == nil || r.LastSeq != uint64(it.msgs) || r.Deleting {
				t.Fatalf("seed %d: kept conversation changed: %+v", seed, r)
			}
			n := 0
			f.mem.View(ctx, func(tx txn) error {
				return tx.Scan(msgPrefix(it.c.ID), func(_, _ []byte) error { n++; return nil })
			})
			if n != it.msgs {
				t.Fatalf("seed %d: kept conversation has %d of %d messages", seed, n, it.msgs)
			}
		}
		if st.Deleted != deleted {
			t.Fatalf("seed %d: stats %+v, deleted %d", seed, st, deleted)
		}
	}
}
