package auth

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"parley/relay/store"
)

const mfaPassword = "Segelboot-auf-der-Alster-9"

// code is the authenticator app's code for secret at the fake clock's
// time plus d.
func (e *env) code(secret string, d time.Duration) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.clock.Now().Add(d), totpOpts)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// enrolled creates a user with a confirmed second factor and returns the
// user, the secret and the recovery codes.
func (e *env) enrolled(slug, username string) (User, string, []string) {
	e.t.Helper()
	tn := e.tenant(slug)
	u := e.user(tn.ID, username, mfaPassword, RoleAdmin)
	en, err := e.svc.StartSecondFactor(e.ctx, tn.ID, u.ID, mfaPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	codes, err := e.svc.ConfirmSecondFactor(e.ctx, tn.ID, u.ID, e.code(en.Secret, 0))
	if err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(TOTPPeriod) // the confirming code is used up
	return u, en.Secret, codes
}

func (e *env) challenge(slug, username string) string {
	e.t.Helper()
	_, _, err := e.svc.Login(e.ctx, slug, username, mfaPassword, "")
	var sf *SecondFactorRequiredError
	if !errors.As(err, &sf) || !strings.HasPrefix(sf.Challenge, ChallengePrefix) {
		e.t.Fatalf("Login of an enrolled user: %v, want a second-factor challenge", err)
	}
	return sf.Challenge
}

func TestEnrolmentGivesAnOtpauthKeyAndTakesEffectOnlyWhenConfirmed(t *testing.T) {
	e := newEnv(t, nil)
	e.clock.Set(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	tn := e.tenant("sparkasse")
	u := e.user(tn.ID, "anna", mfaPassword, RoleAdvisor)
	if _, err := e.svc.StartSecondFactor(e.ctx, tn.ID, u.ID, "wrong-password-123"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("start with a wrong password: %v", err)
	}
	en, err := e.svc.StartSecondFactor(e.ctx, tn.ID, u.ID, mfaPassword)
	if err != nil {
		t.Fatal(err)
	}
	key, err := url.Parse(en.URL)
	if err != nil || key.Scheme != "otpauth" || key.Host != "totp" || key.Query().Get("secret") != en.Secret ||
		key.Query().Get("issuer") != "Parley sparkasse" || key.Query().Get("digits") != "6" || key.Query().Get("period") != "30" {
		t.Fatalf("key URI %q", en.URL)
	}
	// Until confirmed, the password alone still signs in.
	if _, tok, err := e.svc.Login(e.ctx, "sparkasse", "anna", mfaPassword, ""); err != nil || tok == "" {
		t.Fatalf("login during enrolment: %v", err)
	}
	if _, err := e.svc.ConfirmSecondFactor(e.ctx, tn.ID, u.ID, "000000"); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("confirm with a wrong code: %v", err)
	}
	codes, err := e.svc.ConfirmSecondFactor(e.ctx, tn.ID, u.ID, e.code(en.Secret, 0))
	if err != nil || len(codes) != RecoveryCodes {
		t.Fatalf("confirm: %d codes, %v", len(codes), err)
	}
	if on, _ := e.svc.SecondFactorEnabled(e.ctx, tn.ID, u.ID); !on {
		t.Fatal("second factor not enabled after confirmation")
	}
	if _, err := e.svc.StartSecondFactor(e.ctx, tn.ID, u.ID, mfaPassword); !errors.Is(err, ErrSecondFactorEnabled) {
		t.Fatalf("second enrolment: %v", err)
	}
	// The secret and the recovery codes are never logged; the codes are
	// stored as hashes only.
	logs := e.logs.String()
	var dump strings.Builder
	if err := e.kv.View(e.ctx, func(tx store.Txn) error {
		return tx.Scan(nil, func(k, v []byte) error {
			dump.Write(k)
			dump.Write(v)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if strings.Contains(logs, c) || strings.Contains(dump.String(), c) {
			t.Fatal("a recovery code is in the logs or the store")
		}
	}
	if strings.Contains(logs, en.Secret) {
		t.Fatal("the TOTP secret is in the logs")
	}

	// An enrolment not confirmed in time lapses.
	u2 := e.user(tn.ID, "bernd", mfaPassword, RoleAdvisor)
	en2, err := e.svc.StartSecondFactor(e.ctx, tn.ID, u2.ID, mfaPassword)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(EnrolmentTTL + time.Second)
	if _, err := e.svc.ConfirmSecondFactor(e.ctx, tn.ID, u2.ID, e.code(en2.Secret, 0)); !errors.Is(err, ErrSecondFactorNotEnabled) {
		t.Fatalf("late confirmation: %v", err)
	}
}

func TestLoginWithASecondFactor(t *testing.T) {
	e := newEnv(t, nil)
	e.clock.Set(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	u, secret, recovery := e.enrolled("sparkasse", "admin2")

	// The password alone gives a challenge, not a session.
	ch := e.challenge("sparkasse", "admin2")
	if _, _, err := e.svc.LoginSecondFactor(e.ctx, ch, "12345", ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("malformed code: %v", err)
	}
	code := e.code(secret, 0)
	sess, tok, err := e.svc.LoginSecondFactor(e.ctx, ch, code[:3]+" "+code[3:], "")
	if err != nil || tok == "" || sess.UserID != u.ID {
		t.Fatalf("second factor login: %+v, %v", sess, err)
	}
	if _, err := e.svc.Authenticate(e.ctx, tok); err != nil {
		t.Fatalf("the session does not authenticate: %v", err)
	}
	// A challenge is good once; a code is good once (replay), even on a
	// fresh challenge within its step.
	if _, _, err := e.svc.LoginSecondFactor(e.ctx, ch, code, ""); !errors.Is(err, ErrChallengeExpired) {
		t.Fatalf("used challenge: %v", err)
	}
	if _, _, err := e.svc.LoginSecondFactor(e.ctx, e.challenge("sparkasse", "admin2"), code, ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("replayed code: %v", err)
	}
	// One step of clock skew is accepted, two are not.
	e.clock.Advance(2 * TOTPPeriod)
	if _, _, err := e.svc.LoginSecondFactor(e.ctx, e.challenge("sparkasse", "admin2"), e.code(secret, 2*TOTPPeriod), ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("a code two steps ahead: %v", err)
	}
	if _, _, err := e.svc.LoginSecondFactor(e.ctx, e.challenge("sparkasse", "admin2"), e.code(secret, TOTPPeriod), ""); err != nil {
		t.Fatalf("a code one step ahead: %v", err)
	}
	// A recovery code works once.
	e.clock.Advance(3 * TOTPPeriod)
	if _, _, err := e.svc.LoginSecondFactor(e.ctx, e.challenge("sparkasse", "admin2"), strings.ToUpper(recovery[3]), ""); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if _, _, err := e.svc.LoginSecondFactor(e.ctx, e.challenge("sparkasse", "admin2"), recovery[3], ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("reused recovery code: %v", err)
	}
	// An expired challenge is void.
	ch = e.challenge("sparkasse", "admin2")
	e.clock.Advance(ChallengeTTL + time.Second)
	if _, _, err := e.svc.LoginSecondFactor(e.ctx, ch, e.code(secret, 0), ""); !errors.Is(err, ErrChallengeExpired) {
		t.Fatalf("expired challenge: %v", err)
	}
	if _, _, err := e.svc.LoginSecondFactor(e.ctx, "pmf_forged", "123456", ""); !errors.Is(err, ErrChallengeExpired) {
		t.Fatalf("forged challenge: %v", err)
	}
}

func TestWrongCodesVoidTheChallengeAndThrottleTheAccount(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Throttle = ThrottleOptions{FreeFailures: 100} })
	e.clock.Set(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	_, secret, _ := e.enrolled("sparkasse", "admin2")
	ch := e.challenge("sparkasse", "admin2")
	good := e.code(secret, 0)
	wrong := "000000"
	if wrong == good {
		wrong = "111111"
	}
	for range ChallengeAttempts {
		if _, _, err := e.svc.LoginSecondFactor(e.ctx, ch, wrong, ""); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("wrong code: %v", err)
		}
	}
	if _, _, err := e.svc.LoginSecondFactor(e.ctx, ch, good, ""); !errors.Is(err, ErrChallengeExpired) {
		t.Fatalf("the right code after %d wrong ones: %v, want the challenge void", ChallengeAttempts, err)
	}

	// With the default back-off, wrong codes slow the account down like
	// wrong passwords.
	e2 := newEnv(t, nil)
	e2.clock.Set(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	e2.enrolled("sparkasse", "admin2")
	var throttled *ThrottledError
	for i := 0; i < 10 && throttled == nil; i++ {
		_, _, err := e2.svc.Login(e2.ctx, "sparkasse", "admin2", mfaPassword, "")
		var sf *SecondFactorRequiredError
		if errors.As(err, &sf) {
			_, _, err = e2.svc.LoginSecondFactor(e2.ctx, sf.Challenge, wrong, "")
		}
		errors.As(err, &throttled)
	}
	if throttled == nil {
		t.Fatal("ten wrong codes never throttled the account")
	}
}

func TestDisableAndResetSecondFactor(t *testing.T) {
	e := newEnv(t, nil)
	e.clock.Set(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	u, secret, recovery := e.enrolled("sparkasse", "admin2")
	tid := u.TenantID
	if _, err := e.svc.NewRecoveryCodes(e.ctx, tid, u.ID, "000001"); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("new codes with a wrong code: %v", err)
	}
	fresh, err := e.svc.NewRecoveryCodes(e.ctx, tid, u.ID, e.code(secret, 0))
	if err != nil || len(fresh) != RecoveryCodes {
		t.Fatalf("new codes: %v", err)
	}
	e.clock.Advance(TOTPPeriod)
	if err := e.svc.DisableSecondFactor(e.ctx, tid, u.ID, mfaPassword, recovery[0]); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("an old recovery code after renewal: %v", err)
	}
	if err := e.svc.DisableSecondFactor(e.ctx, tid, u.ID, "not-the-password", e.code(secret, 0)); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("disable with a wrong password: %v", err)
	}
	if err := e.svc.DisableSecondFactor(e.ctx, tid, u.ID, mfaPassword, fresh[0]); err != nil {
		t.Fatalf("disable: %v", err)
	}
	if _, tok, err := e.svc.Login(e.ctx, "sparkasse", "admin2", mfaPassword, ""); err != nil || tok == "" {
		t.Fatalf("login after disabling: %v", err)
	}

	// An admin's reset ends the user's sessions as well.
	u2, _, _ := e.enrolled("volksbank", "carla")
	if err := e.svc.ResetSecondFactor(e.ctx, u2.TenantID, u2.ID); err != nil {
		t.Fatal(err)
	}
	if on, _ := e.svc.SecondFactorEnabled(e.ctx, u2.TenantID, u2.ID); on {
		t.Fatal("still enabled after reset")
	}
	if err := e.svc.ResetSecondFactor(e.ctx, u2.TenantID, u2.ID); !errors.Is(err, ErrSecondFactorNotEnabled) {
		t.Fatalf("second reset: %v", err)
	}
}
