package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Calendar views.
const (
	viewDay  = "Day"
	viewWeek = "Week"
)

// calendarPage shows the advisor's bookings by day or week in the
// advisor's time zone, with details, cancel and reschedule.
type calendarPage struct {
	u  *UI
	s  *session
	br BookingRelay
	// now is the clock; time.Now outside tests.
	now func() time.Time
	// loc is the advisor's zone from the availability, else time.Local.
	loc *time.Location
	// zone is loc's IANA name as shown, or "" when it is the fallback.
	zone string
	// day is local midnight (in loc) of the day shown or of a day in the
	// week shown; zero until first shown.
	day  time.Time
	week bool
	// bookings are those of the range shown, by start.
	bookings []Booking
	// seq numbers reads; only the answer to the latest is shown.
	seq int
	// cards are the shown bookings' tappable cards, by booking id.
	cards map[string]*widget.Button
	// onJoin opens a booked video meeting on the Meetings page; nil hides
	// the button.
	onJoin func(MeetingInfo)

	title   *widget.Label
	zoneLbl *widget.Label
	mode    *widget.RadioGroup
	status  statusLabel
	grid    *fyne.Container

	// The details dialog of one booking while it is open.
	detail       dialog.Dialog
	detailOf     string
	detailStatus statusLabel
	resBox       fyne.CanvasObject
	resDate      *widget.Entry
	resTime      *widget.Entry
	resMove      *busyButton
	cancelBtn    *busyButton

	content fyne.CanvasObject
}

func newCalendarPage(u *UI, s *session, br BookingRelay) *calendarPage {
	p := &calendarPage{u: u, s: s, br: br, now: time.Now, loc: time.Local, week: true, cards: map[string]*widget.Button{}}
	p.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	p.zoneLbl = widget.NewLabel("")
	p.zoneLbl.Importance = widget.LowImportance
	p.mode = widget.NewRadioGroup([]string{viewDay, viewWeek}, func(v string) {
		if w := v == viewWeek; w != p.week && v != "" {
			p.week = w
			p.load()
		}
	})
	p.mode.Horizontal = true
	p.mode.Required = true
	p.mode.SetSelected(viewWeek)
	prev := widget.NewButtonWithIcon("", theme.NavigateBackIcon(), func() { p.step(-1) })
	next := widget.NewButtonWithIcon("", theme.NavigateNextIcon(), func() { p.step(1) })
	today := widget.NewButton("Today", p.goToday)
	refresh := widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), p.load)
	bar := container.NewBorder(nil, nil,
		container.NewHBox(prev, today, next, p.title),
		container.NewHBox(p.zoneLbl, p.mode, refresh))
	p.status = newStatusLabel()
	p.grid = container.NewGridWithColumns(7)
	p.content = container.NewBorder(container.NewVBox(bar, p.status.Label), nil, nil, nil, container.NewVScroll(p.grid))
	return p
}

// shown reads the advisor's time zone, then the bookings of the range.
func (p *calendarPage) shown() {
	u, s, br := p.u, p.s, p.br
	run(u, s.ctx, func(ctx context.Context) (Availability, error) {
		return br.Availability(ctx)
	}, func(a Availability, err error) {
		if s.ctx.Err() != nil {
			return
		}
		p.setZone(a.TimeZone, err)
		if p.day.IsZero() {
			p.goToday()
			return
		}
		p.load()
	})
}

// setZone switches to the advisor's zone; an unknown or unreadable one
// falls back to this computer's zone, said so next to the view.
func (p *calendarPage) setZone(name string, err error) {
	loc, lerr := time.LoadLocation(name)
	if err != nil || name == "" || lerr != nil {
		loc, name = time.Local, ""
	}
	if !p.day.IsZero() {
		p.day = midnight(p.day, loc)
	}
	p.loc, p.zone = loc, name
	if name == "" {
		p.zoneLbl.SetText("Times in this computer's zone")
	} else {
		p.zoneLbl.SetText("Times in " + name)
	}
}

// midnight is the start of t's date in loc (the date as read in loc).
func midnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// addDays moves a local midnight by n calendar days, whatever the clocks do.
func addDays(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+n, 0, 0, 0, 0, t.Location())
}

// weekStart is the Monday of the week of day.
func weekStart(day time.Time) time.Time {
	return addDays(day, -((int(day.Weekday()) + 6) % 7))
}

