package whiteboard

import (
	"errors"
	"math/rand/v2"
	"testing"

	"parley/relay/ids"
)

// randomOp makes a plausible op, sometimes one the board must refuse.
func randomOp(rng *rand.Rand, a Actor, known []string) Op {
	page := 1 + rng.IntN(3)
	pt := func() float64 { return float64(rng.IntN(1001)) / 1000 }
	var op Op
	switch n := rng.IntN(100); {
	case n < 30:
		op = stroke(page)
		op.Points = nil
		for range 1 + rng.IntN(20) {
			op.Points = append(op.Points, pt(), pt())
		}
		if rng.IntN(2) == 0 {
			op.Tool = ToolHighlighter
			for range len(op.Points) / 2 {
				op.Pressure = append(op.Pressure, pt())
			}
		}
	case n < 40:
		op = shape([]string{ShapeRect, ShapeEllipse, ShapeLine, ShapeArrow}[rng.IntN(4)], page)
	case n < 45:
		op = text(page, "Rate 420 €")
	case n < 58 && len(known) > 0:
		op = Op{Kind: KindErase}
		for range 1 + rng.IntN(3) {
			id := known[rng.IntN(len(known))]
			if rng.IntN(20) == 0 {
				id = ids.New() // unknown
			}
			if !contains(op.IDs, id) {
				op.IDs = append(op.IDs, id)
			}
		}
	case n < 62:
		op = Op{Kind: KindClear, Page: page}
	case n < 78:
		op = Op{Kind: KindUndo}
	case n < 90:
		op = Op{Kind: KindRedo}
	case n < 95:
		op = Op{Kind: KindPointer, Page: page, Points: []float64{pt(), pt()}}
	default:
		op = Op{Kind: KindBackground, Page: 1 + rng.IntN(docAPages+1)}
		if rng.IntN(2) == 0 {
			op.Doc = docA
		}
	}
	if op.Kind != KindErase && rng.IntN(4) == 0 && op.Page != 0 {
		op.Doc = docA // a document page (refused until docA is presented)
	}
	return op
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// expected are the refusals a random op may meet.
var expected = []error{ErrBadPage, ErrForbidden, ErrUnknownObject, ErrNoChange, ErrNothingToUndo, ErrNothingToRedo}

// TestLateJoinerProperty: after a random op sequence every participant's
// replica — live from the start, joined late from State, or reconnected
// with Since — equals the board's State, and so does a board reopened from
// the store.
func TestLateJoinerProperty(t *testing.T) {
	for seed := range uint64(12) {
		e := newEnv(t, nil, Options{})
		r := newRoom(t, e.open(meetingA), 1)
		rng := rand.New(rand.NewPCG(seed, 7))
		actors := []Actor{advisor, customer, other}
		var known []string
		var away *Replica // a participant whose connection dropped
		for i := range 400 {
			a := actors[rng.IntN(len(actors))]
			op := randomOp(rng, a, known)
			acc, err := r.do(a, op)
			if err != nil {
				ok := false
				for _, want := range expected {
					ok = ok || errors.Is(err, want)
				}
				if !ok {
					t.Fatalf("seed %d op %d (%s): %v", seed, i, op.Kind, err)
				}
				continue
			}
			if creates(acc.Kind) {
				known = append(known, acc.ID)
			}
			switch rng.IntN(40) {
			case 0:
				r.join()
			case 1:
				if away == nil && len(r.replicas) > 1 {
					away = r.replicas[len(r.replicas)-1]
					r.replicas = r.replicas[:len(r.replicas)-1]
				}
			}
		}
		r.check(visibleIDs(t, r.b, page1)...)
		live, err := r.b.State(t.Context(), PageRef{})
		must(t, err)
		if away != nil {
			ops, err := r.b.Since(t.Context(), away.Seq(), 0)
			must(t, err)
			for _, op := range ops {
				must(t, away.Apply(wire(t, op)))
			}
			if jsonOf(t, away.State()) != jsonOf(t, live) {
				t.Fatalf("seed %d: reconnected replica differs", seed)
			}
		}
		reopened := e.open(meetingA)
		again, err := reopened.State(t.Context(), PageRef{})
		must(t, err)
		if jsonOf(t, again) != jsonOf(t, live) {
			t.Fatalf("seed %d: reopened board differs:\n got %s\nwant %s", seed, jsonOf(t, again), jsonOf(t, live))
		}
		// The reopened board continues where the live one stopped, undo
		// lists included, and the live board follows it.
		for _, a := range actors {
			for _, kind := range []string{KindUndo, KindRedo} {
				_, err1 := reopened.Apply(t.Context(), a, Op{Kind: kind})
				if err1 != nil && !errors.Is(err1, ErrNothingToUndo) && !errors.Is(err1, ErrNothingToRedo) {
					t.Fatal(err1)
				}
			}
		}
		s1, err := reopened.State(t.Context(), PageRef{})
		must(t, err)
		s2, err := r.b.State(t.Context(), PageRef{})
		must(t, err)
		if jsonOf(t, s1) != jsonOf(t, s2) || s1.Seq == live.Seq && live.Seq == 0 {
			t.Fatalf("seed %d: live board did not follow the reopened one", seed)
		}
	}
}

// TestTwoBoardsOneStore: two Boards of one meeting on one store (two relay
// processes, or a reopened board) stay consistent: each catches up with the
// other's ops before applying its own.
func TestTwoBoardsOneStore(t *testing.T) {
	e := newEnv(t, nil, Options{})
	b1, b2 := e.open(meetingA), e.open(meetingA)
	x := apply(t, b1, customer, stroke(1, 0.1, 0.1))
	y := apply(t, b2, advisor, stroke(1, 0.2, 0.2))
	if y.Seq != x.Seq+1 {
		t.Fatalf("second board numbered %d after %d", y.Seq, x.Seq)
	}
	u := apply(t, b2, customer, Op{Kind: KindUndo})
	if u.Target != x.Seq {
		t.Fatalf("undo on the other board targets %d", u.Target)
	}
	eq(t, visibleIDs(t, b1, page1), []string{y.ID})
	_, err := b1.Apply(e.ctx, other, Op{Kind: KindErase, IDs: []string{x.ID}})
	wantErr(t, err, ErrNoChange)
}

// TestSince: a reconnecting participant gets the ops after its last one;
// asking from beyond the log, or from before expired ops, means resync.
func TestSince(t *testing.T) {
	e := newEnv(t, nil, Options{})
	b := e.open(meetingA)
	var accepted []Op
	for i := range 5 {
		accepted = append(accepted, apply(t, b, customer, stroke(1, 0.1*float64(i), 0.1)))
	}
	accepted = append(accepted, apply(t, b, customer, Op{Kind: KindUndo}))
	ops, err := b.Since(e.ctx, 3, 0)
	must(t, err)
	if len(ops) != 3 || ops[0].Seq != 4 || jsonOf(t, ops[2]) != jsonOf(t, accepted[5]) {
		t.Fatalf("since 3: %s", jsonOf(t, ops))
	}
	ops, err = b.Since(e.ctx, 0, 2)
	must(t, err)
	if len(ops) != 2 || ops[1].Seq != 2 {
		t.Fatalf("since 0 limit 2: %s", jsonOf(t, ops))
	}
	ops, err = b.Since(e.ctx, 6, 0)
	if err != nil || len(ops) != 0 {
		t.Fatalf("since the last: %v %v", ops, err)
	}
	_, err = b.Since(e.ctx, 7, 0)
	wantErr(t, err, ErrResync)
}
