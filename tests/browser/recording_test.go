package browser

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"parley/relay/ids"
	"parley/relay/recording"
	"parley/relay/server"
	"parley/relay/signal/msg"
	"parley/relay/store"
	"parley/relay/whiteboard"
	"parley/tests/internal/testenv"
)

// recAdvisor stands in for the advisor's desktop app in the recording
// test: a signalling connection from Go that asks to record, chats, draws
// and collects the recording states.
type recAdvisor struct {
	t  *testing.T
	ws *websocket.Conn

	mu     sync.Mutex
	states []msg.RecordingState
	errs   []string
}

func (e *joinEnv) connectRecAdvisor(t *testing.T, meetingID string) *recAdvisor {
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
	a := &recAdvisor{t: t, ws: ws}
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
			case msg.TypeRecording:
				if m.Recording != nil {
					a.states = append(a.states, *m.Recording)
				}
			case msg.TypeError:
				a.errs = append(a.errs, m.Code)
			}
			a.mu.Unlock()
		}
	}()
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
	return a
}

func (a *recAdvisor) send(m msg.Message) {
	a.t.Helper()
	b, err := msg.Encode(m)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		a.t.Fatalf("advisor send %s: %v", m.Type, err)
	}
}

// waitState waits until the advisor has seen a state of the request in
// the phase.
func (a *recAdvisor) waitState(request int, phase string) msg.RecordingState {
	a.t.Helper()
	deadline := time.Now().Add(callTimeout)
	for {
		a.mu.Lock()
		for _, st := range a.states {
			if st.Request == request && st.Phase == phase {
				a.mu.Unlock()
				return st
			}
		}
		n, errs := len(a.states), a.errs
		a.mu.Unlock()
		if time.Now().After(deadline) {
			a.t.Fatalf("the advisor never saw request %d %s (%d states, errors %q)", request, phase, n, errs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// webmDoc is the part of a WebM file the test counts.
type webmDoc struct {
	Segment struct {
		Tracks struct {
			TrackEntry []struct {
				CodecID string `ebml:"CodecID"`
			} `ebml:"TrackEntry"`
		} `ebml:"Tracks"`
		Cluster []struct {
			SimpleBlock []ebml.Block `ebml:"SimpleBlock"`
		} `ebml:"Cluster"`
	} `ebml:"Segment"`
}

// trackFile is one sealed WebM file of the meeting's recording.
type trackFile struct {
	name     string
	codec    string
	frames   int
	complete bool
}

// mediaFiles opens and parses every WebM file of the meeting's
// recording (what was sealed so far).
func (e *joinEnv) mediaFiles(t *testing.T, meetingID string) []trackFile {
	t.Helper()
	key, err := store.LoadOrCreateKey(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(e.dir, server.RecordingsDir, meetingID, "media")
	des, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []trackFile
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), ".webm"+recording.SealedExt) {
			continue
		}
		f, err := os.Open(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		r, err := recording.OpenSealed(f, key)
		if err != nil {
			f.Close()
			t.Fatalf("%s: %v", de.Name(), err)
		}
		b, err := io.ReadAll(r)
		f.Close()
		complete := err == nil
		if err != nil && !errors.Is(err, recording.ErrIncomplete) {
			t.Fatalf("%s: %v", de.Name(), err)
		}
		tf := trackFile{name: de.Name(), complete: complete}
		if len(b) > 0 {
			var d webmDoc
			if err := ebml.Unmarshal(bytes.NewReader(b), &d, ebml.WithIgnoreUnknown(true)); err != nil {
				t.Fatalf("parsing %s (%d bytes): %v", de.Name(), len(b), err)
			}
			if len(d.Segment.Tracks.TrackEntry) == 1 {
				tf.codec = d.Segment.Tracks.TrackEntry[0].CodecID
			}
			for _, c := range d.Segment.Cluster {
				tf.frames += len(c.SimpleBlock)
			}
		}
		out = append(out, tf)
	}
	return out
}

// framesOf maps codec → frames of the files whose names start with
// prefix (r<request>-).
func framesOf(files []trackFile, prefix string) map[string]int {
	out := map[string]int{}
	for _, f := range files {
		if strings.HasPrefix(f.name, prefix) {
			out[f.codec] += f.frames
		}
	}
	return out
}

// consentDialog reports whether the page shows the consent dialog.
func consentDialog(t *testing.T, ctx context.Context) bool {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById('rec-dialog').hidden`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func waitJS(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.PollFunction[bool](`() => `+js, chromedp.WithPollingTimeout(callTimeout))); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// TestRecordingConsentInBrowser: a customer in Chromium (fake camera and
// microphone) is asked for consent. Refusing leaves no media file;
// accepting records her camera and microphone as WebM files that grow;
// withdrawing stops them; after the meeting the advisor downloads one
// archive with the media, the chat, the files, the whiteboard page and a
// manifest whose hashes verify.
func TestRecordingConsentInBrowser(t *testing.T) {
	e := startJoinEnv(t)
	m := e.newMeeting(t, "")
	anna := e.joinBrowser(t, "de-DE", 1280, 900)
	withTestHooks(t, anna)
	reqs := RecordRequests(t, anna)
	pa := e.joinWaiting(t, anna, m, "Anna Albers")
	e.admit(t, m, pa)
	waitView(t, anna, "admitted")
	adv := e.connectRecAdvisor(t, m.ID)
	waitJS(t, anna, "the call to connect", `document.getElementById('indicator').dataset.state === 'connected'`)
	if consentDialog(t, anna) {
		t.Fatal("the consent dialog shows before anyone asked")
	}

	// Request 1: Anna refuses. Nothing is recorded.
	adv.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordRequest})
	waitJS(t, anna, "the consent dialog", `!document.getElementById('rec-dialog').hidden`)
	if txt, _ := chromedp.Run(anna, chromedp.Text("#rec-indicator-text")); !strings.Contains(txt, "Aufgezeichnet wird erst") {
		t.Errorf("indicator while asked: %q", txt)
	}
	Screenshot(t, anna, "recording-consent-de.png")
	if foc, _ := chromedp.Run(anna, chromedp.Evaluate[string](`document.activeElement && document.activeElement.id`)); foc != "rec-refuse" {
		t.Errorf("the dialog's focus is on %q, want the refusal", foc)
	}
	run(t, anna, `document.getElementById('rec-refuse').click()`)
	adv.waitState(1, msg.RecordingOff)
	waitJS(t, anna, "the dialog to close", `document.getElementById('rec-dialog').hidden && document.getElementById('rec-indicator').hidden`)
	time.Sleep(time.Second) // what a late packet could have written
	if files := e.mediaFiles(t, m.ID); len(files) != 0 {
		t.Fatalf("media files after a refusal: %+v", files)
	}

	// Request 2: Anna accepts; her camera and microphone are recorded.
	adv.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordRequest})
	waitJS(t, anna, "the consent dialog again", `!document.getElementById('rec-dialog').hidden`)
	run(t, anna, `document.getElementById('rec-accept').click()`)
	adv.waitState(2, msg.RecordingOn)
	waitJS(t, anna, "the recording indicator", `document.getElementById('rec-indicator').dataset.phase === 'recording' && !document.getElementById('rec-indicator').hidden && !document.getElementById('rec-withdraw').hidden`)
	Screenshot(t, anna, "recording-on-de.png")
	growing := func(what string, before map[string]int) map[string]int {
		t.Helper()
		deadline := time.Now().Add(callTimeout)
		for {
			now := framesOf(e.mediaFiles(t, m.ID), "r2-")
			if now["V_VP8"] > before["V_VP8"] && now["A_OPUS"] > before["A_OPUS"] {
				return now
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: frames %v, before %v", what, now, before)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	first := growing("video and audio frames recorded", map[string]int{})
	second := growing("the recording growing", first)

	// The advisor chats, shares a file and draws while recording.
	adv.send(msg.Message{Type: msg.TypeChat, Text: "Protokoll: Depotuebertrag besprochen", Nonce: "c1"})
	status, body, _ := e.advisorDo(t, "POST", "/api/v1/meetings/"+m.ID+"/files?name=Vollmacht.pdf", []byte(recPDF))
	if status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("upload: %d %s", status, body)
	}
	stroke, _ := json.Marshal(whiteboard.Op{Kind: whiteboard.KindStroke, ID: ids.New(), Page: 1, Tool: whiteboard.ToolPen,
		Color: "#c00000", Width: 0.01, Points: []float64{0.2, 0.2, 0.5, 0.5, 0.8, 0.3}})
	adv.send(msg.Message{Type: msg.TypeBoard, Board: stroke})

	// Anna withdraws: the files are closed and grow no more.
	run(t, anna, `document.getElementById('rec-withdraw').click()`)
	adv.waitState(2, msg.RecordingOff)
	waitJS(t, anna, "the indicator to go", `document.getElementById('rec-indicator').hidden && document.getElementById('rec-withdraw').hidden`)
	files := e.mediaFiles(t, m.ID)
	for _, f := range files {
		if !f.complete {
			t.Errorf("%s is not closed after the withdrawal", f.name)
		}
	}
	stopped := framesOf(files, "r2-")
	if stopped["V_VP8"] < second["V_VP8"] || stopped["A_OPUS"] < second["A_OPUS"] {
		t.Fatalf("frames went back: %v after %v", stopped, second)
	}
	time.Sleep(2 * time.Second)
	if after := framesOf(e.mediaFiles(t, m.ID), "r2-"); after["V_VP8"] != stopped["V_VP8"] || after["A_OPUS"] != stopped["A_OPUS"] {
		t.Fatalf("the recording grew after the withdrawal: %v, then %v", stopped, after)
	}

	// The meeting ends; the advisor downloads the archive.
	e.advisor.Must(t, http.MethodPost, "/api/v1/meetings/"+m.ID+"/end", nil, http.StatusNoContent, nil)
	var zipBody []byte
	deadline := time.Now().Add(callTimeout)
	for {
		st, b, hdr := e.advisorDo(t, "GET", "/api/v1/meetings/"+m.ID+"/archive", nil)
		if st == http.StatusOK {
			if n, _ := strconv.Atoi(hdr.Get("Content-Length")); n != len(b) {
				t.Fatalf("Content-Length %q, got %d bytes", hdr.Get("Content-Length"), len(b))
			}
			zipBody = b
			break
		}
		if st != http.StatusConflict || time.Now().After(deadline) {
			t.Fatalf("archive: %d %s", st, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipBody), int64(len(zipBody)))
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		entries[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	var man recording.ArchiveManifest
	if err := json.Unmarshal(entries["manifest.json"], &man); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if len(man.Entries) != len(entries)-1 {
		t.Errorf("the manifest lists %d entries, the archive has %d besides it", len(man.Entries), len(entries)-1)
	}
	for _, me := range man.Entries {
		sum := sha256.Sum256(entries[me.Name])
		if hex.EncodeToString(sum[:]) != me.SHA256 || int64(len(entries[me.Name])) != me.Size {
			t.Errorf("%s does not match the manifest", me.Name)
		}
	}
	var webms, pngs int
	for name := range entries {
		switch {
		case strings.HasPrefix(name, "media/") && strings.HasSuffix(name, ".webm"):
			webms++
		case strings.HasPrefix(name, "whiteboard/") && strings.HasSuffix(name, ".png"):
			pngs++
		}
	}
	if webms != 2 || pngs != 1 {
		t.Errorf("the archive has %d WebM files and %d page images, want 2 and 1", webms, pngs)
	}
	if !strings.Contains(string(entries["chat/transcript.txt"]), "Protokoll: Depotuebertrag besprochen") {
		t.Errorf("transcript: %q", entries["chat/transcript.txt"])
	}
	if string(entries["files/Vollmacht.pdf"]) != recPDF {
		t.Errorf("the shared file in the archive: %d bytes", len(entries["files/Vollmacht.pdf"]))
	}
	var consent recording.Record
	if err := json.Unmarshal(entries["consent.json"], &consent); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, en := range consent.Entries {
		if en.ParticipantID == pa.ID {
			actions = append(actions, string(en.Action))
		}
	}
	if got := strings.Join(actions, ","); !strings.Contains(got, "refuse") || !strings.Contains(got, "accept") || !strings.Contains(got, "withdraw") {
		t.Errorf("Anna's entries in the consent record: %s", got)
	}
	if out := reqs.Outside(e.srv.URL() + "/"); len(out) > 0 {
		t.Errorf("the page loaded from elsewhere: %q", out)
	}
}

// advisorDo sends a raw request as the advisor and returns the status,
// body and headers.
func (e *joinEnv) advisorDo(t *testing.T, method, path string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, e.advisor.Base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.advisor.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	res, err := e.advisor.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b, res.Header
}

// recPDF is a small PDF shared in the recorded meeting.
const recPDF = "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
