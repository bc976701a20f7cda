package app

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"parley/relay/ids"
	"parley/relay/whiteboard"
)

// Board tools.
const (
	toolPen         = "pen"
	toolHighlighter = "highlighter"
	toolRect        = "rect"
	toolEllipse     = "ellipse"
	toolLine        = "line"
	toolArrow       = "arrow"
	toolText        = "text"
	toolEraser      = "eraser"
	toolPointer     = "pointer"
)

// boardTools are the tool choices in the toolbar's order.
var boardTools = []struct{ id, label string }{
	{toolPen, "Pen"}, {toolHighlighter, "Highlighter"}, {toolRect, "Rectangle"}, {toolEllipse, "Ellipse"},
	{toolLine, "Line"}, {toolArrow, "Arrow"}, {toolText, "Text"}, {toolEraser, "Eraser"}, {toolPointer, "Pointer"},
}

// boardColors are the customer page's seven colours.
var boardColors = []struct{ hex, label string }{
	{"#000000", "Black"}, {"#1f4e79", "Blue"}, {"#c00000", "Red"}, {"#2e7d32", "Green"},
	{"#ed7d31", "Orange"}, {"#ffd400", "Yellow"}, {"#7030a0", "Purple"},
}

// boardPageWidth is the width asked of the relay for a document page.
const boardPageWidth = 1600

// boardView is the whiteboard panel of the call view: a toolbar and the
// page, drawn from the board's model with the relay's rasteriser
// (whiteboard.Render) so that it looks as the archive does. It runs on
// the UI thread; ops go out through a queue read by its own goroutine,
// page images are fetched off the UI thread.
type boardView struct {
	v     *callView
	call  CallBoard
	model *boardModel
	now   func() time.Time

	tool, color string
	drawing     *whiteboard.Op
	lastPointer time.Time
	sendq       chan json.RawMessage

	pageImgs map[whiteboard.PageRef]image.Image
	fetching map[whiteboard.PageRef]bool

	surface   *boardSurface
	pageLabel *widget.Label
	prevBtn   *widget.Button
	nextBtn   *widget.Button
	undoBtn   *widget.Button
	redoBtn   *widget.Button
	clearBtn  *widget.Button
	docSelect *widget.Select
	toolGroup *widget.Select
	colorSel  *widget.Select
	content   fyne.CanvasObject

	// cache is the last rendered page (without the object being drawn
	// and the pointers) and what it shows.
	cache    *image.RGBA
	cacheKey boardCacheKey
}

type boardCacheKey struct {
	version uint64
	w, h    int
	ref     whiteboard.PageRef
	bg      image.Image
}

func newBoardView(v *callView, call CallBoard) *boardView {
	b := &boardView{v: v, call: call, model: newBoardModel(), now: time.Now, tool: toolPen, color: boardColors[1].hex,
		sendq: make(chan json.RawMessage, 256), pageImgs: map[whiteboard.PageRef]image.Image{}, fetching: map[whiteboard.PageRef]bool{}}
	b.surface = newBoardSurface(b)
	b.pageLabel = widget.NewLabel("Page 1")
	b.prevBtn = widget.NewButtonWithIcon("", theme.NavigateBackIcon(), func() { b.turn(-1) })
	b.nextBtn = widget.NewButtonWithIcon("", theme.NavigateNextIcon(), func() { b.turn(+1) })
	b.undoBtn = widget.NewButtonWithIcon("Undo", theme.ContentUndoIcon(), b.undo)
	b.redoBtn = widget.NewButtonWithIcon("Redo", theme.ContentRedoIcon(), b.redo)
	b.clearBtn = widget.NewButtonWithIcon("Clear page", theme.DeleteIcon(), b.clearPage)
	labels := make([]string, len(boardTools))
	for i, t := range boardTools {
		labels[i] = t.label
	}
	b.toolGroup = widget.NewSelect(labels, func(s string) {
		for _, t := range boardTools {
			if t.label == s {
				b.tool = t.id
			}
		}
	})
	b.toolGroup.SetSelected("Pen")
	cols := make([]string, len(boardColors))
	for i, c := range boardColors {
		cols[i] = c.label
	}
	b.colorSel = widget.NewSelect(cols, func(s string) {
		for _, c := range boardColors {
			if c.label == s {
				b.color = c.hex
			}
		}
	})
	b.colorSel.SetSelected("Blue")
	b.docSelect = widget.NewSelect(nil, b.present)
	b.docSelect.PlaceHolder = "Show on the board …"
	tools := container.NewHBox(b.toolGroup, b.colorSel, b.undoBtn, b.redoBtn, b.clearBtn)
	pages := container.NewHBox(b.prevBtn, b.pageLabel, b.nextBtn, b.docSelect)
	bar := container.NewBorder(nil, nil, tools, pages)
	b.content = container.NewBorder(bar, nil, nil, nil, b.surface)
	b.showPage()
	go b.sender(v.ctx)
	return b
}

