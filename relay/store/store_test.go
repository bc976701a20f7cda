package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/clock"
)

var testKey = bytes.Repeat([]byte{7}, 32)

func openBadger(t *testing.T, dir string) *Badger {
	t.Helper()
	b, err := Open(BadgerOptions{Dir: dir, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kvs runs a test against every implementation.
func kvs(t *testing.T, test func(t *testing.T, kv KV)) {
	t.Run("memory", func(t *testing.T) { test(t, &Memory{}) })
	t.Run("badger", func(t *testing.T) {
		b := openBadger(t, t.TempDir())
		defer b.Close()
		test(t, b)
	})
}

func TestKVSemantics(t *testing.T) {
	kvs(t, func(t *testing.T, kv KV) {
		ctx := context.Background()
		err := kv.View(ctx, func(tx Txn) error {
			_, err := tx.Get([]byte("missing"))
			return err
		})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get missing: %v", err)
		}
		err = kv.Update(ctx, func(tx Txn) error {
			for _, k := range []string{"p/b", "p/a", "q/x", "p/c"} {
				if err := tx.Set([]byte(k), []byte("v"+k)); err != nil {
					return err
				}
			}
			// A transaction sees its own writes.
			v, err := tx.Get([]byte("p/a"))
			if err != nil || string(v) != "vp/a" {
				return fmt.Errorf("own write: %q %v", v, err)
			}
			return tx.Delete([]byte("p/c"))
		})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		err = kv.View(ctx, func(tx Txn) error {
			return tx.Scan([]byte("p/"), func(k, v []byte) error {
				if string(v) != "v"+string(k) {
					return fmt.Errorf("value of %s is %s", k, v)
				}
				keys = append(keys, string(k))
				return nil
			})
		})
		if err != nil || fmt.Sprint(keys) != "[p/a p/b]" {
			t.Fatalf("Scan p/ = %v, %v", keys, err)
		}
		// A failing transaction writes nothing.
		boom := errors.New("boom")
		err = kv.Update(ctx, func(tx Txn) error {
			_ = tx.Set([]byte("p/z"), []byte("no"))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update error = %v", err)
		}
		_ = kv.View(ctx, func(tx Txn) error {
			if _, err := tx.Get([]byte("p/z")); !errors.Is(err, ErrNotFound) {
				t.Errorf("write of a failed transaction is visible: %v", err)
			}
			return nil
		})
		// Writes in a read-only transaction fail.
		if err := kv.View(ctx, func(tx Txn) error { return tx.Set([]byte("r"), []byte("x")) }); err == nil {
			t.Error("Set in View succeeded")
		}
		// A cancelled context runs nothing.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		ran := false
		if err := kv.Update(cctx, func(Txn) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
			t.Errorf("Update with cancelled context: ran=%v err=%v", ran, err)
		}
	})
}

// TestConcurrentIncrementsConflictAndRetry has goroutines increment one
// counter; optimistic transactions conflict and Update reruns them, so no
// increment is lost.
func TestConcurrentIncrementsConflictAndRetry(t *testing.T) {
	kvs(t, func(t *testing.T, kv KV) {
		const workers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					err := kv.Update(context.Background(), func(tx Txn) error {
						n := 0
						v, err := tx.Get([]byte("counter"))
						if err == nil {
							n, _ = strconv.Atoi(string(v))
						} else if !errors.Is(err, ErrNotFound) {
							return err
						}
						return tx.Set([]byte("counter"), []byte(strconv.Itoa(n+1)))
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		_ = kv.View(context.Background(), func(tx Txn) error {
			v, _ := tx.Get([]byte("counter"))
			if string(v) != strconv.Itoa(workers*each) {
				t.Errorf("counter = %s, want %d", v, workers*each)
			}
			return nil
		})
	})
}

func TestMemoryTTLFollowsItsClock(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	m := &Memory{Clock: clk}
	ctx := context.Background()
	if err := m.Update(ctx, func(tx Txn) error { return tx.SetWithTTL([]byte("k"), []byte("v"), time.Minute) }); err != nil {
		t.Fatal(err)
	}
	get := func() error {
		return m.View(ctx, func(tx Txn) error { _, err := tx.Get([]byte("k")); return err })
	}
	clk.Advance(59 * time.Second)
	if err := get(); err != nil {
		t.Fatalf("expired early: %v", err)
	}
	clk.Advance(time.Second)
	if err := get(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("not expired after its TTL: %v", err)
	}
}

func TestBadgerPersistsAndNeedsItsKey(t *testing.T) {
	dir := t.TempDir()
	b := openBadger(t, dir)
	if err := b.Update(context.Background(), func(tx Txn) error { return tx.Set([]byte("k"), []byte("kept")) }); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(BadgerOptions{Dir: dir, Key: bytes.Repeat([]byte{8}, 32)}); err == nil {
		t.Fatal("opened the store with the wrong key")
	}
	b = openBadger(t, dir)
	defer b.Close()
	_ = b.View(context.Background(), func(tx Txn) error {
		v, err := tx.Get([]byte("k"))
		if err != nil || string(v) != "kept" {
			t.Errorf("after reopen: %q %v", v, err)
		}
		return nil
	})
}

func TestKeyFileIsCreatedPrivateAndReused(t *testing.T) {
	t.Setenv(KeyEnv, "")
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v mode %v", err, st.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(dir)
	if err != nil || !bytes.Equal(k1, k2) || len(k1) != 32 {
		t.Fatalf("key not reused: %v", err)
	}
	t.Setenv(KeyEnv, hex.EncodeToString(testKey))
	k3, err := LoadOrCreateKey(t.TempDir())
	if err != nil || !bytes.Equal(k3, testKey) {
		t.Fatalf("key from environment: %x %v", k3, err)
	}
	t.Setenv(KeyEnv, "not-hex")
	if _, err := LoadOrCreateKey(t.TempDir()); err == nil {
		t.Fatal("accepted a malformed key in the environment")
	}
	t.Setenv(KeyEnv, "")
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, KeyFileName), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(bad); err == nil {
		t.Fatal("accepted a malformed key file")
	}
}

// TestAcknowledgedWritesSurviveAKill runs a child process that writes keys
// and acknowledges each one on stdout after Update returned, kills it with
// SIGKILL mid-stream, and checks every acknowledged key is in the store.
func TestAcknowledgedWritesSurviveAKill(t *testing.T) {
	if dir := os.Getenv("PARLEY_STORE_CHILD_DIR"); dir != "" {
		writerChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcknowledgedWritesSurviveAKill$")
	cmd.Env = append(os.Environ(), "PARLEY_STORE_CHILD_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, err := strconv.Atoi(sc.Text()); err == nil {
			acked = n + 1
			if acked >= 200 {
				break
			}
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if acked < 200 {
		t.Fatalf("child acknowledged only %d writes", acked)
	}
	b := openBadger(t, dir)
	defer b.Close()
	_ = b.View(context.Background(), func(tx Txn) error {
		for i := 0; i < acked; i++ {
			if _, err := tx.Get([]byte(fmt.Sprintf("ack/%06d", i))); err != nil {
				t.Errorf("acknowledged key %d lost: %v", i, err)
			}
		}
		return nil
	})
}

func writerChild(dir string) {
	b, err := Open(BadgerOptions{Dir: dir, Key: testKey})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		err := b.Update(context.Background(), func(tx Txn) error {
			return tx.Set([]byte(fmt.Sprintf("ack/%06d", i)), bytes.Repeat([]byte{'x'}, 100))
		})
		if err != nil {
			fmt.Println("update:", err)
			os.Exit(1)
		}
		fmt.Println(i)
	}
}

// plainTxn hides a transaction's ScanFrom (like the tests' wrappers).
type plainTxn struct{ Txn }

func TestScanAfterSeeksOrSkips(t *testing.T) {
	kvs(t, func(t *testing.T, kv KV) {
		ctx := context.Background()
		if err := kv.Update(ctx, func(tx Txn) error {
			for _, k := range []string{"x/01", "x/02", "x/02a", "x/03", "y/00", "w/99"} {
				if err := tx.Set([]byte(k), []byte("v")); err != nil {
					return err
				}
			}
			return tx.Delete([]byte("x/01"))
		}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			after string
			want  string
		}{{"", "x/02 x/02a x/03"}, {"x/02", "x/02a x/03"}, {"x/00", "x/02 x/02a x/03"}, {"x/03", ""}, {"w", "x/02 x/02a x/03"}} {
			for _, wrap := range []bool{false, true} {
				var got []string
				err := kv.View(ctx, func(tx Txn) error {
					if wrap {
						tx = plainTxn{tx}
					}
					var after []byte
					if tc.after != "" {
						after = []byte(tc.after)
					}
					return ScanAfter(tx, []byte("x/"), after, func(k, _ []byte) error {
						got = append(got, string(k))
						return nil
					})
				})
				if err != nil || strings.Join(got, " ") != tc.want {
					t.Errorf("after %q (wrapped %v): %q, %v; want %q", tc.after, wrap, got, err, tc.want)
				}
			}
		}
	})
}
