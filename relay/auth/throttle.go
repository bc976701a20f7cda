package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"parley/relay/clock"
)

// ThrottleOptions configures the exponential back-off that Login applies
// after failed attempts, separately per account (tenant + username, whether
// the user exists or not) and per source (the caller's IP address). A zero
// field takes its default.
type ThrottleOptions struct {
	// FreeFailures is how many failures a counter allows before back-off
	// starts. Default 3; a negative value means none.
	FreeFailures int
	// BaseDelay is the first back-off; each further failure doubles it.
	// Default 1 s.
	BaseDelay time.Duration
	// AccountMaxDelay caps the back-off per account. It is short (default
	// 1 min) so that an attacker cannot lock a real user out for long.
	AccountMaxDelay time.Duration
	// SourceMaxDelay caps the back-off per source. It is long (default
	// 15 min): a source guessing many accounts slows down a lot.
	SourceMaxDelay time.Duration
	// ForgetAfter is how long after its last failure (and the end of its
	// back-off) a counter is forgotten. Default 1 h.
	ForgetAfter time.Duration
	// MaxEntries bounds the number of counters kept per kind (accounts,
	// sources); when full, forgotten counters are pruned and then the
	// counter with the oldest failure is dropped. Default 100,000.
	MaxEntries int
}

// DefaultThrottleOptions are the defaults applied to zero fields.
var DefaultThrottleOptions = ThrottleOptions{
	FreeFailures:    3,
	BaseDelay:       time.Second,
	AccountMaxDelay: time.Minute,
	SourceMaxDelay:  15 * time.Minute,
	ForgetAfter:     time.Hour,
	MaxEntries:      100_000,
}

func (o ThrottleOptions) withDefaults() ThrottleOptions {
	d := DefaultThrottleOptions
	switch {
	case o.FreeFailures < 0:
		o.FreeFailures = 0
	case o.FreeFailures == 0:
		o.FreeFailures = d.FreeFailures
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = d.BaseDelay
	}
	if o.AccountMaxDelay <= 0 {
		o.AccountMaxDelay = d.AccountMaxDelay
	}
	if o.SourceMaxDelay <= 0 {
		o.SourceMaxDelay = d.SourceMaxDelay
	}
	if o.ForgetAfter <= 0 {
		o.ForgetAfter = d.ForgetAfter
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = d.MaxEntries
	}
	return o
}

// ThrottledError is returned by Login while a back-off is running. The
// password was not checked. Check for it with errors.As and a
// *ThrottledError target.
type ThrottledError struct {
	// RetryAfter is how long the caller must wait before the next attempt.
	RetryAfter time.Duration
}

// Error implements error.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins, retry after %s", e.RetryAfter)
}

// throttleKey is a digest of an account or source, so that the throttle
// holds no usernames or IP addresses in memory.
type throttleKey [16]byte

func makeThrottleKey(parts ...string) throttleKey {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	var k throttleKey
	copy(k[:], h.Sum(nil))
	return k
}

type counter struct {
	failures int       // consecutive failures
	last     time.Time // time of the last failure
	until    time.Time // back-off running until
	inflight int       // attempts admitted and not finished yet
}

type counterSet struct {
	m        map[throttleKey]*counter
	maxDelay time.Duration
}

// throttle is the in-memory login back-off. It is safe for concurrent use.
type throttle struct {
	opts ThrottleOptions

	mu        sync.Mutex
	accounts  counterSet
	sources   counterSet
	lastPrune time.Time
	changed   chan struct{} // closed when an attempt finishes; nil if nobody waits
}

func newThrottle(o ThrottleOptions) *throttle {
	o = o.withDefaults()
	return &throttle{
		opts:     o,
		accounts: counterSet{m: map[throttleKey]*counter{}, maxDelay: o.AccountMaxDelay},
		sources:  counterSet{m: map[throttleKey]*counter{}, maxDelay: o.SourceMaxDelay},
	}
}

