// Package messaging is the relay's messenger inbox domain: conversations
// between an advisor and a customer on one channel (the relay's own chat,
// the contact form, WhatsApp Business, Telegram, Facebook Messenger, SMS),
// their messages with a gap-free per-conversation sequence number,
// idempotent client sends, provider-message deduplication, delivery and
// read receipts that only move forward, unread counts, canned responses,
// the WhatsApp 24-hour customer-service window, a per-advisor change feed
// for the desktop app's offline cache, and retention (deleted a tenant's
// period after the conversation closed; erasure and export per customer).
//
// It is a domain package: no HTTP, no provider code (relay/channels
// adapts the providers), time from an injected clock, state in a store.KV
// under the key prefix "messaging/" with JSON values (layout in keys.go).
// Message bodies, attachment names and bytes, and the customer's provider
// address are sealed with the customer's own key through a Sealer
// (relay/customer), so destroying that key makes them unreadable in the
// store and in every backup. Keys hold random ids, tenant and user ids,
// sequence numbers and digests only; logs carry ids only.
//
// docs/messaging.md describes the model, the keys and the guarantees.
package messaging

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/retention"
	"parley/relay/store"
)

// Errors returned by the Service, wrapped with what was being done; check
// them with errors.Is. Their messages never hold input.
var (
	// ErrNotFound: no such conversation, message, attachment or canned
	// response for this caller (also one past its retention deadline or
	// being deleted).
	ErrNotFound = errors.New("messaging: not found")
	// ErrForbidden: the actor is not a valid user of a tenant, or may not
	// do this (a customer assigning, an advisor writing tenant-wide
	// canned responses, an advisor reading another advisor's feed).
	ErrForbidden = errors.New("messaging: forbidden")
	// ErrInvalidInput: a malformed argument; the error is an *InputError.
	ErrInvalidInput = errors.New("messaging: invalid input")
	// ErrIdempotencyMismatch: a client message id already used in the
	// conversation for a different message.
	ErrIdempotencyMismatch = errors.New("messaging: client message id already used for another message")
	// ErrWindowClosed: free text on WhatsApp outside the 24-hour
	// customer-service window; send an approved template instead. The
	// error is a *WindowError.
	ErrWindowClosed = errors.New("messaging: the WhatsApp 24-hour customer-service window is closed; only an approved template can be sent")
	// ErrTooLarge: an attachment or a message's attachments together are
	// larger than MaxAttachmentBytes.
	ErrTooLarge = errors.New("messaging: attachment too large")
	// ErrTypeNotAllowed: an attachment's content (sniffed, not the claimed
	// type) is not of an allowed type.
	ErrTypeNotAllowed = errors.New("messaging: attachment type not allowed")
)

// InputError describes a malformed argument. It matches ErrInvalidInput
// with errors.Is. Its message never contains the offending value.
type InputError struct {
	// Field names the argument ("text", "client_id", "attachment.name", …).
	Field string
	// Msg says what is wrong, in English.
	Msg string
}

// Error implements error.
func (e *InputError) Error() string { return "messaging: " + e.Field + ": " + e.Msg }

// Unwrap makes the error match ErrInvalidInput.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

func invalid(field, msg string) error { return &InputError{Field: field, Msg: msg} }

// WindowError reports free text refused outside the WhatsApp window. It
// matches ErrWindowClosed with errors.Is.
type WindowError struct {
	// LastInbound is the customer's last message; zero when the customer
	// never wrote.
	LastInbound time.Time
	// ClosedAt is when the window closed (LastInbound + WhatsAppWindow);
	// zero when it never opened.
	ClosedAt time.Time
}

// Error implements error.
func (e *WindowError) Error() string { return ErrWindowClosed.Error() }

// Unwrap makes the error match ErrWindowClosed.
func (e *WindowError) Unwrap() error { return ErrWindowClosed }

