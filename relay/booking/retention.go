package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// SweepStats tells a retention sweep what SweepExpired found and did.
type SweepStats struct {
	// Due counts the bookings past their deadline that no hold keeps.
	Due int
	// Deleted counts the due bookings deleted.
	Deleted int
	// Failed counts the due bookings whose deletion failed (they stay and
	// are tried again by the next sweep).
	Failed int
}

// SweepExpired deletes every booking whose retention deadline (its end
// plus Options.Retention of its tenant) has passed at now, with its
// sealed details, manage link, idempotency record and index entries,
// except those held (legal hold). Reads already hide expired bookings;
// this reclaims them. Each booking is deleted in its own transaction.
func (s *Service) SweepExpired(ctx context.Context, now time.Time, held func(b Booking) bool) (SweepStats, error) {
	var st SweepStats
	var due []string
	err := s.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(prefixB), func(k, v []byte) error {
			var r bookingRecord
			if err := getJSONBytes(k, v, &r); err != nil {
				st.Failed++ // an undecodable record is reported, not skipped silently
				return nil
			}
			if s.expired(&r, now) && (held == nil || !held(r.Booking)) {
				due = append(due, r.ID)
			}
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("booking: sweep: %w", err)
	}
	st.Due = len(due)
	var errs []error
	for _, id := range due {
		if err := ctx.Err(); err != nil {
			st.Failed += st.Due - st.Deleted - st.Failed
			return st, fmt.Errorf("booking: sweep: %w", err)
		}
		err := s.kv.Update(ctx, func(tx store.Txn) error {
			r, err := getBooking(tx, id)
			if err != nil {
				return err
			}
			if !s.expired(r, now) {
				return errNotDue
			}
			return deleteBooking(tx, r)
		})
		switch {
		case err == nil:
			st.Deleted++
			s.log.Info("booking: deleted by retention", "booking_id", id)
		case errors.Is(err, errNotDue), errors.Is(err, ErrNotFound):
			st.Due-- // moved or gone meanwhile
		default:
			st.Failed++
			errs = append(errs, err)
			s.log.Error("booking: retention delete failed", "booking_id", id, "err", err)
		}
	}
	if len(errs) > 0 {
		return st, fmt.Errorf("booking: sweep: %d deletions failed: %w", len(errs), errors.Join(errs...))
	}
	return st, nil
}

var errNotDue = errors.New("not due")

// deleteBooking removes a booking and everything that refers to it.
func deleteBooking(tx store.Txn, r *bookingRecord) error {
	keys := [][]byte{bookingKey(r.ID), detKey(r.ID), manageKey(r.ManageHash), advKey(r),
		append(custPrefix(r.TenantID, r.CustomerID), r.ID...)}
	if r.IdemKey != "" {
		keys = append(keys, []byte(r.IdemKey))
	}
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return deleteDayEntries(tx, r)
}

// EraseCustomer deletes every booking of a customer in a tenant, with its
// details and index entries (erasure on the data subject's request; the
// caller authorises and audits it). It returns how many were deleted.
func (s *Service) EraseCustomer(ctx context.Context, tenantID, customerID string) (int, error) {
	if !ids.ValidRef(tenantID) || !ids.ValidRef(customerID) {
		return 0, fmt.Errorf("booking: erase customer: %w", invalid("customer_id", "malformed"))
	}
	n := 0
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		n = 0
		var ids []string
		if err := tx.Scan(custPrefix(tenantID, customerID), func(k, _ []byte) error {
			ids = append(ids, lastSegment(k))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			r, err := getBooking(tx, id)
			if errors.Is(err, ErrNotFound) {
				if err := tx.Delete(append(custPrefix(tenantID, customerID), id...)); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			if err := deleteBooking(tx, r); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("booking: erase customer: %w", err)
	}
	s.log.Info("booking: customer's bookings erased", "tenant_id", tenantID, "customer_id", customerID, "count", n)
	return n, nil
}
