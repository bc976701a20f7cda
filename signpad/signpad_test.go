package signpad_test

import (
	"errors"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/signpad"
	"parley/signpad/internal/fixture"
)

func TestValidate(t *testing.T) {
	good := fixture.Pen(200, time.Second, 0)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	mod := func(f func(s *signpad.Signature)) signpad.Signature {
		s := good
		s.Samples = append([]signpad.Sample(nil), good.Samples...)
		f(&s)
		return s
	}
	cases := map[string]struct {
		sig  signpad.Signature
		want error
	}{
		"backwards":      {mod(func(s *signpad.Signature) { s.Samples[10].T = s.Samples[9].T - 1 }), signpad.ErrTimeBackwards},
		"negative start": {mod(func(s *signpad.Signature) { s.Samples[0].T = -1 }), signpad.ErrTimeBackwards},
		"too long":       {mod(func(s *signpad.Signature) { s.Samples[len(s.Samples)-1].T = int64(time.Hour / time.Microsecond) }), signpad.ErrTooLong},
		"pressure":       {mod(func(s *signpad.Signature) { s.Samples[10].Pressure = 5000 }), signpad.ErrOutOfRange},
		"tilt":           {mod(func(s *signpad.Signature) { s.Samples[10].TiltY = -65 }), signpad.ErrOutOfRange},
		"x":              {mod(func(s *signpad.Signature) { s.Samples[10].X = -1 }), signpad.ErrOutOfRange},
		"never down": {mod(func(s *signpad.Signature) {
			for i := range s.Samples {
				s.Samples[i].Down = false
			}
		}), signpad.ErrEmpty},
		"ten million": {signpad.Signature{Samples: make([]signpad.Sample, 10_000_000)}, signpad.ErrTooManySamples},
	}
	for name, c := range cases {
		if err := c.sig.Validate(); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
}

// line is a pen moving right at 10 mm/s for 1 s, lifting for 200 ms,
// then resting 100 ms and moving down at 20 mm/s for 0.5 s.
func line() signpad.Signature {
	dev := signpad.Device{X: signpad.Axis{Max: 10000, Res: 100}, Y: signpad.Axis{Max: 10000, Res: 100}}
	sig := signpad.Signature{Device: dev}
	for i := range 101 { // 10 ms period
		sig.Samples = append(sig.Samples, signpad.Sample{T: int64(i) * 10_000, X: 1000 + int32(i)*10, Y: 1000, Down: true})
	}
	t := int64(1_200_000)
	for i := range 11 { // resting
		sig.Samples = append(sig.Samples, signpad.Sample{T: t + int64(i)*10_000, X: 3000, Y: 1000, Down: true})
	}
	t += 100_000
	for i := 1; i <= 50; i++ {
		sig.Samples = append(sig.Samples, signpad.Sample{T: t + int64(i)*10_000, X: 3000, Y: 1000 + int32(i)*20, Down: true})
	}
	return sig
}

func TestStrokesAndFeatures(t *testing.T) {
	sig := line()
	// the lift: a sample with Down false between the strokes
	sig.Samples = append(sig.Samples[:101], append([]signpad.Sample{{T: 1_100_000, X: 2000, Y: 1000}}, sig.Samples[101:]...)...)
	st := sig.Strokes()
	if len(st) != 2 || len(st[0].Samples) != 101 || st[0].Duration() != time.Second {
		t.Fatalf("strokes %d, first %d samples %v", len(st), len(st[0].Samples), st[0].Duration())
	}
	f := sig.Features()
	if f.Unit != "mm" || f.Strokes != 2 {
		t.Fatalf("features %+v", f)
	}
	if math.Abs(f.PathLength-(10+10)) > 1e-9 {
		t.Errorf("path %.3f mm, want 20", f.PathLength)
	}
	if math.Abs(f.MaxSpeed-20) > 1e-6 {
		t.Errorf("max speed %.3f, want 20 mm/s", f.MaxSpeed)
	}
	var penUp, rest int
	for _, p := range f.Pauses {
		if p.PenUp {
			penUp++
			if p.Duration != 200*time.Millisecond {
				t.Errorf("pen-up pause %v, want 200ms", p.Duration)
			}
		} else {
			rest++
		}
	}
	if penUp != 1 || rest != 1 {
		t.Errorf("pauses %+v", f.Pauses)
	}
	m := sig.Motions()
	if d := m[50].Direction; math.Abs(d) > 1e-9 {
		t.Errorf("direction moving right %v", d)
	}
	if d := m[len(m)-10].Direction; math.Abs(d-math.Pi/2) > 1e-9 {
		t.Errorf("direction moving down %v", d)
	}
}

func TestRecorder(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	r := &signpad.Recorder{Clock: clk}
	r.Move(1, 1) // hover
	clk.Advance(8 * time.Millisecond)
	r.Down(1.5, 2.25)
	clk.Advance(8 * time.Millisecond)
	r.Move(3, 4)
	clk.Advance(8 * time.Millisecond)
	r.Up(3, 4)
	sig, err := r.Signature()
	if err != nil {
		t.Fatal(err)
	}
	want := []signpad.Sample{
		{T: 0, X: 100, Y: 100},
		{T: 8000, X: 150, Y: 225, Down: true},
		{T: 16000, X: 300, Y: 400, Down: true},
		{T: 24000, X: 300, Y: 400},
	}
	if len(sig.Samples) != len(want) {
		t.Fatalf("samples %+v", sig.Samples)
	}
	for i := range want {
		if sig.Samples[i] != want[i] {
			t.Errorf("sample %d %+v, want %+v", i, sig.Samples[i], want[i])
		}
	}
	if sig.Device.Source != "pointer" || sig.Device.Caps.Has(signpad.CapPressure) || !sig.Start.Equal(clk.Now().Add(-24*time.Millisecond)) {
		t.Errorf("device %+v start %v", sig.Device, sig.Start)
	}
	// Next drains, then io.EOF.
	n := 0
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		n++
	}
	if n != 4 {
		t.Errorf("Next delivered %d", n)
	}
	// Time going backwards is a sticky error.
	clk.Set(clk.Now().Add(-time.Second))
	r.Move(5, 5)
	if _, err := r.Signature(); !errors.Is(err, signpad.ErrTimeBackwards) {
		t.Errorf("err = %v", err)
	}
	r.Reset()
	if _, err := r.Signature(); !errors.Is(err, signpad.ErrEmpty) {
		t.Errorf("after Reset: %v", err)
	}
	r.Down(float32(math.NaN()), 0)
	if _, err := r.Signature(); !errors.Is(err, signpad.ErrOutOfRange) {
		t.Errorf("NaN: %v", err)
	}
}

