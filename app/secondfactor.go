package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
)

// Two-factor sign-in (TOTP): the code dialog of the sign-in, the settings
// section that turns it on and off and renews recovery codes, and the
// types the Relay uses for it.

// SecondFactorRequired is the error Login returns (possibly wrapped) for
// an account with two-factor sign-in: the password was right, and the
// sign-in finishes with LoginSecondFactor and Challenge.
type SecondFactorRequired struct {
	// Challenge is the relay's token for this sign-in attempt.
	Challenge string
}

// Error says what is needed next.
func (e *SecondFactorRequired) Error() string {
	return "Enter the 6-digit code from your authenticator app (or a recovery code)."
}

// ErrInvalidCode is matched (errors.Is) by the errors the Relay returns
// for a wrong, reused or malformed code.
var ErrInvalidCode = errors.New("app: the code is not right")

// ErrChallengeExpired is matched by the errors the Relay returns for a
// void sign-in challenge (too old, or too many wrong codes).
var ErrChallengeExpired = errors.New("app: the sign-in challenge is void")

// SecondFactorSetup is a started enrolment: the secret the authenticator
// app needs, as a URL for a QR code and as text to type.
type SecondFactorSetup struct {
	// Secret is the base32 shared secret.
	Secret string
	// URL is the otpauth://totp/… key URI shown as a QR code.
	URL string
	// Expires is when the first code must be entered by.
	Expires time.Time
}

// What the relay allows for a sign-in challenge (docs/api-contract.md):
// after this many wrong codes, or this long, the password must be given
// again. The relay says so (challenge_expired → ErrChallengeExpired); the
// app also counts itself, to say it before a round trip.
const (
	challengeAttempts = 5
	challengeLifetime = 5 * time.Minute
)

// codeProblem checks a typed code before it is sent: "" when it may be a
// TOTP code or a recovery code, else what is wrong.
func codeProblem(code string) string {
	c := strings.Join(strings.Fields(code), "")
	if c == "" {
		return "Enter the code from your authenticator app."
	}
	digits := strings.Trim(c, "0123456789") == ""
	if digits && len(c) != 6 {
		return "A code from the authenticator app has 6 digits."
	}
	return ""
}

// stepDialog is a dialog with a form that stays open while its call runs
// and shows the call's error under the form.
type stepDialog struct {
	d      *dialog.CustomDialog
	status statusLabel
	action *busyButton
	cancel *widget.Button
}

// newStepDialog builds (but does not show) a dialog with body, a status
// line and the buttons action and Cancel. onCancel runs after Cancel hid it.
func newStepDialog(win fyne.Window, title, action string, body fyne.CanvasObject, submit, onCancel func()) *stepDialog {
	s := &stepDialog{status: newStatusLabel()}
	s.action = newBusyButton(action, theme.ConfirmIcon(), submit)
	s.action.btn.Importance = widget.HighImportance
	s.d = dialog.NewCustomWithoutButtons(title, column(440, body, s.status.Label), win)
	s.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		s.d.Hide()
		if onCancel != nil {
			onCancel()
		}
	})
	s.d.SetButtons([]fyne.CanvasObject{s.cancel, s.action.row()})
	return s
}

// busy marks the dialog's call as running or done.
func (s *stepDialog) busy(on bool) {
	s.action.set(on)
	if on {
		s.cancel.Disable()
	} else {
		s.cancel.Enable()
	}
}

func wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

func codeEntry() *widget.Entry {
	e := widget.NewEntry()
	e.SetPlaceHolder("123456")
	return e
}

