package auth

import (
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
)

func TestBootstrapOnce(t *testing.T) {
	e := newEnv(t, nil)
	res, err := e.svc.Bootstrap(e.ctx, "sparkasse", "Sparkasse Musterstadt", "")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || !res.Generated || res.Tenant.Slug != "sparkasse" || res.Admin.Username != "admin" ||
		res.Admin.Role != RoleAdmin || !res.Admin.MustChangePassword || res.Admin.TenantID != res.Tenant.ID {
		t.Fatalf("first bootstrap: %+v", res)
	}
	if len(res.Password) != 20 {
		t.Fatalf("generated password has %d characters", len(res.Password))
	}
	if err := ValidatePassword("admin", res.Password); err != nil {
		t.Fatalf("generated password breaks the rules: %v", err)
	}
	if !strings.Contains(e.logs.String(), "bootstrapped") || strings.Contains(e.logs.String(), res.Password) {
		t.Fatal("bootstrap log missing or contains the password")
	}

	// The admin logs in, must change the password, and then need not.
	sess, tok := e.login("sparkasse", "admin", res.Password, "198.51.100.1")
	if !sess.MustChangePassword || sess.Role != RoleAdmin {
		t.Fatalf("admin session %+v", sess)
	}
	if err := e.svc.ChangePassword(e.ctx, res.Tenant.ID, res.Admin.ID, res.Password, "Neues-Kennwort-2026"); err != nil {
		t.Fatal(err)
	}
	sess, err = e.svc.Authenticate(e.ctx, tok)
	if err != nil || sess.MustChangePassword {
		t.Fatalf("after change: %+v, %v", sess, err)
	}

	// A second bootstrap (any slug) writes nothing.
	before := e.dump()
	for _, slug := range []string{"sparkasse", "other"} {
		res2, err := e.svc.Bootstrap(e.ctx, slug, "Again", "")
		if err != nil {
			t.Fatal(err)
		}
		if res2.Created || res2.Password != "" || res2.Admin.ID != "" {
			t.Fatalf("second bootstrap: %+v", res2)
		}
		if slug == "sparkasse" && res2.Tenant.ID != res.Tenant.ID {
			t.Fatalf("second bootstrap reports tenant %+v", res2.Tenant)
		}
	}
	if after := e.dump(); !maps.Equal(before, after) {
		t.Fatal("second bootstrap changed the store")
	}
}

func TestBootstrapWithPassword(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.svc.Bootstrap(e.ctx, "bank", "Bank", "admin2026!"); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("weak bootstrap password: %v", err)
	}
	if len(e.dump()) != 0 {
		t.Fatal("failed bootstrap wrote to the store")
	}
	res, err := e.svc.Bootstrap(e.ctx, "bank", "Bank", "Sieben-Zwerge-7")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Generated || res.Password != "" || res.Admin.MustChangePassword {
		t.Fatalf("bootstrap with password: %+v", res)
	}
	if s, _ := e.login("bank", "ADMIN", "Sieben-Zwerge-7", ""); s.MustChangePassword {
		t.Fatal("admin with chosen password must change it")
	}
}

func TestBootstrapAfterCreateTenant(t *testing.T) {
	e := newEnv(t, nil)
	e.tenant("bank")
	res, err := e.svc.Bootstrap(e.ctx, "other", "Other", "")
	if err != nil || res.Created {
		t.Fatalf("bootstrap with an existing tenant: %+v, %v", res, err)
	}
}

func TestBootstrapConcurrent(t *testing.T) {
	e := newEnv(t, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.svc.Bootstrap(e.ctx, "bank", "Bank", "")
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if res.Created {
				created++
			}
		}()
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d bootstraps created a tenant", created)
	}
}

func TestCreateTenant(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("volksbank-nord")
	if len(tn.ID) != 32 || tn.Created.IsZero() {
		t.Fatalf("tenant %+v", tn)
	}
	if _, err := e.svc.CreateTenant(e.ctx, "volksbank-nord", "Again"); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate slug: %v", err)
	}
	for _, slug := range []string{"", "a", "Bank", "bank_1", "bank.de", "bänk", strings.Repeat("a", 41), "bank/x"} {
		if _, err := e.svc.CreateTenant(e.ctx, slug, "X"); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("slug %q: %v", slug, err)
		}
	}
	if _, err := e.svc.CreateTenant(e.ctx, "ok-slug", " "); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("blank name: %v", err)
	}
	got, err := e.svc.TenantBySlug(e.ctx, "volksbank-nord")
	if err != nil || got != tn {
		t.Fatalf("TenantBySlug = %+v, %v", got, err)
	}
	if got, err := e.svc.TenantByID(e.ctx, tn.ID); err != nil || got != tn {
		t.Fatalf("TenantByID = %+v, %v", got, err)
	}
	for _, slug := range []string{"nope", "", "../x"} {
		if _, err := e.svc.TenantBySlug(e.ctx, slug); !errors.Is(err, ErrUnknownTenant) {
			t.Errorf("TenantBySlug(%q): %v", slug, err)
		}
	}
}

