package app

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// newDeleteAccountSection lets the signed-in user delete their own
// account (seed 002 §2.4): password, a code when two-factor sign-in is
// on, and a confirmation. The relay refuses while appointments are to
// come and for the last admin; its sentence is shown as it is.
func newDeleteAccountSection(u *UI, s *session) fyne.CanvasObject {
	status := newStatusLabel()
	open := func() {
		pw := widget.NewPasswordEntry()
		pw.SetPlaceHolder("Your password")
		code := codeEntry()
		code.SetPlaceHolder("123456 or a recovery code")
		body := container.NewVBox(
			wrapped("Your account, your booking page, appointment types, availability and calendar connections are deleted. "+
				"Past appointments and meetings stay with your organisation under their retention periods. This cannot be undone."),
			pw)
		if s.account.SecondFactor {
			body.Add(code)
		}
		var sd *stepDialog
		submit := func() {
			if sd.action.busy {
				return
			}
			if pw.Text == "" {
				sd.status.fail("Enter your password.")
				return
			}
			typed := ""
			if s.account.SecondFactor {
				if p := codeProblem(code.Text); p != "" {
					sd.status.fail(p)
					return
				}
				typed = code.Text
			}
			sd.busy(true)
			password := pw.Text
			run(u, s.ctx, func(ctx context.Context) (struct{}, error) {
				return struct{}{}, u.relay.DeleteAccount(ctx, password, typed)
			}, func(_ struct{}, err error) {
				if s.ctx.Err() != nil {
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
				if u.sess == s {
					s.cancel()
					u.sess = nil
				}
				u.showLogin("Your account was deleted.")
			})
		}
		pw.OnSubmitted = func(string) { submit() }
		code.OnSubmitted = func(string) { submit() }
		sd = newStepDialog(u.win, "Delete my account", "Delete my account", body, submit, nil)
		sd.action.btn.Importance = widget.DangerImportance
		sd.d.Show()
		u.win.Canvas().Focus(pw)
	}
	btn := widget.NewButtonWithIcon("Delete my account …", theme.DeleteIcon(), open)
	btn.Importance = widget.DangerImportance
	return container.NewVBox(
		widget.NewLabelWithStyle("Delete my account", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		wrapped("When you leave, delete your account here. Hand over or cancel your upcoming appointments first."),
		container.NewHBox(btn), status.Label)
}
