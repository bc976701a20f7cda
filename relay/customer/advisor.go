package customer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"parley/relay/ids"
	"parley/relay/store"
)

// List limits.
const (
	// DefaultListLimit is List's limit when the caller gives none.
	DefaultListLimit = 50
	// MaxListLimit is the most profiles List returns.
	MaxListLimit = 1000
	// MaxQueryRunes bounds List's query.
	MaxQueryRunes = 100
)

func authorize(a Actor) error {
	if !ids.ValidRef(a.TenantID) || !ids.ValidRef(a.UserID) {
		return ErrForbidden
	}
	return nil
}

// List returns the actor's tenant's live profiles, the most recent
// interaction first, at most limit of them (DefaultListLimit when limit ≤
// 0, at most MaxListLimit). A non-empty query keeps the profiles whose
// first name, last name, "first last" or e-mail contains it, ignoring
// case. Profiles are sealed, so the query is matched after decrypting
// each of the tenant's profiles: linear in the tenant's customers, meant
// for thousands of them per tenant, not millions.
func (s *Service) List(ctx context.Context, a Actor, query string, limit int) ([]Profile, error) {
	if err := authorize(a); err != nil {
		return nil, fmt.Errorf("customer: list: %w", err)
	}
	if len(query) > 4*MaxQueryRunes || !utf8.ValidString(query) || utf8.RuneCountInString(query) > MaxQueryRunes {
		return nil, &InputError{Field: "query", Msg: "too long or not valid UTF-8"}
	}
	q := strings.ToLower(strings.TrimSpace(query))
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	now := s.clock.Now()
	var out []Profile
	err := s.kv.View(ctx, func(tx store.Txn) error {
		out = out[:0]
		var idList []string
		prefix := tenantPrefix(a.TenantID)
		if err := tx.Scan(prefix, func(k, _ []byte) error {
			idList = append(idList, string(k[len(prefix):]))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range idList {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, key, err := s.live(tx, id, now)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if r.TenantID != a.TenantID {
				continue
			}
			c, err := openContact(key, r)
			if err != nil {
				return err
			}
			if q != "" && !matches(c, q) {
				continue
			}
			out = append(out, s.profile(r, c))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("customer: list: %w", err)
	}
	slices.SortFunc(out, func(x, y Profile) int {
		if c := y.LastInteraction.Compare(x.LastInteraction); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func matches(c Contact, q string) bool {
	for _, f := range []string{c.FirstName, c.LastName, c.FirstName + " " + c.LastName, c.Email} {
		if strings.Contains(strings.ToLower(f), q) {
			return true
		}
	}
	return false
}

// Get returns a live profile of the actor's tenant; ErrNotFound for an
// unknown, foreign, erased or expired one.
func (s *Service) Get(ctx context.Context, a Actor, id string) (Profile, error) {
	if err := authorize(a); err != nil {
		return Profile{}, fmt.Errorf("customer: get: %w", err)
	}
	var p Profile
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		p, err = s.getTx(tx, a.TenantID, id, s.clock.Now())
		return err
	})
	if err != nil {
		return Profile{}, fmt.Errorf("customer: get %s: %w", id, err)
	}
	return p, nil
}

func (s *Service) getTx(tx store.Txn, tenantID, id string, now time.Time) (Profile, error) {
	r, key, err := s.live(tx, id, now)
	if err != nil {
		return Profile{}, err
	}
	if r.TenantID != tenantID {
		return Profile{}, ErrNotFound
	}
	c, err := openContact(key, r)
	if err != nil {
		return Profile{}, err
	}
	return s.profile(r, c), nil
}

// Export returns everything this package holds about a customer of the
// actor's tenant: the profile (the privacy engine adds the other classes).
func (s *Service) Export(ctx context.Context, a Actor, id string) (Profile, error) {
	p, err := s.Get(ctx, a, id)
	if err != nil {
		return Profile{}, fmt.Errorf("customer: export: %w", err)
	}
	s.log.Info("customer exported", "customer_id", id, "tenant_id", a.TenantID, "user_id", a.UserID)
	return p, nil
}

// Create adds a customer for the actor's tenant. The contact is validated
// as by ValidateContact and needs an e-mail address or a mobile number. An
// e-mail address already used by a live profile of the tenant is a
// *DuplicateError naming that profile. The creation counts as an
// interaction.
func (s *Service) Create(ctx context.Context, a Actor, c Contact) (Profile, error) {
	if err := authorize(a); err != nil {
		return Profile{}, fmt.Errorf("customer: create: %w", err)
	}
	c, err := s.ValidateContact(c, false)
	if err != nil {
		return Profile{}, err
	}
	if c.Email == "" && c.Mobile == "" {
		return Profile{}, &InputError{Field: "email", Msg: "e-mail or mobile required"}
	}
	var p Profile
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		now := s.clock.Now()
		mac := ""
		if c.Email != "" {
			pep, err := pepper(tx, a.TenantID, true)
			if err != nil {
				return err
			}
			mac = emailMAC(pep, c.Email)
			dup, _, err := s.findByEmail(tx, a.TenantID, mac, now)
			if err != nil {
				return err
			}
			if dup != nil {
				return &DuplicateError{CustomerID: dup.ID}
			}
		}
		r, err := s.create(tx, a.TenantID, c, mac, now)
		if err != nil {
			return err
		}
		p = s.profile(r, c)
		return nil
	})
	if err != nil {
		return Profile{}, fmt.Errorf("customer: create: %w", err)
	}
	s.log.Info("customer created", "customer_id", p.ID, "tenant_id", a.TenantID, "user_id", a.UserID, "by", "advisor")
	return p, nil
}

// Update rectifies a live profile of the actor's tenant: c replaces the
// stored contact as a whole (an empty field clears it), validated as by
// Create. It returns the profile and the names of the fields that changed
// ("first_name", "last_name", "email", "mobile", "address.street", …) —
// never their values — for the audit log; it logs them with the ids. An
// e-mail address used by another live profile of the tenant is a
// *DuplicateError. A rectification is not an interaction: it does not
// extend the retention period.
func (s *Service) Update(ctx context.Context, a Actor, id string, c Contact) (Profile, []string, error) {
	if err := authorize(a); err != nil {
		return Profile{}, nil, fmt.Errorf("customer: update: %w", err)
	}
	c, err := s.ValidateContact(c, false)
	if err != nil {
		return Profile{}, nil, err
	}
	if c.Email == "" && c.Mobile == "" {
		return Profile{}, nil, &InputError{Field: "email", Msg: "e-mail or mobile required"}
	}
	var p Profile
	var changed []string
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		now := s.clock.Now()
		r, key, err := s.live(tx, id, now)
		if err != nil {
			return err
		}
		if r.TenantID != a.TenantID {
			return ErrNotFound
		}
		old, err := openContact(key, r)
		if err != nil {
			return err
		}
		changed = changedFields(old, c)
		if len(changed) == 0 {
			p = s.profile(r, old)
			return nil
		}
		if emailIndexForm(old.Email) != emailIndexForm(c.Email) {
			if err := s.moveEmail(tx, r, c.Email, now); err != nil {
				return err
			}
		}
		if r.Sealed, err = sealContact(key, r.ID, c); err != nil {
			return err
		}
		if err := putJSON(tx, profileKey(r.ID), r); err != nil {
			return err
		}
		p = s.profile(r, c)
		return nil
	})
	if err != nil {
		return Profile{}, nil, fmt.Errorf("customer: update %s: %w", id, err)
	}
	if len(changed) > 0 {
		s.log.Info("customer rectified", "customer_id", id, "tenant_id", a.TenantID, "user_id", a.UserID, "fields", changed)
	}
	return p, changed, nil
}

// moveEmail points the e-mail index at r for the new address (refusing
// one used by another live profile) and drops r's old entry.
func (s *Service) moveEmail(tx store.Txn, r *profileRecord, email string, now time.Time) error {
	mac := ""
	if email != "" {
		pep, err := pepper(tx, r.TenantID, true)
		if err != nil {
			return err
		}
		mac = emailMAC(pep, email)
		other, _, err := s.findByEmail(tx, r.TenantID, mac, now)
		if err != nil {
			return err
		}
		if other != nil && other.ID != r.ID {
			return &DuplicateError{CustomerID: other.ID}
		}
		if err := putJSON(tx, emailKey(r.TenantID, mac), indexRecord{ID: r.ID}); err != nil {
			return err
		}
	}
	if r.EmailMAC != "" && r.EmailMAC != mac {
		if err := deleteIndexIfOwn(tx, r.TenantID, r.EmailMAC, r.ID); err != nil {
			return err
		}
	}
	r.EmailMAC = mac
	return nil
}

// deleteIndexIfOwn deletes the e-mail index entry mac when it points at id
// (a newer profile may have taken the address over).
func deleteIndexIfOwn(tx store.Txn, tenantID, mac, id string) error {
	var idx indexRecord
	err := getJSON(tx, emailKey(tenantID, mac), &idx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if idx.ID != id {
		return nil
	}
	return tx.Delete(emailKey(tenantID, mac))
}

// changedFields names the fields that differ between a and b.
func changedFields(a, b Contact) []string {
	var out []string
	add := func(name, x, y string) {
		if x != y {
			out = append(out, name)
		}
	}
	add("first_name", a.FirstName, b.FirstName)
	add("last_name", a.LastName, b.LastName)
	add("email", a.Email, b.Email)
	add("mobile", a.Mobile, b.Mobile)
	var x, y Address
	if a.Address != nil {
		x = *a.Address
	}
	if b.Address != nil {
		y = *b.Address
	}
	add("address.street", x.Street, y.Street)
	add("address.postal_code", x.PostalCode, y.PostalCode)
	add("address.city", x.City, y.City)
	add("address.country", x.Country, y.Country)
	return out
}

// Touch records an interaction with a customer (a meeting held, a message
// answered) at at, which restarts the profile's retention period. A time
// after the clock's now counts as now, and an earlier one than the last
// interaction changes nothing. ErrNotFound when the profile is unknown, of
// another tenant, erased or already past its deadline.
func (s *Service) Touch(ctx context.Context, tenantID, customerID string, at time.Time) error {
	err := s.kv.Update(ctx, func(tx store.Txn) error { return s.TouchTx(tx, tenantID, customerID, at) })
	if err != nil {
		return fmt.Errorf("customer: touch: %w", err)
	}
	return nil
}

// TouchTx is Touch inside the caller's transaction.
func (s *Service) TouchTx(tx store.Txn, tenantID, customerID string, at time.Time) error {
	now := s.clock.Now()
	r, _, err := s.live(tx, customerID, now)
	if err != nil {
		return fmt.Errorf("customer: touch %s: %w", customerID, err)
	}
	if r.TenantID != tenantID {
		return fmt.Errorf("customer: touch %s: %w", customerID, ErrNotFound)
	}
	if at.After(now) {
		at = now
	}
	if !at.After(r.LastInteraction) {
		return nil
	}
	r.LastInteraction = at
	return putJSON(tx, profileKey(r.ID), r)
}
