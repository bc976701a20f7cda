package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"parley/relay/signal/msg"
	"parley/relay/whiteboard"
	"parley/tests/internal/testenv"
)

// boardAdvisor stands in for the advisor's desktop app: a signalling
// connection from Go that sends and collects whiteboard messages.
type boardAdvisor struct {
	t  *testing.T
	ws *websocket.Conn

	mu    sync.Mutex
	ops   []whiteboard.Op
	state *whiteboard.State
	errs  []string
	seen  chan struct{}
}

func (e *joinEnv) connectAdvisor(t *testing.T, meetingID string) *boardAdvisor {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ws, _, err := websocket.Dial(ctx, strings.Replace(e.srv.URL(), "https://", "wss://", 1)+"/api/v1/signal",
		&websocket.DialOptions{HTTPClient: testenv.RelayClient(t, e.dir), HTTPHeader: http.Header{"Origin": {e.srv.URL()}}})
	if err != nil {
		t.Fatalf("advisor websocket: %v", err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	a := &boardAdvisor{t: t, ws: ws, seen: make(chan struct{}, 1)}
	a.send(msg.Message{Type: msg.TypeHello, Token: e.advisor.Token, MeetingID: meetingID})
	go func() {
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var m msg.Message
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			a.mu.Lock()
			switch m.Type {
			case msg.TypeBoard:
				var o whiteboard.Op
				if json.Unmarshal(m.Board, &o) == nil {
					a.ops = append(a.ops, o)
				}
			case msg.TypeBoardState:
				var st whiteboard.State
				if json.Unmarshal(m.Board, &st) == nil {
					a.state = &st
				}
			case msg.TypeError:
				a.errs = append(a.errs, m.Code)
			}
			a.mu.Unlock()
			select {
			case a.seen <- struct{}{}:
			default:
			}
		}
	}()
	// Pings keep the connection within the relay's idle timeout.
	go func() {
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				b, _ := msg.Encode(msg.Message{Type: msg.TypePing})
				_ = ws.Write(ctx, websocket.MessageText, b)
			}
		}
	}()
	a.waitFor("the board's state", func() bool { return a.state != nil })
	return a
}

func (a *boardAdvisor) send(m msg.Message) {
	a.t.Helper()
	b, err := msg.Encode(m)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		a.t.Fatalf("advisor send %s: %v", m.Type, err)
	}
}

func (a *boardAdvisor) sendOp(o whiteboard.Op) {
	a.t.Helper()
	raw, err := json.Marshal(o)
	if err != nil {
		a.t.Fatal(err)
	}
	a.send(msg.Message{Type: msg.TypeBoard, Board: raw})
}

// waitFor waits until cond (called with a.mu held) holds.
func (a *boardAdvisor) waitFor(what string, cond func() bool) {
	a.t.Helper()
	deadline := time.After(callTimeout)
	for {
		a.mu.Lock()
		ok := cond()
		ops, errs := len(a.ops), a.errs
		a.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-a.seen:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			a.t.Fatalf("the advisor never saw %s (%d ops, errors %q)", what, ops, errs)
		}
	}
}

// boardObject is an object the page lists (parleyTest.board.objects).
type boardObject struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Author string `json:"author"`
}

// waitObjects waits until the page's board shows exactly the ids.
func waitObjects(t *testing.T, ctx context.Context, who string, ids ...string) {
	t.Helper()
	want := append([]string{}, ids...)
	slices.Sort(want)
	_, err := chromedp.Run(ctx, chromedp.PollFunction[bool](`(want) => {
		const b = window.parleyTest && window.parleyTest.board;
		if (!b || !b.ready()) return false;
		return 'ids:' + b.objects().map(o => o.id).sort().join(',') === want && b.pending() === 0;
	}`, chromedp.WithPollingArgs("ids:"+strings.Join(want, ",")), chromedp.WithPollingTimeout(callTimeout)))
	if err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[[]boardObject](`window.parleyTest.board ? window.parleyTest.board.objects() : []`))
		dbg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({hooks: window.parleyTest ? Object.keys(window.parleyTest) : null,
			ready: window.parleyTest && window.parleyTest.board ? window.parleyTest.board.ready() : null,
			pending: window.parleyTest && window.parleyTest.board ? window.parleyTest.board.pending() : null,
			error: document.getElementById('board-error').textContent, view: document.getElementById('join').dataset.view})`))
		t.Fatalf("%s's board never showed %q (shows %+v; %s): %v", who, ids, got, dbg, err)
	}
}

// canvasInk reports whether the board's canvas is painted (not white)
// near the page point (x, y).
func canvasInk(t *testing.T, ctx context.Context, x, y float64) bool {
	t.Helper()
	ink, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
		const c = document.getElementById('board-canvas'), g = c.getContext('2d');
		const cx = Math.round(%g * c.width), cy = Math.round(%g * c.height);
		const d = g.getImageData(cx - 3, cy - 3, 7, 7).data;
		for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i+1] < 200 || d[i+2] < 200) return true;
		return false;
	})()`, x, y)))
	if err != nil {
		t.Fatal(err)
	}
	return ink
}

// drawStroke drags the mouse over the canvas through the page points
// (fractions of the board): real input events, which Chromium turns into
// pointer events.
func drawStroke(t *testing.T, ctx context.Context, pts [][2]float64) {
	t.Helper()
	r, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`(() => {
		const r = document.getElementById('board-canvas').getBoundingClientRect();
		return {x: r.left, y: r.top, w: r.width, h: r.height};
	})()`))
	if err != nil || r["w"] == 0 {
		t.Fatalf("the board's canvas has no size: %v %v", r, err)
	}
	at := func(p [2]float64) (float64, float64) { return r["x"] + p[0]*r["w"], r["y"] + p[1]*r["h"] }
	pressed := func(p *input.DispatchMouseEventParams) { p.Buttons = 1 }
	x, y := at(pts[0])
	actions := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1), pressed)}
	for _, p := range pts[1:] {
		x, y = at(p)
		actions = append(actions, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y, chromedp.ButtonLeft, pressed))
	}
	actions = append(actions, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("drawing: %v", err)
	}
}

