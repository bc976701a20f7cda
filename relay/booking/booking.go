// Package booking is the relay's appointment-booking domain: an advisor's
// appointment types, weekly availability with date exceptions, the public
// booking page, free slots, short holds on a slot while the customer fills
// in the form, bookings with their manage links, and the notices (mails,
// reminders) that bookings put into the outbox.
//
// It is a domain package: it knows nothing of HTTP or mail, takes its time
// from an injected clock and keeps its state in a store.KV under the key
// prefix "booking/" with JSON values (layout in keys.go). Personal data (the
// customer's contact and free text, a video meeting's join token) lives in
// a booking's Details, sealed with the customer's own key through Profiles;
// the customer's profile lives in relay/customer. Keys hold random ids,
// dates and SHA-256 digests only. Logs carry ids only.
//
// No double booking: every write that creates or moves a booking or a hold
// reads and writes one lock key per advisor and local date its buffered
// interval touches, so two transactions that could overlap always touch a
// common key, and badger's optimistic transactions make one of them retry
// and see the other. The overlap and per-day-limit checks run inside that
// transaction. docs/booking.md describes the rules, the DST and horizon
// decisions.
package booking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/store"
)

// Errors returned by the Service, wrapped with what was being done; check
// them with errors.Is.
// ErrIdempotencyMismatch: an idempotency key already used for another
// booking request (another time, type or person).
var ErrIdempotencyMismatch = errors.New("idempotency key used for another request")

var (
	// ErrNotFound: no such booking, type, page or advisor data (also a
	// booking past its retention deadline).
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the actor may not manage this advisor's data, or a
	// manage link was used after the appointment started (that error also
	// matches ErrStarted).
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidInput: a malformed argument; the error is an *InputError.
	ErrInvalidInput = errors.New("invalid input")
	// ErrSlotTaken: the appointment with its buffers overlaps a booking, a
	// live hold of someone else or a busy time of the advisor.
	ErrSlotTaken = errors.New("slot taken")
	// ErrOutsideAvailability: the appointment does not lie within the
	// advisor's availability.
	ErrOutsideAvailability = errors.New("outside availability")
	// ErrTooSoon: the start is earlier than the type's minimum notice.
	ErrTooSoon = errors.New("too soon")
	// ErrBeyondHorizon: the start is after the booking horizon; the error
	// is a *HorizonError that names the last bookable date.
	ErrBeyondHorizon = errors.New("beyond booking horizon")
	// ErrDayFull: the type's per-day limit is reached on that date.
	ErrDayFull = errors.New("day full")
	// ErrHoldInvalid: a hold token that is malformed or holds another slot.
	ErrHoldInvalid = errors.New("hold invalid")
	// ErrCancelled: the booking is cancelled and cannot be changed.
	ErrCancelled = errors.New("booking cancelled")
	// ErrPageDisabled: the booking page exists but is switched off.
	ErrPageDisabled = errors.New("booking page disabled")
	// ErrStarted: a manage link was used to change an appointment that has
	// already started. It comes as an error that also matches ErrForbidden.
	ErrStarted = errors.New("appointment already started")
)

// InputError describes a malformed argument. It matches ErrInvalidInput
// with errors.Is. Its message never contains the offending value.
type InputError struct {
	// Field names the argument ("first_name", "email", "start", …).
	Field string
	// Msg says what is wrong, in English.
	Msg string
}

// Error implements error.
func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes the error match ErrInvalidInput.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

func invalid(field, msg string) error { return &InputError{Field: field, Msg: msg} }

// HorizonError reports a start after the booking horizon. It matches
// ErrBeyondHorizon with errors.Is.
type HorizonError struct {
	// LastDate is the last bookable date (YYYY-MM-DD) in the advisor's
	// time zone.
	LastDate string
}

// Error implements error.
func (e *HorizonError) Error() string {
	return "beyond booking horizon: the last bookable date is " + e.LastDate
}

// Unwrap makes the error match ErrBeyondHorizon.
func (e *HorizonError) Unwrap() error { return ErrBeyondHorizon }

// startedError matches both ErrStarted and ErrForbidden.
type startedError struct{}

func (startedError) Error() string { return ErrStarted.Error() }
func (startedError) Is(target error) bool {
	return target == ErrStarted || target == ErrForbidden
}

// Kind is how an appointment takes place.
type Kind string