// askSecondFactor asks for the code of a sign-in whose password was right.
// The sign-in form stays as it is behind the dialog; a wrong code can be
// corrected, and a challenge the relay no longer accepts (too many wrong
// codes, or too old) sends the user back to the password.
func (l *loginScreen) askSecondFactor(addr, transport, tenant, username, password, challenge string) {
	u := l.u
	started := l.now()
	wrong := 0
	l.status.info("Waiting for the code from your authenticator app …")
	code := codeEntry()
	code.SetPlaceHolder("123456 or a recovery code")
	var sd *stepDialog
	backToPassword := func(msg string) {
		sd.d.Hide()
		l.password.SetText("")
		l.fail(msg)
		u.win.Canvas().Focus(l.password)
	}
	submit := func() {
		if sd.action.busy {
			return
		}
		if l.now().Sub(started) >= challengeLifetime {
			backToPassword("The sign-in took longer than 5 minutes. Enter your password again.")
			return
		}
		if p := codeProblem(code.Text); p != "" {
			sd.status.fail(p)
			u.win.Canvas().Focus(code)
			return
		}
		sd.busy(true)
		sd.status.info("Checking the code …")
		typed := code.Text
		run(u, u.ctx, func(ctx context.Context) (Account, error) {
			return u.relay.LoginSecondFactor(ctx, challenge, typed)
		}, func(acc Account, err error) {
			sd.busy(false)
			switch {
			case err == nil:
				sd.d.Hide()
				l.signedIn(addr, transport, tenant, username, password, acc)
			case errors.Is(err, ErrChallengeExpired):
				backToPassword("Too many wrong codes, or the sign-in took too long. Enter your password again.")
			case errors.Is(err, ErrInvalidCode):
				wrong++
				if wrong >= challengeAttempts || l.now().Sub(started) >= challengeLifetime {
					backToPassword("Too many wrong codes, or the sign-in took too long. Enter your password again.")
					return
				}
				code.SetText("")
				sd.status.fail(fmt.Sprintf("That code is not right or was used already. Check your authenticator app and try again (%d %s left).",
					challengeAttempts-wrong, plural(challengeAttempts-wrong, "try", "tries")))
				u.win.Canvas().Focus(code)
			default:
				sd.status.fail(message(err))
			}
		})
	}
	code.OnSubmitted = func(string) { submit() }
	intro := wrapped("Enter the 6-digit code that your authenticator app shows for Parley. " +
		"Without your phone, enter one of your recovery codes instead.")
	sd = newStepDialog(u.win, "Two-factor sign-in", "Sign in", container.NewVBox(intro, code), submit, func() {
		l.fail("Sign-in cancelled.")
	})
	sd.d.Show()
	u.win.Canvas().Focus(code)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// qrImage renders an otpauth:// URL as a QR code of size×size pixels.
func qrImage(url string, size int) (image.Image, error) {
	code, err := qr.Encode(url, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("app: QR code: %w", err)
	}
	img, err := barcode.Scale(code, size, size)
	if err != nil {
		return nil, fmt.Errorf("app: QR code: %w", err)
	}
	return img, nil
}

// groupSecret spaces a base32 secret in groups of four for typing.
func groupSecret(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// secondFactorSection is the "Two-factor sign-in" part of Settings.
type secondFactorSection struct {
	u      *UI
	s      *session
	state  *widget.Label
	on     *widget.Button
	renew  *widget.Button
	off    *widget.Button
	status statusLabel
	box    *fyne.Container
}

func newSecondFactorSection(u *UI, s *session) *secondFactorSection {
	f := &secondFactorSection{u: u, s: s, status: newStatusLabel()}
	f.state = wrapped("")
	f.on = widget.NewButtonWithIcon("Turn on two-factor sign-in", theme.ConfirmIcon(), f.turnOn)
	f.renew = widget.NewButtonWithIcon("New recovery codes", theme.ViewRefreshIcon(), f.renewCodes)
	f.off = widget.NewButtonWithIcon("Turn off", theme.CancelIcon(), f.turnOff)
	f.box = container.NewVBox(
		widget.NewLabelWithStyle("Two-factor sign-in", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		f.state, container.NewHBox(f.on, f.renew, f.off), f.status.Label)
	f.show()
	return f
}

// show brings the section in line with the account's state.
func (f *secondFactorSection) show() {
	if f.s.account.SecondFactor {
		f.state.SetText("On: signing in needs your password and a code from your authenticator app.")
		f.on.Hide()
		f.renew.Show()
		f.off.Show()
		return
	}
	f.state.SetText("Off: signing in needs only your password. Turn it on to protect your account with a code from an authenticator app on your phone.")
	f.on.Show()
	f.renew.Hide()
	f.off.Hide()
}

// alive reports whether the session is still the one the section is for.
func (f *secondFactorSection) alive() bool { return f.s.ctx.Err() == nil }

// turnOn asks for the password, then shows the QR code and asks for the
// first code, then shows the recovery codes.
func (f *secondFactorSection) turnOn() {
	u, s := f.u, f.s
	pw := widget.NewPasswordEntry()
	pw.SetPlaceHolder("Your password")
	var sd *stepDialog
	submit := func() {
		if sd.action.busy {
			return
		}
		if pw.Text == "" {
			sd.status.fail("Enter your password.")
			return
		}
		sd.busy(true)
		sd.status.info("Checking …")
		password := pw.Text
		run(u, s.ctx, func(ctx context.Context) (SecondFactorSetup, error) {
			return u.relay.StartSecondFactor(ctx, password)
		}, func(setup SecondFactorSetup, err error) {
			if !f.alive() {
				return
			}
			sd.busy(false)
			if err != nil {
				pw.SetText("")
				sd.status.fail(message(err))
				u.win.Canvas().Focus(pw)
				return
			}
			sd.d.Hide()
			f.scan(setup)
		})
	}
	pw.OnSubmitted = func(string) { submit() }
	sd = newStepDialog(u.win, "Turn on two-factor sign-in", "Continue",
		container.NewVBox(wrapped("Enter your password to start. You need an authenticator app on your phone "+
			"(for example FreeOTP, Aegis, Google or Microsoft Authenticator)."), pw), submit, nil)
	sd.d.Show()
	u.win.Canvas().Focus(pw)
}

// scan shows the QR code and the secret and asks for the first code.
func (f *secondFactorSection) scan(setup SecondFactorSetup) {
	u, s := f.u, f.s
	var qrObj fyne.CanvasObject
	if img, err := qrImage(setup.URL, 240); err == nil {
		ci := canvas.NewImageFromImage(img)
		ci.FillMode = canvas.ImageFillContain
		ci.ScaleMode = canvas.ImageScalePixels
		ci.SetMinSize(fyne.NewSize(200, 200))
		qrObj = container.NewCenter(ci)
	} else {
		qrObj = wrapped("The QR code cannot be shown; type the key below into the app.")
	}
	secret := widget.NewLabelWithStyle(groupSecret(setup.Secret), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	secret.Selectable = true
	secret.Wrapping = fyne.TextWrapBreak
	code := codeEntry()
	var sd *stepDialog
	submit := func() {
		if sd.action.busy {
			return
		}
		if p := codeProblem(code.Text); p != "" {
			sd.status.fail(p)
			return
		}
		sd.busy(true)
		sd.status.info("Checking the code …")
		typed := code.Text
		run(u, s.ctx, func(ctx context.Context) ([]string, error) {
			return u.relay.ConfirmSecondFactor(ctx, typed)
		}, func(codes []string, err error) {
			if !f.alive() {
				return
			}
			sd.busy(false)
			if err != nil {
				code.SetText("")
				if errors.Is(err, ErrInvalidCode) {
					sd.status.fail("That code is not right. Check that the app shows Parley and that the phone's time is correct, then enter the current code.")
				} else {
					sd.status.fail(message(err))
				}
				u.win.Canvas().Focus(code)
				return
			}
			sd.d.Hide()
			s.account.SecondFactor = true
			f.show()
			f.status.ok("Two-factor sign-in is on.")
			showRecoveryCodes(u, codes)
		})
	}
	code.OnSubmitted = func(string) { submit() }
	body := container.NewVBox(
		wrapped("1. Scan this QR code with your authenticator app."),
		qrObj,
		wrapped("Cannot scan? Add an account in the app by hand with this key (time-based):"),
		secret,
		wrapped(fmt.Sprintf("2. Enter the 6-digit code the app now shows (before %s).", setup.Expires.Local().Format("15:04"))),
		code)
	sd = newStepDialog(u.win, "Connect your authenticator app", "Turn on", body, submit, func() {
		f.status.info("Two-factor sign-in was not turned on.")
	})
	sd.d.Show()
	u.win.Canvas().Focus(code)
}

// showRecoveryCodes shows new recovery codes once, with a copy button.
func showRecoveryCodes(u *UI, codes []string) {
	text := strings.Join(codes, "\n")
	list := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	list.Selectable = true
	copied := newStatusLabel()
	cp := widget.NewButtonWithIcon("Copy codes", theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(text)
		copied.ok("Copied. Paste them into your password manager or print them, then clear the clipboard.")
	})
	warn := wrapped("Store these recovery codes now, somewhere safe and apart from your phone. " +
		"Each code signs you in once if you lose your phone. They are shown only now: Parley keeps no copy.")
	warn.Importance = widget.WarningImportance
	d := dialog.NewCustom("Your recovery codes", "I have stored them",
		column(440, warn, list, container.NewHBox(cp), copied.Label), u.win)
	d.Show()
}

// renewCodes replaces the recovery codes after a current code.
func (f *secondFactorSection) renewCodes() {
	u, s := f.u, f.s
	code := codeEntry()
	var sd *stepDialog
	submit := func() {
		if sd.action.busy {
			return
		}
		if p := codeProblem(code.Text); p != "" {
			sd.status.fail(p)
			return
		}
		sd.busy(true)
		typed := code.Text
		run(u, s.ctx, func(ctx context.Context) ([]string, error) {
			return u.relay.NewRecoveryCodes(ctx, typed)
		}, func(codes []string, err error) {
			if !f.alive() {
				return
			}
			sd.busy(false)
			if err != nil {
				code.SetText("")
				sd.status.fail(message(err))
				return
			}
			sd.d.Hide()
			f.status.ok("New recovery codes made; the old ones no longer work.")
			showRecoveryCodes(u, codes)
		})
	}
	code.OnSubmitted = func(string) { submit() }
	sd = newStepDialog(u.win, "New recovery codes", "Make new codes", container.NewVBox(
		wrapped("Enter the current code from your authenticator app. Your old recovery codes stop working."), code), submit, nil)
	sd.d.Show()
	u.win.Canvas().Focus(code)
}

// turnOff turns two-factor sign-in off after the password and a code.
func (f *secondFactorSection) turnOff() {
	u, s := f.u, f.s
	pw := widget.NewPasswordEntry()
	pw.SetPlaceHolder("Your password")
	code := codeEntry()
	code.SetPlaceHolder("123456 or a recovery code")
	var sd *stepDialog
	submit := func() {
		if sd.action.busy {
			return
		}
		if pw.Text == "" {
			sd.status.fail("Enter your password.")
			return
		}
		if p := codeProblem(code.Text); p != "" {
			sd.status.fail(p)
			return
		}
		sd.busy(true)
		password, typed := pw.Text, code.Text
		run(u, s.ctx, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, u.relay.DisableSecondFactor(ctx, password, typed)
		}, func(_ struct{}, err error) {
			if !f.alive() {
				return
			}
			sd.busy(false)
			if err != nil {
				pw.SetText("")
				code.SetText("")
				sd.status.fail(message(err))
				return
			}
			sd.d.Hide()
			s.account.SecondFactor = false
			f.show()
			f.status.ok("Two-factor sign-in is off.")
		})
	}
	pw.OnSubmitted = func(string) { submit() }
	code.OnSubmitted = func(string) { submit() }
	sd = newStepDialog(u.win, "Turn off two-factor sign-in", "Turn off", container.NewVBox(
		wrapped("Signing in will need only your password. Enter your password and a code from your authenticator app (or a recovery code)."),
		pw, code), submit, nil)
	sd.d.Show()
	u.win.Canvas().Focus(pw)
}
