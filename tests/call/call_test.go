// Package call holds the live consultation's end-to-end test and join-time
// benchmark: the advisor's desktop media engine (synthetic camera and
// microphone, signalling over QUIC) and a real Chromium customer on the
// join page meet through an in-process relay.
package call

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"parley/mediaengine"
	"parley/mediaengine/source"
	"parley/tests/browser"
	"parley/tests/internal/desk"
	"parley/tests/internal/testenv"
)

// newBrowser starts Chromium trusting the desk's relay.
func newBrowser(t testing.TB, d *desk.Desk) context.Context {
	return browser.New(t, browser.Options{TrustCertFiles: []string{testenv.CertFile(d.Dir)}})
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
		chromedp.WithPollingTimeout(desk.StepTimeout)))
	if err != nil {
		view, _ := chromedp.Run(ctx, chromedp.Evaluate[string](viewJS))
		t.Fatalf("customer: %s video never passed %d frames (view %q): %v", kind, after, view, err)
	}
	return st
}

func waitView(t testing.TB, ctx context.Context, view string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](viewJS+` === `+"'"+view+"'", chromedp.WithPollingTimeout(desk.StepTimeout))); err != nil {
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
	d := desk.Start(t, false)
	ctx := newBrowser(t, d)
	join(t, ctx, d.URL, "Max Kunde")
	waitView(t, ctx, "waiting")
	d.Until(t, "the customer in the waiting room", func() bool { return len(d.Waiting()) == 1 })
	// Still waiting: no media before admission.
	if tr := d.CustomerTrack(mediaengine.KindCamera); tr != nil {
		t.Fatal("the advisor receives the customer's camera before admitting them")
	}
	id := d.Waiting()[0]
	actx, cancel := context.WithTimeout(context.Background(), desk.StepTimeout)
	defer cancel()
	if err := d.Link.Admit(actx, d.Meeting.ID, id); err != nil {
		t.Fatal(err)
	}

	// The customer sees the advisor's camera and hears the tone.
	first := waitFrames(t, ctx, "camera", 0, true)
	waitFrames(t, ctx, "camera", first.Frames+10, true)
	// The advisor decodes the customer's camera and hears Chromium's beep.
	var frames uint64
	var loud bool
	d.Until(t, "the customer's video and audio at the advisor", func() bool {
		v, a := d.CustomerTrack(mediaengine.KindCamera), d.CustomerTrack(mediaengine.KindAudio)
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
	d.Until(t, "the customer's chat message", func() bool { return d.Chats("Guten Tag aus dem Browser") == 1 })
	if _, err := d.Call.SendChat("Willkommen, Herr Kunde"); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll('#chat-list li[data-kind="chat"] .entry-text')]
		.filter(p => p.textContent === 'Willkommen, Herr Kunde').length === 1`, chromedp.WithPollingTimeout(desk.StepTimeout))); err != nil {
		t.Fatalf("the advisor's chat message did not appear once at the customer: %v", err)
	}

	// The advisor shares the screen; it appears at the customer.
	if err := d.Call.StartScreenShare(source.TestScreen{}); err != nil {
		t.Fatal(err)
	}
	scr := waitFrames(t, ctx, "screen", 0, false)
	waitFrames(t, ctx, "screen", scr.Frames+2, false)
	browser.Screenshot(t, ctx, "call-desktop-advisor-chromium-customer.png")
}
