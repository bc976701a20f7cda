package calsync_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"parley/relay/calsync"
)

var (
	berlin, _ = time.LoadLocation("Europe/Berlin")
	year2027  = calsync.ParseOptions{
		Zone: berlin,
		From: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		To:   time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC),
	}
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02T15:04Z", s)
	if err != nil {
		panic(err)
	}
	return t
}

func iv(a, b string) calsync.Interval { return calsync.Interval{Start: utc(a), End: utc(b)} }

func parseFile(t *testing.T, name string, opt calsync.ParseOptions) calsync.ParseResult {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	res, err := calsync.ParseICS(data, opt)
	if err != nil {
		t.Fatalf("ParseICS(%s): %v", name, err)
	}
	return res
}

func fmtBusy(ivs []calsync.Interval) string {
	var b strings.Builder
	for _, iv := range ivs {
		fmt.Fprintf(&b, "%s..%s\n", iv.Start.Format("2006-01-02T15:04Z"), iv.End.Format("2006-01-02T15:04Z"))
	}
	return b.String()
}

func wantBusy(t *testing.T, got []calsync.Interval, want ...calsync.Interval) {
	t.Helper()
	if g, w := fmtBusy(got), fmtBusy(want); g != w {
		t.Fatalf("busy:\n%s\nwant:\n%s", g, w)
	}
}

func TestParseOutlookWindowsZones(t *testing.T) {
	res := parseFile(t, "outlook.ics", year2027)
	wantBusy(t, res.Busy,
		// W. Europe Standard Time = Europe/Berlin, CEST.
		iv("2027-06-15T08:00Z", "2027-06-15T09:30Z"),
		// Eastern Standard Time = America/New_York, EDT.
		iv("2027-06-16T13:00Z", "2027-06-16T14:00Z"),
		// A custom VTIMEZONE id falls back to the source zone (Berlin).
		iv("2027-06-17T12:00Z", "2027-06-17T13:00Z"),
		// The BUSYSTATUS FREE event blocks nothing.
	)
	if res.Events != 3 || res.Ignored != 1 {
		t.Fatalf("events %d ignored %d, want 3 and 1", res.Events, res.Ignored)
	}
}

func TestParseGoogle(t *testing.T) {
	res := parseFile(t, "google.ics", year2027)
	wantBusy(t, res.Busy,
		iv("2027-07-01T07:00Z", "2027-07-01T08:00Z"),
		iv("2027-07-02T11:00Z", "2027-07-02T12:00Z"),
		// Transparent and cancelled events block nothing; the all-day
		// event blocks the whole Berlin day.
		iv("2027-07-04T22:00Z", "2027-07-05T22:00Z"),
	)
}

func TestParseAppleAndFloating(t *testing.T) {
	res := parseFile(t, "apple.ics", year2027)
	wantBusy(t, res.Busy,
		iv("2027-08-10T13:30Z", "2027-08-10T14:30Z"),
		// Floating 10:00 read in the source zone; DURATION.
		iv("2027-08-11T08:00Z", "2027-08-11T08:45Z"),
	)
	ny, _ := time.LoadLocation("America/New_York")
	opt := year2027
	opt.Zone = ny
	res = parseFile(t, "apple.ics", opt)
	if got := res.Busy[1].Start; !got.Equal(utc("2027-08-11T14:00Z")) {
		t.Fatalf("floating time in New York zone starts %v", got)
	}
}

func TestParseWeeklyKeepsWallTimeAcrossDST(t *testing.T) {
	res := parseFile(t, "weekly-dst.ics", year2027)
	var mondays []calsync.Interval
	for _, b := range res.Busy {
		if b.Start.In(berlin).Weekday() == time.Monday {
			mondays = append(mondays, b)
		}
	}
	// 2027-03-01 .. 2027-11-29, every Monday: 40 occurrences.
	if len(mondays) != 40 {
		t.Fatalf("%d weekly occurrences, want 40:\n%s", len(mondays), fmtBusy(mondays))
	}
	for _, m := range mondays {
		if l := m.Start.In(berlin); l.Hour() != 9 || l.Minute() != 0 || m.End.Sub(m.Start) != time.Hour {
			t.Fatalf("occurrence %v is not 09:00-10:00 Berlin", m)
		}
	}
	for _, c := range []struct{ day, want string }{
		{"2027-03-22", "2027-03-22T08:00Z"}, // CET, before the March change
		{"2027-03-29", "2027-03-29T07:00Z"}, // CEST, after
		{"2027-10-25", "2027-10-25T07:00Z"}, // CEST, before the October change
		{"2027-11-01", "2027-11-01T08:00Z"}, // CET, after
		{"2027-11-29", "2027-11-29T08:00Z"}, // UNTIL is inclusive
	} {
		if !slices.ContainsFunc(mondays, func(i calsync.Interval) bool { return i.Start.Equal(utc(c.want)) }) {
			t.Errorf("no occurrence at %s on %s", c.want, c.day)
		}
	}
}

