package mediaengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"parley/relay/signal/msg"
)

// errCollision ends a session whose offer collided with the relay's when
// the offer cannot be rolled back.
var errCollision = errors.New("mediaengine: offer collision")

// welcomeTimeout bounds the wait for the relay's welcome after hello.
const welcomeTimeout = 10 * time.Second

// iceGrace is how long a disconnected media connection may try to recover
// by itself before the call restarts ICE.
const iceGrace = 3 * time.Second

// session is one signalling connection and its peer connection. Everything
// that touches the peer connection's negotiation runs on the session's own
// goroutine (run), in the order messages and commands arrive.
type session struct {
	c    *Call
	conn Conn
	log  *slog.Logger
	ctx  context.Context

	out  chan msg.Message
	cmds chan func()
	done chan struct{}

	// Owned by the run goroutine.
	pc             *webrtc.PeerConnection
	peerID         string
	needOffer      bool
	restartPending bool
	candidates     []webrtc.ICECandidateInit
	screenSender   *webrtc.RTPSender
}

// result says how a session ended.
type result struct {
	welcomed bool
	final    bool // do not reconnect
	retryNow bool // reconnect without back-off
	reason   string
	err      error
}

func newSession(c *Call, conn Conn) *session {
	return &session{
		c: c, conn: conn, log: c.log,
		out:  make(chan msg.Message, 256),
		cmds: make(chan func(), 64),
		done: make(chan struct{}),
	}
}

// post runs f on the session's goroutine; it is dropped if the session
// has ended.
func (s *session) post(f func()) {
	select {
	case s.cmds <- f:
	case <-s.done:
	}
}

// send queues a message for the relay without blocking the session; if the
// relay does not keep up with 256 queued messages the connection is
// considered lost.
func (s *session) send(m msg.Message) {
	select {
	case s.out <- m:
	default:
		s.log.Warn("signalling backlog full, dropping connection")
		_ = s.conn.Close()
	}
}

func (s *session) run() (res result) {
	ctx, cancel := context.WithCancel(s.c.ctx)
	s.ctx = ctx
	in := make(chan msg.Message)
	readErr := make(chan error, 1)
	writeErr := make(chan error, 1)
	defer func() {
		cancel()
		close(s.done)
		_ = s.conn.Close()
		s.teardown()
	}()

	go func() {
		for {
			m, err := s.conn.Recv(ctx)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case in <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				// Flush what is queued (a leave, say) before giving up.
				for {
					select {
					case m := <-s.out:
						sctx, scancel := context.WithTimeout(context.Background(), time.Second)
						_ = s.conn.Send(sctx, m)
						scancel()
					default:
						return
					}
				}
			case m := <-s.out:
				if err := s.conn.Send(ctx, m); err != nil {
					writeErr <- err
					return
				}
			}
		}
	}()

	s.c.mu.Lock()
	since := s.c.lastSeq
	s.c.mu.Unlock()
	hello := msg.Message{Type: msg.TypeHello, Token: s.c.opts.Token, MeetingID: s.c.opts.MeetingID, Since: since}
	s.c.boardHello(&hello)
	s.send(hello)

	// Wait for welcome.
	timeout := s.c.after(welcomeTimeout)
	for {
		var m msg.Message
		select {
		case <-ctx.Done():
			return result{final: true}
		case err := <-readErr:
			return result{err: fmt.Errorf("mediaengine: waiting for welcome: %w", err)}
		case err := <-writeErr:
			return result{err: fmt.Errorf("mediaengine: sending hello: %w", err)}
		case <-timeout:
			return result{err: errors.New("mediaengine: no welcome from the relay")}
		case m = <-in:
		}
		if r, stop := s.endOn(m); stop {
			return r
		}
		if m.Type == msg.TypeWelcome {
			if err := s.welcome(m); err != nil {
				return result{err: err}
			}
			break
		}
		s.protocolError(m.Type, fmt.Errorf("mediaengine: %q before welcome", m.Type))
	}
	res.welcomed = true

	ping := s.c.after(s.c.opts.PingInterval)
	for {
		select {
		case <-ctx.Done():
			return result{welcomed: true, final: true}
		case err := <-readErr:
			return result{welcomed: true, err: fmt.Errorf("mediaengine: reading from the relay: %w", err)}
		case err := <-writeErr:
			return result{welcomed: true, err: fmt.Errorf("mediaengine: sending to the relay: %w", err)}
		case <-ping:
			s.send(msg.Message{Type: msg.TypePing})
			ping = s.c.after(s.c.opts.PingInterval)
		case f := <-s.cmds:
			f()
		case m := <-in:
			if r, stop := s.endOn(m); stop {
				r.welcomed = true
				return r
			}
			if err := s.handle(m); errors.Is(err, errCollision) {
				s.log.Info("offer collision without rollback; reconnecting", "peer", s.peerID)
				return result{welcomed: true, retryNow: true, err: err}
			} else if errors.Is(err, errBoardGap) {
				return result{welcomed: true, retryNow: true, err: err}
			} else if err != nil {
				s.protocolError(m.Type, err)
			}
		}
	}
}

