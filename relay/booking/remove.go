package booking

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"parley/relay/ids"
	"parley/relay/store"
)

// ErrFutureBookings: the advisor still has confirmed appointments to
// come; they must be cancelled or handed over first. Returned as a
// *FutureBookingsError.
var ErrFutureBookings = errors.New("advisor has future bookings")

// FutureBookingsError tells how many confirmed appointments are to come.
type FutureBookingsError struct {
	// Count is the number of confirmed bookings that have not ended.
	Count int
}

// Error names the condition.
func (e *FutureBookingsError) Error() string {
	return fmt.Sprintf("%d future bookings", e.Count)
}

// Unwrap makes errors.Is(err, ErrFutureBookings) true.
func (e *FutureBookingsError) Unwrap() error { return ErrFutureBookings }

// RemoveAdvisor deletes what the booking service keeps about an advisor
// whose account goes: appointment types, availability, the public page
// (its address stops working), holds and slot locks. Past and cancelled
// bookings stay under their own retention (they belong to the customers'
// history and name the advisor by id only). An advisor with confirmed
// appointments still to come gets a *FutureBookingsError and nothing is
// deleted.
func (s *Service) RemoveAdvisor(ctx context.Context, tenantID, advisorID string) error {
	if !ids.ValidRef(tenantID) || !ids.ValidRef(advisorID) {
		return fmt.Errorf("booking: remove advisor: %w", invalid("advisor", "malformed"))
	}
	now := s.clock.Now()
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		future := 0
		if err := tx.Scan(advPrefix(tenantID, advisorID), func(k, _ []byte) error {
			r, err := getBooking(tx, lastSegment(k))
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if r.Status == StatusConfirmed && r.End.After(now) {
				future++
			}
			return nil
		}); err != nil {
			return err
		}
		if future > 0 {
			return &FutureBookingsError{Count: future}
		}
		var keys [][]byte
		for _, p := range [][]byte{typePrefix(tenantID, advisorID), holdPrefix(tenantID, advisorID), []byte(prefixLock + tenantID + "/" + advisorID + "/")} {
			if err := tx.Scan(p, func(k, _ []byte) error {
				keys = append(keys, bytes.Clone(k))
				return nil
			}); err != nil {
				return err
			}
		}
		keys = append(keys, availKey(tenantID, advisorID))
		if pid, err := tx.Get(pageOfKey(tenantID, advisorID)); err == nil {
			keys = append(keys, pageKey(string(pid)), pageOfKey(tenantID, advisorID))
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("booking: remove advisor: %w", err)
	}
	s.log.Info("booking: advisor removed", "tenant_id", tenantID, "advisor_id", advisorID)
	return nil
}
