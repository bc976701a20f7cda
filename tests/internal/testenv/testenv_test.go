package testenv

import (
	"slices"
	"strings"
	"testing"
)

func banner(lines ...string) *RelayProc {
	p := &RelayProc{stdout: newLineBuffer()}
	p.stdout.Write([]byte(strings.Join(lines, "\n") + "\n"))
	return p
}

func TestParseBanner(t *testing.T) {
	p := banner("", "Parley first start: ...", "Parley relay on https://127.0.0.1:40651 (TCP and QUIC)", "certificate SHA256:AB:CD")
	ok, err := p.parseBanner()
	if !ok || err != nil {
		t.Fatalf("parseBanner = %v, %v", ok, err)
	}
	if p.URL != "https://127.0.0.1:40651" || p.Addr != "127.0.0.1:40651" || p.Fingerprint != "SHA256:AB:CD" {
		t.Errorf("parsed URL %q addr %q fingerprint %q", p.URL, p.Addr, p.Fingerprint)
	}

	if ok, err := banner("Parley relay on https://127.0.0.1:1 (TCP and QUIC)").parseBanner(); ok || err != nil {
		t.Errorf("without the certificate line: %v, %v; want to keep waiting", ok, err)
	}
	for _, addr := range []string{"https://10.1.2.3:8443", "https://example.org:8443", "http://127.0.0.1:1"} {
		if _, err := banner("Parley relay on "+addr+" (TCP and QUIC)", "certificate SHA256:AB").parseBanner(); err == nil {
			t.Errorf("accepted %s; tests must only talk to loopback over HTTPS", addr)
		}
	}
}

func TestLineBufferKeepsPartialLines(t *testing.T) {
	b := newLineBuffer()
	ch := b.changed()
	b.Write([]byte("one\ntw"))
	select {
	case <-ch:
	default:
		t.Errorf("Write did not signal")
	}
	if got := b.lines(); !slices.Equal(got, []string{"one"}) {
		t.Errorf("lines = %q, want [one]", got)
	}
	b.Write([]byte("o\n"))
	if got := b.lines(); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("lines = %q, want [one two]", got)
	}
}

func TestWithoutParleyEnv(t *testing.T) {
	got := withoutParleyEnv([]string{"HOME=/root", "PARLEY_ADMIN_PASSWORD=x", "PATH=/bin", "PARLEY_DATA=/d"})
	if !slices.Equal(got, []string{"HOME=/root", "PATH=/bin"}) {
		t.Errorf("got %q", got)
	}
}
