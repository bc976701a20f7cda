package link

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// testTimeout bounds every call in these tests; nothing should come close.
const testTimeout = 10 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a client whose logs go to t.Log, closed when t ends.
func newClient(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := New(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// trustedClient returns a client that has pinned the relay's certificate.
func trustedClient(t *testing.T, r *testRelay, opts Options) *Client {
	t.Helper()
	c := newClient(t, opts)
	if err := c.Trust(r.URL, r.fingerprint()); err != nil {
		t.Fatal(err)
	}
	return c
}

func mustConnect(t *testing.T, c *Client, url string, want Transport) {
	t.Helper()
	got, err := c.Connect(testCtx(t), url)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if got != want || c.Transport() != want {
		t.Fatalf("Connect returned %q, Transport() %q; want %q", got, c.Transport(), want)
	}
}

func TestQUICLoginMeLogout(t *testing.T) {
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{})
	ctx := testCtx(t)
	mustConnect(t, c, r.URL, TransportQUIC)
	if c.BaseURL() != r.URL {
		t.Errorf("BaseURL = %q, want %q", c.BaseURL(), r.URL)
	}
	if c.Fingerprint() != r.fingerprint() {
		t.Errorf("Fingerprint = %q, want %q", c.Fingerprint(), r.fingerprint())
	}

	res, err := c.Login(ctx, "acme", "erika", "correct horse battery")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if !strings.HasPrefix(res.Token, "pst_") || res.User.Username != "erika" || res.User.Role != RoleAdmin ||
		time.Until(res.ExpiresAt) < time.Hour {
		t.Errorf("Login result = %+v", res)
	}
	if !c.LoggedIn() {
		t.Error("LoggedIn() = false after Login")
	}
	me, err := c.Me(ctx)
	if err != nil {
		t.Fatalf("Me: %v", err)
	}
	want := User{ID: "u1", TenantID: "t1", Tenant: "acme", Username: "erika", DisplayName: "Erika Mustermann",
		Email: "erika@example.org", Role: RoleAdmin}
	if me != want {
		t.Errorf("Me = %+v, want %+v", me, want)
	}
	users, err := c.ListUsers(ctx)
	if err != nil || len(users) != 2 {
		t.Fatalf("ListUsers = %v, %v", users, err)
	}
	created, err := c.CreateUser(ctx, NewUser{Username: "new", DisplayName: "New Person", Email: "new@example.org",
		Password: "a long enough password", Role: RoleAdvisor})
	if err != nil || created.ID == "" || created.Username != "new" || !created.MustChangePassword {
		t.Fatalf("CreateUser = %+v, %v", created, err)
	}
	if err := c.ChangePassword(ctx, "correct horse battery", "an even better passphrase"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}

	if err := c.Logout(ctx); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if c.LoggedIn() {
		t.Error("LoggedIn() = true after Logout")
	}
	if _, err := c.Me(ctx); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("Me after Logout: %v, want ErrNotLoggedIn", err)
	}
	// The relay ended the session too.
	r.mu.Lock()
	n := len(r.tokens)
	r.mu.Unlock()
	if n != 0 {
		t.Errorf("relay still holds %d sessions after Logout", n)
	}
	if got := r.requests("HTTP/3.0"); got < 7 {
		t.Errorf("relay saw %d HTTP/3 requests, want all 7+", got)
	}
	if got := r.requests("HTTP/2.0") + r.requests("HTTP/1.1"); got != 0 {
		t.Errorf("relay saw %d TCP requests, want none", got)
	}
}

func TestFallbackToTCPWhenUDPClosed(t *testing.T) {
	r := startRelay(t, relayConfig{noUDP: true})
	const quicTimeout = 300 * time.Millisecond
	c := trustedClient(t, r, Options{QUICTimeout: quicTimeout})
	start := time.Now()
	mustConnect(t, c, r.URL, TransportTCP)
	if took := time.Since(start); took > quicTimeout+2*time.Second {
		t.Errorf("fallback took %v, QUIC timeout is %v", took, quicTimeout)
	}
	ctx := testCtx(t)
	if _, err := c.Login(ctx, "acme", "erika", "correct horse battery"); err != nil {
		t.Fatalf("Login over TCP: %v", err)
	}
	if _, err := c.Me(ctx); err != nil {
		t.Fatalf("Me over TCP: %v", err)
	}
	if c.Transport() != TransportTCP {
		t.Errorf("Transport() = %q after requests, want tcp", c.Transport())
	}
	if got := r.requests("HTTP/2.0"); got < 3 {
		t.Errorf("relay saw %d HTTP/2 requests, want 3 (healthz, login, me)", got)
	}
	if c.Transport().String() != "TCP (HTTP/2)" {
		t.Errorf("String() = %q", c.Transport().String())
	}
}

