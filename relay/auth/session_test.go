package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/store"
)

func TestLoginAuthenticateLogout(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	u := e.user(tn.ID, "erika", "Tulpen-im-Regen-1", RoleAdvisor)

	sess, tok := e.login("BANK", "Erika", "Tulpen-im-Regen-1", "198.51.100.7")
	if !strings.HasPrefix(tok, "pst_") || len(tok) != 4+43 {
		t.Fatalf("token %q", tok)
	}
	sum := sha256.Sum256([]byte(tok))
	if sess.ID != hex.EncodeToString(sum[:])[:16] {
		t.Fatalf("session id %q is not the hash prefix", sess.ID)
	}
	now := e.clock.Now()
	if sess.TenantID != tn.ID || sess.UserID != u.ID || sess.Role != RoleAdvisor ||
		!sess.Created.Equal(now) || !sess.Expires.Equal(now.Add(DefaultSessionTTL)) {
		t.Fatalf("session %+v", sess)
	}
	if _, ok := e.dump()["auth/session/"+hex.EncodeToString(sum[:])]; !ok {
		t.Fatal("session not stored under the token's SHA-256")
	}

	got, err := e.svc.Authenticate(e.ctx, tok)
	if err != nil || got != sess {
		t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, sess)
	}
	_, tok2 := e.login("bank", "erika", "Tulpen-im-Regen-1", "")
	if tok2 == tok {
		t.Fatal("two logins got the same token")
	}

	if err := e.svc.Logout(e.ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(e.ctx, tok); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("after logout: %v", err)
	}
	if err := e.svc.Logout(e.ctx, tok); err != nil {
		t.Fatalf("second logout: %v", err)
	}
	if err := e.svc.Logout(e.ctx, "garbage"); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("logout of garbage: %v", err)
	}
	if _, err := e.svc.Authenticate(e.ctx, tok2); err != nil {
		t.Fatalf("other session ended by logout: %v", err)
	}
}

