package app

import (
	"errors"
	"image"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// entry finds the visible entry with the given placeholder (dialogs
// included), failing when there is none.
func (h *harness) entry(placeholder string) *widget.Entry {
	h.t.Helper()
	var found *widget.Entry
	h.walk(func(o fyne.CanvasObject) {
		if e, ok := o.(*widget.Entry); ok && e.PlaceHolder == placeholder && found == nil {
			found = e
		}
	})
	if found == nil {
		h.t.Fatalf("no entry %q; texts: %q", placeholder, h.texts())
	}
	return found
}

// dialogOpen reports whether a dialog (or other overlay) is shown.
func (h *harness) dialogOpen() bool { return h.ui.Window().Canvas().Overlays().Top() != nil }

const codePlaceholder = "123456 or a recovery code"

// startSecondFactor signs in to a fake that asks for a second factor and
// waits for the code dialog.
func startSecondFactor(t *testing.T, f *fakeRelay) *harness {
	t.Helper()
	f.secondFactor = true
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "correct horse")
	h.eventually("the code dialog", func() bool { return h.shows("Two-factor sign-in") && h.dialogOpen() })
	return h
}

func TestLoginAsksForSecondFactor(t *testing.T) {
	f := &fakeRelay{}
	h := startSecondFactor(t, f)
	l := h.ui.login
	if !h.onLogin() || l.addr.Text != testAddr || l.tenant.Text != "acme" || l.username.Text != "erika" {
		t.Fatalf("the form is lost behind the dialog: %q %q %q", l.addr.Text, l.tenant.Text, l.username.Text)
	}
	code := h.entry(codePlaceholder)
	if h.ui.Window().Canvas().Focused() != code {
		t.Error("the code field is not focused")
	}

	// A wrong code: a clear message, and another try.
	test.Type(code, "654321")
	enter(code)
	h.eventually("the wrong-code message", func() bool { return h.shows("That code is not right") })
	if !h.shows("4 tries left") || h.ui.sess != nil || !h.dialogOpen() {
		t.Fatalf("after a wrong code: texts %q", h.texts())
	}
	if code.Text != "" {
		t.Error("the wrong code is kept")
	}

	// The right code, typed with a space, completes the sign-in.
	test.Type(code, "123 456")
	h.tapInDialog("Sign in")
	w := h.waitWorkspace()
	if w == nil || h.dialogOpen() {
		t.Fatal("the dialog stays open after the sign-in")
	}
	want := []string{"Connect " + testAddr, "Login acme erika", "LoginSecondFactor pmf_1 654321", "LoginSecondFactor pmf_1 123 456"}
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if l.password.Text != "" {
		t.Error("password still in the form after the sign-in")
	}
	if !h.ui.sess.account.SecondFactor {
		t.Error("the account does not know it has a second factor")
	}
	if h.prefs.String(prefUsername) != "erika" {
		t.Error("the sign-in was not remembered")
	}
}

func TestSecondFactorRecoveryCode(t *testing.T) {
	h := startSecondFactor(t, &fakeRelay{})
	code := h.entry(codePlaceholder)
	test.Type(code, "abcd-efgh-ijkl-mnop")
	enter(code)
	h.waitWorkspace()
}

func TestSecondFactorMalformedCodeNotSent(t *testing.T) {
	f := &fakeRelay{}
	h := startSecondFactor(t, f)
	code := h.entry(codePlaceholder)
	for _, bad := range []string{"", "12345", "1234567"} {
		fill(code, bad)
		enter(code)
		h.settle()
		if f.called("LoginSecondFactor") != 0 {
			t.Fatalf("%q was sent", bad)
		}
	}
	if !h.shows("6 digits") {
		t.Errorf("no hint; texts: %q", h.texts())
	}
}

func TestSecondFactorFiveWrongCodesBackToPassword(t *testing.T) {
	f := &fakeRelay{}
	h := startSecondFactor(t, f)
	code := h.entry(codePlaceholder)
	for i := 1; i <= challengeAttempts; i++ {
		fill(code, "000000")
		enter(code)
		h.eventually("the code to be sent", func() bool { return f.called("LoginSecondFactor") == i })
		h.settle()
	}
	l := h.ui.login
	h.eventually("the password form", func() bool { return !h.dialogOpen() })
	if !h.shows("Enter your password again") || l.password.Text != "" || l.signIn.btn.Disabled() {
		t.Fatalf("not back at the password: texts %q, password %q", h.texts(), l.password.Text)
	}
	if h.ui.Window().Canvas().Focused() != l.password {
		t.Error("the password field is not focused")
	}
	if l.tenant.Text != "acme" || l.username.Text != "erika" {
		t.Error("the form was lost")
	}
	// A new sign-in gets a new challenge that works.
	fill(l.password, "correct horse")
	enter(l.password)
	h.eventually("the code dialog again", h.dialogOpen)
	code = h.entry(codePlaceholder)
	test.Type(code, "123456")
	enter(code)
	h.waitWorkspace()
	if !slices.Contains(f.Calls(), "LoginSecondFactor pmf_2 123456") {
		t.Errorf("calls %q", f.Calls())
	}
}