// endOn reports whether m ends the call: ended, or a fatal error.
func (s *session) endOn(m msg.Message) (result, bool) {
	switch {
	case m.Type == msg.TypeEnded:
		return result{final: true, reason: m.Reason, err: endedErr(m.Reason, "")}, true
	case m.Type == msg.TypeError && fatalCodes[m.Code]:
		s.c.events.push(RelayError{Code: m.Code, Message: m.Message})
		return result{final: true, reason: m.Code, err: endedErr(m.Code, m.Message)}, true
	}
	return result{}, false
}

func (s *session) protocolError(typ string, err error) {
	s.log.Warn("relay message not applied", "type", typ, "err", err)
	s.c.events.push(RelayError{Code: "client", Message: "message not applied: " + typ, Err: err})
}

// welcome sets up the peer connection and starts negotiating.
func (s *session) welcome(m msg.Message) error {
	if m.PeerID == "" {
		return errors.New("mediaengine: welcome without peer id")
	}
	s.peerID = m.PeerID
	cfg := webrtc.Configuration{}
	for _, is := range m.ICEServers {
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: is.URLs, Username: is.Username, Credential: is.Credential})
	}
	pc, err := s.c.api.NewPeerConnection(cfg)
	if err != nil {
		return fmt.Errorf("mediaengine: new peer connection: %w", err)
	}
	s.pc = pc
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		j := cand.ToJSON()
		s.post(func() {
			s.send(msg.Message{Type: msg.TypeCandidate, Candidate: &msg.Candidate{
				Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex, UsernameFragment: j.UsernameFragment,
			}})
		})
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { s.c.onTrack(s, tr) })
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		s.log.Debug("peer connection", "peer", s.peerID, "state", st.String())
		switch st {
		case webrtc.PeerConnectionStateConnected:
			s.c.events.push(StateChanged{State: StateMediaConnected, PeerID: s.peerID})
		case webrtc.PeerConnectionStateDisconnected:
			// A changed or lost network: restart ICE if it does not
			// recover by itself soon, before the relay gives up on it.
			go func() {
				select {
				case <-s.c.after(iceGrace):
				case <-s.c.ctx.Done():
					return
				}
				if pc.ConnectionState() == webrtc.PeerConnectionStateDisconnected {
					s.post(func() { s.makeOffer(true) })
				}
			}()
		case webrtc.PeerConnectionStateFailed:
			// Signalling stands (or the session would have ended):
			// restart ICE.
			s.post(func() { s.makeOffer(true) })
		}
	})

	add := func(sk *sink, cap webrtc.RTPCodecCapability, id, stream string) (*webrtc.RTPSender, error) {
		t, err := webrtc.NewTrackLocalStaticSample(cap, id, stream)
		if err != nil {
			return nil, fmt.Errorf("mediaengine: local track: %w", err)
		}
		snd, err := pc.AddTrack(t)
		if err != nil {
			return nil, fmt.Errorf("mediaengine: adding track: %w", err)
		}
		go readRTCP(snd, sk)
		sk.set(t)
		return snd, nil
	}
	if s.c.opts.Microphone != nil {
		if _, err := add(&s.c.audioSink, opusCap, trackAudio, s.peerID); err != nil {
			return err
		}
	}
	if s.c.opts.Camera != nil {
		if _, err := add(&s.c.cameraSink, vp8Cap, trackCamera, s.peerID); err != nil {
			return err
		}
	}
	s.c.mu.Lock()
	sharing := s.c.sharing
	s.c.sess = s
	pending := append([]msg.Message(nil), s.c.pending...)
	s.c.mu.Unlock()
	if sharing {
		if s.screenSender, err = add(&s.c.screenSink, vp8Cap, trackScreen, s.peerID+msg.ScreenSuffix); err != nil {
			return err
		}
	}
	s.c.events.push(StateChanged{State: StateJoined, PeerID: m.PeerID, Role: m.Role})
	for _, p := range pending {
		s.send(p)
	}
	for _, p := range s.c.boardResend() {
		s.send(p)
	}
	s.sendMedia()
	s.makeOffer(false)
	return nil
}

