package certs

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFingerprintFormat(t *testing.T) {
	der := []byte("not really a certificate")
	sum := sha256.Sum256(der)
	fp := Fingerprint(der)
	if !strings.HasPrefix(fp, "SHA256:") || len(fp) != len("SHA256:")+32*3-1 {
		t.Fatalf("fingerprint %q has the wrong shape", fp)
	}
	if want := fmt.Sprintf("%02X", sum[0]) + ":" + fmt.Sprintf("%02X", sum[1]); fp[7:12] != want {
		t.Fatalf("fingerprint starts %q, want %q", fp[7:12], want)
	}
}

func TestSelfSignedIsCreatedOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	c1, err := LoadOrCreateSelfSigned(dir, []string{"relay.example", "192.0.2.7"}, now)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	c2, err := LoadOrCreateSelfSigned(dir, nil, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(c1.Certificate[0]) != Fingerprint(c2.Certificate[0]) {
		t.Fatalf("certificate was regenerated although still valid")
	}
	leaf, _ := x509.ParseCertificate(c1.Certificate[0])
	if err := leaf.VerifyHostname("relay.example"); err != nil {
		t.Errorf("extra DNS SAN missing: %v", err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("loopback SAN missing: %v", err)
	}
	if !containsIP(leaf.IPAddresses, net.ParseIP("192.0.2.7")) {
		t.Errorf("extra IP SAN missing")
	}
	// Close to expiry it is replaced.
	c3, err := LoadOrCreateSelfSigned(dir, nil, leaf.NotAfter.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(c3.Certificate[0]) == Fingerprint(c1.Certificate[0]) {
		t.Fatalf("expiring certificate was not replaced")
	}
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, x := range ips {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

func TestServerTLSConfigRefusesOldAndNonAEAD(t *testing.T) {
	cert, err := LoadOrCreateSelfSigned(t.TempDir(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerTLSConfig(cert))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	dial := func(cfg *tls.Config) error {
		cfg.InsecureSkipVerify = true
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(&tls.Config{MaxVersion: tls.VersionTLS11}); err == nil {
		t.Errorf("TLS 1.1 handshake succeeded")
	}
	if err := dial(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}); err == nil {
		t.Errorf("CBC suite accepted")
	}
	if err := dial(&tls.Config{MaxVersion: tls.VersionTLS12}); err != nil {
		t.Errorf("TLS 1.2 with AEAD refused: %v", err)
	}
	if err := dial(&tls.Config{MinVersion: tls.VersionTLS13}); err != nil {
		t.Errorf("TLS 1.3 refused: %v", err)
	}
}