// The appointment kinds.
const (
	// KindVideo is a video meeting through the relay.
	KindVideo Kind = "video"
	// KindPhone is a phone call; the customer's phone number is required.
	KindPhone Kind = "phone"
	// KindOnsite is a visit at the customer's address, which is required.
	KindOnsite Kind = "onsite"
)

// AppointmentType is one kind of appointment an advisor offers.
type AppointmentType struct {
	// ID is random (32 hex digits); empty in PutType creates a type.
	ID string `json:"id"`
	// Name is shown to customers: 1–100 characters, no control characters.
	Name string `json:"name"`
	// Description is optional, up to 2000 characters.
	Description string `json:"description"`
	// Kind is video, phone or onsite.
	Kind Kind `json:"kind"`
	// DurationMin is the appointment's length in minutes (5–720).
	DurationMin int `json:"duration_min"`
	// BufferBeforeMin is kept free before the appointment (0–240 minutes).
	BufferBeforeMin int `json:"buffer_before_min"`
	// BufferAfterMin is kept free after the appointment (0–240 minutes).
	BufferAfterMin int `json:"buffer_after_min"`
	// MinNoticeMin is how long before its start an appointment can be
	// booked at the latest, in minutes (0 up to the horizon).
	MinNoticeMin int `json:"min_notice_min"`
	// PerDayLimit bounds the confirmed appointments of this type starting
	// on one local date (0 = no limit).
	PerDayLimit int `json:"per_day_limit"`
	// Active types are offered on the public page.
	Active bool `json:"active"`
}

// Span is a local time range on one date: "HH:MM" to "HH:MM", End after
// Start; End may be "24:00".
type Span struct {
	// Start is the first minute, "00:00"–"23:59".
	Start string `json:"start"`
	// End is the minute after the last, "00:01"–"24:00".
	End string `json:"end"`
}

// WeeklyRule makes a span available on every given weekday.
type WeeklyRule struct {
	// Weekday is the day of the week the rule applies to.
	Weekday time.Weekday `json:"weekday"`
	Span
}

// Exception changes the availability of one date.
type Exception struct {
	// Date is the local date, YYYY-MM-DD.
	Date string `json:"date"`
	// Closed drops the weekly hours of that date.
	Closed bool `json:"closed"`
	// Hours adds hours on that date (with Closed: replaces the day).
	Hours []Span `json:"hours,omitempty"`
}

// Availability is when an advisor can be booked.
type Availability struct {
	// TimeZone is the advisor's IANA time zone ("Europe/Berlin").
	TimeZone string `json:"time_zone"`
	// Weekly are the recurring hours.
	Weekly []WeeklyRule `json:"weekly"`
	// Exceptions change single dates.
	Exceptions []Exception `json:"exceptions,omitempty"`
}

// Interval is a half-open absolute time range [Start, End).
type Interval struct {
	// Start is the first instant.
	Start time.Time
	// End is the instant after the last.
	End time.Time
}

// Slot is a bookable appointment time (buffers not included).
type Slot struct {
	// Start is when the appointment starts.
	Start time.Time
	// End is when it ends.
	End time.Time
}

// Actor is the caller of an advisor-side operation, as authenticated by
// the API layer. An advisor manages their own data; an admin of a tenant
// manages any of its advisors' data.
type Actor struct {
	// TenantID is the caller's tenant.
	TenantID string
	// UserID is the caller's user id.
	UserID string
	// Admin is set when the caller is an admin of TenantID.
	Admin bool
}

// Page is an advisor's public booking page, served at /b/{ID}.
type Page struct {
	// ID is random (32 hex digits).
	ID string `json:"id"`
	// TenantID is the advisor's tenant.
	TenantID string `json:"tenant_id"`
	// AdvisorID is the advisor's user id.
	AdvisorID string `json:"advisor_id"`
	// Enabled pages take bookings.
	Enabled bool `json:"enabled"`
}

// Request asks for a booking.
type Request struct {
	// PageID is the booking page (Book); BookFor ignores it.
	PageID string
	// TypeID is the appointment type.
	TypeID string
	// Start is the appointment's start; it must be one of the slots.
	Start time.Time
	// Contact is the customer's contact. First and last name and e-mail
	// are required, the mobile number for phone appointments and the
	// address for on-site ones.
	Contact customer.Contact
	// Text is an optional message to the advisor (up to 2000 characters).
	Text string
	// HoldToken is the hold taken on the slot, if any.
	HoldToken string
	// IdempotencyKey makes a repeated request return the first booking
	// (up to 200 characters; empty: none).
	IdempotencyKey string
	// Lang is the language of the customer's mails: "de" or "en" (empty:
	// "de").
	Lang string
}

