package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"time"

	"parley/relay/audit"
	"parley/relay/auth"
	"parley/relay/kiosk"
	"parley/relay/meeting"
	"parley/relay/signing"
)

// Synchronous signing (in a meeting, at a kiosk), kiosk devices and
// "talk to an advisor" calls: contract B of docs/api-contract.md,
// docs/signing.md ("Synchronous signing", "Kiosks").

// Errors a Kiosks implementation returns for the present route.
var (
	// ErrMeetingNotLive: the meeting is not open, or not hosted by the
	// caller.
	ErrMeetingNotLive = errors.New("api: the meeting is not live")
	// ErrParticipantNotFound: no admitted participant with that id.
	ErrParticipantNotFound = errors.New("api: no such admitted participant")
)

// Presented is the answer to an advisor's present.
type Presented struct {
	// Signer is the signer role presented.
	Signer string `json:"signer"`
	// Delivered tells whether the participant was connected and got the
	// sign_request (false: not connected right now; present again).
	Delivered bool `json:"delivered"`
}

// KioskInfo is what a kiosk learns about itself.
type KioskInfo struct {
	// ID is the kiosk's id.
	ID string `json:"id"`
	// Name is the kiosk's name.
	Name string `json:"name"`
	// TenantName is the organisation's name.
	TenantName string `json:"tenant_name"`
}

// KioskQueueEntry is one entry of a kiosk's queue as the kiosk shows it
// (no customer data).
type KioskQueueEntry struct {
	// EntryID is the entry.
	EntryID string `json:"entry_id"`
	// Title is the process's title.
	Title string `json:"title"`
	// AdvisorName is the queueing advisor's display name.
	AdvisorName string `json:"advisor_name"`
	// QueuedAt is when it was queued.
	QueuedAt time.Time `json:"queued_at"`
}

// KioskCall is a waiting call as advisors see it.
type KioskCall struct {
	// ID is the call.
	ID string `json:"id"`
	// KioskID is the calling kiosk.
	KioskID string `json:"kiosk_id"`
	// KioskName is its name.
	KioskName string `json:"kiosk_name"`
	// CreatedAt is when the kiosk called.
	CreatedAt time.Time `json:"created_at"`
}

// Kiosks is synchronous signing, kiosks and calls as the API needs them
// (the relay's wiring in relay/server/kiosk.go).
type Kiosks interface {
	// Present asks an admitted participant of the caller's live meeting
	// to sign the process now.
	Present(ctx context.Context, s auth.Session, processID, meetingID, participantID string) (Presented, error)
	// QueueAtKiosk queues the customer whose turn it is at a kiosk.
	QueueAtKiosk(ctx context.Context, s auth.Session, processID, kioskID string) (kiosk.Entry, string, error)
	// CreateKiosk makes a kiosk (admin).
	CreateKiosk(ctx context.Context, tenantID, name, pin string) (kiosk.Device, string, error)
	// ListKiosks lists the tenant's kiosks.
	ListKiosks(ctx context.Context, tenantID string) ([]kiosk.Device, error)
	// DeleteKiosk deletes a kiosk (admin).
	DeleteKiosk(ctx context.Context, tenantID, id string) error
	// Authenticate resolves a kiosk's device token.
	Authenticate(ctx context.Context, token string) (kiosk.Device, error)
	// Me describes the kiosk.
	Me(ctx context.Context, d kiosk.Device) (KioskInfo, error)
	// Queue lists the kiosk's queue.
	Queue(ctx context.Context, d kiosk.Device) ([]KioskQueueEntry, error)
	// Open takes an entry by its pickup code and starts the signer's
	// kiosk session.
	Open(ctx context.Context, d kiosk.Device, code string) (kiosk.Entry, signing.SyncSession, error)
	// Unlock checks the kiosk's PIN.
	Unlock(ctx context.Context, d kiosk.Device, pin string) error
	// CreateCall asks for an advisor.
	CreateCall(ctx context.Context, d kiosk.Device) (kiosk.Call, error)
	// Call reads one of the kiosk's calls.
	Call(ctx context.Context, d kiosk.Device, id string) (kiosk.Call, error)
	// CancelCall cancels one of the kiosk's calls.
	CancelCall(ctx context.Context, d kiosk.Device, id string) (kiosk.Call, error)
	// WaitingCalls lists the tenant's waiting calls.
	WaitingCalls(ctx context.Context, tenantID string) ([]KioskCall, error)
	// AcceptCall accepts a call: a meeting hosted by the caller with the
	// kiosk admitted.
	AcceptCall(ctx context.Context, s auth.Session, id string) (meeting.Meeting, error)
}

