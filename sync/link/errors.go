package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors returned by [Client] methods, checked with errors.Is.
var (
	// ErrNotConnected is returned by API calls before a successful Connect.
	ErrNotConnected = errors.New("link: not connected to a relay")
	// ErrNotLoggedIn is returned by calls that need a session before Login.
	ErrNotLoggedIn = errors.New("link: not logged in")
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("link: client closed")
	// ErrBadResponse wraps every response the client cannot accept: a body
	// over the size limit, not JSON, of the wrong shape, or missing fields.
	ErrBadResponse = errors.New("link: unexpected response from the relay")
	// ErrInvalidURL wraps every rejected relay base URL.
	ErrInvalidURL = errors.New("link: invalid relay URL")
)

// Machine-readable error codes of docs/api-contract.md, found in
// [APIError.Code].
const (
	CodeBadRequest             = "bad_request"
	CodeInvalidCredentials     = "invalid_credentials"
	CodeUnauthenticated        = "unauthenticated"
	CodeForbidden              = "forbidden"
	CodePasswordChangeRequired = "password_change_required"
	CodeNotFound               = "not_found"
	CodeUnknownTenant          = "unknown_tenant"
	CodeMethodNotAllowed       = "method_not_allowed"
	CodeConflict               = "conflict"
	CodeTooLarge               = "too_large"
	CodeUnsupportedMediaType   = "unsupported_media_type"
	CodeWeakPassword           = "weak_password"
	CodeThrottled              = "throttled"
	CodeInternal               = "internal"
	// CodeSecondFactorRequired answers a right password of a user with a
	// second factor; [APIError.Challenge] carries the challenge.
	CodeSecondFactorRequired = "second_factor_required"
	// CodeInvalidCode: a wrong, reused or malformed TOTP or recovery
	// code, or (at sign-in) a void challenge.
	CodeInvalidCode = "invalid_code"
	// CodeChallengeExpired: the sign-in challenge is void (too old, or
	// too many wrong codes); sign in with the password again.
	CodeChallengeExpired = "challenge_expired"
	// CodeFutureBookings: the account still has appointments to come.
	CodeFutureBookings = "future_bookings"
	// CodeLastAdmin: the tenant's last admin cannot delete their account.
	CodeLastAdmin = "last_admin"
	// CodeSecondFactorEnabled: the user already has a second factor.
	CodeSecondFactorEnabled = "second_factor_enabled"
	// CodeSecondFactorNotEnabled: the user has no second factor, or no
	// enrolment under way.
	CodeSecondFactorNotEnabled = "second_factor_not_enabled"
)

// Limits applied when decoding an error response; anything beyond them
// comes from a broken or hostile server and is cut.
const (
	maxRetryAfter  = 24 * time.Hour
	maxCodeLen     = 64
	maxMessageLen  = 300
	maxReasons     = 16
	maxReasonLen   = 64
	maxErrorSearch = 64 << 10 // bytes of an error body that are parsed at all
)

// APIError is a non-2xx answer from the relay, decoded from the contract's
// error JSON. Check for it with errors.As. Its Error method returns a
// sentence that can be shown in the UI as it is.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the contract's machine code (one of the Code constants), or
	// "" when the body was not the contract's error JSON.
	Code string
	// Message is the relay's own human text, cleaned and shortened.
	Message string
	// Reasons lists why a password was refused (with CodeWeakPassword):
	// "too_short", "common", "contains_username", "reused", "too_long".
	Reasons []string
	// RetryAfter is how long to wait before trying again (with
	// CodeThrottled), from the Retry-After header or else the body's
	// retry_after_seconds; 0 when unknown. Capped at 24 hours.
	RetryAfter time.Duration
	// Challenge is the second-factor challenge (with
	// CodeSecondFactorRequired) to send back with a code through
	// [Client.LoginSecondFactor]; "" when absent or malformed.
	Challenge string
}

