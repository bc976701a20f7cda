// Package call holds the live consultation's end-to-end test and join-time
// benchmark: the advisor's desktop media engine (synthetic camera and
// microphone, signalling over QUIC) and a real Chromium customer on the
// join page meet through an in-process relay.
package call

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pion/webrtc/v4"

	"parley/mediaengine"
	"parley/mediaengine/source"
	"parley/relay/auth"
	"parley/relay/server"
	"parley/relay/sfu"
	"parley/sync/link"
	"parley/tests/browser"
	"parley/tests/internal/testenv"
)

const adminPassword = "Wolke-Sieben-Anker-42"

// stepTimeout bounds each wait; it only stops a hung test, nothing asserts
// on durations.
const stepTimeout = 45 * time.Second

// desk is the advisor's side: a relay, the link client and a call.
type desk struct {
	relay *server.Server
	dir   string
	link  *link.Client
	call  *mediaengine.Call
	m     link.Meeting
	url   string

	mu      sync.Mutex
	chats   map[string]int
	waiting []string // ids of the waiting room's latest list
	wake    chan struct{}
}

func startDesk(t testing.TB, autoAdmit bool) *desk {
	t.Helper()
	d := &desk{dir: t.TempDir(), chats: map[string]int{}, wake: make(chan struct{}, 1)}
	var err error
	d.relay, err = server.Start(context.Background(), server.Options{DataDir: d.dir, Listen: "127.0.0.1:0",
		TenantSlug: "bank", AdminPassword: adminPassword, Hash: auth.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.relay.Close() })
	d.link = link.New(link.Options{})
	t.Cleanup(func() { _ = d.link.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if err := d.link.Trust(d.relay.URL(), d.relay.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if tr, err := d.link.Connect(ctx, d.relay.URL()); err != nil || tr != link.TransportQUIC {
		t.Fatalf("connect: %s %v", tr, err)
	}
	if _, err := d.link.Login(ctx, "bank", "admin", adminPassword); err != nil {
		t.Fatal(err)
	}
	var l link.JoinLink
	d.m, l, err = d.link.CreateMeeting(ctx, "Beratung")
	if err != nil {
		t.Fatal(err)
	}
	d.url = l.URL
	se := webrtc.SettingEngine{}
	sfu.LoopbackOnly(&se)
	d.call, err = mediaengine.Start(context.Background(), mediaengine.Options{
		Dial:      func(ctx context.Context) (mediaengine.Conn, error) { return d.link.Signal(ctx) },
		MeetingID: d.m.ID, Camera: source.TestPattern{}, Microphone: source.Tone{Freq: 440}, SettingEngine: se,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.call.Close() })
	go func() {
		for ev := range d.call.Events() {
			d.mu.Lock()
			switch e := ev.(type) {
			case mediaengine.ChatReceived:
				d.chats[e.Entry.Text]++
			case mediaengine.WaitingChanged:
				d.waiting = d.waiting[:0]
				for _, w := range e.Waiting {
					d.waiting = append(d.waiting, w.ID)
					if autoAdmit {
						go func(id string) {
							ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
							defer cancel()
							_ = d.link.Admit(ctx, d.m.ID, id)
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
	}()
	return d
}

// until waits until cond holds for the advisor's side.
func (d *desk) until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(stepTimeout)
	for {
		d.mu.Lock()
		ok := cond()
		d.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-d.wake:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("advisor: timed out waiting for %s", what)
		}
	}
}

// customerTrack is the advisor's remote track of kind, or nil.
func (d *desk) customerTrack(kind mediaengine.TrackKind) *mediaengine.RemoteTrack {
	for _, tr := range d.call.Tracks() {
		if tr.Kind == kind {
			return tr
		}
	}
	return nil
}

func (d *desk) browser(t testing.TB) context.Context {
	return browser.New(t, browser.Options{TrustCertFiles: []string{testenv.CertFile(d.dir)}})
}

// page functions on the join page.
const (
	viewJS = `document.getElementById('join').dataset.view`
	// tileJS returns the frames decoded by the first tile of kind and
	// whether its stream has a live audio track.
	tileJS = `(kind) => {
		const f = document.querySelector('#stage figure.tile[data-kind="' + kind + '"]');
		if (!f) return null;
		const v = f.querySelector('video'), s = v.srcObject;
		return {frames: v.getVideoPlaybackQuality().totalVideoFrames, width: v.videoWidth,
			audio: !!s && s.getAudioTracks().some(a => a.readyState === 'live' && !a.muted)};
	}`
)

type tile struct {
	Frames int  `json:"frames"`
	Width  int  `json:"width"`
	Audio  bool `json:"audio"`
}

// waitFrames waits until the page's tile of kind decoded more than after
// frames (and, with audio, plays live audio), and returns it.
func waitFrames(t testing.TB, ctx context.Context, kind string, after int, audio bool) tile {
	t.Helper()
	js := `(kind, after, audio) => { const s = (` + tileJS + `)(kind);
		return s && s.frames > after && s.width > 0 && (!audio || s.audio) ? s : null; }`
	st, err := chromedp.Run(ctx, chromedp.PollFunction[tile](js, chromedp.WithPollingArgs(kind, after, audio),
		chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		view, _ := chromedp.Run(ctx, chromedp.Evaluate[string](viewJS))
		t.Fatalf("customer: %s video never passed %d frames (view %q): %v", kind, after, view, err)
	}
	return st
}

func waitView(t testing.TB, ctx context.Context, view string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](viewJS+` === `+"'"+view+"'", chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		cur, _ := chromedp.Run(ctx, chromedp.Evaluate[string](viewJS))
		t.Fatalf("customer: the page never showed %q (now %q): %v", view, cur, err)
	}
}

// join opens the link in ctx and asks to join as name.
func join(t testing.TB, ctx context.Context, url, name string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	waitView(t, ctx, "form")
	if err := chromedp.Do(ctx, chromedp.SendKeys("#name", name, chromedp.NodeVisible), chromedp.Click("#join-button")); err != nil {
		t.Fatal(err)
	}
}

// TestAdvisorDesktopMeetsChromiumCustomer is the end-to-end test:
// a real Chromium customer (fake camera and microphone) waits until the
// advisor admits them, then both decode a growing number of each other's
// video frames and hear each other; chat goes both ways; the advisor's
// screen share appears at the customer.
func TestAdvisorDesktopMeetsChromiumCustomer(t *testing.T) {
	d := startDesk(t, false)
	ctx := d.browser(t)
	join(t, ctx, d.url, "Max Kunde")
	waitView(t, ctx, "waiting")
	d.until(t, "the customer in the waiting room", func() bool { return len(d.waiting) == 1 })
	// Still waiting: no media before admission.
	if tr := d.customerTrack(mediaengine.KindCamera); tr != nil {
		t.Fatal("the advisor receives the customer's camera before admitting them")
	}
	d.mu.Lock()
	id := d.waiting[0]
	d.mu.Unlock()
	actx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if err := d.link.Admit(actx, d.m.ID, id); err != nil {
		t.Fatal(err)
	}

	// The customer sees the advisor's camera and hears the tone.
	first := waitFrames(t, ctx, "camera", 0, true)
	waitFrames(t, ctx, "camera", first.Frames+10, true)
	// The advisor decodes the customer's camera and hears Chromium's beep.
	var frames uint64
	var loud bool
	d.until(t, "the customer's video and audio at the advisor", func() bool {
		v, a := d.customerTrack(mediaengine.KindCamera), d.customerTrack(mediaengine.KindAudio)
		if v == nil || a == nil {
			return false
		}
		if frames == 0 {
			frames = v.Decoded()
		}
		loud = loud || a.Level() > 0.005
		return frames > 0 && v.Decoded() > frames+10 && loud
	})

	// Chat both ways.
	if err := chromedp.Do(ctx, chromedp.SendKeys("#chat-input", "Guten Tag aus dem Browser"+kb.Enter, chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	d.until(t, "the customer's chat message", func() bool { return d.chats["Guten Tag aus dem Browser"] == 1 })
	if _, err := d.call.SendChat("Willkommen, Herr Kunde"); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll('#chat-list li[data-kind="chat"] .entry-text')]
		.filter(p => p.textContent === 'Willkommen, Herr Kunde').length === 1`, chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		t.Fatalf("the advisor's chat message did not appear once at the customer: %v", err)
	}

	// The advisor shares the screen; it appears at the customer.
	if err := d.call.StartScreenShare(source.TestScreen{}); err != nil {
		t.Fatal(err)
	}
	scr := waitFrames(t, ctx, "screen", 0, false)
	waitFrames(t, ctx, "screen", scr.Frames+2, false)
	browser.Screenshot(t, ctx, "call-desktop-advisor-chromium-customer.png")
}
