package store

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"parley/relay/clock"
)

// Memory is an in-memory KV with the same semantics as Badger, for tests.
// Its zero value is ready to use (with the real clock). Transactions are
// serialised, so they never conflict.
type Memory struct {
	// Clock decides TTL expiry; nil means the real clock.
	Clock clock.Clock

	mu   sync.RWMutex
	data map[string]memEntry
}

type memEntry struct {
	value   []byte
	expires time.Time // zero: never
}

var _ KV = (*Memory)(nil)

// View runs fn on a snapshot-free read view under a read lock.
func (m *Memory) View(ctx context.Context, fn func(Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return fn(&memTxn{m: m, now: clock.Or(m.Clock).Now(), readOnly: true})
}

// Update runs fn and applies its writes atomically if fn returns nil.
func (m *Memory) Update(ctx context.Context, fn func(Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = make(map[string]memEntry)
	}
	tx := &memTxn{m: m, now: clock.Or(m.Clock).Now(), pending: map[string]*memEntry{}}
	if err := fn(tx); err != nil {
		return err
	}
	for k, e := range tx.pending {
		if e == nil {
			delete(m.data, k)
		} else {
			m.data[k] = *e
		}
	}
	return nil
}

type memTxn struct {
	m        *Memory
	now      time.Time
	readOnly bool
	pending  map[string]*memEntry // nil entry: deleted
}

func (t *memTxn) lookup(k string) (memEntry, bool) {
	if e, ok := t.pending[k]; ok {
		if e == nil {
			return memEntry{}, false
		}
		return *e, true
	}
	e, ok := t.m.data[k]
	if !ok || (!e.expires.IsZero() && !t.now.Before(e.expires)) {
		return memEntry{}, false
	}
	return e, true
}

func (t *memTxn) Get(key []byte) ([]byte, error) {
	e, ok := t.lookup(string(key))
	if !ok {
		return nil, ErrNotFound
	}
	return bytes.Clone(e.value), nil
}

func (t *memTxn) Set(key, value []byte) error { return t.SetWithTTL(key, value, 0) }

func (t *memTxn) SetWithTTL(key, value []byte, ttl time.Duration) error {
	if t.readOnly {
		return fmt.Errorf("store: write in read-only transaction")
	}
	if len(key) == 0 {
		return fmt.Errorf("store: empty key")
	}
	e := &memEntry{value: bytes.Clone(value)}
	if ttl > 0 {
		e.expires = t.now.Add(ttl)
	}
	t.pending[string(key)] = e
	return nil
}

func (t *memTxn) Delete(key []byte) error {
	if t.readOnly {
		return fmt.Errorf("store: write in read-only transaction")
	}
	t.pending[string(key)] = nil
	return nil
}

func (t *memTxn) Scan(prefix []byte, fn func(key, value []byte) error) error {
	return t.ScanFrom(prefix, nil, fn)
}

// ScanFrom is Scan over the keys at or after start (Seeker).
func (t *memTxn) ScanFrom(prefix, start []byte, fn func(key, value []byte) error) error {
	keys := map[string]bool{}
	for k := range t.m.data {
		if bytes.HasPrefix([]byte(k), prefix) && bytes.Compare([]byte(k), start) >= 0 {
			keys[k] = true
		}
	}
	for k := range t.pending {
		if bytes.HasPrefix([]byte(k), prefix) && bytes.Compare([]byte(k), start) >= 0 {
			keys[k] = true
		}
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		e, ok := t.lookup(k)
		if !ok {
			continue
		}
		if err := fn([]byte(k), bytes.Clone(e.value)); err != nil {
			return err
		}
	}
	return nil
}
