// Package store is the relay's key-value storage. Domain packages consume the
// small KV and Txn interfaces defined here; Badger (encrypted, on disk) is the
// production implementation and Memory its in-memory twin for tests.
//
// Anything written inside a successful Update is durable when Update returns:
// the Badger implementation syncs its write-ahead log before acknowledging.
package store

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Txn.Get when a key does not exist or has expired.
var ErrNotFound = errors.New("store: key not found")

// ErrConflict is returned by Update when a transaction kept conflicting with
// concurrent writers after all retries.
var ErrConflict = errors.New("store: transaction conflict")

// Txn is a consistent view of the store; inside Update it also writes.
// Keys and values passed to and returned from a Txn must not be modified by
// the caller afterwards.
type Txn interface {
	// Get returns the value stored under key or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Set stores value under key.
	Set(key, value []byte) error
	// SetWithTTL stores value under key; the store may forget it after ttl.
	// TTL is for garbage collection only: domain code still checks its own
	// deadlines against its clock.
	SetWithTTL(key, value []byte, ttl time.Duration) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(key []byte) error
	// Scan calls fn for every key with the given prefix, in key order,
	// until fn returns an error, which Scan then returns.
	Scan(prefix []byte, fn func(key, value []byte) error) error
}

// KV runs transactions.
type KV interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Txn) error) error
	// Update runs fn in a read-write transaction and commits it durably.
	// When the commit conflicts with a concurrent transaction, fn is run
	// again on a fresh view (so fn must not have side effects outside the
	// transaction); after repeated conflicts Update returns ErrConflict.
	Update(ctx context.Context, fn func(Txn) error) error
}

// maxAttempts bounds how often Update reruns a conflicting transaction.
const maxAttempts = 100

// Seeker is a Txn that can start a scan at a key instead of at the
// prefix (Badger and Memory transactions can): a scan that resumes in a
// large range — a sweep deleting batch after batch — then does not step
// again over everything before, deleted keys included.
type Seeker interface {
	// ScanFrom is Scan over the keys with prefix that sort at or after
	// start.
	ScanFrom(prefix, start []byte, fn func(key, value []byte) error) error
}

// ScanAfter calls fn for every key with prefix that sorts after `after`
// (every key when after is nil), in key order, until fn returns an error.
// It seeks when tx is a Seeker and otherwise scans from the prefix and
// skips (transactions wrapped by tests).
func ScanAfter(tx Txn, prefix, after []byte, fn func(key, value []byte) error) error {
	if after == nil {
		return tx.Scan(prefix, fn)
	}
	if s, ok := tx.(Seeker); ok {
		start := append(bytes.Clone(after), 0) // the smallest key after `after`
		return s.ScanFrom(prefix, start, fn)
	}
	return tx.Scan(prefix, func(k, v []byte) error {
		if bytes.Compare(k, after) <= 0 {
			return nil
		}
		return fn(k, v)
	})
}
