package meeting

import (
	"context"
	"errors"
	"fmt"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// Participant is a customer in a meeting, as the advisor sees them.
type Participant struct {
	// ID is random and stable (32 hex digits).
	ID string
	// MeetingID is the meeting.
	MeetingID string
	// Name is the name the customer gave; empty once anonymised.
	Name string
	// Phone is the optional number the customer gave ("+" and digits);
	// dropped when the meeting ends.
	Phone string
	// State is waiting, admitted, rejected, removed or ended.
	State State
	// Joined is when the customer entered the waiting room.
	Joined time.Time
	// Admitted is when the customer was admitted; zero if never.
	Admitted time.Time
	// Left is when the customer was rejected, removed or the meeting
	// ended; zero before.
	Left time.Time
}

func (p *participantRecord) public(meetingID string) Participant {
	return Participant{
		ID: p.ID, MeetingID: meetingID, Name: p.Name, Phone: p.Phone, State: p.State,
		Joined: p.Joined, Admitted: p.Admitted, Left: p.Left,
	}
}

// Joined is what Join returns to the customer.
type Joined struct {
	// Meeting is the meeting joined.
	Meeting Meeting
	// ParticipantID identifies the customer in the meeting.
	ParticipantID string
	// Secret authenticates the customer from now on
	// (ParticipantBySecret); shown once, only its digest is stored.
	Secret string
}

// Join puts a customer into the waiting room of the meeting a join token
// opens. It fails with the link errors of Resolve, an *InputError for a bad
// name, phone or IP, or ErrFull when the waiting room
// (Options.MaxWaiting) or the meeting's join budget (Options.MaxJoins) is
// full.
func (s *Service) Join(ctx context.Context, token string, req JoinRequest) (Joined, error) {
	wrap := func(err error) (Joined, error) { return Joined{}, fmt.Errorf("meeting: join: %w", err) }
	name, phone, ip, err := validateJoin(req)
	if err != nil {
		return wrap(err)
	}
	var out Joined
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		out = Joined{}
		now := s.clock.Now().UTC()
		r, err := checkLink(tx, token, now)
		if err != nil {
			return err
		}
		if r.count(StateWaiting) >= s.opts.MaxWaiting || len(r.Participants) >= s.opts.MaxJoins {
			return ErrFull
		}
		secret, hash := ids.NewToken(SecretPrefix)
		p := participantRecord{ID: ids.New(), SecretHash: hash, Name: name, Phone: phone, State: StateWaiting, Joined: now}
		r.Participants = append(r.Participants, p)
		if err := putMeeting(tx, r); err != nil {
			return err
		}
		if err := putJSON(tx, secretKey(hash), secretRecord{MeetingID: r.ID, ParticipantID: p.ID}); err != nil {
			return err
		}
		err = s.updateMeta(tx, r.ID, func(m *Metadata) {
			m.Participants = append(m.Participants, MetaParticipant{ID: p.ID, Name: name, IP: ip, Joined: now})
		})
		if err != nil {
			return err
		}
		out = Joined{Meeting: r.public(), ParticipantID: p.ID, Secret: secret}
		return nil
	})
	if err != nil {
		return wrap(err)
	}
	s.log.Info("meeting: customer joined waiting room", "meeting_id", out.Meeting.ID, "participant_id", out.ParticipantID)
	s.notes.publish([]Event{{Kind: EventJoined, MeetingID: out.Meeting.ID, ParticipantID: out.ParticipantID}})
	return out, nil
}

// change runs fn on a meeting's record, for an authorised actor, in one
// transaction; fn returns the events to publish after the commit.
func (s *Service) change(ctx context.Context, op string, actor Actor, meetingID string,
	fn func(tx store.Txn, r *meetingRecord, now time.Time) ([]Event, error)) error {
	var events []Event
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		events = nil
		r, err := getMeeting(tx, meetingID)
		if err != nil {
			return err
		}
		if err := authorize(actor, r); err != nil {
			return err
		}
		evs, err := fn(tx, r, s.clock.Now().UTC())
		if err != nil {
			return err
		}
		events = evs
		return putMeeting(tx, r)
	})
	if err != nil {
		return fmt.Errorf("meeting: %s: %w", op, err)
	}
	for _, ev := range events {
		if ev.ParticipantID != "" {
			s.log.Info("meeting: "+string(ev.Kind), "meeting_id", meetingID, "participant_id", ev.ParticipantID, "user_id", actor.UserID)
		} else {
			s.log.Info("meeting: "+string(ev.Kind), "meeting_id", meetingID, "user_id", actor.UserID)
		}
	}
	s.notes.publish(events)
	return nil
}

