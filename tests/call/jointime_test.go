package call

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"parley/tests/browser"
	"parley/tests/internal/desk"
)

// joinTimer records, in the page's own clock (ms since navigation), when
// the page shows the waiting room, when it is admitted, and when the
// advisor's first video frame is presented.
const joinTimer = `window.__jt = {};
new MutationObserver(() => {
	const jt = window.__jt, main = document.getElementById('join');
	if (main && !jt.waiting && main.dataset.view === 'waiting') jt.waiting = performance.now();
	if (main && !jt.admitted && jt.waiting && main.dataset.view !== 'waiting') jt.admitted = performance.now();
	const v = document.querySelector('#stage figure.tile[data-peer][data-kind="camera"] video');
	if (v && !v.__jt) { v.__jt = true; v.requestVideoFrameCallback(() => { jt.frame = jt.frame || performance.now(); }); }
}).observe(document, {subtree: true, childList: true, attributes: true});`

type joinTimes struct {
	Waiting  float64 `json:"waiting"`
	Admitted float64 `json:"admitted"`
	Frame    float64 `json:"frame"`
}

// BenchmarkJoinTime measures a customer's join in Chromium: the link is
// opened, the name typed and sent, the advisor (the desktop media engine,
// admitting at once) lets them in, and the advisor's first video frame is
// presented. Run with -benchtime 10x; it reports medians of the page's
// own timestamps. Timing never fails it.
func BenchmarkJoinTime(b *testing.B) {
	d := desk.Start(b, true)
	ctx := newBrowser(b, d)
	var total, admitToFrame, toWaiting []float64
	for i := 0; b.Loop(); i++ {
		tab := browser.NewTab(b, ctx, true)
		if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: joinTimer}); err != nil {
			b.Fatal(err)
		}
		join(b, tab, d.URL, fmt.Sprintf("Kunde %d", i))
		jt, err := chromedp.Run(tab, chromedp.Poll[joinTimes](`window.__jt && window.__jt.frame ? window.__jt : null`,
			chromedp.WithPollingTimeout(desk.StepTimeout)))
		if err != nil {
			b.Fatalf("join %d: no first frame: %v", i, err)
		}
		total = append(total, jt.Frame)
		admitToFrame = append(admitToFrame, jt.Frame-jt.Admitted)
		toWaiting = append(toWaiting, jt.Waiting)
		// Leave, so the room does not grow.
		lctx, cancel := context.WithTimeout(tab, 10*time.Second)
		_ = chromedp.Do(lctx, chromedp.Click("#btn-leave", chromedp.NodeVisible))
		cancel()
	}
	b.ReportMetric(median(total), "ms-link-to-frame")
	b.ReportMetric(median(admitToFrame), "ms-admitted-to-frame")
	b.ReportMetric(median(toWaiting), "ms-link-to-waiting-room")
	b.ReportMetric(0, "ns/op")
	b.Logf("link → first frame (ms): %v", rounded(total))
	b.Logf("admitted → first frame (ms): %v", rounded(admitToFrame))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func rounded(xs []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x + 0.5)
	}
	return out
}
