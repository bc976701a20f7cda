// Package meeting is the relay's meetings domain: instant and booked
// meetings, their join links, the waiting room with admission, the
// participants' secrets, and the meeting-metadata data class with its
// retention rule.
//
// It is a domain package: it knows nothing of HTTP, WebRTC or signalling,
// takes its time from an injected clock and keeps its state in a store.KV
// under the key prefix "meeting/" with JSON values. Personal data (customer
// names and phone numbers, participant IP addresses, the advisor's display
// name) is kept in values only, which the store encrypts at rest; keys hold
// random ids and SHA-256 digests of tokens. Logs carry ids only.
//
// Join tokens ("pmj_" + 32 random bytes, base64url) and participant secrets
// ("pmp_" + 32 random bytes) are shown to their holder once; only their
// SHA-256 is stored. The participant set of a meeting lives in the meeting's
// record and every change to it is one read-modify-write transaction, so
// concurrent joins, admissions and ends can never exceed the limits or admit
// anyone into an ended meeting.
//
// A Service also feeds an in-memory event stream per meeting (Subscribe) for
// the signalling layer.
package meeting

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"parley/relay/clock"
	"parley/relay/store"
)

// Errors returned by the Service, wrapped with what was being done; check
// them with errors.Is.
var (
	// ErrLinkInvalid: a join token that is malformed, forged, unknown or
	// revoked (rotated away).
	ErrLinkInvalid = errors.New("join link invalid")
	// ErrLinkNotYetOpen: a booked meeting's link used too early; the error
	// is a *NotYetOpenError that says when the link opens.
	ErrLinkNotYetOpen = errors.New("join link not yet open")
	// ErrLinkExpired: a join link used after its expiry.
	ErrLinkExpired = errors.New("join link expired")
	// ErrMeetingEnded: the meeting has ended; its link and every
	// participant secret are dead.
	ErrMeetingEnded = errors.New("meeting ended")
	// ErrSecretInvalid: a participant secret that is malformed, forged or
	// unknown.
	ErrSecretInvalid = errors.New("participant secret invalid")
	// ErrForbidden: the actor may not manage this meeting (another tenant,
	// or neither the meeting's advisor nor an admin of its tenant).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: no such meeting or participant.
	ErrNotFound = errors.New("not found")
	// ErrFull: the waiting room, the meeting or its join budget is full.
	ErrFull = errors.New("meeting full")
	// ErrWrongState: the participant is not in a state that allows the
	// operation (admitting someone who is not waiting, removing someone who
	// is not admitted).
	ErrWrongState = errors.New("participant in wrong state")
	// ErrInvalidInput: a malformed argument; the error is an *InputError.
	ErrInvalidInput = errors.New("invalid input")
)

// NotYetOpenError reports a join link used before it opens. It matches
// ErrLinkNotYetOpen with errors.Is.
type NotYetOpenError struct {
	// OpensAt is when the link starts to work.
	OpensAt time.Time
}

// Error implements error.
func (e *NotYetOpenError) Error() string {
	return "join link opens at " + e.OpensAt.UTC().Format(time.RFC3339)
}

// Unwrap makes the error match ErrLinkNotYetOpen.
func (e *NotYetOpenError) Unwrap() error { return ErrLinkNotYetOpen }

// InputError describes a malformed argument. It matches ErrInvalidInput
// with errors.Is. Its message never contains the offending value.
type InputError struct {
	// Field names the argument: "name", "phone", "ip", "title",
	// "tenant_id", "advisor_id", "advisor_name", "initiator", "start".
	Field string
	// Msg says what is wrong, in English.
	Msg string
}

// Error implements error.
func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes the error match ErrInvalidInput.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

// Type says how a meeting came about.
type Type string

// The meeting types.
const (
	// TypeInstant is created by an advisor on the spot.
	TypeInstant Type = "instant"
	// TypeBooked has a scheduled start (usually from a booking).
	TypeBooked Type = "booked"
)

// Status is where a meeting is in its life.
type Status string

// The meeting statuses; a meeting only moves forward through them.
const (
	// StatusScheduled: created, not started yet.
	StatusScheduled Status = "scheduled"
	// StatusOpen: started (the advisor started it or admitted a customer).
	StatusOpen Status = "open"
	// StatusEnded: over; link and secrets are dead.
	StatusEnded Status = "ended"
)

// Meeting is a meeting without its participants.
type Meeting struct {
	// ID is random and stable (32 hex digits).
	ID string
	// TenantID is the tenant the meeting belongs to.
	TenantID string
	// AdvisorID is the user id of the advisor who holds the meeting.
	AdvisorID string
	// CustomerID is the customer profile the meeting is held with (a
	// booking's customer, or one the advisor picked); empty when unknown.
	CustomerID string
	// Type is instant or booked.
	Type Type
	// Status is scheduled, open or ended.
	Status Status
	// Title is optional and shown to participants; it should not contain
	// customer data.
	Title string
	// Created is when the meeting was created.
	Created time.Time
	// ScheduledStart is the booked start; zero for instant meetings.
	ScheduledStart time.Time
	// Started is when the advisor started the meeting or first admitted a
	// customer; zero before.
	Started time.Time
	// Ended is when the meeting ended; zero before.
	Ended time.Time
	// LinkOpensAt and LinkExpiresAt bound when the join link works.
	LinkOpensAt, LinkExpiresAt time.Time
}

