package mediaengine_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gen2brain/malgo"
	"github.com/pion/webrtc/v4"

	"parley/mediaengine"
	"parley/mediaengine/playout"
	"parley/mediaengine/source"
	"parley/relay/sfu"
)

// wait is how long media may take to appear (DESIGN: within 10 s).
const wait = 10 * time.Second

func loopback() webrtc.SettingEngine {
	var se webrtc.SettingEngine
	sfu.LoopbackOnly(&se)
	return se
}

// recorder collects a call's events.
type recorder struct {
	mu     sync.Mutex
	events []mediaengine.Event
	done   chan struct{}
}

func record(c *mediaengine.Call) *recorder {
	r := &recorder{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ev := range c.Events() {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *recorder) all() []mediaengine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]mediaengine.Event(nil), r.events...)
}

// peerID is the call's latest peer id.
func (r *recorder) peerID() string {
	id := ""
	for _, ev := range r.all() {
		if s, ok := ev.(mediaengine.StateChanged); ok && s.PeerID != "" {
			id = s.PeerID
		}
	}
	return id
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", wait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type participant struct {
	call *mediaengine.Call
	rec  *recorder
}

func join(t *testing.T, ctx context.Context, r *testRelay, token string, freq float64, player *playout.Player) *participant {
	t.Helper()
	c, err := mediaengine.Start(ctx, mediaengine.Options{
		Dial:          r.dial(ctx),
		Token:         token,
		Camera:        source.TestPattern{},
		Microphone:    source.Tone{Freq: freq},
		VideoFormat:   source.Format{Width: 320, Height: 240, FPS: 15},
		ScreenFormat:  source.Format{Width: 320, Height: 240, FPS: 5},
		SettingEngine: loopback(),
		Player:        player,
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &participant{call: c, rec: record(c)}
	t.Cleanup(func() {
		_ = c.Close()
		<-p.rec.done
	})
	return p
}

// track returns p's live remote track of kind from the peer whose id
// starts with token + "-".
func (p *participant) track(token string, kind mediaengine.TrackKind) *mediaengine.RemoteTrack {
	for _, t := range p.call.Tracks() {
		if t.Kind == kind && len(t.PeerID) > len(token) && t.PeerID[:len(token)+1] == token+"-" {
			return t
		}
	}
	return nil
}

// sees waits until p decodes video from token's camera and hears its
// audio.
func (p *participant) sees(t *testing.T, token string) {
	t.Helper()
	eventually(t, "video frames from "+token, func() bool {
		v := p.track(token, mediaengine.KindCamera)
		return v != nil && v.Decoded() >= 10
	})
	v := p.track(token, mediaengine.KindCamera)
	n := v.Decoded()
	eventually(t, "more video frames from "+token, func() bool { return v.Decoded() > n })
	img := <-v.Frames()
	if img.Bounds().Dx() != 320 || img.Bounds().Dy() != 240 {
		t.Fatalf("picture from %s is %v, want 320×240", token, img.Bounds())
	}
	eventually(t, "audio from "+token, func() bool {
		a := p.track(token, mediaengine.KindAudio)
		return a != nil && a.Level() > 0.05
	})
}

func TestTwoCallsMeetShareMuteAndChat(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	player, err := playout.New(playout.Options{Backends: []malgo.Backend{playout.NullBackend}})
	if err != nil {
		t.Fatal(err)
	}
	defer player.Close()
	r := newTestRelay(t)
	a := join(t, ctx, r, "alice", 440, player)
	b := join(t, ctx, r, "bob", 660, nil)

	a.sees(t, "bob")
	b.sees(t, "alice")

	// Screen share: a second video stream "<peer>/screen".
	if err := a.call.StartScreenShare(source.TestScreen{}); err != nil {
		t.Fatal(err)
	}
	if err := a.call.StartScreenShare(source.TestScreen{}); !errors.Is(err, mediaengine.ErrSharing) {
		t.Fatalf("second share: %v, want ErrSharing", err)
	}
	eventually(t, "bob decodes alice's screen", func() bool {
		s := b.track("alice", mediaengine.KindScreen)
		return s != nil && s.Decoded() >= 3
	})
	if s := b.track("alice", mediaengine.KindScreen); s.StreamID != a.rec.peerID()+"/screen" {
		t.Fatalf("screen stream id %q, want %q", s.StreamID, a.rec.peerID()+"/screen")
	}
	eventually(t, "roster shows alice sharing", func() bool {
		for _, p := range b.call.Roster() {
			if p.PeerID == a.rec.peerID() {
				return p.Screen
			}
		}
		return false
	})
	if err := a.call.StopScreenShare(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice's screen track ends at bob", func() bool {
		return b.track("alice", mediaengine.KindScreen) == nil
	})

	// Mute: alice's audio goes silent at bob's; unmute brings it back.
	if err := a.call.SetMuted(true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice silent at bob's", func() bool {
		at := b.track("alice", mediaengine.KindAudio)
		return at == nil || at.Level() == 0
	})
	eventually(t, "roster shows alice muted", func() bool {
		for _, p := range b.call.Roster() {
			if p.PeerID == a.rec.peerID() {
				return !p.Audio
			}
		}
		return false
	})
	if err := a.call.SetMuted(false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice audible again", func() bool {
		at := b.track("alice", mediaengine.KindAudio)
		return at != nil && at.Level() > 0.05
	})

	// Chat: delivered once to both, marked own at the sender.
	nonce, err := a.call.SendChat("Guten Tag")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*participant{a, b} {
		eventually(t, "chat arrives", func() bool { return len(chats(p.rec)) == 1 })
		c := chats(p.rec)[0]
		if c.Entry.Nonce != nonce || c.Entry.Text != "Guten Tag" || c.Own != (p == a) {
			t.Fatalf("chat %+v, own %v", c.Entry, c.Own)
		}
	}
	if _, err := a.call.SendChat("  "); !errors.Is(err, mediaengine.ErrBadChat) {
		t.Fatalf("blank chat: %v, want ErrBadChat", err)
	}
}

