package app

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// berlin is the advisor's zone in these tests.
func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	return loc
}

// textsOf returns every visible text below o.
func textsOf(o fyne.CanvasObject) []string {
	var out []string
	walk(o, func(x fyne.CanvasObject) {
		switch y := x.(type) {
		case *widget.Label:
			out = append(out, y.Text)
		case *canvas.Text:
			out = append(out, y.Text)
		}
	})
	return out
}

func containsText(texts []string, s string) bool {
	return slices.ContainsFunc(texts, func(t string) bool { return strings.Contains(t, s) })
}

// dstWeek are bookings in the week of the spring clock change in Berlin
// (Sunday 28 March 2027, 02:00 → 03:00).
func dstWeek(loc *time.Location) []Booking {
	at := func(d, h, m int) time.Time { return time.Date(2027, 3, d, h, m, 0, 0, loc) }
	return []Booking{
		{ID: "b1", TypeName: "Erstberatung", Kind: KindVideo, Start: at(27, 10, 0), End: at(27, 10, 45), Status: BookingConfirmed,
			FirstName: "Max", LastName: "Kunde", Email: "max@example.org", MeetingID: "m7", CustomerID: "c1"},
		{ID: "b2", TypeName: "Rente", Kind: KindPhone, Start: at(28, 10, 0), End: at(28, 10, 30), Status: BookingConfirmed,
			FirstName: "Ida", LastName: "Gast", Mobile: "+4917012345", CustomerID: "c2"},
		{ID: "b3", TypeName: "Depot", Kind: KindOnsite, Start: at(28, 3, 30), End: at(28, 4, 30), Status: BookingCancelled,
			FirstName: "Ole", LastName: "Spät", Address: Address{Street: "Hauptstr. 1", PostalCode: "10115", City: "Berlin"}, CustomerID: "c3"},
		{ID: "b4", TypeName: "Kredit", Kind: KindVideo, Start: at(29, 9, 0), End: at(29, 9, 30), Status: BookingConfirmed,
			FirstName: "Eva", LastName: "Nächste", CustomerID: "c4"},
	}
}

// calendarHarness signs in, fixes the clock at now and shows the Calendar.
func calendarHarness(t *testing.T, f *fakeRelay, now time.Time) (*harness, *calendarPage) {
	t.Helper()
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	w := h.waitWorkspace()
	p := w.cal
	p.now = func() time.Time { return now }
	w.selectPage("Calendar")
	h.eventually("the week's bookings", func() bool { return !f.lastRange()[0].IsZero() && !h.shows("Loading") })
	return h, p
}