// participantIn finds a participant of r in state want.
func participantIn(r *meetingRecord, participantID string, want State) (*participantRecord, error) {
	if r.Status == StatusEnded {
		return nil, ErrMeetingEnded
	}
	p := r.participant(participantID)
	if p == nil {
		return nil, ErrNotFound
	}
	if p.State != want {
		return nil, fmt.Errorf("%s, not %s: %w", p.State, want, ErrWrongState)
	}
	return p, nil
}

// Admit lets a waiting customer into the meeting, which starts it if it
// had not started. The first admission sets the metadata's first customer
// entry. It fails with ErrNotFound, ErrForbidden, ErrMeetingEnded,
// ErrWrongState (not waiting) or ErrFull (Options.MaxParticipants
// customers admitted).
func (s *Service) Admit(ctx context.Context, actor Actor, meetingID, participantID string) error {
	return s.change(ctx, "admit", actor, meetingID, func(tx store.Txn, r *meetingRecord, now time.Time) ([]Event, error) {
		p, err := participantIn(r, participantID, StateWaiting)
		if err != nil {
			return nil, err
		}
		if r.count(StateAdmitted) >= s.opts.MaxParticipants {
			return nil, ErrFull
		}
		p.State, p.Admitted = StateAdmitted, now
		var events []Event
		if r.Status == StatusScheduled {
			if err := s.markStarted(tx, r, now); err != nil {
				return nil, err
			}
			events = append(events, Event{Kind: EventStarted, MeetingID: r.ID})
		}
		err = s.updateMeta(tx, r.ID, func(m *Metadata) {
			if m.FirstCustomerEntry.IsZero() {
				m.FirstCustomerEntry = now
			}
			for i := range m.Participants {
				if m.Participants[i].ID == participantID && m.Participants[i].Admitted.IsZero() {
					m.Participants[i].Admitted = now
				}
			}
		})
		if err != nil {
			return nil, err
		}
		return append(events, Event{Kind: EventAdmitted, MeetingID: r.ID, ParticipantID: participantID}), nil
	})
}

// Reject turns a waiting customer away; their secret then reports
// StateRejected. It fails with ErrNotFound, ErrForbidden, ErrMeetingEnded
// or ErrWrongState (not waiting).
func (s *Service) Reject(ctx context.Context, actor Actor, meetingID, participantID string) error {
	return s.change(ctx, "reject", actor, meetingID, func(_ store.Txn, r *meetingRecord, now time.Time) ([]Event, error) {
		p, err := participantIn(r, participantID, StateWaiting)
		if err != nil {
			return nil, err
		}
		p.State, p.Left = StateRejected, now
		return []Event{{Kind: EventRejected, MeetingID: r.ID, ParticipantID: participantID}}, nil
	})
}

// Remove takes an admitted customer out of the meeting; their secret then
// reports StateRemoved for good (to come back they need the join link and
// the advisor's admission again). It fails with ErrNotFound, ErrForbidden,
// ErrMeetingEnded or ErrWrongState (not admitted).
func (s *Service) Remove(ctx context.Context, actor Actor, meetingID, participantID string) error {
	return s.change(ctx, "remove", actor, meetingID, func(_ store.Txn, r *meetingRecord, now time.Time) ([]Event, error) {
		p, err := participantIn(r, participantID, StateAdmitted)
		if err != nil {
			return nil, err
		}
		p.State, p.Left = StateRemoved, now
		return []Event{{Kind: EventRemoved, MeetingID: r.ID, ParticipantID: participantID}}, nil
	})
}

// Leave lets the customer holding secret leave the waiting room or the
// meeting; their secret then reports StateLeft for good (to come back they
// join again through the link). Leaving twice, or after being turned away,
// removed or the meeting's end, changes nothing. It fails with
// ErrSecretInvalid for a malformed, forged or unknown secret.
func (s *Service) Leave(ctx context.Context, secret string) error {
	hash, ok := ids.ParseToken(SecretPrefix, secret)
	if !ok {
		return fmt.Errorf("meeting: leave: malformed secret: %w", ErrSecretInvalid)
	}
	var events []Event
	var meetingID string
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		events = nil
		r, p, err := bySecret(tx, hash)
		if err != nil {
			return err
		}
		meetingID = r.ID
		if r.Status == StatusEnded || (p.State != StateWaiting && p.State != StateAdmitted) {
			return nil
		}
		p.State, p.Left = StateLeft, s.clock.Now().UTC()
		events = []Event{{Kind: EventLeft, MeetingID: r.ID, ParticipantID: p.ID}}
		return putMeeting(tx, r)
	})
	if err != nil {
		return fmt.Errorf("meeting: leave: %w", err)
	}
	for _, ev := range events {
		s.log.Info("meeting: left", "meeting_id", meetingID, "participant_id", ev.ParticipantID)
	}
	s.notes.publish(events)
	return nil
}