// Error returns a sentence for the UI, e.g. "Too many attempts — try again
// in 8 s.".
func (e *APIError) Error() string {
	switch e.Code {
	case CodeBadRequest, CodeConflict, CodeSecondFactorEnabled, CodeSecondFactorNotEnabled:
		// The relay words these for people and says what is wrong
		// ("You cannot disable your own account.").
		if e.Message != "" {
			return e.Message
		}
	}
	switch e.Code {
	case CodeBadRequest:
		return "The relay could not understand the request."
	case CodeInvalidCredentials:
		return "Wrong username or password."
	case CodeUnauthenticated:
		return "Your session has ended — please log in again."
	case CodeForbidden:
		return "You are not allowed to do this."
	case CodePasswordChangeRequired:
		return "Please change your password before you continue."
	case CodeNotFound:
		return "The relay could not find what was asked for."
	case CodeUnknownTenant:
		return "This relay does not know that organisation."
	case CodeMethodNotAllowed:
		return "The relay does not support this request."
	case CodeConflict:
		return "That already exists."
	case CodeTooLarge:
		return "The request is too large for the relay."
	case CodeUnsupportedMediaType:
		return "The relay did not accept the format of the request."
	case CodeWeakPassword:
		return weakPasswordSentence(e.Reasons)
	case CodeThrottled:
		if e.RetryAfter <= 0 {
			return "Too many attempts — try again later."
		}
		return "Too many attempts — try again in " + humanWait(e.RetryAfter) + "."
	case CodeInternal:
		return "The relay had an internal error — please try again later."
	case CodeSecondFactorRequired:
		return "Enter the 6-digit code from your authenticator app (or a recovery code)."
	case CodeInvalidCode:
		return "That code is not right or was used already — check your authenticator app and try again."
	case CodeChallengeExpired:
		return "The sign-in took too long or had too many wrong codes — enter your password again."
	case CodeSecondFactorEnabled:
		return "Two-factor sign-in is already on."
	case CodeSecondFactorNotEnabled:
		return "Two-factor sign-in is not on (or its set-up expired — start again)."
	}
	if e.Message != "" {
		return e.Message
	}
	text := http.StatusText(e.Status)
	if text == "" {
		text = "unknown status"
	}
	switch {
	case e.Status >= 500:
		return fmt.Sprintf("The relay is not available right now (HTTP %d %s) — please try again later.", e.Status, text)
	case e.Status >= 300 && e.Status < 400:
		return fmt.Sprintf("The relay answered with a redirect (HTTP %d), which is not followed.", e.Status)
	default:
		return fmt.Sprintf("The relay refused the request (HTTP %d %s).", e.Status, text)
	}
}

var reasonPhrases = map[string]string{
	"too_short":         "is too short",
	"too_long":          "is too long",
	"common":            "is too common",
	"contains_username": "contains the username",
	"reused":            "was used before",
}

func weakPasswordSentence(reasons []string) string {
	var phrases []string
	seen := map[string]bool{}
	for _, r := range reasons {
		if p, ok := reasonPhrases[r]; ok && !seen[r] {
			seen[r] = true
			phrases = append(phrases, p)
		}
	}
	switch len(phrases) {
	case 0:
		return "Please choose another password: this one is too weak."
	case 1:
		return "Please choose another password: this one " + phrases[0] + "."
	default:
		return "Please choose another password: this one " +
			strings.Join(phrases[:len(phrases)-1], ", ") + " and " + phrases[len(phrases)-1] + "."
	}
}

// humanWait renders d rounded up: "8 s", "3 min", "2 h".
func humanWait(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	switch {
	case s < 120:
		return strconv.FormatInt(s, 10) + " s"
	case s < 2*3600:
		return strconv.FormatInt((s+59)/60, 10) + " min"
	default:
		return strconv.FormatInt((s+3599)/3600, 10) + " h"
	}
}

