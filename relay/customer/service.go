package customer

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
// them with errors.Is.
var (
	// ErrNotFound: no such customer for this caller, or the profile is
	// past its retention deadline (filtered on read) or erased.
	ErrNotFound = errors.New("customer not found")
	// ErrForbidden: the actor is not an authenticated user of a tenant.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidInput: a malformed argument; the error is an *InputError.
	ErrInvalidInput = errors.New("invalid input")
	// ErrDuplicate: another live profile of the tenant has this e-mail
	// address; the error is a *DuplicateError.
	ErrDuplicate = errors.New("customer with this e-mail exists")
	// ErrShredded: the customer's data key is destroyed (erasure, or the
	// profile's retention ran out), so what was sealed with it can never be
	// opened again.
	ErrShredded = errors.New("customer data key destroyed")
	// ErrSealedInvalid: a sealed blob that is malformed, was sealed for
	// another customer, or was altered.
	ErrSealedInvalid = errors.New("sealed data invalid")
)

// InputError describes a malformed argument. It matches ErrInvalidInput
// with errors.Is. Its message never contains the offending value.
type InputError struct {
	// Field names the argument: "first_name", "last_name", "email",
	// "mobile", "address.street", "address.postal_code", "address.city",
	// "address.country", "tenant_id", "query".
	Field string
	// Msg says what is wrong, in English.
	Msg string
}

// Error implements error.
func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes the error match ErrInvalidInput.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

// DuplicateError reports an e-mail address already used by another live
// profile of the tenant. It matches ErrDuplicate with errors.Is.
type DuplicateError struct {
	// CustomerID is the profile that has the address.
	CustomerID string
}

// Error implements error.
func (e *DuplicateError) Error() string {
	return "e-mail address already used by customer " + e.CustomerID
}

// Unwrap makes the error match ErrDuplicate.
func (e *DuplicateError) Unwrap() error { return ErrDuplicate }

// DefaultRetention is how long a profile is kept after the customer's last
// interaction unless Options.Retention says otherwise (class
// retention.ClassCustomerProfile).
const DefaultRetention = 360 * retention.Day

// Profile is a customer's profile as advisors see it.
type Profile struct {
	// ID is random and stable (32 hex digits).
	ID string
	// TenantID is the tenant the customer belongs to.
	TenantID string
	// Contact is the customer's name, e-mail, mobile and address.
	Contact Contact
	// Created is when the profile was created.
	Created time.Time
	// LastInteraction is the customer's last booking, meeting or other
	// interaction; the retention period runs from it.
	LastInteraction time.Time
	// Expires is when the profile is deleted unless the customer interacts
	// again: LastInteraction plus the tenant's retention period.
	Expires time.Time
}

// Actor is the caller of an advisor-side operation, as authenticated by
// the API layer. Any advisor of a tenant may see and edit all of the
// tenant's customers (customers are the tenant's, not one advisor's: a
// customer may book different advisors over time).
type Actor struct {
	// TenantID is the caller's tenant.
	TenantID string
	// UserID is the caller's user id.
	UserID string
	// Admin is set when the caller is an admin of TenantID.
	Admin bool
}

// Receipt confirms an erasure. It holds ids and a time only and is kept in
// the erasure ledger after the customer's data is gone.
type Receipt struct {
	// CustomerID is the erased customer.
	CustomerID string `json:"customer_id"`
	// TenantID is the customer's tenant.
	TenantID string `json:"tenant_id"`
	// Erased is when the data key, profile and index were destroyed.
	Erased time.Time `json:"erased"`
}

// Options configures New.
type Options struct {
	// Store holds profiles, keys and indexes under "customer/". Required.
	Store store.KV
	// Clock is the time source for retention deadlines; nil means the real
	// clock.
	Clock clock.Clock
	// Logger receives events with ids only; nil discards them.
	Logger *slog.Logger
	// Retention returns a tenant's retention period for profiles (from
	// the last interaction); nil, or a result of zero or less, means
	// DefaultRetention.
	Retention func(tenantID string) time.Duration
	// DefaultCountryCode is the calling code given to national mobile
	// numbers ("0171 …"), e.g. "+49"; empty means DefaultCountryCode.
	DefaultCountryCode string
}

// Service keeps customer profiles. It is safe for concurrent use.
type Service struct {
	kv        store.KV
	clock     clock.Clock
	log       *slog.Logger
	retention func(string) time.Duration
	cc        string
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("customer: Options.Store is required")
	}
	cc := opts.DefaultCountryCode
	if cc == "" {
		cc = DefaultCountryCode
	}
	if _, ok := countryCode(cc); !ok {
		return nil, errors.New("customer: Options.DefaultCountryCode must be 1 to 3 digits, optionally after +")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{kv: opts.Store, clock: clock.Or(opts.Clock), log: log.With("component", "customer"),
		retention: opts.Retention, cc: cc}, nil
}

