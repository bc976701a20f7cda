package sfu

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"parley/relay/clock"
)

// newTestSFU starts an SFU on a loopback UDP socket; edit changes its
// options first.
func newTestSFU(t *testing.T, edit ...func(*Options)) *SFU {
	t.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var log *slog.Logger
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts := Options{Logger: log, UDP: udp, PublicIPs: []string{"127.0.0.1"}, LoopbackOnly: true}
	for _, e := range edit {
		e(&opts)
	}
	s, err := New(opts)
	if err != nil {
		udp.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clientAPI is a pion API for test clients, restricted to loopback. Its
// edits can add interceptors ahead of the default ones (which then see
// only what those let through) and change the settings.
func clientAPI(t *testing.T, edit ...func(*interceptor.Registry, *webrtc.SettingEngine)) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	se := webrtc.SettingEngine{}
	// Retransmissions of packets already received must reach the test,
	// which counts them.
	se.DisableSRTPReplayProtection(true)
	LoopbackOnly(&se)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	for _, e := range edit {
		e(reg, &se)
	}
	if err := webrtc.RegisterDefaultInterceptors(me, reg); err != nil {
		t.Fatal(err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
}

type sigMsg struct {
	desc *webrtc.SessionDescription
	cand *webrtc.ICECandidateInit
}

// chanSignaller implements Signaller with a channel read by the client.
type chanSignaller chan sigMsg

func (c chanSignaller) SendDescription(d webrtc.SessionDescription) error {
	c <- sigMsg{desc: &d}
	return nil
}

func (c chanSignaller) SendCandidate(i webrtc.ICECandidateInit) error {
	c <- sigMsg{cand: &i}
	return nil
}

var _ Signaller = chanSignaller(nil)

// client is a pion peer publishing one synthetic VP8 track and counting
// what it receives per stream (the forwarded track's stream id: the
// publisher's peer id, with "/screen" for screen shares).
type client struct {
	t    *testing.T
	name string
	pc   *webrtc.PeerConnection
	peer *Peer

	plis  atomic.Int64
	rembs chan float32 // REMB bitrates arriving at the publisher

	mu     sync.Mutex
	got    map[string]int
	dups   map[string]int
	seen   map[string]map[uint16]bool
	last   map[string]uint16
	ended  map[string]bool
	remote map[string]*webrtc.TrackRemote
	tracks map[string]int        // OnTrack calls per stream
	rx     map[string][]rxPacket // with clientConfig.record
}

// rxPacket is what a client records of a received packet.
type rxPacket struct {
	seq   uint16
	ts    uint32
	layer byte // the payload's third byte: simulcast layer index
	key   bool // starts a VP8 keyframe
}

// clientConfig varies what a test client publishes and records.
type clientConfig struct {
	// frameBytes is the size of each synthetic VP8 frame (default 14).
	frameBytes int
	// screen also publishes a screen-share track in stream
	// "screen-<name>", announced with Peer.SetScreenStream.
	screen bool
	// simulcast publishes the video as three layers (rids q, h, f) with
	// the layer's index in each payload's third byte, instead of the
	// single track.
	simulcast bool
	// none publishes nothing (the offer has one receive-only video
	// m-line).
	none bool
	// record keeps every received packet in rx.
	record bool
}

func newClient(ctx context.Context, t *testing.T, api *webrtc.API, room *Room, name string) *client {
	t.Helper()
	return newClientWith(ctx, t, api, room, name, clientConfig{})
}

func newClientWith(ctx context.Context, t *testing.T, api *webrtc.API, room *Room, name string, cfg clientConfig) *client {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c := &client{t: t, name: name, pc: pc, rembs: make(chan float32, 64), got: map[string]int{}, dups: map[string]int{}, seen: map[string]map[uint16]bool{}, last: map[string]uint16{}, ended: map[string]bool{}, remote: map[string]*webrtc.TrackRemote{}, tracks: map[string]int{}, rx: map[string][]rxPacket{}}

	switch {
	case cfg.none: // a receive-only m-line, so that the offer has ICE credentials
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	case cfg.simulcast:
		c.publishSimulcast(ctx, pc)
	default:
		c.publishVP8(ctx, pc, "video-"+name, "stream-"+name, cfg.frameBytes)
		if cfg.screen {
			c.publishVP8(ctx, pc, "screen-"+name, "screen-"+name, cfg.frameBytes)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		from := tr.StreamID()
		c.mu.Lock()
		c.remote[from] = tr
		c.tracks[from]++
		c.seen[from] = map[uint16]bool{}
		c.ended[from] = false
		c.mu.Unlock()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				c.mu.Lock()
				c.ended[from] = true
				c.mu.Unlock()
				return
			}
			c.mu.Lock()
			if cfg.record && len(pkt.Payload) > 2 {
				c.rx[from] = append(c.rx[from], rxPacket{seq: pkt.SequenceNumber, ts: pkt.Timestamp, layer: pkt.Payload[2], key: vp8Keyframe(pkt.Payload)})
			}
			c.got[from]++
			if c.seen[from][pkt.SequenceNumber] {
				c.dups[from]++
			}
			c.seen[from][pkt.SequenceNumber] = true
			c.last[from] = pkt.SequenceNumber
			c.mu.Unlock()
		}
	})

	sig := make(chanSignaller, 256)
	peer, err := room.Join(ctx, name, sig)
	if err != nil {
		t.Fatal(err)
	}
	c.peer = peer
	if cfg.screen {
		peer.SetScreenStream("screen-" + name)
	}
	pc.OnICECandidate(func(ic *webrtc.ICECandidate) {
		if ic == nil {
			return
		}
		checkLoopback(t, name, ic.ToJSON().Candidate)
		if err := peer.HandleCandidate(ic.ToJSON()); err != nil {
			t.Errorf("%s: candidate: %v", name, err)
		}
	})
	go func() { // the client's side of signalling
		for {
			var m sigMsg
			select {
			case <-ctx.Done():
				return
			case m = <-sig:
			}
			switch {
			case m.cand != nil:
				checkLoopback(t, "SFU", m.cand.Candidate)
				if err := pc.AddICECandidate(*m.cand); err != nil && ctx.Err() == nil {
					t.Errorf("%s: add candidate: %v", name, err)
				}
			case m.desc.Type == webrtc.SDPTypeAnswer:
				if err := pc.SetRemoteDescription(*m.desc); err != nil && ctx.Err() == nil {
					t.Errorf("%s: answer: %v", name, err)
				}
			case m.desc.Type == webrtc.SDPTypeOffer:
				if err := pc.SetRemoteDescription(*m.desc); err != nil && ctx.Err() == nil {
					t.Errorf("%s: offer: %v", name, err)
					continue
				}
				ans, err := pc.CreateAnswer(nil)
				if err == nil {
					err = pc.SetLocalDescription(ans)
				}
				if err == nil {
					err = peer.HandleDescription(ans)
				}
				if err != nil && ctx.Err() == nil {
					t.Errorf("%s: answering: %v", name, err)
				}
			}
		}
	}()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	if err := peer.HandleDescription(offer); err != nil {
		t.Fatal(err)
	}
	return c
}

// readFeedback counts PLIs and collects REMBs arriving at a publisher.
func (c *client) readFeedback(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication:
				c.plis.Add(1)
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				select {
				case c.rembs <- p.Bitrate:
				default:
				}
			}
		}
	}
}

