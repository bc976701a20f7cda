// Package signing is the relay's e-signature process (issue 6): an advisor
// uploads a PDF, places signature and text fields, assigns them to signers
// (customer1 … customerN, advisor) in a signing order and sends the process;
// each customer gets a link by e-mail (when it is their turn) and a one-time
// code by SMS, views the document, fills their text fields and signs with
// the pen; the advisor signs last through the authenticated API when
// assigned; after the last signature the document is sealed (audit page)
// and everyone is told.
//
// Per signature the relay decodes the browser's Pointer Events JSON
// (signpad/browser), draws the appearance PNG (signpad/ink), writes the
// ISO/IEC 19794-7 record (signpad/iso19794), seals it in a biometric
// envelope for the tenant's trustee key (signpad/envelope: the private key
// is never on the relay) and appends a PAdES signing step with the tenant's
// seal certificate (relay/signing/pdf).
//
// It is a domain package: no HTTP, time from an injected clock, state in a
// store.KV under "signing/" (layout in keys.go). Customers are referenced by
// profile id; names, e-mail addresses and mobile numbers are read from
// relay/customer when a mail or SMS is sent and never copied. Logs carry ids
// only. docs/signing.md describes the flow and the decisions.
package signing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/retention"
	"parley/relay/signing/pdf"
	"parley/relay/store"
)

// Errors returned by the Service, wrapped with what was being done; check
// them with errors.Is. Their text never holds personal data or document
// content. pdf's sentinels (pdf.ErrNotPDF, pdf.ErrEncrypted, …) pass through
// wrapped.
var (
	// ErrNotFound: no such process or link (also one past its retention
	// deadline, of another tenant, or cancelled for a signer's link).
	ErrNotFound = errors.New("signing: not found")
	// ErrForbidden: the actor may not act on this process.
	ErrForbidden = errors.New("signing: forbidden")
	// ErrInvalidInput: a malformed argument; the error is an *InputError.
	ErrInvalidInput = errors.New("signing: invalid input")
	// ErrState: the process is not in a state that allows this (fields of
	// a sent process, sending twice, signing a draft, …).
	ErrState = errors.New("signing: not possible in the process's current state")
	// ErrNotYourTurn: the signer is not next in the signing order.
	ErrNotYourTurn = errors.New("signing: not this signer's turn")
	// ErrExpired: the signing links of the process have expired.
	ErrExpired = errors.New("signing: the signing link has expired")
	// ErrCodeRequired: the signer has no valid verified session: the SMS
	// code must be verified first.
	ErrCodeRequired = errors.New("signing: one-time code not verified")
	// ErrWrongCode: the one-time code is wrong.
	ErrWrongCode = errors.New("signing: wrong one-time code")
	// ErrCodeExpired: there is no live code (none sent, expired, or its
	// attempts are used up): request a new one.
	ErrCodeExpired = errors.New("signing: one-time code expired or used up")
	// ErrTooSoon: a new code was requested within the cooldown, or the
	// signer's code budget is used up; the error is a *WaitError.
	ErrTooSoon = errors.New("signing: too many code requests")
	// ErrNoTrusteeKey: the tenant has no trustee public key; an admin must
	// set one before processes can be sent.
	ErrNoTrusteeKey = errors.New("signing: the tenant has no trustee key for biometric data")
	// ErrContactMissing: a customer signer's profile lacks the e-mail
	// address or mobile number the asynchronous flow needs (or is gone).
	ErrContactMissing = errors.New("signing: a signer's e-mail address or mobile number is missing")
	// ErrConflict: the process changed while the request was processed;
	// the caller may retry.
	ErrConflict = errors.New("signing: the process changed meanwhile")
)

// InputError describes a malformed argument. It matches ErrInvalidInput.
// Its message never contains the offending value.
type InputError struct {
	// Field names the argument ("title", "signers", "code", …).
	Field string
	// Msg says what is wrong, in English.
	Msg string
}

// Error implements error.
func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes the error match ErrInvalidInput.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

func invalid(field, msg string) error { return &InputError{Field: field, Msg: msg} }

// WaitError tells how long to wait before a new code can be sent. It
// matches ErrTooSoon.
type WaitError struct {
	// Wait is the time until a new code may be requested; zero when the
	// signer's code budget is used up for good.
	Wait time.Duration
}

// Error implements error.
func (e *WaitError) Error() string {
	if e.Wait <= 0 {
		return "no more codes can be sent for this signer"
	}
	return fmt.Sprintf("a new code can be sent in %d s", int(e.Wait.Seconds()+0.999))
}

// Unwrap makes the error match ErrTooSoon.
func (e *WaitError) Unwrap() error { return ErrTooSoon }

// Status is a process's state.
type Status string

