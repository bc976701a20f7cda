package ical_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	arran "github.com/arran4/golang-ical"
	emersion "github.com/emersion/go-ical"

	"parley/relay/ical"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	t0    = time.Date(2026, 3, 29, 8, 30, 0, 0, time.UTC)
	stamp = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func sample() ical.Calendar {
	return ical.Calendar{
		Method: ical.MethodRequest,
		Events: []ical.Event{{
			UID:         "3f2a9c@parley.example",
			Sequence:    0,
			Status:      ical.StatusConfirmed,
			Summary:     "Beratung: Baufinanzierung",
			Description: "Hallo Frau Müller,\nIhr Termin; bitte Unterlagen mitbringen.\\ Danke 🙂",
			Location:    "https://relay.example/j/abc",
			URL:         "https://relay.example/manage/xyz",
			Start:       t0,
			End:         t0.Add(45 * time.Minute),
			Stamp:       stamp,
			Created:     stamp,
			Organizer:   ical.Person{Name: "Berater, Max", Email: "max@bank.example"},
			Attendees:   []ical.Person{{Name: "Erika Müller", Email: "erika@example.org"}},
			Alarms:      []time.Duration{24 * time.Hour, time.Hour},
		}},
	}
}

// parsed is what both libraries read back from one event.
type parsed struct {
	method, uid, summary, description, location, status, url string
	orgCN, orgAddr, attCN, attAddr                           string
	seq                                                      string
	start, end, stamp                                        time.Time
	alarms                                                   int
}

func parseArran(t testing.TB, b []byte) parsed {
	t.Helper()
	cal, err := arran.ParseCalendar(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("golang-ical: %v\n%s", err, b)
	}
	var p parsed
	for _, cp := range cal.CalendarProperties {
		if cp.IANAToken == "METHOD" {
			p.method = cp.Value
		}
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("golang-ical: %d events", len(evs))
	}
	ev := evs[0]
	get := func(name arran.ComponentProperty) string {
		if pr := ev.GetProperty(name); pr != nil {
			return pr.Value
		}
		return ""
	}
	p.uid = get(arran.ComponentPropertyUniqueId)
	p.summary = get(arran.ComponentPropertySummary)
	p.description = get(arran.ComponentPropertyDescription)
	p.location = get(arran.ComponentPropertyLocation)
	p.status = get(arran.ComponentPropertyStatus)
	p.url = get(arran.ComponentPropertyUrl)
	p.seq = get(arran.ComponentPropertySequence)
	if pr := ev.GetProperty(arran.ComponentPropertyOrganizer); pr != nil {
		p.orgAddr = pr.Value
		if v := pr.ICalParameters["CN"]; len(v) == 1 {
			p.orgCN = v[0]
		}
	}
	if as := ev.Attendees(); len(as) > 0 {
		p.attAddr = as[0].Value
		if v := as[0].ICalParameters["CN"]; len(v) == 1 {
			p.attCN = v[0]
		}
	}
	if p.start, err = ev.GetStartAt(); err != nil {
		t.Fatalf("golang-ical start: %v", err)
	}
	if get(arran.ComponentPropertyDtEnd) != "" {
		if p.end, err = ev.GetEndAt(); err != nil {
			t.Fatalf("golang-ical end: %v", err)
		}
	}
	if p.stamp, err = ev.GetDtStampTime(); err != nil {
		t.Fatalf("golang-ical stamp: %v", err)
	}
	p.alarms = len(ev.Alarms())
	return p
}

