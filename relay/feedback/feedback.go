// Package feedback is the relay's feedback questionnaire after a meeting
// (seed 002 §2.3.8, "Beratungscheck"): only when the customer agreed, the
// relay mails the meeting's customer one link to a short questionnaire —
// a rating from 1 to 5 and an optional free text — that works for 14 days
// and can be answered once. The answer is shown to the meeting's advisor
// and the tenant's admins, per meeting and in the customer's history, and
// counts into tenant-wide monthly counters (answers and average rating per
// month, never per advisor or customer).
//
// Consent is recorded by the advisor on the customer's word after the
// meeting ended ("the customer agreed to a feedback request"), with the
// time, the source and the advisor's user id; without it no invitation is
// queued. docs/feedback.md describes the flow and the decisions.
//
// It is a domain package: it knows nothing of HTTP or mail, takes its time
// from an injected clock and keeps its state in a store.KV under the key
// prefix "feedback/" with JSON values (layout in keys.go). The free text
// and the link's token are sealed with the customer's own key through
// Profiles (relay/customer), so erasing the customer makes them
// unreadable everywhere; keys hold random ids, months and SHA-256 digests
// only. Logs carry ids only.
//
// Retention (class retention.ClassFeedback): an answer is deleted
// Options.Retention (default 180 days) after it was given, an unanswered
// invitation when its link expires; reads stop serving a record at that
// deadline, SweepExpired deletes it, and a legal hold on the customer
// keeps both.
package feedback

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/store"
)

// Errors returned by the Service, wrapped with what was being done; check
// them with errors.Is.
var (
	// ErrNotFound: no such meeting, feedback request or link (also one
	// past its retention deadline).
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the actor may not see or manage this meeting's
	// feedback (another tenant, or neither its advisor nor an admin).
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidInput: a malformed argument; the error is an *InputError.
	ErrInvalidInput = errors.New("invalid input")
	// ErrNotEnded: consent can be recorded only once the meeting ended.
	ErrNotEnded = errors.New("meeting not ended")
	// ErrNoCustomer: the meeting has no customer profile to ask, or the
	// profile has no e-mail address.
	ErrNoCustomer = errors.New("meeting has no customer with an e-mail address")
	// ErrAlreadyRequested: the meeting's customer was already asked (one
	// request per meeting).
	ErrAlreadyRequested = errors.New("feedback already requested")
	// ErrExpired: the questionnaire's link expired unanswered.
	ErrExpired = errors.New("feedback link expired")
	// ErrAnswered: the questionnaire was answered already.
	ErrAnswered = errors.New("feedback already answered")
)

// InputError describes a malformed argument. It matches ErrInvalidInput
// with errors.Is. Its message never contains the offending value.
type InputError struct {
	// Field names the argument: "rating", "text", "consent", "lang",
	// "meeting_id", "customer_id", "period".
	Field string
	// Msg says what is wrong, in English.
	Msg string
}

// Error implements error.
func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes the error match ErrInvalidInput.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

func invalid(field, msg string) error { return &InputError{Field: field, Msg: msg} }

// Actor is the caller of an advisor-side operation, as authenticated by
// the API layer. A meeting's feedback is seen and managed by the meeting's
// advisor and by the admins of its tenant.
type Actor struct {
	// TenantID is the caller's tenant.
	TenantID string
	// UserID is the caller's user id.
	UserID string
	// Admin is set when the caller is an admin of TenantID.
	Admin bool
}

// may reports whether a sees the advisor's feedback.
func (a Actor) may(tenantID, advisorID string) bool {
	if a.TenantID == "" || a.TenantID != tenantID {
		return false
	}
	return a.Admin || (a.UserID != "" && a.UserID == advisorID)
}

// Consent sources.
const (
	// SourceAdvisor: the advisor recorded that the customer agreed (asked
	// in the meeting, ticked in the app).
	SourceAdvisor = "advisor"
)

// Consent is the customer's agreement to one feedback request.
type Consent struct {
	// Given is when the consent was recorded.
	Given time.Time `json:"given"`
	// Source says how it was given: SourceAdvisor.
	Source string `json:"source"`
	// RecordedBy is the user id of who recorded it.
	RecordedBy string `json:"recorded_by"`
}

