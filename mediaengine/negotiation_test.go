package mediaengine_test

import (
	"context"
	"testing"

	"github.com/pion/webrtc/v4"

	"parley/mediaengine"
	"parley/mediaengine/source"
	"parley/relay/signal/msg"
)

func newRelayPC(t *testing.T) *webrtc.PeerConnection {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(loopback())).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// next reads from the relay's end until a message of type typ arrives; an
// offer or answer of another type fails the test.
func next(ctx context.Context, t *testing.T, relay *pipeConn, typ string) msg.Message {
	t.Helper()
	for {
		m, err := relay.Recv(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m.Type == typ {
			return m
		}
		if m.Type == msg.TypeOffer || m.Type == msg.TypeAnswer {
			t.Fatalf("got %s, want %s", m.Type, typ)
		}
	}
}

// A relay offer that collides with the client's: pion cannot roll back a
// local offer, so the client starts over on a new connection at once; on
// that connection it answers the relay's (non-colliding) offers.
func TestCollidingOfferRecoversOnANewConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	conns := make(chan *pipeConn, 4)
	c, err := mediaengine.Start(ctx, mediaengine.Options{
		Token:         "x",
		Microphone:    source.Tone{},
		SettingEngine: loopback(),
		Dial: func(context.Context) (mediaengine.Conn, error) {
			client, relay := connPair()
			conns <- relay
			return client, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := record(c)
	defer func() { _ = c.Close(); <-rec.done }()

	relay := <-conns
	next(ctx, t, relay, msg.TypeHello)
	if err := relay.Send(ctx, msg.Message{Type: msg.TypeWelcome, PeerID: "x-1"}); err != nil {
		t.Fatal(err)
	}
	if m := next(ctx, t, relay, msg.TypeMedia); m.Media == nil || !m.Media.Audio {
		t.Fatalf("media %+v", m.Media)
	}
	next(ctx, t, relay, msg.TypeOffer) // left unanswered: the relay offers instead
	pc := newRelayPC(t)
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Send(ctx, msg.Message{Type: msg.TypeOffer, SDP: offer.SDP}); err != nil {
		t.Fatal(err)
	}

	// A new connection: hello, media, offer; this time the relay answers,
	// then offers a track of its own, which the client answers.
	relay = <-conns
	next(ctx, t, relay, msg.TypeHello)
	if err := relay.Send(ctx, msg.Message{Type: msg.TypeWelcome, PeerID: "x-2"}); err != nil {
		t.Fatal(err)
	}
	first := next(ctx, t, relay, msg.TypeOffer)
	pc = newRelayPC(t)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: first.SDP}); err != nil {
		t.Fatal(err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	if err := relay.Send(ctx, msg.Message{Type: msg.TypeAnswer, SDP: answer.SDP}); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err = pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	if err := relay.Send(ctx, msg.Message{Type: msg.TypeOffer, SDP: offer.SDP}); err != nil {
		t.Fatal(err)
	}
	reply := next(ctx, t, relay, msg.TypeAnswer)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: reply.SDP}); err != nil {
		t.Fatalf("client's answer: %v", err)
	}
	if pc.SignalingState() != webrtc.SignalingStateStable {
		t.Fatalf("relay side %s, want stable", pc.SignalingState())
	}
}
