package feedback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"parley/relay/customer"
	"parley/relay/ids"
	"parley/relay/store"
)

// ConsentInput is the advisor's record of the customer's consent.
type ConsentInput struct {
	// Consent must be true: the customer agreed to one feedback request.
	Consent bool
	// Lang is the language of the mail for a meeting without a booking
	// ("de" or "en"; empty: "de"). A booked meeting's mail is in the
	// booking's language.
	Lang string
}

// RecordConsent records that the customer of an ended meeting agreed to a
// feedback request (source SourceAdvisor, the actor as recorder) and, in
// the same transaction, queues the invitation mail with the
// questionnaire's link (valid Options.LinkTTL). It is for the meeting's
// advisor or an admin of its tenant, once per meeting. It fails with
// ErrNotEnded before the meeting's end, ErrNoCustomer when the meeting
// has no customer profile with an e-mail address, ErrAlreadyRequested on
// a second call, and with an *InputError when in.Consent is not set.
func (s *Service) RecordConsent(ctx context.Context, a Actor, meetingID string, in ConsentInput) (Feedback, error) {
	wrap := func(err error) (Feedback, error) { return Feedback{}, fmt.Errorf("feedback: record consent: %w", err) }
	if !in.Consent {
		return wrap(invalid("consent", "the customer's consent is required"))
	}
	if !ids.Valid(meetingID) {
		return wrap(ErrNotFound)
	}
	if !ids.ValidRef(a.TenantID) || !ids.ValidRef(a.UserID) {
		return wrap(ErrForbidden)
	}
	m, err := s.meetings.Meeting(ctx, a, meetingID)
	if err != nil {
		return wrap(err)
	}
	if !a.may(m.TenantID, m.AdvisorID) {
		return wrap(ErrForbidden)
	}
	if m.Ended.IsZero() {
		return wrap(ErrNotEnded)
	}
	if !ids.Valid(m.CustomerID) {
		return wrap(ErrNoCustomer)
	}
	lang, err := cleanLang(in.Lang, "de")
	if err != nil {
		return wrap(err)
	}
	if m.Lang != "" {
		if lang, err = cleanLang(m.Lang, "de"); err != nil {
			return wrap(err)
		}
	}
	now := s.clock.Now().UTC()
	token, hash := ids.NewToken(TokenPrefix)
	var out Feedback
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		if _, err := tx.Get(recordKey(meetingID)); err == nil {
			return ErrAlreadyRequested
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		c, err := s.profiles.ContactTx(tx, m.CustomerID)
		if errors.Is(err, customer.ErrNotFound) || errors.Is(err, customer.ErrShredded) || (err == nil && c.Email == "") {
			return ErrNoCustomer
		}
		if err != nil {
			return err
		}
		sealed, err := s.profiles.SealTx(tx, m.CustomerID, []byte(token))
		if err != nil {
			return err
		}
		r := &record{MeetingID: meetingID, TenantID: m.TenantID, AdvisorID: m.AdvisorID, CustomerID: m.CustomerID,
			Lang: lang, Consent: Consent{Given: now, Source: SourceAdvisor, RecordedBy: a.UserID},
			MeetingEnded: m.Ended.UTC(), Created: now, Expires: now.Add(s.opts.LinkTTL), TokenHash: hash, SealedToken: sealed}
		if err := putJSON(tx, recordKey(meetingID), r); err != nil {
			return err
		}
		if err := tx.Set(tokenKey(hash), []byte(meetingID)); err != nil {
			return err
		}
		if err := tx.Set(custKey(r.TenantID, r.CustomerID, meetingID), nil); err != nil {
			return err
		}
		payload, err := json.Marshal(Notice{MeetingID: meetingID})
		if err != nil {
			return err
		}
		if err := s.outbox.EnqueueTx(tx, JobInvite, payload, now); err != nil {
			return err
		}
		out = s.view(tx, r, now)
		return nil
	})
	if err != nil {
		return wrap(err)
	}
	s.log.Info("feedback: consent recorded, invitation queued", "meeting_id", meetingID, "tenant_id", m.TenantID,
		"customer_id", m.CustomerID, "recorded_by", a.UserID)
	return out, nil
}

// view is the advisor's view of r; the comment is opened with the
// customer's key (left out when that key is gone).
func (s *Service) view(tx store.Txn, r *record, now time.Time) Feedback {
	f := Feedback{MeetingID: r.MeetingID, TenantID: r.TenantID, AdvisorID: r.AdvisorID, CustomerID: r.CustomerID,
		Lang: r.Lang, Consent: r.Consent, MeetingEnded: r.MeetingEnded, Created: r.Created, Sent: r.Sent,
		Expires: r.Expires, Status: StatusInvited, Answered: r.Answered, Rating: r.Rating, DeleteAt: s.deadline(r)}
	switch {
	case !r.Answered.IsZero():
		f.Status = StatusAnswered
	case !now.Before(r.Expires):
		f.Status = StatusExpired
	}
	if len(r.SealedText) > 0 {
		if b, err := s.profiles.OpenTx(tx, r.CustomerID, r.SealedText); err == nil {
			f.Text = string(b)
		} else {
			s.log.Warn("feedback: comment unreadable", "meeting_id", r.MeetingID, "error", err)
		}
	}
	return f
}

