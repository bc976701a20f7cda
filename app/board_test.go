package app

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"slices"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"parley/relay/whiteboard"
)

// boardCall is a fake call with the whiteboard: it records the ops sent
// and serves every document page as a solid green picture.
type boardCall struct {
	*fakeCall

	bmu   sync.Mutex
	ops   []whiteboard.Op
	raw   []string
	pages []string
}

func (c *boardCall) SendBoard(op json.RawMessage) error {
	o, err := whiteboard.DecodeOp(op) // what the relay checks first
	c.bmu.Lock()
	defer c.bmu.Unlock()
	c.raw = append(c.raw, string(op))
	if err == nil {
		c.ops = append(c.ops, o)
	}
	return err
}

func (c *boardCall) BoardPage(_ context.Context, fileID string, page, width int) (image.Image, error) {
	c.bmu.Lock()
	c.pages = append(c.pages, fileID)
	c.bmu.Unlock()
	img := image.NewRGBA(image.Rect(0, 0, width, width*9/16))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 0x20, 0xc0, 0x40, 0xff
	}
	return img, nil
}

// sent returns the ops sent so far, without pointers; bad counts the
// ones DecodeOp refused.
func (c *boardCall) sent() (ops []whiteboard.Op, bad int) {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	for _, o := range c.ops {
		if o.Kind != whiteboard.KindPointer {
			ops = append(ops, o)
		}
	}
	return ops, len(c.raw) - len(c.ops)
}

type boardStarter struct{ call *boardCall }

func (s *boardStarter) JoinCall(context.Context, string) (Call, error) { return s.call, nil }

// boardTest is an advisor in a call with the whiteboard open.
type boardTest struct {
	*harness
	view *callView
	call *boardCall
}

func newBoardTest(t *testing.T) *boardTest {
	t.Helper()
	bc := &boardCall{fakeCall: newFakeCall()}
	b := &boardTest{call: bc}
	b.harness = newHarness(t, &fakeRelay{}, Options{DefaultAddr: testAddr, Calls: &boardStarter{call: bc}})
	b.signIn("acme", "erika", "pw")
	p := b.waitWorkspace().meet
	p.every = testRefresh
	ticks := make(chan time.Time)
	p.frameTicks = func() (<-chan time.Time, func()) { return ticks, func() {} }
	b.startMeeting(p, "Baufinanzierung")
	b.tap("Join call")
	b.eventually("the call view", func() bool { return p.call != nil })
	b.view = p.call
	b.ui.Window().Resize(fyne.NewSize(1400, 900))
	b.tap("Whiteboard")
	b.eventually("the board", func() bool { return b.view.boardBox.Visible() })
	bc.emit(BoardStateEvent{State: whiteboard.State{Background: whiteboard.Background{Page: 1}}})
	b.eventually("the board's state", func() bool { return b.onUI(func() bool { return b.view.board.model.ready }) })
	return b
}

// onUI runs f on the UI thread and returns its result.
func (b *boardTest) onUI(f func() bool) bool {
	var ok bool
	fyne.DoAndWait(func() { ok = f() })
	return ok
}

// pixel renders the board 1600×900 and returns the colour at the page
// point (x, y).
func (b *boardTest) pixel(x, y float64) color.RGBA {
	var c color.RGBA
	fyne.DoAndWait(func() {
		img := b.view.board.render(1600, 900).(*image.RGBA)
		c = img.RGBAAt(int(x*1600), int(y*900))
	})
	return c
}

func white(c color.RGBA) bool { return c.R > 240 && c.G > 240 && c.B > 240 }

// drag draws with the mouse from page point a through the others.
func (b *boardTest) drag(pts ...[2]float64) {
	fyne.DoAndWait(func() {
		s := b.view.board.surface
		sz := s.Size()
		r := pageRect(int(sz.Width*1000), int(sz.Height*1000))
		at := func(p [2]float64) fyne.Position {
			return fyne.NewPos(float32((float64(r.Min.X)+p[0]*float64(r.Dx()))/1000), float32((float64(r.Min.Y)+p[1]*float64(r.Dy()))/1000))
		}
		prev := at(pts[0])
		s.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: prev}, Button: desktop.MouseButtonPrimary})
		for _, p := range pts[1:] {
			pos := at(p)
			s.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: pos}, Dragged: fyne.NewDelta(pos.X-prev.X, pos.Y-prev.Y)})
			prev = pos
		}
		s.DragEnd()
		s.MouseUp(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: prev}, Button: desktop.MouseButtonPrimary})
	})
}

