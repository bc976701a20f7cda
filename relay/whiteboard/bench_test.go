package whiteboard

import (
	"log/slog"
	"testing"
)

// benchStroke is a handwriting-sized scribble of n points somewhere on
// the page (k picks where).
func benchStroke(n, k int) Op {
	op := stroke(1)
	op.Points = nil
	cx, cy := 0.05+0.9*float64(k%97)/97, 0.05+0.9*float64(k%89)/89
	for i := range n {
		op.Points = append(op.Points, cx+0.04*float64(i%7)/7, cy+0.03*float64(i%5)/5)
	}
	return op
}

// BenchmarkApplyMemory applies 50-point strokes on the in-memory store.
func BenchmarkApplyMemory(b *testing.B) {
	e := newEnv(b, nil, Options{MaxObjectsPerPage: 1 << 30, MaxBoardBytes: 1 << 40, Logger: slog.New(slog.DiscardHandler)})
	board := e.open(meetingA)
	for b.Loop() {
		if _, err := board.Apply(e.ctx, customer, benchStroke(50, 1)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyBadger applies 50-point strokes on the encrypted store
// (each op one synced transaction).
func BenchmarkApplyBadger(b *testing.B) {
	db := openBadger(b, b.TempDir())
	defer db.Close()
	e := newEnv(b, db, Options{MaxObjectsPerPage: 1 << 30, MaxBoardBytes: 1 << 40, Logger: slog.New(slog.DiscardHandler)})
	board := e.open(meetingA)
	for b.Loop() {
		if _, err := board.Apply(e.ctx, customer, benchStroke(50, 1)); err != nil {
			b.Fatal(err)
		}
	}
}

// board5000 is a board with 5,000 objects on one page.
func board5000(b *testing.B) (*env, *Board) {
	e := newEnv(b, nil, Options{Logger: slog.New(slog.DiscardHandler)})
	board := e.open(meetingA)
	for i := range 5000 {
		op := benchStroke(20, i)
		if i%10 == 0 {
			op = shape(ShapeArrow, 1)
		}
		if _, err := board.Apply(e.ctx, customer, op); err != nil {
			b.Fatal(err)
		}
	}
	return e, board
}

// BenchmarkState5000 fetches the state of a board with 5,000 objects, as
// a late joiner does.
func BenchmarkState5000(b *testing.B) {
	e, board := board5000(b)
	for b.Loop() {
		st, err := board.State(e.ctx, PageRef{})
		if err != nil || len(st.Pages[0].Objects) != 5000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkState5000JSON is BenchmarkState5000 with the JSON encoding the
// signalling layer adds.
func BenchmarkState5000JSON(b *testing.B) {
	e, board := board5000(b)
	for b.Loop() {
		st, err := board.State(e.ctx, PageRef{})
		if err != nil {
			b.Fatal(err)
		}
		jsonOf(b, st)
	}
}

// BenchmarkOpen5000 reopens (replays) a board with 5,000 objects.
func BenchmarkOpen5000(b *testing.B) {
	e, _ := board5000(b)
	for b.Loop() {
		e.open(meetingA)
	}
}

// BenchmarkRender renders the sample page at 1280×720.
func BenchmarkRender(b *testing.B) {
	st := sampleState()
	bg := gradient()
	for b.Loop() {
		if _, err := RenderPNG(st, page1, 1280, 720, bg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender5000 renders a page with 5,000 objects at 1280×720.
func BenchmarkRender5000(b *testing.B) {
	e, board := board5000(b)
	st, err := board.State(e.ctx, PageRef{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Render(st, page1, 1280, 720, nil); err != nil {
			b.Fatal(err)
		}
	}
}
