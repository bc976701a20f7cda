package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"parley/relay/sfu/packetcache"
)

const (
	cacheSize   = 512
	pliInterval = 500 * time.Millisecond
)

// forwarder reads one published track and writes it to its subscribers.
type forwarder struct {
	pub    *Peer
	remote *webrtc.TrackRemote
	cache  *packetcache.Cache
	now    func() time.Time

	mu      sync.Mutex // serialises changes to subs
	subs    atomic.Pointer[[]*subscriber]
	lastPLI atomic.Int64
}

// subscriber is one peer's local copy of a forwarded track.
type subscriber struct {
	peer   *Peer
	track  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
}

func newForwarder(pub *Peer, remote *webrtc.TrackRemote, now func() time.Time) *forwarder {
	f := &forwarder{pub: pub, remote: remote, cache: packetcache.New(cacheSize), now: now}
	f.subs.Store(&[]*subscriber{})
	return f
}

func (f *forwarder) addSubscriber(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := *f.subs.Load()
	next := append(append(make([]*subscriber, 0, len(old)+1), old...), s)
	f.subs.Store(&next)
}

func (f *forwarder) removeSubscriber(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := *f.subs.Load()
	next := make([]*subscriber, 0, len(old))
	for _, o := range old {
		if o != s {
			next = append(next, o)
		}
	}
	f.subs.Store(&next)
}

// stripExtensions drops header extensions, whose ids belong to the
// publisher's connection. The slice keeps its capacity, so that the
// transport-wide sequence number each subscriber's interceptor adds does
// not allocate.
func stripExtensions(p *rtp.Packet) {
	p.Extension = false
	p.Extensions = p.Extensions[:0]
	p.ExtensionProfile = 0
}

// run forwards packets until the track ends, then withdraws it.
func (f *forwarder) run() {
	defer f.pub.room.removeForwarder(f)
	buf := make([]byte, packetcache.MaxPacketSize)
	var pkt rtp.Packet
	for {
		n, _, err := f.remote.Read(buf)
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		f.cache.Store(pkt.SequenceNumber, buf[:n])
		stripExtensions(&pkt)
		for _, s := range *f.subs.Load() {
			_ = s.track.WriteRTP(&pkt)
		}
	}
}

// requestKeyframe asks the publisher for a keyframe, at most once per
// pliInterval.
func (f *forwarder) requestKeyframe() {
	now := f.now().UnixNano()
	last := f.lastPLI.Load()
	if last != 0 && now-last < int64(pliInterval) {
		return
	}
	if !f.lastPLI.CompareAndSwap(last, now) {
		return
	}
	_ = f.pub.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(f.remote.SSRC())}})
}

// readRTCP handles a subscriber's feedback for f: NACKs are answered from
// the forwarder's cache, PLI and FIR become a throttled PLI to the
// publisher. It returns when the sender stops.
func (s *subscriber) readRTCP(f *forwarder) {
	buf := make([]byte, packetcache.MaxPacketSize)
	pbuf := make([]byte, packetcache.MaxPacketSize)
	var pkt rtp.Packet
	for {
		n, _, err := s.sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				f.requestKeyframe()
			case *rtcp.TransportLayerNack:
				for _, pair := range p.Nacks {
					for _, seq := range pair.PacketList() {
						m := f.cache.Get(seq, pbuf)
						if m == 0 || pkt.Unmarshal(pbuf[:m]) != nil {
							continue
						}
						stripExtensions(&pkt)
						_ = s.track.WriteRTP(&pkt)
					}
				}
			}
		}
	}
}