func TestFallbackWhenUDPSilentlyDropped(t *testing.T) {
	r := startRelay(t, relayConfig{})
	r.gate.blocked.Store(true)
	c := trustedClient(t, r, Options{QUICTimeout: 300 * time.Millisecond})
	start := time.Now()
	mustConnect(t, c, r.URL, TransportTCP)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("fallback took %v", took)
	}
}

func TestDisableQUIC(t *testing.T) {
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{DisableQUIC: true})
	mustConnect(t, c, r.URL, TransportTCP)
	if _, err := c.Login(testCtx(t), "acme", "max", "advisor password 1"); err != nil {
		t.Fatal(err)
	}
	if got := r.requests("HTTP/3.0"); got != 0 {
		t.Errorf("relay saw %d HTTP/3 requests with QUIC disabled", got)
	}
}

func TestUntrustedCertThenTrust(t *testing.T) {
	for _, disableQUIC := range []bool{false, true} {
		t.Run(fmt.Sprintf("disableQUIC=%v", disableQUIC), func(t *testing.T) {
			r := startRelay(t, relayConfig{})
			pins := &MemoryPins{}
			c := newClient(t, Options{Pins: pins, DisableQUIC: disableQUIC})
			_, err := c.Connect(testCtx(t), r.URL)
			var ue *UntrustedCertError
			if !errors.As(err, &ue) {
				t.Fatalf("Connect error = %v, want UntrustedCertError", err)
			}
			wantFP := independentFingerprint(r.cert.Load().x509.Raw)
			if ue.FP != wantFP || ue.Fingerprint() != wantFP {
				t.Errorf("fingerprint = %q, want %q", ue.FP, wantFP)
			}
			if want := fmt.Sprintf("127.0.0.1:%d", r.Port); ue.Host != want {
				t.Errorf("Host = %q, want %q", ue.Host, want)
			}
			var fper interface{ Fingerprint() string }
			if !errors.As(err, &fper) || fper.Fingerprint() != wantFP {
				t.Error("fingerprint not readable through an interface")
			}
			if want := "link: GET /healthz: " + ue.Error(); err.Error() != want {
				t.Errorf("error text = %q, want %q", err.Error(), want)
			}
			if c.Transport() != "" || c.BaseURL() != "" {
				t.Errorf("not connected, yet Transport=%q BaseURL=%q", c.Transport(), c.BaseURL())
			}
			if r.requests("HTTP/3.0")+r.requests("HTTP/2.0")+r.requests("HTTP/1.1") != 0 {
				t.Error("a request reached the relay over an untrusted connection")
			}
			if _, ok := pins.Pin(ue.Host); ok {
				t.Error("Connect pinned without Trust")
			}

			if err := c.Trust(r.URL, ue.Fingerprint()); err != nil {
				t.Fatal(err)
			}
			want := TransportQUIC
			if disableQUIC {
				want = TransportTCP
			}
			mustConnect(t, c, r.URL, want)
			if c.Fingerprint() != wantFP {
				t.Errorf("Fingerprint() = %q, want %q", c.Fingerprint(), wantFP)
			}
		})
	}
}

func TestPinMismatchAfterCertChange(t *testing.T) {
	for _, disableQUIC := range []bool{false, true} {
		t.Run(fmt.Sprintf("disableQUIC=%v", disableQUIC), func(t *testing.T) {
			r := startRelay(t, relayConfig{})
			pins := &MemoryPins{}
			oldFP := r.fingerprint()
			c := trustedClient(t, r, Options{Pins: pins, DisableQUIC: disableQUIC})
			want := TransportQUIC
			if disableQUIC {
				want = TransportTCP
			}
			mustConnect(t, c, r.URL, want)

			r.setCert(newTestCert(t, nil, false, loopback))
			// A fresh client, as after an app restart: new connections.
			c2 := newClient(t, Options{Pins: pins, DisableQUIC: disableQUIC})
			_, err := c2.Connect(testCtx(t), r.URL)
			var pe *PinMismatchError
			if !errors.As(err, &pe) {
				t.Fatalf("Connect error = %v, want PinMismatchError", err)
			}
			if pe.Pinned != oldFP || pe.Got != r.fingerprint() {
				t.Errorf("mismatch = %+v, want pinned %s got %s", pe, oldFP, r.fingerprint())
			}
			if pin, _ := pins.Pin(pe.Host); pin != oldFP {
				t.Errorf("pin changed to %q", pin)
			}
			var fper interface{ Fingerprint() string }
			if errors.As(err, &fper) {
				t.Error("PinMismatchError offers a fingerprint to trust")
			}
			// The connected client meets the same failure on a reconnect,
			// and keeps its previous connection.
			if _, err := c.Connect(testCtx(t), r.URL); !errors.As(err, &pe) {
				t.Errorf("reconnect error = %v, want PinMismatchError", err)
			}
			if c.BaseURL() != r.URL {
				t.Error("failed reconnect dropped the previous connection")
			}
		})
	}
}

