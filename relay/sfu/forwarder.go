package sfu

import (
	"slices"
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

// counters are the SFU's packet counters, shared by every forwarder.
type counters struct {
	in, out atomic.Uint64
}

// forwarder is one published track: one layer per simulcast encoding (a
// single layer without simulcast), written to its subscribers. Each
// subscriber receives one layer at a time.
type forwarder struct {
	pub      *Peer
	trackID  string
	streamID string
	codec    webrtc.RTPCodecCapability
	video    bool
	now      func() time.Time
	count    *counters

	mu     sync.Mutex // serialises changes to subs and layers
	subs   atomic.Pointer[[]*subscriber]
	layers atomic.Pointer[[]*layer]
	sink   atomic.Pointer[sinkBox] // nil: no sink (see Room.SetSinks)
}

// layer is one encoding of a published track, with its own SSRC, sequence
// numbers, timestamps and packet cache.
type layer struct {
	f       *forwarder
	rid     string
	ssrc    uint32
	cache   *packetcache.Cache
	bytes   atomic.Uint64 // received so far, for rate measurement
	rate    atomic.Int64  // bits/s over the last control interval
	last    atomic.Int64  // arrival (f.now, Unix ns) of the latest packet
	lastPLI atomic.Int64
}

// subscriber is one peer's local copy of a forwarded track. Its mutex
// guards the layer choice and the sequence number and timestamp rewriting,
// used by every layer's goroutine and by the subscriber's RTCP reader.
type subscriber struct {
	peer   *Peer
	track  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender

	mu        sync.Mutex
	cur, want *layer
	started   bool   // a packet has been written
	seqOff    uint16 // output = input + offset, for cur
	tsOff     uint32
	lastSeq   uint16 // latest output
	lastTS    uint32
	switchSeq uint16 // first output sequence number taken from cur
}

func newForwarder(pub *Peer, trackID, streamID string, codec webrtc.RTPCodecCapability, now func() time.Time, count *counters) *forwarder {
	f := &forwarder{
		pub: pub, trackID: trackID, streamID: streamID, codec: codec,
		video: len(codec.MimeType) > 6 && codec.MimeType[:6] == "video/",
		now:   now, count: count,
	}
	if f.count == nil {
		f.count = &counters{}
	}
	f.subs.Store(&[]*subscriber{})
	f.layers.Store(&[]*layer{})
	return f
}

// addLayer adds an encoding (rid "" without simulcast) with the given SSRC.
func (f *forwarder) addLayer(rid string, ssrc uint32) *layer {
	l := &layer{f: f, rid: rid, ssrc: ssrc, cache: packetcache.New(cacheSize)}
	f.mu.Lock()
	defer f.mu.Unlock()
	next := append(slices.Clone(*f.layers.Load()), l)
	f.layers.Store(&next)
	for _, s := range *f.subs.Load() {
		s.mu.Lock()
		if s.want == nil {
			s.want = l
		}
		s.mu.Unlock()
	}
	return l
}

// removeLayer drops l; subscribers on it move to another layer at its next
// keyframe. It reports whether layers remain.
func (f *forwarder) removeLayer(l *layer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := slices.DeleteFunc(slices.Clone(*f.layers.Load()), func(o *layer) bool { return o == l })
	f.layers.Store(&next)
	for _, s := range *f.subs.Load() {
		s.mu.Lock()
		if s.want == l {
			s.want = nil
			if len(next) > 0 {
				s.want = next[0]
			}
		}
		s.mu.Unlock()
	}
	return len(next) > 0
}

// simulcast reports whether the track has more than one layer.
func (f *forwarder) simulcast() bool { return len(*f.layers.Load()) > 1 }

func (f *forwarder) addSubscriber(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if layers := *f.layers.Load(); len(layers) > 0 {
		s.mu.Lock()
		s.want = pickLayer(layers, s.budget(), nil)
		s.mu.Unlock()
	}
	next := append(slices.Clone(*f.subs.Load()), s)
	f.subs.Store(&next)
}

func (f *forwarder) removeSubscriber(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := slices.DeleteFunc(slices.Clone(*f.subs.Load()), func(o *subscriber) bool { return o == s })
	f.subs.Store(&next)
}

// pickLayer chooses the layer with the highest measured rate that fits the
// budget (bits/s, 0 when unknown), or the lowest one when none fits. Going
// up from cur needs 15% headroom, so that a budget close to a layer's rate
// does not flap. Before any rate is measured it keeps cur, or takes the
// first layer.
func pickLayer(layers []*layer, budget int64, cur *layer) *layer {
	if len(layers) == 0 {
		return nil
	}
	measured := false
	for _, l := range layers {
		if l.rate.Load() > 0 {
			measured = true
		}
	}
	if !measured || budget <= 0 {
		if cur != nil && slices.Contains(layers, cur) {
			return cur
		}
		if !measured {
			return layers[0]
		}
	}
	var best, lowest *layer
	curRate := int64(-1)
	if cur != nil {
		curRate = cur.rate.Load()
	}
	for _, l := range layers {
		r := l.rate.Load()
		if lowest == nil || r < lowest.rate.Load() {
			lowest = l
		}
		need := r
		if r > curRate {
			need = r + r*15/100
		}
		if (budget <= 0 || need <= budget) && (best == nil || r > best.rate.Load()) {
			best = l
		}
	}
	if best == nil {
		return lowest
	}
	return best
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

// run forwards the layer's packets until its track ends, then withdraws
// the layer, and the track with its last layer.
func (l *layer) run(remote *webrtc.TrackRemote) {
	defer func() {
		if !l.f.removeLayer(l) {
			l.f.pub.removePublished(l.f)
		}
	}()
	buf := make([]byte, packetcache.MaxPacketSize)
	var pkt rtp.Packet
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			return
		}
		l.forward(buf[:n], &pkt)
	}
}

