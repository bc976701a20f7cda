package browser

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// callTimeout bounds each wait for something to happen in a call: ICE,
// DTLS and the first decoded frames on a busy machine. It only stops a
// hung test; nothing asserts on durations.
const callTimeout = 45 * time.Second

// withTestHooks makes the page of tab ctx install window.parleyTest
// (call.js) on every load from now on.
func withTestHooks(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: "window.parleyTestHooks = true;"}); err != nil {
		t.Fatalf("install test hooks: %v", err)
	}
}

// run evaluates the JavaScript statement js in tab ctx.
func run(t *testing.T, ctx context.Context, js string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("("+js+", true)")); err != nil {
		t.Fatalf("run %s: %v", js, err)
	}
}

// joinWaiting opens the meeting's link in tab ctx, joins as name and
// returns the participant once the advisor's list shows them waiting.
func (e *joinEnv) joinWaiting(t *testing.T, ctx context.Context, m joinMeeting, name string) participant {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(m.JoinURL)); err != nil {
		t.Fatalf("load %s: %v", m.JoinURL, err)
	}
	waitView(t, ctx, "form")
	if err := chromedp.Do(ctx, chromedp.SendKeys("#name", name, chromedp.NodeVisible), chromedp.Click("#join-button")); err != nil {
		t.Fatal(err)
	}
	waitView(t, ctx, "waiting")
	return e.waitingParticipant(t, m.ID, name)
}

func (e *joinEnv) admit(t *testing.T, m joinMeeting, p participant) {
	t.Helper()
	e.advisor.Must(t, http.MethodPost, "/api/v1/meetings/"+m.ID+"/participants/"+p.ID+"/admit", nil, http.StatusNoContent, nil)
}

// tileState is what the page shows of one remote stream.
type tileState struct {
	Caption string   `json:"caption"`
	Badges  string   `json:"badges"`
	Frames  int      `json:"frames"`
	Width   int      `json:"width"`
	Audio   []string `json:"audio"` // readyState of each audio track, "-muted" when no media flows
	Count   int      `json:"count"` // tiles of this kind whose caption starts with the name
}

// findTile is a page function: the tile of kind ("camera" or "screen")
// whose caption starts with name, with its decoded frames and audio.
const findTile = `(name, kind) => {
	const tiles = [...document.querySelectorAll('#stage figure.tile[data-kind="' + kind + '"]')]
		.filter(f => f.querySelector('.tile-name').textContent.startsWith(name));
	if (tiles.length === 0) return null;
	const f = tiles[0], v = f.querySelector('video'), s = v.srcObject;
	return {caption: f.querySelector('.tile-name').textContent, badges: f.querySelector('.tile-badges').textContent,
		frames: v.getVideoPlaybackQuality().totalVideoFrames, width: v.videoWidth,
		audio: s ? s.getAudioTracks().map(a => a.readyState + (a.muted ? '-muted' : '')) : [],
		count: tiles.length};
}`

// waitTile waits until tab ctx shows name's tile of kind and returns it.
func waitTile(t *testing.T, ctx context.Context, name, kind string) tileState {
	t.Helper()
	st, err := chromedp.Run(ctx, chromedp.PollFunction[tileState](findTile,
		chromedp.WithPollingArgs(name, kind), chromedp.WithPollingTimeout(callTimeout)))
	if err != nil {
		t.Fatalf("no %s tile of %q: %v (page: %+v)", kind, name, err, callDebug(t, ctx))
	}
	return st
}

// waitVideoFlowing waits until name's tile of kind has decoded frames and
// then more of them: the video plays, it is not one frozen picture. With
// audio it also waits for a live, unmuted audio track (RTP arriving).
func waitVideoFlowing(t *testing.T, ctx context.Context, name, kind string, audio bool) tileState {
	t.Helper()
	const flowing = `(name, kind, after, audio) => {
		const s = (` + findTile + `)(name, kind);
		if (!s || s.frames <= after || s.width === 0) return null;
		if (audio && !s.audio.includes('live')) return null;
		return s;
	}`
	first, err := chromedp.Run(ctx, chromedp.PollFunction[tileState](flowing,
		chromedp.WithPollingArgs(name, kind, 0, audio), chromedp.WithPollingTimeout(callTimeout)))
	if err != nil {
		cur, _ := chromedp.Run(ctx, chromedp.Evaluate[*tileState]("("+findTile+")("+jsString(name)+","+jsString(kind)+")"))
		t.Fatalf("%s video of %q never played: %v (tile: %+v, page: %+v)", kind, name, err, cur, callDebug(t, ctx))
	}
	later, err := chromedp.Run(ctx, chromedp.PollFunction[tileState](flowing,
		chromedp.WithPollingArgs(name, kind, first.Frames, audio), chromedp.WithPollingTimeout(callTimeout)))
	if err != nil {
		t.Fatalf("%s video of %q stopped at %d frames: %v", kind, name, first.Frames, err)
	}
	return later
}

