package link

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Roles a [User] can have.
const (
	RoleAdmin   = "admin"   // manages the tenant
	RoleAdvisor = "advisor" // meets customers
)

// User is an account on the relay, as in docs/api-contract.md (USER).
type User struct {
	ID       string `json:"id"`        // the user's id on the relay
	TenantID string `json:"tenant_id"` // id of the user's tenant
	Tenant   string `json:"tenant"`    // the tenant's short name, as typed at login
	Username string `json:"username"`  // login name, unique in the tenant
	// DisplayName is the name shown to colleagues and customers.
	DisplayName string `json:"display_name"`
	Email       string `json:"email"` // the user's e-mail address
	Role        string `json:"role"`  // RoleAdmin or RoleAdvisor
	// MustChangePassword is set until the user replaces an initial
	// password; until then only Me, ChangePassword and Logout work.
	MustChangePassword bool `json:"must_change_password"`
	// Disabled users cannot sign in; an admin can enable them again.
	Disabled bool `json:"disabled"`
	// SecondFactor is set while the user signs in with a TOTP code as
	// well as the password.
	SecondFactor bool `json:"second_factor"`
}

// LogValue keeps personal data out of logs: only the ids and the role.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", u.ID), slog.String("tenant_id", u.TenantID), slog.String("role", u.Role))
}

// LoginResult is the answer to a successful [Client.Login].
type LoginResult struct {
	// Token is the opaque session token ("pst_..."). The client keeps it
	// in memory and sends it with every call; callers need not store it.
	Token string `json:"token"`
	// ExpiresAt is when the relay stops accepting the token.
	ExpiresAt time.Time `json:"expires_at"`
	// User is the logged-in account.
	User User `json:"user"`
}

// LogValue keeps the token and personal data out of logs.
func (r LoginResult) LogValue() slog.Value {
	return slog.GroupValue(slog.Time("expires_at", r.ExpiresAt), slog.Any("user", r.User))
}

// NewUser is what [Client.CreateUser] sends.
type NewUser struct {
	Username    string `json:"username"`     // login name, unique in the tenant
	DisplayName string `json:"display_name"` // name shown to others
	Email       string `json:"email"`        // e-mail address
	Password    string `json:"password"`     // initial password
	Role        string `json:"role"`         // RoleAdmin or RoleAdvisor
}

// LogValue keeps the password and personal data out of logs.
func (u NewUser) LogValue() slog.Value {
	return slog.GroupValue(slog.String("role", u.Role))
}

type loginRequest struct {
	Tenant   string `json:"tenant"`
	Username string `json:"username"`
	Password string `json:"password"`
}

type passwordRequest struct {
	Current string `json:"current_password"`
	New     string `json:"new_password"`
}

// do sends one API request over the current transport of the current
// session. With auth it sends the session token (ErrNotLoggedIn without
// one) and forgets that token when the relay answers unauthenticated. It
// returns the session and token it used.
func (c *Client) do(ctx context.Context, method, path string, auth bool, in, out any) (*session, string, error) {
	c.mu.Lock()
	s, tok := c.sess, c.token
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil, "", ErrClosed
	case s == nil:
		c.mu.Unlock()
		return nil, "", ErrNotConnected
	case !auth:
		tok = ""
	case tok == "":
		c.mu.Unlock()
		return s, "", ErrNotLoggedIn
	}
	// Counted while c.sess == s, so a replaced session is closed only
	// after this request.
	s.inflight.Add(1)
	c.mu.Unlock()
	defer s.inflight.Done()

	t := s.current()
	err := s.roundTrip(ctx, t, method, path, tok, in, out)
	s.afterRequest(ctx, t, err)
	if auth && hasCode(err, CodeUnauthenticated) {
		c.dropToken(tok)
	}
	return s, tok, err
}

func hasCode(err error, code string) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == code
}

// dropToken forgets tok unless another login replaced it meanwhile.
func (c *Client) dropToken(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}

func badResponse(path, why string) error {
	return fmt.Errorf("%w: %s: %s", ErrBadResponse, path, why)
}

// Login opens a session for username in tenant and keeps its token in
// memory for later calls. Wrong credentials yield an *[APIError] with
// [CodeInvalidCredentials], too many attempts one with [CodeThrottled] and
// RetryAfter set. A user with a second factor gets one with
// [CodeSecondFactorRequired] and Challenge set: finish with
// [Client.LoginSecondFactor]. A failed login keeps any previous session.
func (c *Client) Login(ctx context.Context, tenant, username, password string) (LoginResult, error) {
	const path = "/api/v1/login"
	var res LoginResult
	s, _, err := c.do(ctx, http.MethodPost, path, false,
		loginRequest{Tenant: tenant, Username: username, Password: password}, &res)
	if err != nil {
		return LoginResult{}, err
	}
	return c.keepLogin(path, s, res)
}

