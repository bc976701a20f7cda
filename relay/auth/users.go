package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"parley/relay/ids"
	"parley/relay/store"
)

// userRecord is the stored form of a user.
type userRecord struct {
	ID                 string    `json:"id"`
	TenantID           string    `json:"tenant_id"`
	Username           string    `json:"username"`
	DisplayName        string    `json:"display_name,omitempty"`
	Email              string    `json:"email,omitempty"`
	Role               Role      `json:"role"`
	MustChangePassword bool      `json:"must_change_password,omitempty"`
	Disabled           bool      `json:"disabled,omitempty"`
	Created            time.Time `json:"created"`
	// Passwords are argon2id PHC strings, oldest first; the last one is the
	// current password. At most PasswordHistory are kept.
	Passwords []string `json:"passwords"`
	// TOTP is the user's second factor; nil when none.
	TOTP *totpRecord `json:"totp,omitempty"`
}

func (r *userRecord) user() User {
	return User{
		ID: r.ID, TenantID: r.TenantID, Username: r.Username,
		DisplayName: r.DisplayName, Email: r.Email, Role: r.Role,
		MustChangePassword: r.MustChangePassword, Disabled: r.Disabled,
		Created: r.Created, SecondFactor: r.TOTP.enabled(),
	}
}

func (r *userRecord) currentHash() string {
	if len(r.Passwords) == 0 {
		return ""
	}
	return r.Passwords[len(r.Passwords)-1]
}

// pushPassword makes hash the current password, keeping the last
// PasswordHistory hashes.
func (r *userRecord) pushPassword(hash string) {
	r.Passwords = append(r.Passwords, hash)
	if n := len(r.Passwords); n > PasswordHistory {
		r.Passwords = slices.Clone(r.Passwords[n-PasswordHistory:])
	}
}

// --- input validation ---

func validSlug(slug string) bool {
	if len(slug) < 2 || len(slug) > 40 {
		return false
	}
	for _, c := range []byte(slug) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// normalizeUsername lower-cases username and checks it against
// [a-z0-9._-]{2,64}.
func normalizeUsername(username string) (string, error) {
	u := strings.ToLower(username)
	if strings.Contains(u, "@") {
		return "", &InputError{Field: "username", Msg: "must not be an e-mail address"}
	}
	if len(u) < 2 || len(u) > 64 {
		return "", &InputError{Field: "username", Msg: "must be 2 to 64 characters"}
	}
	for _, c := range []byte(u) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "", &InputError{Field: "username", Msg: "may contain only a-z, 0-9, '.', '_' and '-'"}
		}
	}
	return u, nil
}

// validText checks a display text: valid UTF-8, no control characters,
// at most maxRunes characters, and at least one when required.
func validText(field, s string, required bool, maxRunes int) error {
	switch {
	case !utf8.ValidString(s):
		return &InputError{Field: field, Msg: "is not valid UTF-8"}
	case required && strings.TrimSpace(s) == "":
		return &InputError{Field: field, Msg: "is required"}
	case utf8.RuneCountInString(s) > maxRunes:
		return &InputError{Field: field, Msg: fmt.Sprintf("must be at most %d characters", maxRunes)}
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return &InputError{Field: field, Msg: "must not contain control characters"}
	}
	return nil
}

func validEmail(email string) error {
	if email == "" {
		return nil
	}
	if len(email) > 254 {
		return &InputError{Field: "email", Msg: "must be at most 254 bytes"}
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email {
		return &InputError{Field: "email", Msg: "is not a plain e-mail address"}
	}
	return nil
}

// --- tenants ---

// CreateTenant creates a tenant. slug must match [a-z0-9-]{2,40} and be
// unused (ErrExists); name is required (at most 200 characters).
func (s *Service) CreateTenant(ctx context.Context, slug, name string) (Tenant, error) {
	if !validSlug(slug) {
		return Tenant{}, fmt.Errorf("auth: create tenant: %w", &InputError{Field: "slug", Msg: "must be 2 to 40 of a-z, 0-9 and '-'"})
	}
	if err := validText("name", name, true, 200); err != nil {
		return Tenant{}, fmt.Errorf("auth: create tenant: %w", err)
	}
	t := Tenant{ID: ids.New(), Slug: slug, Name: name, Created: s.clock.Now().UTC()}
	err := s.kv.Update(ctx, func(tx store.Txn) error { return putTenant(tx, t) })
	if err != nil {
		return Tenant{}, fmt.Errorf("auth: create tenant: %w", err)
	}
	s.log.Info("auth: tenant created", "tenant_id", t.ID)
	return t, nil
}

func putTenant(tx store.Txn, t Tenant) error {
	if _, err := tx.Get([]byte(slugKey(t.Slug))); err == nil {
		return ErrExists
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := tx.Set([]byte(tenantKey(t.ID)), b); err != nil {
		return err
	}
	return tx.Set([]byte(slugKey(t.Slug)), []byte(t.ID))
}

// TenantBySlug returns the tenant with the given slug, or ErrUnknownTenant.
func (s *Service) TenantBySlug(ctx context.Context, slug string) (Tenant, error) {
	var t Tenant
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		t, err = tenantBySlug(tx, slug)
		return err
	})
	if err != nil {
		return Tenant{}, fmt.Errorf("auth: tenant by slug: %w", err)
	}
	return t, nil
}

