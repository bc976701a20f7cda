// Package desk is the advisor's side of the end-to-end call tests
// (tests/call with Chromium, tests/firefox with Firefox): an in-process
// relay, the desktop's link client signed in over QUIC, an instant
// meeting, and the desktop media engine in its call with a synthetic
// camera and tone.
package desk

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"parley/mediaengine"
	"parley/mediaengine/source"
	"parley/relay/auth"
	"parley/relay/server"
	"parley/relay/sfu"
	"parley/sync/link"
)

// AdminPassword is the relay's admin password; the tenant is "bank".
const AdminPassword = "Wolke-Sieben-Anker-42"

// StepTimeout bounds each wait; it only stops a hung test, nothing asserts
// on durations.
const StepTimeout = 45 * time.Second

// Desk is the advisor in a call.
type Desk struct {
	// Relay is the in-process relay; Dir is its data folder.
	Relay *server.Server
	Dir   string
	// Link is the advisor's signed-in link client.
	Link *link.Client
	// Call is the advisor's media engine in the meeting's call.
	Call *mediaengine.Call
	// Meeting is the meeting, URL its join link.
	Meeting link.Meeting
	URL     string

	mu      sync.Mutex
	chats   map[string]int // chat text → times received
	waiting []string       // ids of the waiting room's latest list
	wake    chan struct{}
}

// Start sets the desk up; with autoAdmit every customer who enters the
// waiting room is admitted at once. Everything stops when the test ends.
func Start(t testing.TB, autoAdmit bool) *Desk {
	t.Helper()
	d := &Desk{Dir: t.TempDir(), chats: map[string]int{}, wake: make(chan struct{}, 1)}
	var err error
	d.Relay, err = server.Start(context.Background(), server.Options{DataDir: d.Dir, Listen: "127.0.0.1:0",
		TenantSlug: "bank", AdminPassword: AdminPassword, Hash: auth.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Relay.Close() })
	d.Link = link.New(link.Options{})
	t.Cleanup(func() { _ = d.Link.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), StepTimeout)
	defer cancel()
	if err := d.Link.Trust(d.Relay.URL(), d.Relay.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if tr, err := d.Link.Connect(ctx, d.Relay.URL()); err != nil || tr != link.TransportQUIC {
		t.Fatalf("connect: %s %v", tr, err)
	}
	if _, err := d.Link.Login(ctx, "bank", "admin", AdminPassword); err != nil {
		t.Fatal(err)
	}
	var l link.JoinLink
	d.Meeting, l, err = d.Link.CreateMeeting(ctx, "Beratung")
	if err != nil {
		t.Fatal(err)
	}
	d.URL = l.URL
	se := webrtc.SettingEngine{}
	sfu.LoopbackOnly(&se)
	d.Call, err = mediaengine.Start(context.Background(), mediaengine.Options{
		Dial:      func(ctx context.Context) (mediaengine.Conn, error) { return d.Link.Signal(ctx) },
		MeetingID: d.Meeting.ID, Camera: source.TestPattern{}, Microphone: source.Tone{Freq: 440}, SettingEngine: se,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Call.Close() })
	go d.follow(autoAdmit)
	return d
}

// follow records the call's chat and waiting room until the call ends.
func (d *Desk) follow(autoAdmit bool) {
	for ev := range d.Call.Events() {
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
						ctx, cancel := context.WithTimeout(context.Background(), StepTimeout)
						defer cancel()
						_ = d.Link.Admit(ctx, d.Meeting.ID, id)
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

// Chats is how often the chat message text has arrived.
func (d *Desk) Chats(text string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.chats[text]
}

// Waiting lists the participant ids in the waiting room now.
func (d *Desk) Waiting() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.waiting...)
}

// Until waits until cond holds, checking it whenever the call reports
// something and at least every 50 ms.
func (d *Desk) Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(StepTimeout)
	for !cond() {
		select {
		case <-d.wake:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("advisor: timed out waiting for %s", what)
		}
	}
}

// CustomerTrack is the advisor's remote track of kind, or nil.
func (d *Desk) CustomerTrack(kind mediaengine.TrackKind) *mediaengine.RemoteTrack {
	for _, tr := range d.Call.Tracks() {
		if tr.Kind == kind {
			return tr
		}
	}
	return nil
}
