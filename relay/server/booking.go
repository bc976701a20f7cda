package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"parley/relay/auth"
	"parley/relay/booking"
	"parley/relay/calsync"
	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/meeting"
	"parley/relay/notify"
	"parley/relay/outbox"
	"parley/relay/retention"
)

// MailOptions configures how the relay sends booking mails.
type MailOptions struct {
	// SMTPAddr is the submission server's host:port; empty sends nothing
	// (mails wait in the outbox until a server is configured, and go to
	// its dead letters after the outbox's attempts).
	SMTPAddr string
	// TLS is "mandatory" (default: STARTTLS required), "tls" (implicit
	// TLS), "opportunistic" or "none" (loopback servers only).
	TLS string
	// Username and Password authenticate at the server (optional).
	Username, Password string
	// From is the sender address; default "parley@" the public URL's host.
	From string
	// Mailer replaces SMTP entirely (tests); nil uses SMTPAddr.
	Mailer notify.Mailer
	// SMS sends text messages (reminders to customers with a mobile
	// number); nil sends none.
	SMS notify.SMSSender
}

// newMailer builds the SMTP mailer from opts, or one that keeps every
// mail pending when no server is configured.
func newMailer(opts MailOptions, clk clock.Clock, log *slog.Logger) (notify.Mailer, error) {
	if opts.Mailer != nil {
		return opts.Mailer, nil
	}
	if opts.SMTPAddr == "" {
		log.Warn("no SMTP server configured (--smtp): booking mails wait in the outbox")
		return noMailer{}, nil
	}
	host, port, err := net.SplitHostPort(opts.SMTPAddr)
	if err != nil {
		return nil, fmt.Errorf("server: SMTP address %q: %w", opts.SMTPAddr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("server: SMTP port %q: %w", port, err)
	}
	tlsMode := map[string]string{"": notify.TLSMandatory, "mandatory": notify.TLSMandatory, "tls": notify.TLSImplicit,
		"opportunistic": notify.TLSOpportunistic, "none": notify.TLSNone}[opts.TLS]
	if tlsMode == "" {
		return nil, fmt.Errorf("server: SMTP TLS mode %q is not one of mandatory, tls, opportunistic, none", opts.TLS)
	}
	return notify.NewSMTP(notify.SMTPOptions{Host: host, Port: p, Username: opts.Username, Password: opts.Password,
		TLS: tlsMode, Clock: clk, Logger: log.With("component", "smtp")})
}

// errNoMailer keeps mail jobs pending while no SMTP server is configured.
var errNoMailer = errors.New("no SMTP server configured")

type noMailer struct{}

func (noMailer) Send(context.Context, notify.Mail) error { return errNoMailer }

// periodOf is a data class's retention period per tenant from the privacy
// engine, for the domain services' read filters; the default when the
// policy cannot be read.
func periodOf(p *retention.Policy, class string, def time.Duration) func(string) time.Duration {
	return func(tenantID string) time.Duration {
		r, err := p.Effective(context.Background(), tenantID, class)
		if err != nil || r.Period <= 0 {
			return def
		}
		return r.Period
	}
}

// busySource adapts calendar sync to booking.
type busySource struct{ c *calsync.Service }

func (b busySource) Busy(ctx context.Context, tenantID, advisorID string, from, to time.Time) ([]booking.Interval, error) {
	iv, err := b.c.Busy(ctx, tenantID, advisorID, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]booking.Interval, len(iv))
	for i, x := range iv {
		out[i] = booking.Interval{Start: x.Start, End: x.End}
	}
	return out, nil
}

// bookingMail turns the booking service's outbox jobs into mails: it reads
// the booking when the job runs (the payload holds ids only, so no
// personal data waits in the queue), creates the video meeting the first
// time one is needed, and renders the mail in the customer's language.
type bookingMail struct {
	booking   *booking.Service
	meetings  *meeting.Service
	auth      *auth.Service
	mailer    notify.Mailer
	sms       notify.SMSSender
	outbox    *outbox.Outbox
	publicURL string
	from      string
	reminders []time.Duration
	log       *slog.Logger

	mu sync.Mutex // serialises meeting creation per relay
}