func TestLoginFailures(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	e.user(tn.ID, "erika", "Tulpen-im-Regen-1", RoleAdvisor)
	cases := []struct {
		slug, user, pw string
		want           error
	}{
		{"bank", "erika", "Tulpen-im-Regen-2", ErrInvalidCredentials},
		{"bank", "erika", "tulpen-im-regen-1", ErrInvalidCredentials},
		{"bank", "erika", "", ErrInvalidCredentials},
		{"bank", "erika", strings.Repeat("x", 5000), ErrInvalidCredentials},
		{"bank", "nobody", "Tulpen-im-Regen-1", ErrInvalidCredentials},
		{"bank", "", "Tulpen-im-Regen-1", ErrInvalidCredentials},
		{"nobank", "erika", "Tulpen-im-Regen-1", ErrUnknownTenant},
	}
	for _, tc := range cases {
		// A fresh source each time, and time enough to clear back-offs.
		e.clock.Advance(2 * time.Minute)
		_, tok, err := e.svc.Login(e.ctx, tc.slug, tc.user, tc.pw, "")
		if !errors.Is(err, tc.want) || tok != "" {
			t.Errorf("Login(%q, %q, %q) = %q, %v; want %v", tc.slug, tc.user, tc.pw, tok, err, tc.want)
		}
	}
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t, nil)
	a, b := e.tenant("bank-a"), e.tenant("bank-b")
	ua := e.user(a.ID, "erika", "Tulpen-im-Regen-A", RoleAdvisor)

	// Only tenant A has erika.
	if _, _, err := e.svc.Login(e.ctx, "bank-b", "erika", "Tulpen-im-Regen-A", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("A's user at B: %v", err)
	}
	// Both have erika, with different passwords.
	ub := e.user(b.ID, "erika", "Tulpen-im-Regen-B", RoleAdvisor)
	if _, _, err := e.svc.Login(e.ctx, "bank-b", "erika", "Tulpen-im-Regen-A", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("A's password at B: %v", err)
	}
	sa, _ := e.login("bank-a", "erika", "Tulpen-im-Regen-A", "")
	sb, _ := e.login("bank-b", "erika", "Tulpen-im-Regen-B", "")
	if sa.UserID != ua.ID || sa.TenantID != a.ID || sb.UserID != ub.ID || sb.TenantID != b.ID {
		t.Fatalf("sessions %+v %+v", sa, sb)
	}
	// Revoking B's user leaves A's sessions alone.
	_, tokA := e.login("bank-a", "erika", "Tulpen-im-Regen-A", "")
	if err := e.svc.RevokeUserSessions(e.ctx, b.ID, ub.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(e.ctx, tokA); err != nil {
		t.Fatalf("A's session after revoking B's user: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.SessionTTL = time.Hour })
	tn := e.tenant("bank")
	e.user(tn.ID, "erika", "Tulpen-im-Regen-1", RoleAdvisor)
	sess, tok := e.login("bank", "erika", "Tulpen-im-Regen-1", "")
	if sess.Expires.Sub(sess.Created) != time.Hour {
		t.Fatalf("lifetime %v", sess.Expires.Sub(sess.Created))
	}
	e.clock.Advance(time.Hour - time.Second)
	if _, err := e.svc.Authenticate(e.ctx, tok); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.Authenticate(e.ctx, tok); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("at expiry: %v", err)
	}
	// The store was told to forget it too.
	for k := range e.dump() {
		if strings.Contains(k, "session") {
			t.Errorf("expired session key %q still in the store", k)
		}
	}
}

// TestSessionExpiryWithoutStoreTTL checks that Authenticate itself checks
// expiry and does not rely on the store forgetting sessions in time.
func TestSessionExpiryWithoutStoreTTL(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.SessionTTL = time.Hour })
	e.kv.Clock = clock.NewFake(e.clock.Now()) // the store's clock stands still
	tn := e.tenant("bank")
	e.user(tn.ID, "erika", "Tulpen-im-Regen-1", RoleAdvisor)
	_, tok := e.login("bank", "erika", "Tulpen-im-Regen-1", "")
	e.clock.Advance(2 * time.Hour)
	if _, err := e.svc.Authenticate(e.ctx, tok); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("expired by the service clock: %v", err)
	}
}

