package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrTooBig is returned by a Txn's writes when the transaction has grown
// past what the store commits at once (badger's transaction limit). A
// Group then commits what it has and moves the rest to the next batch.
var ErrTooBig = errors.New("store: transaction too big")

// DefaultMaxBatch is GroupOptions.MaxBatch when it is zero.
const DefaultMaxBatch = 256

// GroupOptions configures NewGroup.
type GroupOptions struct {
	// KV runs the batches' transactions. Required.
	KV KV
	// MaxBatch bounds how many callers share one transaction; zero means
	// DefaultMaxBatch, 1 commits every caller alone (no group commit).
	MaxBatch int
	// MaxWait is how long the committer waits for more callers once it has
	// one before it commits a batch smaller than MaxBatch. Zero waits for
	// nothing: a batch is whatever queued up while the previous batch was
	// committing, which already amortises the sync under load and adds no
	// latency to a lone caller.
	MaxWait time.Duration
}

// Group commits the writes of concurrent callers together (group
// commit): Do queues the caller's function, a committer runs the queued
// functions one after another inside ONE read-write transaction of the
// KV and commits it once — one synced write for the whole batch — and
// only then returns to each caller. Each function runs in its own
// savepoint: when it returns an error its writes are discarded and only
// its caller gets the error; the others' writes stand. A later function
// of a batch reads what the earlier ones wrote. When the commit fails
// every caller of the batch gets that error and nothing of the batch is
// stored; nothing is acknowledged before it is durable.
//
// The committer is a goroutine that runs only while callers are queued,
// so a Group needs no Close. A Group is safe for concurrent use.
type Group struct {
	kv       KV
	maxBatch int
	maxWait  time.Duration

	mu      sync.Mutex
	queue   []*groupReq
	running bool
	kick    chan struct{} // a caller queued (buffered, 1)
}

// groupReq is one queued caller.
type groupReq struct {
	ctx    context.Context
	fn     func(Txn) error
	queued time.Time
	state  atomic.Int32 // reqQueued, reqTaken, reqCancelled
	err    error
	done   chan struct{}
}

const (
	reqQueued int32 = iota
	reqTaken
	reqCancelled
)

// NewGroup returns a Group committing into opts.KV.
func NewGroup(opts GroupOptions) *Group {
	n := opts.MaxBatch
	if n <= 0 {
		n = DefaultMaxBatch
	}
	return &Group{kv: opts.KV, maxBatch: n, maxWait: max(opts.MaxWait, 0), kick: make(chan struct{}, 1)}
}

// Do runs fn in a savepoint of the next batch's transaction and returns
// when the batch is durable (nil) or failed (its error), with fn's own
// error when fn failed. As with KV.Update, fn may run more than once (the
// batch is retried after a conflict or rebuilt without a caller whose
// writes the store refused), so it must not have side effects outside the
// transaction, and it must not call Do itself. When ctx ends while fn is
// still queued, Do returns ctx.Err() and fn never runs; once its batch is
// being committed, Do waits for the outcome.
func (g *Group) Do(ctx context.Context, fn func(Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &groupReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	if g.maxWait > 0 {
		r.queued = time.Now()
	}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go g.commitLoop()
	} else {
		select {
		case g.kick <- struct{}{}:
		default:
		}
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqCancelled) {
			return ctx.Err()
		}
		<-r.done // being committed: the outcome is near
		return r.err
	}
}

// commitLoop commits batches until the queue is empty.
func (g *Group) commitLoop() {
	for {
		batch := g.take()
		if batch == nil {
			return
		}
		g.commit(batch)
	}
}

// take removes the next batch from the queue (waiting up to maxWait for
// it to fill), or marks the committer stopped and returns nil when the
// queue is empty.
func (g *Group) take() []*groupReq {
	if g.maxWait > 0 {
		// Wait until the oldest caller has waited maxWait or the batch
		// is full; callers put back after a cut batch (no queued time)
		// go at once.
		g.mu.Lock()
		var oldest time.Time
		if len(g.queue) > 0 {
			oldest = g.queue[0].queued
		}
		g.mu.Unlock()
		if wait := time.Until(oldest.Add(g.maxWait)); !oldest.IsZero() && wait > 0 {
			deadline := time.NewTimer(wait)
			defer deadline.Stop()
		wait:
			for {
				g.mu.Lock()
				n := len(g.queue)
				g.mu.Unlock()
				if n == 0 || n >= g.maxBatch {
					break
				}
				select {
				case <-g.kick:
				case <-deadline.C:
					break wait
				}
			}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var batch []*groupReq
	for len(g.queue) > 0 && len(batch) < g.maxBatch {
		r := g.queue[0]
		g.queue[0] = nil
		g.queue = g.queue[1:]
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			batch = append(batch, r)
		}
	}
	if len(batch) == 0 && len(g.queue) == 0 {
		g.running = false
		g.queue = nil
		return nil
	}
	return batch
}

// requeue puts callers back at the front of the queue (a batch that was
// cut because the store refused to grow its transaction further).
func (g *Group) requeue(rs []*groupReq) {
	for _, r := range rs {
		r.queued = time.Time{} // committed at once: they have waited
		r.state.Store(reqQueued)
	}
	g.mu.Lock()
	g.queue = append(slices.Clone(rs), g.queue...)
	g.mu.Unlock()
}

// errRefused aborts a batch's transaction: the store refused the writes
// of the caller at index at.
type errRefused struct {
	at  int
	err error
}

func (e *errRefused) Error() string { return "store: batch write refused: " + e.err.Error() }

// commit runs one batch: every caller's fn in its savepoint, then one
// commit. A caller whose savepoint the store refuses to take is cut off:
// with ErrTooBig the batch is committed up to it and it goes back to the
// queue (alone it fails with ErrTooBig); with another error it fails and
// the batch is rebuilt without it.
func (g *Group) commit(batch []*groupReq) {
	for len(batch) > 0 {
		errs := make([]error, len(batch))
		err := g.kv.Update(context.Background(), func(tx Txn) error {
			clear(errs)
			for i, r := range batch {
				sp := newSavepoint(tx)
				err := run(r.fn, sp)
				if err == nil {
					if ferr := sp.flush(); ferr != nil {
						return &errRefused{at: i, err: ferr}
					}
				}
				errs[i] = err
			}
			return nil
		})
		var ref *errRefused
		if errors.As(err, &ref) {
			if errors.Is(ref.err, ErrTooBig) && ref.at > 0 {
				g.requeue(batch[ref.at:])
				batch = batch[:ref.at]
				continue
			}
			finish(batch[ref.at], ref.err)
			batch = slices.Delete(batch, ref.at, ref.at+1)
			continue
		}
		for i, r := range batch {
			if err != nil {
				finish(r, err)
			} else {
				finish(r, errs[i])
			}
		}
		return
	}
}

// errPanicked is a caller's function that panicked; only that caller
// gets it (the committer must survive for the others).
var errPanicked = errors.New("store: batched transaction function panicked")

// run calls fn, turning a panic into errPanicked.
func run(fn func(Txn) error, tx Txn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errPanicked, p)
		}
	}()
	return fn(tx)
}

