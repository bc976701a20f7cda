// Package pdfrendertest gives tests a started pdfrender.Renderer whose
// compiled PDFium module is cached across test runs (compiling it takes
// seconds, minutes under -race on a busy machine).
package pdfrendertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"parley/relay/pdfrender"
)

// CacheDir is the wazero compilation cache shared by tests on this
// machine: machine code for the PDFium module, keyed by wazero's version
// and the module's hash, never documents.
func CacheDir() string {
	return filepath.Join(os.TempDir(), "parley-pdfrender-wazero-cache")
}

// New returns a started Renderer with opts (CacheDir defaults to
// CacheDir()), closed when the test ends. The start happens outside any
// call's timeout.
func New(t testing.TB, opts pdfrender.Options) *pdfrender.Renderer {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = CacheDir()
	}
	r, err := pdfrender.New(opts)
	if err != nil {
		t.Fatalf("pdfrendertest: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	if err := r.Start(context.Background()); err != nil {
		t.Fatalf("pdfrendertest: %v", err)
	}
	return r
}
