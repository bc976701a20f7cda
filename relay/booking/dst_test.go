package booking

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// dstCase shows the slots of one local date with the given hours.
type dstCase struct {
	date  string
	hours []Span
}

func TestSlotsAcrossDSTGolden(t *testing.T) {
	for _, z := range []struct {
		zone  string
		cases []dstCase
	}{
		{"Europe/Berlin", []dstCase{
			{"2027-03-28", []Span{{"00:30", "04:30"}}}, // 02:00–03:00 does not exist
			{"2027-10-31", []Span{{"00:30", "04:30"}}}, // 02:00–03:00 happens twice
		}},
		{"America/New_York", []dstCase{
			{"2027-03-14", []Span{{"00:30", "04:30"}}},
			{"2027-11-07", []Span{{"00:00", "03:30"}}},
		}},
	} {
		t.Run(strings.ReplaceAll(z.zone, "/", "_"), func(t *testing.T) {
			var out strings.Builder
			loc := mustLoc(z.zone)
			fmt.Fprintf(&out, "# Slots in %s, step 30 min; each line: local label, zone, UTC start–end.\n", z.zone)
			for _, c := range z.cases {
				// Three windows per date, each in its own run: the whole
				// transition, one starting in the changed hour, one ending
				// in it.
				d, _ := parseDate(c.date)
				for _, hours := range [][]Span{c.hours, {{"02:30", "04:00"}}, {{"00:00", "02:30"}}} {
					for _, dur := range []int{30, 60} {
						fmt.Fprintf(&out, "\n## %s hours %s–%s, %d min\n", c.date, hours[0].Start, hours[0].End, dur)
						for _, s := range dstSlots(t, z.zone, d, hours, dur) {
							l := s.Start.In(loc)
							fmt.Fprintf(&out, "%s %-4s %s–%s\n", l.Format("15:04"), l.Format("MST"),
								s.Start.UTC().Format("01-02T15:04Z"), s.End.UTC().Format("15:04Z"))
						}
					}
				}
			}
			golden(t, filepath.Join("testdata", "dst_"+strings.ToLower(strings.ReplaceAll(z.zone, "/", "_"))+".golden"), out.String())
		})
	}
}

// dstSlots returns the slots on local date d with only the given hours,
// and checks the invariants: no local label twice, strictly increasing
// starts, slots inside the hours.
func dstSlots(t *testing.T, zone string, d date, hours []Span, dur int) []Slot {
	t.Helper()
	loc := mustLoc(zone)
	e := newEnv(t, nil, func(o *Options) { o.SlotStepMin = 30 })
	e.clock.Set(time.Date(d.y, d.m, d.d-7, 12, 0, 0, 0, loc))
	av := Availability{TimeZone: zone, Exceptions: []Exception{{Date: d.String(), Closed: true, Hours: hours}}}
	typ := videoType(dur)
	p, typ := e.setup(advisor, av, typ)
	from := time.Date(d.y, d.m, d.d-1, 12, 0, 0, 0, loc)
	slots, err := e.svc.Slots(e.ctx, p.ID, typ.ID, from, from.Add(48*time.Hour))
	must(t, err)
	seen := map[string]bool{}
	for i, s := range slots {
		l := s.Start.In(loc)
		label := l.Format("2006-01-02 15:04")
		if seen[label] {
			t.Errorf("%s: label %s twice", zone, label)
		}
		seen[label] = true
		if dateOf(l) != d {
			t.Errorf("%s: slot on %v", zone, l)
		}
		if i > 0 && !s.Start.After(slots[i-1].Start) {
			t.Errorf("%s: starts not increasing at %v", zone, l)
		}
		if dur == 30 && i > 0 && s.Start.Before(slots[i-1].End) {
			t.Errorf("%s: slots overlap at %v", zone, l)
		}
		// The first slot and the last (when it does not overlap the
		// first) can be booked, exactly there.
		if i == 0 || (i == len(slots)-1 && !s.Start.Before(slots[0].End)) {
			if _, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: s.Start, Contact: contactN(i)}); err != nil {
				t.Errorf("%s: book slot %v: %v", zone, l, err)
			}
		}
	}
	return slots
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		must(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update after checking):\n--- got\n%s", path, got)
	}
}

// TestRepeatedHourBooksOnlyFirstOccurrence: on 2027-10-31 in Berlin the
// local time 02:30 happens twice; only the first (CEST) is a slot, and a
// booking at the second is refused.
func TestRepeatedHourBooksOnlyFirstOccurrence(t *testing.T) {
	e := newEnv(t, nil, func(o *Options) { o.SlotStepMin = 30 })
	e.clock.Set(at(2027, 10, 20, 12, 0))
	av := Availability{TimeZone: "Europe/Berlin", Exceptions: []Exception{{Date: "2027-10-31", Closed: true, Hours: []Span{{"01:00", "05:00"}}}}}
	p, typ := e.setup(advisor, av, videoType(30))
	first := time.Date(2027, 10, 31, 0, 30, 0, 0, time.UTC)  // 02:30 CEST
	second := time.Date(2027, 10, 31, 1, 30, 0, 0, time.UTC) // 02:30 CET
	_, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: second, Contact: contactN(1)})
	if err == nil {
		t.Fatal("booked the second 02:30")
	}
	e.book(p, typ, first, contactN(2))
	// Non-existent local time in spring: nothing at 02:xx.
	e.clock.Set(at(2027, 3, 20, 12, 0))
	must(t, e.svc.SetAvailability(e.ctx, advisor, advisor.UserID, Availability{TimeZone: "Europe/Berlin",
		Exceptions: []Exception{{Date: "2027-03-28", Closed: true, Hours: []Span{{"02:00", "03:00"}}}}}))
	slots, err := e.svc.Slots(e.ctx, p.ID, typ.ID, at(2027, 3, 27, 0, 0), at(2027, 3, 29, 0, 0))
	must(t, err)
	if len(slots) != 0 {
		t.Fatalf("slots in the skipped hour: %v", slots)
	}
}