// sender hands queued ops to the call off the UI thread.
func (b *boardView) sender(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case op := <-b.sendq:
			if err := b.call.SendBoard(op); err != nil {
				b.v.u.do(func() {
					if !b.v.closed {
						b.v.notice.fail("The whiteboard could not send that: " + message(err))
					}
				})
			}
		}
	}
}

// send queues an op; an own object is drawn ahead until the relay
// answers.
func (b *boardView) send(op whiteboard.Op) {
	raw, err := json.Marshal(op)
	if err == nil {
		_, err = whiteboard.DecodeOp(raw)
	}
	if err != nil {
		b.v.notice.fail("The whiteboard cannot send that.")
		return
	}
	if op.ID != "" {
		b.model.drawAhead(op)
		b.surface.Refresh()
	}
	select {
	case b.sendq <- raw:
	default:
		b.model.refused(op.ID)
		b.v.notice.fail("The whiteboard is busy; wait a moment.")
	}
}

// handle applies a board event (UI thread).
func (b *boardView) handle(ev CallEvent) {
	switch e := ev.(type) {
	case BoardStateEvent:
		b.model.setState(e.State)
		b.showPage()
	case BoardOpEvent:
		if !b.model.apply(e.Op, b.now()) {
			return
		}
		if e.Op.Kind == whiteboard.KindPointer {
			time.AfterFunc(boardPointerShow+50*time.Millisecond, func() {
				b.v.u.do(func() { b.surface.Refresh() })
			})
		}
		if e.Op.Kind == whiteboard.KindBackground {
			b.showPage()
		}
		if e.Op.Author != "" && e.Op.Kind != whiteboard.KindPointer {
			b.v.boardActivity()
		}
	case BoardRefusedEvent:
		b.model.refused(e.Ref)
		if text := boardRefusal(e.Code); text != "" {
			b.v.notice.fail(text)
		}
	}
	b.surface.Refresh()
}

// boardRefusal words a refusal; empty for those not worth a notice.
func boardRefusal(code string) string {
	switch code {
	case "board_nothing_to_undo", "board_nothing_to_redo", "board_no_change":
		return ""
	case "board_rate":
		return "You are drawing too fast on the whiteboard. Wait a moment."
	case "board_full", "board_page_full":
		return "The whiteboard is full."
	case "board_unavailable":
		return "The whiteboard is not available right now."
	case "board_unknown_document":
		return "That file cannot be shown on the whiteboard (only PDFs and images)."
	}
	return "The whiteboard did not accept that."
}

// showPage updates the page label and navigation, and fetches the
// background page's image when a document is shown.
func (b *boardView) showPage() {
	bg := b.model.state().Background
	if bg.Doc == "" {
		b.pageLabel.SetText(fmt.Sprintf("Page %d", bg.Page))
		setEnabled(b.prevBtn, bg.Page > 1)
		setEnabled(b.nextBtn, bg.Page < whiteboard.MaxBlankPages)
	} else {
		b.pageLabel.SetText(fmt.Sprintf("Document page %d of %d", bg.Page, bg.Pages))
		setEnabled(b.prevBtn, bg.Page > 1)
		setEnabled(b.nextBtn, bg.Page < bg.Pages)
		b.fetchPage(whiteboard.PageRef{Doc: bg.Doc, Page: bg.Page})
	}
	b.surface.Refresh()
}