func TestParseNonExistentAndRepeatedLocalTimes(t *testing.T) {
	opt := year2027
	opt.From, opt.To = utc("2027-03-27T00:00Z"), utc("2027-03-29T00:00Z")
	res := parseFile(t, "weekly-dst.ics", opt)
	// 02:30 does not exist on 2027-03-28 in Berlin: read with the offset
	// before the gap (+01:00), i.e. 01:30Z = 03:30 CEST. It ends at 04:00
	// CEST = 02:00Z.
	wantBusy(t, res.Busy, iv("2027-03-28T01:30Z", "2027-03-28T02:00Z"))

	opt.From, opt.To = utc("2027-10-30T00:00Z"), utc("2027-11-01T00:00Z")
	res = parseFile(t, "weekly-dst.ics", opt)
	// 02:30 happens twice on 2027-10-31: the first (CEST, +02:00) is taken.
	wantBusy(t, res.Busy, iv("2027-10-31T00:30Z", "2027-10-31T01:00Z"))
}

func TestResolveLocal(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, c := range []struct {
		wall string
		loc  *time.Location
		want string
	}{
		{"2027-03-28T02:30Z", berlin, "2027-03-28T01:30Z"},
		{"2027-03-28T01:59Z", berlin, "2027-03-28T00:59Z"},
		{"2027-03-28T03:00Z", berlin, "2027-03-28T01:00Z"},
		{"2027-10-31T02:30Z", berlin, "2027-10-31T00:30Z"},
		{"2027-10-31T03:00Z", berlin, "2027-10-31T02:00Z"},
		{"2027-03-14T02:30Z", ny, "2027-03-14T07:30Z"}, // RFC 5545's example: 03:30 EDT
		{"2027-11-07T01:30Z", ny, "2027-11-07T05:30Z"}, // first 01:30 (EDT)
	} {
		if got := calsync.ResolveLocal(utc(c.wall), c.loc); !got.Equal(utc(c.want)) {
			t.Errorf("ResolveLocal(%s, %s) = %v, want %s", c.wall, c.loc, got, c.want)
		}
	}
}

func TestParseAllDay(t *testing.T) {
	res := parseFile(t, "allday.ics", year2027)
	wantBusy(t, res.Busy,
		// Three Berlin days across the March change: starts in CEST at
		// 2027-03-29 00:00 = 03-28T22:00Z.
		iv("2027-03-28T22:00Z", "2027-03-31T22:00Z"),
		// A DATE without DTEND is one day; this one is 25 hours long.
		iv("2027-10-30T22:00Z", "2027-10-31T23:00Z"),
	)
}

func TestParseExdateOverrideRdate(t *testing.T) {
	res := parseFile(t, "exdate.ics", year2027)
	wantBusy(t, res.Busy,
		iv("2027-05-03T06:30Z", "2027-05-03T06:45Z"),
		iv("2027-05-04T06:30Z", "2027-05-04T06:45Z"),
		// 05 and 06 excluded; 07 moved to 15:00; 10 cancelled.
		iv("2027-05-07T13:00Z", "2027-05-07T13:15Z"),
		iv("2027-05-11T06:30Z", "2027-05-11T06:45Z"),
		iv("2027-05-12T06:30Z", "2027-05-12T06:45Z"),
		iv("2027-05-13T06:30Z", "2027-05-13T06:45Z"),
		iv("2027-05-14T06:30Z", "2027-05-14T06:45Z"),
		iv("2027-05-15T08:00Z", "2027-05-15T08:15Z"), // RDATE
	)
	if res.Events != 1 {
		t.Fatalf("events = %d, want 1 series", res.Events)
	}
}

func cal(events ...string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n" + strings.Join(events, "") + "END:VCALENDAR\r\n")
}

func ev(lines ...string) string {
	return "BEGIN:VEVENT\r\nUID:" + fmt.Sprint(len(lines), lines[0]) + "\r\nDTSTAMP:20270101T000000Z\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VEVENT\r\n"
}