// End ends a meeting: everyone waiting or admitted is out (StateEnded),
// the join link and every participant secret stop working, phone numbers
// are dropped, and the metadata gets its end and duration. Ending an ended
// meeting does nothing. It fails with ErrNotFound or ErrForbidden.
func (s *Service) End(ctx context.Context, actor Actor, meetingID string) error {
	return s.change(ctx, "end", actor, meetingID, func(tx store.Txn, r *meetingRecord, now time.Time) ([]Event, error) {
		if r.Status == StatusEnded {
			return nil, nil
		}
		r.Status, r.Ended = StatusEnded, now
		for i := range r.Participants {
			p := &r.Participants[i]
			if p.State == StateWaiting || p.State == StateAdmitted {
				p.State, p.Left = StateEnded, now
			}
			p.Phone = ""
		}
		err := s.updateMeta(tx, r.ID, func(m *Metadata) {
			m.Ended = now
			if !m.Started.IsZero() {
				m.Duration = now.Sub(m.Started)
			}
		})
		if err != nil {
			return nil, err
		}
		return []Event{{Kind: EventEnded, MeetingID: r.ID}}, nil
	})
}

// Participants lists every customer of a meeting, in join order, for its
// advisor or an admin of its tenant. It fails with ErrNotFound or
// ErrForbidden.
func (s *Service) Participants(ctx context.Context, actor Actor, meetingID string) ([]Participant, error) {
	return s.list(ctx, "participants", actor, meetingID, "")
}

// Waiting lists the customers in a meeting's waiting room, in join order,
// for its advisor or an admin of its tenant. It fails with ErrNotFound or
// ErrForbidden.
func (s *Service) Waiting(ctx context.Context, actor Actor, meetingID string) ([]Participant, error) {
	return s.list(ctx, "waiting", actor, meetingID, StateWaiting)
}

func (s *Service) list(ctx context.Context, op string, actor Actor, meetingID string, only State) ([]Participant, error) {
	var out []Participant
	var meta *Metadata
	err := s.kv.View(ctx, func(tx store.Txn) error {
		out, meta = nil, nil
		r, err := getMeeting(tx, meetingID)
		if err != nil {
			return err
		}
		if err := authorize(actor, r); err != nil {
			return err
		}
		for i := range r.Participants {
			if only == "" || r.Participants[i].State == only {
				out = append(out, r.Participants[i].public(r.ID))
			}
		}
		meta, err = getMeta(tx, meetingID)
		if errors.Is(err, ErrNotFound) {
			meta, err = nil, nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("meeting: %s: %w", op, err)
	}
	if meta != nil {
		due, err := s.metaExpired(ctx, meta)
		if err != nil {
			return nil, fmt.Errorf("meeting: %s: %w", op, err)
		}
		if due {
			for i := range out {
				out[i].Name, out[i].Phone = "", ""
			}
		}
	}
	return out, nil
}

// Customer is what ParticipantBySecret tells the signalling layer about
// the holder of a participant secret.
type Customer struct {
	// Participant is the customer; its State is StateEnded for everyone
	// once the meeting has ended. Only StateAdmitted may take part in the
	// meeting's media and chat; StateWaiting may only wait.
	Participant Participant
	// Meeting is the customer's meeting.
	Meeting Meeting
}

// ParticipantBySecret authenticates a customer by their participant secret
// and tells their current state. It fails with ErrSecretInvalid for a
// malformed, forged or unknown secret (and for secrets of meetings whose
// data has been anonymised); a rejected, removed or ended participant is
// not an error but a state.
func (s *Service) ParticipantBySecret(ctx context.Context, secret string) (Customer, error) {
	hash, ok := ids.ParseToken(SecretPrefix, secret)
	if !ok {
		return Customer{}, fmt.Errorf("meeting: participant by secret: malformed secret: %w", ErrSecretInvalid)
	}
	var c Customer
	err := s.kv.View(ctx, func(tx store.Txn) error {
		r, p, err := bySecret(tx, hash)
		if err != nil {
			return err
		}
		c = Customer{Participant: p.public(r.ID), Meeting: r.public()}
		if r.Status == StatusEnded {
			c.Participant.State = StateEnded
		}
		return nil
	})
	if err != nil {
		return Customer{}, fmt.Errorf("meeting: participant by secret: %w", err)
	}
	return c, nil
}

// bySecret finds the meeting and participant a secret's digest belongs to,
// or ErrSecretInvalid.
func bySecret(tx store.Txn, hash string) (*meetingRecord, *participantRecord, error) {
	var sr secretRecord
	err := getJSON(tx, secretKey(hash), &sr)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrSecretInvalid
	}
	if err != nil {
		return nil, nil, err
	}
	r, err := getMeeting(tx, sr.MeetingID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrSecretInvalid
	}
	if err != nil {
		return nil, nil, err
	}
	p := r.participant(sr.ParticipantID)
	if p == nil || p.SecretHash != hash {
		return nil, nil, ErrSecretInvalid
	}
	return r, p, nil
}
