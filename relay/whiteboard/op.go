// Package whiteboard is a meeting's shared board: pen and highlighter
// strokes, shapes, text, an eraser, clearing a page, undo and redo, a
// pointer, and a document (PDF or image) presented page by page as the
// board's background with the advisor choosing the page.
//
// Participants send operations (Op, JSON); a Board validates each one
// against strict limits, gives it the meeting's next sequence number and
// stores it in the meeting's operation log in a store.KV (encrypted at rest
// by the store; like relay/chat, values are not sealed a second time). The
// caller relays the accepted op to everyone in the meeting; late joiners
// ask for State, reconnecting participants for the ops Since the last one
// they saw. Replica is the participant's side of the same model.
//
// The board is meeting content (retention.ClassMeetingContent, seed 002
// §2.3.4.3): every op is deleted Retention (7 days) after it was accepted,
// by Service.DeleteExpiredSweep, which the relay's retention sweep calls
// beside chat's. An op's objects never outlive the op that created them.
// Pointer ops are relayed only: never stored, never numbered.
//
// The package is a domain package: no HTTP or signalling code, time from an
// injected clock, logs with ids only. RenderPNG draws a page for the
// session archive with the package's own rasteriser.
package whiteboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"parley/relay/ids"
	"parley/relay/signal/msg"
)

// Op kinds.
const (
	// KindStroke is a freehand line drawn with Tool.
	KindStroke = "stroke"
	// KindShape is a rectangle, ellipse, line or arrow (Shape).
	KindShape = "shape"
	// KindText is a block of text at a point.
	KindText = "text"
	// KindErase removes the objects named in IDs.
	KindErase = "erase"
	// KindClear removes every object visible on a page.
	KindClear = "clear"
	// KindUndo reverts the author's latest op still in effect.
	KindUndo = "undo"
	// KindRedo puts the author's latest undone op back in effect.
	KindRedo = "redo"
	// KindPointer shows where a participant points; relayed, not stored.
	KindPointer = "pointer"
	// KindBackground shows a page of a document (or of the blank board)
	// to everyone; advisors only.
	KindBackground = "background"
)

// Stroke tools.
const (
	// ToolPen draws opaque lines.
	ToolPen = "pen"
	// ToolHighlighter draws translucent lines (HighlighterAlpha).
	ToolHighlighter = "highlighter"
)

// Shapes.
const (
	// ShapeRect is a rectangle's outline between two corners.
	ShapeRect = "rect"
	// ShapeEllipse is the outline of the ellipse inscribed in the
	// rectangle between two corners.
	ShapeEllipse = "ellipse"
	// ShapeLine is a straight line between two points.
	ShapeLine = "line"
	// ShapeArrow is a line with an arrow head at its second point.
	ShapeArrow = "arrow"
)

// Protocol limits, independent of Options.
const (
	// MaxOpBytes bounds an op's JSON; it fits a signalling message.
	MaxOpBytes = msg.MaxMessageBytes
	// HardMaxPoints is the most points Options.MaxPoints may allow.
	HardMaxPoints = 4000
	// MaxWidth bounds a stroke's or shape's line width (a fraction of the
	// page's width).
	MaxWidth = 0.05
	// MinTextSize and MaxTextSize bound a text's font size (a fraction of
	// the page's width).
	MinTextSize, MaxTextSize = 0.005, 0.2
	// HardMaxTextRunes is the most characters Options.MaxTextRunes may
	// allow.
	HardMaxTextRunes = 2000
	// MaxEraseIDs bounds how many objects one erase names.
	MaxEraseIDs = 1000
	// MaxBlankPages is how many pages the blank board (Doc "") has.
	MaxBlankPages = 50
	// MaxDocPages bounds a presented document's page count.
	MaxDocPages = 2000
	// MaxDocuments bounds how many documents one board presents.
	MaxDocuments = 50
)

// HighlighterAlpha is the opacity of highlighter strokes.
const HighlighterAlpha = 0.35

