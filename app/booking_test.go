package app

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
)

// bookingHarness signs in and shows the Booking page.
func bookingHarness(t *testing.T, f *fakeRelay) (*harness, *bookingPage) {
	t.Helper()
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	w := h.waitWorkspace()
	if !w.selectPage("Booking") {
		t.Fatal("no Booking page")
	}
	return h, w.book
}

func TestAvailabilityEditor(t *testing.T) {
	f := &fakeRelay{}
	f.bk.avail = Availability{TimeZone: "Europe/Berlin",
		Weekly: []WeeklyHours{
			{Weekday: time.Monday, Span: Span{"13:00", "17:00"}},
			{Weekday: time.Monday, Span: Span{"09:00", "12:00"}},
			{Weekday: time.Sunday, Span: Span{"10:00", "11:00"}},
		},
		Exceptions: []DateException{{Date: "2026-12-24", Closed: true}},
	}
	h, b := bookingHarness(t, f)
	e := b.avail
	h.eventually("the availability", func() bool { return e.zone.Text == "Europe/Berlin" })
	if got := e.days[time.Monday].Text; got != "09:00-12:00, 13:00-17:00" {
		t.Errorf("Monday %q", got)
	}
	if e.days[time.Sunday].Text != "10:00-11:00" || e.days[time.Tuesday].Text != "" || len(e.exRows) != 1 || !e.exRows[0].closed.Checked {
		t.Errorf("form not filled: sunday %q, exceptions %d", e.days[time.Sunday].Text, len(e.exRows))
	}

	// Invalid input is refused before anything is sent.
	for _, c := range []struct {
		setup func()
		want  string
	}{
		{func() { fill(e.days[time.Tuesday], "12:00-09:00") }, "Tuesday: 12:00-09:00 ends before it starts."},
		{func() { fill(e.days[time.Tuesday], "09:00-12:00, 11:00-13:00") }, "Tuesday: 11:00-13:00 overlaps 09:00-12:00."},
		{func() { fill(e.days[time.Tuesday], "morning") }, "is not a time span"},
		{func() { fill(e.days[time.Tuesday], ""); e.zone.SetText("Mars/Olympus") }, "not a time zone"},
		{func() { e.zone.SetText("Europe/Berlin"); e.addException(DateException{Date: "2026-12-31"}) }, "enter extra hours, or tick Closed"},
		{func() { fill(e.exRows[1].hours, "16:00-10:00") }, "Exception 2026-12-31: 16:00-10:00 ends before it starts."},
		{func() { fill(e.exRows[1].hours, "10:00-14:00"); fill(e.exRows[1].date, "2026-12-24") }, "listed twice"},
		{func() { fill(e.exRows[1].date, "31.12.2026") }, "YYYY-MM-DD"},
	} {
		c.setup()
		h.tap("Save availability")
		if !strings.Contains(e.status.Text, c.want) {
			t.Errorf("status %q, want %q", e.status.Text, c.want)
		}
	}
	if f.called("SaveAvailability") != 0 {
		t.Fatalf("invalid availability was sent: %q", f.Calls())
	}

	fill(e.exRows[1].date, "2026-12-31")
	fill(e.days[time.Friday], "9:00 - 12:30; 14:00–24:00")
	e.zone.SetText("Europe/Vienna")
	h.tap("Save availability")
	h.eventually("the save", func() bool { return e.status.Text == "Availability saved." })
	f.mu.Lock()
	got := f.bk.savedAvail[0]
	f.mu.Unlock()
	want := Availability{TimeZone: "Europe/Vienna",
		Weekly: []WeeklyHours{
			{Weekday: time.Monday, Span: Span{"09:00", "12:00"}},
			{Weekday: time.Monday, Span: Span{"13:00", "17:00"}},
			{Weekday: time.Friday, Span: Span{"09:00", "12:30"}},
			{Weekday: time.Friday, Span: Span{"14:00", "24:00"}},
			{Weekday: time.Sunday, Span: Span{"10:00", "11:00"}},
		},
		Exceptions: []DateException{
			{Date: "2026-12-24", Closed: true},
			{Date: "2026-12-31", Hours: []Span{{"10:00", "14:00"}}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("saved\n%+v\nwant\n%+v", got, want)
	}
}

func TestAvailabilityNotSetYet(t *testing.T) {
	h, b := bookingHarness(t, &fakeRelay{})
	e := b.avail
	h.eventually("the suggestion", func() bool { return e.zone.Text != "" })
	if !h.shows("Not set yet") {
		t.Errorf("texts %q", h.texts())
	}
	if _, err := time.LoadLocation(e.zone.Text); err != nil {
		t.Errorf("suggested zone %q: %v", e.zone.Text, err)
	}
}

func TestParseSpans(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"9:00-12:00":                "09:00-12:00",
		"13:00-17:00, 09:00-12:00":  "09:00-12:00, 13:00-17:00",
		"00:00-24:00":               "00:00-24:00",
		" 08:15 – 09:45 ; 10-11":    "!",
		"09:00-12:00, 12:00-13:00":  "09:00-12:00, 12:00-13:00",
		"24:00-24:00":               "!",
		"09:00-09:00":               "!",
		"9:60-10:00":                "!",
		"-1:00-10:00":               "!",
		"+9:00-10:00":               "!",
		"09:00-10:00-11:00":         "!",
		"10:00-11:00, 10:30-12:00,": "!",
	} {
		spans, err := parseSpans(in)
		switch {
		case want == "!" && err == nil:
			t.Errorf("parseSpans(%q) = %v, want an error", in, spans)
		case want != "!" && err != nil:
			t.Errorf("parseSpans(%q): %v", in, err)
		case want != "!" && formatSpans(spans) != want:
			t.Errorf("parseSpans(%q) = %q, want %q", in, formatSpans(spans), want)
		}
	}
}

// FuzzParseSpans checks that whatever parseSpans accepts is sorted,
// non-overlapping, each span ending after it starts, and reads back the
// same when written out.
func FuzzParseSpans(f *testing.F) {
	for _, s := range []string{"", "09:00-12:00", "13:00-17:00, 9:00-12:00", "00:00-24:00", "10:00–11:00;12:00-13:00", "x", "24:00-24:00", "1:1-2:2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		spans, err := parseSpans(in)
		if err != nil {
			return
		}
		prevEnd := -1
		for _, s := range spans {
			a, ok1 := parseClock(s.Start)
			b, ok2 := parseClock(s.End)
			if !ok1 || !ok2 || b <= a || a < prevEnd || b > 24*60 {
				t.Fatalf("parseSpans(%q) = %v", in, spans)
			}
			prevEnd = b
		}
		again, err := parseSpans(formatSpans(spans))
		if err != nil || !slices.Equal(again, spans) {
			t.Fatalf("round trip of %q: %v, %v", in, again, err)
		}
	})
}