func (b *boardTest) waitSent(t *testing.T, n int) []whiteboard.Op {
	t.Helper()
	b.eventually("ops sent", func() bool { ops, _ := b.call.sent(); return len(ops) >= n })
	ops, bad := b.call.sent()
	if bad > 0 {
		t.Fatalf("%d ops sent that DecodeOp refuses: %q", bad, b.call.raw)
	}
	return ops
}

// TestBoardDrawingSendsOps: a pen stroke and a rectangle drawn with the
// mouse go out as ops the relay's decoder accepts, drawn at once; the
// relay's echo confirms them; undo, eraser and clear send their ops.
func TestBoardDrawingSendsOps(t *testing.T) {
	b := newBoardTest(t)
	if !white(b.pixel(0.4, 0.5)) {
		t.Fatal("the empty board is not white where the test draws")
	}
	b.drag([2]float64{0.2, 0.5}, [2]float64{0.4, 0.5}, [2]float64{0.6, 0.5})
	ops := b.waitSent(t, 1)
	s := ops[0]
	if s.Kind != whiteboard.KindStroke || s.Tool != whiteboard.ToolPen || s.Page != 1 || len(s.ID) != 32 || len(s.Points) < 6 {
		t.Fatalf("stroke sent: %+v", s)
	}
	if s.Points[0] < 0.19 || s.Points[0] > 0.21 || s.Points[1] < 0.49 || s.Points[1] > 0.51 {
		t.Errorf("the stroke starts at (%v, %v), want (0.2, 0.5)", s.Points[0], s.Points[1])
	}
	if white(b.pixel(0.4, 0.5)) {
		t.Error("the own stroke is not drawn before the relay answers")
	}
	// The relay's echo confirms it: still drawn, nothing pending.
	acc := s
	acc.Seq, acc.Author = 1, "adv"
	b.call.emit(BoardOpEvent{Op: acc})
	b.eventually("the echo", func() bool { return b.onUI(func() bool { return len(b.view.board.model.pending) == 0 }) })
	if white(b.pixel(0.4, 0.5)) {
		t.Error("the confirmed stroke is not drawn")
	}

	// A rectangle.
	fyne.DoAndWait(func() { b.view.board.toolGroup.SetSelected("Rectangle"); b.view.board.colorSel.SetSelected("Red") })
	b.drag([2]float64{0.6, 0.2}, [2]float64{0.7, 0.3}, [2]float64{0.8, 0.4})
	ops = b.waitSent(t, 2)
	if r := ops[1]; r.Kind != whiteboard.KindShape || r.Shape != whiteboard.ShapeRect || r.Color != "#c00000" ||
		!slices.Equal(r.Points, []float64{0.6, 0.2, 0.8, 0.4}) {
		t.Errorf("rectangle sent: %+v", r)
	}

	// Undo and clear from the toolbar; the eraser on the stroke.
	b.tap("Undo")
	b.tap("Clear page")
	fyne.DoAndWait(func() {
		b.view.board.toolGroup.SetSelected("Eraser")
		b.view.board.tap(0.4, 0.5)
	})
	ops = b.waitSent(t, 5)
	if ops[2].Kind != whiteboard.KindUndo || ops[3].Kind != whiteboard.KindClear || ops[3].Page != 1 ||
		ops[4].Kind != whiteboard.KindErase || !slices.Equal(ops[4].IDs, []string{s.ID}) {
		t.Errorf("undo, clear, erase sent as %+v", ops[2:])
	}
	// A text placed from the dialog's answer.
	fyne.DoAndWait(func() {
		b.view.board.placeText(whiteboard.PageRef{Page: 1}, 0.1, 0.1, "#000000", "Zins 3,1 %\x07\nLaufzeit")
	})
	ops = b.waitSent(t, 6)
	if tx := ops[5]; tx.Kind != whiteboard.KindText || tx.Text != "Zins 3,1 %\nLaufzeit" {
		t.Errorf("text sent: %+v", tx)
	}
}

