package meeting

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// CreateInstant creates an instant meeting, whose join link works from now
// for Options.InstantLinkTTL. It returns the meeting and its join token;
// the token is shown once (only its digest is stored). The caller (the API
// layer) authorises the creation.
func (s *Service) CreateInstant(ctx context.Context, nm NewMeeting) (Meeting, string, error) {
	return s.create(ctx, TypeInstant, nm)
}

// CreateBooked creates a booked meeting starting at nm.ScheduledStart,
// whose join link works from Options.BookedOpenBefore before the start
// until Options.BookedExpireAfter after it. It returns the meeting and its
// join token, shown once. A start whose link would already have expired is
// an *InputError.
func (s *Service) CreateBooked(ctx context.Context, nm NewMeeting) (Meeting, string, error) {
	return s.create(ctx, TypeBooked, nm)
}

func (s *Service) create(ctx context.Context, typ Type, nm NewMeeting) (Meeting, string, error) {
	wrap := func(err error) (Meeting, string, error) {
		return Meeting{}, "", fmt.Errorf("meeting: create %s: %w", typ, err)
	}
	if !ids.ValidRef(nm.TenantID) {
		return wrap(&InputError{Field: "tenant_id", Msg: "malformed"})
	}
	if !ids.ValidRef(nm.AdvisorID) {
		return wrap(&InputError{Field: "advisor_id", Msg: "malformed"})
	}
	initiator := nm.Initiator
	if initiator == "" {
		initiator = nm.AdvisorID
	}
	if !ids.ValidRef(initiator) {
		return wrap(&InputError{Field: "initiator", Msg: "malformed"})
	}
	if nm.CustomerID != "" && !ids.Valid(nm.CustomerID) {
		return wrap(&InputError{Field: "customer_id", Msg: "malformed"})
	}
	title, err := cleanText("title", nm.Title, maxTextRunes, false)
	if err != nil {
		return wrap(err)
	}
	advisorName, err := cleanText("advisor_name", nm.AdvisorName, maxTextRunes, false)
	if err != nil {
		return wrap(err)
	}
	now := s.clock.Now().UTC()
	r := &meetingRecord{
		ID: ids.New(), TenantID: nm.TenantID, AdvisorID: nm.AdvisorID, CustomerID: nm.CustomerID, Type: typ,
		Status: StatusScheduled, Title: title, Created: now,
	}
	switch typ {
	case TypeInstant:
		r.LinkOpensAt, r.LinkExpiresAt = now, now.Add(s.opts.InstantLinkTTL)
	case TypeBooked:
		if nm.ScheduledStart.IsZero() {
			return wrap(&InputError{Field: "start", Msg: "required for a booked meeting"})
		}
		r.ScheduledStart = nm.ScheduledStart.UTC()
		r.LinkOpensAt = r.ScheduledStart.Add(-s.opts.BookedOpenBefore)
		r.LinkExpiresAt = r.ScheduledStart.Add(s.opts.BookedExpireAfter)
		if !now.Before(r.LinkExpiresAt) {
			return wrap(&InputError{Field: "start", Msg: "too far in the past"})
		}
	}
	token, hash := ids.NewToken(JoinTokenPrefix)
	r.LinkHash = hash
	meta := &Metadata{
		MeetingID: r.ID, TenantID: r.TenantID, Type: typ, Initiator: initiator,
		AdvisorID: r.AdvisorID, AdvisorName: advisorName, Created: now, LinkExpiresAt: r.LinkExpiresAt,
	}
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		if err := putMeeting(tx, r); err != nil {
			return err
		}
		if err := tx.Set(linkKey(hash), []byte(r.ID)); err != nil {
			return err
		}
		if err := tx.Set(advisorKey(r), nil); err != nil {
			return err
		}
		if r.CustomerID != "" {
			if err := tx.Set(customerKey(r), nil); err != nil {
				return err
			}
		}
		return putJSON(tx, metaKey(r.ID), meta)
	})
	if err != nil {
		return wrap(err)
	}
	s.log.Info("meeting: created", "meeting_id", r.ID, "tenant_id", r.TenantID, "advisor_id", r.AdvisorID, "type", string(typ))
	return r.public(), token, nil
}

