package calsync

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// errUnsupportedRule marks an RRULE that is well-formed but uses parts this
// expander does not implement (sub-daily frequencies, BYHOUR, BYMINUTE,
// BYSECOND, BYWEEKNO, BYYEARDAY): the event keeps its first instance and
// its RDATEs only.
var errUnsupportedRule = errors.New("unsupported recurrence rule")

type frequency int

const (
	freqDaily frequency = iota
	freqWeekly
	freqMonthly
	freqYearly
)

type byDay struct {
	n   int // 0: every such weekday in the period; ±1..±53: the nth (from the end when negative)
	day time.Weekday
}

// recur is a parsed RRULE (RFC 5545 §3.3.10), the subset used by real
// calendars: FREQ DAILY/WEEKLY/MONTHLY/YEARLY, INTERVAL, COUNT, UNTIL,
// BYDAY (with ordinals), BYMONTHDAY, BYMONTH, BYSETPOS and WKST.
type recur struct {
	freq       frequency
	interval   int
	count      int // 0: unbounded
	until      *dtval
	byDay      []byDay
	byMonthDay []int
	byMonth    []int
	bySetPos   []int
	wkst       time.Weekday
}

var weekdays = map[string]time.Weekday{
	"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday,
}

// parseRecur parses an RRULE value. zone reads a floating UNTIL.
func parseRecur(s string, zone *time.Location) (*recur, error) {
	if len(s) > 1024 {
		return nil, errors.New("rrule too long")
	}
	r := &recur{interval: 1, wkst: time.Monday}
	haveFreq := false
	for part := range strings.SplitSeq(strings.TrimSpace(s), ";") {
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || v == "" {
			return nil, errors.New("rrule: malformed part")
		}
		var err error
		switch strings.ToUpper(k) {
		case "FREQ":
			haveFreq = true
			switch strings.ToUpper(v) {
			case "DAILY":
				r.freq = freqDaily
			case "WEEKLY":
				r.freq = freqWeekly
			case "MONTHLY":
				r.freq = freqMonthly
			case "YEARLY":
				r.freq = freqYearly
			case "SECONDLY", "MINUTELY", "HOURLY":
				return nil, errUnsupportedRule
			default:
				return nil, errors.New("rrule: unknown FREQ")
			}
		case "INTERVAL":
			r.interval, err = atoiRange(v, 1, 10000)
		case "COUNT":
			r.count, err = atoiRange(v, 1, 1<<30)
		case "UNTIL":
			var d dtval
			d, err = parseDTValue(v, v != "" && len(v) == 8, nil, zone)
			r.until = &d
		case "WKST":
			wd, ok := weekdays[strings.ToUpper(v)]
			if !ok {
				return nil, errors.New("rrule: bad WKST")
			}
			r.wkst = wd
		case "BYDAY":
			for item := range strings.SplitSeq(v, ",") {
				item = strings.ToUpper(strings.TrimSpace(item))
				if len(item) < 2 {
					return nil, errors.New("rrule: bad BYDAY")
				}
				wd, ok := weekdays[item[len(item)-2:]]
				if !ok {
					return nil, errors.New("rrule: bad BYDAY")
				}
				n := 0
				if num := item[:len(item)-2]; num != "" {
					if n, err = atoiRange(strings.TrimPrefix(num, "+"), -53, 53); err != nil || n == 0 {
						return nil, errors.New("rrule: bad BYDAY ordinal")
					}
				}
				r.byDay = append(r.byDay, byDay{n: n, day: wd})
			}
		case "BYMONTHDAY":
			r.byMonthDay, err = intList(v, 31, true)
		case "BYMONTH":
			r.byMonth, err = intList(v, 12, false)
		case "BYSETPOS":
			r.bySetPos, err = intList(v, 366, true)
		case "BYHOUR", "BYMINUTE", "BYSECOND", "BYWEEKNO", "BYYEARDAY":
			return nil, errUnsupportedRule
		default:
			// RFC 5545 allows x-name parts; ignore them.
			if !strings.HasPrefix(strings.ToUpper(k), "X-") {
				return nil, errors.New("rrule: unknown part")
			}
		}
		if err != nil {
			return nil, err
		}
		if len(r.byDay) > 64 || len(r.byMonthDay) > 64 || len(r.bySetPos) > 64 {
			return nil, errors.New("rrule: list too long")
		}
	}
	if !haveFreq {
		return nil, errors.New("rrule: FREQ missing")
	}
	return r, nil
}