func finish(r *groupReq, err error) {
	r.err = err
	close(r.done)
}

// savepoint is a Txn layered over a batch's transaction: it keeps its
// writes to itself until flush, so that a caller's failed function
// leaves nothing behind in the batch.
type savepoint struct {
	base   Txn
	writes map[string]spEntry
}

type spEntry struct {
	value   []byte
	ttl     time.Duration
	deleted bool
}

var (
	_ Txn    = (*savepoint)(nil)
	_ Seeker = (*savepoint)(nil)
)

func newSavepoint(base Txn) *savepoint { return &savepoint{base: base, writes: map[string]spEntry{}} }

// flush applies the savepoint's writes to the batch's transaction.
func (s *savepoint) flush() error {
	keys := make([]string, 0, len(s.writes))
	for k := range s.writes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e := s.writes[k]
		var err error
		switch {
		case e.deleted:
			err = s.base.Delete([]byte(k))
		case e.ttl > 0:
			err = s.base.SetWithTTL([]byte(k), e.value, e.ttl)
		default:
			err = s.base.Set([]byte(k), e.value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *savepoint) Get(key []byte) ([]byte, error) {
	if e, ok := s.writes[string(key)]; ok {
		if e.deleted {
			return nil, ErrNotFound
		}
		return bytes.Clone(e.value), nil
	}
	return s.base.Get(key)
}

func (s *savepoint) Set(key, value []byte) error { return s.SetWithTTL(key, value, 0) }

func (s *savepoint) SetWithTTL(key, value []byte, ttl time.Duration) error {
	if len(key) == 0 {
		return errors.New("store: empty key")
	}
	s.writes[string(key)] = spEntry{value: bytes.Clone(value), ttl: max(ttl, 0)}
	return nil
}

func (s *savepoint) Delete(key []byte) error {
	s.writes[string(key)] = spEntry{deleted: true}
	return nil
}

func (s *savepoint) Scan(prefix []byte, fn func(key, value []byte) error) error {
	return s.ScanFrom(prefix, prefix, fn)
}

// ScanFrom merges the savepoint's writes into the batch transaction's
// scan (Seeker).
func (s *savepoint) ScanFrom(prefix, start []byte, fn func(key, value []byte) error) error {
	if bytes.Compare(start, prefix) < 0 {
		start = prefix
	}
	// The savepoint's keys in range, as they are when the scan starts.
	var mine []string
	for k := range s.writes {
		if bytes.HasPrefix([]byte(k), prefix) && k >= string(start) {
			mine = append(mine, k)
		}
	}
	slices.Sort(mine)
	i := 0
	emitMine := func(k string) error {
		e, ok := s.writes[k]
		if !ok || e.deleted {
			return nil
		}
		return fn([]byte(k), bytes.Clone(e.value))
	}
	baseFn := func(k, v []byte) error {
		for i < len(mine) && mine[i] < string(k) {
			if err := emitMine(mine[i]); err != nil {
				return err
			}
			i++
		}
		if i < len(mine) && mine[i] == string(k) {
			i++
			return emitMine(string(k))
		}
		if _, ok := s.writes[string(k)]; ok {
			return emitMine(string(k)) // written during the scan
		}
		return fn(k, v)
	}
	var err error
	if sk, ok := s.base.(Seeker); ok {
		err = sk.ScanFrom(prefix, start, baseFn)
	} else {
		err = s.base.Scan(prefix, func(k, v []byte) error {
			if bytes.Compare(k, start) < 0 {
				return nil
			}
			return baseFn(k, v)
		})
	}
	if err != nil {
		return err
	}
	for ; i < len(mine); i++ {
		if err := emitMine(mine[i]); err != nil {
			return err
		}
	}
	return nil
}
