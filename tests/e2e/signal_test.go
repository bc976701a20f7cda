package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"parley/relay/auth"
	"parley/relay/server"
	"parley/relay/sfu"
	"parley/relay/signal/msg"
	"parley/sync/link"
	"parley/tests/internal/testenv"
)

// sigConn is what both framings look like to the test.
type sigConn interface {
	Send(ctx context.Context, m msg.Message) error
	Recv(ctx context.Context) (msg.Message, error)
}

// wsSig is the browser framing, driven from Go.
type wsSig struct{ c *websocket.Conn }

func (w wsSig) Send(ctx context.Context, m msg.Message) error {
	b, err := msg.Encode(m)
	if err != nil {
		return err
	}
	return w.c.Write(ctx, websocket.MessageText, b)
}

func (w wsSig) Recv(ctx context.Context) (msg.Message, error) {
	_, b, err := w.c.Read(ctx)
	if err != nil {
		return msg.Message{}, err
	}
	var m msg.Message
	return m, json.Unmarshal(b, &m)
}

// mediaPeer is a minimal pion client: it publishes one VP8 track of
// numbered packets, counts what it receives, and follows the protocol's
// negotiation (polite side).
type mediaPeer struct {
	t        *testing.T
	sig      sigConn
	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	received atomic.Int64
	mu       sync.Mutex
	msgs     map[string][]msg.Message
	cond     chan struct{}
	peerID   string
}

func newMediaPeer(t *testing.T, sig sigConn, hello msg.Message) *mediaPeer {
	t.Helper()
	return newMediaPeerWith(t, sig, hello, false)
}

// newMediaPeerWith, with relayOnly, uses only the TURN servers the relay
// hands out in its welcome (ICE transport policy "relay").
func newMediaPeerWith(t *testing.T, sig sigConn, hello msg.Message, relayOnly bool) *mediaPeer {
	t.Helper()
	p := &mediaPeer{t: t, sig: sig, msgs: map[string][]msg.Message{}, cond: make(chan struct{}, 1)}
	if err := sig.Send(ctx(t), hello); err != nil {
		t.Fatalf("hello: %v", err)
	}
	w, err := sig.Recv(ctx(t))
	if err != nil || w.Type != msg.TypeWelcome {
		t.Fatalf("welcome: %+v %v", w, err)
	}
	p.peerID = w.PeerID
	se := webrtc.SettingEngine{}
	sfu.LoopbackOnly(&se)
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me))
	cfg := webrtc.Configuration{}
	if relayOnly {
		if len(w.ICEServers) == 0 {
			t.Fatal("welcome named no ICE servers")
		}
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
		for _, s := range w.ICEServers {
			cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
	}
	p.pc, err = api.NewPeerConnection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.pc.Close() })
	p.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "cam", "stream")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.pc.AddTrack(p.track); err != nil {
		t.Fatal(err)
	}
	p.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			p.received.Add(1)
		}
	})
	p.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		ci := c.ToJSON()
		_ = sig.Send(context.Background(), msg.Message{Type: msg.TypeCandidate, Candidate: &msg.Candidate{Candidate: ci.Candidate, SDPMid: ci.SDPMid, SDPMLineIndex: ci.SDPMLineIndex}})
	})
	go p.recvLoop()
	if err := sig.Send(ctx(t), msg.Message{Type: msg.TypeMedia, Media: &msg.MediaState{Audio: false, Video: true}}); err != nil {
		t.Fatal(err)
	}
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	if err := sig.Send(ctx(t), msg.Message{Type: msg.TypeOffer, SDP: offer.SDP}); err != nil {
		t.Fatal(err)
	}
	go p.publish()
	return p
}

func (p *mediaPeer) recvLoop() {
	for {
		m, err := p.sig.Recv(context.Background())
		if err != nil {
			return
		}
		switch m.Type {
		case msg.TypeOffer:
			if p.pc.SignalingState() != webrtc.SignalingStateStable {
				_ = p.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
			}
			if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
				continue
			}
			ans, err := p.pc.CreateAnswer(nil)
			if err == nil && p.pc.SetLocalDescription(ans) == nil {
				_ = p.sig.Send(context.Background(), msg.Message{Type: msg.TypeAnswer, SDP: ans.SDP})
			}
		case msg.TypeAnswer:
			_ = p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
		case msg.TypeCandidate:
			if m.Candidate != nil {
				_ = p.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex})
			}
		}
		p.mu.Lock()
		p.msgs[m.Type] = append(p.msgs[m.Type], m)
		p.mu.Unlock()
		select {
		case p.cond <- struct{}{}:
		default:
		}
	}
}