func atoiRange(s string, lo, hi int) (int, error) {
	if len(s) > 12 {
		return 0, errors.New("number too long")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, errors.New("number out of range")
	}
	return n, nil
}

// intList parses a comma-separated list of 1..max (or -max..-1 when neg).
func intList(s string, max int, neg bool) ([]int, error) {
	var out []int
	for item := range strings.SplitSeq(s, ",") {
		lo := 1
		if neg {
			lo = -max
		}
		n, err := atoiRange(strings.TrimPrefix(strings.TrimSpace(item), "+"), lo, max)
		if err != nil || n == 0 {
			return nil, errors.New("rrule: bad number list")
		}
		out = append(out, n)
		if len(out) > 64 {
			return nil, errors.New("rrule: list too long")
		}
	}
	return out, nil
}

// expandLimits bounds one expansion.
type expandLimits struct {
	// windowStart and windowEnd are wall-clock bounds (in the event's zone)
	// that already include a margin; occurrences outside them are not
	// emitted, and the expansion stops after windowEnd.
	windowStart, windowEnd time.Time
	// maxInstances stops the expansion after that many emitted instances.
	maxInstances int
	// steps counts periods examined, shared across a feed; the expansion
	// stops when it reaches zero.
	steps *int
}

// expandResult says why an expansion stopped early.
type expandResult struct {
	capped bool // maxInstances or the step budget was reached
}

// expand calls emit with the wall-clock start of every occurrence of r for
// an event starting at the wall-clock time start (read in loc), in order,
// within the limits. DTSTART itself is always the first occurrence and
// counts towards COUNT (RFC 5545 §3.8.5.3).
func (r *recur) expand(start time.Time, loc *time.Location, untilInstant time.Time, lim expandLimits, emit func(wall time.Time)) expandResult {
	var res expandResult
	emitted := 0
	out := func(w time.Time) bool {
		if w.Before(lim.windowStart) {
			return true
		}
		if emitted >= lim.maxInstances {
			res.capped = true
			return false
		}
		emitted++
		emit(w)
		return true
	}
	hasUntil := !untilInstant.IsZero()
	if !out(start) {
		return res
	}
	seen := 1
	if r.count == 1 {
		return res
	}
	sy, sm, sd := start.Date()
	startDate := time.Date(sy, sm, sd, 0, 0, 0, 0, time.UTC)
	tod := start.Sub(startDate)

	// The first period, fast-forwarded close to the window when COUNT
	// does not oblige us to count from DTSTART.
	k := 0
	if r.count == 0 && lim.windowStart.After(start) {
		gap := lim.windowStart.Sub(startDate)
		switch r.freq {
		case freqDaily:
			k = int(gap.Hours()/24) / r.interval
		case freqWeekly:
			k = int(gap.Hours()/(24*7)) / r.interval
		case freqMonthly:
			k = (int(gap.Hours()/(24*31)) - 1) / r.interval
		case freqYearly:
			k = (int(gap.Hours()/(24*366)) - 1) / r.interval
		}
		k = max(k-1, 0)
	}
	weekStart := startDate.AddDate(0, 0, -((int(startDate.Weekday()) - int(r.wkst) + 7) % 7))
	var days []time.Time
	for ; ; k++ {
		if *lim.steps <= 0 {
			res.capped = true
			return res
		}
		*lim.steps--
		var periodStart time.Time
		days = days[:0]
		switch r.freq {
		case freqDaily:
			periodStart = startDate.AddDate(0, 0, k*r.interval)
			if r.dayMatches(periodStart) {
				days = append(days, periodStart)
			}
		case freqWeekly:
			periodStart = weekStart.AddDate(0, 0, 7*k*r.interval)
			for i := range 7 {
				d := periodStart.AddDate(0, 0, i)
				if r.weeklyMatches(d, start.Weekday()) {
					days = append(days, d)
				}
			}
		case freqMonthly:
			periodStart = time.Date(sy, sm+time.Month(k*r.interval), 1, 0, 0, 0, 0, time.UTC)
			if len(r.byMonth) == 0 || slices.Contains(r.byMonth, int(periodStart.Month())) {
				days = r.monthDays(days, periodStart.Year(), periodStart.Month(), sd)
			}
		case freqYearly:
			periodStart = time.Date(sy+k*r.interval, 1, 1, 0, 0, 0, 0, time.UTC)
			days = r.yearDays(days, periodStart.Year(), sm, sd)
		}
		if periodStart.Year() > 9999 || periodStart.After(lim.windowEnd) {
			return res
		}
		days = r.applySetPos(days)
		for _, d := range days {
			w := d.Add(tod)
			if !w.After(start) {
				continue // before DTSTART, or DTSTART itself (already out)
			}
			if w.After(lim.windowEnd) {
				return res
			}
			if hasUntil && ResolveLocal(w, loc).After(untilInstant) {
				return res
			}
			seen++
			if !out(w) {
				return res
			}
			if r.count > 0 && seen >= r.count {
				return res
			}
		}
	}
}

