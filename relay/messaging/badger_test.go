package messaging

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/store"
)

func openBadger(t testing.TB) *store.Badger {
	t.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	db, err := store.Open(store.BadgerOptions{Dir: t.TempDir(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestBadgerConcurrentSends runs concurrent senders, with duplicate
// retries, against the encrypted on-disk store, where transactions really
// conflict.
func TestBadgerConcurrentSends(t *testing.T) {
	db := openBadger(t)
	f := newFixture(t, func(o *Options) { o.Store = db; o.Clock = clock.Real{} })
	var convs []Conversation
	for i := range 4 {
		a := []Actor{advisorA, advisorB}[i%2]
		convs = append(convs, f.open(t, a, fmt.Sprintf("%032x", i+1)))
	}
	const workers, each = 8, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c := convs[(w+i)%len(convs)]
				id := fmt.Sprintf("w%d-%d", w, i)
				a := advisorA
				if c.AdvisorID == advB {
					a = advisorB
				}
				for range 2 { // every send is retried once
					if _, err := f.svc.Send(ctx, a, c.ID, Draft{ClientID: id, Text: id}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, c := range convs {
		ms, err := f.svc.Messages(ctx, adminA, c.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range ms {
			if m.Seq != uint64(i+1) {
				t.Fatalf("gap: message %d has seq %d", i, m.Seq)
			}
		}
		total += len(ms)
	}
	if total != workers*each {
		t.Fatalf("stored %d, want %d", total, workers*each)
	}
	p, err := f.svc.Changes(ctx, advisorA, advA, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ch := range p.Changes {
		if ch.Kind == ChangeMessage {
			n++
		}
	}
	if n != workers*each/2 {
		t.Fatalf("advisor A's feed has %d messages, want %d", n, workers*each/2)
	}
}

// BenchmarkSendParallel measures persisted messages per second: 64
// parallel senders over 16 conversations of 4 advisors, badger on disk
// with synced writes; every write committed alone ("alone", one sync per
// message) beside group commit ("group", what queued during the previous
// commit; "group-wait-2ms", lingering up to 2 ms for more).
func BenchmarkSendParallel(b *testing.B) {
	for _, m := range []struct {
		name  string
		batch int
		wait  time.Duration
	}{{"alone", 1, 0}, {"group", 0, 0}, {"group-wait-2ms", 0, 2 * time.Millisecond}} {
		b.Run(m.name, func(b *testing.B) {
			db := openBadger(b)
			f := newFixture(b, func(o *Options) {
				o.Store, o.Clock, o.MaxBatch, o.BatchWait = db, clock.Real{}, m.batch, m.wait
			})
			var convs []Conversation
			var actors []Actor
			for i := range 16 {
				a := Actor{TenantID: tenantA, UserID: fmt.Sprintf("adv%d", i%4), Role: RoleAdvisor}
				convs = append(convs, f.open(b, a, fmt.Sprintf("%032x", i+1)))
				actors = append(actors, a)
			}
			var next atomic.Int64
			b.SetParallelism(64 / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					c := int(i) % len(convs)
					if _, err := f.svc.Send(ctx, actors[c], convs[c].ID, Draft{ClientID: fmt.Sprintf("m%d", i), Text: "Guten Tag, anbei die Unterlagen."}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkCatchUp10k measures an offline app catching up on 10,000
// changes (messages) through Changes, badger on disk.
func BenchmarkCatchUp10k(b *testing.B) {
	db := openBadger(b)
	f := newFixture(b, func(o *Options) { o.Store = db; o.Clock = clock.Real{} })
	var convs []Conversation
	for i := range 10 {
		convs = append(convs, f.open(b, advisorA, fmt.Sprintf("%032x", i+1)))
	}
	// Fill with 10,000 messages from parallel writers (synced writes are
	// slow one by one).
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				if _, err := f.svc.Send(ctx, advisorA, convs[w].ID, Draft{ClientID: fmt.Sprintf("m%d", i), Text: "Nachricht"}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ResetTimer()
	for b.Loop() {
		var cursor uint64
		n := 0
		for {
			p, err := f.svc.Changes(ctx, advisorA, advA, cursor, MaxChangesPage)
			if err != nil {
				b.Fatal(err)
			}
			n += len(p.Changes)
			cursor = p.Next
			if !p.More {
				break
			}
		}
		if n < 10_000 {
			b.Fatalf("caught up on %d changes", n)
		}
	}
}
