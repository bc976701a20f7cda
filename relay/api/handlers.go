package api

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"parley/relay/audit"
	"parley/relay/auth"
)

type userJSON struct {
	ID                 string `json:"id"`
	TenantID           string `json:"tenant_id"`
	Tenant             string `json:"tenant"`
	Username           string `json:"username"`
	DisplayName        string `json:"display_name"`
	Email              string `json:"email,omitempty"`
	Role               string `json:"role"`
	MustChangePassword bool   `json:"must_change_password"`
	Disabled           bool   `json:"disabled"`
	SecondFactor       bool   `json:"second_factor"`
}

func toUserJSON(u auth.User, tenantSlug string) userJSON {
	return userJSON{ID: u.ID, TenantID: u.TenantID, Tenant: tenantSlug, Username: u.Username,
		DisplayName: u.DisplayName, Email: u.Email, Role: string(u.Role), MustChangePassword: u.MustChangePassword,
		Disabled: u.Disabled, SecondFactor: u.SecondFactor}
}

func reqContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), requestTimeout)
}

// bearer extracts the session token from the Authorization header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}

func (h *handler) authenticate(r *http.Request) (auth.Session, error) {
	tok := bearer(r)
	if tok == "" || len(tok) > 256 {
		return auth.Session{}, errUnauth
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	return h.auth.Authenticate(ctx, tok)
}

// source identifies the client for login throttling: the peer's IP address.
// It is used only in memory and never logged.
func source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *handler) login(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	req, ok := decodeRequest(w, r, decodeLogin)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	sess, token, err := h.auth.Login(ctx, req.Tenant, req.Username, req.Password, source(r))
	if err != nil {
		h.metrics.logins.WithLabelValues(toError(err).Code).Inc()
		writeError(w, err)
		return
	}
	h.metrics.logins.WithLabelValues("ok").Inc()
	h.writeLogin(w, r, sess, token)
}

// writeLogin answers a sign-in with the session token and the user.
func (h *handler) writeLogin(w http.ResponseWriter, r *http.Request, sess auth.Session, token string) {
	ctx, cancel := reqContext(r)
	defer cancel()
	setSession(r, sess.ID)
	u, err := h.userWithTenant(ctx, sess.TenantID, sess.UserID)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
		User      userJSON  `json:"user"`
	}{token, sess.Expires.UTC(), u})
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	ctx, cancel := reqContext(r)
	defer cancel()
	if err := h.auth.Logout(ctx, bearer(r)); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) userWithTenant(ctx context.Context, tenantID, userID string) (userJSON, error) {
	u, err := h.auth.GetUser(ctx, tenantID, userID)
	if err != nil {
		return userJSON{}, err
	}
	t, err := h.auth.TenantByID(ctx, tenantID)
	if err != nil {
		return userJSON{}, err
	}
	return toUserJSON(u, t.Slug), nil
}

