package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"parley/relay/auth"
	"parley/relay/certs"
)

func start(t *testing.T, ctx context.Context, dir string, out *bytes.Buffer) *Server {
	t.Helper()
	opts := Options{DataDir: dir, Listen: "127.0.0.1:0", TenantSlug: "bank", Hash: auth.TestHashParams}
	if out != nil {
		opts.BootstrapOut = out
	}
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pinnedTLS(t *testing.T, s *Server) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.cert.Leaf)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

func TestOnePortTwoTransports(t *testing.T) {
	var out bytes.Buffer
	s := start(t, context.Background(), t.TempDir(), &out)
	defer s.Close()
	if !s.Bootstrap().Created || !strings.Contains(out.String(), s.Bootstrap().Password) {
		t.Fatalf("first start did not print the one-time password")
	}

	tcp := &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(t, s), ForceAttemptHTTP2: true}}
	res, err := tcp.Get(s.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	_, port, _ := strings.Cut(s.Addr(), ":")
	if res.ProtoMajor != 2 {
		t.Errorf("TCP answered over HTTP/%d, want HTTP/2", res.ProtoMajor)
	}
	if got, want := res.Header.Get("Alt-Svc"), `h3=":`+port+`"`; !strings.HasPrefix(got, want) {
		t.Errorf("Alt-Svc = %q, want prefix %q", got, want)
	}

	h3 := &http3.Transport{TLSClientConfig: pinnedTLS(t, s)}
	defer h3.Close()
	res, err = (&http.Client{Transport: h3, Timeout: 5 * time.Second}).Get(s.URL() + "/healthz")
	if err != nil {
		t.Fatalf("HTTP/3: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.ProtoMajor != 3 || !strings.Contains(string(body), "ok") {
		t.Fatalf("HTTP/3 answer proto %d body %s", res.ProtoMajor, body)
	}
}

func TestRestartKeepsIdentityAndData(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	s := start(t, context.Background(), dir, &out)
	fp, pw := s.Fingerprint(), s.Bootstrap().Password
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	out.Reset()
	s2 := start(t, context.Background(), dir, &out)
	defer s2.Close()
	if s2.Fingerprint() != fp {
		t.Errorf("certificate changed across restart")
	}
	if s2.Bootstrap().Created || out.Len() != 0 {
		t.Errorf("second start bootstrapped again: %q", out.String())
	}
	if _, _, err := s2.auth.Login(context.Background(), "bank", "admin", pw, "127.0.0.1"); err != nil {
		t.Fatalf("admin from the first run cannot sign in after restart: %v", err)
	}
	if got := certs.Fingerprint(s2.cert.Certificate[0]); got != fp {
		t.Errorf("fingerprint %s != %s", got, fp)
	}
}

func TestCancelStopsRelay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := start(t, ctx, t.TempDir(), nil)
	addr := s.Addr()
	cancel()
	select {
	case <-s.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("relay did not stop after cancel")
	}
	// The port is free again: a new relay can take it.
	s2, err := Start(context.Background(), Options{DataDir: t.TempDir(), Listen: addr, Hash: auth.TestHashParams})
	if err != nil {
		t.Fatalf("port %s not released: %v", addr, err)
	}
	s2.Close()
}

func TestBadListenAddress(t *testing.T) {
	if _, err := Start(context.Background(), Options{DataDir: t.TempDir(), Listen: "no-port-here"}); err == nil {
		t.Fatal("accepted a listen address without port")
	}
	if _, err := Start(context.Background(), Options{}); err == nil {
		t.Fatal("accepted empty DataDir")
	}
}