func TestSecondFactorChallengeTooOld(t *testing.T) {
	f := &fakeRelay{}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	f.secondFactor = true
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.ui.login.now = func() time.Time { return now }
	h.signIn("acme", "erika", "correct horse")
	h.eventually("the code dialog", h.dialogOpen)
	now = now.Add(challengeLifetime)
	code := h.entry(codePlaceholder)
	test.Type(code, "123456")
	enter(code)
	h.settle()
	if f.called("LoginSecondFactor") != 0 {
		t.Error("a code for a void challenge was sent")
	}
	if h.dialogOpen() || !h.shows("longer than 5 minutes") || h.ui.login.password.Text != "" {
		t.Errorf("not back at the password; texts %q", h.texts())
	}
}

func TestSecondFactorOtherErrorsStayInDialog(t *testing.T) {
	f := &fakeRelay{sfErr: errors.New("Too many attempts — try again in 8 s.")}
	h := startSecondFactor(t, f)
	code := h.entry(codePlaceholder)
	test.Type(code, "123456")
	enter(code)
	h.eventually("the message", func() bool { return h.shows("try again in 8 s") })
	if !h.dialogOpen() || code.Text != "123456" {
		t.Error("a throttled code left the dialog or lost the code")
	}
	f.mu.Lock()
	f.sfErr = nil
	f.mu.Unlock()
	enter(code)
	h.waitWorkspace()
}

func TestSecondFactorCancel(t *testing.T) {
	f := &fakeRelay{}
	h := startSecondFactor(t, f)
	h.tapInDialog("Cancel")
	if h.dialogOpen() || !h.shows("Sign-in cancelled.") || h.ui.login.signIn.btn.Disabled() {
		t.Errorf("after Cancel: texts %q", h.texts())
	}
}

// settingsHarness signs in an advisor without a second factor and opens
// Settings.
func settingsHarness(t *testing.T, f *fakeRelay) *harness {
	t.Helper()
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	w := h.waitWorkspace()
	if !w.selectPage("Settings") {
		t.Fatal("no Settings page")
	}
	h.settle()
	return h
}

func TestSettingsTurnOnShowsQRAndRecoveryCodes(t *testing.T) {
	f := &fakeRelay{}
	h := settingsHarness(t, f)
	if !h.shows("Two-factor sign-in") || !h.shows("Off:") {
		t.Fatalf("no two-factor section; texts: %q", h.texts())
	}
	if h.button("New recovery codes") != nil || h.button("Turn off") != nil {
		t.Error("actions for an enabled second factor shown while it is off")
	}
	h.tap("Turn on two-factor sign-in")
	pw := h.entry("Your password")
	test.Type(pw, "wrong")
	enter(pw)
	h.eventually("the password error", func() bool { return h.shows("Wrong username or password.") })
	if pw.Text != "" || !h.dialogOpen() {
		t.Error("a wrong password closed the dialog or stayed in the field")
	}
	test.Type(pw, "pw")
	h.tapInDialog("Continue")
	h.eventually("the QR code", func() bool { return h.shows("Scan this QR code") })

	// The QR code encodes the otpauth URL; the key is there to type.
	var qr *canvas.Image
	walk(h.ui.Window().Canvas().Overlays().Top(), func(o fyne.CanvasObject) {
		// The largest image; icons are images too.
		if ci, ok := o.(*canvas.Image); ok && ci.Image != nil && (qr == nil || ci.Image.Bounds().Dx() > qr.Image.Bounds().Dx()) {
			qr = ci
		}
	})
	if qr == nil {
		t.Fatal("no QR code image")
	}
	want, err := qrImage(fakeOTPURL, 240)
	if err != nil {
		t.Fatal(err)
	}
	if !sameImage(qr.Image, want) {
		t.Errorf("the QR code does not show the otpauth URL: %T %v, want %T %v", qr.Image, qr.Image.Bounds(), want, want.Bounds())
	}
	if other, _ := qrImage(fakeOTPURL+"x", 240); sameImage(other, want) {
		t.Fatal("the image comparison cannot tell QR codes apart")
	}
	if !h.shows("JBSW Y3DP EHPK 3PXP") {
		t.Errorf("no key to type; texts: %q", h.texts())
	}

	code := h.entry("123456")
	test.Type(code, "000000")
	enter(code)
	h.eventually("the wrong-code message", func() bool { return h.shows("That code is not right") })
	test.Type(code, "123456")
	h.tapInDialog("Turn on")
	h.eventually("the recovery codes", func() bool { return h.shows("Store these recovery codes now") })
	codes := fakeRecoveryCodes()
	if !h.shows(strings.Join(codes, "\n")) {
		t.Fatalf("the ten codes are not shown; texts: %q", h.texts())
	}
	h.tapInDialog("Copy codes")
	if got := h.ui.app.Clipboard().Content(); got != strings.Join(codes, "\n") {
		t.Errorf("clipboard %q", got)
	}
	h.tapInDialog("I have stored them")
	if h.dialogOpen() {
		t.Error("the recovery codes stay on screen")
	}
	if !h.shows("On:") || h.button("Turn on two-factor sign-in") != nil || h.button("New recovery codes") == nil {
		t.Errorf("the section does not show it on; texts: %q", h.texts())
	}
	if h.shows(codes[0]) {
		t.Error("a recovery code is still visible")
	}
	want2 := []string{"StartSecondFactor", "StartSecondFactor", "ConfirmSecondFactor 000000", "ConfirmSecondFactor 123456"}
	if got := f.Calls()[2:]; !slices.Equal(got, want2) {
		t.Errorf("calls %q, want %q", got, want2)
	}
}

