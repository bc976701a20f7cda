package app

import (
	"context"
	"encoding/json"
	"image"
	"math"
	"strings"
	"time"

	"parley/relay/whiteboard"
)

// CallBoard is implemented by calls that carry the meeting's whiteboard
// (docs/whiteboard.md). The call view shows its Whiteboard button only for
// such calls; the board's state and ops arrive as [BoardStateEvent],
// [BoardOpEvent] and [BoardRefusedEvent].
type CallBoard interface {
	// SendBoard sends one whiteboard op (JSON) to everyone in the
	// meeting. The relay relays the accepted op back as a
	// [BoardOpEvent] or refuses it with a [BoardRefusedEvent]. It does
	// not block on the network.
	SendBoard(op json.RawMessage) error
	// BoardPage fetches page n (from 1) of a PDF or image shared in the
	// meeting, width pixels wide, for the board's background.
	BoardPage(ctx context.Context, fileID string, page, width int) (image.Image, error)
}

// BoardStateEvent carries the whole board: on joining, after a reconnect
// that could not resume, and after content expired. It replaces what
// the board shows.
type BoardStateEvent struct {
	// State is the board as the relay sent it.
	State whiteboard.State
}

// BoardOpEvent carries an op the relay accepted (the advisor's own
// included), or a participant's pointer (Seq 0).
type BoardOpEvent struct {
	// Op is the accepted op with the relay's fields.
	Op whiteboard.Op
}

// BoardRefusedEvent is the relay's refusal of one of the advisor's ops.
type BoardRefusedEvent struct {
	// Code is the relay's board_* code.
	Code string
	// Ref is the refused op's object id, or empty.
	Ref string
}

func (BoardStateEvent) callEvent()   {}
func (BoardOpEvent) callEvent()      {}
func (BoardRefusedEvent) callEvent() {}

// Board drawing constants, as the customer's page uses them
// (assets/web/static/board.js).
const (
	boardAspect      = 16.0 / 9.0 // the page's width / height
	boardPenWidth    = 0.004
	boardHiliteWidth = 0.02
	boardShapeWidth  = 0.003
	boardTextSize    = 0.03
	boardMaxPoints   = 2000
	boardMaxText     = 1000
	boardPointerGap  = 80 * time.Millisecond // at most one pointer op per gap
	boardPointerShow = 2500 * time.Millisecond
)

// boardPointer is where another participant points.
type boardPointer struct {
	x, y float64
	ref  whiteboard.PageRef
	at   time.Time
}

// boardModel is the board as the advisor sees it: the relay's state
// (a whiteboard.Replica) plus the own objects drawn ahead of the relay's
// answer, and the others' pointers. Not safe for concurrent use: the UI
// thread owns it.
type boardModel struct {
	rep      *whiteboard.Replica
	ready    bool // a state arrived
	pending  []whiteboard.Op
	pointers map[string]boardPointer
	// version changes with everything drawn; st caches rep.State().
	version uint64
	st      *whiteboard.State
}

func newBoardModel() *boardModel {
	return &boardModel{rep: whiteboard.NewReplica(whiteboard.State{Background: whiteboard.Background{Page: 1}}),
		pointers: map[string]boardPointer{}}
}

func (m *boardModel) changed() { m.version++; m.st = nil }

// state returns the replica's state (cached until the next change).
func (m *boardModel) state() *whiteboard.State {
	if m.st == nil {
		st := m.rep.State()
		if st.Background.Page < 1 {
			st.Background.Page = 1
		}
		m.st = &st
	}
	return m.st
}

// page is the page everyone is shown.
func (m *boardModel) page() whiteboard.PageRef {
	bg := m.state().Background
	return whiteboard.PageRef{Doc: bg.Doc, Page: bg.Page}
}

// setState replaces the board; own objects it holds are confirmed.
func (m *boardModel) setState(st whiteboard.State) {
	m.rep = whiteboard.NewReplica(st)
	m.ready = true
	m.changed()
	held := map[string]bool{}
	for _, p := range m.state().Pages {
		for _, o := range p.Objects {
			held[o.ID] = true
		}
	}
	m.dropPending(func(o whiteboard.Op) bool { return held[o.ID] })
}

// apply applies a relayed op; it reports whether the board changed.
func (m *boardModel) apply(op whiteboard.Op, now time.Time) bool {
	if op.Seq == 0 {
		if op.Kind != whiteboard.KindPointer || len(op.Points) != 2 || op.Author == "" {
			return false
		}
		m.pointers[op.Author] = boardPointer{x: op.Points[0], y: op.Points[1], ref: op.Ref(), at: now}
		m.version++
		return true
	}
	if op.ID != "" {
		m.dropPending(func(o whiteboard.Op) bool { return o.ID == op.ID })
	}
	if err := m.rep.Apply(op); err != nil {
		// The call resumes after a gap; this copy is replaced by the
		// state or the ops that follow.
		return false
	}
	m.changed()
	return true
}

