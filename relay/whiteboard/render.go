package whiteboard

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strings"
	"sync"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// MaxRenderSide bounds the width and height Render draws.
const MaxRenderSide = 8192

// RenderPNG draws one page of a board's state as a PNG of w×h pixels for
// the session archive: the background image (scaled to fill; nil means
// white) and the page's visible objects bottom first. See Render.
func RenderPNG(st State, page PageRef, w, h int, background image.Image) ([]byte, error) {
	img, err := Render(st, page, w, h, background)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("whiteboard: render: %w", err)
	}
	return buf.Bytes(), nil
}

// Render draws one page of a board's state with the package's own
// rasteriser: anti-aliased polylines with round caps and joins (pressure
// varies their width), the highlighter at HighlighterAlpha without
// darkening where it overlaps itself, rectangle, ellipse, line and arrow
// outlines, and text in Go Regular. Objects that break the op rules (a
// state from elsewhere) are clamped or skipped, never trusted.
func Render(st State, page PageRef, w, h int, background image.Image) (*image.RGBA, error) {
	if w < 1 || h < 1 || w > MaxRenderSide || h > MaxRenderSide {
		return nil, fmt.Errorf("whiteboard: render: %w: size %d×%d", ErrInvalid, w, h)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	if background != nil {
		xdraw.CatmullRom.Scale(img, img.Bounds(), background, background.Bounds(), xdraw.Src, nil)
		// Make the canvas opaque, whatever the background's alpha.
		for i := 3; i < len(img.Pix); i += 4 {
			if a := img.Pix[i]; a != 255 {
				k := 255 - int(a)
				img.Pix[i-3] = uint8(int(img.Pix[i-3]) + k)
				img.Pix[i-2] = uint8(int(img.Pix[i-2]) + k)
				img.Pix[i-1] = uint8(int(img.Pix[i-1]) + k)
				img.Pix[i] = 255
			}
		}
	} else {
		draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	}
	r := &raster{img: img, w: float64(w), h: float64(h), faces: map[int]font.Face{}}
	for _, o := range st.Objects(page) {
		r.object(o)
	}
	return img, nil
}

type raster struct {
	img    *image.RGBA
	w, h   float64
	faces  map[int]font.Face
	mask   []float32 // coverage of the object being drawn, canvas-sized
	lo, hi []int     // per row: the mask's touched columns [lo, hi)
}

// pt is a point in pixels with a half width.
type pt struct{ x, y, r float64 }

func (r *raster) object(o Op) {
	col, ok := parseColor(o.Color)
	if !ok || !finite(o.Width, o.Size) {
		return
	}
	coords := o.Points
	if len(coords)%2 != 0 || len(coords) > 2*HardMaxPoints {
		return
	}
	for _, v := range coords {
		if !finite(v) {
			return
		}
	}
	px := func(i int) (float64, float64) {
		return clamp01(coords[2*i]) * r.w, clamp01(coords[2*i+1]) * r.h
	}
	half := math.Min(math.Max(o.Width, 0), MaxWidth) * r.w / 2
	half = math.Max(half, 0.5)
	switch o.Kind {
	case KindStroke:
		n := len(coords) / 2
		if n == 0 {
			return
		}
		path := make([]pt, n)
		for i := range path {
			x, y := px(i)
			rad := half
			if len(o.Pressure) == n && finite(o.Pressure[i]) {
				rad = math.Max(half*(0.25+0.75*clamp01(o.Pressure[i])), 0.5)
			}
			path[i] = pt{x, y, rad}
		}
		alpha := 1.0
		if o.Tool == ToolHighlighter {
			alpha = HighlighterAlpha
		}
		r.fill(path, false, col, alpha)
	case KindShape:
		if len(coords) != 4 {
			return
		}
		x1, y1 := px(0)
		x2, y2 := px(1)
		var path []pt
		closed := false
		switch o.Shape {
		case ShapeRect:
			path, closed = []pt{{x1, y1, half}, {x2, y1, half}, {x2, y2, half}, {x1, y2, half}}, true
		case ShapeEllipse:
			cx, cy, rx, ry := (x1+x2)/2, (y1+y2)/2, math.Abs(x2-x1)/2, math.Abs(y2-y1)/2
			n := int(math.Min(math.Max((rx+ry)*math.Pi/3, 24), 720))
			for i := range n {
				a := 2 * math.Pi * float64(i) / float64(n)
				path = append(path, pt{cx + rx*math.Cos(a), cy + ry*math.Sin(a), half})
			}
			closed = true
		case ShapeLine:
			path = []pt{{x1, y1, half}, {x2, y2, half}}
		case ShapeArrow:
			path = []pt{{x1, y1, half}, {x2, y2, half}}
			dx, dy := x2-x1, y2-y1
			if l := math.Hypot(dx, dy); l > 0 {
				head := math.Min(math.Max(6*half, 8), 0.4*l)
				ux, uy := dx/l, dy/l
				const spread = 0.45 // radians, about 26°
				for _, s := range []float64{spread, -spread} {
					c, sn := math.Cos(s), math.Sin(s)
					hx, hy := ux*c-uy*sn, ux*sn+uy*c
					r.fill([]pt{{x2, y2, half}, {x2 - head*hx, y2 - head*hy, half}}, false, col, 1)
				}
			}
		default:
			return
		}
		r.fill(path, closed, col, 1)
	case KindText:
		if len(coords) != 2 || o.Text == "" || len(o.Text) > 4*HardMaxTextRunes {
			return
		}
		x, y := px(0)
		r.text(x, y, math.Min(math.Max(o.Size, MinTextSize), MaxTextSize)*r.w, o.Text, col)
	}
}

// fill paints the union of the capsules along path (and back to its
// start when closed) with col at alpha: each pixel is painted once with
// its largest coverage, so a translucent stroke does not darken where it
// crosses itself. Coverage goes into the canvas-sized mask, row spans
// record what was touched, and compositing clears them again, so the cost
// follows the pixels the object covers.
func (r *raster) fill(path []pt, closed bool, col color.RGBA, alpha float64) {
	W, H := r.img.Rect.Dx(), r.img.Rect.Dy()
	if r.mask == nil {
		r.mask = make([]float32, W*H)
		r.lo, r.hi = make([]int, H), make([]int, H)
		for y := range H {
			r.lo[y], r.hi[y] = W, 0
		}
	}
	top, bottom := H, 0
	seg := func(a, b pt) {
		R := math.Max(a.r, b.r) + 0.5 // coverage reaches r + 0.5
		sy0 := max(int(math.Floor(math.Min(a.y, b.y)-R-1)), 0)
		sy1 := min(int(math.Ceil(math.Max(a.y, b.y)+R+1)), H)
		dx, dy := b.x-a.x, b.y-a.y
		ll := dx*dx + dy*dy
		for y := sy0; y < sy1; y++ {
			cy := float64(y) + 0.5
			// The part of the segment within R of this row, widened by R.
			t0, t1 := 0.0, 1.0
			if dy != 0 {
				t0, t1 = (cy-R-a.y)/dy, (cy+R-a.y)/dy
				if t0 > t1 {
					t0, t1 = t1, t0
				}
				t0, t1 = math.Max(t0, 0), math.Min(t1, 1)
				if t0 > t1 {
					continue
				}
			}
			xa, xb := a.x+t0*dx, a.x+t1*dx
			sx0 := max(int(math.Floor(math.Min(xa, xb)-R-1)), 0)
			sx1 := min(int(math.Ceil(math.Max(xa, xb)+R+1)), W)
			if sx0 >= sx1 {
				continue
			}
			row := r.mask[y*W:]
			for x := sx0; x < sx1; x++ {
				cx := float64(x) + 0.5
				t := 0.0
				if ll > 0 {
					t = math.Min(math.Max(((cx-a.x)*dx+(cy-a.y)*dy)/ll, 0), 1)
				}
				ex, ey := a.x+t*dx-cx, a.y+t*dy-cy
				d2 := ex*ex + ey*ey
				if d2 >= R*R {
					continue // outside any coverage
				}
				d := math.Sqrt(d2)
				rad := a.r + t*(b.r-a.r)
				if c := float32(math.Min(math.Max(rad+0.5-d, 0), 1)); c > row[x] {
					row[x] = c
				}
			}
			r.lo[y], r.hi[y] = min(r.lo[y], sx0), max(r.hi[y], sx1)
			top, bottom = min(top, y), max(bottom, y+1)
		}
	}
	if len(path) == 1 {
		seg(path[0], path[0])
	}
	for i := 1; i < len(path); i++ {
		seg(path[i-1], path[i])
	}
	if closed && len(path) > 2 {
		seg(path[len(path)-1], path[0])
	}
	for y := top; y < bottom; y++ {
		lo, hi := r.lo[y], r.hi[y]
		if lo >= hi {
			continue
		}
		row := r.mask[y*W:]
		off := r.img.PixOffset(0, y)
		for x := lo; x < hi; x++ {
			m := row[x]
			if m == 0 {
				continue
			}
			row[x] = 0
			a := float64(m) * alpha
			p := r.img.Pix[off+4*x : off+4*x+4 : off+4*x+4]
			p[0] = blend(p[0], col.R, a)
			p[1] = blend(p[1], col.G, a)
			p[2] = blend(p[2], col.B, a)
		}
		r.lo[y], r.hi[y] = W, 0
	}
}

func blend(dst, src uint8, a float64) uint8 {
	return uint8(math.Round(float64(src)*a + float64(dst)*(1-a)))
}

var (
	goRegular     *opentype.Font
	goRegularErr  error
	goRegularOnce sync.Once
)

func (r *raster) face(px float64) font.Face {
	size := max(int(math.Round(px)), 4)
	if f, ok := r.faces[size]; ok {
		return f
	}
	goRegularOnce.Do(func() { goRegular, goRegularErr = opentype.Parse(goregular.TTF) })
	if goRegularErr != nil {
		return nil
	}
	f, err := opentype.NewFace(goRegular, &opentype.FaceOptions{Size: float64(size), DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return nil
	}
	r.faces[size] = f
	return f
}

// text draws s with its top-left corner at x, y, lines separated by "\n".
func (r *raster) text(x, y, px float64, s string, col color.RGBA) {
	face := r.face(px)
	if face == nil {
		return
	}
	m := face.Metrics()
	d := font.Drawer{Dst: r.img, Src: image.NewUniform(col), Face: face}
	base := y + float64(m.Ascent)/64
	for line := range strings.SplitSeq(s, "\n") {
		if base-float64(m.Ascent)/64 > r.h {
			break
		}
		d.Dot = fixed.Point26_6{X: fixed.Int26_6(x * 64), Y: fixed.Int26_6(base * 64)}
		d.DrawString(line)
		base += float64(m.Height) / 64
	}
}

func clamp01(v float64) float64 { return math.Min(math.Max(v, 0), 1) }

func parseColor(s string) (color.RGBA, bool) {
	if !validColor(s) {
		return color.RGBA{}, false
	}
	var v [3]uint8
	for i := range v {
		var b uint8
		for _, c := range []byte(s[1+2*i : 3+2*i]) {
			b <<= 4
			switch {
			case c >= '0' && c <= '9':
				b |= c - '0'
			case c >= 'a' && c <= 'f':
				b |= c - 'a' + 10
			default:
				b |= c - 'A' + 10
			}
		}
		v[i] = b
	}
	return color.RGBA{v[0], v[1], v[2], 255}, true
}
