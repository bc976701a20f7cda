package calsync

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"
	eical "github.com/emersion/go-ical"
)

// Parser errors; check with errors.Is.
var (
	// ErrMalformed: the input is not an iCalendar object this parser can
	// read (no VCALENDAR, broken content lines, nesting too deep).
	ErrMalformed = errors.New("calsync: malformed calendar")
	// ErrTooLarge: the body exceeds MaxBody, or the feed expands to more
	// busy instances than a calendar can plausibly hold.
	ErrTooLarge = errors.New("calsync: calendar too large")
)

// Parser limits.
const (
	// MaxInstancesPerEvent bounds the occurrences one recurring event may
	// contribute within the window; further ones are dropped.
	MaxInstancesPerEvent = 5000
	// MaxInstancesPerFeed bounds the occurrences of a whole feed within
	// the window; a feed that exceeds it fails with ErrTooLarge.
	MaxInstancesPerFeed = 200_000
	// maxSteps bounds the recurrence periods examined per feed.
	maxSteps = 5_000_000
	// maxDepth bounds component nesting (VCALENDAR > VEVENT > VALARM is 3).
	maxDepth = 8
	// maxEvents bounds the VEVENTs of one feed.
	maxEvents = 100_000
)

// ParseOptions says how to read a calendar.
type ParseOptions struct {
	// Zone reads floating local times, all-day dates and TZIDs that name no
	// known zone. Nil means DefaultTimeZone.
	Zone *time.Location
	// From and To bound the busy time returned (To exclusive). Occurrences
	// outside are not expanded; intervals are clipped to it.
	From, To time.Time
}

// ParseResult is what a calendar contributes to an advisor's busy time.
type ParseResult struct {
	// Busy is the merged, sorted busy time within [From, To), in UTC.
	Busy []Interval
	// Events counts the VEVENTs that made busy time (series count once).
	Events int
	// Ignored counts VEVENTs that are free (TRANSP:TRANSPARENT,
	// STATUS:CANCELLED, Outlook's BUSYSTATUS FREE) or unreadable (a broken
	// DTSTART); a single broken event does not fail the feed.
	Ignored int
	// Capped counts recurring events cut at MaxInstancesPerEvent, and
	// recurrence rules this parser does not implement (their first
	// instance and RDATEs count).
	Capped int
}

// prop is one content line of an event in a library-neutral form.
type prop struct {
	name   string // upper case
	params map[string][]string
	value  string
}

func (p *prop) param(name string) string {
	for k, v := range p.params {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return strings.Trim(v[0], `"`)
		}
	}
	return ""
}

// vevent is a VEVENT's properties.
type vevent []prop

func (e vevent) get(name string) *prop {
	for i := range e {
		if e[i].name == name {
			return &e[i]
		}
	}
	return nil
}

func (e vevent) value(name string) string {
	if p := e.get(name); p != nil {
		return strings.TrimSpace(p.value)
	}
	return ""
}

// recoverPanics turns a panic while parsing into ErrMalformed; the fuzz
// target switches it off to see them.
var recoverPanics = true

// ParseICS reads an iCalendar stream (a feed's body) with golang-ical and
// returns its busy time within opt's window.
func ParseICS(data []byte, opt ParseOptions) (res ParseResult, err error) {
	defer func() {
		if !recoverPanics {
			return
		}
		if r := recover(); r != nil { // a library bug must not take the relay down
			res, err = ParseResult{}, fmt.Errorf("%w: parser panic", ErrMalformed)
		}
	}()
	if err := checkNesting(data); err != nil {
		return ParseResult{}, err
	}
	cal, err := ics.ParseCalendarWithOptions(bytes.NewReader(data), ics.WithUnknownPropertyHandler(ics.AcceptUnknownPropertyHandler))
	if err != nil {
		return ParseResult{}, fmt.Errorf("%w: %s", ErrMalformed, sanitize(err))
	}
	if cal == nil || len(cal.CalendarProperties)+len(cal.Components) == 0 {
		return ParseResult{}, fmt.Errorf("%w: no VCALENDAR", ErrMalformed)
	}
	var events []vevent
	for _, c := range cal.Components {
		ev, ok := c.(*ics.VEvent)
		if !ok {
			continue
		}
		e := make(vevent, 0, len(ev.Properties))
		for _, p := range ev.Properties {
			e = append(e, prop{name: strings.ToUpper(p.IANAToken), params: p.ICalParameters, value: p.Value})
		}
		events = append(events, e)
	}
	return collect(events, opt)
}

