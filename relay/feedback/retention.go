package feedback

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
	// Due counts the records past their deadline that no hold keeps.
	Due int
	// Deleted counts the due records deleted.
	Deleted int
	// Failed counts the due records whose deletion failed (they stay and
	// are tried again by the next sweep), and undecodable records.
	Failed int
}

// SweepExpired deletes every feedback record whose deadline has passed at
// now — an answer Options.Retention after it was given, an unanswered
// invitation at its link's expiry — with its link and index entry, except
// those held (a legal hold on the customer). Reads already hide them; this
// reclaims them. Each record is deleted in its own transaction.
func (s *Service) SweepExpired(ctx context.Context, now time.Time, held func(tenantID, customerID string) bool) (SweepStats, error) {
	var st SweepStats
	var due []string
	err := s.kv.View(ctx, func(tx store.Txn) error {
		due = due[:0]
		return tx.Scan([]byte(prefixR), func(k, v []byte) error {
			var r record
			if err := jsonUnmarshal(v, &r); err != nil {
				st.Failed++ // reported, not skipped silently
				return nil
			}
			if s.due(&r, now) && (held == nil || !held(r.TenantID, r.CustomerID)) {
				due = append(due, r.MeetingID)
			}
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("feedback: sweep: %w", err)
	}
	st.Due = len(due)
	var errs []error
	for _, id := range due {
		if err := ctx.Err(); err != nil {
			st.Failed += st.Due - st.Deleted - st.Failed
			return st, fmt.Errorf("feedback: sweep: %w", err)
		}
		err := s.kv.Update(ctx, func(tx store.Txn) error {
			r, err := getRecord(tx, id)
			if err != nil {
				return err
			}
			if !s.due(r, now) {
				return errNotDue
			}
			return deleteRecord(tx, r)
		})
		switch {
		case err == nil:
			st.Deleted++
			s.log.Info("feedback: deleted by retention", "meeting_id", id)
		case errors.Is(err, errNotDue), errors.Is(err, ErrNotFound):
			st.Due-- // answered or gone meanwhile
		default:
			st.Failed++
			errs = append(errs, err)
			s.log.Error("feedback: retention delete failed", "meeting_id", id, "error", err)
		}
	}
	if len(errs) > 0 {
		return st, fmt.Errorf("feedback: sweep: %d deletions failed: %w", len(errs), errors.Join(errs...))
	}
	return st, nil
}

var errNotDue = errors.New("not due")

// EraseCustomer deletes every feedback record of a customer in a tenant
// (erasure on the data subject's request; the caller authorises and
// audits it). The monthly counters stay: they hold no ids. It returns how
// many records were deleted.
func (s *Service) EraseCustomer(ctx context.Context, tenantID, customerID string) (int, error) {
	if !ids.ValidRef(tenantID) || !ids.ValidRef(customerID) {
		return 0, fmt.Errorf("feedback: erase customer: %w", invalid("customer_id", "malformed"))
	}
	n := 0
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		n = 0
		var mids []string
		if err := tx.Scan(custPrefix(tenantID, customerID), func(k, _ []byte) error {
			mids = append(mids, lastSegment(k))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range mids {
			r, err := getRecord(tx, id)
			if errors.Is(err, ErrNotFound) {
				if err := tx.Delete(custKey(tenantID, customerID, id)); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			if err := deleteRecord(tx, r); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("feedback: erase customer: %w", err)
	}
	s.log.Info("feedback: customer's feedback erased", "tenant_id", tenantID, "customer_id", customerID, "count", n)
	return n, nil
}

// ExportCustomer returns every feedback record of a customer in a tenant
// that reads serve (the data subject's export; the caller authorises),
// newest meeting first.
func (s *Service) ExportCustomer(ctx context.Context, tenantID, customerID string) ([]Feedback, error) {
	out, err := s.ByCustomer(ctx, Actor{TenantID: tenantID, UserID: "privacy-export", Admin: true}, customerID)
	if err != nil {
		return nil, fmt.Errorf("feedback: export: %w", err)
	}
	return out, nil
}
