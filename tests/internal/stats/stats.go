// Package stats summarises benchmark samples: medians and percentiles,
// the figures BENCHMARKS.md quotes.
package stats

import (
	"fmt"
	"slices"
	"time"
)

// Summary describes a set of duration samples.
type Summary struct {
	N                int
	Min, Median, P99 time.Duration
	Max              time.Duration
}

// Summarise sorts a copy of samples and reads off the figures
// (nearest-rank percentiles).
func Summarise(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Summary{N: len(s), Min: s[0], Median: rank(0.5), P99: rank(0.99), Max: s[len(s)-1]}
}

// String formats the summary for a benchmark report line.
func (s Summary) String() string {
	return fmt.Sprintf("n=%d median=%v p99=%v min=%v max=%v", s.N, round(s.Median), round(s.P99), round(s.Min), round(s.Max))
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
