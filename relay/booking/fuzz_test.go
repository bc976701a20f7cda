package booking

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzAvailability parses arbitrary availability JSON. Whatever parses
// must give sorted, disjoint windows inside the day and candidate starts
// with strictly increasing local labels and absolute times, on ordinary
// and DST dates.
func FuzzAvailability(f *testing.F) {
	for _, av := range []Availability{
		officeHours("Europe/Berlin"),
		{TimeZone: "America/New_York", Weekly: []WeeklyRule{{Weekday: 0, Span: Span{"00:00", "24:00"}}, {Weekday: 0, Span: Span{"01:00", "03:00"}}}},
		{TimeZone: "Europe/Berlin", Exceptions: []Exception{{Date: "2027-03-28", Closed: true, Hours: []Span{{"02:00", "03:00"}, {"02:30", "04:00"}}}}},
		{TimeZone: "Europe/Berlin", Exceptions: []Exception{{Date: "2027-10-31", Hours: []Span{{"01:59", "03:01"}}}}},
		{TimeZone: "Australia/Lord_Howe", Weekly: []WeeklyRule{{Weekday: 0, Span: Span{"01:00", "03:00"}}}},
		{TimeZone: "Pacific/Apia", Exceptions: []Exception{{Date: "2011-12-30", Hours: []Span{{"00:00", "24:00"}}}}},
	} {
		b, _ := json.Marshal(av)
		f.Add(b)
	}
	f.Add([]byte(`{"time_zone":"UTC","weekly":[{"weekday":3,"start":"24:00","end":"24:00"}]}`))
	f.Add([]byte(`{"time_zone":"UTC","exceptions":[{"date":"2000-02-29","closed":true}]}`))
	f.Add([]byte(`{"time_zone":"UTC","weekly":[{"weekday":-1,"start":"-1:00","end":"+2:00"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var av Availability
		if json.Unmarshal(data, &av) != nil {
			return
		}
		sc, err := parseAvailability(av)
		if err != nil {
			if _, ok := err.(*InputError); !ok {
				t.Fatalf("error %T is not an *InputError", err)
			}
			return
		}
		dates := []date{{2027, 3, 28}, {2027, 10, 31}, {2027, 3, 14}, {2027, 11, 7}, {2027, 6, 2}}
		for _, x := range av.Exceptions {
			d, _ := parseDate(x.Date)
			dates = append(dates, d)
		}
		for _, d := range dates {
			ws := sc.windows(d)
			for i, w := range ws {
				if w.s < 0 || w.e > 1440 || w.s >= w.e || (i > 0 && ws[i-1].e >= w.s) {
					t.Fatalf("%s: windows %v", d, ws)
				}
			}
			for _, dur := range []time.Duration{15 * time.Minute, 45 * time.Minute} {
				lastLabel, n := -1, 0
				var lastT time.Time
				sc.candidates(d, dur, 15*time.Minute, func(s time.Time) bool {
					ld, m := minuteOfDay(s, sc.loc)
					if ld != d || m <= lastLabel || (!lastT.IsZero() && !s.After(lastT)) {
						t.Fatalf("%s: candidate %v after label %d", d, s, lastLabel)
					}
					lastLabel, lastT = m, s
					n++
					return n < 200
				})
			}
		}
	})
}

func FuzzParseSpanAndDate(f *testing.F) {
	for _, s := range []string{"00:00", "24:00", "23:59", "9:00", "12:60", "2027-02-29", "2028-02-29", "0000-01-01", "2027-1-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if m, err := parseClock(s); err == nil && (m < 0 || m > 1440 || len(s) != 5) {
			t.Fatalf("parseClock(%q) = %d", s, m)
		}
		if d, err := parseDate(s); err == nil && d.String() != s {
			t.Fatalf("parseDate(%q) = %s", s, d)
		}
	})
}
