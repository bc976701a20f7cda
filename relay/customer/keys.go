package customer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// Key layout. Every key starts with "customer/"; ids are random hex, tenant
// ids are [A-Za-z0-9_-]; no key contains personal data.
//
//	customer/profile/<id>              profileRecord (contact sealed with the data key)
//	customer/key/<id>                  keyRecord: the customer's 32-byte data key
//	customer/tenant/<tenantID>/<id>    empty (the tenant's customers)
//	customer/email/<tenantID>/<hmac>   indexRecord: the id of the profile with that e-mail;
//	                                   hmac = hex HMAC-SHA256(tenant pepper, lower-cased e-mail)
//	customer/pepper/<tenantID>         pepperRecord: the tenant's random HMAC key
//	customer/erased/<id>               Receipt: the erasure ledger (ids and time only)
const (
	prefixProfile = "customer/profile/"
	prefixKey     = "customer/key/"
	prefixTenant  = "customer/tenant/"
	prefixEmail   = "customer/email/"
	prefixPepper  = "customer/pepper/"
	prefixErased  = "customer/erased/"
)

func profileKey(id string) []byte          { return []byte(prefixProfile + id) }
func dataKeyKey(id string) []byte          { return []byte(prefixKey + id) }
func tenantKey(tenantID, id string) []byte { return []byte(prefixTenant + tenantID + "/" + id) }
func tenantPrefix(tenantID string) []byte  { return []byte(prefixTenant + tenantID + "/") }
func emailKey(tenantID, mac string) []byte { return []byte(prefixEmail + tenantID + "/" + mac) }
func pepperKey(tenantID string) []byte     { return []byte(prefixPepper + tenantID) }
func erasedKey(id string) []byte           { return []byte(prefixErased + id) }
func aadProfile(customerID string) []byte  { return []byte("parley/customer/profile/" + customerID) }
func aadExternal(customerID string) []byte { return []byte("parley/customer/sealed/" + customerID) }
func keyKindOf(key []byte) string {
	k, _, _ := strings.Cut(strings.TrimPrefix(string(key), "customer/"), "/")
	return k
}
func newDataKey() []byte       { return randomBytes(32) }
func randomBytes(n int) []byte { b := make([]byte, n); rand.Read(b); return b } // never fails since Go 1.24
func emailMAC(pepper []byte, email string) string {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(emailIndexForm(email)))
	return hex.EncodeToString(m.Sum(nil))
}

// profileRecord is the stored form of a profile. Only the sealed contact
// holds personal data.
type profileRecord struct {
	V        int    `json:"v"`
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	// Sealed is the Contact as JSON, sealed with the data key and
	// aadProfile(ID).
	Sealed []byte `json:"sealed"`
	// EmailMAC is the e-mail index entry's MAC ("" without an e-mail), so
	// that deleting the profile can delete its index entry.
	EmailMAC        string    `json:"email_mac,omitempty"`
	Created         time.Time `json:"created"`
	LastInteraction time.Time `json:"last_interaction"`
}

type keyRecord struct {
	Key     []byte    `json:"key"`
	Created time.Time `json:"created"`
}

type indexRecord struct {
	ID string `json:"id"`
}

type pepperRecord struct {
	Pepper []byte `json:"pepper"`
}

// getJSON reads key into v; store.ErrNotFound passes through.
func getJSON(tx store.Txn, key []byte, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("customer: decode %s record: %w", keyKindOf(key), err)
	}
	return nil
}

func putJSON(tx store.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("customer: encode %s record: %w", keyKindOf(key), err)
	}
	return tx.Set(key, b)
}

// getProfile reads a profile record; a malformed or unknown id is
// ErrNotFound.
func getProfile(tx store.Txn, id string) (*profileRecord, error) {
	if !ids.Valid(id) {
		return nil, ErrNotFound
	}
	var r profileRecord
	err := getJSON(tx, profileKey(id), &r)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// getDataKey reads a customer's data key; store.ErrNotFound passes through.
func getDataKey(tx store.Txn, id string) ([]byte, error) {
	var k keyRecord
	if err := getJSON(tx, dataKeyKey(id), &k); err != nil {
		return nil, err
	}
	if len(k.Key) != 32 {
		return nil, fmt.Errorf("customer: key record of %s is malformed", id)
	}
	return k.Key, nil
}

// pepper returns the tenant's pepper, creating it when create is set;
// without create a missing pepper is (nil, nil).
func pepper(tx store.Txn, tenantID string, create bool) ([]byte, error) {
	var p pepperRecord
	err := getJSON(tx, pepperKey(tenantID), &p)
	if err == nil {
		if len(p.Pepper) != 32 {
			return nil, fmt.Errorf("customer: pepper of tenant %s is malformed", tenantID)
		}
		return p.Pepper, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if !create {
		return nil, nil
	}
	p.Pepper = randomBytes(32)
	if err := putJSON(tx, pepperKey(tenantID), p); err != nil {
		return nil, err
	}
	return p.Pepper, nil
}

// sealVersion starts every sealed blob: version 1 is AES-256-GCM with a
// random 12-byte nonce, laid out as version ‖ nonce ‖ ciphertext ‖ tag.
const sealVersion = 1

func seal(key, plaintext, aad []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1, 1+g.NonceSize()+len(plaintext)+g.Overhead())
	out[0] = sealVersion
	nonce := randomBytes(g.NonceSize())
	out = append(out, nonce...)
	return g.Seal(out, nonce, plaintext, aad), nil
}

func open(key, sealed, aad []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < 1+g.NonceSize()+g.Overhead() || sealed[0] != sealVersion {
		return nil, ErrSealedInvalid
	}
	nonce, ct := sealed[1:1+g.NonceSize()], sealed[1+g.NonceSize():]
	pt, err := g.Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, ErrSealedInvalid
	}
	return pt, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("customer: cipher: %w", err)
	}
	return cipher.NewGCM(b)
}

// sealContact seals c for profile id.
func sealContact(key []byte, id string, c Contact) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("customer: encode contact: %w", err)
	}
	return seal(key, b, aadProfile(id))
}

// openContact opens a profile's contact.
func openContact(key []byte, r *profileRecord) (Contact, error) {
	b, err := open(key, r.Sealed, aadProfile(r.ID))
	if err != nil {
		return Contact{}, fmt.Errorf("customer: open profile %s: %w", r.ID, err)
	}
	var c Contact
	if err := json.Unmarshal(b, &c); err != nil {
		return Contact{}, fmt.Errorf("customer: decode profile %s: %w", r.ID, err)
	}
	return c, nil
}