// parseCalDAV turns calendar objects decoded by go-ical (go-webdav's
// CalDAV client) into events.
func eventsFromGoICal(cals []*eical.Calendar) []vevent {
	var events []vevent
	for _, cal := range cals {
		if cal == nil || cal.Component == nil {
			continue
		}
		for _, c := range cal.Children {
			if c.Name != eical.CompEvent {
				continue
			}
			var e vevent
			for name, ps := range c.Props {
				for _, p := range ps {
					e = append(e, prop{name: strings.ToUpper(name), params: p.Params, value: p.Value})
				}
			}
			events = append(events, e)
		}
	}
	return events
}

// checkNesting refuses inputs whose BEGIN/END nesting is deeper than
// maxDepth (golang-ical parses nested components recursively) or that do
// not start with BEGIN:VCALENDAR.
func checkNesting(data []byte) error {
	depth, first := 0, true
	for line := range bytes.Lines(data) {
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		if first {
			first = false
			if !bytes.EqualFold(bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))), []byte("BEGIN:VCALENDAR")) {
				return fmt.Errorf("%w: does not start with BEGIN:VCALENDAR", ErrMalformed)
			}
		}
		switch {
		case len(line) >= 6 && bytes.EqualFold(line[:6], []byte("BEGIN:")):
			depth++
			if depth > maxDepth {
				return fmt.Errorf("%w: components nested too deep", ErrMalformed)
			}
		case len(line) >= 4 && bytes.EqualFold(line[:4], []byte("END:")):
			depth--
		}
	}
	if first {
		return fmt.Errorf("%w: empty", ErrMalformed)
	}
	return nil
}

// sanitize keeps a library's error message short and free of input text:
// only its first clause, without anything quoted.
func sanitize(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, "\"'`:"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80]
	}
	return strings.TrimSpace(s)
}

// dtval is a DATE or DATE-TIME value: wall-clock fields read in loc.
type dtval struct {
	wall time.Time // fields only; location UTC
	loc  *time.Location
	date bool
}

func (d dtval) instant() time.Time { return ResolveLocal(d.wall, d.loc) }

// parseDT reads a DTSTART-like property.
func parseDT(p *prop, zone *time.Location) (dtval, error) {
	v := strings.TrimSpace(p.value)
	isDate := strings.EqualFold(p.param("VALUE"), "DATE") || len(v) == 8
	return parseDTValue(v, isDate, LookupZone(p.param("TZID")), zone)
}

// parseDTValue reads "YYYYMMDD", "YYYYMMDDTHHMMSS" or "…Z". tz is the
// TZID's zone (nil: none or unknown), zone the source's.
func parseDTValue(v string, isDate bool, tz, zone *time.Location) (dtval, error) {
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	if len(v) < 8 {
		return dtval{}, errors.New("date too short")
	}
	y, ok1 := num(v[0:4])
	mo, ok2 := num(v[4:6])
	d, ok3 := num(v[6:8])
	if !ok1 || !ok2 || !ok3 || y < 1900 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, time.Month(mo)) {
		return dtval{}, errors.New("bad date")
	}
	if zone == nil {
		zone = LookupZone(DefaultTimeZone)
	}
	if isDate || len(v) == 8 {
		if len(v) != 8 {
			return dtval{}, errors.New("bad date")
		}
		return dtval{wall: time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC), loc: zone, date: true}, nil
	}
	rest := v[8:]
	utc := strings.HasSuffix(rest, "Z") || strings.HasSuffix(rest, "z")
	if utc {
		rest = rest[:len(rest)-1]
	}
	if len(rest) != 7 || (rest[0] != 'T' && rest[0] != 't') {
		return dtval{}, errors.New("bad time")
	}
	h, ok1 := num(rest[1:3])
	mi, ok2 := num(rest[3:5])
	s, ok3 := num(rest[5:7])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || s > 60 {
		return dtval{}, errors.New("bad time")
	}
	s = min(s, 59) // a leap second
	loc := zone
	switch {
	case utc:
		loc = time.UTC
	case tz != nil:
		loc = tz
	}
	return dtval{wall: time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC), loc: loc}, nil
}

