package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"parley/relay/audit"
	"parley/relay/customer"
	"parley/relay/ids"
	"parley/relay/retention"
	"parley/relay/store"
)

// Erasure states.
const (
	// StateRunning: the erasure is recorded in the ledger and under way
	// (or was cut short and will be finished by Resume).
	StateRunning = "running"
	// StateCompleted: every step ran.
	StateCompleted = "completed"
)

// Receipt is the proof of an erasure handed to the admin (and, through
// them, to the data subject): ids, times and counts only.
type Receipt struct {
	// ID identifies the erasure.
	ID string `json:"id"`
	// TenantID is the customer's tenant.
	TenantID string `json:"tenant_id"`
	// CustomerID is the erased customer.
	CustomerID string `json:"customer_id"`
	// RequestedBy is the admin's user id.
	RequestedBy string `json:"requested_by"`
	// Requested is when the erasure was requested (and written to the
	// ledger).
	Requested time.Time `json:"requested"`
	// State is StateRunning or StateCompleted.
	State string `json:"state"`
	// Completed is when the last step ran; zero while running.
	Completed time.Time `json:"completed,omitzero"`
	// Deleted counts the records each step deleted, by part name
	// ("customer_profile", "bookings", "meetings", …). A step that had to
	// run again after a crash counts only what was left for it.
	Deleted map[string]int `json:"deleted"`
	// Steps lists the steps done, in order.
	Steps []string `json:"steps"`
	// KeyDestroyed tells that the customer's data key is destroyed, so
	// every copy sealed with it, in the store or in a backup, is
	// unreadable.
	KeyDestroyed bool `json:"key_destroyed"`
}

// store keys:
//
//	privacy/erasure/<id>                      the job and its receipt (JSON)
//	privacy/erasure-of/<tenant>/<customer>    the erasure id of a customer
//	privacy/erasure-tenant/<tenant>/<id>      empty (a tenant's receipts)
const (
	prefixJob    = "privacy/erasure/"
	prefixOf     = "privacy/erasure-of/"
	prefixTenant = "privacy/erasure-tenant/"
)

func jobKey(id string) []byte                  { return []byte(prefixJob + id) }
func ofKey(tenantID, customerID string) []byte { return []byte(prefixOf + tenantID + "/" + customerID) }
func tenantKey(tenantID, id string) []byte     { return []byte(prefixTenant + tenantID + "/" + id) }

func getReceipt(tx store.Txn, id string) (*Receipt, error) {
	b, err := tx.Get(jobKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var r Receipt
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode erasure %s: %w", id, err)
	}
	return &r, nil
}

func putReceipt(tx store.Txn, r *Receipt) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tx.Set(jobKey(r.ID), b); err != nil {
		return err
	}
	if err := tx.Set(ofKey(r.TenantID, r.CustomerID), []byte(r.ID)); err != nil {
		return err
	}
	return tx.Set(tenantKey(r.TenantID, r.ID), nil)
}

func authorize(a Actor) error {
	if !a.Admin || !ids.ValidRef(a.TenantID) || !ids.ValidRef(a.UserID) {
		return ErrForbidden
	}
	return nil
}