// notice decodes a job's payload and reads the booking it names. ok is
// false when the job is stale (the booking changed or is gone): it is
// then done without a mail.
func (n *bookingMail) notice(ctx context.Context, j outbox.Job) (booking.Notice, booking.Booking, booking.Details, bool, error) {
	var no booking.Notice
	if err := json.Unmarshal(j.Payload, &no); err != nil {
		return no, booking.Booking{}, booking.Details{}, false, fmt.Errorf("booking job %s: %w", j.ID, outbox.ErrPermanent)
	}
	b, d, current, err := n.booking.Current(ctx, no)
	if errors.Is(err, booking.ErrNotFound) {
		return no, b, d, false, nil
	}
	if err != nil {
		return no, b, d, false, fmt.Errorf("booking job %s: %w", j.ID, err)
	}
	return no, b, d, current, nil
}

// syncMeeting makes the video meeting follow the booking: a confirmed
// booking has a meeting at its start, a cancelled one has none (its
// meeting ends and the link dies).
func (n *bookingMail) syncMeeting(ctx context.Context, b booking.Booking, d *booking.Details) error {
	if b.Kind != booking.KindVideo {
		return nil
	}
	if b.Status == booking.StatusConfirmed {
		_, _, err := n.ensureMeeting(ctx, b, *d)
		return err
	}
	if b.MeetingID == "" {
		return nil
	}
	owner := meeting.Actor{TenantID: b.TenantID, UserID: b.AdvisorID}
	err := n.meetings.End(ctx, owner, b.MeetingID)
	if err != nil && !errors.Is(err, meeting.ErrMeetingEnded) && !errors.Is(err, meeting.ErrNotFound) {
		return fmt.Errorf("end meeting of cancelled booking %s: %w", b.ID, err)
	}
	return nil
}