// duration is an RFC 5545 duration: nominal days (kept in wall-clock
// time) plus exact seconds.
type duration struct {
	days int
	secs time.Duration
}

func parseDuration(v string) (duration, error) {
	v = strings.ToUpper(strings.TrimSpace(v))
	neg := false
	switch {
	case strings.HasPrefix(v, "-"):
		neg, v = true, v[1:]
	case strings.HasPrefix(v, "+"):
		v = v[1:]
	}
	if !strings.HasPrefix(v, "P") || len(v) < 3 || len(v) > 40 {
		return duration{}, errors.New("bad duration")
	}
	v = v[1:]
	var d duration
	inTime, n, digits := false, 0, 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int(c-'0')
			digits++
			if digits > 7 {
				return duration{}, errors.New("bad duration")
			}
			continue
		case c == 'T' && !inTime && digits == 0:
			inTime = true
			continue
		}
		if digits == 0 {
			return duration{}, errors.New("bad duration")
		}
		switch {
		case c == 'W' && !inTime:
			d.days += 7 * n
		case c == 'D' && !inTime:
			d.days += n
		case c == 'H' && inTime:
			d.secs += time.Duration(n) * time.Hour
		case c == 'M' && inTime:
			d.secs += time.Duration(n) * time.Minute
		case c == 'S' && inTime:
			d.secs += time.Duration(n) * time.Second
		default:
			return duration{}, errors.New("bad duration")
		}
		n, digits = 0, 0
	}
	if digits != 0 {
		return duration{}, errors.New("bad duration")
	}
	if neg {
		return duration{}, nil // a negative length makes no busy time
	}
	return d, nil
}

// series is one event (master) with the overrides sharing its UID.
type series struct {
	master    vevent
	overrides []vevent
}

// collect turns events into busy intervals within the window.
func collect(events []vevent, opt ParseOptions) (ParseResult, error) {
	var res ParseResult
	if len(events) > maxEvents {
		return res, fmt.Errorf("%w: more than %d events", ErrTooLarge, maxEvents)
	}
	zone := opt.Zone
	if zone == nil {
		zone = LookupZone(DefaultTimeZone)
	}
	if !opt.To.After(opt.From) {
		return res, nil
	}
	// Group by UID: overrides (RECURRENCE-ID) belong to their master.
	byUID := map[string]*series{}
	var order []*series
	for _, e := range events {
		uid := e.value("UID")
		if uid == "" {
			s := &series{master: e}
			if e.get("RECURRENCE-ID") != nil {
				s = &series{overrides: []vevent{e}}
			}
			order = append(order, s)
			continue
		}
		s := byUID[uid]
		if s == nil {
			s = &series{}
			byUID[uid] = s
			order = append(order, s)
		}
		if e.get("RECURRENCE-ID") != nil {
			s.overrides = append(s.overrides, e)
		} else if s.master == nil {
			s.master = e
		}
	}
	x := expander{opt: opt, zone: zone, steps: maxSteps}
	for _, s := range order {
		if err := x.series(s, &res); err != nil {
			return ParseResult{}, err
		}
	}
	res.Busy = Merge(x.out, opt.From, opt.To)
	return res, nil
}

type expander struct {
	opt   ParseOptions
	zone  *time.Location
	steps int
	total int
	out   []Interval
}

// free reports events that do not block time.
func free(e vevent) bool {
	return strings.EqualFold(e.value("TRANSP"), "TRANSPARENT") ||
		strings.EqualFold(e.value("STATUS"), "CANCELLED") ||
		strings.EqualFold(e.value("X-MICROSOFT-CDO-BUSYSTATUS"), "FREE")
}