// Errors returned by Apply, State, Since and DecodeOp, wrapped with what
// was being done; check them with errors.Is. Messages never contain the
// op's content.
var (
	// ErrInvalid: a malformed op or argument (unknown kind or tool,
	// coordinates outside 0..1, NaN or Inf, a bad colour or id, fields
	// that do not belong to the kind, server fields set by a client).
	ErrInvalid = errors.New("invalid whiteboard op")
	// ErrTooLarge: an op beyond a size limit (points per stroke, text
	// length, ids per erase, JSON bytes).
	ErrTooLarge = errors.New("whiteboard op too large")
	// ErrBadPage: the op names a page that does not exist: beyond the
	// blank board's pages or the presented document's page count, or
	// of a document never presented on this board.
	ErrBadPage = errors.New("no such whiteboard page")
	// ErrPageFull: the page already holds Options.MaxObjectsPerPage
	// objects (erased and undone ones included).
	ErrPageFull = errors.New("whiteboard page full")
	// ErrBoardFull: the board's stored ops would exceed
	// Options.MaxBoardBytes.
	ErrBoardFull = errors.New("whiteboard full")
	// ErrForbidden: the actor's role may not do this (only advisors set
	// the background).
	ErrForbidden = errors.New("not allowed on the whiteboard")
	// ErrDuplicateID: an object with the op's id exists. When the same
	// author resent the same op, Apply returns the op accepted first
	// alongside this error.
	ErrDuplicateID = errors.New("whiteboard object id already used")
	// ErrUnknownObject: an erase names an object this board never had
	// (or whose op has expired).
	ErrUnknownObject = errors.New("no such whiteboard object")
	// ErrUnknownDocument: a background names a document the meeting does
	// not have.
	ErrUnknownDocument = errors.New("no such document")
	// ErrNoChange: an erase or clear that would remove nothing (the
	// objects are already gone).
	ErrNoChange = errors.New("whiteboard op changes nothing")
	// ErrNothingToUndo: the author has no op in effect to undo.
	ErrNothingToUndo = errors.New("nothing to undo")
	// ErrNothingToRedo: the author has no undone op to redo.
	ErrNothingToRedo = errors.New("nothing to redo")
	// ErrResync: Since or Replica.Apply cannot continue from the given
	// sequence number (ops in between have expired, or the number is
	// from another board): fetch State instead.
	ErrResync = errors.New("whiteboard resync needed")
)

func invalid(what string) error { return fmt.Errorf("%w: %s", ErrInvalid, what) }

func tooLarge(what string) error { return fmt.Errorf("%w: %s", ErrTooLarge, what) }

// Op is one whiteboard operation. A client sets Kind and the fields its
// kind uses; the relay sets Seq, Author, At, Target, Pages, Show and Hide
// on the accepted op it relays. Coordinates are fractions 0..1 of the
// page's width (x) and height (y), so every screen agrees; lengths (Width,
// Size) are fractions of the page's width.
type Op struct {
	// Kind is one of the Kind* constants.
	Kind string `json:"kind"`
	// ID names the object a stroke, shape or text creates: 32 lower-case
	// hex digits chosen at random by the client (ids.New), unique in
	// the board, so the client can refer to it before the relay answers.
	ID string `json:"id,omitempty"`
	// Doc is the presented document the page belongs to (a file id);
	// empty for the blank board. Stroke, shape, text, clear, pointer
	// and background.
	Doc string `json:"doc,omitempty"`
	// Page is the page number, from 1. Stroke, shape, text, clear,
	// pointer and background.
	Page int `json:"page,omitempty"`
	// Tool is ToolPen or ToolHighlighter (stroke).
	Tool string `json:"tool,omitempty"`
	// Shape is one of the Shape* constants (shape).
	Shape string `json:"shape,omitempty"`
	// Color is "#rrggbb" (stroke, shape, text).
	Color string `json:"color,omitempty"`
	// Width is the line width, 0 < Width ≤ MaxWidth (stroke, shape).
	Width float64 `json:"width,omitempty"`
	// Size is the font size, MinTextSize..MaxTextSize (text).
	Size float64 `json:"size,omitempty"`
	// Points are x, y pairs: a stroke's path (1..MaxPoints points), a
	// shape's two corners or ends (2 points), a text's top-left corner
	// or the pointer's position (1 point).
	Points []float64 `json:"points,omitempty"`
	// Pressure is optional, one value 0..1 per stroke point; it scales
	// the width from 25 % (0) to 100 % (1).
	Pressure []float64 `json:"pressure,omitempty"`
	// Text is a text's content: at most MaxTextRunes characters, lines
	// separated by "\n", no other control characters.
	Text string `json:"text,omitempty"`
	// IDs are the objects an erase removes (1..MaxEraseIDs).
	IDs []string `json:"ids,omitempty"`

	// Seq is the op's place in the board's log, from 1 (set by the
	// relay; 0 for pointer ops, which are not logged).
	Seq uint64 `json:"seq,omitempty"`
	// Author is the participant or user id of who sent the op (set by
	// the relay).
	Author string `json:"author,omitempty"`
	// At is when the relay accepted the op.
	At time.Time `json:"at,omitzero"`
	// Target is the Seq of the op an undo or redo reverted or restored
	// (set by the relay).
	Target uint64 `json:"target,omitempty"`
	// Pages is the presented document's page count (background; set by
	// the relay).
	Pages int `json:"pages,omitempty"`
	// Show are the objects an undo or redo made visible again, in
	// z-order (set by the relay; not stored, recomputed on replay).
	Show []Op `json:"show,omitempty"`
	// Hide are the ids of the objects an erase, clear, undo or redo made
	// invisible (set by the relay; not stored, recomputed on replay).
	Hide []string `json:"hide,omitempty"`
}