// ensureMeeting gives a confirmed video booking its meeting, whose join
// link opens shortly before the booked start. A booking moved to another
// time gets a new meeting (the old one ends, its link dies).
func (n *bookingMail) ensureMeeting(ctx context.Context, b booking.Booking, d booking.Details) (booking.Booking, booking.Details, error) {
	if b.Kind != booking.KindVideo || b.Status != booking.StatusConfirmed {
		return b, d, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// Read again under the lock: another job may have attached one.
	b, d, err := n.booking.Notice(ctx, b.ID)
	if err != nil {
		return b, d, err
	}
	owner := meeting.Actor{TenantID: b.TenantID, UserID: b.AdvisorID}
	if b.MeetingID != "" && d.JoinToken != "" {
		m, err := n.meetings.Get(ctx, owner, b.MeetingID)
		if err == nil && m.ScheduledStart.Equal(b.Start) && m.Status != meeting.StatusEnded {
			return b, d, nil
		}
		if err == nil && m.Status != meeting.StatusEnded {
			if err := n.meetings.End(ctx, owner, b.MeetingID); err != nil && !errors.Is(err, meeting.ErrMeetingEnded) {
				return b, d, err
			}
		}
	}
	name := ""
	if u, err := n.auth.GetUser(ctx, b.TenantID, b.AdvisorID); err == nil {
		name = u.DisplayName
	}
	m, token, err := n.meetings.CreateBooked(ctx, meeting.NewMeeting{TenantID: b.TenantID, AdvisorID: b.AdvisorID, AdvisorName: name,
		Title: b.TypeName, Initiator: "booking", ScheduledStart: b.Start, CustomerID: b.CustomerID})
	if err != nil {
		return b, d, fmt.Errorf("create meeting for booking %s: %w", b.ID, err)
	}
	if err := n.booking.AttachMeeting(ctx, b.ID, m.ID, token); err != nil {
		return b, d, err
	}
	n.log.Info("booking: meeting attached", "booking_id", b.ID, "meeting_id", m.ID)
	return n.booking.Notice(ctx, b.ID)
}

// appointment is what the mail templates get.
func (n *bookingMail) appointment(ctx context.Context, b booking.Booking, d booking.Details) notify.Appointment {
	a := notify.Appointment{
		CustomerName: strings.TrimSpace(d.Contact.FirstName + " " + d.Contact.LastName), CustomerEmail: d.Contact.Email,
		TypeName: b.TypeName, Kind: string(b.Kind), Text: d.Text, Start: b.Start, End: b.End, TimeZone: b.TimeZone,
		UID: b.ID + "@parley", Sequence: b.Sequence, From: n.from, Stamp: b.Updated, Alarms: n.reminders,
		Phone: d.Contact.Mobile,
	}
	if d.Contact.Address != nil {
		ad := d.Contact.Address
		a.Address = strings.TrimSpace(ad.Street + ", " + strings.TrimSpace(ad.PostalCode+" "+ad.City))
	}
	if u, err := n.auth.GetUser(ctx, b.TenantID, b.AdvisorID); err == nil {
		a.AdvisorName, a.AdvisorEmail = u.DisplayName, u.Email
	}
	if t, err := n.auth.TenantByID(ctx, b.TenantID); err == nil {
		a.TenantName = t.Name
	}
	if b.Kind == booking.KindVideo && d.JoinToken != "" {
		a.JoinURL = n.publicURL + "/j/" + d.JoinToken
	}
	if d.ManageToken != "" {
		a.ManageURL = n.publicURL + "/m/" + d.ManageToken
	}
	return a
}

var customerEvents = map[string]notify.Event{
	booking.EventConfirmed: notify.EventConfirmed, booking.EventRescheduled: notify.EventRescheduled,
	booking.EventCancelled: notify.EventCancelled, booking.EventReminder: notify.EventReminder,
}

var advisorEvents = map[string]notify.Event{
	booking.EventConfirmed: notify.EventNewBooking, booking.EventRescheduled: notify.EventRescheduledByCustomer,
	booking.EventCancelled: notify.EventCancelledByCustomer,
}

// customerMail handles booking.JobCustomerMail and booking.JobReminder.
func (n *bookingMail) customerMail(ctx context.Context, j outbox.Job) error {
	no, b, d, ok, err := n.notice(ctx, j)
	if err != nil || !ok {
		return err
	}
	ev, known := customerEvents[no.Event]
	if !known {
		return fmt.Errorf("booking job %s: unknown event: %w", j.ID, outbox.ErrPermanent)
	}
	if b.Status == booking.StatusCancelled && ev != notify.EventCancelled {
		return nil // cancelled since: no confirmation or reminder any more
	}
	if err := n.syncMeeting(ctx, b, &d); err != nil {
		return err
	}
	if b, d, err = n.booking.Notice(ctx, b.ID); err != nil {
		return err
	}
	if d.Contact.Email == "" {
		return nil // a customer booked by the advisor without e-mail
	}
	m, err := notify.AppointmentMail(b.Lang, ev, n.appointment(ctx, b, d))
	if err != nil {
		return fmt.Errorf("booking job %s: %w: %w", j.ID, err, outbox.ErrPermanent)
	}
	m.MessageID = j.ID + "@" + domainOf(n.from)
	if err := n.mailer.Send(ctx, m); err != nil {
		return fmt.Errorf("booking job %s: %w", j.ID, err)
	}
	if ev == notify.EventReminder && n.sms != nil && d.Contact.Mobile != "" {
		text, err := notify.AppointmentSMS(b.Lang, ev, n.appointment(ctx, b, d))
		if err == nil {
			if payload, err := notify.SMSJob(d.Contact.Mobile, text); err == nil {
				if err := n.outbox.Enqueue(ctx, notify.KindSMS, payload, time.Time{}); err != nil {
					n.log.Warn("booking: reminder SMS not queued", "booking_id", b.ID, "error", err)
				}
			}
		}
	}
	return nil
}

// advisorMail handles booking.JobAdvisorMail.
func (n *bookingMail) advisorMail(ctx context.Context, j outbox.Job) error {
	no, b, d, ok, err := n.notice(ctx, j)
	if err != nil || !ok {
		return err
	}
	ev, known := advisorEvents[no.Event]
	if !known {
		return fmt.Errorf("booking job %s: unknown event: %w", j.ID, outbox.ErrPermanent)
	}
	if err := n.syncMeeting(ctx, b, &d); err != nil {
		return err
	}
	if b, d, err = n.booking.Notice(ctx, b.ID); err != nil {
		return err
	}
	a := n.appointment(ctx, b, d)
	if a.AdvisorEmail == "" {
		return nil // the advisor has no e-mail address: the app shows it
	}
	a.ManageURL = "" // the customer's secret link is not for the advisor
	m, err := notify.AdvisorMail("de", ev, a)
	if err != nil {
		return fmt.Errorf("booking job %s: %w: %w", j.ID, err, outbox.ErrPermanent)
	}
	m.MessageID = j.ID + "@" + domainOf(n.from)
	if err := n.mailer.Send(ctx, m); err != nil {
		return fmt.Errorf("booking job %s: %w", j.ID, err)
	}
	return nil
}

func domainOf(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		return addr[at+1:]
	}
	return "parley.invalid"
}

