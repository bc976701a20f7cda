package evdev_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/signpad"
	"parley/signpad/evdev"
)

var update = flag.Bool("update", false, "rewrite golden files")

// tablet is a pen tablet as a Wacom Intuos declares itself.
var tablet = evdev.Info{
	Name: "Test Pen Tablet", Vendor: 0x056a, Product: 0x0374,
	Abs: map[uint16]evdev.AbsInfo{
		evdev.AbsX:        {Maximum: 15200, Resolution: 100},
		evdev.AbsY:        {Maximum: 9500, Resolution: 100},
		evdev.AbsPressure: {Maximum: 4095},
		evdev.AbsTiltX:    {Minimum: -64, Maximum: 63, Resolution: 57},
		evdev.AbsTiltY:    {Minimum: -64, Maximum: 63, Resolution: 57},
		evdev.AbsDistance: {Maximum: 63},
	},
	Keys: map[uint16]bool{evdev.BtnToolPen: true, evdev.BtnTouch: true},
	Msc:  map[uint16]bool{evdev.MscSerial: true, evdev.MscTimestamp: true},
}

type rec struct {
	b []byte
	t int64
}

func (r *rec) ev(typ, code uint16, v int32) {
	r.b = evdev.AppendEvent(r.b, evdev.Event{Time: r.t, Type: typ, Code: code, Value: v})
}
func (r *rec) syn() { r.ev(evdev.EvSyn, evdev.SynReport, 0) }

// synth writes a deterministic pen stream: the pen comes into range,
// hovers for 5 reports, writes three strokes with pen lifts between them
// at hz reports per second for the given duration, then leaves range.
// Every report carries MSC_TIMESTAMP as a Wacom does.
func synth(hz int, d time.Duration) []byte {
	r := &rec{t: 1_700_000_000_000_000}
	period := int64(1e6 / hz)
	n := int(d.Microseconds() / period)
	r.ev(evdev.EvKey, evdev.BtnToolPen, 1)
	r.ev(evdev.EvMsc, evdev.MscSerial, 0x1234)
	down := false
	for i := range n {
		ph := float64(i) / float64(n)
		x := int32(2000 + 11000*ph + 600*math.Sin(ph*40))
		y := int32(4500 + 1800*math.Sin(ph*23))
		wantDown := i >= 5 && i < n-5 && (i/(n/3+1) == (i+7)/(n/3+1)) // lifts near stroke borders
		r.ev(evdev.EvAbs, evdev.AbsX, x)
		r.ev(evdev.EvAbs, evdev.AbsY, y)
		if wantDown {
			r.ev(evdev.EvAbs, evdev.AbsPressure, int32(800+2000*math.Abs(math.Sin(ph*9))))
			r.ev(evdev.EvAbs, evdev.AbsDistance, 0)
		} else {
			r.ev(evdev.EvAbs, evdev.AbsPressure, 0)
			r.ev(evdev.EvAbs, evdev.AbsDistance, 20)
		}
		r.ev(evdev.EvAbs, evdev.AbsTiltX, int32(20*math.Sin(ph*3)))
		r.ev(evdev.EvAbs, evdev.AbsTiltY, int32(-30+10*math.Cos(ph*5)))
		if wantDown != down {
			v := int32(0)
			if wantDown {
				v = 1
			}
			r.ev(evdev.EvKey, evdev.BtnTouch, v)
			down = wantDown
		}
		r.ev(evdev.EvMsc, evdev.MscTimestamp, int32(uint32(i)*uint32(period)))
		r.syn()
		r.t += period
	}
	r.ev(evdev.EvKey, evdev.BtnToolPen, 0)
	r.syn()
	return r.b
}