// span is the range shown: its first day and the day after its last.
func (p *calendarPage) span() (from, to time.Time) {
	if p.week {
		from = weekStart(p.day)
		return from, addDays(from, 7)
	}
	return p.day, addDays(p.day, 1)
}

func (p *calendarPage) goToday() {
	p.day = midnight(p.now(), p.loc)
	p.load()
}

// step goes n days or weeks forward (backward when negative).
func (p *calendarPage) step(n int) {
	if p.day.IsZero() {
		p.day = midnight(p.now(), p.loc)
	}
	if p.week {
		n *= 7
	}
	p.day = addDays(p.day, n)
	p.load()
}

// load reads the bookings of the range shown, off the UI thread.
func (p *calendarPage) load() { p.reload("") }

// reload reads the bookings of the range shown, off the UI thread, and
// then shows note as a success, or else how many there are.
func (p *calendarPage) reload(note string) {
	if p.day.IsZero() {
		return
	}
	from, to := p.span()
	p.setTitle(from, to)
	p.seq++
	seq := p.seq
	u, s, br := p.u, p.s, p.br
	p.status.info("Loading …")
	run(u, s.ctx, func(ctx context.Context) ([]Booking, error) {
		return br.Bookings(ctx, from, to)
	}, func(bs []Booking, err error) {
		if s.ctx.Err() != nil || seq != p.seq {
			return
		}
		if err != nil {
			p.status.fail("Your appointments could not be read: " + message(err))
			return
		}
		p.bookings = bs
		if note != "" {
			p.status.ok(note)
		} else {
			p.status.info(bookingCount(bs))
		}
		p.render()
	})
}

// bookingCount says how many appointments the range holds.
func bookingCount(bs []Booking) string {
	n := 0
	for _, b := range bs {
		if !b.cancelled() {
			n++
		}
	}
	switch n {
	case 0:
		return "No appointments."
	case 1:
		return "1 appointment."
	}
	return fmt.Sprintf("%d appointments.", n)
}

func (p *calendarPage) setTitle(from, to time.Time) {
	if !p.week {
		p.title.SetText(from.Format("Monday, 2 January 2006"))
		return
	}
	last := addDays(to, -1)
	switch {
	case from.Month() == last.Month():
		p.title.SetText(fmt.Sprintf("%d–%s", from.Day(), last.Format("2 January 2006")))
	case from.Year() == last.Year():
		p.title.SetText(from.Format("2 January") + " – " + last.Format("2 January 2006"))
	default:
		p.title.SetText(from.Format("2 January 2006") + " – " + last.Format("2 January 2006"))
	}
}

