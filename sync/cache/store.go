package cache

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"parley/relay/store"
)

// KeyFileName is the name of the cache's key file inside its folder.
const KeyFileName = "cache.key"

// OpenStore opens (or creates) the encrypted badger store of the cache in
// dir/db. Its AES-256 key is read from dir/KeyFileName, which is created
// with a fresh random key (mode 0600) on first use. The caller closes the
// store after [Cache.Run] has returned.
func OpenStore(dir string, log *slog.Logger) (*store.Badger, error) {
	key, err := loadOrCreateKey(dir)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(store.BadgerOptions{Dir: filepath.Join(dir, "db"), Key: key, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("cache: open store: %w", err)
	}
	return db, nil
}

// loadOrCreateKey reads dir/KeyFileName or creates it.
func loadOrCreateKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, KeyFileName)
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("cache: key file %s is not 64 hex digits", path)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cache: read key file: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache: create folder: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("cache: generate key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cache: create key file: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(k) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("cache: write key file: %w", err)
	}
	return k, nil
}