func sameImage(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, aa := a.At(x, y).RGBA()
			br, bg, bb, ba := b.At(x, y).RGBA()
			if ar != br || ag != bg || ab != bb || aa != ba {
				return false
			}
		}
	}
	return true
}

func TestSettingsRenewCodesAndTurnOff(t *testing.T) {
	f := &fakeRelay{secondFactor: true}
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	h.eventually("the code dialog", h.dialogOpen)
	code := h.entry(codePlaceholder)
	test.Type(code, "123456")
	enter(code)
	w := h.waitWorkspace()
	w.selectPage("Settings")
	h.settle()
	if !h.shows("On:") {
		t.Fatalf("the section does not show it on; texts: %q", h.texts())
	}

	h.tap("New recovery codes")
	code = h.entry("123456")
	test.Type(code, "123456")
	h.tapInDialog("Make new codes")
	h.eventually("the new codes", func() bool { return h.shows("Store these recovery codes now") })
	h.tapInDialog("I have stored them")
	if !h.shows("the old ones no longer work") {
		t.Errorf("no confirmation; texts: %q", h.texts())
	}

	h.tap("Turn off")
	pw := h.entry("Your password")
	test.Type(pw, "pw")
	code = h.entry(codePlaceholder)
	test.Type(code, "99")
	h.tapInDialog("Turn off")
	if !h.shows("6 digits") {
		t.Errorf("malformed code accepted; texts: %q", h.texts())
	}
	fill(code, "abcd-efgh-ijkl-mnop")
	h.tapInDialog("Turn off")
	h.eventually("the section off", func() bool { return h.shows("Two-factor sign-in is off.") })
	if !h.shows("Off:") || h.dialogOpen() {
		t.Errorf("texts: %q", h.texts())
	}
	if !slices.Contains(f.Calls(), "DisableSecondFactor abcd-efgh-ijkl-mnop") || f.called("DisableSecondFactor") != 1 {
		t.Errorf("calls %q", f.Calls())
	}
}

func TestTeamShowsAndResetsSecondFactor(t *testing.T) {
	f := &fakeRelay{role: "admin", users: []Person{
		{ID: "u1", Username: "root", DisplayName: "Rita Admin", Role: "admin"},
		{ID: "u2", Username: "max", DisplayName: "Max Berger", Role: "advisor", SecondFactor: true},
		{ID: "u3", Username: "ida", DisplayName: "Ida Klein", Role: "advisor"},
	}}
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "root", "pw")
	w := h.waitWorkspace()
	w.selectPage("Team")
	h.eventually("the user list", func() bool { return h.shows("max · Advisor") })
	rows := twoFactorColumn(h)
	if !slices.Equal(rows, []string{"2FA off", "2FA on", "2FA off"}) {
		t.Fatalf("2FA column %q", rows)
	}
	tp := w.team
	tp.list.Select(2)
	if h.button("Reset two-factor") != nil {
		t.Error("reset offered for a user without a second factor")
	}
	tp.list.Select(1)
	h.tap("Reset two-factor")
	if f.called("ResetSecondFactor") != 0 {
		t.Fatal("reset without confirmation")
	}
	if !h.shows("signed out everywhere") {
		t.Errorf("the confirmation does not say what happens; texts: %q", h.texts())
	}
	h.tapInDialog("Reset two-factor")
	h.eventually("the reloaded list", func() bool { return f.called("ListUsers") == 2 && h.shows("3 people") })
	h.settle()
	if !slices.Contains(f.Calls(), "ResetSecondFactor u2") {
		t.Fatalf("calls %q", f.Calls())
	}
	if rows := twoFactorColumn(h); !slices.Equal(rows, []string{"2FA off", "2FA off", "2FA off"}) {
		t.Errorf("2FA column after the reset %q", rows)
	}
}

// twoFactorColumn returns the visible "2FA on/off" labels, top to bottom.
func twoFactorColumn(h *harness) []string {
	var out []string
	h.walk(func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok && (l.Text == "2FA on" || l.Text == "2FA off") {
			out = append(out, l.Text)
		}
	})
	return out
}

// BenchmarkQRImage measures rendering the enrolment's QR code, which runs
// on the UI thread when the dialog opens.
func BenchmarkQRImage(b *testing.B) {
	for b.Loop() {
		if _, err := qrImage(fakeOTPURL, 240); err != nil {
			b.Fatal(err)
		}
	}
}
