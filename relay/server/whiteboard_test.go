package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"testing"
	"time"

	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/signal/msg"
	"parley/relay/whiteboard"
)

// TestWhiteboardThroughRelay: a meeting's shared PDF and image can be
// presented on its board with their page counts, other files cannot, and
// the retention sweep deletes the board's ops after seven days.
func TestWhiteboardThroughRelay(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	s, api := startClockedRelay(t, clk)
	token := api.login()
	var created struct{ Meeting struct{ ID string } }
	if st := api.call("POST", "/api/v1/meetings", token, map[string]string{}, &created); st != 201 {
		t.Fatalf("create meeting: %d", st)
	}
	id := created.Meeting.ID
	author := chat.Author{ID: "u1", Name: "Anna", Role: msg.RoleAdvisor}
	put := func(name string, b []byte) string {
		e, err := s.chat.PutFile(ctx, id, author, name, bytes.NewReader(b))
		if err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
		return e.ID
	}
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	pdfID, pngID, txtID := put("a.pdf", twoPagePDF()), put("a.png", img.Bytes()), put("a.txt", []byte("Notiz"))

	b, err := s.whiteboard.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	adv := whiteboard.Actor{ID: "u1", Role: msg.RoleAdvisor}
	for _, c := range []struct {
		doc   string
		page  int
		pages int
		err   error
	}{{pdfID, 2, 2, nil}, {pdfID, 3, 0, whiteboard.ErrBadPage}, {pngID, 1, 1, nil}, {txtID, 1, 0, whiteboard.ErrUnknownDocument},
		{"0123456789abcdef0123456789abcdef", 1, 0, whiteboard.ErrUnknownDocument}} {
		acc, err := b.Apply(ctx, adv, whiteboard.Op{Kind: whiteboard.KindBackground, Doc: c.doc, Page: c.page})
		if !errors.Is(err, c.err) || (c.err == nil && acc.Pages != c.pages) {
			t.Errorf("present page %d of %s: pages %d, %v; want %d, %v", c.page, c.doc, acc.Pages, err, c.pages, c.err)
		}
	}
	if _, err := b.Apply(ctx, adv, whiteboard.Op{Kind: whiteboard.KindStroke, ID: "00000000000000000000000000000001", Page: 1,
		Tool: whiteboard.ToolPen, Color: "#000000", Width: 0.004, Points: []float64{0.1, 0.1}}); err != nil {
		t.Fatal(err)
	}

	clk.Advance(whiteboard.Retention - time.Minute)
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := func() whiteboard.State {
		b, err := s.whiteboard.Open(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		st, err := b.State(ctx, whiteboard.PageRef{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := fresh(); len(st.Pages) != 1 {
		t.Fatalf("before the deadline: %+v", st)
	}
	clk.Advance(2 * time.Minute)
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	// Reading under the meeting's rule no longer shows the ops, and the
	// sweep removed them from the store: a rule-free service sees none.
	if st := fresh(); len(st.Pages) != 0 || st.Background.Doc != "" {
		t.Fatalf("after the deadline: %+v", st)
	}
	raw, err := whiteboard.New(whiteboard.Options{Store: s.store, Clock: clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := raw.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ops, err := rb.Since(ctx, 0, 0); err != nil || len(ops) != 0 {
		t.Fatalf("stored ops after the sweep: %d, %v", len(ops), err)
	}
}

// twoPagePDF is a minimal valid PDF with two pages.
func twoPagePDF() []byte {
	var b bytes.Buffer
	offsets := []int{}
	obj := func(s string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj %s endobj\n", len(offsets), s)
	}
	b.WriteString("%PDF-1.4\n")
	obj("<</Type /Catalog /Pages 2 0 R>>")
	obj("<</Type /Pages /Kids [3 0 R 4 0 R] /Count 2>>")
	obj("<</Type /Page /Parent 2 0 R /MediaBox [0 0 200 200]>>")
	obj("<</Type /Page /Parent 2 0 R /MediaBox [0 0 200 200]>>")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer <</Size %d /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}