func (r *recur) dayMatches(d time.Time) bool {
	if len(r.byMonth) > 0 && !slices.Contains(r.byMonth, int(d.Month())) {
		return false
	}
	if len(r.byMonthDay) > 0 && !monthDayMatches(r.byMonthDay, d) {
		return false
	}
	if len(r.byDay) > 0 {
		for _, b := range r.byDay {
			if b.day == d.Weekday() {
				return true
			}
		}
		return false
	}
	return true
}

func (r *recur) weeklyMatches(d time.Time, startWeekday time.Weekday) bool {
	if len(r.byMonth) > 0 && !slices.Contains(r.byMonth, int(d.Month())) {
		return false
	}
	if len(r.byDay) == 0 {
		return d.Weekday() == startWeekday
	}
	for _, b := range r.byDay {
		if b.day == d.Weekday() {
			return true
		}
	}
	return false
}

func monthDayMatches(mds []int, d time.Time) bool {
	n := daysIn(d.Year(), d.Month())
	for _, md := range mds {
		if md == d.Day() || (md < 0 && n+md+1 == d.Day()) {
			return true
		}
	}
	return false
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// monthDays appends the matching days of month m of year y, in order;
// defaultDay is DTSTART's day of the month.
func (r *recur) monthDays(days []time.Time, y int, m time.Month, defaultDay int) []time.Time {
	n := daysIn(y, m)
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	if len(r.byDay) == 0 && len(r.byMonthDay) == 0 {
		if defaultDay <= n {
			days = append(days, first.AddDate(0, 0, defaultDay-1))
		}
		return days
	}
	for day := 1; day <= n; day++ {
		d := first.AddDate(0, 0, day-1)
		if len(r.byMonthDay) > 0 && !monthDayMatches(r.byMonthDay, d) {
			continue
		}
		if len(r.byDay) > 0 && !nthMatches(r.byDay, d, day, n) {
			continue
		}
		days = append(days, d)
	}
	return days
}

// nthMatches reports whether d (the pos-th of n days in its period) is one
// of the by-day entries, ordinals counted within the period.
func nthMatches(bd []byDay, d time.Time, pos, n int) bool {
	for _, b := range bd {
		if b.day != d.Weekday() {
			continue
		}
		if b.n == 0 {
			return true
		}
		if b.n > 0 && (pos-1)/7+1 == b.n {
			return true
		}
		if b.n < 0 && (n-pos)/7+1 == -b.n {
			return true
		}
	}
	return false
}

// yearDays appends the matching days of year y, in order; sm and sd are
// DTSTART's month and day.
func (r *recur) yearDays(days []time.Time, y int, sm time.Month, sd int) []time.Time {
	if len(r.byMonth) > 0 {
		months := slices.Clone(r.byMonth)
		slices.Sort(months)
		for _, m := range slices.Compact(months) {
			days = r.monthDays(days, y, time.Month(m), sd)
		}
		return days
	}
	if len(r.byDay) == 0 && len(r.byMonthDay) == 0 {
		if sd <= daysIn(y, sm) {
			days = append(days, time.Date(y, sm, sd, 0, 0, 0, 0, time.UTC))
		}
		return days
	}
	first := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	n := time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC).Sub(first).Hours() / 24
	for i := range int(n) {
		d := first.AddDate(0, 0, i)
		if len(r.byMonthDay) > 0 && !monthDayMatches(r.byMonthDay, d) {
			continue
		}
		if len(r.byDay) > 0 && !nthMatches(r.byDay, d, i+1, int(n)) {
			continue
		}
		days = append(days, d)
	}
	return days
}

func (r *recur) applySetPos(days []time.Time) []time.Time {
	if len(r.bySetPos) == 0 || len(days) == 0 {
		return days
	}
	var keep []time.Time
	for _, p := range r.bySetPos {
		i := p - 1
		if p < 0 {
			i = len(days) + p
		}
		if i >= 0 && i < len(days) && !slices.ContainsFunc(keep, days[i].Equal) {
			keep = append(keep, days[i])
		}
	}
	slices.SortFunc(keep, func(a, b time.Time) int { return a.Compare(b) })
	return append(days[:0], keep...)
}