func TestPinDecidesEvenWhenRootsWouldAccept(t *testing.T) {
	ca := newTestCert(t, nil, true)
	r := startRelay(t, relayConfig{cert: newTestCert(t, ca, false, loopback)})
	roots := x509.NewCertPool()
	roots.AddCert(ca.x509)
	pins := &MemoryPins{}
	other := independentFingerprint([]byte("another certificate"))
	if err := pins.SetPin(fmt.Sprintf("127.0.0.1:%d", r.Port), other); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Options{Pins: pins, RootCAs: roots})
	var pe *PinMismatchError
	if _, err := c.Connect(testCtx(t), r.URL); !errors.As(err, &pe) {
		t.Fatalf("Connect error = %v, want PinMismatchError", err)
	}
}

func TestRootCAsNeedNoPin(t *testing.T) {
	ca := newTestCert(t, nil, true)
	r := startRelay(t, relayConfig{cert: newTestCert(t, ca, false, loopback)})
	roots := x509.NewCertPool()
	roots.AddCert(ca.x509)
	pins := &MemoryPins{}
	c := newClient(t, Options{Pins: pins, RootCAs: roots})
	mustConnect(t, c, r.URL, TransportQUIC)
	if _, err := c.Login(testCtx(t), "acme", "erika", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if _, ok := pins.Pin(fmt.Sprintf("127.0.0.1:%d", r.Port)); ok {
		t.Error("a CA-verified connection created a pin")
	}
	tcp := newClient(t, Options{Pins: pins, RootCAs: roots, DisableQUIC: true})
	mustConnect(t, tcp, r.URL, TransportTCP)
}

func TestRootCAsCheckHostName(t *testing.T) {
	ca := newTestCert(t, nil, true)
	// Valid under the CA, but for 127.0.0.2 only.
	r := startRelay(t, relayConfig{cert: newTestCert(t, ca, false, net.IPv4(127, 0, 0, 2))})
	roots := x509.NewCertPool()
	roots.AddCert(ca.x509)
	for _, disableQUIC := range []bool{false, true} {
		c := newClient(t, Options{RootCAs: roots, DisableQUIC: disableQUIC})
		_, err := c.Connect(testCtx(t), r.URL)
		var ue *UntrustedCertError
		var he x509.HostnameError
		if !errors.As(err, &ue) || !errors.As(err, &he) {
			t.Errorf("disableQUIC=%v: Connect error = %v, want UntrustedCertError wrapping HostnameError", disableQUIC, err)
		}
	}
}

func TestSelfSignedInRootCAs(t *testing.T) {
	r := startRelay(t, relayConfig{})
	roots := x509.NewCertPool()
	roots.AddCert(r.cert.Load().x509)
	c := newClient(t, Options{RootCAs: roots})
	mustConnect(t, c, r.URL, TransportQUIC)
}

func TestAPIErrors(t *testing.T) {
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{})
	mustConnect(t, c, r.URL, TransportQUIC)
	ctx := testCtx(t)

	apiErr := func(t *testing.T, err error) *APIError {
		t.Helper()
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("error = %v, want *APIError", err)
		}
		return ae
	}

	_, err := c.Login(ctx, "acme", "erika", "wrong")
	ae := apiErr(t, err)
	if ae.Status != 401 || ae.Code != CodeInvalidCredentials || ae.Error() != "Wrong username or password." {
		t.Errorf("wrong password: %+v %q", ae, ae.Error())
	}
	if c.LoggedIn() {
		t.Error("logged in after a failed login")
	}

	_, err = c.Login(ctx, "acme", "locked", "whatever")
	ae = apiErr(t, err)
	if ae.Status != 429 || ae.Code != CodeThrottled || ae.RetryAfter != 7*time.Second ||
		ae.Error() != "Too many attempts — try again in 7 s." {
		t.Errorf("throttled: %+v %q", ae, ae.Error())
	}

	_, err = c.Login(ctx, "nope", "erika", "correct horse battery")
	if ae = apiErr(t, err); ae.Status != 404 || ae.Code != CodeUnknownTenant {
		t.Errorf("unknown tenant: %+v", ae)
	}

	if _, err := c.Login(ctx, "acme", "max", "advisor password 1"); err != nil {
		t.Fatal(err)
	}
	err = c.ChangePassword(ctx, "advisor password 1", "max123")
	ae = apiErr(t, err)
	if ae.Status != 422 || ae.Code != CodeWeakPassword ||
		strings.Join(ae.Reasons, ",") != "too_short,contains_username" ||
		ae.Error() != "Please choose another password: this one is too short and contains the username." {
		t.Errorf("weak password: %+v %q", ae, ae.Error())
	}
	_, err = c.ListUsers(ctx)
	if ae = apiErr(t, err); ae.Status != 403 || ae.Code != CodeForbidden {
		t.Errorf("advisor lists users: %+v", ae)
	}

	if _, err := c.Login(ctx, "acme", "erika", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateUser(ctx, NewUser{Username: "max", Password: "long enough password", Role: RoleAdvisor})
	if ae = apiErr(t, err); ae.Status != 409 || ae.Code != CodeConflict {
		t.Errorf("existing username: %+v", ae)
	}

	// A revoked session: the error says so and the token is forgotten.
	r.revokeAll()
	_, err = c.Me(ctx)
	if ae = apiErr(t, err); ae.Status != 401 || ae.Code != CodeUnauthenticated {
		t.Errorf("revoked session: %+v", ae)
	}
	if c.LoggedIn() {
		t.Error("token kept after the relay answered unauthenticated")
	}
	if err := c.Logout(ctx); err != nil {
		t.Errorf("Logout without a session: %v", err)
	}
}

