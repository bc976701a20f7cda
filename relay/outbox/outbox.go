// Package outbox is the relay's durable job queue for side effects that
// must survive a restart: e-mails and SMS. A domain package enqueues a job
// inside its own store transaction (EnqueueTx), so the job exists if and only
// if the domain change committed; workers run the job's handler later and
// retry it with exponential back-off until it succeeds, fails permanently or
// runs out of attempts (then it is kept as dead for inspection and Retry).
//
// Delivery is at least once. A job is deleted only after its handler
// returned nil; a crash or shutdown while a handler runs means the handler
// runs again after the restart. Handlers must therefore be idempotent or
// tolerate a duplicate (a mail handler can derive its Message-ID from the
// stable Job.ID, so that a duplicate is recognisable). Within one process a
// job never runs twice at the same time.
//
// Every attempt is counted in the store before the handler runs, so a job
// whose handler crashes the process still reaches MaxAttempts and is then
// dead instead of crashing the relay forever.
//
// Layout in the store (prefix "outbox/", JSON values):
//
//	outbox/q/<due, 16 hex digits of Unix nanoseconds>/<id>  pending job
//	outbox/d/<id>                                           dead job
//
// Job payloads may hold personal data (they are encrypted at rest with the
// store). Dead jobs are deleted DeadTTL after they died. LastError holds
// err.Error() of the last failure, truncated: handlers must not put personal
// data into their errors. Logs carry job ids and kinds only.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/store"
)

// ErrPermanent marks a handler error that retrying cannot fix (a rejected
// address, a malformed payload): a handler returns an error wrapping it and
// the job is dead at once.
var ErrPermanent = errors.New("outbox: permanent failure")

// ErrNotFound is returned by Retry for an id that is not a dead job.
var ErrNotFound = errors.New("outbox: no such dead job")

// ErrInvalid is returned by Enqueue and EnqueueTx for a malformed kind or a
// payload larger than MaxPayload; nothing is stored.
var ErrInvalid = errors.New("outbox: invalid job")

// MaxPayload is the largest payload a job may carry.
const MaxPayload = 1 << 20

// wakeGrace is how soon Run looks again after a wake-up.
const wakeGrace = 100 * time.Millisecond

// maxErrorLen bounds the stored LastError.
const maxErrorLen = 300

const (
	prefix      = "outbox/"
	queuePrefix = prefix + "q/"
	deadPrefix  = prefix + "d/"
)

// Job is one unit of work.
type Job struct {
	// ID is the job's random id, stable across retries.
	ID string `json:"id"`
	// Kind selects the handler (e.g. "mail", "sms").
	Kind string `json:"kind"`
	// Payload is the handler's input, opaque to the outbox.
	Payload []byte `json:"payload,omitempty"`
	// NotBefore is when the job is due (next).
	NotBefore time.Time `json:"notBefore"`
	// Attempts counts the handler runs started so far.
	Attempts int `json:"attempts"`
	// LastError is the (truncated) error of the last failed run.
	LastError string `json:"lastError,omitempty"`
	// Created is when the job was enqueued.
	Created time.Time `json:"created"`
	// Died is when the job was dead-lettered (dead jobs only).
	Died time.Time `json:"died,omitzero"`
}

// Handler runs one job. It returns nil when the job is done, an error
// wrapping ErrPermanent when retrying is pointless, any other error to be
// retried later. It must honour ctx and must not put personal data into
// its error.
type Handler func(ctx context.Context, j Job) error

// Options configures an Outbox.
type Options struct {
	// Store holds the jobs (required).
	Store store.KV
	// Clock decides when jobs are due; nil means the real clock.
	Clock clock.Clock
	// Logger receives job ids, kinds and errors; nil discards.
	Logger *slog.Logger
	// Registry receives the metrics; nil registers none.
	Registry prometheus.Registerer
	// MinBackoff is the (upper bound of the) wait before the first retry;
	// default 30s. The n-th retry waits a random time between half and all
	// of min(MaxBackoff, MinBackoff·2^(n−1)).
	MinBackoff time.Duration
	// MaxBackoff caps the back-off; default 1h.
	MaxBackoff time.Duration
	// MaxAttempts is how many runs a job gets before it is dead; default 20.
	MaxAttempts int
	// Workers is how many handlers run at once; default 2.
	Workers int
	// Poll is the longest Run sleeps without looking at the queue; default 5s.
	Poll time.Duration
	// HandlerTimeout bounds one handler run; default 2m.
	HandlerTimeout time.Duration
	// DeadTTL is how long dead jobs are kept; default 30 days.
	DeadTTL time.Duration
}

