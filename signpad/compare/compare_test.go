package compare_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"parley/signpad"
	"parley/signpad/compare"
	"parley/signpad/internal/fixture"
)

// forgery writes a different shape at a steady speed.
func forgery() signpad.Signature {
	sig := fixture.Pen(200, 2*time.Second, 0)
	n := len(sig.Samples)
	for i := range sig.Samples {
		ph := float64(i) / float64(n)
		sig.Samples[i].X = int32(3000 + 8000*ph)
		sig.Samples[i].Y = int32(4500 + 2500*math.Sin(ph*6))
		if sig.Samples[i].Down {
			sig.Samples[i].Pressure = 2000
		}
	}
	return sig
}

func TestCompare(t *testing.T) {
	refs := []signpad.Signature{
		fixture.Pen(200, 2*time.Second, 0),
		fixture.Pen(200, 2*time.Second, 0.3),
		fixture.Pen(200, 2100*time.Millisecond, -0.3),
	}
	genuine := fixture.Pen(200, 1900*time.Millisecond, 0.15)
	g, err := compare.Compare(genuine, refs, compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := compare.Compare(forgery(), refs, compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("genuine %.3f forgery %.3f threshold %.3f", g.Mean, f.Mean, g.Threshold)
	if g.Flag {
		t.Errorf("a signature of the same hand is flagged: %+v", g)
	}
	if !f.Flag {
		t.Errorf("a different shape is not flagged: %+v", f)
	}
	if len(g.Distances) != 3 || f.Mean <= g.Mean {
		t.Errorf("distances %v vs %v", g.Distances, f.Distances)
	}
}

func TestDistanceProperties(t *testing.T) {
	a := fixture.Pen(200, 2*time.Second, 0)
	d, err := compare.Distance(a, a, compare.Options{})
	if err != nil || d != 0 {
		t.Fatalf("distance to itself %v %v", d, err)
	}
	b := fixture.Pen(200, 2*time.Second, 0.5)
	ab, _ := compare.Distance(a, b, compare.Options{})
	ba, _ := compare.Distance(b, a, compare.Options{})
	if math.Abs(ab-ba) > 1e-9 || ab <= 0 {
		t.Errorf("d(a,b)=%v d(b,a)=%v", ab, ba)
	}
	// Scale and position do not matter: the same hand on a bigger area.
	big := a
	big.Samples = append([]signpad.Sample(nil), a.Samples...)
	big.Device.X.Max, big.Device.Y.Max = 1<<20, 1<<20
	for i := range big.Samples {
		big.Samples[i].X = big.Samples[i].X*2 + 500
		big.Samples[i].Y = big.Samples[i].Y*2 + 500
	}
	if d, _ := compare.Distance(a, big, compare.Options{}); d > 1e-9 {
		t.Errorf("scaled copy at distance %v", d)
	}
}

func TestTooShort(t *testing.T) {
	a := fixture.Pen(200, 2*time.Second, 0)
	short := a
	short.Samples = a.Samples[:6]
	short.Samples[5].Down = true
	if _, err := compare.Distance(a, short, compare.Options{}); !errors.Is(err, compare.ErrTooShort) {
		t.Errorf("err = %v", err)
	}
}

// BenchmarkCompare5s compares two 5 s signatures at 200 Hz (1000 samples,
// resampled to 400 points).
func BenchmarkCompare5s(b *testing.B) {
	x := fixture.Pen(200, 5*time.Second, 0)
	y := fixture.Pen(200, 5*time.Second, 0.3)
	for b.Loop() {
		if _, err := compare.Distance(x, y, compare.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
