package link

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// This file holds a tiny relay for the tests: the contract's /healthz,
// login, logout, me, password and users endpoints over fake users, served
// by net/http over TLS on a TCP listener and by http3.Server on a UDP
// socket with the same port number, both on 127.0.0.1.

// testCert is a certificate with its key, ready for a server.
type testCert struct {
	tls  tls.Certificate
	x509 *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newTestCert makes an ECDSA P-256 certificate for ips, signed by parent,
// or self-signed when parent is nil. isCA makes it a CA.
func newTestCert(t testing.TB, parent *testCert, isCA bool, ips ...net.IP) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "parley test relay " + serial.String()},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           ips,
	}
	if isCA {
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.ExtKeyUsage = nil
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.x509, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	chain := [][]byte{der}
	if parent != nil {
		chain = append(chain, parent.x509.Raw)
	}
	return &testCert{tls: tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, x509: leaf, key: key}
}

// independentFingerprint computes the contract's fingerprint format from
// DER bytes without using the package's code.
func independentFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	pairs := make([]string, len(sum))
	for i, b := range sum {
		pairs[i] = strings.ToUpper(hex.EncodeToString([]byte{b}))
	}
	return "SHA256:" + strings.Join(pairs, ":")
}

var loopback = net.IPv4(127, 0, 0, 1)

type fakeUser struct {
	User
	password string
}

// testRelay is the relay the tests talk to.
type testRelay struct {
	t    testing.TB
	URL  string // https://127.0.0.1:PORT
	Port int

	cert     atomic.Pointer[testCert]
	override atomic.Pointer[http.HandlerFunc]

	tcpSrv *http.Server
	h3Srv  *http3.Server
	gate   *gatedConn // nil when UDP is closed

	mu     sync.Mutex
	users  map[string]*fakeUser // by username, tenant "acme"
	tokens map[string]string    // token → username
	protos map[string]int       // r.Proto → requests
}

type relayConfig struct {
	cert  *testCert // nil: self-signed for 127.0.0.1
	noUDP bool      // bind the UDP port, then close it: QUIC finds nobody
}

// startRelay starts a relay on 127.0.0.1 and stops it when t ends.
func startRelay(t testing.TB, cfg relayConfig) *testRelay {
	t.Helper()
	r := &testRelay{
		t:      t,
		tokens: map[string]string{},
		protos: map[string]int{},
		users: map[string]*fakeUser{
			"erika": {User: User{ID: "u1", TenantID: "t1", Tenant: "acme", Username: "erika", DisplayName: "Erika Mustermann",
				Email: "erika@example.org", Role: RoleAdmin}, password: "correct horse battery"},
			"max": {User: User{ID: "u2", TenantID: "t1", Tenant: "acme", Username: "max", DisplayName: "Max Muster",
				Email: "max@example.org", Role: RoleAdvisor}, password: "advisor password 1"},
		},
	}
	if cfg.cert == nil {
		cfg.cert = newTestCert(t, nil, false, loopback)
	}
	r.cert.Store(cfg.cert)

	var ln net.Listener
	var udp *net.UDPConn
	for attempt := 0; ; attempt++ {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.Port = ln.Addr().(*net.TCPAddr).Port
		udp, err = net.ListenUDP("udp", &net.UDPAddr{IP: loopback, Port: r.Port})
		if err == nil {
			break
		}
		ln.Close()
		if attempt == 20 {
			t.Fatalf("no free TCP+UDP port pair: %v", err)
		}
	}
	r.URL = "https://127.0.0.1:" + strconv.Itoa(r.Port)
	getCert := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &r.cert.Load().tls, nil }

	r.tcpSrv = &http.Server{
		Handler:   r,
		TLSConfig: &tls.Config{GetCertificate: getCert, NextProtos: []string{"h2", "http/1.1"}},
		ErrorLog:  log.New(io.Discard, "", 0), // rejected handshakes are expected
	}
	go r.tcpSrv.ServeTLS(ln, "", "")

	if cfg.noUDP {
		udp.Close()
	} else {
		r.gate = &gatedConn{pc: udp}
		r.h3Srv = &http3.Server{
			Handler:   r,
			TLSConfig: &tls.Config{GetCertificate: getCert, MinVersion: tls.VersionTLS13},
		}
		go r.h3Srv.Serve(r.gate)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if r.h3Srv != nil {
			r.h3Srv.Close()
			r.gate.Close()
		}
		r.tcpSrv.Shutdown(ctx)
	})
	return r
}

// setCert makes the relay present c on new connections.
func (r *testRelay) setCert(c *testCert) { r.cert.Store(c) }

// fingerprint is the independently computed fingerprint of the current
// certificate.
func (r *testRelay) fingerprint() string { return independentFingerprint(r.cert.Load().x509.Raw) }

// serveAll makes h answer every request (nil restores the relay).
func (r *testRelay) serveAll(h http.HandlerFunc) {
	if h == nil {
		r.override.Store(nil)
		return
	}
	r.override.Store(&h)
}

// requests returns how many requests came over proto ("HTTP/3.0",
// "HTTP/2.0", "HTTP/1.1").
func (r *testRelay) requests(proto string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.protos[proto]
}

// revokeAll ends every session, as an admin revoking sessions would.
func (r *testRelay) revokeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.tokens)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code string, extra map[string]any) {
	obj := map[string]any{"code": code, "message": "relay says " + code}
	for k, v := range extra {
		obj[k] = v
	}
	writeJSON(w, status, map[string]any{"error": obj})
}

