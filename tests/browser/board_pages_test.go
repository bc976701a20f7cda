package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"

	"parley/relay/whiteboard"
)

// boardPDF is a two-page 16:9 PDF: page 1 has a black rectangle in its
// upper left (x 100..700 of 1600 pt, y 100..400 of 900 pt from the top),
// page 2 is empty.
func boardPDF() []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.7\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 /MediaBox [0 0 1600 900] >>")
	obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>")
	c := "0 0 0 rg 100 500 600 300 re f"
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(c), c))
	obj("<< /Type /Page /Parent 2 0 R /Contents 6 0 R >>")
	obj("<< /Length 0 >>\nstream\n\nendstream")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// waitBackground waits until the board shows the page image of the
// presented page (hooks: backgroundImage() === "ok") and says so on the
// canvas.
func waitBackground(t *testing.T, ctx context.Context, page int) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.PollFunction[bool](`(page) => {
		const b = window.parleyTest && window.parleyTest.board;
		return !!b && b.background().page === page && b.backgroundImage() === 'ok' &&
			document.getElementById('board-canvas').dataset.background === 'image';
	}`, chromedp.WithPollingArgs(page), chromedp.WithPollingTimeout(callTimeout)))
	if err != nil {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({bg: window.parleyTest.board.background(),
			img: window.parleyTest.board.backgroundImage(), canvas: document.getElementById('board-canvas').dataset.background})`))
		t.Fatalf("the board never showed page %d's image: %s: %v", page, st, err)
	}
}

// TestBoardShowsPresentedPDFPages: the advisor shares a PDF in the meeting
// and presents it on the board; the customer's board draws the relay's
// page image behind the strokes (the rectangle of page 1 is dark where
// the PDF has it, the rest white), the advisor's stroke is drawn over it,
// and turning to page 2 shows that page.
func TestBoardShowsPresentedPDFPages(t *testing.T) {
	e := startJoinEnv(t)
	m := e.newMeeting(t, "")
	anna := e.joinBrowser(t, "de-DE", 1280, 900)
	withTestHooks(t, anna)
	reqs := RecordRequests(t, anna)
	pa := e.joinWaiting(t, anna, m, "Anna Albers")
	e.admit(t, m, pa)
	waitView(t, anna, "admitted")
	adv := e.connectAdvisor(t, m.ID)
	waitObjects(t, anna, "Anna")
	run(t, anna, `document.getElementById('btn-board').click()`)
	if canvasInk(t, anna, 0.25, 0.28) {
		t.Fatal("the blank board is painted where the document's rectangle will be")
	}

	status, body, _ := e.advisorDo(t, "POST", "/api/v1/meetings/"+m.ID+"/files?name=Angebot.pdf", boardPDF())
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}
	var up struct {
		Entry struct{ ID string } `json:"entry"`
	}
	if err := json.Unmarshal(body, &up); err != nil || up.Entry.ID == "" {
		t.Fatalf("upload answer %s: %v", body, err)
	}

	adv.sendOp(whiteboard.Op{Kind: whiteboard.KindBackground, Doc: up.Entry.ID, Page: 1})
	waitBackground(t, anna, 1)
	if !canvasInk(t, anna, 0.25, 0.28) {
		t.Error("the page image's rectangle is not dark on Anna's board")
	}
	if canvasInk(t, anna, 0.75, 0.75) || canvasInk(t, anna, 0.5, 0.05) {
		t.Error("the page image is not white outside the rectangle")
	}
	// A stroke on the document page is drawn over the image.
	stroke := whiteboard.Op{Kind: whiteboard.KindStroke, ID: "b0000000000000000000000000000001", Doc: up.Entry.ID, Page: 1,
		Tool: whiteboard.ToolPen, Color: "#c00000", Width: 0.01, Points: []float64{0.6, 0.8, 0.7, 0.8, 0.8, 0.8}}
	adv.sendOp(stroke)
	waitObjects(t, anna, "Anna", stroke.ID)
	if !canvasInk(t, anna, 0.7, 0.8) {
		t.Error("the advisor's stroke is not painted over the page image")
	}
	Screenshot(t, anna, "board-pdf-page.png")

	// Page 2 is white: its image replaces page 1's.
	adv.sendOp(whiteboard.Op{Kind: whiteboard.KindBackground, Doc: up.Entry.ID, Page: 2})
	waitBackground(t, anna, 2)
	if canvasInk(t, anna, 0.25, 0.28) {
		t.Error("page 2 still shows page 1's rectangle")
	}

	if out := reqs.Outside(e.srv.URL() + "/"); len(out) > 0 {
		t.Errorf("the page with the whiteboard loaded from elsewhere: %q", out)
	}
}
