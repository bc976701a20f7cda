package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"parley/relay/auth"
)

// Error is an API error: an HTTP status and a machine-readable code with a
// human message. Handlers return it (or domain errors, which toError maps).
type Error struct {
	Status  int    // HTTP status
	Code    string // machine-readable code, e.g. "bad_request"
	Message string // a sentence for people
	// Reasons lists password-rule violations for weak_password.
	Reasons []string
	// RetryAfter, in whole seconds, for throttled.
	RetryAfter int
	// OpensAt, for link_not_yet_open.
	OpensAt time.Time
	// Field names the request field an invalid_input error is about.
	Field string
	// LastBookableDate, for beyond_horizon: the last local date (YYYY-MM-DD)
	// that can be booked.
	LastBookableDate string
	// Challenge, for second_factor_required: the token to send back
	// with the code to POST /api/v1/login/second-factor.
	Challenge string
	// ChallengeExpires, for second_factor_required: when the challenge
	// ends.
	ChallengeExpires time.Time
}

// Error formats the status, code and message.
func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

var (
	errNotFound       = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "No such resource."}
	errMethod         = &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "This method is not allowed here."}
	errUnauth         = &Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "Sign in again: the session is missing, expired or revoked."}
	errForbidden      = &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "Your role does not allow this."}
	errPasswordChange = &Error{Status: http.StatusForbidden, Code: "password_change_required", Message: "Choose a new password before you continue."}
	errMediaType      = &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "Send the body as application/json."}
	errTooLarge       = &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "The request body is too large."}
	errInternal       = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "Something went wrong on the relay; nothing was changed."}
)

func badRequest(format string, a ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "bad_request", Message: fmt.Sprintf(format, a...)}
}

// toError maps a domain error to the API error the client sees.
func toError(err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	if e := meetingError(err); e != nil {
		return e
	}
	if e := bookingError(err); e != nil {
		return e
	}
	if e := customerError(err); e != nil {
		return e
	}
	if e := calendarError(err); e != nil {
		return e
	}
	if e := privacyError(err); e != nil {
		return e
	}
	var thr *auth.ThrottledError
	if errors.As(err, &thr) {
		secs := int(math.Ceil(thr.RetryAfter.Seconds()))
		if secs < 1 {
			secs = 1
		}
		return &Error{Status: http.StatusTooManyRequests, Code: "throttled",
			Message: fmt.Sprintf("Too many failed sign-ins. Try again in %d s.", secs), RetryAfter: secs}
	}
	var sf *auth.SecondFactorRequiredError
	if errors.As(err, &sf) {
		return &Error{Status: http.StatusUnauthorized, Code: "second_factor_required",
			Message: "Enter the code from your authenticator app (or a recovery code).", Challenge: sf.Challenge, ChallengeExpires: sf.Expires}
	}
	switch {
	case errors.Is(err, auth.ErrLastAdmin):
		return &Error{Status: http.StatusConflict, Code: "last_admin", Message: "You are the last admin of your organisation: make someone else an admin first."}
	case errors.Is(err, auth.ErrChallengeExpired):
		return &Error{Status: http.StatusUnauthorized, Code: "challenge_expired", Message: "The sign-in took too long or had too many wrong codes: enter your password again."}
	case errors.Is(err, auth.ErrInvalidCode):
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_code", Message: "The code is wrong or was used already."}
	case errors.Is(err, auth.ErrSecondFactorEnabled):
		return &Error{Status: http.StatusConflict, Code: "second_factor_enabled", Message: "Two-factor sign-in is already on."}
	case errors.Is(err, auth.ErrSecondFactorNotEnabled):
		return &Error{Status: http.StatusConflict, Code: "second_factor_not_enabled", Message: "Two-factor sign-in is not on (or its set-up expired: start again)."}
	}
	var weak *auth.WeakPasswordError
	if errors.As(err, &weak) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "weak_password",
			Message: "The new password does not meet the password rules.", Reasons: weak.Reasons}
	}
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_credentials", Message: "Wrong user name or password."}
	case errors.Is(err, auth.ErrUnknownTenant):
		return &Error{Status: http.StatusNotFound, Code: "unknown_tenant", Message: "No such organisation on this relay."}
	case errors.Is(err, auth.ErrSessionInvalid):
		return errUnauth
	case errors.Is(err, auth.ErrNotFound):
		return errNotFound
	case errors.Is(err, auth.ErrExists):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: "That already exists."}
	case errors.Is(err, auth.ErrInvalidInput):
		return badRequest("%s", publicMessage(err))
	}
	return errInternal
}

// publicMessage strips the package prefix chain from a validation error; the
// auth package words those errors for users and never includes input values.
func publicMessage(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	Reasons    []string   `json:"reasons,omitempty"`
	RetryAfter int        `json:"retry_after_seconds,omitempty"`
	OpensAt    *time.Time `json:"opens_at,omitempty"`
	Field      string     `json:"field,omitempty"`
	LastDate   string     `json:"last_bookable_date,omitempty"`
	Challenge  string     `json:"challenge,omitempty"`
	ChallExp   *time.Time `json:"challenge_expires_at,omitempty"`
}

func writeError(w http.ResponseWriter, err error) {
	e := toError(err)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if rw, ok := w.(*recorder); ok && e == errInternal {
		rw.internal = err
	}
	writeJSON(w, e.Status, errorBody{Error: errorDetail{Code: e.Code, Message: e.Message, Reasons: e.Reasons,
		RetryAfter: e.RetryAfter, OpensAt: optTime(e.OpensAt), Field: e.Field, LastDate: e.LastBookableDate, Challenge: e.Challenge, ChallExp: optTime(e.ChallengeExpires)}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
