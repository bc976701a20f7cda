package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pion/webrtc/v4"

	"parley/mediaengine"
	"parley/mediaengine/source"
	"parley/relay/server"
	"parley/relay/sfu"
	"parley/relay/whiteboard"
	"parley/sync/link"
	"parley/tests/internal/testenv"
)

// deskPassword is the admin's password on the desk relay.
const deskPassword = "correct horse battery staple 42"

// deskEnv is a relay for desktop-and-browser board tests.
type deskEnv struct {
	srv *server.Server
	dir string
}

func startDeskEnv(tb testing.TB) *deskEnv {
	tb.Helper()
	dir := tb.TempDir()
	s := testenv.StartRelayServer(tb, server.Options{DataDir: dir, TenantSlug: "bank", TenantName: "Musterbank", AdminPassword: deskPassword})
	return &deskEnv{srv: s, dir: dir}
}

// boardDesk is the advisor's desktop app without its window: the link
// client signed in over QUIC, the media engine in the meeting's call
// (camera and microphone off), and the board kept in a
// whiteboard.Replica exactly as the app's board model keeps it.
type boardDesk struct {
	tb   testing.TB
	link *link.Client
	call *mediaengine.Call

	mu      sync.Mutex
	rep     *whiteboard.Replica
	states  int
	ops     []whiteboard.Op
	arrived map[string]time.Time // stroke id → when the desktop got it
	waiting []string
	repErr  error // the replica refused an op (out of order)
	wake    chan struct{}
}

