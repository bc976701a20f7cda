package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"parley/relay/clock"
	"parley/relay/outbox"
	"parley/relay/store"
)

var testKey = bytes.Repeat([]byte{0x42}, 32)

func openBadger(t testing.TB, dir string) *store.Badger {
	t.Helper()
	db, err := store.Open(store.BadgerOptions{Dir: dir, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newOutbox(t testing.TB, opts outbox.Options) *outbox.Outbox {
	t.Helper()
	if opts.Store == nil {
		db := openBadger(t, t.TempDir())
		t.Cleanup(func() { db.Close() })
		opts.Store = db
	}
	o, err := outbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func pending(t testing.TB, o *outbox.Outbox) int {
	t.Helper()
	n, err := o.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func runDue(t testing.TB, o *outbox.Outbox) int {
	t.Helper()
	n, err := o.RunDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEnqueueInAbortedTxnLeavesNoJob(t *testing.T) {
	db := openBadger(t, t.TempDir())
	defer db.Close()
	o := newOutbox(t, outbox.Options{Store: db})
	boom := errors.New("domain change refused")
	err := db.Update(context.Background(), func(tx store.Txn) error {
		if err := o.EnqueueTx(tx, "mail", []byte("x"), time.Time{}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if n := pending(t, o); n != 0 {
		t.Fatalf("%d jobs after an aborted transaction", n)
	}
	// The same call in a committed transaction leaves one.
	if err := db.Update(context.Background(), func(tx store.Txn) error {
		return o.EnqueueTx(tx, "mail", []byte("x"), time.Time{})
	}); err != nil {
		t.Fatal(err)
	}
	if n := pending(t, o); n != 1 {
		t.Fatalf("%d jobs after a committed transaction", n)
	}
}

func TestJobSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	db := openBadger(t, dir)
	o := newOutbox(t, outbox.Options{Store: db, Clock: clk})
	if err := o.Enqueue(context.Background(), "mail", []byte("payload-1"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openBadger(t, dir)
	defer db.Close()
	o = newOutbox(t, outbox.Options{Store: db, Clock: clk})
	var got []string
	o.Handle("mail", func(_ context.Context, j outbox.Job) error {
		got = append(got, string(j.Payload))
		return nil
	})
	if n := runDue(t, o); n != 1 || len(got) != 1 || got[0] != "payload-1" {
		t.Fatalf("RunDue after restart: %d done, handled %q", n, got)
	}
	if n := pending(t, o); n != 0 {
		t.Fatalf("%d jobs left after success", n)
	}
}

// A handler that was running when the process stopped runs again after the
// restart (at least once), with the interrupted attempt counted.
func TestInterruptedHandlerRunsAgainAfterRestart(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(time.Time{})
	db := openBadger(t, dir)
	o := newOutbox(t, outbox.Options{Store: db, Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	o.Handle("mail", func(ctx context.Context, _ outbox.Job) error {
		cancel() // the relay shuts down while the mail is being sent
		<-ctx.Done()
		return ctx.Err()
	})
	if err := o.Enqueue(context.Background(), "mail", nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	o.RunDue(ctx)
	db.Close()

	db = openBadger(t, dir)
	defer db.Close()
	o = newOutbox(t, outbox.Options{Store: db, Clock: clk})
	var attempts []int
	o.Handle("mail", func(_ context.Context, j outbox.Job) error {
		attempts = append(attempts, j.Attempts)
		return nil
	})
	if n := runDue(t, o); n != 1 || len(attempts) != 1 || attempts[0] != 2 {
		t.Fatalf("after restart: %d done, attempts seen %v", n, attempts)
	}
}

func TestBackoffScheduleAndDeadAfterMaxAttempts(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	o := newOutbox(t, outbox.Options{Clock: clk, Registry: reg, MinBackoff: 30 * time.Second,
		MaxBackoff: 4 * time.Minute, MaxAttempts: 6})
	calls := 0
	o.Handle("sms", func(context.Context, outbox.Job) error {
		calls++
		return fmt.Errorf("provider busy (try %d): %s", calls, strings.Repeat("x", 1000))
	})
	ctx := context.Background()
	if err := o.Enqueue(ctx, "sms", nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	ceilings := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute}
	for i, ceil := range ceilings {
		if n := runDue(t, o); n != 0 || calls != i+1 {
			t.Fatalf("round %d: %d done, %d calls", i, n, calls)
		}
		jobs, err := o.Jobs(ctx)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("round %d: jobs %v, %v", i, jobs, err)
		}
		j := jobs[0]
		wait := j.NotBefore.Sub(clk.Now())
		if wait < ceil/2 || wait > ceil {
			t.Fatalf("retry %d waits %v, want within [%v, %v]", i+1, wait, ceil/2, ceil)
		}
		if j.Attempts != i+1 || !strings.HasPrefix(j.LastError, fmt.Sprintf("provider busy (try %d)", i+1)) || len(j.LastError) > 310 {
			t.Fatalf("round %d: attempts %d, last error %q", i, j.Attempts, j.LastError)
		}
		// Not yet due: nothing runs.
		clk.Set(j.NotBefore.Add(-time.Second))
		if runDue(t, o); calls != i+1 {
			t.Fatalf("round %d: ran before its back-off", i)
		}
		clk.Set(j.NotBefore)
	}
	runDue(t, o) // sixth attempt: out of attempts
	if calls != 6 || pending(t, o) != 0 {
		t.Fatalf("%d calls, %d pending", calls, pending(t, o))
	}
	dead, err := o.Dead(ctx)
	if err != nil || len(dead) != 1 || dead[0].Attempts != 6 {
		t.Fatalf("dead: %+v, %v", dead, err)
	}
	if f := counter(t, reg, "parley_outbox_failed_total", "sms"); f != 6 {
		t.Fatalf("failed_total %v", f)
	}
	if f := counter(t, reg, "parley_outbox_dead_total", "sms"); f != 1 {
		t.Fatalf("dead_total %v", f)
	}
}

// counter reads a counter's value for one kind label (or, with kind "", a
// gauge's value) through the registry (the surface the relay exposes).
func counter(t *testing.T, reg *prometheus.Registry, name, kind string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					return m.GetCounter().GetValue()
				}
			}
			if kind == "" && m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("metric %s{kind=%q} not found", name, kind)
	return 0
}

func TestPermanentFailureIsDeadAndRetryRevives(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	o := newOutbox(t, outbox.Options{Clock: clk})
	fail := true
	handled := 0
	o.Handle("mail", func(context.Context, outbox.Job) error {
		if fail {
			return fmt.Errorf("smtp 550: %w", outbox.ErrPermanent)
		}
		handled++
		return nil
	})
	ctx := context.Background()
	if err := o.Enqueue(ctx, "mail", []byte("p"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	runDue(t, o)
	dead, _ := o.Dead(ctx)
	if len(dead) != 1 || dead[0].Attempts != 1 || !strings.Contains(dead[0].LastError, "550") || pending(t, o) != 0 {
		t.Fatalf("after a permanent failure: dead %+v, pending %d", dead, pending(t, o))
	}
	if err := o.Retry(ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("Retry(unknown) = %v", err)
	}
	if err := o.Retry(ctx, "../q/x"); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("Retry(malformed) = %v", err)
	}
	if err := o.Retry(ctx, dead[0].ID); err != nil {
		t.Fatal(err)
	}
	fail = false
	if n := runDue(t, o); n != 1 || handled != 1 {
		t.Fatalf("after Retry: %d done, %d handled", n, handled)
	}
	if dead, _ := o.Dead(ctx); len(dead) != 0 {
		t.Fatalf("dead after successful retry: %+v", dead)
	}
}

func TestDeadJobsExpire(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	o := newOutbox(t, outbox.Options{Clock: clk, DeadTTL: 48 * time.Hour})
	o.Handle("mail", func(context.Context, outbox.Job) error { return outbox.ErrPermanent })
	ctx := context.Background()
	o.Enqueue(ctx, "mail", []byte("personal data"), time.Time{})
	runDue(t, o)
	clk.Advance(47 * time.Hour)
	runDue(t, o)
	if dead, _ := o.Dead(ctx); len(dead) != 1 {
		t.Fatalf("dead job gone before DeadTTL: %d", len(dead))
	}
	clk.Advance(2 * time.Hour)
	runDue(t, o)
	if dead, _ := o.Dead(ctx); len(dead) != 0 {
		t.Fatalf("dead job kept past DeadTTL: %d", len(dead))
	}
}

func TestUnknownKindStaysPending(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	db := openBadger(t, t.TempDir())
	defer db.Close()
	o := newOutbox(t, outbox.Options{Store: db, Clock: clk})
	ctx := context.Background()
	o.Enqueue(ctx, "fax", []byte("p"), time.Time{})
	if n := runDue(t, o); n != 0 || pending(t, o) != 1 {
		t.Fatalf("unknown kind: %d done, %d pending", n, pending(t, o))
	}
	// A later relay version that knows the kind runs it.
	o2 := newOutbox(t, outbox.Options{Store: db, Clock: clk})
	o2.Handle("fax", func(context.Context, outbox.Job) error { return nil })
	if n := runDue(t, o2); n != 1 {
		t.Fatalf("known kind: %d done", n)
	}
}

func TestPanickingHandlerIsRetried(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	o := newOutbox(t, outbox.Options{Clock: clk})
	calls := 0
	o.Handle("mail", func(context.Context, outbox.Job) error {
		calls++
		if calls == 1 {
			panic("bug")
		}
		return nil
	})
	o.Enqueue(context.Background(), "mail", nil, time.Time{})
	runDue(t, o)
	clk.Advance(time.Hour)
	if n := runDue(t, o); n != 1 || calls != 2 {
		t.Fatalf("%d done, %d calls", n, calls)
	}
}

func TestInvalidJobsAreRefused(t *testing.T) {
	o := newOutbox(t, outbox.Options{})
	ctx := context.Background()
	for _, kind := range []string{"", "Mail", "a b", "x\r\ny", strings.Repeat("k", 65)} {
		if err := o.Enqueue(ctx, kind, nil, time.Time{}); !errors.Is(err, outbox.ErrInvalid) {
			t.Errorf("kind %q: %v", kind, err)
		}
	}
	if err := o.Enqueue(ctx, "mail", make([]byte, outbox.MaxPayload+1), time.Time{}); !errors.Is(err, outbox.ErrInvalid) {
		t.Errorf("large payload: %v", err)
	}
	if n := pending(t, o); n != 0 {
		t.Fatalf("%d invalid jobs stored", n)
	}
}

func TestNotBeforeIsHonoured(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	o := newOutbox(t, outbox.Options{Clock: clk})
	ran := 0
	o.Handle("reminder", func(context.Context, outbox.Job) error { ran++; return nil })
	o.Enqueue(context.Background(), "reminder", nil, clk.Now().Add(24*time.Hour))
	runDue(t, o)
	clk.Advance(24*time.Hour - time.Nanosecond)
	runDue(t, o)
	if ran != 0 {
		t.Fatal("ran before NotBefore")
	}
	clk.Advance(time.Nanosecond)
	if runDue(t, o); ran != 1 {
		t.Fatal("did not run at NotBefore")
	}
}

// Run sleeps up to Poll (an hour here) but an Enqueue wakes it; it returns
// nil when its context ends.
func TestRunWakesOnEnqueueAndStops(t *testing.T) {
	o := newOutbox(t, outbox.Options{Poll: time.Hour})
	got := make(chan string, 1)
	o.Handle("mail", func(_ context.Context, j outbox.Job) error { got <- string(j.Payload); return nil })
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- o.Run(ctx) }()
	if err := o.Enqueue(context.Background(), "mail", []byte("hello"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != "hello" {
		t.Fatalf("handled %q", p)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run returned %v", err)
	}
}

// EnqueueTx wakes Run before the caller's transaction commits; Run still
// finds the job once it is committed, long before Poll (an hour).
func TestRunFindsJobCommittedAfterWakeUp(t *testing.T) {
	db := openBadger(t, t.TempDir())
	defer db.Close()
	o := newOutbox(t, outbox.Options{Store: db, Poll: time.Hour})
	got := make(chan struct{}, 1)
	o.Handle("mail", func(context.Context, outbox.Job) error { got <- struct{}{}; return nil })
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { o.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }() // before the deferred Close
	err := db.Update(context.Background(), func(tx store.Txn) error {
		if err := o.EnqueueTx(tx, "mail", nil, time.Time{}); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond) // the rest of the caller's work
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	<-got
}

// Two Run loops and concurrent RunDue calls over one store: every job is
// handled, and no job's handler ever runs twice at the same time.
func TestConcurrentRunnersNeverOverlapAJob(t *testing.T) {
	db := openBadger(t, t.TempDir())
	defer db.Close()
	o := newOutbox(t, outbox.Options{Store: db, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		Workers: 4, Poll: 5 * time.Millisecond})
	const jobs = 60
	var (
		mu        sync.Mutex
		inFlight  = map[string]int{}
		successes = map[string]int{}
		overlaps  atomic.Int32
		calls     atomic.Int32
	)
	o.Handle("mail", func(_ context.Context, j outbox.Job) error {
		mu.Lock()
		inFlight[j.ID]++
		if inFlight[j.ID] > 1 {
			overlaps.Add(1)
		}
		mu.Unlock()
		time.Sleep(time.Millisecond)
		defer func() { mu.Lock(); inFlight[j.ID]--; mu.Unlock() }()
		if calls.Add(1)%3 == 0 {
			return errors.New("transient")
		}
		mu.Lock()
		successes[j.ID]++
		mu.Unlock()
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); o.Run(ctx) }()
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				o.RunDue(ctx)
			}
		}()
	}
	for i := 0; i < jobs; i++ {
		if err := o.Enqueue(context.Background(), "mail", []byte{byte(i)}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	for pending(t, o) > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if n := overlaps.Load(); n != 0 {
		t.Fatalf("%d overlapping runs of one job", n)
	}
	if len(successes) != jobs {
		t.Fatalf("%d of %d jobs succeeded", len(successes), jobs)
	}
	for id, n := range successes {
		if n != 1 {
			t.Fatalf("job %s succeeded %d times", id, n)
		}
	}
}

func TestGauges(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	reg := prometheus.NewRegistry()
	o := newOutbox(t, outbox.Options{Clock: clk, Registry: reg})
	ctx := context.Background()
	o.Enqueue(ctx, "fax", nil, clk.Now()) // no handler: stays due
	o.Enqueue(ctx, "fax", nil, clk.Now().Add(time.Hour))
	clk.Advance(90 * time.Second)
	runDue(t, o)
	if v := counter(t, reg, "parley_outbox_pending", ""); v != 2 {
		t.Fatalf("pending gauge %v", v)
	}
	if v := counter(t, reg, "parley_outbox_oldest_due_seconds", ""); v != 90 {
		t.Fatalf("oldest due gauge %v", v)
	}
}

func BenchmarkEnqueueAndRun(b *testing.B) {
	db := openBadger(b, b.TempDir())
	defer db.Close()
	o := newOutbox(b, outbox.Options{Store: db})
	o.Handle("mail", func(context.Context, outbox.Job) error { return nil })
	ctx := context.Background()
	payload := bytes.Repeat([]byte("m"), 4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := o.Enqueue(ctx, "mail", payload, time.Time{}); err != nil {
			b.Fatal(err)
		}
		if n, err := o.RunDue(ctx); err != nil || n != 1 {
			b.Fatal(n, err)
		}
	}
}