// kioskError maps the kiosk and synchronous signing errors to API errors;
// others go through signingError (and then toError).
func kioskError(err error) error {
	var in *kiosk.InputError
	var wait *kiosk.WaitError
	var rec *signing.RecordError
	switch {
	case errors.As(err, &in):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_input", Message: in.Error(), Field: in.Field}
	case errors.As(err, &wait):
		secs := max(1, int(math.Ceil(wait.Wait.Seconds())))
		return &Error{Status: http.StatusTooManyRequests, Code: "too_many_attempts", Message: "Too many wrong attempts at this kiosk; try again later.", RetryAfter: secs}
	case errors.As(err, &rec):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid_signature_record", Message: "The signature record was refused (" + rec.Error() + ").", Field: "iso19794"}
	case errors.Is(err, kiosk.ErrNotFound):
		return errNotFound
	case errors.Is(err, kiosk.ErrUnauthorized):
		return &Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "The kiosk token is missing, unknown or revoked."}
	case errors.Is(err, kiosk.ErrInvalidCode):
		return &Error{Status: http.StatusForbidden, Code: "invalid_code", Message: "This pickup code is not valid at this kiosk (wrong, used or expired)."}
	case errors.Is(err, kiosk.ErrWrongPIN):
		return &Error{Status: http.StatusForbidden, Code: "wrong_pin", Message: "The PIN is wrong."}
	case errors.Is(err, kiosk.ErrTaken):
		return &Error{Status: http.StatusConflict, Code: "already_taken", Message: "Another advisor took this call, or it is no longer waiting."}
	case errors.Is(err, signing.ErrNotCustomersTurn):
		return &Error{Status: http.StatusConflict, Code: "not_customers_turn", Message: "It is not a customer's turn to sign this process."}
	case errors.Is(err, ErrMeetingNotLive):
		return &Error{Status: http.StatusConflict, Code: "meeting_not_live", Message: "The meeting is not running, or you do not host it."}
	case errors.Is(err, ErrParticipantNotFound):
		return &Error{Status: http.StatusNotFound, Code: "participant_not_found", Message: "No admitted participant with this id is in the meeting."}
	}
	return signingError(err)
}

// kiosksOn answers 404 when the relay has no kiosks.
func (h *handler) kiosksOn(w http.ResponseWriter) bool {
	if h.kiosks == nil {
		writeError(w, errNotFound)
		return false
	}
	return true
}

// kioskRoute authenticates a kiosk device (Bearer pkd_…) for a kiosk route.
func kioskRoute(fn func(h *handler, w http.ResponseWriter, r *http.Request, d kiosk.Device)) func(h *handler, w http.ResponseWriter, r *http.Request, s auth.Session) {
	return func(h *handler, w http.ResponseWriter, r *http.Request, _ auth.Session) {
		if !h.kiosksOn(w) {
			return
		}
		ctx, cancel := reqContext(r)
		defer cancel()
		d, err := h.kiosks.Authenticate(ctx, bearer(r))
		if err != nil {
			writeError(w, kioskError(err))
			return
		}
		fn(h, w, r, d)
	}
}

// recordKiosk appends an audit record made by a kiosk device.
func (h *handler) recordKiosk(ctx context.Context, d kiosk.Device, action, target string, details map[string]string) {
	_, err := h.audit.Append(ctx, audit.Record{TenantID: d.TenantID, Actor: "kiosk:" + d.ID, Action: action, Target: target, Details: details})
	if err != nil {
		h.log.Error("audit append failed", "action", action, "tenant_id", d.TenantID, "target", target, "error", err)
	}
}

