package clock

import (
	"testing"
	"time"
)

func TestFakeStartsAtEpochAndAdvances(t *testing.T) {
	var f Fake
	if got := f.Now(); !got.Equal(fakeEpoch) {
		t.Fatalf("zero Fake.Now() = %v, want %v", got, fakeEpoch)
	}
	f.Advance(90 * time.Second)
	if got := f.Now().Sub(fakeEpoch); got != 90*time.Second {
		t.Fatalf("after Advance(90s) elapsed = %v", got)
	}
	at := time.Date(2030, 3, 31, 1, 30, 0, 0, time.UTC)
	f.Set(at)
	if !f.Now().Equal(at) {
		t.Fatalf("Set did not take effect")
	}
}

func TestOrDefaultsToReal(t *testing.T) {
	if _, ok := Or(nil).(Real); !ok {
		t.Fatalf("Or(nil) is not Real")
	}
	f := &Fake{}
	if Or(f) != Clock(f) {
		t.Fatalf("Or(f) did not return f")
	}
}
