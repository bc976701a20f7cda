package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"parley/app"
	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/server"
	"parley/sync/link"
)

// TestSecondFactorThroughWire drives the app's Relay adapter against the
// real relay, started in this process on loopback with a fake clock:
// enrol, sign out, sign in with a code computed by pquerna/otp, and the
// errors the UI relies on.
func TestSecondFactorThroughWire(t *testing.T) {
	const password = "Leuchtturm-Hafen-2026"
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	s, err := server.Start(context.Background(), server.Options{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", MediaListen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: password, Hash: auth.TestHashParams, Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := link.New(link.Options{})
	t.Cleanup(func() { c.Close() })
	r := &linkRelay{c: c}
	var _ app.Relay = r
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := r.Trust(s.URL(), s.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Connect(ctx, s.URL()); err != nil {
		t.Fatal(err)
	}
	acc, err := r.Login(ctx, "bank", "admin", password)
	if err != nil || acc.SecondFactor {
		t.Fatalf("login: %+v %v", acc, err)
	}
	if _, err := r.StartSecondFactor(ctx, "not the password"); err == nil || errors.Is(err, app.ErrInvalidCode) {
		t.Fatalf("wrong password: %v", err)
	}
	setup, err := r.StartSecondFactor(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(setup.URL, "otpauth://totp/") || setup.Secret == "" || !setup.Expires.After(clk.Now()) {
		t.Fatalf("setup %+v", setup)
	}
	code := func() string {
		t.Helper()
		c, err := totp.GenerateCode(setup.Secret, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wrong := func() string {
		if code() == "000000" {
			return "999999"
		}
		return "000000"
	}
	if _, err := r.ConfirmSecondFactor(ctx, wrong()); !errors.Is(err, app.ErrInvalidCode) || !strings.Contains(err.Error(), "not right") {
		t.Fatalf("wrong first code: %v", err)
	}
	codes, err := r.ConfirmSecondFactor(ctx, code())
	if err != nil || len(codes) != auth.RecoveryCodes {
		t.Fatalf("confirm: %q %v", codes, err)
	}
	if err := r.Logout(ctx); err != nil {
		t.Fatal(err)
	}

	// Password, then code: Login's error carries the challenge.
	clk.Advance(auth.TOTPPeriod)
	_, err = r.Login(ctx, "bank", "admin", password)
	var sf *app.SecondFactorRequired
	if !errors.As(err, &sf) || sf.Challenge == "" {
		t.Fatalf("login with a second factor: %v", err)
	}
	if _, err := r.LoginSecondFactor(ctx, sf.Challenge, wrong()); !errors.Is(err, app.ErrInvalidCode) {
		t.Fatalf("wrong code: %v", err)
	}
	if _, err := r.LoginSecondFactor(ctx, sf.Challenge, "12"); !errors.Is(err, app.ErrInvalidCode) {
		t.Fatalf("malformed code: %v", err)
	}
	c6 := code()
	acc, err = r.LoginSecondFactor(ctx, sf.Challenge, c6[:3]+" "+c6[3:])
	if err != nil {
		t.Fatal(err)
	}
	if !acc.SecondFactor || acc.Username != "admin" || acc.Role != "admin" {
		t.Errorf("account %+v", acc)
	}
	people, err := r.ListUsers(ctx)
	if err != nil || len(people) != 1 || !people[0].SecondFactor {
		t.Fatalf("people %+v %v", people, err)
	}

	// New recovery codes need the next step's code; then turn it off
	// with a recovery code from the first set (the renewal voided them)
	// fails, and one from the new set works.
	clk.Advance(auth.TOTPPeriod)
	fresh, err := r.NewRecoveryCodes(ctx, code())
	if err != nil || len(fresh) != auth.RecoveryCodes {
		t.Fatalf("new recovery codes: %q %v", fresh, err)
	}
	if err := r.DisableSecondFactor(ctx, password, codes[0]); !errors.Is(err, app.ErrInvalidCode) {
		t.Fatalf("an old recovery code: %v", err)
	}
	if err := r.DisableSecondFactor(ctx, password, fresh[0]); err != nil {
		t.Fatal(err)
	}
	if err := r.ResetSecondFactor(ctx, people[0].ID); err == nil || errors.Is(err, app.ErrInvalidCode) {
		t.Errorf("reset of a user without a second factor: %v", err)
	}
	if err := r.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if acc, err := r.Login(ctx, "bank", "admin", password); err != nil || acc.SecondFactor {
		t.Fatalf("login after turning it off: %+v %v", acc, err)
	}
}
