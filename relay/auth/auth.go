// Package auth manages the relay's tenants, their users (admins and
// advisors), passwords, login throttling and login sessions.
//
// It is a domain package: it knows nothing of HTTP, takes its time from an
// injected clock and keeps its state in a store.KV under the key prefix
// "auth/" with JSON values. Personal data (usernames, display names, e-mail
// addresses) is kept in values only, which the store encrypts at rest; keys
// hold random ids and keyed digests. Logs carry ids only.
//
// Passwords are hashed with argon2id and stored as PHC strings. Session
// tokens are random ("pst_" + 32 bytes base64url); only their SHA-256 is
// stored. Failed logins are slowed down by an in-memory exponential back-off
// per account and per source address.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"parley/relay/clock"
	"parley/relay/store"
)

// Errors returned by the Service, wrapped with what was being done; check
// them with errors.Is.
var (
	// ErrInvalidCredentials: unknown user, wrong password, or a disabled
	// user (deliberately indistinguishable).
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrUnknownTenant: no tenant with that slug or id.
	ErrUnknownTenant = errors.New("unknown tenant")
	// ErrSessionInvalid: a session token that is malformed, forged, unknown,
	// expired or revoked, or whose user no longer exists or is disabled.
	ErrSessionInvalid = errors.New("session invalid")
	// ErrNotFound: no such user.
	ErrNotFound = errors.New("not found")
	// ErrExists: a tenant slug or username that is already taken.
	ErrExists = errors.New("already exists")
	// ErrInvalidInput: a malformed argument; the error is an *InputError
	// (or a *WeakPasswordError for a password that breaks the rules).
	ErrInvalidInput = errors.New("invalid input")
)

// InputError describes a malformed argument. It matches ErrInvalidInput
// with errors.Is. Its message never contains the offending value.
type InputError struct {
	// Field names the argument: "slug", "name", "username", "display_name",
	// "email", "role", "password".
	Field string
	// Msg says what is wrong, in English.
	Msg string
}

// Error implements error.
func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes the error match ErrInvalidInput.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

// WeakPasswordError reports a password that breaks the password rules. It
// matches ErrInvalidInput with errors.Is; use errors.As with a
// *WeakPasswordError target to read the reasons.
type WeakPasswordError struct {
	// Reasons are machine-readable codes: "too_short", "too_long",
	// "common", "contains_username", "reused" (the Reason constants).
	Reasons []string
}

// Error implements error.
func (e *WeakPasswordError) Error() string {
	return fmt.Sprintf("password rejected: %v", e.Reasons)
}

// Unwrap makes the error match ErrInvalidInput.
func (e *WeakPasswordError) Unwrap() error { return ErrInvalidInput }

// Has reports whether reason is among e.Reasons.
func (e *WeakPasswordError) Has(reason string) bool {
	for _, r := range e.Reasons {
		if r == reason {
			return true
		}
	}
	return false
}

// Role is what a user may do in their tenant.
type Role string

// The roles.
const (
	// RoleAdmin manages the tenant.
	RoleAdmin Role = "admin"
	// RoleAdvisor meets customers.
	RoleAdvisor Role = "advisor"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleAdvisor }

// Tenant is an organisation (a bank, an insurer, a broker firm). Tenants
// are strictly separated.
type Tenant struct {
	// ID is random and stable.
	ID string `json:"id"`
	// Slug names the tenant in URLs and at login: [a-z0-9-]{2,40}.
	Slug string `json:"slug"`
	// Name is the display name.
	Name string `json:"name"`
	// Created is when the tenant was created.
	Created time.Time `json:"created"`
}

// User is an account of a tenant, without its password data.
type User struct {
	// ID is random and stable.
	ID string
	// TenantID is the tenant the user belongs to.
	TenantID string
	// Username is unique per tenant, stored lower-case: [a-z0-9._-]{2,64}.
	Username string
	// DisplayName is the name shown to others.
	DisplayName string
	// Email is optional.
	Email string
	// Role is what the user may do.
	Role Role
	// MustChangePassword is set when the password was generated or set by
	// an admin; the user must choose a new one before doing anything else.
	MustChangePassword bool
	// Disabled users cannot log in and their sessions stop working.
	Disabled bool
	// Created is when the user was created.
	Created time.Time
	// SecondFactor is set when the user signs in with a TOTP code too.
	SecondFactor bool
}

