package app

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// teamPage lists the tenant's users and creates advisors (admins only).
type teamPage struct {
	u      *UI
	s      *session
	people []Person
	loaded bool

	list       *widget.List
	refresh    *busyButton
	listStatus statusLabel

	selected  int // index into people, -1 for none
	selection *widget.Label
	toggle    *busyButton
	reset     *busyButton
	resetTFA  *busyButton
	actions   *fyne.Container

	username    *widget.Entry
	displayName *widget.Entry
	email       *widget.Entry
	password    *widget.Entry
	create      *busyButton
	status      statusLabel

	content fyne.CanvasObject
}

func newTeamPage(u *UI, s *session) *teamPage {
	t := &teamPage{u: u, s: s, selected: -1}
	t.list = widget.NewList(
		func() int { return len(t.people) },
		func() fyne.CanvasObject {
			name := widget.NewLabelWithStyle("Display Name", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			name.Truncation = fyne.TextTruncateEllipsis
			detail := widget.NewLabel("username · e-mail · role")
			detail.Truncation = fyne.TextTruncateEllipsis
			// The right-hand column tells whether the user has
			// two-factor sign-in.
			return container.NewBorder(nil, nil, nil, widget.NewLabel("2FA off"), container.NewVBox(name, detail))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			p := t.people[id]
			cols := o.(*fyne.Container).Objects
			tfa := cols[1].(*widget.Label)
			if p.SecondFactor {
				tfa.SetText("2FA on")
				tfa.Importance = widget.SuccessImportance
			} else {
				tfa.SetText("2FA off")
				tfa.Importance = widget.LowImportance
			}
			tfa.Refresh()
			rows := cols[0].(*fyne.Container).Objects
			rows[0].(*widget.Label).SetText(p.DisplayName)
			parts := []string{p.Username}
			if p.Email != "" {
				parts = append(parts, p.Email)
			}
			parts = append(parts, roleName(p.Role))
			if p.Disabled {
				parts = append(parts, "disabled")
			}
			rows[1].(*widget.Label).SetText(strings.Join(parts, " · "))
		},
	)
	t.list.OnSelected = func(id widget.ListItemID) { t.selected = id; t.showActions() }
	t.list.OnUnselected = func(widget.ListItemID) { t.selected = -1; t.showActions() }
	t.selection = widget.NewLabel("")
	t.selection.Truncation = fyne.TextTruncateEllipsis
	t.toggle = newBusyButton("Disable", theme.CancelIcon(), t.toggleDisabled)
	t.reset = newBusyButton("Reset password", theme.ViewRefreshIcon(), t.resetPassword)
	t.resetTFA = newBusyButton("Reset two-factor", theme.ViewRefreshIcon(), t.resetSecondFactor)
	t.actions = container.NewBorder(nil, nil, nil, container.NewHBox(t.toggle.row(), t.reset.row(), t.resetTFA.row()), t.selection)
	t.actions.Hide()
	t.list.HideSeparators = false
	t.refresh = newBusyButton("Refresh", theme.ViewRefreshIcon(), t.load)
	t.listStatus = newStatusLabel()

	t.username = widget.NewEntry()
	t.username.SetPlaceHolder("e.g. max.berger")
	t.displayName = widget.NewEntry()
	t.displayName.SetPlaceHolder("e.g. Max Berger")
	t.email = widget.NewEntry()
	t.email.SetPlaceHolder("max.berger@example.org")
	t.password = widget.NewPasswordEntry()
	t.password.SetPlaceHolder("One-time password for the first sign-in")
	for _, e := range []*widget.Entry{t.username, t.displayName, t.email, t.password} {
		e.OnSubmitted = func(string) { t.submit() }
	}
	t.create = newBusyButton("Create advisor", theme.ContentAddIcon(), t.submit)
	t.create.btn.Importance = widget.HighImportance
	t.status = newStatusLabel()

	people := container.NewBorder(
		container.NewBorder(nil, nil, widget.NewLabelWithStyle("People in "+s.account.Tenant,
			fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), t.refresh.row()),
		container.NewVBox(t.actions, t.listStatus.Label), nil, nil, t.list)
	hint := widget.NewLabel("The advisor signs in with this password once and then chooses their own.")
	hint.Wrapping = fyne.TextWrapWord
	form := widget.NewForm(
		widget.NewFormItem("Username", t.username),
		widget.NewFormItem("Display name", t.displayName),
		widget.NewFormItem("E-mail", t.email),
		widget.NewFormItem("Initial password", t.password),
	)
	add := container.NewVBox(
		widget.NewLabelWithStyle("Add an advisor", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		form, hint, container.NewBorder(nil, nil, nil, t.create.row()), t.status.Label)
	t.content = container.NewGridWithColumns(2, people, container.NewPadded(add))
	return t
}

// shown loads the list the first time the page is shown.
func (t *teamPage) shown() {
	if !t.loaded {
		t.load()
	}
}

// load fetches the users off the UI thread.
func (t *teamPage) load() {
	if t.refresh.busy {
		return
	}
	u, s := t.u, t.s
	t.loaded = true
	t.refresh.set(true)
	t.listStatus.info("Loading …")
	run(u, s.ctx, func(ctx context.Context) ([]Person, error) {
		return u.relay.ListUsers(ctx)
	}, func(people []Person, err error) {
		if s.ctx.Err() != nil {
			return
		}
		t.refresh.set(false)
		if err != nil {
			t.listStatus.fail(message(err))
			return
		}
		t.people = people
		t.list.UnselectAll()
		t.selected = -1
		t.showActions()
		t.list.Refresh()
		switch len(people) {
		case 0:
			t.listStatus.info("No users yet.")
		case 1:
			t.listStatus.info("1 person")
		default:
			t.listStatus.info(fmt.Sprintf("%d people", len(people)))
		}
	})
}

// submit creates an advisor from the form, off the UI thread.
func (t *teamPage) submit() {
	if t.create.busy {
		return
	}
	u, s := t.u, t.s
	np := NewPerson{
		Username:    strings.TrimSpace(t.username.Text),
		DisplayName: strings.TrimSpace(t.displayName.Text),
		Email:       strings.TrimSpace(t.email.Text),
		Password:    t.password.Text,
		Role:        "advisor",
	}
	for _, m := range []struct {
		bad bool
		e   *widget.Entry
		msg string
	}{
		{np.Username == "", t.username, "Enter a username."},
		{np.DisplayName == "", t.displayName, "Enter the advisor's name as customers will see it."},
		{np.Email != "" && !strings.Contains(np.Email, "@"), t.email, "Enter a valid e-mail address, or leave it empty."},
		{np.Password == "", t.password, "Enter an initial password."},
	} {
		if m.bad {
			t.status.fail(m.msg)
			u.win.Canvas().Focus(m.e)
			return
		}
	}
	t.create.set(true)
	t.status.info("Creating " + np.Username + " …")
	run(u, s.ctx, func(ctx context.Context) (Person, error) {
		return u.relay.CreateUser(ctx, np)
	}, func(p Person, err error) {
		if s.ctx.Err() != nil {
			return
		}
		t.create.set(false)
		if err != nil {
			t.status.fail(message(err))
			return
		}
		name := p.DisplayName
		if name == "" {
			name = np.DisplayName
		}
		t.status.ok("Created " + name + ". Give them the initial password; they choose their own at the first sign-in.")
		for _, e := range []*widget.Entry{t.username, t.displayName, t.email, t.password} {
			e.SetText("")
		}
		u.win.Canvas().Focus(t.username)
		t.load()
	})
}

// showActions shows what can be done with the selected user. Admins do not
// get actions on their own account (the relay refuses them too).
func (t *teamPage) showActions() {
	if t.selected < 0 || t.selected >= len(t.people) || t.people[t.selected].Username == t.s.account.Username {
		t.actions.Hide()
		return
	}
	p := t.people[t.selected]
	t.selection.SetText(p.DisplayName)
	if p.Disabled {
		t.toggle.btn.SetText("Enable")
		t.toggle.btn.SetIcon(theme.ConfirmIcon())
	} else {
		t.toggle.btn.SetText("Disable")
		t.toggle.btn.SetIcon(theme.CancelIcon())
	}
	if p.SecondFactor {
		t.resetTFA.btn.Show()
	} else {
		t.resetTFA.btn.Hide()
	}
	t.actions.Show()
}

// toggleDisabled disables or enables the selected user after confirmation.
func (t *teamPage) toggleDisabled() {
	if t.selected < 0 || t.toggle.busy {
		return
	}
	p := t.people[t.selected]
	disable := !p.Disabled
	verb, detail := "Enable", p.DisplayName+" can sign in again."
	if disable {
		verb, detail = "Disable", p.DisplayName+" is signed out everywhere and cannot sign in until you enable the account again."
	}
	confirm(t.u.win, verb+" "+p.DisplayName+"?", detail, verb, func() {
		u, s := t.u, t.s
		t.toggle.set(true)
		run(u, s.ctx, func(ctx context.Context) (Person, error) {
			return u.relay.SetUserDisabled(ctx, p.ID, disable)
		}, func(updated Person, err error) {
			if s.ctx.Err() != nil {
				return
			}
			t.toggle.set(false)
			if err != nil {
				t.listStatus.fail(message(err))
				return
			}
			t.listStatus.ok(fmt.Sprintf("%s is %s.", p.DisplayName, map[bool]string{true: "disabled", false: "enabled"}[updated.Disabled]))
			t.load()
		})
	})
}

// resetPassword gives the selected user a one-time password after
// confirmation and shows it once.
func (t *teamPage) resetPassword() {
	if t.selected < 0 || t.reset.busy {
		return
	}
	p := t.people[t.selected]
	confirm(t.u.win, "Reset the password of "+p.DisplayName+"?",
		p.DisplayName+" is signed out everywhere and signs in next with a one-time password that you hand over.", "Reset", func() {
			u, s := t.u, t.s
			t.reset.set(true)
			run(u, s.ctx, func(ctx context.Context) (string, error) {
				return u.relay.ResetPassword(ctx, p.ID)
			}, func(pw string, err error) {
				if s.ctx.Err() != nil {
					return
				}
				t.reset.set(false)
				if err != nil {
					t.listStatus.fail(message(err))
					return
				}
				t.listStatus.ok("New one-time password for " + p.DisplayName + " created.")
				showOneTimePassword(u.win, p.DisplayName, pw)
			})
		})
}

// resetSecondFactor removes the selected user's second factor after
// confirmation (a lost phone); the relay signs them out everywhere.
func (t *teamPage) resetSecondFactor() {
	if t.selected < 0 || t.resetTFA.busy {
		return
	}
	p := t.people[t.selected]
	confirm(t.u.win, "Reset two-factor sign-in of "+p.DisplayName+"?",
		p.DisplayName+" is signed out everywhere and signs in next with the password alone, then can turn two-factor sign-in on again. "+
			"Do this only when you are sure who is asking (for example a lost phone and lost recovery codes).", "Reset two-factor", func() {
			u, s := t.u, t.s
			t.resetTFA.set(true)
			run(u, s.ctx, func(ctx context.Context) (struct{}, error) {
				return struct{}{}, u.relay.ResetSecondFactor(ctx, p.ID)
			}, func(_ struct{}, err error) {
				if s.ctx.Err() != nil {
					return
				}
				t.resetTFA.set(false)
				if err != nil {
					t.listStatus.fail(message(err))
					return
				}
				t.listStatus.ok("Two-factor sign-in of " + p.DisplayName + " is reset; they are signed out everywhere.")
				t.load()
			})
		})
}