func parseEmersion(t testing.TB, b []byte) parsed {
	t.Helper()
	cal, err := emersion.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatalf("go-ical: %v\n%s", err, b)
	}
	var p parsed
	if pr := cal.Props.Get("METHOD"); pr != nil {
		p.method = pr.Value
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("go-ical: %d events", len(evs))
	}
	ev := evs[0]
	text := func(name string) string {
		if ev.Props.Get(name) == nil {
			return ""
		}
		s, err := ev.Props.Text(name)
		if err != nil {
			t.Fatalf("go-ical %s: %v", name, err)
		}
		return s
	}
	p.uid = text("UID")
	p.summary = text("SUMMARY")
	p.description = text("DESCRIPTION")
	p.location = text("LOCATION")
	p.status = text("STATUS")
	if pr := ev.Props.Get("URL"); pr != nil {
		p.url = pr.Value
	}
	if pr := ev.Props.Get("SEQUENCE"); pr != nil {
		p.seq = pr.Value
	}
	if pr := ev.Props.Get("ORGANIZER"); pr != nil {
		p.orgAddr, p.orgCN = pr.Value, pr.Params.Get("CN")
	}
	if as := ev.Props.Values("ATTENDEE"); len(as) > 0 {
		p.attAddr, p.attCN = as[0].Value, as[0].Params.Get("CN")
	}
	if p.start, err = ev.DateTimeStart(time.UTC); err != nil {
		t.Fatalf("go-ical start: %v", err)
	}
	if ev.Props.Get("DTEND") != nil {
		if p.end, err = ev.DateTimeEnd(time.UTC); err != nil {
			t.Fatalf("go-ical end: %v", err)
		}
	}
	if p.stamp, err = ev.Props.DateTime("DTSTAMP", time.UTC); err != nil {
		t.Fatalf("go-ical stamp: %v", err)
	}
	for _, c := range ev.Children {
		if c.Name == "VALARM" {
			p.alarms++
		}
	}
	return p
}

// both parses b with both libraries and fails unless they agree.
func both(t testing.TB, b []byte) parsed {
	t.Helper()
	a, e := parseArran(t, b), parseEmersion(t, b)
	if a != e {
		t.Fatalf("libraries disagree:\ngolang-ical %+v\ngo-ical     %+v\n%s", a, e, b)
	}
	return a
}

// checkLines checks CRLF line ends, folding at 75 octets and UTF-8.
func checkLines(t testing.TB, b []byte) {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatal("output does not end in CRLF")
	}
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line %d is %d octets: %q", i, len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("line %d is not valid UTF-8 (split sequence?): %q", i, l)
		}
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("line %d holds a bare CR or LF: %q", i, l)
		}
	}
}

func TestRoundTripBothParsers(t *testing.T) {
	hostile := `<script>alert("x")</script>, a; b\c` + "\nzweite Zeile\r\ndritte 🙂 Ünïcödé"
	long := strings.Repeat("Ä€🙂x", 50) // 200 characters, 500+ octets
	c := sample()
	c.Events[0].Summary = long
	c.Events[0].Description = hostile
	c.Events[0].Location = "Musterstraße 1, 12345 Berlin; Hinterhaus"
	c.Events[0].Attendees[0].Name = `Eve "the" <script>; evil: name` + "\r\nX-INJECT:1"
	b := c.Bytes()
	if b == nil {
		t.Fatal(c.Validate())
	}
	checkLines(t, b)
	if bytes.Contains(b, []byte("\r\nX-INJECT")) {
		t.Fatal("CRLF in a name started a new content line")
	}
	p := both(t, b)
	want := parsed{
		method: "REQUEST", uid: "3f2a9c@parley.example", summary: long,
		description: strings.ReplaceAll(hostile, "\r\n", "\n"),
		location:    "Musterstraße 1, 12345 Berlin; Hinterhaus",
		status:      "CONFIRMED", url: "https://relay.example/manage/xyz",
		orgCN: "Berater, Max", orgAddr: "mailto:max@bank.example",
		attCN: "Eve the <script>; evil: name X-INJECT:1", attAddr: "mailto:erika@example.org",
		seq: "0", start: t0, end: t0.Add(45 * time.Minute), stamp: stamp, alarms: 2,
	}
	if p != want {
		t.Fatalf("got  %+v\nwant %+v", p, want)
	}
}

func TestCancelRaisesSequenceKeepsUID(t *testing.T) {
	req := sample()
	cancel := sample()
	cancel.Method = ical.MethodCancel
	cancel.Events[0].Sequence = 2
	cancel.Events[0].Status = ical.StatusConfirmed // overridden by METHOD:CANCEL
	a, c := both(t, req.Bytes()), both(t, cancel.Bytes())
	if a.uid != c.uid || c.method != "CANCEL" || c.status != "CANCELLED" || c.seq != "2" {
		t.Fatalf("cancel: %+v", c)
	}
	if c.alarms != 0 {
		t.Fatalf("a cancelled event carries %d alarms", c.alarms)
	}
}

