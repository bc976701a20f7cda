package signing_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"parley/relay/channels/fake"
	"parley/relay/notify"
	"parley/relay/pdfrender/pdfrendertest"
	"parley/relay/server"
	"parley/relay/signing/pdf"
	"parley/signpad"
	"parley/signpad/envelope"
	"parley/signpad/iso19794"
	"parley/tests/browser"
	"parley/tests/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Timeouts that only stop a hung test; nothing asserts on durations.
const (
	mailTimeout = 60 * time.Second
	stepTimeout = 45 * time.Second
)

const (
	adminPassword   = "Kiesel-Leuchtturm-8813!"
	advisorEmail    = "erika.qz@bank.test"
	advisorPassword = "Anker-Morgenrot-5521#"
	twilioSID       = "ACf00dfeedf00dfeedf00dfeedf00dfeed"
	twilioToken     = "twilio-test-token"
	docTitle        = "Kreditvertrag Familie Quellmann"
	placeText       = "Kiel, 23.11.2026"
)

var (
	signURL = regexp.MustCompile(`https://127\.0\.0\.1:\d+/s/psg_[A-Za-z0-9_-]{43}`)
	smsCode = regexp.MustCompile(`\b([0-9]{6})\b`)
)

// signer is one customer of the test.
type signer struct {
	id, email, mobile string
}

