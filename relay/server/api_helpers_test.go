package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/clock"
)

// testAdminPassword is the admin's password of relays from startClockedRelay.
const testAdminPassword = "Leuchtturm-Hafen-2026"

// startClockedRelay starts a relay for tenant "bank" on clk with an hourly
// sweep (which, on the real timer, does not run during a test) and returns
// it with a client for its API.
func startClockedRelay(t *testing.T, clk clock.Clock) (*Server, *testAPI) {
	t.Helper()
	s, err := Start(context.Background(), Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: testAdminPassword, Hash: auth.TestHashParams, Clock: clk, SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, &testAPI{t: t, s: s, c: &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(t, s)}}}
}

// testAPI calls a test relay's API over HTTPS.
type testAPI struct {
	t *testing.T
	s *Server
	c *http.Client
}

// raw sends body with contentType (none when empty) and token (none when
// empty), decodes a JSON answer into out if not nil, and returns the status.
func (a *testAPI) raw(method, path, token, contentType string, body []byte, out any) int {
	a.t.Helper()
	req, err := http.NewRequest(method, a.s.URL()+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.c.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// call sends body (nil: none) as JSON.
func (a *testAPI) call(method, path, token string, body, out any) int {
	a.t.Helper()
	if body == nil {
		return a.raw(method, path, token, "", nil, out)
	}
	b, err := json.Marshal(body)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.raw(method, path, token, "application/json", b, out)
}

// login signs the admin in and returns the session token.
func (a *testAPI) login() string {
	a.t.Helper()
	var login struct{ Token string }
	if st := a.call("POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": "admin", "password": testAdminPassword}, &login); st != http.StatusOK {
		a.t.Fatalf("login: %d", st)
	}
	return login.Token
}
