package calsync

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Network errors; check with errors.Is.
var (
	// ErrForbiddenAddress: the source's host resolves to an address the
	// relay does not fetch from (loopback, private, link-local, CGNAT,
	// multicast, unspecified or reserved).
	ErrForbiddenAddress = errors.New("calsync: address not allowed")
	// ErrTooManyRedirects: more than maxRedirects redirects.
	ErrTooManyRedirects = errors.New("calsync: too many redirects")
)

const maxRedirects = 3

var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// publicAddr reports whether ip may be fetched from in production.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	// NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4 address.
	if b := ip.As16(); ip.Is6() {
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(ip):
			return publicAddr(netip.AddrFrom4([4]byte(b[12:16])))
		case netip.MustParsePrefix("2002::/16").Contains(ip):
			return publicAddr(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return true
}

// guardControl checks the address every connection is about to dial,
// after name resolution, so a name cannot be re-pointed at an internal
// address between a check and the dial.
func guardControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return ErrForbiddenAddress
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !publicAddr(ip) {
			return ErrForbiddenAddress
		}
		return nil
	}
}

// newHTTPClient returns the hardened client used when Options.HTTPClient is
// nil.
func newHTTPClient(allowPrivate bool, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: guardControl(allowPrivate)}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would dial for us, past the guard
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           16,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return ErrTooManyRedirects
			}
			return checkScheme(req.URL, allowPrivate)
		},
	}
}

// checkScheme allows https, and http only when private networks are
// allowed (tests on loopback).
func checkScheme(u *url.URL, allowPrivate bool) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowPrivate {
			return nil
		}
	}
	return fmt.Errorf("%w: only https URLs are fetched", ErrInvalidSource)
}

// limitedTransport caps every response body at max bytes: reading past it
// fails with ErrTooLarge.
type limitedTransport struct {
	next http.RoundTripper
	max  int64
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, t.max)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	// Reading one byte past the limit tells a body of exactly max bytes
	// from a longer one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		b.left = -1
		return 0, fmt.Errorf("%w: body over the limit", ErrTooLarge)
	}
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// wrapClient returns a copy of c whose bodies are capped at max.
func wrapClient(c *http.Client, max int64) *http.Client {
	cc := *c
	next := cc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cc.Transport = &limitedTransport{next: next, max: max}
	return &cc
}

// fetchError turns a transport error into one that names no URL: url.Error
// messages repeat the address, which may hold a secret.
func fetchError(ctx context.Context, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	switch {
	case errors.Is(err, ErrForbiddenAddress), errors.Is(err, ErrTooManyRedirects),
		errors.Is(err, ErrTooLarge), errors.Is(err, ErrInvalidSource):
		return err
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return fmt.Errorf("%w: timeout", ErrFetch)
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return fmt.Errorf("%w: host not found", ErrFetch)
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return fmt.Errorf("%w: certificate not trusted", ErrFetch)
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok {
		return fmt.Errorf("%w: %s failed", ErrFetch, oe.Op)
	}
	return fmt.Errorf("%w: request failed", ErrFetch)
}

// hostIsIPLiteral reports a literal IP host that the guard would refuse.
func forbiddenLiteral(host string) bool {
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && !publicAddr(ip)
}