// TestCustomersSignInChromium: an advisor uploads a two-page PDF, places
// fields for two customers and themselves and sends the process; each
// customer opens the mailed link in a fresh Chromium context, asks for the
// SMS code, is refused with a wrong code (the relay's message, in German
// for the first and in the relay's English for the second), confirms the
// right code from the fake Twilio, sees the document, fills the text field
// and signs: the first with synthetic pen input carrying pressure, tilt
// and hover, the second with a finger (touch with force); the advisor
// signs through the API; the completion mail carries the final
// PDF, which pdf.Verify and pdfsig accept with every signature valid; the
// first customer's biometric envelope, opened with the trustee's private
// key, holds the pen's pressure and hover samples, the second one's the
// finger's pressure. A forged link shows a
// clear error page, and the pages load nothing from outside the relay.
func TestCustomersSignInChromium(t *testing.T) {
	testenv.Chromium(t)
	mails := startMail(t)
	tw := &fake.Twilio{AccountSID: twilioSID, AuthToken: twilioToken}
	twSrv := httptest.NewServer(tw)
	t.Cleanup(twSrv.Close)
	dir := t.TempDir()
	s := testenv.StartRelayServer(t, server.Options{DataDir: dir, TenantSlug: "bank", TenantName: "Musterbank", RenderCacheDir: pdfrendertest.CacheDir(),
		AdminPassword: adminPassword, Mail: server.MailOptions{SMTPAddr: mails.addr, TLS: "none", From: "parley@bank.test",
			SMS: &notify.Twilio{BaseURL: twSrv.URL, AccountSID: twilioSID, AuthToken: twilioToken, From: "+4915100000001", Client: twSrv.Client()}}})
	api := &testenv.API{Base: s.URL(), HTTP: testenv.RelayClient(t, dir)}
	admin, _ := api.Login(t, "bank", "admin", adminPassword)
	admin.Must(t, http.MethodPost, "/api/v1/users", map[string]string{"username": "qxberaterin", "display_name": "Erika Quellmann-Zander",
		"email": advisorEmail, "password": advisorPassword, "role": "advisor"}, http.StatusCreated, nil)
	adv, login := api.Login(t, "bank", "qxberaterin", advisorPassword)
	if login.User.MustChangePassword {
		adv.Must(t, http.MethodPost, "/api/v1/me/password", map[string]string{"current_password": advisorPassword,
			"new_password": advisorPassword + "x"}, http.StatusNoContent, nil)
		adv, _ = api.Login(t, "bank", "qxberaterin", advisorPassword+"x")
	}

	// The admin sets the tenant's trustee key; the private half stays here.
	trustee, err := envelope.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := envelope.MarshalPublicKeyPEM(trustee.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if st, body := raw(t, admin, http.MethodPut, "/api/v1/signing/trustee-key", "application/x-pem-file", pub); st != http.StatusOK {
		t.Fatalf("trustee key: %d %s", st, body)
	}

	custs := []*signer{{email: "ada.sign@example.org", mobile: "+4917012340001"}, {email: "ben.sign@example.org", mobile: "+4917012340002"}}
	for i, c := range custs {
		var out struct{ ID string }
		adv.Must(t, http.MethodPost, "/api/v1/customers", map[string]string{"first_name": []string{"Ada", "Ben"}[i], "last_name": "Quellmann",
			"email": c.email, "mobile": c.mobile}, http.StatusCreated, &out)
		c.id = out.ID
	}

	doc := samplePDF(2)
	st, body := raw(t, adv, http.MethodPost, "/api/v1/signing/processes?lang=de&title="+url.QueryEscape(docTitle), "application/pdf", doc)
	var created struct {
		Process struct{ ID string } `json:"process"`
	}
	if st != http.StatusCreated || json.Unmarshal(body, &created) != nil || created.Process.ID == "" {
		t.Fatalf("create: %d %s", st, body)
	}
	id := created.Process.ID
	field := func(id, kind, signer string, page int, y, h float64, label string) map[string]any {
		return map[string]any{"id": id, "page": page, "kind": kind, "signer": signer, "label": label,
			"rect": map[string]float64{"LLX": 300, "LLY": y, "URX": 540, "URY": y + h}}
	}
	adv.Must(t, http.MethodPut, "/api/v1/signing/processes/"+id+"/fields", map[string]any{
		"signers": []map[string]string{{"role": "customer1", "customer_id": custs[0].id}, {"role": "customer2", "customer_id": custs[1].id}, {"role": "advisor"}},
		"fields": []map[string]any{
			field("sig-c1", "signature", "customer1", 2, 100, 60, ""),
			field("ort-c1", "text", "customer1", 2, 180, 24, "Ort, Datum"),
			field("sig-c2", "signature", "customer2", 2, 220, 80, ""),
			field("sig-adv", "signature", "advisor", 2, 320, 60, ""),
		},
	}, http.StatusOK, nil)
	adv.Must(t, http.MethodPost, "/api/v1/signing/processes/"+id+"/send", nil, http.StatusOK, nil)

	ctx := browser.New(t, browser.Options{TrustCertFiles: []string{testenv.CertFile(dir)},
		Flags: map[string]any{"lang": "de-DE", "accept-lang": "de-DE"}})
	var logs []*browser.RequestLog

	// Customer 1 in German; the wrong code shows the relay's message in
	// the page's German.
	tab1 := browser.NewTab(t, ctx, true)
	logs = append(logs, browser.RecordRequests(t, tab1))
	signInBrowser(t, s, tab1, mails, tw, custs[0], "de", "Der Code ist falsch.", map[string]string{"ort-c1": placeText}, len(doc), drawPen)
	do(t, tab1, "reload after signing", chromedp.Reload(), chromedp.WaitVisible(`#sign[data-view="signed"]`))

	// Customer 2 switches to English (the relay's own message) and signs
	// with a finger.
	tab2 := browser.NewTab(t, ctx, true)
	logs = append(logs, browser.RecordRequests(t, tab2))
	signInBrowser(t, s, tab2, mails, tw, custs[1], "en", "The code is wrong.", nil, len(doc)+1, drawTouch)

	// The advisor signs last, through the API.
	mails.waitFor(t, advisorEmail, 1)
	adv.Must(t, http.MethodPost, "/api/v1/signing/processes/"+id+"/sign", map[string]any{"pointer": penJSON()}, http.StatusOK, nil)

	done := mails.waitFor(t, custs[0].email, 2)
	if len(done.Attachments) != 1 || done.Attachments[0].Type != "application/pdf" {
		t.Fatalf("completion mail carries %d attachments", len(done.Attachments))
	}
	final := done.Attachments[0].Data

	// The page of customer 1 now offers the download; it is the same PDF.
	do(t, tab1, "completed", chromedp.Reload(), chromedp.WaitVisible(`#sign[data-view="completed"]`), chromedp.WaitVisible(`#download`))
	href := eval[string](t, tab1, `document.getElementById('download').getAttribute('href')`)
	if !strings.HasSuffix(href, "/document?download=1") {
		t.Fatalf("download link %q", href)
	}
	if st, b := raw(t, &testenv.API{Base: api.Base, HTTP: api.HTTP}, http.MethodGet, href, "", nil); st != http.StatusOK || !bytes.Equal(b, final) {
		t.Fatalf("download from the page: %d, %d bytes; the attachment has %d", st, len(b), len(final))
	}

	// The final PDF verifies with the tenant's seal CA and in pdfsig.
	_, caPEM := raw(t, admin, http.MethodGet, "/api/v1/signing/seal-ca", "", nil)
	blk, _ := pem.Decode(caPEM)
	if blk == nil {
		t.Fatalf("seal CA: %q", caPEM)
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	reports, err := pdf.Verify(final, roots)
	if err != nil || len(reports) != 4 {
		t.Fatalf("verify: %d reports, %v", len(reports), err)
	}
	for i, r := range reports {
		if !r.Valid || !r.ChainVerified {
			t.Errorf("signature %d: %+v", i+1, r)
		}
	}
	pdfsig := testenv.RequireTool(t, "/usr/bin/pdfsig")
	f := filepath.Join(t.TempDir(), "final.pdf")
	if err := os.WriteFile(f, final, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(pdfsig, f).CombinedOutput()
	if n, bad := strings.Count(string(out), "Signature Validation: Signature is Valid."), strings.Count(string(out), "Signature Validation:"); n != 4 || bad != 4 {
		t.Fatalf("pdfsig: %d of %d signatures valid, want 4:\n%s", n, bad, out)
	}

	// Customer 1's envelope: the pen's pressure, tilt and hover samples.
	r1 := reports[0]
	if r1.Role != "customer1" || !r1.EnvelopeBound {
		t.Fatalf("first step %+v", r1)
	}
	sig := openSignature(t, trustee, final[:r1.RevisionEnd], r1.EnvelopeSHA256, "browser pointer:pen")
	if !sig.Device.Caps.Has(signpad.CapPressure) || !sig.Device.Caps.Has(signpad.CapTilt) {
		t.Fatalf("device %+v", sig.Device)
	}
	pressures := map[int32]bool{}
	hover, down, tilted := 0, 0, 0
	for _, smp := range sig.Samples {
		if !smp.Down {
			hover++
			continue
		}
		down++
		if smp.Pressure > 0 {
			pressures[smp.Pressure] = true
		}
		if smp.TiltX != 0 || smp.TiltY != 0 {
			tilted++
		}
	}
	if len(pressures) < 10 || hover < 3 || tilted == 0 || down < 40 {
		t.Fatalf("customer 1's signature: %d pen-down samples with %d distinct pressures, %d tilted, %d hover samples",
			down, len(pressures), tilted, hover)
	}
	for p := range pressures {
		if f := float64(p) / 65535; f < 0.15 || f > 0.95 {
			t.Errorf("pressure %.3f outside what the test's pen pressed", f)
		}
	}

	// Customer 2's finger: touch with pressure, no hover.
	r2 := reports[1]
	sig2 := openSignature(t, trustee, final[:r2.RevisionEnd], r2.EnvelopeSHA256, "browser pointer:touch")
	touchPressures := map[int32]bool{}
	for _, smp := range sig2.Samples {
		if smp.Down && smp.Pressure > 0 {
			touchPressures[smp.Pressure] = true
		}
	}
	if len(touchPressures) < 10 || !sig2.Device.Caps.Has(signpad.CapPressure) {
		t.Fatalf("customer 2's signature: %d samples, %d distinct pressures, caps %v", len(sig2.Samples), len(touchPressures), sig2.Device.Caps)
	}

	for _, c := range custs {
		if n := mails.count(c.email); n != 2 {
			t.Errorf("%d mails to a customer, want the invitation and the completion", n)
		}
	}

	// The page may show blob: images (the pages) and be framed by the
	// relay's own pages (the join page's overlay), nothing else is
	// loosened; every other page stays unframeable.
	res, err := api.HTTP.Get(s.URL() + "/s/sign")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); res.StatusCode != http.StatusOK ||
		csp != "default-src 'self'; img-src 'self' blob:; frame-ancestors 'self'; base-uri 'none'" ||
		res.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Errorf("signing page: %d, CSP %q, X-Frame-Options %q", res.StatusCode, csp, res.Header.Get("X-Frame-Options"))
	}
	for _, page := range []string{"/j/x", "/b/x", "/"} {
		res, err := api.HTTP.Get(s.URL() + page)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || res.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: CSP %q, X-Frame-Options %q: framing must stay refused", page, csp, res.Header.Get("X-Frame-Options"))
		}
	}

	// A forged link shows a clear error page.
	tab3 := browser.NewTab(t, ctx, true)
	logs = append(logs, browser.RecordRequests(t, tab3))
	do(t, tab3, "forged link", chromedp.Navigate(s.URL()+"/s/psg_"+strings.Repeat("A", 43)), chromedp.WaitVisible(`#sign[data-view="missing"]`))
	if h := text(t, tab3, "#heading"); h != "Dieser Link funktioniert nicht" {
		t.Errorf("forged link heading %q", h)
	}
	do(t, tab3, "malformed link", chromedp.Navigate(s.URL()+"/s/nonsense"), chromedp.WaitVisible(`#sign[data-view="missing"]`))
	// A session handed over in the fragment (in-meeting and kiosk
	// signing) leaves the address bar at once; a forged one gets nowhere.
	do(t, tab3, "forged session", chromedp.Navigate(s.URL()+"/s/psg_"+strings.Repeat("B", 43)+"#session=pss_"+strings.Repeat("C", 43)),
		chromedp.WaitVisible(`#sign[data-view="missing"]`))
	if h := eval[string](t, tab3, `location.hash + '|' + location.pathname`); h != "|/s/sign" {
		t.Errorf("the handed-over session stays in the address bar: %q", h)
	}
	for _, l := range logs {
		if out := l.Outside(s.URL()); len(out) > 0 {
			for _, u := range out {
				// The page images' and the download's blob URLs.
				if !strings.HasPrefix(u, "blob:"+s.URL()+"/") {
					t.Errorf("the page loaded from outside the relay: %s", u)
				}
			}
		}
	}
}

