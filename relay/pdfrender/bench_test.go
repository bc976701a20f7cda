package pdfrender_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"parley/relay/pdfrender"
)

// BenchmarkRenderTextPage renders a page of 45 lines of text at 1000 px
// and encodes it as PNG, bypassing the cache (a new width each time would
// change the work; the cache is disabled instead).
func BenchmarkRenderTextPage(b *testing.B) {
	r, err := pdfrender.New(pdfrender.Options{CacheDir: cacheDirFor(b), CacheBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	doc := makePDF(page{content: textContent()})
	ctx := context.Background()
	if err := r.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.RenderPNG(ctx, doc, 1, 1000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderTextPageImage is the same page without the PNG encoding.
func BenchmarkRenderTextPageImage(b *testing.B) {
	r := renderer(b)
	doc := makePDF(page{content: textContent()})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Render(ctx, doc, 1, 1000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderCachedPNG is a cache hit (digest + lookup).
func BenchmarkRenderCachedPNG(b *testing.B) {
	r := renderer(b)
	doc := makePDF(page{content: textContent()})
	ctx := context.Background()
	if _, err := r.RenderPNG(ctx, doc, 1, 1000); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.RenderPNG(ctx, doc, 1, 1000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstStart measures starting PDFium and rendering one page,
// without a compilation cache (every start compiles the module) and with
// a warm one.
func BenchmarkFirstStart(b *testing.B) {
	doc := makePDF(page{content: textContent()})
	run := func(b *testing.B, dir func() string) {
		for i := 0; i < b.N; i++ {
			r, err := pdfrender.New(pdfrender.Options{CacheDir: dir()})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.RenderPNG(context.Background(), doc, 1, 1000); err != nil {
				b.Fatal(err)
			}
			if err := r.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("no-cache", func(b *testing.B) { run(b, func() string { return "" }) })
	b.Run("warm-cache", func(b *testing.B) {
		dir := filepath.Join(b.TempDir(), "wazero")
		warm, err := pdfrender.New(pdfrender.Options{CacheDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if err := warm.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		_ = warm.Close()
		if _, err := os.Stat(dir); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		run(b, func() string { return dir })
	})
}
