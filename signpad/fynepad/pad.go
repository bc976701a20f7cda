// Package fynepad is the desktop app's signature pad: a Fyne widget that
// captures mouse, touchpad or pen-as-mouse drags, draws the ink live in
// the style of signpad/ink, and hands the signature over as the browser's
// Pointer Events JSON (docs/signpad.md, decoded by signpad/browser), which
// is what the relay's signing routes accept.
//
// Fyne reports positions only (no pressure, tilt or device timestamp), so
// every sample is timestamped on arrival from an injected clock, with a
// monotonic time base. Like a browser, a pressed mouse button is reported
// with pressure 0.5 and pointerType "mouse"; signpad/browser ignores that
// pressure. Hover moves before and between strokes are kept (the browser
// page does the same), up to MaxPoints points in all.
package fynepad

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"parley/relay/clock"
	"parley/signpad/browser"
)

// Limits, below the relay's (signpad.MaxSamples, signpad.MaxDuration), as
// on the browser page: past them the pad stops recording and Full reports
// true until Clear.
const (
	// MaxPoints is the most points one signature records.
	MaxPoints = 40000
	// MaxDuration is the longest signature recorded.
	MaxDuration = 9 * time.Minute
	// maxHover bounds the hover points kept before the first contact.
	maxHover = 200
)

// Ink style: signpad/ink's default colour; the stroke width of a
// pressure-less device (ink's mean of 1.2 and 4 px on a 600 px image)
// scaled to the pad's units.
var (
	// InkColor is the colour of the live ink.
	InkColor = color.NRGBA{R: 0x1a, G: 0x23, B: 0x7e, A: 0xff}
	// InkWidth is the stroke width in UI units.
	InkWidth float32 = 2.6
)

// ErrEmpty is returned by [Pad.JSON] before anything was signed.
var ErrEmpty = errors.New("fynepad: nothing signed yet")

// ErrFull is returned by [Pad.JSON] when the signature hit MaxPoints or
// MaxDuration: clear and sign again.
var ErrFull = errors.New("fynepad: the signature is too long; clear and sign again")

// Pad is the signature pad widget. Create it with [New]; all methods must
// be called on the Fyne UI thread (where Fyne delivers the pointer events).
type Pad struct {
	widget.BaseWidget

	// OnChanged is called after a stroke ends and after Clear.
	OnChanged func()

	clk     clock.Clock
	start   time.Time
	lastT   float64
	field   fyne.Size // the pad's size at the first point: the JSON field
	events  []browser.Event
	points  int
	down    bool
	last    fyne.Position
	strokes int
	full    bool

	ink   *Raster
	img   *canvas.Image
	bg    *canvas.Rectangle
	line  *canvas.Line
	scale float32
}

var (
	_ desktop.Mouseable = (*Pad)(nil)
	_ desktop.Hoverable = (*Pad)(nil)
	_ fyne.Draggable    = (*Pad)(nil)
)

// New returns an empty pad whose timestamps come from clk (nil: the real,
// monotonic clock).
func New(clk clock.Clock) *Pad {
	p := &Pad{clk: clock.Or(clk), scale: 1}
	p.ExtendBaseWidget(p)
	return p
}

// MinSize is a signature field's usual aspect, 3:1.
func (p *Pad) MinSize() fyne.Size { return fyne.NewSize(360, 120) }

// Strokes returns the number of finished or running pen-down strokes.
func (p *Pad) Strokes() int { return p.strokes }

// Full reports whether the pad stopped recording at its limits.
func (p *Pad) Full() bool { return p.full }

// Clear forgets the signature and wipes the ink.
func (p *Pad) Clear() {
	p.events, p.points, p.down, p.strokes, p.full = nil, 0, false, 0, false
	p.start, p.lastT, p.field = time.Time{}, 0, fyne.Size{}
	if p.ink != nil {
		p.ink.Clear()
		p.img.Refresh()
	}
	if p.OnChanged != nil {
		p.OnChanged()
	}
}

