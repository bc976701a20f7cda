package api

import (
	"net/http"
	"time"

	"parley/relay/auth"
)

// Signal serves the signalling protocol (*signal.Hub): a WebSocket for
// browsers, a full-duplex stream for the desktop app.
type Signal interface {
	ServeWebSocket(w http.ResponseWriter, r *http.Request)
	ServeStream(w http.ResponseWriter, r *http.Request, sess auth.Session)
}

// signalWebSocket upgrades to a WebSocket; the client authenticates in
// its first message.
func (h *handler) signalWebSocket(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if h.signal == nil {
		writeError(w, errNotFound)
		return
	}
	if r.Header.Get("Upgrade") == "" {
		writeError(w, badRequest("A WebSocket upgrade is required."))
		return
	}
	noDeadlines(w)
	h.signal.ServeWebSocket(w, r)
}

// signalStream serves the newline-delimited JSON stream for the
// authenticated advisor.
func (h *handler) signalStream(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if h.signal == nil {
		writeError(w, errNotFound)
		return
	}
	noDeadlines(w)
	h.signal.ServeStream(w, r, s)
}

// noDeadlines lifts the server's whole-request timeouts from a
// long-lived signalling connection; the signalling hub closes idle ones
// itself.
func noDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}
