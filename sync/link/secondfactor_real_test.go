package link_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/server"
	"parley/sync/link"
)

// TestSecondFactorAgainstRealRelay enrols the admin's second factor on the
// real relay (fake clock), signs out, signs in with a code computed by
// pquerna/otp, with a recovery code, and has another admin reset it.
func TestSecondFactorAgainstRealRelay(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	s, err := server.Start(context.Background(), server.Options{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", MediaListen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: realAdminPassword, Hash: auth.TestHashParams, Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	connect := func() *link.Client {
		c := link.New(link.Options{})
		t.Cleanup(func() { c.Close() })
		if err := c.Trust(s.URL(), s.Fingerprint()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Connect(realCtx(t), s.URL()); err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := realCtx(t)
	c := connect()
	if _, err := c.Login(ctx, "bank", "admin", realAdminPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartSecondFactor(ctx, "wrong password"); err == nil {
		t.Fatal("enrolment started with a wrong password")
	}
	setup, err := c.StartSecondFactor(ctx, realAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(setup.OTPAuthURL)
	if err != nil || u.Query().Get("secret") != setup.Secret {
		t.Fatalf("otpauth URL %v", err)
	}
	code := func() string {
		t.Helper()
		c, err := totp.GenerateCode(setup.Secret, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wrongCode := func() string {
		if code() == "000000" {
			return "999999"
		}
		return "000000"
	}
	if _, err := c.ConfirmSecondFactor(ctx, wrongCode()); !link.IsInvalidCode(err) {
		t.Fatalf("wrong first code: %v", err)
	}
	recovery, err := c.ConfirmSecondFactor(ctx, code())
	if err != nil {
		t.Fatal(err)
	}
	if len(recovery) != auth.RecoveryCodes {
		t.Fatalf("%d recovery codes", len(recovery))
	}
	if me, err := c.Me(ctx); err != nil || !me.SecondFactor {
		t.Fatalf("Me: %+v %v", me, err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}

	// Sign in again: password, then the next step's code.
	clk.Advance(auth.TOTPPeriod)
	_, err = c.Login(ctx, "bank", "admin", realAdminPassword)
	challenge, ok := link.SecondFactorChallenge(err)
	if !ok {
		t.Fatalf("Login with a second factor: %v", err)
	}
	if _, err := c.Me(ctx); !errors.Is(err, link.ErrNotLoggedIn) {
		t.Fatalf("signed in by the password alone: %v", err)
	}
	if _, err := c.LoginSecondFactor(ctx, challenge, wrongCode()); !link.IsInvalidCode(err) {
		t.Fatalf("wrong code: %v", err)
	}
	res, err := c.LoginSecondFactor(ctx, challenge, code())
	if err != nil {
		t.Fatal(err)
	}
	if !res.User.SecondFactor {
		t.Errorf("user %+v", res.User)
	}
	if _, err := c.Me(ctx); err != nil {
		t.Fatal(err)
	}
	// The challenge is used up.
	if _, err := c.LoginSecondFactor(ctx, challenge, recovery[0]); !link.IsChallengeExpired(err) {
		t.Fatalf("a used challenge answered: %v", err)
	}

	// A recovery code signs in once.
	_, err = c.Login(ctx, "bank", "admin", realAdminPassword)
	challenge, _ = link.SecondFactorChallenge(err)
	if _, err := c.LoginSecondFactor(ctx, challenge, recovery[0]); err != nil {
		t.Fatalf("recovery code: %v", err)
	}

	// A second admin resets the first one's second factor.
	if _, err := c.CreateUser(ctx, link.NewUser{Username: "rita", DisplayName: "Rita Admin", Email: "rita@example.org",
		Password: "Einmal-Passwort-Tanne-1", Role: link.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	users, err := c.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var adminID string
	for _, u := range users {
		if u.Username == "admin" {
			adminID = u.ID
			if !u.SecondFactor {
				t.Error("the user list does not show the second factor")
			}
		}
	}
	r := connect()
	if _, err := r.Login(ctx, "bank", "rita", "Einmal-Passwort-Tanne-1"); err != nil {
		t.Fatal(err)
	}
	if err := r.ChangePassword(ctx, "Einmal-Passwort-Tanne-1", realAdvisorPassword); err != nil {
		t.Fatal(err)
	}
	if err := r.ResetSecondFactor(ctx, adminID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Me(ctx); err == nil {
		t.Error("the reset user's session still works")
	}
	if res, err := c.Login(ctx, "bank", "admin", realAdminPassword); err != nil || res.User.SecondFactor {
		t.Fatalf("login after the reset: %+v %v", res.User, err)
	}
}