func setEnabled(w *widget.Button, on bool) {
	if on {
		w.Enable()
	} else {
		w.Disable()
	}
}

// fetchPage loads a document page's image once, off the UI thread.
func (b *boardView) fetchPage(ref whiteboard.PageRef) {
	if b.pageImgs[ref] != nil || b.fetching[ref] {
		return
	}
	b.fetching[ref] = true
	run(b.v.u, b.v.ctx, func(ctx context.Context) (image.Image, error) {
		return b.call.BoardPage(ctx, ref.Doc, ref.Page, boardPageWidth)
	}, func(img image.Image, err error) {
		delete(b.fetching, ref)
		if b.v.closed || err != nil || img == nil {
			return // the label stays
		}
		b.pageImgs[ref] = img
		b.surface.Refresh()
	})
}

// turn shows the previous or next page to everyone.
func (b *boardView) turn(d int) {
	bg := b.model.state().Background
	b.send(whiteboard.Op{Kind: whiteboard.KindBackground, Doc: bg.Doc, Page: bg.Page + d})
}

// present shows a file of the meeting's chat (or the blank board).
func (b *boardView) present(choice string) {
	if choice == "" {
		return
	}
	defer b.docSelect.ClearSelected()
	if choice == boardBlank {
		b.send(whiteboard.Op{Kind: whiteboard.KindBackground, Page: 1})
		return
	}
	for _, e := range b.v.entries {
		if e.FileName != "" && boardFileChoice(e) == choice {
			b.send(whiteboard.Op{Kind: whiteboard.KindBackground, Doc: e.ID, Page: 1})
			return
		}
	}
}

// boardBlank is the document choice that returns to the blank board.
const boardBlank = "Blank board"

func boardFileChoice(e CallEntry) string { return e.FileName + " (" + e.ID[:min(6, len(e.ID))] + ")" }

// refreshFiles offers the meeting's files for presenting.
func (b *boardView) refreshFiles() {
	opts := []string{boardBlank}
	for _, e := range b.v.entries {
		if e.FileName != "" {
			opts = append(opts, boardFileChoice(e))
		}
	}
	b.docSelect.SetOptions(opts)
}

func (b *boardView) undo() { b.send(whiteboard.Op{Kind: whiteboard.KindUndo}) }
func (b *boardView) redo() { b.send(whiteboard.Op{Kind: whiteboard.KindRedo}) }

func (b *boardView) clearPage() {
	ref := b.model.page()
	if len(b.model.state().Objects(ref)) == 0 {
		return
	}
	b.send(whiteboard.Op{Kind: whiteboard.KindClear, Doc: ref.Doc, Page: ref.Page})
}

// ---- input (page coordinates 0..1) ----

// start begins an object at the page point (x, y) with the current tool.
func (b *boardView) start(x, y float64) {
	ref := b.model.page()
	x, y = round4(x), round4(y)
	switch b.tool {
	case toolPen, toolHighlighter:
		w := boardPenWidth
		if b.tool == toolHighlighter {
			w = boardHiliteWidth
		}
		b.drawing = &whiteboard.Op{Kind: whiteboard.KindStroke, ID: ids.New(), Doc: ref.Doc, Page: ref.Page, Tool: b.tool,
			Color: b.color, Width: w, Points: []float64{x, y}}
	case toolRect, toolEllipse, toolLine, toolArrow:
		b.drawing = &whiteboard.Op{Kind: whiteboard.KindShape, ID: ids.New(), Doc: ref.Doc, Page: ref.Page, Shape: b.tool,
			Color: b.color, Width: boardShapeWidth, Points: []float64{x, y, x, y}}
	case toolPointer:
		b.pointer(x, y)
	}
	b.surface.Refresh()
}

