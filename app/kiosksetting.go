package app

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// PrefStartAsKiosk is the preference that makes this computer start as a
// branch kiosk (the same as `parley --kiosk`). Admins set it under
// Settings; leaving kiosk mode with the kiosk's admin PIN clears it.
const PrefStartAsKiosk = "kiosk.start"

// StartAsKiosk reports whether p asks for kiosk mode at start.
func StartAsKiosk(p fyne.Preferences) bool { return p.BoolWithFallback(PrefStartAsKiosk, false) }

// SetStartAsKiosk stores whether the next start is in kiosk mode.
func SetStartAsKiosk(p fyne.Preferences, on bool) { p.SetBool(PrefStartAsKiosk, on) }

// KioskAdmin registers and removes the tenant's branch kiosks (admins). The
// Settings page offers it when Options.Signing also implements it.
type KioskAdmin interface {
	// Kiosks returns the tenant's kiosks.
	Kiosks(ctx context.Context) ([]KioskInfo, error)
	// CreateKiosk registers a kiosk whose admin PIN is pin and returns it
	// with its device token (shown once).
	CreateKiosk(ctx context.Context, name, pin string) (KioskInfo, string, error)
	// DeleteKiosk removes a kiosk; its token stops working at once.
	DeleteKiosk(ctx context.Context, id string) error
}

// validKioskPIN reports whether pin is 6 to 12 digits, as the relay wants.
func validKioskPIN(pin string) bool {
	if len(pin) < 6 || len(pin) > 12 {
		return false
	}
	return strings.Trim(pin, "0123456789") == ""
}

// kioskSection is the Settings part for branch kiosks (admins only): the
// tenant's kiosks with Remove, a form that registers one and shows its token
// once, and whether this computer starts as a kiosk.
type kioskSection struct {
	u      *UI
	s      *session
	ka     KioskAdmin
	kiosks []KioskInfo
	list   *fyne.Container
	name   *widget.Entry
	pin    *widget.Entry
	create *busyButton
	status statusLabel
}

// newKioskSection returns the section, or nil for non-admins.
func newKioskSection(u *UI, s *session) fyne.CanvasObject {
	if s.account.Role != "admin" {
		return nil
	}
	k := &kioskSection{u: u, s: s, list: container.NewVBox(), status: newStatusLabel()}
	k.ka, _ = u.opts.Signing.(KioskAdmin)
	note := widget.NewLabel("A kiosk runs full-screen for customers in a branch: they sign documents an advisor queued for it and call an advisor. " +
		"Leaving kiosk mode needs the kiosk's admin PIN.")
	note.Wrapping = fyne.TextWrapWord
	check := widget.NewCheck("Start this computer as a branch kiosk (from the next start)", func(on bool) { SetStartAsKiosk(u.prefs, on) })
	check.SetChecked(StartAsKiosk(u.prefs))
	box := container.NewVBox(widget.NewLabelWithStyle("Branch kiosks", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), note)
	if k.ka != nil {
		k.name = widget.NewEntry()
		k.name.SetPlaceHolder("e.g. Filiale Mitte, Schalter 2")
		k.pin = widget.NewPasswordEntry()
		k.pin.SetPlaceHolder("6 to 12 digits")
		k.create = newBusyButton("Register kiosk", theme.ContentAddIcon(), k.submit)
		form := widget.NewForm(widget.NewFormItem("Kiosk name", k.name), widget.NewFormItem("Admin PIN", k.pin))
		box.Add(k.list)
		box.Add(form)
		box.Add(container.NewHBox(k.create.row()))
		box.Add(k.status.Label)
		k.load()
	}
	box.Add(check)
	return box
}

// load reads the kiosks off the UI thread.
func (k *kioskSection) load() {
	run(k.u, k.s.ctx, k.ka.Kiosks, func(ks []KioskInfo, err error) {
		if err != nil {
			k.status.fail(message(err))
			return
		}
		k.kiosks = ks
		k.show()
	})
}

// show redraws the list of kiosks.
func (k *kioskSection) show() {
	k.list.RemoveAll()
	if len(k.kiosks) == 0 {
		k.list.Add(widget.NewLabel("No kiosks registered."))
	}
	for _, x := range k.kiosks {
		x := x
		var remove *busyButton
		remove = newBusyButton("Remove", theme.DeleteIcon(), func() {
			dialog.ShowConfirm("Remove kiosk", fmt.Sprintf("Remove the kiosk %q? It stops working at once.", x.Name), func(ok bool) {
				if !ok {
					return
				}
				runBusy(k.u, k.s, remove, k.status, func(ctx context.Context) (struct{}, error) {
					return struct{}{}, k.ka.DeleteKiosk(ctx, x.ID)
				}, func(struct{}) {
					k.status.ok("Kiosk removed.")
					k.load()
				})
			}, k.u.win)
		})
		k.list.Add(container.NewBorder(nil, nil, nil, remove.row(), widget.NewLabel(x.Name)))
	}
	k.list.Refresh()
}

// submit registers the kiosk and shows its token once.
func (k *kioskSection) submit() {
	name, pin := strings.TrimSpace(k.name.Text), k.pin.Text
	switch {
	case name == "":
		k.status.fail("Enter a name for the kiosk.")
		return
	case !validKioskPIN(pin):
		k.status.fail("The admin PIN must be 6 to 12 digits.")
		return
	}
	type created struct {
		kiosk KioskInfo
		token string
	}
	runBusy(k.u, k.s, k.create, k.status, func(ctx context.Context) (created, error) {
		x, tok, err := k.ka.CreateKiosk(ctx, name, pin)
		return created{x, tok}, err
	}, func(c created) {
		k.name.SetText("")
		k.pin.SetText("")
		k.status.ok(fmt.Sprintf("Kiosk %q registered.", c.kiosk.Name))
		token := widget.NewEntry()
		token.SetText(c.token)
		token.Disable()
		copyBtn := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
			k.u.app.Clipboard().SetContent(c.token)
		})
		hint := widget.NewLabel("Type this token into the kiosk's setup screen (start it with parley --kiosk). It is shown only now.")
		hint.Wrapping = fyne.TextWrapWord
		dialog.ShowCustom("Kiosk token", "Done", container.NewVBox(hint, container.NewBorder(nil, nil, nil, copyBtn, token)), k.u.win)
		k.load()
	})
}
