package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"parley/relay/auth"
	"parley/relay/retention"
)

// Retention is what the API needs from the privacy engine
// (*retention.Policy).
type Retention interface {
	Table(ctx context.Context, tenantID string) ([]retention.Rule, error)
	SetOverride(ctx context.Context, tenantID string, actor retention.Actor, class string, period time.Duration, reason string) (retention.Rule, error)
	ClearOverride(ctx context.Context, tenantID string, actor retention.Actor, class, reason string) (retention.Rule, error)
	PlaceHold(ctx context.Context, tenantID string, actor retention.Actor, kind retention.SubjectKind, subjectID, reason string) (retention.Hold, error)
	ReleaseHold(ctx context.Context, tenantID string, actor retention.Actor, holdID string) error
	ListHolds(ctx context.Context, tenantID string) ([]retention.Hold, error)
}

// maxPeriodHours is retention.MaxPeriod in hours.
const maxPeriodHours = int64(retention.MaxPeriod / time.Hour)

// ruleJSON is one row of the effective retention table.
type ruleJSON struct {
	retention.Class
	DefaultHours int64         `json:"default_period_hours"`
	PeriodHours  int64         `json:"period_hours"`
	Override     *overrideJSON `json:"override"`
}

type overrideJSON struct {
	PeriodHours int64     `json:"period_hours"`
	Reason      string    `json:"reason,omitempty"`
	By          string    `json:"by"`
	At          time.Time `json:"at"`
}

func toRuleJSON(r retention.Rule) ruleJSON {
	out := ruleJSON{Class: r.Class, DefaultHours: int64(r.Default / time.Hour), PeriodHours: int64(r.Period / time.Hour)}
	if out.Persons == nil {
		out.Persons = []retention.Person{}
	}
	if o := r.Override; o != nil {
		out.Override = &overrideJSON{PeriodHours: int64(o.Period / time.Hour), Reason: o.Reason, By: o.By, At: o.At}
	}
	return out
}

// retentionError maps the privacy engine's errors to API errors.
func retentionError(err error) error {
	switch {
	case errors.Is(err, retention.ErrUnknownClass):
		return &Error{Status: http.StatusNotFound, Code: "unknown_class", Message: "No such data class."}
	case errors.Is(err, retention.ErrNotOverridable):
		return &Error{Status: http.StatusConflict, Code: "not_overridable", Message: "The period of this data class cannot be changed."}
	case errors.Is(err, retention.ErrInvalidPeriod):
		return badRequest("Field \"period_hours\" must be between 1 and %d.", maxPeriodHours)
	case errors.Is(err, retention.ErrReasonRequired):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "reason_required", Message: "A period longer than the default, and a legal hold, need a reason."}
	case errors.Is(err, retention.ErrInvalidReason):
		return badRequest("Field \"reason\" must be text of at most %d characters.", retention.MaxReason)
	case errors.Is(err, retention.ErrInvalidSubject):
		return badRequest("The hold's subject is invalid: \"subject_kind\" is customer, meeting, conversation or document, \"subject_id\" an id.")
	case errors.Is(err, retention.ErrForbidden):
		return errForbidden
	case errors.Is(err, retention.ErrNotFound):
		return errNotFound
	}
	return err
}

func retentionActor(s auth.Session) retention.Actor {
	return retention.Actor{UserID: s.UserID, Admin: s.Role == auth.RoleAdmin}
}

