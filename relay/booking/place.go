package booking

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"parley/relay/store"
)

// spot is an appointment being placed: its advisor, type, schedule and
// time with buffers.
type spot struct {
	tenant, advisor string
	typ             AppointmentType
	sc              *schedule
	start, end      time.Time
	blockStart      time.Time // start - buffer before
	blockEnd        time.Time // end + buffer after
}

func newSpot(tenant, advisor string, typ AppointmentType, sc *schedule, start time.Time) spot {
	start = start.UTC()
	end := start.Add(time.Duration(typ.DurationMin) * time.Minute)
	return spot{tenant: tenant, advisor: advisor, typ: typ, sc: sc, start: start, end: end,
		blockStart: start.Add(-time.Duration(typ.BufferBeforeMin) * time.Minute),
		blockEnd:   end.Add(time.Duration(typ.BufferAfterMin) * time.Minute)}
}

// localDay returns the local date of the start and the absolute bounds of
// that local day.
func (p spot) localDay() (date, time.Time, time.Time) {
	d := dateOf(p.start.In(p.sc.loc))
	return d, resolve(p.sc.loc, d, 0), resolve(p.sc.loc, d, 1440)
}

// lockDates are the UTC dates whose lock keys a write of p reads and
// writes: those its buffered interval touches (so two overlapping writes
// share one) and those the local day of its start touches (so two writes
// counting the same local day for the per-day limit share one). UTC dates
// rather than local ones keep this true when the advisor changes time zone.
func (p spot) lockDates() []date {
	_, ds, de := p.localDay()
	seen := map[date]bool{}
	var out []date
	for _, d := range append(datesTouched(time.UTC, p.blockStart, p.blockEnd), datesTouched(time.UTC, ds, de)...) {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// checkTime checks p's start against the minimum notice (unless
// advisorSide), the horizon and the availability.
func (s *Service) checkTime(p spot, now time.Time, advisorSide bool) error {
	if p.start.Year() < MinYear || p.start.Year() > MaxYear {
		return invalid("start", "out of range")
	}
	if !p.start.After(now) {
		return ErrTooSoon
	}
	if !advisorSide && p.start.Before(now.Add(time.Duration(p.typ.MinNoticeMin)*time.Minute)) {
		return ErrTooSoon
	}
	if last, end := s.horizon(p.sc.loc, now); !p.start.Before(end) {
		return &HorizonError{LastDate: last.String()}
	}
	d := dateOf(p.start.In(p.sc.loc))
	dur := p.end.Sub(p.start)
	found := false
	p.sc.candidates(d, dur, s.step(), func(t time.Time) bool {
		found = t.Equal(p.start)
		return !found && !t.After(p.start)
	})
	if found {
		return nil
	}
	// Inside a window but off the grid is a malformed start; anywhere else
	// is outside the availability.
	for _, w := range p.sc.windows(d) {
		if !p.start.Before(resolve(p.sc.loc, d, w.s)) && !p.end.After(resolve(p.sc.loc, d, w.e)) {
			return invalid("start", "not aligned to a slot")
		}
	}
	return ErrOutsideAvailability
}

func (s *Service) step() time.Duration { return time.Duration(s.opts.SlotStepMin) * time.Minute }

// claim runs inside the transaction that writes p: it reads and writes
// p's lock keys, then checks that p's buffered interval overlaps no other
// confirmed booking (except excludeBooking) and no live hold (except
// ownHold), and that the type's per-day limit leaves room.
func (s *Service) claim(tx store.Txn, p spot, now time.Time, excludeBooking, ownHold string) error {
	stamp := []byte(strconv.FormatInt(now.UnixNano(), 10))
	for _, d := range p.lockDates() {
		k := lockKey(p.tenant, p.advisor, d)
		if _, err := tx.Get(k); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.Set(k, stamp); err != nil {
			return err
		}
	}
	overlaps := func(bs, be time.Time) bool { return bs.Before(p.blockEnd) && p.blockStart.Before(be) }
	for _, d := range datesTouched(time.UTC, p.blockStart, p.blockEnd) {
		err := tx.Scan(dayPrefix(p.tenant, p.advisor, d), func(k, v []byte) error {
			if lastSegment(k) == excludeBooking {
				return nil
			}
			var e dayEntry
			if err := getJSONBytes(k, v, &e); err != nil {
				return err
			}
			if overlaps(e.BlockStart, e.BlockEnd) {
				return ErrSlotTaken
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	day, ds, de := p.localDay()
	holdsOfType := 0
	err := tx.Scan(holdPrefix(p.tenant, p.advisor), func(k, v []byte) error {
		if lastSegment(k) == ownHold {
			return nil
		}
		var h holdRecord
		if err := getJSONBytes(k, v, &h); err != nil {
			return err
		}
		if !now.Before(h.Expires) {
			return nil
		}
		if overlaps(h.BlockStart, h.BlockEnd) {
			return ErrSlotTaken
		}
		if h.TypeID == p.typ.ID && dateOf(h.Start.In(p.sc.loc)) == day {
			holdsOfType++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if p.typ.PerDayLimit <= 0 {
		return nil
	}
	n, err := countDay(tx, p.tenant, p.advisor, p.typ.ID, p.sc.loc, day, ds, de, excludeBooking)
	if err != nil {
		return err
	}
	if n+holdsOfType >= p.typ.PerDayLimit {
		return ErrDayFull
	}
	return nil
}

// countDay counts the confirmed bookings of a type starting on local date
// day (whose absolute bounds are ds, de).
func countDay(tx store.Txn, tenant, advisor, typeID string, loc *time.Location, day date, ds, de time.Time, exclude string) (int, error) {
	seen := map[string]bool{}
	for _, d := range datesTouched(time.UTC, ds, de) {
		err := tx.Scan(dayPrefix(tenant, advisor, d), func(k, v []byte) error {
			id := lastSegment(k)
			if id == exclude || seen[id] {
				return nil
			}
			var e dayEntry
			if err := getJSONBytes(k, v, &e); err != nil {
				return err
			}
			if e.TypeID == typeID && dateOf(e.Start.In(loc)) == day {
				seen[id] = true
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return len(seen), nil
}

// busyCheck refuses p when it overlaps the advisor's busy times from
// synced calendars. A failing busy source fails the booking: better no
// booking than a double one.
func (s *Service) busyCheck(ctx context.Context, p spot) error {
	if s.opts.Busy == nil {
		return nil
	}
	busy, err := s.opts.Busy.Busy(ctx, p.tenant, p.advisor, p.blockStart, p.blockEnd)
	if err != nil {
		return fmt.Errorf("busy times: %w", err)
	}
	for _, b := range busy {
		if b.Start.Before(p.blockEnd) && p.blockStart.Before(b.End) {
			return ErrSlotTaken
		}
	}
	return nil
}

// putDayEntries indexes a confirmed booking under every UTC date its
// buffered interval touches.
func putDayEntries(tx store.Txn, r *bookingRecord) error {
	e := dayEntry{TypeID: r.TypeID, Start: r.Start, BlockStart: r.BlockStart, BlockEnd: r.BlockEnd}
	for _, d := range datesTouched(time.UTC, r.BlockStart, r.BlockEnd) {
		if err := putJSON(tx, append(dayPrefix(r.TenantID, r.AdvisorID, d), r.ID...), e); err != nil {
			return err
		}
	}
	return nil
}

func deleteDayEntries(tx store.Txn, r *bookingRecord) error {
	for _, d := range datesTouched(time.UTC, r.BlockStart, r.BlockEnd) {
		if err := tx.Delete(append(dayPrefix(r.TenantID, r.AdvisorID, d), r.ID...)); err != nil {
			return err
		}
	}
	return nil
}

// blocked is a sorted list of disjoint busy intervals.
type blocked []Interval

func mergeIntervals(in []Interval) blocked {
	sort.Slice(in, func(i, j int) bool { return in[i].Start.Before(in[j].Start) })
	var out blocked
	for _, x := range in {
		if !x.Start.Before(x.End) {
			continue
		}
		if n := len(out); n > 0 && !x.Start.After(out[n-1].End) {
			if x.End.After(out[n-1].End) {
				out[n-1].End = x.End
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// free reports whether [from, to) overlaps none of b.
func (b blocked) free(from, to time.Time) bool {
	i := sort.Search(len(b), func(i int) bool { return b[i].End.After(from) })
	return i == len(b) || !b[i].Start.Before(to)
}
