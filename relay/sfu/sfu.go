// Package sfu is the relay's selective forwarding unit: every participant of
// a room publishes its tracks to the relay, which forwards each one to every
// other participant of the same room.
//
// Signalling is abstracted: a transport (WebSocket, QUIC, or Go channels in
// tests) implements Signaller to carry the SFU's descriptions and candidates
// to the client, and hands what the client sends to Peer.HandleDescription
// and Peer.HandleCandidate.
//
// # Negotiation
//
// The client makes the first offer (with the tracks it publishes); the SFU
// answers. Afterwards the SFU offers whenever a track is added to or removed
// from the peer. The SFU is the impolite peer of "perfect negotiation": an
// offer from the client that collides with an outstanding SFU offer is
// ignored, and the client (polite) is expected to roll back its own offer,
// answer the SFU's and offer again. The SFU never has more than one offer
// outstanding per peer; changes made meanwhile are offered after the answer.
//
// # Media
//
// One forwarder per published track reads its RTP and writes each packet to
// every subscriber's local track. A simulcast track has one layer per
// encoding (rid), each with its own packet cache (package packetcache) of
// the last 512 packets; a subscriber receives one layer at a time, switches
// at a keyframe, and sees one continuous run of sequence numbers and
// timestamps (the first layer's pass through unchanged). Subscribers' NACKs
// are answered from the cache; their PLI and FIR, and every new
// subscription to a video track, reach the publisher as a PLI at most once
// per 500 ms per layer. RTP header extensions are stripped, since their ids
// are negotiated per peer connection (the SFU adds its own transport-wide
// sequence numbers).
//
// # Bandwidth
//
// A send-side estimate per subscriber (pion's Google Congestion Control,
// fed by the subscriber's TWCC feedback) sets its budget per video track.
// Once a second each publisher receives a REMB capping its single-layer
// video at the smallest budget among each track's subscribers, and each
// subscriber of a simulcast track is moved to the best layer that fits.
package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Options configure an SFU.
type Options struct {
	// Logger receives the SFU's structured logs (ids only, no personal
	// data). Nil discards them.
	Logger *slog.Logger
	// UDP is the one UDP socket all peers share through ICE UDP muxing.
	// The SFU owns it from New on: Close closes it. Required.
	UDP net.PacketConn
	// PublicIPs are announced as host candidates in place of the socket's
	// own address (1:1 NAT): in production the relay's public IP, in tests
	// "127.0.0.1". Empty announces the socket's addresses.
	PublicIPs []string
	// LoopbackOnly keeps ICE on loopback interfaces and addresses, and turns
	// mDNS off. Tests must set it (see DESIGN.md, "Network rule for tests").
	LoopbackOnly bool
	// TCP, when set, is a listener for ICE-TCP (RFC 6544, passive side),
	// the fallback for clients whose UDP is blocked; its addresses are
	// offered as TCP host candidates (rewritten to PublicIPs like UDP's).
	// The SFU owns it from New on: Close closes it. Nil offers UDP only.
	TCP net.Listener
	// Now is the clock used for throttling keyframe requests. Nil means
	// time.Now.
	Now func() time.Time
}

// Bandwidth estimates (bits/s) of what the SFU sends to each peer.
const (
	initialEstimate = 1_000_000
	minEstimate     = 100_000
	maxEstimate     = 8_000_000
)

// SFU holds the WebRTC API shared by all rooms and the rooms themselves.
type SFU struct {
	api    *webrtc.API
	mux    ice.UDPMux
	tcpMux ice.TCPMux
	log    *slog.Logger
	now    func() time.Time
	count  counters

	// newPC serialises peer connection creation, so that the bandwidth
	// estimator the cc interceptor creates for it lands in bwe.
	newPC sync.Mutex
	bwe   cc.BandwidthEstimator

	mu    sync.Mutex
	rooms map[string]*Room
}

// ErrNoUDP is returned by New when Options.UDP is nil.
var ErrNoUDP = errors.New("sfu: no UDP socket")

