package signpad

// FieldMap maps a tablet's active area onto the on-screen signing field,
// keeping the aspect ratio (the area is centred, letterboxed) so that the
// ink on screen has the shape the hand wrote.
type FieldMap struct {
	minX, minY float64
	scale      float64
	offX, offY float64
	yRatio     float64
}

// NewFieldMap returns the mapping of dev's X/Y range onto a field of w × h
// UI units. A device with unbounded axes maps 1:1 (the pointer fallback).
func NewFieldMap(dev Device, w, h float32) FieldMap {
	m := FieldMap{scale: 1}
	if !dev.X.Bounded() || !dev.Y.Bounded() || w <= 0 || h <= 0 {
		if dev.Source == "pointer" {
			m.scale = 1.0 / PointerUnitsPerPx
		}
		return m
	}
	dw := float64(dev.X.Max - dev.X.Min)
	dh := float64(dev.Y.Max - dev.Y.Min)
	// Resolution may differ per axis: compare physical sizes.
	if dev.X.Res > 0 && dev.Y.Res > 0 && dev.X.Res != dev.Y.Res {
		dh = dh * float64(dev.X.Res) / float64(dev.Y.Res)
	}
	m.minX, m.minY = float64(dev.X.Min), float64(dev.Y.Min)
	m.scale = min(float64(w)/dw, float64(h)/dh)
	m.offX = (float64(w) - dw*m.scale) / 2
	m.offY = (float64(h) - dh*m.scale) / 2
	if dev.X.Res > 0 && dev.Y.Res > 0 && dev.X.Res != dev.Y.Res {
		m.yRatio = float64(dev.X.Res) / float64(dev.Y.Res)
	}
	return m
}

// Point maps a device position to field coordinates.
func (m FieldMap) Point(x, y int32) (fx, fy float32) {
	ry := m.yRatio
	if ry == 0 {
		ry = 1
	}
	return float32(m.offX + (float64(x)-m.minX)*m.scale), float32(m.offY + (float64(y)-m.minY)*ry*m.scale)
}
