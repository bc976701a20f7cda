package link

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
)

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	img.Set(1, 1, color.NRGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSigningContractCalls checks the calls of contracts A and B against
// a scripted relay: paths, bodies, answers, and the typed errors of their
// codes; and that hostile answers (a page that is not a PNG or of an
// impossible size, a document whose hash does not match, a pickup code
// missing) are refused.
func TestSigningContractCalls(t *testing.T) {
	r, c := loggedIn(t)
	ctx := testCtx(t)
	page := pngBytes(t, 100, 141)
	huge := pngBytes(t, 5000, 10)
	pdf := []byte("%PDF-1.7 final")
	ms := &meetingServer{reply: map[string]func(http.ResponseWriter){
		"GET /api/v1/signing/processes/p1/pages/1": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "image/png")
			w.Write(page)
		},
		"GET /api/v1/signing/processes/p1/pages/2": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>")
		},
		"GET /api/v1/signing/processes/p1/pages/3": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "image/png")
			w.Write(huge)
		},
		"GET /api/v1/signing/processes/p1/pages/9": raw(404, `{"error":{"code":"page_not_found","message":"The document has 2 pages."}}`),
		"GET /api/v1/meetings/m1/files/f1/pages/1": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("X-Page-Count", "4")
			w.Write(page)
		},
		"GET /api/v1/signing/processes/p1/document": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/pdf")
			w.Header().Set("ETag", `"0000"`)
			w.Write(pdf)
		},
		"POST /api/v1/signing/processes/p1/present": raw(200, `{"signer":"customer1"}`),
		"POST /api/v1/signing/processes/p2/present": raw(409, `{"error":{"code":"not_customers_turn","message":"It is the advisor's turn."}}`),
		"POST /api/v1/signing/processes/p3/present": raw(409, `{"error":{"code":"meeting_not_live","message":"The meeting is over."}}`),
		"GET /api/v1/kiosks":                        raw(200, `{"kiosks":[{"id":"k1","name":"Filiale Mitte","created_at":"2026-11-23T08:00:00Z"}]}`),
		"POST /api/v1/signing/processes/p1/kiosk":   raw(200, `{"entry_id":"e1","pickup_code":"123456","expires_at":"2026-11-23T10:30:00Z"}`),
		"POST /api/v1/signing/processes/p2/kiosk":   raw(200, `{"entry_id":"e1","expires_at":"2026-11-23T10:30:00Z"}`),
		"POST /api/v1/signing/processes/p1/send":    raw(409, `{"error":{"code":"trustee_key_missing","message":"An admin must set the trustee key."}}`),
	}}
	r.serveAll(ms.ServeHTTP)

	img, err := c.SigningPage(ctx, "p1", 1, 500)
	if err != nil || img.Bounds().Dx() != 100 || img.Bounds().Dy() != 141 {
		t.Fatalf("page 1: %v %v", img, err)
	}
	if _, err := c.SigningPage(ctx, "p1", 2, 0); !errors.Is(err, ErrBadResponse) {
		t.Errorf("HTML page: %v", err)
	}
	if _, err := c.SigningPage(ctx, "p1", 3, 0); !errors.Is(err, ErrBadResponse) {
		t.Errorf("huge page: %v", err)
	}
	if _, err := c.SigningPage(ctx, "p1", 9, 0); !errors.Is(err, ErrPageNotFound) || UserMessage(err) != "The document has 2 pages." {
		t.Errorf("page out of range: %v (%q)", err, UserMessage(err))
	}
	if img, n, err := c.MeetingFilePage(ctx, "m1", "f1", 1, 0); err != nil || n != 4 || img.Bounds().Dx() != 100 {
		t.Errorf("meeting file page: %d %v", n, err)
	}
	var sink bytes.Buffer
	if _, err := c.DownloadSigningDocument(ctx, "p1", &sink); !errors.Is(err, ErrBadResponse) {
		t.Errorf("document with a wrong hash: %v", err)
	}
	if who, err := c.PresentSigning(ctx, "p1", "m1", "g1"); err != nil || who != "customer1" {
		t.Errorf("present: %q %v", who, err)
	}
	if _, err := c.PresentSigning(ctx, "p2", "m1", "g1"); !errors.Is(err, ErrNotYourTurn) {
		t.Errorf("present out of turn: %v", err)
	}
	if _, err := c.PresentSigning(ctx, "p3", "m1", "g1"); !errors.Is(err, ErrMeetingNotLive) {
		t.Errorf("present in an ended meeting: %v", err)
	}
	if ks, err := c.Kiosks(ctx); err != nil || len(ks) != 1 || ks[0].Name != "Filiale Mitte" || ks[0].Created.IsZero() {
		t.Errorf("kiosks: %+v %v", ks, err)
	}
	if tk, err := c.QueueAtKiosk(ctx, "p1", "k1"); err != nil || tk.PickupCode != "123456" || tk.EntryID != "e1" {
		t.Errorf("queue: %+v %v", tk, err)
	}
	if _, err := c.QueueAtKiosk(ctx, "p2", "k1"); !errors.Is(err, ErrBadResponse) {
		t.Errorf("queue answer without a code: %v", err)
	}
	if _, err := c.SendSigningProcess(ctx, "p1"); !errors.Is(err, ErrTrusteeKeyMissing) || !strings.Contains(UserMessage(err), "trustee key") {
		t.Errorf("send: %v", err)
	}
	want := []string{
		`POST /api/v1/signing/processes/p1/present {"meeting_id":"m1","participant_id":"g1"}`,
		`POST /api/v1/signing/processes/p1/kiosk {"kiosk_id":"k1"}`,
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for _, w := range want {
		found := false
		for _, s := range ms.seen {
			found = found || s == w
		}
		if !found {
			t.Errorf("no request %s in %q", w, ms.seen)
		}
	}
}
