package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"time"

	"parley/relay/auth"
	"parley/relay/signing"
	"parley/relay/signing/pdf"
	"parley/signpad/browser"
)

// Signing is what the API needs from the e-signature service
// (*signing.Service).
type Signing interface {
	MaxBytes() int64
	Create(ctx context.Context, a signing.Actor, title, lang string, r io.Reader) (signing.Process, error)
	List(ctx context.Context, a signing.Actor) ([]signing.Process, error)
	Get(ctx context.Context, a signing.Actor, id string) (signing.Process, error)
	SetFields(ctx context.Context, a signing.Actor, id string, signers []signing.SignerInput, fields []pdf.Field) (signing.Process, error)
	Send(ctx context.Context, a signing.Actor, id string) (signing.Process, error)
	Cancel(ctx context.Context, a signing.Actor, id string) (signing.Process, error)
	CurrentDocument(ctx context.Context, a signing.Actor, id string) (signing.Document, error)
	AdvisorSign(ctx context.Context, a signing.Actor, id string, in signing.Submission) (signing.Process, error)
	ByLink(ctx context.Context, token, session string) (signing.SignerView, error)
	SendCode(ctx context.Context, token string) (time.Time, error)
	VerifyCode(ctx context.Context, token, code string) (string, time.Time, error)
	SignerDocument(ctx context.Context, token, session string) (signing.Document, error)
	Submit(ctx context.Context, token, session string, in signing.Submission) (signing.SignerView, error)
	SetTrusteeKey(ctx context.Context, a signing.Actor, pemData []byte) (signing.TrusteeKey, error)
	TrusteeKey(ctx context.Context, a signing.Actor) (signing.TrusteeKey, error)
	SealCA(ctx context.Context, a signing.Actor) ([]byte, error)
}

// maxSubmission bounds a signature submission: the pointer JSON's own cap
// plus room for the text values.
const maxSubmission = browser.MaxBody + 256<<10

// maxTrusteePEM bounds the trustee key upload.
const maxTrusteePEM = 8 << 10

func signingActor(s auth.Session) signing.Actor {
	return signing.Actor{TenantID: s.TenantID, UserID: s.UserID, Admin: s.Role == auth.RoleAdmin}
}

// signingError maps the e-signature service's errors to API errors; other
// errors pass through to toError.
func signingError(err error) error {
	var in *signing.InputError
	var wait *signing.WaitError
	switch {
	case errors.As(err, &in):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_input", Message: in.Error(), Field: in.Field}
	case errors.As(err, &wait):
		if wait.Wait <= 0 {
			return &Error{Status: http.StatusTooManyRequests, Code: "code_limit", Message: "No more codes can be sent for this link: ask your advisor for a new one."}
		}
		secs := max(1, int(math.Ceil(wait.Wait.Seconds())))
		return &Error{Status: http.StatusTooManyRequests, Code: "throttled", Message: fmt.Sprintf("A new code can be sent in %d s.", secs), RetryAfter: secs}
	case errors.Is(err, signing.ErrSignatureRecord), errors.Is(err, signing.ErrNotCustomersTurn):
		return kioskError(err)
	case errors.Is(err, signing.ErrNotFound):
		return errNotFound
	case errors.Is(err, signing.ErrForbidden):
		return errForbidden
	case errors.Is(err, pdf.ErrNotPDF):
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "not_pdf", Message: "Only PDF documents can be signed; this file is not a PDF."}
	case errors.Is(err, pdf.ErrEncrypted):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "pdf_encrypted", Message: "The PDF is encrypted or password protected; upload it without protection."}
	case errors.Is(err, pdf.ErrTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "pdf_too_large", Message: "The PDF is larger than the relay accepts."}
	case errors.Is(err, pdf.ErrTooManyPages):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "pdf_too_many_pages", Message: "The PDF has more pages than the relay accepts."}
	case errors.Is(err, pdf.ErrMalformed):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "pdf_malformed", Message: "The PDF is damaged or not readable."}
	case errors.Is(err, pdf.ErrInvalidField):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_input", Message: "A field is unusable: unknown page, rectangle outside the page, repeated id or unknown signer.", Field: "fields"}
	case errors.Is(err, signing.ErrNotYourTurn):
		return &Error{Status: http.StatusConflict, Code: "not_your_turn", Message: "It is not this signer's turn: the signers ahead have not signed yet, or this signer has signed."}
	case errors.Is(err, signing.ErrExpired):
		return &Error{Status: http.StatusGone, Code: "link_expired", Message: "This signing link has expired: ask your advisor to send the document again."}
	case errors.Is(err, signing.ErrCodeRequired):
		return &Error{Status: http.StatusUnauthorized, Code: "code_required", Message: "Confirm the code we sent you by SMS first (or again: the confirmation has expired)."}
	case errors.Is(err, signing.ErrWrongCode):
		return &Error{Status: http.StatusUnauthorized, Code: "wrong_code", Message: "The code is wrong."}
	case errors.Is(err, signing.ErrCodeExpired):
		return &Error{Status: http.StatusConflict, Code: "code_expired", Message: "There is no valid code: it expired or was entered wrongly too often. Request a new one."}
	case errors.Is(err, signing.ErrNoTrusteeKey):
		return &Error{Status: http.StatusConflict, Code: "trustee_key_missing", Message: "An admin must set the trustee key for signature data before documents can be sent."}
	case errors.Is(err, signing.ErrContactMissing):
		return &Error{Status: http.StatusConflict, Code: "contact_missing", Message: "Every customer who signs needs an e-mail address and a mobile number in their profile."}
	case errors.Is(err, signing.ErrState):
		return &Error{Status: http.StatusConflict, Code: "invalid_state", Message: "Not possible in the process's current state."}
	case errors.Is(err, signing.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: "The process changed meanwhile; reload and try again."}
	}
	return err
}