func TestHorizonEdge(t *testing.T) {
	allDay := func(zone string) Availability {
		av := Availability{TimeZone: zone}
		for d := time.Sunday; d <= time.Saturday; d++ {
			av.Weekly = append(av.Weekly, WeeklyRule{Weekday: d, Span: Span{"00:00", "24:00"}})
		}
		return av
	}
	for _, c := range []struct {
		name     string
		zone     string
		now      time.Time
		lastDate string
		lastIn   time.Time // last bookable start (15-minute type)
	}{
		// 2027-03-01 + 201 days = 2027-09-18.
		{"plain", "Europe/Berlin", at(2027, 3, 1, 10, 0), "2027-09-18", at(2027, 9, 18, 23, 45)},
		// The last date is the day clocks go back (25 hours long).
		{"fall back on the last date", "Europe/Berlin", at(2027, 4, 13, 10, 0), "2027-10-31", time.Date(2027, 10, 31, 22, 45, 0, 0, time.UTC)},
		// The last date is the day clocks go forward (23 hours long).
		{"spring forward on the last date", "Europe/Berlin", at(2026, 9, 8, 10, 0), "2027-03-28", time.Date(2027, 3, 28, 21, 45, 0, 0, time.UTC)},
		// Just before local midnight: still the old local day.
		{"late evening", "Europe/Berlin", at(2027, 3, 1, 23, 59), "2027-09-18", at(2027, 9, 18, 23, 45)},
		// Just after local midnight (still 1 March in UTC): the horizon
		// moved by one day.
		{"after local midnight", "Europe/Berlin", at(2027, 3, 2, 0, 0), "2027-09-19", at(2027, 9, 19, 23, 45)},
		// New York evening is the next day in UTC; the local day counts.
		{"new york evening", "America/New_York", time.Date(2027, 3, 1, 20, 0, 0, 0, newYork), "2027-09-18", time.Date(2027, 9, 18, 23, 45, 0, 0, newYork)},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			e.clock.Set(c.now)
			p, typ := e.setup(advisor, allDay(c.zone), AppointmentType{Name: "Kurz", Kind: KindVideo, DurationMin: 15, Active: true})
			firstOut := c.lastIn.Add(15 * time.Minute)
			if _, _, err := e.svc.Hold(e.ctx, p.ID, typ.ID, c.lastIn); err != nil {
				t.Fatalf("last start inside: %v", err)
			}
			_, _, err := e.svc.Hold(e.ctx, p.ID, typ.ID, firstOut)
			var he *HorizonError
			if !errors.Is(err, ErrBeyondHorizon) || !errors.As(err, &he) || he.LastDate != c.lastDate {
				t.Fatalf("first start outside: %v", err)
			}
			if _, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: firstOut, Contact: erika}); !errors.Is(err, ErrBeyondHorizon) {
				t.Fatalf("book outside: %v", err)
			}
			slots, err := e.svc.Slots(e.ctx, p.ID, typ.ID, c.lastIn.Add(-2*time.Hour), c.lastIn.Add(48*time.Hour))
			must(t, err)
			if n := len(slots); n == 0 || !slots[n-1].Start.Equal(c.lastIn.Add(-15*time.Minute)) {
				// lastIn itself is held above.
				t.Fatalf("last slot %v, want %v", slots[len(slots)-1].Start, c.lastIn.Add(-15*time.Minute))
			}
		})
	}
}

func TestMinimumNoticeEdge(t *testing.T) {
	e := newEnv(t, nil, nil)
	typ := videoType(30)
	typ.MinNoticeMin = 60
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), typ) // now: Monday 10:00
	if _, _, err := e.svc.Hold(e.ctx, p.ID, typ.ID, at(2027, 3, 1, 10, 45)); !errors.Is(err, ErrTooSoon) {
		t.Fatalf("inside the notice: %v", err)
	}
	if _, _, err := e.svc.Hold(e.ctx, p.ID, typ.ID, at(2027, 3, 1, 11, 0)); err != nil {
		t.Fatalf("exactly at the notice: %v", err)
	}
	slots, err := e.svc.Slots(e.ctx, p.ID, typ.ID, t0.Add(-time.Hour), t0.Add(3*time.Hour))
	must(t, err)
	if len(slots) == 0 || !slots[0].Start.Equal(at(2027, 3, 1, 11, 30)) {
		t.Fatalf("first slot %v", slots)
	}
}