// Process statuses.
const (
	// StatusDraft: uploaded, fields being placed.
	StatusDraft Status = "draft"
	// StatusSent: signers are signing.
	StatusSent Status = "sent"
	// StatusCompleted: everyone signed; the document is sealed.
	StatusCompleted Status = "completed"
	// StatusCancelled: the advisor cancelled it; links are dead.
	StatusCancelled Status = "cancelled"
	// StatusExpired: sent, but not completed within Options.LinkTTL; links
	// are dead. It is computed on read, never stored.
	StatusExpired Status = "expired"
)

// SignerState is where a signer stands.
type SignerState string

// Signer states.
const (
	// SignerWaiting: signers ahead of them have not signed yet.
	SignerWaiting SignerState = "waiting"
	// SignerPending: it is their turn.
	SignerPending SignerState = "pending"
	// SignerSigned: they signed.
	SignerSigned SignerState = "signed"
)

// RoleAdvisor is the advisor's role; customers are "customer1" … "customerN".
const RoleAdvisor = "advisor"

// Signer is one signer of a process.
type Signer struct {
	// Role is "customer1" … "customer20" or "advisor".
	Role string `json:"role"`
	// CustomerID is the customer's profile id (relay/customer); empty for
	// the advisor. Name, e-mail and mobile come from the profile.
	CustomerID string `json:"customer_id,omitempty"`
	// Order is the 1-based place in the signing order.
	Order int `json:"order"`
	// State is waiting, pending or signed (set on read from the process).
	State SignerState `json:"state"`
	// SignedAt is when they signed.
	SignedAt time.Time `json:"signed_at,omitzero"`
}

// Version kinds of a process's document.
const (
	// VersionOriginal is the uploaded PDF.
	VersionOriginal = "original"
	// VersionStep is the document after a signing step.
	VersionStep = "step"
	// VersionFinal is the sealed document with the audit page.
	VersionFinal = "final"
)

// Version is one stored revision of the process's document.
type Version struct {
	// N is the version's index (0 is the original).
	N int `json:"n"`
	// Kind is original, step or final.
	Kind string `json:"kind"`
	// Role is the signer of a step version.
	Role string `json:"role,omitempty"`
	// Size is the length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the bytes.
	SHA256 string `json:"sha256"`
	// Created is when it was stored.
	Created time.Time `json:"created"`
}

// Process is one signature process.
type Process struct {
	// ID is random (32 hex digits).
	ID string `json:"id"`
	// TenantID is the advisor's tenant.
	TenantID string `json:"tenant_id"`
	// AdvisorID is the advisor who owns the process (and signs as
	// "advisor" when assigned).
	AdvisorID string `json:"advisor_id"`
	// Title lets the advisor find the process later (1–200 characters).
	Title string `json:"title"`
	// Lang is the language of the signers' mails and SMS ("de" or "en").
	Lang string `json:"lang"`
	// Status is draft, sent, completed, cancelled or expired.
	Status Status `json:"status"`
	// Created is when the PDF was uploaded; the retention period of an
	// unfinished process runs from it.
	Created time.Time `json:"created"`
	// Sent is when the process was sent.
	Sent time.Time `json:"sent,omitzero"`
	// Completed is when the last signature was sealed; the signed
	// document's retention period runs from it.
	Completed time.Time `json:"completed,omitzero"`
	// Expires is when the process and its document are deleted (held
	// processes are kept past it).
	Expires time.Time `json:"expires"`
	// LinksExpire is when the signers' links stop working (sent
	// processes).
	LinksExpire time.Time `json:"links_expire,omitzero"`
	// Pages describes the document's pages (for placing fields).
	Pages []pdf.PageInfo `json:"pages"`
	// Plan is the validated field layout and signing order (nil in a
	// draft without fields).
	Plan *pdf.Plan `json:"plan,omitempty"`
	// Signers are the signers in signing order.
	Signers []Signer `json:"signers"`
	// Versions are the stored revisions of the document, oldest first.
	Versions []Version `json:"versions"`
	// Rev counts the changes of the record (optimistic concurrency).
	Rev int `json:"rev"`
}

// Next returns the signer whose turn it is, or nil.
func (p *Process) Next() *Signer {
	if p.Status != StatusSent {
		return nil
	}
	for i := range p.Signers {
		if p.Signers[i].SignedAt.IsZero() {
			return &p.Signers[i]
		}
	}
	return nil
}

// signer returns the signer with role, or nil.
func (p *Process) signer(role string) *Signer {
	for i := range p.Signers {
		if p.Signers[i].Role == role {
			return &p.Signers[i]
		}
	}
	return nil
}

// Actor is the caller of an advisor-side operation as authenticated by
// the API layer: an advisor manages their own processes, an admin every
// process of the tenant (but signs for nobody).
type Actor struct {
	// TenantID is the caller's tenant.
	TenantID string
	// UserID is the caller's user id.
	UserID string
	// Admin is set for an admin of TenantID.
	Admin bool
}