// Limits.
const (
	// MaxTextRunes bounds a message's text (WhatsApp's own limit).
	MaxTextRunes = 4096
	// MaxAttachments bounds the attachments of one message.
	MaxAttachments = 10
	// MaxAttachmentBytes bounds one attachment and all attachments of a
	// message together (25 MiB).
	MaxAttachmentBytes = 25 << 20
	// MaxCannedRunes bounds a canned response's text.
	MaxCannedRunes = 4096
	// MaxTitleRunes bounds a canned response's title.
	MaxTitleRunes = 100
	// MaxProviderID bounds a provider's message id or thread address, in
	// bytes.
	MaxProviderID = 256
	// WhatsAppWindow is how long after the customer's last message a
	// business may send free text on WhatsApp.
	WhatsAppWindow = 24 * time.Hour
	// DefaultRetention is how long a closed conversation is kept unless
	// Options.Retention says otherwise (class
	// retention.ClassMessengerMessages).
	DefaultRetention = 30 * retention.Day
)

// DataClass is the retention data class of everything this package stores.
const DataClass = retention.ClassMessengerMessages

// Channel is where a conversation takes place.
type Channel string

// The channels.
const (
	// ChannelChat is the relay's own chat (desktop app and browser).
	ChannelChat Channel = "chat"
	// ChannelContactForm is the contact form to an advisor.
	ChannelContactForm Channel = "contact_form"
	// ChannelWhatsApp is WhatsApp Business.
	ChannelWhatsApp Channel = "whatsapp"
	// ChannelTelegram is a Telegram bot.
	ChannelTelegram Channel = "telegram"
	// ChannelMessenger is Facebook Messenger.
	ChannelMessenger Channel = "messenger"
	// ChannelSMS is SMS.
	ChannelSMS Channel = "sms"
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	switch c {
	case ChannelChat, ChannelContactForm, ChannelWhatsApp, ChannelTelegram, ChannelMessenger, ChannelSMS:
		return true
	}
	return false
}

// External reports whether c goes through a provider: its conversations
// have a provider address, advisors' messages go out through
// Options.Outbound and carry a delivery state.
func (c Channel) External() bool {
	switch c {
	case ChannelWhatsApp, ChannelTelegram, ChannelMessenger, ChannelSMS:
		return true
	}
	return false
}

// Status is a conversation's state in the inbox.
type Status string

// The statuses.
const (
	// StatusOpen: the conversation needs the advisor.
	StatusOpen Status = "open"
	// StatusPending: the advisor waits for the customer or someone else.
	StatusPending Status = "pending"
	// StatusClosed: done; the retention period runs from closing. A new
	// message reopens it.
	StatusClosed Status = "closed"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return s == StatusOpen || s == StatusPending || s == StatusClosed }

// Role is what an actor is in a tenant.
type Role string

// The roles.
const (
	// RoleAdvisor sees and writes the conversations assigned to them.
	RoleAdvisor Role = "advisor"
	// RoleAdmin sees and manages every conversation of the tenant.
	RoleAdmin Role = "admin"
	// RoleCustomer is a customer in the browser: their own relay-chat and
	// contact-form conversations only. UserID is the customer id.
	RoleCustomer Role = "customer"
)

// Actor is the caller, as authenticated by the API layer.
type Actor struct {
	// TenantID is the caller's tenant.
	TenantID string
	// UserID is the caller's user id (the customer id for RoleCustomer).
	UserID string
	// Role is the caller's role.
	Role Role
}

func (a Actor) valid() bool {
	return ids.ValidRef(a.TenantID) && ids.ValidRef(a.UserID) &&
		(a.Role == RoleAdvisor || a.Role == RoleAdmin || a.Role == RoleCustomer)
}

// side is the side of the conversation the actor writes and reads on.
func (a Actor) side() Side {
	if a.Role == RoleCustomer {
		return SideCustomer
	}
	return SideAdvisor
}

// Side is one end of a conversation.
type Side string

// The sides.
const (
	// SideAdvisor is the advisor (or an admin acting for them).
	SideAdvisor Side = "advisor"
	// SideCustomer is the customer.
	SideCustomer Side = "customer"
)

