package kiosk

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"parley/relay/store"
)

// Key layout. Every key starts with "kiosk/"; ids are random hex, tenant
// ids, or SHA-256 digests; no key or value holds personal data.
//
//	kiosk/d/<kioskID>                  deviceRecord
//	kiosk/t/<tenant>/<kioskID>         empty (the tenant's kiosks)
//	kiosk/k/<sha256(token)>            kiosk id
//	kiosk/q/<kioskID>/<entryID>        entryRecord (TTL EntryTTL + 1 min)
//	kiosk/p/<tenant>/<processID>       "<kioskID>/<entryID>" (the process's entry)
//	kiosk/n/<kioskID>/<code|pin>       attempts (TTL AttemptWindow + 1 min)
//	kiosk/c/<callID>                   callRecord (TTL 1 h)
//	kiosk/ck/<kioskID>/<callID>        empty (a kiosk's calls)
//	kiosk/ct/<tenant>/<callID>         empty (a tenant's calls)
const (
	prefixDevice   = "kiosk/d/"
	prefixTenant   = "kiosk/t/"
	prefixToken    = "kiosk/k/"
	prefixQueue    = "kiosk/q/"
	prefixProcess  = "kiosk/p/"
	prefixAttempt  = "kiosk/n/"
	prefixCall     = "kiosk/c/"
	prefixCallK    = "kiosk/ck/"
	prefixCallT    = "kiosk/ct/"
	entryKeepExtra = time.Minute
)

func deviceKey(id string) []byte           { return []byte(prefixDevice + id) }
func tenantPrefix(t string) []byte         { return []byte(prefixTenant + t + "/") }
func tenantKey(t, id string) []byte        { return []byte(prefixTenant + t + "/" + id) }
func tokenKey(hash string) []byte          { return []byte(prefixToken + hash) }
func queuePrefix(kiosk string) []byte      { return []byte(prefixQueue + kiosk + "/") }
func queueKey(kiosk, id string) []byte     { return []byte(prefixQueue + kiosk + "/" + id) }
func processKey(t, pid string) []byte      { return []byte(prefixProcess + t + "/" + pid) }
func attemptKey(kiosk, kind string) []byte { return []byte(prefixAttempt + kiosk + "/" + kind) }
func callKey(id string) []byte             { return []byte(prefixCall + id) }
func callKioskPrefix(kiosk string) []byte  { return []byte(prefixCallK + kiosk + "/") }
func callKioskKey(kiosk, id string) []byte { return []byte(prefixCallK + kiosk + "/" + id) }
func callTenantPrefix(t string) []byte     { return []byte(prefixCallT + t + "/") }
func callTenantKey(t, id string) []byte    { return []byte(prefixCallT + t + "/" + id) }
func lastSegment(k []byte) string          { s := string(k); return s[strings.LastIndexByte(s, '/')+1:] }
func jsonUnmarshal(b []byte, v any) error  { return json.Unmarshal(b, v) }

func getJSON(tx store.Txn, key []byte, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("kiosk: decode record: %w", err)
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

func putJSONTTL(tx store.Txn, key []byte, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.SetWithTTL(key, b, ttl)
}
