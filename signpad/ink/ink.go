// Package ink draws signatures: the strokes with a pressure-dependent
// width on a transparent background (the signature's appearance image in
// the signed PDF, and the kiosk's preview use the same rendering), and a
// plot of the dynamics (x, y and pressure over time) for the trustee's
// examination.
package ink

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"parley/signpad"
)

// Options control the rendering; the zero value uses the defaults.
type Options struct {
	// Width and Height are the image size in pixels (default 600 × 200).
	Width, Height int
	// Padding is the margin around the ink in pixels (default 8).
	Padding int
	// Color is the ink colour (default dark blue).
	Color color.NRGBA
	// MinWidth and MaxWidth are the stroke widths in pixels at zero and at
	// full pressure (default 1.2 and 4); without pressure the stroke is
	// drawn at their mean.
	MinWidth, MaxWidth float64
}

// MaxPixels bounds Width × Height.
const MaxPixels = 16 << 20

// ErrSize means the requested image is empty or too large.
var ErrSize = errors.New("ink: image size out of range")

func (o Options) withDefaults() Options {
	if o.Width == 0 {
		o.Width = 600
	}
	if o.Height == 0 {
		o.Height = 200
	}
	if o.Padding == 0 {
		o.Padding = 8
	}
	if o.Color == (color.NRGBA{}) {
		o.Color = color.NRGBA{R: 0x1a, G: 0x23, B: 0x7e, A: 0xff}
	}
	if o.MinWidth <= 0 {
		o.MinWidth = 1.2
	}
	if o.MaxWidth < o.MinWidth {
		o.MaxWidth = max(4, o.MinWidth)
	}
	return o
}

// canvas accumulates anti-aliased coverage in [0, 1].
type canvas struct {
	w, h int
	a    []float32
}

func newCanvas(w, h int) *canvas { return &canvas{w: w, h: h, a: make([]float32, w*h)} }

// capsule draws a segment from (x0, y0) to (x1, y1) whose radius goes from
// r0 to r1, with round caps.
func (c *canvas) capsule(x0, y0, x1, y1, r0, r1 float64) {
	rm := max(r0, r1) + 1
	minX, maxX := int(math.Floor(min(x0, x1)-rm)), int(math.Ceil(max(x0, x1)+rm))
	minY, maxY := int(math.Floor(min(y0, y1)-rm)), int(math.Ceil(max(y0, y1)+rm))
	minX, minY = max(minX, 0), max(minY, 0)
	maxX, maxY = min(maxX, c.w-1), min(maxY, c.h-1)
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	for py := minY; py <= maxY; py++ {
		for px := minX; px <= maxX; px++ {
			cx, cy := float64(px)+0.5, float64(py)+0.5
			t := 0.0
			if l2 > 0 {
				t = min(max(((cx-x0)*dx+(cy-y0)*dy)/l2, 0), 1)
			}
			d := math.Hypot(cx-(x0+t*dx), cy-(y0+t*dy))
			cov := float32(min(max(r0+t*(r1-r0)-d+0.5, 0), 1))
			if i := py*c.w + px; cov > c.a[i] {
				c.a[i] = cov
			}
		}
	}
}

func (c *canvas) paint(img *image.NRGBA, col color.NRGBA) {
	for i, a := range c.a {
		if a == 0 {
			continue
		}
		// "over" onto what is there (transparent or an earlier layer)
		o := img.Pix[i*4 : i*4+4]
		sa := float64(a) * float64(col.A) / 255
		da := float64(o[3]) / 255
		oa := sa + da*(1-sa)
		if oa == 0 {
			continue
		}
		for k, s := range []uint8{col.R, col.G, col.B} {
			o[k] = uint8(math.Round((float64(s)*sa + float64(o[k])*da*(1-sa)) / oa))
		}
		o[3] = uint8(math.Round(oa * 255))
	}
}

func checkSize(w, h int) error {
	if w <= 0 || h <= 0 || w*h > MaxPixels {
		return fmt.Errorf("%w: %d × %d", ErrSize, w, h)
	}
	return nil
}

