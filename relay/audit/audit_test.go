package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/store"
)

func newLog(t *testing.T, n int) (*Log, *store.Memory) {
	t.Helper()
	kv := &store.Memory{}
	l, err := New(context.Background(), Options{Store: kv, Clock: clock.NewFake(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		tenant := "t1"
		if i%3 == 0 {
			tenant = "t2"
		}
		if _, err := l.Append(context.Background(), Record{TenantID: tenant, Actor: "u-admin", Action: "user.create", Target: fmt.Sprintf("u%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	return l, kv
}

func verify(t *testing.T, l *Log) Report {
	t.Helper()
	rep, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func mutate(t *testing.T, kv *store.Memory, fn func(tx store.Txn) error) {
	t.Helper()
	if err := kv.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func mentions(rep Report, seq uint64, what string) bool {
	for _, p := range rep.Problems {
		if p.Seq == seq && strings.Contains(p.What, what) {
			return true
		}
	}
	return false
}

func TestIntactChainVerifies(t *testing.T) {
	l, _ := newLog(t, 10)
	rep := verify(t, l)
	if !rep.OK() || rep.Entries != 10 {
		t.Fatalf("intact chain: %+v", rep)
	}
	empty, _ := newLog(t, 0)
	if rep := verify(t, empty); !rep.OK() || rep.Entries != 0 {
		t.Fatalf("empty log: %+v", rep)
	}
}

func TestTamperingIsDetected(t *testing.T) {
	t.Run("edited", func(t *testing.T) {
		l, kv := newLog(t, 5)
		mutate(t, kv, func(tx store.Txn) error {
			b, _ := tx.Get(entryKey(3))
			return tx.Set(entryKey(3), bytes.Replace(b, []byte(`"u3"`), []byte(`"u9"`), 1))
		})
		if rep := verify(t, l); !mentions(rep, 3, "edited") {
			t.Fatalf("edit not found: %+v", rep)
		}
	})
	t.Run("removed", func(t *testing.T) {
		l, kv := newLog(t, 5)
		mutate(t, kv, func(tx store.Txn) error { return tx.Delete(entryKey(2)) })
		rep := verify(t, l)
		if !mentions(rep, 3, "removed") {
			t.Fatalf("removal not found: %+v", rep)
		}
	})
	t.Run("reordered", func(t *testing.T) {
		l, kv := newLog(t, 5)
		mutate(t, kv, func(tx store.Txn) error {
			a, _ := tx.Get(entryKey(2))
			b, _ := tx.Get(entryKey(4))
			_ = tx.Set(entryKey(2), b)
			return tx.Set(entryKey(4), a)
		})
		rep := verify(t, l)
		if rep.OK() || !mentions(rep, 4, "sequence") {
			t.Fatalf("reordering not found: %+v", rep)
		}
	})
	t.Run("inserted", func(t *testing.T) {
		l, kv := newLog(t, 3)
		mutate(t, kv, func(tx store.Txn) error {
			var e Entry
			b, _ := tx.Get(entryKey(2))
			_ = json.Unmarshal(b, &e)
			e.Action = "user.delete" // a forged entry cannot carry a valid MAC
			nb, _ := json.Marshal(e)
			return tx.Set(entryKey(2), nb)
		})
		if rep := verify(t, l); !mentions(rep, 2, "edited") {
			t.Fatalf("forged entry not found: %+v", rep)
		}
	})
	t.Run("tail cut", func(t *testing.T) {
		l, kv := newLog(t, 5)
		mutate(t, kv, func(tx store.Txn) error { return tx.Delete(entryKey(5)) })
		if rep := verify(t, l); !mentions(rep, 0, "tail removed") {
			t.Fatalf("cut tail not found: %+v", rep)
		}
	})
	t.Run("tail cut and head forged", func(t *testing.T) {
		l, kv := newLog(t, 5)
		mutate(t, kv, func(tx store.Txn) error {
			var e Entry
			b, _ := tx.Get(entryKey(4))
			_ = json.Unmarshal(b, &e)
			hb, _ := json.Marshal(head{Seq: 4, MAC: e.MAC, Sig: strings.Repeat("0", 64)})
			_ = tx.Set([]byte(headKey), hb)
			return tx.Delete(entryKey(5))
		})
		if rep := verify(t, l); !mentions(rep, 0, "forged") {
			t.Fatalf("forged head not found: %+v", rep)
		}
	})
}

func TestConcurrentAppendsFormOneChain(t *testing.T) {
	kv := &store.Memory{}
	l, err := New(context.Background(), Options{Store: kv})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.Append(context.Background(), Record{TenantID: "t", Actor: "system", Action: "test"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if rep := verify(t, l); !rep.OK() || rep.Entries != 50 {
		t.Fatalf("%+v", rep)
	}
}

func TestListIsPerTenantAndPaged(t *testing.T) {
	l, _ := newLog(t, 9)
	got, err := l.List(context.Background(), "t2", 0, 0)
	if err != nil || len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 9 {
		t.Fatalf("t2 entries: %+v %v", got, err)
	}
	page, _ := l.List(context.Background(), "t1", 2, 2)
	if len(page) != 2 || page[0].Seq != 4 || page[1].Seq != 5 {
		t.Fatalf("page after 2: %+v", page)
	}
	if _, err := l.Append(context.Background(), Record{Actor: "", Action: "x"}); err != ErrInvalid {
		t.Fatalf("record without actor: %v", err)
	}
}

func TestKeyPersistsAcrossReopen(t *testing.T) {
	l, kv := newLog(t, 3)
	l2, err := New(context.Background(), Options{Store: kv})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(l.key, l2.key) {
		t.Fatal("a reopened log made a new key")
	}
	if rep := verify(t, l2); !rep.OK() {
		t.Fatalf("reopened log: %+v", rep)
	}
}
