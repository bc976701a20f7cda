package messaging

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"parley/relay/store"
)

// TestTenThousandSendsWithFaultsAndRetries sends 10,000 messages over ten
// conversations of two advisors from eight concurrent clients through a
// store that fails some commits before applying them and some after
// (the client sees an error although the message is stored). Every client
// retries with the same client id until it gets an answer. Exactly 10,000
// messages must be stored, each once, and every conversation's sequence
// must run 1, 2, 3, … without gaps. Two advisors' apps that were offline
// the whole time then catch up through Changes and must match the store.
func TestTenThousandSendsWithFaultsAndRetries(t *testing.T) {
	const (
		total   = 10_000
		convs   = 10
		clients = 8
	)
	mem := &store.Memory{}
	fkv := &faultyKV{KV: mem, rng: rand.New(rand.NewPCG(1, 2)), before: 0.1, after: 0.1}
	f := newFixture(t, func(o *Options) { o.Store = fkv })
	f.mem = mem

	var conv []Conversation
	var actors [][2]Actor // advisor, customer of each conversation
	for i := range convs {
		adv := []Actor{advisorA, advisorB}[i%2]
		cust := fmt.Sprintf("%032x", i+1)
		var c Conversation
		for {
			var err error
			c, _, err = f.svc.Open(ctx, adv, OpenRequest{Channel: ChannelChat, CustomerID: cust})
			if err == nil {
				break
			}
			if !errors.Is(err, errInjected) {
				t.Fatal(err)
			}
		}
		conv = append(conv, c)
		actors = append(actors, [2]Actor{adv, {TenantID: tenantA, UserID: cust, Role: RoleCustomer}})
	}
	// Re-opening after ambiguous failures must not have made duplicates.
	for _, a := range []Actor{advisorA, advisorB} {
		l, err := f.svc.List(ctx, a, ListFilter{})
		if err != nil || len(l) != convs/2 {
			t.Fatalf("%s has %d conversations (%v), want %d", a.UserID, len(l), err, convs/2)
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += clients {
				ci := i % convs
				a := actors[ci][i/convs%2] // alternate advisor and customer
				id := fmt.Sprintf("m%05d", i)
				for attempt := 0; ; attempt++ {
					m, err := f.svc.Send(ctx, a, conv[ci].ID, Draft{ClientID: id, Text: id})
					if err == nil {
						if m.Text != id {
							errs <- fmt.Errorf("%s answered with %q", id, m.Text)
							return
						}
						break
					}
					if !errors.Is(err, errInjected) || attempt > 100 {
						errs <- fmt.Errorf("%s: %w", id, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if fkv.failedBefore == 0 || fkv.failedAfter == 0 {
		t.Fatalf("no faults injected: %d before, %d after", fkv.failedBefore, fkv.failedAfter)
	}
	t.Logf("injected %d failures before and %d after the commit", fkv.failedBefore, fkv.failedAfter)

	fkv.before, fkv.after = 0, 0
	seen := map[string]bool{}
	stored := map[string][]Message{}
	for _, c := range conv {
		var all []Message
		for {
			page, err := f.svc.Messages(ctx, adminA, c.ID, uint64(len(all)), 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
		}
		for i, m := range all {
			if m.Seq != uint64(i+1) {
				t.Fatalf("conversation %s: message %d has seq %d", c.ID, i, m.Seq)
			}
			if seen[m.Text] {
				t.Fatalf("%s stored twice", m.Text)
			}
			seen[m.Text] = true
		}
		got, _ := f.svc.Get(ctx, adminA, c.ID)
		if got.LastSeq != uint64(len(all)) {
			t.Fatalf("conversation %s: LastSeq %d, %d messages", c.ID, got.LastSeq, len(all))
		}
		stored[c.ID] = all
	}
	if len(seen) != total {
		t.Fatalf("stored %d distinct messages, want %d", len(seen), total)
	}

	// The offline apps catch up from cursor 0.
	for _, a := range []Actor{advisorA, advisorB} {
		cache := map[string]map[uint64]Message{}
		var cursor uint64
		pages := 0
		for {
			p, err := f.svc.Changes(ctx, a, a.UserID, cursor, 500)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, ch := range p.Changes {
				if ch.Seq <= cursor {
					t.Fatalf("change %d after cursor %d", ch.Seq, cursor)
				}
				if cache[ch.ConversationID] == nil {
					cache[ch.ConversationID] = map[uint64]Message{}
				}
				if ch.Message != nil {
					cache[ch.ConversationID][ch.Message.Seq] = *ch.Message
				}
			}
			cursor = p.Next
			if !p.More {
				break
			}
		}
		head, _ := f.svc.Head(ctx, a, a.UserID)
		if cursor != head {
			t.Fatalf("%s: caught up to %d, head %d", a.UserID, cursor, head)
		}
		if len(cache) != convs/2 {
			t.Fatalf("%s: cache has %d conversations", a.UserID, len(cache))
		}
		for id, msgs := range cache {
			want := stored[id]
			if len(msgs) != len(want) {
				t.Fatalf("%s: cache has %d messages of %s, store %d", a.UserID, len(msgs), id, len(want))
			}
			for _, w := range want {
				g := msgs[w.Seq]
				if g.ID != w.ID || g.Text != w.Text || g.Side != w.Side {
					t.Fatalf("%s: cache %+v, store %+v", a.UserID, g, w)
				}
			}
		}
		t.Logf("%s caught up in %d pages", a.UserID, pages)
	}
}
