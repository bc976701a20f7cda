package kiosk

import (
	"errors"
	"fmt"
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"parley/signpad"
)

// Ink drawn on the pad.
var (
	inkColor  = color.NRGBA{R: 0x1a, G: 0x23, B: 0x7e, A: 0xff}
	padColor  = color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	lineColor = color.NRGBA{R: 0x90, G: 0x90, B: 0x90, A: 0xff}
)

// Ink widths in UI units at zero and full pressure (as signpad/ink draws
// the signature's appearance).
const (
	minInk = 1.5
	maxInk = 5
)

// errSignFirst means Confirm was pressed on an empty pad.
var errSignFirst = errors.New("kiosk: nothing signed yet")

// pad is the on-screen signature field. It takes the pen tablet's samples
// (mapped onto the field with signpad.FieldMap, aspect kept) or, without
// a pen, the pointer (mouse or touch screen, through signpad.Recorder);
// whichever writes first owns the signature until Clear. The ink is drawn
// live.
type pad struct {
	widget.BaseWidget
	k *Kiosk

	// source is "", "pen" or "pointer".
	source string
	// pen samples in device units, T as the device reported it; dev the
	// pen's description.
	samples []signpad.Sample
	dev     signpad.Device
	rec     signpad.Recorder
	full    bool

	ink     *fyne.Container
	bg      *canvas.Rectangle
	base    *canvas.Line
	hint    *canvas.Text
	last    fyne.Position
	lastW   float32
	drawing bool
	// onChange is called when the pad becomes empty or not.
	onChange func(empty bool)
}

func newPad(k *Kiosk) *pad {
	p := &pad{k: k, ink: container.NewWithoutLayout()}
	p.rec.Clock = k.clock
	p.bg = canvas.NewRectangle(padColor)
	p.bg.StrokeColor = lineColor
	p.bg.StrokeWidth = 2
	p.base = canvas.NewLine(lineColor)
	p.hint = canvas.NewText("Sign here", lineColor)
	p.hint.TextSize = 18
	p.ExtendBaseWidget(p)
	return p
}

// CreateRenderer implements fyne.Widget.
func (p *pad) CreateRenderer() fyne.WidgetRenderer {
	return &padRenderer{p: p, objs: []fyne.CanvasObject{p.bg, p.base, p.hint, p.ink}}
}

// MinSize implements fyne.CanvasObject: room for a signature.
func (p *pad) MinSize() fyne.Size { return fyne.NewSize(560, 220) }

type padRenderer struct {
	p    *pad
	objs []fyne.CanvasObject
}

func (r *padRenderer) Layout(s fyne.Size) {
	r.p.bg.Resize(s)
	r.p.ink.Resize(s)
	y := s.Height * 0.75
	r.p.base.Position1 = fyne.NewPos(24, y)
	r.p.base.Position2 = fyne.NewPos(s.Width-24, y)
	r.p.hint.Move(fyne.NewPos(28, y+6))
}
func (r *padRenderer) MinSize() fyne.Size           { return r.p.MinSize() }
func (r *padRenderer) Refresh()                     { canvas.Refresh(r.p) }
func (r *padRenderer) Objects() []fyne.CanvasObject { return r.objs }
func (r *padRenderer) Destroy()                     {}

func (p *pad) claim(src string) bool {
	if p.source == src {
		return true
	}
	if p.source != "" {
		return false
	}
	p.source = src
	if p.onChange != nil {
		p.onChange(false)
	}
	return true
}

// penSample takes one pen sample (UI thread).
func (p *pad) penSample(dev signpad.Device, s signpad.Sample) {
	if p.full {
		return
	}
	if p.source == "" && !s.Down {
		// Hover before the first touch: keep only the latest few, so a
		// pen resting near the tablet does not fill the buffer.
		p.dev = dev
		if len(p.samples) >= 64 {
			clear(p.samples[:1])
			p.samples = append(p.samples[:0], p.samples[1:]...)
		}
		p.samples = append(p.samples, s)
		return
	}
	if !p.claim("pen") {
		return
	}
	if len(p.samples) >= signpad.MaxSamples {
		p.full = true
		return
	}
	p.dev = dev
	p.samples = append(p.samples, s)
	m := signpad.NewFieldMap(dev, p.Size().Width, p.Size().Height)
	x, y := m.Point(s.X, s.Y)
	w := float32(minInk+maxInk) / 2
	if dev.Caps.Has(signpad.CapPressure) && dev.Pressure.Max > 0 {
		f := min(max(float32(s.Pressure)/float32(dev.Pressure.Max), 0), 1)
		w = minInk + (maxInk-minInk)*f
	}
	p.stroke(fyne.NewPos(x, y), w, s.Down && !s.Gap)
}