func TestBadResponses(t *testing.T) {
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{})
	mustConnect(t, c, r.URL, TransportQUIC)
	ctx := testCtx(t)
	if _, err := c.Login(ctx, "acme", "erika", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	huge := bytes.Repeat([]byte("x"), 2<<20)

	cases := []struct {
		name    string
		handler http.HandlerFunc
		status  int // >0: want an *APIError with this status, else ErrBadResponse
	}{
		{"oversized success body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"id":"`))
			w.Write(huge)
			w.Write([]byte(`"}`))
		}, 0},
		{"valid JSON padded past the limit", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"id":"u1"}`))
			w.Write(bytes.Repeat([]byte(" "), 2<<20))
		}, 0},
		{"garbage with JSON content type", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte("<html>captive portal</html>"))
		}, 0},
		{"HTML content type", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`{"id":"u1"}`))
		}, 0},
		{"trailing data", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"id":"u1"} {"id":"u2"}`))
		}, 0},
		{"wrong types", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"id":7,"role":["admin"]}`))
		}, 0},
		{"user without id", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"username":"erika"}`))
		}, 0},
		{"empty body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
		}, 0},
		{"oversized error body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			for range 3 {
				w.Write(huge)
			}
		}, 502},
		{"HTML error page", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("<h1>maintenance</h1>"))
		}, 503},
		{"redirect elsewhere", func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == "/elsewhere" {
				t.Error("client followed a redirect")
			}
			http.Redirect(w, req, "/elsewhere", http.StatusFound)
		}, 302},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.serveAll(tc.handler)
			defer r.serveAll(nil)
			_, err := c.Me(ctx)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.status == 0 {
				if !errors.Is(err, ErrBadResponse) {
					t.Errorf("error = %v, want ErrBadResponse", err)
				}
				if len(err.Error()) > 300 {
					t.Errorf("error message is %d bytes long", len(err.Error()))
				}
				return
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Code != "" {
				t.Fatalf("error = %#v, want APIError with status %d", err, tc.status)
			}
			if msg := ae.Error(); !strings.Contains(msg, fmt.Sprint(tc.status)) {
				t.Errorf("message %q does not name the status", msg)
			}
		})
	}
	// Still connected and logged in afterwards.
	if _, err := c.Me(ctx); err != nil {
		t.Fatalf("Me after bad responses: %v", err)
	}

	// A login answer without a token is refused and stores nothing.
	c2 := trustedClient(t, r, Options{})
	mustConnect(t, c2, r.URL, TransportQUIC)
	r.serveAll(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"expires_at": time.Now().Format(time.RFC3339), "user": map[string]string{"id": "u9"}})
	})
	if _, err := c2.Login(ctx, "acme", "erika", "x"); !errors.Is(err, ErrBadResponse) || c2.LoggedIn() {
		t.Errorf("login without token: %v, logged in %v", err, c2.LoggedIn())
	}
	// A relay whose health check is garbage is not connected to.
	r.serveAll(func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "down"}) })
	c3 := trustedClient(t, r, Options{QUICTimeout: 300 * time.Millisecond})
	if _, err := c3.Connect(ctx, r.URL); !errors.Is(err, ErrBadResponse) {
		t.Errorf("Connect to unhealthy relay: %v", err)
	}
}