// List returns up to limit (1–200) of the actor's own meetings as their
// advisor, newest first.
func (s *Service) List(ctx context.Context, actor Actor, limit int) ([]Meeting, error) {
	if limit < 1 || limit > 200 {
		limit = 200
	}
	if !ids.ValidRef(actor.TenantID) || !ids.ValidRef(actor.UserID) {
		return nil, fmt.Errorf("meeting: list: %w", &InputError{Field: "actor", Msg: "malformed"})
	}
	var out []Meeting
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var ids []string
		if err := tx.Scan(advisorPrefix(actor.TenantID, actor.UserID), func(k, _ []byte) error {
			ids = append(ids, string(k[strings.LastIndexByte(string(k), '/')+1:]))
			return nil
		}); err != nil {
			return err
		}
		for i := len(ids) - 1; i >= 0 && len(out) < limit; i-- {
			r, err := getMeeting(tx, ids[i])
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, r.public())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("meeting: list: %w", err)
	}
	return out, nil
}

// ByCustomer returns up to limit (1–200) of the meetings held with a
// customer of the actor's tenant, newest first. Any advisor of the tenant
// may see a customer's history, as with customer profiles.
func (s *Service) ByCustomer(ctx context.Context, actor Actor, customerID string, limit int) ([]Meeting, error) {
	if limit < 1 || limit > 200 {
		limit = 200
	}
	if !ids.ValidRef(actor.TenantID) || !ids.Valid(customerID) {
		return nil, fmt.Errorf("meeting: by customer: %w", &InputError{Field: "customer_id", Msg: "malformed"})
	}
	var out []Meeting
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var mids []string
		if err := tx.Scan(customerPrefix(actor.TenantID, customerID), func(k, _ []byte) error {
			mids = append(mids, string(k[strings.LastIndexByte(string(k), '/')+1:]))
			return nil
		}); err != nil {
			return err
		}
		for i := len(mids) - 1; i >= 0 && len(out) < limit; i-- {
			r, err := getMeeting(tx, mids[i])
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if r.TenantID == actor.TenantID {
				out = append(out, r.public())
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("meeting: by customer: %w", err)
	}
	return out, nil
}

// authorize checks that actor may manage the meeting.
func authorize(actor Actor, r *meetingRecord) error {
	if actor.TenantID == "" || actor.TenantID != r.TenantID {
		return ErrForbidden
	}
	if actor.Admin || (actor.UserID != "" && actor.UserID == r.AdvisorID) {
		return nil
	}
	return ErrForbidden
}

// Get returns a meeting for its advisor or an admin of its tenant. It
// fails with ErrNotFound or ErrForbidden.
func (s *Service) Get(ctx context.Context, actor Actor, meetingID string) (Meeting, error) {
	var m Meeting
	err := s.kv.View(ctx, func(tx store.Txn) error {
		r, err := getMeeting(tx, meetingID)
		if err != nil {
			return err
		}
		if err := authorize(actor, r); err != nil {
			return err
		}
		m = r.public()
		return nil
	})
	if err != nil {
		return Meeting{}, fmt.Errorf("meeting: get: %w", err)
	}
	return m, nil
}

// checkLink returns the meeting a join token opens at now, or the reason it
// does not: ErrLinkInvalid, ErrMeetingEnded, *NotYetOpenError or
// ErrLinkExpired (in that order of precedence).
func checkLink(tx store.Txn, token string, now time.Time) (*meetingRecord, error) {
	hash, ok := ids.ParseToken(JoinTokenPrefix, token)
	if !ok {
		return nil, fmt.Errorf("malformed token: %w", ErrLinkInvalid)
	}
	id, err := tx.Get(linkKey(hash))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrLinkInvalid
	}
	if err != nil {
		return nil, err
	}
	r, err := getMeeting(tx, string(id))
	if errors.Is(err, ErrNotFound) {
		return nil, ErrLinkInvalid
	}
	if err != nil {
		return nil, err
	}
	if r.LinkHash != hash {
		return nil, ErrLinkInvalid
	}
	if r.Status == StatusEnded {
		return nil, ErrMeetingEnded
	}
	if now.Before(r.LinkOpensAt) {
		return nil, &NotYetOpenError{OpensAt: r.LinkOpensAt}
	}
	if !now.Before(r.LinkExpiresAt) {
		return nil, ErrLinkExpired
	}
	return r, nil
}