// visible reports whether reads serve r at now: before its deadline, or
// kept by a legal hold on its customer.
func (s *Service) visible(ctx context.Context, r *record, now time.Time) bool {
	return !s.due(r, now) || s.held(ctx, r.TenantID, r.CustomerID)
}

// ForMeeting returns a meeting's feedback request with its answer, for
// the meeting's advisor or an admin of its tenant. It fails with
// ErrNotFound when the meeting has none (or it is past its deadline) and
// ErrForbidden for other actors.
func (s *Service) ForMeeting(ctx context.Context, a Actor, meetingID string) (Feedback, error) {
	wrap := func(err error) (Feedback, error) { return Feedback{}, fmt.Errorf("feedback: for meeting: %w", err) }
	if !ids.Valid(meetingID) {
		return wrap(ErrNotFound)
	}
	now := s.clock.Now()
	var out Feedback
	err := s.kv.View(ctx, func(tx store.Txn) error {
		r, err := getRecord(tx, meetingID)
		if err != nil {
			return err
		}
		if !a.may(r.TenantID, r.AdvisorID) {
			return ErrForbidden
		}
		if !s.visible(ctx, r, now) {
			return ErrNotFound
		}
		out = s.view(tx, r, now)
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		// The same answer as for a meeting the actor may not see, unless
		// the actor may manage the meeting itself.
		if _, merr := s.meetings.Meeting(ctx, a, meetingID); merr != nil {
			return wrap(merr)
		}
	}
	if err != nil {
		return wrap(err)
	}
	return out, nil
}

// ByCustomer returns the feedback of a customer in the actor's tenant that
// the actor may see (an advisor: of their own meetings; an admin: all),
// newest meeting first.
func (s *Service) ByCustomer(ctx context.Context, a Actor, customerID string) ([]Feedback, error) {
	if !ids.ValidRef(a.TenantID) || !ids.ValidRef(a.UserID) {
		return nil, fmt.Errorf("feedback: by customer: %w", ErrForbidden)
	}
	if !ids.ValidRef(customerID) {
		return nil, fmt.Errorf("feedback: by customer: %w", invalid("customer_id", "malformed"))
	}
	now := s.clock.Now()
	out := []Feedback{}
	err := s.kv.View(ctx, func(tx store.Txn) error {
		out = out[:0]
		var want []string
		if err := tx.Scan(custPrefix(a.TenantID, customerID), func(k, _ []byte) error {
			want = append(want, lastSegment(k))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range want {
			r, err := getRecord(tx, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if r.TenantID != a.TenantID || r.CustomerID != customerID || !a.may(r.TenantID, r.AdvisorID) || !s.visible(ctx, r, now) {
				continue
			}
			out = append(out, s.view(tx, r, now))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: by customer: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].MeetingEnded.After(out[j].MeetingEnded) })
	return out, nil
}

// Withdraw deletes a meeting's feedback request with its answer, for the
// meeting's advisor or an admin of its tenant: the customer withdrew
// consent. An invitation not yet sent is then not sent, and the link
// stops working. The monthly counters keep an answer already counted
// (they hold no ids).
func (s *Service) Withdraw(ctx context.Context, a Actor, meetingID string) error {
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := getRecord(tx, meetingID)
		if err != nil {
			return err
		}
		if !a.may(r.TenantID, r.AdvisorID) {
			return ErrForbidden
		}
		return deleteRecord(tx, r)
	})
	if err != nil {
		return fmt.Errorf("feedback: withdraw: %w", err)
	}
	s.log.Info("feedback: consent withdrawn, request deleted", "meeting_id", meetingID, "by", a.UserID)
	return nil
}

// Invitation returns what the invitation mail of a JobInvite job needs,
// read when the job runs. ok is false when there is nothing to send any
// more (withdrawn, answered, expired, erased): the job is then done
// without a mail.
func (s *Service) Invitation(ctx context.Context, n Notice) (Invitation, bool, error) {
	now := s.clock.Now()
	var inv Invitation
	ok := false
	err := s.kv.View(ctx, func(tx store.Txn) error {
		r, err := getRecord(tx, n.MeetingID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !r.Answered.IsZero() || !now.Before(r.Expires) || len(r.SealedToken) == 0 {
			return nil
		}
		tok, err := s.profiles.OpenTx(tx, r.CustomerID, r.SealedToken)
		if errors.Is(err, customer.ErrShredded) || errors.Is(err, customer.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		c, err := s.profiles.ContactTx(tx, r.CustomerID)
		if errors.Is(err, customer.ErrNotFound) || errors.Is(err, customer.ErrShredded) {
			return nil
		}
		if err != nil {
			return err
		}
		if c.Email == "" {
			return nil
		}
		inv = Invitation{MeetingID: r.MeetingID, TenantID: r.TenantID, AdvisorID: r.AdvisorID, Lang: r.Lang,
			Token: string(tok), Expires: r.Expires, MeetingEnded: r.MeetingEnded, Contact: c}
		ok = true
		return nil
	})
	if err != nil {
		return Invitation{}, false, fmt.Errorf("feedback: invitation: %w", err)
	}
	return inv, ok, nil
}

// MarkSent records that a meeting's invitation mail was handed to the mail
// server (shown to the advisor). A request gone meanwhile is not an error.
func (s *Service) MarkSent(ctx context.Context, meetingID string) error {
	now := s.clock.Now().UTC()
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := getRecord(tx, meetingID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if r.Sent.IsZero() {
			r.Sent = now
			return putJSON(tx, recordKey(meetingID), r)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("feedback: mark sent: %w", err)
	}
	s.log.Info("feedback: invitation sent", "meeting_id", meetingID)
	return nil
}

// byToken reads the record of a questionnaire token.
func byToken(tx store.Txn, token string) (*record, error) {
	hash, ok := ids.ParseToken(TokenPrefix, token)
	if !ok {
		return nil, ErrNotFound
	}
	id, err := tx.Get(tokenKey(hash))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r, err := getRecord(tx, string(id))
	if err != nil {
		return nil, err
	}
	if r.TokenHash != hash {
		return nil, ErrNotFound
	}
	return r, nil
}

// Questionnaire returns what the questionnaire page of a link shows. An
// answered questionnaire is returned with Answered set (the page thanks
// the customer); an expired link fails with ErrExpired, an unknown one
// (or one past its deadline) with ErrNotFound.
func (s *Service) Questionnaire(ctx context.Context, token string) (Questionnaire, error) {
	now := s.clock.Now()
	var q Questionnaire
	err := s.kv.View(ctx, func(tx store.Txn) error {
		r, err := byToken(tx, token)
		if err != nil {
			return err
		}
		if !s.visible(ctx, r, now) && !r.Answered.IsZero() {
			return ErrNotFound
		}
		if r.Answered.IsZero() && !now.Before(r.Expires) {
			return ErrExpired
		}
		q = Questionnaire{TenantID: r.TenantID, AdvisorID: r.AdvisorID, Lang: r.Lang, MeetingEnded: r.MeetingEnded,
			Expires: r.Expires, Answered: r.Answered}
		return nil
	})
	if err != nil {
		return Questionnaire{}, fmt.Errorf("feedback: questionnaire: %w", err)
	}
	return q, nil
}

// Answer stores the customer's answer to the questionnaire of a link:
// the rating (1–5) and the comment (CleanText, sealed with the customer's
// key), and counts it into the tenant's counter of the month. It works
// once, while the link is valid: ErrAnswered, ErrExpired, ErrNotFound
// otherwise. Invalid input is an *InputError and stores nothing.
func (s *Service) Answer(ctx context.Context, token string, ans Answer) error {
	if ans.Rating < 1 || ans.Rating > 5 {
		return fmt.Errorf("feedback: answer: %w", invalid("rating", "must be 1 to 5"))
	}
	text, err := CleanText(ans.Text)
	if err != nil {
		return fmt.Errorf("feedback: answer: %w", err)
	}
	now := s.clock.Now().UTC()
	var meetingID string
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := byToken(tx, token)
		if err != nil {
			return err
		}
		if !r.Answered.IsZero() {
			return ErrAnswered
		}
		if !now.Before(r.Expires) {
			return ErrExpired
		}
		r.Answered, r.Rating, r.SealedToken = now, ans.Rating, nil
		if text != "" {
			if r.SealedText, err = s.profiles.SealTx(tx, r.CustomerID, []byte(text)); err != nil {
				return err
			}
		}
		if err := putJSON(tx, recordKey(r.MeetingID), r); err != nil {
			return err
		}
		var c counter
		ck := countKey(r.TenantID, now.Format("2006-01"))
		if err := getJSON(tx, ck, &c); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		c.Answers++
		c.Sum += ans.Rating
		c.Ratings[ans.Rating-1]++
		meetingID = r.MeetingID
		return putJSON(tx, ck, c)
	})
	if err != nil {
		return fmt.Errorf("feedback: answer: %w", err)
	}
	s.log.Info("feedback: answered", "meeting_id", meetingID)
	return nil
}
