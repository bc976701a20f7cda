package meeting

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"parley/relay/ids"
	"parley/relay/store"
)

// ForgetCustomer carries out a customer's erasure on the meetings held with
// them in the tenant: each meeting's metadata is anonymised at once (names
// dropped, IP addresses truncated, join link and participant secrets
// deleted, times and counts kept), its link to the customer profile is
// removed and the customer index entry deleted. It returns the ids of those
// meetings so that the caller can delete their content (chat and files).
// Calling it again finds nothing more to do and returns no ids; the caller
// authorises and audits it.
func (s *Service) ForgetCustomer(ctx context.Context, tenantID, customerID string) ([]string, error) {
	if !ids.ValidRef(tenantID) || !ids.Valid(customerID) {
		return nil, fmt.Errorf("meeting: forget customer: %w", &InputError{Field: "customer_id", Msg: "malformed"})
	}
	var out []string
	now := s.clock.Now()
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		out = out[:0]
		prefix := customerPrefix(tenantID, customerID)
		var keys [][]byte
		if err := tx.Scan(prefix, func(k, _ []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			id := string(k[strings.LastIndexByte(string(k), '/')+1:])
			if err := tx.Delete(k); err != nil {
				return err
			}
			r, err := getMeeting(tx, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if r.TenantID != tenantID || r.CustomerID != customerID {
				continue
			}
			m, err := getMeta(tx, id)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return err
			default:
				if _, err := anonymiseTx(tx, m, now); err != nil {
					return err
				}
			}
			// anonymiseTx rewrote the meeting record: read it again.
			if r, err = getMeeting(tx, id); err != nil {
				return err
			}
			r.CustomerID = ""
			if err := putMeeting(tx, r); err != nil {
				return err
			}
			out = append(out, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("meeting: forget customer %s: %w", customerID, err)
	}
	return out, nil
}

// MeetingsOf returns the ids of every meeting of the tenant linked to the
// customer, oldest first (for the privacy engine's export and erasure; the
// caller authorises).
func (s *Service) MeetingsOf(ctx context.Context, tenantID, customerID string) ([]string, error) {
	if !ids.ValidRef(tenantID) || !ids.Valid(customerID) {
		return nil, fmt.Errorf("meeting: meetings of customer: %w", &InputError{Field: "customer_id", Msg: "malformed"})
	}
	var out []string
	err := s.kv.View(ctx, func(tx store.Txn) error {
		out = out[:0]
		return tx.Scan(customerPrefix(tenantID, customerID), func(k, _ []byte) error {
			out = append(out, string(k[strings.LastIndexByte(string(k), '/')+1:]))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("meeting: meetings of customer: %w", err)
	}
	return out, nil
}
