package app

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// commonZones are offered in the time zone field; any other IANA name can
// be typed.
var commonZones = []string{
	"Europe/Berlin", "Europe/Vienna", "Europe/Zurich", "Europe/Amsterdam", "Europe/Brussels",
	"Europe/Luxembourg", "Europe/Paris", "Europe/Madrid", "Europe/Rome", "Europe/Warsaw",
	"Europe/Prague", "Europe/Copenhagen", "Europe/Stockholm", "Europe/Helsinki", "Europe/Athens",
	"Europe/Dublin", "Europe/Lisbon", "Europe/London", "America/New_York", "UTC",
}

// weekdays lists the week from Monday, as the editor shows it.
var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// maxSpansPerDay bounds the spans of one day.
const maxSpansPerDay = 12

// parseClock reads "9:30", "09:30" or "24:00" into minutes after midnight.
func parseClock(s string) (int, bool) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) || h[0] == '+' || m[0] == '+' {
		return 0, false
	}
	return hh*60 + mm, true
}

func formatClock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// parseSpans reads hours such as "09:00-12:00, 13:00-17:30" (empty means
// none). Each span must end after it starts, and spans must not overlap.
func parseSpans(text string) ([]Span, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	type mins struct{ a, b int }
	var ms []mins
	for part := range strings.FieldsFuncSeq(text, func(r rune) bool { return r == ',' || r == ';' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if len(ms) == maxSpansPerDay {
			return nil, userError(fmt.Sprintf("At most %d time spans per day.", maxSpansPerDay))
		}
		a, b, ok := strings.Cut(strings.ReplaceAll(part, "–", "-"), "-")
		if !ok {
			return nil, userError(fmt.Sprintf("%q is not a time span; write it as 09:00-12:00.", short(part)))
		}
		x, ok1 := parseClock(a)
		y, ok2 := parseClock(b)
		if !ok1 || !ok2 || x == 24*60 {
			return nil, userError(fmt.Sprintf("%q is not a time span; write it as 09:00-12:00.", short(part)))
		}
		if y <= x {
			return nil, userError(fmt.Sprintf("%s ends before it starts.", formatClock(x)+"-"+formatClock(y)))
		}
		ms = append(ms, mins{x, y})
	}
	slices.SortFunc(ms, func(p, q mins) int { return p.a - q.a })
	out := make([]Span, 0, len(ms))
	for i, m := range ms {
		if i > 0 && m.a < ms[i-1].b {
			return nil, userError(fmt.Sprintf("%s overlaps %s.", formatClock(m.a)+"-"+formatClock(m.b), formatClock(ms[i-1].a)+"-"+formatClock(ms[i-1].b)))
		}
		out = append(out, Span{Start: formatClock(m.a), End: formatClock(m.b)})
	}
	return out, nil
}

// short cuts s for an error message.
func short(s string) string {
	if r := []rune(s); len(r) > 20 {
		return string(r[:20]) + "…"
	}
	return s
}

// formatSpans writes spans as parseSpans reads them.
func formatSpans(spans []Span) string {
	parts := make([]string, 0, len(spans))
	for _, s := range spans {
		parts = append(parts, s.Start+"-"+s.End)
	}
	return strings.Join(parts, ", ")
}

// exceptionRow is one date exception in the editor.
type exceptionRow struct {
	date   *widget.Entry
	closed *widget.Check
	hours  *widget.Entry
	row    fyne.CanvasObject
}

// availabilityEditor edits the advisor's time zone, weekly hours and
// date exceptions.
type availabilityEditor struct {
	u  *UI
	s  *session
	br BookingRelay
	// saved is called with the zone after a successful save.
	saved func(zone string)

	loaded bool
	zone   *widget.SelectEntry
	days   map[time.Weekday]*widget.Entry
	exRows []*exceptionRow
	exBox  *fyne.Container
	save   *busyButton
	status statusLabel

	content fyne.CanvasObject
}

func newAvailabilityEditor(u *UI, s *session, br BookingRelay) *availabilityEditor {
	e := &availabilityEditor{u: u, s: s, br: br, days: map[time.Weekday]*widget.Entry{}}
	e.zone = widget.NewSelectEntry(commonZones)
	e.zone.SetPlaceHolder("e.g. Europe/Berlin")
	week := widget.NewForm()
	for _, d := range weekdays {
		en := widget.NewEntry()
		en.SetPlaceHolder("closed, or e.g. 09:00-12:00, 13:00-17:00")
		e.days[d] = en
		week.Append(d.String(), en)
	}
	e.exBox = container.NewVBox()
	add := widget.NewButtonWithIcon("Add exception", theme.ContentAddIcon(), func() { e.addException(DateException{}) })
	e.save = newBusyButton("Save availability", theme.DocumentSaveIcon(), e.submit)
	e.save.btn.Importance = widget.HighImportance
	e.status = newStatusLabel()
	hint := widget.NewLabel("Customers can book within these hours, minus appointments, buffers and busy times from your calendars. Hours are local times in your zone, also across clock changes.")
	hint.Wrapping = fyne.TextWrapWord
	exHint := widget.NewLabel("Single dates: tick Closed for a day off (with hours: only those hours that day); without Closed, the hours are added to the weekly ones.")
	exHint.Wrapping = fyne.TextWrapWord
	bold := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	e.content = container.NewVScroll(container.NewVBox(
		hint,
		widget.NewForm(widget.NewFormItem("Time zone", e.zone)),
		bold("Weekly hours"), week,
		bold("Exceptions"), exHint, e.exBox, container.NewHBox(add),
		widget.NewSeparator(),
		container.NewHBox(layout.NewSpacer(), e.save.row()), e.status.Label,
	))
	return e
}

// addException adds an exception row filled from x.
func (e *availabilityEditor) addException(x DateException) {
	r := &exceptionRow{date: widget.NewEntry(), hours: widget.NewEntry()}
	r.date.SetPlaceHolder("YYYY-MM-DD")
	r.date.SetText(x.Date)
	r.hours.SetPlaceHolder("hours, e.g. 10:00-14:00")
	r.hours.SetText(formatSpans(x.Hours))
	r.closed = widget.NewCheck("Closed", nil)
	r.closed.SetChecked(x.Closed)
	remove := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() {
		e.exRows = slices.DeleteFunc(e.exRows, func(o *exceptionRow) bool { return o == r })
		e.exBox.Remove(r.row)
	})
	r.row = container.NewBorder(nil, nil, withMinWidth(130, r.date), container.NewHBox(r.closed, remove), r.hours)
	e.exRows = append(e.exRows, r)
	e.exBox.Add(r.row)
}