// publishVP8 sends synthetic VP8 keyframes of frameBytes bytes at ~30 fps.
func (c *client) publishVP8(ctx context.Context, pc *webrtc.PeerConnection, id, stream string, frameBytes int) {
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, id, stream)
	if err != nil {
		c.t.Fatal(err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		c.t.Fatal(err)
	}
	go c.readFeedback(sender)
	frame := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x10, 0x00, 0x10, 0x00, 0xde, 0xad, 0xbe, 0xef}
	if frameBytes > len(frame) {
		frame = append(frame, make([]byte, frameBytes-len(frame))...)
	}
	go func() {
		tick := time.NewTicker(33 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := track.WriteSample(media.Sample{Data: frame, Duration: 33 * time.Millisecond}); err != nil {
					return
				}
			}
		}
	}()
}

// simulcastLayers are the test publisher's layers: rid, packets per frame
// and payload bytes per packet (about 70, 250 and 800 kbit/s at 30 fps).
var simulcastLayers = []struct {
	rid     string
	packets int
	size    int
}{{"q", 1, 300}, {"h", 1, 1000}, {"f", 3, 1100}}

// publishSimulcast sends one VP8 track as three rid layers of hand-made
// RTP packets at 30 fps, a keyframe every 15 frames. Each payload carries
// a VP8 payload descriptor, the VP8 header's first byte (P bit) and the
// layer's index, and the mid and rid header extensions the SFU identifies
// the layers by (pion's sender leaves them to the application). Each layer
// has its own sequence numbers and timestamp base, as a browser's have.
func (c *client) publishSimulcast(ctx context.Context, pc *webrtc.PeerConnection) {
	var tracks []*webrtc.TrackLocalStaticRTP
	var sender *webrtc.RTPSender
	for _, l := range simulcastLayers {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video-"+c.name, "stream-"+c.name, webrtc.WithRTPStreamID(l.rid))
		if err != nil {
			c.t.Fatal(err)
		}
		if sender == nil {
			sender, err = pc.AddTrack(tr)
		} else {
			err = sender.AddEncoding(tr)
		}
		if err != nil {
			c.t.Fatal(err)
		}
		tracks = append(tracks, tr)
	}
	go c.readFeedback(sender)
	go func() {
		tick := time.NewTicker(33 * time.Millisecond)
		defer tick.Stop()
		seqs := []uint16{1000, 20000, 40000}
		var midExt, ridExt int
		var mid string
		for frame := 0; ; frame++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if midExt == 0 || ridExt == 0 {
				for _, e := range sender.GetParameters().HeaderExtensions {
					switch e.URI {
					case sdp.SDESMidURI:
						midExt = e.ID
					case sdp.SDESRTPStreamIDURI:
						ridExt = e.ID
					}
				}
				for _, tr := range pc.GetTransceivers() {
					if tr.Sender() == sender {
						mid = tr.Mid()
					}
				}
				if midExt == 0 || ridExt == 0 || mid == "" {
					continue // not negotiated yet
				}
			}
			ts := uint32(frame * 3000)
			for i, l := range simulcastLayers {
				for k := range l.packets {
					payload := make([]byte, l.size)
					if k == 0 {
						payload[0] = 0x10 // S, partition 0
					}
					if frame%15 != 0 {
						payload[1] = 0x01 // P: interframe
					}
					payload[2] = byte(i)
					pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seqs[i], Timestamp: ts + uint32(i)*1_000_000_000, Marker: k == l.packets-1}, Payload: payload}
					seqs[i]++
					if err := pkt.SetExtension(uint8(midExt), []byte(mid)); err != nil {
						c.t.Error(err)
						return
					}
					if err := pkt.SetExtension(uint8(ridExt), []byte(l.rid)); err != nil {
						c.t.Error(err)
						return
					}
					if err := tracks[i].WriteRTP(pkt); err != nil && ctx.Err() == nil && !errors.Is(err, io.ErrClosedPipe) {
						c.t.Errorf("%s: writing layer %s: %v", c.name, l.rid, err)
						return
					}
				}
			}
		}
	}()
}