// Actor is the caller of an advisor-side operation, as authenticated by
// the API layer. A meeting may be managed by its advisor and by the admins
// of its tenant.
type Actor struct {
	// TenantID is the caller's tenant.
	TenantID string
	// UserID is the caller's user id.
	UserID string
	// Admin is set when the caller is an admin of TenantID.
	Admin bool
}

// NewMeeting is the input to CreateInstant and CreateBooked.
type NewMeeting struct {
	// TenantID of the meeting. Required.
	TenantID string
	// AdvisorID is the user id of the advisor. Required.
	AdvisorID string
	// AdvisorName is the advisor's display name at creation, kept in the
	// meeting metadata only (up to 200 characters).
	AdvisorName string
	// Title is optional (up to 200 characters, no control characters).
	Title string
	// Initiator says who created the meeting: a user id, or a component
	// such as "booking"; empty means AdvisorID.
	Initiator string
	// ScheduledStart is required for booked meetings and ignored for
	// instant ones.
	ScheduledStart time.Time
	// CustomerID links the meeting to a customer profile (optional); the
	// caller checks that the profile belongs to TenantID.
	CustomerID string
}

// Options configures New. Zero durations and limits take the defaults.
type Options struct {
	// Store holds meetings, links, secrets and metadata. Required.
	Store store.KV
	// Clock is the time source for links and metadata; nil means the real
	// clock.
	Clock clock.Clock
	// Logger receives events with ids only; nil discards.
	Logger *slog.Logger
	// InstantLinkTTL is how long an instant meeting's link works after
	// creation; 0 means DefaultInstantLinkTTL (24 h).
	InstantLinkTTL time.Duration
	// BookedOpenBefore is how long before its scheduled start a booked
	// meeting's link opens; 0 means DefaultBookedOpenBefore (15 min).
	BookedOpenBefore time.Duration
	// BookedExpireAfter is how long after its scheduled start a booked
	// meeting's link expires; 0 means DefaultBookedExpireAfter (2 h).
	BookedExpireAfter time.Duration
	// MaxWaiting bounds the waiting room; 0 means DefaultMaxWaiting (20).
	MaxWaiting int
	// MaxParticipants bounds the admitted customers at a time (the advisor
	// not counted); 0 means DefaultMaxParticipants (50).
	MaxParticipants int
	// MaxJoins bounds how many joins a meeting records in all, including
	// rejected and removed ones, so that a leaked link cannot grow a
	// meeting's record without bound; 0 means DefaultMaxJoins (200).
	MaxJoins int
	// EventBuffer is the channel capacity of each subscriber; 0 means
	// DefaultEventBuffer (64).
	EventBuffer int
	// MetadataRule, when set, gives each meeting's metadata period and
	// legal hold (the privacy engine's effective policy); nil means
	// MetadataRetention and no holds. Reads stop serving participants'
	// names, phone numbers and IP addresses at that deadline, before the
	// sweep anonymises the record.
	MetadataRule MetadataRule
}

// Defaults for Options.
const (
	DefaultInstantLinkTTL    = 24 * time.Hour
	DefaultBookedOpenBefore  = 15 * time.Minute
	DefaultBookedExpireAfter = 2 * time.Hour
	DefaultMaxWaiting        = 20
	DefaultMaxParticipants   = 50
	DefaultMaxJoins          = 200
	DefaultEventBuffer       = 64
)

// Service implements meetings. It is safe for concurrent use. Event
// subscriptions live in the Service's memory, so one Service should serve
// all meetings of a relay process.
type Service struct {
	kv    store.KV
	clock clock.Clock
	log   *slog.Logger
	opts  Options
	notes notifier
}

// New returns a Service. It does not touch the store.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("meeting: Options.Store is required")
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
		n   string
	}{
		{&opts.InstantLinkTTL, DefaultInstantLinkTTL, "InstantLinkTTL"},
		{&opts.BookedOpenBefore, DefaultBookedOpenBefore, "BookedOpenBefore"},
		{&opts.BookedExpireAfter, DefaultBookedExpireAfter, "BookedExpireAfter"},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("meeting: Options.%s must not be negative", d.n)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	for _, l := range []struct {
		v   *int
		def int
		n   string
	}{
		{&opts.MaxWaiting, DefaultMaxWaiting, "MaxWaiting"},
		{&opts.MaxParticipants, DefaultMaxParticipants, "MaxParticipants"},
		{&opts.MaxJoins, DefaultMaxJoins, "MaxJoins"},
		{&opts.EventBuffer, DefaultEventBuffer, "EventBuffer"},
	} {
		if *l.v < 0 {
			return nil, fmt.Errorf("meeting: Options.%s must not be negative", l.n)
		}
		if *l.v == 0 {
			*l.v = l.def
		}
	}
	s := &Service{kv: opts.Store, clock: clock.Or(opts.Clock), log: opts.Logger, opts: opts}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.notes.buffer = opts.EventBuffer
	return s, nil
}