// New builds the SFU's WebRTC stack from opts.
func New(opts Options) (*SFU, error) {
	if opts.UDP == nil {
		return nil, ErrNoUDP
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}

	me := &webrtc.MediaEngine{}
	if err := registerCodecs(me); err != nil {
		return nil, fmt.Errorf("sfu: registering codecs: %w", err)
	}
	s := &SFU{log: log, now: now, rooms: make(map[string]*Room)}
	reg := &interceptor.Registry{}
	if err := registerInterceptors(me, reg, log, func(e cc.BandwidthEstimator) { s.bwe = e }); err != nil {
		return nil, fmt.Errorf("sfu: registering interceptors: %w", err)
	}

	se := webrtc.SettingEngine{LoggerFactory: pionLogs{log}}
	s.mux = webrtc.NewICEUDPMux(pionLogs{log}.NewLogger("udpmux"), opts.UDP)
	se.SetICEUDPMux(s.mux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if opts.TCP != nil {
		s.tcpMux = webrtc.NewICETCPMux(pionLogs{log}.NewLogger("tcpmux"), opts.TCP, 64)
		se.SetICETCPMux(s.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	if len(opts.PublicIPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        opts.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			return nil, fmt.Errorf("sfu: public IPs: %w", err)
		}
	}
	se.SetNetworkTypes(networks)
	if opts.LoopbackOnly {
		LoopbackOnly(&se)
	}
	s.api = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	return s, nil
}

// newPeerConnection creates a peer connection and returns it with the
// bandwidth estimator of what the SFU sends on it.
func (s *SFU) newPeerConnection() (*webrtc.PeerConnection, cc.BandwidthEstimator, error) {
	s.newPC.Lock()
	defer s.newPC.Unlock()
	s.bwe = nil
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	bwe := s.bwe
	s.bwe = nil
	return pc, bwe, err
}

// Stats are the SFU's packet counters since New.
type Stats struct {
	// PacketsIn counts RTP packets received from publishers.
	PacketsIn uint64
	// PacketsOut counts RTP packets forwarded to subscribers (each copy
	// counts; retransmissions do not).
	PacketsOut uint64
}

// Stats returns the SFU's packet counters.
func (s *SFU) Stats() Stats {
	return Stats{PacketsIn: s.count.in.Load(), PacketsOut: s.count.out.Load()}
}

// LoopbackOnly restricts se to loopback interfaces and addresses, includes
// loopback candidates and disables mDNS, so that ICE sends nothing beyond
// 127.0.0.0/8 and ::1. Test clients use it for their own setting engines.
func LoopbackOnly(se *webrtc.SettingEngine) {
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool {
		ifi, err := net.InterfaceByName(name)
		return err == nil && ifi.Flags&net.FlagLoopback != 0
	})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetRemoteIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
}

func registerCodecs(me *webrtc.MediaEngine) error {
	video := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: webrtc.TypeRTCPFBTransportCC},
		{Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
	codecs := []struct {
		p webrtc.RTPCodecParameters
		k webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}},
		}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: video,
		}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: video,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		}, PayloadType: 102}, webrtc.RTPCodecTypeVideo},
	}
	for _, c := range codecs {
		if err := me.RegisterCodec(c.p, c.k); err != nil {
			return err
		}
	}
	return nil
}

// registerInterceptors sets up RTCP for an SFU: NACKs towards publishers are
// generated, but NACKs from subscribers are answered from the forwarder's
// packet cache (so no responder interceptor); sender and receiver reports;
// TWCC feedback for publishers and transport-wide sequence numbers on what
// the SFU sends; and a send-side bandwidth estimator (pion's Google
// Congestion Control, delay- and loss-based, fed by the subscribers' TWCC
// feedback) per peer connection, handed to newBWE as each connection is
// built. The estimator's pacer is a no-op: packets leave as they are
// forwarded; the estimate only steers REMB to publishers and simulcast
// layer choice.
func registerInterceptors(me *webrtc.MediaEngine, reg *interceptor.Registry, log *slog.Logger, newBWE func(cc.BandwidthEstimator)) error {
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return err
	}
	reg.Add(gen)
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return err
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return err
	}
	if err := webrtc.ConfigureTWCCSender(me, reg); err != nil {
		return err
	}
	bwe, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(
			gcc.SendSideBWEPacer(gcc.NewNoOpPacer()),
			gcc.SendSideBWEInitialBitrate(initialEstimate),
			gcc.SendSideBWEMinBitrate(minEstimate),
			gcc.SendSideBWEMaxBitrate(maxEstimate),
			gcc.WithLoggerFactory(pionLogs{log}),
		)
	})
	if err != nil {
		return err
	}
	bwe.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) { newBWE(e) })
	// Added before the header extension interceptor, whose writer runs
	// first, so that the estimator sees each packet's transport-wide
	// sequence number.
	reg.Add(bwe)
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, k); err != nil {
			return err
		}
	}
	hdr, err := twcc.NewHeaderExtensionInterceptor()
	if err != nil {
		return err
	}
	reg.Add(hdr)
	return nil
}

// Close closes every room, the UDP socket and the TCP listener.
func (s *SFU) Close() error {
	s.mu.Lock()
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.Close()
	}
	err := s.mux.Close()
	if s.tcpMux != nil {
		err = errors.Join(err, s.tcpMux.Close())
	}
	return err
}

// Room returns the open room with the given id, creating it on first use or
// after the previous room of that id was closed.
func (s *SFU) Room(id string) *Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[id]
	if !ok {
		r = &Room{sfu: s, id: id, peers: make(map[string]*Peer), log: s.log.With("room", id)}
		s.rooms[id] = r
	}
	return r
}