func TestRevokeUserSessions(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	u := e.user(tn.ID, "erika", "Tulpen-im-Regen-1", RoleAdvisor)
	e.user(tn.ID, "max", "Tulpen-im-Regen-1", RoleAdvisor)
	var toks []string
	for range 3 {
		_, tok := e.login("bank", "erika", "Tulpen-im-Regen-1", "")
		toks = append(toks, tok)
	}
	_, other := e.login("bank", "max", "Tulpen-im-Regen-1", "")

	if err := e.svc.RevokeUserSessions(e.ctx, tn.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	for i, tok := range toks {
		if _, err := e.svc.Authenticate(e.ctx, tok); !errors.Is(err, ErrSessionInvalid) {
			t.Errorf("session %d after revoke: %v", i, err)
		}
	}
	if _, err := e.svc.Authenticate(e.ctx, other); err != nil {
		t.Fatalf("other user's session: %v", err)
	}
	if err := e.svc.RevokeUserSessions(e.ctx, tn.ID, u.ID); err != nil {
		t.Fatalf("revoke without sessions: %v", err)
	}
	// A new login works again.
	_, tok := e.login("bank", "erika", "Tulpen-im-Regen-1", "")
	if _, err := e.svc.Authenticate(e.ctx, tok); err != nil {
		t.Fatal(err)
	}
}

func TestForgedTokens(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	e.user(tn.ID, "erika", "Tulpen-im-Regen-1", RoleAdvisor)
	_, tok := e.login("bank", "erika", "Tulpen-im-Regen-1", "")
	body := tok[4:]
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	forged := []string{
		"",
		"pst_",
		"pst",
		body,                  // no prefix
		"PST_" + body,         // prefix case
		"pat_" + body,         // other prefix
		flip(tok, 4),          // first body character changed
		flip(tok, len(tok)-2), // a middle bit changed
		tok[:len(tok)-1],      // truncated
		tok + "A",             // extended
		tok + "=",             // padded
		tok + " ",             // whitespace
		" " + tok,
		"pst_" + strings.Repeat("A", 43), // well-formed but unknown
		"pst_" + strings.ReplaceAll(strings.ReplaceAll(body, "-", "+"), "_", "/"), // std alphabet
		"pst_" + strings.Repeat("é", 21) + "A",
	}
	// Non-canonical last character: same bytes, different spelling.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	forged = append(forged, tok[:len(tok)-1]+string(alphabet[last^1]))

	for _, f := range forged {
		if f == tok {
			continue // the std-alphabet variant may equal the token
		}
		if _, err := e.svc.Authenticate(e.ctx, f); !errors.Is(err, ErrSessionInvalid) {
			t.Errorf("Authenticate(%q) = %v, want ErrSessionInvalid", f, err)
		}
	}
	// Knowing the stored hash does not help: it is not a token.
	sum := sha256.Sum256([]byte(tok))
	if _, err := e.svc.Authenticate(e.ctx, hex.EncodeToString(sum[:])); !errors.Is(err, ErrSessionInvalid) {
		t.Errorf("hash as token: %v", err)
	}
	if _, err := e.svc.Authenticate(e.ctx, tok); err != nil {
		t.Fatalf("the real token: %v", err)
	}
}

func TestAuthenticateReflectsUser(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	u, err := e.svc.CreateUser(e.ctx, tn.ID, NewUser{
		Username: "erika", Password: "Tulpen-im-Regen-1", Role: RoleAdvisor, MustChangePassword: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	sess, tok := e.login("bank", "erika", "Tulpen-im-Regen-1", "")
	_, tok2 := e.login("bank", "erika", "Tulpen-im-Regen-1", "")
	if !sess.MustChangePassword {
		t.Fatal("MustChangePassword not in session")
	}
	if err := e.svc.ChangePassword(e.ctx, tn.ID, u.ID, "Tulpen-im-Regen-1", "Tulpen-im-Regen-2"); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{tok, tok2} {
		s, err := e.svc.Authenticate(e.ctx, tk)
		if err != nil || s.MustChangePassword {
			t.Fatalf("after change: %+v, %v", s, err)
		}
	}
}

func TestHashUpgradeOnLogin(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	u := e.user(tn.ID, "erika", "Tulpen-im-Regen-1", RoleAdvisor)
	stronger := HashParams{Time: 2, MemoryKiB: 128, Threads: 1}
	svc2, err := New(Options{Store: e.kv, Clock: e.clock, Hash: stronger})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc2.Login(e.ctx, "bank", "erika", "Tulpen-im-Regen-1", ""); err != nil {
		t.Fatal(err)
	}
	rec := e.record(tn.ID, u.ID)
	if len(rec.Passwords) != 1 || !strings.HasPrefix(rec.Passwords[0], "$argon2id$v=19$m=128,t=2,p=1$") {
		t.Fatalf("hash not upgraded: %v", rec.Passwords)
	}
	// Both services still accept the password.
	e.login("bank", "erika", "Tulpen-im-Regen-1", "")
}

func TestContextCancelled(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	e.user(tn.ID, "erika", "Tulpen-im-Regen-1", RoleAdvisor)
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, _, err := e.svc.Login(ctx, "bank", "erika", "Tulpen-im-Regen-1", ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Login with cancelled context: %v", err)
	}
	// Not counted as failures.
	for range 5 {
		e.svc.Login(ctx, "bank", "erika", "wrong-password-1", "")
	}
	e.login("bank", "erika", "Tulpen-im-Regen-1", "")
}

func TestNewOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without store succeeded")
	}
	e := newEnv(t, nil)
	if _, err := New(Options{Store: e.kv, Hash: HashParams{Time: 1, MemoryKiB: 4, Threads: 1}}); err == nil {
		t.Fatal("New with 4 KiB memory succeeded")
	}
	if _, err := New(Options{Store: e.kv, SessionTTL: -time.Second}); err == nil {
		t.Fatal("New with negative TTL succeeded")
	}
	svc, err := New(Options{Store: e.kv})
	if err != nil {
		t.Fatal(err)
	}
	if svc.hash != DefaultHashParams || svc.ttl != 12*time.Hour || svc.th.opts != DefaultThrottleOptions {
		t.Fatalf("defaults: %+v %v %+v", svc.hash, svc.ttl, svc.th.opts)
	}
	if DefaultHashParams != (HashParams{Time: 2, MemoryKiB: 19456, Threads: 1}) {
		t.Fatalf("DefaultHashParams = %+v", DefaultHashParams)
	}
	if !strings.Contains(svc.dummyHash, "$m=19456,t=2,p=1$") {
		t.Fatalf("dummy hash %q does not use the configured parameters", svc.dummyHash)
	}
}

// TestLogsHoldNoPersonalData runs through the service's operations with
// recognisable personal data and checks the log for it.
func TestLogsHoldNoPersonalData(t *testing.T) {
	e := newEnv(t, nil)
	res, err := e.svc.Bootstrap(e.ctx, "bank", "Bank", "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.svc.CreateUser(e.ctx, res.Tenant.ID, NewUser{
		Username: "erika.mustermann", DisplayName: "Erika Mustermann",
		Email: "erika.mustermann@example.org", Password: "Tulpen-im-Regen-1", Role: RoleAdvisor,
	})
	if err != nil {
		t.Fatal(err)
	}
	const src = "203.0.113.77"
	for range 5 {
		e.svc.Login(e.ctx, "bank", "erika.mustermann", "Falsches-Kennwort-1", src)
		e.svc.Login(e.ctx, "bank", "hans.nobody", "Falsches-Kennwort-1", src)
	}
	e.clock.Advance(time.Hour)
	_, tok := e.login("bank", "erika.mustermann", "Tulpen-im-Regen-1", src)
	e.svc.ChangePassword(e.ctx, res.Tenant.ID, u.ID, "Tulpen-im-Regen-1", "Tulpen-im-Regen-2")
	e.svc.Logout(e.ctx, tok)
	e.svc.SetUserDisabled(e.ctx, res.Tenant.ID, u.ID, true)
	e.svc.DeleteUser(e.ctx, res.Tenant.ID, u.ID)

	logs := e.logs.String()
	for _, want := range []string{"auth: login", "auth: login failed", "auth: login throttled", u.ID} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	for _, pd := range []string{"erika", "Erika", "mustermann", "example.org", "hans", "203.0.113", "Tulpen", "Kennwort", res.Password, "pst_", tok[4:]} {
		if strings.Contains(logs, pd) {
			t.Errorf("log contains %q", pd)
		}
	}
}

// TestAuthenticateChecksDisabled covers a user disabled without their
// sessions being revoked (e.g. by an older relay sharing the store).
func TestAuthenticateChecksDisabled(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	u := e.user(tn.ID, "erika", "Tulpen-im-Regen-1", RoleAdvisor)
	_, tok := e.login("bank", "erika", "Tulpen-im-Regen-1", "")
	rec := e.record(tn.ID, u.ID)
	rec.Disabled = true
	if err := e.kv.Update(e.ctx, func(tx store.Txn) error { return putUser(tx, rec) }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(e.ctx, tok); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("session of a disabled user: %v", err)
	}
	rec.Role = RoleAdmin
	rec.Disabled = false
	if err := e.kv.Update(e.ctx, func(tx store.Txn) error { return putUser(tx, rec) }); err != nil {
		t.Fatal(err)
	}
	if s, err := e.svc.Authenticate(e.ctx, tok); err != nil || s.Role != RoleAdmin {
		t.Fatalf("role change not reflected: %+v, %v", s, err)
	}
}
