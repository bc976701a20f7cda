package browser

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"parley/relay/signing"
	"parley/relay/signing/pdf"
	"parley/signpad/envelope"
)

// countConnections is installed before the join page loads (top frame
// only): it counts the signalling WebSockets and the peer connections the
// page opens, so that a test can tell that the call never reconnected.
const countConnections = `if (window.top === window) {
	window.parleyConn = {signals: 0, peers: 0, pc: null};
	const WS = window.WebSocket;
	window.WebSocket = class extends WS {
		constructor(u, p) { super(u, p); if (String(u).includes('/api/v1/signal')) { window.parleyConn.signals++; window.parleyConn.ws = this; } }
	};
	const PC = window.RTCPeerConnection;
	window.RTCPeerConnection = class extends PC {
		constructor(c) { super(c); window.parleyConn.peers++; window.parleyConn.pc = this; }
	};
}`

// connState is what the join page's connection looks like.
type connState struct {
	Signals   int      `json:"signals"`
	Peers     int      `json:"peers"`
	WS        int      `json:"ws"` // readyState of the last signalling socket
	PC        string   `json:"pc"` // connectionState of the last peer connection
	Tracks    []string `json:"tracks"`
	Marker    string   `json:"marker"`
	Indicator string   `json:"indicator"`
}

const readConn = `(() => { const c = window.parleyConn; return {signals: c.signals, peers: c.peers,
	ws: c.ws ? c.ws.readyState : -1, pc: c.pc ? c.pc.connectionState : '',
	tracks: c.pc ? c.pc.getSenders().filter(s => s.track).map(s => s.track.kind + ':' + s.track.readyState) : [],
	marker: window.parleyMarker || '', indicator: document.getElementById('indicator').dataset.state}; })()`

// signDocPDF is a one-page A4 contract with a classic xref table.
func signDocPDF() []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [4 0 R] /Count 1 /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> >>")
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	obj("<< /Type /Page /Parent 2 0 R /Contents 5 0 R >>")
	c := "BT /F1 24 Tf 72 760 Td (Depotvertrag) Tj ET"
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(c), c))
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// send is an advisor request with a raw body; it returns status and body.
func (e *joinEnv) send(t *testing.T, method, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.advisor.Base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+e.advisor.Token)
	res, err := e.advisor.HTTP.Do(req)
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