func (h *handler) retentionPolicy(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if h.retention == nil {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	rules, err := h.retention.Table(ctx, s.TenantID)
	if err != nil {
		writeError(w, retentionError(err))
		return
	}
	out := make([]ruleJSON, 0, len(rules))
	for _, rl := range rules {
		out = append(out, toRuleJSON(rl))
	}
	writeJSON(w, http.StatusOK, map[string]any{"classes": out})
}

type overrideRequest struct {
	PeriodHours *int64 `json:"period_hours"`
	Reason      string `json:"reason"`
}

func checkReasonField(reason string) error {
	if utf8.RuneCountInString(reason) > retention.MaxReason || strings.ContainsRune(reason, 0) {
		return badRequest("Field \"reason\" must be text of at most %d characters.", retention.MaxReason)
	}
	return nil
}

func decodeOverride(body []byte) (overrideRequest, error) {
	var req overrideRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if req.PeriodHours == nil {
		return req, badRequest("Field \"period_hours\" is required.")
	}
	if *req.PeriodHours < 1 || *req.PeriodHours > maxPeriodHours {
		return req, badRequest("Field \"period_hours\" must be between 1 and %d.", maxPeriodHours)
	}
	req.Reason = strings.TrimSpace(req.Reason)
	return req, checkReasonField(req.Reason)
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

func decodeReason(body []byte) (reasonRequest, error) {
	var req reasonRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	req.Reason = strings.TrimSpace(req.Reason)
	return req, checkReasonField(req.Reason)
}

func (h *handler) setRetentionOverride(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if h.retention == nil {
		writeError(w, errNotFound)
		return
	}
	req, ok := decodeRequest(w, r, decodeOverride)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	rule, err := h.retention.SetOverride(ctx, s.TenantID, retentionActor(s), r.PathValue("class"), time.Duration(*req.PeriodHours)*time.Hour, req.Reason)
	if err != nil {
		writeError(w, retentionError(err))
		return
	}
	writeJSON(w, http.StatusOK, toRuleJSON(rule))
}

// clearRetentionOverride takes an optional body {"reason": "…"}: returning
// to a longer default needs one.
func (h *handler) clearRetentionOverride(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if h.retention == nil {
		writeError(w, errNotFound)
		return
	}
	var req reasonRequest
	if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
		var ok bool
		if req, ok = decodeRequest(w, r, decodeReason); !ok {
			return
		}
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	rule, err := h.retention.ClearOverride(ctx, s.TenantID, retentionActor(s), r.PathValue("class"), req.Reason)
	if err != nil {
		writeError(w, retentionError(err))
		return
	}
	writeJSON(w, http.StatusOK, toRuleJSON(rule))
}

func (h *handler) listHolds(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if h.retention == nil {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	hs, err := h.retention.ListHolds(ctx, s.TenantID)
	if err != nil {
		writeError(w, retentionError(err))
		return
	}
	if hs == nil {
		hs = []retention.Hold{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"holds": hs})
}

type holdRequest struct {
	SubjectKind string `json:"subject_kind"`
	SubjectID   string `json:"subject_id"`
	Reason      string `json:"reason"`
}

func decodeHold(body []byte) (holdRequest, error) {
	var req holdRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	req.SubjectID = strings.TrimSpace(req.SubjectID)
	req.Reason = strings.TrimSpace(req.Reason)
	if err := requireFields([2]string{"subject_kind", req.SubjectKind}, [2]string{"subject_id", req.SubjectID}, [2]string{"reason", req.Reason}); err != nil {
		return req, err
	}
	if !retention.SubjectKind(req.SubjectKind).Valid() {
		return req, badRequest("Field \"subject_kind\" must be customer, meeting, conversation or document.")
	}
	if len(req.SubjectID) > 128 {
		return req, badRequest("Field \"subject_id\" is longer than allowed.")
	}
	return req, checkReasonField(req.Reason)
}

func (h *handler) placeHold(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if h.retention == nil {
		writeError(w, errNotFound)
		return
	}
	req, ok := decodeRequest(w, r, decodeHold)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	hold, err := h.retention.PlaceHold(ctx, s.TenantID, retentionActor(s), retention.SubjectKind(req.SubjectKind), req.SubjectID, req.Reason)
	if err != nil {
		writeError(w, retentionError(err))
		return
	}
	writeJSON(w, http.StatusCreated, hold)
}

func (h *handler) releaseHold(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if h.retention == nil {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	if err := h.retention.ReleaseHold(ctx, s.TenantID, retentionActor(s), r.PathValue("id")); err != nil {
		writeError(w, retentionError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
