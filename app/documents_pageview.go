package app

import (
	"image"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// pageViewWidth is the page's width on screen in UI units.
const pageViewWidth = 460

// pageImageWidth is the width in pixels asked of the relay: sharp at a
// display scale of 2.
const pageImageWidth = 1000

// pageView shows one page image with the fields placed on it; dragging a
// rectangle on it reports the rectangle (as fractions of the page as
// shown) to onRect.
type pageView struct {
	widget.BaseWidget

	page   PageBox
	img    image.Image // nil while loading
	fields []SigningField
	// colorOf gives a field's colour by its signer key.
	colorOf func(SigningField) color.Color
	onRect  func(fx0, fy0, fx1, fy1 float64)

	dragging   bool
	start, cur fyne.Position
}

func newPageView() *pageView {
	v := &pageView{colorOf: func(SigningField) color.Color { return theme.Color(theme.ColorNamePrimary) }}
	v.ExtendBaseWidget(v)
	return v
}

// show sets the page, its image (nil while loading) and fields.
func (v *pageView) show(p PageBox, img image.Image, fields []SigningField) {
	v.page, v.img, v.fields = p, img, fields
	v.Refresh()
}

// size is the page's size on screen.
func (v *pageView) size() fyne.Size {
	a := float32(v.page.displayAspect())
	return fyne.NewSize(pageViewWidth, pageViewWidth/a)
}

// MinSize is the page at pageViewWidth.
func (v *pageView) MinSize() fyne.Size { return v.size() }

// Dragged draws the rubber band.
func (v *pageView) Dragged(ev *fyne.DragEvent) {
	if !v.dragging {
		v.dragging = true
		v.start = v.clamp(ev.Position.Subtract(ev.Dragged))
	}
	v.cur = v.clamp(ev.Position)
	v.Refresh()
}

// DragEnd reports the rectangle unless it is too small to be meant.
func (v *pageView) DragEnd() {
	if !v.dragging {
		return
	}
	v.dragging = false
	v.Refresh()
	sz := v.size()
	dx, dy := v.cur.X-v.start.X, v.cur.Y-v.start.Y
	if dx < 0 {
		dx = -dx
	}
	if dy < 0 {
		dy = -dy
	}
	if dx < 8 || dy < 8 || v.onRect == nil {
		return
	}
	v.onRect(float64(v.start.X/sz.Width), float64(v.start.Y/sz.Height), float64(v.cur.X/sz.Width), float64(v.cur.Y/sz.Height))
}

func (v *pageView) clamp(p fyne.Position) fyne.Position {
	sz := v.size()
	return fyne.NewPos(min(max(p.X, 0), sz.Width), min(max(p.Y, 0), sz.Height))
}

// CreateRenderer is part of fyne.Widget.
func (v *pageView) CreateRenderer() fyne.WidgetRenderer {
	r := &pageViewRenderer{v: v, bg: canvas.NewRectangle(color.NRGBA{R: 0xee, G: 0xee, B: 0xee, A: 0xff}),
		loading: canvas.NewText("Loading page …", theme.Color(theme.ColorNamePlaceHolder))}
	r.bg.StrokeColor = color.NRGBA{R: 0x9e, G: 0x9e, B: 0x9e, A: 0xff}
	r.bg.StrokeWidth = 1
	r.band = canvas.NewRectangle(color.NRGBA{R: 0x1e, G: 0x88, B: 0xe5, A: 0x30})
	r.band.StrokeColor = color.NRGBA{R: 0x1e, G: 0x88, B: 0xe5, A: 0xff}
	r.band.StrokeWidth = 1
	r.Refresh()
	return r
}

type pageViewRenderer struct {
	v       *pageView
	bg      *canvas.Rectangle
	img     *canvas.Image
	loading *canvas.Text
	band    *canvas.Rectangle
	marks   []fyne.CanvasObject
	objects []fyne.CanvasObject
}

func (r *pageViewRenderer) Layout(fyne.Size) { r.place() }

func (r *pageViewRenderer) MinSize() fyne.Size { return r.v.MinSize() }

// Refresh rebuilds the field marks and places everything.
func (r *pageViewRenderer) Refresh() {
	v := r.v
	if v.img != nil && (r.img == nil || r.img.Image != v.img) {
		r.img = canvas.NewImageFromImage(v.img)
		r.img.FillMode = canvas.ImageFillStretch
	}
	r.marks = r.marks[:0]
	for _, f := range v.fields {
		if f.Page != v.page.Number {
			continue
		}
		c := v.colorOf(f)
		rc := canvas.NewRectangle(withAlpha(c, 0x38))
		rc.StrokeColor = c
		rc.StrokeWidth = 2
		label := "Signature"
		if f.Kind == FieldText {
			label = "Text"
		}
		if f.Label != "" {
			label += ": " + f.Label
		}
		t := canvas.NewText(label, c)
		t.TextSize = theme.CaptionTextSize()
		r.marks = append(r.marks, rc, t)
	}
	r.objects = []fyne.CanvasObject{r.bg}
	if r.img != nil && v.img != nil {
		r.objects = append(r.objects, r.img)
	} else {
		r.objects = append(r.objects, r.loading)
	}
	r.objects = append(r.objects, r.marks...)
	if v.dragging {
		r.objects = append(r.objects, r.band)
	}
	r.place()
	for _, o := range r.objects {
		o.Refresh()
	}
}

func (r *pageViewRenderer) place() {
	v := r.v
	sz := v.size()
	r.bg.Resize(sz)
	if r.img != nil {
		r.img.Resize(sz)
	}
	r.loading.Move(fyne.NewPos(16, 16))
	i := 0
	for _, f := range v.fields {
		if f.Page != v.page.Number {
			continue
		}
		fx, fy, fw, fh := v.page.rectOnImage(f.Rect)
		rc, t := r.marks[i], r.marks[i+1]
		rc.Move(fyne.NewPos(float32(fx)*sz.Width, float32(fy)*sz.Height))
		rc.Resize(fyne.NewSize(float32(fw)*sz.Width, float32(fh)*sz.Height))
		t.Move(fyne.NewPos(float32(fx)*sz.Width+3, float32(fy)*sz.Height+2))
		i += 2
	}
	x0, y0 := min(v.start.X, v.cur.X), min(v.start.Y, v.cur.Y)
	r.band.Move(fyne.NewPos(x0, y0))
	r.band.Resize(fyne.NewSize(max(v.start.X, v.cur.X)-x0, max(v.start.Y, v.cur.Y)-y0))
}

func (r *pageViewRenderer) Objects() []fyne.CanvasObject { return r.objects }

func (r *pageViewRenderer) Destroy() {}

func withAlpha(c color.Color, a uint8) color.Color {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	n.A = a
	return n
}