// Outbox is a durable job queue. Its methods are safe for concurrent use.
type Outbox struct {
	opts  Options
	clk   clock.Clock
	log   *slog.Logger
	wake  chan struct{}
	rngMu sync.Mutex
	rng   *rand.Rand

	mu       sync.Mutex
	handlers map[string]Handler
	running  map[string]bool // job ids whose handler runs now
	warned   map[string]bool // job ids of unknown kinds already logged

	claimMu sync.Mutex // serialises picking the next job

	pending   prometheus.Gauge
	oldestDue prometheus.Gauge
	done      *prometheus.CounterVec
	failed    *prometheus.CounterVec
	dead      *prometheus.CounterVec
}

// New returns an Outbox over opts.Store.
func New(opts Options) (*Outbox, error) {
	if opts.Store == nil {
		return nil, errors.New("outbox: Options.Store is required")
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 30 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Hour
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 20
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.HandlerTimeout <= 0 {
		opts.HandlerTimeout = 2 * time.Minute
	}
	if opts.DeadTTL <= 0 {
		opts.DeadTTL = 30 * 24 * time.Hour
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := &Outbox{
		opts: opts, clk: clock.Or(opts.Clock), log: log.With("component", "outbox"),
		wake:     make(chan struct{}, 1),
		rng:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		handlers: map[string]Handler{}, running: map[string]bool{}, warned: map[string]bool{},
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_outbox_pending",
			Help: "Jobs waiting in the outbox (due or not)."}),
		oldestDue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_outbox_oldest_due_seconds",
			Help: "How long the longest-overdue job has been due; 0 when none is due."}),
		done: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_outbox_done_total",
			Help: "Jobs whose handler succeeded."}, []string{"kind"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_outbox_failed_total",
			Help: "Handler runs that failed."}, []string{"kind"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_outbox_dead_total",
			Help: "Jobs dead-lettered (permanent failure or out of attempts)."}, []string{"kind"}),
	}
	if opts.Registry != nil {
		for _, c := range []prometheus.Collector{o.pending, o.oldestDue, o.done, o.failed, o.dead} {
			if err := opts.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("outbox: register metrics: %w", err)
			}
		}
	}
	return o, nil
}

// Handle registers the handler for kind. Call it before Run or RunDue.
func (o *Outbox) Handle(kind string, h Handler) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.handlers[kind] = h
}

func (o *Outbox) handler(kind string) Handler {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.handlers[kind]
}

