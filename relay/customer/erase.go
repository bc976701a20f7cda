package customer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// deleteProfile removes a profile's data key (crypto-shredding every copy
// sealed with it), the profile, its tenant entry and its e-mail index entry
// (when it still points at the profile).
func deleteProfile(tx store.Txn, r *profileRecord) error {
	for _, k := range [][]byte{dataKeyKey(r.ID), profileKey(r.ID), tenantKey(r.TenantID, r.ID)} {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	if r.EmailMAC != "" {
		return deleteIndexIfOwn(tx, r.TenantID, r.EmailMAC, r.ID)
	}
	return nil
}

// Shred erases a customer of the tenant: in one transaction it destroys
// the customer's data key — so everything sealed with it, by this package
// or by others through SealTx, in the store or in a backup restored
// without replaying the ledger, can never be opened again — deletes the
// profile and its indexes, and writes an entry to the erasure ledger
// (customer/erased/<id>: ids and time only) that outlives the customer.
// Shredding an erased customer again returns the first receipt. It does
// not check legal holds: the privacy engine decides whether an erasure may
// proceed. ErrNotFound for an unknown id or another tenant's customer.
func (s *Service) Shred(ctx context.Context, tenantID, customerID string) (Receipt, error) {
	if !ids.ValidRef(tenantID) || !ids.Valid(customerID) {
		return Receipt{}, fmt.Errorf("customer: shred: %w", ErrNotFound)
	}
	var rc Receipt
	again := false
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		again = false
		err := getJSON(tx, erasedKey(customerID), &rc)
		if err == nil {
			if rc.TenantID != tenantID {
				return ErrNotFound
			}
			again = true
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		r, err := getProfile(tx, customerID)
		if err != nil {
			return err
		}
		if r.TenantID != tenantID {
			return ErrNotFound
		}
		if err := deleteProfile(tx, r); err != nil {
			return err
		}
		rc = Receipt{CustomerID: customerID, TenantID: tenantID, Erased: s.clock.Now().UTC()}
		return putJSON(tx, erasedKey(customerID), rc)
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("customer: shred %s: %w", customerID, err)
	}
	if !again {
		s.log.Info("customer erased", "customer_id", customerID, "tenant_id", tenantID)
	}
	return rc, nil
}

// Erased reports whether the customer id is in the erasure ledger.
func (s *Service) Erased(ctx context.Context, customerID string) (bool, error) {
	if !ids.Valid(customerID) {
		return false, nil
	}
	var erased bool
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		erased, err = isErased(tx, customerID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("customer: erased: %w", err)
	}
	return erased, nil
}

// ErasureLedger returns the whole erasure ledger, for keeping outside the
// store so that a restore of an older backup can replay it (see
// ReplayErasures).
func (s *Service) ErasureLedger(ctx context.Context) ([]Receipt, error) {
	var out []Receipt
	err := s.kv.View(ctx, func(tx store.Txn) error {
		out = out[:0]
		return tx.Scan([]byte(prefixErased), func(k, v []byte) error {
			var rc Receipt
			if err := getJSON(tx, k, &rc); err != nil {
				return err
			}
			out = append(out, rc)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("customer: erasure ledger: %w", err)
	}
	return out, nil
}

// ReplayErasures applies a kept erasure ledger to the store (after a
// restore of an older backup): every listed customer's data key, profile
// and indexes that came back are deleted again and the ledger entries are
// written. It returns how many customers had data to delete.
func (s *Service) ReplayErasures(ctx context.Context, ledger []Receipt) (int, error) {
	n := 0
	for _, rc := range ledger {
		if !ids.Valid(rc.CustomerID) || !ids.ValidRef(rc.TenantID) {
			return n, fmt.Errorf("customer: replay erasures: malformed ledger entry")
		}
		deleted := false
		err := s.kv.Update(ctx, func(tx store.Txn) error {
			deleted = false
			r, err := getProfile(tx, rc.CustomerID)
			switch {
			case errors.Is(err, ErrNotFound):
				r = &profileRecord{ID: rc.CustomerID, TenantID: rc.TenantID}
			case err != nil:
				return err
			default:
				deleted = true
			}
			if _, err := tx.Get(dataKeyKey(rc.CustomerID)); err == nil {
				deleted = true
			}
			if err := deleteProfile(tx, r); err != nil {
				return err
			}
			return putJSON(tx, erasedKey(rc.CustomerID), rc)
		})
		if err != nil {
			return n, fmt.Errorf("customer: replay erasure of %s: %w", rc.CustomerID, err)
		}
		if deleted {
			n++
		}
	}
	return n, nil
}

// SweepStats tells a retention sweep what SweepExpired found and did, for
// its metrics, alerts and audit entry.
type SweepStats struct {
	// Due is the number of profiles past their deadline that no hold
	// kept: those deleted and those that failed.
	Due int
	// Deleted is the number of profiles deleted (data key destroyed).
	Deleted int
	// Failed is the number of due profiles whose deletion failed.
	Failed int
	// Held is the number of profiles past their deadline kept by a hold.
	Held int
}

// SweepExpired deletes every profile whose retention deadline (last
// interaction plus the tenant's period) has come at now and that held
// (nil: none; it gets the profile's tenant and id) does not keep: its data key (crypto-shredding what others
// sealed with it), the profile, its tenant entry and its e-mail index
// entry, one transaction per profile. Profiles not yet due are never
// touched. A failing profile is counted and logged, the others are still
// processed, and the errors are returned joined.
func (s *Service) SweepExpired(ctx context.Context, now time.Time, held func(tenantID, customerID string) bool) (SweepStats, error) {
	var st SweepStats
	type dueProfile struct{ tenantID, id string }
	var due []dueProfile
	err := s.kv.View(ctx, func(tx store.Txn) error {
		due = due[:0]
		return tx.Scan([]byte(prefixProfile), func(k, v []byte) error {
			var r profileRecord
			if err := getJSON(tx, k, &r); err != nil {
				return err
			}
			if s.expired(&r, now) {
				due = append(due, dueProfile{r.TenantID, r.ID})
			}
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("customer: sweep: %w", err)
	}
	var errs []error
	var todo []string
	for _, d := range due {
		if held != nil && held(d.tenantID, d.id) {
			st.Held++
			continue
		}
		todo = append(todo, d.id)
	}
	st.Due = len(todo)
	for i, id := range todo {
		if err := ctx.Err(); err != nil {
			st.Failed += len(todo) - i
			errs = append(errs, fmt.Errorf("customer: sweep: %w", err))
			break
		}
		deleted := false
		err := s.kv.Update(ctx, func(tx store.Txn) error {
			deleted = false
			r, err := getProfile(tx, id)
			if errors.Is(err, ErrNotFound) {
				return nil // gone meanwhile (erased)
			}
			if err != nil {
				return err
			}
			if !s.expired(r, now) {
				return nil
			}
			deleted = true
			return deleteProfile(tx, r)
		})
		if err != nil {
			st.Failed++
			errs = append(errs, fmt.Errorf("customer: sweep %s: %w", id, err))
			s.log.Error("customer sweep failed", "customer_id", id, "err", err)
			continue
		}
		if deleted {
			st.Deleted++
			s.log.Info("customer profile expired and deleted", "customer_id", id)
		}
	}
	if st.Due > 0 || st.Held > 0 {
		s.log.Info("customer sweep", "due", st.Due, "deleted", st.Deleted, "failed", st.Failed, "held", st.Held)
	}
	return st, errors.Join(errs...)
}