func TestDowngradeToTCPAndBackToQUIC(t *testing.T) {
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{QUICTimeout: 300 * time.Millisecond, QUICReprobe: 200 * time.Millisecond})
	mustConnect(t, c, r.URL, TransportQUIC)
	if _, err := c.Login(testCtx(t), "acme", "erika", "correct horse battery"); err != nil {
		t.Fatal(err)
	}

	r.gate.blocked.Store(true) // the network starts dropping UDP
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	_, err := c.Me(ctx)
	cancel()
	if err == nil {
		t.Fatal("Me succeeded with UDP blocked")
	}
	waitFor(t, "switch to TCP", func() bool { return c.Transport() == TransportTCP })
	before := r.requests("HTTP/2.0")
	if _, err := c.Me(testCtx(t)); err != nil {
		t.Fatalf("Me over TCP after the switch: %v", err)
	}
	if r.requests("HTTP/2.0") != before+1 {
		t.Error("request after the switch did not go over TCP")
	}

	r.gate.blocked.Store(false) // UDP is back
	waitFor(t, "switch back to QUIC", func() bool {
		if _, err := c.Me(testCtx(t)); err != nil {
			t.Errorf("Me: %v", err)
		}
		return c.Transport() == TransportQUIC
	})
	before = r.requests("HTTP/3.0")
	if _, err := c.Me(testCtx(t)); err != nil || r.requests("HTTP/3.0") != before+1 {
		t.Errorf("request after switching back did not go over QUIC: %v", err)
	}
}