// sentProcess sets the tenant's trustee key, makes a customer profile and
// sends a one-page process whose only signer is that customer.
func (e *joinEnv) sentProcess(t *testing.T, title string) string {
	t.Helper()
	trustee, err := envelope.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := envelope.MarshalPublicKeyPEM(trustee.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if st, body := e.send(t, http.MethodPut, "/api/v1/signing/trustee-key", "application/x-pem-file", pub); st != http.StatusOK {
		t.Fatalf("trustee key: %d %s", st, body)
	}
	var cust struct{ ID string }
	e.advisor.Must(t, http.MethodPost, "/api/v1/customers", map[string]string{"first_name": "Clara", "last_name": "Zwirnbach",
		"email": "clara.zw@example.org", "mobile": "+4917099887766"}, http.StatusCreated, &cust)
	st, body := e.send(t, http.MethodPost, "/api/v1/signing/processes?lang=de&title="+url.QueryEscape(title), "application/pdf", signDocPDF())
	var created struct {
		Process struct{ ID string } `json:"process"`
	}
	if st != http.StatusCreated || json.Unmarshal(body, &created) != nil || created.Process.ID == "" {
		t.Fatalf("create process: %d %s", st, body)
	}
	id := created.Process.ID
	e.advisor.Must(t, http.MethodPut, "/api/v1/signing/processes/"+id+"/fields", map[string]any{
		"signers": []map[string]string{{"role": "customer1", "customer_id": cust.ID}},
		"fields": []map[string]any{{"id": "sig-c1", "page": 1, "kind": "signature", "signer": "customer1",
			"rect": map[string]float64{"LLX": 300, "LLY": 100, "URX": 540, "URY": 170}}},
	}, http.StatusOK, nil)
	e.advisor.Must(t, http.MethodPost, "/api/v1/signing/processes/"+id+"/send", nil, http.StatusOK, nil)
	return id
}

// waitJSValue polls the page function fn until it returns a non-null
// value.
func waitJSValue[T any](t *testing.T, ctx context.Context, what, fn string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.PollFunction[T](fn, chromedp.WithPollingTimeout(callTimeout)))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// signFrameView is the framed signing page's data-view ("" without the
// overlay).
const signFrameView = `() => { const f = document.querySelector('.sign-overlay iframe');
	const d = f && f.contentDocument; const m = d && d.getElementById('sign');
	return m ? m.dataset.view : ''; }`

// drawInFrame draws two pen strokes with pressure and tilt on the framed
// page's pad with CDP mouse events of pointer type "pen" sent to the call
// page (the top frame): Chromium routes them into the iframe as pen
// PointerEvents.
func drawInFrame(t *testing.T, ctx context.Context) {
	t.Helper()
	type box struct{ X, Y, W, H float64 }
	b, err := chromedp.Run(ctx, chromedp.Evaluate[box](`(() => {
		const f = document.querySelector('.sign-overlay iframe');
		const pad = f.contentDocument.getElementById('pad');
		pad.scrollIntoView({block: 'center'});
		const fr = f.getBoundingClientRect(), r = pad.getBoundingClientRect();
		return {X: fr.left + f.clientLeft + r.left, Y: fr.top + f.clientTop + r.top, W: r.width, H: r.height};
	})()`))
	if err != nil || b.W < 100 || b.H < 20 {
		t.Fatalf("the pad in the overlay: %+v %v", b, err)
	}
	pen := func(typ input.DispatchMouseEventType, fx, fy, force float64, pressed bool) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			p := input.DispatchMouseEventParams{Type: typ, X: b.X + fx*b.W, Y: b.Y + fy*b.H, PointerType: input.DispatchMouseEventPointerTypePen,
				Force: force, TiltX: 15, TiltY: -5}
			if pressed || typ == input.DispatchMouseEventTypeMouseReleased {
				p.Button = input.MouseButtonLeft
				p.ClickCount = 1
			}
			if pressed {
				p.Buttons = 1
			}
			_, err := cdp.Call(ctx, tg, input.DispatchMouseEvent, p)
			return chromedp.Void{}, err
		}
	}
	var acts []chromedp.Action[chromedp.Void]
	for s := range 2 {
		x0 := 0.1 + 0.45*float64(s)
		acts = append(acts, pen(input.DispatchMouseEventTypeMouseMoved, x0-0.02, 0.5, 0, false))
		acts = append(acts, pen(input.DispatchMouseEventTypeMousePressed, x0, 0.5, 0.3, true))
		for i := 1; i <= 30; i++ {
			f := float64(i) / 30
			acts = append(acts, pen(input.DispatchMouseEventTypeMouseMoved, x0+0.35*f, 0.5+0.3*math.Sin(f*9), 0.25+0.6*math.Abs(math.Sin(f*3+float64(s))), true))
		}
		acts = append(acts, pen(input.DispatchMouseEventTypeMouseReleased, x0+0.35, 0.5+0.3*math.Sin(9), 0, false))
	}
	if err := chromedp.Do(ctx, acts...); err != nil {
		t.Fatalf("draw in the overlay: %v", err)
	}
}

