package pdfrender_test

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"parley/relay/pdfrender"
)

func TestRenderDrawsTheRectangleWhereThePDFPutsIt(t *testing.T) {
	r := renderer(t)
	doc := makePDF(page{content: blackRect})
	img, err := r.Render(context.Background(), doc, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// A4 at 1000 px: 1000 × 1415; 1 pt = 1000/595 px.
	if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 1415 {
		t.Fatalf("size %v, want 1000x1415", b)
	}
	// The rectangle: x 100..300 pt, y 600..700 pt from the bottom, i.e.
	// 168..504 px across and 239..407 px from the top.
	if s := darkShare(img, image.Rect(178, 249, 494, 397)); s < 0.99 {
		t.Errorf("inside the rectangle only %.3f dark", s)
	}
	for _, out := range []image.Rectangle{
		image.Rect(0, 0, 1000, 225),    // above
		image.Rect(0, 420, 1000, 1415), // below
		image.Rect(0, 0, 155, 1415),    // left
		image.Rect(515, 0, 1000, 1415), // right
	} {
		for y := out.Min.Y; y < out.Max.Y; y += 7 {
			for x := out.Min.X; x < out.Max.X; x += 7 {
				if !white(img, x, y) {
					t.Fatalf("pixel (%d,%d) outside the rectangle is %v, want white", x, y, img.At(x, y))
				}
			}
		}
	}
}

func TestRotatedPageRendersUpright(t *testing.T) {
	r := renderer(t)
	doc := makePDF(page{content: blackRect, extra: "/Rotate 90"})
	img, err := r.Render(context.Background(), doc, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() != 1000 || b.Dy() != 707 {
		t.Fatalf("size %v, want landscape 1000x707", b)
	}
	// Turned clockwise: the page's top edge is on the right. 1 pt =
	// 1000/842 px; the rectangle spans 600..700 pt across (713..831 px)
	// and 100..300 pt down (119..356 px).
	if s := darkShare(img, image.Rect(723, 129, 821, 346)); s < 0.99 {
		t.Errorf("rotated rectangle only %.3f dark", s)
	}
	if s := darkShare(img, image.Rect(0, 0, 700, 707)); s > 0 {
		t.Errorf("left part %.4f dark, want white", s)
	}
}

func TestCropBoxIsWhatIsShown(t *testing.T) {
	r := renderer(t)
	// Only the upper-left quarter region around the rectangle is shown.
	doc := makePDF(page{content: blackRect, extra: "/CropBox [50 550 350 750]"})
	img, err := r.Render(context.Background(), doc, 1, 600)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 600 || b.Dy() != 400 {
		t.Fatalf("size %v, want 600x400 (crop box 300x200 pt)", b)
	}
	// The rectangle fills x 50..250, y 50..150 of the 300 × 200 crop: at 2 px/pt.
	if s := darkShare(img, image.Rect(110, 110, 490, 290)); s < 0.99 {
		t.Errorf("rectangle in the crop only %.3f dark", s)
	}
	if !white(img, 20, 20) || !white(img, 580, 380) {
		t.Error("crop corners not white")
	}
}

func TestSignatureWidgetAppearanceIsDrawn(t *testing.T) {
	r := renderer(t)
	for _, subtype := range []string{"Widget", "Stamp"} {
		t.Run(subtype, func(t *testing.T) {
			doc := makePDF(page{
				annot: "<< /Type /Annot /Subtype /" + subtype + " /FT /Sig /T (sig1) /Rect [300 100 400 150] /F 4 /P %P /AP << /N %A >> >>",
				ap:    "0 0 0 rg 0 0 100 50 re f",
			})
			img, err := r.Render(context.Background(), doc, 1, 595) // 1 px per pt
			if err != nil {
				t.Fatal(err)
			}
			// 300..400 across, 842-150..842-100 = 692..742 down.
			if s := darkShare(img, image.Rect(305, 697, 395, 737)); s < 0.95 {
				t.Errorf("appearance of the %s only %.3f dark", subtype, s)
			}
		})
	}
}

func TestPageCountAndRange(t *testing.T) {
	r := renderer(t)
	ctx := context.Background()
	doc := makePDF(page{content: blackRect}, page{content: textContent()}, page{})
	n, err := r.PageCount(ctx, doc)
	if err != nil || n != 3 {
		t.Fatalf("PageCount = %d, %v; want 3", n, err)
	}
	for _, p := range []int{0, -1, 4, 1_000_000_000} {
		if _, err := r.Render(ctx, doc, p, 500); !errors.Is(err, pdfrender.ErrPageRange) {
			t.Errorf("page %d: err %v, want ErrPageRange", p, err)
		}
		if _, err := r.RenderPNG(ctx, doc, p, 500); !errors.Is(err, pdfrender.ErrPageRange) {
			t.Errorf("PNG page %d: err %v, want ErrPageRange", p, err)
		}
	}
	img, err := r.Render(ctx, doc, 3, 500)
	if err != nil {
		t.Fatal(err)
	}
	if s := darkShare(img, img.Bounds()); s != 0 {
		t.Errorf("empty page 3 is %.4f dark", s)
	}
	img, err = r.Render(ctx, doc, 2, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Text at the top left: some dark pixels in the first lines, none at the bottom.
	if s := darkShare(img, image.Rect(100, 80, 900, 300)); s < 0.01 {
		t.Errorf("text page: only %.4f dark in the text block", s)
	}
}

func TestWidthIsClampedAndAreaCapped(t *testing.T) {
	r := renderer(t)
	ctx := context.Background()
	a4 := makePDF(page{})
	for _, c := range []struct{ ask, want int }{{0, 1000}, {-5, 1000}, {50, 100}, {100, 100}, {1500, 1500}, {2000, 2000}, {9000, 2000}} {
		img, err := r.Render(ctx, a4, 1, c.ask)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != c.want {
			t.Errorf("width %d: got %d, want %d", c.ask, img.Bounds().Dx(), c.want)
		}
		if got := pdfrender.ClampWidth(c.ask); got != c.want {
			t.Errorf("ClampWidth(%d) = %d, want %d", c.ask, got, c.want)
		}
	}
	// Extreme aspect ratios and a huge media box stay within MaxPixels.
	for _, mb := range []string{"[0 0 10 14400]", "[0 0 14400 3]", "[0 0 1000000000 1000000000]", "[0 0 3 200000]"} {
		doc := makePDF(page{mediaBox: mb, content: "0 0 0 rg 0 0 5 5 re f"})
		img, err := r.Render(ctx, doc, 1, 2000)
		if err != nil {
			if errors.Is(err, pdfrender.ErrMalformed) {
				continue // refused cleanly is fine too
			}
			t.Fatalf("media box %s: %v", mb, err)
		}
		b := img.Bounds()
		if b.Dx() < 1 || b.Dy() < 1 || b.Dx()*b.Dy() > pdfrender.MaxPixels {
			t.Errorf("media box %s: %v exceeds the area cap", mb, b)
		}
	}
}

func TestImagesPassThroughScaled(t *testing.T) {
	r := renderer(t)
	ctx := context.Background()
	src := halves(400, 200)
	for name, doc := range map[string][]byte{"png": encodePNG(t, src), "jpeg": encodeJPEG(t, src)} {
		t.Run(name, func(t *testing.T) {
			if n, err := r.PageCount(ctx, doc); err != nil || n != 1 {
				t.Fatalf("PageCount = %d, %v", n, err)
			}
			img, err := r.Render(ctx, doc, 1, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 500 {
				t.Fatalf("size %v, want 1000x500", b)
			}
			if !dark(img, 100, 250) || !white(img, 900, 250) {
				t.Error("halves not kept")
			}
			if _, err := r.Render(ctx, doc, 2, 1000); !errors.Is(err, pdfrender.ErrPageRange) {
				t.Errorf("page 2 of an image: %v", err)
			}
			b, err := r.RenderPNG(ctx, doc, 1, 300)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(b))
			if err != nil || cfg.Width != 300 || cfg.Height != 150 {
				t.Fatalf("PNG %+v, %v", cfg, err)
			}
		})
	}
}

func TestRenderPNGIsCachedInMemory(t *testing.T) {
	r, err := pdfrender.New(pdfrender.Options{CacheDir: cacheDirFor(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	doc := makePDF(page{content: blackRect})
	a, err := r.RenderPNG(ctx, doc, 1, 800)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 800 || !dark(img, 270, 260) || !white(img, 10, 10) {
		t.Fatalf("PNG %v: wrong content", img.Bounds())
	}
	n, used := pdfrender.CacheStats(r)
	if n != 1 || used < int64(len(a)) {
		t.Fatalf("cache holds %d entries, %d bytes after one render", n, used)
	}
	b, err := r.RenderPNG(ctx, doc, 1, 800)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second render differs: %v", err)
	}
	if n2, _ := pdfrender.CacheStats(r); n2 != 1 {
		t.Fatalf("cache holds %d entries after a hit", n2)
	}
	// Same page at another width, another document: separate entries.
	if _, err := r.RenderPNG(ctx, doc, 1, 400); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RenderPNG(ctx, makePDF(page{}), 1, 400); err != nil {
		t.Fatal(err)
	}
	if n3, _ := pdfrender.CacheStats(r); n3 != 3 {
		t.Fatalf("cache holds %d entries, want 3", n3)
	}
}

func TestCacheIsBoundedInBytes(t *testing.T) {
	ctx := context.Background()
	doc := makePDF(page{content: blackRect}, page{content: blackRect, extra: "/Rotate 90"}, page{content: blackRect, extra: "/Rotate 180"})
	one, err := renderer(t).RenderPNG(ctx, doc, 1, 800)
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(len(one)) * 5 / 2
	r, err := pdfrender.New(pdfrender.Options{CacheDir: cacheDirFor(t), CacheBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for p := 1; p <= 3; p++ {
		for _, w := range []int{600, 700, 800} {
			if _, err := r.RenderPNG(ctx, doc, p, w); err != nil {
				t.Fatal(err)
			}
			if _, used := pdfrender.CacheStats(r); used > limit {
				t.Fatalf("cache uses %d bytes over its %d bound", used, limit)
			}
		}
	}
	if n, _ := pdfrender.CacheStats(r); n == 0 || n >= 9 {
		t.Fatalf("cache holds %d entries: expected evictions but not an empty cache", n)
	}
	off, err := pdfrender.New(pdfrender.Options{CacheDir: cacheDirFor(t), CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if _, err := off.RenderPNG(ctx, doc, 1, 600); err != nil {
		t.Fatal(err)
	}
	if n, _ := pdfrender.CacheStats(off); n != 0 {
		t.Fatalf("disabled cache holds %d entries", n)
	}
}

func TestHostileInputGivesAClearError(t *testing.T) {
	r := renderer(t)
	valid := makePDF(page{content: blackRect})
	encrypted := encryptedPDF(t, valid)
	cases := []struct {
		name string
		doc  []byte
		want error
	}{
		{"empty", nil, pdfrender.ErrNotPDF},
		{"garbage", []byte("this is not a document at all, just text"), pdfrender.ErrNotPDF},
		{"html", []byte("<!doctype html><title>x</title>"), pdfrender.ErrNotPDF},
		{"header only", []byte("%PDF-1.7\n"), pdfrender.ErrMalformed},
		{"header and junk", append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{0xff, 0x00, 0x13}, 3000)...), pdfrender.ErrMalformed},
		{"encrypted", encrypted, pdfrender.ErrEncrypted},
		{"no pages", []byte(zeroPages), pdfrender.ErrMalformed},
		{"truncated png", encodePNG(t, halves(40, 20))[:40], pdfrender.ErrMalformed},
		{"png bomb header", pngHeader(100_000, 100_000), pdfrender.ErrTooLarge},
		{"too large", append([]byte("%PDF-1.7\n"), make([]byte, pdfrender.DefaultMaxInputBytes)...), pdfrender.ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// PageCount reads an image's header only.
			if _, err := r.PageCount(ctx, c.doc); !errors.Is(err, c.want) && c.name != "truncated png" {
				t.Errorf("PageCount: %v, want %v", err, c.want)
			}
			if _, err := r.RenderPNG(ctx, c.doc, 1, 500); !errors.Is(err, c.want) {
				t.Errorf("RenderPNG: %v, want %v", err, c.want)
			}
		})
	}
	// Truncated anywhere: PDFium repairs what it can; anything else is a
	// sentinel error, and nothing hangs.
	for cut := 9; cut < len(valid); cut += len(valid) / 17 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := r.RenderPNG(ctx, valid[:cut], 1, 300)
		cancel()
		if err != nil && !errors.Is(err, pdfrender.ErrMalformed) && !errors.Is(err, pdfrender.ErrPageRange) {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
	// The renderer still works.
	if _, err := r.Render(context.Background(), valid, 1, 300); err != nil {
		t.Fatal(err)
	}
}

const zeroPages = "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"

// pngHeader is a PNG signature and IHDR claiming w × h pixels.
func pngHeader(w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		panic(err)
	}
	p := b.Bytes()
	// IHDR data starts at byte 16: width, height big-endian.
	put := func(off, v int) {
		p[off], p[off+1], p[off+2], p[off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	put(16, w)
	put(20, h)
	put(29, int(crc32.ChecksumIEEE(p[12:29])))
	return p
}

func encryptedPDF(t testing.TB, doc []byte) []byte {
	t.Helper()
	api.DisableConfigDir()
	conf := model.NewAESConfiguration("user-secret", "owner-secret", 256)
	var out bytes.Buffer
	if err := api.Encrypt(bytes.NewReader(doc), &out, conf); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestContextEndsTheCall(t *testing.T) {
	r := renderer(t)
	doc := makePDF(page{content: blackRect})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Render(ctx, doc, 1, 500); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	// A heavy page under a short deadline: whether it finishes or is
	// killed half-way, the call returns and the renderer keeps working.
	heavy := makePDF(page{content: heavyContent()})
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i*20+1)*time.Millisecond)
		_, err := r.Render(ctx, heavy, 1, 2000)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("heavy page: %v", err)
		}
	}
	img, err := r.Render(context.Background(), doc, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !dark(img, 300, 300) {
		t.Error("render after a killed call is wrong")
	}
}

func TestConcurrentRenders(t *testing.T) {
	r := renderer(t)
	docs := [][]byte{makePDF(page{content: blackRect}), makePDF(page{content: blackRect, extra: "/Rotate 90"})}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			img, err := r.Render(context.Background(), docs[i%2], 1, 600+i)
			if err == nil && (img.Bounds().Dx() != 600+i || (i%2 == 1) != (img.Bounds().Dx() > img.Bounds().Dy())) {
				err = errors.New("wrong size")
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestClosedRendererRefuses(t *testing.T) {
	r, err := pdfrender.New(pdfrender.Options{CacheDir: cacheDirFor(t)})
	if err != nil {
		t.Fatal(err)
	}
	doc := makePDF(page{content: blackRect})
	if _, err := r.RenderPNG(context.Background(), doc, 1, 300); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Render(context.Background(), doc, 1, 300); !errors.Is(err, pdfrender.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Closing a renderer that never started is fine too.
	idle, err := pdfrender.New(pdfrender.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOptionsValidated(t *testing.T) {
	for _, o := range []pdfrender.Options{{PoolSize: -1}, {Timeout: -time.Second}, {MaxInputBytes: -1}, {MemoryLimitMiB: -1}} {
		if _, err := pdfrender.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// heavyContent is a page of 60,000 small filled rectangles.
func heavyContent() string {
	var b bytes.Buffer
	b.WriteString("0 0 0 rg\n")
	for i := 0; i < 60000; i++ {
		x, y := float64(i%300)*1.9, float64(i/300)*4
		b.WriteString(ftoa(x) + " " + ftoa(y) + " 1.5 1.5 re f\n")
	}
	return b.String()
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
