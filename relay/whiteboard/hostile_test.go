package whiteboard

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"

	"parley/relay/ids"
	"parley/relay/store"
)

// storedKeys counts the keys under the package's prefix.
func storedKeys(t testing.TB, kv store.KV) (n int, bytes int) {
	t.Helper()
	must(t, kv.View(context.Background(), func(tx store.Txn) error {
		return tx.Scan([]byte("wb/"), func(k, v []byte) error {
			n++
			bytes += len(k) + len(v)
			return nil
		})
	}))
	return n, bytes
}

// TestHostileOps: each hostile op gets its sentinel error and stores
// nothing; the message never repeats the op's content.
func TestHostileOps(t *testing.T) {
	e := newEnv(t, nil, Options{MaxPoints: 500})
	b := e.open(meetingA)
	huge := make([]float64, 2_000_000) // 10^6 points
	for i := range huge {
		huge[i] = 0.5
	}
	bad := func(mut func(*Op)) Op { o := stroke(1, 0.1, 0.2, 0.3, 0.4); mut(&o); return o }
	secret := "Kontonummer DE02120300000000202051"
	cases := []struct {
		name string
		a    Actor
		op   Op
		want error
	}{
		{"a million points", customer, bad(func(o *Op) { o.Points = huge }), ErrTooLarge},
		{"one over MaxPoints", customer, bad(func(o *Op) { o.Points = huge[:1002] }), ErrTooLarge},
		{"NaN", customer, bad(func(o *Op) { o.Points[1] = math.NaN() }), ErrInvalid},
		{"+Inf", customer, bad(func(o *Op) { o.Points[2] = math.Inf(1) }), ErrInvalid},
		{"negative", customer, bad(func(o *Op) { o.Points[0] = -0.001 }), ErrInvalid},
		{"beyond the page", customer, bad(func(o *Op) { o.Points[3] = 1.0001 }), ErrInvalid},
		{"odd coordinates", customer, bad(func(o *Op) { o.Points = o.Points[:3] }), ErrInvalid},
		{"no points", customer, bad(func(o *Op) { o.Points = []float64{} }), ErrInvalid},
		{"NaN pressure", customer, bad(func(o *Op) { o.Pressure = []float64{0.5, math.NaN()} }), ErrInvalid},
		{"pressure count", customer, bad(func(o *Op) { o.Pressure = []float64{0.5} }), ErrInvalid},
		{"unknown tool", customer, bad(func(o *Op) { o.Tool = "spraycan" }), ErrInvalid},
		{"NaN width", customer, bad(func(o *Op) { o.Width = math.NaN() }), ErrInvalid},
		{"wide", customer, bad(func(o *Op) { o.Width = 0.5 }), ErrInvalid},
		{"colour", customer, bad(func(o *Op) { o.Color = "red" }), ErrInvalid},
		{"id", customer, bad(func(o *Op) { o.ID = "../../wb/b/x" }), ErrInvalid},
		{"foreign field", customer, bad(func(o *Op) { o.Text = secret }), ErrInvalid},
		{"server field", customer, bad(func(o *Op) { o.Seq = 99 }), ErrInvalid},
		{"unknown kind", customer, Op{Kind: "explode"}, ErrInvalid},
		{"unknown shape", customer, Op{Kind: KindShape, ID: ids.New(), Page: 1, Shape: "star", Color: "#000000", Width: 0.01, Points: []float64{0, 0, 1, 1}}, ErrInvalid},
		{"huge text", customer, text(1, strings.Repeat(secret, 10000)), ErrTooLarge},
		{"text one over", customer, text(1, strings.Repeat("ä", DefaultMaxTextRunes+1)), ErrTooLarge},
		{"text control", customer, text(1, secret+"\x1b[2J"), ErrInvalid},
		{"text bidi", customer, text(1, "\u202e"+secret), ErrInvalid},
		{"blank text", customer, text(1, " \n "), ErrInvalid},
		{"forged page 0", customer, stroke(0, 0.1, 0.1), ErrBadPage},
		{"forged page -3", customer, stroke(-3, 0.1, 0.1), ErrBadPage},
		{"forged blank page", customer, stroke(MaxBlankPages+1, 0.1, 0.1), ErrBadPage},
		{"page of a document never presented", customer, func() Op { o := stroke(1, 0.1, 0.1); o.Doc = docA; return o }(), ErrBadPage},
		{"clear forged page", customer, Op{Kind: KindClear, Page: 1 << 40}, ErrBadPage},
		{"pointer forged page", customer, Op{Kind: KindPointer, Page: 999, Points: []float64{0.5, 0.5}}, ErrBadPage},
		{"background by a customer", customer, Op{Kind: KindBackground, Doc: docA, Page: 1}, ErrForbidden},
		{"background page beyond the document", advisor, Op{Kind: KindBackground, Doc: docA, Page: docAPages + 1}, ErrBadPage},
		{"background of an unknown document", advisor, Op{Kind: KindBackground, Doc: ids.New(), Page: 1}, ErrUnknownDocument},
		{"erase unknown", customer, Op{Kind: KindErase, IDs: []string{ids.New()}}, ErrUnknownObject},
		{"erase nothing", customer, Op{Kind: KindErase, IDs: []string{}}, ErrInvalid},
		{"erase twice the same", customer, func() Op { id := ids.New(); return Op{Kind: KindErase, IDs: []string{id, id}} }(), ErrInvalid},
		{"undo of nothing", customer, Op{Kind: KindUndo}, ErrNothingToUndo},
		{"redo of nothing", customer, Op{Kind: KindRedo}, ErrNothingToRedo},
		{"undo with a field", customer, Op{Kind: KindUndo, Page: 1}, ErrInvalid},
		{"bad actor", Actor{ID: "a/b", Role: "customer"}, stroke(1, 0.1, 0.1), ErrInvalid},
		{"bad role", Actor{ID: "p-1", Role: "admin"}, stroke(1, 0.1, 0.1), ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acc, err := b.Apply(e.ctx, c.a, c.op)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if acc.Seq != 0 {
				t.Fatalf("rejected op got seq %d", acc.Seq)
			}
			if strings.Contains(err.Error(), "Kontonummer") {
				t.Fatalf("error repeats the content: %v", err)
			}
		})
	}
	if n, _ := storedKeys(t, e.kv); n != 0 {
		t.Fatalf("rejected ops stored %d keys", n)
	}
	if strings.Contains(e.logs.String(), "Kontonummer") || strings.Contains(e.logs.String(), "a/b") {
		t.Fatalf("log repeats input:\n%s", e.logs.String())
	}
	if c := b.Counts(customer.ID); c.Accepted != 0 || c.Rejected == 0 {
		t.Fatalf("counts %+v", c)
	}
}