func TestCreateUser(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	u, err := e.svc.CreateUser(e.ctx, tn.ID, NewUser{
		Username: "Erika.Mustermann", DisplayName: "Erika Mustermann",
		Email: "erika.mustermann@example.org", Password: "Tulpen-im-Regen-1", Role: RoleAdvisor,
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "erika.mustermann" || u.Email != "erika.mustermann@example.org" || u.TenantID != tn.ID ||
		len(u.ID) != 32 || u.Role != RoleAdvisor || u.MustChangePassword || u.Created.IsZero() {
		t.Fatalf("user %+v", u)
	}
	got, err := e.svc.GetUser(e.ctx, tn.ID, u.ID)
	if err != nil || got != u {
		t.Fatalf("GetUser = %+v, %v", got, err)
	}

	// Usernames are unique per tenant, case-insensitively.
	for _, name := range []string{"erika.mustermann", "ERIKA.MUSTERMANN", "Erika.mustermann"} {
		_, err := e.svc.CreateUser(e.ctx, tn.ID, NewUser{Username: name, Password: "Anderes-Passwort-9", Role: RoleAdvisor})
		if !errors.Is(err, ErrExists) {
			t.Errorf("duplicate %q: %v", name, err)
		}
	}
	// ... but another tenant may have the same username.
	other := e.tenant("other")
	u2 := e.user(other.ID, "erika.mustermann", "Anderes-Passwort-9", RoleAdmin)

	list, err := e.svc.ListUsers(e.ctx, tn.ID)
	if err != nil || len(list) != 1 || list[0].ID != u.ID {
		t.Fatalf("ListUsers(tenant) = %+v, %v", list, err)
	}
	e.user(tn.ID, "anton", "Anderes-Passwort-9", RoleAdmin)
	list, _ = e.svc.ListUsers(e.ctx, tn.ID)
	if len(list) != 2 || list[0].Username != "anton" || list[1].Username != "erika.mustermann" {
		t.Fatalf("ListUsers not sorted by username: %+v", list)
	}
	if _, err := e.svc.ListUsers(e.ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrUnknownTenant) {
		t.Fatalf("ListUsers(unknown): %v", err)
	}
	// A user is only reachable through its own tenant.
	if _, err := e.svc.GetUser(e.ctx, tn.ID, u2.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUser across tenants: %v", err)
	}
	if _, err := e.svc.GetUser(e.ctx, tn.ID, "../"+u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUser with path in id: %v", err)
	}
	if _, err := e.svc.CreateUser(e.ctx, "0123456789abcdef0123456789abcdef",
		NewUser{Username: "x1", Password: "Anderes-Passwort-9", Role: RoleAdvisor}); !errors.Is(err, ErrUnknownTenant) {
		t.Fatalf("CreateUser(unknown tenant): %v", err)
	}
}

func TestCreateUserValidation(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	good := NewUser{Username: "max", DisplayName: "Max", Email: "max@example.org", Password: "Tulpen-im-Regen-1", Role: RoleAdvisor}
	cases := []struct {
		name  string
		mod   func(*NewUser)
		field string
	}{
		{"username with @", func(u *NewUser) { u.Username = "max@example.org" }, "username"},
		{"username too short", func(u *NewUser) { u.Username = "m" }, "username"},
		{"username too long", func(u *NewUser) { u.Username = strings.Repeat("m", 65) }, "username"},
		{"username space", func(u *NewUser) { u.Username = "max power" }, "username"},
		{"username umlaut", func(u *NewUser) { u.Username = "jörg" }, "username"},
		{"username slash", func(u *NewUser) { u.Username = "a/b" }, "username"},
		{"email invalid", func(u *NewUser) { u.Email = "not-an-address" }, "email"},
		{"email with name", func(u *NewUser) { u.Email = "Max <max@example.org>" }, "email"},
		{"email spaces", func(u *NewUser) { u.Email = " max@example.org" }, "email"},
		{"display name control", func(u *NewUser) { u.DisplayName = "Max\nPower" }, "display_name"},
		{"display name too long", func(u *NewUser) { u.DisplayName = strings.Repeat("ä", 201) }, "display_name"},
		{"role", func(u *NewUser) { u.Role = "root" }, "role"},
		{"role empty", func(u *NewUser) { u.Role = "" }, "role"},
	}
	for _, tc := range cases {
		u := good
		tc.mod(&u)
		_, err := e.svc.CreateUser(e.ctx, tn.ID, u)
		var ie *InputError
		if !errors.Is(err, ErrInvalidInput) || !errors.As(err, &ie) || ie.Field != tc.field {
			t.Errorf("%s: %v, want InputError on %s", tc.name, err, tc.field)
		}
	}
	weak := good
	weak.Password = "max12345"
	var we *WeakPasswordError
	if _, err := e.svc.CreateUser(e.ctx, tn.ID, weak); !errors.As(err, &we) || !we.Has(ReasonContainsUsername) {
		t.Errorf("weak password: %v", err)
	}
	if len(e.dump()) != 2 { // tenant + slug only
		t.Fatalf("rejected users were written: %v", len(e.dump()))
	}
	u := good
	u.Email = ""
	u.DisplayName = "Jörg Müller-Lüdenscheidt"
	if _, err := e.svc.CreateUser(e.ctx, tn.ID, u); err != nil {
		t.Fatalf("valid user without e-mail: %v", err)
	}
}

func TestNoPersonalDataInKeys(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	u, err := e.svc.CreateUser(e.ctx, tn.ID, NewUser{
		Username: "erika.mustermann", DisplayName: "Erika Mustermann",
		Email: "erika.mustermann@example.org", Password: "Tulpen-im-Regen-1", Role: RoleAdvisor,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, tok := e.login("bank", "erika.mustermann", "Tulpen-im-Regen-1", "203.0.113.9")
	for k, v := range e.dump() {
		if !strings.HasPrefix(k, "auth/") {
			t.Errorf("key %q outside auth/", k)
		}
		for _, pd := range []string{"erika", "mustermann", "example.org", "203.0.113", tok[4:]} {
			if strings.Contains(strings.ToLower(k), pd) {
				t.Errorf("key %q contains %q", k, pd)
			}
		}
		if strings.Contains(v, "Tulpen") || strings.Contains(v, tok) || strings.Contains(v, "203.0.113") {
			t.Errorf("value of %q contains a password, token or source", k)
		}
	}
	if rec := e.record(tn.ID, u.ID); rec.Email != "erika.mustermann@example.org" {
		t.Fatal("e-mail not stored")
	}
}

func TestDisableAndDeleteUser(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	u := e.user(tn.ID, "erika", "Tulpen-im-Regen-1", RoleAdvisor)
	_, tok := e.login("bank", "erika", "Tulpen-im-Regen-1", "")

	if err := e.svc.SetUserDisabled(e.ctx, tn.ID, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(e.ctx, tok); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("session of disabled user: %v", err)
	}
	if _, _, err := e.svc.Login(e.ctx, "bank", "erika", "Tulpen-im-Regen-1", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("login of disabled user: %v", err)
	}
	if got, _ := e.svc.GetUser(e.ctx, tn.ID, u.ID); !got.Disabled {
		t.Fatal("Disabled not reported")
	}
	if err := e.svc.SetUserDisabled(e.ctx, tn.ID, u.ID, false); err != nil {
		t.Fatal(err)
	}
	_, tok = e.login("bank", "erika", "Tulpen-im-Regen-1", "")

	if err := e.svc.DeleteUser(e.ctx, tn.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(e.ctx, tok); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("session of deleted user: %v", err)
	}
	if _, err := e.svc.GetUser(e.ctx, tn.ID, u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted user: %v", err)
	}
	if _, _, err := e.svc.Login(e.ctx, "bank", "erika", "Tulpen-im-Regen-1", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("login of deleted user: %v", err)
	}
	if err := e.svc.DeleteUser(e.ctx, tn.ID, u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// The username is free again, and nothing of the old user remains.
	e.user(tn.ID, "erika", "Tulpen-im-Regen-2", RoleAdvisor)
	for k := range e.dump() {
		if strings.Contains(k, u.ID) {
			t.Errorf("key %q of the deleted user remains", k)
		}
	}
}

func TestResetPassword(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	u := e.user(tn.ID, "erika", "Tulpen-im-Regen-1", RoleAdvisor)
	_, tok := e.login("bank", "erika", "Tulpen-im-Regen-1", "")

	pw, err := e.svc.ResetPassword(e.ctx, tn.ID, u.ID, "")
	if err != nil || ValidatePassword("erika", pw) != nil {
		t.Fatalf("reset: %q, %v", pw, err)
	}
	if _, err := e.svc.Authenticate(e.ctx, tok); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("session after reset: %v", err)
	}
	if _, _, err := e.svc.Login(e.ctx, "bank", "erika", "Tulpen-im-Regen-1", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password after reset: %v", err)
	}
	if s, _ := e.login("bank", "erika", pw, ""); !s.MustChangePassword {
		t.Fatal("reset password need not be changed")
	}
	if _, err := e.svc.ResetPassword(e.ctx, tn.ID, u.ID, "Tulpen-im-Regen-1"); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("reset to a recent password: %v", err)
	}
}
