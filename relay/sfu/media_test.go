package sfu

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// limiterFactory builds interceptors that drop incoming video beyond bps
// bits per second (a token bucket with a 15 kB burst), as a congested
// downlink would. Added ahead of the default interceptors, it hides the
// dropped packets from TWCC feedback and NACK generation, which then report
// them lost.
type limiterFactory struct{ bps float64 }

func (f limiterFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &limiter{bps: f.bps, tokens: 15000, last: time.Now()}, nil
}

type limiter struct {
	interceptor.NoOp
	bps    float64
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func (l *limiter) allow(n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.tokens = min(15000, l.tokens+now.Sub(l.last).Seconds()*l.bps/8)
	l.last = now
	if l.tokens < float64(n) {
		return false
	}
	l.tokens -= float64(n)
	return true
}

func (l *limiter) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	if !strings.HasPrefix(info.MimeType, "video/") {
		return r
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attr, err := r.Read(b, a)
			if err != nil || l.allow(n) {
				return n, attr, err
			}
		}
	})
}

// constrained is a client API whose downlink carries bps of video.
func constrained(t *testing.T, bps float64) *webrtc.API {
	return clientAPI(t, func(reg *interceptor.Registry, _ *webrtc.SettingEngine) { reg.Add(limiterFactory{bps: bps}) })
}

func TestScreenShareStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newTestSFU(t)
	api := clientAPI(t)
	room := s.Room("m")

	a := newClientWith(ctx, t, api, room, "a", clientConfig{screen: true})
	b := newClient(ctx, t, api, room, "b")
	receivesGrowing(t, b, "a")
	receivesGrowing(t, b, "a/screen")
	receivesGrowing(t, a, "b")
	if n := b.trackCount("a"); n != 1 {
		t.Fatalf("b got %d tracks in stream a, want 1 (the camera)", n)
	}
	if n := b.trackCount("a/screen"); n != 1 {
		t.Fatalf("b got %d tracks in stream a/screen, want 1", n)
	}
	if n := a.trackCount("b/screen"); n != 0 {
		t.Fatalf("a got %d screen tracks from b, which shares none", n)
	}
	// Three tracks are forwarded to one subscriber each.
	if st := s.Stats(); st.PacketsIn == 0 || st.PacketsOut < uint64(a.count("b")+b.count("a")+b.count("a/screen")) {
		t.Fatalf("stats %+v for %d packets received by the clients", st, a.count("b")+b.count("a")+b.count("a/screen"))
	}
}

