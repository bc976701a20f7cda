package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// confirm asks before an admin action; yes runs only when the person
// presses the button labelled action.
func confirm(win fyne.Window, title, detail, action string, yes func()) {
	text := widget.NewLabel(detail)
	text.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustomConfirm(title, action, "Cancel", column(420, text), func(ok bool) {
		if ok {
			yes()
		}
	}, win)
	d.Show()
}

// showOneTimePassword shows a generated password once, selectable, so the
// admin can hand it over; the app keeps no copy.
func showOneTimePassword(win fyne.Window, name, password string) {
	intro := widget.NewLabel("Hand this one-time password to " + name + ". It is shown only now; " + name + " chooses a new password at the next sign-in.")
	intro.Wrapping = fyne.TextWrapWord
	pw := widget.NewLabelWithStyle(password, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	pw.Selectable = true
	dialog.NewCustom("One-time password", "Done", column(420, intro, pw), win).Show()
}