// move extends the object being drawn (or moves the pointer).
func (b *boardView) move(x, y float64) {
	x, y = round4(x), round4(y)
	o := b.drawing
	if o == nil {
		if b.tool == toolPointer {
			b.pointer(x, y)
		}
		return
	}
	if o.Kind == whiteboard.KindShape {
		o.Points[2], o.Points[3] = x, y
	} else {
		n := len(o.Points)
		if math.Abs(o.Points[n-2]-x) < 0.0005 && math.Abs(o.Points[n-1]-y) < 0.0005 {
			return
		}
		if n/2 >= boardMaxPoints {
			// A long stroke goes out in parts, as on the customer's page.
			b.finish()
			next := *o
			next.ID, next.Points = ids.New(), []float64{o.Points[n-2], o.Points[n-1]}
			b.drawing = &next
			o = b.drawing
		}
		o.Points = append(o.Points, x, y)
	}
	b.pointer(x, y)
	b.surface.Refresh()
}

// finish sends the object being drawn.
func (b *boardView) finish() {
	o := b.drawing
	if o == nil {
		return
	}
	b.drawing = nil
	if o.Kind == whiteboard.KindShape && o.Points[0] == o.Points[2] && o.Points[1] == o.Points[3] {
		b.surface.Refresh()
		return
	}
	b.send(*o)
	b.surface.Refresh()
}

// tap acts on a click: a dot, an erase, a text, a pointer.
func (b *boardView) tap(x, y float64) {
	switch b.tool {
	case toolEraser:
		if id := b.model.hitAt(b.model.page(), x, y, 0.012); id != "" {
			b.send(whiteboard.Op{Kind: whiteboard.KindErase, IDs: []string{id}})
		}
	case toolText:
		b.askText(round4(x), round4(y))
	case toolPen, toolHighlighter:
		if b.drawing == nil {
			b.start(x, y)
		}
		b.finish()
	case toolPointer:
		b.pointer(round4(x), round4(y))
	default:
		b.drawing = nil
	}
}

// pointer shows the others where the advisor points, at most every
// boardPointerGap.
func (b *boardView) pointer(x, y float64) {
	now := b.now()
	if now.Sub(b.lastPointer) < boardPointerGap {
		return
	}
	b.lastPointer = now
	ref := b.model.page()
	raw, err := json.Marshal(whiteboard.Op{Kind: whiteboard.KindPointer, Doc: ref.Doc, Page: ref.Page, Points: []float64{x, y}})
	if err != nil {
		return
	}
	select {
	case b.sendq <- raw:
	default: // pointers are dropped first
	}
}

// askText asks for a text to place at (x, y).
func (b *boardView) askText(x, y float64) {
	entry := widget.NewMultiLineEntry()
	entry.SetPlaceHolder("Text for the whiteboard")
	ref := b.model.page()
	color := b.color
	d := dialog.NewForm("Add text", "Place", "Cancel", []*widget.FormItem{widget.NewFormItem("Text", entry)}, func(ok bool) {
		if !ok || b.v.closed {
			return
		}
		b.placeText(ref, x, y, color, entry.Text)
	}, b.v.u.win)
	d.Resize(fyne.NewSize(420, 240))
	d.Show()
}

// placeText sends a text, cleaned as the customer's page cleans it.
func (b *boardView) placeText(ref whiteboard.PageRef, x, y float64, color, s string) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r >= 0x20 && r != 0x7f {
			return r
		}
		return -1
	}, s)
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	if r := []rune(s); len(r) > boardMaxText {
		s = string(r[:boardMaxText])
	}
	b.send(whiteboard.Op{Kind: whiteboard.KindText, ID: ids.New(), Doc: ref.Doc, Page: ref.Page, Color: color,
		Size: boardTextSize, Points: []float64{x, y}, Text: s})
}

// ---- drawing ----

