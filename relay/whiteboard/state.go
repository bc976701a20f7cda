package whiteboard

import (
	"cmp"
	"fmt"
	"slices"
)

// State is what a late joiner needs: the visible objects in z-order, the
// background, and the sequence number they reflect (continue with the ops
// after it).
type State struct {
	// Seq is the last op the state includes.
	Seq uint64 `json:"seq"`
	// Background is the page everyone is shown.
	Background Background `json:"background"`
	// Pages are the pages with visible objects, ordered by document id
	// and page number.
	Pages []PageState `json:"pages"`
}

// Background is the page the advisor shows.
type Background struct {
	// Doc is the presented document's id; empty for the blank board.
	Doc string `json:"doc,omitempty"`
	// Page is the page shown, from 1.
	Page int `json:"page"`
	// Pages is the document's page count (0 for the blank board).
	Pages int `json:"pages,omitempty"`
}

// PageState is one page's visible objects.
type PageState struct {
	// Doc is the document's id; empty for the blank board.
	Doc string `json:"doc,omitempty"`
	// Page is the page number, from 1.
	Page int `json:"page"`
	// Objects are the creating ops of the visible objects, bottom first.
	Objects []Op `json:"objects"`
}

// Objects returns the visible objects of a page in z-order (nil if none).
func (s State) Objects(ref PageRef) []Op {
	for _, p := range s.Pages {
		if p.Doc == ref.Doc && p.Page == ref.Page {
			return p.Objects
		}
	}
	return nil
}

// Replica is a participant's copy of the board: it starts from a State and
// applies the accepted ops the relay relays, in sequence order. The
// desktop client uses it; the browser implements the same few rules:
// create ops add an object on top of its page; erase, clear, undo and
// redo hide the ids in Hide and insert the objects in Show at their
// z-position (by Seq); background sets the background; pointer ops are
// not part of the state. A Replica is not safe for concurrent use.
type Replica struct {
	seq   uint64
	bg    Background
	pages map[PageRef][]Op
	where map[string]PageRef
}

// NewReplica starts a replica from a state fetched from the relay.
func NewReplica(st State) *Replica {
	r := &Replica{seq: st.Seq, bg: st.Background, pages: map[PageRef][]Op{}, where: map[string]PageRef{}}
	for _, p := range st.Pages {
		ref := PageRef{Doc: p.Doc, Page: p.Page}
		for _, o := range p.Objects {
			r.insert(ref, o)
		}
	}
	return r
}

// Seq is the last op the replica applied.
func (r *Replica) Seq() uint64 { return r.seq }

// Apply applies an accepted op. Ops it has already seen and pointer ops
// are ignored; an op that skips a sequence number returns ErrResync.
func (r *Replica) Apply(op Op) error {
	if op.Seq == 0 || op.Seq <= r.seq {
		return nil
	}
	if op.Seq != r.seq+1 {
		return fmt.Errorf("whiteboard: replica at %d got op %d: %w", r.seq, op.Seq, ErrResync)
	}
	r.seq = op.Seq
	switch op.Kind {
	case KindStroke, KindShape, KindText:
		if _, dup := r.where[op.ID]; !dup {
			r.insert(op.Ref(), op)
		}
	case KindBackground:
		r.bg = Background{Doc: op.Doc, Page: op.Page}
		if op.Doc != "" {
			r.bg.Pages = op.Pages
		}
	default:
		for _, id := range op.Hide {
			r.remove(id)
		}
		for _, o := range op.Show {
			if _, dup := r.where[o.ID]; !dup {
				r.insert(o.Ref(), o)
			}
		}
	}
	return nil
}

func (r *Replica) insert(ref PageRef, o Op) {
	objs := r.pages[ref]
	i, _ := slices.BinarySearchFunc(objs, o.Seq, func(a Op, seq uint64) int { return cmp.Compare(a.Seq, seq) })
	r.pages[ref] = slices.Insert(objs, i, o)
	r.where[o.ID] = ref
}

func (r *Replica) remove(id string) {
	ref, ok := r.where[id]
	if !ok {
		return
	}
	delete(r.where, id)
	objs := r.pages[ref]
	if i := slices.IndexFunc(objs, func(o Op) bool { return o.ID == id }); i >= 0 {
		objs = slices.Delete(objs, i, i+1)
	}
	if len(objs) == 0 {
		delete(r.pages, ref)
	} else {
		r.pages[ref] = objs
	}
}

// State returns the replica's state in the form the relay's State has.
func (r *Replica) State() State {
	st := State{Seq: r.seq, Background: r.bg, Pages: []PageState{}}
	refs := make([]PageRef, 0, len(r.pages))
	for ref := range r.pages {
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, comparePages)
	for _, ref := range refs {
		st.Pages = append(st.Pages, PageState{Doc: ref.Doc, Page: ref.Page, Objects: slices.Clone(r.pages[ref])})
	}
	return st
}
