package whiteboard

import (
	"cmp"
	"slices"

	"parley/relay/signal/msg"
)

// The board's model on the relay. Every logged op is applied in sequence
// order; the result depends on nothing else, so replaying the log gives the
// live state back (the property test checks it).
//
// Visibility: an object is visible while the op that created it is in
// effect and no erase or clear in effect covers it. An erase or clear
// covers exactly the objects that were visible when it was applied.
// Undo takes the author's latest op still in effect out of effect; redo
// puts the author's latest undone op back. So undoing an erase or clear
// makes exactly the objects it removed visible again, at their original
// z-position, unless something else now keeps them hidden (their author
// undid them, or another erase or clear in effect covers them). A new
// object-creating, erase or clear op by the author empties the author's
// redo list.

type object struct {
	op     *Op // the creating op
	ref    PageRef
	eff    bool // the creating op is in effect
	covers int  // erase and clear ops in effect that cover the object
}

func (o *object) visible() bool { return o.eff && o.covers == 0 }

type engine struct {
	ops     []*Op          // the log in the window, in seq order
	bySeq   map[uint64]*Op // the same ops by seq
	objects map[string]*object
	pages   map[PageRef][]*object // every object created on a page, z-order
	created map[uint64]*object    // creating op's seq → object
	covered map[uint64][]*object  // erase or clear seq → objects it covers
	eff     map[uint64]bool       // undoable op seq → in effect
	undo    map[string][]uint64   // author → undoable ops in effect, oldest first
	redo    map[string][]uint64   // author → undone ops, most recent last
	bg      PageRef
	bgPages int            // page count of the background's document
	docs    map[string]int // presented documents → page count
	last    uint64         // highest seq applied
}

func newEngine() *engine {
	return &engine{
		bySeq:   map[uint64]*Op{},
		objects: map[string]*object{},
		pages:   map[PageRef][]*object{},
		created: map[uint64]*object{},
		covered: map[uint64][]*object{},
		eff:     map[uint64]bool{},
		undo:    map[string][]uint64{},
		redo:    map[string][]uint64{},
		bg:      PageRef{Page: 1},
		docs:    map[string]int{},
	}
}

// first returns the lowest seq in the window, or last+1 when empty.
func (e *engine) first() uint64 {
	if len(e.ops) == 0 {
		return e.last + 1
	}
	return e.ops[0].Seq
}

// pageExists reports whether ref is a page ops may name.
func (e *engine) pageExists(ref PageRef) bool {
	if ref.Page < 1 {
		return false
	}
	if ref.Doc == "" {
		return ref.Page <= MaxBlankPages
	}
	n, ok := e.docs[ref.Doc]
	return ok && ref.Page <= n
}

// check validates a client op (already checked on its own) against the
// board. It returns the op accepted earlier when a create repeats an id.
func (e *engine) check(a Actor, op *Op, maxObjects int) (*Op, error) {
	switch op.Kind {
	case KindStroke, KindShape, KindText:
		if o, ok := e.objects[op.ID]; ok {
			return o.op, ErrDuplicateID
		}
		if !e.pageExists(op.Ref()) {
			return nil, ErrBadPage
		}
		if len(e.pages[op.Ref()]) >= maxObjects {
			return nil, ErrPageFull
		}
	case KindErase:
		some := false
		for _, id := range op.IDs {
			o, ok := e.objects[id]
			if !ok {
				return nil, ErrUnknownObject
			}
			some = some || o.visible()
		}
		if !some {
			return nil, ErrNoChange
		}
	case KindClear:
		if !e.pageExists(op.Ref()) {
			return nil, ErrBadPage
		}
		if !slices.ContainsFunc(e.pages[op.Ref()], (*object).visible) {
			return nil, ErrNoChange
		}
	case KindPointer:
		if !e.pageExists(op.Ref()) {
			return nil, ErrBadPage
		}
	case KindUndo:
		if len(e.undo[a.ID]) == 0 {
			return nil, ErrNothingToUndo
		}
	case KindRedo:
		if len(e.redo[a.ID]) == 0 {
			return nil, ErrNothingToRedo
		}
	case KindBackground:
		if a.Role != msg.RoleAdvisor {
			return nil, ErrForbidden
		}
		// The page count is checked by the Board, which knows it.
	}
	return nil, nil
}