func validKind(kind string) bool {
	if kind == "" || len(kind) > 64 {
		return false
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func queueKey(due time.Time, id string) []byte {
	n := due.UnixNano()
	if n < 0 {
		n = 0
	}
	return []byte(queuePrefix + fmt.Sprintf("%016x", uint64(n)) + "/" + id)
}

// dueFromKey reads the due time out of a queue key.
func dueFromKey(key []byte) (time.Time, bool) {
	rest := strings.TrimPrefix(string(key), queuePrefix)
	if len(rest) < 17 || rest[16] != '/' {
		return time.Time{}, false
	}
	n, err := strconv.ParseUint(rest[:16], 16, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(n)).UTC(), true
}

// EnqueueTx adds a job inside the caller's transaction: the job exists if
// and only if tx commits. A zero notBefore means now. Running workers are
// woken (also when tx later aborts; they then find nothing). The wake-up
// comes before the commit, so Run looks again shortly after a wake-up; a
// commit slower than that is picked up within Poll.
func (o *Outbox) EnqueueTx(tx store.Txn, kind string, payload []byte, notBefore time.Time) error {
	_, err := o.EnqueueTxID(tx, kind, payload, notBefore)
	return err
}

// EnqueueTxID is EnqueueTx that also returns the new job's id.
func (o *Outbox) EnqueueTxID(tx store.Txn, kind string, payload []byte, notBefore time.Time) (string, error) {
	id, err := o.put(tx, kind, payload, notBefore)
	if err == nil {
		o.poke()
	}
	return id, err
}

func (o *Outbox) put(tx store.Txn, kind string, payload []byte, notBefore time.Time) (string, error) {
	if !validKind(kind) {
		return "", fmt.Errorf("%w: kind must be 1-64 of [a-z0-9._-]", ErrInvalid)
	}
	if len(payload) > MaxPayload {
		return "", fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrInvalid, len(payload), MaxPayload)
	}
	now := o.clk.Now().UTC()
	if notBefore.IsZero() {
		notBefore = now
	}
	j := Job{ID: ids.New(), Kind: kind, Payload: payload, NotBefore: notBefore.UTC(), Created: now}
	v, err := json.Marshal(j)
	if err != nil {
		return "", fmt.Errorf("outbox: encode job: %w", err)
	}
	if err := tx.Set(queueKey(j.NotBefore, j.ID), v); err != nil {
		return "", fmt.Errorf("outbox: enqueue: %w", err)
	}
	return j.ID, nil
}

// Enqueue adds a job in a transaction of its own.
func (o *Outbox) Enqueue(ctx context.Context, kind string, payload []byte, notBefore time.Time) error {
	err := o.opts.Store.Update(ctx, func(tx store.Txn) error {
		_, err := o.put(tx, kind, payload, notBefore)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: enqueue %s: %w", kind, err)
	}
	o.poke() // after the commit: the worker finds the job
	return nil
}

func (o *Outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// pick returns the queue key and job of the earliest job due at or before
// now that is not running, not in skip and has a handler. It marks it
// running. ok is false when there is none.
func (o *Outbox) pick(ctx context.Context, now time.Time, skip map[string]bool) (key []byte, j Job, ok bool, err error) {
	o.claimMu.Lock()
	defer o.claimMu.Unlock()
	errStop := errors.New("stop")
	err = o.opts.Store.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(queuePrefix), func(k, v []byte) error {
			due, good := dueFromKey(k)
			if good && due.After(now) {
				return errStop
			}
			if id := string(k[strings.LastIndexByte(string(k), '/')+1:]); skip[id] || o.isRunning(id) {
				return nil
			}
			var cand Job
			if err := json.Unmarshal(v, &cand); err != nil || !good {
				o.log.Error("outbox: unreadable job skipped", "key", string(k))
				return nil
			}
			if skip[cand.ID] {
				return nil
			}
			if o.handler(cand.Kind) == nil {
				o.warnUnknown(cand)
				return nil
			}
			o.mu.Lock()
			busy := o.running[cand.ID]
			if !busy {
				o.running[cand.ID] = true
			}
			o.mu.Unlock()
			if busy {
				return nil
			}
			key, j, ok = k, cand, true
			return errStop
		})
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if err != nil && ok {
		o.release(j.ID)
		ok = false
	}
	return key, j, ok, err
}

func (o *Outbox) warnUnknown(j Job) {
	o.mu.Lock()
	seen := o.warned[j.ID]
	if !seen && len(o.warned) < 10000 {
		o.warned[j.ID] = true
	}
	o.mu.Unlock()
	if !seen {
		o.log.Warn("outbox: no handler for job kind; job stays pending", "job", j.ID, "kind", j.Kind)
	}
}

func (o *Outbox) isRunning(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.running[id]
}

func (o *Outbox) release(id string) {
	o.mu.Lock()
	delete(o.running, id)
	o.mu.Unlock()
}

// runOne claims, runs and settles one job, which pick marked running. ok
// reports whether the handler succeeded.
func (o *Outbox) runOne(ctx context.Context, key []byte, j Job) (ok bool, err error) {
	defer o.release(j.ID)
	err = o.settle(ctx, key, &j, &ok)
	return ok, err
}

// settle claims the job (counting the attempt), runs its handler and
// records the outcome; *ok is set when the handler succeeded.
func (o *Outbox) settle(ctx context.Context, key []byte, jp *Job, ok *bool) error {
	j := *jp
	// Claim: count the attempt durably before the handler runs.
	gone := false
	err := o.opts.Store.Update(ctx, func(tx store.Txn) error {
		v, err := tx.Get(key)
		if errors.Is(err, store.ErrNotFound) {
			gone = true
			return nil
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(v, &j); err != nil {
			return fmt.Errorf("decode job: %w", err)
		}
		j.Attempts++
		nv, err := json.Marshal(j)
		if err != nil {
			return err
		}
		return tx.Set(key, nv)
	})
	if err != nil {
		return fmt.Errorf("outbox: claim job %s: %w", j.ID, err)
	}
	if gone {
		return nil
	}
	h := o.handler(j.Kind)
	hctx, cancel := context.WithTimeout(ctx, o.opts.HandlerTimeout)
	herr := safeRun(hctx, h, j)
	cancel()
	if herr == nil {
		if err := o.opts.Store.Update(context.WithoutCancel(ctx), func(tx store.Txn) error {
			return tx.Delete(key)
		}); err != nil {
			return fmt.Errorf("outbox: remove done job %s: %w", j.ID, err)
		}
		o.done.WithLabelValues(j.Kind).Inc()
		*ok = true
		o.log.Debug("outbox: job done", "job", j.ID, "kind", j.Kind, "attempts", j.Attempts)
		return nil
	}
	if ctx.Err() != nil {
		// Shutting down: the job stays due as it is and runs again after
		// the restart; the attempt is already counted.
		o.log.Info("outbox: job interrupted by shutdown", "job", j.ID, "kind", j.Kind)
		return nil
	}
	o.failed.WithLabelValues(j.Kind).Inc()
	j.LastError = truncate(herr.Error(), maxErrorLen)
	now := o.clk.Now().UTC()
	permanent := errors.Is(herr, ErrPermanent)
	if permanent || j.Attempts >= o.opts.MaxAttempts {
		j.Died = now
		v, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("outbox: encode job: %w", err)
		}
		err = o.opts.Store.Update(context.WithoutCancel(ctx), func(tx store.Txn) error {
			if err := tx.Delete(key); err != nil {
				return err
			}
			return tx.SetWithTTL([]byte(deadPrefix+j.ID), v, o.opts.DeadTTL)
		})
		if err != nil {
			return fmt.Errorf("outbox: dead-letter job %s: %w", j.ID, err)
		}
		o.dead.WithLabelValues(j.Kind).Inc()
		o.log.Error("outbox: job dead", "job", j.ID, "kind", j.Kind, "attempts", j.Attempts,
			"permanent", permanent, "err", j.LastError)
		return nil
	}
	j.NotBefore = now.Add(o.backoff(j.Attempts))
	v, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("outbox: encode job: %w", err)
	}
	err = o.opts.Store.Update(context.WithoutCancel(ctx), func(tx store.Txn) error {
		if err := tx.Delete(key); err != nil {
			return err
		}
		return tx.Set(queueKey(j.NotBefore, j.ID), v)
	})
	if err != nil {
		return fmt.Errorf("outbox: reschedule job %s: %w", j.ID, err)
	}
	o.log.Warn("outbox: job failed, will retry", "job", j.ID, "kind", j.Kind, "attempts", j.Attempts,
		"next", j.NotBefore, "err", j.LastError)
	return nil
}

// safeRun runs h, turning a panic into a (retryable) error.
func safeRun(ctx context.Context, h Handler, j Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("outbox: handler panicked: %v", r)
		}
	}()
	return h(ctx, j)
}