// Status is a booking's state.
type Status string

// The booking statuses.
const (
	// StatusConfirmed bookings block their time.
	StatusConfirmed Status = "confirmed"
	// StatusCancelled bookings are kept (for the mails and history) until
	// their retention ends, but block nothing.
	StatusCancelled Status = "cancelled"
)

// Who cancelled a booking.
const (
	// ByCustomer: cancelled through the manage link.
	ByCustomer = "customer"
	// ByAdvisor: cancelled by the advisor or an admin.
	ByAdvisor = "advisor"
)

// Booking is a booked appointment without the customer's personal data.
type Booking struct {
	// ID is random (32 hex digits) and stable; it is the iCalendar UID's
	// base.
	ID string `json:"id"`
	// TenantID is the advisor's tenant.
	TenantID string `json:"tenant_id"`
	// AdvisorID is the advisor's user id.
	AdvisorID string `json:"advisor_id"`
	// TypeID is the appointment type.
	TypeID string `json:"type_id"`
	// CustomerID is the customer's profile id (relay/customer).
	CustomerID string `json:"customer_id"`
	// MeetingID is the video meeting, once attached.
	MeetingID string `json:"meeting_id,omitempty"`
	// Kind is the appointment kind at booking time.
	Kind Kind `json:"kind"`
	// TypeName is the type's name at booking time.
	TypeName string `json:"type_name"`
	// Start is when the appointment starts.
	Start time.Time `json:"start"`
	// End is when it ends.
	End time.Time `json:"end"`
	// TimeZone is the advisor's time zone at booking time.
	TimeZone string `json:"time_zone"`
	// Status is confirmed or cancelled.
	Status Status `json:"status"`
	// Sequence is the iCalendar SEQUENCE (RFC 5546): 0 when booked,
	// raised on every change including the cancellation.
	Sequence int `json:"sequence"`
	// Created is when it was booked.
	Created time.Time `json:"created"`
	// Updated is when it last changed.
	Updated time.Time `json:"updated"`
	// CancelledBy is "customer", "advisor" or "".
	CancelledBy string `json:"cancelled_by,omitempty"`
	// Lang is the language of the customer's mails.
	Lang string `json:"lang"`
}

// Details is the personal part of a booking, stored sealed with the
// customer's key.
type Details struct {
	// Contact is the customer's contact as given for this booking.
	Contact customer.Contact `json:"contact"`
	// Text is the customer's message.
	Text string `json:"text,omitempty"`
	// JoinToken is the video meeting's join token once attached.
	JoinToken string `json:"join_token,omitempty"`
	// ManageToken is the customer's secret link token, kept sealed so that
	// the confirmation and reminder mails, sent later from the outbox, can
	// carry the link; only its digest is indexed.
	ManageToken string `json:"manage_token,omitempty"`
}