// ValidateContact is the package's ValidateContact with the Service's
// default country code.
func (s *Service) ValidateContact(c Contact, requireEmail bool) (Contact, error) {
	return validateContact(c, requireEmail, s.cc)
}

func (s *Service) period(tenantID string) time.Duration {
	if s.retention != nil {
		if p := s.retention(tenantID); p > 0 {
			return p
		}
	}
	return DefaultRetention
}

func (s *Service) deadline(r *profileRecord) time.Time {
	return r.LastInteraction.Add(s.period(r.TenantID))
}

// expired reports whether r's retention deadline has come at now.
func (s *Service) expired(r *profileRecord, now time.Time) bool { return !now.Before(s.deadline(r)) }

// live reads a profile that is served at now and its data key: an unknown,
// expired, key-less or erased profile is ErrNotFound. (An erased profile
// has no record; the ledger check guards against one brought back by a
// restore that has not replayed the ledger yet.)
func (s *Service) live(tx store.Txn, id string, now time.Time) (*profileRecord, []byte, error) {
	r, err := getProfile(tx, id)
	if err != nil {
		return nil, nil, err
	}
	if s.expired(r, now) {
		return nil, nil, ErrNotFound
	}
	if erased, err := isErased(tx, id); err != nil {
		return nil, nil, err
	} else if erased {
		return nil, nil, ErrNotFound
	}
	key, err := getDataKey(tx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	return r, key, nil
}

func (s *Service) profile(r *profileRecord, c Contact) Profile {
	return Profile{ID: r.ID, TenantID: r.TenantID, Contact: c, Created: r.Created,
		LastInteraction: r.LastInteraction, Expires: s.deadline(r)}
}

// findByEmail returns the live profile of the tenant indexed under mac, or
// nil. Index entries pointing at expired, erased or missing profiles are
// treated as absent.
func (s *Service) findByEmail(tx store.Txn, tenantID, mac string, now time.Time) (*profileRecord, []byte, error) {
	var idx indexRecord
	err := getJSON(tx, emailKey(tenantID, mac), &idx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	r, key, err := s.live(tx, idx.ID, now)
	if errors.Is(err, ErrNotFound) || err == nil && r.TenantID != tenantID {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return r, key, nil
}

// create writes a new profile with a fresh id and data key, and indexes
// its e-mail (when given) under mac.
func (s *Service) create(tx store.Txn, tenantID string, c Contact, mac string, now time.Time) (*profileRecord, error) {
	id, err := freshID(tx)
	if err != nil {
		return nil, err
	}
	key := newDataKey()
	sealed, err := sealContact(key, id, c)
	if err != nil {
		return nil, err
	}
	r := &profileRecord{V: 1, ID: id, TenantID: tenantID, Sealed: sealed, EmailMAC: mac, Created: now, LastInteraction: now}
	if err := putJSON(tx, dataKeyKey(id), keyRecord{Key: key, Created: now}); err != nil {
		return nil, err
	}
	if err := putJSON(tx, profileKey(id), r); err != nil {
		return nil, err
	}
	if err := tx.Set(tenantKey(tenantID, id), nil); err != nil {
		return nil, err
	}
	if mac != "" {
		if err := putJSON(tx, emailKey(tenantID, mac), indexRecord{ID: id}); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// freshID returns a random id that no profile, key or erasure uses.
func freshID(tx store.Txn) (string, error) {
	for range 8 {
		id := ids.New()
		used := false
		for _, k := range [][]byte{profileKey(id), dataKeyKey(id), erasedKey(id)} {
			_, err := tx.Get(k)
			if err == nil {
				used = true
				break
			}
			if !errors.Is(err, store.ErrNotFound) {
				return "", err
			}
		}
		if !used {
			return id, nil
		}
	}
	return "", errors.New("customer: no unused id found")
}

// UpsertTx finds the tenant's live profile with c's e-mail address (trimmed,
// case-insensitive) or creates one, inside the caller's transaction. The
// contact is validated as by ValidateContact with a required e-mail; on
// an existing profile its non-empty names, mobile and address overwrite the
// stored ones (the e-mail stays as stored). It records an interaction at
// now. A profile past its retention deadline or erased is never reused: the
// address then gets a new profile with a new id and a new data key.
func (s *Service) UpsertTx(tx store.Txn, tenantID string, c Contact, now time.Time) (string, error) {
	if !ids.ValidRef(tenantID) {
		return "", &InputError{Field: "tenant_id", Msg: "invalid"}
	}
	c, err := s.ValidateContact(c, true)
	if err != nil {
		return "", err
	}
	pep, err := pepper(tx, tenantID, true)
	if err != nil {
		return "", fmt.Errorf("customer: upsert: %w", err)
	}
	mac := emailMAC(pep, c.Email)
	r, key, err := s.findByEmail(tx, tenantID, mac, now)
	if err != nil {
		return "", fmt.Errorf("customer: upsert: %w", err)
	}
	if r == nil {
		r, err = s.create(tx, tenantID, c, mac, now)
		if err != nil {
			return "", fmt.Errorf("customer: upsert: %w", err)
		}
		s.log.Info("customer created", "customer_id", r.ID, "tenant_id", tenantID, "by", "upsert")
		return r.ID, nil
	}
	old, err := openContact(key, r)
	if err != nil {
		return "", fmt.Errorf("customer: upsert: %w", err)
	}
	merged := merge(old, c)
	if !equalContact(merged, old) {
		if r.Sealed, err = sealContact(key, r.ID, merged); err != nil {
			return "", fmt.Errorf("customer: upsert: %w", err)
		}
	}
	if now.After(r.LastInteraction) {
		r.LastInteraction = now
	}
	if err := putJSON(tx, profileKey(r.ID), r); err != nil {
		return "", fmt.Errorf("customer: upsert: %w", err)
	}
	return r.ID, nil
}

// merge overwrites old's names, mobile and address with c's non-empty ones.
func merge(old, c Contact) Contact {
	if c.FirstName != "" {
		old.FirstName = c.FirstName
	}
	if c.LastName != "" {
		old.LastName = c.LastName
	}
	if c.Mobile != "" {
		old.Mobile = c.Mobile
	}
	if c.Address != nil {
		a := *c.Address
		old.Address = &a
	}
	return old
}

func equalContact(a, b Contact) bool {
	return a.FirstName == b.FirstName && a.LastName == b.LastName && a.Email == b.Email &&
		a.Mobile == b.Mobile && equalAddress(a.Address, b.Address)
}

func equalAddress(a, b *Address) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// SealTx encrypts plaintext with the customer's data key (AES-256-GCM,
// random nonce, the customer id as associated data), so that other
// packages can keep a customer's personal details that become unreadable
// when the key is destroyed. The profile must be live (ErrNotFound
// otherwise; ErrShredded after an erasure).
func (s *Service) SealTx(tx store.Txn, customerID string, plaintext []byte) ([]byte, error) {
	r, key, err := s.live(tx, customerID, s.clock.Now())
	if errors.Is(err, ErrNotFound) && ids.Valid(customerID) {
		if erased, err2 := isErased(tx, customerID); err2 != nil {
			return nil, fmt.Errorf("customer: seal: %w", err2)
		} else if erased {
			return nil, fmt.Errorf("customer: seal for %s: %w", customerID, ErrShredded)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("customer: seal for %s: %w", customerID, err)
	}
	out, err := seal(key, plaintext, aadExternal(r.ID))
	if err != nil {
		return nil, fmt.Errorf("customer: seal for %s: %w", customerID, err)
	}
	return out, nil
}

// OpenTx decrypts what SealTx sealed for the same customer. Once the
// customer's data key is destroyed — by Shred, or by the retention sweep —
// or the profile is past its retention deadline, it returns ErrShredded;
// a blob sealed for another customer or altered is ErrSealedInvalid.
func (s *Service) OpenTx(tx store.Txn, customerID string, sealed []byte) ([]byte, error) {
	if !ids.Valid(customerID) {
		return nil, fmt.Errorf("customer: open: %w", ErrNotFound)
	}
	_, key, err := s.live(tx, customerID, s.clock.Now())
	if errors.Is(err, ErrNotFound) {
		// A blob exists only if the key once did: it is gone or due.
		return nil, fmt.Errorf("customer: open for %s: %w", customerID, ErrShredded)
	}
	if err != nil {
		return nil, fmt.Errorf("customer: open for %s: %w", customerID, err)
	}
	pt, err := open(key, sealed, aadExternal(customerID))
	if err != nil {
		return nil, fmt.Errorf("customer: open for %s: %w", customerID, err)
	}
	return pt, nil
}

// ContactTx returns a live profile's contact inside the caller's
// transaction; ErrNotFound when the profile is unknown, erased or past its
// retention deadline.
func (s *Service) ContactTx(tx store.Txn, customerID string) (Contact, error) {
	r, key, err := s.live(tx, customerID, s.clock.Now())
	if err != nil {
		return Contact{}, fmt.Errorf("customer: contact of %s: %w", customerID, err)
	}
	c, err := openContact(key, r)
	if err != nil {
		return Contact{}, err
	}
	return c, nil
}

func isErased(tx store.Txn, id string) (bool, error) {
	_, err := tx.Get(erasedKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
