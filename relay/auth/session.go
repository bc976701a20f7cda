package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// TokenPrefix starts every session token.
const TokenPrefix = "pst_"

// tokenLen is the length of a token: prefix + 32 bytes in unpadded base64url.
var tokenLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(32)

// sessionRecord is the stored form of a session, under the token's hash.
type sessionRecord struct {
	TenantID string    `json:"tenant_id"`
	UserID   string    `json:"user_id"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
}

// newToken returns a fresh token and the hex SHA-256 of it.
func newToken() (token, hash string) {
	var b [32]byte
	rand.Read(b[:]) // never fails since Go 1.24
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, tokenHash(token)
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// parseToken checks a token's form and returns its hash.
func parseToken(token string) (string, bool) {
	if len(token) != tokenLen || !strings.HasPrefix(token, TokenPrefix) {
		return "", false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token[len(TokenPrefix):])
	if err != nil || len(b) != 32 {
		return "", false
	}
	return tokenHash(token), true
}

// sessionID is the loggable id of a session: a prefix of the token hash.
func sessionID(hash string) string { return hash[:16] }

// Login checks a user's password and opens a session. tenantSlug and
// username are case-insensitive; source identifies the caller (its IP
// address) for the per-source back-off, "" for none.
//
// While a back-off is running for the account or the source, Login returns
// a *ThrottledError without checking the password. Otherwise it returns
// ErrUnknownTenant, ErrInvalidCredentials (unknown user, wrong password,
// disabled user: indistinguishable, and taking the same time), or the
// session and its token. The token is shown to the client once; only its
// hash is stored.
func (s *Service) Login(ctx context.Context, tenantSlug, username, password, source string) (Session, string, error) {
	wrap := func(err error) (Session, string, error) { return Session{}, "", fmt.Errorf("auth: login: %w", err) }
	slug, uname := strings.ToLower(tenantSlug), strings.ToLower(username)
	var src *throttleKey
	if source != "" {
		k := makeThrottleKey(source)
		src = &k
	}
	att, err := s.th.admit(ctx, s.clock, makeThrottleKey(slug, uname), src)
	if err != nil {
		if _, ok := err.(*ThrottledError); ok {
			s.log.Info("auth: login throttled")
		}
		return wrap(err)
	}
	result := outcomeNeutral
	defer func() { att.finish(s.clock.Now(), result) }()

	idx, err := s.keys.get(ctx, s.kv, false)
	if err != nil {
		return wrap(err)
	}
	var tenant Tenant
	var rec *userRecord
	err = s.kv.View(ctx, func(tx store.Txn) (err error) {
		rec = nil
		if tenant, err = tenantBySlug(tx, slug); err != nil {
			return err
		}
		rec, err = userByName(tx, idx, tenant.ID, uname)
		return err
	})
	tenantKnown := err == nil
	if err != nil && !errors.Is(err, ErrUnknownTenant) {
		return wrap(err)
	}

	// Verify against the user's hash, or a dummy one, so that timing does
	// not tell whether the tenant or user exists.
	hash := s.dummyHash
	if rec != nil {
		hash = rec.currentHash()
	}
	pw := password
	if len(pw) > MaxPasswordBytes {
		pw = "" // no stored password is this long; don't hash megabytes
	}
	if err := s.acquireHash(ctx); err != nil {
		return wrap(err)
	}
	ok, params := s.verify(hash, pw)
	s.releaseHash()
	ok = ok && rec != nil && len(password) <= MaxPasswordBytes

	switch {
	case !tenantKnown:
		result = outcomeFailure
		s.log.Info("auth: login failed", "reason", "unknown_tenant")
		return wrap(ErrUnknownTenant)
	case rec == nil:
		result = outcomeFailure
		s.log.Info("auth: login failed", "tenant_id", tenant.ID, "reason", "unknown_user")
		return wrap(ErrInvalidCredentials)
	case !ok:
		result = outcomeFailure
		s.log.Info("auth: login failed", "tenant_id", tenant.ID, "user_id", rec.ID, "reason", "wrong_password")
		return wrap(ErrInvalidCredentials)
	case rec.Disabled:
		result = outcomeFailure
		s.log.Info("auth: login failed", "tenant_id", tenant.ID, "user_id", rec.ID, "reason", "disabled")
		return wrap(ErrInvalidCredentials)
	}
	if params != s.hash {
		s.upgradeHash(ctx, rec, password)
	}
	if rec.TOTP.enabled() {
		// The password alone counts for nothing yet: no reset of the
		// back-off until the code is right too.
		sf, err := s.challenge(ctx, tenant, rec, uname)
		if err != nil {
			return wrap(err)
		}
		return Session{}, "", sf
	}
	result = outcomeSuccess
	sess, token, err := s.openSession(ctx, tenant, rec)
	if err != nil {
		return wrap(err)
	}
	return sess, token, nil
}

// openSession stores a new session for the user and returns it and its
// token.
func (s *Service) openSession(ctx context.Context, tenant Tenant, rec *userRecord) (Session, string, error) {
	token, th := newToken()
	now := s.clock.Now().UTC()
	sr := sessionRecord{TenantID: tenant.ID, UserID: rec.ID, Created: now, Expires: now.Add(s.ttl)}
	b, err := json.Marshal(sr)
	if err != nil {
		return Session{}, "", err
	}
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		if err := tx.SetWithTTL([]byte(sessionKey(th)), b, s.ttl); err != nil {
			return err
		}
		return tx.SetWithTTL([]byte(userSessionsPrefix(tenant.ID, rec.ID)+th), []byte{}, s.ttl)
	})
	if err != nil {
		return Session{}, "", err
	}
	sess := Session{
		ID: sessionID(th), TenantID: tenant.ID, UserID: rec.ID, Role: rec.Role,
		Created: sr.Created, Expires: sr.Expires, MustChangePassword: rec.MustChangePassword,
	}
	s.log.Info("auth: login", "tenant_id", tenant.ID, "user_id", rec.ID, "session_id", sess.ID)
	return sess, token, nil
}

// upgradeHash re-hashes the current password with the current parameters
// after a successful login. Failures are logged, not returned: the login
// itself succeeded.
func (s *Service) upgradeHash(ctx context.Context, rec *userRecord, password string) {
	hash, err := s.newHash(ctx, password)
	if err == nil {
		old := rec.currentHash()
		err = s.kv.Update(ctx, func(tx store.Txn) error {
			cur, err := getUser(tx, rec.TenantID, rec.ID)
			if err != nil {
				return err
			}
			if cur.currentHash() != old {
				return nil // changed meanwhile; leave it
			}
			cur.Passwords[len(cur.Passwords)-1] = hash
			return putUser(tx, cur)
		})
	}
	if err != nil {
		s.log.Warn("auth: password hash upgrade failed", "tenant_id", rec.TenantID, "user_id", rec.ID, "err", err)
		return
	}
	s.log.Info("auth: password hash upgraded", "tenant_id", rec.TenantID, "user_id", rec.ID)
}

// Authenticate returns the session of a token. The session's Role and
// MustChangePassword are the user's current ones. It fails with
// ErrSessionInvalid for malformed, forged, unknown, expired or revoked
// tokens and for users that were deleted or disabled.
func (s *Service) Authenticate(ctx context.Context, token string) (Session, error) {
	th, ok := parseToken(token)
	if !ok {
		return Session{}, fmt.Errorf("auth: authenticate: malformed token: %w", ErrSessionInvalid)
	}
	now := s.clock.Now()
	var sess Session
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var sr sessionRecord
		err := getJSON(tx, sessionKey(th), &sr)
		if errors.Is(err, store.ErrNotFound) {
			return ErrSessionInvalid
		}
		if err != nil {
			return err
		}
		if !now.Before(sr.Expires) {
			return fmt.Errorf("expired: %w", ErrSessionInvalid)
		}
		rec, err := getUser(tx, sr.TenantID, sr.UserID)
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("user gone: %w", ErrSessionInvalid)
		}
		if err != nil {
			return err
		}
		if rec.Disabled {
			return fmt.Errorf("user disabled: %w", ErrSessionInvalid)
		}
		sess = Session{
			ID: sessionID(th), TenantID: sr.TenantID, UserID: sr.UserID, Role: rec.Role,
			Created: sr.Created, Expires: sr.Expires, MustChangePassword: rec.MustChangePassword,
		}
		return nil
	})
	if err != nil {
		return Session{}, fmt.Errorf("auth: authenticate: %w", err)
	}
	return sess, nil
}

// Logout ends the session of a token. Logging out a session that has
// already ended (expired, revoked, logged out) is not an error; a
// malformed token is ErrSessionInvalid.
func (s *Service) Logout(ctx context.Context, token string) error {
	th, ok := parseToken(token)
	if !ok {
		return fmt.Errorf("auth: logout: malformed token: %w", ErrSessionInvalid)
	}
	var sr sessionRecord
	found := false
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		found = false
		err := getJSON(tx, sessionKey(th), &sr)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		if err := tx.Delete([]byte(sessionKey(th))); err != nil {
			return err
		}
		return tx.Delete([]byte(userSessionsPrefix(sr.TenantID, sr.UserID) + th))
	})
	if err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	if found {
		s.log.Info("auth: logout", "tenant_id", sr.TenantID, "user_id", sr.UserID, "session_id", sessionID(th))
	}
	return nil
}

// RevokeUserSessions ends every session of a user (for example after a
// suspected compromise). A user without sessions is not an error.
func (s *Service) RevokeUserSessions(ctx context.Context, tenantID, userID string) error {
	if !ids.Valid(tenantID) || !ids.Valid(userID) {
		return fmt.Errorf("auth: revoke sessions: %w", ErrNotFound)
	}
	if err := s.kv.Update(ctx, func(tx store.Txn) error {
		return revokeSessions(tx, tenantID, userID)
	}); err != nil {
		return fmt.Errorf("auth: revoke sessions: %w", err)
	}
	s.log.Info("auth: sessions revoked", "tenant_id", tenantID, "user_id", userID)
	return nil
}

func revokeSessions(tx store.Txn, tid, uid string) error {
	prefix := userSessionsPrefix(tid, uid)
	var keys [][]byte
	if err := tx.Scan([]byte(prefix), func(k, _ []byte) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		th := strings.TrimPrefix(string(k), prefix)
		if err := tx.Delete([]byte(sessionKey(th))); err != nil {
			return err
		}
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