// Render draws the pen-down strokes fitted into the image (aspect ratio
// kept, centred) on a transparent background.
func Render(sig signpad.Signature, opt Options) (*image.NRGBA, error) {
	opt = opt.withDefaults()
	if err := checkSize(opt.Width, opt.Height); err != nil {
		return nil, err
	}
	if err := sig.Validate(); err != nil {
		return nil, fmt.Errorf("ink: %w", err)
	}
	// Physical aspect: y in x units when the resolutions differ.
	ry := 1.0
	if sig.Device.X.Res > 0 && sig.Device.Y.Res > 0 {
		ry = float64(sig.Device.X.Res) / float64(sig.Device.Y.Res)
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, s := range sig.Samples {
		if s.Down {
			x, y := float64(s.X), float64(s.Y)*ry
			minX, maxX = min(minX, x), max(maxX, x)
			minY, maxY = min(minY, y), max(maxY, y)
		}
	}
	pad := float64(opt.Padding) + opt.MaxWidth/2
	availW, availH := float64(opt.Width)-2*pad, float64(opt.Height)-2*pad
	if availW <= 0 || availH <= 0 {
		return nil, fmt.Errorf("%w: no room inside the padding", ErrSize)
	}
	scale := min(availW/max(maxX-minX, 1), availH/max(maxY-minY, 1))
	offX := pad + (availW-(maxX-minX)*scale)/2
	offY := pad + (availH-(maxY-minY)*scale)/2
	pmax := 0.0
	if sig.Device.Caps.Has(signpad.CapPressure) && sig.Device.Pressure.Max > 0 {
		pmax = float64(sig.Device.Pressure.Max)
	}
	radius := func(s signpad.Sample) float64 {
		if pmax == 0 {
			return (opt.MinWidth + opt.MaxWidth) / 4
		}
		f := min(max(float64(s.Pressure)/pmax, 0), 1)
		return (opt.MinWidth + (opt.MaxWidth-opt.MinWidth)*f) / 2
	}
	pt := func(s signpad.Sample) (float64, float64) {
		return offX + (float64(s.X)-minX)*scale, offY + (float64(s.Y)*ry-minY)*scale
	}
	c := newCanvas(opt.Width, opt.Height)
	for _, st := range sig.Strokes() {
		prev := st.Samples[0]
		x0, y0 := pt(prev)
		c.capsule(x0, y0, x0, y0, radius(prev), radius(prev))
		for _, s := range st.Samples[1:] {
			x1, y1 := pt(s)
			c.capsule(x0, y0, x1, y1, radius(prev), radius(s))
			x0, y0, prev = x1, y1, s
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, opt.Width, opt.Height))
	c.paint(img, opt.Color)
	return img, nil
}

// WritePNG renders the signature and writes it as a PNG with a transparent
// background: the signature's appearance image.
func WritePNG(w io.Writer, sig signpad.Signature, opt Options) error {
	img, err := Render(sig, opt)
	if err != nil {
		return err
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("ink: writing PNG: %w", err)
	}
	return nil
}

// Plot draws the dynamics over time in three bands (x, y, pressure; each
// scaled to its own range) on a white background; pen-down samples are
// drawn in colour, hover samples in grey, gaps as red marks.
func Plot(sig signpad.Signature, width, height int) (*image.NRGBA, error) {
	if err := checkSize(width, height); err != nil {
		return nil, err
	}
	if height < 30 || width < 30 {
		return nil, fmt.Errorf("%w: at least 30 × 30 for a plot", ErrSize)
	}
	if err := sig.Validate(); err != nil {
		return nil, fmt.Errorf("ink: %w", err)
	}
	img := image.NewNRGBA(image.Rect(0, 0, width, height))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	n := len(sig.Samples)
	dur := float64(max(sig.Samples[n-1].T, 1))
	band := float64(height) / 3
	channels := []struct {
		get func(signpad.Sample) float64
		col color.NRGBA
	}{
		{func(s signpad.Sample) float64 { return float64(s.X) }, color.NRGBA{0xc6, 0x28, 0x28, 0xff}},
		{func(s signpad.Sample) float64 { return float64(s.Y) }, color.NRGBA{0x2e, 0x7d, 0x32, 0xff}},
		{func(s signpad.Sample) float64 { return float64(s.Pressure) }, color.NRGBA{0x15, 0x65, 0xc0, 0xff}},
	}
	grey := newCanvas(width, height)
	gaps := newCanvas(width, height)
	for k, ch := range channels {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range sig.Samples {
			lo, hi = min(lo, ch.get(s)), max(hi, ch.get(s))
		}
		span := max(hi-lo, 1)
		top := float64(k)*band + 4
		h := band - 8
		at := func(s signpad.Sample) (float64, float64) {
			return 2 + float64(s.T)/dur*float64(width-4), top + h - (ch.get(s)-lo)/span*h
		}
		c := newCanvas(width, height)
		for i := 1; i < n; i++ {
			a, b := sig.Samples[i-1], sig.Samples[i]
			x0, y0 := at(a)
			x1, y1 := at(b)
			switch {
			case b.Gap:
				gaps.capsule(x1, top, x1, top+h, 0.6, 0.6)
			case a.Down && b.Down:
				c.capsule(x0, y0, x1, y1, 0.7, 0.7)
			default:
				grey.capsule(x0, y0, x1, y1, 0.5, 0.5)
			}
		}
		c.paint(img, ch.col)
		// separator line between the bands
		for x := range width {
			img.SetNRGBA(x, int(float64(k+1)*band)-1, color.NRGBA{0xcc, 0xcc, 0xcc, 0xff})
		}
	}
	grey.paint(img, color.NRGBA{0x9e, 0x9e, 0x9e, 0xff})
	gaps.paint(img, color.NRGBA{0xff, 0x00, 0x00, 0xff})
	return img, nil
}