func chats(r *recorder) []mediaengine.ChatReceived {
	var out []mediaengine.ChatReceived
	for _, ev := range r.all() {
		if c, ok := ev.(mediaengine.ChatReceived); ok {
			out = append(out, c)
		}
	}
	return out
}

func TestReconnectResumesMediaAndResendsChat(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newTestRelay(t)
	a := join(t, ctx, r, "alice", 440, nil)
	b := join(t, ctx, r, "bob", 660, nil)
	a.sees(t, "bob")
	b.sees(t, "alice")
	first := a.rec.peerID()

	// The relay stores alice's message but the connection drops before
	// the echo reaches her: she resends it after reconnecting, and the
	// relay does not post it twice.
	r.mu.Lock()
	r.dropEcho["alice"] = true
	r.mu.Unlock()
	nonce, err := a.call.SendChat("noch da?")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice reconnects", func() bool { id := a.rec.peerID(); return id != "" && id != first })
	eventually(t, "alice's chat echoed once", func() bool { return len(chats(a.rec)) == 1 })
	if c := chats(a.rec)[0]; !c.Own || c.Entry.Nonce != nonce {
		t.Fatalf("echo %+v own %v", c.Entry, c.Own)
	}
	eventually(t, "alice resent the chat", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.nonces["alice/"+nonce] == 2
	})
	r.mu.Lock()
	if len(r.entries) != 1 {
		t.Errorf("relay has %d entries, want 1", len(r.entries))
	}
	r.mu.Unlock()
	if n := len(chats(b.rec)); n != 1 {
		t.Errorf("bob got %d chats, want 1", n)
	}

	// Media resumes both ways over the new peer connection.
	a.sees(t, "bob")
	b.sees(t, "alice")
	if got := b.track("alice", mediaengine.KindCamera).PeerID; got != a.rec.peerID() {
		t.Fatalf("bob sees alice as %s, want %s", got, a.rec.peerID())
	}
	var reconnecting bool
	for _, ev := range a.rec.all() {
		if s, ok := ev.(mediaengine.StateChanged); ok && s.State == mediaengine.StateReconnecting {
			reconnecting = true
		}
	}
	if !reconnecting {
		t.Error("no StateReconnecting event")
	}

	// A network change: ICE restart while signalling stands keeps media.
	if err := a.call.RestartICE(); err != nil {
		t.Fatal(err)
	}
	b.sees(t, "alice")
	if id := a.rec.peerID(); id != b.track("alice", mediaengine.KindCamera).PeerID {
		t.Fatalf("ICE restart changed the peer: %s", id)
	}
}

func TestCloseEndsTheCall(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newTestRelay(t)
	a := join(t, ctx, r, "alice", 440, nil)
	eventually(t, "alice joins", func() bool { return r.peerByToken("alice") != nil })
	if err := a.call.Close(); err != nil {
		t.Fatal(err)
	}
	<-a.rec.done
	evs := a.rec.all()
	last, ok := evs[len(evs)-1].(mediaengine.StateChanged)
	if !ok || last.State != mediaengine.StateEnded {
		t.Fatalf("last event %#v, want StateEnded", evs[len(evs)-1])
	}
	if err := a.call.Err(); err != nil {
		t.Fatalf("Err after Close: %v", err)
	}
	if err := a.call.SetMuted(true); !errors.Is(err, mediaengine.ErrClosed) {
		t.Fatalf("SetMuted after Close: %v", err)
	}
	eventually(t, "alice leaves the room", func() bool { return r.peerByToken("alice") == nil })
}
