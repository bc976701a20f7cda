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

	username    *widget.Entry
	displayName *widget.Entry
	email       *widget.Entry
	password    *widget.Entry
	create      *busyButton
	status      statusLabel

	content fyne.CanvasObject
}

func newTeamPage(u *UI, s *session) *teamPage {
	t := &teamPage{u: u, s: s}
	t.list = widget.NewList(
		func() int { return len(t.people) },
		func() fyne.CanvasObject {
			name := widget.NewLabelWithStyle("Display Name", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			name.Truncation = fyne.TextTruncateEllipsis
			detail := widget.NewLabel("username · e-mail · role")
			detail.Truncation = fyne.TextTruncateEllipsis
			return container.NewVBox(name, detail)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			p := t.people[id]
			rows := o.(*fyne.Container).Objects
			rows[0].(*widget.Label).SetText(p.DisplayName)
			parts := []string{p.Username}
			if p.Email != "" {
				parts = append(parts, p.Email)
			}
			parts = append(parts, roleName(p.Role))
			rows[1].(*widget.Label).SetText(strings.Join(parts, " · "))
		},
	)
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
		t.listStatus.Label, nil, nil, t.list)
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