// Status is where a feedback request is.
type Status string

// The statuses.
const (
	// StatusInvited: the invitation is queued or sent, the link works.
	StatusInvited Status = "invited"
	// StatusAnswered: the customer answered.
	StatusAnswered Status = "answered"
	// StatusExpired: the link expired unanswered (kept until the sweep).
	StatusExpired Status = "expired"
)

// Feedback is one meeting's feedback request and its answer, as its
// advisor and the tenant's admins see it.
type Feedback struct {
	// MeetingID is the meeting asked about.
	MeetingID string `json:"meeting_id"`
	// TenantID is the meeting's tenant.
	TenantID string `json:"tenant_id"`
	// AdvisorID is the meeting's advisor.
	AdvisorID string `json:"advisor_id"`
	// CustomerID is the customer asked.
	CustomerID string `json:"customer_id"`
	// Lang is the language of the mail and the questionnaire ("de", "en").
	Lang string `json:"lang"`
	// Consent is the customer's consent to the request.
	Consent Consent `json:"consent"`
	// MeetingEnded is when the meeting ended.
	MeetingEnded time.Time `json:"meeting_ended"`
	// Created is when the invitation was queued.
	Created time.Time `json:"created"`
	// Sent is when the invitation mail was handed to the mail server;
	// zero before.
	Sent time.Time `json:"sent,omitzero"`
	// Expires is when the questionnaire's link stops working.
	Expires time.Time `json:"expires"`
	// Status is invited, answered or expired.
	Status Status `json:"status"`
	// Answered is when the customer answered; zero before.
	Answered time.Time `json:"answered,omitzero"`
	// Rating is the customer's rating, 1 (poor) to 5 (excellent); 0
	// before the answer.
	Rating int `json:"rating,omitempty"`
	// Text is the customer's optional comment.
	Text string `json:"text,omitempty"`
	// DeleteAt is when the record is deleted (the answer's retention
	// deadline, or the link's expiry while unanswered).
	DeleteAt time.Time `json:"delete_at"`
}

// Questionnaire is what the public questionnaire page shows (no personal
// data: the API adds the advisor's and tenant's names).
type Questionnaire struct {
	// TenantID and AdvisorID let the API name the advisor and tenant.
	TenantID, AdvisorID string
	// Lang is the questionnaire's language.
	Lang string
	// MeetingEnded is when the meeting ended.
	MeetingEnded time.Time
	// Expires is when the link stops working.
	Expires time.Time
	// Answered is when it was answered; zero before.
	Answered time.Time
}

// Answer is the customer's answer.
type Answer struct {
	// Rating is 1 to 5. Required.
	Rating int
	// Text is an optional comment, up to MaxTextRunes characters after
	// CleanText.
	Text string
}

// Invitation is what the invitation mail needs, read when the outbox job
// runs.
type Invitation struct {
	// MeetingID is the meeting asked about.
	MeetingID string
	// TenantID and AdvisorID name the sender.
	TenantID, AdvisorID string
	// Lang is the mail's language.
	Lang string
	// Token is the questionnaire link's secret.
	Token string
	// Expires is when the link stops working.
	Expires time.Time
	// MeetingEnded is when the meeting ended.
	MeetingEnded time.Time
	// Contact is the customer's contact (name, e-mail).
	Contact customer.Contact
}

// MeetingInfo is what feedback needs to know about a meeting.
type MeetingInfo struct {
	// ID is the meeting id.
	ID string
	// TenantID is the meeting's tenant.
	TenantID string
	// AdvisorID is the meeting's advisor.
	AdvisorID string
	// CustomerID is the meeting's customer profile; empty when unknown.
	CustomerID string
	// Ended is when the meeting ended; zero while it has not.
	Ended time.Time
	// Lang is the language of the meeting's booking ("de", "en"); empty
	// when the meeting was not booked.
	Lang string
}

// Meetings looks up a meeting for an actor (relay/server adapts
// relay/meeting and relay/booking). It fails with an error matching
// ErrNotFound or ErrForbidden when the actor may not manage the meeting.
type Meetings interface {
	// Meeting returns the meeting if the actor is its advisor or an admin
	// of its tenant.
	Meeting(ctx context.Context, a Actor, meetingID string) (MeetingInfo, error)
}