// publish sends numbered VP8-sized packets at 50 per second until the
// connection closes.
func (p *mediaPeer) publish() {
	payload := make([]byte, 1000)
	payload[0] = 0x10 // VP8 payload descriptor: start of partition
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for seq := uint16(1); ; seq++ {
		<-tick.C
		if p.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
			return
		}
		_ = p.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 1800, Marker: true}, Payload: payload})
	}
}

// waitFor waits until cond holds for the messages received so far.
func (p *mediaPeer) waitFor(what string, cond func(map[string][]msg.Message) bool) {
	p.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		p.mu.Lock()
		ok := cond(p.msgs)
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.cond:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			p.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestSignalAndMediaThroughRelay: the advisor signals over the desktop's
// stream framing (HTTP/3 on QUIC, then HTTP/2 on TCP), a customer over a
// WebSocket; both publish a VP8 track through the relay's SFU and receive
// the other's, and chat goes both ways.
func TestSignalAndMediaThroughRelay(t *testing.T) {
	dir := t.TempDir()
	s := startRelay(t, dir)
	defer s.Close()
	for _, tc := range []struct {
		name   string
		noQUIC bool
		want   link.Transport
	}{{"quic", false, link.TransportQUIC}, {"tcp", true, link.TransportTCP}} {
		t.Run(tc.name, func(t *testing.T) {
			adv := connect(t, s, tc.noQUIC)
			if _, err := adv.Login(ctx(t), "sparkasse-nord", "admin", adminPassword); err != nil {
				t.Fatal(err)
			}
			m, l, err := adv.CreateMeeting(ctx(t), "")
			if err != nil {
				t.Fatal(err)
			}
			sc, err := adv.Signal(ctx(t))
			if err != nil {
				t.Fatalf("signal: %v", err)
			}
			defer sc.Close()
			if sc.Transport() != tc.want {
				t.Fatalf("signalling over %s, want %s", sc.Transport(), tc.want)
			}
			a := newMediaPeer(t, sc, msg.Message{Type: msg.TypeHello, MeetingID: m.ID})

			// The customer joins, is admitted, and connects by WebSocket.
			customer := &testenv.API{Base: s.URL(), HTTP: testenv.RelayClient(t, dir)}
			var joined struct {
				ParticipantID string `json:"participant_id"`
				Secret        string `json:"secret"`
			}
			customer.Must(t, http.MethodPost, "/api/v1/join/"+l.Token, map[string]string{"name": "Max Kunde"}, http.StatusCreated, &joined)
			a.waitFor("the waiting room", func(ms map[string][]msg.Message) bool {
				w := ms[msg.TypeWaiting]
				return len(w) > 0 && len(w[len(w)-1].Waiting) == 1 && w[len(w)-1].Waiting[0].Name == "Max Kunde"
			})
			if err := adv.Admit(ctx(t), m.ID, joined.ParticipantID); err != nil {
				t.Fatal(err)
			}
			ws, _, err := websocket.Dial(ctx(t), strings.Replace(s.URL(), "https://", "wss://", 1)+"/api/v1/signal",
				&websocket.DialOptions{HTTPClient: customer.HTTP, HTTPHeader: http.Header{"Origin": {s.URL()}}})
			if err != nil {
				t.Fatalf("websocket: %v", err)
			}
			defer ws.CloseNow()
			c := newMediaPeer(t, wsSig{ws}, msg.Message{Type: msg.TypeHello, Token: joined.Secret})

			a.waitFor("a roster of two", func(ms map[string][]msg.Message) bool {
				r := ms[msg.TypeRoster]
				return len(r) > 0 && len(r[len(r)-1].Peers) == 2
			})
			deadline := time.Now().Add(15 * time.Second)
			for a.received.Load() < 20 || c.received.Load() < 20 {
				if time.Now().After(deadline) {
					t.Fatalf("media through the SFU: advisor received %d packets, customer %d", a.received.Load(), c.received.Load())
				}
				time.Sleep(50 * time.Millisecond)
			}

			if err := c.sig.Send(ctx(t), msg.Message{Type: msg.TypeChat, Text: "Hallo aus dem Browser", Nonce: "c1"}); err != nil {
				t.Fatal(err)
			}
			a.waitFor("the customer's chat", func(ms map[string][]msg.Message) bool {
				for _, m := range ms[msg.TypeChat] {
					if m.Entry != nil && m.Entry.Text == "Hallo aus dem Browser" && m.Entry.Name == "Max Kunde" {
						return true
					}
				}
				return false
			})

			// The advisor shares a PDF over the desktop's transport; the
			// customer hears of it and downloads the same bytes.
			pdf := []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
			var progressed int64
			e, err := adv.UploadMeetingFile(ctx(t), m.ID, "Angebot.pdf", bytes.NewReader(pdf), int64(len(pdf)), func(sent, _ int64) { progressed = sent })
			if err != nil || e.FileName != "Angebot.pdf" || progressed != int64(len(pdf)) {
				t.Fatalf("upload: %+v %v (progress %d)", e, err, progressed)
			}
			c.waitFor("the file announcement", func(ms map[string][]msg.Message) bool {
				f := ms[msg.TypeFile]
				return len(f) == 1 && f[0].Entry.ID == e.ID
			})
			guest := &testenv.API{Base: s.URL(), HTTP: customer.HTTP, Token: joined.Secret}
			if st, body := guest.Call(t, http.MethodGet, "/api/v1/participant/files/"+e.ID, nil); st != http.StatusOK || !bytes.Equal(body, pdf) {
				t.Fatalf("customer download: %d, %d bytes", st, len(body))
			}
			var back bytes.Buffer
			if n, err := adv.DownloadMeetingFile(ctx(t), m.ID, e.ID, &back, nil); err != nil || n != int64(len(pdf)) || !bytes.Equal(back.Bytes(), pdf) {
				t.Fatalf("advisor download: %d %v", n, err)
			}
			if _, err := adv.UploadMeetingFile(ctx(t), m.ID, "setup.pdf", strings.NewReader("MZ\x90\x00 not a pdf"), -1, nil); !hasAPICode(err, "file_type_not_allowed") {
				t.Fatalf("disguised executable: %v", err)
			}

			if err := adv.EndMeeting(ctx(t), m.ID); err != nil {
				t.Fatal(err)
			}
			for _, p := range []*mediaPeer{a, c} {
				p.waitFor("the end", func(ms map[string][]msg.Message) bool {
					e := ms[msg.TypeEnded]
					return len(e) == 1 && e[0].Reason == msg.EndedMeeting
				})
			}
		})
	}
}

// TestSignalRefusesCrossOriginWebSocket: a page on another origin cannot
// open the signalling WebSocket with the customer's cookies or secret.
func TestSignalRefusesCrossOriginWebSocket(t *testing.T) {
	dir := t.TempDir()
	s := startRelay(t, dir)
	defer s.Close()
	_, resp, err := websocket.Dial(ctx(t), strings.Replace(s.URL(), "https://", "wss://", 1)+"/api/v1/signal",
		&websocket.DialOptions{HTTPClient: testenv.RelayClient(t, dir), HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin upgrade: %v, response %v", err, resp)
	}
}

func hasAPICode(err error, code string) bool {
	var ae *link.APIError
	return errors.As(err, &ae) && ae.Code == code
}

// TestMediaThroughTURN: a customer whose network allows nothing but the
// relay's TURN server (ICE policy "relay") still exchanges media through
// the SFU, with the short-lived credentials from the welcome.
func TestMediaThroughTURN(t *testing.T) {
	dir := t.TempDir()
	s, err := server.Start(context.Background(), server.Options{
		DataDir: dir, Listen: "127.0.0.1:0", TURNListen: "127.0.0.1:0", TenantSlug: "sparkasse-nord", AdminPassword: adminPassword, Hash: auth.TestHashParams,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	adv := connect(t, s, false)
	if _, err := adv.Login(ctx(t), "sparkasse-nord", "admin", adminPassword); err != nil {
		t.Fatal(err)
	}
	m, l, err := adv.CreateMeeting(ctx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := adv.Signal(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	a := newMediaPeer(t, sc, msg.Message{Type: msg.TypeHello, MeetingID: m.ID})
	customer := &testenv.API{Base: s.URL(), HTTP: testenv.RelayClient(t, dir)}
	var joined struct {
		ParticipantID string `json:"participant_id"`
		Secret        string `json:"secret"`
	}
	customer.Must(t, http.MethodPost, "/api/v1/join/"+l.Token, map[string]string{"name": "Eva"}, http.StatusCreated, &joined)
	if err := adv.Admit(ctx(t), m.ID, joined.ParticipantID); err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.Dial(ctx(t), strings.Replace(s.URL(), "https://", "wss://", 1)+"/api/v1/signal",
		&websocket.DialOptions{HTTPClient: customer.HTTP, HTTPHeader: http.Header{"Origin": {s.URL()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	c := newMediaPeerWith(t, wsSig{ws}, msg.Message{Type: msg.TypeHello, Token: joined.Secret}, true)
	deadline := time.Now().Add(20 * time.Second)
	for a.received.Load() < 20 || c.received.Load() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("media over TURN: advisor received %d packets, customer %d", a.received.Load(), c.received.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	pair, err := c.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local.Typ != webrtc.ICECandidateTypeRelay {
		t.Fatalf("the customer's selected pair is not relayed: %+v %v", pair, err)
	}
}