// TestBoardShowsOthersOps: a customer's stroke appears in the board's
// raster, an undo that hides it clears it, a refusal takes back the own
// object drawn ahead, and a presented document shows its page image with
// the advisor's page controls.
func TestBoardShowsOthersOps(t *testing.T) {
	b := newBoardTest(t)
	stroke := whiteboard.Op{Kind: whiteboard.KindStroke, ID: "c0000000000000000000000000000001", Page: 1, Tool: whiteboard.ToolPen,
		Color: "#c00000", Width: 0.01, Points: []float64{0.1, 0.7, 0.5, 0.7, 0.9, 0.7}, Seq: 1, Author: "p1"}
	b.call.emit(BoardOpEvent{Op: stroke})
	b.eventually("the customer's stroke drawn", func() bool { c := b.pixel(0.5, 0.7); return c.R > 150 && c.G < 80 })
	if c := b.pixel(0.5, 0.3); !white(c) {
		t.Errorf("the board is painted away from the stroke: %v", c)
	}
	b.call.emit(BoardOpEvent{Op: whiteboard.Op{Kind: whiteboard.KindUndo, Seq: 2, Author: "p1", Target: 1, Hide: []string{stroke.ID}}})
	b.eventually("the undone stroke gone", func() bool { return white(b.pixel(0.5, 0.7)) })

	// An own stroke the relay refuses is taken back.
	b.drag([2]float64{0.3, 0.2}, [2]float64{0.5, 0.2})
	ops := b.waitSent(t, 1)
	if white(b.pixel(0.4, 0.2)) {
		t.Fatal("the own stroke is not drawn ahead")
	}
	b.call.emit(BoardRefusedEvent{Code: "board_rate", Ref: ops[0].ID})
	b.eventually("the refused stroke gone", func() bool { return white(b.pixel(0.4, 0.2)) })
	b.eventually("the notice", func() bool { return b.shows("You are drawing too fast on the whiteboard. Wait a moment.") })

	// The advisor presents a PDF shared in the chat.
	b.call.emit(EntryEvent{Entry: CallEntry{ID: "f0000000000000000000000000000001", Seq: 1, Name: "Max", FileName: "Angebot.pdf", FileSize: 1000}})
	b.eventually("the file offered", func() bool {
		return b.onUI(func() bool { return slices.Contains(b.view.board.docSelect.Options, "Angebot.pdf (f00000)") })
	})
	fyne.DoAndWait(func() { b.view.board.docSelect.SetSelected("Angebot.pdf (f00000)") })
	ops = b.waitSent(t, 2)
	if bg := ops[1]; bg.Kind != whiteboard.KindBackground || bg.Doc != "f0000000000000000000000000000001" || bg.Page != 1 {
		t.Fatalf("present sent %+v", bg)
	}
	b.call.emit(BoardOpEvent{Op: whiteboard.Op{Kind: whiteboard.KindBackground, Doc: "f0000000000000000000000000000001", Page: 1, Pages: 3, Seq: 3, Author: "adv"}})
	b.eventually("the document page", func() bool { return b.shows("Document page 1 of 3") })
	b.eventually("the page image drawn", func() bool { c := b.pixel(0.5, 0.5); return c.G > 150 && c.R < 80 })
	fyne.DoAndWait(func() { b.view.board.nextBtn.OnTapped() })
	ops = b.waitSent(t, 3)
	if bg := ops[2]; bg.Kind != whiteboard.KindBackground || bg.Page != 2 || bg.Doc != "f0000000000000000000000000000001" {
		t.Errorf("next page sent %+v", bg)
	}

	// A late state replaces everything.
	b.call.emit(BoardStateEvent{State: whiteboard.State{Seq: 9, Background: whiteboard.Background{Page: 2},
		Pages: []whiteboard.PageState{{Page: 2, Objects: []whiteboard.Op{stroke}}}}})
	b.eventually("page 2 of the blank board", func() bool { return b.shows("Page 2") })
	b.eventually("the state's stroke", func() bool { c := b.pixel(0.5, 0.7); return c.R > 150 && c.G < 80 })
}