// Erase erases a customer of the admin's tenant across every data class
// and returns the receipt. Erasing an erased customer again returns the
// first receipt. A customer under a legal hold is not touched (ErrHeld);
// an unknown customer, or another tenant's, is ErrNotFound.
//
// The request is written to the ledger and synced before anything is
// deleted; if Erase returns an error after that, the erasure is finished
// by the next Resume, and its receipt says StateRunning until then.
func (s *Service) Erase(ctx context.Context, a Actor, customerID string) (Receipt, error) {
	if err := authorize(a); err != nil {
		return Receipt{}, fmt.Errorf("privacy: erase: %w", err)
	}
	if !ids.Valid(customerID) {
		return Receipt{}, fmt.Errorf("privacy: erase: %w", ErrNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rc, err := s.receiptOf(ctx, a.TenantID, customerID); err == nil {
		if rc.State != StateCompleted {
			return s.run(ctx, entryOf(rc))
		}
		return rc, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Receipt{}, fmt.Errorf("privacy: erase: %w", err)
	}
	if _, err := s.profiles.Export(ctx, customer.Actor{TenantID: a.TenantID, UserID: a.UserID, Admin: true}, customerID); err != nil {
		if errors.Is(err, customer.ErrNotFound) {
			return Receipt{}, fmt.Errorf("privacy: erase: %w", ErrNotFound)
		}
		return Receipt{}, fmt.Errorf("privacy: erase: %w", err)
	}
	if s.holds != nil && s.holds.Held(ctx, a.TenantID, retention.SubjectCustomer, customerID) {
		return Receipt{}, fmt.Errorf("privacy: erase %s: %w", customerID, ErrHeld)
	}
	e := LedgerEntry{ID: ids.New(), TenantID: a.TenantID, CustomerID: customerID, Requested: s.clock.Now().UTC(), By: a.UserID}
	if err := s.ledger.Append(e); err != nil {
		return Receipt{}, fmt.Errorf("privacy: erase: %w", err)
	}
	s.log.Info("privacy: erasure requested", "erasure_id", e.ID, "customer_id", customerID, "tenant_id", a.TenantID)
	if err := s.step("ledger"); err != nil {
		return Receipt{}, fmt.Errorf("privacy: erasure %s: %w", e.ID, err)
	}
	return s.run(ctx, e)
}

func entryOf(r Receipt) LedgerEntry {
	return LedgerEntry{ID: r.ID, TenantID: r.TenantID, CustomerID: r.CustomerID, Requested: r.Requested, By: r.RequestedBy}
}

func (s *Service) step(name string) error {
	if s.stepHook != nil {
		return s.stepHook(name)
	}
	return nil
}

// run carries out (or finishes) the erasure e, storing its progress after
// every step.
func (s *Service) run(ctx context.Context, e LedgerEntry) (Receipt, error) {
	var rc *Receipt
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		var err error
		rc, err = getReceipt(tx, e.ID)
		if errors.Is(err, ErrNotFound) {
			rc = &Receipt{ID: e.ID, TenantID: e.TenantID, CustomerID: e.CustomerID, RequestedBy: e.By,
				Requested: e.Requested.UTC(), State: StateRunning, Deleted: map[string]int{}, Steps: []string{}}
			return putReceipt(tx, rc)
		}
		return err
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("privacy: erasure %s: %w", e.ID, err)
	}
	if rc.State == StateCompleted {
		return *rc, nil
	}
	record := func(step string, n int) error {
		return s.kv.Update(ctx, func(tx store.Txn) error {
			cur, err := getReceipt(tx, e.ID)
			if err != nil {
				return err
			}
			if !slices.Contains(cur.Steps, step) {
				cur.Steps = append(cur.Steps, step)
			}
			cur.Deleted[step] += n
			if step == profilePart {
				cur.KeyDestroyed = true
			}
			rc = cur
			return putReceipt(tx, cur)
		})
	}
	// The data key first: from here on every sealed copy is unreadable,
	// whatever happens to the later steps.
	if !slices.Contains(rc.Steps, profilePart) {
		if err := s.step(profilePart); err != nil {
			return *rc, fmt.Errorf("privacy: erasure %s: %w", e.ID, err)
		}
		n, err := s.profiles.ReplayErasures(ctx, []customer.Receipt{{CustomerID: e.CustomerID, TenantID: e.TenantID, Erased: e.Requested}})
		if err != nil {
			return *rc, fmt.Errorf("privacy: erasure %s: profile: %w", e.ID, err)
		}
		if err := record(profilePart, n); err != nil {
			return *rc, fmt.Errorf("privacy: erasure %s: %w", e.ID, err)
		}
	}
	for _, p := range s.parts {
		if slices.Contains(rc.Steps, p.Name()) {
			continue
		}
		if err := s.step(p.Name()); err != nil {
			return *rc, fmt.Errorf("privacy: erasure %s: %w", e.ID, err)
		}
		n, err := p.Erase(ctx, e.TenantID, e.CustomerID)
		if err != nil {
			return *rc, fmt.Errorf("privacy: erasure %s: %s: %w", e.ID, p.Name(), err)
		}
		if err := record(p.Name(), n); err != nil {
			return *rc, fmt.Errorf("privacy: erasure %s: %w", e.ID, err)
		}
	}
	if err := s.step("audit"); err != nil {
		return *rc, fmt.Errorf("privacy: erasure %s: %w", e.ID, err)
	}
	if s.audit != nil {
		details := map[string]string{"erasure_id": e.ID}
		for k, v := range rc.Deleted {
			details["deleted_"+k] = strconv.Itoa(v)
		}
		// Appended before the job is marked done: a crash in between
		// repeats the entry rather than losing it.
		if _, err := s.audit.Append(ctx, audit.Record{TenantID: e.TenantID, Actor: e.By, Action: "privacy.erasure", Target: e.CustomerID, Details: details}); err != nil {
			return *rc, fmt.Errorf("privacy: erasure %s: audit: %w", e.ID, err)
		}
	}
	if err := s.step("complete"); err != nil {
		return *rc, fmt.Errorf("privacy: erasure %s: %w", e.ID, err)
	}
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		cur, err := getReceipt(tx, e.ID)
		if err != nil {
			return err
		}
		cur.State = StateCompleted
		cur.Completed = s.clock.Now().UTC()
		rc = cur
		return putReceipt(tx, cur)
	})
	if err != nil {
		return *rc, fmt.Errorf("privacy: erasure %s: %w", e.ID, err)
	}
	s.log.Info("privacy: erasure completed", "erasure_id", e.ID, "customer_id", e.CustomerID, "tenant_id", e.TenantID)
	return *rc, nil
}

