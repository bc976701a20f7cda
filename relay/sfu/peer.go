package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"parley/relay/signal/msg"
)

// Signaller carries what the SFU sends to one client. Its methods are called
// from one goroutine per peer, in order, and never with the SFU's locks held,
// so an implementation may block and may call back into the Peer.
type Signaller interface {
	// SendDescription sends an SDP offer or answer to the client.
	SendDescription(webrtc.SessionDescription) error
	// SendCandidate sends one of the SFU's ICE candidates to the client.
	SendCandidate(webrtc.ICECandidateInit) error
}

// ErrBadDescription is returned by Peer.HandleDescription for descriptions
// that are neither offers nor answers.
var ErrBadDescription = errors.New("sfu: unsupported description type")

// Peer is one client's connection to a room.
type Peer struct {
	id   string
	room *Room
	pc   *webrtc.PeerConnection
	log  *slog.Logger
	out  *outbox

	mu         sync.Mutex // negotiation state below
	haveRemote bool
	dirty      bool
	closed     bool
	pending    []webrtc.ICECandidateInit
	subs       map[*forwarder]*subscriber

	pubMu  sync.Mutex // published tracks below
	pubs   map[string]*forwarder
	screen string

	// Bandwidth estimation of what the SFU sends to this peer.
	bwe       cc.BandwidthEstimator // nil when unavailable
	twccSeen  atomic.Bool           // the peer sends TWCC feedback
	videoSubs atomic.Int32
	audioSubs atomic.Int32

	closeOnce sync.Once
	done      chan struct{}
}

func newPeer(r *Room, id string, pc *webrtc.PeerConnection, sig Signaller, bwe cc.BandwidthEstimator) *Peer {
	p := &Peer{
		id:   id,
		room: r,
		pc:   pc,
		log:  r.log.With("peer", id),
		subs: make(map[*forwarder]*subscriber),
		pubs: make(map[string]*forwarder),
		bwe:  bwe,
		done: make(chan struct{}),
	}
	p.out = newOutbox(sig, p.log, p.done)
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		p.out.pushCandidate(c.ToJSON())
	})
	pc.OnTrack(func(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) { p.publish(remote, recv) })
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.log.Debug("connection state", "state", s.String())
		if s == webrtc.PeerConnectionStateFailed {
			go p.Close()
		}
	})
	go p.control(controlInterval)
	return p
}

// SetScreenStream marks msid as the stream id of the peer's screen share:
// tracks the peer publishes afterwards in that stream are forwarded with
// the stream id "<peer id>/screen" (msg.ScreenSuffix) instead of
// "<peer id>". The signalling hub calls it when the peer's media state
// names its screen stream, before the offer that adds the track. An empty
// msid means no screen share.
func (p *Peer) SetScreenStream(msid string) {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	p.screen = msid
}

// publish starts forwarding a track (or one simulcast layer of it) that
// the peer sends. Layers of one track share its forwarder.
func (p *Peer) publish(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	p.pubMu.Lock()
	f := p.pubs[remote.ID()]
	isNew := f == nil
	if isNew {
		stream := p.id
		if p.screen != "" && remote.StreamID() == p.screen {
			stream += msg.ScreenSuffix
		}
		f = newForwarder(p, remote.ID(), stream, remote.Codec().RTPCodecCapability, p.room.sfu.now, &p.room.sfu.count)
		p.pubs[remote.ID()] = f
	}
	l := f.addLayer(remote.RID(), uint32(remote.SSRC()))
	p.pubMu.Unlock()
	p.log.Debug("track published", "track", remote.ID(), "rid", remote.RID(), "kind", remote.Kind().String(), "stream", f.streamID)
	if isNew && !p.room.addForwarder(f) {
		p.removePublished(f)
		return
	}
	if isNew {
		if fn := p.room.sinkFunc(); fn != nil {
			f.attachSink(fn)
		}
	}
	go l.run(remote)
	if recv != nil {
		go l.readRTCP(recv, remote.RID())
	}
}

// removePublished withdraws f, one of p's tracks, from the room.
func (p *Peer) removePublished(f *forwarder) {
	p.pubMu.Lock()
	if p.pubs[f.trackID] == f {
		delete(p.pubs, f.trackID)
	}
	p.pubMu.Unlock()
	p.room.removeForwarder(f)
	f.detachSink()
}

// published returns the peer's forwarders.
func (p *Peer) published() []*forwarder {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	fs := make([]*forwarder, 0, len(p.pubs))
	for _, f := range p.pubs {
		fs = append(fs, f)
	}
	return fs
}

const (
	controlInterval = time.Second
	// audioAllowance is set aside from a subscriber's estimate per audio
	// track before the rest is shared among its video tracks.
	audioAllowance = 40_000
)