// TenantByID returns the tenant with the given id, or ErrUnknownTenant.
func (s *Service) TenantByID(ctx context.Context, id string) (Tenant, error) {
	var t Tenant
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		t, err = tenantByID(tx, id)
		return err
	})
	if err != nil {
		return Tenant{}, fmt.Errorf("auth: tenant by id: %w", err)
	}
	return t, nil
}

func tenantBySlug(tx store.Txn, slug string) (Tenant, error) {
	if !validSlug(slug) {
		return Tenant{}, ErrUnknownTenant
	}
	id, err := tx.Get([]byte(slugKey(slug)))
	if errors.Is(err, store.ErrNotFound) {
		return Tenant{}, ErrUnknownTenant
	}
	if err != nil {
		return Tenant{}, err
	}
	return tenantByID(tx, string(id))
}

func tenantByID(tx store.Txn, id string) (Tenant, error) {
	if !ids.Valid(id) {
		return Tenant{}, ErrUnknownTenant
	}
	var t Tenant
	err := getJSON(tx, tenantKey(id), &t)
	if errors.Is(err, store.ErrNotFound) {
		return Tenant{}, ErrUnknownTenant
	}
	return t, err
}

// --- bootstrap ---

// BootstrapUsername is the username of the first admin.
const BootstrapUsername = "admin"

// Bootstrap sets up a fresh store: when no tenant exists yet, it creates
// the tenant and its first admin, user "admin". With adminPassword "" it
// generates a random 20-character password (returned in the result, never
// logged) and the admin must change it at first login; otherwise
// adminPassword must pass the password rules for "admin". When any tenant
// exists already, nothing is written and Created is false.
func (s *Service) Bootstrap(ctx context.Context, tenantSlug, tenantName, adminPassword string) (BootstrapResult, error) {
	var res BootstrapResult
	wrap := func(err error) (BootstrapResult, error) {
		return BootstrapResult{}, fmt.Errorf("auth: bootstrap: %w", err)
	}
	existing := func(tx store.Txn) (bool, error) {
		found := false
		err := tx.Scan([]byte(prefixTenant), func(_, _ []byte) error {
			found = true
			return errStopScan
		})
		if err != nil && !errors.Is(err, errStopScan) {
			return false, err
		}
		if found {
			res = BootstrapResult{}
			if t, err := tenantBySlug(tx, tenantSlug); err == nil {
				res.Tenant = t
			}
		}
		return found, nil
	}
	// Fast path without writing anything (not even the index key).
	var exists bool
	if err := s.kv.View(ctx, func(tx store.Txn) (err error) {
		exists, err = existing(tx)
		return err
	}); err != nil {
		return wrap(err)
	}
	if exists {
		return res, nil
	}

	if !validSlug(tenantSlug) {
		return wrap(&InputError{Field: "slug", Msg: "must be 2 to 40 of a-z, 0-9 and '-'"})
	}
	if err := validText("name", tenantName, true, 200); err != nil {
		return wrap(err)
	}
	password, generated := adminPassword, false
	if password == "" {
		password, generated = GeneratePassword(BootstrapUsername, 20), true
	} else if err := ValidatePassword(BootstrapUsername, password); err != nil {
		return wrap(err)
	}
	idx, err := s.keys.get(ctx, s.kv, true)
	if err != nil {
		return wrap(err)
	}
	hash, err := s.newHash(ctx, password)
	if err != nil {
		return wrap(err)
	}
	now := s.clock.Now().UTC()
	tenant := Tenant{ID: ids.New(), Slug: tenantSlug, Name: tenantName, Created: now}
	admin := userRecord{
		ID: ids.New(), TenantID: tenant.ID, Username: BootstrapUsername,
		DisplayName: "Administrator", Role: RoleAdmin,
		MustChangePassword: generated, Created: now, Passwords: []string{hash},
	}
	created := false
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		created = false
		// Reading the marker makes concurrent Bootstraps conflict, so that
		// only one of them creates a tenant.
		if _, err := tx.Get([]byte(keyBootstrapped)); err == nil {
			res = BootstrapResult{}
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if exists, err := existing(tx); err != nil || exists {
			return err
		}
		if err := putTenant(tx, tenant); err != nil {
			return err
		}
		if err := putNewUser(tx, idx, &admin); err != nil {
			return err
		}
		created = true
		return tx.Set([]byte(keyBootstrapped), []byte(now.Format(time.RFC3339)))
	})
	if err != nil {
		return wrap(err)
	}
	if !created {
		return res, nil
	}
	s.log.Info("auth: bootstrapped", "tenant_id", tenant.ID, "user_id", admin.ID, "generated_password", generated)
	res = BootstrapResult{Created: true, Tenant: tenant, Admin: admin.user(), Generated: generated}
	if generated {
		res.Password = password
	}
	return res, nil
}