func TestKeyframeRequestOnSubscribe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newTestSFU(t)
	api := clientAPI(t)
	room := s.Room("m")

	a := newClient(ctx, t, api, room, "a")
	eventually(t, 8*time.Second, "a connected", func() bool {
		return a.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	time.Sleep(300 * time.Millisecond) // a's track reaches the SFU
	if n := a.plis.Load(); n != 0 {
		t.Fatalf("publisher got %d PLIs with nobody subscribed", n)
	}
	b := newClientWith(ctx, t, api, room, "b", clientConfig{none: true})
	eventually(t, 8*time.Second, "PLI at a after b joined", func() bool { return a.plis.Load() > 0 })
	receivesGrowing(t, b, "a")
}

// nextREMB waits for a REMB at c that satisfies cond and returns it.
func nextREMB(t *testing.T, c *client, what string, cond func(float32) bool) float32 {
	t.Helper()
	deadline := time.After(20 * time.Second)
	var last float32
	for {
		select {
		case r := <-c.rembs:
			last = r
			if cond(r) {
				return r
			}
		case <-deadline:
			t.Fatalf("no REMB %s within 20 s (last %.0f bit/s)", what, last)
		}
	}
}

func TestREMBFollowsWeakestSubscriber(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s := newTestSFU(t)
	room := s.Room("m")

	// a sends about 1 Mbit/s: 30 frames of 4000 bytes per second.
	const sending = 4000 * 8 * 30
	a := newClientWith(ctx, t, clientAPI(t), room, "a", clientConfig{frameBytes: 4000})
	c := newClientWith(ctx, t, clientAPI(t), room, "c", clientConfig{none: true})
	receivesGrowing(t, c, "a")
	r := nextREMB(t, a, "near the sending rate with a healthy subscriber", func(r float32) bool { return r >= 0.6*sending })
	t.Logf("healthy subscriber: REMB %.0f bit/s", r)

	// b's downlink carries 250 kbit/s: the publisher is told to go below
	// its sending rate.
	b := newClientWith(ctx, t, constrained(t, 250_000), room, "b", clientConfig{none: true})
	receivesGrowing(t, b, "a")
	r = nextREMB(t, a, "below half the sending rate with a weak subscriber", func(r float32) bool { return r < 0.5*sending })
	t.Logf("weak subscriber: REMB %.0f bit/s", r)

	// Once b leaves, the cap follows c again.
	room.Leave("b")
	r = nextREMB(t, a, "back near the sending rate after the weak subscriber left", func(r float32) bool { return r >= 0.6*sending })
	t.Logf("weak subscriber gone: REMB %.0f bit/s", r)
}

// checkSwitches checks the packets a subscriber received from a simulcast
// track: across every change of layer the sequence numbers and timestamps
// continue (they would jump by thousands, or a billion for timestamps, if
// the layers' own numbering leaked through; a lossy link may still skip a
// few hundred packets or a few seconds), and, on a lossless link (atKeyframe), the first packet
// of each new layer starts a keyframe. It returns the number of switches.
func checkSwitches(t *testing.T, who string, rx []rxPacket, atKeyframe bool) int {
	t.Helper()
	switches := 0
	for i := 1; i < len(rx); i++ {
		p, q := rx[i-1], rx[i]
		if p.layer == q.layer {
			continue
		}
		switches++
		if d := int16(q.seq - p.seq); d <= 0 || d > 1000 {
			t.Errorf("%s: sequence number jumps by %d when switching from layer %d to %d", who, d, p.layer, q.layer)
		}
		if d := int32(q.ts - p.ts); d < 0 || d > 10*90000 {
			t.Errorf("%s: timestamp jumps by %d when switching from layer %d to %d", who, d, p.layer, q.layer)
		}
		if atKeyframe && !q.key {
			t.Errorf("%s: switched from layer %d to %d on a packet that does not start a keyframe", who, p.layer, q.layer)
		}
		if atKeyframe && d16(q.seq, p.seq) != 1 {
			t.Errorf("%s: lost packets when switching from layer %d to %d (seq %d → %d)", who, p.layer, q.layer, p.seq, q.seq)
		}
	}
	return switches
}

func d16(a, b uint16) int { return int(int16(a - b)) }

// onLayer reports whether the last n packets received all come from a layer
// that satisfies ok.
func onLayer(rx []rxPacket, n int, ok func(byte) bool) bool {
	if len(rx) < n {
		return false
	}
	for _, p := range rx[len(rx)-n:] {
		if !ok(p.layer) {
			return false
		}
	}
	return true
}

func TestSimulcastOneLayerPerSubscriber(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s := newTestSFU(t)
	room := s.Room("m")

	a := newClientWith(ctx, t, clientAPI(t), room, "a", clientConfig{simulcast: true})
	// b has a healthy link; c's carries 150 kbit/s: enough for the lowest
	// layer (about 70 kbit/s) only.
	b := newClientWith(ctx, t, clientAPI(t), room, "b", clientConfig{none: true, record: true})
	c := newClientWith(ctx, t, constrained(t, 150_000), room, "c", clientConfig{none: true, record: true})
	_ = a

	eventually(t, 40*time.Second, "b on a higher layer than the lowest", func() bool {
		return onLayer(b.received("a"), 60, func(l byte) bool { return l >= 1 })
	})
	eventually(t, 40*time.Second, "c on the lowest layer", func() bool {
		return onLayer(c.received("a"), 60, func(l byte) bool { return l == 0 })
	})
	if n := b.trackCount("a"); n != 1 {
		t.Fatalf("b got %d tracks from a's simulcast publication, want 1", n)
	}
	if n := c.trackCount("a"); n != 1 {
		t.Fatalf("c got %d tracks from a's simulcast publication, want 1", n)
	}
	nb := checkSwitches(t, "b", b.received("a"), true)
	nc := checkSwitches(t, "c", c.received("a"), false)
	t.Logf("layer switches: b %d, c %d", nb, nc)
}

func TestICETCP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSFU(t, func(o *Options) { o.TCP = ln })
	room := s.Room("m")
	tcpOnly := clientAPI(t, func(_ *interceptor.Registry, se *webrtc.SettingEngine) {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	})

	a := newClient(ctx, t, tcpOnly, room, "a")
	b := newClient(ctx, t, clientAPI(t), room, "b")
	receivesGrowing(t, a, "b")
	receivesGrowing(t, b, "a")
	pair, err := a.pc.GetSenders()[0].Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("a's selected candidate pair: %v, %v", pair, err)
	}
	if pair.Local.Protocol != webrtc.ICEProtocolTCP || pair.Remote.Protocol != webrtc.ICEProtocolTCP {
		t.Fatalf("a's media runs over %s/%s, want TCP", pair.Local.Protocol, pair.Remote.Protocol)
	}
}

// ufrag returns the ICE username fragment of an SDP.
func ufrag(sdp string) string {
	for _, line := range strings.Split(sdp, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}

func TestICERestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newTestSFU(t)
	api := clientAPI(t)
	room := s.Room("m")

	a := newClient(ctx, t, api, room, "a")
	b := newClient(ctx, t, api, room, "b")
	receivesGrowing(t, a, "b")
	receivesGrowing(t, b, "a")
	eventually(t, 8*time.Second, "b's negotiation settled", func() bool {
		return b.pc.SignalingState() == webrtc.SignalingStateStable
	})
	oldLocal, oldRemote := ufrag(b.pc.LocalDescription().SDP), ufrag(b.pc.RemoteDescription().SDP)

	offer, err := b.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	if ufrag(offer.SDP) == oldLocal {
		t.Fatal("restart offer kept the old ICE credentials")
	}
	if err := b.peer.HandleDescription(offer); err != nil {
		t.Fatal(err)
	}
	eventually(t, 8*time.Second, "the SFU's answer with new ICE credentials", func() bool {
		d := b.pc.RemoteDescription()
		return b.pc.SignalingState() == webrtc.SignalingStateStable && d != nil && ufrag(d.SDP) != oldRemote
	})
	receivesGrowing(t, b, "a")
	receivesGrowing(t, a, "b")
}