// timing is an event's start and length.
type timing struct {
	start dtval
	// nominal length (kept in wall-clock time: all-day events, DURATION
	// in days) and exact length (DTEND - DTSTART, DURATION's time part).
	length duration
}

func (x *expander) timing(e vevent) (timing, error) {
	sp := e.get("DTSTART")
	if sp == nil {
		return timing{}, errors.New("no DTSTART")
	}
	start, err := parseDT(sp, x.zone)
	if err != nil {
		return timing{}, err
	}
	t := timing{start: start}
	switch {
	case e.get("DTEND") != nil:
		end, err := parseDT(e.get("DTEND"), x.zone)
		if err != nil {
			return timing{}, err
		}
		if start.date && end.date {
			t.length.days = int(end.wall.Sub(start.wall).Hours() / 24)
		} else if d := end.instant().Sub(start.instant()); d > 0 {
			t.length.secs = d
		}
	case e.get("DURATION") != nil:
		if t.length, err = parseDuration(e.value("DURATION")); err != nil {
			return timing{}, err
		}
	case start.date:
		t.length.days = 1
	}
	if t.length.days < 0 {
		t.length.days = 0
	}
	return t, nil
}

// instance returns the busy interval of an occurrence starting at wall.
func (t timing) instance(wall time.Time) Interval {
	s := ResolveLocal(wall, t.start.loc)
	e := s
	if t.length.days > 0 {
		e = ResolveLocal(wall.AddDate(0, 0, t.length.days), t.start.loc)
	}
	return Interval{Start: s, End: e.Add(t.length.secs)}
}

func (x *expander) add(iv Interval) error {
	if !iv.End.After(iv.Start) || !iv.End.After(x.opt.From) || !iv.Start.Before(x.opt.To) {
		return nil
	}
	x.total++
	if x.total > MaxInstancesPerFeed {
		return fmt.Errorf("%w: more than %d busy instances in the window", ErrTooLarge, MaxInstancesPerFeed)
	}
	x.out = append(x.out, iv)
	return nil
}

func (x *expander) series(s *series, res *ParseResult) error {
	// Overrides: each replaces (or, when cancelled, removes) the master's
	// occurrence at its RECURRENCE-ID.
	var moved []time.Time // RECURRENCE-ID instants
	var movedDates []time.Time
	busy := false
	for _, o := range s.overrides {
		rp := o.get("RECURRENCE-ID")
		if rid, err := parseDT(rp, x.zone); err == nil {
			moved = append(moved, rid.instant())
			if rid.date {
				movedDates = append(movedDates, rid.wall)
			}
		}
		if free(o) {
			res.Ignored++
			continue
		}
		t, err := x.timing(o)
		if err != nil {
			res.Ignored++
			continue
		}
		if err := x.add(t.instance(t.start.wall)); err != nil {
			return err
		}
		busy = true
	}
	if s.master != nil {
		ok, err := x.master(s.master, moved, movedDates, res)
		if err != nil {
			return err
		}
		busy = busy || ok
	}
	if busy {
		res.Events++
	}
	return nil
}

// dateList reads EXDATE/RDATE properties (comma-separated values). For
// RDATE;VALUE=PERIOD it also returns each period's end.
func (x *expander) dateList(e vevent, name string) (vals []dtval, ends []time.Time) {
	for i := range e {
		p := &e[i]
		if p.name != name {
			continue
		}
		isDate := strings.EqualFold(p.param("VALUE"), "DATE")
		tz := LookupZone(p.param("TZID"))
		for item := range strings.SplitSeq(p.value, ",") {
			item = strings.TrimSpace(item)
			var end time.Time
			if a, b, ok := strings.Cut(item, "/"); ok {
				item = a
				ps, err := parseDTValue(a, false, tz, x.zone)
				if err != nil {
					continue
				}
				if d, err := parseDTValue(b, false, tz, x.zone); err == nil {
					end = d.instant()
				} else if dur, err := parseDuration(b); err == nil {
					end = ResolveLocal(ps.wall.AddDate(0, 0, dur.days), ps.loc).Add(dur.secs)
				} else {
					continue
				}
			}
			v, err := parseDTValue(item, isDate || len(item) == 8, tz, x.zone)
			if err != nil {
				continue
			}
			vals = append(vals, v)
			ends = append(ends, end)
			if len(vals) > MaxInstancesPerEvent {
				return vals, ends
			}
		}
	}
	return vals, ends
}