// stroke continues the ink to pos while down, else lifts the pen.
func (p *pad) stroke(pos fyne.Position, width float32, down bool) {
	if !down {
		p.drawing = false
		return
	}
	if !p.drawing {
		p.drawing, p.last, p.lastW = true, pos, width
		dot := canvas.NewCircle(inkColor)
		dot.Resize(fyne.NewSize(width, width))
		dot.Move(pos.SubtractXY(width/2, width/2))
		p.ink.Add(dot)
		return
	}
	dx, dy := pos.X-p.last.X, pos.Y-p.last.Y
	if dx*dx+dy*dy < 1 {
		return
	}
	l := canvas.NewLine(inkColor)
	l.StrokeWidth = (width + p.lastW) / 2
	l.Position1, l.Position2 = p.last, pos
	p.ink.Add(l)
	p.last, p.lastW = pos, width
}

// MouseDown implements desktop.Mouseable.
func (p *pad) MouseDown(e *desktop.MouseEvent) { p.pointer(e.Position, true, false) }

// MouseUp implements desktop.Mouseable.
func (p *pad) MouseUp(e *desktop.MouseEvent) { p.pointer(e.Position, false, true) }

// Dragged implements fyne.Draggable (mouse moves with the button down,
// and touch screens).
func (p *pad) Dragged(e *fyne.DragEvent) { p.pointer(e.Position, true, false) }

// DragEnd implements fyne.Draggable.
func (p *pad) DragEnd() { p.pointer(p.last, false, true) }

func (p *pad) pointer(pos fyne.Position, down, up bool) {
	p.k.touch()
	if p.full || !p.claim("pointer") {
		return
	}
	switch {
	case up:
		p.rec.Up(pos.X, pos.Y)
	case !p.drawing:
		p.rec.Down(pos.X, pos.Y)
	default:
		p.rec.Move(pos.X, pos.Y)
	}
	p.stroke(pos, (minInk+maxInk)/2, !up)
}

// clearInk empties the pad for a new attempt.
func (p *pad) clearInk() {
	p.wipe()
	p.ink.RemoveAll()
	p.ink.Refresh()
	if p.onChange != nil {
		p.onChange(true)
	}
}

// wipe zeroes the captured samples.
func (p *pad) wipe() {
	clear(p.samples)
	p.samples = p.samples[:0]
	p.rec.Reset()
	p.source, p.full, p.drawing = "", false, false
	p.dev = signpad.Device{}
}

// signature returns what was signed, with the pen's leading and trailing
// hover trimmed and time starting at 0, and the device's description for
// the submission.
func (p *pad) signature(start time.Time, penName string) (signpad.Signature, string, error) {
	switch p.source {
	case "pointer":
		sig, err := p.rec.Signature()
		if err != nil {
			return signpad.Signature{}, "", fmt.Errorf("kiosk: pointer signature: %w", err)
		}
		return sig, "pointer", nil
	case "pen":
		first, last := -1, -1
		for i, s := range p.samples {
			if s.Down {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		if first < 0 {
			return signpad.Signature{}, "", errSignFirst
		}
		// Keep one hover sample on either side: the pen's approach and
		// lift are part of the dynamics.
		first, last = max(first-1, 0), min(last+1, len(p.samples)-1)
		src := p.samples[first : last+1]
		out := make([]signpad.Sample, len(src))
		t0 := src[0].T
		for i, s := range src {
			s.T -= t0
			out[i] = s
		}
		sig := signpad.Signature{Device: p.dev, Start: start.UTC(), Samples: out}
		if err := sig.Validate(); err != nil {
			clear(out)
			return signpad.Signature{}, "", fmt.Errorf("kiosk: pen signature: %w", err)
		}
		return sig, penName, nil
	}
	return signpad.Signature{}, "", errSignFirst
}