func TestAppointmentTypesEditor(t *testing.T) {
	f := &fakeRelay{}
	f.bk.types = []AppointmentType{{ID: "t9", Name: "Rente", Kind: KindPhone, Duration: 30 * time.Minute, Active: true}}
	h, b := bookingHarness(t, f)
	b.tabs.SelectIndex(1)
	e := b.types
	h.eventually("the types", func() bool { return len(e.types) == 1 })

	// New type: validation first.
	h.tap("New type")
	fill(e.name, "")
	h.tap("Save type")
	if !strings.Contains(e.status.Text, "Enter a name") {
		t.Errorf("status %q", e.status.Text)
	}
	fill(e.name, "Erstberatung Baufinanzierung")
	fill(e.duration, "3")
	h.tap("Save type")
	if !strings.Contains(e.status.Text, "duration") {
		t.Errorf("status %q", e.status.Text)
	}
	fill(e.duration, "45")
	fill(e.before, "-5")
	h.tap("Save type")
	if !strings.Contains(e.status.Text, "buffer before") {
		t.Errorf("status %q", e.status.Text)
	}
	if f.called("SaveAppointmentType") != 0 {
		t.Fatalf("an invalid type was sent: %q", f.Calls())
	}
	fill(e.before, "10")
	fill(e.after, "5")
	fill(e.notice, "120")
	fill(e.perDay, "3")
	e.kind.SetSelected("On site")
	h.tap("Save type")
	h.eventually("the saved type", func() bool { return strings.Contains(e.status.Text, "saved") && len(e.types) == 2 })
	f.mu.Lock()
	got := f.bk.savedTypes[0]
	f.mu.Unlock()
	want := AppointmentType{Name: "Erstberatung Baufinanzierung", Kind: KindOnsite, Duration: 45 * time.Minute,
		BufferBefore: 10 * time.Minute, BufferAfter: 5 * time.Minute, MinNotice: 2 * time.Hour, PerDayLimit: 3, Active: true}
	if got != want {
		t.Errorf("sent %+v\nwant %+v", got, want)
	}
	if e.selected != 1 || e.types[1].ID != "t1" {
		t.Errorf("the new type is not selected: %d", e.selected)
	}

	// Editing keeps the id; deleting asks first.
	e.list.Select(0)
	if e.name.Text != "Rente" || e.kind.Selected != "Phone" {
		t.Errorf("form shows %q %q", e.name.Text, e.kind.Selected)
	}
	e.active.SetChecked(false)
	h.tap("Save type")
	h.eventually("the update", func() bool { return slices.Contains(f.Calls(), "SaveAppointmentType t9") })
	h.eventually("the list", func() bool { return e.types[0].Name == "Rente" && !e.types[0].Active })
	h.tap("Delete")
	if f.called("DeleteAppointmentType") != 0 {
		t.Fatal("deleted without asking")
	}
	h.tapInDialog("Delete")
	h.eventually("the deletion", func() bool { return len(e.types) == 1 && e.types[0].ID == "t1" })
	if !slices.Contains(f.Calls(), "DeleteAppointmentType t9") {
		t.Errorf("calls %q", f.Calls())
	}
}

