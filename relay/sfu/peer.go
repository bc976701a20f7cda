package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pion/webrtc/v4"
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

	closeOnce sync.Once
	done      chan struct{}
}

func newPeer(r *Room, id string, pc *webrtc.PeerConnection, sig Signaller) *Peer {
	p := &Peer{
		id:   id,
		room: r,
		pc:   pc,
		log:  r.log.With("peer", id),
		subs: make(map[*forwarder]*subscriber),
		done: make(chan struct{}),
	}
	p.out = newOutbox(sig, p.log, p.done)
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		p.out.pushCandidate(c.ToJSON())
	})
	pc.OnTrack(func(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		f := newForwarder(p, remote, r.sfu.now)
		p.log.Debug("track published", "track", remote.ID(), "kind", remote.Kind().String())
		if r.addForwarder(f) {
			go f.run()
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.log.Debug("connection state", "state", s.String())
		if s == webrtc.PeerConnectionStateFailed {
			go p.Close()
		}
	})
	return p
}

// ID is the peer's id in its room.
func (p *Peer) ID() string { return p.id }

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
	track, err := webrtc.NewTrackLocalStaticRTP(f.remote.Codec().RTPCodecCapability, f.remote.ID(), f.pub.id)
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
	f.addSubscriber(s)
	go s.readRTCP(f)
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
	if err := p.pc.SetLocalDescription(offer); err != nil {
		p.log.Warn("setting offer", "err", err)
		return
	}
	p.out.pushDescription(offer)
}

// outbox delivers messages to a Signaller in order from its own goroutine.
// Candidates gathered before the first description (the answer to the
// client's offer) are held back until it is sent, since a client cannot
// add candidates before it has a remote description.
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

func (o *outbox) notify() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}