// NewUser is the input to CreateUser.
type NewUser struct {
	// Username: [a-z0-9._-]{2,64}, case-insensitive (stored lower-case).
	Username string
	// DisplayName: up to 200 characters, no control characters.
	DisplayName string
	// Email: optional; a bare address (no display name), at most 254 bytes.
	Email string
	// Password must pass ValidatePassword for Username.
	Password string
	// Role of the new user.
	Role Role
	// MustChangePassword forces a password change at first login.
	MustChangePassword bool
}

// Session is an authenticated login.
type Session struct {
	// ID is the first 16 hex digits of the token's SHA-256: safe to log,
	// useless to log in with.
	ID string
	// TenantID and UserID identify the user.
	TenantID, UserID string
	// Role is the user's current role.
	Role Role
	// Created is the login time; Expires is Created + SessionTTL.
	Created, Expires time.Time
	// MustChangePassword is the user's current flag: while set, the API
	// should allow nothing but ChangePassword and Logout.
	MustChangePassword bool
}

// BootstrapResult reports what Bootstrap did.
type BootstrapResult struct {
	// Created is false when a tenant already existed and nothing was done.
	Created bool
	// Tenant is the new tenant (or, when Created is false, the existing
	// tenant with the requested slug, if any).
	Tenant Tenant
	// Admin is the new admin user.
	Admin User
	// Password is the generated admin password; empty unless Generated.
	Password string
	// Generated is true when Bootstrap generated the password.
	Generated bool
}

// Options configures New.
type Options struct {
	// Store holds tenants, users and sessions. Required.
	Store store.KV
	// Clock is the time source for session expiry and back-off; nil means
	// the real clock.
	Clock clock.Clock
	// Logger receives events with ids only; nil discards.
	Logger *slog.Logger
	// Hash are the argon2id parameters for new hashes; zero means
	// DefaultHashParams.
	Hash HashParams
	// SessionTTL is a session's absolute lifetime; 0 means 12 h.
	SessionTTL time.Duration
	// Throttle configures login back-off; zero fields take the defaults
	// in DefaultThrottleOptions.
	Throttle ThrottleOptions
}

// DefaultSessionTTL is the session lifetime when Options.SessionTTL is 0.
const DefaultSessionTTL = 12 * time.Hour

// Service implements tenants, users, passwords and sessions. It is safe for
// concurrent use. Login throttling state lives in the Service's memory, so
// one Service should serve all logins of a relay process.
type Service struct {
	kv    store.KV
	clock clock.Clock
	log   *slog.Logger
	hash  HashParams
	ttl   time.Duration
	th    *throttle

	dummyHash string                                            // verified against when a user does not exist
	verify    func(encoded, password string) (bool, HashParams) // verifyPassword; tests count calls
	hashSem   chan struct{}                                     // bounds concurrent argon2 computations (memory)
	keys      indexKeys
}

// New returns a Service. It computes one password hash (for the dummy
// verification of unknown users) and does not touch the store.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("auth: Options.Store is required")
	}
	if opts.SessionTTL < 0 {
		return nil, errors.New("auth: Options.SessionTTL must not be negative")
	}
	s := &Service{
		kv:      opts.Store,
		clock:   clock.Or(opts.Clock),
		log:     opts.Logger,
		hash:    opts.Hash,
		ttl:     opts.SessionTTL,
		th:      newThrottle(opts.Throttle),
		hashSem: make(chan struct{}, 2*runtime.GOMAXPROCS(0)),
		verify:  verifyPassword,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hash == (HashParams{}) {
		s.hash = DefaultHashParams
	}
	if err := s.hash.validate(); err != nil {
		return nil, err
	}
	if s.ttl == 0 {
		s.ttl = DefaultSessionTTL
	}
	dummy, err := hashPassword(GeneratePassword("", 20), s.hash)
	if err != nil {
		return nil, err
	}
	s.dummyHash = dummy
	return s, nil
}

// acquireHash waits for a slot to run argon2, so that a burst of logins
// cannot exhaust memory (each hash takes Hash.MemoryKiB).
func (s *Service) acquireHash(ctx context.Context) error {
	select {
	case s.hashSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) releaseHash() { <-s.hashSem }

// newHash hashes password with the current parameters, bounded by hashSem.
func (s *Service) newHash(ctx context.Context, password string) (string, error) {
	if err := s.acquireHash(ctx); err != nil {
		return "", err
	}
	defer s.releaseHash()
	return hashPassword(password, s.hash)
}

// getJSON reads key into v; store.ErrNotFound passes through.
func getJSON(tx store.Txn, key string, v any) error {
	b, err := tx.Get([]byte(key))
	if err != nil {
		return err
	}
	if err := jsonUnmarshal(b, v); err != nil {
		return fmt.Errorf("auth: decode %s record: %w", keyKind(key), err)
	}
	return nil
}