// ResumeStats tells what Resume did.
type ResumeStats struct {
	// Entries is the number of ledger entries.
	Entries int
	// Finished is the number of erasures Resume carried out (again):
	// those cut short by a crash and those a restore brought back.
	Finished int
}

// Resume carries out every ledger entry whose erasure is not completed in
// the store: erasures a crash cut short, and erasures that an older
// backup's restore brought back. The relay calls it before it serves.
func (s *Service) Resume(ctx context.Context) (ResumeStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.ledger.Entries()
	if err != nil {
		return ResumeStats{}, fmt.Errorf("privacy: resume: %w", err)
	}
	st := ResumeStats{Entries: len(entries)}
	for _, e := range entries {
		var done bool
		err := s.kv.View(ctx, func(tx store.Txn) error {
			r, err := getReceipt(tx, e.ID)
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			done = err == nil && r.State == StateCompleted
			return err
		})
		if err != nil {
			return st, fmt.Errorf("privacy: resume: %w", err)
		}
		if done {
			continue
		}
		if _, err := s.run(ctx, e); err != nil {
			return st, fmt.Errorf("privacy: resume: %w", err)
		}
		st.Finished++
	}
	if st.Finished > 0 {
		s.log.Info("privacy: erasures carried out from the ledger", "finished", st.Finished, "entries", st.Entries)
	}
	return st, nil
}

func (s *Service) receiptOf(ctx context.Context, tenantID, customerID string) (Receipt, error) {
	var rc Receipt
	err := s.kv.View(ctx, func(tx store.Txn) error {
		id, err := tx.Get(ofKey(tenantID, customerID))
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		r, err := getReceipt(tx, string(id))
		if err != nil {
			return err
		}
		rc = *r
		return nil
	})
	return rc, err
}

// Receipt returns one of the tenant's erasure receipts.
func (s *Service) Receipt(ctx context.Context, a Actor, id string) (Receipt, error) {
	if err := authorize(a); err != nil {
		return Receipt{}, fmt.Errorf("privacy: receipt: %w", err)
	}
	if !ids.Valid(id) {
		return Receipt{}, fmt.Errorf("privacy: receipt: %w", ErrNotFound)
	}
	var rc Receipt
	err := s.kv.View(ctx, func(tx store.Txn) error {
		r, err := getReceipt(tx, id)
		if err != nil {
			return err
		}
		if r.TenantID != a.TenantID {
			return ErrNotFound
		}
		rc = *r
		return nil
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("privacy: receipt: %w", err)
	}
	return rc, nil
}

// Receipts returns the tenant's erasure receipts, newest first.
func (s *Service) Receipts(ctx context.Context, a Actor) ([]Receipt, error) {
	if err := authorize(a); err != nil {
		return nil, fmt.Errorf("privacy: receipts: %w", err)
	}
	out := []Receipt{}
	err := s.kv.View(ctx, func(tx store.Txn) error {
		out = out[:0]
		prefix := []byte(prefixTenant + a.TenantID + "/")
		var idList []string
		if err := tx.Scan(prefix, func(k, _ []byte) error {
			idList = append(idList, string(k[len(prefix):]))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range idList {
			r, err := getReceipt(tx, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, *r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("privacy: receipts: %w", err)
	}
	slices.SortFunc(out, func(x, y Receipt) int { return y.Requested.Compare(x.Requested) })
	return out, nil
}