// signInBrowser takes one customer through the page: the mailed link, the
// SMS code (a wrong one first), the document, the text fields and a pen
// signature.
func signInBrowser(t *testing.T, s *server.Server, tab context.Context, mails *mailServer, tw *fake.Twilio, c *signer, lang, wrongMsg string, texts map[string]string, minDoc int, draw func(*testing.T, context.Context)) {
	t.Helper()
	invite := mails.waitFor(t, c.email, 1)
	link := signURL.FindString(invite.Text)
	if link == "" || !strings.HasPrefix(link, s.URL()+"/s/") {
		t.Fatalf("no signing link on the relay in the invitation:\n%s", invite.Text)
	}
	do(t, tab, "open the link", chromedp.Navigate(link), chromedp.WaitVisible(`#sign[data-view="code"]`))
	if p := eval[string](t, tab, `location.pathname`); p != "/s/sign" {
		t.Errorf("the token stays in the address bar: %s", p)
	}
	if lang == "en" {
		do(t, tab, "switch to English", chromedp.Click(`button[data-lang="en"]`, chromedp.NodeVisible))
	}
	if got := eval[string](t, tab, `document.documentElement.lang`); got != lang {
		t.Errorf("page language %q, want %q", got, lang)
	}
	if tt := text(t, tab, "#doc-title"); tt != docTitle {
		t.Errorf("title %q", tt)
	}
	do(t, tab, "ask for the code", chromedp.Click(`#send-code`, chromedp.NodeVisible), chromedp.WaitVisible(`#code`))
	code := waitSMS(t, s, tw, c.mobile)
	if !strings.Contains(text(t, tab, "#resend"), " s)") {
		t.Errorf("no cooldown on the resend button: %q", text(t, tab, "#resend"))
	}
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	do(t, tab, "wrong code",
		chromedp.SendKeys(`#code`, wrong, chromedp.NodeVisible),
		chromedp.Click(`#verify`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#code-error[data-code="wrong_code"]`))
	if msg := text(t, tab, "#code-error"); msg != wrongMsg {
		t.Errorf("wrong code shows %q, want %q", msg, wrongMsg)
	}
	do(t, tab, "right code",
		chromedp.SendKeys(`#code`, code, chromedp.NodeVisible),
		chromedp.Click(`#verify`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#sign[data-view="sign"]`),
		// The signer's fields are on page 2, scrolled into view: its image
		// loads (lazily, as it comes into view).
		chromedp.WaitReady(`#pages figure.page[data-page="2"][data-loaded="true"]`),
		chromedp.WaitReady(`#pdf-open[data-bytes]`))
	// The document shows as page images the relay rendered (for the
	// second signer from the first one's revision), from blob: URLs.
	type pageImg struct {
		Src, Alt      string
		Width, Height int
		Pages         int
	}
	pg := eval[pageImg](t, tab, `(() => { const i = document.querySelector('#pages figure.page[data-page="2"] img');
		return {Src: i.src, Alt: i.alt, Width: i.naturalWidth, Height: i.naturalHeight, Pages: document.querySelectorAll('#pages figure.page').length}; })()`)
	if !strings.HasPrefix(pg.Src, "blob:"+s.URL()+"/") || pg.Width < 200 || pg.Height*595 < pg.Width*842-595*2 || pg.Pages != 2 || pg.Alt == "" {
		t.Errorf("page 2 image: %+v", pg)
	}
	// The signer's signature field is outlined where the advisor put it
	// (x 300..540 of 595 pt) and visible in the page list.
	type outline struct {
		Left, Width float64 // percent of the page's width
		N           int
		Visible     bool
		Tag         string
	}
	o := eval[outline](t, tab, `(() => { const o = document.querySelector('#pages .field-outline.sig'); const b = document.getElementById('pages').getBoundingClientRect();
		const r = o.getBoundingClientRect();
		return {Left: parseFloat(o.style.left), Width: parseFloat(o.style.width), N: document.querySelectorAll('#pages .field-outline').length,
			Visible: r.top >= b.top && r.bottom <= b.bottom && r.height > 0, Tag: o.textContent}; })()`)
	if math.Abs(o.Left-100*300.0/595) > 0.01 || math.Abs(o.Width-100*240.0/595) > 0.01 || !o.Visible || o.Tag == "" || o.N != len(texts)+1 {
		t.Errorf("field outline: %+v", o)
	}
	// The PDF itself can be downloaded (the revision the signer signs).
	if n := atoi(eval[string](t, tab, `document.getElementById('pdf-open').getAttribute('data-bytes')`)); n < minDoc {
		t.Errorf("the download has %d bytes, the original %d", n, minDoc)
	}
	browser.Screenshot(t, tab, "signing-"+lang+".png")
	for fid, v := range texts {
		do(t, tab, "fill "+fid, chromedp.SendKeys(`#text-`+fid, v, chromedp.NodeVisible))
	}
	do(t, tab, "sign without drawing", chromedp.Click(`#submit`, chromedp.NodeVisible), chromedp.WaitVisible(`#pad-error[data-code="empty"]`))
	draw(t, tab)
	if n := eval[string](t, tab, `document.getElementById('pad').getAttribute('data-events') || ''`); atoi(n) < 40 {
		t.Fatalf("the pad recorded %q events", n)
	}
	do(t, tab, "sign", chromedp.Click(`#submit`, chromedp.NodeVisible), chromedp.WaitVisible(`#sign[data-view="signed"]`))
}

// drawPen draws two strokes on the pad with CDP mouse events of pointer
// type "pen" carrying force (PointerEvent.pressure) and tilt, with hover
// moves before, between and after: Chromium headless turns these into
// pen PointerEvents, so no script has to fake the events.
func drawPen(t *testing.T, tab context.Context) {
	t.Helper()
	b := padRect(t, tab)
	pen := func(typ input.DispatchMouseEventType, fx, fy, force float64, pressed bool) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			p := input.DispatchMouseEventParams{Type: typ, X: b.X + fx*b.W, Y: b.Y + fy*b.H, PointerType: input.DispatchMouseEventPointerTypePen,
				Force: force, TiltX: 20, TiltY: -10}
			if pressed || typ == input.DispatchMouseEventTypeMousePressed || typ == input.DispatchMouseEventTypeMouseReleased {
				p.Button = input.MouseButtonLeft
				p.ClickCount = 1
			}
			if pressed || typ == input.DispatchMouseEventTypeMousePressed {
				p.Buttons = 1
			}
			_, err := cdp.Call(ctx, tg, input.DispatchMouseEvent, p)
			return chromedp.Void{}, err
		}
	}
	var acts []chromedp.Action[chromedp.Void]
	for i := range 4 { // hover before touching
		acts = append(acts, pen(input.DispatchMouseEventTypeMouseMoved, 0.05+0.02*float64(i), 0.5, 0, false))
	}
	for s := range 2 {
		x0 := 0.1 + 0.45*float64(s)
		acts = append(acts, pen(input.DispatchMouseEventTypeMousePressed, x0, 0.5, 0.3, true))
		for i := 1; i <= 30; i++ {
			f := float64(i) / 30
			force := 0.25 + 0.6*math.Abs(math.Sin(f*3+float64(s)))
			acts = append(acts, pen(input.DispatchMouseEventTypeMouseMoved, x0+0.35*f, 0.5+0.3*math.Sin(f*9), force, true))
		}
		acts = append(acts, pen(input.DispatchMouseEventTypeMouseReleased, x0+0.35, 0.5+0.3*math.Sin(9), 0, false))
		acts = append(acts, pen(input.DispatchMouseEventTypeMouseMoved, x0+0.4, 0.45, 0, false)) // hover between strokes
	}
	do(t, tab, "draw with the pen", acts...)
}

// padBox is the pad's box in viewport CSS pixels.
type padBox struct{ X, Y, W, H float64 }

func padRect(t *testing.T, tab context.Context) padBox {
	t.Helper()
	do(t, tab, "scroll to the pad", chromedp.ScrollIntoView(`#pad`))
	b := eval[padBox](t, tab, `(() => { const r = document.getElementById('pad').getBoundingClientRect(); return {X: r.left, Y: r.top, W: r.width, H: r.height}; })()`)
	if b.W < 100 || b.H < 20 {
		t.Fatalf("pad box %+v", b)
	}
	return b
}

// drawTouch draws one stroke with CDP touch events whose force varies:
// touch PointerEvents with pressure.
func drawTouch(t *testing.T, tab context.Context) {
	t.Helper()
	b := padRect(t, tab)
	id := 1.0
	touch := func(typ input.DispatchTouchEventType, fx, fy, force float64) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			p := input.DispatchTouchEventParams{Type: typ, TouchPoints: []*input.TouchPoint{}}
			if typ != input.DispatchTouchEventTypeTouchEnd {
				p.TouchPoints = append(p.TouchPoints, &input.TouchPoint{X: b.X + fx*b.W, Y: b.Y + fy*b.H, Force: &force, ID: &id})
			}
			_, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, p)
			return chromedp.Void{}, err
		}
	}
	acts := []chromedp.Action[chromedp.Void]{touch(input.DispatchTouchEventTypeTouchStart, 0.1, 0.5, 0.3)}
	for i := 1; i <= 40; i++ {
		f := float64(i) / 40
		acts = append(acts, touch(input.DispatchTouchEventTypeTouchMove, 0.1+0.8*f, 0.5+0.3*math.Sin(f*8), 0.2+0.7*math.Abs(math.Sin(f*4))))
	}
	acts = append(acts, touch(input.DispatchTouchEventTypeTouchEnd, 0, 0, 0))
	do(t, tab, "draw with a finger", acts...)
}

