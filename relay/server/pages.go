package server

import (
	"fmt"
	"path/filepath"

	"parley/relay/pdfrender"
)

// pagesCacheDir is the folder under DataDir for the renderer's compiled
// PDFium module (machine code only; rendered pages stay in memory).
const pagesCacheDir = "pdfrender-cache"

// startPages makes the page renderer behind the page-image routes
// (docs/pdfrender.md). PDFium starts on the first page asked for; its
// compiled module is kept in Options.RenderCacheDir (default
// DataDir/pdfrender-cache) so that later starts are fast.
func (s *Server) startPages(opts Options) error {
	dir := opts.RenderCacheDir
	if dir == "" {
		dir = filepath.Join(opts.DataDir, pagesCacheDir)
	}
	r, err := pdfrender.New(pdfrender.Options{PoolSize: opts.RenderPool, CacheDir: dir, Logger: s.log.With("component", "pdfrender")})
	if err != nil {
		return fmt.Errorf("server: page renderer: %w", err)
	}
	s.pages = r
	return nil
}

// closePages stops the renderer's PDFium instances.
func (s *Server) closePages() error {
	if s.pages == nil {
		return nil
	}
	if err := s.pages.Close(); err != nil {
		return fmt.Errorf("page renderer close: %w", err)
	}
	return nil
}