// delay returns the back-off after the given number of consecutive
// failures: none for the first FreeFailures, then BaseDelay doubling with
// each failure, capped at max.
func (t *throttle) delay(failures int, max time.Duration) time.Duration {
	over := failures - t.opts.FreeFailures
	if over <= 0 {
		return 0
	}
	d := t.opts.BaseDelay
	for i := 1; i < over && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

func (t *throttle) forgettable(c *counter, now time.Time) bool {
	return c.inflight == 0 && !now.Before(c.until) && now.Sub(c.last) >= t.opts.ForgetAfter
}

// admit waits until begin admits an attempt, or returns a
// *ThrottledError while a back-off runs, or the context's error.
func (t *throttle) admit(ctx context.Context, clk clock.Clock, account throttleKey, source *throttleKey) (*attempt, error) {
	for {
		a, wait, busy := t.begin(clk.Now(), account, source)
		switch {
		case a != nil:
			return a, nil
		case wait > 0:
			return nil, &ThrottledError{RetryAfter: wait}
		}
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// attempt is an admitted login attempt; finish it exactly once.
type attempt struct {
	t       *throttle
	account throttleKey
	source  *throttleKey
}

// begin admits an attempt for the account and (when non-nil) source. If
// a back-off is running it returns how long to wait instead. If attempts
// already in flight must finish first, it returns a channel that is closed
// when any attempt finishes; then call begin again.
//
// So that parallel requests cannot slip past the back-off, attempts in
// flight count as potential failures: an account runs no more attempts at
// once than would start its back-off if they all failed (FreeFailures+1
// minus the failures so far, at least one); a source that has used up its
// free failures runs one attempt at a time. (Sources are more lenient
// because many users behind one NAT may log in at once.)
func (t *throttle) begin(now time.Time, account throttleKey, source *throttleKey) (*attempt, time.Duration, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maybePrune(now)
	var wait time.Duration
	busy := false
	check := func(cs *counterSet, k throttleKey, strict bool) {
		c, ok := cs.m[k]
		if !ok {
			return
		}
		if t.forgettable(c, now) {
			delete(cs.m, k)
			return
		}
		switch {
		case now.Before(c.until):
			wait = max(wait, c.until.Sub(now))
		case c.inflight == 0:
		case strict && c.failures+c.inflight > t.opts.FreeFailures,
			c.failures >= t.opts.FreeFailures:
			busy = true
		}
	}
	check(&t.accounts, account, true)
	if source != nil {
		check(&t.sources, *source, false)
	}
	if wait > 0 {
		return nil, wait, nil
	}
	if busy {
		if t.changed == nil {
			t.changed = make(chan struct{})
		}
		return nil, 0, t.changed
	}
	t.get(&t.accounts, account, now).inflight++
	if source != nil {
		t.get(&t.sources, *source, now).inflight++
	}
	return &attempt{t: t, account: account, source: source}, 0, nil
}

// get returns the counter for k, creating it (and making room) if needed.
func (t *throttle) get(cs *counterSet, k throttleKey, now time.Time) *counter {
	if c, ok := cs.m[k]; ok {
		return c
	}
	if len(cs.m) >= t.opts.MaxEntries {
		t.prune(cs, now)
	}
	if len(cs.m) >= t.opts.MaxEntries {
		var oldest *throttleKey
		var oldestAt time.Time
		for key, c := range cs.m {
			if c.inflight == 0 && (oldest == nil || c.last.Before(oldestAt)) {
				oldest, oldestAt = &key, c.last
			}
		}
		if oldest != nil {
			delete(cs.m, *oldest)
		}
	}
	c := &counter{}
	cs.m[k] = c
	return c
}

// outcome is how an attempt ended.
type outcome int

const (
	// outcomeNeutral: the attempt ended without a verdict (store error,
	// cancelled context); nothing is counted.
	outcomeNeutral outcome = iota
	// outcomeSuccess resets the counters.
	outcomeSuccess
	// outcomeFailure counts a failure.
	outcomeFailure
)

// finish records the outcome of an attempt. Success resets the account's
// and the source's counters; failure counts on both and starts their
// back-offs.
func (a *attempt) finish(now time.Time, o outcome) {
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	t.record(&t.accounts, a.account, now, o)
	if a.source != nil {
		t.record(&t.sources, *a.source, now, o)
	}
	if t.changed != nil {
		close(t.changed) // wake attempts waiting for this one
		t.changed = nil
	}
}

func (t *throttle) record(cs *counterSet, k throttleKey, now time.Time, o outcome) {
	c := t.get(cs, k, now) // normally present: begin created it
	if c.inflight > 0 {
		c.inflight--
	}
	if o == outcomeNeutral {
		if c.inflight == 0 && c.failures == 0 {
			delete(cs.m, k)
		}
		return
	}
	if o == outcomeSuccess {
		c.failures, c.last, c.until = 0, time.Time{}, time.Time{}
		if c.inflight == 0 {
			delete(cs.m, k)
		}
		return
	}
	if !c.last.IsZero() && now.Sub(c.last) >= t.opts.ForgetAfter && !now.Before(c.until) {
		c.failures = 0 // the earlier failures are forgotten
	}
	c.failures++
	c.last = now
	if d := t.delay(c.failures, cs.maxDelay); d > 0 {
		c.until = now.Add(d)
	}
}

func (t *throttle) maybePrune(now time.Time) {
	if now.Sub(t.lastPrune) < t.opts.ForgetAfter/4 {
		return
	}
	t.lastPrune = now
	t.prune(&t.accounts, now)
	t.prune(&t.sources, now)
}

func (t *throttle) prune(cs *counterSet, now time.Time) {
	for k, c := range cs.m {
		if t.forgettable(c, now) {
			delete(cs.m, k)
		}
	}
}

// size returns the number of account and source counters (for tests).
func (t *throttle) size() (accounts, sources int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.accounts.m), len(t.sources.m)
}