// Document returns the signature as the browser's Pointer Events document.
func (p *Pad) Document() browser.Document {
	return browser.Document{V: 1, PointerType: "mouse", PointerID: 1,
		Field:  browser.Size{Width: float64(p.field.Width), Height: float64(p.field.Height)},
		Events: append([]browser.Event(nil), p.events...)}
}

// JSON returns the signature as Pointer Events JSON for the relay's
// signing routes; [ErrEmpty] before the first stroke, [ErrFull] past the
// limits.
func (p *Pad) JSON() ([]byte, error) {
	switch {
	case p.full:
		return nil, ErrFull
	case p.strokes == 0:
		return nil, ErrEmpty
	}
	doc := p.Document()
	if p.down {
		// A stroke still running ends where the pointer is.
		last := doc.Events[len(doc.Events)-1]
		doc.Events = append(doc.Events, browser.Event{Type: "up", Point: browser.Point{T: last.T, X: last.X, Y: last.Y, Pressure: ptr(0)}})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("fynepad: encoding: %w", err)
	}
	return b, nil
}

func ptr(f float64) *float64 { return &f }

// MouseDown starts a stroke.
func (p *Pad) MouseDown(ev *desktop.MouseEvent) {
	if ev.Button != desktop.MouseButtonPrimary || p.down {
		return
	}
	if p.add("down", ev.Position) {
		p.down = true
		p.strokes++
		p.drawDot(ev.Position)
	}
}

// MouseUp ends the stroke.
func (p *Pad) MouseUp(ev *desktop.MouseEvent) { p.up(ev.Position) }

// MouseIn is part of desktop.Hoverable.
func (p *Pad) MouseIn(ev *desktop.MouseEvent) { p.MouseMoved(ev) }

// MouseMoved records a hover point, or a stroke point while the button is
// down but before Fyne starts a drag.
func (p *Pad) MouseMoved(ev *desktop.MouseEvent) { p.move(ev.Position) }

// MouseOut is part of desktop.Hoverable.
func (p *Pad) MouseOut() {}

// Dragged records a stroke point; a drag without a MouseDown (touch
// screens) starts a stroke where it began.
func (p *Pad) Dragged(ev *fyne.DragEvent) {
	if !p.down {
		p.MouseDown(&desktop.MouseEvent{Button: desktop.MouseButtonPrimary,
			PointEvent: fyne.PointEvent{Position: ev.Position.Subtract(ev.Dragged)}})
	}
	p.move(ev.Position)
}

// DragEnd ends the stroke when the button was released outside the pad.
func (p *Pad) DragEnd() { p.up(p.last) }

func (p *Pad) move(pos fyne.Position) {
	if !p.down && p.strokes == 0 && p.points >= maxHover {
		// Only the latest hover points before the first contact matter;
		// keep the first ones and skip the rest (rare: a long hover).
		return
	}
	from := p.last
	if p.add("move", pos) && p.down {
		p.drawSegment(from, p.last)
	}
}

func (p *Pad) up(pos fyne.Position) {
	if !p.down {
		return
	}
	from := p.last
	p.down = false
	if p.add("up", pos) {
		p.drawSegment(from, p.last)
	} else if n := len(p.events); n > 0 {
		// Past the limits: still close the stroke so the JSON stays valid.
		e := p.events[n-1]
		p.events = append(p.events, browser.Event{Type: "up", Point: browser.Point{T: e.T, X: e.X, Y: e.Y, Pressure: ptr(0)}})
	}
	if p.OnChanged != nil {
		p.OnChanged()
	}
}

// add records one event at pos (clamped to the field); false when the pad
// is full.
func (p *Pad) add(typ string, pos fyne.Position) bool {
	if p.full {
		return false
	}
	now := p.clk.Now()
	if p.points == 0 {
		p.start = now
		p.field = p.Size()
		if p.field.Width < 1 || p.field.Height < 1 {
			p.field = p.MinSize()
		}
	}
	t := float64(now.Sub(p.start).Microseconds()) / 1000
	if t < p.lastT {
		t = p.lastT // never back in time
	}
	if p.points >= MaxPoints || t > float64(MaxDuration.Milliseconds()) {
		p.full = true
		return false
	}
	p.lastT = t
	x := min(max(float64(pos.X), 0), float64(p.field.Width))
	y := min(max(float64(pos.Y), 0), float64(p.field.Height))
	pressure := 0.0
	if typ == "down" || (typ == "move" && p.down) {
		pressure = 0.5
	}
	p.events = append(p.events, browser.Event{Type: typ, Point: browser.Point{T: t, X: x, Y: y, Pressure: ptr(pressure)}})
	p.points++
	p.last = fyne.NewPos(float32(x), float32(y))
	return true
}

