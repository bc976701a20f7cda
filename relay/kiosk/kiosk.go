// Package kiosk is the relay's side of branch kiosks: kiosk devices (a
// device token shown once, "pkd_…", of which only the SHA-256 is stored,
// and an unlock PIN stored as an argon2id hash), the signing queue of a
// kiosk (entries with 6-digit pickup codes, stored salted and hashed,
// valid 30 minutes, single use) and "talk to an advisor" call requests.
//
// It is a domain package: no HTTP, no signing or meeting code, time from an
// injected clock, state in a store.KV under "kiosk/" (layout in keys.go).
// No record holds personal data: a queue entry names a process, a signer
// role and the advisor by id; a call request names its kiosk. Attempts at
// codes and PINs are limited per kiosk (MaxAttempts per AttemptWindow),
// counted in the store so that a restart does not reset them. Logs carry
// ids only. docs/signing.md ("Kiosks") describes the flow.
package kiosk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/store"
)

// Errors returned by the Service, wrapped with what was being done; check
// them with errors.Is. Their text never holds a PIN, code or token.
var (
	// ErrNotFound: no such kiosk, entry or call (or one of another tenant).
	ErrNotFound = errors.New("kiosk: not found")
	// ErrInvalidInput: a malformed argument; the error is an *InputError.
	ErrInvalidInput = errors.New("kiosk: invalid input")
	// ErrUnauthorized: a malformed, unknown or revoked kiosk token.
	ErrUnauthorized = errors.New("kiosk: unknown kiosk token")
	// ErrInvalidCode: the pickup code matches no live entry of the kiosk.
	ErrInvalidCode = errors.New("kiosk: invalid pickup code")
	// ErrWrongPIN: the unlock PIN is wrong.
	ErrWrongPIN = errors.New("kiosk: wrong PIN")
	// ErrTooManyAttempts: MaxAttempts wrong codes or PINs within
	// AttemptWindow; the error is a *WaitError.
	ErrTooManyAttempts = errors.New("kiosk: too many wrong attempts")
	// ErrTaken: the call was accepted by someone else, or is no longer
	// waiting.
	ErrTaken = errors.New("kiosk: call already taken")
)

// InputError describes a malformed argument. It matches ErrInvalidInput.
type InputError struct {
	// Field names the argument ("name", "pin", "code").
	Field string
	// Msg says what is wrong, in English.
	Msg string
}

// Error implements error.
func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes the error match ErrInvalidInput.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

// WaitError says when attempts are possible again. It matches
// ErrTooManyAttempts.
type WaitError struct {
	// Wait is the time until the next attempt is allowed.
	Wait time.Duration
}

// Error implements error.
func (e *WaitError) Error() string {
	return fmt.Sprintf("kiosk: too many wrong attempts, next in %d s", int(e.Wait.Seconds()+0.999))
}

// Unwrap makes the error match ErrTooManyAttempts.
func (e *WaitError) Unwrap() error { return ErrTooManyAttempts }

// Limits and lifetimes.
const (
	// TokenPrefix starts every kiosk device token.
	TokenPrefix = "pkd_"
	// MinPIN and MaxPIN bound the PIN's number of digits.
	MinPIN, MaxPIN = 6, 12
	// MaxName is the longest kiosk name in characters.
	MaxName = 80
	// EntryTTL is how long a queued entry (and its pickup code) lives.
	EntryTTL = 30 * time.Minute
	// MaxAttempts wrong codes, or wrong PINs, per kiosk within
	// AttemptWindow; the next attempt is refused until the window ends.
	MaxAttempts = 5
	// AttemptWindow is the window of MaxAttempts.
	AttemptWindow = 10 * time.Minute
	// CallTimeout turns a waiting call unanswered.
	CallTimeout = 2 * time.Minute
	// callKeep is how long a call record is kept after it was created.
	callKeep = time.Hour
	// MaxKiosks bounds the kiosks of a tenant.
	MaxKiosks = 500
	// MaxWaitingCalls bounds the waiting calls of one kiosk.
	MaxWaitingCalls = 1
)

// PINParams are the argon2id costs of PIN hashes.
type PINParams struct {
	// Time is the number of passes.
	Time uint32
	// MemoryKiB is the memory cost.
	MemoryKiB uint32
}

// DefaultPINParams follow OWASP's argon2id recommendation (2 passes,
// 19 MiB).
var DefaultPINParams = PINParams{Time: 2, MemoryKiB: 19 * 1024}

// TestPINParams make hashing cheap; use them only in tests.
var TestPINParams = PINParams{Time: 1, MemoryKiB: 64}

// Options configures New.
type Options struct {
	// Store holds everything. Required.
	Store store.KV
	// Clock is the time source; nil means the real clock.
	Clock clock.Clock
	// Logger receives events with ids only; nil discards.
	Logger *slog.Logger
	// PIN sets the PIN hashing cost; zero means DefaultPINParams.
	PIN PINParams
}

// Service implements kiosks. It is safe for concurrent use.
type Service struct {
	kv    store.KV
	clock clock.Clock
	log   *slog.Logger
	pin   PINParams
}