// shown reads the availability the first time.
func (e *availabilityEditor) shown() {
	if !e.loaded {
		e.load()
	}
}

// load reads the availability off the UI thread and fills the form.
func (e *availabilityEditor) load() {
	u, s, br := e.u, e.s, e.br
	e.loaded = true
	e.status.info("Loading …")
	run(u, s.ctx, func(ctx context.Context) (Availability, error) {
		return br.Availability(ctx)
	}, func(a Availability, err error) {
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			e.loaded = false
			e.status.fail("Your availability could not be read: " + message(err))
			return
		}
		e.status.info("")
		e.fill(a)
	})
}

// fill shows a in the form; an availability never saved gets this
// computer's zone (or Europe/Berlin) as a suggestion.
func (e *availabilityEditor) fill(a Availability) {
	if a.TimeZone == "" && len(a.Weekly) == 0 {
		a.TimeZone = "Europe/Berlin"
		if z := time.Local.String(); z != "Local" && z != "" {
			if _, err := time.LoadLocation(z); err == nil {
				a.TimeZone = z
			}
		}
		e.status.info("Not set yet: customers cannot book you until you save your hours.")
	}
	e.zone.SetText(a.TimeZone)
	for _, d := range weekdays {
		var spans []Span
		for _, w := range a.Weekly {
			if w.Weekday == d {
				spans = append(spans, w.Span)
			}
		}
		slices.SortFunc(spans, func(a, b Span) int { return strings.Compare(a.Start, b.Start) })
		e.days[d].SetText(formatSpans(spans))
	}
	e.exRows = nil
	e.exBox.RemoveAll()
	for _, x := range a.Exceptions {
		e.addException(x)
	}
}

// read validates the form and returns what it says.
func (e *availabilityEditor) read() (Availability, error) {
	var a Availability
	a.TimeZone = strings.TrimSpace(e.zone.Text)
	if a.TimeZone == "" || a.TimeZone == "Local" {
		return a, userError("Choose your time zone, e.g. Europe/Berlin.")
	}
	if _, err := time.LoadLocation(a.TimeZone); err != nil {
		return a, userError(fmt.Sprintf("%q is not a time zone this computer knows; choose one from the list.", short(a.TimeZone)))
	}
	for _, d := range weekdays {
		spans, err := parseSpans(e.days[d].Text)
		if err != nil {
			return a, userError(d.String() + ": " + err.Error())
		}
		for _, sp := range spans {
			a.Weekly = append(a.Weekly, WeeklyHours{Weekday: d, Span: sp})
		}
	}
	seen := map[string]bool{}
	for _, r := range e.exRows {
		date := strings.TrimSpace(r.date.Text)
		day, err := time.Parse("2006-01-02", date)
		if err != nil {
			return a, userError(fmt.Sprintf("Exception %q: enter the date as YYYY-MM-DD.", short(date)))
		}
		date = day.Format("2006-01-02")
		if seen[date] {
			return a, userError("Exception " + date + " is listed twice.")
		}
		seen[date] = true
		x := DateException{Date: date, Closed: r.closed.Checked}
		if x.Hours, err = parseSpans(r.hours.Text); err != nil {
			return a, userError("Exception " + date + ": " + err.Error())
		}
		if !x.Closed && len(x.Hours) == 0 {
			return a, userError("Exception " + date + ": enter extra hours, or tick Closed.")
		}
		a.Exceptions = append(a.Exceptions, x)
	}
	slices.SortFunc(a.Exceptions, func(x, y DateException) int { return strings.Compare(x.Date, y.Date) })
	return a, nil
}

// submit validates and saves the availability off the UI thread.
func (e *availabilityEditor) submit() {
	if e.save.busy {
		return
	}
	a, err := e.read()
	if err != nil {
		e.status.fail(err.Error())
		return
	}
	br := e.br
	e.status.info("Saving …")
	runBusy(e.u, e.s, e.save, e.status, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, br.SaveAvailability(ctx, a)
	}, func(struct{}) {
		e.status.ok("Availability saved.")
		if e.saved != nil {
			e.saved(a.TimeZone)
		}
	})
}