// render lays out the bookings in one column per day.
func (p *calendarPage) render() {
	from, to := p.span()
	p.cards = map[string]*widget.Button{}
	var cols []fyne.CanvasObject
	today := midnight(p.now(), p.loc)
	for d := from; d.Before(to); d = addDays(d, 1) {
		head := widget.NewLabelWithStyle(d.Format("Mon 2 Jan"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		if d.Equal(today) {
			head.Importance = widget.HighImportance
		}
		col := container.NewVBox(head, widget.NewSeparator())
		n := 0
		for _, b := range p.bookings {
			if midnight(b.Start, p.loc).Equal(d) {
				col.Add(p.card(b))
				n++
			}
		}
		if n == 0 {
			free := widget.NewLabel("–")
			free.Importance = widget.LowImportance
			col.Add(free)
		}
		cols = append(cols, col)
	}
	p.grid.Layout = layout.NewGridLayoutWithColumns(len(cols))
	p.grid.Objects = cols
	p.grid.Refresh()
}

// timeRange is an appointment's local time, e.g. "10:00–10:45".
func (p *calendarPage) timeRange(b Booking) string {
	return b.Start.In(p.loc).Format("15:04") + "–" + b.End.In(p.loc).Format("15:04")
}

// card is one appointment: time, type, kind and customer; cancelled ones
// are greyed and their time struck through. Tapping it opens the details.
func (p *calendarPage) card(b Booking) fyne.CanvasObject {
	when := widget.NewLabelWithStyle(p.timeRange(b), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	what := widget.NewLabel(b.TypeName + " · " + kindName(b.Kind))
	what.Truncation = fyne.TextTruncateEllipsis
	who := widget.NewLabel(b.customerName())
	who.Truncation = fyne.TextTruncateEllipsis
	var whenObj fyne.CanvasObject = when
	if b.cancelled() {
		for _, l := range []*widget.Label{when, what, who} {
			l.Importance = widget.LowImportance
		}
		what.SetText("Cancelled · " + what.Text)
		whenObj = struck(when)
	}
	btn := widget.NewButton("", func() { p.showDetails(b) })
	p.cards[b.ID] = btn
	return container.NewStack(btn, container.NewVBox(whenObj, what, who))
}

// struck draws a line through the middle of o.
func struck(o fyne.CanvasObject) fyne.CanvasObject {
	line := canvas.NewRectangle(theme.Color(theme.ColorNameDisabled))
	line.SetMinSize(fyne.NewSize(1, 1))
	return container.NewStack(o, container.NewVBox(layout.NewSpacer(), container.NewPadded(line), layout.NewSpacer()))
}

// field is one labelled value of the details.
func field(label, value string) *widget.FormItem {
	l := widget.NewLabel(value)
	l.Wrapping = fyne.TextWrapWord
	l.Selectable = true
	return widget.NewFormItem(label, l)
}

// showDetails opens the details of b: customer, contact by kind, text,
// meeting, and Cancel and Reschedule for confirmed bookings.
func (p *calendarPage) showDetails(b Booking) {
	p.closeDetails()
	form := widget.NewForm(
		field("Customer", b.customerName()),
		field("Appointment", b.TypeName+" · "+kindName(b.Kind)),
		field("When", b.Start.In(p.loc).Format("Monday, 2 January 2006, ")+p.timeRange(b)),
	)
	if b.cancelled() {
		who := ""
		switch b.CancelledBy {
		case "customer":
			who = " by the customer"
		case "advisor":
			who = " by you"
		}
		form.Append("Status", widget.NewLabel("Cancelled"+who))
	}
	if b.Email != "" {
		form.AppendItem(field("E-mail", b.Email))
	}
	switch b.Kind {
	case KindPhone:
		form.AppendItem(field("Phone", orDash(b.Mobile)))
	case KindOnsite:
		form.AppendItem(field("Address", orDash(b.Address.String())))
		if b.Mobile != "" {
			form.AppendItem(field("Mobile", b.Mobile))
		}
	default:
		if b.Mobile != "" {
			form.AppendItem(field("Mobile", b.Mobile))
		}
	}
	if strings.TrimSpace(b.Text) != "" {
		form.AppendItem(field("Message", b.Text))
	}
	actions := container.NewHBox()
	if b.Kind == KindVideo && b.MeetingID != "" {
		form.AppendItem(field("Meeting", b.MeetingID))
		if p.onJoin != nil && !b.cancelled() {
			m := MeetingInfo{ID: b.MeetingID, Title: b.TypeName + " · " + b.customerName(), Status: MeetingScheduled, Scheduled: b.Start}
			open := widget.NewButtonWithIcon("Open meeting", theme.MediaVideoIcon(), func() {
				p.closeDetails()
				p.onJoin(m)
			})
			open.Importance = widget.HighImportance
			actions.Add(open)
		}
	}
	p.detailStatus = newStatusLabel()
	p.resDate = widget.NewEntry()
	p.resDate.SetPlaceHolder("YYYY-MM-DD")
	p.resTime = widget.NewEntry()
	p.resTime.SetPlaceHolder("HH:MM")
	p.resMove = newBusyButton("Move appointment", theme.ConfirmIcon(), func() { p.reschedule(b) })
	p.resMove.btn.Importance = widget.HighImportance
	p.resBox = container.NewVBox(
		widget.NewSeparator(),
		widget.NewLabelWithStyle("New time", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		widget.NewForm(widget.NewFormItem("Date", p.resDate), widget.NewFormItem("Start", p.resTime)),
		container.NewHBox(layout.NewSpacer(), p.resMove.row()),
	)
	p.resBox.Hide()
	p.cancelBtn = newBusyButton("Cancel appointment", theme.CancelIcon(), func() { p.cancel(b) })
	p.cancelBtn.btn.Importance = widget.DangerImportance
	if !b.cancelled() {
		actions.Add(widget.NewButtonWithIcon("Reschedule…", theme.HistoryIcon(), func() {
			start := b.Start.In(p.loc)
			p.resDate.SetText(start.Format("2006-01-02"))
			p.resTime.SetText(start.Format("15:04"))
			p.resBox.Show()
		}))
		actions.Add(p.cancelBtn.row())
	}
	closeBtn := widget.NewButton("Close", p.closeDetails)
	body := column(460, form, p.resBox, p.detailStatus.Label,
		container.NewBorder(nil, nil, nil, closeBtn, actions))
	d := dialog.NewCustomWithoutButtons(b.TypeName, body, p.u.win)
	p.detail, p.detailOf = d, b.ID
	d.Show()
}

// closeDetails closes the details dialog, if open.
func (p *calendarPage) closeDetails() {
	if p.detail != nil {
		p.detail.Hide()
		p.detail, p.detailOf = nil, ""
	}
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "–"
	}
	return s
}

// cancel asks, then cancels b off the UI thread and reads the range again.
func (p *calendarPage) cancel(b Booking) {
	if p.cancelBtn.busy {
		return
	}
	btn := p.cancelBtn
	confirm(p.u.win, "Cancel this appointment?",
		fmt.Sprintf("%s with %s on %s. The customer is told by e-mail.", b.TypeName, b.customerName(), b.Start.In(p.loc).Format("2 Jan at 15:04")),
		"Cancel appointment", func() {
			u, s, br := p.u, p.s, p.br
			btn.set(true)
			p.detailStatus.info("Cancelling …")
			run(u, s.ctx, func(ctx context.Context) (Booking, error) {
				return br.CancelBooking(ctx, b.ID)
			}, func(_ Booking, err error) {
				if s.ctx.Err() != nil {
					return
				}
				btn.set(false)
				if err != nil {
					if p.detailOf == b.ID {
						p.detailStatus.fail(message(err))
					} else {
						p.status.fail(message(err))
					}
					return
				}
				p.closeDetails()
				p.reload("The appointment was cancelled; the customer is told by e-mail.")
			})
		})
}

// userError is a sentence for the user about what they entered.
type userError string

func (e userError) Error() string { return string(e) }

// parseLocal reads a local date and time of day in loc. A time the clocks
// skip (the spring change) is refused rather than moved; a repeated one
// (the autumn change) is its first occurrence.
func parseLocal(date, clock string, loc *time.Location) (time.Time, error) {
	d, err := time.Parse("2006-01-02", strings.TrimSpace(date))
	if err != nil {
		return time.Time{}, userError("Enter the date as YYYY-MM-DD, e.g. 2027-03-29.")
	}
	c, err := time.Parse("15:04", strings.TrimSpace(clock))
	if err != nil {
		return time.Time{}, userError("Enter the time as HH:MM, e.g. 09:30.")
	}
	t := time.Date(d.Year(), d.Month(), d.Day(), c.Hour(), c.Minute(), 0, 0, loc)
	if t.Hour() != c.Hour() || t.Minute() != c.Minute() || t.Day() != d.Day() {
		return time.Time{}, userError(c.Format("15:04") + " does not exist on " + d.Format("2 Jan 2006") + ": the clocks go forward that night.")
	}
	// A time repeated when the clocks go back means its first occurrence,
	// as on the booking page.
	for k := 1; k <= 4; k++ {
		e := t.Add(-time.Duration(k) * 30 * time.Minute)
		if e.Hour() == t.Hour() && e.Minute() == t.Minute() && e.Day() == t.Day() {
			return e, nil
		}
	}
	return t, nil
}

// reschedule validates the new time and moves b off the UI thread.
func (p *calendarPage) reschedule(b Booking) {
	if p.resMove.busy {
		return
	}
	start, err := parseLocal(p.resDate.Text, p.resTime.Text, p.loc)
	if err == nil && !start.After(p.now()) {
		err = userError("Choose a time in the future.")
	}
	if err == nil && start.Equal(b.Start) {
		err = userError("That is the appointment's current time.")
	}
	if err != nil {
		p.detailStatus.fail(err.Error())
		return
	}
	u, s, br := p.u, p.s, p.br
	btn := p.resMove
	btn.set(true)
	p.detailStatus.info("Moving the appointment …")
	run(u, s.ctx, func(ctx context.Context) (Booking, error) {
		return br.RescheduleBooking(ctx, b.ID, start)
	}, func(nb Booking, err error) {
		if s.ctx.Err() != nil {
			return
		}
		btn.set(false)
		if err != nil {
			if p.detailOf == b.ID {
				p.detailStatus.fail(message(err))
			}
			return
		}
		p.closeDetails()
		if nb.Start.IsZero() {
			nb.Start = start
		}
		p.day = midnight(nb.Start, p.loc)
		p.reload("The appointment was moved to " + nb.Start.In(p.loc).Format("Mon 2 Jan at 15:04") + "; the customer is told by e-mail.")
	})
}