// newDesk signs the advisor in on a fresh link client.
func (e *deskEnv) newDesk(tb testing.TB) *boardDesk {
	tb.Helper()
	d := &boardDesk{tb: tb, arrived: map[string]time.Time{}, wake: make(chan struct{}, 1)}
	d.link = link.New(link.Options{})
	tb.Cleanup(func() { _ = d.link.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := d.link.Trust(e.srv.URL(), e.srv.Fingerprint()); err != nil {
		tb.Fatal(err)
	}
	if _, err := d.link.Connect(ctx, e.srv.URL()); err != nil {
		tb.Fatal(err)
	}
	if _, err := d.link.Login(ctx, "bank", "admin", deskPassword); err != nil {
		tb.Fatal(err)
	}
	return d
}

// meeting creates an instant meeting and returns its id and join URL.
func (d *boardDesk) meeting() (string, string) {
	d.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	m, l, err := d.link.CreateMeeting(ctx, "Whiteboard")
	if err != nil {
		d.tb.Fatal(err)
	}
	return m.ID, l.URL
}

// join starts the call; with admit every waiting customer is admitted.
func (d *boardDesk) join(meetingID string, admit bool) {
	d.tb.Helper()
	se := webrtc.SettingEngine{}
	sfu.LoopbackOnly(&se)
	call, err := mediaengine.Start(context.Background(), mediaengine.Options{
		Dial:      func(ctx context.Context) (mediaengine.Conn, error) { return d.link.Signal(ctx) },
		MeetingID: meetingID, Camera: source.TestPattern{}, Microphone: source.Tone{},
		StartMuted: true, StartCameraOff: true, SettingEngine: se,
	})
	if err != nil {
		d.tb.Fatal(err)
	}
	d.call = call
	d.tb.Cleanup(func() { _ = call.Close() })
	go d.follow(meetingID, admit)
	d.until("the board's state", func() bool { return d.rep != nil })
}

// follow applies the call's board events to the replica.
func (d *boardDesk) follow(meetingID string, admit bool) {
	for ev := range d.call.Events() {
		now := time.Now()
		d.mu.Lock()
		switch e := ev.(type) {
		case mediaengine.BoardStateReceived:
			var st whiteboard.State
			if json.Unmarshal(e.State, &st) == nil {
				d.rep = whiteboard.NewReplica(st)
				d.states++
			}
		case mediaengine.BoardReceived:
			var o whiteboard.Op
			if json.Unmarshal(e.Op, &o) == nil && d.rep != nil {
				if o.Kind == whiteboard.KindStroke {
					if _, ok := d.arrived[o.ID]; !ok {
						d.arrived[o.ID] = now
					}
				}
				d.ops = append(d.ops, o)
				if err := d.rep.Apply(o); err != nil {
					d.repErr = err
				}
			}
		case mediaengine.WaitingChanged:
			d.waiting = d.waiting[:0]
			for _, w := range e.Waiting {
				d.waiting = append(d.waiting, w.ID)
				if admit {
					go func(id string) {
						ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
						defer cancel()
						_ = d.link.Admit(ctx, meetingID, id)
					}(w.ID)
				}
			}
		}
		d.mu.Unlock()
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// until waits until cond (called with d.mu held) holds.
func (d *boardDesk) until(what string, cond func() bool) {
	d.tb.Helper()
	deadline := time.After(callTimeout)
	for {
		d.mu.Lock()
		ok, repErr := cond(), d.repErr
		d.mu.Unlock()
		if repErr != nil {
			d.tb.Fatalf("the desktop's replica: %v", repErr)
		}
		if ok {
			return
		}
		select {
		case <-d.wake:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			d.tb.Fatalf("the desktop never saw %s", what)
		}
	}
}

// visible lists the ids the desktop's replica shows on the blank board's
// page 1, sorted.
func (d *boardDesk) visible() []string {
	var out []string
	for _, o := range d.rep.State().Objects(whiteboard.PageRef{Page: 1}) {
		out = append(out, o.ID)
	}
	slices.Sort(out)
	return out
}

func (d *boardDesk) waitVisible(ids ...string) {
	d.tb.Helper()
	want := append([]string(nil), ids...)
	slices.Sort(want)
	d.until(fmt.Sprintf("exactly %q on the board", want), func() bool { return d.rep != nil && slices.Equal(d.visible(), want) })
}

// send sends an op from the desktop, as the app's board does.
func (d *boardDesk) send(o whiteboard.Op) {
	d.tb.Helper()
	raw, err := json.Marshal(o)
	if err != nil {
		d.tb.Fatal(err)
	}
	if _, err := whiteboard.DecodeOp(raw); err != nil {
		d.tb.Fatalf("the desktop's op is invalid: %v", err)
	}
	deadline := time.Now().Add(callTimeout)
	for {
		err := d.call.SendBoard(raw)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			d.tb.Fatalf("SendBoard: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// customer opens the join link in a new Chromium as name and waits until
// the page is in the call (the desk admits).
func (e *deskEnv) customer(tb testing.TB, url, name string) context.Context {
	tb.Helper()
	ctx := New(tb, Options{TrustCertFiles: []string{testenv.CertFile(e.dir)}, Width: 1280, Height: 900,
		Flags: map[string]any{"lang": "en-US", "accept-lang": "en-US"}})
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: "window.parleyTestHooks = true;"}); err != nil {
		tb.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		tb.Fatal(err)
	}
	const view = `document.getElementById('join') && document.getElementById('join').dataset.view`
	for _, want := range []string{"form", "admitted"} {
		if want == "admitted" {
			if err := chromedp.Do(ctx, chromedp.SendKeys("#name", name, chromedp.NodeVisible), chromedp.Click("#join-button")); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](view+` === '`+want+`'`, chromedp.WithPollingTimeout(callTimeout))); err != nil {
			tb.Fatalf("the join page never showed %q: %v", want, err)
		}
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!(window.parleyTest && window.parleyTest.board && window.parleyTest.board.ready())`,
		chromedp.WithPollingTimeout(callTimeout))); err != nil {
		tb.Fatalf("the page's board never got its state: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById('btn-board').click(), true)`)); err != nil {
		tb.Fatal(err)
	}
	return ctx
}

// bigStroke is a desktop stroke of n points along a wave at height y.
func bigStroke(id string, n int, y float64) whiteboard.Op {
	pts := make([]float64, 0, 2*n)
	for i := range n {
		x := 0.05 + 0.9*float64(i)/float64(n)
		pts = append(pts, math.Round(x*10000)/10000, math.Round((y+0.02*math.Sin(float64(i)/7))*10000)/10000)
	}
	return whiteboard.Op{Kind: whiteboard.KindStroke, ID: id, Page: 1, Tool: whiteboard.ToolPen, Color: "#1f4e79", Width: 0.002, Points: pts}
}

// TestBoardChromiumAndDesktopApp: the desktop app's media engine on the
// QUIC link and a customer in Chromium share the board through the
// relay: the customer's mouse stroke arrives in the desktop's replica,
// the desktop's stroke appears (and is painted) in Chromium, undo works
// across participants, the desktop's eraser and its undo act on the
// customer's stroke for everyone, and a desktop joining late gets the
// whole board in one state larger than the link's old 128 KiB line cap.
func TestBoardChromiumAndDesktopApp(t *testing.T) {
	e := startDeskEnv(t)
	desk := e.newDesk(t)
	meetingID, url := desk.meeting()
	desk.join(meetingID, true)
	anna := e.customer(t, url, "Anna Albers")

	// Anna draws with the mouse; the desktop gets it.
	drawStroke(t, anna, [][2]float64{{0.2, 0.3}, {0.25, 0.32}, {0.3, 0.35}, {0.35, 0.4}, {0.4, 0.42}})
	var annaStroke whiteboard.Op
	desk.until("Anna's stroke", func() bool {
		for _, o := range desk.ops {
			if o.Kind == whiteboard.KindStroke && o.Author != "" {
				annaStroke = o
				return true
			}
		}
		return false
	})
	desk.waitVisible(annaStroke.ID)
	if len(annaStroke.Points) < 4 || annaStroke.Points[0] < 0.18 || annaStroke.Points[0] > 0.22 {
		t.Errorf("Anna's stroke at the desktop starts at %v", annaStroke.Points[:min(2, len(annaStroke.Points))])
	}

	// The desktop draws; Anna's page lists and paints it.
	deskStroke := whiteboard.Op{Kind: whiteboard.KindStroke, ID: "d0000000000000000000000000000001", Page: 1, Tool: whiteboard.ToolPen,
		Color: "#c00000", Width: 0.01, Points: []float64{0.6, 0.6, 0.7, 0.6, 0.8, 0.6}}
	if canvasInk(t, anna, 0.7, 0.6) {
		t.Fatal("Anna's canvas is painted where the desktop is about to draw")
	}
	desk.send(deskStroke)
	waitObjects(t, anna, "Anna", annaStroke.ID, deskStroke.ID)
	desk.waitVisible(annaStroke.ID, deskStroke.ID)
	if !canvasInk(t, anna, 0.7, 0.6) {
		t.Error("the desktop's stroke is listed but not painted on Anna's canvas")
	}

	// Undo across participants: the desktop's undo takes its stroke away
	// at Anna; Anna's Ctrl+Z takes hers away at the desktop; redo both.
	desk.send(whiteboard.Op{Kind: whiteboard.KindUndo})
	waitObjects(t, anna, "Anna", annaStroke.ID)
	run(t, anna, `document.getElementById('board-canvas').focus()`)
	if err := chromedp.Do(anna, chromedp.KeyEvent("z", chromedp.KeyModifiers(chromedp.ModifierCtrl))); err != nil {
		t.Fatal(err)
	}
	desk.waitVisible()
	waitObjects(t, anna, "Anna")
	desk.send(whiteboard.Op{Kind: whiteboard.KindRedo})
	if err := chromedp.Do(anna, chromedp.KeyEvent("y", chromedp.KeyModifiers(chromedp.ModifierCtrl))); err != nil {
		t.Fatal(err)
	}
	waitObjects(t, anna, "Anna", annaStroke.ID, deskStroke.ID)
	desk.waitVisible(annaStroke.ID, deskStroke.ID)

	// The desktop erases Anna's stroke: gone for everyone; the desktop's
	// undo of the erase brings it back for everyone.
	desk.send(whiteboard.Op{Kind: whiteboard.KindErase, IDs: []string{annaStroke.ID}})
	waitObjects(t, anna, "Anna", deskStroke.ID)
	desk.waitVisible(deskStroke.ID)
	if canvasInk(t, anna, 0.3, 0.35) {
		t.Error("Anna's erased stroke is still painted on her canvas")
	}
	desk.send(whiteboard.Op{Kind: whiteboard.KindUndo})
	waitObjects(t, anna, "Anna", annaStroke.ID, deskStroke.ID)
	desk.waitVisible(annaStroke.ID, deskStroke.ID)

	// Fill the board beyond 128 KiB with long desktop strokes.
	want := []string{annaStroke.ID, deskStroke.ID}
	for i := range 6 {
		s := bigStroke(fmt.Sprintf("e%031d", i), whiteboard.DefaultMaxPoints, 0.1+0.12*float64(i))
		desk.send(s)
		want = append(want, s.ID)
	}
	desk.waitVisible(want...)
	waitObjects(t, anna, "Anna", want...)
	desk.mu.Lock()
	st := desk.rep.State()
	desk.mu.Unlock()
	raw, _ := json.Marshal(st)
	if len(raw) <= 128<<10 {
		t.Fatalf("the board's state is only %d bytes; the test wants more than 128 KiB", len(raw))
	}

	// The desktop leaves; a second desktop (the advisor on another
	// machine) joins late and gets the same board in one state.
	if err := desk.call.Close(); err != nil {
		t.Fatal(err)
	}
	late := e.newDesk(t)
	late.join(meetingID, false)
	late.waitVisible(want...)
	late.mu.Lock()
	if late.states != 1 || late.rep.Seq() != st.Seq {
		t.Errorf("the late desktop got %d states at seq %d, want 1 at %d", late.states, late.rep.Seq(), st.Seq)
	}
	late.mu.Unlock()
	t.Logf("late joiner's state: %d bytes, %d objects", len(raw), len(want))

	// The late desktop is the same advisor, so the same author: its undo
	// takes the last long stroke away at Anna.
	late.send(whiteboard.Op{Kind: whiteboard.KindUndo})
	waitObjects(t, anna, "Anna", want[:len(want)-1]...)
	late.waitVisible(want[:len(want)-1]...)
}

// BenchmarkBoardStrokeBrowserToDesktop measures a stroke's latency from
// Chromium to the desktop app: from the moment the customer's page
// dispatches the pointerup that sends a 10-point stroke (the page's own
// clock, performance.timeOrigin + now) to the moment the desktop's media
// engine delivers the relayed op (time.Now; one machine, one clock).
// It reports p50 and p99 in milliseconds.
func BenchmarkBoardStrokeBrowserToDesktop(b *testing.B) {
	e := startDeskEnv(b)
	desk := e.newDesk(b)
	meetingID, url := desk.meeting()
	desk.join(meetingID, true)
	anna := e.customer(b, url, "Anna Albers")

	const strokeJS = `((y) => {
		const c = document.getElementById('board-canvas'), r = c.getBoundingClientRect();
		const at = (x, yy) => ({clientX: r.left + x * r.width, clientY: r.top + yy * r.height, pointerId: 7,
			pointerType: 'mouse', button: 0, buttons: 1, isPrimary: true, bubbles: true});
		c.dispatchEvent(new PointerEvent('pointerdown', at(0.1, y)));
		for (let i = 1; i <= 9; i++) c.dispatchEvent(new PointerEvent('pointermove', at(0.1 + i * 0.05, y + (i % 2) * 0.01)));
		const t0 = performance.timeOrigin + performance.now();
		c.dispatchEvent(new PointerEvent('pointerup', at(0.55, y)));
		return t0;
	})`
	var lat []float64
	b.ResetTimer()
	for i := range b.N {
		desk.mu.Lock()
		before := len(desk.arrived)
		desk.mu.Unlock()
		y := 0.05 + 0.9*float64(i%97)/97
		t0, err := chromedp.Run(anna, chromedp.Evaluate[float64](fmt.Sprintf("%s(%g)", strokeJS, y)))
		if err != nil {
			b.Fatal(err)
		}
		var got time.Time
		desk.until("the stroke", func() bool {
			if len(desk.arrived) <= before {
				return false
			}
			for _, at := range desk.arrived {
				if at.After(got) {
					got = at
				}
			}
			return true
		})
		lat = append(lat, float64(got.UnixNano())/1e6-t0)
		// Stay well within the relay's 50 ops/s per participant (a stroke
		// and a pointer each).
		time.Sleep(60 * time.Millisecond)
	}
	b.StopTimer()
	sort.Float64s(lat)
	q := func(p float64) float64 { return lat[min(len(lat)-1, int(math.Ceil(p*float64(len(lat))))-1)] }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
	if b.N >= 20 {
		b.Logf("%d strokes: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%s)", len(lat), q(0.5), q(0.99), lat[len(lat)-1],
			strings.TrimSpace(fmt.Sprint(desk.link.Transport())))
	}
}