// waitNoTile waits until tab ctx shows no tile of kind for name.
func waitNoTile(t *testing.T, ctx context.Context, name, kind string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.PollFunction[bool](`(name, kind) => !(`+findTile+`)(name, kind)`,
		chromedp.WithPollingArgs(name, kind), chromedp.WithPollingTimeout(callTimeout)))
	if err != nil {
		t.Fatalf("the %s tile of %q did not go away: %v", kind, name, err)
	}
}

// waitIndicator waits until the call's connection indicator is in state.
func waitIndicator(t *testing.T, ctx context.Context, state string) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.PollFunction[string](`(want) => {
		const i = document.getElementById('indicator');
		return i && i.dataset.state === want ? i.textContent.trim() : null;
	}`, chromedp.WithPollingArgs(state), chromedp.WithPollingTimeout(callTimeout)))
	if err != nil {
		t.Fatalf("the connection indicator never showed %q: %v (page: %+v)", state, err, callDebug(t, ctx))
	}
	return text
}

// callDebugState is logged when a call test fails.
type callDebugState struct {
	View      string `json:"view"`
	Indicator string `json:"indicator"`
	Tiles     []string
	Devices   string `json:"devices"`
}

func callDebug(t *testing.T, ctx context.Context) callDebugState {
	t.Helper()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[callDebugState](`({view: document.getElementById('join').dataset.view,
		indicator: document.getElementById('indicator').dataset.state,
		tiles: [...document.querySelectorAll('#stage figure.tile')].map(f => f.dataset.kind + ':' + f.textContent.trim()),
		devices: document.getElementById('device-msg').textContent})`))
	return s
}

// timelineTexts returns the texts of the chat messages tab ctx lists.
func timelineTexts(t *testing.T, ctx context.Context) []string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#chat-list li[data-kind="chat"] .entry-text')].map(p => p.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitTimelineText waits until tab ctx lists a chat message with text.
func waitTimelineText(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.PollFunction[bool](`(text) =>
		[...document.querySelectorAll('#chat-list li[data-kind="chat"]')].some(li =>
			li.dataset.entry && li.querySelector('.entry-text').textContent === text)`,
		chromedp.WithPollingArgs(text), chromedp.WithPollingTimeout(callTimeout)))
	if err != nil {
		t.Fatalf("the chat message %q never appeared (timeline: %q): %v", text, timelineTexts(t, ctx), err)
	}
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// denyDevices makes tab ctx's browser context refuse camera and
// microphone, as when the customer says no to the browser's question.
func denyDevices(t *testing.T, ctx context.Context) {
	t.Helper()
	for _, name := range []string{"camera", "microphone"} {
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission:       &browser.PermissionDescriptor{Name: name},
			Setting:          browser.PermissionSettingDenied,
			BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
		})
		if err != nil {
			t.Fatalf("deny %s: %v", name, err)
		}
	}
}

// allowDownloads saves the downloads of tab ctx's browser context in dir
// under their suggested names.
func allowDownloads(t *testing.T, ctx context.Context, dir string) {
	t.Helper()
	_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:         browser.SetDownloadBehaviorBehaviorAllow,
		BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
		DownloadPath:     dir,
	})
	if err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
}

// waitFile waits until path exists with want's length (Chromium writes a
// .crdownload first and renames it when done) and returns its bytes.
func waitFile(t *testing.T, path string, size int) []byte {
	t.Helper()
	deadline := time.Now().Add(callTimeout)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) == size {
			return b
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Dir(path))
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("download %s never completed (folder holds %q)", path, names)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// twoInCall joins two customers, each in their own browser context, and
// admits both; it returns their tabs once each sees the other's video.
func (e *joinEnv) twoInCall(t *testing.T, m joinMeeting, lang string, nameA, nameB string) (context.Context, context.Context) {
	t.Helper()
	a := e.joinBrowser(t, lang, 1280, 900)
	withTestHooks(t, a)
	b := NewTab(t, a, true)
	withTestHooks(t, b)
	pa := e.joinWaiting(t, a, m, nameA)
	pb := e.joinWaiting(t, b, m, nameB)
	e.admit(t, m, pa)
	e.admit(t, m, pb)
	waitVideoFlowing(t, a, nameB, "camera", false)
	waitVideoFlowing(t, b, nameA, "camera", false)
	return a, b
}
