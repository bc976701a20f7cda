package fynepad

import (
	"image"
	"image/color"
	"math"
)

// Raster is the pad's live ink: anti-aliased round-capped segments of one
// colour on a transparent image, drawn incrementally (one segment per
// sample) with signpad/ink's coverage rule (a pixel keeps the highest
// coverage any segment gave it, so overlapping segments do not darken).
type Raster struct {
	img *image.NRGBA
	col color.NRGBA
}

// NewRaster returns a transparent w×h raster that draws in col.
func NewRaster(w, h int, col color.NRGBA) *Raster {
	return &Raster{img: image.NewNRGBA(image.Rect(0, 0, w, h)), col: col}
}

// Image returns the raster's image (shared, updated in place).
func (r *Raster) Image() *image.NRGBA { return r.img }

// Bounds returns the raster's size.
func (r *Raster) Bounds() image.Rectangle { return r.img.Rect }

// Clear makes the raster transparent again.
func (r *Raster) Clear() { clear(r.img.Pix) }

// Segment draws a segment from (x0, y0) to (x1, y1) in pixels with radius
// rad and round caps, and returns the rectangle it touched.
func (r *Raster) Segment(x0, y0, x1, y1, rad float64) image.Rectangle {
	w, h := r.img.Rect.Dx(), r.img.Rect.Dy()
	rm := rad + 1
	minX, maxX := int(math.Floor(min(x0, x1)-rm)), int(math.Ceil(max(x0, x1)+rm))
	minY, maxY := int(math.Floor(min(y0, y1)-rm)), int(math.Ceil(max(y0, y1)+rm))
	minX, minY = max(minX, 0), max(minY, 0)
	maxX, maxY = min(maxX, w-1), min(maxY, h-1)
	if minX > maxX || minY > maxY {
		return image.Rectangle{}
	}
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	pix, stride := r.img.Pix, r.img.Stride
	for py := minY; py <= maxY; py++ {
		for px := minX; px <= maxX; px++ {
			cx, cy := float64(px)+0.5, float64(py)+0.5
			t := 0.0
			if l2 > 0 {
				t = min(max(((cx-x0)*dx+(cy-y0)*dy)/l2, 0), 1)
			}
			d := math.Hypot(cx-(x0+t*dx), cy-(y0+t*dy))
			cov := min(max(rad-d+0.5, 0), 1)
			if cov == 0 {
				continue
			}
			a := uint8(math.Round(cov * float64(r.col.A)))
			o := pix[py*stride+px*4 : py*stride+px*4+4]
			if a > o[3] {
				o[0], o[1], o[2], o[3] = r.col.R, r.col.G, r.col.B, a
			}
		}
	}
	return image.Rect(minX, minY, maxX+1, maxY+1)
}
