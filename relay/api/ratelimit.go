package api

import (
	"math"
	"net/http"
	"sync"
	"time"

	"parley/relay/clock"
)

// limiter is a token bucket per client address and rate class, in memory
// only (addresses are never stored or logged). Buckets that have refilled
// are forgotten, so the map stays as small as the set of busy clients; a
// hard cap bounds it under an address-spraying flood, past which new
// clients share one overflow bucket per class.
type limiter struct {
	clock   clock.Clock
	mu      sync.Mutex
	buckets map[limitKey]*bucket
	swept   time.Time
}

type limitKey struct {
	class rateClass
	addr  string
}

type bucket struct {
	tokens float64
	last   time.Time
}

// rateClass is a kind of public request with its own budget.
type rateClass int

const (
	// rateRead: public reads (pages, slots, join-link checks): a burst of
	// 120, then 2 per second.
	rateRead rateClass = iota + 1
	// rateWrite: public writes that create records or send mail (holds,
	// bookings, cancel and reschedule): a burst of 10, then 1 every 6 s.
	rateWrite
)

type rateSpec struct {
	burst  float64
	perSec float64
}

var rateSpecs = map[rateClass]rateSpec{
	rateRead:  {burst: 120, perSec: 2},
	rateWrite: {burst: 10, perSec: 1.0 / 6},
}

// maxBuckets caps the limiter's memory.
const maxBuckets = 100_000

func newLimiter(c clock.Clock) *limiter {
	return &limiter{clock: c, buckets: map[limitKey]*bucket{}}
}

// allow takes one token for addr in class, or says how long to wait.
func (l *limiter) allow(class rateClass, addr string) (bool, time.Duration) {
	spec := rateSpecs[class]
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		l.sweep(now)
	}
	k := limitKey{class, addr}
	b := l.buckets[k]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			k.addr = "overflow"
			b = l.buckets[k]
		}
		if b == nil {
			b = &bucket{tokens: spec.burst, last: now}
			l.buckets[k] = b
		}
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(spec.burst, b.tokens+el*spec.perSec)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / spec.perSec * float64(time.Second))
	return false, wait
}

// sweep forgets buckets that have refilled completely.
func (l *limiter) sweep(now time.Time) {
	l.swept = now
	for k, b := range l.buckets {
		spec := rateSpecs[k.class]
		if b.tokens+now.Sub(b.last).Seconds()*spec.perSec >= spec.burst {
			delete(l.buckets, k)
		}
	}
}

// limited wraps a route function with the class's rate limit per client
// address; a refused request gets 429 throttled with Retry-After.
func limited[S any](class rateClass, fn func(h *handler, w http.ResponseWriter, r *http.Request, s S)) func(h *handler, w http.ResponseWriter, r *http.Request, s S) {
	return func(h *handler, w http.ResponseWriter, r *http.Request, s S) {
		if ok, wait := h.limiter.allow(class, source(r)); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			if secs < 1 {
				secs = 1
			}
			writeError(w, &Error{Status: http.StatusTooManyRequests, Code: "throttled",
				Message: "Too many requests from your network. Try again in a moment.", RetryAfter: secs})
			return
		}
		fn(h, w, r, s)
	}
}
