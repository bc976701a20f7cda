package app

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// kindOptions are the kinds in the form, in the order shown.
var kindOptions = []string{kindName(KindVideo), kindName(KindPhone), kindName(KindOnsite)}

// kindOf maps a shown kind back to its constant.
func kindOf(shown string) string {
	for _, k := range []string{KindVideo, KindPhone, KindOnsite} {
		if kindName(k) == shown {
			return k
		}
	}
	return ""
}

// typesEditor lists the advisor's appointment types and edits one.
type typesEditor struct {
	u  *UI
	s  *session
	br BookingRelay

	loaded   bool
	types    []AppointmentType
	selected int // index into types, -1 for a new type

	list     *widget.List
	name     *widget.Entry
	desc     *widget.Entry
	kind     *widget.Select
	duration *widget.Entry
	before   *widget.Entry
	after    *widget.Entry
	notice   *widget.Entry
	perDay   *widget.Entry
	active   *widget.Check
	save     *busyButton
	del      *busyButton
	heading  *widget.Label
	status   statusLabel

	content fyne.CanvasObject
}

func newTypesEditor(u *UI, s *session, br BookingRelay) *typesEditor {
	e := &typesEditor{u: u, s: s, br: br, selected: -1}
	e.list = widget.NewList(
		func() int { return len(e.types) },
		func() fyne.CanvasObject {
			n := widget.NewLabelWithStyle("Name", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			n.Truncation = fyne.TextTruncateEllipsis
			d := widget.NewLabel("detail")
			d.Truncation = fyne.TextTruncateEllipsis
			return container.NewVBox(n, d)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			t := e.types[id]
			rows := o.(*fyne.Container).Objects
			rows[0].(*widget.Label).SetText(t.Name)
			rows[1].(*widget.Label).SetText(typeSummary(t))
		},
	)
	e.list.OnSelected = func(id widget.ListItemID) { e.edit(id) }
	e.name = widget.NewEntry()
	e.name.SetPlaceHolder("e.g. Erstberatung Baufinanzierung")
	e.desc = widget.NewMultiLineEntry()
	e.desc.SetPlaceHolder("Optional, shown on the booking page")
	e.desc.SetMinRowsVisible(2)
	e.kind = widget.NewSelect(kindOptions, nil)
	num := func(ph string) *widget.Entry {
		en := widget.NewEntry()
		en.SetPlaceHolder(ph)
		return en
	}
	e.duration = num("minutes, e.g. 45")
	e.before = num("minutes, 0 for none")
	e.after = num("minutes, 0 for none")
	e.notice = num("minutes, e.g. 1440 for a day")
	e.perDay = num("0 for no limit")
	e.active = widget.NewCheck("Offered on the booking page", nil)
	e.save = newBusyButton("Save type", theme.DocumentSaveIcon(), e.submit)
	e.save.btn.Importance = widget.HighImportance
	e.del = newBusyButton("Delete", theme.DeleteIcon(), e.remove)
	e.del.btn.Importance = widget.DangerImportance
	e.heading = widget.NewLabelWithStyle("New appointment type", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	e.status = newStatusLabel()
	form := widget.NewForm(
		widget.NewFormItem("Name", e.name),
		widget.NewFormItem("Description", e.desc),
		widget.NewFormItem("Kind", e.kind),
		widget.NewFormItem("Duration", e.duration),
		widget.NewFormItem("Buffer before", e.before),
		widget.NewFormItem("Buffer after", e.after),
		widget.NewFormItem("Minimum notice", e.notice),
		widget.NewFormItem("Per-day limit", e.perDay),
		widget.NewFormItem("", e.active),
	)
	newBtn := widget.NewButtonWithIcon("New type", theme.ContentAddIcon(), e.newType)
	left := container.NewBorder(container.NewHBox(newBtn), nil, nil, nil, e.list)
	right := container.NewVScroll(container.NewVBox(e.heading, form,
		container.NewHBox(e.save.row(), e.del.row()), e.status.Label))
	e.content = container.NewHSplit(left, right)
	e.content.(*container.Split).Offset = 0.35
	e.newType()
	return e
}

// typeSummary says in one line what a type is.
func typeSummary(t AppointmentType) string {
	parts := []string{kindName(t.Kind), fmt.Sprintf("%d min", int(t.Duration.Minutes()))}
	if !t.Active {
		parts = append(parts, "not offered")
	}
	return strings.Join(parts, " · ")
}

// newType clears the form for a new type.
func (e *typesEditor) newType() {
	e.list.UnselectAll()
	e.selected = -1
	e.heading.SetText("New appointment type")
	e.fill(AppointmentType{Kind: KindVideo, Duration: 30 * time.Minute, MinNotice: 24 * time.Hour, Active: true})
	e.del.btn.Hide()
}

// edit shows the type at index i in the form.
func (e *typesEditor) edit(i int) {
	if i < 0 || i >= len(e.types) {
		return
	}
	e.selected = i
	e.heading.SetText("Edit " + e.types[i].Name)
	e.fill(e.types[i])
	e.del.btn.Show()
	e.status.info("")
}

func (e *typesEditor) fill(t AppointmentType) {
	mins := func(d time.Duration) string { return strconv.Itoa(int(d.Minutes())) }
	e.name.SetText(t.Name)
	e.desc.SetText(t.Description)
	e.kind.SetSelected(kindName(t.Kind))
	e.duration.SetText(mins(t.Duration))
	e.before.SetText(mins(t.BufferBefore))
	e.after.SetText(mins(t.BufferAfter))
	e.notice.SetText(mins(t.MinNotice))
	e.perDay.SetText(strconv.Itoa(t.PerDayLimit))
	e.active.SetChecked(t.Active)
}

// read validates the form.
func (e *typesEditor) read() (AppointmentType, error) {
	t := AppointmentType{Name: strings.TrimSpace(e.name.Text), Description: strings.TrimSpace(e.desc.Text),
		Kind: kindOf(e.kind.Selected), Active: e.active.Checked}
	if e.selected >= 0 {
		t.ID = e.types[e.selected].ID
	}
	if t.Name == "" {
		return t, userError("Enter a name customers will understand.")
	}
	if len([]rune(t.Name)) > 100 {
		return t, userError("The name is too long (at most 100 characters).")
	}
	if t.Kind == "" {
		return t, userError("Choose the kind: video, phone or on site.")
	}
	number := func(en *widget.Entry, what string, lo, hi int) (int, error) {
		s := strings.TrimSpace(en.Text)
		if s == "" {
			s = "0"
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, userError(fmt.Sprintf("%s must be a whole number from %d to %d.", what, lo, hi))
		}
		return n, nil
	}
	var err error
	var d, b, a, n int
	if d, err = number(e.duration, "The duration in minutes", 5, 24*60); err != nil {
		return t, err
	}
	if b, err = number(e.before, "The buffer before in minutes", 0, 240); err != nil {
		return t, err
	}
	if a, err = number(e.after, "The buffer after in minutes", 0, 240); err != nil {
		return t, err
	}
	if n, err = number(e.notice, "The minimum notice in minutes", 0, 60*24*60); err != nil {
		return t, err
	}
	if t.PerDayLimit, err = number(e.perDay, "The per-day limit", 0, 100); err != nil {
		return t, err
	}
	t.Duration, t.BufferBefore, t.BufferAfter, t.MinNotice = time.Duration(d)*time.Minute, time.Duration(b)*time.Minute,
		time.Duration(a)*time.Minute, time.Duration(n)*time.Minute
	return t, nil
}

// shown reads the types the first time.
func (e *typesEditor) shown() {
	if !e.loaded {
		e.load("", "")
	}
}

// load reads the types off the UI thread, selects the one with id and
// then shows note as a success, if any.
func (e *typesEditor) load(id, note string) {
	u, s, br := e.u, e.s, e.br
	e.loaded = true
	run(u, s.ctx, func(ctx context.Context) ([]AppointmentType, error) {
		return br.AppointmentTypes(ctx)
	}, func(ts []AppointmentType, err error) {
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			e.loaded = false
			e.status.fail("Your appointment types could not be read: " + message(err))
			return
		}
		e.types = ts
		e.list.Refresh()
		for i, t := range ts {
			if t.ID == id {
				e.list.Select(i)
			}
		}
		if note != "" {
			e.status.ok(note)
			return
		}
		if len(ts) == 0 {
			e.status.info("No appointment types yet: add the first one, e.g. a 45-minute video consultation.")
		}
	})
}

// submit validates and saves the form's type off the UI thread.
func (e *typesEditor) submit() {
	if e.save.busy {
		return
	}
	t, err := e.read()
	if err != nil {
		e.status.fail(err.Error())
		return
	}
	br := e.br
	e.status.info("Saving …")
	runBusy(e.u, e.s, e.save, e.status, func(ctx context.Context) (AppointmentType, error) {
		return br.SaveAppointmentType(ctx, t)
	}, func(saved AppointmentType) {
		e.status.info("")
		e.load(saved.ID, saved.Name+" saved.")
	})
}

// remove deletes the selected type after confirmation.
func (e *typesEditor) remove() {
	if e.selected < 0 || e.del.busy {
		return
	}
	t := e.types[e.selected]
	confirm(e.u.win, "Delete "+t.Name+"?", "Customers can no longer book it. Appointments already booked stay.", "Delete", func() {
		br := e.br
		runBusy(e.u, e.s, e.del, e.status, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, br.DeleteAppointmentType(ctx, t.ID)
		}, func(struct{}) {
			e.newType()
			e.load("", t.Name+" deleted.")
		})
	})
}
