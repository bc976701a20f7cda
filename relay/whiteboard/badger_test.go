package whiteboard

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"parley/relay/signal/msg"
	"parley/relay/store"
)

func openBadger(t testing.TB, dir string) *store.Badger {
	t.Helper()
	db, err := store.Open(store.BadgerOptions{Dir: dir, Key: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestBadgerConcurrentParticipants: participants drawing at once on the
// encrypted store get distinct sequence numbers, and the board reopened
// after a restart shows exactly what the live board showed.
func TestBadgerConcurrentParticipants(t *testing.T) {
	dir := t.TempDir()
	db := openBadger(t, dir)
	e := newEnv(t, db, Options{})
	b := e.open(meetingA)
	const writers, each = 4, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			a := Actor{ID: fmt.Sprintf("p-%d", w), Role: msg.RoleCustomer}
			for i := range each {
				if _, err := b.Apply(t.Context(), a, stroke(1+w, 0.1, 0.01*float64(i))); err != nil {
					t.Errorf("writer %d op %d: %v", w, i, err)
				}
				if i%5 == 4 {
					if _, err := b.Apply(t.Context(), a, Op{Kind: KindUndo}); err != nil {
						t.Errorf("writer %d undo: %v", w, err)
					}
				}
			}
		})
	}
	wg.Wait()
	live, err := b.State(t.Context(), PageRef{})
	must(t, err)
	if live.Seq != writers*(each+each/5) {
		t.Fatalf("seq %d", live.Seq)
	}
	must(t, db.Close())

	db = openBadger(t, dir)
	defer db.Close()
	e2 := newEnv(t, db, Options{})
	again, err := e2.open(meetingA).State(t.Context(), PageRef{})
	must(t, err)
	if jsonOf(t, again) != jsonOf(t, live) {
		t.Fatalf("reopened:\n%s\nlive:\n%s", jsonOf(t, again), jsonOf(t, live))
	}
	for _, p := range again.Pages {
		if len(p.Objects) != each-each/5 {
			t.Fatalf("page %d has %d objects", p.Page, len(p.Objects))
		}
	}
}