func TestCalendarWeekAcrossDST(t *testing.T) {
	loc := berlin(t)
	f := &fakeRelay{}
	f.bk.avail = Availability{TimeZone: "Europe/Berlin"}
	f.bk.bookings = dstWeek(loc)
	// The computer's clock says Wednesday; its own zone does not matter.
	h, p := calendarHarness(t, f, time.Date(2027, 3, 24, 11, 0, 0, 0, time.UTC))

	r := f.lastRange()
	if want := time.Date(2027, 3, 21, 23, 0, 0, 0, time.UTC); !r[0].Equal(want) {
		t.Errorf("range starts %v, want Monday 00:00 CET = %v", r[0].UTC(), want)
	}
	if want := time.Date(2027, 3, 28, 22, 0, 0, 0, time.UTC); !r[1].Equal(want) {
		t.Errorf("range ends %v, want next Monday 00:00 CEST = %v (a 167-hour week)", r[1].UTC(), want)
	}
	if !h.shows("22–28 March 2027") || !h.shows("Times in Europe/Berlin") || !h.shows("2 appointments.") {
		t.Errorf("texts: %q", h.texts())
	}
	if n := len(p.grid.Objects); n != 7 {
		t.Fatalf("%d day columns, want 7", n)
	}
	sat, sun := textsOf(p.grid.Objects[5]), textsOf(p.grid.Objects[6])
	if !containsText(sat, "Sat 27 Mar") || !containsText(sat, "10:00–10:45") || !containsText(sat, "Max Kunde") ||
		!containsText(sat, "Erstberatung · Video") {
		t.Errorf("Saturday column: %q", sat)
	}
	if !containsText(sun, "Sun 28 Mar") || !containsText(sun, "10:00–10:30") || !containsText(sun, "Ida Gast") ||
		!containsText(sun, "Rente · Phone") {
		t.Errorf("Sunday column (after the change to summer time): %q", sun)
	}
	if !containsText(sun, "03:30–04:30") || !containsText(sun, "Cancelled · Depot · On site") {
		t.Errorf("the cancelled booking is not shown as such: %q", sun)
	}
	for i := 0; i < 5; i++ {
		if got := textsOf(p.grid.Objects[i]); containsText(got, "Kunde") || containsText(got, "Gast") {
			t.Errorf("column %d shows a weekend booking: %q", i, got)
		}
	}
	// Cancelled ones are greyed.
	walk(p.grid.Objects[6], func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok && strings.Contains(l.Text, "Depot") && l.Importance != widget.LowImportance {
			t.Errorf("cancelled booking label %q has importance %v", l.Text, l.Importance)
		}
	})

	// Next week starts on Monday 00:00 CEST.
	test.Tap(nextButton(h))
	h.eventually("next week", func() bool { return h.shows("29 March – 4 April 2027") && h.shows("1 appointment.") })
	if r := f.lastRange(); !r[0].Equal(time.Date(2027, 3, 28, 22, 0, 0, 0, time.UTC)) || r[1].Sub(r[0]) != 7*24*time.Hour {
		t.Errorf("next range %v – %v", r[0].UTC(), r[1].UTC())
	}
	if got := textsOf(p.grid.Objects[0]); !containsText(got, "09:00–09:30") || !containsText(got, "Eva Nächste") {
		t.Errorf("Monday column: %q", got)
	}

	// The day view of the change day is 23 hours long.
	p.day = time.Date(2027, 3, 28, 0, 0, 0, 0, loc)
	p.mode.SetSelected(viewDay)
	h.eventually("the day view", func() bool { return h.shows("Sunday, 28 March 2027") && h.shows("1 appointment.") })
	if r := f.lastRange(); r[1].Sub(r[0]) != 23*time.Hour {
		t.Errorf("day range %v – %v", r[0].UTC(), r[1].UTC())
	}
	if len(p.grid.Objects) != 1 || !containsText(textsOf(p.grid.Objects[0]), "Ida Gast") {
		t.Errorf("day view: %q", h.texts())
	}

	// Today goes back to the clock's day.
	h.tap("Today")
	h.eventually("today", func() bool { return h.shows("Wednesday, 24 March 2027") })
}

// nextButton is the calendar's "next" arrow (the third button of the bar).
func nextButton(h *harness) *widget.Button {
	var icons []*widget.Button
	h.walk(func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == "" && b.Icon != nil {
			icons = append(icons, b)
		}
	})
	if len(icons) < 2 {
		h.t.Fatalf("no arrows; texts %q", h.texts())
	}
	return icons[1]
}

func TestCalendarFallsBackToLocalZone(t *testing.T) {
	f := &fakeRelay{}
	f.bk.availErr = errors.New("The relay is not reachable.")
	h, p := calendarHarness(t, f, time.Now())
	if p.loc != time.Local || !h.shows("Times in this computer's zone") {
		t.Errorf("zone %v; texts %q", p.loc, h.texts())
	}
}

