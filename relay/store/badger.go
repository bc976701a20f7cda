package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// KeyFileName is the name of the encryption key file inside the data folder.
const KeyFileName = "store.key"

// KeyEnv names the environment variable that can supply the store key
// (64 hex digits, AES-256) instead of the key file.
const KeyEnv = "PARLEY_STORE_KEY"

// BadgerOptions configures Open.
type BadgerOptions struct {
	// Dir is the folder that holds the database files. Created if missing.
	Dir string
	// Key is the 32-byte AES-256 key that encrypts everything on disk.
	// When nil, Open takes it from the environment variable KeyEnv, or else
	// from KeyFileName inside Dir's parent data folder (KeyDir), creating
	// that file with mode 0600 on first start.
	Key []byte
	// KeyDir is the folder holding the key file; defaults to Dir.
	KeyDir string
	// Logger receives badger's warnings and errors; nil discards them.
	Logger *slog.Logger
	// NoSyncWrites acknowledges commits before they are synced to disk
	// (Close still writes everything out). It is for bulk seeding in
	// benchmarks only; the relay never sets it: its store syncs every
	// commit.
	NoSyncWrites bool
}

// Badger is the encrypted, on-disk KV.
type Badger struct {
	db  *badger.DB
	log *slog.Logger
}

var _ KV = (*Badger)(nil)

// Open opens (or creates) the encrypted badger database.
func Open(opts BadgerOptions) (*Badger, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key := opts.Key
	if key == nil {
		keyDir := opts.KeyDir
		if keyDir == "" {
			keyDir = opts.Dir
		}
		var err error
		key, err = LoadOrCreateKey(keyDir)
		if err != nil {
			return nil, err
		}
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("store: encryption key must be 32 bytes, got %d", len(key))
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data folder: %w", err)
	}
	bo := badger.DefaultOptions(opts.Dir).
		WithEncryptionKey(key).
		WithEncryptionKeyRotationDuration(30 * 24 * time.Hour).
		WithSyncWrites(!opts.NoSyncWrites).
		WithIndexCacheSize(16 << 20).
		WithBlockCacheSize(16 << 20).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithValueLogFileSize(64 << 20).
		WithCompression(options.ZSTD).
		WithLogger(badgerLogger{log}).
		WithLoggingLevel(badger.WARNING)
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("store: open badger at %s: %w", opts.Dir, err)
	}
	return &Badger{db: db, log: log}, nil
}

// LoadOrCreateKey returns the store key from the environment (KeyEnv) or
// from dir/KeyFileName, creating a fresh random key file with mode 0600 when
// neither exists.
func LoadOrCreateKey(dir string) ([]byte, error) {
	if v := strings.TrimSpace(os.Getenv(KeyEnv)); v != "" {
		k, err := hex.DecodeString(v)
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("store: %s must be 64 hex digits", KeyEnv)
		}
		return k, nil
	}
	path := filepath.Join(dir, KeyFileName)
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("store: key file %s is not 64 hex digits", path)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("store: read key file: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create key folder: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("store: generate key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: create key file: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: sync key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store: close key file: %w", err)
	}
	return k, nil
}

// Close flushes and closes the database.
func (b *Badger) Close() error { return b.db.Close() }

// View runs fn in a read-only badger transaction.
func (b *Badger) View(ctx context.Context, fn func(Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.View(func(tx *badger.Txn) error { return fn(badgerTxn{tx}) })
}

// Update runs fn in a read-write transaction, retrying on conflicts.
func (b *Badger) Update(ctx context.Context, fn func(Txn) error) error {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := b.db.Update(func(tx *badger.Txn) error { return fn(badgerTxn{tx}) })
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		// Back off a little, with jitter, so that contending writers
		// spread out instead of colliding again.
		wait := time.Duration(mrand.Int64N(int64(attempt+1) * int64(200*time.Microsecond)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return ErrConflict
}

// RunGC reclaims value-log space; call it periodically.
func (b *Badger) RunGC() {
	for b.db.RunValueLogGC(0.5) == nil {
	}
}

type badgerTxn struct{ tx *badger.Txn }

func (t badgerTxn) Get(key []byte) ([]byte, error) {
	item, err := t.tx.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get: %w", err)
	}
	return item.ValueCopy(nil)
}

func (t badgerTxn) Set(key, value []byte) error {
	return tooBig(t.tx.Set(bytes.Clone(key), bytes.Clone(value)))
}

// tooBig maps badger's transaction size limit to ErrTooBig.
func tooBig(err error) error {
	if errors.Is(err, badger.ErrTxnTooBig) {
		return fmt.Errorf("%w: %w", ErrTooBig, err)
	}
	return err
}

func (t badgerTxn) SetWithTTL(key, value []byte, ttl time.Duration) error {
	e := badger.NewEntry(bytes.Clone(key), bytes.Clone(value))
	if ttl > 0 {
		if ttl < time.Second {
			ttl = time.Second // badger's TTL resolution
		}
		e = e.WithTTL(ttl)
	}
	return tooBig(t.tx.SetEntry(e))
}

func (t badgerTxn) Delete(key []byte) error { return tooBig(t.tx.Delete(bytes.Clone(key))) }

func (t badgerTxn) Scan(prefix []byte, fn func(key, value []byte) error) error {
	return t.ScanFrom(prefix, prefix, fn)
}

// ScanFrom is Scan starting at start (Seeker).
func (t badgerTxn) ScanFrom(prefix, start []byte, fn func(key, value []byte) error) error {
	if bytes.Compare(start, prefix) < 0 {
		start = prefix
	}
	it := t.tx.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
	defer it.Close()
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("store: scan: %w", err)
		}
		if err := fn(item.KeyCopy(nil), v); err != nil {
			return err
		}
	}
	return nil
}

type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (b badgerLogger) Infof(string, ...any)  {}
func (b badgerLogger) Debugf(string, ...any) {}