func (a Actor) may(p *Process) bool {
	if a.TenantID == "" || a.TenantID != p.TenantID {
		return false
	}
	return a.Admin || (a.UserID != "" && a.UserID == p.AdvisorID)
}

// Profiles is what signing needs of customer profiles (*customer.Service);
// every method works inside the caller's transaction.
type Profiles interface {
	// ContactTx returns a live profile's contact.
	ContactTx(tx store.Txn, customerID string) (customer.Contact, error)
	// TouchTx records an interaction; ErrNotFound for a profile of
	// another tenant (so it also checks the tenant).
	TouchTx(tx store.Txn, tenantID, customerID string, at time.Time) error
	// SealTx encrypts plaintext with the customer's key.
	SealTx(tx store.Txn, customerID string, plaintext []byte) ([]byte, error)
	// OpenTx decrypts what SealTx sealed.
	OpenTx(tx store.Txn, customerID string, sealed []byte) ([]byte, error)
}

// Outbox takes durable jobs (*outbox.Outbox).
type Outbox interface {
	// EnqueueTx adds a job inside the caller's transaction.
	EnqueueTx(tx store.Txn, kind string, payload []byte, notBefore time.Time) error
}

// Holds tells whether a legal hold keeps a subject (*retention.Policy).
type Holds interface {
	// Held reports whether a hold keeps the subject.
	Held(ctx context.Context, tenantID string, kind retention.SubjectKind, subjectID string) bool
}

// Options configures New. Zero values take the defaults.
type Options struct {
	// Store holds everything. Required.
	Store store.KV
	// Clock is the time source; nil means the real clock.
	Clock clock.Clock
	// Logger receives events with ids only; nil discards.
	Logger *slog.Logger
	// Profiles reads customers' contacts and seals link tokens and codes.
	// Required.
	Profiles Profiles
	// Outbox takes the mail and SMS jobs. Required.
	Outbox Outbox
	// Holds keeps held processes past their deadline (subject kinds
	// document = process id, and customer); nil means no holds.
	Holds Holds
	// Retention returns a tenant's period for class
	// (retention.ClassSignatureProcess or ClassSignedDocument); nil or a
	// result ≤ 0 means the defaults (30 and 180 days).
	Retention func(tenantID, class string) time.Duration
	// SealKEK is the 32-byte key that encrypts the tenants' seal private
	// keys at rest (AES-256-GCM). Required.
	SealKEK []byte
	// TenantName names a tenant in its seal certificate's organisation;
	// nil or "" uses the tenant id.
	TenantName func(ctx context.Context, tenantID string) string
	// Limits bound uploads; zero values mean DefaultMaxBytes and
	// DefaultMaxPages.
	Limits pdf.Limits
	// LinkTTL is how long signing links work after sending; 0 means
	// DefaultLinkTTL.
	LinkTTL time.Duration
}

// Defaults and limits.
const (
	// DefaultMaxBytes caps an uploaded PDF (20 MiB).
	DefaultMaxBytes = 20 << 20
	// DefaultMaxPages caps its page count.
	DefaultMaxPages = 500
	// DefaultLinkTTL is how long links work after sending (14 days; the
	// process is deleted 30 days after its start anyway).
	DefaultLinkTTL = 14 * retention.Day
	// DefaultProcessRetention is the default period of an unfinished
	// process, from its start.
	DefaultProcessRetention = 30 * retention.Day
	// DefaultDocumentRetention is the default period of a signed
	// document, from its completion.
	DefaultDocumentRetention = 180 * retention.Day
	// CodeTTL is how long a one-time code is valid.
	CodeTTL = 10 * time.Minute
	// CodeAttempts is how many wrong tries a code survives.
	CodeAttempts = 5
	// CodeCooldown is the least time between two code SMS.
	CodeCooldown = 60 * time.Second
	// MaxCodes is the most codes sent to one signer of a process.
	MaxCodes = 10
	// SessionTTL is how long a verified signer may view and sign.
	SessionTTL = 30 * time.Minute
	// MaxTitle is the longest title in characters.
	MaxTitle = 200
	// MaxCustomers is the most customer signers.
	MaxCustomers = 19
)

// Outbox job kinds; payloads hold ids only (and a code sealed with the
// customer's key). Handlers read the rest when the job runs.
const (
	// JobSignerMail mails a customer signer (payload Notice: Event
	// EventInvite or EventCompleted).
	JobSignerMail = "signing.signer_mail"
	// JobAdvisorMail mails the advisor (EventAdvisorTurn, EventCompleted).
	JobAdvisorMail = "signing.advisor_mail"
	// JobCodeSMS sends a one-time code (payload Notice with SealedCode).
	JobCodeSMS = "signing.code_sms"
)