// TestBoardCustomerAndDesktop: a stroke drawn with the mouse in Chromium
// reaches the advisor's (Go) connection, the advisor's stroke appears and
// is painted in Chromium, a customer joining later sees both, undo by
// either removes their stroke everywhere, and the page shows the page the
// advisor presents.
func TestBoardCustomerAndDesktop(t *testing.T) {
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

	// Anna opens the whiteboard and draws with the pen.
	run(t, anna, `document.getElementById('btn-board').click()`)
	if p, _ := chromedp.Run(anna, chromedp.Evaluate[string](`document.getElementById('btn-board').getAttribute('aria-pressed')`)); p != "true" {
		t.Errorf("the whiteboard button is not pressed after opening: %q", p)
	}
	drawStroke(t, anna, [][2]float64{{0.2, 0.3}, {0.25, 0.32}, {0.3, 0.35}, {0.35, 0.4}, {0.4, 0.42}})
	var annaStroke whiteboard.Op
	adv.waitFor("Anna's stroke", func() bool {
		for _, o := range adv.ops {
			if o.Kind == whiteboard.KindStroke && o.Author == pa.ID {
				annaStroke = o
				return true
			}
		}
		return false
	})
	if n := len(annaStroke.Points); n < 4 || annaStroke.Points[0] < 0.18 || annaStroke.Points[0] > 0.22 || annaStroke.Tool != whiteboard.ToolPen {
		t.Errorf("Anna's stroke as the advisor got it: tool %q, %d coordinates from (%v)", annaStroke.Tool, n, annaStroke.Points[:min(2, n)])
	}
	waitObjects(t, anna, "Anna", annaStroke.ID)

	// The advisor draws; Anna's page paints it.
	advStroke := whiteboard.Op{Kind: whiteboard.KindStroke, ID: "a0000000000000000000000000000001", Page: 1, Tool: whiteboard.ToolPen,
		Color: "#c00000", Width: 0.01, Points: []float64{0.6, 0.6, 0.7, 0.6, 0.8, 0.6}}
	if canvasInk(t, anna, 0.7, 0.6) {
		t.Fatal("the canvas is painted where the advisor is about to draw")
	}
	adv.sendOp(advStroke)
	waitObjects(t, anna, "Anna", annaStroke.ID, advStroke.ID)
	if !canvasInk(t, anna, 0.7, 0.6) {
		t.Error("the advisor's stroke is listed but not painted on Anna's canvas")
	}

	// Bernd joins late and sees both.
	bernd := NewTab(t, anna, true)
	withTestHooks(t, bernd)
	pb := e.joinWaiting(t, bernd, m, "Bernd Becker")
	e.admit(t, m, pb)
	waitObjects(t, bernd, "Bernd", annaStroke.ID, advStroke.ID)

	// Anna undoes with Ctrl+Z: her stroke goes at the advisor and at Bernd.
	run(t, anna, `document.getElementById('board-canvas').focus()`)
	if err := chromedp.Do(anna, chromedp.KeyEvent("z", chromedp.KeyModifiers(chromedp.ModifierCtrl))); err != nil {
		t.Fatal(err)
	}
	adv.waitFor("Anna's undo", func() bool {
		for _, o := range adv.ops {
			if o.Kind == whiteboard.KindUndo && o.Author == pa.ID && slices.Equal(o.Hide, []string{annaStroke.ID}) {
				return true
			}
		}
		return false
	})
	waitObjects(t, bernd, "Bernd", advStroke.ID)
	waitObjects(t, anna, "Anna", advStroke.ID)

	// The advisor undoes: the advisor's stroke goes at both customers and
	// leaves Anna's canvas white there.
	adv.sendOp(whiteboard.Op{Kind: whiteboard.KindUndo})
	waitObjects(t, anna, "Anna")
	waitObjects(t, bernd, "Bernd")
	if canvasInk(t, anna, 0.7, 0.6) {
		t.Error("the undone stroke is still painted on Anna's canvas")
	}

	// Anna redoes with Ctrl+Y: her stroke is back everywhere.
	if err := chromedp.Do(anna, chromedp.KeyEvent("y", chromedp.KeyModifiers(chromedp.ModifierCtrl))); err != nil {
		t.Fatal(err)
	}
	waitObjects(t, bernd, "Bernd", annaStroke.ID)

	// The advisor presents page 2; the page says so, and a customer may not.
	adv.sendOp(whiteboard.Op{Kind: whiteboard.KindBackground, Page: 2})
	if _, err := chromedp.Run(anna, chromedp.PollFunction[bool](`() => document.getElementById('board-page').textContent === 'Seite 2'`,
		chromedp.WithPollingTimeout(callTimeout))); err != nil {
		txt, _ := chromedp.Run(anna, chromedp.Text("#board-page"))
		t.Errorf("Anna's page label reads %q after the advisor showed page 2: %v", txt, err)
	}
	waitObjects(t, bernd, "Bernd") // page 2 is empty
	Screenshot(t, anna, "board-de.png")

	if out := reqs.Outside(e.srv.URL() + "/"); len(out) > 0 {
		t.Errorf("the page with the whiteboard loaded from elsewhere: %q", out)
	}
}
