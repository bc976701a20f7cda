package booking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Limits of an Availability.
const (
	// MaxWeeklyRules bounds the weekly rules.
	MaxWeeklyRules = 70
	// MaxExceptions bounds the date exceptions.
	MaxExceptions = 1000
	// MaxSpansPerException bounds the hours of one exception.
	MaxSpansPerException = 10
	// MinYear and MaxYear bound the dates accepted anywhere.
	MinYear, MaxYear = 2000, 2200
)

// date is a civil date.
type date struct {
	y int
	m time.Month
	d int
}

func (d date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.y, int(d.m), d.d) }

func (d date) add(n int) date {
	return dateOf(time.Date(d.y, d.m, d.d+n, 0, 0, 0, 0, time.UTC))
}

func (d date) weekday() time.Weekday {
	return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, time.UTC).Weekday()
}

func (d date) before(e date) bool {
	if d.y != e.y {
		return d.y < e.y
	}
	if d.m != e.m {
		return d.m < e.m
	}
	return d.d < e.d
}

// dateOf returns t's date in t's location.
func dateOf(t time.Time) date {
	y, m, d := t.Date()
	return date{y, m, d}
}

// parseDate parses YYYY-MM-DD strictly within MinYear–MaxYear.
func parseDate(s string) (date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return date{}, fmt.Errorf("not YYYY-MM-DD")
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return date{}, fmt.Errorf("not a valid date")
	}
	if t.Year() < MinYear || t.Year() > MaxYear {
		return date{}, fmt.Errorf("year out of range")
	}
	return dateOf(t), nil
}

// span is a local range in minutes of the day, 0 ≤ s < e ≤ 1440.
type span struct{ s, e int }

// parseClock parses "HH:MM" (00:00–24:00) into minutes.
func parseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("not HH:MM")
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("not HH:MM")
		}
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("not a time of day")
	}
	return h*60 + m, nil
}

func parseSpan(sp Span) (span, error) {
	s, err := parseClock(sp.Start)
	if err != nil {
		return span{}, fmt.Errorf("start: %w", err)
	}
	e, err := parseClock(sp.End)
	if err != nil {
		return span{}, fmt.Errorf("end: %w", err)
	}
	if e <= s {
		return span{}, fmt.Errorf("end is not after start")
	}
	return span{s, e}, nil
}

// merge sorts spans and joins overlapping and touching ones.
func merge(sp []span) []span {
	if len(sp) < 2 {
		return sp
	}
	sp = slices.Clone(sp)
	sort.Slice(sp, func(i, j int) bool { return sp[i].s < sp[j].s })
	out := sp[:1]
	for _, x := range sp[1:] {
		last := &out[len(out)-1]
		if x.s <= last.e {
			last.e = max(last.e, x.e)
			continue
		}
		out = append(out, x)
	}
	return out
}

// schedule is a parsed, checked Availability.
type schedule struct {
	loc    *time.Location
	weekly [7][]span
	exc    map[date]excDay
}

type excDay struct {
	closed bool
	hours  []span
}

// parseAvailability checks av and returns its schedule. Errors are
// *InputError naming the field by position, never echoing the value.
func parseAvailability(av Availability) (*schedule, error) {
	if av.TimeZone == "" || len(av.TimeZone) > 64 || av.TimeZone == "Local" {
		return nil, invalid("time_zone", "not an IANA time zone")
	}
	loc, err := time.LoadLocation(av.TimeZone)
	if err != nil {
		return nil, invalid("time_zone", "not an IANA time zone")
	}
	if len(av.Weekly) > MaxWeeklyRules {
		return nil, invalid("weekly", "too many rules")
	}
	if len(av.Exceptions) > MaxExceptions {
		return nil, invalid("exceptions", "too many exceptions")
	}
	sc := &schedule{loc: loc, exc: make(map[date]excDay, len(av.Exceptions))}
	for i, r := range av.Weekly {
		if r.Weekday < time.Sunday || r.Weekday > time.Saturday {
			return nil, invalid(fmt.Sprintf("weekly[%d].weekday", i), "not 0 (Sunday) to 6")
		}
		sp, err := parseSpan(r.Span)
		if err != nil {
			return nil, invalid(fmt.Sprintf("weekly[%d]", i), err.Error())
		}
		sc.weekly[r.Weekday] = append(sc.weekly[r.Weekday], sp)
	}
	for d := range sc.weekly {
		sc.weekly[d] = merge(sc.weekly[d])
	}
	for i, x := range av.Exceptions {
		d, err := parseDate(x.Date)
		if err != nil {
			return nil, invalid(fmt.Sprintf("exceptions[%d].date", i), err.Error())
		}
		if _, dup := sc.exc[d]; dup {
			return nil, invalid(fmt.Sprintf("exceptions[%d].date", i), "repeats an earlier exception's date")
		}
		if !x.Closed && len(x.Hours) == 0 {
			return nil, invalid(fmt.Sprintf("exceptions[%d]", i), "neither closed nor hours")
		}
		if len(x.Hours) > MaxSpansPerException {
			return nil, invalid(fmt.Sprintf("exceptions[%d].hours", i), "too many spans")
		}
		e := excDay{closed: x.Closed}
		for j, h := range x.Hours {
			sp, err := parseSpan(h)
			if err != nil {
				return nil, invalid(fmt.Sprintf("exceptions[%d].hours[%d]", i, j), err.Error())
			}
			e.hours = append(e.hours, sp)
		}
		e.hours = merge(e.hours)
		sc.exc[d] = e
	}
	return sc, nil
}