// New returns a Service. It does not touch the store.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("kiosk: Options.Store is required")
	}
	s := &Service{kv: opts.Store, clock: clock.Or(opts.Clock), log: opts.Logger, pin: opts.PIN}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.pin.Time == 0 || s.pin.MemoryKiB == 0 {
		s.pin = DefaultPINParams
	}
	return s, nil
}

// Device is a kiosk.
type Device struct {
	// ID is random (32 hex digits).
	ID string `json:"id"`
	// TenantID is the kiosk's tenant.
	TenantID string `json:"-"`
	// Name is the admin's name for it ("Filiale Mitte, Schalter 2").
	Name string `json:"name"`
	// Created is when it was made.
	Created time.Time `json:"created_at"`
}

// deviceRecord is a Device as stored.
type deviceRecord struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Name      string    `json:"name"`
	Created   time.Time `json:"created"`
	TokenHash string    `json:"token_hash"`
	PINSalt   []byte    `json:"pin_salt"`
	PINHash   []byte    `json:"pin_hash"`
	PINTime   uint32    `json:"pin_t"`
	PINMemory uint32    `json:"pin_m"`
}

func (r *deviceRecord) public() Device {
	return Device{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Created: r.Created}
}

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if !utf8.ValidString(name) || n == 0 || n > MaxName {
		return "", &InputError{Field: "name", Msg: fmt.Sprintf("1 to %d characters are required", MaxName)}
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", &InputError{Field: "name", Msg: "control characters are not allowed"}
		}
	}
	return name, nil
}

func digits(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (s *Service) hashPIN(pin string, salt []byte, p PINParams) []byte {
	return argon2.IDKey([]byte(pin), salt, p.Time, p.MemoryKiB, 1, 32)
}

// Create makes a kiosk of the tenant with an unlock PIN of MinPIN to
// MaxPIN digits. It returns the device token, shown only now.
func (s *Service) Create(ctx context.Context, tenantID, name, pin string) (Device, string, error) {
	if !ids.ValidRef(tenantID) {
		return Device{}, "", fmt.Errorf("kiosk: create: %w", ErrNotFound)
	}
	name, err := checkName(name)
	if err != nil {
		return Device{}, "", fmt.Errorf("kiosk: create: %w", err)
	}
	if !digits(pin, MinPIN, MaxPIN) {
		return Device{}, "", fmt.Errorf("kiosk: create: %w", &InputError{Field: "pin", Msg: fmt.Sprintf("%d to %d digits are required", MinPIN, MaxPIN)})
	}
	salt := make([]byte, 16)
	rand.Read(salt) // never fails since Go 1.24
	token, hash := ids.NewToken(TokenPrefix)
	rec := deviceRecord{ID: ids.New(), TenantID: tenantID, Name: name, Created: s.clock.Now().UTC(), TokenHash: hash,
		PINSalt: salt, PINHash: s.hashPIN(pin, salt, s.pin), PINTime: s.pin.Time, PINMemory: s.pin.MemoryKiB}
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		n := 0
		if err := tx.Scan(tenantPrefix(tenantID), func(_, _ []byte) error { n++; return nil }); err != nil {
			return err
		}
		if n >= MaxKiosks {
			return &InputError{Field: "name", Msg: fmt.Sprintf("a tenant has at most %d kiosks", MaxKiosks)}
		}
		if err := putJSON(tx, deviceKey(rec.ID), rec); err != nil {
			return err
		}
		if err := tx.Set(tenantKey(tenantID, rec.ID), nil); err != nil {
			return err
		}
		return tx.Set(tokenKey(hash), []byte(rec.ID))
	})
	if err != nil {
		return Device{}, "", fmt.Errorf("kiosk: create: %w", err)
	}
	s.log.Info("kiosk: created", "kiosk_id", rec.ID, "tenant_id", tenantID)
	return rec.public(), token, nil
}

// List returns the tenant's kiosks by name.
func (s *Service) List(ctx context.Context, tenantID string) ([]Device, error) {
	out := []Device{}
	if !ids.ValidRef(tenantID) {
		return out, nil
	}
	err := s.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan(tenantPrefix(tenantID), func(k, _ []byte) error {
			var r deviceRecord
			if err := getJSON(tx, deviceKey(lastSegment(k)), &r); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return nil
				}
				return err
			}
			out = append(out, r.public())
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("kiosk: list: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || (out[i].Name == out[j].Name && out[i].ID < out[j].ID)
	})
	return out, nil
}

// device reads a kiosk of the tenant.
func device(tx store.Txn, tenantID, id string) (*deviceRecord, error) {
	if !ids.Valid(id) {
		return nil, ErrNotFound
	}
	var r deviceRecord
	if err := getJSON(tx, deviceKey(id), &r); errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if r.TenantID != tenantID {
		return nil, ErrNotFound
	}
	return &r, nil
}

