package calsync_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"parley/relay/calsync"
)

// bigFeed builds a feed of n events like an advisor's busy Outlook
// calendar: three in four single meetings spread over a year, one in four
// recurring (weekly, daily on workdays, monthly on the last Friday) with
// EXDATEs, plus an override per recurring series.
func bigFeed(n int) []byte {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n")
	start := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
	for i := range n {
		day := start.AddDate(0, 0, i%365)
		tz := "Europe/Berlin"
		if i%3 == 0 {
			tz = "W. Europe Standard Time"
		}
		fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:ev%d@bench\r\nDTSTAMP:20270101T000000Z\r\nSUMMARY:Meeting %d\r\n", i, i)
		fmt.Fprintf(&b, "DTSTART;TZID=%s:%sT%02d3000\r\nDURATION:PT45M\r\n", tz, day.Format("20060102"), 8+i%9)
		if i%4 == 0 {
			switch i % 3 {
			case 0:
				b.WriteString("RRULE:FREQ=WEEKLY;BYDAY=MO,WE\r\n")
			case 1:
				b.WriteString("RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=200\r\n")
			case 2:
				b.WriteString("RRULE:FREQ=MONTHLY;BYDAY=-1FR\r\n")
			}
			fmt.Fprintf(&b, "EXDATE;TZID=%s:%sT%02d3000\r\n", tz, day.AddDate(0, 0, 14).Format("20060102"), 8+i%9)
		}
		b.WriteString("END:VEVENT\r\n")
		if i%4 == 0 {
			fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:ev%d@bench\r\nDTSTAMP:20270101T000000Z\r\nRECURRENCE-ID;TZID=%s:%sT%02d3000\r\n", i, tz, day.AddDate(0, 0, 7).Format("20060102"), 8+i%9)
			fmt.Fprintf(&b, "DTSTART;TZID=%s:%sT180000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n", tz, day.AddDate(0, 0, 7).Format("20060102"))
		}
	}
	b.WriteString("END:VCALENDAR\r\n")
	return []byte(b.String())
}

// BenchmarkParse2000 parses and expands a 2,000-event feed over the
// default 202-day window.
func BenchmarkParse2000(b *testing.B) {
	data := bigFeed(2000)
	from := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	opt := calsync.ParseOptions{Zone: berlin, From: from, To: from.Add(202 * 24 * time.Hour)}
	res, err := calsync.ParseICS(data, opt)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(data))/1024, "KiB")
	b.ReportMetric(float64(len(res.Busy)), "intervals")
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := calsync.ParseICS(data, opt); err != nil {
			b.Fatal(err)
		}
	}
}