func (h *handler) me(w http.ResponseWriter, r *http.Request, s auth.Session) {
	ctx, cancel := reqContext(r)
	defer cancel()
	u, err := h.userWithTenant(ctx, s.TenantID, s.UserID)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (h *handler) changePassword(w http.ResponseWriter, r *http.Request, s auth.Session) {
	req, ok := decodeRequest(w, r, decodePassword)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	if err := h.auth.ChangePassword(ctx, s.TenantID, s.UserID, req.Current, req.New); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) listUsers(w http.ResponseWriter, r *http.Request, s auth.Session) {
	ctx, cancel := reqContext(r)
	defer cancel()
	t, err := h.auth.TenantByID(ctx, s.TenantID)
	if err != nil {
		writeError(w, err)
		return
	}
	users, err := h.auth.ListUsers(ctx, s.TenantID)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]userJSON, 0, len(users))
	for _, u := range users {
		out = append(out, toUserJSON(u, t.Slug))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

func (h *handler) createUser(w http.ResponseWriter, r *http.Request, s auth.Session) {
	req, ok := decodeRequest(w, r, decodeCreateUser)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	u, err := h.auth.CreateUser(ctx, s.TenantID, auth.NewUser{
		Username: req.Username, DisplayName: req.DisplayName, Email: req.Email,
		Password: req.Password, Role: auth.Role(req.Role),
		// The admin chose this password: the user replaces it at first sign-in.
		MustChangePassword: true,
	})
	if err != nil {
		writeError(w, err)
		return
	}
	t, err := h.auth.TenantByID(ctx, s.TenantID)
	if err != nil {
		writeError(w, err)
		return
	}
	h.record(ctx, s, "user.create", u.ID, map[string]string{"role": string(u.Role)})
	writeJSON(w, http.StatusCreated, toUserJSON(u, t.Slug))
}

// targetUser reads the {id} path value and checks the user exists in the
// caller's tenant.
func (h *handler) targetUser(ctx context.Context, r *http.Request, s auth.Session) (string, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > 64 {
		return "", errNotFound
	}
	if _, err := h.auth.GetUser(ctx, s.TenantID, id); err != nil {
		return "", err
	}
	return id, nil
}

func (h *handler) updateUser(w http.ResponseWriter, r *http.Request, s auth.Session) {
	req, ok := decodeRequest(w, r, decodeUpdateUser)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	id, err := h.targetUser(ctx, r, s)
	if err != nil {
		writeError(w, err)
		return
	}
	if id == s.UserID && *req.Disabled {
		writeError(w, &Error{Status: http.StatusConflict, Code: "conflict", Message: "You cannot disable your own account."})
		return
	}
	if err := h.auth.SetUserDisabled(ctx, s.TenantID, id, *req.Disabled); err != nil {
		writeError(w, err)
		return
	}
	u, err := h.userWithTenant(ctx, s.TenantID, id)
	if err != nil {
		writeError(w, err)
		return
	}
	action := "user.enable"
	if *req.Disabled {
		action = "user.disable"
	}
	h.record(ctx, s, action, id, nil)
	writeJSON(w, http.StatusOK, u)
}

func (h *handler) resetPassword(w http.ResponseWriter, r *http.Request, s auth.Session) {
	ctx, cancel := reqContext(r)
	defer cancel()
	id, err := h.targetUser(ctx, r, s)
	if err != nil {
		writeError(w, err)
		return
	}
	if id == s.UserID {
		writeError(w, &Error{Status: http.StatusConflict, Code: "conflict", Message: "Change your own password under /api/v1/me/password."})
		return
	}
	pw, err := h.auth.ResetPassword(ctx, s.TenantID, id, "")
	if err != nil {
		writeError(w, err)
		return
	}
	h.record(ctx, s, "user.password_reset", id, nil)
	writeJSON(w, http.StatusOK, map[string]string{"password": pw})
}

func (h *handler) revokeSessions(w http.ResponseWriter, r *http.Request, s auth.Session) {
	ctx, cancel := reqContext(r)
	defer cancel()
	id, err := h.targetUser(ctx, r, s)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := h.auth.RevokeUserSessions(ctx, s.TenantID, id); err != nil {
		writeError(w, err)
		return
	}
	h.record(ctx, s, "user.sessions_revoke", id, nil)
	w.WriteHeader(http.StatusNoContent)
}

// record writes an admin action to the audit log after it succeeded. A
// failure to record is logged (ids only) but does not undo the action.
func (h *handler) record(ctx context.Context, s auth.Session, action, target string, details map[string]string) {
	_, err := h.audit.Append(ctx, audit.Record{TenantID: s.TenantID, Actor: s.UserID, Action: action, Target: target, Details: details})
	if err != nil {
		h.log.Error("audit append failed", "action", action, "tenant_id", s.TenantID, "target", target, "error", err)
	}
}

func (h *handler) listAudit(w http.ResponseWriter, r *http.Request, s auth.Session) {
	q := r.URL.Query()
	var after uint64
	limit := 100
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, badRequest("Parameter \"after\" must be a sequence number."))
			return
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, badRequest("Parameter \"limit\" must be between 1 and 1000."))
			return
		}
		limit = n
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	entries, err := h.audit.List(ctx, s.TenantID, after, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
}
