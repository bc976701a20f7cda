package booking

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// loadVisible reads a booking that has not passed its retention deadline.
func (s *Service) loadVisible(tx store.Txn, id string, now time.Time) (*bookingRecord, error) {
	r, err := getBooking(tx, id)
	if err != nil {
		return nil, err
	}
	if s.expired(r, now) {
		return nil, ErrNotFound
	}
	return r, nil
}

// Get returns a booking with its details, for its advisor or an admin of
// its tenant.
func (s *Service) Get(ctx context.Context, a Actor, bookingID string) (Booking, Details, error) {
	var (
		b Booking
		d Details
	)
	err := s.kv.View(ctx, func(tx store.Txn) error {
		r, err := s.loadVisible(tx, bookingID, s.clock.Now())
		if err != nil {
			return err
		}
		if !a.may(r.TenantID, r.AdvisorID) {
			return ErrForbidden
		}
		b = r.Booking
		d, err = s.details(tx, r)
		return err
	})
	if err != nil {
		return Booking{}, Details{}, fmt.Errorf("booking: get: %w", err)
	}
	return b, d, nil
}

// List returns the advisor's bookings starting in [from, to), cancelled
// ones included, by start.
func (s *Service) List(ctx context.Context, a Actor, advisorID string, from, to time.Time) ([]Booking, error) {
	if err := checkActor(a, advisorID); err != nil {
		return nil, fmt.Errorf("booking: list: %w", err)
	}
	now := s.clock.Now()
	out := []Booking{}
	err := s.kv.View(ctx, func(tx store.Txn) error {
		p := advPrefix(a.TenantID, advisorID)
		var want []string
		if err := tx.Scan(p, func(k, _ []byte) error {
			ns, id, ok := strings.Cut(string(k[len(p):]), "/")
			if !ok || len(ns) != 20 {
				return nil
			}
			n, err := strconv.ParseInt(ns, 10, 64)
			if err != nil {
				return nil
			}
			if t := time.Unix(0, n); !t.Before(from) && t.Before(to) {
				want = append(want, id)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, id := range want {
			r, err := s.loadVisible(tx, id, now)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, r.Booking)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("booking: list: %w", err)
	}
	return out, nil
}

// ByCustomer returns the customer's bookings in the actor's tenant that the
// actor may manage (an advisor: their own; an admin: all), by start.
func (s *Service) ByCustomer(ctx context.Context, a Actor, customerID string) ([]Booking, error) {
	if !ids.ValidRef(a.TenantID) || !ids.ValidRef(a.UserID) {
		return nil, fmt.Errorf("booking: by customer: %w", invalid("actor", "malformed"))
	}
	if !ids.ValidRef(customerID) {
		return nil, fmt.Errorf("booking: by customer: %w", invalid("customer_id", "malformed"))
	}
	now := s.clock.Now()
	out := []Booking{}
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var want []string
		if err := tx.Scan(custPrefix(a.TenantID, customerID), func(k, _ []byte) error {
			want = append(want, lastSegment(k))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range want {
			r, err := s.loadVisible(tx, id, now)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if a.may(r.TenantID, r.AdvisorID) {
				out = append(out, r.Booking)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("booking: by customer: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// byToken resolves a manage token to a booking id.
func byToken(tx store.Txn, token string) (string, error) {
	hash, ok := ids.ParseToken(ManageTokenPrefix, token)
	if !ok {
		return "", ErrNotFound
	}
	id, err := tx.Get(manageKey(hash))
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNotFound
	}
	return string(id), err
}

// ByManageToken returns the booking of a manage link with its details.
func (s *Service) ByManageToken(ctx context.Context, token string) (Booking, Details, error) {
	var (
		b Booking
		d Details
	)
	err := s.kv.View(ctx, func(tx store.Txn) error {
		id, err := byToken(tx, token)
		if err != nil {
			return err
		}
		r, err := s.loadVisible(tx, id, s.clock.Now())
		if err != nil {
			return err
		}
		b = r.Booking
		d, err = s.details(tx, r)
		return err
	})
	if err != nil {
		return Booking{}, Details{}, fmt.Errorf("booking: by manage token: %w", err)
	}
	return b, d, nil
}

// who is the caller of a change: an actor, or the holder of a manage token.
type who struct {
	actor *Actor
	token string
}

// locate finds the booking a change is about and checks the caller.
func (s *Service) locate(tx store.Txn, w who, bookingID string, now time.Time) (*bookingRecord, error) {
	if w.actor == nil {
		var err error
		if bookingID, err = byToken(tx, w.token); err != nil {
			return nil, err
		}
	}
	r, err := s.loadVisible(tx, bookingID, now)
	if err != nil {
		return nil, err
	}
	if w.actor != nil && !w.actor.may(r.TenantID, r.AdvisorID) {
		return nil, ErrForbidden
	}
	if r.Status == StatusCancelled {
		return nil, ErrCancelled
	}
	if w.actor == nil && !now.Before(r.Start) {
		return nil, startedError{}
	}
	return r, nil
}

// Cancel cancels a booking for its advisor or an admin of its tenant.
func (s *Service) Cancel(ctx context.Context, a Actor, bookingID string) (Booking, error) {
	b, err := s.cancel(ctx, who{actor: &a}, bookingID)
	if err != nil {
		return Booking{}, fmt.Errorf("booking: cancel: %w", err)
	}
	return b, nil
}

// CancelByToken cancels the booking of a manage link, while the
// appointment has not started.
func (s *Service) CancelByToken(ctx context.Context, token string) (Booking, error) {
	b, err := s.cancel(ctx, who{token: token}, "")
	if err != nil {
		return Booking{}, fmt.Errorf("booking: cancel by token: %w", err)
	}
	return b, nil
}

func (s *Service) cancel(ctx context.Context, w who, bookingID string) (Booking, error) {
	now := s.clock.Now()
	var out Booking
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := s.locate(tx, w, bookingID, now)
		if err != nil {
			return err
		}
		if err := deleteDayEntries(tx, r); err != nil {
			return err
		}
		r.Status = StatusCancelled
		r.Sequence++
		r.Updated = now.UTC()
		r.CancelledBy = ByCustomer
		if w.actor != nil {
			r.CancelledBy = ByAdvisor
		}
		if err := putBooking(tx, r); err != nil {
			return err
		}
		if err := s.enqueue(tx, r, EventCancelled, now); err != nil {
			return err
		}
		out = r.Booking
		return nil
	})
	if err != nil {
		return Booking{}, err
	}
	s.log.Info("booking: cancelled", "booking_id", out.ID, "tenant_id", out.TenantID, "advisor_id", out.AdvisorID,
		"by", out.CancelledBy, "sequence", out.Sequence)
	return out, nil
}

// Reschedule moves a booking to newStart for its advisor or an admin of
// its tenant. The same rules as for BookFor apply (the minimum notice
// does not).
func (s *Service) Reschedule(ctx context.Context, a Actor, bookingID string, newStart time.Time) (Booking, error) {
	b, err := s.reschedule(ctx, who{actor: &a}, bookingID, newStart, "")
	if err != nil {
		return Booking{}, fmt.Errorf("booking: reschedule: %w", err)
	}
	return b, nil
}

// RescheduleByToken moves the booking of a manage link to newStart, while
// the appointment has not started. The same rules as for Book apply;
// holdToken is the hold on the new slot, if any.
func (s *Service) RescheduleByToken(ctx context.Context, token string, newStart time.Time, holdToken string) (Booking, error) {
	b, err := s.reschedule(ctx, who{token: token}, "", newStart, holdToken)
	if err != nil {
		return Booking{}, fmt.Errorf("booking: reschedule by token: %w", err)
	}
	return b, nil
}

func (s *Service) reschedule(ctx context.Context, w who, bookingID string, newStart time.Time, holdToken string) (Booking, error) {
	if newStart.IsZero() {
		return Booking{}, invalid("start", "required")
	}
	holdHash := ""
	if holdToken != "" {
		var ok bool
		if holdHash, ok = ids.ParseToken(HoldTokenPrefix, holdToken); !ok {
			return Booking{}, ErrHoldInvalid
		}
	}
	now := s.clock.Now()
	var (
		out  Booking
		p    spot
		prev time.Time
	)
	pass := func(tx store.Txn) (*bookingRecord, error) {
		r, err := s.locate(tx, w, bookingID, now)
		if err != nil {
			return nil, err
		}
		typ := s.typeOf(tx, r)
		if p, err = s.spotFor(tx, r.TenantID, r.AdvisorID, typ, newStart, now, w.actor != nil); err != nil {
			return nil, err
		}
		return r, nil
	}
	if err := s.kv.View(ctx, func(tx store.Txn) error { _, err := pass(tx); return err }); err != nil {
		return Booking{}, err
	}
	if err := s.busyCheck(ctx, p); err != nil {
		return Booking{}, err
	}
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := pass(tx)
		if err != nil {
			return err
		}
		ownHold := ""
		if holdHash != "" {
			if ownHold, err = s.checkHold(tx, p, holdHash, now); err != nil {
				return err
			}
		}
		if err := s.claim(tx, p, now, r.ID, ownHold); err != nil {
			return err
		}
		if ownHold != "" {
			if err := tx.Delete(append(holdPrefix(p.tenant, p.advisor), ownHold...)); err != nil {
				return err
			}
		}
		if err := deleteDayEntries(tx, r); err != nil {
			return err
		}
		if err := tx.Delete(advKey(r)); err != nil {
			return err
		}
		prev = r.Start
		r.Start, r.End, r.BlockStart, r.BlockEnd = p.start, p.end, p.blockStart, p.blockEnd
		r.TimeZone = p.sc.loc.String()
		r.Sequence++
		r.Updated = now.UTC()
		if err := putBooking(tx, r); err != nil {
			return err
		}
		if err := putIndexes(tx, r); err != nil {
			return err
		}
		if err := s.enqueue(tx, r, EventRescheduled, now); err != nil {
			return err
		}
		out = r.Booking
		return nil
	})
	if err != nil {
		return Booking{}, err
	}
	s.log.Info("booking: rescheduled", "booking_id", out.ID, "tenant_id", out.TenantID, "advisor_id", out.AdvisorID,
		"sequence", out.Sequence, "moved_by", out.Start.Sub(prev).String())
	return out, nil
}

// typeOf returns the rules a booking is moved under: its own duration and
// buffers, and the current type's notice and per-day limit (none when
// the type was deleted).
func (s *Service) typeOf(tx store.Txn, r *bookingRecord) AppointmentType {
	t, err := loadType(tx, r.TenantID, r.AdvisorID, r.TypeID, false)
	if err != nil {
		t = AppointmentType{ID: r.TypeID}
	}
	t.Kind, t.Name = r.Kind, r.TypeName
	t.DurationMin = int(r.End.Sub(r.Start) / time.Minute)
	t.BufferBeforeMin = int(r.Start.Sub(r.BlockStart) / time.Minute)
	t.BufferAfterMin = int(r.BlockEnd.Sub(r.End) / time.Minute)
	return t
}

// Notice returns a booking with its details for the notifier (no actor:
// internal use only).
func (s *Service) Notice(ctx context.Context, bookingID string) (Booking, Details, error) {
	var (
		b Booking
		d Details
	)
	err := s.kv.View(ctx, func(tx store.Txn) error {
		r, err := s.loadVisible(tx, bookingID, s.clock.Now())
		if err != nil {
			return err
		}
		b = r.Booking
		d, err = s.details(tx, r)
		return err
	})
	if err != nil {
		return Booking{}, Details{}, fmt.Errorf("booking: notice: %w", err)
	}
	return b, d, nil
}

// Current returns the booking of a notice and whether the notice is still
// current: the booking exists, its Sequence equals the notice's, and for
// a reminder it is confirmed and has not started. A job handler must skip
// a notice that is not current (a newer one was enqueued with the change
// that made it stale). A booking that no longer exists is not an error:
// the notice is just not current.
func (s *Service) Current(ctx context.Context, n Notice) (Booking, Details, bool, error) {
	b, d, err := s.Notice(ctx, n.BookingID)
	if errors.Is(err, ErrNotFound) {
		return Booking{}, Details{}, false, nil
	}
	if err != nil {
		return Booking{}, Details{}, false, err
	}
	ok := b.Sequence == n.Sequence
	if n.Event == EventReminder {
		ok = ok && b.Status == StatusConfirmed && s.clock.Now().Before(b.Start)
	}
	return b, d, ok, nil
}

// AttachMeeting records the video meeting of a booking and its join token
// (sealed with the details). It does not change the booking's Sequence.
func (s *Service) AttachMeeting(ctx context.Context, bookingID, meetingID, joinToken string) error {
	if !ids.Valid(meetingID) {
		return fmt.Errorf("booking: attach meeting: %w", invalid("meeting_id", "malformed"))
	}
	if len(joinToken) > 128 || strings.ContainsFunc(joinToken, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return fmt.Errorf("booking: attach meeting: %w", invalid("join_token", "malformed"))
	}
	now := s.clock.Now()
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := s.loadVisible(tx, bookingID, now)
		if err != nil {
			return err
		}
		d, err := s.details(tx, r)
		if err != nil {
			return err
		}
		d.JoinToken = joinToken
		r.MeetingID = meetingID
		r.Updated = now.UTC()
		if err := s.putDetails(tx, r, d); err != nil {
			return err
		}
		return putBooking(tx, r)
	})
	if err != nil {
		return fmt.Errorf("booking: attach meeting: %w", err)
	}
	s.log.Info("booking: meeting attached", "booking_id", bookingID, "meeting_id", meetingID)
	return nil
}