func TestDowngradeWhenQUICListenerStops(t *testing.T) {
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{QUICTimeout: 300 * time.Millisecond, QUICReprobe: -1})
	mustConnect(t, c, r.URL, TransportQUIC)
	if _, err := c.Login(testCtx(t), "acme", "erika", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	r.h3Srv.Close() // the relay's QUIC side goes away; TCP stays
	r.gate.Close()
	start := time.Now()
	if _, err := c.Me(testCtx(t)); err == nil {
		t.Log("first request after the QUIC listener stopped still succeeded")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("failing QUIC request took %v", took)
	}
	if c.Transport() != TransportTCP {
		t.Fatalf("Transport() = %q after a QUIC transport failure, want tcp", c.Transport())
	}
	if _, err := c.Me(testCtx(t)); err != nil {
		t.Fatalf("Me over TCP: %v", err)
	}
	if !c.LoggedIn() {
		t.Error("switching transports lost the session")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConnectDeadlineDoesNotFallBack(t *testing.T) {
	r := startRelay(t, relayConfig{})
	r.gate.blocked.Store(true)
	c := trustedClient(t, r, Options{QUICTimeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Connect(ctx, r.URL)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Connect error = %v, want DeadlineExceeded", err)
	}
	if n := r.requests("HTTP/2.0") + r.requests("HTTP/1.1"); n != 0 {
		t.Errorf("fell back to TCP after the caller's deadline (%d requests)", n)
	}
}

func TestCloseAbortsConnectAndRejectsCalls(t *testing.T) {
	// A TCP listener that accepts and never answers: Connect hangs in the
	// TLS handshake until Close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns sync.WaitGroup
	conns.Go(func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	})
	defer conns.Wait()
	defer ln.Close()

	c := newClient(t, Options{DisableQUIC: true})
	done := make(chan error, 1)
	go func() {
		_, err := c.Connect(context.Background(), "https://"+ln.Addr().String())
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Connect after Close = %v, want ErrClosed", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not abort Connect")
	}
	if _, err := c.Me(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Me after Close = %v", err)
	}
	if _, err := c.Connect(t.Context(), "https://"+ln.Addr().String()); !errors.Is(err, ErrClosed) {
		t.Errorf("Connect after Close = %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNotConnected(t *testing.T) {
	c := newClient(t, Options{})
	ctx := testCtx(t)
	if _, err := c.Me(ctx); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Me = %v", err)
	}
	if _, err := c.Login(ctx, "acme", "erika", "pw"); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Login = %v", err)
	}
	if c.Transport() != "" || c.Transport().String() != "not connected" || c.Fingerprint() != "" {
		t.Error("unconnected client reports a connection")
	}
}

func TestReconnectKeepsTokenOnlyForSameRelay(t *testing.T) {
	r1 := startRelay(t, relayConfig{})
	r2 := startRelay(t, relayConfig{})
	pins := &MemoryPins{}
	c := newClient(t, Options{Pins: pins})
	for _, r := range []*testRelay{r1, r2} {
		if err := c.Trust(r.URL, r.fingerprint()); err != nil {
			t.Fatal(err)
		}
	}
	mustConnect(t, c, r1.URL, TransportQUIC)
	if _, err := c.Login(testCtx(t), "acme", "erika", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	mustConnect(t, c, r1.URL+"/", TransportQUIC)
	if _, err := c.Me(testCtx(t)); err != nil {
		t.Errorf("Me after reconnecting to the same relay: %v", err)
	}
	mustConnect(t, c, r2.URL, TransportQUIC)
	if c.LoggedIn() {
		t.Error("token of relay 1 kept for relay 2")
	}
	if c.BaseURL() != r2.URL || c.Fingerprint() != r2.fingerprint() {
		t.Errorf("BaseURL %q Fingerprint %q after switching relays", c.BaseURL(), c.Fingerprint())
	}
}

func TestConcurrentUse(t *testing.T) {
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{})
	mustConnect(t, c, r.URL, TransportQUIC)
	if _, err := c.Login(testCtx(t), "acme", "erika", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				// Reconnecting must not break requests in flight.
				if _, err := c.Me(ctx); err != nil {
					t.Errorf("Me: %v", err)
				}
				_ = c.Transport()
				_ = c.Fingerprint()
				_ = c.BaseURL()
				_ = c.LoggedIn()
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			if _, err := c.Connect(ctx, r.URL); err != nil {
				t.Errorf("Connect: %v", err)
			}
		}
	})
	wg.Wait()
	if _, err := c.Me(ctx); err != nil {
		t.Errorf("Me after concurrent use: %v", err)
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	r := startRelay(t, relayConfig{noUDP: true})
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := trustedClient(t, r, Options{Logger: logger, QUICTimeout: 200 * time.Millisecond})
	ctx := testCtx(t)
	mustConnect(t, c, r.URL, TransportTCP)
	res, err := c.Login(ctx, "acme", "erika", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("app logs the result", "login", res)
	c.Login(ctx, "acme", "erika", "wrong secret")
	c.CreateUser(ctx, NewUser{Username: "newbie", Password: "hunter2 hunter2", Email: "n@example.org"})
	logger.Info("app logs the new user", "user", NewUser{Username: "newbie", Password: "hunter2 hunter2"})
	c.Logout(ctx)
	mu.Lock()
	logs := buf.String()
	mu.Unlock()
	if logs == "" {
		t.Fatal("nothing was logged; the test checks nothing")
	}
	for _, secret := range []string{res.Token, "correct horse", "wrong secret", "hunter2", "erika", "newbie", "example.org"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func TestDialersRefuseOtherAddresses(t *testing.T) {
	base, err := parseBaseURL("https://127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSession(base, Options{Pins: &MemoryPins{}, QUICTimeout: time.Second, Logger: slog.New(slog.DiscardHandler)},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if _, err := s.tcp.DialContext(t.Context(), "tcp", "127.0.0.1:10"); !errors.Is(err, errOffRelay) {
		t.Errorf("TCP dial elsewhere: %v", err)
	}
	if _, err := s.h3.Dial(t.Context(), "127.0.0.1:10", nil, nil); !errors.Is(err, errOffRelay) {
		t.Errorf("QUIC dial elsewhere: %v", err)
	}
}