// Notice events.
const (
	// EventInvite: it is the customer's turn to sign.
	EventInvite = "invite"
	// EventAdvisorTurn: every customer signed; the advisor signs now.
	EventAdvisorTurn = "advisor_turn"
	// EventCompleted: the document is signed and sealed.
	EventCompleted = "completed"
	// EventCode: a one-time code SMS.
	EventCode = "code"
)

// Notice is the payload of the signing jobs.
type Notice struct {
	// ProcessID is the process.
	ProcessID string `json:"process_id"`
	// Role is the signer the job is for (customer jobs).
	Role string `json:"role,omitempty"`
	// Event says which message.
	Event string `json:"event"`
	// SealedCode is the one-time code sealed with the customer's key
	// (JobCodeSMS).
	SealedCode []byte `json:"sealed_code,omitempty"`
}

// Service implements the signature processes. It is safe for concurrent
// use; state is in the store.
type Service struct {
	kv       store.KV
	clock    clock.Clock
	log      *slog.Logger
	opts     Options
	profiles Profiles
	outbox   Outbox

	mu    sync.Mutex
	locks map[string]*sync.Mutex // per process: one signing step at a time
	seal  sync.Mutex             // seal certificate generation
}

// New returns a Service. It does not touch the store.
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Profiles == nil || opts.Outbox == nil {
		return nil, errors.New("signing: Options.Store, Profiles and Outbox are required")
	}
	if len(opts.SealKEK) != 32 {
		return nil, errors.New("signing: Options.SealKEK must be 32 bytes")
	}
	if opts.Limits.MaxBytes <= 0 {
		opts.Limits.MaxBytes = DefaultMaxBytes
	}
	if opts.Limits.MaxPages <= 0 {
		opts.Limits.MaxPages = DefaultMaxPages
	}
	if opts.LinkTTL <= 0 {
		opts.LinkTTL = DefaultLinkTTL
	}
	s := &Service{kv: opts.Store, clock: clock.Or(opts.Clock), log: opts.Logger, opts: opts,
		profiles: opts.Profiles, outbox: opts.Outbox, locks: map[string]*sync.Mutex{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// MaxBytes is the largest PDF Create accepts.
func (s *Service) MaxBytes() int64 { return s.opts.Limits.MaxBytes }

// lock serialises the signing steps of one process within this relay.
func (s *Service) lock(id string) func() {
	s.mu.Lock()
	m := s.locks[id]
	if m == nil {
		m = &sync.Mutex{}
		s.locks[id] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// period returns a tenant's retention period of class.
func (s *Service) period(tenantID, class string) time.Duration {
	def := DefaultProcessRetention
	if class == retention.ClassSignedDocument {
		def = DefaultDocumentRetention
	}
	if s.opts.Retention == nil {
		return def
	}
	if d := s.opts.Retention(tenantID, class); d > 0 {
		return d
	}
	return def
}

// deadline is when p is due for deletion: 30 days (or the tenant's
// period) after the start while not completed, 180 days after completion.
func (s *Service) deadline(p *Process) time.Time {
	if p.Status == StatusCompleted {
		return p.Completed.Add(s.period(p.TenantID, retention.ClassSignedDocument))
	}
	return p.Created.Add(s.period(p.TenantID, retention.ClassSignatureProcess))
}

// held reports whether a legal hold keeps p: a hold on the process (subject
// kind document) or on one of its customers.
func (s *Service) held(ctx context.Context, p *Process) bool {
	if s.opts.Holds == nil {
		return false
	}
	if s.opts.Holds.Held(ctx, p.TenantID, retention.SubjectDocument, p.ID) {
		return true
	}
	for _, sg := range p.Signers {
		if sg.CustomerID != "" && s.opts.Holds.Held(ctx, p.TenantID, retention.SubjectCustomer, sg.CustomerID) {
			return true
		}
	}
	return false
}

// visible reports whether p may still be served at now: before its
// deadline, or held.
func (s *Service) visible(ctx context.Context, p *Process, now time.Time) bool {
	return now.Before(s.deadline(p)) || s.held(ctx, p)
}

// decorate fills the computed fields of a process read from the store.
func (s *Service) decorate(p *Process, now time.Time) {
	p.Expires = s.deadline(p)
	if !p.Sent.IsZero() {
		p.LinksExpire = p.Sent.Add(s.opts.LinkTTL)
	}
	if p.Status == StatusSent && !now.Before(p.Sent.Add(s.opts.LinkTTL)) {
		p.Status = StatusExpired
	}
	next := p.Next()
	for i := range p.Signers {
		sg := &p.Signers[i]
		switch {
		case !sg.SignedAt.IsZero():
			sg.State = SignerSigned
		case next != nil && next.Role == sg.Role:
			sg.State = SignerPending
		default:
			sg.State = SignerWaiting
		}
	}
}
