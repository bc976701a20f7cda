// Package e2e tests the relay and the desktop app's link client together,
// in one process, over real QUIC and TCP on loopback, with the real
// encrypted badger store on disk.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/server"
	"parley/relay/store/storetest"
	"parley/sync/link"
)

const adminPassword = "Leuchtturm-Hafen-2026"

func startRelay(t *testing.T, dir string) *server.Server {
	t.Helper()
	s, err := server.Start(context.Background(), server.Options{
		DataDir: dir, Listen: "127.0.0.1:0", TenantSlug: "sparkasse-nord", AdminPassword: adminPassword, Hash: auth.TestHashParams,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func connect(t *testing.T, s *server.Server, disableQUIC bool) *link.Client {
	t.Helper()
	c := link.New(link.Options{DisableQUIC: disableQUIC})
	t.Cleanup(func() { c.Close() })
	if err := c.Trust(s.URL(), s.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tr, err := c.Connect(ctx, s.URL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	want := link.TransportQUIC
	if disableQUIC {
		want = link.TransportTCP
	}
	if tr != want {
		t.Fatalf("connected over %s, want %s", tr, want)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestSessionOverBothTransports logs in over QUIC and over TCP, uses the
// session, and logs out.
func TestSessionOverBothTransports(t *testing.T) {
	s := startRelay(t, t.TempDir())
	defer s.Close()
	for _, tc := range []struct {
		name   string
		noQUIC bool
	}{{"quic", false}, {"tcp", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, s, tc.noQUIC)
			res, err := c.Login(ctx(t), "sparkasse-nord", "admin", adminPassword)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if res.User.Role != link.RoleAdmin || res.User.Tenant != "sparkasse-nord" || res.User.MustChangePassword {
				t.Fatalf("login user %+v", res.User)
			}
			me, err := c.Me(ctx(t))
			if err != nil || me.Username != "admin" {
				t.Fatalf("me: %+v %v", me, err)
			}
			if c.Transport() != map[bool]link.Transport{false: link.TransportQUIC, true: link.TransportTCP}[tc.noQUIC] {
				t.Fatalf("transport changed to %s during the session", c.Transport())
			}
			if err := c.Logout(ctx(t)); err != nil {
				t.Fatalf("logout: %v", err)
			}
			if _, err := c.Me(ctx(t)); err == nil {
				t.Fatal("the session still works after logout")
			}
		})
	}
}

// TestRestartFindsDataAgain creates an advisor, restarts the relay on the
// same data folder, and signs the advisor in.
func TestRestartFindsDataAgain(t *testing.T) {
	dir := t.TempDir()
	s := startRelay(t, dir)
	c := connect(t, s, false)
	if _, err := c.Login(ctx(t), "sparkasse-nord", "admin", adminPassword); err != nil {
		t.Fatal(err)
	}
	adv, err := c.CreateUser(ctx(t), link.NewUser{Username: "jonas", DisplayName: "Jonas Berger", Email: "jonas.berger@example.org", Password: "Zugvogel-Herbst-71", Role: link.RoleAdvisor})
	if err != nil {
		t.Fatal(err)
	}
	fp := s.Fingerprint()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := startRelay(t, dir)
	defer s2.Close()
	if s2.Fingerprint() != fp {
		t.Fatal("the relay's certificate changed across the restart")
	}
	c2 := connect(t, s2, false)
	res, err := c2.Login(ctx(t), "sparkasse-nord", "jonas", "Zugvogel-Herbst-71")
	if err != nil {
		t.Fatalf("advisor cannot sign in after restart: %v", err)
	}
	if res.User.ID != adv.ID || res.User.DisplayName != "Jonas Berger" || !res.User.MustChangePassword {
		t.Fatalf("advisor after restart: %+v", res.User)
	}
}

// TestNoPlaintextPersonalDataAtRest creates a user through the API and
// searches every file in the data folder for the e-mail address and name.
func TestNoPlaintextPersonalDataAtRest(t *testing.T) {
	dir := t.TempDir()
	s := startRelay(t, dir)
	c := connect(t, s, true)
	if _, err := c.Login(ctx(t), "sparkasse-nord", "admin", adminPassword); err != nil {
		t.Fatal(err)
	}
	const email, name = "erika.mustermann@example.org", "Erika Mustermann"
	if _, err := c.CreateUser(ctx(t), link.NewUser{Username: "erika", DisplayName: name, Email: email, Password: "Sonnenblume-Acker-3", Role: link.RoleAdvisor}); err != nil {
		t.Fatal(err)
	}
	scan := func(when string) {
		if files := storetest.AssertNoPlaintext(t, dir, when, email, name, "Sonnenblume-Acker-3"); files < 3 {
			t.Fatalf("%s: only %d files in the data folder; nothing was checked", when, files)
		}
	}
	scan("while running") // acknowledged writes are on disk already (synced)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	scan("after shutdown")
}

// TestUntrustedRelayIsNotContacted checks that the client refuses a relay
// whose certificate is neither pinned nor signed by a known root.
func TestUntrustedRelayIsNotContacted(t *testing.T) {
	s := startRelay(t, t.TempDir())
	defer s.Close()
	c := link.New(link.Options{})
	defer c.Close()
	_, err := c.Connect(ctx(t), s.URL())
	var untrusted *link.UntrustedCertError
	if !errors.As(err, &untrusted) || untrusted.Fingerprint() != s.Fingerprint() {
		t.Fatalf("connect to an unpinned self-signed relay: %v", err)
	}
}

// TestAdminManagesAdvisor disables, re-enables and resets an advisor
// through the desktop client over QUIC.
func TestAdminManagesAdvisor(t *testing.T) {
	s := startRelay(t, t.TempDir())
	defer s.Close()
	admin := connect(t, s, false)
	if _, err := admin.Login(ctx(t), "sparkasse-nord", "admin", adminPassword); err != nil {
		t.Fatal(err)
	}
	adv, err := admin.CreateUser(ctx(t), link.NewUser{Username: "mia", DisplayName: "Mia Koch", Password: "Laterne-Nebel-54", Role: link.RoleAdvisor})
	if err != nil {
		t.Fatal(err)
	}
	mia := connect(t, s, false)
	if _, err := mia.Login(ctx(t), "sparkasse-nord", "mia", "Laterne-Nebel-54"); err != nil {
		t.Fatal(err)
	}
	u, err := admin.SetUserDisabled(ctx(t), adv.ID, true)
	if err != nil || !u.Disabled {
		t.Fatalf("disable: %+v %v", u, err)
	}
	if _, err := mia.Me(ctx(t)); err == nil {
		t.Fatal("a disabled advisor's session still works")
	}
	if u, err = admin.SetUserDisabled(ctx(t), adv.ID, false); err != nil || u.Disabled {
		t.Fatalf("enable: %+v %v", u, err)
	}
	pw, err := admin.ResetPassword(ctx(t), adv.ID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := mia.Login(ctx(t), "sparkasse-nord", "mia", pw)
	if err != nil || !res.User.MustChangePassword {
		t.Fatalf("sign-in with the reset password: %+v %v", res.User, err)
	}
	var apiErr *link.APIError
	if _, err := admin.SetUserDisabled(ctx(t), res.User.ID+"x", true); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("unknown user: %v", err)
	}

	entries, err := admin.Audit(ctx(t), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	want := []string{"tenant.bootstrap", "user.create", "user.disable", "user.enable", "user.password_reset"}
	if fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Fatalf("audit log %v, want %v", actions, want)
	}
}