// readRTCP answers the relay's key-frame requests for one sender.
func readRTCP(snd *webrtc.RTPSender, sk *sink) {
	for {
		pkts, _, err := snd.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				sk.wantKey.Store(true)
			}
		}
	}
}

func (s *session) sendMedia() {
	s.send(msg.Message{Type: msg.TypeMedia, Media: s.c.mediaState(s.peerID)})
}

func (s *session) addScreen() {
	if s.pc == nil || s.screenSender != nil {
		return
	}
	t, err := webrtc.NewTrackLocalStaticSample(vp8Cap, trackScreen, s.peerID+msg.ScreenSuffix)
	if err != nil {
		s.log.Warn("screen track", "err", err)
		return
	}
	snd, err := s.pc.AddTrack(t)
	if err != nil {
		s.log.Warn("adding screen track", "err", err)
		return
	}
	s.screenSender = snd
	go readRTCP(snd, &s.c.screenSink)
	s.c.screenSink.set(t)
	s.sendMedia() // announces the stream id before the offer
	s.makeOffer(false)
}

func (s *session) removeScreen() {
	if s.pc == nil || s.screenSender == nil {
		return
	}
	s.c.screenSink.set(nil)
	if err := s.pc.RemoveTrack(s.screenSender); err != nil {
		s.log.Debug("removing screen track", "err", err)
	}
	s.screenSender = nil
	s.sendMedia()
	s.makeOffer(false)
}

// makeOffer offers now if the signalling state allows, or as soon as it
// becomes stable again.
func (s *session) makeOffer(iceRestart bool) {
	if iceRestart {
		s.restartPending = true
	}
	if s.pc == nil {
		return
	}
	if s.pc.SignalingState() != webrtc.SignalingStateStable {
		s.needOffer = true
		return
	}
	offer, err := s.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: s.restartPending})
	if err != nil {
		s.log.Warn("creating offer", "err", err)
		return
	}
	if err := s.pc.SetLocalDescription(offer); err != nil {
		s.log.Warn("setting offer", "err", err)
		return
	}
	s.needOffer, s.restartPending = false, false
	s.send(msg.Message{Type: msg.TypeOffer, SDP: offer.SDP})
}

// handle applies one relay message.
func (s *session) handle(m msg.Message) error {
	switch m.Type {
	case msg.TypeOffer:
		return s.handleOffer(m.SDP)
	case msg.TypeAnswer:
		return s.handleAnswer(m.SDP)
	case msg.TypeCandidate:
		return s.handleCandidate(m.Candidate)
	case msg.TypeRoster:
		peers := append([]msg.Peer(nil), m.Peers...)
		s.c.mu.Lock()
		s.c.roster = peers
		s.c.mu.Unlock()
		s.c.events.push(RosterChanged{Peers: peers})
	case msg.TypeChat, msg.TypeFile:
		if m.Entry == nil || m.Entry.ID == "" {
			return fmt.Errorf("mediaengine: %s without entry", m.Type)
		}
		e := *m.Entry
		isNew, own := s.c.entry(&e)
		if !isNew {
			return nil
		}
		if m.Type == msg.TypeChat {
			s.c.events.push(ChatReceived{Entry: e, Own: own})
		} else {
			s.c.events.push(FileReceived{Entry: e})
		}
	case msg.TypeWaiting:
		s.c.events.push(WaitingChanged{Waiting: append([]msg.Waiting(nil), m.Waiting...)})
	case msg.TypeBoard:
		return s.handleBoard(m)
	case msg.TypeBoardState:
		return s.handleBoardState(m)
	case msg.TypePong:
	case msg.TypeError:
		if isBoardError(m) {
			s.handleBoardError(m)
			return nil
		}
		s.log.Info("relay error", "code", m.Code)
		s.c.events.push(RelayError{Code: m.Code, Message: m.Message})
	case msg.TypeWelcome:
		return errors.New("mediaengine: second welcome")
	default:
		return fmt.Errorf("mediaengine: unknown message type %q", m.Type)
	}
	return nil
}

