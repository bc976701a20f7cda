package pdfrender_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"parley/relay/pdfrender"
)

// FuzzRender feeds arbitrary bytes to PageCount and RenderPNG: every
// outcome is an image or one of the package's errors, within a short
// deadline, and nothing panics.
func FuzzRender(f *testing.F) {
	f.Add(makePDF(page{content: blackRect}))
	f.Add(makePDF(page{content: blackRect, extra: "/Rotate 270 /CropBox [0 0 300 300]"}))
	f.Add(makePDF(page{annot: "<< /Type /Annot /Subtype /Widget /Rect [0 0 100 50] /P %P /AP << /N %A >> >>", ap: "0 g 0 0 100 50 re f"}))
	f.Add([]byte(zeroPages))
	f.Add([]byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj trailer << /Root 1 0 R >>"))
	f.Add(encodePNG(f, halves(8, 4)))
	f.Add(encodeJPEG(f, halves(8, 4)))
	f.Add([]byte("garbage"))
	r := renderer(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := r.PageCount(ctx, doc)
		if err == nil && n < 1 {
			t.Fatalf("PageCount %d without an error", n)
		}
		check(t, err)
		b, err := r.RenderPNG(ctx, doc, 1, 200)
		check(t, err)
		if err == nil && len(b) == 0 {
			t.Fatal("empty PNG without an error")
		}
	})
}

func check(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, want := range []error{pdfrender.ErrNotPDF, pdfrender.ErrMalformed, pdfrender.ErrEncrypted,
		pdfrender.ErrPageRange, pdfrender.ErrTooLarge, context.DeadlineExceeded} {
		if errors.Is(err, want) {
			return
		}
	}
	t.Fatalf("unexpected error kind: %v", err)
}