// control runs once per interval until the peer closes: it measures the
// rates of the peer's published layers, sends the peer a REMB for its
// video tracks, and picks simulcast layers for what the peer receives.
func (p *Peer) control(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := time.Now()
	for {
		var now time.Time
		select {
		case <-p.done:
			return
		case now = <-t.C:
		}
		dt := now.Sub(last)
		last = now
		fs := p.published()
		for _, f := range fs {
			for _, l := range *f.layers.Load() {
				l.rate.Store(int64(float64(l.bytes.Swap(0)*8) / dt.Seconds()))
			}
		}
		p.sendREMB(fs)
		p.selectLayers()
	}
}

// videoBudget is the share of the peer's estimated bandwidth available to
// each video track it receives, or 0 when the peer gives no TWCC feedback.
func (p *Peer) videoBudget() int64 {
	if p.bwe == nil || !p.twccSeen.Load() {
		return 0
	}
	est := int64(p.bwe.GetTargetBitrate()) - int64(p.audioSubs.Load())*audioAllowance
	return max(minEstimate, est/int64(max(1, p.videoSubs.Load())))
}

// sendREMB caps the peer's video bitrate at what its subscribers can
// take: per single-layer video track, the smallest budget among the
// track's subscribers (maxEstimate when none has an estimate); one REMB
// carries the sum for all of them. Simulcast tracks are not capped: their
// subscribers are served by switching layers.
func (p *Peer) sendREMB(fs []*forwarder) {
	remb := &rtcp.ReceiverEstimatedMaximumBitrate{}
	var total int64
	for _, f := range fs {
		layers := *f.layers.Load()
		if !f.video || len(layers) != 1 {
			continue
		}
		c := int64(-1)
		for _, s := range *f.subs.Load() {
			if b := s.budget(); b > 0 && (c < 0 || b < c) {
				c = b
			}
		}
		if c < 0 {
			c = maxEstimate
		}
		total += c
		remb.SSRCs = append(remb.SSRCs, layers[0].ssrc)
	}
	if len(remb.SSRCs) == 0 {
		return
	}
	remb.Bitrate = float32(total)
	if err := p.pc.WriteRTCP([]rtcp.Packet{remb}); err != nil {
		p.log.Debug("sending REMB", "err", err)
	}
}

// selectLayers moves each simulcast track the peer receives to the layer
// its budget allows, asking the publisher for a keyframe of a new layer.
func (p *Peer) selectLayers() {
	p.mu.Lock()
	var ask []struct {
		f *forwarder
		l *layer
	}
	for f, s := range p.subs {
		if !f.simulcast() {
			continue
		}
		s.mu.Lock()
		want := pickLayer(*f.layers.Load(), s.budget(), s.want)
		if want != s.want {
			s.want = want
			if want != s.cur {
				ask = append(ask, struct {
					f *forwarder
					l *layer
				}{f, want})
			}
		}
		s.mu.Unlock()
	}
	p.mu.Unlock()
	for _, a := range ask {
		a.f.requestKeyframe(a.l)
	}
}

// ID is the peer's id in its room.
func (p *Peer) ID() string { return p.id }

// Done is closed when the peer has left the room: Close was called, its
// context ended, or its connection failed.
func (p *Peer) Done() <-chan struct{} { return p.done }

// HandleDescription applies an offer or answer from the client. An offer
// that collides with the SFU's outstanding offer is ignored (the SFU is the
// impolite peer); the client rolls back and offers again after answering.
func (p *Peer) HandleDescription(desc webrtc.SessionDescription) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	switch desc.Type {
	case webrtc.SDPTypeOffer:
		if p.pc.SignalingState() != webrtc.SignalingStateStable {
			p.log.Debug("ignoring colliding offer")
			return nil
		}
		if err := p.pc.SetRemoteDescription(desc); err != nil {
			return fmt.Errorf("sfu: applying offer: %w", err)
		}
		p.remoteSetLocked()
		answer, err := p.pc.CreateAnswer(nil)
		if err != nil {
			return fmt.Errorf("sfu: creating answer: %w", err)
		}
		p.out.holdCandidates()
		if err := p.pc.SetLocalDescription(answer); err != nil {
			return fmt.Errorf("sfu: setting answer: %w", err)
		}
		p.out.pushDescription(answer)
	case webrtc.SDPTypeAnswer:
		if err := p.pc.SetRemoteDescription(desc); err != nil {
			return fmt.Errorf("sfu: applying answer: %w", err)
		}
		p.remoteSetLocked()
	default:
		return fmt.Errorf("%w: %s", ErrBadDescription, desc.Type)
	}
	p.negotiateLocked()
	return nil
}

func (p *Peer) remoteSetLocked() {
	p.haveRemote = true
	for _, c := range p.pending {
		if err := p.pc.AddICECandidate(c); err != nil {
			p.log.Debug("adding candidate", "err", err)
		}
	}
	p.pending = nil
}