// Get returns a kiosk of the tenant.
func (s *Service) Get(ctx context.Context, tenantID, id string) (Device, error) {
	var d Device
	err := s.kv.View(ctx, func(tx store.Txn) error {
		r, err := device(tx, tenantID, id)
		if err != nil {
			return err
		}
		d = r.public()
		return nil
	})
	if err != nil {
		return Device{}, fmt.Errorf("kiosk: get %s: %w", id, err)
	}
	return d, nil
}

// Delete removes a kiosk of the tenant: its token stops working at once,
// its queue entries, calls and attempt counters go with it.
func (s *Service) Delete(ctx context.Context, tenantID, id string) error {
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := device(tx, tenantID, id)
		if err != nil {
			return err
		}
		var keys [][]byte
		collect := func(p []byte) error {
			return tx.Scan(p, func(k, v []byte) error {
				keys = append(keys, k)
				var e entryRecord
				if jsonUnmarshal(v, &e) == nil && e.ProcessID != "" {
					keys = append(keys, processKey(e.TenantID, e.ProcessID))
				}
				return nil
			})
		}
		if err := collect(queuePrefix(id)); err != nil {
			return err
		}
		if err := tx.Scan(callKioskPrefix(id), func(k, _ []byte) error {
			keys = append(keys, k, callKey(lastSegment(k)))
			return nil
		}); err != nil {
			return err
		}
		keys = append(keys, deviceKey(id), tenantKey(tenantID, id), tokenKey(r.TokenHash),
			attemptKey(id, attemptCode), attemptKey(id, attemptPIN))
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kiosk: delete %s: %w", id, err)
	}
	s.log.Info("kiosk: deleted", "kiosk_id", id, "tenant_id", tenantID)
	return nil
}

// Authenticate returns the kiosk a device token belongs to.
func (s *Service) Authenticate(ctx context.Context, token string) (Device, error) {
	hash, ok := ids.ParseToken(TokenPrefix, token)
	if !ok {
		return Device{}, fmt.Errorf("kiosk: authenticate: %w", ErrUnauthorized)
	}
	var d Device
	err := s.kv.View(ctx, func(tx store.Txn) error {
		id, err := tx.Get(tokenKey(hash))
		if errors.Is(err, store.ErrNotFound) {
			return ErrUnauthorized
		}
		if err != nil {
			return err
		}
		var r deviceRecord
		if err := getJSON(tx, deviceKey(string(id)), &r); errors.Is(err, store.ErrNotFound) {
			return ErrUnauthorized
		} else if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(r.TokenHash), []byte(hash)) != 1 {
			return ErrUnauthorized
		}
		d = r.public()
		return nil
	})
	if err != nil {
		return Device{}, fmt.Errorf("kiosk: authenticate: %w", err)
	}
	return d, nil
}

// attempts is a kiosk's count of wrong attempts of one kind.
type attempts struct {
	Start time.Time `json:"start"`
	Count int       `json:"count"`
}

const (
	attemptCode = "code"
	attemptPIN  = "pin"
)

// gate refuses an attempt while the kiosk's window is used up.
func gate(tx store.Txn, id, kind string, now time.Time) (attempts, error) {
	var a attempts
	if err := getJSON(tx, attemptKey(id, kind), &a); err != nil && !errors.Is(err, store.ErrNotFound) {
		return a, err
	}
	if !now.Before(a.Start.Add(AttemptWindow)) {
		a = attempts{}
	}
	if a.Count >= MaxAttempts {
		return a, &WaitError{Wait: a.Start.Add(AttemptWindow).Sub(now)}
	}
	return a, nil
}

// fail counts a wrong attempt.
func fail(tx store.Txn, id, kind string, a attempts, now time.Time) error {
	if a.Count == 0 {
		a.Start = now
	}
	a.Count++
	return putJSONTTL(tx, attemptKey(id, kind), a, AttemptWindow+time.Minute)
}

// Unlock checks the kiosk's PIN (the branch staff unlock the kiosk mode
// with it). A wrong PIN is ErrWrongPIN; after MaxAttempts wrong ones in
// AttemptWindow every attempt is a *WaitError until the window ends.
func (s *Service) Unlock(ctx context.Context, tenantID, id, pin string) error {
	wrong := false
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		wrong = false
		r, err := device(tx, tenantID, id)
		if err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		a, err := gate(tx, id, attemptPIN, now)
		if err != nil {
			return err
		}
		ok := digits(pin, MinPIN, MaxPIN) &&
			subtle.ConstantTimeCompare(s.hashPIN(pin, r.PINSalt, PINParams{Time: r.PINTime, MemoryKiB: r.PINMemory}), r.PINHash) == 1
		if ok {
			return tx.Delete(attemptKey(id, attemptPIN))
		}
		wrong = true
		return fail(tx, id, attemptPIN, a, now)
	})
	if err == nil && wrong {
		err = ErrWrongPIN
	}
	if err != nil {
		return fmt.Errorf("kiosk: unlock %s: %w", id, err)
	}
	return nil
}

// codeDigest is SHA-256(salt ‖ code).
func codeDigest(salt []byte, code string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(code))
	return h.Sum(nil)
}

func newCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err) // crypto/rand does not fail since Go 1.24
	}
	return fmt.Sprintf("%06d", n.Int64())
}
