package link_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/server"
	"parley/sync/link"
)

// TestDeleteAccountAgainstRealRelay: the last admin is refused; an
// advisor deletes their own account and can no longer sign in.
func TestDeleteAccountAgainstRealRelay(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	s, err := server.Start(context.Background(), server.Options{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", MediaListen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: realAdminPassword, Hash: auth.TestHashParams, Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := realCtx(t)
	c := link.New(link.Options{})
	t.Cleanup(func() { c.Close() })
	if err := c.Trust(s.URL(), s.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Connect(ctx, s.URL()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, "bank", "admin", realAdminPassword); err != nil {
		t.Fatal(err)
	}
	var ae *link.APIError
	if err := c.DeleteAccount(ctx, realAdminPassword, ""); !errors.As(err, &ae) || ae.Code != link.CodeLastAdmin {
		t.Fatalf("the last admin deleting their account: %v", err)
	}
	const pw = "Kaffee-und-Kuchen-42"
	if _, err := c.CreateUser(ctx, link.NewUser{Username: "erika", DisplayName: "Erika", Password: pw, Role: link.RoleAdvisor}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, "bank", "erika", pw); err != nil {
		t.Fatal(err)
	}
	// The admin set the password: the advisor must choose their own first.
	if err := c.ChangePassword(ctx, pw, "Regenbogen-ueber-Kiel-7"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAccount(ctx, "Regenbogen-ueber-Kiel-7", ""); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.Me(ctx); err == nil {
		t.Fatal("the deleted account's session still works")
	}
	if _, err := c.Login(ctx, "bank", "erika", "Regenbogen-ueber-Kiel-7"); err == nil {
		t.Fatal("the deleted account signs in")
	}
}
