package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"parley/relay/store"
)

// Key layout. Every key starts with "auth/"; ids are random hex; no key
// contains personal data (usernames are indexed by a keyed digest).
//
//	auth/meta/index-key                  32 random bytes: HMAC key of the username index
//	auth/meta/bootstrapped               marker written by Bootstrap
//	auth/tenant/<tenantID>               Tenant
//	auth/slug/<slug>                     tenantID
//	auth/user/<tenantID>/<userID>        userRecord (with password hashes)
//	auth/username/<tenantID>/<digest>    userID; digest = HMAC-SHA256(index key, tenantID, username)
//	auth/session/<sha256(token)>         sessionRecord, with store TTL
//	auth/user-session/<tenantID>/<userID>/<sha256(token)>   "" (per-user session index), with store TTL
const (
	keyIndexKey     = "auth/meta/index-key"
	keyBootstrapped = "auth/meta/bootstrapped"
	prefixTenant    = "auth/tenant/"
	prefixSlug      = "auth/slug/"
	prefixUser      = "auth/user/"
	prefixUsername  = "auth/username/"
	prefixSession   = "auth/session/"
	prefixUserSess  = "auth/user-session/"
)

func tenantKey(id string) string     { return prefixTenant + id }
func slugKey(slug string) string     { return prefixSlug + slug }
func userKey(tid, uid string) string { return prefixUser + tid + "/" + uid }
func usersPrefix(tid string) string  { return prefixUser + tid + "/" }
func sessionKey(hash string) string  { return prefixSession + hash }
func userSessionsPrefix(tid, uid string) string {
	return prefixUserSess + tid + "/" + uid + "/"
}

// keyKind names the record type of a key for error messages (never the
// key's variable part).
func keyKind(key string) string {
	rest := strings.TrimPrefix(key, "auth/")
	kind, _, _ := strings.Cut(rest, "/")
	return kind
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// indexKeys caches the HMAC key of the username index.
type indexKeys struct {
	mu  sync.Mutex
	key []byte
}

// get returns the index key. When none is stored yet it creates one if
// create is set, and otherwise returns nil (no user can exist then).
func (k *indexKeys) get(ctx context.Context, kv store.KV, create bool) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	var key []byte
	load := func(tx store.Txn) error {
		b, err := tx.Get([]byte(keyIndexKey))
		if errors.Is(err, store.ErrNotFound) {
			key = nil
			return nil
		}
		if err != nil {
			return err
		}
		if len(b) != 32 {
			return errors.New("auth: stored index key is corrupt")
		}
		key = b
		return nil
	}
	var err error
	if create {
		err = kv.Update(ctx, func(tx store.Txn) error {
			if err := load(tx); err != nil || key != nil {
				return err
			}
			key = make([]byte, 32)
			rand.Read(key)
			return tx.Set([]byte(keyIndexKey), key)
		})
	} else {
		err = kv.View(ctx, load)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: load index key: %w", err)
	}
	k.key = key
	return key, nil
}

// usernameKey is the index key of a (lower-case) username in a tenant.
func usernameKey(indexKey []byte, tid, username string) string {
	m := hmac.New(sha256.New, indexKey)
	m.Write([]byte(tid))
	m.Write([]byte{0})
	m.Write([]byte(username))
	return prefixUsername + tid + "/" + hex.EncodeToString(m.Sum(nil))
}
