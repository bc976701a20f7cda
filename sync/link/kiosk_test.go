package link

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"parley/relay/signal/msg"
)

const (
	kioskTok  = "pkd_devicetoken"
	linkTok   = "psg_linktoken"
	signerSes = "pss_session"
)

// kioskRelay answers contract B's routes the way the relay does.
type kioskRelay struct {
	t  *testing.T
	mu sync.Mutex
	// submitted is the last submission's body; calls the call requests'
	// statuses by id.
	submitted map[string]any
	calls     map[string]string
	accepted  map[string]bool
}

func (k *kioskRelay) serve(w http.ResponseWriter, req *http.Request) {
	route := req.Method + " " + req.URL.Path
	if route == "GET /healthz" {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	if route == "GET /api/v1/signal" {
		ws, err := websocket.Accept(w, req, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := req.Context()
		// Echo hello's token back as a welcome's id, so the test sees the
		// secret arrived.
		_, b, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var m msg.Message
		_ = json.Unmarshal(b, &m)
		out, _ := json.Marshal(msg.Message{Type: msg.TypePong, Token: m.Token})
		_ = ws.Write(ctx, websocket.MessageText, out)
		_, _, _ = ws.Read(ctx)
		return
	}
	auth := bearer(req)
	if strings.HasPrefix(req.URL.Path, "/api/v1/sign/") {
		if auth != signerSes {
			writeError(w, http.StatusUnauthorized, "code_required", nil)
			return
		}
		switch route {
		case "GET /api/v1/sign/" + linkTok + "/pages/2":
			if req.URL.Query().Get("width") != "800" {
				writeError(w, http.StatusBadRequest, CodeBadRequest, nil)
				return
			}
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write([]byte("\x89PNG page two"))
		case "GET /api/v1/sign/" + linkTok + "/pages/9":
			writeError(w, http.StatusNotFound, "page_not_found", nil)
		case "POST /api/v1/sign/" + linkTok + "/submit":
			var body map[string]any
			if !decodeBody(w, req, &body) {
				return
			}
			k.mu.Lock()
			k.submitted = body
			k.mu.Unlock()
			writeJSON(w, http.StatusOK, map[string]any{"signer": map[string]string{"state": "signed"}})
		default:
			writeError(w, http.StatusNotFound, CodeNotFound, nil)
		}
		return
	}
	if route == "GET /api/v1/kiosk-calls" || strings.HasPrefix(route, "POST /api/v1/kiosk-calls/") {
		if auth != "pst_advisor" {
			writeError(w, http.StatusUnauthorized, CodeUnauthenticated, nil)
			return
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		if req.Method == http.MethodGet {
			list := []KioskCallRequest{}
			for id, st := range k.calls {
				if st == KioskCallWaiting {
					list = append(list, KioskCallRequest{ID: id, KioskID: "k1", KioskName: "Desk 2"})
				}
			}
			writeJSON(w, http.StatusOK, map[string]any{"calls": list})
			return
		}
		id := strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/api/v1/kiosk-calls/"), "/accept")
		if k.calls[id] != KioskCallWaiting {
			writeError(w, http.StatusConflict, CodeAlreadyTaken, nil)
			return
		}
		k.calls[id] = KioskCallAccepted
		writeJSON(w, http.StatusOK, map[string]any{"meeting": map[string]any{"id": "m1", "status": "open", "title": "Kiosk Desk 2"}})
		return
	}
	if auth != kioskTok {
		writeError(w, http.StatusUnauthorized, CodeUnauthenticated, nil)
		return
	}
	switch route {
	case "GET /api/v1/kiosk/me":
		writeJSON(w, http.StatusOK, KioskMe{ID: "k1", Name: "Desk 2", TenantName: "Sparkasse Test"})
	case "GET /api/v1/kiosk/queue":
		writeJSON(w, http.StatusOK, map[string]any{"entries": []KioskEntry{{EntryID: "e1", Title: "Kreditvertrag", AdvisorName: "Max"}}})
	case "POST /api/v1/kiosk/open":
		var body struct {
			Code string `json:"code"`
		}
		if !decodeBody(w, req, &body) {
			return
		}
		if body.Code != "123456" {
			writeError(w, http.StatusForbidden, CodeInvalidCode, nil)
			return
		}
		writeJSON(w, http.StatusOK, KioskDocument{Token: linkTok, Session: signerSes, Signer: "customer1", Title: "Kreditvertrag",
			Pages:  []SigningPageInfo{{Number: 1, MediaBox: SigningRect{URX: 595, URY: 842}, CropBox: SigningRect{URX: 595, URY: 842}}},
			Fields: []SigningField{{ID: "sig1", Page: 1, Rect: SigningRect{LLX: 50, LLY: 50, URX: 250, URY: 110}, Kind: "signature", Signer: "customer1"}}})
	case "POST /api/v1/kiosk/unlock":
		var body struct {
			PIN string `json:"pin"`
		}
		if !decodeBody(w, req, &body) {
			return
		}
		if body.PIN != "24681357" {
			writeError(w, http.StatusForbidden, CodeWrongPIN, nil)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "POST /api/v1/kiosk/calls":
		k.mu.Lock()
		k.calls["c1"] = KioskCallWaiting
		k.mu.Unlock()
		writeJSON(w, http.StatusCreated, KioskCall{ID: "c1", Status: KioskCallWaiting})
	case "GET /api/v1/kiosk/calls/c1":
		k.mu.Lock()
		st := k.calls["c1"]
		k.mu.Unlock()
		out := KioskCall{ID: "c1", Status: st}
		if st == KioskCallAccepted {
			out.MeetingID, out.ParticipantSecret = "m1", "pmp_secret"
		}
		writeJSON(w, http.StatusOK, out)
	case "DELETE /api/v1/kiosk/calls/c1":
		k.mu.Lock()
		k.calls["c1"] = KioskCallCancelled
		k.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusNotFound, CodeNotFound, nil)
	}
}

func kioskClient(t *testing.T) (*Client, *kioskRelay) {
	t.Helper()
	r := startRelay(t, relayConfig{})
	k := &kioskRelay{t: t, calls: map[string]string{}, accepted: map[string]bool{}}
	r.serveAll(k.serve)
	c := trustedClient(t, r, Options{})
	mustConnect(t, c, r.URL, TransportQUIC)
	return c, k
}

func apiCode(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func TestKioskDeviceRoutes(t *testing.T) {
	c, k := kioskClient(t)
	ctx := testCtx(t)
	for _, bad := range []string{"", "pkd_", "pst_abc", strings.Repeat("x", 300)} {
		if err := c.UseKioskToken(bad); !errors.Is(err, ErrNotKioskToken) {
			t.Errorf("UseKioskToken(%q) = %v", bad, err)
		}
	}
	if _, err := c.KioskMe(ctx); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("KioskMe without token: %v", err)
	}
	if err := c.UseKioskToken(kioskTok); err != nil {
		t.Fatal(err)
	}
	me, err := c.KioskMe(ctx)
	if err != nil || me.TenantName != "Sparkasse Test" || me.Name != "Desk 2" {
		t.Fatalf("KioskMe = %+v, %v", me, err)
	}
	q, err := c.KioskQueue(ctx)
	if err != nil || len(q) != 1 || q[0].Title != "Kreditvertrag" {
		t.Fatalf("KioskQueue = %+v, %v", q, err)
	}
	if _, err := c.KioskOpen(ctx, "000000"); apiCode(err) != CodeInvalidCode {
		t.Fatalf("wrong code: %v", err)
	}
	doc, err := c.KioskOpen(ctx, "123456")
	if err != nil || doc.Token != linkTok || doc.Session != signerSes || len(doc.Fields) != 1 || doc.Fields[0].Rect.URX != 250 || doc.Pages[0].CropBox.URY != 842 {
		t.Fatalf("KioskOpen = %+v, %v", doc, err)
	}
	png, err := c.SignerPage(ctx, doc.Token, doc.Session, 2, 800)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("SignerPage = %q, %v", png, err)
	}
	if _, err := c.SignerPage(ctx, doc.Token, doc.Session, 9, 800); apiCode(err) != "page_not_found" {
		t.Fatalf("page out of range: %v", err)
	}
	if _, err := c.SignerPage(ctx, doc.Token, "pss_other", 2, 800); apiCode(err) != "code_required" || strings.Contains(err.Error(), doc.Token) {
		t.Fatalf("page with another session: %v", err)
	}
	if err := c.SignerSubmit(ctx, doc.Token, "pss_other", KioskSubmission{}); apiCode(err) != "code_required" || strings.Contains(err.Error(), doc.Token) {
		t.Fatalf("submit with another session: %v", err)
	}
	rec := []byte{'S', 'D', 'I', 0, 0xff, 0x00}
	if err := c.SignerSubmit(ctx, doc.Token, doc.Session, KioskSubmission{ISO19794: rec, Device: "evdev: Test Pen"}); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	got := k.submitted
	k.mu.Unlock()
	if got["iso19794"] != "U0RJAP8A" || got["device"] != "evdev: Test Pen" || got["texts"] == nil || got["pointer"] != nil {
		t.Fatalf("submitted %v", got)
	}
	if err := c.KioskUnlock(ctx, "1111"); apiCode(err) != CodeWrongPIN {
		t.Fatalf("wrong PIN: %v", err)
	}
	if err := c.KioskUnlock(ctx, "24681357"); err != nil {
		t.Fatal(err)
	}
	// The device token was not replaced by the signer session.
	if _, err := c.KioskMe(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestKioskCallFlow(t *testing.T) {
	c, _ := kioskClient(t)
	ctx := testCtx(t)
	if err := c.UseKioskToken(kioskTok); err != nil {
		t.Fatal(err)
	}
	call, err := c.KioskCallAdvisor(ctx)
	if err != nil || call.Status != KioskCallWaiting {
		t.Fatalf("KioskCallAdvisor = %+v, %v", call, err)
	}
	// An advisor (another client) sees and takes it; a second one is late.
	adv := New(Options{Pins: c.opts.Pins})
	t.Cleanup(func() { adv.Close() })
	if _, err := adv.Connect(ctx, c.BaseURL()); err != nil {
		t.Fatal(err)
	}
	adv.mu.Lock()
	adv.token = "pst_advisor"
	adv.mu.Unlock()
	list, err := adv.KioskCalls(ctx)
	if err != nil || len(list) != 1 || list[0].KioskName != "Desk 2" {
		t.Fatalf("KioskCalls = %+v, %v", list, err)
	}
	m, err := adv.AcceptKioskCall(ctx, list[0].ID)
	if err != nil || m.ID != "m1" {
		t.Fatalf("AcceptKioskCall = %+v, %v", m, err)
	}
	if _, err := adv.AcceptKioskCall(ctx, list[0].ID); apiCode(err) != CodeAlreadyTaken {
		t.Fatalf("second accept: %v", err)
	}
	st, err := c.KioskCallStatus(ctx, call.ID)
	if err != nil || st.Status != KioskCallAccepted || st.ParticipantSecret != "pmp_secret" || st.MeetingID != "m1" {
		t.Fatalf("KioskCallStatus = %+v, %v", st, err)
	}
	if err := c.KioskCancelCall(ctx, call.ID); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.KioskCallStatus(ctx, call.ID); st.Status != KioskCallCancelled {
		t.Fatalf("after cancel: %+v", st)
	}

	// The guest's signalling WebSocket goes over TCP with the same pin.
	g, err := c.GuestSignal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Send(ctx, msg.Message{Type: msg.TypeHello, Token: st.ParticipantSecret}); err != nil {
		t.Fatal(err)
	}
	back, err := g.Recv(ctx)
	if err != nil || back.Token != "pmp_secret" {
		t.Fatalf("Recv = %+v, %v", back, err)
	}
	_ = g.Close()
	if _, err := g.Recv(ctx); err == nil {
		t.Fatal("Recv after Close succeeded")
	}
}

func TestKioskBadAnswers(t *testing.T) {
	r := startRelay(t, relayConfig{})
	var answer atomic.Value
	answer.Store(`{}`)
	r.serveAll(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/healthz" {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer.Load().(string))
	})
	c := trustedClient(t, r, Options{})
	mustConnect(t, c, r.URL, TransportQUIC)
	ctx := testCtx(t)
	if err := c.UseKioskToken(kioskTok); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{`{}`, `{"token":"psg_x","session":"pst_x","signer":"c"}`, `{"token":"x","session":"pss_x","signer":"c"}`} {
		answer.Store(a)
		if _, err := c.KioskOpen(ctx, "123456"); !errors.Is(err, ErrBadResponse) {
			t.Errorf("KioskOpen with %s: %v", a, err)
		}
	}
	for _, a := range []string{`{"id":"c1","status":"ringing"}`, `{"id":"c1","status":"accepted"}`, `{"status":"waiting"}`} {
		answer.Store(a)
		if _, err := c.KioskCallStatus(ctx, "c1"); !errors.Is(err, ErrBadResponse) {
			t.Errorf("KioskCallStatus with %s: %v", a, err)
		}
	}
	answer.Store(`{}`)
	if _, err := c.KioskMe(ctx); !errors.Is(err, ErrBadResponse) {
		t.Errorf("KioskMe with {}: %v", err)
	}
	if _, err := c.KioskQueue(ctx); !errors.Is(err, ErrBadResponse) {
		t.Errorf("KioskQueue with {}: %v", err)
	}
}