// master expands one event with its RRULE, RDATEs and EXDATEs; moved are
// the RECURRENCE-ID instants of its overrides.
func (x *expander) master(e vevent, moved, movedDates []time.Time, res *ParseResult) (bool, error) {
	if free(e) {
		res.Ignored++
		return false, nil
	}
	t, err := x.timing(e)
	if err != nil {
		res.Ignored++
		return false, nil
	}
	exdates, _ := x.dateList(e, "EXDATE")
	excluded := func(wall time.Time) bool {
		inst := ResolveLocal(wall, t.start.loc)
		if slices.ContainsFunc(moved, inst.Equal) {
			return true
		}
		wd := time.Date(wall.Year(), wall.Month(), wall.Day(), 0, 0, 0, 0, time.UTC)
		if slices.ContainsFunc(movedDates, wd.Equal) && t.start.date {
			return true
		}
		for _, x := range exdates {
			if x.date && !t.start.date {
				if x.wall.Equal(wd) {
					return true
				}
			} else if x.instant().Equal(inst) {
				return true
			}
		}
		return false
	}
	made := false
	var addErr error
	emit := func(wall time.Time) {
		if addErr != nil || excluded(wall) {
			return
		}
		iv := t.instance(wall)
		if iv.End.After(iv.Start) {
			made = true
		}
		addErr = x.add(iv)
	}
	// The window in the event's wall clock, with a margin for the event's
	// own length and the zone's offset.
	span := time.Duration(t.length.days)*24*time.Hour + t.length.secs + 48*time.Hour
	lim := expandLimits{
		windowStart:  x.opt.From.Add(-span),
		windowEnd:    x.opt.To.Add(48 * time.Hour),
		maxInstances: MaxInstancesPerEvent,
		steps:        &x.steps,
	}
	lim.windowStart = time.Date(lim.windowStart.Year(), lim.windowStart.Month(), lim.windowStart.Day(), 0, 0, 0, 0, time.UTC)
	var rule *recur
	if rp := e.get("RRULE"); rp != nil {
		rule, err = parseRecur(rp.value, x.zone)
		if err != nil {
			res.Capped++
			rule = nil
		}
	}
	if rule == nil {
		if !t.start.wall.Before(lim.windowStart) && !t.start.wall.After(lim.windowEnd) {
			emit(t.start.wall)
		}
	} else {
		var until time.Time
		if rule.until != nil {
			until = rule.until.instant()
			if rule.until.date {
				// A DATE UNTIL includes that whole day.
				until = ResolveLocal(rule.until.wall.AddDate(0, 0, 1), t.start.loc).Add(-time.Second)
			}
		}
		r := rule.expand(t.start.wall, t.start.loc, until, lim, emit)
		if r.capped {
			res.Capped++
		}
	}
	// RDATEs add occurrences (a PERIOD brings its own end).
	rdates, ends := x.dateList(e, "RDATE")
	for i, rd := range rdates {
		wall := rd.wall
		if rd.loc != t.start.loc && !rd.date {
			// Read the RDATE in the event's clock.
			wall = ResolveLocal(rd.wall, rd.loc).In(t.start.loc)
			wall = time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, time.UTC)
		}
		if excluded(wall) {
			continue
		}
		if !ends[i].IsZero() {
			iv := Interval{Start: rd.instant(), End: ends[i]}
			if iv.End.After(iv.Start) {
				made = true
			}
			if err := x.add(iv); err != nil {
				return made, err
			}
			continue
		}
		emit(wall)
	}
	return made, addErr
}
