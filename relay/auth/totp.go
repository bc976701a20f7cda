package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"parley/relay/ids"
	"parley/relay/store"
)

// The second factor is TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second
// steps, one step of clock skew either way), the form every authenticator
// app reads, with single-use recovery codes for a lost phone.
const (
	// TOTPPeriod is the length of a TOTP step.
	TOTPPeriod = 30 * time.Second
	// TOTPSkew is how many steps before and after the current one are
	// accepted.
	TOTPSkew = 1
	// RecoveryCodes is how many recovery codes an enrolment gives.
	RecoveryCodes = 10
	// ChallengePrefix starts a second-factor challenge token.
	ChallengePrefix = "pmf_"
	// ChallengeTTL is how long a challenge may be answered.
	ChallengeTTL = 5 * time.Minute
	// ChallengeAttempts is how many wrong codes a challenge takes before
	// it is void (the password must be given again).
	ChallengeAttempts = 5
	// EnrolmentTTL is how long a started enrolment waits for its first
	// code.
	EnrolmentTTL = 15 * time.Minute
)

// Second-factor errors.
var (
	// ErrInvalidCode: a wrong, reused or malformed code (or recovery
	// code), or a void challenge.
	ErrInvalidCode = errors.New("invalid second-factor code")
	// ErrChallengeExpired: the sign-in challenge is unknown, expired or
	// void after too many wrong codes: the password must be given again.
	ErrChallengeExpired = errors.New("second-factor challenge expired")
	// ErrSecondFactorEnabled: the user already has a second factor.
	ErrSecondFactorEnabled = errors.New("second factor already enabled")
	// ErrSecondFactorNotEnabled: the user has no second factor (or no
	// enrolment under way).
	ErrSecondFactorNotEnabled = errors.New("second factor not enabled")
)

// SecondFactorRequiredError is Login's answer to a right password of a
// user with a second factor: the client answers Challenge with a code
// through LoginSecondFactor.
type SecondFactorRequiredError struct {
	// Challenge is the token to send back with the code (shown once).
	Challenge string
	// Expires is when the challenge ends.
	Expires time.Time
}

// Error names the condition.
func (e *SecondFactorRequiredError) Error() string { return "second factor required" }

// totpRecord is a user's second factor, in the user record.
type totpRecord struct {
	// Secret is the base32 shared secret once enabled.
	Secret string `json:"secret,omitempty"`
	// Enabled is when the second factor was confirmed.
	Enabled time.Time `json:"enabled,omitzero"`
	// LastStep is the last step a code was accepted for: a code is never
	// accepted twice (RFC 6238 §5.2).
	LastStep int64 `json:"last_step,omitempty"`
	// Recovery holds the SHA-256 of each unused recovery code.
	Recovery []string `json:"recovery,omitempty"`
	// Pending is the secret of an enrolment under way, until
	// PendingExpires.
	Pending        string    `json:"pending,omitempty"`
	PendingExpires time.Time `json:"pending_expires,omitzero"`
}

func (t *totpRecord) enabled() bool { return t != nil && t.Secret != "" }

// challengeRecord is a pending second-factor login.
type challengeRecord struct {
	TenantID string    `json:"tenant_id"`
	UserID   string    `json:"user_id"`
	Slug     string    `json:"slug"`
	Username string    `json:"username"`
	Expires  time.Time `json:"expires"`
	Failures int       `json:"failures"`
}

const prefixChallenge = "auth/mfa/"

func challengeKey(hash string) []byte { return []byte(prefixChallenge + hash) }

var totpOpts = totp.ValidateOpts{Period: uint(TOTPPeriod / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// checkTOTP returns the step of secret that code belongs to, among the
// current step ± TOTPSkew, and whether one does.
func checkTOTP(secret, code string, now time.Time) (int64, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 {
		return 0, false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	step := now.Unix() / int64(TOTPPeriod/time.Second)
	match, ok := int64(0), false
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+d)*int64(TOTPPeriod/time.Second), 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			match, ok = step+d, true
		}
	}
	return match, ok
}

// recoveryHash is how a recovery code is stored: codes carry 80 random
// bits, so a plain SHA-256 is enough.
func recoveryHash(code string) string {
	c := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	sum := sha256.Sum256([]byte("parley/recovery/" + c))
	return hex.EncodeToString(sum[:])
}