var (
	boardStageColor   = color.NRGBA{R: 0x3a, G: 0x40, B: 0x47, A: 0xff}
	boardPointerColor = color.NRGBA{R: 0xd0, G: 0x34, B: 0x2c, A: 0xcc}
)

// pageRect is the page's place in a w×h surface: as large as fits at
// the page's aspect, centred.
func pageRect(w, h int) image.Rectangle {
	pw, ph := w, int(math.Round(float64(w)/boardAspect))
	if ph > h {
		ph, pw = h, int(math.Round(float64(h)*boardAspect))
	}
	x0, y0 := (w-pw)/2, (h-ph)/2
	return image.Rect(x0, y0, x0+pw, y0+ph)
}

// render draws the surface w×h pixels large (Fyne's raster calls it).
func (b *boardView) render(w, h int) image.Image {
	out := image.NewRGBA(image.Rect(0, 0, max(w, 1), max(h, 1)))
	draw.Draw(out, out.Bounds(), image.NewUniform(boardStageColor), image.Point{}, draw.Src)
	r := pageRect(w, h)
	if r.Dx() < 2 || r.Dy() < 2 || r.Dx() > whiteboard.MaxRenderSide || r.Dy() > whiteboard.MaxRenderSide {
		return out
	}
	ref := b.model.page()
	bg := b.pageImgs[ref]
	key := boardCacheKey{version: b.model.version, w: r.Dx(), h: r.Dy(), ref: ref, bg: bg}
	if b.cache == nil || b.cacheKey != key {
		st := whiteboard.State{Pages: []whiteboard.PageState{{Doc: ref.Doc, Page: ref.Page, Objects: b.model.objects(ref)}}}
		img, err := whiteboard.Render(st, ref, r.Dx(), r.Dy(), bg)
		if err != nil {
			return out
		}
		b.cache, b.cacheKey = img, key
	}
	draw.Draw(out, r, b.cache, image.Point{}, draw.Src)
	if d := b.drawing; d != nil && d.Ref() == ref {
		// The object being drawn: rendered alone on white and multiplied
		// into the page within its bounds (a preview; the relay's echo
		// is drawn properly).
		st := whiteboard.State{Pages: []whiteboard.PageState{{Doc: ref.Doc, Page: ref.Page, Objects: []whiteboard.Op{*d}}}}
		if ov, err := whiteboard.Render(st, ref, r.Dx(), r.Dy(), nil); err == nil {
			multiply(out, r.Min, ov, opBounds(*d, r.Dx(), r.Dy()))
		}
	}
	rad := max(4, float64(r.Dx())*0.006)
	for _, p := range b.model.livePointers(ref, b.now()) {
		dot(out, float64(r.Min.X)+p.x*float64(r.Dx()), float64(r.Min.Y)+p.y*float64(r.Dy()), rad, boardPointerColor)
	}
	return out
}

// opBounds is the pixel rectangle an object can paint on a w×h page.
func opBounds(o whiteboard.Op, w, h int) image.Rectangle {
	if len(o.Points) < 2 {
		return image.Rectangle{}
	}
	minX, minY, maxX, maxY := 1.0, 1.0, 0.0, 0.0
	for i := 0; i+1 < len(o.Points); i += 2 {
		minX, maxX = math.Min(minX, o.Points[i]), math.Max(maxX, o.Points[i])
		minY, maxY = math.Min(minY, o.Points[i+1]), math.Max(maxY, o.Points[i+1])
	}
	pad := (o.Width+0.02)*float64(w) + 4 // line width and arrow heads
	return image.Rect(int(minX*float64(w)-pad), int(minY*float64(h)-pad), int(maxX*float64(w)+pad)+1, int(maxY*float64(h)+pad)+1).
		Intersect(image.Rect(0, 0, w, h))
}