// Resolve returns the meeting a join token opens. It fails with
// ErrLinkInvalid (malformed, forged, unknown or revoked token),
// ErrMeetingEnded, a *NotYetOpenError (matching ErrLinkNotYetOpen) that
// says when the link opens, or ErrLinkExpired, so that the customer page
// can say which.
func (s *Service) Resolve(ctx context.Context, token string) (Meeting, error) {
	now := s.clock.Now()
	var m Meeting
	err := s.kv.View(ctx, func(tx store.Txn) error {
		r, err := checkLink(tx, token, now)
		if err != nil {
			return err
		}
		m = r.public()
		return nil
	})
	if err != nil {
		return Meeting{}, fmt.Errorf("meeting: resolve link: %w", err)
	}
	return m, nil
}

// RotateLink revokes a meeting's join link and returns a new token with the
// same validity window; the old token fails with ErrLinkInvalid from now
// on. Participants already joined keep their secrets. It fails with
// ErrNotFound, ErrForbidden or ErrMeetingEnded.
func (s *Service) RotateLink(ctx context.Context, actor Actor, meetingID string) (string, error) {
	var token string
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := getMeeting(tx, meetingID)
		if err != nil {
			return err
		}
		if err := authorize(actor, r); err != nil {
			return err
		}
		if r.Status == StatusEnded {
			return ErrMeetingEnded
		}
		if r.LinkHash != "" {
			if err := tx.Delete(linkKey(r.LinkHash)); err != nil {
				return err
			}
		}
		var hash string
		token, hash = ids.NewToken(JoinTokenPrefix)
		r.LinkHash = hash
		if err := tx.Set(linkKey(hash), []byte(r.ID)); err != nil {
			return err
		}
		return putMeeting(tx, r)
	})
	if err != nil {
		return "", fmt.Errorf("meeting: rotate link: %w", err)
	}
	s.log.Info("meeting: link rotated", "meeting_id", meetingID, "user_id", actor.UserID)
	s.notes.publish([]Event{{Kind: EventLinkRotated, MeetingID: meetingID}})
	return token, nil
}

// Start marks a meeting open (the advisor has entered it). Starting an
// open meeting does nothing. It fails with ErrNotFound, ErrForbidden or
// ErrMeetingEnded.
func (s *Service) Start(ctx context.Context, actor Actor, meetingID string) (Meeting, error) {
	var m Meeting
	var started bool
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		started = false
		r, err := getMeeting(tx, meetingID)
		if err != nil {
			return err
		}
		if err := authorize(actor, r); err != nil {
			return err
		}
		if r.Status == StatusEnded {
			return ErrMeetingEnded
		}
		if r.Status == StatusScheduled {
			started = true
			if err := s.markStarted(tx, r, s.clock.Now().UTC()); err != nil {
				return err
			}
			if err := putMeeting(tx, r); err != nil {
				return err
			}
		}
		m = r.public()
		return nil
	})
	if err != nil {
		return Meeting{}, fmt.Errorf("meeting: start: %w", err)
	}
	if started {
		s.log.Info("meeting: started", "meeting_id", meetingID, "user_id", actor.UserID)
		s.notes.publish([]Event{{Kind: EventStarted, MeetingID: meetingID}})
	}
	return m, nil
}

// markStarted sets a scheduled meeting open, in its record (not yet
// written) and its metadata (written).
func (s *Service) markStarted(tx store.Txn, r *meetingRecord, now time.Time) error {
	if r.Status != StatusScheduled {
		return nil
	}
	r.Status, r.Started = StatusOpen, now
	return s.updateMeta(tx, r.ID, func(m *Metadata) { m.Started = now })
}

// updateMeta applies fn to a meeting's metadata record inside tx. A
// missing record (which should not happen) is recreated from nothing but
// the meeting id rather than failing the meeting's operation.
func (s *Service) updateMeta(tx store.Txn, meetingID string, fn func(*Metadata)) error {
	m, err := getMeta(tx, meetingID)
	if errors.Is(err, ErrNotFound) {
		m = &Metadata{MeetingID: meetingID}
	} else if err != nil {
		return err
	}
	fn(m)
	return putJSON(tx, metaKey(meetingID), m)
}