func TestRecorderConcurrentAndLimit(t *testing.T) {
	r := &signpad.Recorder{Clock: &clock.Fake{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		r.Down(0, 0)
		for range signpad.MaxSamples + 10 {
			r.Move(1, 1)
		}
	})
	wg.Go(func() { _, _ = r.Signature() })
	wg.Wait()
	if _, err := r.Signature(); !errors.Is(err, signpad.ErrTooManySamples) {
		t.Errorf("err = %v", err)
	}
}

func TestCollect(t *testing.T) {
	clk := &clock.Fake{}
	r := &signpad.Recorder{Clock: clk}
	r.Down(0, 0)
	clk.Advance(time.Millisecond)
	r.Up(1, 1)
	sig, err := signpad.Collect(r, clk.Now())
	if err != nil || len(sig.Samples) != 2 || sig.Samples[1].T != 1000 {
		t.Fatalf("%+v %v", sig, err)
	}
}

func TestFieldMap(t *testing.T) {
	dev := signpad.Device{X: signpad.Axis{Max: 20000, Res: 100}, Y: signpad.Axis{Max: 10000, Res: 100}}
	m := signpad.NewFieldMap(dev, 400, 400) // 2:1 tablet in a square field: letterboxed
	if x, y := m.Point(0, 0); x != 0 || y != 100 {
		t.Errorf("top-left maps to %v,%v", x, y)
	}
	if x, y := m.Point(20000, 10000); x != 400 || y != 300 {
		t.Errorf("bottom-right maps to %v,%v", x, y)
	}
	p := signpad.NewFieldMap((&signpad.Recorder{}).Device(), 400, 400)
	if x, y := p.Point(150, 225); x != 1.5 || y != 2.25 {
		t.Errorf("pointer maps to %v,%v", x, y)
	}
}