func (h *handler) presentSigning(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.kiosksOn(w) {
		return
	}
	req, ok := decodeRequest(w, r, func(b []byte) (struct {
		MeetingID     string `json:"meeting_id"`
		ParticipantID string `json:"participant_id"`
	}, error) {
		var req struct {
			MeetingID     string `json:"meeting_id"`
			ParticipantID string `json:"participant_id"`
		}
		return req, decodeStrict(b, &req)
	})
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	out, err := h.kiosks.Present(ctx, s, r.PathValue("id"), req.MeetingID, req.ParticipantID)
	if err != nil {
		writeError(w, kioskError(err))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) queueAtKiosk(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.kiosksOn(w) {
		return
	}
	req, ok := decodeRequest(w, r, func(b []byte) (struct {
		KioskID string `json:"kiosk_id"`
	}, error) {
		var req struct {
			KioskID string `json:"kiosk_id"`
		}
		return req, decodeStrict(b, &req)
	})
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	e, code, err := h.kiosks.QueueAtKiosk(ctx, s, r.PathValue("id"), req.KioskID)
	if err != nil {
		writeError(w, kioskError(err))
		return
	}
	h.record(ctx, s, "kiosk.queue", e.ProcessID, map[string]string{"kiosk_id": e.KioskID, "entry_id": e.ID, "role": e.Role})
	writeJSON(w, http.StatusOK, map[string]any{"entry_id": e.ID, "pickup_code": code, "expires_at": e.Expires})
}

func (h *handler) createKiosk(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.kiosksOn(w) {
		return
	}
	req, ok := decodeRequest(w, r, func(b []byte) (struct {
		Name string `json:"name"`
		PIN  string `json:"pin"`
	}, error) {
		var req struct {
			Name string `json:"name"`
			PIN  string `json:"pin"`
		}
		return req, decodeStrict(b, &req)
	})
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	d, token, err := h.kiosks.CreateKiosk(ctx, s.TenantID, req.Name, req.PIN)
	if err != nil {
		writeError(w, kioskError(err))
		return
	}
	h.record(ctx, s, "kiosk.create", d.ID, nil)
	writeJSON(w, http.StatusCreated, map[string]any{"kiosk": d, "token": token})
}

func (h *handler) listKiosks(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.kiosksOn(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	ds, err := h.kiosks.ListKiosks(ctx, s.TenantID)
	if err != nil {
		writeError(w, kioskError(err))
		return
	}
	if ds == nil {
		ds = []kiosk.Device{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"kiosks": ds})
}

func (h *handler) deleteKiosk(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.kiosksOn(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	id := r.PathValue("id")
	if err := h.kiosks.DeleteKiosk(ctx, s.TenantID, id); err != nil {
		writeError(w, kioskError(err))
		return
	}
	h.record(ctx, s, "kiosk.delete", id, nil)
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) kioskMe(w http.ResponseWriter, r *http.Request, d kiosk.Device) {
	ctx, cancel := reqContext(r)
	defer cancel()
	info, err := h.kiosks.Me(ctx, d)
	if err != nil {
		writeError(w, kioskError(err))
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (h *handler) kioskQueue(w http.ResponseWriter, r *http.Request, d kiosk.Device) {
	ctx, cancel := reqContext(r)
	defer cancel()
	es, err := h.kiosks.Queue(ctx, d)
	if err != nil {
		writeError(w, kioskError(err))
		return
	}
	if es == nil {
		es = []KioskQueueEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": es})
}

func (h *handler) kioskOpen(w http.ResponseWriter, r *http.Request, d kiosk.Device) {
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
	e, ss, err := h.kiosks.Open(ctx, d, req.Code)
	if err != nil {
		writeError(w, kioskError(err))
		return
	}
	h.recordKiosk(ctx, d, "kiosk.open", e.ProcessID, map[string]string{"kiosk_id": d.ID, "entry_id": e.ID, "role": e.Role})
	writeJSON(w, http.StatusOK, map[string]any{"token": ss.Token, "session": ss.Session, "signer": ss.Role, "title": ss.Title,
		"pages": ss.Pages, "fields": ss.Fields, "expires": ss.Expires})
}

func (h *handler) kioskUnlock(w http.ResponseWriter, r *http.Request, d kiosk.Device) {
	req, ok := decodeRequest(w, r, func(b []byte) (struct {
		PIN string `json:"pin"`
	}, error) {
		var req struct {
			PIN string `json:"pin"`
		}
		return req, decodeStrict(b, &req)
	})
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	if err := h.kiosks.Unlock(ctx, d, req.PIN); err != nil {
		writeError(w, kioskError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func callJSON(c kiosk.Call) map[string]any {
	out := map[string]any{"id": c.ID, "status": c.Status}
	if c.MeetingID != "" {
		out["meeting_id"] = c.MeetingID
	}
	if c.Secret != "" {
		out["participant_secret"] = c.Secret
	}
	return out
}

func (h *handler) kioskCreateCall(w http.ResponseWriter, r *http.Request, d kiosk.Device) {
	ctx, cancel := reqContext(r)
	defer cancel()
	c, err := h.kiosks.CreateCall(ctx, d)
	if err != nil {
		writeError(w, kioskError(err))
		return
	}
	writeJSON(w, http.StatusCreated, callJSON(c))
}

func (h *handler) kioskGetCall(w http.ResponseWriter, r *http.Request, d kiosk.Device) {
	ctx, cancel := reqContext(r)
	defer cancel()
	c, err := h.kiosks.Call(ctx, d, r.PathValue("id"))
	if err != nil {
		writeError(w, kioskError(err))
		return
	}
	writeJSON(w, http.StatusOK, callJSON(c))
}

func (h *handler) kioskCancelCall(w http.ResponseWriter, r *http.Request, d kiosk.Device) {
	ctx, cancel := reqContext(r)
	defer cancel()
	c, err := h.kiosks.CancelCall(ctx, d, r.PathValue("id"))
	if err != nil {
		writeError(w, kioskError(err))
		return
	}
	writeJSON(w, http.StatusOK, callJSON(c))
}

func (h *handler) listKioskCalls(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.kiosksOn(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	cs, err := h.kiosks.WaitingCalls(ctx, s.TenantID)
	if err != nil {
		writeError(w, kioskError(err))
		return
	}
	if cs == nil {
		cs = []KioskCall{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": cs})
}

func (h *handler) acceptKioskCall(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.kiosksOn(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	m, err := h.kiosks.AcceptCall(ctx, s, r.PathValue("id"))
	if err != nil {
		writeError(w, kioskError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"meeting": toMeetingJSON(m)})
}

// kioskSubmitRequest is the kiosk's form of a signer submission.
type kioskSubmitRequest struct {
	Texts    map[string]string `json:"texts"`
	Pointer  json.RawMessage   `json:"pointer"`
	ISO19794 string            `json:"iso19794"`
	Device   string            `json:"device"`
}

// decodeSignerSubmission parses a signer's submission: {"texts",
// "pointer"} from the browser, or {"texts", "iso19794" (standard base64 of
// the binary record), "device"} from a kiosk. Exactly one of pointer and
// iso19794 is required.
func decodeSignerSubmission(body []byte) (signing.Submission, error) {
	var req kioskSubmitRequest
	if err := decodeStrict(body, &req); err != nil {
		return signing.Submission{}, err
	}
	hasPointer := len(req.Pointer) > 0 && string(req.Pointer) != "null"
	switch {
	case req.ISO19794 == "" && req.Device != "":
		return signing.Submission{}, badRequest("Field \"device\" goes with \"iso19794\" only.")
	case req.ISO19794 == "":
		if !hasPointer {
			return signing.Submission{}, badRequest("Field \"pointer\" (the signature's Pointer Events JSON) is required.")
		}
		return signing.Submission{Texts: req.Texts, Pointer: req.Pointer}, nil
	case hasPointer:
		return signing.Submission{}, badRequest("Send either \"pointer\" or \"iso19794\", not both.")
	}
	if base64.StdEncoding.DecodedLen(len(req.ISO19794)) > signing.MaxISORecord+3 {
		return signing.Submission{}, kioskError(&signing.RecordError{Code: "record_too_large", Msg: "the record is too large"})
	}
	rec, err := base64.StdEncoding.DecodeString(req.ISO19794)
	if err != nil {
		return signing.Submission{}, kioskError(&signing.RecordError{Code: "record_malformed", Msg: "iso19794 is not standard base64"})
	}
	if err := signing.CheckDevice(req.Device); err != nil {
		return signing.Submission{}, kioskError(err)
	}
	return signing.Submission{Texts: req.Texts, ISO19794: rec, Device: req.Device}, nil
}