func TestCalendarDetailsAndCancel(t *testing.T) {
	loc := berlin(t)
	f := &fakeRelay{}
	f.bk.avail = Availability{TimeZone: "Europe/Berlin"}
	f.bk.bookings = dstWeek(loc)
	h, p := calendarHarness(t, f, time.Date(2027, 3, 24, 11, 0, 0, 0, time.UTC))

	test.Tap(p.cards["b2"])
	if !h.shows("Ida Gast") || !h.shows("+4917012345") || !h.shows("Sunday, 28 March 2027, 10:00–10:30") {
		t.Errorf("details: %q", h.texts())
	}
	h.tapInDialog("Cancel appointment")
	if f.called("CancelBooking") != 0 {
		t.Fatal("cancelled without confirmation")
	}
	if !h.shows("Cancel this appointment?") {
		t.Fatalf("no confirmation: %q", h.texts())
	}
	n := f.called("Bookings")
	h.tapInDialog("Cancel appointment")
	h.eventually("the cancellation", func() bool { return h.shows("The appointment was cancelled") })
	if !slices.Contains(f.Calls(), "CancelBooking b2") || f.called("Bookings") <= n {
		t.Errorf("calls %q", f.Calls())
	}
	if p.detail != nil {
		t.Error("the details stay open")
	}
	if sun := textsOf(p.grid.Objects[6]); !containsText(sun, "Cancelled · Rente") {
		t.Errorf("not refreshed: %q", sun)
	}
	// A cancelled booking offers neither cancel nor reschedule.
	test.Tap(p.cards["b2"])
	if h.button("Cancel appointment") != nil || h.button("Reschedule…") != nil || !h.shows("Cancelled by you") {
		t.Errorf("details of a cancelled booking: %q", h.texts())
	}
}

func TestCalendarCancelFails(t *testing.T) {
	loc := berlin(t)
	f := &fakeRelay{}
	f.bk.avail = Availability{TimeZone: "Europe/Berlin"}
	f.bk.bookings = dstWeek(loc)
	f.bk.cancelErr = errors.New("The appointment has already started.")
	h, p := calendarHarness(t, f, time.Date(2027, 3, 24, 11, 0, 0, 0, time.UTC))
	test.Tap(p.cards["b1"])
	h.tapInDialog("Cancel appointment")
	h.tapInDialog("Cancel appointment")
	h.eventually("the error", func() bool { return h.shows("The appointment has already started.") })
	if p.detail == nil || p.cancelBtn.btn.Disabled() {
		t.Error("the details closed or the button stays disabled after a failure")
	}
}

func TestCalendarReschedule(t *testing.T) {
	loc := berlin(t)
	f := &fakeRelay{}
	f.bk.avail = Availability{TimeZone: "Europe/Berlin"}
	f.bk.bookings = dstWeek(loc)
	h, p := calendarHarness(t, f, time.Date(2027, 3, 24, 11, 0, 0, 0, time.UTC))

	test.Tap(p.cards["b1"])
	h.tapInDialog("Reschedule…")
	if p.resDate.Text != "2027-03-27" || p.resTime.Text != "10:00" {
		t.Errorf("prefilled %q %q", p.resDate.Text, p.resTime.Text)
	}
	for _, c := range []struct{ date, clock, want string }{
		{"2027-03-28", "02:30", "does not exist on 28 Mar 2027"},
		{"28.03.2027", "10:00", "YYYY-MM-DD"},
		{"2027-03-29", "25:00", "HH:MM"},
		{"2027-03-20", "10:00", "in the future"},
		{"2027-03-27", "10:00", "current time"},
	} {
		fill(p.resDate, c.date)
		fill(p.resTime, c.clock)
		h.tapInDialog("Move appointment")
		if !strings.Contains(p.detailStatus.Text, c.want) {
			t.Errorf("%s %s: status %q, want %q", c.date, c.clock, p.detailStatus.Text, c.want)
		}
	}
	if f.called("RescheduleBooking") != 0 {
		t.Fatalf("invalid times were sent: %q", f.Calls())
	}

	// The relay's refusal is shown in the dialog.
	f.mu.Lock()
	f.bk.rescheduleErr = errors.New("This time was booked meanwhile. Please choose another.")
	f.mu.Unlock()
	fill(p.resDate, "2027-03-29")
	fill(p.resTime, "9:30")
	h.tapInDialog("Move appointment")
	h.eventually("the refusal", func() bool { return strings.Contains(p.detailStatus.Text, "booked meanwhile") })
	if !slices.Contains(f.Calls(), "RescheduleBooking b1 2027-03-29T07:30:00Z") {
		t.Errorf("calls %q", f.Calls())
	}

	f.mu.Lock()
	f.bk.rescheduleErr = nil
	f.mu.Unlock()
	h.tapInDialog("Move appointment")
	h.eventually("the move", func() bool { return h.shows("moved to Mon 29 Mar at 09:30") })
	if !h.shows("29 March – 4 April 2027") {
		t.Errorf("the calendar does not show the new week: %q", h.texts())
	}
	if got := textsOf(p.grid.Objects[0]); !containsText(got, "09:30–10:15") || !containsText(got, "Max Kunde") {
		t.Errorf("Monday: %q", got)
	}
}

