package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"parley/relay/auth"
)

type secondFactorLogin struct {
	Challenge string `json:"challenge"`
	Code      string `json:"code"`
}

func decodeSecondFactorLogin(body []byte) (secondFactorLogin, error) {
	var req secondFactorLogin
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if err := requireFields([2]string{"challenge", req.Challenge}, [2]string{"code", req.Code}); err != nil {
		return req, err
	}
	if len(req.Challenge) > 128 || len(req.Code) > 64 {
		return req, badRequest("The challenge or the code is longer than allowed.")
	}
	return req, nil
}

// secondFactorRequest is the body of the user's own second-factor
// routes; which fields are needed depends on the route.
type secondFactorRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

func decodeSecondFactor(fields ...string) func(body []byte) (secondFactorRequest, error) {
	return func(body []byte) (secondFactorRequest, error) {
		var req secondFactorRequest
		if err := decodeStrict(body, &req); err != nil {
			return req, err
		}
		var need [][2]string
		for _, f := range fields {
			switch f {
			case "password":
				need = append(need, [2]string{"password", req.Password})
			case "code":
				need = append(need, [2]string{"code", req.Code})
			}
		}
		if err := requireFields(need...); err != nil {
			return req, err
		}
		if len(req.Password) > 1024 || len(req.Code) > 64 {
			return req, badRequest("The password or the code is longer than allowed.")
		}
		return req, nil
	}
}

// loginSecondFactor completes a sign-in that answered 401
// second_factor_required; the answer is the same as login's.
func (h *handler) loginSecondFactor(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	req, ok := decodeRequest(w, r, decodeSecondFactorLogin)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	sess, token, err := h.auth.LoginSecondFactor(ctx, req.Challenge, req.Code, source(r))
	if err != nil {
		h.metrics.logins.WithLabelValues(toError(err).Code).Inc()
		writeError(w, err)
		return
	}
	h.metrics.logins.WithLabelValues("ok").Inc()
	h.writeLogin(w, r, sess, token)
}

func (h *handler) startSecondFactor(w http.ResponseWriter, r *http.Request, s auth.Session) {
	req, ok := decodeRequest(w, r, decodeSecondFactor("password"))
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	en, err := h.auth.StartSecondFactor(ctx, s.TenantID, s.UserID, req.Password)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, struct {
		Secret     string    `json:"secret"`
		OTPAuthURL string    `json:"otpauth_url"`
		ExpiresAt  time.Time `json:"expires_at"`
	}{en.Secret, en.URL, en.Expires.UTC()})
}

func (h *handler) writeRecoveryCodes(w http.ResponseWriter, codes []string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}{codes})
}

func (h *handler) confirmSecondFactor(w http.ResponseWriter, r *http.Request, s auth.Session) {
	req, ok := decodeRequest(w, r, decodeSecondFactor("code"))
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	codes, err := h.auth.ConfirmSecondFactor(ctx, s.TenantID, s.UserID, strings.TrimSpace(req.Code))
	if err != nil {
		writeError(w, signedInCode(err))
		return
	}
	h.record(ctx, s, "user.second_factor_enable", s.UserID, nil)
	h.writeRecoveryCodes(w, codes)
}

func (h *handler) newRecoveryCodes(w http.ResponseWriter, r *http.Request, s auth.Session) {
	req, ok := decodeRequest(w, r, decodeSecondFactor("code"))
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	codes, err := h.auth.NewRecoveryCodes(ctx, s.TenantID, s.UserID, strings.TrimSpace(req.Code))
	if err != nil {
		writeError(w, signedInCode(err))
		return
	}
	h.record(ctx, s, "user.recovery_codes_renew", s.UserID, nil)
	h.writeRecoveryCodes(w, codes)
}

func (h *handler) disableSecondFactor(w http.ResponseWriter, r *http.Request, s auth.Session) {
	req, ok := decodeRequest(w, r, decodeSecondFactor("password", "code"))
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	if err := h.auth.DisableSecondFactor(ctx, s.TenantID, s.UserID, req.Password, strings.TrimSpace(req.Code)); err != nil {
		writeError(w, signedInCode(err))
		return
	}
	h.record(ctx, s, "user.second_factor_disable", s.UserID, nil)
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) resetSecondFactor(w http.ResponseWriter, r *http.Request, s auth.Session) {
	ctx, cancel := reqContext(r)
	defer cancel()
	id := r.PathValue("id")
	if err := h.auth.ResetSecondFactor(ctx, s.TenantID, id); err != nil {
		writeError(w, err)
		return
	}
	h.record(ctx, s, "user.second_factor_reset", id, nil)
	w.WriteHeader(http.StatusNoContent)
}

// deleteMe deletes the caller's own account (seed 002 §2.4: advisors
// delete their account themselves) after their password and, with a
// second factor, a code. The advisor's booking page, types, availability
// and calendar connections go with it; future appointments must be
// cancelled or handed over first (409 future_bookings), and the last
// admin cannot leave (409 last_admin).
func (h *handler) deleteMe(w http.ResponseWriter, r *http.Request, s auth.Session) {
	req, ok := decodeRequest(w, r, decodeSecondFactor("password"))
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	err := h.auth.DeleteOwnAccount(ctx, s.TenantID, s.UserID, req.Password, strings.TrimSpace(req.Code), func(ctx context.Context) error {
		if h.booking != nil {
			if err := h.booking.RemoveAdvisor(ctx, s.TenantID, s.UserID); err != nil {
				return err
			}
		}
		if h.calendars != nil {
			return h.calendars.DeleteAdvisor(ctx, s.TenantID, s.UserID)
		}
		return nil
	})
	if err != nil {
		writeError(w, signedInCode(err))
		return
	}
	h.record(ctx, s, "user.delete_self", s.UserID, nil)
	w.WriteHeader(http.StatusNoContent)
}

// signedInCode turns a wrong code on a signed-in route into 422: a 401
// would tell clients that the session ended.
func signedInCode(err error) error {
	if errors.Is(err, auth.ErrInvalidCode) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid_code", Message: "The code is wrong or was used already."}
	}
	return err
}