func TestParseRules(t *testing.T) {
	for _, c := range []struct {
		name  string
		lines []string
		want  []string // local Berlin start times
	}{
		{"monthly last sunday", []string{"DTSTART;TZID=Europe/Berlin:20270131T100000", "DURATION:PT1H", "RRULE:FREQ=MONTHLY;BYDAY=-1SU;COUNT=4"},
			[]string{"2027-01-31 10:00", "2027-02-28 10:00", "2027-03-28 10:00", "2027-04-25 10:00"}},
		{"monthly by month day, skipping short months", []string{"DTSTART;TZID=Europe/Berlin:20270131T100000", "DURATION:PT1H", "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3"},
			[]string{"2027-01-31 10:00", "2027-03-31 10:00", "2027-05-31 10:00"}},
		{"monthly negative month day", []string{"DTSTART;TZID=Europe/Berlin:20270130T100000", "DURATION:PT1H", "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3"},
			[]string{"2027-01-30 10:00", "2027-01-31 10:00", "2027-02-28 10:00"}},
		{"yearly by month and day", []string{"DTSTART;TZID=Europe/Berlin:20270101T090000", "DURATION:PT1H", "RRULE:FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU;UNTIL=20271231T000000Z"},
			[]string{"2027-01-01 09:00", "2027-03-28 09:00", "2027-10-31 09:00"}},
		{"every second week, two days", []string{"DTSTART;TZID=Europe/Berlin:20270104T120000", "DURATION:PT1H", "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=5"},
			[]string{"2027-01-04 12:00", "2027-01-06 12:00", "2027-01-18 12:00", "2027-01-20 12:00", "2027-02-01 12:00"}},
		{"daily in a month", []string{"DTSTART;TZID=Europe/Berlin:20270227T070000", "DURATION:PT1H", "RRULE:FREQ=DAILY;BYMONTH=2;UNTIL=20270305"},
			[]string{"2027-02-27 07:00", "2027-02-28 07:00"}},
		{"set position: last workday of the month", []string{"DTSTART;TZID=Europe/Berlin:20270129T160000", "DURATION:PT1H", "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3"},
			[]string{"2027-01-29 16:00", "2027-02-26 16:00", "2027-03-31 16:00"}},
		{"daily in the gap keeps 02:30 wall time elsewhere", []string{"DTSTART;TZID=Europe/Berlin:20270327T023000", "DURATION:PT15M", "RRULE:FREQ=DAILY;COUNT=3"},
			[]string{"2027-03-27 02:30", "2027-03-28 03:30", "2027-03-29 02:30"}},
		{"sub-daily rules keep their first instance", []string{"DTSTART;TZID=Europe/Berlin:20270301T100000", "DURATION:PT15M", "RRULE:FREQ=HOURLY;COUNT=3"},
			[]string{"2027-03-01 10:00"}},
		{"broken rule keeps the first instance", []string{"DTSTART;TZID=Europe/Berlin:20270301T100000", "DURATION:PT15M", "RRULE:FREQ=SOMETIMES"},
			[]string{"2027-03-01 10:00"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := calsync.ParseICS(cal(ev(c.lines...)), year2027)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range res.Busy {
				got = append(got, b.Start.In(berlin).Format("2006-01-02 15:04"))
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestParseCapsHostileRecurrence(t *testing.T) {
	// A daily event since 1900 without end, and one with a rule that never
	// matches: both must finish quickly with bounded output.
	res, err := calsync.ParseICS(cal(
		ev("DTSTART:19000101T000000Z", "DURATION:PT1M", "RRULE:FREQ=DAILY"),
		ev("DTSTART:19000101T000000Z", "DURATION:PT1M", "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"),
		ev("DTSTART:20270101T000000Z", "DURATION:PT1M", "RRULE:FREQ=DAILY;COUNT=1000000000;BYMONTH=2;BYMONTHDAY=30"),
	), year2027)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Busy) != 365 {
		t.Fatalf("%d busy intervals, want 365 (one a day in 2027)", len(res.Busy))
	}
	// The window of a whole century holds more than MaxInstancesPerEvent
	// daily occurrences: the event is capped.
	opt := year2027
	opt.To = opt.From.AddDate(100, 0, 0)
	res, err = calsync.ParseICS(cal(ev("DTSTART:20270101T000000Z", "DURATION:PT1M", "RRULE:FREQ=DAILY")), opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Busy) != calsync.MaxInstancesPerEvent || res.Capped != 1 {
		t.Fatalf("%d intervals, capped %d; want %d and 1", len(res.Busy), res.Capped, calsync.MaxInstancesPerEvent)
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"empty":         "",
		"not ical":      "<html><body>login</body></html>",
		"no end":        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20270101T000000Z\r\n",
		"deep nesting":  "BEGIN:VCALENDAR\r\n" + strings.Repeat("BEGIN:X\r\n", 100) + strings.Repeat("END:X\r\n", 100) + "END:VCALENDAR\r\n",
		"broken line":   "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n;;;\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		"second object": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
	} {
		if _, err := calsync.ParseICS([]byte(in), year2027); !errors.Is(err, calsync.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestParseSkipsBrokenEvents(t *testing.T) {
	res, err := calsync.ParseICS(cal(
		ev("DTSTART:2027XX01T000000Z", "DURATION:PT1H"),
		ev("SUMMARY:no start"),
		ev("DTSTART:20270101T100000Z", "DURATION:PT1H"),
	), year2027)
	if err != nil {
		t.Fatal(err)
	}
	wantBusy(t, res.Busy, iv("2027-01-01T10:00Z", "2027-01-01T11:00Z"))
	if res.Ignored != 2 {
		t.Fatalf("ignored = %d, want 2", res.Ignored)
	}
}

func TestLookupZone(t *testing.T) {
	for in, want := range map[string]string{
		"Europe/Berlin":                         "Europe/Berlin",
		"W. Europe Standard Time":               "Europe/Berlin",
		`"Eastern Standard Time"`:               "America/New_York",
		"/mozilla.org/20050126_1/Europe/Berlin": "Europe/Berlin",
		"Customized Time Zone":                  "",
		"../../etc/passwd":                      "",
	} {
		got := ""
		if loc := calsync.LookupZone(in); loc != nil {
			got = loc.String()
		}
		if got != want {
			t.Errorf("LookupZone(%q) = %q, want %q", in, got, want)
		}
	}
}
