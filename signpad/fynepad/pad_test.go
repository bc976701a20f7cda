package fynepad

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"parley/relay/clock"
	"parley/signpad/browser"
)

type want struct {
	t    int64 // µs since the first point
	x, y float32
	down bool
}

// padWindow shows a pad on a 480×160 test canvas.
func padWindow(t *testing.T) (*Pad, *clock.Fake, fyne.Canvas) {
	t.Helper()
	test.NewTempApp(t)
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	p := New(clk)
	w := test.NewWindow(p)
	t.Cleanup(w.Close)
	w.SetPadded(false)
	w.Resize(fyne.NewSize(480, 160))
	if p.Size().Width != 480 || p.Size().Height != 160 {
		t.Fatalf("pad size %v", p.Size())
	}
	return p, clk, w.Canvas()
}

func mouse(x, y float32) *desktop.MouseEvent {
	return &desktop.MouseEvent{Button: desktop.MouseButtonPrimary, PointEvent: fyne.PointEvent{Position: fyne.NewPos(x, y)}}
}

// TestRoundTrip drives synthetic drags through the widget (hover, a
// mouse stroke that leaves the pad, a touch-style drag without
// MouseDown) and checks that the JSON decodes with signpad/browser to the
// same points, times and contact states.
func TestRoundTrip(t *testing.T) {
	p, clk, c := padWindow(t)
	changes := 0
	p.OnChanged = func() { changes++ }
	if _, err := p.JSON(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty pad: %v", err)
	}
	step := func(ms int) { clk.Advance(time.Duration(ms) * time.Millisecond) }

	var w []want
	at := int64(0)
	// Hover before the first contact.
	test.MoveMouse(c, fyne.NewPos(20, 40))
	w = append(w, want{at, 20, 40, false})
	step(7)
	at += 7000
	test.MoveMouse(c, fyne.NewPos(22, 41))
	w = append(w, want{at, 22, 41, false})
	// A stroke: down, a move before the drag starts, drags, one beyond
	// the right edge (clamped), release outside (DragEnd).
	step(5)
	at += 5000
	p.MouseDown(mouse(22, 41))
	w = append(w, want{at, 22, 41, true})
	step(4)
	at += 4000
	p.MouseMoved(mouse(23, 42))
	w = append(w, want{at, 23, 42, true})
	for i := 1; i <= 10; i++ {
		step(8)
		at += 8000
		x, y := 23+float32(i)*50, 42+float32(i%3)*15
		p.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(x, y)}, Dragged: fyne.NewDelta(50, 0)})
		w = append(w, want{at, min(x, 480), y, true})
	}
	step(3)
	at += 3000
	p.DragEnd()
	w = append(w, want{at, 480, 42 + 15, false})
	if changes != 1 || p.Strokes() != 1 {
		t.Fatalf("changes %d strokes %d", changes, p.Strokes())
	}
	// Hover between strokes, then a drag without MouseDown (touch): it
	// starts where the drag began.
	step(100)
	at += 100000
	test.MoveMouse(c, fyne.NewPos(100, 100))
	w = append(w, want{at, 100, 100, false})
	step(10)
	at += 10000
	test.Drag(c, fyne.NewPos(130, 110), 30, 10)
	w = append(w, want{at, 100, 100, true}, want{at, 130, 110, true}, want{at, 130, 110, false})

	js, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := browser.Decode(bytes.NewReader(js), time.Now())
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, js)
	}
	if sig.Device.Name != "pointer:mouse" || sig.Device.X.Max != 48000 || sig.Device.Y.Max != 16000 {
		t.Errorf("device %+v", sig.Device)
	}
	if len(sig.Samples) != len(w) {
		t.Fatalf("%d samples, want %d:\n%s", len(sig.Samples), len(w), js)
	}
	for i, s := range sig.Samples {
		e := w[i]
		if s.T != e.t || s.X != int32(math.Round(float64(e.x)*browser.UnitsPerPx)) || s.Y != int32(math.Round(float64(e.y)*browser.UnitsPerPx)) || s.Down != e.down || s.Pressure != 0 {
			t.Errorf("sample %d = %+v, want %+v", i, s, e)
		}
	}
	if n := len(sig.Strokes()); n != 2 {
		t.Errorf("%d strokes", n)
	}

	// The ink is on the raster where the first stroke ran, not elsewhere.
	img := p.ink.Image()
	// The first drag ran from (23, 42) to (73, 57); its middle is (48, 49.5).
	if img.NRGBAAt(48, 49).A == 0 && img.NRGBAAt(48, 50).A == 0 {
		t.Error("no ink on the first stroke")
	}
	if img.NRGBAAt(300, 150).A != 0 {
		t.Error("ink where nothing was drawn")
	}
	if got := img.NRGBAAt(22, 41); got.A != 255 || got.R != InkColor.R || got.B != InkColor.B {
		t.Errorf("ink colour at the stroke's start %v", got)
	}

	p.Clear()
	if _, err := p.JSON(); !errors.Is(err, ErrEmpty) || p.Strokes() != 0 || changes != 3 {
		t.Errorf("after Clear: %v, %d strokes, %d changes", err, p.Strokes(), changes)
	}
	for _, px := range img.Pix {
		if px != 0 {
			t.Fatal("ink left after Clear")
		}
	}
}

// TestRunningStrokeAndLimits: a stroke still held is closed in the JSON;
// a clock going backwards never makes time go back; the point limit
// stops recording with ErrFull until Clear.
func TestRunningStrokeAndLimits(t *testing.T) {
	p, clk, _ := padWindow(t)
	p.MouseDown(mouse(10, 10))
	clk.Advance(5 * time.Millisecond)
	p.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(50, 20)}})
	clk.Set(clk.Now().Add(-time.Second))
	p.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(60, 25)}})
	js, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := browser.Decode(bytes.NewReader(js), time.Now())
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	last := sig.Samples[len(sig.Samples)-1]
	if last.Down || last.T != 5000 || len(sig.Samples) != 4 {
		t.Errorf("samples %+v", sig.Samples)
	}

	p.Clear()
	p.MouseDown(mouse(1, 1))
	for i := 0; i < MaxPoints+10; i++ {
		p.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(float32(i%400), 50)}})
	}
	if !p.Full() {
		t.Fatal("not full")
	}
	if _, err := p.JSON(); !errors.Is(err, ErrFull) {
		t.Errorf("full pad: %v", err)
	}
	p.Clear()
	p.MouseDown(mouse(1, 1))
	p.MouseUp(mouse(2, 2))
	js, err = p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := browser.Decode(bytes.NewReader(js), time.Now()); err != nil {
		t.Errorf("after Clear: %v", err)
	}
}

// BenchmarkInkSample is the raster work of one sample on a 600×200 pad
// at scale 2 (a 1200×400 raster): one segment of 8 UI units.
func BenchmarkInkSample(b *testing.B) {
	r := NewRaster(1200, 400, InkColor)
	rad := float64(InkWidth)
	b.ReportAllocs()
	x := 10.0
	for b.Loop() {
		r.Segment(x, 200, x+16, 208, rad)
		x += 16
		if x > 1150 {
			x = 10
		}
	}
}
