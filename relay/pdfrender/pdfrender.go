// Package pdfrender turns pages of PDF documents (and PNG or JPEG images)
// into bitmaps for the customer's browser and the desktop app: the signing
// page shows the document as page images with the signer's fields outlined,
// and the whiteboard draws a presented page behind its strokes.
//
// The renderer is PDFium (BSD-3-Clause / Apache-2.0) compiled to
// WebAssembly and run by wazero (Apache-2.0) through
// github.com/klippa-app/go-pdfium (MIT): pure Go, no cgo, no subprocess.
// Each instance is a sandbox with its own linear memory and no file system;
// a call that outlives its context is killed with its instance. Rendered PNGs
// are cached in memory only (pages may hold personal data); the only thing
// written to disk is wazero's compiled machine code for the PDFium module,
// when Options.CacheDir is set. See docs/pdfrender.md.
package pdfrender

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	pdfium "github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/enums"
	pdfiumerrors "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Limits and defaults.
const (
	// DefaultWidth is the width in pixels used when a caller asks for 0.
	DefaultWidth = 1000
	// MinWidth and MaxWidth bound the requested width; others are clamped.
	MinWidth = 100
	// MaxWidth is the largest width a page is rendered at.
	MaxWidth = 2000
	// MaxPixels caps the area of one rendered page (2000 × 2830, an A4
	// page at MaxWidth). A page with an extreme aspect ratio is rendered
	// narrower than asked so that it fits.
	MaxPixels = 2000 * 2830
	// DefaultMaxInputBytes bounds the document handed to Render (the
	// relay's file cap is 25 MiB).
	DefaultMaxInputBytes = 32 << 20
	// MaxImagePixels bounds the decoded size of a PNG or JPEG input
	// (a decompression bomb is refused before it is decoded).
	MaxImagePixels = 40_000_000
	// DefaultTimeout bounds one call when the caller's context has no
	// earlier deadline.
	DefaultTimeout = 20 * time.Second
	// DefaultCacheBytes bounds the in-memory cache of rendered PNGs.
	DefaultCacheBytes = 64 << 20
	// DefaultMemoryLimitMiB bounds the linear memory of one PDFium instance.
	DefaultMemoryLimitMiB = 1024
)

// Errors. Each names a kind of failure; check with errors.Is.
var (
	// ErrNotPDF: the input is neither a PDF nor a PNG or JPEG image.
	ErrNotPDF = errors.New("pdfrender: not a PDF or image")
	// ErrMalformed: the input claims to be a PDF or image but cannot be
	// read, or has no pages.
	ErrMalformed = errors.New("pdfrender: malformed document")
	// ErrEncrypted: the PDF needs a password.
	ErrEncrypted = errors.New("pdfrender: encrypted document")
	// ErrPageRange: the page number is below 1 or beyond the last page.
	ErrPageRange = errors.New("pdfrender: page out of range")
	// ErrTooLarge: the input is larger than Options.MaxInputBytes, or an
	// image's pixel count is over MaxImagePixels.
	ErrTooLarge = errors.New("pdfrender: document too large")
	// ErrClosed: the renderer was closed.
	ErrClosed = errors.New("pdfrender: renderer closed")
)

// Options configures a Renderer. The zero value works.
type Options struct {
	// PoolSize is the number of PDFium instances that render at the same
	// time; more calls wait for a free one. 0 means 1 (one core of a
	// small relay; each instance holds its own memory).
	PoolSize int
	// CacheDir, when set, is where wazero keeps the compiled PDFium module
	// so that the next start takes a fraction of a second instead of
	// seconds. It holds machine code only, never documents.
	CacheDir string
	// CacheBytes bounds the in-memory LRU cache of rendered PNGs (keyed by
	// the document's SHA-256, page and width). 0 means DefaultCacheBytes;
	// negative disables the cache.
	CacheBytes int64
	// MaxInputBytes bounds the input size; 0 means DefaultMaxInputBytes.
	MaxInputBytes int64
	// Timeout bounds one call on top of the caller's context; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// MemoryLimitMiB bounds one PDFium instance's memory; 0 means
	// DefaultMemoryLimitMiB.
	MemoryLimitMiB int
	// Logger gets start-up and failure records (ids and sizes only); nil
	// means slog.Default().
	Logger *slog.Logger
}