// newRecoveryCodes returns n fresh codes (xxxx-xxxx-xxxx-xxxx, base32
// lower case) and their hashes.
func newRecoveryCodes(n int) (codes, hashes []string) {
	for range n {
		var b [10]byte
		rand.Read(b[:]) // never fails since Go 1.24
		s := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
		code := s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
		codes = append(codes, code)
		hashes = append(hashes, recoveryHash(code))
	}
	return codes, hashes
}

// Enrolment is a started second-factor enrolment: the secret to put into
// an authenticator app, as text and as an otpauth:// URL (for a QR code).
type Enrolment struct {
	// Secret is the base32 shared secret.
	Secret string
	// URL is the otpauth://totp/… key URI.
	URL string
	// Expires is when the enrolment must be confirmed by.
	Expires time.Time
}

// StartSecondFactor begins a TOTP enrolment for the user after checking
// their password again. The second factor takes effect only when
// ConfirmSecondFactor gets a code from it. A user with a second factor
// gets ErrSecondFactorEnabled; a wrong password ErrInvalidCredentials.
func (s *Service) StartSecondFactor(ctx context.Context, tenantID, userID, password string) (Enrolment, error) {
	wrap := func(err error) (Enrolment, error) {
		return Enrolment{}, fmt.Errorf("auth: start second factor: %w", err)
	}
	if err := s.checkPassword(ctx, tenantID, userID, password); err != nil {
		return wrap(err)
	}
	var en Enrolment
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		rec, err := getUser(tx, tenantID, userID)
		if err != nil {
			return err
		}
		if rec.TOTP.enabled() {
			return ErrSecondFactorEnabled
		}
		t, err := tenantByID(tx, tenantID)
		if err != nil {
			return err
		}
		key, err := totp.Generate(totp.GenerateOpts{Issuer: "Parley " + t.Slug, AccountName: rec.Username, Period: totpOpts.Period,
			SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		rec.TOTP = &totpRecord{Pending: key.Secret(), PendingExpires: now.Add(EnrolmentTTL)}
		en = Enrolment{Secret: key.Secret(), URL: key.URL(), Expires: now.Add(EnrolmentTTL)}
		return putUser(tx, rec)
	})
	if err != nil {
		return wrap(err)
	}
	s.log.Info("auth: second factor enrolment started", "tenant_id", tenantID, "user_id", userID)
	return en, nil
}

// ConfirmSecondFactor enables the second factor of a started enrolment
// with a code from the app and returns the recovery codes (shown once;
// only their hashes are kept).
func (s *Service) ConfirmSecondFactor(ctx context.Context, tenantID, userID, code string) ([]string, error) {
	var codes []string
	now := s.clock.Now().UTC()
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		rec, err := getUser(tx, tenantID, userID)
		if err != nil {
			return err
		}
		switch {
		case rec.TOTP.enabled():
			return ErrSecondFactorEnabled
		case rec.TOTP == nil || rec.TOTP.Pending == "" || !now.Before(rec.TOTP.PendingExpires):
			return ErrSecondFactorNotEnabled
		}
		step, ok := checkTOTP(rec.TOTP.Pending, code, now)
		if !ok {
			return ErrInvalidCode
		}
		var hashes []string
		codes, hashes = newRecoveryCodes(RecoveryCodes)
		rec.TOTP = &totpRecord{Secret: rec.TOTP.Pending, Enabled: now, LastStep: step, Recovery: hashes}
		return putUser(tx, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("auth: confirm second factor: %w", err)
	}
	s.log.Info("auth: second factor enabled", "tenant_id", tenantID, "user_id", userID)
	return codes, nil
}

// NewRecoveryCodes replaces the user's recovery codes, after a current
// TOTP code.
func (s *Service) NewRecoveryCodes(ctx context.Context, tenantID, userID, code string) ([]string, error) {
	var codes []string
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		rec, err := getUser(tx, tenantID, userID)
		if err != nil {
			return err
		}
		if !rec.TOTP.enabled() {
			return ErrSecondFactorNotEnabled
		}
		if !s.useTOTP(rec, code) {
			return ErrInvalidCode
		}
		var hashes []string
		codes, hashes = newRecoveryCodes(RecoveryCodes)
		rec.TOTP.Recovery = hashes
		return putUser(tx, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("auth: new recovery codes: %w", err)
	}
	s.log.Info("auth: recovery codes replaced", "tenant_id", tenantID, "user_id", userID)
	return codes, nil
}

