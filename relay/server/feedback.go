package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"parley/relay/auth"
	"parley/relay/booking"
	"parley/relay/feedback"
	"parley/relay/meeting"
	"parley/relay/notify"
	"parley/relay/outbox"
	"parley/relay/privacy"
	"parley/relay/retention"
)

// feedbackMeetings adapts the meetings service to feedback: the meeting
// for an actor (its advisor or an admin), with the language of the
// booking it was made for, if any.
type feedbackMeetings struct {
	meetings *meeting.Service
	booking  *booking.Service // nil: no bookings
}

func (f feedbackMeetings) Meeting(ctx context.Context, a feedback.Actor, meetingID string) (feedback.MeetingInfo, error) {
	m, err := f.meetings.Get(ctx, meeting.Actor{TenantID: a.TenantID, UserID: a.UserID, Admin: a.Admin}, meetingID)
	switch {
	case errors.Is(err, meeting.ErrNotFound):
		return feedback.MeetingInfo{}, feedback.ErrNotFound
	case errors.Is(err, meeting.ErrForbidden):
		return feedback.MeetingInfo{}, feedback.ErrForbidden
	case err != nil:
		return feedback.MeetingInfo{}, err
	}
	info := feedback.MeetingInfo{ID: m.ID, TenantID: m.TenantID, AdvisorID: m.AdvisorID, CustomerID: m.CustomerID, Ended: m.Ended}
	if f.booking != nil && m.CustomerID != "" && m.Type == meeting.TypeBooked {
		bs, err := f.booking.ByCustomer(ctx, booking.Actor{TenantID: m.TenantID, UserID: privacyActor, Admin: true}, m.CustomerID)
		if err != nil {
			return feedback.MeetingInfo{}, err
		}
		for _, b := range bs {
			if b.MeetingID == m.ID {
				info.Lang = b.Lang
			}
		}
	}
	return info, nil
}

// feedbackMail turns feedback.JobInvite jobs into the invitation mail: it
// reads the request when the job runs (the payload holds the meeting id
// only) and renders the mail in the request's language.
type feedbackMail struct {
	svc       *feedback.Service
	auth      *auth.Service
	mailer    notify.Mailer
	publicURL string
	from      string
	log       *slog.Logger
}

func (n *feedbackMail) invite(ctx context.Context, j outbox.Job) error {
	var no feedback.Notice
	if err := json.Unmarshal(j.Payload, &no); err != nil {
		return fmt.Errorf("feedback job %s: %w", j.ID, outbox.ErrPermanent)
	}
	inv, ok, err := n.svc.Invitation(ctx, no)
	if err != nil {
		return fmt.Errorf("feedback job %s: %w", j.ID, err)
	}
	if !ok {
		return nil // withdrawn, answered, expired or erased since
	}
	d := notify.FeedbackInvitation{From: n.from, CustomerEmail: inv.Contact.Email,
		CustomerName: strings.TrimSpace(inv.Contact.FirstName + " " + inv.Contact.LastName),
		MeetingEnded: inv.MeetingEnded, Expires: inv.Expires, URL: n.publicURL + "/f/" + inv.Token}
	if u, err := n.auth.GetUser(ctx, inv.TenantID, inv.AdvisorID); err == nil {
		d.AdvisorName = u.DisplayName
	}
	if t, err := n.auth.TenantByID(ctx, inv.TenantID); err == nil {
		d.TenantName = t.Name
	}
	m, err := notify.FeedbackInvitationMail(inv.Lang, d)
	if err != nil {
		return fmt.Errorf("feedback job %s: %w: %w", j.ID, err, outbox.ErrPermanent)
	}
	m.MessageID = j.ID + "@" + domainOf(n.from)
	if err := n.mailer.Send(ctx, m); err != nil {
		return fmt.Errorf("feedback job %s: %w", j.ID, err)
	}
	n.log.Info("feedback: invitation mailed", "meeting_id", inv.MeetingID, "job_id", j.ID)
	return n.svc.MarkSent(ctx, inv.MeetingID)
}

// startFeedback builds the feedback questionnaire over the meetings,
// bookings, customer profiles and the outbox (startBooking runs first),
// with the privacy engine's period and holds, and routes its invitation
// jobs to mail.
func (s *Server) startFeedback(opts Options, meetings *meeting.Service) error {
	log := s.log.With("component", "feedback")
	var err error
	s.feedback, err = feedback.New(feedback.Options{Store: s.store, Clock: s.clock, Logger: log,
		Meetings: feedbackMeetings{meetings: meetings, booking: s.booking}, Profiles: s.customers, Outbox: s.outbox,
		Retention: periodOf(s.retention, retention.ClassFeedback, feedback.DefaultRetention),
		Held: func(ctx context.Context, tenantID, customerID string) bool {
			return s.retention.Held(ctx, tenantID, retention.SubjectCustomer, customerID)
		}})
	if err != nil {
		return fmt.Errorf("server: feedback: %w", err)
	}
	mailer := opts.Mail.Mailer
	if mailer == nil {
		if mailer, err = newMailer(opts.Mail, s.clock, log); err != nil {
			return err
		}
	}
	base := strings.TrimRight(opts.PublicURL, "/")
	if base == "" {
		base = "https://" + s.Addr()
	}
	from := opts.Mail.From
	if from == "" {
		host := strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://")
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		from = "parley@" + host
	}
	n := &feedbackMail{svc: s.feedback, auth: s.auth, mailer: mailer, publicURL: base, from: from, log: log}
	s.outbox.Handle(feedback.JobInvite, n.invite)
	return nil
}

// sweepFeedback deletes feedback answers 180 days (or the tenant's
// period) after the answer and unanswered requests at their link's
// expiry; a hold on the customer keeps them.
func (sw *sweeper) sweepFeedback(ctx context.Context, now time.Time) error {
	if sw.feedback == nil {
		return nil
	}
	st, err := sw.feedback.SweepExpired(ctx, now, sw.customerHeld(ctx))
	return sw.recordDelete(ctx, retention.ClassFeedback, now, st.Due, st.Deleted, st.Failed, err, "feedback")
}

// feedbackPart is a customer's feedback (class feedback).
type feedbackPart struct{ svc *feedback.Service }

func (feedbackPart) Name() string { return "feedback" }

func (p feedbackPart) Export(ctx context.Context, tenantID, customerID string, add privacy.AddFunc) error {
	fs, err := p.svc.ExportCustomer(ctx, tenantID, customerID)
	if err != nil {
		return err
	}
	return addJSON(add, "feedback.json", fs)
}

func (p feedbackPart) Erase(ctx context.Context, tenantID, customerID string) (int, error) {
	return p.svc.EraseCustomer(ctx, tenantID, customerID)
}
