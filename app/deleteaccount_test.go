package app

import (
	"errors"
	"testing"

	"fyne.io/fyne/v2/test"
)

func TestSettingsDeleteMyAccount(t *testing.T) {
	f := &fakeRelay{deleteRefusal: errors.New("You still have 2 appointments to come: cancel them or ask an admin to hand them over first.")}
	h := settingsHarness(t, f)

	// A wrong password, then a refusal by the relay: the dialog stays
	// with the relay's sentence, nothing is deleted.
	h.tap("Delete my account …")
	pw := h.entry("Your password")
	test.Type(pw, "falsch")
	h.tapInDialog("Delete my account")
	h.eventually("the password error", func() bool { return h.shows("Wrong username or password.") })
	test.Type(pw, "pw")
	h.tapInDialog("Delete my account")
	h.eventually("the refusal", func() bool { return h.shows("2 appointments to come") })
	if !h.dialogOpen() || f.deleted {
		t.Fatalf("after a refusal: dialog %v, deleted %v", h.dialogOpen(), f.deleted)
	}

	// Without appointments to come the account goes and the sign-in
	// screen says so.
	f.mu.Lock()
	f.deleteRefusal = nil
	f.mu.Unlock()
	test.Type(pw, "pw")
	h.tapInDialog("Delete my account")
	h.eventually("the sign-in screen", func() bool { return h.shows("Your account was deleted.") })
	if !f.deleted || h.ui.sess != nil {
		t.Fatalf("deleted %v, session %v", f.deleted, h.ui.sess)
	}
}