// PageRef names a page: page N of document Doc, or of the blank board when
// Doc is empty. The zero PageRef means "every page" where a filter is
// expected.
type PageRef struct {
	// Doc is the document's id, empty for the blank board.
	Doc string `json:"doc,omitempty"`
	// Page is the page number from 1.
	Page int `json:"page"`
}

// Ref returns the page an op is on.
func (o *Op) Ref() PageRef { return PageRef{Doc: o.Doc, Page: o.Page} }

// creates reports whether ops of the kind create an object.
func creates(kind string) bool {
	return kind == KindStroke || kind == KindShape || kind == KindText
}

// Actor is who sends an op, as the signalling layer authenticated it.
type Actor struct {
	// ID is the customer's participant id or the advisor's user id
	// (1–64 characters of [A-Za-z0-9_-]).
	ID string
	// Role is msg.RoleAdvisor or msg.RoleCustomer.
	Role string
}

// validRef reports whether a meeting or actor id is safe inside a key:
// 1–64 characters of [A-Za-z0-9_-] (the rule relay/chat uses).
func validRef(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkActor(a Actor) error {
	if !validRef(a.ID) {
		return invalid("actor id")
	}
	if a.Role != msg.RoleAdvisor && a.Role != msg.RoleCustomer {
		return invalid("actor role")
	}
	return nil
}

// DecodeOp parses an op sent by a client and checks it against the
// protocol's limits (Apply checks it again with the board's options). It
// refuses more than MaxOpBytes, text that is not UTF-8, unknown fields,
// trailing data and fields only the relay sets.
func DecodeOp(b []byte) (Op, error) {
	if len(b) > MaxOpBytes {
		return Op{}, tooLarge("op larger than MaxOpBytes")
	}
	if !utf8.Valid(b) {
		return Op{}, invalid("op is not UTF-8")
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var op Op
	if err := dec.Decode(&op); err != nil {
		return Op{}, invalid("malformed JSON")
	}
	if dec.More() {
		return Op{}, invalid("trailing data after the op")
	}
	if err := op.check(protocolLimits); err != nil {
		return Op{}, err
	}
	return op, nil
}

// limits are the bounds check applies.
type limits struct {
	points    int
	textRunes int
}

var protocolLimits = limits{points: HardMaxPoints, textRunes: HardMaxTextRunes}

// Field bits for the "only these fields" rule.
const (
	fID = 1 << iota
	fDoc
	fPage
	fTool
	fShape
	fColor
	fWidth
	fSize
	fPoints
	fPressure
	fText
	fIDs
)

func (o *Op) fields() int {
	f := 0
	set := func(b bool, bit int) {
		if b {
			f |= bit
		}
	}
	set(o.ID != "", fID)
	set(o.Doc != "", fDoc)
	set(o.Page != 0, fPage)
	set(o.Tool != "", fTool)
	set(o.Shape != "", fShape)
	set(o.Color != "", fColor)
	set(o.Width != 0, fWidth)
	set(o.Size != 0, fSize)
	set(o.Points != nil, fPoints)
	set(o.Pressure != nil, fPressure)
	set(o.Text != "", fText)
	set(o.IDs != nil, fIDs)
	return f
}

// allowed lists the client fields each kind may carry.
var allowed = map[string]int{
	KindStroke:     fID | fDoc | fPage | fTool | fColor | fWidth | fPoints | fPressure,
	KindShape:      fID | fDoc | fPage | fShape | fColor | fWidth | fPoints,
	KindText:       fID | fDoc | fPage | fColor | fSize | fPoints | fText,
	KindErase:      fIDs,
	KindClear:      fDoc | fPage,
	KindUndo:       0,
	KindRedo:       0,
	KindPointer:    fDoc | fPage | fPoints,
	KindBackground: fDoc | fPage,
}

// check validates an op as a client sent it, without looking at the
// board.
func (o *Op) check(l limits) error {
	if o.Seq != 0 || o.Author != "" || !o.At.IsZero() || o.Target != 0 || o.Pages != 0 || o.Show != nil || o.Hide != nil {
		return invalid("fields set by the relay")
	}
	mask, ok := allowed[o.Kind]
	if !ok {
		return invalid("unknown kind")
	}
	if o.fields()&^mask != 0 {
		return invalid("fields that do not belong to " + o.Kind)
	}
	if creates(o.Kind) && !ids.Valid(o.ID) {
		return invalid("object id")
	}
	if mask&fPage != 0 {
		if o.Doc != "" && !ids.Valid(o.Doc) {
			return invalid("document id")
		}
		if o.Page < 1 {
			return fmt.Errorf("%w: page number", ErrBadPage)
		}
	}
	if mask&fColor != 0 && !validColor(o.Color) {
		return invalid("color")
	}
	if mask&fWidth != 0 && !(o.Width > 0 && o.Width <= MaxWidth) {
		return invalid("width")
	}
	switch o.Kind {
	case KindStroke:
		if o.Tool != ToolPen && o.Tool != ToolHighlighter {
			return invalid("unknown tool")
		}
		if len(o.Points) > 2*l.points {
			return tooLarge("too many points")
		}
		if err := checkPoints(o.Points, 0); err != nil {
			return err
		}
		if o.Pressure != nil {
			if len(o.Pressure) != len(o.Points)/2 {
				return invalid("one pressure per point")
			}
			for _, p := range o.Pressure {
				if !(p >= 0 && p <= 1) {
					return invalid("pressure outside 0..1")
				}
			}
		}
	case KindShape:
		switch o.Shape {
		case ShapeRect, ShapeEllipse, ShapeLine, ShapeArrow:
		default:
			return invalid("unknown shape")
		}
		if err := checkPoints(o.Points, 2); err != nil {
			return err
		}
	case KindText:
		if !(o.Size >= MinTextSize && o.Size <= MaxTextSize) {
			return invalid("text size")
		}
		if err := checkPoints(o.Points, 1); err != nil {
			return err
		}
		if err := checkText(o.Text, l.textRunes); err != nil {
			return err
		}
	case KindErase:
		if len(o.IDs) == 0 {
			return invalid("erase names no object")
		}
		if len(o.IDs) > MaxEraseIDs {
			return tooLarge("erase names too many objects")
		}
		seen := make(map[string]bool, len(o.IDs))
		for _, id := range o.IDs {
			if !ids.Valid(id) {
				return invalid("object id")
			}
			if seen[id] {
				return invalid("object named twice")
			}
			seen[id] = true
		}
	case KindPointer:
		if err := checkPoints(o.Points, 1); err != nil {
			return err
		}
	}
	return nil
}

// checkPoints checks x, y pairs in 0..1; n > 0 demands exactly n points,
// n == 0 at least one.
func checkPoints(p []float64, n int) error {
	if len(p)%2 != 0 || len(p) == 0 || (n > 0 && len(p) != 2*n) {
		return invalid("wrong number of coordinates")
	}
	for _, v := range p {
		if !(v >= 0 && v <= 1) { // also false for NaN
			return invalid("coordinate outside 0..1")
		}
	}
	return nil
}

func checkText(s string, maxRunes int) error {
	if len(s) > 4*maxRunes {
		return tooLarge("text too long")
	}
	if !utf8.ValidString(s) || strings.TrimSpace(s) == "" {
		return invalid("text empty or not UTF-8")
	}
	if utf8.RuneCountInString(s) > maxRunes {
		return tooLarge("text too long")
	}
	for _, r := range s {
		if r == '\n' {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r) {
			return invalid("control characters in text")
		}
	}
	return nil
}

func validColor(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for i := 1; i < 7; i++ {
		ch := c[i]
		if (ch < '0' || ch > '9') && (ch < 'a' || ch > 'f') && (ch < 'A' || ch > 'F') {
			return false
		}
	}
	return true
}

// clone returns a copy of o that shares no slices with it.
func (o Op) clone() Op {
	o.Points = cloneFloats(o.Points)
	o.Pressure = cloneFloats(o.Pressure)
	if o.IDs != nil {
		o.IDs = append([]string(nil), o.IDs...)
	}
	if o.Show != nil {
		o.Show = append([]Op(nil), o.Show...)
	}
	if o.Hide != nil {
		o.Hide = append([]string(nil), o.Hide...)
	}
	return o
}

func cloneFloats(f []float64) []float64 {
	if f == nil {
		return nil
	}
	return append(make([]float64, 0, len(f)), f...)
}

// finite reports whether every value is a finite number.
func finite(v ...float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