// signingOn answers 404 when the relay has no e-signature service.
func (h *handler) signingOn(w http.ResponseWriter) bool {
	if h.signing == nil {
		writeError(w, errNotFound)
		return false
	}
	return true
}

func (h *handler) createSigning(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.signingOn(w) {
		return
	}
	q := r.URL.Query()
	// The server's read timeout is made for small JSON bodies.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(transferTimeout))
	ctx, cancel := context.WithTimeout(r.Context(), transferTimeout)
	defer cancel()
	body := http.MaxBytesReader(w, r.Body, h.signing.MaxBytes()+1)
	p, err := h.signing.Create(ctx, signingActor(s), q.Get("title"), q.Get("lang"), body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) || errors.Is(err, pdf.ErrTooLarge) {
			w.Header().Set("Connection", "close")
			err = pdf.ErrTooLarge
		}
		writeError(w, signingError(err))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"process": p})
}

func (h *handler) listSigning(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.signingOn(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	ps, err := h.signing.List(ctx, signingActor(s))
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	if ps == nil {
		ps = []signing.Process{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"processes": ps})
}

func (h *handler) getSigning(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.signingOn(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	p, err := h.signing.Get(ctx, signingActor(s), r.PathValue("id"))
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"process": p})
}

type fieldsRequest struct {
	Signers []signing.SignerInput `json:"signers"`
	Fields  []pdf.Field           `json:"fields"`
}

func (h *handler) setSigningFields(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.signingOn(w) {
		return
	}
	req, ok := decodeRequest(w, r, func(b []byte) (fieldsRequest, error) {
		var req fieldsRequest
		return req, decodeStrict(b, &req)
	})
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	p, err := h.signing.SetFields(ctx, signingActor(s), r.PathValue("id"), req.Signers, req.Fields)
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"process": p})
}

// signingAction runs a body-less state change (send, cancel).
func signingAction(do func(Signing, context.Context, signing.Actor, string) (signing.Process, error)) func(h *handler, w http.ResponseWriter, r *http.Request, s auth.Session) {
	return func(h *handler, w http.ResponseWriter, r *http.Request, s auth.Session) {
		if !h.signingOn(w) {
			return
		}
		ctx, cancel := reqContext(r)
		defer cancel()
		p, err := do(h.signing, ctx, signingActor(s), r.PathValue("id"))
		if err != nil {
			writeError(w, signingError(err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"process": p})
	}
}

func (h *handler) signingDocument(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.signingOn(w) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), transferTimeout)
	defer cancel()
	d, err := h.signing.CurrentDocument(ctx, signingActor(s), r.PathValue("id"))
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	writePDF(w, d, "attachment")
}

