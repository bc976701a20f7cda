package signing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// Key layout. Every key starts with "signing/"; ids are random hex, the
// caller's tenant and user ids, roles or SHA-256 digests; no key holds
// personal data.
//
//	signing/p/<processID>                       Process (stored form)
//	signing/t/<tenant>/<processID>              advisor id (the tenant's processes)
//	signing/c/<tenant>/<customerID>/<processID> empty (a customer's processes)
//	signing/a/<processID>/<role>                access (link token digest, code, session)
//	signing/k/<sha256(link token)>              linkRecord
//	signing/d/<processID>/<version 3 digits>/<chunk 6 digits>
//	                                            document bytes, ChunkSize per chunk
//	signing/trustee/<tenant>                    trusteeRecord
//	signing/seal/<tenant>                       sealRecord
const (
	prefix        = "signing/"
	prefixProcess = "signing/p/"
	prefixTenant  = "signing/t/"
	prefixCust    = "signing/c/"
	prefixAccess  = "signing/a/"
	prefixLink    = "signing/k/"
	prefixDoc     = "signing/d/"
	prefixTrustee = "signing/trustee/"
	prefixSeal    = "signing/seal/"
)

// Token prefixes.
const (
	// LinkTokenPrefix starts every signer link token (the secret in the
	// e-mailed link).
	LinkTokenPrefix = "psg_"
	// SessionTokenPrefix starts every verified signer session token.
	SessionTokenPrefix = "pss_"
)

// ChunkSize is the size of a stored document chunk.
const ChunkSize = 1 << 20

func processKey(id string) []byte      { return []byte(prefixProcess + id) }
func tenantPrefix(t string) []byte     { return []byte(prefixTenant + t + "/") }
func tenantKey(t, id string) []byte    { return []byte(prefixTenant + t + "/" + id) }
func custPrefix(t, c string) []byte    { return []byte(prefixCust + t + "/" + c + "/") }
func custKey(t, c, id string) []byte   { return []byte(prefixCust + t + "/" + c + "/" + id) }
func accessPrefix(id string) []byte    { return []byte(prefixAccess + id + "/") }
func accessKey(id, role string) []byte { return []byte(prefixAccess + id + "/" + role) }
func linkKey(hash string) []byte       { return []byte(prefixLink + hash) }
func docPrefix(id string) []byte       { return []byte(prefixDoc + id + "/") }
func trusteeKey(tenant string) []byte  { return []byte(prefixTrustee + tenant) }
func sealKey(tenant string) []byte     { return []byte(prefixSeal + tenant) }
func versionPrefix(id string, n int) []byte {
	return fmt.Appendf(nil, "%s%s/%03d/", prefixDoc, id, n)
}
func chunkKey(id string, n, i int) []byte { return fmt.Appendf(versionPrefix(id, n), "%06d", i) }

// linkRecord maps a link token's digest to its signer.
type linkRecord struct {
	ProcessID string `json:"process_id"`
	Role      string `json:"role"`
}

// access is a customer signer's link, code and session state.
type access struct {
	// LinkHash is the digest of the link token.
	LinkHash string `json:"link_hash"`
	// SealedLink is the link token sealed with the customer's key, so the
	// mails sent later from the outbox can carry the link.
	SealedLink []byte `json:"sealed_link"`
	// CodeSalt and CodeHash: SHA-256(salt ‖ code) of the live code.
	CodeSalt []byte `json:"code_salt,omitempty"`
	// CodeHash is the digest of the live code (empty: none).
	CodeHash []byte `json:"code_hash,omitempty"`
	// CodeExpires ends the live code.
	CodeExpires time.Time `json:"code_expires,omitzero"`
	// CodeFailures counts wrong tries of the live code.
	CodeFailures int `json:"code_failures,omitempty"`
	// CodeSent is when the last code was sent.
	CodeSent time.Time `json:"code_sent,omitzero"`
	// Codes counts the codes sent.
	Codes int `json:"codes,omitempty"`
	// SessionHash is the digest of the verified session token.
	SessionHash string `json:"session_hash,omitempty"`
	// SessionExpires ends the session.
	SessionExpires time.Time `json:"session_expires,omitzero"`
}

func getJSON(tx store.Txn, key []byte, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("signing: decode %s record: %w", keyKind(key), err)
	}
	return nil
}

func putJSON(tx store.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Set(key, b)
}

// keyKind names a key's record type for error messages.
func keyKind(key []byte) string {
	rest := strings.TrimPrefix(string(key), prefix)
	kind, _, _ := strings.Cut(rest, "/")
	return kind
}

// getProcess reads a stored process; a malformed or unknown id is
// ErrNotFound.
func getProcess(tx store.Txn, id string) (*Process, error) {
	if !ids.Valid(id) {
		return nil, ErrNotFound
	}
	var p Process
	err := getJSON(tx, processKey(id), &p)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// putProcess stores p with its revision raised.
func putProcess(tx store.Txn, p *Process) error {
	p.Rev++
	return putJSON(tx, processKey(p.ID), p)
}

func lastSegment(k []byte) string {
	s := string(k)
	return s[strings.LastIndexByte(s, '/')+1:]
}

// deleteKeys deletes every key with prefix p, in transactions of at most
// batch keys (a large document needs several).
func deleteKeys(ctx context.Context, kv store.KV, p []byte) error {
	const batch = 8
	for {
		var keys [][]byte
		errFull := errors.New("full")
		err := kv.View(ctx, func(tx store.Txn) error {
			keys = keys[:0]
			return tx.Scan(p, func(k, _ []byte) error {
				keys = append(keys, k)
				if len(keys) >= batch {
					return errFull
				}
				return nil
			})
		})
		if err != nil && !errors.Is(err, errFull) {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		if err := kv.Update(ctx, func(tx store.Txn) error {
			for _, k := range keys {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
}

func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
