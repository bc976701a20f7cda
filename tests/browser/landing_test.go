package browser

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"parley/relay/server"
	"parley/tests/internal/testenv"
)

// startRelay starts a relay in-process and a browser that trusts only its
// certificate.
func startRelay(t *testing.T) (*server.Server, string) {
	t.Helper()
	dir := t.TempDir()
	s := testenv.StartRelayServer(t, server.Options{DataDir: dir, TenantSlug: "bank"})
	return s, dir
}

// relayStatus is what the landing page shows about the relay's health.
type relayStatus struct {
	State string `json:"state"`
	Text  string `json:"text"`
}

func TestLandingPageShowsRelayOnline(t *testing.T) {
	s, dir := startRelay(t)
	ctx := New(t, Options{TrustCertFiles: []string{testenv.CertFile(dir)}})

	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL()+"/")); err != nil {
		t.Fatalf("load %s/: %v", s.URL(), err)
	}
	st, err := chromedp.Run(ctx, chromedp.Poll[relayStatus](`(() => {
		const el = document.getElementById('relay-status');
		if (!el || el.dataset.state === 'checking') return null;
		return {state: el.dataset.state, text: el.textContent.trim()};
	})()`))
	if err != nil {
		t.Fatalf("#relay-status never left the checking state: %v", err)
	}
	if st.State != "ok" || st.Text != "online" {
		t.Errorf("#relay-status shows state %q text %q, want state \"ok\" text \"online\"", st.State, st.Text)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "Parley" {
		t.Errorf("title = %q, want \"Parley\"", title)
	}

	img, path := Screenshot(t, ctx, "landing.png")
	b := img.Bounds()
	if b.Dx() < 100 || b.Dy() < 100 {
		t.Errorf("screenshot %s is %dx%d, want a full page", path, b.Dx(), b.Dy())
	}
	if n := Colours(img, 64); n < 2 {
		t.Errorf("screenshot %s has a single colour: the page rendered nothing", path)
	} else {
		t.Logf("screenshot %s: %dx%d, %d+ colours", path, b.Dx(), b.Dy(), n)
	}
}

func TestLandingPageLoadsOnlyFromRelay(t *testing.T) {
	s, dir := startRelay(t)
	ctx := New(t, Options{TrustCertFiles: []string{testenv.CertFile(dir)}})

	reqs := RecordRequests(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL()+"/")); err != nil {
		t.Fatalf("load %s/: %v", s.URL(), err)
	}
	// The health check is the last request the page makes; once the status
	// shows its answer every request has been sent.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`document.getElementById('relay-status')?.dataset.state === 'ok'`)); err != nil {
		t.Fatalf("#relay-status never became ok: %v", err)
	}

	urls := reqs.URLs()
	// The document and the health check's fetch must be among them, or the
	// recorder is not seeing what the page does.
	want := map[string]bool{s.URL() + "/": false, s.URL() + "/healthz": false}
	for _, u := range urls {
		if _, ok := want[u]; ok {
			want[u] = true
		}
	}
	for u, seen := range want {
		if !seen {
			t.Errorf("the page never requested %s (requests: %q)", u, urls)
		}
	}
	if out := reqs.Outside(s.URL()); len(out) > 0 {
		t.Errorf("the landing page sent requests outside the relay %s: %q", s.URL(), out)
	}
}

func TestLandingPageHeaders(t *testing.T) {
	s, dir := startRelay(t)
	ctx := New(t, Options{TrustCertFiles: []string{testenv.CertFile(dir)}})

	// Raw response headers (Set-Cookie included) come in
	// Network.responseReceivedExtraInfo; match them to the document's
	// request by id.
	var mu sync.Mutex
	var docID network.RequestID
	raw := map[network.RequestID]*network.EventResponseReceivedExtraInfo{}
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if e.Type == network.ResourceTypeDocument && e.Request != nil && e.Request.URL == s.URL()+"/" {
				docID = e.RequestID
			}
		case *network.EventResponseReceivedExtraInfo:
			raw[e.RequestID] = e
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(s.URL()+"/"))
	if err != nil {
		t.Fatalf("load %s/: %v", s.URL(), err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("GET / answered %d", resp.Status)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`document.getElementById('relay-status')?.dataset.state === 'ok'`)); err != nil {
		t.Fatalf("#relay-status never became ok: %v", err)
	}

	mu.Lock()
	extra := raw[docID]
	mu.Unlock()
	headers := network.Headers(resp.Headers)
	if extra != nil {
		headers = extra.Headers // raw, as received
		if len(extra.BlockedCookies) > 0 {
			t.Errorf("GET / tried to set cookies (blocked by the browser): %d", len(extra.BlockedCookies))
		}
	} else {
		t.Logf("no responseReceivedExtraInfo for the document; checking the response's headers")
	}
	csp, setCookie := "", ""
	for k, v := range headers {
		switch strings.ToLower(k) {
		case "content-security-policy":
			csp, _ = v.(string)
		case "set-cookie":
			setCookie, _ = v.(string)
			if setCookie == "" {
				setCookie = "(present)"
			}
		}
	}
	if !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("GET / Content-Security-Policy = %q, want one with default-src 'self'", csp)
	}
	if setCookie != "" {
		t.Errorf("GET / sets a cookie: %s", setCookie)
	}
	// Nor did anything on the page (scripts included) leave a cookie.
	jar, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL() + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range jar.Cookies {
		t.Errorf("the browser holds a cookie for the relay after loading /: %s", c.Name)
	}
	docCookie, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if docCookie != "" {
		t.Errorf("document.cookie = %q, want empty", docCookie)
	}

	// The same, without a browser in the way.
	c := testenv.RelayClient(t, dir)
	res, err := c.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET / over Go's client: no Content-Security-Policy")
	}
	if v := res.Header.Values("Set-Cookie"); len(v) > 0 {
		t.Errorf("GET / over Go's client: Set-Cookie %q", v)
	}
}

// TestOtherCertificatesStayUntrusted checks the harness itself: the
// browser accepts the relay's self-signed certificate only because New
// pins its public key, not because certificate errors are ignored.
func TestOtherCertificatesStayUntrusted(t *testing.T) {
	s, _ := startRelay(t)
	_, otherDir := startRelay(t) // a second relay: a different key
	ctx := New(t, Options{TrustCertFiles: []string{testenv.CertFile(otherDir)}})

	err := chromedp.Do(ctx, chromedp.Navigate(s.URL()+"/"))
	if err == nil {
		t.Fatalf("the browser loaded %s/ although only another relay's key is pinned", s.URL())
	}
	if !strings.Contains(err.Error(), "ERR_CERT") {
		t.Errorf("load failed with %v, want a certificate error (net::ERR_CERT_...)", err)
	}
}