// ensureInk makes the ink raster match the pad's size on screen, drawing
// the recorded strokes again after a resize.
func (p *Pad) ensureInk() {
	if p.img == nil {
		return
	}
	sc := float32(1)
	if c := fyne.CurrentApp().Driver().CanvasForObject(p); c != nil {
		sc = c.Scale()
	}
	sz := p.Size()
	w, h := int(math.Ceil(float64(sz.Width*sc))), int(math.Ceil(float64(sz.Height*sc)))
	if w < 1 || h < 1 {
		return
	}
	if p.ink != nil && p.ink.Bounds().Dx() == w && p.ink.Bounds().Dy() == h {
		return
	}
	p.scale = sc
	p.ink = NewRaster(w, h, InkColor)
	p.img.Image = p.ink.Image()
	var prev *browser.Point
	for i := range p.events {
		e := &p.events[i]
		switch {
		case e.Type == "down":
			p.ink.Segment(e.X*float64(sc), e.Y*float64(sc), e.X*float64(sc), e.Y*float64(sc), float64(InkWidth*sc)/2)
			prev = &e.Point
		case prev != nil:
			p.ink.Segment(prev.X*float64(sc), prev.Y*float64(sc), e.X*float64(sc), e.Y*float64(sc), float64(InkWidth*sc)/2)
			prev = &e.Point
			if e.Type == "up" {
				prev = nil
			}
		}
	}
}

func (p *Pad) drawDot(at fyne.Position) { p.drawSegment(at, at) }

// drawSegment inks a segment (UI units) and refreshes the image: the
// point where a sample becomes visible ink.
func (p *Pad) drawSegment(from, to fyne.Position) {
	p.ensureInk()
	if p.ink == nil {
		return
	}
	s := float64(p.scale)
	p.ink.Segment(float64(from.X)*s, float64(from.Y)*s, float64(to.X)*s, float64(to.Y)*s, float64(InkWidth*p.scale)/2)
	p.img.Refresh()
}

// CreateRenderer is part of fyne.Widget.
func (p *Pad) CreateRenderer() fyne.WidgetRenderer {
	p.bg = canvas.NewRectangle(color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff})
	p.bg.StrokeColor = color.NRGBA{R: 0x9e, G: 0x9e, B: 0x9e, A: 0xff}
	p.bg.StrokeWidth = 1
	p.line = canvas.NewLine(color.NRGBA{R: 0xbd, G: 0xbd, B: 0xbd, A: 0xff})
	p.img = canvas.NewImageFromImage(image.NewNRGBA(image.Rect(0, 0, 1, 1)))
	p.img.FillMode = canvas.ImageFillStretch
	p.img.ScaleMode = canvas.ImageScalePixels
	return &padRenderer{p: p}
}

type padRenderer struct{ p *Pad }

func (r *padRenderer) Layout(sz fyne.Size) {
	p := r.p
	p.bg.Resize(sz)
	y := sz.Height * 3 / 4
	p.line.Position1 = fyne.NewPos(sz.Width*0.06, y)
	p.line.Position2 = fyne.NewPos(sz.Width*0.94, y)
	p.img.Resize(sz)
	p.ensureInk()
	p.img.Refresh()
}

func (r *padRenderer) MinSize() fyne.Size { return r.p.MinSize() }

func (r *padRenderer) Refresh() {
	r.p.ensureInk()
	r.p.bg.Refresh()
	r.p.img.Refresh()
}

func (r *padRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.p.bg, r.p.line, r.p.img}
}

func (r *padRenderer) Destroy() {}