func TestInvalidCalendarsWriteNothing(t *testing.T) {
	cases := map[string]func(*ical.Calendar){
		"no uid":            func(c *ical.Calendar) { c.Events[0].UID = " \x01" },
		"uid newline":       func(c *ical.Calendar) { c.Events[0].UID = "a\nb" },
		"no stamp":          func(c *ical.Calendar) { c.Events[0].Stamp = time.Time{} },
		"no start":          func(c *ical.Calendar) { c.Events[0].Start = time.Time{} },
		"end before start":  func(c *ical.Calendar) { c.Events[0].End = t0.Add(-time.Minute) },
		"year 10000":        func(c *ical.Calendar) { c.Events[0].End = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"bad method":        func(c *ical.Calendar) { c.Method = "REQUEST\r\nX:1" },
		"bad status":        func(c *ical.Calendar) { c.Events[0].Status = "MAYBE" },
		"javascript url":    func(c *ical.Calendar) { c.Events[0].URL = "javascript:alert(1)" },
		"url with space":    func(c *ical.Calendar) { c.Events[0].URL = "https://a.example/x y" },
		"email injection":   func(c *ical.Calendar) { c.Events[0].Attendees[0].Email = "a@b.example\r\nX-A:1" },
		"email with name":   func(c *ical.Calendar) { c.Events[0].Attendees[0].Email = "Eve <eve@example.org>" },
		"email semicolon":   func(c *ical.Calendar) { c.Events[0].Organizer.Email = "a;b@example.org" },
		"request no org":    func(c *ical.Calendar) { c.Events[0].Organizer = ical.Person{} },
		"request no att":    func(c *ical.Calendar) { c.Events[0].Attendees = nil },
		"negative sequence": func(c *ical.Calendar) { c.Events[0].Sequence = -1 },
		"negative alarm":    func(c *ical.Calendar) { c.Events[0].Alarms = []time.Duration{-time.Hour} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := sample()
			mutate(&c)
			var b bytes.Buffer
			n, err := c.WriteTo(&b)
			if !errors.Is(err, ical.ErrInvalid) || n != 0 || b.Len() != 0 {
				t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, b.Len())
			}
			if c.Bytes() != nil {
				t.Fatal("Bytes returned a calendar")
			}
		})
	}
}

func TestFeedWithoutMethod(t *testing.T) {
	c := ical.Calendar{Name: "Termine, Max; Berlin", Events: []ical.Event{
		{UID: "a@x", Start: t0, End: t0.Add(time.Hour), Stamp: stamp, Summary: "A"},
		{UID: "b@x", Start: t0.Add(2 * time.Hour), Stamp: stamp, Summary: "B", Status: ical.StatusCancelled},
	}}
	b := c.Bytes()
	checkLines(t, b)
	cal, err := emersion.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	if cal.Props.Get("METHOD") != nil || len(cal.Events()) != 2 {
		t.Fatalf("feed: %s", b)
	}
	if name, _ := cal.Props.Text("X-WR-CALNAME"); name != "Termine, Max; Berlin" {
		t.Fatalf("calendar name %q", name)
	}
	ac, err := arran.ParseCalendar(bytes.NewReader(b))
	if err != nil || len(ac.Events()) != 2 {
		t.Fatalf("golang-ical: %v", err)
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "PT0S", -15 * time.Minute: "-PT15M", -24 * time.Hour: "-P1D",
		-(26*time.Hour + 30*time.Second): "-P1DT2H30S", 90 * time.Minute: "PT1H30M",
	} {
		if got := ical.Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
		p := emersion.NewProp("TRIGGER")
		p.Value = ical.Duration(d)
		if got, err := p.Duration(); err != nil || got != d {
			t.Errorf("go-ical reads %q as %v, %v", p.Value, got, err)
		}
	}
}

func TestGolden(t *testing.T) {
	b := sample().Bytes()
	path := filepath.Join("testdata", "request.golden.ics")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("output differs from %s (run with -update after checking):\n%s", path, b)
	}
}

func BenchmarkWrite(b *testing.B) {
	c := sample()
	var buf bytes.Buffer
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if _, err := c.WriteTo(&buf); err != nil {
			b.Fatal(err)
		}
	}
}
