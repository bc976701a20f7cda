package app

import (
	"context"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// minPasswordLen is the client-side minimum; the relay checks the rest.
const minPasswordLen = 8

// passwordScreen asks for a personal password after a sign-in with a
// one-time password.
type passwordScreen struct {
	u       *UI
	s       *session
	current *widget.Entry
	next    *widget.Entry
	repeat  *widget.Entry
	change  *busyButton
	signOut *busyButton
	status  statusLabel
}

// showChangePassword shows the change-password screen for the session.
func (u *UI) showChangePassword() {
	p := &passwordScreen{u: u, s: u.sess}
	p.current = widget.NewPasswordEntry()
	p.current.SetText(p.s.password)
	p.next = widget.NewPasswordEntry()
	p.next.SetPlaceHolder("At least 8 characters")
	p.repeat = widget.NewPasswordEntry()
	for _, e := range []*widget.Entry{p.current, p.next, p.repeat} {
		e.OnSubmitted = func(string) { p.submit() }
	}
	p.change = newBusyButton("Change password", theme.ConfirmIcon(), p.submit)
	p.change.btn.Importance = widget.HighImportance
	p.signOut = newBusyButton("Sign out", theme.LogoutIcon(), func() { u.signOut(p.signOut) })
	p.signOut.btn.Importance = widget.LowImportance
	p.status = newStatusLabel()

	intro := widget.NewLabel("Hello " + p.s.account.DisplayName + ". You signed in with a one-time password. " +
		"Choose your own password of at least 8 characters before you continue.")
	intro.Wrapping = fyne.TextWrapWord
	form := widget.NewForm(
		widget.NewFormItem("Current password", p.current),
		widget.NewFormItem("New password", p.next),
		widget.NewFormItem("Repeat new password", p.repeat),
	)
	buttons := container.NewBorder(nil, nil, p.signOut.row(), p.change.row())
	content := container.NewCenter(column(440,
		brandHeader("Choose your password"), intro, form, buttons, p.status.Label))

	focus := p.next
	if p.current.Text == "" {
		focus = p.current
	}
	u.setContent(content, focus)
}

// submit checks the entries and asks the relay to change the password.
func (p *passwordScreen) submit() {
	if p.change.busy {
		return
	}
	u, s := p.u, p.s
	current, next := p.current.Text, p.next.Text
	switch {
	case current == "":
		p.status.fail("Enter your current (one-time) password.")
		u.win.Canvas().Focus(p.current)
		return
	case utf8.RuneCountInString(next) < minPasswordLen:
		p.status.fail("The new password must be at least 8 characters long.")
		u.win.Canvas().Focus(p.next)
		return
	case next != p.repeat.Text:
		p.status.fail("The new passwords do not match.")
		p.repeat.SetText("")
		u.win.Canvas().Focus(p.repeat)
		return
	}
	p.change.set(true)
	p.status.info("Changing your password …")
	run(u, s.ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, u.relay.ChangePassword(ctx, current, next)
	}, func(_ struct{}, err error) {
		if u.sess != s || s.ctx.Err() != nil {
			return
		}
		p.change.set(false)
		if err != nil {
			p.status.fail(message(err))
			p.next.SetText("")
			p.repeat.SetText("")
			u.win.Canvas().Focus(p.next)
			return
		}
		s.account.MustChangePassword = false
		u.login.passwordChanged(s.account.Tenant, s.account.Username)
		u.showWorkspace()
		s.work.notify("Your password was changed.")
	})
}