// decodeBody decodes a request strictly, as the contract demands.
func decodeBody(w http.ResponseWriter, req *http.Request, v any) bool {
	if req.Header.Get("Content-Type") != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, nil)
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, nil)
		return false
	}
	return true
}

func (r *testRelay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.protos[req.Proto]++
	r.mu.Unlock()
	if h := r.override.Load(); h != nil {
		(*h)(w, req)
		return
	}
	if req.ProtoMajor < 3 {
		w.Header().Set("Alt-Svc", fmt.Sprintf(`h3=":%d"; ma=86400`, r.Port))
	}
	route := req.Method + " " + req.URL.Path
	switch route {
	case "GET /healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	case "POST /api/v1/login":
		r.login(w, req)
		return
	}
	u := r.authenticate(req)
	if u == nil {
		writeError(w, http.StatusUnauthorized, CodeUnauthenticated, nil)
		return
	}
	switch route {
	case "GET /api/v1/me":
		writeJSON(w, http.StatusOK, u.User)
	case "POST /api/v1/logout":
		r.mu.Lock()
		delete(r.tokens, bearer(req))
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case "POST /api/v1/me/password":
		var body struct {
			Current string `json:"current_password"`
			New     string `json:"new_password"`
		}
		if !decodeBody(w, req, &body) {
			return
		}
		var reasons []string
		if len(body.New) < 12 {
			reasons = append(reasons, "too_short")
		}
		if strings.Contains(body.New, u.Username) {
			reasons = append(reasons, "contains_username")
		}
		switch {
		case body.Current != u.password:
			writeError(w, http.StatusUnauthorized, CodeInvalidCredentials, nil)
		case reasons != nil:
			writeError(w, http.StatusUnprocessableEntity, CodeWeakPassword, map[string]any{"reasons": reasons})
		default:
			r.mu.Lock()
			u.password = body.New
			r.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}
	case "GET /api/v1/users", "POST /api/v1/users":
		if u.Role != RoleAdmin {
			writeError(w, http.StatusForbidden, CodeForbidden, nil)
			return
		}
		if req.Method == http.MethodGet {
			r.mu.Lock()
			list := []User{}
			for _, name := range []string{"erika", "max", "new"} {
				if fu, ok := r.users[name]; ok {
					list = append(list, fu.User)
				}
			}
			r.mu.Unlock()
			writeJSON(w, http.StatusOK, map[string]any{"users": list})
			return
		}
		var nu NewUser
		if !decodeBody(w, req, &nu) {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, exists := r.users[nu.Username]; exists {
			writeError(w, http.StatusConflict, CodeConflict, nil)
			return
		}
		created := &fakeUser{User: User{ID: "u" + strconv.Itoa(len(r.users)+1), TenantID: "t1", Tenant: "acme",
			Username: nu.Username, DisplayName: nu.DisplayName, Email: nu.Email, Role: nu.Role, MustChangePassword: true},
			password: nu.Password}
		r.users[nu.Username] = created
		writeJSON(w, http.StatusCreated, created.User)
	default:
		writeError(w, http.StatusNotFound, CodeNotFound, nil)
	}
}

func bearer(req *http.Request) string {
	tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return tok
}

func (r *testRelay) authenticate(req *http.Request) *fakeUser {
	r.mu.Lock()
	defer r.mu.Unlock()
	name, ok := r.tokens[bearer(req)]
	if !ok {
		return nil
	}
	return r.users[name]
}

func (r *testRelay) login(w http.ResponseWriter, req *http.Request) {
	var body loginRequest
	if !decodeBody(w, req, &body) {
		return
	}
	if body.Tenant != "acme" {
		writeError(w, http.StatusNotFound, CodeUnknownTenant, nil)
		return
	}
	if body.Username == "locked" {
		w.Header().Set("Retry-After", "7")
		writeError(w, http.StatusTooManyRequests, CodeThrottled, map[string]any{"retry_after_seconds": 7})
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.users[body.Username]
	if !ok || u.password != body.Password {
		writeError(w, http.StatusUnauthorized, CodeInvalidCredentials, nil)
		return
	}
	buf := make([]byte, 16)
	rand.Read(buf)
	tok := "pst_" + hex.EncodeToString(buf)
	r.tokens[tok] = u.Username
	writeJSON(w, http.StatusOK, map[string]any{
		"token":      tok,
		"expires_at": time.Now().Add(12 * time.Hour).UTC().Format(time.RFC3339),
		"user":       u.User,
	})
}

// gatedConn wraps the relay's UDP socket and can drop every datagram in
// both directions, like a firewall that blocks UDP. It deliberately has
// only net.PacketConn's methods so that quic-go reads through ReadFrom.
type gatedConn struct {
	pc      net.PacketConn
	blocked atomic.Bool
}

func (g *gatedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := g.pc.ReadFrom(p)
		if err != nil || !g.blocked.Load() {
			return n, addr, err
		}
	}
}

func (g *gatedConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if g.blocked.Load() {
		return len(p), nil
	}
	return g.pc.WriteTo(p, addr)
}

func (g *gatedConn) Close() error {
	err := g.pc.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
func (g *gatedConn) LocalAddr() net.Addr                { return g.pc.LocalAddr() }
func (g *gatedConn) SetDeadline(t time.Time) error      { return g.pc.SetDeadline(t) }
func (g *gatedConn) SetReadDeadline(t time.Time) error  { return g.pc.SetReadDeadline(t) }
func (g *gatedConn) SetWriteDeadline(t time.Time) error { return g.pc.SetWriteDeadline(t) }
