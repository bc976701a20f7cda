package calsync

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParseICS feeds arbitrary bytes to the parser: it must not panic, and
// what it returns must be sorted, disjoint, inside the window and bounded.
func FuzzParseICS(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.ics")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=W. Europe Standard Time:20270328T023000\r\nDURATION:P1DT1H\r\nRRULE:FREQ=MONTHLY;BYDAY=-1SU,2MO;BYSETPOS=1,-1;INTERVAL=2\r\nEXDATE;VALUE=DATE:20270425\r\nRDATE;VALUE=PERIOD:20270401T100000Z/PT1H,20270402T100000Z/20270402T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nRECURRENCE-ID;VALUE=DATE:20270101\r\nDTSTART;VALUE=DATE:20270102\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20270101T000000Z\r\nRRULE:FREQ=YEARLY;BYDAY=20MO;UNTIL=20300101\r\nDTEND:20270101T010000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
	} {
		f.Add([]byte(s))
	}
	recoverPanics = false
	loc := LookupZone(DefaultTimeZone)
	from := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(202 * 24 * time.Hour)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ParseICS(data, ParseOptions{Zone: loc, From: from, To: to})
		if err != nil {
			return
		}
		if len(res.Busy) > MaxInstancesPerFeed {
			t.Fatalf("%d intervals", len(res.Busy))
		}
		for i, b := range res.Busy {
			if !b.End.After(b.Start) || b.Start.Before(from) || b.End.After(to) {
				t.Fatalf("interval %d out of bounds: %v", i, b)
			}
			if i > 0 && !b.Start.After(res.Busy[i-1].End) {
				t.Fatalf("intervals %d and %d overlap or touch", i-1, i)
			}
		}
	})
}
