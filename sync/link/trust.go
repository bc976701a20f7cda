package link

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"parley/relay/certs"
)

// PinStore keeps the certificate fingerprints the user has accepted, keyed by
// the relay's "host:port" (for example "relay.example.org:443" or
// "[2001:db8::1]:8443"). The app implements it on top of its preferences;
// [MemoryPins] is an in-memory implementation. Implementations must be safe
// for concurrent use: Pin is called during TLS handshakes.
type PinStore interface {
	// Pin returns the fingerprint pinned for host, and whether there is one.
	Pin(host string) (fingerprint string, ok bool)
	// SetPin pins fingerprint for host, replacing any previous pin.
	SetPin(host, fingerprint string) error
}

// MemoryPins is a [PinStore] held in memory, for tests and local mode. The
// zero value is ready to use and it is safe for concurrent use.
type MemoryPins struct {
	mu   sync.Mutex
	pins map[string]string
}

var _ PinStore = (*MemoryPins)(nil)

// Pin returns the fingerprint pinned for host, and whether there is one.
func (m *MemoryPins) Pin(host string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fp, ok := m.pins[host]
	return fp, ok
}

// SetPin pins fingerprint for host, replacing any previous pin.
func (m *MemoryPins) SetPin(host, fingerprint string) error {
	if host == "" {
		return errors.New("link: pin without a host")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pins == nil {
		m.pins = make(map[string]string)
	}
	m.pins[host] = fingerprint
	return nil
}

// fingerprintPrefix starts every fingerprint in the contract's format.
const fingerprintPrefix = "SHA256:"

// Fingerprint returns the fingerprint of cert in the format of
// docs/api-contract.md: "SHA256:" followed by the upper-case hex of the
// SHA-256 of the certificate's DER bytes in 32 colon-separated pairs. It
// returns "" for a nil certificate.
func Fingerprint(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	return certs.FormatSHA256(sha256.Sum256(cert.Raw))
}

// NormalizeFingerprint checks that s is a SHA-256 fingerprint and returns it
// in the canonical form produced by [Fingerprint]. It accepts what people
// paste: any letter case, with or without the "SHA256:" prefix, with colons,
// spaces or nothing between the pairs.
func NormalizeFingerprint(s string) (string, error) {
	t := strings.TrimSpace(s)
	if len(t) >= len(fingerprintPrefix) && strings.EqualFold(t[:len(fingerprintPrefix)], fingerprintPrefix) {
		t = t[len(fingerprintPrefix):]
	}
	t = strings.NewReplacer(":", "", " ", "").Replace(t)
	raw, err := hex.DecodeString(t)
	if err != nil || len(raw) != sha256.Size {
		return "", fmt.Errorf("link: %q is not a SHA-256 certificate fingerprint", s)
	}
	return certs.FormatSHA256([sha256.Size]byte(raw)), nil
}

// UntrustedCertError is returned when the relay's certificate neither
// verifies under the trusted roots for the relay's host name nor is pinned.
// The UI shows FP to the user, who may compare it with the one the
// administrator published and then call [Client.Trust].
type UntrustedCertError struct {
	// Host is the relay's "host:port", the key a pin would be stored under.
	Host string
	// FP is the fingerprint of the certificate the relay presented.
	FP string
	// Err is why chain verification failed (an x509 error), if known.
	Err error
}

// Error describes the failure in a sentence fit for the UI.
func (e *UntrustedCertError) Error() string {
	return fmt.Sprintf("The certificate of the relay %s is not trusted (fingerprint %s). "+
		"Trust it only if the fingerprint matches the one your administrator gave you.", e.Host, e.FP)
}

// Fingerprint returns the fingerprint of the untrusted certificate, so that
// the UI can read it through an interface.
func (e *UntrustedCertError) Fingerprint() string { return e.FP }

// Unwrap returns the chain verification error.
func (e *UntrustedCertError) Unwrap() error { return e.Err }

// PinMismatchError is returned when a relay whose certificate is pinned
// presents a different certificate. It is a hard failure: the pin is never
// replaced silently, and the error deliberately has no Fingerprint method so
// that a UI offering "trust this certificate" for [UntrustedCertError] does
// not offer it here.
type PinMismatchError struct {
	// Host is the relay's "host:port".
	Host string
	// Pinned is the fingerprint stored for Host.
	Pinned string
	// Got is the fingerprint of the certificate the relay presented.
	Got string
}

// Error describes the failure in a sentence fit for the UI.
func (e *PinMismatchError) Error() string {
	return fmt.Sprintf("The relay %s presented a different certificate than the one trusted before "+
		"(expected %s, got %s). This can be an attack: do not continue and contact your administrator.",
		e.Host, e.Pinned, e.Got)
}

// isTrustFailure reports whether err is, or wraps, a certificate trust
// failure, which is never worked around by a fallback or a retry.
func isTrustFailure(err error) bool { return trustFailure(err) != nil }

// trustFailure returns the *PinMismatchError or *UntrustedCertError in
// err's chain, or nil. Transports wrap it in their own layers (QUIC in a
// CRYPTO_ERROR); callers get it without them.
func trustFailure(err error) error {
	var u *UntrustedCertError
	var p *PinMismatchError
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &u):
		return u
	}
	return nil
}

// verifier applies the certificate policy to every handshake of one
// transport of one session, and remembers the outcome: transports do not
// always hand the verification error back unchanged (QUIC turns it into a
// TLS alert), so the request code asks the verifier what happened.
type verifier struct {
	serverName string // host name or IP literal the chain must be valid for
	pinKey     string // "host:port" under which the pin is stored
	roots      *x509.CertPool
	pins       PinStore

	mu      sync.Mutex
	lastFP  string // leaf of the most recent accepted handshake
	failure error  // trust failure of the most recent handshake, nil after success
}

// tlsConfig returns a client configuration that verifies with v. Go's own
// verification is switched off only because VerifyConnection below replaces
// it on every handshake (full and resumed): nothing is accepted unverified.
func (v *verifier) tlsConfig(alpn ...string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         v.serverName,
		NextProtos:         alpn,
		InsecureSkipVerify: true, //nolint:gosec // replaced by VerifyConnection
		VerifyConnection:   v.verifyConnection,
	}
}

func (v *verifier) verifyConnection(cs tls.ConnectionState) error {
	fp, err := v.check(cs.PeerCertificates)
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		if isTrustFailure(err) {
			v.failure = err
		}
		return err
	}
	v.lastFP, v.failure = fp, nil
	return nil
}

// check applies the policy: a pin, when present, decides alone; otherwise
// the chain must verify under the roots for the server name.
func (v *verifier) check(certs []*x509.Certificate) (string, error) {
	if len(certs) == 0 {
		return "", errors.New("link: the relay presented no certificate")
	}
	leaf := certs[0]
	fp := Fingerprint(leaf)
	if pinned, ok := v.pins.Pin(v.pinKey); ok && pinned != "" {
		if want, err := NormalizeFingerprint(pinned); err == nil && want == fp {
			return fp, nil
		}
		return fp, &PinMismatchError{Host: v.pinKey, Pinned: pinned, Got: fp}
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: inter,
		DNSName:       v.serverName,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fp, &UntrustedCertError{Host: v.pinKey, FP: fp, Err: err}
	}
	return fp, nil
}

// outcome returns the fingerprint of the last accepted certificate and the
// trust failure of the most recent handshake, if it failed.
func (v *verifier) outcome() (fp string, failure error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastFP, v.failure
}