func TestCalendarOpenMeeting(t *testing.T) {
	loc := berlin(t)
	f := &fakeRelay{}
	f.bk.avail = Availability{TimeZone: "Europe/Berlin"}
	f.bk.bookings = dstWeek(loc)
	h, p := calendarHarness(t, f, time.Date(2027, 3, 24, 11, 0, 0, 0, time.UTC))
	test.Tap(p.cards["b1"])
	if !h.shows("m7") {
		t.Errorf("no meeting id: %q", h.texts())
	}
	h.tapInDialog("Open meeting")
	w := h.ui.sess.work
	h.eventually("the Meetings page", func() bool { return w.current.title == "Meetings" })
	if w.meet.current == nil || w.meet.current.info.ID != "m7" || !h.shows("Booked for") {
		t.Errorf("meeting shown: %+v; texts %q", w.meet.current, h.texts())
	}
}

func TestParseLocal(t *testing.T) {
	loc := berlin(t)
	for _, c := range []struct {
		date, clock string
		want        time.Time
		bad         bool
	}{
		{"2027-03-28", "01:59", time.Date(2027, 3, 28, 0, 59, 0, 0, time.UTC), false},
		{"2027-03-28", "02:00", time.Time{}, true},
		{"2027-03-28", "02:59", time.Time{}, true},
		{"2027-03-28", "03:00", time.Date(2027, 3, 28, 1, 0, 0, 0, time.UTC), false},
		// The autumn change repeats 02:00–03:00; the first (summer) one is meant.
		{"2027-10-31", "02:30", time.Date(2027, 10, 31, 0, 30, 0, 0, time.UTC), false},
		{"2027-02-30", "10:00", time.Time{}, true},
		{"2027-03-01", "24:00", time.Time{}, true},
	} {
		got, err := parseLocal(c.date, c.clock, loc)
		if (err != nil) != c.bad || (!c.bad && !got.Equal(c.want)) {
			t.Errorf("parseLocal(%s, %s) = %v, %v; want %v (error %v)", c.date, c.clock, got.UTC(), err, c.want, c.bad)
		}
	}
}

// BenchmarkCalendarWeek measures laying out a full week (40 appointments: eight a day, Monday to Friday)
// on the UI thread.
func BenchmarkCalendarWeek(b *testing.B) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Skip(err)
	}
	a := test.NewTempApp(b)
	f := &fakeRelay{}
	u := newUI(a, Options{Relay: f}, func(fn func()) { fn() })
	defer u.Window().Close()
	p := newCalendarPage(u, &session{ctx: b.Context()}, f)
	p.loc, p.day = loc, time.Date(2027, 3, 22, 0, 0, 0, 0, loc)
	for i := range 40 {
		start := addDays(p.day, i/8).Add(time.Duration(8*60+(i%8)*60) * time.Minute)
		p.bookings = append(p.bookings, Booking{ID: fmt.Sprint(i), TypeName: "Beratung", Kind: KindVideo, Start: start,
			End: start.Add(30 * time.Minute), Status: BookingConfirmed, FirstName: "Max", LastName: "Kunde"})
	}
	for b.Loop() {
		p.render()
	}
}