// startBooking builds customer profiles, the outbox, calendar sync and the
// booking service, and routes the booking jobs to mail. The outbox and
// calendar polling start with the relay's other background work.
func (s *Server) startBooking(opts Options, meetings *meeting.Service, reg *prometheus.Registry) error {
	log := s.log
	var err error
	s.customers, err = customer.New(customer.Options{Store: s.store, Clock: s.clock, Logger: log.With("component", "customer"),
		Retention: periodOf(s.retention, retention.ClassCustomerProfile, customer.DefaultRetention)})
	if err != nil {
		return fmt.Errorf("server: customers: %w", err)
	}
	s.outbox, err = outbox.New(outbox.Options{Store: s.store, Clock: s.clock, Logger: log.With("component", "outbox"), Registry: reg})
	if err != nil {
		return fmt.Errorf("server: outbox: %w", err)
	}
	s.calendars, err = calsync.New(calsync.Options{Store: s.store, Clock: s.clock, Logger: log.With("component", "calsync"),
		AllowPrivateNetworks: opts.CalendarAllowPrivate})
	if err != nil {
		return fmt.Errorf("server: calendar sync: %w", err)
	}
	s.booking, err = booking.New(booking.Options{Store: s.store, Clock: s.clock, Logger: log.With("component", "booking"),
		Profiles: s.customers, Outbox: s.outbox, Busy: busySource{s.calendars},
		Retention: periodOf(s.retention, retention.ClassBooking, booking.DefaultRetention)})
	if err != nil {
		return fmt.Errorf("server: booking: %w", err)
	}
	mailer, err := newMailer(opts.Mail, s.clock, log)
	if err != nil {
		return err
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
	n := &bookingMail{booking: s.booking, meetings: meetings, auth: s.auth, mailer: mailer, sms: opts.Mail.SMS, outbox: s.outbox,
		publicURL: base, from: from, reminders: booking.DefaultReminders, log: log.With("component", "booking-mail")}
	s.outbox.Handle(booking.JobCustomerMail, n.customerMail)
	s.outbox.Handle(booking.JobReminder, n.customerMail)
	s.outbox.Handle(booking.JobAdvisorMail, n.advisorMail)
	if opts.Mail.SMS != nil {
		s.outbox.Handle(notify.KindSMS, notify.SMSHandler(opts.Mail.SMS))
	}
	return nil
}