func TestFeedShownOnce(t *testing.T) {
	f := &fakeRelay{}
	f.bk.feedShown = true
	h, b := bookingHarness(t, f)
	b.tabs.SelectIndex(2)
	h.eventually("the links", func() bool { return h.shows("shown only once") })
	if h.button("Copy feed address") != nil {
		t.Error("a feed address nobody knows is offered for copying")
	}
	h.tap("New feed address")
	h.tapInDialog("New feed address")
	h.eventually("the new feed", func() bool { return h.shows("pcf_1") && !h.shows("shown only once") })
	h.tap("Copy feed address")
	if got := h.ui.app.Clipboard().Content(); got != "https://relay.example/cal/pcf_1" {
		t.Errorf("clipboard %q", got)
	}
}

func TestLinksAndCalendars(t *testing.T) {
	f := &fakeRelay{}
	f.bk.sources = []CalendarSource{{ID: "s0", Kind: SourceCalDAV, URL: "https://dav.example.org/cal/", Label: "Büro",
		LastError: "the server refused the password"}}
	h, b := bookingHarness(t, f)
	b.tabs.SelectIndex(2)
	l := b.links
	h.eventually("the links", func() bool { return h.shows("pcf_0") && h.shows("Büro") })
	if !h.shows("Last read failed: the server refused the password") || !h.shows("Not turned on yet.") {
		t.Errorf("texts %q", h.texts())
	}

	h.tap("Turn on booking page")
	h.eventually("the page", func() bool { return h.shows("https://relay.example/b/page1") })
	h.tap("Copy booking link")
	if got := h.ui.app.Clipboard().Content(); got != "https://relay.example/b/page1" {
		t.Errorf("clipboard %q", got)
	}

	h.tap("Copy feed address")
	if got := h.ui.app.Clipboard().Content(); got != "https://relay.example/cal/pcf_0" {
		t.Errorf("clipboard %q", got)
	}
	h.tap("New feed address")
	h.tapInDialog("New feed address")
	h.eventually("the new feed", func() bool { return h.shows("pcf_1") && !h.shows("pcf_0") })

	// Adding a calendar: the address is checked first.
	fill(l.srcURL, "ftp://example.org/x.ics")
	h.tap("Add calendar")
	fill(l.srcURL, "https://user:secret@example.org/x.ics")
	h.tap("Add calendar")
	if f.called("AddCalendarSource") != 0 || !strings.Contains(l.srcStatus.Text, "own fields") {
		t.Fatalf("status %q, calls %q", l.srcStatus.Text, f.Calls())
	}
	l.srcKind.SetSelected("CalDAV")
	fill(l.srcURL, "https://dav.example.org/privat/")
	fill(l.srcLabel, "Privat")
	fill(l.srcUser, "erika")
	fill(l.srcPass, "geheim")
	h.tap("Add calendar")
	h.eventually("the new calendar", func() bool { return h.shows("Privat") && l.srcStatus.Text == "Calendar added." })
	f.mu.Lock()
	added := f.bk.added[0]
	f.mu.Unlock()
	if added != (NewCalendarSource{Kind: SourceCalDAV, URL: "https://dav.example.org/privat/", Username: "erika", Password: "geheim", Label: "Privat"}) {
		t.Errorf("added %+v", added)
	}
	if l.srcPass.Text != "" {
		t.Error("the password stays in the form")
	}
	if !h.shows("3 busy times") {
		t.Errorf("texts %q", h.texts())
	}

	// Removing asks first.
	test.Tap(h.button("Remove"))
	h.tapInDialog("Remove")
	h.eventually("the removal", func() bool { return !h.shows("Büro") })
	if !slices.Contains(f.Calls(), "RemoveCalendarSource s0") || !h.shows("Privat") {
		t.Errorf("calls %q; texts %q", f.Calls(), h.texts())
	}
}
