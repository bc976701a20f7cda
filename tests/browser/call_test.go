package browser

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"parley/tests/internal/testenv"
)

// TestCallTwoCustomers puts two customers (separate browser contexts, like
// two visitors) into one meeting through the relay's SFU and checks what
// each page shows: the other's camera playing and their sound arriving,
// mute and screen share reaching the other side, recovery after the
// signalling connection drops, and the end of the meeting.
func TestCallTwoCustomers(t *testing.T) {
	e := startJoinEnv(t)
	m := e.newMeeting(t, "Depotberatung")
	anna := e.joinBrowser(t, "en-US", 1280, 900)
	withTestHooks(t, anna)
	bernd := NewTab(t, anna, true)
	withTestHooks(t, bernd)
	reqs := RecordRequests(t, anna)

	pa := e.joinWaiting(t, anna, m, "Anna Albers")
	pb := e.joinWaiting(t, bernd, m, "Bernd Becker")

	// While waiting: the camera preview plays and the devices are listed.
	setup, err := chromedp.Run(anna, chromedp.PollFunction[map[string]any](`() => {
		const v = document.getElementById('preview');
		const cams = document.getElementById('camera-select').options.length;
		const mics = document.getElementById('mic-select').options.length;
		return !v.hidden && v.videoWidth > 0 && cams > 0 && mics > 0 ? {cams, mics, width: v.videoWidth} : null;
	}`, chromedp.WithPollingTimeout(callTimeout)))
	if err != nil {
		t.Fatalf("the waiting room shows no camera preview or no device lists: %v (page: %+v)", err, callDebug(t, anna))
	}
	t.Logf("set-up: %v", setup)
	Screenshot(t, anna, "call-setup-en.png")

	e.admit(t, m, pa)
	e.admit(t, m, pb)
	waitView(t, anna, "admitted")
	waitView(t, bernd, "admitted")

	// Each sees and hears the other.
	a := waitVideoFlowing(t, anna, "Bernd Becker", "camera", true)
	b := waitVideoFlowing(t, bernd, "Anna Albers", "camera", true)
	t.Logf("Anna sees Bernd: %+v; Bernd sees Anna: %+v", a, b)
	if a.Count != 1 || b.Count != 1 {
		t.Errorf("camera tiles per peer: Anna sees %d of Bernd, Bernd sees %d of Anna; want 1", a.Count, b.Count)
	}
	if txt := waitIndicator(t, anna, "connected"); txt != "Connected" {
		t.Errorf("indicator reads %q", txt)
	}
	waitIndicator(t, bernd, "connected")
	Screenshot(t, anna, "call-desktop-en.png")

	// Mute: the other side learns it from the roster.
	if err := chromedp.Do(anna, chromedp.Click("#btn-mic", chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bernd, chromedp.PollFunction[bool](`() => {
		const s = (`+findTile+`)('Anna Albers', 'camera');
		return !!s && s.badges.includes('Microphone off');
	}`, chromedp.WithPollingTimeout(callTimeout))); err != nil {
		t.Errorf("Bernd does not see Anna muted: %v", err)
	}
	if label, _ := chromedp.Run(anna, chromedp.Text("#btn-mic")); label != "Unmute" {
		t.Errorf("after muting the button reads %q, want Unmute", label)
	}
	if err := chromedp.Do(anna, chromedp.Click("#btn-mic")); err != nil {
		t.Fatal(err)
	}

	// Screen share: a real getDisplayMedia (Chromium's fake screen).
	if err := chromedp.Do(anna, chromedp.Click("#btn-screen", chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	s := waitVideoFlowing(t, bernd, "Anna Albers", "screen", false)
	if !strings.Contains(s.Caption, "screen") {
		t.Errorf("screen tile caption %q", s.Caption)
	}
	if shown, _ := chromedp.Run(anna, chromedp.Evaluate[bool](`!document.getElementById('sharing').hidden`)); !shown {
		t.Errorf("Anna's page does not say that she is sharing her screen")
	}
	Screenshot(t, bernd, "call-screen-en.png")
	// The browser's own "Stop sharing" ends the track: the page stops.
	run(t, anna, `window.parleyTest.screenTrack().dispatchEvent(new Event('ended'))`)
	waitNoTile(t, bernd, "Anna Albers", "screen")
	if label, _ := chromedp.Run(anna, chromedp.Text("#btn-screen")); label != "Share screen" {
		t.Errorf("after the browser ended the share the button reads %q", label)
	}

	// The other screenshots: 360 px and German.
	if err := chromedp.Do(anna, chromedp.EmulateViewport(360, 740)); err != nil {
		t.Fatal(err)
	}
	widths, err := chromedp.Run(anna, chromedp.Evaluate[[]int](`[window.innerWidth, document.documentElement.scrollWidth]`))
	if err != nil || len(widths) != 2 || widths[1] > widths[0] {
		t.Errorf("in the call at 360 px: [innerWidth, scrollWidth] = %v (%v), want no horizontal overflow", widths, err)
	}
	Screenshot(t, anna, "call-360-en.png")
	if err := chromedp.Do(anna, chromedp.Click(`.lang-switch button[data-lang="de"]`, chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	if label, _ := chromedp.Run(anna, chromedp.Text("#btn-leave")); label != "Verlassen" {
		t.Errorf("German leave button reads %q", label)
	}
	Screenshot(t, anna, "call-360-de.png")
	if err := chromedp.Do(anna, chromedp.EmulateReset()); err != nil {
		t.Fatal(err)
	}
	Screenshot(t, anna, "call-desktop-de.png")

	// The signalling connection drops: the page reconnects with a fresh
	// peer connection and media flows again both ways.
	run(t, bernd, `window.parleyTest.dropSignal()`)
	waitIndicator(t, bernd, "connected")
	waitVideoFlowing(t, bernd, "Anna Albers", "camera", true)
	waitVideoFlowing(t, anna, "Bernd Becker", "camera", true)
	if n := waitTile(t, anna, "Bernd Becker", "camera").Count; n != 1 {
		t.Errorf("after Bernd reconnected Anna sees %d tiles of him, want 1", n)
	}

	// Nothing left the relay.
	if out := reqs.Outside(e.srv.URL()); len(out) > 0 {
		t.Errorf("the meeting page sent requests outside the relay: %q", out)
	}

	// The advisor ends the meeting: both pages say so.
	e.advisor.Must(t, http.MethodPost, "/api/v1/meetings/"+m.ID+"/end", nil, http.StatusNoContent, nil)
	if v := waitView(t, anna, "meeting_ended"); v.Heading != "Der Termin ist beendet" {
		t.Errorf("Anna's ended view: %+v", v)
	}
	if v := waitView(t, bernd, "meeting_ended"); v.Heading != "The meeting has ended" {
		t.Errorf("Bernd's ended view: %+v", v)
	}
	// Camera and microphone are released.
	live, err := chromedp.Run(bernd, chromedp.Evaluate[int](`[...document.querySelectorAll('video')].filter(v => v.srcObject).length`))
	if err != nil || live != 0 {
		t.Errorf("after the end %d video elements still hold streams (%v)", live, err)
	}
}

// TestCallReplacedAndRemoved: the same participant opened in a second tab
// takes the meeting over (the first tab says so and can take it back),
// and a participant the advisor removes is told.
func TestCallReplacedAndRemoved(t *testing.T) {
	e := startJoinEnv(t)
	m := e.newMeeting(t, "")
	first := e.joinBrowser(t, "en-US", 1000, 800)
	p := e.joinWaiting(t, first, m, "Clara Clausen")
	e.admit(t, m, p)
	waitView(t, first, "admitted")
	waitIndicator(t, first, "connected")

	// A second tab of the same browser with the first tab's session (as
	// when the customer duplicates the tab).
	kept, err := chromedp.Run(first, chromedp.Evaluate[string](`sessionStorage.getItem('parley.join.participant')`))
	if err != nil || !strings.Contains(kept, "pmp_") {
		t.Fatalf("the first tab keeps no participant secret: %q (%v)", kept, err)
	}
	second := NewTab(t, first, false)
	if err := chromedp.Do(second, chromedp.Navigate(e.srv.URL()+"/")); err != nil {
		t.Fatal(err)
	}
	run(t, second, `sessionStorage.setItem('parley.join.participant', `+jsString(kept)+`)`)
	if err := chromedp.Do(second, chromedp.Navigate(m.JoinURL)); err != nil {
		t.Fatal(err)
	}
	waitView(t, second, "admitted")
	v := waitView(t, first, "replaced")
	if v.Heading != "Opened in another tab" {
		t.Errorf("replaced view: %+v", v)
	}
	if label, _ := chromedp.Run(first, chromedp.Text("#retry", chromedp.NodeVisible)); label != "Continue here" {
		t.Errorf("the replaced view offers %q, want \"Continue here\"", label)
	}
	Screenshot(t, first, "call-replaced-en.png")

	// Take it back.
	if err := chromedp.Do(first, chromedp.Click("#retry", chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	waitView(t, first, "admitted")
	waitIndicator(t, first, "connected")
	waitView(t, second, "replaced")

	// The advisor removes the customer.
	e.advisor.Must(t, http.MethodPost, "/api/v1/meetings/"+m.ID+"/participants/"+p.ID+"/remove", nil, http.StatusNoContent, nil)
	if v := waitView(t, first, "removed"); v.Heading != "You are no longer in the meeting" {
		t.Errorf("removed view: %+v", v)
	}
	if st := readStorage(t, first); strings.Contains(strings.Join(st.Session, " "), "pmp_") {
		t.Errorf("the secret is still kept after the removal: %q", st.Session)
	}
}

// TestCallWithoutDevices: a customer who refuses camera and microphone is
// told what that means, still joins, sees and hears the other customer,
// and is shown to the other as a tile without camera and microphone.
func TestCallWithoutDevices(t *testing.T) {
	e := startJoinEnv(t)
	m := e.newMeeting(t, "")
	dora := e.joinBrowser(t, "de-DE", 1000, 800)
	// Emil's browser asks for real (no fake UI) and the answer is no.
	emil := New(t, Options{
		TrustCertFiles: []string{testenv.CertFile(e.dir)},
		Width:          1000, Height: 800,
		Flags: map[string]any{"lang": "de-DE", "accept-lang": "de-DE", "use-fake-ui-for-media-stream": false},
	})
	denyDevices(t, emil)

	pd := e.joinWaiting(t, dora, m, "Dora Dreher")
	pe := e.joinWaiting(t, emil, m, "Emil Ernst")
	msg, err := chromedp.Run(emil, chromedp.PollFunction[string](`() => {
		const m = document.getElementById('device-msg');
		return !m.hidden && m.classList.contains('problem') ? m.textContent : null;
	}`, chromedp.WithPollingTimeout(callTimeout)))
	if err != nil || !strings.Contains(msg, "gesperrt") || !strings.Contains(msg, "trotzdem teilnehmen") {
		t.Errorf("refused devices: message %q (%v)", msg, err)
	}
	if vis, _ := chromedp.Run(emil, chromedp.Evaluate[bool](`!document.getElementById('device-retry').hidden && document.getElementById('preview').hidden`)); !vis {
		t.Errorf("refused devices: want a retry button and no preview")
	}
	Screenshot(t, emil, "call-setup-denied-de.png")

	e.admit(t, m, pd)
	e.admit(t, m, pe)
	waitView(t, emil, "admitted")
	waitVideoFlowing(t, emil, "Dora Dreher", "camera", true)
	tile := waitTile(t, dora, "Emil Ernst", "camera")
	if !strings.Contains(tile.Badges, "Kamera aus") || !strings.Contains(tile.Badges, "Mikrofon aus") {
		t.Errorf("Dora sees Emil's tile with badges %q, want camera and microphone off", tile.Badges)
	}
	waitIndicator(t, emil, "connected")
	Screenshot(t, dora, "call-receive-only-peer-de.png")
}
