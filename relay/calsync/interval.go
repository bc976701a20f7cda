package calsync

import (
	"slices"
	"time"
)

// Interval is a span of busy time, [Start, End), in UTC.
type Interval struct {
	// Start is the first busy instant.
	Start time.Time
	// End is the first instant after the busy time.
	End time.Time
}

// Merge returns the intervals clipped to [from, to), sorted by start, with
// overlapping and touching ones joined. Empty intervals are dropped. The
// input slice is reordered.
func Merge(ivs []Interval, from, to time.Time) []Interval {
	slices.SortFunc(ivs, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	var out []Interval
	for _, iv := range ivs {
		if iv.Start.Before(from) {
			iv.Start = from
		}
		if iv.End.After(to) {
			iv.End = to
		}
		if !iv.End.After(iv.Start) {
			continue
		}
		iv.Start, iv.End = iv.Start.UTC(), iv.End.UTC()
		if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
			if iv.End.After(out[n-1].End) {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}