// Profiles is what feedback needs of the customer profiles (relay/customer
// implements it). Every method works inside the caller's transaction.
type Profiles interface {
	// SealTx encrypts plaintext with the customer's key.
	SealTx(tx store.Txn, customerID string, plaintext []byte) ([]byte, error)
	// OpenTx decrypts what SealTx sealed.
	OpenTx(tx store.Txn, customerID string, sealed []byte) ([]byte, error)
	// ContactTx returns the profile's contact.
	ContactTx(tx store.Txn, customerID string) (customer.Contact, error)
}

// Outbox takes durable jobs (relay/outbox implements it).
type Outbox interface {
	// EnqueueTx adds a job inside the caller's transaction; it is run not
	// before notBefore.
	EnqueueTx(tx store.Txn, kind string, payload []byte, notBefore time.Time) error
}

// JobInvite is the outbox kind of the invitation mail; its payload is a
// JSON Notice.
const JobInvite = "feedback.invite"

// Notice is the payload of a JobInvite job: ids only, so no personal data
// waits in the queue.
type Notice struct {
	// MeetingID is the meeting whose customer is invited.
	MeetingID string `json:"meeting_id"`
}

// Options configures New. Zero values take the defaults.
type Options struct {
	// Store holds everything. Required.
	Store store.KV
	// Clock is the time source; nil means the real clock.
	Clock clock.Clock
	// Logger receives events with ids only; nil discards.
	Logger *slog.Logger
	// Meetings looks meetings up for the advisor-side operations.
	// Required.
	Meetings Meetings
	// Profiles seals the text and token with the customer's key.
	// Required.
	Profiles Profiles
	// Outbox takes the invitation jobs. Required.
	Outbox Outbox
	// LinkTTL is how long the questionnaire's link works; 0 means
	// DefaultLinkTTL.
	LinkTTL time.Duration
	// Retention is a tenant's period an answer is kept after it was given;
	// nil (or a result of zero or less) means DefaultRetention.
	Retention func(tenantID string) time.Duration
	// Held reports whether a legal hold keeps a tenant's customer's data;
	// reads keep serving held records past their deadline. Nil: no holds.
	Held func(ctx context.Context, tenantID, customerID string) bool
}

// Defaults for Options.
const (
	// DefaultLinkTTL: the questionnaire works for 14 days.
	DefaultLinkTTL = 14 * 24 * time.Hour
	// DefaultRetention: answers are deleted 180 days after the answer.
	DefaultRetention = 180 * 24 * time.Hour
)

// TokenPrefix starts every questionnaire token (the link's secret).
const TokenPrefix = "pfb_"

// Service implements the feedback questionnaire. It is safe for concurrent
// use; all state is in the store.
type Service struct {
	kv       store.KV
	clock    clock.Clock
	log      *slog.Logger
	opts     Options
	meetings Meetings
	profiles Profiles
	outbox   Outbox
}

// New returns a Service. It does not touch the store.
func New(opts Options) (*Service, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("feedback: Options.Store is required")
	case opts.Meetings == nil:
		return nil, errors.New("feedback: Options.Meetings is required")
	case opts.Profiles == nil:
		return nil, errors.New("feedback: Options.Profiles is required")
	case opts.Outbox == nil:
		return nil, errors.New("feedback: Options.Outbox is required")
	case opts.LinkTTL < 0:
		return nil, errors.New("feedback: Options.LinkTTL must not be negative")
	}
	if opts.LinkTTL == 0 {
		opts.LinkTTL = DefaultLinkTTL
	}
	s := &Service{kv: opts.Store, clock: clock.Or(opts.Clock), log: opts.Logger, opts: opts,
		meetings: opts.Meetings, profiles: opts.Profiles, outbox: opts.Outbox}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// retention returns the tenant's answer retention period.
func (s *Service) retention(tenantID string) time.Duration {
	if s.opts.Retention != nil {
		if d := s.opts.Retention(tenantID); d > 0 {
			return d
		}
	}
	return DefaultRetention
}

// held reports whether a legal hold keeps the customer's data.
func (s *Service) held(ctx context.Context, tenantID, customerID string) bool {
	return s.opts.Held != nil && s.opts.Held(ctx, tenantID, customerID)
}