var errStopScan = errors.New("stop scan")

// --- users ---

// CreateUser creates a user in the tenant. The username is lower-cased and
// must be unique in the tenant (ErrExists); the password must pass
// ValidatePassword. Unknown tenant: ErrUnknownTenant; bad input: an
// *InputError or *WeakPasswordError (both match ErrInvalidInput).
func (s *Service) CreateUser(ctx context.Context, tenantID string, u NewUser) (User, error) {
	wrap := func(err error) (User, error) { return User{}, fmt.Errorf("auth: create user: %w", err) }
	username, err := normalizeUsername(u.Username)
	if err != nil {
		return wrap(err)
	}
	if err := validText("display_name", u.DisplayName, false, 200); err != nil {
		return wrap(err)
	}
	if err := validEmail(u.Email); err != nil {
		return wrap(err)
	}
	if !u.Role.Valid() {
		return wrap(&InputError{Field: "role", Msg: "must be admin or advisor"})
	}
	if err := ValidatePassword(username, u.Password); err != nil {
		return wrap(err)
	}
	if !ids.Valid(tenantID) {
		return wrap(ErrUnknownTenant)
	}
	idx, err := s.keys.get(ctx, s.kv, true)
	if err != nil {
		return wrap(err)
	}
	hash, err := s.newHash(ctx, u.Password)
	if err != nil {
		return wrap(err)
	}
	rec := userRecord{
		ID: ids.New(), TenantID: tenantID, Username: username,
		DisplayName: u.DisplayName, Email: u.Email, Role: u.Role,
		MustChangePassword: u.MustChangePassword,
		Created:            s.clock.Now().UTC(), Passwords: []string{hash},
	}
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		if _, err := tenantByID(tx, tenantID); err != nil {
			return err
		}
		return putNewUser(tx, idx, &rec)
	})
	if err != nil {
		return wrap(err)
	}
	s.log.Info("auth: user created", "tenant_id", tenantID, "user_id", rec.ID, "role", string(rec.Role))
	return rec.user(), nil
}

