package meeting

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"parley/relay/store"
)

func openBadger(t *testing.T, dir string, key []byte) *store.Badger {
	t.Helper()
	db, err := store.Open(store.BadgerOptions{Dir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// stores runs f against a Memory store and an on-disk Badger store.
func stores(t *testing.T, f func(t *testing.T, kv store.KV)) {
	t.Run("memory", func(t *testing.T) { f(t, nil) })
	t.Run("badger", func(t *testing.T) {
		key := make([]byte, 32)
		rand.Read(key)
		db := openBadger(t, t.TempDir(), key)
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
}

// TestConcurrentJoinsLimit: of 100 concurrent joins exactly MaxWaiting
// succeed, the rest get ErrFull.
func TestConcurrentJoinsLimit(t *testing.T) {
	stores(t, func(t *testing.T, kv store.KV) {
		e := newEnv(t, kv, nil)
		m, tok := e.instant()
		var ok, full, other int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				_, err := e.svc.Join(e.ctx, tok, JoinRequest{Name: fmt.Sprintf("Kunde %d", i)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrFull):
					full++
				default:
					other++
					t.Errorf("Join: %v", err)
				}
			})
		}
		wg.Wait()
		if ok != DefaultMaxWaiting || full != 100-DefaultMaxWaiting || other != 0 {
			t.Fatalf("ok %d, full %d, other %d; want %d ok", ok, full, other, DefaultMaxWaiting)
		}
		w, err := e.svc.Waiting(e.ctx, advisor, m.ID)
		if err != nil || len(w) != DefaultMaxWaiting {
			t.Fatalf("Waiting: %d, %v", len(w), err)
		}
		if md := e.meta(m.ID); len(md.Participants) != DefaultMaxWaiting {
			t.Fatalf("metadata has %d participants", len(md.Participants))
		}
	})
}

// TestConcurrentAdmitsLimit: admitting everyone at once admits exactly
// MaxParticipants; an End racing the admissions leaves nobody admitted
// into the ended meeting.
func TestConcurrentAdmitsLimit(t *testing.T) {
	stores(t, func(t *testing.T, kv store.KV) {
		e := newEnv(t, kv, func(o *Options) { o.MaxParticipants = 5 })
		m, tok := e.instant()
		var joined []Joined
		for i := range DefaultMaxWaiting {
			joined = append(joined, e.join(tok, fmt.Sprintf("Kunde %d", i), ""))
		}
		var ok, full int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, j := range joined {
			wg.Go(func() {
				err := e.svc.Admit(e.ctx, advisor, m.ID, j.ParticipantID)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrFull):
					full++
				default:
					t.Errorf("Admit: %v", err)
				}
			})
		}
		wg.Wait()
		if ok != 5 || full != DefaultMaxWaiting-5 {
			t.Fatalf("admitted %d, full %d", ok, full)
		}
		// Join again up to the waiting limit would work now (15 waiting).
		if _, err := e.svc.Join(e.ctx, tok, JoinRequest{Name: "Neu"}); err != nil {
			t.Fatalf("join with room in the waiting room: %v", err)
		}
	})
}

func TestEndRacesAdmit(t *testing.T) {
	stores(t, func(t *testing.T, kv store.KV) {
		e := newEnv(t, kv, nil)
		m, tok := e.instant()
		var joined []Joined
		for i := range 10 {
			joined = append(joined, e.join(tok, fmt.Sprintf("Kunde %d", i), ""))
		}
		var wg sync.WaitGroup
		for _, j := range joined {
			wg.Go(func() {
				err := e.svc.Admit(e.ctx, advisor, m.ID, j.ParticipantID)
				if err != nil && !errors.Is(err, ErrMeetingEnded) {
					t.Errorf("Admit: %v", err)
				}
			})
			wg.Go(func() {
				_, err := e.svc.Join(e.ctx, tok, JoinRequest{Name: "Spät"})
				if err != nil && !errors.Is(err, ErrMeetingEnded) {
					t.Errorf("Join: %v", err)
				}
			})
		}
		wg.Go(func() { must(t, e.svc.End(e.ctx, advisor, m.ID)) })
		wg.Wait()
		ps, err := e.svc.Participants(e.ctx, advisor, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.State == StateAdmitted || p.State == StateWaiting {
				t.Fatalf("participant %s is %s in an ended meeting", p.ID, p.State)
			}
		}
	})
}

func TestMaxJoins(t *testing.T) {
	e := newEnv(t, nil, func(o *Options) { o.MaxJoins = 3 })
	m, tok := e.instant()
	for i := range 3 {
		j := e.join(tok, fmt.Sprint("K", i), "")
		must(t, e.svc.Reject(e.ctx, advisor, m.ID, j.ParticipantID))
	}
	if _, err := e.svc.Join(e.ctx, tok, JoinRequest{Name: "K"}); !errors.Is(err, ErrFull) {
		t.Fatalf("join past MaxJoins: %v", err)
	}
}