// errorEnvelope is the contract's error JSON.
type errorEnvelope struct {
	Error *struct {
		Code              string   `json:"code"`
		Message           string   `json:"message"`
		Reasons           []string `json:"reasons"`
		RetryAfterSeconds *float64 `json:"retry_after_seconds"`
		Challenge         string   `json:"challenge"`
	} `json:"error"`
}

// parseAPIError builds the error for a non-2xx response from its status,
// headers and (already size-limited) body. It never fails: a body that is
// not the contract's error JSON yields an APIError with only Status (and
// RetryAfter from the header) set. now resolves an HTTP-date Retry-After.
func parseAPIError(status int, header http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{Status: status}
	if len(body) > maxErrorSearch {
		body = body[:maxErrorSearch]
	}
	var env errorEnvelope
	if err := json.Unmarshal(body, &env); err == nil && env.Error != nil {
		e.Code = cleanText(env.Error.Code, maxCodeLen)
		e.Message = cleanText(env.Error.Message, maxMessageLen)
		for _, r := range env.Error.Reasons {
			if len(e.Reasons) == maxReasons {
				break
			}
			if r = cleanText(r, maxReasonLen); r != "" {
				e.Reasons = append(e.Reasons, r)
			}
		}
		if s := env.Error.RetryAfterSeconds; s != nil {
			e.RetryAfter = secondsToDuration(*s)
		}
		e.Challenge = cleanChallenge(env.Error.Challenge)
	}
	if h := header.Get("Retry-After"); h != "" {
		if d, ok := parseRetryAfter(h, now); ok {
			e.RetryAfter = d
		}
	}
	return e
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP-date.
func parseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if n, err := strconv.ParseUint(h, 10, 64); err == nil {
		if n > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		d := t.Sub(now)
		switch {
		case d < 0:
			return 0, true
		case d > maxRetryAfter:
			return maxRetryAfter, true
		}
		return d.Round(time.Second), true
	}
	return 0, false
}

func secondsToDuration(s float64) time.Duration {
	switch {
	case !(s > 0): // also NaN
		return 0
	case s >= maxRetryAfter.Seconds():
		return maxRetryAfter
	}
	return time.Duration(math.Ceil(s)) * time.Second
}

// cleanText makes server-supplied text safe to show: valid UTF-8, no
// control or format characters, trimmed, at most limit runes.
func cleanText(s string, limit int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == limit {
			break
		}
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// UserMessage returns a sentence for the UI that describes err, an error
// returned by this package: the Error text of an [APIError],
// [UntrustedCertError] or [PinMismatchError] found in err's chain, or a
// plain sentence for the other kinds of failure. It returns "" for nil.
func UserMessage(err error) string {
	var (
		pe *PinMismatchError
		ue *UntrustedCertError
		ae *APIError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pe):
		return pe.Error()
	case errors.As(err, &ue):
		return ue.Error()
	case errors.As(err, &ae):
		return ae.Error()
	case errors.Is(err, ErrClosed):
		return "The connection to the relay has been closed."
	case errors.Is(err, ErrNotConnected):
		return "Not connected to the relay."
	case errors.Is(err, ErrNotLoggedIn):
		return "Please log in first."
	case errors.Is(err, ErrCodeFormat):
		return "Enter the 6-digit code from your authenticator app, or a recovery code (xxxx-xxxx-xxxx-xxxx)."
	case errors.Is(err, ErrInvalidURL):
		return "The relay address must look like https://relay.example.org or https://relay.example.org:8443."
	case errors.Is(err, ErrBadResponse):
		return "The relay sent an answer that could not be understood — is this the right address?"
	case errors.Is(err, context.Canceled):
		return "Cancelled."
	case errors.Is(err, context.DeadlineExceeded):
		return "The relay did not answer in time — please try again."
	}
	return "The relay cannot be reached — check the network connection and the relay address."
}
