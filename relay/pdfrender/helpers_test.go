package pdfrender_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"parley/relay/pdfrender"
	"parley/relay/pdfrender/pdfrendertest"
)

// page describes one page of a hand-written test PDF.
type page struct {
	mediaBox string // "[0 0 595 842]" when empty
	extra    string // more page dictionary entries, e.g. "/Rotate 90"
	content  string // content stream
	annot    string // an annotation dictionary; %P is the page, %A the appearance stream
	ap       string // content of the annotation's appearance stream (BBox 0 0 100 50)
}

// blackRect is a 200 × 100 pt black rectangle whose lower-left corner is at
// (100, 600) in PDF points (origin bottom-left).
const blackRect = "0 0 0 rg 100 600 200 100 re f"

// textContent draws a few lines of Helvetica.
func textContent() string {
	var b strings.Builder
	b.WriteString("BT /F1 11 Tf 72 780 Td 14 TL ")
	for i := 0; i < 45; i++ {
		fmt.Fprintf(&b, "(Line %d of the contract: the customer agrees to the terms, conditions and fees below.) '\n", i+1)
	}
	b.WriteString("ET")
	return b.String()
}

// makePDF writes a PDF with a classic xref table by hand.
func makePDF(pages ...page) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) int {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
		return len(offs)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	// Object numbers: 1 catalog, 2 pages, 3 font, then per page: page,
	// content, annotation (optional).
	next := 4
	type refs struct{ page, content, annot, ap int }
	var rs []refs
	var kids []string
	for _, p := range pages {
		r := refs{page: next, content: next + 1}
		next += 2
		if p.annot != "" {
			r.annot, r.ap = next, next+1
			next += 2
		}
		rs = append(rs, r)
		kids = append(kids, fmt.Sprintf("%d 0 R", r.page))
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	for i, p := range pages {
		mb := p.mediaBox
		if mb == "" {
			mb = "[0 0 595 842]"
		}
		annots := ""
		if rs[i].annot != 0 {
			annots = fmt.Sprintf("/Annots [%d 0 R] ", rs[i].annot)
		}
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox %s /Resources << /Font << /F1 3 0 R >> >> %s %s/Contents %d 0 R >>", mb, p.extra, annots, rs[i].content))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(p.content), p.content))
		if rs[i].annot != 0 {
			a := strings.ReplaceAll(p.annot, "%P", fmt.Sprintf("%d 0 R", rs[i].page))
			obj(strings.ReplaceAll(a, "%A", fmt.Sprintf("%d 0 R", rs[i].ap)))
			obj(fmt.Sprintf("<< /Type /XObject /Subtype /Form /BBox [0 0 100 50] /Length %d >>\nstream\n%s\nendstream", len(p.ap), p.ap))
		}
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// dark reports whether the pixel at (x, y) is nearly black.
func dark(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	return r < 0x3000 && g < 0x3000 && b < 0x3000
}

// white reports whether the pixel at (x, y) is nearly white.
func white(img image.Image, x, y int) bool {
	r, g, b, a := img.At(x, y).RGBA()
	return r > 0xf000 && g > 0xf000 && b > 0xf000 && a == 0xffff
}

// darkShare is the share of nearly black pixels in rect r of img.
func darkShare(img image.Image, r image.Rectangle) float64 {
	n, d := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			n++
			if dark(img, x, y) {
				d++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(d) / float64(n)
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// halves is a w × h image: left half black, right half white.
func halves(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{255, 255, 255, 255}
			if x < w/2 {
				c = color.RGBA{0, 0, 0, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

var (
	sharedOnce sync.Once
	shared     *pdfrender.Renderer
)

// renderer returns the package's shared test renderer (one PDFium start
// for all tests), started with the machine's test compilation cache.
func renderer(t testing.TB) *pdfrender.Renderer {
	t.Helper()
	sharedOnce.Do(func() {
		var err error
		shared, err = pdfrender.New(pdfrender.Options{PoolSize: 2, CacheDir: pdfrendertest.CacheDir()})
		if err != nil {
			panic(err)
		}
		// The first start compiles PDFium (long under -race): outside
		// any call's timeout.
		if err := shared.Start(context.Background()); err != nil {
			panic(err)
		}
	})
	return shared
}

// cacheDirFor is the shared test compilation cache, warm once renderer
// ran (so each renderer a test makes starts in a fraction of a second).
func cacheDirFor(t testing.TB) string {
	renderer(t)
	return pdfrendertest.CacheDir()
}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler)) // the renderer logs starts and kills
	code := m.Run()
	if shared != nil {
		_ = shared.Close()
	}
	os.Exit(code)
}