// Sealer encrypts personal data with a customer's own key inside the
// caller's transaction; *customer.Service implements it. Once the
// customer's key is destroyed OpenTx fails, so everything sealed is
// unreadable (crypto-shredding).
type Sealer interface {
	// SealTx encrypts plaintext with the customer's key.
	SealTx(tx store.Txn, customerID string, plaintext []byte) ([]byte, error)
	// OpenTx decrypts what SealTx sealed for the same customer.
	OpenTx(tx store.Txn, customerID string, sealed []byte) ([]byte, error)
}

// Options configures New.
type Options struct {
	// Store holds everything under "messaging/". Required.
	Store store.KV
	// Clock is the time source for sequence stamps, the WhatsApp window
	// and retention; nil means the real clock.
	Clock clock.Clock
	// Logger receives events with ids only; nil discards them.
	Logger *slog.Logger
	// Sealer seals bodies, attachments and provider addresses with the
	// customer's key. Required.
	Sealer Sealer
	// Outbound is called inside the transaction that stores an advisor's
	// message on an external channel (Channel.External), with the
	// conversation (its Address opened) and the message; it enqueues the
	// provider send (outbox.EnqueueTx), so the job exists if and only if
	// the message does. An error aborts the send. It may run more than
	// once for one message when the transaction is retried; only the
	// committed run counts. Nil stores external messages as queued without
	// sending them. It is also called for an advisor's message on a
	// contact-form conversation (Address empty), whose answer goes out by
	// e-mail; such messages carry no delivery state.
	Outbound func(tx store.Txn, c Conversation, m Message) error
	// Touch, when set, is called inside the transaction of every stored
	// message to record an interaction with the customer
	// (customer.Service.TouchTx), which restarts the profile's retention
	// period; an error aborts the message.
	Touch func(tx store.Txn, tenantID, customerID string, at time.Time) error
	// Retention returns a tenant's retention period for closed
	// conversations (retention.ClassMessengerMessages); nil, or a result
	// of zero or less, means DefaultRetention.
	Retention func(tenantID string) time.Duration
	// Deleted, when set, is called inside the transaction that deletes a
	// conversation's record (retention sweep or erasure), with the
	// conversation as it was (Address opened while the customer's key
	// still opens it), so that adapters delete their own records of it
	// (relay/server: the contact-form record msgwire/cf/<conversation>).
	// An error aborts that step; the next sweep finishes the deletion.
	Deleted func(tx store.Txn, c Conversation) error
	// MaxBatch bounds how many concurrent writes (sends, receipts,
	// conversation changes) share one synced commit (group commit, see
	// store.Group); zero means store.DefaultMaxBatch (256), 1 commits
	// every write alone.
	MaxBatch int
	// BatchWait is how long a batch waits for more writes before it is
	// committed; zero means no waiting (a batch is what queued while the
	// previous one was committing).
	BatchWait time.Duration
}

// Service keeps conversations and messages. It is safe for concurrent use.
type Service struct {
	kv       store.KV
	clock    clock.Clock
	log      *slog.Logger
	sealer   Sealer
	outbound func(tx store.Txn, c Conversation, m Message) error
	period   func(string) time.Duration
	touch    func(tx store.Txn, tenantID, customerID string, at time.Time) error
	deleted  func(tx store.Txn, c Conversation) error

	group *store.Group
	feeds notifier
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("messaging: Options.Store is required")
	}
	if opts.Sealer == nil {
		return nil, errors.New("messaging: Options.Sealer is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{kv: opts.Store, clock: clock.Or(opts.Clock), log: log.With("component", "messaging"),
		sealer: opts.Sealer, outbound: opts.Outbound, period: opts.Retention, touch: opts.Touch, deleted: opts.Deleted,
		group: store.NewGroup(store.GroupOptions{KV: opts.Store, MaxBatch: opts.MaxBatch, MaxWait: opts.BatchWait})}, nil
}

// retentionPeriod is the tenant's period for closed conversations.
func (s *Service) retentionPeriod(tenantID string) time.Duration {
	if s.period != nil {
		if p := s.period(tenantID); p > 0 {
			return p
		}
	}
	return DefaultRetention
}

// wrap adds what was being done to an error.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("messaging: %s: %w", what, err)
}