// target returns the seq an undo or redo by author would act on.
func (e *engine) target(kind, author string) uint64 {
	s := e.undo[author]
	if kind == KindRedo {
		s = e.redo[author]
	}
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

// apply applies a logged op and sets its Show and Hide. It tolerates ops
// that refer to what is no longer in the window (after expiry).
func (e *engine) apply(op *Op) {
	op.Show, op.Hide = nil, nil
	if op.Seq > e.last {
		e.last = op.Seq
	}
	e.ops = append(e.ops, op)
	e.bySeq[op.Seq] = op
	switch op.Kind {
	case KindStroke, KindShape, KindText:
		if _, dup := e.objects[op.ID]; dup {
			return
		}
		o := &object{op: op, ref: op.Ref(), eff: true}
		e.objects[op.ID] = o
		e.pages[o.ref] = append(e.pages[o.ref], o)
		e.created[op.Seq] = o
		e.done(op)
	case KindErase, KindClear:
		var cov []*object
		if op.Kind == KindErase {
			for _, id := range op.IDs {
				if o, ok := e.objects[id]; ok && o.visible() {
					cov = append(cov, o)
				}
			}
		} else {
			for _, o := range e.pages[op.Ref()] {
				if o.visible() {
					cov = append(cov, o)
				}
			}
		}
		for _, o := range cov {
			o.covers++
			op.Hide = append(op.Hide, o.op.ID)
		}
		e.covered[op.Seq] = cov
		e.done(op)
	case KindUndo, KindRedo:
		from, to := e.undo, e.redo
		if op.Kind == KindRedo {
			from, to = e.redo, e.undo
		}
		s := from[op.Author]
		i := slices.Index(s, op.Target)
		if i < 0 {
			return // the target has expired
		}
		from[op.Author] = slices.Delete(s, i, i+1)
		to[op.Author] = append(to[op.Author], op.Target)
		op.Show, op.Hide = e.toggle(op.Target, op.Kind == KindRedo)
	case KindBackground:
		if op.Doc != "" {
			e.docs[op.Doc] = op.Pages
		}
		e.bg, e.bgPages = op.Ref(), op.Pages
	}
}

// done records a new undoable op of its author.
func (e *engine) done(op *Op) {
	e.eff[op.Seq] = true
	e.undo[op.Author] = append(e.undo[op.Author], op.Seq)
	delete(e.redo, op.Author)
}

// toggle puts the op seq in or out of effect and returns the objects that
// became visible (z-order) and the ids of those that became hidden.
func (e *engine) toggle(seq uint64, on bool) (show []Op, hide []string) {
	if e.eff[seq] == on {
		return nil, nil
	}
	e.eff[seq] = on
	var affected []*object
	if o, ok := e.created[seq]; ok {
		affected = []*object{o}
	} else {
		affected = e.covered[seq]
	}
	var shown []*object
	for _, o := range affected {
		before := o.visible()
		if _, ok := e.created[seq]; ok {
			o.eff = on
		} else if on {
			o.covers++
		} else {
			o.covers--
		}
		switch after := o.visible(); {
		case after && !before:
			shown = append(shown, o)
		case before && !after:
			hide = append(hide, o.op.ID)
		}
	}
	slices.SortFunc(shown, func(a, b *object) int { return cmp.Compare(a.op.Seq, b.op.Seq) })
	for _, o := range shown {
		show = append(show, *o.op)
	}
	return show, hide
}

// state returns the visible objects of one page (or of every page for the
// zero PageRef), in z-order.
func (e *engine) state(filter PageRef) State {
	st := State{Seq: e.last, Background: Background{Doc: e.bg.Doc, Page: e.bg.Page, Pages: e.bgPages}, Pages: []PageState{}}
	refs := make([]PageRef, 0, len(e.pages))
	for ref := range e.pages {
		if filter == (PageRef{}) || filter == ref {
			refs = append(refs, ref)
		}
	}
	slices.SortFunc(refs, comparePages)
	for _, ref := range refs {
		objs := make([]Op, 0, len(e.pages[ref]))
		for _, o := range e.pages[ref] {
			if o.visible() {
				objs = append(objs, *o.op)
			}
		}
		if len(objs) > 0 {
			st.Pages = append(st.Pages, PageState{Doc: ref.Doc, Page: ref.Page, Objects: objs})
		}
	}
	return st
}

func comparePages(a, b PageRef) int {
	if c := cmp.Compare(a.Doc, b.Doc); c != 0 {
		return c
	}
	return cmp.Compare(a.Page, b.Page)
}