// keepLogin checks a login answer that came over session s and keeps its
// token for later calls.
func (c *Client) keepLogin(path string, s *session, res LoginResult) (LoginResult, error) {
	if res.Token == "" || res.ExpiresAt.IsZero() || res.User.ID == "" {
		return LoginResult{}, badResponse(path, "token, expiry or user missing")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return LoginResult{}, ErrClosed
	case c.sess == nil || c.sess.base.origin != s.base.origin:
		return LoginResult{}, fmt.Errorf("link: login: %w (the relay changed during login)", ErrNotConnected)
	}
	c.token = res.Token
	return res, nil
}

// Logout ends the session on the relay and forgets the token. The token
// is forgotten even when the call fails; a session the relay already
// considers ended, or no session at all, is not an error.
func (c *Client) Logout(ctx context.Context) error {
	_, tok, err := c.do(ctx, http.MethodPost, "/api/v1/logout", true, nil, nil)
	if tok != "" {
		c.dropToken(tok)
	}
	if errors.Is(err, ErrNotLoggedIn) || hasCode(err, CodeUnauthenticated) {
		return nil
	}
	return err
}

// Me returns the logged-in user.
func (c *Client) Me(ctx context.Context) (User, error) {
	const path = "/api/v1/me"
	var u User
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &u); err != nil {
		return User{}, err
	}
	if u.ID == "" {
		return User{}, badResponse(path, "user without id")
	}
	return u, nil
}

// ChangePassword replaces the logged-in user's password. A password the
// relay refuses yields an *[APIError] with [CodeWeakPassword] and Reasons.
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	_, _, err := c.do(ctx, http.MethodPost, "/api/v1/me/password", true,
		passwordRequest{Current: current, New: next}, nil)
	return err
}

// ListUsers returns the users of the logged-in admin's tenant.
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	const path = "/api/v1/users"
	var res struct {
		Users []User `json:"users"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &res); err != nil {
		return nil, err
	}
	if res.Users == nil {
		return nil, badResponse(path, "no user list")
	}
	return res.Users, nil
}

// CreateUser creates a user in the logged-in admin's tenant and returns it.
// An existing username yields an *[APIError] with [CodeConflict].
func (c *Client) CreateUser(ctx context.Context, u NewUser) (User, error) {
	const path = "/api/v1/users"
	var created User
	if _, _, err := c.do(ctx, http.MethodPost, path, true, u, &created); err != nil {
		return User{}, err
	}
	if created.ID == "" {
		return User{}, badResponse(path, "user without id")
	}
	return created, nil
}

// SetUserDisabled disables (and signs out everywhere) or re-enables a user of
// the logged-in admin's tenant and returns the updated user. Admins cannot
// disable themselves ([CodeConflict]).
func (c *Client) SetUserDisabled(ctx context.Context, userID string, disabled bool) (User, error) {
	path := "/api/v1/users/" + url.PathEscape(userID)
	var updated User
	body := struct {
		Disabled bool `json:"disabled"`
	}{disabled}
	if _, _, err := c.do(ctx, http.MethodPatch, path, true, body, &updated); err != nil {
		return User{}, err
	}
	if updated.ID == "" {
		return User{}, badResponse(path, "user without id")
	}
	return updated, nil
}

// ResetPassword gives a user of the logged-in admin's tenant a generated
// one-time password, signs them out everywhere, and returns the password
// for the admin to hand over.
func (c *Client) ResetPassword(ctx context.Context, userID string) (string, error) {
	path := "/api/v1/users/" + url.PathEscape(userID) + "/password-reset"
	var res struct {
		Password string `json:"password"`
	}
	if _, _, err := c.do(ctx, http.MethodPost, path, true, nil, &res); err != nil {
		return "", err
	}
	if res.Password == "" {
		return "", badResponse(path, "no password")
	}
	return res.Password, nil
}

// AuditEntry is one entry of the tenant's audit log (ids only).
type AuditEntry struct {
	Seq      uint64            `json:"seq"`       // place in the log, from 1
	Time     time.Time         `json:"time"`      // when it happened
	TenantID string            `json:"tenant_id"` // the tenant it concerns
	Actor    string            `json:"actor"`     // a user id or "system"
	Action   string            `json:"action"`    // e.g. "user.create"
	Target   string            `json:"target"`    // id acted on
	Details  map[string]string `json:"details"`   // further ids and counts
}

// Audit returns up to limit (1–1000) entries of the logged-in admin's
// tenant with a sequence number above after, oldest first.
func (c *Client) Audit(ctx context.Context, after uint64, limit int) ([]AuditEntry, error) {
	path := fmt.Sprintf("/api/v1/audit?after=%d&limit=%d", after, limit)
	var res struct {
		Entries []AuditEntry `json:"entries"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &res); err != nil {
		return nil, err
	}
	if res.Entries == nil {
		return nil, badResponse("/api/v1/audit", "no entry list")
	}
	return res.Entries, nil
}
