package api

import (
	"context"
	"errors"
	"io"
	"net/http"

	"parley/relay/auth"
	"parley/relay/privacy"
)

// Privacy is what the API needs from the privacy engine
// (*privacy.Service): a customer's export and erasure, and the receipts.
type Privacy interface {
	Export(ctx context.Context, a privacy.Actor, customerID string, w io.Writer) (privacy.Manifest, error)
	Erase(ctx context.Context, a privacy.Actor, customerID string) (privacy.Receipt, error)
	Receipt(ctx context.Context, a privacy.Actor, id string) (privacy.Receipt, error)
	Receipts(ctx context.Context, a privacy.Actor) ([]privacy.Receipt, error)
}

// privacyError maps the privacy engine's errors for toError.
func privacyError(err error) *Error {
	switch {
	case errors.Is(err, privacy.ErrNotFound):
		return errNotFound
	case errors.Is(err, privacy.ErrForbidden):
		return errForbidden
	case errors.Is(err, privacy.ErrHeld):
		return &Error{Status: http.StatusConflict, Code: "legal_hold",
			Message: "The customer is under a legal hold: release the hold before erasing."}
	}
	return nil
}

func privacyActor(s auth.Session) privacy.Actor {
	return privacy.Actor{TenantID: s.TenantID, UserID: s.UserID, Admin: s.Role == auth.RoleAdmin}
}

// exportWriter sets the download headers on the first write, so that an
// export refused before it starts still answers with a JSON error.
type exportWriter struct {
	w       http.ResponseWriter
	name    string
	started bool
}

func (e *exportWriter) Write(p []byte) (int, error) {
	if !e.started {
		e.started = true
		h := e.w.Header()
		h.Set("Content-Type", "application/zip")
		h.Set("Content-Disposition", `attachment; filename="`+e.name+`"`)
		h.Set("Cache-Control", "no-store")
		e.w.WriteHeader(http.StatusOK)
	}
	return e.w.Write(p)
}

func (h *handler) exportCustomer(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if h.privacy == nil {
		writeError(w, errNotFound)
		return
	}
	id := r.PathValue("id")
	ew := &exportWriter{w: w, name: "parley-export-" + safeFileID(id) + ".zip"}
	_, err := h.privacy.Export(r.Context(), privacyActor(s), id, ew)
	if err == nil {
		return
	}
	if !ew.started {
		writeError(w, err)
		return
	}
	// Half an archive must not pass for a whole one: abort the response.
	h.log.Error("privacy: export failed while streaming", "customer_id", safeFileID(id), "err", err)
	panic(http.ErrAbortHandler)
}

// safeFileID keeps an id fit for a header and a log line.
func safeFileID(id string) string {
	if len(id) > 64 {
		id = id[:64]
	}
	out := make([]byte, 0, len(id))
	for i := 0; i < len(id); i++ {
		if c := id[i]; c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' {
			out = append(out, c)
		}
	}
	return string(out)
}

// privacyCall runs a privacy route when the engine exists.
func (h *handler) privacyCall(w http.ResponseWriter, r *http.Request, s auth.Session, fn func(ctx context.Context, a privacy.Actor) (any, error)) {
	if h.privacy == nil {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	v, err := fn(ctx, privacyActor(s))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *handler) eraseCustomer(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.privacyCall(w, r, s, func(ctx context.Context, a privacy.Actor) (any, error) {
		// The erasure goes on when the caller hangs up: it is in the
		// ledger already and must not stop half-way.
		rc, err := h.privacy.Erase(context.WithoutCancel(ctx), a, r.PathValue("id"))
		return rc, err
	})
}

func (h *handler) listErasures(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.privacyCall(w, r, s, func(ctx context.Context, a privacy.Actor) (any, error) {
		rs, err := h.privacy.Receipts(ctx, a)
		return map[string]any{"erasures": rs}, err
	})
}

func (h *handler) getErasure(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.privacyCall(w, r, s, func(ctx context.Context, a privacy.Actor) (any, error) {
		return h.privacy.Receipt(ctx, a, r.PathValue("id"))
	})
}