// HandleCandidate adds an ICE candidate from the client. Candidates that
// arrive before the client's first description are kept until it arrives.
func (p *Peer) HandleCandidate(c webrtc.ICECandidateInit) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	if !p.haveRemote {
		p.pending = append(p.pending, c)
		return nil
	}
	if err := p.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("sfu: adding candidate: %w", err)
	}
	return nil
}

// Close leaves the room: the peer's tracks are removed from the others and
// its connection is closed. It is safe to call more than once.
func (p *Peer) Close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.room.remove(p)
		if err := p.pc.Close(); err != nil {
			p.log.Debug("closing peer connection", "err", err)
		}
		close(p.done)
		p.log.Debug("left")
	})
}

// subscribe adds a local track forwarding f to p. Called with the room
// locked.
func (p *Peer) subscribe(f *forwarder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.subs[f] != nil {
		return
	}
	track, err := webrtc.NewTrackLocalStaticRTP(f.codec, f.trackID, f.streamID)
	if err != nil {
		p.log.Warn("creating local track", "err", err)
		return
	}
	sender, err := p.pc.AddTrack(track)
	if err != nil {
		p.log.Warn("adding track", "err", err)
		return
	}
	s := &subscriber{peer: p, track: track, sender: sender}
	p.subs[f] = s
	if f.video {
		p.videoSubs.Add(1)
	} else {
		p.audioSubs.Add(1)
	}
	f.addSubscriber(s)
	go s.readRTCP(f)
	// The newcomer's picture starts at the next keyframe: ask for one now.
	go f.requestKeyframe(s.current())
	p.dirty = true
	p.negotiateLocked()
}

// unsubscribe removes f's track from p. Called with the room locked.
func (p *Peer) unsubscribe(f *forwarder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.subs[f]
	if s == nil {
		return
	}
	delete(p.subs, f)
	if f.video {
		p.videoSubs.Add(-1)
	} else {
		p.audioSubs.Add(-1)
	}
	f.removeSubscriber(s)
	if p.closed {
		return
	}
	if err := p.pc.RemoveTrack(s.sender); err != nil {
		p.log.Debug("removing track", "err", err)
	}
	p.dirty = true
	p.negotiateLocked()
}

// negotiateLocked sends an offer if tracks changed, the client's first
// description has been applied and no offer is outstanding. Otherwise the
// offer is made once the pending answer arrives.
func (p *Peer) negotiateLocked() {
	if !p.dirty || !p.haveRemote || p.closed || p.pc.SignalingState() != webrtc.SignalingStateStable {
		return
	}
	p.dirty = false
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		p.log.Warn("creating offer", "err", err)
		return
	}
	p.out.holdCandidates()
	if err := p.pc.SetLocalDescription(offer); err != nil {
		p.log.Warn("setting offer", "err", err)
		return
	}
	p.out.pushDescription(offer)
}

// outbox delivers messages to a Signaller in order from its own goroutine.
// Candidates gathered while a local description is being set (the first
// answer, or the answer to an ICE restart) are held back until that
// description is queued, since a client cannot add candidates before it has
// the remote description they belong to.
type outbox struct {
	mu       sync.Mutex
	q        []func(Signaller) error
	held     []webrtc.ICECandidateInit
	descSent bool
	wake     chan struct{}
}

func newOutbox(sig Signaller, log *slog.Logger, done <-chan struct{}) *outbox {
	o := &outbox{wake: make(chan struct{}, 1)}
	go func() {
		for {
			select {
			case <-done:
				return
			case <-o.wake:
			}
			o.mu.Lock()
			q := o.q
			o.q = nil
			o.mu.Unlock()
			for _, send := range q {
				if err := send(sig); err != nil {
					log.Debug("signalling", "err", err)
				}
			}
		}
	}()
	return o
}

func (o *outbox) pushDescription(d webrtc.SessionDescription) {
	o.mu.Lock()
	o.q = append(o.q, func(s Signaller) error { return s.SendDescription(d) })
	if !o.descSent {
		o.descSent = true
		for _, c := range o.held {
			o.q = append(o.q, func(s Signaller) error { return s.SendCandidate(c) })
		}
		o.held = nil
	}
	o.mu.Unlock()
	o.notify()
}

func (o *outbox) pushCandidate(c webrtc.ICECandidateInit) {
	o.mu.Lock()
	if !o.descSent {
		o.held = append(o.held, c)
		o.mu.Unlock()
		return
	}
	o.q = append(o.q, func(s Signaller) error { return s.SendCandidate(c) })
	o.mu.Unlock()
	o.notify()
}

// holdCandidates holds candidates back until the next description.
func (o *outbox) holdCandidates() {
	o.mu.Lock()
	o.descSent = false
	o.mu.Unlock()
}

func (o *outbox) notify() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}