// windows returns the local spans available on d, sorted and disjoint.
func (sc *schedule) windows(d date) []span {
	e, ok := sc.exc[d]
	if !ok {
		return sc.weekly[d.weekday()]
	}
	if e.closed {
		return e.hours
	}
	return merge(append(slices.Clone(sc.weekly[d.weekday()]), e.hours...))
}

// resolve returns the absolute instant of minute min (0–1440) of local
// date d. A local time that occurs twice (the hour repeated when clocks go
// back) resolves to its first occurrence; one that does not exist (the
// hour skipped when clocks go forward) resolves to the end of the gap,
// the instant clocks jumped.
func resolve(loc *time.Location, d date, min int) time.Time {
	if min >= 1440 {
		d, min = d.add(1), min-1440
	}
	naive := time.Date(d.y, d.m, d.d, min/60, min%60, 0, 0, time.UTC)
	var best time.Time
	var offs [3]int
	for i, probe := range []time.Duration{-15 * time.Hour, 0, 15 * time.Hour} {
		_, offs[i] = naive.Add(probe).In(loc).Zone()
	}
	for i, off := range offs {
		if i > 0 && off == offs[i-1] {
			continue
		}
		u := naive.Add(-time.Duration(off) * time.Second)
		l := u.In(loc)
		if l.Hour()*60+l.Minute() == min && dateOf(l) == d && (best.IsZero() || u.Before(best)) {
			best = u
		}
	}
	if !best.IsZero() {
		return best
	}
	// In a gap: the time with the offset before the jump lies after it;
	// the zone it falls into started at the jump.
	u := naive.Add(-time.Duration(offs[0]) * time.Second)
	if start, _ := u.In(loc).ZoneBounds(); !start.IsZero() && start.Before(u) {
		return start
	}
	return u
}

// minuteOfDay returns t's local minute of the day and date in loc.
func minuteOfDay(t time.Time, loc *time.Location) (date, int) {
	l := t.In(loc)
	return dateOf(l), l.Hour()*60 + l.Minute()
}

// candidates calls fn for each candidate start on local date d for an
// appointment of dur: starts every step from each window's start, in
// absolute time, such that the appointment ends by the window's end. The
// local labels of the starts increase strictly: when clocks go back, the
// repeated local times yield only their first occurrence. Local times that
// do not exist yield nothing. fn returns false to stop.
func (sc *schedule) candidates(d date, dur, step time.Duration, fn func(t time.Time) bool) bool {
	last := -1
	for _, w := range sc.windows(d) {
		ws, we := resolve(sc.loc, d, w.s), resolve(sc.loc, d, w.e)
		for t := ws; !t.Add(dur).After(we); t = t.Add(step) {
			ld, m := minuteOfDay(t, sc.loc)
			if ld != d || m <= last || m < w.s {
				continue
			}
			last = m
			if !fn(t) {
				return false
			}
		}
	}
	return true
}

// datesTouched returns the local dates that [from, to) touches.
func datesTouched(loc *time.Location, from, to time.Time) []date {
	first := dateOf(from.In(loc))
	lastT := to
	if to.After(from) {
		lastT = to.Add(-time.Nanosecond)
	}
	last := dateOf(lastT.In(loc))
	out := []date{first}
	for d := first; d.before(last) && len(out) < 400; {
		d = d.add(1)
		out = append(out, d)
	}
	return out
}

// horizon returns the last bookable local date and the instant after it
// (the start of the next local day), at now.
func (s *Service) horizon(loc *time.Location, now time.Time) (date, time.Time) {
	last := dateOf(now.In(loc)).add(s.opts.HorizonDays)
	return last, resolve(loc, last, 1440)
}

// LastBookableDate is the last local date (YYYY-MM-DD, in the advisor's
// time zone) that can be booked today: today plus Options.HorizonDays.
func (s *Service) LastBookableDate(ctx context.Context, tenantID, advisorID string) (string, error) {
	av, err := s.Availability(ctx, tenantID, advisorID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", err
	}
	loc, err := time.LoadLocation(av.TimeZone)
	if err != nil || av.TimeZone == "" {
		loc = time.UTC
	}
	last, _ := s.horizon(loc, s.clock.Now())
	return last.String(), nil
}