// multiply darkens dst (at offset at) by src within rect of src.
func multiply(dst *image.RGBA, at image.Point, src *image.RGBA, rect image.Rectangle) {
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		si := src.PixOffset(rect.Min.X, y)
		di := dst.PixOffset(rect.Min.X+at.X, y+at.Y)
		for x := rect.Min.X; x < rect.Max.X; x++ {
			for k := 0; k < 3; k++ {
				dst.Pix[di+k] = uint8(uint16(dst.Pix[di+k]) * uint16(src.Pix[si+k]) / 255)
			}
			si += 4
			di += 4
		}
	}
}

// dot paints a filled circle.
func dot(img *image.RGBA, cx, cy, r float64, c color.NRGBA) {
	u := image.NewUniform(c)
	for y := int(cy - r); y <= int(cy+r); y++ {
		for x := int(cx - r); x <= int(cx+r); x++ {
			if (float64(x)-cx)*(float64(x)-cx)+(float64(y)-cy)*(float64(y)-cy) <= r*r && image.Pt(x, y).In(img.Bounds()) {
				draw.Draw(img, image.Rect(x, y, x+1, y+1), u, image.Point{}, draw.Over)
			}
		}
	}
}

// placeholderText is what stands in for a document page without image.
func (b *boardView) placeholderText() string {
	bg := b.model.state().Background
	if bg.Doc == "" || b.pageImgs[whiteboard.PageRef{Doc: bg.Doc, Page: bg.Page}] != nil {
		return ""
	}
	return fmt.Sprintf("Document shown on the board – page %d of %d", bg.Page, bg.Pages)
}

// ---- the surface widget ----

// boardSurface is the page the advisor draws on: a raster with the
// board, and pointer input turned into page coordinates.
type boardSurface struct {
	widget.BaseWidget
	b      *boardView
	raster *canvas.Raster
	label  *canvas.Text
}

var (
	_ fyne.Draggable    = (*boardSurface)(nil)
	_ fyne.Tappable     = (*boardSurface)(nil)
	_ desktop.Mouseable = (*boardSurface)(nil)
	_ desktop.Hoverable = (*boardSurface)(nil)
)

func newBoardSurface(b *boardView) *boardSurface {
	s := &boardSurface{b: b}
	s.raster = canvas.NewRaster(b.render)
	s.label = canvas.NewText("", color.NRGBA{R: 0x8a, G: 0x99, B: 0xa3, A: 0xff})
	s.label.Alignment = fyne.TextAlignCenter
	s.ExtendBaseWidget(s)
	return s
}

// CreateRenderer implements fyne.Widget.
func (s *boardSurface) CreateRenderer() fyne.WidgetRenderer {
	return &boardSurfaceRenderer{s: s}
}

// toPage converts a position in the widget to page coordinates; ok is
// false outside the page.
func (s *boardSurface) toPage(p fyne.Position) (x, y float64, ok bool) {
	sz := s.Size()
	const k = 1000.0 // page rect in thousandths keeps pageRect's rounding harmless
	r := pageRect(int(float64(sz.Width)*k), int(float64(sz.Height)*k))
	if r.Dx() == 0 || r.Dy() == 0 {
		return 0, 0, false
	}
	x = (float64(p.X)*k - float64(r.Min.X)) / float64(r.Dx())
	y = (float64(p.Y)*k - float64(r.Min.Y)) / float64(r.Dy())
	return x, y, x >= 0 && x <= 1 && y >= 0 && y <= 1
}

// MouseDown implements desktop.Mouseable: a press starts an object.
func (s *boardSurface) MouseDown(e *desktop.MouseEvent) {
	if e.Button != desktop.MouseButtonPrimary {
		return
	}
	if x, y, ok := s.toPage(e.Position); ok && s.b.tool != toolText && s.b.tool != toolEraser {
		s.b.start(x, y)
	}
}

// MouseUp implements desktop.Mouseable.
func (s *boardSurface) MouseUp(*desktop.MouseEvent) { s.b.finish() }