// TestSignInsideTheCall: a customer in a video call signs the document
// the advisor presents without leaving the call. Chromium joins the
// meeting as the process's first signer and is admitted; the advisor
// presents; the page's dialog opens the signing page in an overlay over
// the call (focus moves into it, the rest of the page is inert, the own
// camera stays visible); Escape closes it and focus returns to the
// dialog; on a 360 px screen it opens again full-screen, the customer
// signs with a pen (pressure) inside the frame and submits; the framed
// page tells the call page, the overlay closes and its polling stops; the
// final PDF records channel "meeting"; and the call's signalling socket
// and peer connection are the same, still connected ones throughout.
func TestSignInsideTheCall(t *testing.T) {
	e := startJoinEnv(t)
	const title = "Depotvertrag Zwirnbach"
	id := e.sentProcess(t, title)
	m := e.newMeeting(t, "Depotberatung")

	ctx := e.joinBrowser(t, "de-DE", 1280, 900)
	withTestHooks(t, ctx)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: countConnections}); err != nil {
		t.Fatal(err)
	}
	reqs := RecordRequests(t, ctx)
	p := e.joinWaiting(t, ctx, m, "Clara Zwirnbach")
	e.admit(t, m, p)
	waitView(t, ctx, "admitted")
	waitIndicator(t, ctx, "connected")
	run(t, ctx, `window.parleyMarker = 'same page'`)
	before := waitJSValue[connState](t, ctx, "the call's peer connection sending camera and microphone", `() => { const c = `+readConn+`;
		return c.pc === 'connected' && c.tracks.length === 2 && document.getElementById('self-video').videoWidth > 0 ? c : null; }`)
	if before.Signals != 1 || before.Peers != 1 {
		t.Fatalf("before signing: %+v, want one socket and one peer connection", before)
	}

	// The advisor presents: the page asks.
	var pres struct {
		Signer    string `json:"signer"`
		Delivered bool   `json:"delivered"`
	}
	e.advisor.Must(t, http.MethodPost, "/api/v1/signing/processes/"+id+"/present", map[string]string{"meeting_id": m.ID, "participant_id": p.ID}, http.StatusOK, &pres)
	if pres.Signer != "customer1" || !pres.Delivered {
		t.Fatalf("present: %+v", pres)
	}
	ask := waitJSValue[string](t, ctx, "the sign_request dialog", `() => { const b = document.querySelector('.sign-request');
		return b && !b.hidden && document.activeElement === b.querySelector('button.primary') ? b.textContent : null; }`)
	if !strings.Contains(ask, "„"+title+"“ zu unterschreiben") || !strings.Contains(ask, "In neuem Tab öffnen") {
		t.Errorf("the dialog reads %q", ask)
	}
	if href, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.sign-request a.sign-newtab').getAttribute('href')`)); !strings.HasPrefix(href, "/s/psg_") || !strings.Contains(href, "#session=pss_") {
		t.Errorf("the new-tab fallback links to %q", href)
	}

	// Open: the overlay frames the signing page, the call stays.
	if err := chromedp.Do(ctx, chromedp.Click(".sign-request button.primary", chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	waitJSValue[bool](t, ctx, "the signing page in the overlay", `() => (`+signFrameView+`)() === 'sign' || null`)
	type overlayState struct {
		Focus       bool   `json:"focus"`
		Inert       bool   `json:"inert"`
		Embedded    bool   `json:"embedded"`
		BarShown    bool   `json:"barShown"`
		Lang        string `json:"lang"`
		FrameURL    string `json:"frameURL"`
		Storage     string `json:"storage"`
		SelfVideo   int    `json:"selfVideo"`
		PanelWidth  int    `json:"panelWidth"`
		ScreenWidth int    `json:"screenWidth"`
	}
	const readOverlay = `() => { const o = document.querySelector('.sign-overlay'); if (!o) return null;
		const f = o.querySelector('iframe'), d = f.contentDocument, v = o.querySelector('.sign-self video');
		if (!v || !f.contentDocument) return null;
		return {focus: o.contains(document.activeElement), inert: document.getElementById('join').inert && document.querySelector('.join-bar').inert,
			embedded: d.documentElement.classList.contains('embedded'), barShown: getComputedStyle(d.querySelector('.book-bar')).display !== 'none',
			lang: d.documentElement.lang, frameURL: f.contentWindow.location.pathname + f.contentWindow.location.hash,
			storage: Object.keys(sessionStorage).join(','), selfVideo: v.parentNode.hidden ? 0 : v.videoWidth,
			panelWidth: Math.round(o.querySelector('.sign-panel').getBoundingClientRect().width), screenWidth: window.innerWidth}; }`
	ov := waitJSValue[overlayState](t, ctx, "the overlay with the own camera", `() => { const o = (`+readOverlay+`)(); return o && o.selfVideo > 0 ? o : null; }`)
	if !ov.Focus || !ov.Inert || !ov.Embedded || ov.BarShown || ov.Lang != "de" || ov.PanelWidth >= ov.ScreenWidth {
		t.Errorf("overlay at 1280 px: %+v", ov)
	}
	if strings.Contains(ov.FrameURL, "session=") || strings.Contains(ov.Storage, "parley.sign") {
		t.Errorf("the framed page keeps the session in its address (%q) or the token in the tab's storage (%q)", ov.FrameURL, ov.Storage)
	}
	Screenshot(t, ctx, "sign-in-call-overlay-de.png")

	// Escape (focus is in the framed page) closes the overlay; the dialog
	// is back with focus on "Öffnen".
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Escape)); err != nil {
		t.Fatal(err)
	}
	waitJSValue[bool](t, ctx, "Escape closes the overlay", `() => !document.querySelector('.sign-overlay') && !document.getElementById('join').inert &&
		document.activeElement === document.querySelector('.sign-request:not([hidden]) button.primary') || null`)

	// On a phone-sized screen the overlay takes the whole screen.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(".sign-request button.primary", chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	waitJSValue[bool](t, ctx, "the signing page in the overlay again", `() => (`+signFrameView+`)() === 'sign' || null`)
	ov = waitJSValue[overlayState](t, ctx, "the overlay at 360 px", readOverlay)
	if ov.PanelWidth != ov.ScreenWidth || ov.ScreenWidth != 360 {
		t.Errorf("overlay at 360 px is %d px wide of %d", ov.PanelWidth, ov.ScreenWidth)
	}
	drawInFrame(t, ctx)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Number(document.querySelector('.sign-overlay iframe').contentDocument.getElementById('pad').getAttribute('data-events') || 0)`))
	if err != nil || n < 40 {
		t.Fatalf("the pad in the overlay recorded %d events (%v)", n, err)
	}
	Screenshot(t, ctx, "sign-in-call-360-de.png")
	run(t, ctx, `document.querySelector('.sign-overlay iframe').contentDocument.getElementById('submit').click()`)

	// The framed page says "signed": the overlay closes, the note thanks.
	note := waitJSValue[string](t, ctx, "the overlay closes after signing", `() => { const n = document.querySelector('.sign-note');
		return !document.querySelector('.sign-overlay') && !document.querySelector('.sign-request') && n ? n.textContent : null; }`)
	if note != "Vielen Dank, Ihre Unterschrift wurde erfasst." {
		t.Errorf("after signing the page says %q", note)
	}
	// Its polling of the link's state stopped with it.
	polls := func() int {
		k := 0
		for _, u := range reqs.URLs() {
			if _, rest, ok := strings.Cut(u, "/api/v1/sign/"); ok && !strings.Contains(rest, "/") {
				k++ // GET /api/v1/sign/{token}: the link's state
			}
		}
		return k
	}
	closed := polls()
	time.Sleep(4 * time.Second) // longer than the 3 s polling interval
	if after := polls(); after != closed {
		t.Errorf("the page still polls the link's state after the overlay closed (%d → %d requests)", closed, after)
	}

	// The process is completed, signed in the meeting.
	var got struct {
		Process signing.Process `json:"process"`
	}
	e.advisor.Must(t, http.MethodGet, "/api/v1/signing/processes/"+id, nil, http.StatusOK, &got)
	if got.Process.Status != signing.StatusCompleted || len(got.Process.Signers) != 1 || got.Process.Signers[0].State != signing.SignerSigned {
		t.Fatalf("process after signing: status %q, signers %+v", got.Process.Status, got.Process.Signers)
	}
	st, final := e.send(t, http.MethodGet, "/api/v1/signing/processes/"+id+"/document", "", nil)
	_, caPEM := e.send(t, http.MethodGet, "/api/v1/signing/seal-ca", "", nil)
	blk, _ := pem.Decode(caPEM)
	if st != http.StatusOK || blk == nil {
		t.Fatalf("final document %d, seal CA %q", st, caPEM)
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	reports, err := pdf.Verify(final, roots)
	if err != nil || len(reports) != 2 || !reports[0].Valid || reports[0].Role != "customer1" || reports[0].Channel != signing.ChannelMeeting {
		t.Fatalf("final PDF: %+v %v", reports, err)
	}

	// The call never dropped: the same page, the one socket and peer
	// connection, still open and connected, the camera and microphone
	// still sending; the relay still lists the customer as admitted.
	after, err := chromedp.Run(ctx, chromedp.Evaluate[connState](readConn))
	if err != nil {
		t.Fatal(err)
	}
	if after.Marker != "same page" || after.Signals != 1 || after.Peers != 1 || after.WS != 1 || after.PC != "connected" ||
		after.Indicator != "connected" || strings.Join(after.Tracks, ",") != strings.Join(before.Tracks, ",") {
		t.Errorf("the call's connection changed while signing: before %+v, after %+v", before, after)
	}
	for _, tr := range after.Tracks {
		if !strings.HasSuffix(tr, ":live") {
			t.Errorf("a track of the call stopped: %v", after.Tracks)
		}
	}
	ps := e.participants(t, m.ID)
	if len(ps) != 1 || ps[0].ID != p.ID || ps[0].State != "admitted" {
		t.Errorf("participants after signing: %+v", ps)
	}
	if out := reqs.Outside(e.srv.URL()); len(out) > 0 {
		for _, u := range out {
			if !strings.HasPrefix(u, "blob:"+e.srv.URL()+"/") {
				t.Errorf("the pages loaded from outside the relay: %s", u)
			}
		}
	}
}
