package api

import (
	"bytes"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"parley/relay/pdfrender"
	"parley/relay/pdfrender/pdfrendertest"
)

// The page-image routes in the tenant isolation matrix. The meeting file
// routes run against the matrix's relay (which has a renderer: isoPages);
// the signing ones against a relay with the signing fixture's service and
// a renderer. Tenant B's admin, advisor, customer and nobody ask for page
// 1 of tenant A's process, link and meeting file (also through B's own
// meeting, and with B's signer session on A's link): every answer must be
// a refusal that carries none of A's data, while A's own callers get past
// authorisation (a PNG, or for the matrix's page-less test PDF the
// renderer's 422).

var (
	isoRendererOnce sync.Once
	isoRenderer     *pdfrender.Renderer
	isoRendererErr  error
)

// isoPages is the renderer the matrix's relays share (one PDFium start).
func isoPages(t *testing.T) Pages {
	t.Helper()
	isoRendererOnce.Do(func() {
		isoRenderer, isoRendererErr = pdfrender.New(pdfrender.Options{CacheDir: pdfrendertest.CacheDir()})
		if isoRendererErr == nil {
			isoRendererErr = isoRenderer.Start(t.Context())
		}
	})
	if isoRendererErr != nil {
		t.Fatalf("renderer: %v", isoRendererErr)
	}
	return isoRenderer
}

// pagesCases has one case per page-image route (they replace the cases
// the signing matrix would make for its two).
func pagesCases() map[string]isoCase {
	out := map[string]isoCase{}
	for _, rt := range routes {
		if strings.HasSuffix(rt.pattern, "/pages/{n}") {
			out[rt.method+" "+rt.pattern] = isoCase{run: func(t *testing.T, f *fixture, a, b *isoTenant, c isoCaller) {
				pagesIsolationCase(t, f, a, b, c, rt)
			}}
		}
	}
	return out
}

var (
	pageSrvMu sync.Mutex
	pageSrvs  = map[*fixture]*httptest.Server{}
)

// signingPagesServer is a relay with the signing fixture's service and a
// renderer, once per matrix.
func signingPagesServer(t *testing.T, f *fixture, fx *sigFixture) *httptest.Server {
	pageSrvMu.Lock()
	defer pageSrvMu.Unlock()
	if s := pageSrvs[f]; s != nil {
		return s
	}
	s := httptest.NewServer(New(Options{Auth: f.auth, Audit: noAudit{}, Clock: f.clock, Signing: fx.svc, Pages: isoPages(t)}))
	f.t.Cleanup(s.Close)
	pageSrvs[f] = s
	return s
}

func pagesIsolationCase(t *testing.T, f *fixture, a, b *isoTenant, c isoCaller, rt route) {
	type target struct {
		path, token string
		own         bool
	}
	token := c.token(false)
	srv := f
	private := a.private
	var targets []target
	var sanity []target
	var before func() string
	page := func(p string) string { return strings.Replace(p, "{n}", "1", 1) }
	switch {
	case strings.HasPrefix(rt.pattern, "/api/v1/signing/"), strings.HasPrefix(rt.pattern, "/api/v1/sign/"):
		fx := signingFixture(t, f, a, b)
		srv = &fixture{t: t, srv: signingPagesServer(t, f, fx), auth: f.auth, clock: f.clock, kv: f.kv}
		private = append(append([]string{}, fx.a.private...), a.private...)
		before = func() string { return fx.snapshot(t, a) }
		if strings.Contains(rt.pattern, "{id}") {
			targets = append(targets, target{path: page(strings.Replace(rt.pattern, "{id}", fx.a.processID, 1)), token: token})
			sanity = append(sanity, target{path: page(strings.Replace(rt.pattern, "{id}", fx.a.processID, 1)), token: a.advisor})
		} else {
			sub := func(tok string) string { return page(strings.Replace(rt.pattern, "{token}", tok, 1)) }
			targets = append(targets,
				target{path: sub(fx.a.processID), token: token},
				target{path: sub("psg_" + strings.Repeat("A", 43)), token: token},
				target{path: sub(fx.b.link), token: token, own: true},
				target{path: sub(fx.a.link), token: token},
				target{path: sub(fx.a.link), token: fx.b.session},
			)
			sanity = append(sanity, target{path: sub(fx.a.link), token: fx.a.session})
		}
	case strings.HasPrefix(rt.pattern, "/api/v1/meetings/"):
		sub := func(meetingID string) string {
			return page(strings.NewReplacer("{id}", meetingID, "{file}", a.fileID).Replace(rt.pattern))
		}
		targets = append(targets, target{path: sub(a.meetingID), token: token}, target{path: sub(b.meetingID), token: token})
		sanity = append(sanity, target{path: sub(a.meetingID), token: a.advisor})
		before = func() string { return f.snapshot(a) }
	default: // the participant's route
		p := page(strings.Replace(rt.pattern, "{file}", a.fileID, 1))
		targets = append(targets, target{path: p, token: token})
		sanity = append(sanity, target{path: p, token: a.admittedSec})
		before = func() string { return f.snapshot(a) }
	}
	was := before()
	for _, tg := range targets {
		r := srv.call(rt.method, tg.path, "", tg.token, nil, nil)
		all := string(r.body)
		for k, vs := range r.header {
			all += "\n" + k + ": " + strings.Join(vs, ", ")
		}
		for _, p := range private {
			if p != "" && strings.Contains(all, p) {
				t.Errorf("%s as %s: the answer (%d) holds tenant A's data %q", tg.path, c.name, r.status, p)
			}
		}
		if r.status >= 500 {
			t.Errorf("%s as %s: %d %s", tg.path, c.name, r.status, r.body)
		}
		if !tg.own && !refused(r.status, nil) {
			t.Errorf("%s as %s: tenant B reached tenant A's pages: %d %.200s", tg.path, c.name, r.status, r.body)
		}
		if !tg.own && r.header.Get("Content-Type") == "image/png" {
			t.Errorf("%s as %s: got a page image", tg.path, c.name)
		}
	}
	if now := before(); now != was {
		t.Errorf("%s as %s changed tenant A's state", rt.pattern, c.name)
	}
	// Tenant A's own caller gets past authorisation with the same ids.
	for _, tg := range sanity {
		r := srv.call(rt.method, tg.path, "", tg.token, nil, nil)
		switch {
		case r.status == http.StatusOK:
			if _, err := png.Decode(bytes.NewReader(r.body)); err != nil || r.header.Get("X-Page-Count") != "1" {
				t.Errorf("sanity %s: not a PNG of a 1-page document: %v %q", tg.path, err, r.header.Get("X-Page-Count"))
			}
		case r.status == http.StatusUnprocessableEntity && r.errCode() == "pdf_malformed":
			// The matrix's shared file is a PDF without pages.
		default:
			t.Errorf("sanity %s for tenant A's caller: %d %.200s", tg.path, r.status, r.body)
		}
	}
}
