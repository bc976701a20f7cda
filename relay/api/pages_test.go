package api

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/store"
)

// pagesPDF is a two-page PDF: page 1 has a black rectangle in its top
// left quarter, page 2 is landscape (/Rotate 90) and empty.
func pagesPDF() []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.7\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 /MediaBox [0 0 600 800] >>")
	obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>")
	c := "0 0 0 rg 0 400 300 400 re f"
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(c), c))
	obj("<< /Type /Page /Parent 2 0 R /Rotate 90 /Contents 6 0 R >>")
	obj("<< /Length 0 >>\nstream\n\nendstream")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

func newPagesFixture(t *testing.T, pages Pages) *fixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	kv := &store.Memory{Clock: clk}
	svc, err := auth.New(auth.Options{Store: kv, Clock: clk, Hash: auth.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Bootstrap(context.Background(), "sparkasse", "Sparkasse", adminPass); err != nil {
		t.Fatal(err)
	}
	cs, err := chat.New(chat.Options{Store: kv, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Auth: svc, Audit: newAudit(t, kv, clk), Meetings: newMeetings(t, kv, clk), Clock: clk,
		Chat: cs, Pages: pages}))
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, auth: svc, clock: clk, kv: kv}
}

func decodePNG(t *testing.T, r resp) image.Image {
	t.Helper()
	if r.status != 200 || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("page: %d %s %.200s", r.status, r.header.Get("Content-Type"), r.body)
	}
	img, err := png.Decode(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestMeetingFilePages(t *testing.T) {
	f := newPagesFixture(t, isoPages(t))
	admin := f.login("sparkasse", "admin", adminPass)
	adv := f.advisor(admin, "paul")
	other := f.advisor(admin, "olga")
	mid, secret := f.meetingWithCustomer(adv, "Klara Fischer", false)
	pdfEntry := entryOf(t, f.do("POST", "/api/v1/meetings/"+mid+"/files?name=Vertrag.pdf", "application/octet-stream", adv, pagesPDF()))
	var pic bytes.Buffer
	src := image.NewRGBA(image.Rect(0, 0, 200, 100))
	for x := 0; x < 100; x++ {
		for y := 0; y < 100; y++ {
			src.Set(x, y, color.Black)
		}
	}
	if err := png.Encode(&pic, src); err != nil {
		t.Fatal(err)
	}
	picEntry := entryOf(t, f.do("POST", "/api/v1/participant/files?name=Skizze.png", "application/octet-stream", secret, pic.Bytes()))
	txtEntry := entryOf(t, f.do("POST", "/api/v1/participant/files?name=Notiz.txt", "text/plain", secret, []byte("Notiz\n")))

	advPath := func(id, rest string) string { return "/api/v1/meetings/" + mid + "/files/" + id + "/pages/" + rest }
	custPath := func(id, rest string) string { return "/api/v1/participant/files/" + id + "/pages/" + rest }

	// Both sides (and the admin) get page 1: 1000 px wide by default,
	// the rectangle dark in the top left, white elsewhere.
	for _, get := range []struct{ path, token string }{
		{custPath(pdfEntry.ID, "1"), secret},
		{advPath(pdfEntry.ID, "1"), adv},
		{advPath(pdfEntry.ID, "1"), admin},
	} {
		r := f.do("GET", get.path, "", get.token, nil)
		img := decodePNG(t, r)
		if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 1333 {
			t.Fatalf("%s: size %v, want 1000x1333", get.path, b)
		}
		if c := color.GrayModel.Convert(img.At(200, 300)).(color.Gray); c.Y > 40 {
			t.Errorf("%s: rectangle not dark: %v", get.path, c)
		}
		if c := color.GrayModel.Convert(img.At(800, 1000)).(color.Gray); c.Y < 240 {
			t.Errorf("%s: page not white: %v", get.path, c)
		}
		if r.header.Get("X-Page-Count") != "2" || r.header.Get("Cache-Control") != "private, no-store" {
			t.Errorf("%s: headers %v", get.path, r.header)
		}
	}
	// Page 2 is landscape; widths are clamped.
	for _, c := range []struct {
		q    string
		w, h int
	}{{"2", 1000, 750}, {"2?width=50", 100, 75}, {"2?width=99999", 2000, 1500}, {"2?width=640", 640, 480}} {
		img := decodePNG(t, f.do("GET", advPath(pdfEntry.ID, c.q), "", adv, nil))
		if b := img.Bounds(); b.Dx() != c.w || b.Dy() != c.h {
			t.Errorf("%s: size %v, want %dx%d", c.q, b, c.w, c.h)
		}
	}
	// An image is one page, scaled.
	r := f.do("GET", custPath(picEntry.ID, "1?width=400"), "", secret, nil)
	img := decodePNG(t, r)
	if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 200 || r.header.Get("X-Page-Count") != "1" {
		t.Errorf("image page: %v, count %q", b, r.header.Get("X-Page-Count"))
	}

	// Refusals.
	for _, c := range []struct {
		path, token string
		status      int
		code        string
	}{
		{advPath(pdfEntry.ID, "3"), adv, 404, "page_not_found"},
		{advPath(pdfEntry.ID, "0"), adv, 404, "page_not_found"},
		{advPath(pdfEntry.ID, "-1"), adv, 404, "page_not_found"},
		{advPath(pdfEntry.ID, "99999999999999999999999"), adv, 404, "page_not_found"},
		{custPath(picEntry.ID, "2"), secret, 404, "page_not_found"},
		{advPath(pdfEntry.ID, "eins"), adv, 400, "bad_request"},
		{advPath(pdfEntry.ID, "1?width=breit"), adv, 400, "bad_request"},
		{advPath(txtEntry.ID, "1"), adv, 415, "not_renderable"},
		{advPath("0123456789abcdef0123456789abcdef", "1"), adv, 404, "not_found"},
		{advPath(pdfEntry.ID, "1"), other, 403, "forbidden"}, // a colleague, as for the file itself
		{custPath(pdfEntry.ID, "1"), "", 401, "unauthenticated"},
		{advPath(pdfEntry.ID, "1"), "", 401, "unauthenticated"},
	} {
		r := f.do("GET", c.path, "", c.token, nil)
		if r.status != c.status || r.errCode() != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.path, r.status, r.body, c.status, c.code)
		}
		if strings.Contains(string(r.body), "Klara") || strings.Contains(string(r.body), "Vertrag") {
			t.Errorf("%s: error names personal data: %s", c.path, r.body)
		}
	}

	// A relay without a renderer answers 404.
	g := newPagesFixture(t, nil)
	ga := g.login("sparkasse", "admin", adminPass)
	gmid, _ := g.meetingWithCustomer(ga, "Klara Fischer", false)
	ge := entryOf(t, g.do("POST", "/api/v1/meetings/"+gmid+"/files?name=Vertrag.pdf", "application/octet-stream", ga, pagesPDF()))
	if r := g.do("GET", "/api/v1/meetings/"+gmid+"/files/"+ge.ID+"/pages/1", "", ga, nil); r.status != 404 {
		t.Errorf("no renderer: %d %s", r.status, r.body)
	}
}

func TestPagesErrorsAreMapped(t *testing.T) {
	f := newPagesFixture(t, isoPages(t))
	admin := f.login("sparkasse", "admin", adminPass)
	mid, _ := f.meetingWithCustomer(admin, "Klara Fischer", false)
	for _, c := range []struct {
		name   string
		doc    []byte
		status int
		code   string
	}{
		{"broken.pdf", []byte("%PDF-1.7\nnothing else here at all\n"), 422, "pdf_malformed"},
		{"pages0.pdf", []byte(testPDF), 422, "pdf_malformed"},
	} {
		e := entryOf(t, f.do("POST", "/api/v1/meetings/"+mid+"/files?name="+c.name, "application/octet-stream", admin, c.doc))
		r := f.do("GET", "/api/v1/meetings/"+mid+"/files/"+e.ID+"/pages/1", "", admin, nil)
		if r.status != c.status || r.errCode() != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.body, c.status, c.code)
		}
	}
}
