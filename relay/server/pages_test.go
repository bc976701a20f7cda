package server

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/pdfrender/pdfrendertest"
)

// onePagePDF is an A4 page with a black rectangle at the top.
func onePagePDF() []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.7\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] >>")
	obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>")
	c := "0 0 0 rg 0 742 595 100 re f"
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(c), c))
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// TestPageImagesThroughTheRelay: the relay wires the renderer into the
// page routes (a signing document and a meeting file), and closes it.
func TestPageImagesThroughTheRelay(t *testing.T) {
	s, err := Start(context.Background(), Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: testAdminPassword, Hash: auth.TestHashParams, Clock: clock.Real{}, SweepInterval: time.Hour,
		RenderCacheDir: pdfrendertest.CacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	a := &testAPI{t: t, s: s, c: &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(t, s)}}}
	admin := a.login()

	var proc struct {
		Process struct{ ID string } `json:"process"`
	}
	if st := a.raw("POST", "/api/v1/signing/processes?title=Vertrag&lang=de", admin, "application/pdf", onePagePDF(), &proc); st != http.StatusCreated {
		t.Fatalf("create process: %d", st)
	}
	var created struct{ Meeting struct{ ID string } }
	if st := a.call("POST", "/api/v1/meetings", admin, map[string]string{"title": "Beratung"}, &created); st != http.StatusCreated {
		t.Fatalf("create meeting: %d", st)
	}
	m := created.Meeting
	var up struct {
		Entry struct{ ID string } `json:"entry"`
	}
	if st := a.raw("POST", "/api/v1/meetings/"+m.ID+"/files?name=Vertrag.pdf", admin, "application/octet-stream", onePagePDF(), &up); st != http.StatusCreated {
		t.Fatalf("upload: %d", st)
	}
	for _, path := range []string{
		"/api/v1/signing/processes/" + proc.Process.ID + "/pages/1?width=595",
		"/api/v1/meetings/" + m.ID + "/files/" + up.Entry.ID + "/pages/1?width=595",
	} {
		req, _ := http.NewRequest("GET", s.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		res, err := a.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || res.Header.Get("X-Page-Count") != "1" {
			t.Fatalf("%s: %d %v %.200s", path, res.StatusCode, res.Header, body)
		}
		img, err := png.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 595 || b.Dy() != 842 {
			t.Fatalf("%s: size %v", path, b)
		}
		if r, _, _, _ := img.At(300, 50).RGBA(); r > 0x2000 {
			t.Errorf("%s: the black band is not dark", path)
		}
		if r, _, _, _ := img.At(300, 500).RGBA(); r < 0xf000 {
			t.Errorf("%s: the page is not white", path)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pages.PageCount(context.Background(), onePagePDF()); err == nil {
		t.Error("the renderer still works after the relay closed")
	}
}