func putNewUser(tx store.Txn, idx []byte, rec *userRecord) error {
	ik := []byte(usernameKey(idx, rec.TenantID, rec.Username))
	if _, err := tx.Get(ik); err == nil {
		return ErrExists
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := putUser(tx, rec); err != nil {
		return err
	}
	return tx.Set(ik, []byte(rec.ID))
}

func putUser(tx store.Txn, rec *userRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.Set([]byte(userKey(rec.TenantID, rec.ID)), b)
}

func getUser(tx store.Txn, tid, uid string) (*userRecord, error) {
	if !ids.Valid(tid) || !ids.Valid(uid) {
		return nil, ErrNotFound
	}
	var rec userRecord
	err := getJSON(tx, userKey(tid, uid), &rec)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// userByName finds a user by lower-case username; nil when there is none.
func userByName(tx store.Txn, idx []byte, tid, username string) (*userRecord, error) {
	if idx == nil {
		return nil, nil
	}
	uid, err := tx.Get([]byte(usernameKey(idx, tid, username)))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec, err := getUser(tx, tid, string(uid))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return rec, err
}

// GetUser returns a user of the tenant, or ErrNotFound.
func (s *Service) GetUser(ctx context.Context, tenantID, userID string) (User, error) {
	var rec *userRecord
	err := s.kv.View(ctx, func(tx store.Txn) (err error) {
		rec, err = getUser(tx, tenantID, userID)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("auth: get user: %w", err)
	}
	return rec.user(), nil
}

// ListUsers returns the tenant's users sorted by username, or
// ErrUnknownTenant.
func (s *Service) ListUsers(ctx context.Context, tenantID string) ([]User, error) {
	var users []User
	err := s.kv.View(ctx, func(tx store.Txn) error {
		users = []User{}
		if _, err := tenantByID(tx, tenantID); err != nil {
			return err
		}
		return tx.Scan([]byte(usersPrefix(tenantID)), func(_, v []byte) error {
			var rec userRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode user record: %w", err)
			}
			users = append(users, rec.user())
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("auth: list users: %w", err)
	}
	slices.SortFunc(users, func(a, b User) int { return strings.Compare(a.Username, b.Username) })
	return users, nil
}

// SetUserDisabled disables or re-enables a user. Disabling also revokes
// the user's sessions; a disabled user cannot log in.
func (s *Service) SetUserDisabled(ctx context.Context, tenantID, userID string, disabled bool) error {
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		rec, err := getUser(tx, tenantID, userID)
		if err != nil {
			return err
		}
		rec.Disabled = disabled
		if err := putUser(tx, rec); err != nil {
			return err
		}
		if disabled {
			return revokeSessions(tx, tenantID, userID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("auth: set user disabled: %w", err)
	}
	s.log.Info("auth: user disabled changed", "tenant_id", tenantID, "user_id", userID, "disabled", disabled)
	return nil
}

// DeleteUser deletes a user with their password history and sessions; the
// username becomes free. Unknown user: ErrNotFound.
func (s *Service) DeleteUser(ctx context.Context, tenantID, userID string) error {
	idx, err := s.keys.get(ctx, s.kv, false)
	if err != nil {
		return fmt.Errorf("auth: delete user: %w", err)
	}
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		rec, err := getUser(tx, tenantID, userID)
		if err != nil {
			return err
		}
		if idx != nil {
			ik := []byte(usernameKey(idx, tenantID, rec.Username))
			if id, err := tx.Get(ik); err == nil && string(id) == userID {
				if err := tx.Delete(ik); err != nil {
					return err
				}
			}
		}
		if err := tx.Delete([]byte(userKey(tenantID, userID))); err != nil {
			return err
		}
		return revokeSessions(tx, tenantID, userID)
	})
	if err != nil {
		return fmt.Errorf("auth: delete user: %w", err)
	}
	s.log.Info("auth: user deleted", "tenant_id", tenantID, "user_id", userID)
	return nil
}

// --- passwords ---

// ChangePassword replaces the user's password after checking the current
// one, and clears MustChangePassword (sessions stay valid and see the
// cleared flag at once). Wrong current password: ErrInvalidCredentials,
// counted by the login back-off of the account (which may answer with a
// *ThrottledError); a next password that breaks the rules or is one of the
// last PasswordHistory passwords: *WeakPasswordError.
func (s *Service) ChangePassword(ctx context.Context, tenantID, userID, current, next string) error {
	wrap := func(err error) error { return fmt.Errorf("auth: change password: %w", err) }
	var rec *userRecord
	var tenant Tenant
	err := s.kv.View(ctx, func(tx store.Txn) (err error) {
		if rec, err = getUser(tx, tenantID, userID); err != nil {
			return err
		}
		tenant, err = tenantByID(tx, tenantID)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	att, err := s.th.admit(ctx, s.clock, makeThrottleKey(tenant.Slug, rec.Username), nil)
	if err != nil {
		return wrap(err)
	}
	result := outcomeNeutral
	defer func() { att.finish(s.clock.Now(), result) }()

	if err := s.acquireHash(ctx); err != nil {
		return wrap(err)
	}
	ok, _ := s.verify(rec.currentHash(), current)
	s.releaseHash()
	if !ok || len(current) > 4*MaxPasswordBytes {
		result = outcomeFailure
		s.log.Info("auth: password change refused", "tenant_id", tenantID, "user_id", userID, "reason", "wrong_current")
		return wrap(ErrInvalidCredentials)
	}
	result = outcomeSuccess
	if err := s.setPassword(ctx, rec, next, false); err != nil {
		return wrap(err)
	}
	s.log.Info("auth: password changed", "tenant_id", tenantID, "user_id", userID)
	return nil
}

// ResetPassword sets a user's password on an admin's behalf: the user must
// change it at next login, and their sessions are revoked. With password ""
// a random 20-character password is generated. It returns the new
// password (to be handed to the user; never logged).
func (s *Service) ResetPassword(ctx context.Context, tenantID, userID, password string) (string, error) {
	wrap := func(err error) (string, error) { return "", fmt.Errorf("auth: reset password: %w", err) }
	var rec *userRecord
	err := s.kv.View(ctx, func(tx store.Txn) (err error) {
		rec, err = getUser(tx, tenantID, userID)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	if password == "" {
		password = GeneratePassword(rec.Username, 20)
	}
	if err := s.setPassword(ctx, rec, password, true); err != nil {
		return wrap(err)
	}
	s.log.Info("auth: password reset", "tenant_id", tenantID, "user_id", userID)
	return password, nil
}

// setPassword checks next against the rules and rec's history, then
// stores it as rec's current password. It fails with store.ErrConflict
// when the password changed since rec was read.
func (s *Service) setPassword(ctx context.Context, rec *userRecord, next string, reset bool) error {
	reasons := passwordReasons(rec.Username, next)
	if len(next) <= MaxPasswordBytes {
		if err := s.acquireHash(ctx); err != nil {
			return err
		}
		reused := inHistory(next, rec.Passwords)
		s.releaseHash()
		if reused {
			reasons = append(reasons, ReasonReused)
		}
	}
	if len(reasons) > 0 {
		return &WeakPasswordError{Reasons: reasons}
	}
	hash, err := s.newHash(ctx, next)
	if err != nil {
		return err
	}
	seen := rec.currentHash()
	return s.kv.Update(ctx, func(tx store.Txn) error {
		cur, err := getUser(tx, rec.TenantID, rec.ID)
		if err != nil {
			return err
		}
		if cur.currentHash() != seen {
			return fmt.Errorf("password changed concurrently: %w", store.ErrConflict)
		}
		cur.pushPassword(hash)
		cur.MustChangePassword = reset
		if err := putUser(tx, cur); err != nil {
			return err
		}
		if reset {
			return revokeSessions(tx, cur.TenantID, cur.ID)
		}
		return nil
	})
}

// ErrLastAdmin: the tenant's last active admin cannot delete their own
// account (nobody could manage the tenant afterwards).
var ErrLastAdmin = errors.New("the tenant's last admin")

// DeleteOwnAccount deletes the signed-in user's own account (self-service
// deletion, retention class advisor_account) after checking their password
// and, when they have a second factor, a current code or recovery code.
// before runs after the checks and before the account goes (the caller
// removes the user's data in other services there, and may refuse: its
// error is returned and nothing is deleted). The tenant's last active
// admin gets ErrLastAdmin.
func (s *Service) DeleteOwnAccount(ctx context.Context, tenantID, userID, password, code string, before func(context.Context) error) error {
	wrap := func(err error) error { return fmt.Errorf("auth: delete own account: %w", err) }
	if err := s.checkPassword(ctx, tenantID, userID, password); err != nil {
		return wrap(err)
	}
	var rec *userRecord
	admins := 0
	err := s.kv.View(ctx, func(tx store.Txn) (err error) {
		if rec, err = getUser(tx, tenantID, userID); err != nil {
			return err
		}
		admins = 0
		return tx.Scan([]byte(usersPrefix(tenantID)), func(_, v []byte) error {
			var u userRecord
			if err := jsonUnmarshal(v, &u); err != nil {
				return err
			}
			if u.Role == RoleAdmin && !u.Disabled {
				admins++
			}
			return nil
		})
	})
	if err != nil {
		return wrap(err)
	}
	if rec.Role == RoleAdmin && !rec.Disabled && admins <= 1 {
		return wrap(ErrLastAdmin)
	}
	if rec.TOTP.enabled() {
		// The code is checked (and used up) in its own transaction.
		err := s.kv.Update(ctx, func(tx store.Txn) error {
			cur, err := getUser(tx, tenantID, userID)
			if err != nil {
				return err
			}
			if !s.useTOTP(cur, code) && !useRecovery(cur, code) {
				return ErrInvalidCode
			}
			return putUser(tx, cur)
		})
		if err != nil {
			return wrap(err)
		}
	}
	if before != nil {
		if err := before(ctx); err != nil {
			return wrap(err)
		}
	}
	if err := s.DeleteUser(ctx, tenantID, userID); err != nil {
		return wrap(err)
	}
	return nil
}