// Dragged implements fyne.Draggable.
func (s *boardSurface) Dragged(e *fyne.DragEvent) {
	x, y, _ := s.toPage(e.Position)
	if s.b.drawing == nil && s.b.tool != toolText && s.b.tool != toolEraser && s.b.tool != toolPointer {
		// No press seen (touch, or a test): the drag started where it
		// moved from.
		if sx, sy, ok := s.toPage(e.Position.Subtract(e.Dragged)); ok {
			s.b.start(sx, sy)
		}
	}
	s.b.move(x, y)
}

// DragEnd implements fyne.Draggable.
func (s *boardSurface) DragEnd() { s.b.finish() }

// Tapped implements fyne.Tappable.
func (s *boardSurface) Tapped(e *fyne.PointEvent) {
	if x, y, ok := s.toPage(e.Position); ok {
		s.b.tap(x, y)
	}
}

// MouseIn implements desktop.Hoverable.
func (s *boardSurface) MouseIn(*desktop.MouseEvent) {}

// MouseMoved implements desktop.Hoverable: with the pointer tool, the
// others see where the advisor points.
func (s *boardSurface) MouseMoved(e *desktop.MouseEvent) {
	if s.b.tool != toolPointer {
		return
	}
	if x, y, ok := s.toPage(e.Position); ok {
		s.b.pointer(round4(x), round4(y))
	}
}

// MouseOut implements desktop.Hoverable.
func (s *boardSurface) MouseOut() {}

type boardSurfaceRenderer struct{ s *boardSurface }

func (r *boardSurfaceRenderer) Layout(size fyne.Size) {
	r.s.raster.Resize(size)
	r.s.raster.Move(fyne.NewPos(0, 0))
	ls := r.s.label.MinSize()
	r.s.label.Resize(fyne.NewSize(size.Width, ls.Height))
	r.s.label.Move(fyne.NewPos(0, (size.Height-ls.Height)/2))
}

func (r *boardSurfaceRenderer) MinSize() fyne.Size { return fyne.NewSize(320, 180) }

func (r *boardSurfaceRenderer) Refresh() {
	r.s.label.Text = r.s.b.placeholderText()
	r.s.label.Refresh()
	r.s.raster.Refresh()
	r.Layout(r.s.Size())
}

func (r *boardSurfaceRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.s.raster, r.s.label}
}

func (r *boardSurfaceRenderer) Destroy() {}

// ---- in the call view ----

// buildBoard adds the Whiteboard button and panel when the call carries
// the whiteboard (UI thread, from build).
func (v *callView) buildBoard() {
	bc, ok := v.call.(CallBoard)
	if !ok {
		return
	}
	v.board = newBoardView(v, bc)
	v.boardBox.Objects = []fyne.CanvasObject{canvas.NewRectangle(theme.Color(theme.ColorNameBackground)), container.NewPadded(v.board.content)}
	v.boardBox.Hide()
	v.boardBtn = widget.NewButtonWithIcon("Whiteboard", theme.DocumentCreateIcon(), v.toggleBoard)
	v.toggleBox.Add(v.boardBtn)
}

// toggleBoard shows or hides the whiteboard over the video stage.
func (v *callView) toggleBoard() {
	if v.board == nil || v.closed {
		return
	}
	if v.boardBox.Visible() {
		v.boardBox.Hide()
		v.boardBtn.SetText("Whiteboard")
		v.boardBtn.Importance = widget.MediumImportance
	} else {
		v.board.refreshFiles()
		v.boardBox.Show()
		v.boardBtn.SetText("Hide whiteboard")
		v.boardBtn.Importance = widget.HighImportance
		v.board.surface.Refresh()
	}
	v.boardBtn.Refresh()
	v.toggleBox.Refresh()
}

// boardActivity marks the Whiteboard button while the board is hidden
// and someone draws.
func (v *callView) boardActivity() {
	if v.boardBtn == nil || v.boardBox.Visible() {
		return
	}
	if v.boardBtn.Text != "Whiteboard •" {
		v.boardBtn.SetText("Whiteboard •")
		v.toggleBox.Refresh()
	}
}
