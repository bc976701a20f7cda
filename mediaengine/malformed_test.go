package mediaengine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"parley/mediaengine"
	"parley/relay/signal/msg"
)

// script plays a relay that welcomes the client, sends msgs and ends the
// call; it returns how many connections were dialled.
func script(t testing.TB, msgs []msg.Message) (*mediaengine.Call, *recorder, *int) {
	t.Helper()
	dials := 0
	ctx, cancel := context.WithCancel(context.Background())
	c, err := mediaengine.Start(ctx, mediaengine.Options{
		Token:         "x",
		SettingEngine: loopback(),
		Dial: func(context.Context) (mediaengine.Conn, error) {
			dials++
			n := dials
			client, relay := connPair()
			go func() {
				if m, err := relay.Recv(ctx); err != nil || m.Type != msg.TypeHello {
					return
				}
				_ = relay.Send(ctx, msg.Message{Type: msg.TypeWelcome, PeerID: "x-1", Role: msg.RoleCustomer})
				send := msgs
				if n > 1 {
					send = nil // a reconnect is ended at once
				}
				for _, m := range send {
					if relay.Send(ctx, m) != nil {
						return
					}
				}
				_ = relay.Send(ctx, msg.Message{Type: msg.TypeEnded, Reason: msg.EndedMeeting})
			}()
			return client, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := record(c)
	t.Cleanup(func() {
		cancel()
		<-c.Done()
		<-rec.done
	})
	return c, rec, &dials
}

func TestMalformedRelayMessagesAreErrors(t *testing.T) {
	bad := "garbage"
	c, rec, dials := script(t, []msg.Message{
		{Type: msg.TypeAnswer, SDP: "v=0\r\nnonsense"},
		{Type: msg.TypeOffer, SDP: "not an sdp"},
		{Type: msg.TypeOffer},
		{Type: msg.TypeCandidate, Candidate: &msg.Candidate{Candidate: "candidate:garbage", SDPMid: &bad}},
		{Type: "zzz"},
		{},
		{Type: msg.TypeChat},
		{Type: msg.TypeWelcome, PeerID: "again"},
		{Type: msg.TypeError, Code: "bad_message", Message: "refused"},
		{Type: msg.TypeFile, Entry: &msg.Entry{ID: "f1", Seq: 3, FileName: "a.pdf"}},
		{Type: msg.TypeRoster, Peers: []msg.Peer{{PeerID: "x-1"}}},
	})
	<-c.Done()
	<-rec.done
	if !errors.Is(c.Err(), mediaengine.ErrEnded) {
		t.Fatalf("Err = %v, want ErrEnded", c.Err())
	}
	var clientErrs, relayErrs, files int
	for _, ev := range rec.all() {
		switch e := ev.(type) {
		case mediaengine.RelayError:
			if e.Code == "client" {
				clientErrs++
			} else if e.Code == "bad_message" {
				relayErrs++
			}
		case mediaengine.FileReceived:
			files++
		}
	}
	// Bad answer, two bad offers, unknown type, empty type, chat without
	// entry, second welcome.
	if clientErrs < 7 || relayErrs != 1 || files != 1 {
		t.Fatalf("client errors %d (want ≥ 7), relay errors %d, files %d", clientErrs, relayErrs, files)
	}
	if *dials != 1 {
		t.Fatalf("dialled %d times after ended, want 1", *dials)
	}
}

func TestFatalRelayErrorEndsWithoutReconnecting(t *testing.T) {
	c, _, dials := script(t, []msg.Message{{Type: msg.TypeError, Code: "not_admitted", Message: "wait"}})
	<-c.Done()
	if !errors.Is(c.Err(), mediaengine.ErrEnded) || *dials != 1 {
		t.Fatalf("Err = %v after %d dials", c.Err(), *dials)
	}
}

// FuzzRelayMessage feeds arbitrary relay messages to a call: they may be
// refused, never panic.
func FuzzRelayMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"offer","sdp":"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"}`,
		`{"type":"answer","sdp":"x"}`,
		`{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMLineIndex":7}}`,
		`{"type":"candidate"}`,
		`{"type":"chat","entry":{"id":"","seq":18446744073709551615}}`,
		`{"type":"waiting","waiting":[{"id":"w"}]}`,
		`{"type":"roster","peers":null}`,
		`{"type":"pong"}`,
		`{"type":"error","code":"rate_limited"}`,
		`{"type":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m msg.Message
		if json.Unmarshal(data, &m) != nil {
			return
		}
		c, rec, _ := script(t, []msg.Message{m})
		<-c.Done()
		<-rec.done
	})
}
