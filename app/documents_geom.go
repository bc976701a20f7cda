package app

import "math"

// A page image (contract A) shows the page's crop box turned clockwise by
// the page's Rotate, as PDF viewers show it. These functions convert
// between a point of that image, as fractions of its width and height
// from the top-left corner, and the page's user space (PDF points, origin
// bottom left), where the relay wants field rectangles.

// displayAspect is the width:height of the page as shown.
func (p PageBox) displayAspect() float64 {
	w, h := p.CropBox.URX-p.CropBox.LLX, p.CropBox.URY-p.CropBox.LLY
	if w <= 0 || h <= 0 {
		return 1 / math.Sqrt2
	}
	if p.quarterTurns()%2 == 1 {
		w, h = h, w
	}
	return w / h
}

// quarterTurns is Rotate as 0..3 clockwise quarter turns.
func (p PageBox) quarterTurns() int {
	return ((p.Rotate/90)%4 + 4) % 4
}

// toPDF maps the image point (fx, fy) ∈ [0,1]² to user space.
func (p PageBox) toPDF(fx, fy float64) (x, y float64) {
	fx, fy = min(max(fx, 0), 1), min(max(fy, 0), 1)
	c := p.CropBox
	cw, ch := c.URX-c.LLX, c.URY-c.LLY
	switch p.quarterTurns() {
	case 1:
		return c.LLX + fy*cw, c.LLY + fx*ch
	case 2:
		return c.URX - fx*cw, c.LLY + fy*ch
	case 3:
		return c.URX - fy*cw, c.URY - fx*ch
	}
	return c.LLX + fx*cw, c.URY - fy*ch
}

// fromPDF maps a user-space point to image fractions (the inverse of
// toPDF).
func (p PageBox) fromPDF(x, y float64) (fx, fy float64) {
	c := p.CropBox
	cw, ch := c.URX-c.LLX, c.URY-c.LLY
	if cw <= 0 || ch <= 0 {
		return 0, 0
	}
	switch p.quarterTurns() {
	case 1:
		return (y - c.LLY) / ch, (x - c.LLX) / cw
	case 2:
		return (c.URX - x) / cw, (y - c.LLY) / ch
	case 3:
		return (c.URY - y) / ch, (c.URX - x) / cw
	}
	return (x - c.LLX) / cw, (c.URY - y) / ch
}

// rectToPDF converts a rectangle dragged on the image (two corners as
// fractions) to a normalised user-space rectangle inside the crop box.
func (p PageBox) rectToPDF(fx0, fy0, fx1, fy1 float64) Rect {
	x0, y0 := p.toPDF(fx0, fy0)
	x1, y1 := p.toPDF(fx1, fy1)
	r := Rect{LLX: min(x0, x1), LLY: min(y0, y1), URX: max(x0, x1), URY: max(y0, y1)}
	round := func(v float64) float64 { return math.Round(v*100) / 100 }
	r.LLX, r.LLY, r.URX, r.URY = round(r.LLX), round(r.LLY), round(r.URX), round(r.URY)
	return r
}

// rectOnImage converts a user-space rectangle to the image: top-left
// corner and size, as fractions.
func (p PageBox) rectOnImage(r Rect) (fx, fy, fw, fh float64) {
	ax, ay := p.fromPDF(r.LLX, r.LLY)
	bx, by := p.fromPDF(r.URX, r.URY)
	return min(ax, bx), min(ay, by), math.Abs(bx - ax), math.Abs(by - ay)
}