// backoff is the wait after the n-th failed attempt (n ≥ 1).
func (o *Outbox) backoff(n int) time.Duration {
	d := o.opts.MinBackoff
	for i := 1; i < n && d < o.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.opts.MaxBackoff)
	o.rngMu.Lock()
	defer o.rngMu.Unlock()
	return d/2 + time.Duration(o.rng.Int64N(int64(d/2)+1))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// RunDue runs every job that is due now (by the clock) once, with up to
// Workers handlers at a time, and returns how many handlers succeeded. A
// job that fails is rescheduled and not run again by this call. It returns
// the first store error, if any; handler errors are not errors of RunDue.
func (o *Outbox) RunDue(ctx context.Context) (int, error) {
	now := o.clk.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		done     int
		firstErr error
		seen     = map[string]bool{}
	)
	for w := 0; w < o.opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				skip := make(map[string]bool, len(seen))
				for id := range seen {
					skip[id] = true
				}
				mu.Unlock()
				key, j, ok, err := o.pick(ctx, now, skip)
				if err != nil || !ok {
					if err != nil {
						mu.Lock()
						firstErr = cmpOr(firstErr, err)
						mu.Unlock()
					}
					return
				}
				mu.Lock()
				seen[j.ID] = true
				mu.Unlock()
				succeeded, err := o.runOne(ctx, key, j)
				if err != nil {
					o.log.Error("outbox: store error", "job", j.ID, "err", err)
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
					return
				}
				if succeeded {
					mu.Lock()
					done++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	o.refreshGauges(ctx)
	o.pruneDead(ctx)
	return done, firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// refreshGauges recomputes parley_outbox_pending and
// parley_outbox_oldest_due_seconds.
func (o *Outbox) refreshGauges(ctx context.Context) {
	n, oldest, err := o.stats(ctx)
	if err != nil {
		return
	}
	o.pending.Set(float64(n))
	age := 0.0
	if !oldest.IsZero() {
		if d := o.clk.Now().Sub(oldest); d > 0 {
			age = d.Seconds()
		}
	}
	o.oldestDue.Set(age)
}

func (o *Outbox) stats(ctx context.Context) (n int, oldest time.Time, err error) {
	err = o.opts.Store.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(queuePrefix), func(k, _ []byte) error {
			if n == 0 {
				oldest, _ = dueFromKey(k)
			}
			n++
			return nil
		})
	})
	return n, oldest, err
}