func TestBoardHitTest(t *testing.T) {
	cases := []struct {
		o    whiteboard.Op
		x, y float64
		hit  bool
	}{
		{whiteboard.Op{Kind: whiteboard.KindStroke, Width: 0.004, Points: []float64{0.1, 0.1, 0.3, 0.1}}, 0.2, 0.105, true},
		{whiteboard.Op{Kind: whiteboard.KindStroke, Width: 0.004, Points: []float64{0.1, 0.1, 0.3, 0.1}}, 0.2, 0.2, false},
		{whiteboard.Op{Kind: whiteboard.KindStroke, Width: 0.004, Points: []float64{0.5, 0.5}}, 0.505, 0.5, true},
		{whiteboard.Op{Kind: whiteboard.KindShape, Shape: "rect", Width: 0.003, Points: []float64{0.1, 0.1, 0.5, 0.5}}, 0.3, 0.3, false},
		{whiteboard.Op{Kind: whiteboard.KindShape, Shape: "rect", Width: 0.003, Points: []float64{0.1, 0.1, 0.5, 0.5}}, 0.5, 0.3, true},
		{whiteboard.Op{Kind: whiteboard.KindShape, Shape: "ellipse", Width: 0.003, Points: []float64{0.1, 0.1, 0.5, 0.5}}, 0.5, 0.3, true},
		{whiteboard.Op{Kind: whiteboard.KindShape, Shape: "ellipse", Width: 0.003, Points: []float64{0.1, 0.1, 0.5, 0.5}}, 0.3, 0.3, false},
		{whiteboard.Op{Kind: whiteboard.KindShape, Shape: "arrow", Width: 0.003, Points: []float64{0.1, 0.1, 0.5, 0.5}}, 0.3, 0.3, true},
		{whiteboard.Op{Kind: whiteboard.KindText, Size: 0.03, Points: []float64{0.1, 0.1}, Text: "Zins\nLaufzeit"}, 0.15, 0.15, true},
		{whiteboard.Op{Kind: whiteboard.KindText, Size: 0.03, Points: []float64{0.1, 0.1}, Text: "Zins"}, 0.5, 0.5, false},
	}
	for i, c := range cases {
		if got := boardHit(c.o, c.x, c.y, 0.012); got != c.hit {
			t.Errorf("case %d (%s %s at %v,%v): hit %v, want %v", i, c.o.Kind, c.o.Shape, c.x, c.y, got, c.hit)
		}
	}
}

// BenchmarkBoardRender draws a 1600×900 board with 200 strokes: the page
// from the cache (only the pointer layer changes) and with a stroke being
// drawn over it.
func BenchmarkBoardRender(b *testing.B) {
	bv := &boardView{model: newBoardModel(), now: time.Now, pageImgs: map[whiteboard.PageRef]image.Image{}}
	st := whiteboard.State{Seq: 200, Background: whiteboard.Background{Page: 1}}
	var objs []whiteboard.Op
	for i := range 200 {
		y := 0.05 + 0.9*float64(i)/200
		objs = append(objs, whiteboard.Op{Kind: whiteboard.KindStroke, ID: fmt.Sprintf("%032x", i+1), Page: 1, Tool: whiteboard.ToolPen,
			Color: "#1f4e79", Width: 0.004, Points: []float64{0.1, y, 0.5, y + 0.01, 0.9, y}, Seq: uint64(i + 1)})
	}
	st.Pages = []whiteboard.PageState{{Page: 1, Objects: objs}}
	bv.model.setState(st)
	bv.render(1600, 900)
	b.Run("cached", func(b *testing.B) {
		for range b.N {
			bv.render(1600, 900)
		}
	})
	bv.drawing = &whiteboard.Op{Kind: whiteboard.KindStroke, ID: fmt.Sprintf("%032x", 999), Page: 1, Tool: whiteboard.ToolPen,
		Color: "#c00000", Width: 0.004, Points: []float64{0.1, 0.5, 0.2, 0.55, 0.3, 0.5}}
	b.Run("drawing", func(b *testing.B) {
		for range b.N {
			bv.render(1600, 900)
		}
	})
}