// waitSMS waits for the code SMS to mobile at the fake Twilio and returns
// its code.
func waitSMS(t *testing.T, s *server.Server, tw *fake.Twilio, mobile string) string {
	t.Helper()
	deadline := time.Now().Add(mailTimeout)
	for {
		for _, m := range tw.Sent() {
			if m.To == mobile {
				c := smsCode.FindStringSubmatch(m.Body)
				if c == nil || strings.Contains(m.Body, "http") {
					t.Fatalf("code SMS %q", m.Body)
				}
				return c[1]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SMS to %s (rejected: %v)", mobile, tw.Rejected())
		}
		if _, err := s.DeliverDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openSignature finds the envelope whose SHA-256 is sum in doc, opens it
// with the trustee's key and decodes its ISO/IEC 19794-7 record.
func openSignature(t *testing.T, trustee *ecdh.PrivateKey, doc, sum []byte, device string) signpad.Signature {
	t.Helper()
	env := findEnvelope(t, doc, sum)
	c, err := envelope.Open(trustee, env)
	if err != nil {
		t.Fatalf("open envelope: %v", err)
	}
	if !strings.HasPrefix(c.Device, device) {
		t.Errorf("envelope device %q", c.Device)
	}
	var rec iso19794.Record
	if err := rec.UnmarshalBinary(c.Record); err != nil {
		t.Fatalf("ISO record: %v", err)
	}
	sig, err := rec.Signature()
	if err != nil {
		t.Fatalf("ISO record: %v", err)
	}
	return sig
}

// findEnvelope finds the embedded envelope whose SHA-256 is sum.
func findEnvelope(t *testing.T, doc, sum []byte) []byte {
	t.Helper()
	for off := 0; ; {
		i := bytes.Index(doc[off:], []byte("PSE1"))
		if i < 0 {
			t.Fatal("envelope not found")
		}
		start := off + i
		for end := start + envelope.HeaderSize; end <= len(doc); end++ {
			if bytes.HasPrefix(doc[end:], []byte("\nendstream")) || bytes.HasPrefix(doc[end:], []byte("\r\nendstream")) {
				if s := sha256.Sum256(doc[start:end]); bytes.Equal(s[:], sum) {
					return doc[start:end]
				}
			}
		}
		off = start + 4
	}
}

// raw sends a request with a body of the given content type as a's user
// and returns the status and body.
func raw(t *testing.T, a *testenv.API, method, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.Base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	res, err := a.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// samplePDF writes an n-page PDF with a classic xref table.
func samplePDF(n int) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	var kids []string
	for i := range n {
		kids = append(kids, fmt.Sprintf("%d 0 R", 4+2*i))
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> >>", strings.Join(kids, " "), n))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	for i := range n {
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /Contents %d 0 R >>", 5+2*i))
		content := fmt.Sprintf("BT /F1 24 Tf 72 760 Td (Kreditvertrag Seite %d) Tj ET", i+1)
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// penJSON is the advisor's synthetic pen signature (Pointer Events JSON).
func penJSON() map[string]any {
	at := func(i int) map[string]any {
		f := float64(i) / 100
		return map[string]any{"t": 500 + float64(i)*5, "x": 40 + 500*f, "y": 100 + 50*math.Sin(f*10), "pressure": 0.3 + 0.4*math.Abs(math.Sin(f*6))}
	}
	evs := []map[string]any{{"type": "down"}}
	for k, v := range at(0) {
		evs[0][k] = v
	}
	for i := 1; i <= 100; i++ {
		e := map[string]any{"type": "move"}
		for k, v := range at(i) {
			e[k] = v
		}
		evs = append(evs, e)
	}
	up := map[string]any{"type": "up"}
	for k, v := range at(101) {
		up[k] = v
	}
	evs = append(evs, up)
	return map[string]any{"v": 1, "pointerType": "pen", "pointerId": 3, "field": map[string]int{"width": 600, "height": 200}, "events": evs}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return n
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// do runs chromedp actions with a step timeout, failing the test with
// what was being done and what the page shows.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
			`(document.querySelector('main') ? document.querySelector('main').dataset.view : '') + ' | ' + document.getElementById('status').textContent + ' | ' +
			Array.from(document.querySelectorAll('[role=alert]:not([hidden])')).map(e => e.textContent).join(' / ')`))
		t.Fatalf("browser: %s: %v\npage shows: %s", what, err, shown)
	}
}

// text is the visible text of the first element matching sel, trimmed.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Text(sel, chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func eval[T any](t *testing.T, ctx context.Context, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("browser: %s: %v", expr, err)
	}
	return v
}