var start = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func TestDecodeRecordedStreamGolden(t *testing.T) {
	path := filepath.Join("testdata", "pen-200hz-2s.evdev")
	if *update {
		if err := os.WriteFile(path, synth(200, 2*time.Second), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sig, st, err := evdev.Decode(bytes.NewReader(raw), tablet.Device(), start)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "events %d reports %d samples %d dropped %d serial %#x caps %#x\n", st.Events, st.Reports, st.Samples, st.Dropped, sig.ToolSerial, sig.Device.Caps)
	f := sig.Features()
	fmt.Fprintf(&b, "duration %v pendown %v strokes %d pauses %d path %.2f%s\n", f.Duration, f.PenDown, f.Strokes, len(f.Pauses), f.PathLength, f.Unit)
	for i, s := range sig.Samples {
		if i < 8 || i%50 == 0 || i == len(sig.Samples)-1 {
			fmt.Fprintf(&b, "%d %+v\n", i, s)
		}
	}
	golden := filepath.Join("testdata", "pen-200hz-2s.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("decoded stream differs from %s (run with -update after checking):\n%s", golden, b.String())
	}
	// Every report with the pen in range became a sample.
	if st.Samples != 400 || st.Reports != 401 {
		t.Errorf("samples %d of %d reports, want 400 of 401 (the last is the pen leaving)", st.Samples, st.Reports)
	}
}

func TestDecodePressureTiltHoverAndTipSwitch(t *testing.T) {
	r := &rec{t: 5_000_000}
	r.ev(evdev.EvKey, evdev.BtnToolPen, 1)
	r.ev(evdev.EvAbs, evdev.AbsX, 100)
	r.ev(evdev.EvAbs, evdev.AbsY, 200)
	r.syn() // hover
	r.t += 5000
	r.ev(evdev.EvAbs, evdev.AbsPressure, 1234)
	r.ev(evdev.EvAbs, evdev.AbsTiltX, -12)
	r.ev(evdev.EvAbs, evdev.AbsTiltY, 33)
	r.ev(evdev.EvKey, evdev.BtnTouch, 1)
	r.ev(evdev.EvMsc, evdev.MscTimestamp, 777)
	r.syn() // down
	r.t += 5000
	r.ev(evdev.EvKey, evdev.BtnTouch, 0)
	r.ev(evdev.EvAbs, evdev.AbsPressure, 0)
	r.syn() // up, hovering
	r.t += 5000
	r.ev(evdev.EvKey, evdev.BtnToolPen, 0)
	r.syn() // out of range: no sample
	r.t += 5000
	r.ev(evdev.EvAbs, evdev.AbsX, 999)
	r.syn() // still out of range

	sig, st, err := evdev.Decode(bytes.NewReader(r.b), tablet.Device(), start)
	if err != nil {
		t.Fatal(err)
	}
	want := []signpad.Sample{
		{T: 0, X: 100, Y: 200},
		{T: 5000, X: 100, Y: 200, Pressure: 1234, TiltX: -12, TiltY: 33, Down: true, HWTime: 777},
		{T: 10000, X: 100, Y: 200, TiltX: -12, TiltY: 33, HWTime: 777},
	}
	if fmt.Sprint(sig.Samples) != fmt.Sprint(want) {
		t.Fatalf("samples\n got %+v\nwant %+v", sig.Samples, want)
	}
	if st.Reports != 5 || st.Samples != 3 {
		t.Errorf("stats %+v", st)
	}
	if !sig.Device.Caps.Has(signpad.CapPressure | signpad.CapTilt | signpad.CapHover | signpad.CapTipSwitch | signpad.CapHWTime) {
		t.Errorf("caps %#x", sig.Device.Caps)
	}
	if sig.Device.X.Max != 15200 || sig.Device.X.Res != 100 || sig.Device.Pressure.Max != 4095 {
		t.Errorf("device axes %+v", sig.Device)
	}
}

func TestSynDroppedIsAGap(t *testing.T) {
	r := &rec{t: 1_000_000}
	r.ev(evdev.EvKey, evdev.BtnTouch, 1)
	for i := range 10 {
		r.ev(evdev.EvAbs, evdev.AbsX, int32(100+i))
		r.ev(evdev.EvAbs, evdev.AbsPressure, 500)
		if i == 4 {
			r.ev(evdev.EvSyn, evdev.SynDropped, 0)
			r.ev(evdev.EvAbs, evdev.AbsX, 5000) // discarded up to the next SYN_REPORT
		}
		r.syn()
		r.t += 5000
	}
	sig, st, err := evdev.Decode(bytes.NewReader(r.b), tablet.Device(), start)
	if err != nil {
		t.Fatal(err)
	}
	if st.Dropped != 1 || len(sig.Samples) != 9 {
		t.Fatalf("dropped %d, %d samples; want 1 and 9", st.Dropped, len(sig.Samples))
	}
	for i, s := range sig.Samples {
		if s.Gap != (i == 4) {
			t.Errorf("sample %d gap %v", i, s.Gap)
		}
		if s.X == 5000 {
			t.Errorf("sample %d carries an event from inside the dropped report", i)
		}
	}
	if n := len(sig.Strokes()); n != 2 {
		t.Errorf("a gap while down splits the stroke: %d strokes, want 2", n)
	}
	if g := sig.Features().Gaps; g != 1 {
		t.Errorf("features report %d gaps", g)
	}
}

func TestHostileStreams(t *testing.T) {
	down := func(r *rec) { r.ev(evdev.EvKey, evdev.BtnTouch, 1) }
	cases := map[string]struct {
		build func() []byte
		want  error
	}{
		"time backwards": {func() []byte {
			r := &rec{t: 2_000_000}
			down(r)
			r.syn()
			r.t -= 1
			r.syn()
			return r.b
		}, signpad.ErrTimeBackwards},
		"truncated record": {func() []byte {
			r := &rec{t: 1}
			down(r)
			r.syn()
			return r.b[:len(r.b)-3]
		}, evdev.ErrBadEvent},
		"microseconds out of range": {func() []byte {
			r := &rec{t: 1}
			down(r)
			r.syn()
			r.b[8+24] = 0xff
			r.b[9+24] = 0xff
			r.b[10+24] = 0xff
			return r.b
		}, evdev.ErrBadEvent},
		"no SYN_REPORT": {func() []byte {
			r := &rec{t: 1}
			for range evdev.MaxEventsPerReport + 1 {
				r.ev(evdev.EvAbs, evdev.AbsX, 1)
			}
			return r.b
		}, evdev.ErrBadEvent},
		"x outside the device's range": {func() []byte {
			r := &rec{t: 1}
			down(r)
			r.ev(evdev.EvAbs, evdev.AbsX, 15201)
			r.syn()
			return r.b
		}, signpad.ErrOutOfRange},
		"pen never down": {func() []byte {
			r := &rec{t: 1}
			r.syn()
			return r.b
		}, signpad.ErrEmpty},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := evdev.Decode(bytes.NewReader(c.build()), tablet.Device(), start)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// endless produces 10^7 and more reports, generated on the fly.
type endless struct {
	n   int
	buf []byte
}

func (e *endless) Read(p []byte) (int, error) {
	if len(e.buf) == 0 {
		t := int64(1_000_000 + e.n*1000)
		e.buf = evdev.AppendEvent(e.buf, evdev.Event{Time: t, Type: evdev.EvKey, Code: evdev.BtnTouch, Value: 1})
		e.buf = evdev.AppendEvent(e.buf, evdev.Event{Time: t, Type: evdev.EvAbs, Code: evdev.AbsX, Value: int32(e.n % 1000)})
		e.buf = evdev.AppendEvent(e.buf, evdev.Event{Time: t, Type: evdev.EvSyn, Code: evdev.SynReport})
		e.n++
		if e.n > 10_000_000 {
			return 0, io.EOF
		}
	}
	n := copy(p, e.buf)
	e.buf = e.buf[n:]
	return n, nil
}

func TestTenMillionReportsAreRefused(t *testing.T) {
	src := &endless{}
	_, _, err := evdev.Decode(src, signpad.Device{}, start)
	if !errors.Is(err, signpad.ErrTooManySamples) {
		t.Fatalf("err = %v, want ErrTooManySamples", err)
	}
	if src.n > signpad.MaxSamples+10 {
		t.Errorf("decoder read %d reports before refusing; it should stop at the limit", src.n)
	}
}

func TestInfoDevice(t *testing.T) {
	d := evdev.Info{Abs: map[uint16]evdev.AbsInfo{evdev.AbsX: {Maximum: 10}, evdev.AbsY: {Maximum: 10}}}.Device()
	if d.Caps != 0 || d.Source != "evdev" {
		t.Errorf("a bare touch area has caps %#x source %q", d.Caps, d.Source)
	}
	d = tablet.Device()
	if d.TiltX.Min != -64 || d.TiltY.Res != 57 || d.Vendor != 0x056a {
		t.Errorf("tablet %+v", d)
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add(synth(200, 100*time.Millisecond))
	r := &rec{t: 1}
	r.ev(evdev.EvKey, evdev.BtnTouch, 1)
	r.ev(evdev.EvSyn, evdev.SynDropped, 0)
	r.syn()
	r.syn()
	f.Add(r.b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		sig, _, err := evdev.Decode(bytes.NewReader(data), tablet.Device(), start)
		if err != nil {
			return
		}
		if err := sig.Validate(); err != nil {
			t.Fatalf("decoder returned an invalid signature: %v", err)
		}
	})
}

// BenchmarkDecode200Hz5s decodes a 5 s stream at 200 reports per second and
// reports how many samples came out per device report (goal: 1).
func BenchmarkDecode200Hz5s(b *testing.B) {
	raw := synth(200, 5*time.Second)
	b.SetBytes(int64(len(raw)))
	var st evdev.Stats
	for b.Loop() {
		var err error
		_, st, err = evdev.Decode(bytes.NewReader(raw), tablet.Device(), start)
		if err != nil {
			b.Fatal(err)
		}
	}
	inRange := st.Reports - 1 // the last report is the pen leaving
	b.ReportMetric(float64(st.Samples)/float64(inRange), "samples/report")
	b.ReportMetric(float64(st.Samples), "samples")
}
