package whiteboard

import (
	"testing"
)

var page1 = PageRef{Page: 1}

// room is a board with live replicas of its participants: every accepted
// op is relayed (through JSON) to all of them, as the signalling hub does.
type room struct {
	t        testing.TB
	b        *Board
	replicas []*Replica
}

func newRoom(t testing.TB, b *Board, n int) *room {
	r := &room{t: t, b: b}
	for range n {
		r.join()
	}
	return r
}

// join adds a participant that starts from the board's current state.
func (r *room) join() *Replica {
	r.t.Helper()
	st, err := r.b.State(r.t.Context(), PageRef{})
	must(r.t, err)
	rep := NewReplica(wire(r.t, st))
	r.replicas = append(r.replicas, rep)
	return rep
}

func (r *room) do(a Actor, op Op) (Op, error) {
	r.t.Helper()
	acc, err := r.b.Apply(r.t.Context(), a, op)
	if err != nil {
		return acc, err
	}
	for _, rep := range r.replicas {
		must(r.t, rep.Apply(wire(r.t, acc)))
	}
	return acc, nil
}

func (r *room) must(a Actor, op Op) Op {
	r.t.Helper()
	acc, err := r.do(a, op)
	must(r.t, err)
	return acc
}

// check asserts that the board's page shows want and every replica agrees
// with the board's whole state.
func (r *room) check(want ...string) {
	r.t.Helper()
	eq(r.t, visibleIDs(r.t, r.b, page1), want)
	st, err := r.b.State(r.t.Context(), PageRef{})
	must(r.t, err)
	for i, rep := range r.replicas {
		if got, want := jsonOf(r.t, rep.State()), jsonOf(r.t, st); got != want {
			r.t.Fatalf("replica %d differs from the board:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestUndoAcrossParticipants: each participant's undo reverts their own
// latest op, for everyone, and redo puts it back at its z-position.
func TestUndoAcrossParticipants(t *testing.T) {
	e := newEnv(t, nil, Options{})
	r := newRoom(t, e.open(meetingA), 2)
	a1 := r.must(advisor, stroke(1, 0.1, 0.1, 0.2, 0.2))
	c1 := r.must(customer, shape(ShapeRect, 1))
	a2 := r.must(advisor, text(1, "Zins 3,1 %"))
	r.check(a1.ID, c1.ID, a2.ID)

	u := r.must(customer, Op{Kind: KindUndo})
	if u.Target != c1.Seq || u.Author != customer.ID || len(u.Hide) != 1 || u.Hide[0] != c1.ID {
		t.Fatalf("customer's undo: %+v", u)
	}
	r.check(a1.ID, a2.ID)
	r.must(advisor, Op{Kind: KindUndo})
	r.check(a1.ID)
	_, err := r.do(other, Op{Kind: KindUndo})
	wantErr(t, err, ErrNothingToUndo)
	_, err = r.do(advisor, Op{Kind: KindRedo})
	must(t, err)
	r.check(a1.ID, a2.ID)
	red := r.must(customer, Op{Kind: KindRedo})
	if len(red.Show) != 1 || red.Show[0].ID != c1.ID {
		t.Fatalf("redo shows %+v", red.Show)
	}
	r.check(a1.ID, c1.ID, a2.ID)
	_, err = r.do(customer, Op{Kind: KindRedo})
	wantErr(t, err, ErrNothingToRedo)

	// A new op empties the author's redo list, not the others'.
	r.must(advisor, Op{Kind: KindUndo})
	r.must(customer, Op{Kind: KindUndo})
	r.check(a1.ID)
	c2 := r.must(customer, stroke(1, 0.5, 0.5))
	_, err = r.do(customer, Op{Kind: KindRedo})
	wantErr(t, err, ErrNothingToRedo)
	r.must(advisor, Op{Kind: KindRedo})
	r.check(a1.ID, a2.ID, c2.ID)

	// Undo all the way down, then nothing is left to undo.
	r.must(advisor, Op{Kind: KindUndo})
	r.must(advisor, Op{Kind: KindUndo})
	_, err = r.do(advisor, Op{Kind: KindUndo})
	wantErr(t, err, ErrNothingToUndo)
	r.check(c2.ID)
}

// TestUndoErase: undoing an erase restores exactly the objects it removed,
// at their z-positions, unless something else keeps them hidden.
func TestUndoErase(t *testing.T) {
	e := newEnv(t, nil, Options{})
	r := newRoom(t, e.open(meetingA), 2)
	x := r.must(advisor, stroke(1, 0.1, 0.1))
	y := r.must(advisor, stroke(1, 0.2, 0.2))
	z := r.must(customer, stroke(1, 0.3, 0.3))

	er := r.must(customer, Op{Kind: KindErase, IDs: []string{x.ID, y.ID}})
	if len(er.Hide) != 2 {
		t.Fatalf("erase hides %v", er.Hide)
	}
	r.check(z.ID)
	// Erasing what is already gone changes nothing.
	_, err := r.do(advisor, Op{Kind: KindErase, IDs: []string{x.ID}})
	wantErr(t, err, ErrNoChange)
	// The advisor undoes their own y: no visible change (already erased).
	r.must(advisor, Op{Kind: KindUndo})
	r.check(z.ID)
	// The customer's undo reverts the erase (their latest op): x comes
	// back under z; y stays hidden because its author undid it.
	u := r.must(customer, Op{Kind: KindUndo})
	if u.Target != er.Seq || len(u.Show) != 1 || u.Show[0].ID != x.ID {
		t.Fatalf("undo of the erase: target %d show %+v", u.Target, u.Show)
	}
	r.check(x.ID, z.ID)
	r.must(advisor, Op{Kind: KindRedo})
	r.check(x.ID, y.ID, z.ID)
	// Redo of the erase removes them again.
	r.must(customer, Op{Kind: KindRedo})
	r.check(z.ID)
}

// TestUndoClear: a clear removes what is visible on its page only; undoing
// it brings that back; an object undone before the clear is not covered by
// it and its author's redo restores it.
func TestUndoClear(t *testing.T) {
	e := newEnv(t, nil, Options{})
	r := newRoom(t, e.open(meetingA), 1)
	a := r.must(advisor, stroke(1, 0.1, 0.1))
	c := r.must(customer, stroke(1, 0.2, 0.2))
	p2 := r.must(customer, stroke(2, 0.2, 0.2))
	r.must(customer, Op{Kind: KindUndo}) // p2 out
	r.must(customer, Op{Kind: KindRedo}) // p2 in
	cu := r.must(customer, stroke(1, 0.3, 0.3))
	r.must(customer, Op{Kind: KindUndo}) // cu out
	cl := r.must(advisor, Op{Kind: KindClear, Page: 1})
	if len(cl.Hide) != 2 {
		t.Fatalf("clear hides %v", cl.Hide)
	}
	r.check()
	eq(t, visibleIDs(t, r.b, PageRef{Page: 2}), []string{p2.ID})
	_, err := r.do(customer, Op{Kind: KindClear, Page: 1})
	wantErr(t, err, ErrNoChange)
	// The customer's redo list was emptied by no op of theirs: cu returns.
	r.must(customer, Op{Kind: KindRedo})
	r.check(cu.ID)
	after := r.must(customer, stroke(1, 0.4, 0.4))
	r.must(advisor, Op{Kind: KindUndo}) // the clear
	r.check(a.ID, c.ID, cu.ID, after.ID)
}

// TestDuplicateID: a resent create returns the op accepted first to its
// author; another author cannot take the id.
func TestDuplicateID(t *testing.T) {
	e := newEnv(t, nil, Options{})
	b := e.open(meetingA)
	op := stroke(1, 0.1, 0.1)
	first := apply(t, b, customer, op)
	again, err := b.Apply(e.ctx, customer, op)
	wantErr(t, err, ErrDuplicateID)
	if again.Seq != first.Seq {
		t.Fatalf("resend returned seq %d, want %d", again.Seq, first.Seq)
	}
	stolen, err := b.Apply(e.ctx, other, op)
	wantErr(t, err, ErrDuplicateID)
	if stolen.Seq != 0 || stolen.Points != nil {
		t.Fatalf("another author got the first op back: %+v", stolen)
	}
}