// forward is the per-packet path: unmarshal raw into pkt, keep it in the
// cache, and write it to every subscriber currently on this layer with the
// subscriber's sequence number and timestamp. It does not allocate.
func (l *layer) forward(raw []byte, pkt *rtp.Packet) {
	if err := pkt.Unmarshal(raw); err != nil {
		return
	}
	l.cache.Store(pkt.SequenceNumber, raw)
	l.bytes.Add(uint64(len(raw)))
	now := l.f.now().UnixNano()
	stripExtensions(pkt)
	l.toSink(pkt)
	seq, ts := pkt.SequenceNumber, pkt.Timestamp
	key := -1 // keyframe start: unknown until a subscriber asks
	sent := 0
	for _, s := range *l.f.subs.Load() {
		var ok bool
		pkt.SequenceNumber, pkt.Timestamp, ok = s.rewrite(l, seq, ts, now, pkt.Payload, &key)
		if !ok {
			continue
		}
		_ = s.track.WriteRTP(pkt)
		sent++
	}
	l.last.Store(now)
	pkt.SequenceNumber, pkt.Timestamp = seq, ts
	l.f.count.in.Add(1)
	l.f.count.out.Add(uint64(sent))
}

// rewrite decides whether the packet (seq, ts) of layer l goes to s and
// with which sequence number and timestamp. A subscriber switches to the
// layer it wants at that layer's next keyframe, continuing its own
// sequence numbers and timestamps; its first layer starts at once with the
// publisher's numbering.
func (s *subscriber) rewrite(l *layer, seq uint16, ts uint32, now int64, payload []byte, key *int) (uint16, uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != l {
		if s.want != l {
			return 0, 0, false
		}
		if s.started {
			if *key < 0 {
				*key = 0
				if isKeyframeStart(l.f.codec.MimeType, payload) {
					*key = 1
				}
			}
			if *key == 0 {
				return 0, 0, false
			}
			elapsed := uint32(1)
			if s.cur != nil {
				if d := now - s.cur.last.Load(); d > 0 {
					elapsed = max(1, uint32(d*int64(l.f.codec.ClockRate)/int64(time.Second)))
				}
			}
			s.seqOff = s.lastSeq + 1 - seq
			s.tsOff = s.lastTS + elapsed - ts
		}
		s.cur = l
		s.switchSeq = seq + s.seqOff
	}
	out, outTS := seq+s.seqOff, ts+s.tsOff
	if !s.started || int16(out-s.lastSeq) > 0 {
		s.lastSeq, s.lastTS = out, outTS
	}
	s.started = true
	return out, outTS, true
}

// original maps a sequence number s sent back to its layer and the
// publisher's sequence number, for retransmission. Packets sent before the
// latest layer switch are not retransmitted.
func (s *subscriber) original(seq uint16) (l *layer, in uint16, tsOff uint32, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || int16(seq-s.switchSeq) < 0 || int16(seq-s.lastSeq) > 0 {
		return nil, 0, 0, false
	}
	return s.cur, seq - s.seqOff, s.tsOff, true
}

// current is the layer s receives, or the one it waits for.
func (s *subscriber) current() *layer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		return s.cur
	}
	return s.want
}

// budget is the subscriber's share of its connection's estimated
// bandwidth for this track, 0 when unknown.
func (s *subscriber) budget() int64 {
	if s.peer == nil {
		return 0
	}
	return s.peer.videoBudget()
}

// requestKeyframe asks the publisher for a keyframe of layer l, at most
// once per pliInterval.
func (f *forwarder) requestKeyframe(l *layer) {
	if l == nil || !f.video || f.pub == nil {
		return
	}
	now := f.now().UnixNano()
	last := l.lastPLI.Load()
	if last != 0 && now-last < int64(pliInterval) {
		return
	}
	if !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	_ = f.pub.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}})
}

// readRTCP handles a subscriber's feedback for f: NACKs are answered from
// the cache of the layer the subscriber receives, PLI and FIR become a
// throttled PLI to the publisher. It returns when the sender stops.
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
				f.requestKeyframe(s.current())
			case *rtcp.TransportLayerCC:
				s.peer.twccSeen.Store(true)
			case *rtcp.TransportLayerNack:
				for _, pair := range p.Nacks {
					for _, seq := range pair.PacketList() {
						l, in, tsOff, ok := s.original(seq)
						if !ok {
							continue
						}
						m := l.cache.Get(in, pbuf)
						if m == 0 || pkt.Unmarshal(pbuf[:m]) != nil {
							continue
						}
						stripExtensions(&pkt)
						pkt.SequenceNumber, pkt.Timestamp = seq, pkt.Timestamp+tsOff
						_ = s.track.WriteRTP(&pkt)
					}
				}
			}
		}
	}
}
