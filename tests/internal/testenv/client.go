package testenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/certs"
	"parley/relay/pdfrender/pdfrendertest"
	"parley/relay/server"
)

// CertFile is where a relay keeps its self-signed certificate inside its
// data folder.
func CertFile(dataDir string) string {
	return filepath.Join(dataDir, "tls", certs.CertFile)
}

// PinnedClient returns an HTTP client (HTTP/2 over TLS) whose only trusted
// root is the PEM certificate in certFile, checked for the name
// "127.0.0.1". It uses no proxy and refuses to dial anything but loopback
// addresses.
func PinnedClient(certFile string) (*http.Client, error) {
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("testenv: relay certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("testenv: %s holds no PEM certificate", certFile)
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("testenv: refusing to dial %s: tests talk to loopback only", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// RelayClient is PinnedClient for the certificate in a relay's data
// folder; it fails the test on error and closes idle connections at the
// end of the test.
func RelayClient(t testing.TB, dataDir string) *http.Client {
	t.Helper()
	c, err := PinnedClient(CertFile(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// StartRelayServer starts a relay in-process with server.Start. Unset
// fields get test defaults: DataDir a fresh t.TempDir(), Listen
// "127.0.0.1:0", Hash auth.TestHashParams. A Listen address that is not
// loopback fails the test. t.Cleanup closes the server.
func StartRelayServer(t testing.TB, opts server.Options) *server.Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(opts.Listen)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		t.Fatalf("testenv: relay Listen %q is not a loopback address", opts.Listen)
	}
	if opts.Hash == (auth.HashParams{}) {
		opts.Hash = auth.TestHashParams
	}
	if opts.RenderCacheDir == "" {
		// Compiling PDFium takes minutes under the race detector; every
		// test relay shares the machine's compiled module (test.sh warms it).
		opts.RenderCacheDir = pdfrendertest.CacheDir()
	}
	s, err := server.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("testenv: start relay in-process: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("testenv: close relay: %v", err)
		}
	})
	return s
}

// API calls the relay's JSON API (docs/api-contract.md) for tests.
type API struct {
	// Base is the relay's base URL, https://127.0.0.1:PORT.
	Base string
	// HTTP is the client, usually from RelayClient.
	HTTP *http.Client
	// Token, when set, is sent as "Authorization: Bearer <Token>".
	Token string
}

// APIError is the contract's error object.
type APIError struct {
	Code              string   `json:"code"`
	Message           string   `json:"message"`
	Reasons           []string `json:"reasons,omitempty"`
	RetryAfterSeconds int      `json:"retry_after_seconds,omitempty"`
}

// Call sends method path with body (JSON-encoded unless nil) and returns
// the status and the raw response body. Transport errors fail the test.
func (a *API) Call(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("testenv: encode %s %s: %v", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	u, err := url.JoinPath(a.Base, path)
	if err != nil {
		t.Fatalf("testenv: URL for %s: %v", path, err)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatalf("testenv: request %s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	res, err := a.HTTP.Do(req)
	if err != nil {
		t.Fatalf("testenv: %s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("testenv: read %s %s: %v", method, path, err)
	}
	return res.StatusCode, b
}

// Must calls method path and fails the test unless the status is want;
// the body is decoded into out when out is not nil.
func (a *API) Must(t testing.TB, method, path string, body any, want int, out any) {
	t.Helper()
	status, b := a.Call(t, method, path, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// Fail calls method path and fails the test unless the status is want and
// the error code is code; it returns the error object.
func (a *API) Fail(t testing.TB, method, path string, body any, want int, code string) APIError {
	t.Helper()
	status, b := a.Call(t, method, path, body)
	var e struct {
		Error APIError `json:"error"`
	}
	if status != want || json.Unmarshal(b, &e) != nil || e.Error.Code != code {
		t.Fatalf("%s %s: status %d body %s, want %d with code %q", method, path, status, b, want, code)
	}
	return e.Error
}

// User is the contract's USER object.
type User struct {
	ID                 string `json:"id"`
	TenantID           string `json:"tenant_id"`
	Tenant             string `json:"tenant"`
	Username           string `json:"username"`
	DisplayName        string `json:"display_name"`
	Email              string `json:"email"`
	Role               string `json:"role"`
	MustChangePassword bool   `json:"must_change_password"`
}

// Login is the contract's login answer.
type Login struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      User      `json:"user"`
}

// Login posts to /api/v1/login, fails the test unless it answers 200, and
// returns a copy of a carrying the session token together with the answer.
func (a *API) Login(t testing.TB, tenant, username, password string) (*API, Login) {
	t.Helper()
	var l Login
	a.Must(t, http.MethodPost, "/api/v1/login", map[string]string{
		"tenant": tenant, "username": username, "password": password,
	}, http.StatusOK, &l)
	if l.Token == "" {
		t.Fatalf("login as %s: no token", username)
	}
	return &API{Base: a.Base, HTTP: a.HTTP, Token: l.Token}, l
}
