package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"parley/mediaengine"
	"parley/mediaengine/source"
	"parley/relay/sfu"
	"parley/relay/signal/msg"
	"parley/sync/link"
	"parley/tests/internal/testenv"
)

// wsConn adapts a customer's WebSocket to mediaengine.Conn.
type wsConn struct{ wsSig }

func (w wsConn) Close() error { return w.c.Close(websocket.StatusNormalClosure, "") }

// follower collects a call's chat and state events.
type follower struct {
	mu        sync.Mutex
	chats     map[string]int // text → times seen
	connected int            // StateMediaConnected events
}

func follow(call *mediaengine.Call) *follower {
	f := &follower{chats: map[string]int{}}
	go func() {
		seen := map[string]bool{}
		for ev := range call.Events() {
			f.mu.Lock()
			switch e := ev.(type) {
			case mediaengine.ChatReceived:
				if !seen[e.Entry.ID] {
					seen[e.Entry.ID] = true
					f.chats[e.Entry.Text]++
				}
			case mediaengine.StateChanged:
				if e.State == mediaengine.StateMediaConnected {
					f.connected++
				}
			}
			f.mu.Unlock()
		}
	}()
	return f
}

func (f *follower) has(texts ...string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range texts {
		if f.chats[t] != 1 {
			return false
		}
	}
	return true
}

// remote returns the call's remote track of kind from a peer other than
// notPeer ("" for any), or nil.
func remote(call *mediaengine.Call, kind mediaengine.TrackKind, notPeer string) *mediaengine.RemoteTrack {
	for _, t := range call.Tracks() {
		if t.Kind == kind && t.PeerID != notPeer {
			return t
		}
	}
	return nil
}

func eventually(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// TestDesktopCallReconnects: the advisor's media engine signals over QUIC,
// a customer's over WebSocket; both see and hear each other through the
// relay. The advisor's signalling connection is then cut mid-call: the
// call reconnects, media flows again, and chat sent around the cut reaches
// both sides exactly once.
func TestDesktopCallReconnects(t *testing.T) {
	dir := t.TempDir()
	s := startRelay(t, dir)
	defer s.Close()
	adv := connect(t, s, false)
	if _, err := adv.Login(ctx(t), "sparkasse-nord", "admin", adminPassword); err != nil {
		t.Fatal(err)
	}
	m, l, err := adv.CreateMeeting(ctx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	sfu.LoopbackOnly(&se)

	var mu sync.Mutex
	var current *link.SignalConn
	dials := 0
	advCall, err := mediaengine.Start(context.Background(), mediaengine.Options{
		Dial: func(ctx context.Context) (mediaengine.Conn, error) {
			sc, err := adv.Signal(ctx)
			if err != nil {
				return nil, err
			}
			mu.Lock()
			current, dials = sc, dials+1
			mu.Unlock()
			return sc, nil
		},
		MeetingID: m.ID, Camera: source.TestPattern{}, Microphone: source.Tone{Freq: 440}, SettingEngine: se,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer advCall.Close()
	advF := follow(advCall)

	customer := &testenv.API{Base: s.URL(), HTTP: testenv.RelayClient(t, dir)}
	var joined struct {
		ParticipantID string `json:"participant_id"`
		Secret        string `json:"secret"`
	}
	customer.Must(t, http.MethodPost, "/api/v1/join/"+l.Token, map[string]string{"name": "Max Kunde"}, http.StatusCreated, &joined)
	if err := adv.Admit(ctx(t), m.ID, joined.ParticipantID); err != nil {
		t.Fatal(err)
	}
	custCall, err := mediaengine.Start(context.Background(), mediaengine.Options{
		Dial: func(ctx context.Context) (mediaengine.Conn, error) {
			ws, _, err := websocket.Dial(ctx, strings.Replace(s.URL(), "https://", "wss://", 1)+"/api/v1/signal",
				&websocket.DialOptions{HTTPClient: customer.HTTP, HTTPHeader: http.Header{"Origin": {s.URL()}}})
			if err != nil {
				return nil, err
			}
			ws.SetReadLimit(msg.MaxMessageBytes * 2)
			return wsConn{wsSig{ws}}, nil
		},
		Token: joined.Secret, Camera: source.TestPattern{}, Microphone: source.Tone{Freq: 660}, SettingEngine: se,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer custCall.Close()
	custF := follow(custCall)

	// Both decode a growing number of frames and hear a tone.
	flowing := func(call *mediaengine.Call, notPeer string, after uint64) func() bool {
		return func() bool {
			v, a := remote(call, mediaengine.KindCamera, notPeer), remote(call, mediaengine.KindAudio, notPeer)
			return v != nil && a != nil && v.Decoded() > after+10 && a.Level() > 0.01
		}
	}
	eventually(t, "the advisor to see and hear the customer", 30*time.Second, flowing(advCall, "", 0))
	eventually(t, "the customer to see and hear the advisor", 30*time.Second, flowing(custCall, "", 0))

	if _, err := advCall.SendChat("vor dem Abbruch"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first chat message", 15*time.Second, func() bool { return custF.has("vor dem Abbruch") })

	// Cut the advisor's signalling connection; chat goes on meanwhile.
	oldPeer := remote(custCall, mediaengine.KindCamera, "").PeerID
	mu.Lock()
	cut := current
	mu.Unlock()
	cutAt := time.Now()
	_ = cut.Close()
	if _, err := advCall.SendChat("während des Abbruchs"); err != nil {
		t.Fatal(err)
	}
	if _, err := custCall.SendChat("Sind Sie noch da?"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "media from the reconnected advisor", 30*time.Second, flowing(custCall, oldPeer, 0))
	resumed := time.Since(cutAt)
	eventually(t, "chat on both sides exactly once", 15*time.Second, func() bool {
		return advF.has("vor dem Abbruch", "während des Abbruchs", "Sind Sie noch da?") &&
			custF.has("vor dem Abbruch", "während des Abbruchs", "Sind Sie noch da?")
	})
	mu.Lock()
	if dials < 2 {
		t.Fatalf("the call dialled %d times; it should have reconnected", dials)
	}
	mu.Unlock()
	t.Logf("media resumed %s after the cut", resumed.Round(time.Millisecond))
}