// Renderer renders pages. It starts PDFium lazily, on the first PDF, and
// is safe for concurrent use. Close releases it.
type Renderer struct {
	opts  Options
	log   *slog.Logger
	cache *lru

	mu       sync.Mutex
	pool     pdfium.Pool
	ccache   wazero.CompilationCache
	starting chan struct{}
	startErr error
	closed   bool
	ctx      context.Context
	cancel   context.CancelFunc
}

// New returns a Renderer; PDFium starts on first use.
func New(opts Options) (*Renderer, error) {
	if opts.PoolSize < 0 || opts.MaxInputBytes < 0 || opts.Timeout < 0 || opts.MemoryLimitMiB < 0 {
		return nil, errors.New("pdfrender: negative option")
	}
	if opts.PoolSize == 0 {
		opts.PoolSize = 1
	}
	if opts.MaxInputBytes == 0 {
		opts.MaxInputBytes = DefaultMaxInputBytes
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MemoryLimitMiB == 0 {
		opts.MemoryLimitMiB = DefaultMemoryLimitMiB
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Renderer{opts: opts, log: log, cache: newLRU(opts.CacheBytes), ctx: ctx, cancel: cancel}, nil
}

// Close stops the PDFium instances and empties the cache. Calls after
// Close fail with ErrClosed.
func (r *Renderer) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	starting := r.starting
	r.mu.Unlock()
	if starting != nil {
		<-starting
	}
	r.mu.Lock()
	pool, cc := r.pool, r.ccache
	r.pool, r.ccache = nil, nil
	r.mu.Unlock()
	var err error
	if pool != nil {
		if cerr := pool.Close(); cerr != nil {
			err = fmt.Errorf("pdfrender: closing the pool: %w", cerr)
		}
	}
	if cc != nil {
		_ = cc.Close(context.Background())
	}
	r.cancel()
	r.cache.clear()
	return err
}

// Start starts PDFium now instead of on the first PDF (the first start
// compiles the module: seconds without a compilation cache).
func (r *Renderer) Start(ctx context.Context) error {
	_, err := r.start(ctx)
	return err
}

func (r *Renderer) start(ctx context.Context) (pdfium.Pool, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if r.pool != nil {
		p := r.pool
		r.mu.Unlock()
		return p, nil
	}
	if r.starting == nil {
		r.starting = make(chan struct{})
		go r.boot(r.starting)
	}
	ch := r.starting
	r.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, fmt.Errorf("pdfrender: starting PDFium: %w", context.Cause(ctx))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if r.pool == nil {
		return nil, r.startErr
	}
	return r.pool, nil
}

// boot starts the pool and closes done. A failed start is reported to the
// callers waiting for it; the next call tries again.
func (r *Renderer) boot(done chan struct{}) {
	t0 := time.Now()
	cfg := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(uint32(r.opts.MemoryLimitMiB) * 16) // 64 KiB pages
	var cc wazero.CompilationCache
	if r.opts.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(r.opts.CacheDir)
		if err != nil {
			r.log.Warn("pdfrender: compilation cache unusable, compiling without it", "err", err)
		} else {
			cc = c
			cfg = cfg.WithCompilationCache(c)
		}
	}
	pool, err := webassembly.Init(webassembly.Config{
		Context:       r.ctx,
		MinIdle:       0,
		MaxIdle:       r.opts.PoolSize,
		MaxTotal:      r.opts.PoolSize,
		RuntimeConfig: cfg,
		FSConfig:      wazero.NewFSConfig(), // no file system inside the sandbox
		Stdout:        io.Discard,
		Stderr:        io.Discard,
		ReuseWorkers:  true,
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starting = nil
	if err != nil {
		if cc != nil {
			_ = cc.Close(context.Background())
		}
		r.startErr = fmt.Errorf("pdfrender: starting PDFium: %w", err)
		r.log.Error("pdfrender: PDFium did not start", "err", err)
	} else {
		r.pool, r.ccache, r.startErr = pool, cc, nil
		r.log.Info("pdfrender: PDFium started", "pool", r.opts.PoolSize, "compile_cache", cc != nil, "took", time.Since(t0))
	}
	close(done)
}

// kind is what the input bytes are.
type kind int

const (
	kindPDF kind = iota + 1
	kindPNG
	kindJPEG
)

func sniff(doc []byte) (kind, error) {
	switch {
	case bytes.HasPrefix(doc, []byte("\x89PNG\r\n\x1a\n")):
		return kindPNG, nil
	case bytes.HasPrefix(doc, []byte("\xff\xd8\xff")):
		return kindJPEG, nil
	}
	// PDF readers accept up to 1 KiB of junk before the header.
	head := doc
	if len(head) > 1024 {
		head = head[:1024]
	}
	if bytes.Contains(head, []byte("%PDF-")) {
		return kindPDF, nil
	}
	return 0, ErrNotPDF
}

func (r *Renderer) check(doc []byte) (kind, error) {
	if int64(len(doc)) > r.opts.MaxInputBytes {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(doc), r.opts.MaxInputBytes)
	}
	return sniff(doc)
}

// ClampWidth returns the width a request for w pixels is rendered at
// before the area cap: DefaultWidth for 0 or less, else w within
// [MinWidth, MaxWidth].
func ClampWidth(w int) int {
	switch {
	case w <= 0:
		return DefaultWidth
	case w < MinWidth:
		return MinWidth
	case w > MaxWidth:
		return MaxWidth
	}
	return w
}

// fit returns the pixel size of a page of pw × ph (any unit) at width w,
// within MaxPixels.
func fit(pw, ph float64, w int) (int, int, error) {
	if !(pw > 0) || !(ph > 0) || math.IsInf(pw, 0) || math.IsInf(ph, 0) {
		return 0, 0, fmt.Errorf("%w: page size %gx%g", ErrMalformed, pw, ph)
	}
	fw := float64(w)
	fh := math.Round(fw * ph / pw)
	if fw*fh > MaxPixels {
		s := math.Sqrt(MaxPixels / (fw * fh))
		fw, fh = math.Floor(fw*s), math.Round(fh*s)
	}
	wi, hi := int(fw), int(fh)
	if wi < 1 {
		wi = 1
	}
	if hi < 1 {
		hi = 1
	}
	if wi*hi > MaxPixels {
		hi = MaxPixels / wi
	}
	return wi, hi, nil
}

// PageCount returns the number of pages: 1 for an image.
func (r *Renderer) PageCount(ctx context.Context, doc []byte) (int, error) {
	k, err := r.check(doc)
	if err != nil {
		return 0, err
	}
	if k != kindPDF {
		if _, _, err := imageConfig(doc); err != nil {
			return 0, err
		}
		return 1, nil
	}
	key := cacheKey{digest: sha256.Sum256(doc)}
	if n, ok := r.cache.count(key); ok {
		return n, nil
	}
	var n int
	err = r.withDocument(ctx, doc, func(inst pdfium.Pdfium, ref docRef) error {
		var err error
		n, err = pageCount(inst, ref)
		return err
	})
	if err != nil {
		return 0, err
	}
	r.cache.putCount(key, n)
	return n, nil
}

// Render returns page (1-based) of doc rendered widthPx wide (clamped with
// ClampWidth and the MaxPixels area cap), upright as a viewer shows it (the
// page's /Rotate applied, its CropBox shown) on white. An image input has
// one page and is scaled to the width.
func (r *Renderer) Render(ctx context.Context, doc []byte, page, widthPx int) (*image.RGBA, error) {
	k, err := r.check(doc)
	if err != nil {
		return nil, err
	}
	if page < 1 {
		return nil, fmt.Errorf("%w: page %d", ErrPageRange, page)
	}
	w := ClampWidth(widthPx)
	if k != kindPDF {
		if page != 1 {
			return nil, fmt.Errorf("%w: page %d of 1", ErrPageRange, page)
		}
		return scaleImage(doc, w)
	}
	var out *image.RGBA
	err = r.withDocument(ctx, doc, func(inst pdfium.Pdfium, ref docRef) error {
		n, err := pageCount(inst, ref)
		if err != nil {
			return err
		}
		if page > n {
			return fmt.Errorf("%w: page %d of %d", ErrPageRange, page, n)
		}
		size, err := inst.FPDF_GetPageSizeByIndexF(&requests.FPDF_GetPageSizeByIndexF{Document: ref.doc, Index: page - 1})
		if err != nil {
			return fmt.Errorf("%w: page %d size: %v", ErrMalformed, page, err)
		}
		pw, ph, err := fit(float64(size.Size.Width), float64(size.Size.Height), w)
		if err != nil {
			return err
		}
		res, err := inst.RenderPageInPixels(&requests.RenderPageInPixels{
			Page:        requests.Page{ByIndex: &requests.PageByIndex{Document: ref.doc, Index: page - 1}},
			Width:       pw,
			Height:      ph,
			RenderFlags: enums.FPDF_RENDER_FLAG_ANNOT,
			RenderForm:  true, // widgets: signature appearances
			Document:    &ref.doc,
		})
		if err != nil {
			return fmt.Errorf("%w: rendering page %d: %v", ErrMalformed, page, err)
		}
		defer res.Cleanup()
		out = onWhite(res.Result.RenderedImage)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RenderPNG is Render encoded as PNG, served from and kept in the
// in-memory cache.
func (r *Renderer) RenderPNG(ctx context.Context, doc []byte, page, widthPx int) ([]byte, error) {
	if _, err := r.check(doc); err != nil {
		return nil, err
	}
	key := cacheKey{digest: sha256.Sum256(doc), page: page, width: ClampWidth(widthPx)}
	if b, ok := r.cache.get(key); ok {
		return b, nil
	}
	img, err := r.Render(ctx, doc, page, widthPx)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("pdfrender: encoding page %d: %w", page, err)
	}
	b := buf.Bytes()
	r.cache.put(key, b)
	return b, nil
}

// docRef is an open document inside an instance.
type docRef struct {
	doc references.FPDF_DOCUMENT
}

func pageCount(inst pdfium.Pdfium, ref docRef) (int, error) {
	res, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: ref.doc})
	if err != nil {
		return 0, fmt.Errorf("%w: page count: %v", ErrMalformed, err)
	}
	if res.PageCount < 1 {
		return 0, fmt.Errorf("%w: no pages", ErrMalformed)
	}
	return res.PageCount, nil
}

// withDocument opens doc in a PDFium instance for fn, within the call's
// timeout. An instance whose call failed or outlived its context is
// killed (its memory may be in any state); a healthy one goes back to the
// pool.
func (r *Renderer) withDocument(ctx context.Context, doc []byte, fn func(pdfium.Pdfium, docRef) error) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	pool, err := r.start(ctx)
	if err != nil {
		return err
	}
	inst, err := pool.GetInstanceWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("pdfrender: waiting for an instance: %w", context.Cause(ctx))
		}
		return fmt.Errorf("pdfrender: getting an instance: %w", err)
	}
	killed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(killed)
		_ = inst.Kill()
	})
	err = r.openAndRun(inst, doc, fn)
	if !stop() {
		// The context ended during the call: the instance is being killed.
		<-killed
		r.log.Warn("pdfrender: call stopped by its context", "bytes", len(doc), "err", context.Cause(ctx))
		return fmt.Errorf("pdfrender: rendering: %w", context.Cause(ctx))
	}
	if err != nil {
		if !errors.Is(err, ErrPageRange) && !errors.Is(err, ErrEncrypted) {
			_ = inst.Kill()
			return err
		}
	}
	if cerr := inst.Close(); cerr != nil {
		r.log.Warn("pdfrender: returning an instance", "err", cerr)
	}
	return err
}

func (r *Renderer) openAndRun(inst pdfium.Pdfium, doc []byte, fn func(pdfium.Pdfium, docRef) error) error {
	d, err := inst.OpenDocument(&requests.OpenDocument{File: &doc})
	if err != nil {
		switch {
		case errors.Is(err, pdfiumerrors.ErrPassword), errors.Is(err, pdfiumerrors.ErrSecurity):
			return ErrEncrypted
		default:
			return fmt.Errorf("%w: opening: %v", ErrMalformed, err)
		}
	}
	ref := docRef{doc: d.Document}
	defer func() {
		_, _ = inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: ref.doc})
	}()
	return fn(inst, ref)
}

// onWhite copies src onto an opaque white RGBA image (PDFium leaves pages
// with transparency on a transparent background; a viewer shows white).
func onWhite(src image.Image) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Over)
	return dst
}
