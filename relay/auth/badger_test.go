package auth

import (
	"context"
	"crypto/rand"
	"testing"

	"parley/relay/clock"
	"parley/relay/store"
	"parley/relay/store/storetest"
)

// TestBadgerNoPlaintextPersonalData writes a user with an e-mail address
// into a real encrypted badger store and checks that neither the address
// nor the username appears in any file of the data folder.
func TestBadgerNoPlaintextPersonalData(t *testing.T) {
	const (
		email    = "erika.mustermann@example.org"
		username = "erika.mustermann"
		display  = "Erika Mustermann"
		password = "Tulpen-im-Regen-1"
	)
	dir := t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	ctx := context.Background()
	fc := &clock.Fake{}

	open := func() (*store.Badger, *Service) {
		t.Helper()
		db, err := store.Open(store.BadgerOptions{Dir: dir, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := New(Options{Store: db, Clock: fc, Hash: TestHashParams})
		if err != nil {
			t.Fatal(err)
		}
		return db, svc
	}
	assertAbsent := func(when string) {
		t.Helper()
		if storetest.AssertNoPlaintext(t, dir, when, email, username, display, password) == 0 {
			t.Fatalf("%s: no files in the data folder", when)
		}
	}

	db, svc := open()
	tn, err := svc.CreateTenant(ctx, "bank", "Bank")
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.CreateUser(ctx, tn.ID, NewUser{
		Username: username, DisplayName: display, Email: email, Password: password, Role: RoleAdvisor,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := svc.Login(ctx, "bank", username, password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	assertAbsent("after first close")

	// Reopen: the data is there (so the check above looked at real data),
	// the session survives, and closing again leaks nothing either.
	db, svc = open()
	got, err := svc.GetUser(ctx, tn.ID, u.ID)
	if err != nil || got.Email != email || got.Username != username {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	if _, err := svc.Authenticate(ctx, tok); err != nil {
		t.Fatalf("session after reopen: %v", err)
	}
	if _, _, err := svc.Login(ctx, "bank", username, password, ""); err != nil {
		t.Fatalf("login after reopen: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	assertAbsent("after second close")
}