// DisableSecondFactor removes the user's own second factor after their
// password and a current code (or a recovery code).
func (s *Service) DisableSecondFactor(ctx context.Context, tenantID, userID, password, code string) error {
	if err := s.checkPassword(ctx, tenantID, userID, password); err != nil {
		return fmt.Errorf("auth: disable second factor: %w", err)
	}
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		rec, err := getUser(tx, tenantID, userID)
		if err != nil {
			return err
		}
		if !rec.TOTP.enabled() {
			return ErrSecondFactorNotEnabled
		}
		if !s.useTOTP(rec, code) && !useRecovery(rec, code) {
			return ErrInvalidCode
		}
		rec.TOTP = nil
		return putUser(tx, rec)
	})
	if err != nil {
		return fmt.Errorf("auth: disable second factor: %w", err)
	}
	s.log.Info("auth: second factor disabled", "tenant_id", tenantID, "user_id", userID)
	return nil
}

// ResetSecondFactor removes a user's second factor (an admin's action for
// a user who lost phone and recovery codes) and ends their sessions.
func (s *Service) ResetSecondFactor(ctx context.Context, tenantID, userID string) error {
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		rec, err := getUser(tx, tenantID, userID)
		if err != nil {
			return err
		}
		if rec.TOTP == nil {
			return ErrSecondFactorNotEnabled
		}
		rec.TOTP = nil
		if err := putUser(tx, rec); err != nil {
			return err
		}
		return revokeSessions(tx, tenantID, userID)
	})
	if err != nil {
		return fmt.Errorf("auth: reset second factor: %w", err)
	}
	s.log.Info("auth: second factor reset", "tenant_id", tenantID, "user_id", userID)
	return nil
}

