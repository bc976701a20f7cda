package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// newSettingsPage shows the connection and the account, signs out, turns
// two-factor sign-in on and off, registers branch kiosks (admins) and
// deletes the account.
func newSettingsPage(u *UI, s *session) fyne.CanvasObject {
	value := func(text string) *widget.Label {
		l := widget.NewLabel(text)
		l.Selectable = true
		l.Wrapping = fyne.TextWrapBreak
		return l
	}
	acc := s.account
	form := widget.NewForm(
		widget.NewFormItem("Relay address", value(s.addr)),
		widget.NewFormItem("Transport", value(s.transport)),
		widget.NewFormItem("Tenant", value(acc.Tenant)),
		widget.NewFormItem("Signed in as", value(acc.DisplayName+" ("+acc.Username+"), "+roleName(acc.Role))),
	)
	note := widget.NewLabel("This computer remembers the relay address, tenant and username for the next sign-in, never your password.")
	note.Wrapping = fyne.TextWrapWord
	var signOut *busyButton
	signOut = newBusyButton("Sign out", theme.LogoutIcon(), func() { u.signOut(signOut) })
	box := container.NewVBox(form, note, container.NewHBox(signOut.row()),
		widget.NewSeparator(), newSecondFactorSection(u, s).box)
	if k := newKioskSection(u, s); k != nil {
		box.Add(widget.NewSeparator())
		box.Add(k)
	}
	box.Add(widget.NewSeparator())
	box.Add(newDeleteAccountSection(u, s))
	return box
}