// TestMillionShapes: a participant flooding one page is refused after
// MaxObjectsPerPage and the rest of the board after MaxBoardBytes; the
// store never holds more than the caps allow.
func TestMillionShapes(t *testing.T) {
	const perPage, boardBytes = 300, 64 << 10
	e := newEnv(t, nil, Options{MaxObjectsPerPage: perPage, MaxBoardBytes: boardBytes, Logger: slog.New(slog.DiscardHandler)})
	b := e.open(meetingA)
	var accepted, full, boardFull int
	for i := range floodOps {
		page := 1
		if i >= floodOps/2 {
			page = 1 + i%MaxBlankPages // then spread over every page
		}
		_, err := b.Apply(e.ctx, customer, shape(ShapeEllipse, page))
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, ErrPageFull):
			full++
		case errors.Is(err, ErrBoardFull):
			boardFull++
		default:
			t.Fatalf("shape %d: %v", i, err)
		}
	}
	if full == 0 || boardFull == 0 {
		t.Fatalf("accepted %d, page full %d, board full %d", accepted, full, boardFull)
	}
	st, err := b.State(e.ctx, PageRef{Page: 1})
	must(t, err)
	if n := len(st.Objects(PageRef{Page: 1})); n > perPage {
		t.Fatalf("page 1 holds %d objects", n)
	}
	n, size := storedKeys(t, e.kv)
	if n != 2*accepted+1 || size > 2*boardBytes {
		t.Fatalf("store holds %d keys (%d bytes) for %d accepted ops", n, size, accepted)
	}
	if c := b.Counts(customer.ID); c.Accepted != uint64(accepted) || c.Rejected != uint64(full+boardFull) {
		t.Fatalf("counts %+v", c)
	}
}

// TestBackgroundPages: the advisor presents a document page by page;
// drawing is allowed on its pages only; the blank board stays usable.
func TestBackgroundPages(t *testing.T) {
	e := newEnv(t, nil, Options{})
	b := e.open(meetingA)
	st, err := b.State(e.ctx, PageRef{})
	must(t, err)
	if st.Background != (Background{Page: 1}) {
		t.Fatalf("initial background %+v", st.Background)
	}
	bg := apply(t, b, advisor, Op{Kind: KindBackground, Doc: docA, Page: 2})
	if bg.Pages != docAPages {
		t.Fatalf("background pages %d", bg.Pages)
	}
	on := stroke(3, 0.5, 0.5)
	on.Doc = docA
	apply(t, b, customer, on)
	_, err = b.Apply(e.ctx, customer, func() Op { o := stroke(docAPages+1, 0.5, 0.5); o.Doc = docA; return o }())
	wantErr(t, err, ErrBadPage)
	apply(t, b, customer, stroke(7, 0.5, 0.5)) // blank board page 7
	ptr := apply(t, b, customer, Op{Kind: KindPointer, Doc: docA, Page: 2, Points: []float64{0.3, 0.3}})
	if ptr.Seq != 0 || ptr.Author != customer.ID {
		t.Fatalf("pointer %+v", ptr)
	}
	st, err = b.State(e.ctx, PageRef{})
	must(t, err)
	if st.Background != (Background{Doc: docA, Page: 2, Pages: docAPages}) || len(st.Pages) != 2 || st.Seq != 3 {
		t.Fatalf("state %s", jsonOf(t, st))
	}
	// Pointer ops are never stored.
	if n, _ := storedKeys(t, e.kv); n != 2*3+1 {
		t.Fatalf("%d keys stored", n)
	}
	apply(t, b, advisor, Op{Kind: KindBackground, Page: 4})
	st, err = b.State(e.ctx, PageRef{Doc: docA, Page: 3})
	must(t, err)
	if st.Background != (Background{Page: 4}) || len(st.Pages) != 1 || st.Pages[0].Doc != docA {
		t.Fatalf("state of one page %s", jsonOf(t, st))
	}
	_, err = b.State(e.ctx, PageRef{Page: -1})
	wantErr(t, err, ErrBadPage)
}
