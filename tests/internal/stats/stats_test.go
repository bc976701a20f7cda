package stats

import (
	"testing"
	"time"
)

func TestSummarise(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	got := Summarise(s)
	if got.N != 100 || got.Min != time.Millisecond || got.Max != 100*time.Millisecond ||
		got.Median != 50*time.Millisecond || got.P99 != 99*time.Millisecond {
		t.Fatalf("Summarise = %+v", got)
	}
	if s[0] != 100*time.Millisecond {
		t.Fatal("Summarise sorted the caller's slice")
	}
	if (Summarise(nil) != Summary{}) {
		t.Fatal("empty input")
	}
}