// checkLoopback fails the test for a candidate outside loopback.
func checkLoopback(t *testing.T, who, cand string) {
	f := strings.Fields(cand)
	if len(f) < 5 || !net.ParseIP(f[4]).IsLoopback() {
		t.Errorf("%s offered a non-loopback candidate: %q", who, cand)
	}
}

func (c *client) count(from string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[from]
}

func (c *client) dupsAndLast(from string) (int, uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dups[from], c.last[from]
}

func (c *client) hasEnded(from string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended[from]
}

func (c *client) trackCount(from string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tracks[from]
}

func (c *client) received(from string) []rxPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.rx[from])
}

func (c *client) track(from string) *webrtc.TrackRemote {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote[from]
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receivesGrowing waits until c has received at least 10 more packets from
// publisher from than it had on entry.
func receivesGrowing(t *testing.T, c *client, from string) {
	t.Helper()
	start := c.count(from)
	eventually(t, 8*time.Second, c.name+" receiving from "+from, func() bool { return c.count(from) >= start+10 })
}

func TestRoomForwarding(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Keyframe requests are throttled by this clock; it moves only when
	// the test says so.
	fake := clock.NewFake(time.Now())
	s := newTestSFU(t, func(o *Options) { o.Now = fake.Now })
	api := clientAPI(t)
	room := s.Room("meeting-1")

	a := newClient(ctx, t, api, room, "a")
	b := newClient(ctx, t, api, room, "b")
	receivesGrowing(t, a, "b")
	receivesGrowing(t, b, "a")
	if n := a.count("a"); n != 0 {
		t.Fatalf("a received %d packets of its own track", n)
	}

	c := newClient(ctx, t, api, room, "c")
	for _, pair := range [][2]*client{{a, b}, {a, c}, {b, a}, {b, c}, {c, a}, {c, b}} {
		receivesGrowing(t, pair[0], pair[1].name)
	}

	// A subscriber's PLI reaches the publisher, throttled.
	tr := c.track("a")
	fake.Advance(time.Second) // past the PLIs sent when b and c subscribed
	before := a.plis.Load()
	for range 5 {
		if err := c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "PLI at publisher a", func() bool { return a.plis.Load() > before })
	time.Sleep(200 * time.Millisecond)
	if got := a.plis.Load() - before; got != 1 {
		t.Fatalf("publisher got %d PLIs for 5 requests within 500 ms, want 1", got)
	}

	// A subscriber's NACK is answered from the SFU's packet cache: the
	// packet arrives a second time.
	dups, seq := c.dupsAndLast("a")
	if dups != 0 {
		t.Fatalf("c got %d duplicate packets before any NACK", dups)
	}
	nack := &rtcp.TransportLayerNack{MediaSSRC: uint32(tr.SSRC()), Nacks: []rtcp.NackPair{{PacketID: seq - 2, LostPackets: 0b11}}}
	if err := c.pc.WriteRTCP([]rtcp.Packet{nack}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "retransmissions at c", func() bool { d, _ := c.dupsAndLast("a"); return d >= 3 })

	// b leaves: its track ends at a and c, the others keep flowing.
	room.Leave("b")
	for _, x := range []*client{a, c} {
		eventually(t, 8*time.Second, "b's track ending at "+x.name, func() bool { return x.hasEnded("b") })
	}
	stopped := a.count("b")
	receivesGrowing(t, a, "c")
	receivesGrowing(t, c, "a")
	if a.count("b") != stopped {
		t.Fatal("a still receives b's packets after b left")
	}
	if got := len(room.Peers()); got != 2 {
		t.Fatalf("room has %d peers, want 2", got)
	}
}

func TestJoinTwice(t *testing.T) {
	s := newTestSFU(t)
	r := s.Room("r")
	p, err := r.Join(context.Background(), "x", make(chanSignaller, 8))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := r.Join(context.Background(), "x", make(chanSignaller, 8)); err == nil {
		t.Fatal("second join with the same id succeeded")
	}
	p.Close()
	p.Close()
	if n := len(r.Peers()); n != 0 {
		t.Fatalf("%d peers after close", n)
	}
	if _, err := r.Join(context.Background(), "y", make(chanSignaller, 8)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := r.Join(context.Background(), "z", make(chanSignaller, 8)); !errors.Is(err, ErrRoomClosed) {
		t.Fatalf("join after close: %v", err)
	}
	if n := len(r.Peers()); n != 0 {
		t.Fatalf("%d peers after room close", n)
	}
	if s.Room("r") == r {
		t.Fatal("closed room handed out again")
	}
}

func TestNewNeedsUDP(t *testing.T) {
	if _, err := New(Options{}); err != ErrNoUDP {
		t.Fatalf("got %v, want ErrNoUDP", err)
	}
}
