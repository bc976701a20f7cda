// Package browser drives Debian's Chromium through chromedp for Parley's
// end-to-end tests, and holds those tests for the customer-facing web
// pages. New starts a headless browser for one test with a fresh profile,
// trusting only the certificates a test names (the relay's self-signed
// one, by public-key pin), kept away from every network but loopback as far
// as Chromium's switches allow, and with fake camera and microphone for the
// meeting tests. Helpers record the requests a page makes and save
// screenshots to tests/artifacts.
//
// Run the suite in a loopback-only network namespace (see DESIGN.md,
// "Network rule for tests"); the switches here are a second line of
// defence, not the first.
package browser

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"parley/tests/internal/testenv"
)

// DefaultTimeout bounds a browser's whole life when Options.Timeout is
// zero. It only stops a hung browser; no test asserts on durations.
const DefaultTimeout = 3 * time.Minute

// DisabledFeatures is the value New gives --disable-features: Chromium
// features that would talk to Google or probe the local network (media
// router discovery uses SSDP/mDNS on every interface). Pass a "disable-
// features" flag in Options.Flags to replace it; keep these in it.
var DisabledFeatures = []string{
	"Translate",
	"OptimizationHints",
	"MediaRouter",
	"DialMediaRouteProvider",
	"AutofillServerCommunication",
	"CertificateTransparencyComponentUpdater",
	"InterestFeedContentSuggestions",
	"BlinkGenPropertyTrees",
	// Without camera or microphone permission Chromium hides its host
	// addresses behind mDNS names; in the tests' loopback-only network
	// namespace its mDNS responder cannot start, and it then offers no
	// host candidate at all. (On real networks mDNS works, and the relay
	// learns the browser's address from its connectivity checks.)
	"WebRtcHideLocalIpsWithMdns",
}

// Options configures a browser started by New.
type Options struct {
	// TrustCertFiles are PEM certificate files, such as a relay's
	// DATA/tls/cert.pem, whose public keys Chromium accepts without a CA
	// (--ignore-certificate-errors-spki-list). Every other certificate
	// error still fails the load.
	TrustCertFiles []string
	// Timeout bounds the browser's whole life; zero means DefaultTimeout.
	Timeout time.Duration
	// Width and Height set the window size; zero means 1280×800.
	Width, Height int
	// Flags add or override Chromium switches, named without "--": true
	// adds a bare switch, false removes one of New's, a string sets a
	// value.
	Flags map[string]any
}

// New starts headless Chromium (testenv.Chromium: the test fails under
// CI=true and is skipped elsewhere when Chromium is missing) with a fresh
// profile in t.TempDir() and returns the context of its first tab, for
// chromedp.Run and chromedp.Do. The browser is closed when the test ends;
// if the test failed, Chromium's own output is logged.
//
// Switches: --headless --no-sandbox --disable-gpu
// --disable-background-networking --disable-component-update
// --disable-sync --no-first-run --disable-quic --no-proxy-server
// --host-resolver-rules (every host name and IP literal except localhost,
// 127.0.0.1 and ::1 fails to resolve, so pages cannot reach other hosts)
// --allow-loopback-in-peer-connection --use-fake-device-for-media-stream
// --use-fake-ui-for-media-stream, plus chromedp's defaults and
// --ignore-certificate-errors-spki-list for Options.TrustCertFiles.
func New(t testing.TB, opts Options) context.Context {
	t.Helper()
	exe := testenv.Chromium(t)
	var pins []string
	for _, f := range opts.TrustCertFiles {
		pin, err := SPKIHashFile(f)
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
		pins = append(pins, pin)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	w, h := opts.Width, opts.Height
	if w <= 0 || h <= 0 {
		w, h = 1280, 800
	}
	// The profile must be a fresh folder: Chromium honours the SPKI list
	// only together with --user-data-dir.
	profile := t.TempDir()

	flags := map[string]any{
		"headless":                               true,
		"no-sandbox":                             true,
		"disable-gpu":                            true,
		"disable-background-networking":          true,
		"disable-component-update":               true,
		"disable-sync":                           true,
		"no-first-run":                           true,
		"disable-quic":                           true,
		"disable-domain-reliability":             true,
		"disable-client-side-phishing-detection": true,
		"no-pings":                               true,
		"no-proxy-server":                        true,
		"host-resolver-rules":                    "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE ::1",
		"disable-features":                       strings.Join(DisabledFeatures, ","),
		"allow-loopback-in-peer-connection":      true,
		"use-fake-device-for-media-stream":       true,
		"use-fake-ui-for-media-stream":           true,
		"autoplay-policy":                        "no-user-gesture-required",
	}
	if len(pins) > 0 {
		flags["ignore-certificate-errors-spki-list"] = strings.Join(pins, ",")
	}
	for k, v := range opts.Flags {
		flags[k] = v
	}

	out := &syncBuffer{}
	allocOpts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(w, h),
		chromedp.CombinedOutput(out),
	)
	names := make([]string, 0, len(flags))
	for k := range flags {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		allocOpts = append(allocOpts, chromedp.Flag(k, flags[k]))
	}

	base, cancelBase := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, allocOpts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close gracefully, then make sure the process is gone (cancelAlloc
		// waits for it) before t.TempDir removes the profile.
		closeCtx, cancelClose := context.WithTimeout(ctx, 15*time.Second)
		_ = chromedp.Cancel(closeCtx)
		cancelClose()
		cancelCtx()
		cancelAlloc()
		cancelBase()
		if t.Failed() {
			t.Logf("chromium output (tail, D-Bus noise left out):\n%s", tail(withoutDBus(out.String()), 6000))
		}
	})
	// The first Do starts the browser and opens the tab.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browser: start %s: %v\nchromium output:\n%s", exe, err, tail(withoutDBus(out.String()), 6000))
	}
	return ctx
}