// writePDF sends a document version. Inline documents may be shown by the
// relay's own signing page (an <object> of the same origin) only.
func writePDF(w http.ResponseWriter, d signing.Document, disposition string) {
	hd := w.Header()
	hd.Set("Content-Type", "application/pdf")
	name := "document-" + d.Version.Kind + ".pdf"
	hd.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": name}))
	hd.Set("Content-Length", strconv.Itoa(len(d.Data)))
	hd.Set("ETag", `"`+d.Version.SHA256+`"`)
	hd.Set("X-Parley-Document-Version", d.Version.Kind)
	if disposition == "inline" {
		hd.Set("X-Frame-Options", "SAMEORIGIN")
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'self'")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(d.Data)
}

// readSubmission reads a signature submission (up to maxSubmission bytes).
func readSubmission(w http.ResponseWriter, r *http.Request) (signing.Submission, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, errMediaType)
		return signing.Submission{}, false
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(transferTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSubmission))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			w.Header().Set("Connection", "close")
			writeError(w, &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "The signature data is larger than the relay accepts."})
			return signing.Submission{}, false
		}
		writeError(w, badRequest("Could not read the request body."))
		return signing.Submission{}, false
	}
	req, err := decodeSubmission(body)
	if err != nil {
		writeError(w, err)
		return signing.Submission{}, false
	}
	return req, true
}

// decodeSubmission parses {"texts": {...}, "pointer": {...}}, or a
// kiosk's {"texts", "iso19794", "device"} (kiosk.go).
func decodeSubmission(body []byte) (signing.Submission, error) {
	return decodeSignerSubmission(body)
}

func (h *handler) advisorSign(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.signingOn(w) {
		return
	}
	in, ok := readSubmission(w, r)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	p, err := h.signing.AdvisorSign(ctx, signingActor(s), r.PathValue("id"), in)
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"process": p})
}

// The signer's public routes: the link token is in the path, the session
// from the verified SMS code in the Authorization header (Bearer pss_…).

func (h *handler) signerView(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if !h.signingOn(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	v, err := h.signing.ByLink(ctx, r.PathValue("token"), bearer(r))
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"signer": v})
}

func (h *handler) signerCode(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if !h.signingOn(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	exp, err := h.signing.SendCode(ctx, r.PathValue("token"))
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"code_expires": exp})
}

func (h *handler) signerVerify(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if !h.signingOn(w) {
		return
	}
	req, ok := decodeRequest(w, r, func(b []byte) (struct {
		Code string `json:"code"`
	}, error) {
		var req struct {
			Code string `json:"code"`
		}
		return req, decodeStrict(b, &req)
	})
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	sess, exp, err := h.signing.VerifyCode(ctx, r.PathValue("token"), req.Code)
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"session": sess, "expires": exp})
}

func (h *handler) signerDocument(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if !h.signingOn(w) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), transferTimeout)
	defer cancel()
	d, err := h.signing.SignerDocument(ctx, r.PathValue("token"), bearer(r))
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	disposition := "inline"
	if r.URL.Query().Get("download") == "1" {
		disposition = "attachment"
	}
	writePDF(w, d, disposition)
}

func (h *handler) signerSubmit(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if !h.signingOn(w) {
		return
	}
	in, ok := readSubmission(w, r)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	v, err := h.signing.Submit(ctx, r.PathValue("token"), bearer(r), in)
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"signer": v})
}

// Admin routes: the tenant's trustee key and seal CA.

func (h *handler) putTrusteeKey(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.signingOn(w) {
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/x-pem-file" && mt != "text/plain" && mt != "application/octet-stream") {
		writeError(w, &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "Send the key as PEM (application/x-pem-file)."})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTrusteePEM))
	if err != nil {
		writeError(w, errTooLarge)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	k, err := h.signing.SetTrusteeKey(ctx, signingActor(s), body)
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	h.record(ctx, s, "signing.trustee_key_set", s.TenantID, map[string]string{"key_id": k.KeyID})
	writeJSON(w, http.StatusOK, map[string]any{"trustee_key": k})
}

func (h *handler) getTrusteeKey(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.signingOn(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	k, err := h.signing.TrusteeKey(ctx, signingActor(s))
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"trustee_key": k})
}

func (h *handler) getSealCA(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.signingOn(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	ca, err := h.signing.SealCA(ctx, signingActor(s))
	if err != nil {
		writeError(w, signingError(err))
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="parley-seal-ca.pem"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ca)
}
