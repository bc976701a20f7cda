package app

import (
	"context"
	"fmt"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// auditPage shows the tenant's audit log, newest first, with user ids
// resolved to the names an admin knows (admins only).
type auditPage struct {
	u       *UI
	s       *session
	rows    []string
	loaded  bool
	list    *widget.List
	refresh *busyButton
	status  statusLabel
	content fyne.CanvasObject
}

// actionNames are the audit actions as an admin reads them.
var actionNames = map[string]string{
	"tenant.bootstrap":     "tenant created with its first admin",
	"user.create":          "created user",
	"user.disable":         "disabled user",
	"user.enable":          "enabled user",
	"user.password_reset":  "reset the password of",
	"user.sessions_revoke": "signed out everywhere:",
}

func newAuditPage(u *UI, s *session) *auditPage {
	a := &auditPage{u: u, s: s}
	a.list = widget.NewList(
		func() int { return len(a.rows) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("2026-01-01 00:00 · someone did something")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(a.rows[id]) },
	)
	a.refresh = newBusyButton("Refresh", theme.ViewRefreshIcon(), a.load)
	a.status = newStatusLabel()
	intro := widget.NewLabel("Every admin action, in a tamper-evident log kept by the relay.")
	intro.Wrapping = fyne.TextWrapWord
	a.content = container.NewBorder(container.NewBorder(nil, nil, nil, a.refresh.row(), intro), a.status.Label, nil, nil, a.list)
	return a
}

// shown loads the log the first time the page is shown.
func (a *auditPage) shown() {
	if !a.loaded {
		a.load()
	}
}

type auditView struct {
	entries []AuditEntry
	people  []Person
}

// load fetches the log and the users (for names) off the UI thread.
func (a *auditPage) load() {
	if a.refresh.busy {
		return
	}
	u := a.u
	a.loaded = true
	a.status.info("Loading …")
	runBusy(u, a.s, a.refresh, a.status, func(ctx context.Context) (auditView, error) {
		entries, err := u.relay.AuditLog(ctx)
		if err != nil {
			return auditView{}, err
		}
		people, err := u.relay.ListUsers(ctx)
		return auditView{entries, people}, err
	}, func(v auditView) {
		a.rows = auditRows(v)
		a.list.Refresh()
		a.status.info(fmt.Sprintf("%d entries", len(a.rows)))
	})
}

// auditRows formats entries newest first.
func auditRows(v auditView) []string {
	names := map[string]string{"system": "Parley"}
	for _, p := range v.people {
		names[p.ID] = p.DisplayName + " (" + p.Username + ")"
	}
	name := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		if id == "" {
			return ""
		}
		return "deleted user " + id
	}
	rows := make([]string, 0, len(v.entries))
	for _, e := range slices.Backward(v.entries) {
		what, ok := actionNames[e.Action]
		if !ok {
			what = e.Action
		}
		row := fmt.Sprintf("%s · %s %s", e.Time.Local().Format("2006-01-02 15:04"), name(e.Actor), what)
		if e.Action != "tenant.bootstrap" && e.Target != "" {
			row += " " + name(e.Target)
		}
		rows = append(rows, row)
	}
	return rows
}