// NewTab opens another tab in the browser of ctx (from New) and returns
// its context; the tab shares the first tab's cookies and storage. With
// isolated it gets its own browser context (separate cookies and storage,
// like a second visitor). It is closed when the test ends.
func NewTab(t testing.TB, ctx context.Context, isolated bool) context.Context {
	t.Helper()
	var opts []chromedp.ContextOption
	if isolated {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	tab, cancel := chromedp.NewContext(ctx, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("browser: open tab: %v", err)
	}
	return tab
}

// SPKIHash returns the base64 SHA-256 of the SubjectPublicKeyInfo of the
// first certificate in certPEM: the form Chromium's
// --ignore-certificate-errors-spki-list takes.
func SPKIHash(certPEM []byte) (string, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", fmt.Errorf("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("parse certificate: %w", err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// SPKIHashFile is SPKIHash of a PEM file.
func SPKIHashFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("certificate to trust: %w", err)
	}
	h, err := SPKIHash(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// RequestLog records the URL of every request a tab sends
// (Network.requestWillBeSent), including redirects, subresources, fetch
// and XHR.
type RequestLog struct {
	mu   sync.Mutex
	urls []string
}

// RecordRequests starts recording the requests of the tab ctx. Call it
// before the navigation whose requests matter.
func RecordRequests(t testing.TB, ctx context.Context) *RequestLog {
	t.Helper()
	l := &RequestLog{}
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil {
			l.mu.Lock()
			l.urls = append(l.urls, e.Request.URL)
			l.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("browser: listen for requests: %v", err)
	}
	return l
}

// URLs returns the URLs recorded so far, in order.
func (l *RequestLog) URLs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.urls)
}

// Outside returns the recorded URLs that do not start with base followed
// by "/" (or equal base): requests that left the relay.
func (l *RequestLog) Outside(base string) []string {
	base = strings.TrimSuffix(base, "/")
	var out []string
	for _, u := range l.URLs() {
		if u != base && !strings.HasPrefix(u, base+"/") {
			out = append(out, u)
		}
	}
	return out
}

// Screenshot takes a full-page PNG screenshot of the tab, writes it to
// tests/artifacts/name (the folder is git-ignored) and returns the decoded
// image and the file's path.
func Screenshot(t testing.TB, ctx context.Context, name string) (image.Image, string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 means PNG
	if err != nil {
		t.Fatalf("browser: screenshot: %v", err)
	}
	path := filepath.Join(testenv.ArtifactDir(t), name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatalf("browser: write screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("browser: screenshot %s is not a PNG: %v", path, err)
	}
	return img, path
}

// Colours counts the distinct colours of img, stopping at limit.
func Colours(img image.Image, limit int) int {
	seen := map[[4]uint32]struct{}{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = struct{}{}
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// withoutDBus drops Chromium's complaints about the missing D-Bus, which
// are harmless in containers and hide the lines that matter.
func withoutDBus(s string) string {
	lines := strings.Split(s, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !strings.Contains(l, ":ERROR:dbus/") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
