// Package privacy carries out data subjects' rights across every data
// class the relay keeps: the export of everything held about a customer
// (a ZIP of JSON files and files, with a manifest of SHA-256 hashes) and
// the erasure of a customer with a receipt.
//
// An erasure is first written to the erasure ledger, a file next to the
// store that restores of older backups leave alone; then it destroys the
// customer's data key (crypto-shredding every copy sealed with it, backups
// included), deletes the profile, then every other part (bookings,
// meetings, messages, …), and finally records a receipt and an audit
// entry. Each step is idempotent and the job's progress is stored, so an
// erasure cut short by a crash is finished by Resume on the next start,
// and one undone by a restore is carried out again: Resume replays the
// whole ledger before the relay serves.
package privacy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	"parley/relay/audit"
	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/retention"
	"parley/relay/store"
)

// Errors.
var (
	// ErrNotFound: no such customer in the tenant (or no such receipt).
	ErrNotFound = errors.New("not found")
	// ErrHeld: the customer is under a legal hold; nothing was erased.
	ErrHeld = errors.New("customer under legal hold")
	// ErrForbidden: the actor may not do this.
	ErrForbidden = errors.New("forbidden")
)

// Profiles is what the engine needs from the customer profiles
// (*customer.Service).
type Profiles interface {
	Export(ctx context.Context, a customer.Actor, id string) (customer.Profile, error)
	ReplayErasures(ctx context.Context, ledger []customer.Receipt) (int, error)
}

// AddFunc adds one file to an export; name is relative to the part's
// folder (slash-separated, no "..").
type AddFunc func(name string, r io.Reader) error

// Part is a data class (or a family of them) that holds a customer's data
// apart from the profile, such as bookings or meetings.
type Part interface {
	// Name is the part's folder in an export and its key in a receipt,
	// e.g. "bookings".
	Name() string
	// Export adds the customer's records, as JSON files and plain files.
	Export(ctx context.Context, tenantID, customerID string, add AddFunc) error
	// Erase deletes (or anonymises) every record of the customer and
	// returns how many it deleted. It is called again after a crash or a
	// restore, so it must be idempotent.
	Erase(ctx context.Context, tenantID, customerID string) (int, error)
}

// Holds tells whether a legal hold keeps a subject (*retention.Policy).
type Holds interface {
	Held(ctx context.Context, tenantID string, kind retention.SubjectKind, subjectID string) bool
}

// Auditor appends to the audit log (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Entry, error)
}

// Actor is who asks: only a tenant's admins export and erase.
type Actor struct {
	// TenantID is the caller's tenant.
	TenantID string
	// UserID is the caller's user id.
	UserID string
	// Admin is set for an admin of TenantID.
	Admin bool
}

// Options configures New.
type Options struct {
	// Store keeps the erasure jobs and receipts. Required.
	Store store.KV
	// Ledger is the erasure ledger. Required.
	Ledger *Ledger
	// Profiles are the customer profiles. Required.
	Profiles Profiles
	// Parts are the other data classes, erased in this order after the
	// profile's data key is destroyed.
	Parts []Part
	// Holds are the legal holds; nil means none.
	Holds Holds
	// Audit receives an entry per export and erasure; nil logs none.
	Audit Auditor
	// Clock stamps receipts; nil means the real clock.
	Clock clock.Clock
	// Logger gets ids only; nil discards.
	Logger *slog.Logger
}

// Service is the privacy engine's data-subject side.
type Service struct {
	kv       store.KV
	ledger   *Ledger
	profiles Profiles
	parts    []Part
	holds    Holds
	audit    Auditor
	clock    clock.Clock
	log      *slog.Logger

	mu sync.Mutex // one erasure at a time

	// stepHook, when set (tests), runs before each step of an erasure; an
	// error stops the erasure there, as a crash would.
	stepHook func(step string) error
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Ledger == nil || opts.Profiles == nil {
		return nil, errors.New("privacy: Store, Ledger and Profiles are required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{profilePart: true}
	for _, p := range opts.Parts {
		if p == nil || seen[p.Name()] || !validName(p.Name()) {
			return nil, errors.New("privacy: parts need distinct simple names")
		}
		seen[p.Name()] = true
	}
	return &Service{kv: opts.Store, ledger: opts.Ledger, profiles: opts.Profiles, parts: opts.Parts,
		holds: opts.Holds, audit: opts.Audit, clock: clock.Or(opts.Clock), log: log}, nil
}

// profilePart is the receipt key of the profile step.
const profilePart = "customer_profile"

func validName(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