// pruneDead deletes dead jobs older than DeadTTL (the store's TTL does the
// same lazily; this makes the deadline hold by the clock).
func (o *Outbox) pruneDead(ctx context.Context) {
	now := o.clk.Now()
	var old [][]byte
	_ = o.opts.Store.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(deadPrefix), func(k, v []byte) error {
			var j Job
			if json.Unmarshal(v, &j) == nil && now.Sub(j.Died) > o.opts.DeadTTL {
				old = append(old, k)
			}
			return nil
		})
	})
	if len(old) == 0 {
		return
	}
	err := o.opts.Store.Update(ctx, func(tx store.Txn) error {
		for _, k := range old {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		o.log.Error("outbox: prune dead jobs", "err", err)
	}
}

// nextDue returns when the earliest job with a known handler is due, or
// zero when there is none.
func (o *Outbox) nextDue(ctx context.Context) (time.Time, error) {
	var next time.Time
	errStop := errors.New("stop")
	err := o.opts.Store.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(queuePrefix), func(k, v []byte) error {
			var j Job
			if json.Unmarshal(v, &j) != nil || o.handler(j.Kind) == nil {
				return nil
			}
			next, _ = dueFromKey(k)
			return errStop
		})
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return next, err
}

// Run processes jobs until ctx is done: it runs what is due, then sleeps
// until the next job is due, Poll passes or Enqueue wakes it. It returns
// nil when ctx is cancelled. Handlers running at that moment see their
// context cancelled; their jobs stay in the queue and run again later.
func (o *Outbox) Run(ctx context.Context) error {
	o.log.Info("outbox: running", "workers", o.opts.Workers)
	grace := time.Duration(0) // > 0: the next wait after a wake-up
	for {
		if _, err := o.RunDue(ctx); err != nil && ctx.Err() == nil {
			o.log.Error("outbox: run", "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		wait := o.opts.Poll
		if next, err := o.nextDue(ctx); err == nil && !next.IsZero() {
			wait = min(wait, max(next.Sub(o.clk.Now()), 0))
		}
		if wait <= 0 {
			// Something is due but could not be picked (running elsewhere):
			// do not spin.
			wait = min(o.opts.Poll, 50*time.Millisecond)
		}
		if grace > 0 {
			// EnqueueTx wakes before its transaction commits: look again
			// soon (100, 200, 400, 800 ms) in case the job was not visible
			// yet.
			wait = min(wait, grace)
			if grace *= 2; grace > 8*wakeGrace {
				grace = 0
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-o.wake:
			grace = wakeGrace
		case <-t.C:
		}
		t.Stop()
	}
}

// Pending returns the number of jobs waiting (due or not).
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	n, _, err := o.stats(ctx)
	if err != nil {
		return 0, fmt.Errorf("outbox: count pending: %w", err)
	}
	return n, nil
}

// Jobs returns the pending jobs in due order.
func (o *Outbox) Jobs(ctx context.Context) ([]Job, error) {
	return o.list(ctx, queuePrefix)
}

// Dead returns the dead jobs.
func (o *Outbox) Dead(ctx context.Context) ([]Job, error) {
	return o.list(ctx, deadPrefix)
}

func (o *Outbox) list(ctx context.Context, p string) ([]Job, error) {
	var out []Job
	err := o.opts.Store.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(p), func(_, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("decode job: %w", err)
			}
			out = append(out, j)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: list jobs: %w", err)
	}
	return out, nil
}

// Retry moves the dead job id back into the queue, due now, with its
// attempts reset (LastError is kept).
func (o *Outbox) Retry(ctx context.Context, id string) error {
	if !ids.Valid(id) {
		return ErrNotFound
	}
	err := o.opts.Store.Update(ctx, func(tx store.Txn) error {
		k := []byte(deadPrefix + id)
		v, err := tx.Get(k)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var j Job
		if err := json.Unmarshal(v, &j); err != nil {
			return fmt.Errorf("decode job: %w", err)
		}
		j.Attempts, j.Died, j.NotBefore = 0, time.Time{}, o.clk.Now().UTC()
		nv, err := json.Marshal(j)
		if err != nil {
			return err
		}
		if err := tx.Delete(k); err != nil {
			return err
		}
		return tx.Set(queueKey(j.NotBefore, j.ID), nv)
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("outbox: retry %s: %w", id, err)
	}
	o.poke()
	return nil
}
