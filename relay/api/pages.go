package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"parley/relay/auth"
	"parley/relay/pdfrender"
)

// Pages renders pages of documents as PNG images (*pdfrender.Renderer).
type Pages interface {
	RenderPNG(ctx context.Context, doc []byte, page, widthPx int) ([]byte, error)
	PageCount(ctx context.Context, doc []byte) (int, error)
}

// renderTimeout bounds rendering one page, queueing for a renderer
// included.
const renderTimeout = 30 * time.Second

// maxPageDoc bounds a meeting file read for rendering (the chat cap is
// 25 MiB; signing documents are capped at 20 MiB by their service).
const maxPageDoc = pdfrender.DefaultMaxInputBytes

// renderable lists the meeting file types that can be shown as pages.
var renderable = map[string]bool{"application/pdf": true, "image/png": true, "image/jpeg": true}

var errPageNotFound = &Error{Status: http.StatusNotFound, Code: "page_not_found", Message: "The document has no such page."}

// pagesError maps the renderer's errors to API errors.
func pagesError(err error) error {
	switch {
	case errors.Is(err, pdfrender.ErrPageRange):
		return errPageNotFound
	case errors.Is(err, pdfrender.ErrNotPDF):
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "not_renderable", Message: "Only PDF, PNG and JPEG files can be shown as pages."}
	case errors.Is(err, pdfrender.ErrEncrypted):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "pdf_encrypted", Message: "The PDF is password-protected and cannot be shown."}
	case errors.Is(err, pdfrender.ErrMalformed):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "pdf_malformed", Message: "The document cannot be read."}
	case errors.Is(err, pdfrender.ErrTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "file_too_large", Message: "The document is too large to be shown as pages."}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, pdfrender.ErrClosed):
		return &Error{Status: http.StatusServiceUnavailable, Code: "render_unavailable", Message: "The page could not be rendered in time. Try again."}
	}
	return err
}

// pageParams reads {n} and ?width=; on failure it has written the error.
func pageParams(w http.ResponseWriter, r *http.Request) (int, int, bool) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			writeError(w, errPageNotFound)
			return 0, 0, false
		}
		writeError(w, badRequest("The page number must be a whole number (1 for the first page)."))
		return 0, 0, false
	}
	if n < 1 {
		writeError(w, errPageNotFound)
		return 0, 0, false
	}
	width := pdfrender.DefaultWidth
	if v := r.URL.Query().Get("width"); v != "" {
		width, err = strconv.Atoi(v)
		if err != nil {
			writeError(w, badRequest("Parameter \"width\" must be a whole number of pixels (100 to 2000)."))
			return 0, 0, false
		}
	}
	return n, pdfrender.ClampWidth(width), true
}

func (h *handler) pagesOn(w http.ResponseWriter) bool {
	if h.pages == nil {
		writeError(w, errNotFound)
		return false
	}
	return true
}

// writePage renders page n of doc and sends it as PNG with the document's
// page count.
func (h *handler) writePage(w http.ResponseWriter, r *http.Request, doc []byte, n, width int) {
	ctx, cancel := context.WithTimeout(r.Context(), renderTimeout)
	defer cancel()
	count, err := h.pages.PageCount(ctx, doc)
	if err != nil {
		writeError(w, pagesError(err))
		return
	}
	if n > count {
		writeError(w, errPageNotFound)
		return
	}
	png, err := h.pages.RenderPNG(ctx, doc, n, width)
	if err != nil {
		writeError(w, pagesError(err))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "image/png")
	hd.Set("Content-Length", strconv.Itoa(len(png)))
	hd.Set("Cache-Control", "private, no-store")
	hd.Set("X-Page-Count", strconv.Itoa(count))
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(png)
}

// signingPage serves a page of a process's current revision to its
// advisor or a tenant admin (the access of …/{id}/document).
func (h *handler) signingPage(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.signingOn(w) || !h.pagesOn(w) {
		return
	}
	n, width, ok := pageParams(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), transferTimeout)
	defer cancel()
	d, err := h.signing.CurrentDocument(ctx, signingActor(s), r.PathValue("id"))
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	h.writePage(w, r, d.Data, n, width)
}

// signerPage serves a page of the revision the signer signs (the access of
// /api/v1/sign/{token}/document).
func (h *handler) signerPage(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if !h.signingOn(w) || !h.pagesOn(w) {
		return
	}
	n, width, ok := pageParams(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), transferTimeout)
	defer cancel()
	d, err := h.signing.SignerDocument(ctx, r.PathValue("token"), bearer(r))
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	h.writePage(w, r, d.Data, n, width)
}

// meetingFilePage serves a page of a file shared in the meeting to its
// advisor or a tenant admin (the access of …/files/{file}).
func (h *handler) meetingFilePage(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.pagesOn(w) {
		return
	}
	m, ok := h.advisorMeeting(w, r, s)
	if !ok {
		return
	}
	h.filePage(w, r, m.ID)
}

// participantFilePage serves a page of a file shared in the meeting to an
// admitted participant (the access of /api/v1/participant/files/{file}).
func (h *handler) participantFilePage(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if !h.pagesOn(w) {
		return
	}
	c, ok := h.admittedCustomer(w, r)
	if !ok {
		return
	}
	h.filePage(w, r, c.Meeting.ID)
}

func (h *handler) filePage(w http.ResponseWriter, r *http.Request, meetingID string) {
	n, width, ok := pageParams(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), transferTimeout)
	defer cancel()
	e, rc, err := h.chat.OpenFile(ctx, meetingID, r.PathValue("file"))
	if err != nil {
		writeError(w, chatError(err))
		return
	}
	defer rc.Close()
	if !renderable[e.FileType] {
		writeError(w, pagesError(pdfrender.ErrNotPDF))
		return
	}
	doc, err := io.ReadAll(io.LimitReader(rc, maxPageDoc+1))
	if err != nil {
		writeError(w, chatError(err))
		return
	}
	if int64(len(doc)) > maxPageDoc {
		writeError(w, pagesError(pdfrender.ErrTooLarge))
		return
	}
	h.writePage(w, r, doc, n, width)
}