// SecondFactorEnabled reports whether the user has a second factor.
func (s *Service) SecondFactorEnabled(ctx context.Context, tenantID, userID string) (bool, error) {
	var on bool
	err := s.kv.View(ctx, func(tx store.Txn) error {
		rec, err := getUser(tx, tenantID, userID)
		if err != nil {
			return err
		}
		on = rec.TOTP.enabled()
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("auth: second factor: %w", err)
	}
	return on, nil
}

// useTOTP accepts a current code not used before and moves LastStep.
func (s *Service) useTOTP(rec *userRecord, code string) bool {
	step, ok := checkTOTP(rec.TOTP.Secret, code, s.clock.Now())
	if !ok || step <= rec.TOTP.LastStep {
		return false
	}
	rec.TOTP.LastStep = step
	return true
}

// useRecovery accepts an unused recovery code and removes it.
func useRecovery(rec *userRecord, code string) bool {
	if len(code) > 64 {
		return false
	}
	h := recoveryHash(code)
	for i, have := range rec.TOTP.Recovery {
		if subtle.ConstantTimeCompare([]byte(have), []byte(h)) == 1 {
			rec.TOTP.Recovery = append(rec.TOTP.Recovery[:i:i], rec.TOTP.Recovery[i+1:]...)
			return true
		}
	}
	return false
}

// challenge stores a second-factor challenge for a user whose password
// was right and returns the error that carries it.
func (s *Service) challenge(ctx context.Context, t Tenant, rec *userRecord, uname string) (*SecondFactorRequiredError, error) {
	token, hash := ids.NewToken(ChallengePrefix)
	now := s.clock.Now().UTC()
	cr := challengeRecord{TenantID: t.ID, UserID: rec.ID, Slug: t.Slug, Username: uname, Expires: now.Add(ChallengeTTL)}
	b, err := json.Marshal(cr)
	if err != nil {
		return nil, err
	}
	if err := s.kv.Update(ctx, func(tx store.Txn) error { return tx.SetWithTTL(challengeKey(hash), b, ChallengeTTL) }); err != nil {
		return nil, err
	}
	s.log.Info("auth: second factor requested", "tenant_id", t.ID, "user_id", rec.ID)
	return &SecondFactorRequiredError{Challenge: token, Expires: cr.Expires}, nil
}

// LoginSecondFactor answers a challenge from Login with a TOTP code or a
// recovery code and opens the session. Wrong codes count towards the
// account's login back-off; after ChallengeAttempts of them the challenge
// is void. It returns ErrInvalidCode for a wrong, reused or malformed
// code, ErrChallengeExpired for an unknown, expired or void challenge,
// and *ThrottledError while a back-off runs.
func (s *Service) LoginSecondFactor(ctx context.Context, challenge, code, source string) (Session, string, error) {
	wrap := func(err error) (Session, string, error) {
		return Session{}, "", fmt.Errorf("auth: second factor: %w", err)
	}
	hash, ok := ids.ParseToken(ChallengePrefix, challenge)
	if !ok {
		return wrap(ErrChallengeExpired)
	}
	var cr challengeRecord
	err := s.kv.View(ctx, func(tx store.Txn) error { return getJSON(tx, string(challengeKey(hash)), &cr) })
	if errors.Is(err, store.ErrNotFound) {
		return wrap(ErrChallengeExpired)
	}
	if err != nil {
		return wrap(err)
	}
	var src *throttleKey
	if source != "" {
		k := makeThrottleKey(source)
		src = &k
	}
	att, err := s.th.admit(ctx, s.clock, makeThrottleKey(cr.Slug, cr.Username), src)
	if err != nil {
		return wrap(err)
	}
	result := outcomeNeutral
	defer func() { att.finish(s.clock.Now(), result) }()

	now := s.clock.Now()
	var t Tenant
	var rec *userRecord
	accepted, void := false, false
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		accepted, void = false, false
		var cur challengeRecord
		if err := getJSON(tx, string(challengeKey(hash)), &cur); errors.Is(err, store.ErrNotFound) {
			return ErrChallengeExpired
		} else if err != nil {
			return err
		}
		if !now.Before(cur.Expires) || cur.Failures >= ChallengeAttempts {
			void = true
			return tx.Delete(challengeKey(hash))
		}
		var err error
		if t, err = tenantByID(tx, cur.TenantID); err != nil {
			return err
		}
		if rec, err = getUser(tx, cur.TenantID, cur.UserID); err != nil {
			return err
		}
		if rec.Disabled || !rec.TOTP.enabled() {
			void = true
			return tx.Delete(challengeKey(hash))
		}
		if s.useTOTP(rec, code) || useRecovery(rec, code) {
			accepted = true
			if err := putUser(tx, rec); err != nil {
				return err
			}
			return tx.Delete(challengeKey(hash))
		}
		cur.Failures++
		b, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		return tx.SetWithTTL(challengeKey(hash), b, max(cur.Expires.Sub(now), time.Second))
	})
	if errors.Is(err, ErrNotFound) {
		err = ErrChallengeExpired
	}
	if err != nil {
		return wrap(err)
	}
	if void {
		return wrap(ErrChallengeExpired)
	}
	if !accepted {
		result = outcomeFailure
		s.log.Info("auth: second factor failed", "tenant_id", cr.TenantID, "user_id", cr.UserID)
		return wrap(ErrInvalidCode)
	}
	result = outcomeSuccess
	sess, token, err := s.openSession(ctx, t, rec)
	if err != nil {
		return wrap(err)
	}
	return sess, token, nil
}

// checkPassword verifies a signed-in user's password again (for changes
// to their second factor), with the login back-off.
func (s *Service) checkPassword(ctx context.Context, tenantID, userID, password string) error {
	var rec *userRecord
	var tenant Tenant
	err := s.kv.View(ctx, func(tx store.Txn) (err error) {
		if rec, err = getUser(tx, tenantID, userID); err != nil {
			return err
		}
		tenant, err = tenantByID(tx, tenantID)
		return err
	})
	if err != nil {
		return err
	}
	att, err := s.th.admit(ctx, s.clock, makeThrottleKey(tenant.Slug, rec.Username), nil)
	if err != nil {
		return err
	}
	result := outcomeNeutral
	defer func() { att.finish(s.clock.Now(), result) }()
	if err := s.acquireHash(ctx); err != nil {
		return err
	}
	ok, _ := s.verify(rec.currentHash(), password)
	s.releaseHash()
	if !ok || len(password) > 4*MaxPasswordBytes {
		result = outcomeFailure
		return ErrInvalidCredentials
	}
	result = outcomeSuccess
	return nil
}
