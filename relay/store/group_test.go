package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingKV counts Update calls and can fail commits.
type countingKV struct {
	KV
	updates atomic.Int64
	fail    atomic.Bool // fail the commit after running fn
}

var errCommit = errors.New("injected commit failure")

func (c *countingKV) Update(ctx context.Context, fn func(Txn) error) error {
	c.updates.Add(1)
	if c.fail.Load() {
		return c.KV.Update(ctx, func(tx Txn) error {
			if err := fn(tx); err != nil {
				return err
			}
			return errCommit // nothing of the batch is committed
		})
	}
	return c.KV.Update(ctx, fn)
}

// doAll runs n callers of g.Do concurrently with fn(i) and returns their
// errors.
func doAll(g *Group, n int, fn func(i int, tx Txn) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = g.Do(context.Background(), func(tx Txn) error { return fn(i, tx) }) })
	}
	wg.Wait()
	return errs
}

func TestGroupSavepointsAndSharedBatch(t *testing.T) {
	kvs(t, func(t *testing.T, kv KV) {
		ck := &countingKV{KV: kv}
		// A long wait and a batch of exactly the callers: one transaction.
		g := NewGroup(GroupOptions{KV: ck, MaxBatch: 64, MaxWait: time.Minute})
		errFail := errors.New("caller's own failure")
		errs := doAll(g, 64, func(i int, tx Txn) error {
			// Every caller increments a counter: later callers of the
			// batch read what earlier ones wrote.
			n := 0
			if v, err := tx.Get([]byte("counter")); err == nil {
				n, _ = strconv.Atoi(string(v))
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
			if err := tx.Set([]byte("counter"), []byte(strconv.Itoa(n+1))); err != nil {
				return err
			}
			if err := tx.Set(fmt.Appendf(nil, "k/%02d", i), []byte{byte(i)}); err != nil {
				return err
			}
			if i%4 == 0 {
				return errFail // its writes, the counter included, are discarded
			}
			return nil
		})
		for i, err := range errs {
			if want := i%4 == 0; errors.Is(err, errFail) != want || (!want && err != nil) {
				t.Fatalf("caller %d: %v", i, err)
			}
		}
		if got := ck.updates.Load(); got != 1 {
			t.Fatalf("%d transactions for one batch, want 1", got)
		}
		err := kv.View(context.Background(), func(tx Txn) error {
			v, err := tx.Get([]byte("counter"))
			if err != nil || string(v) != "48" {
				return fmt.Errorf("counter %q (%v), want 48", v, err)
			}
			n := 0
			err = tx.Scan([]byte("k/"), func(k, v []byte) error {
				if int(v[0])%4 == 0 {
					return fmt.Errorf("failed caller's key %s stored", k)
				}
				n++
				return nil
			})
			if err == nil && n != 48 {
				err = fmt.Errorf("%d keys, want 48", n)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestGroupFailedCommitFailsEveryCaller(t *testing.T) {
	kvs(t, func(t *testing.T, kv KV) {
		ck := &countingKV{KV: kv}
		ck.fail.Store(true)
		g := NewGroup(GroupOptions{KV: ck, MaxBatch: 16, MaxWait: time.Minute})
		errs := doAll(g, 16, func(i int, tx Txn) error { return tx.Set(fmt.Appendf(nil, "f/%d", i), []byte("x")) })
		for i, err := range errs {
			if !errors.Is(err, errCommit) {
				t.Fatalf("caller %d: %v, want the commit's error", i, err)
			}
		}
		if n := countKeys(t, kv, "f/"); n != 0 {
			t.Fatalf("%d keys stored by a failed batch", n)
		}
		// The next batch works.
		ck.fail.Store(false)
		g = NewGroup(GroupOptions{KV: ck})
		if err := g.Do(context.Background(), func(tx Txn) error { return tx.Set([]byte("f/ok"), nil) }); err != nil {
			t.Fatal(err)
		}
		if n := countKeys(t, kv, "f/"); n != 1 {
			t.Fatalf("%d keys, want 1", n)
		}
	})
}

func countKeys(t *testing.T, kv KV, prefix string) int {
	t.Helper()
	n := 0
	if err := kv.View(context.Background(), func(tx Txn) error {
		return tx.Scan([]byte(prefix), func(_, _ []byte) error { n++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGroupSplitsWhatBadgerRefuses: 64 callers of 100 KB each are more
// than one badger transaction takes (15 % of the 16 MiB memtable): the
// batch is committed in parts and every caller succeeds; one caller alone
// past the limit gets ErrTooBig and stores nothing, without failing the
// others.
func TestGroupSplitsWhatBadgerRefuses(t *testing.T) {
	b := openBadger(t, t.TempDir())
	defer b.Close()
	ck := &countingKV{KV: b}
	g := NewGroup(GroupOptions{KV: ck, MaxBatch: 64, MaxWait: time.Minute})
	val := bytes.Repeat([]byte{1}, 100<<10)
	errs := doAll(g, 64, func(i int, tx Txn) error {
		if i == 10 { // alone too big: 40 × 100 KB
			for j := range 40 {
				if err := tx.Set(fmt.Appendf(nil, "big/%d", j), val); err != nil {
					return err
				}
			}
			return nil
		}
		return tx.Set(fmt.Appendf(nil, "s/%02d", i), val)
	})
	for i, err := range errs {
		if (i == 10) != errors.Is(err, ErrTooBig) || (i != 10 && err != nil) {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if n := countKeys(t, b, "s/"); n != 63 {
		t.Fatalf("%d keys stored, want 63", n)
	}
	if n := countKeys(t, b, "big/"); n != 0 {
		t.Fatalf("%d keys of the refused caller stored", n)
	}
	if ck.updates.Load() < 3 {
		t.Fatalf("%d transactions: the batch was not split", ck.updates.Load())
	}
}

func TestGroupCancelledWhileQueued(t *testing.T) {
	g := NewGroup(GroupOptions{KV: &Memory{}})
	release := make(chan struct{})
	running := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- g.Do(context.Background(), func(tx Txn) error {
			select {
			case running <- struct{}{}:
			default:
			}
			<-release // holds the committer
			return tx.Set([]byte("first"), nil)
		})
	}()
	<-running
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Bool
	second := make(chan error, 1)
	go func() {
		second <- g.Do(ctx, func(tx Txn) error { ran.Store(true); return tx.Set([]byte("second"), nil) })
	}()
	for queued := 0; queued == 0; { // until the second caller is queued
		time.Sleep(time.Millisecond)
		g.mu.Lock()
		queued = len(g.queue)
		g.mu.Unlock()
	}
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("a caller that gave up while queued ran")
	}
}

func TestGroupPanicFailsOnlyItsCaller(t *testing.T) {
	kv := &Memory{}
	g := NewGroup(GroupOptions{KV: kv, MaxBatch: 8, MaxWait: time.Minute})
	errs := doAll(g, 8, func(i int, tx Txn) error {
		if i == 3 {
			panic("boom")
		}
		return tx.Set(fmt.Appendf(nil, "p/%d", i), nil)
	})
	for i, err := range errs {
		if (i == 3) != errors.Is(err, errPanicked) || (i != 3 && err != nil) {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if n := countKeys(t, kv, "p/"); n != 7 {
		t.Fatalf("%d keys, want 7", n)
	}
}

// TestSavepointScan: a savepoint's scan merges its own writes and deletes
// into the batch transaction's keys, in key order, from a start key too.
func TestSavepointScan(t *testing.T) {
	kvs(t, func(t *testing.T, kv KV) {
		ctx := context.Background()
		if err := kv.Update(ctx, func(tx Txn) error {
			for _, k := range []string{"s/a", "s/c", "s/e", "t/x"} {
				if err := tx.Set([]byte(k), []byte("base"+k)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		err := kv.Update(ctx, func(tx Txn) error {
			sp := newSavepoint(tx)
			_ = sp.Set([]byte("s/b"), []byte("sp"))
			_ = sp.Set([]byte("s/e"), []byte("sp"))
			_ = sp.Set([]byte("s/f"), []byte("sp"))
			_ = sp.Delete([]byte("s/c"))
			var got []string
			collect := func(k, v []byte) error { got = append(got, string(k)+"="+string(v)); return nil }
			if err := sp.Scan([]byte("s/"), collect); err != nil {
				return err
			}
			if want := "[s/a=bases/a s/b=sp s/e=sp s/f=sp]"; fmt.Sprint(got) != want {
				return fmt.Errorf("scan %v, want %s", got, want)
			}
			got = nil
			if err := ScanAfter(sp, []byte("s/"), []byte("s/b"), collect); err != nil {
				return err
			}
			if want := "[s/e=sp s/f=sp]"; fmt.Sprint(got) != want {
				return fmt.Errorf("scan after %v, want %s", got, want)
			}
			// Deleting while scanning, as sweeps do.
			got = nil
			if err := sp.Scan([]byte("s/"), func(k, v []byte) error {
				got = append(got, string(k))
				return sp.Delete([]byte("s/f"))
			}); err != nil {
				return err
			}
			if want := "[s/a s/b s/e]"; fmt.Sprint(got) != want {
				return fmt.Errorf("scan while deleting %v, want %s", got, want)
			}
			if _, err := sp.Get([]byte("s/c")); !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("deleted key: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