// Profiles is what booking needs of the customer profiles (relay/customer
// implements it). Every method works inside the caller's transaction.
type Profiles interface {
	// UpsertTx creates or updates the tenant's profile of the contact and
	// returns its id.
	UpsertTx(tx store.Txn, tenantID string, c customer.Contact, now time.Time) (customerID string, err error)
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

// BusySource tells an advisor's busy times from synced calendars.
type BusySource interface {
	// Busy returns the busy intervals that overlap [from, to).
	Busy(ctx context.Context, tenantID, advisorID string, from, to time.Time) ([]Interval, error)
}

// Options configures New. Zero values take the defaults.
type Options struct {
	// Store holds everything. Required.
	Store store.KV
	// Clock is the time source; nil means the real clock.
	Clock clock.Clock
	// Logger receives events with ids only; nil discards.
	Logger *slog.Logger
	// Profiles keeps customer profiles and seals details. Required.
	Profiles Profiles
	// Outbox takes the mail and reminder jobs. Required.
	Outbox Outbox
	// Busy gives busy times from synced calendars; nil means none.
	Busy BusySource
	// HoldTTL is how long a hold keeps a slot; 0 means DefaultHoldTTL.
	HoldTTL time.Duration
	// HorizonDays is how many days after today (advisor's zone) are
	// bookable; 0 means DefaultHorizonDays.
	HorizonDays int
	// SlotStepMin is the distance between candidate starts, in minutes;
	// 0 means DefaultSlotStepMin.
	SlotStepMin int
	// Reminders are the offsets before the start at which reminders are
	// sent; nil means DefaultReminders. An empty non-nil slice sends none.
	Reminders []time.Duration
	// Retention says how long a tenant's bookings are kept after their
	// end; nil means DefaultRetention for everyone. A legal hold is
	// expressed by a long period here (reads) and by SweepExpired's held.
	Retention func(tenantID string) time.Duration
}

// Defaults for Options.
const (
	DefaultHoldTTL     = 10 * time.Minute
	DefaultHorizonDays = 201
	DefaultSlotStepMin = 15
	DefaultRetention   = 42 * 24 * time.Hour
)

// DefaultReminders are sent 24 h and 1 h before the start.
var DefaultReminders = []time.Duration{24 * time.Hour, time.Hour}

// Outbox job kinds. The payload of each is a JSON Notice.
const (
	// JobCustomerMail mails the customer (confirmation, change,
	// cancellation) with an iCalendar attachment.
	JobCustomerMail = "booking.customer_mail"
	// JobAdvisorMail tells the advisor.
	JobAdvisorMail = "booking.advisor_mail"
	// JobReminder reminds the customer before the start.
	JobReminder = "booking.reminder"
)

// Notice events.
const (
	// EventConfirmed: a new booking.
	EventConfirmed = "confirmed"
	// EventRescheduled: the booking moved.
	EventRescheduled = "rescheduled"
	// EventCancelled: the booking was cancelled.
	EventCancelled = "cancelled"
	// EventReminder: the appointment is coming up.
	EventReminder = "reminder"
)

// Notice is the payload of the booking jobs. A handler asks Current
// whether the notice still applies: a notice whose Sequence no longer
// matches the booking's is stale (the booking changed since; a newer
// notice was enqueued with that change) and must be skipped. This is how
// rescheduling moves reminders: the old ones go stale, new ones are
// enqueued.
type Notice struct {
	// BookingID is the booking.
	BookingID string `json:"booking_id"`
	// Sequence is the booking's Sequence when the notice was enqueued.
	Sequence int `json:"sequence"`
	// Event is confirmed, rescheduled, cancelled or reminder.
	Event string `json:"event"`
}

// Service implements booking. It is safe for concurrent use; all state is
// in the store, so several Services may share one store.
type Service struct {
	kv       store.KV
	clock    clock.Clock
	log      *slog.Logger
	opts     Options
	profiles Profiles
	outbox   Outbox
}

// New returns a Service. It does not touch the store.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("booking: Options.Store is required")
	}
	if opts.Profiles == nil {
		return nil, errors.New("booking: Options.Profiles is required")
	}
	if opts.Outbox == nil {
		return nil, errors.New("booking: Options.Outbox is required")
	}
	if opts.HoldTTL < 0 || opts.HorizonDays < 0 || opts.SlotStepMin < 0 {
		return nil, errors.New("booking: Options durations and counts must not be negative")
	}
	if opts.HoldTTL == 0 {
		opts.HoldTTL = DefaultHoldTTL
	}
	if opts.HorizonDays == 0 {
		opts.HorizonDays = DefaultHorizonDays
	}
	if opts.SlotStepMin == 0 {
		opts.SlotStepMin = DefaultSlotStepMin
	}
	if opts.SlotStepMin > 24*60 {
		return nil, fmt.Errorf("booking: Options.SlotStepMin %d is longer than a day", opts.SlotStepMin)
	}
	if opts.Reminders == nil {
		opts.Reminders = DefaultReminders
	}
	for _, r := range opts.Reminders {
		if r <= 0 {
			return nil, errors.New("booking: Options.Reminders must be positive")
		}
	}
	s := &Service{kv: opts.Store, clock: clock.Or(opts.Clock), log: opts.Logger, opts: opts,
		profiles: opts.Profiles, outbox: opts.Outbox}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// retention returns the tenant's booking retention period.
func (s *Service) retention(tenantID string) time.Duration {
	if s.opts.Retention == nil {
		return DefaultRetention
	}
	return s.opts.Retention(tenantID)
}

// expired reports whether b is past its retention deadline at now.
func (s *Service) expired(b *bookingRecord, now time.Time) bool {
	return !now.Before(b.End.Add(s.retention(b.TenantID)))
}

// may reports whether a manages the advisor's data.
func (a Actor) may(tenantID, advisorID string) bool {
	if a.TenantID == "" || a.TenantID != tenantID {
		return false
	}
	return a.Admin || (a.UserID != "" && a.UserID == advisorID)
}