// handleOffer is the polite side of perfect negotiation: an offer from the
// relay that collides with ours wins; ours is rolled back and made again
// once the relay's has been answered. pion v4.2 refuses the rollback, so
// today a collision ends the session with errCollision and the call
// reconnects at once (a new peer connection offers afresh).
func (s *session) handleOffer(sdp string) error {
	if sdp == "" {
		return errors.New("mediaengine: offer without sdp")
	}
	offer := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}
	if _, err := offer.Unmarshal(); err != nil {
		return fmt.Errorf("mediaengine: parsing the relay's offer: %w", err)
	}
	if s.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		// pion parses the rollback's SDP: hand it the offer being undone.
		rollback := webrtc.SessionDescription{Type: webrtc.SDPTypeRollback}
		if d := s.pc.PendingLocalDescription(); d != nil {
			rollback.SDP = d.SDP
		}
		if err := s.pc.SetLocalDescription(rollback); err != nil {
			// pion v4.2 refuses local rollbacks: start over on a new
			// connection at once instead of waiting for an answer the
			// relay will never send.
			return fmt.Errorf("%w: %w", errCollision, err)
		}
		s.needOffer = true
	}
	if err := s.pc.SetRemoteDescription(offer); err != nil {
		s.offerIfNeeded()
		return fmt.Errorf("mediaengine: applying the relay's offer: %w", err)
	}
	s.flushCandidates()
	answer, err := s.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("mediaengine: creating answer: %w", err)
	}
	if err := s.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("mediaengine: setting answer: %w", err)
	}
	s.send(msg.Message{Type: msg.TypeAnswer, SDP: answer.SDP})
	s.offerIfNeeded()
	return nil
}

func (s *session) handleAnswer(sdp string) error {
	if sdp == "" {
		return errors.New("mediaengine: answer without sdp")
	}
	if s.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		// An answer to an offer we rolled back; nothing to apply.
		s.log.Debug("ignoring answer", "state", s.pc.SignalingState().String())
		return nil
	}
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("mediaengine: applying the relay's answer: %w", err)
	}
	s.flushCandidates()
	s.offerIfNeeded()
	return nil
}

func (s *session) offerIfNeeded() {
	if s.needOffer || s.restartPending {
		s.makeOffer(false)
	}
}

func (s *session) handleCandidate(c *msg.Candidate) error {
	if c == nil || c.Candidate == "" {
		return nil // end of the relay's candidates
	}
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	if s.pc.RemoteDescription() == nil {
		if len(s.candidates) >= 64 {
			return errors.New("mediaengine: too many candidates before the relay's description")
		}
		s.candidates = append(s.candidates, init)
		return nil
	}
	if err := s.pc.AddICECandidate(init); err != nil {
		return fmt.Errorf("mediaengine: adding candidate: %w", err)
	}
	return nil
}

func (s *session) flushCandidates() {
	for _, c := range s.candidates {
		if err := s.pc.AddICECandidate(c); err != nil {
			s.log.Debug("adding candidate", "err", err)
		}
	}
	s.candidates = nil
}

// teardown ends the peer connection; remote tracks end with it.
func (s *session) teardown() {
	s.c.mu.Lock()
	if s.c.sess == s {
		s.c.sess = nil
	}
	s.c.mu.Unlock()
	s.c.audioSink.set(nil)
	s.c.cameraSink.set(nil)
	s.c.screenSink.set(nil)
	if s.pc != nil {
		if err := s.pc.Close(); err != nil {
			s.log.Debug("closing peer connection", "err", err)
		}
	}
}

// onTrack starts decoding a remote track.
func (c *Call) onTrack(s *session, tr *webrtc.TrackRemote) {
	t := newRemoteTrack(tr, c.clock)
	c.mu.Lock()
	c.tracks[t] = struct{}{}
	c.mu.Unlock()
	c.log.Debug("remote track", "peer", t.PeerID, "kind", t.Kind.String())
	c.events.push(TrackAdded{Track: t})
	go func() {
		if t.Kind == KindAudio {
			var out = c.playerStream()
			t.receiveAudio(tr, out, c.log)
		} else {
			t.receiveVideo(tr, s.pc, c.log)
		}
		c.mu.Lock()
		delete(c.tracks, t)
		c.mu.Unlock()
		c.events.push(TrackRemoved{Track: t})
	}()
}
