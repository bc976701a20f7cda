package feedback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"parley/relay/store"
)

// MonthStats is one month's answers in a tenant: counts only, no ids.
type MonthStats struct {
	// Month is the UTC month, YYYY-MM.
	Month string `json:"month"`
	// Answers counts the answers given in the month.
	Answers int `json:"answers"`
	// Average is their mean rating (0 without answers).
	Average float64 `json:"average"`
	// Ratings counts the answers per rating: Ratings[0] is rating 1.
	Ratings [5]int `json:"ratings"`
}

// maxMonths bounds a Stats range.
const maxMonths = 120

// Stats returns the tenant's monthly counters from month from to month to
// (both YYYY-MM, UTC, inclusive), every month listed, for an admin of the
// tenant. The counters outlive the answers' retention: they hold neither
// advisor nor customer ids.
func (s *Service) Stats(ctx context.Context, a Actor, from, to string) ([]MonthStats, error) {
	wrap := func(err error) ([]MonthStats, error) { return nil, fmt.Errorf("feedback: stats: %w", err) }
	if !a.Admin || a.TenantID == "" {
		return wrap(ErrForbidden)
	}
	f, err1 := time.Parse("2006-01", from)
	t, err2 := time.Parse("2006-01", to)
	if err1 != nil || err2 != nil || t.Before(f) {
		return wrap(invalid("period", "from and to must be months (YYYY-MM), from not after to"))
	}
	var months []string
	for m := f; !m.After(t); m = m.AddDate(0, 1, 0) {
		if len(months) == maxMonths {
			return wrap(invalid("period", "at most 120 months"))
		}
		months = append(months, m.Format("2006-01"))
	}
	out := make([]MonthStats, 0, len(months))
	err := s.kv.View(ctx, func(tx store.Txn) error {
		out = out[:0]
		for _, m := range months {
			var c counter
			if err := getJSON(tx, countKey(a.TenantID, m), &c); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			ms := MonthStats{Month: m, Answers: c.Answers, Ratings: c.Ratings}
			if c.Answers > 0 {
				ms.Average = float64(c.Sum) / float64(c.Answers)
			}
			out = append(out, ms)
		}
		return nil
	})
	if err != nil {
		return wrap(err)
	}
	return out, nil
}