// refused takes back the own object the relay refused.
func (m *boardModel) refused(ref string) bool {
	return ref != "" && m.dropPending(func(o whiteboard.Op) bool { return o.ID == ref })
}

func (m *boardModel) dropPending(match func(whiteboard.Op) bool) bool {
	n := len(m.pending)
	kept := m.pending[:0]
	for _, o := range m.pending {
		if !match(o) {
			kept = append(kept, o)
		}
	}
	m.pending = kept
	if len(kept) != n {
		m.version++
		return true
	}
	return false
}

// drawAhead shows an own object until the relay confirms it.
func (m *boardModel) drawAhead(o whiteboard.Op) {
	m.pending = append(m.pending, o)
	m.version++
}

// objects are the page's visible objects and the own ones drawn ahead,
// bottom first.
func (m *boardModel) objects(ref whiteboard.PageRef) []whiteboard.Op {
	objs := m.state().Objects(ref)
	out := make([]whiteboard.Op, 0, len(objs)+len(m.pending))
	out = append(out, objs...)
	for _, o := range m.pending {
		if o.Ref() == ref {
			out = append(out, o)
		}
	}
	return out
}

// livePointers are the pointers on ref shown at now; older ones are
// forgotten.
func (m *boardModel) livePointers(ref whiteboard.PageRef, now time.Time) []boardPointer {
	var out []boardPointer
	for a, p := range m.pointers {
		if now.Sub(p.at) > boardPointerShow {
			delete(m.pointers, a)
			continue
		}
		if p.ref == ref {
			out = append(out, p)
		}
	}
	return out
}

// hitAt returns the id of the topmost object on ref under the page point
// (x, y), within tol (a fraction of the page's width), or "".
func (m *boardModel) hitAt(ref whiteboard.PageRef, x, y, tol float64) string {
	objs := m.state().Objects(ref)
	for i := len(objs) - 1; i >= 0; i-- {
		if boardHit(objs[i], x, y, tol) {
			return objs[i].ID
		}
	}
	return ""
}

// segDist is the distance from p to the segment a–b in page-width units
// (y scaled by the page's height).
func segDist(px, py, ax, ay, bx, by float64) float64 {
	ay, by, py = ay/boardAspect, by/boardAspect, py/boardAspect
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, ((px-ax)*dx+(py-ay)*dy)/l2))
	}
	cx, cy := ax+t*dx-px, ay+t*dy-py
	return math.Hypot(cx, cy)
}

// boardHit is board.js's hit test: near a stroke's path or a shape's
// outline, or inside a text's box.
func boardHit(o whiteboard.Op, x, y, tol float64) bool {
	p := o.Points
	reach := tol + o.Width/2
	switch o.Kind {
	case whiteboard.KindStroke:
		if len(p) == 2 {
			return segDist(x, y, p[0], p[1], p[0], p[1]) <= reach
		}
		for i := 0; i+3 < len(p); i += 2 {
			if segDist(x, y, p[i], p[i+1], p[i+2], p[i+3]) <= reach {
				return true
			}
		}
	case whiteboard.KindShape:
		if len(p) != 4 {
			return false
		}
		x1, y1, x2, y2 := p[0], p[1], p[2], p[3]
		switch o.Shape {
		case whiteboard.ShapeLine, whiteboard.ShapeArrow:
			return segDist(x, y, x1, y1, x2, y2) <= reach
		case whiteboard.ShapeRect:
			return segDist(x, y, x1, y1, x2, y1) <= reach || segDist(x, y, x2, y1, x2, y2) <= reach ||
				segDist(x, y, x2, y2, x1, y2) <= reach || segDist(x, y, x1, y2, x1, y1) <= reach
		}
		cx, cy, rx, ry := (x1+x2)/2, (y1+y2)/2, math.Abs(x2-x1)/2, math.Abs(y2-y1)/2
		if rx == 0 || ry == 0 {
			return false
		}
		d := math.Hypot((x-cx)/rx, (y-cy)/ry)
		return math.Abs(d-1)*math.Min(rx, ry) <= reach
	case whiteboard.KindText:
		if len(p) != 2 {
			return false
		}
		lines := strings.Split(o.Text, "\n")
		w := 0.0
		for _, l := range lines {
			w = math.Max(w, float64(len([]rune(l)))*o.Size*0.6)
		}
		h := float64(len(lines)) * o.Size * 1.2 * boardAspect
		return x >= p[0]-tol && x <= p[0]+w+tol && y >= p[1]-tol && y <= p[1]+h+tol
	}
	return false
}

// round4 clamps v to 0..1 and rounds it to 4 decimals, as board.js does.
func round4(v float64) float64 {
	return math.Round(math.Min(math.Max(v, 0), 1)*10000) / 10000
}
