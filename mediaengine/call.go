// Package mediaengine is the desktop app's media side of a meeting: it
// captures the camera, microphone and screen (package source), encodes VP8
// and Opus, and runs the client's WebRTC peer against the relay's SFU as
// docs/signalling.md describes; remote video is decoded to pictures for the
// UI and remote audio is played through malgo (package playout) with a
// level meter per track.
//
// A Call is transport-agnostic: the caller supplies a Dial function that
// opens a Conn (in the app, NDJSON over HTTP/3 from sync/link; in tests, Go
// channels). The call says hello, sets up media, follows the roster, chat
// and waiting room, and when the connection drops it dials again with
// back-off, starts a new peer connection and resends unacknowledged chat
// messages. The UI follows it through Events.
package mediaengine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"

	"parley/mediaengine/playout"
	"parley/mediaengine/source"
	"parley/relay/clock"
	"parley/relay/signal/msg"
)

// Conn is one signalling connection to the relay. Send and Recv may be
// called concurrently with each other; Close makes both return.
type Conn interface {
	Send(context.Context, msg.Message) error
	Recv(context.Context) (msg.Message, error)
	Close() error
}

// Options configure a Call.
type Options struct {
	// Dial opens a signalling connection to the relay. It is called again
	// (with back-off) whenever the connection fails. Required.
	Dial func(context.Context) (Conn, error)
	// Token is the customer's participant secret (pmp_…) for hello;
	// empty for advisors, whose transport authenticates.
	Token string
	// MeetingID is the meeting an advisor connects to, for hello.
	MeetingID string

	// Camera is the video source published; nil publishes no camera
	// track. source.TestPattern is synthetic.
	Camera source.Video
	// Microphone is the audio source published; nil publishes no audio
	// track. source.Tone is synthetic.
	Microphone source.Audio
	// VideoFormat is asked of the camera; zero means 640×480 at 30 fps.
	VideoFormat source.Format
	// ScreenFormat is asked of a shared screen; zero means 1280×720 at
	// 5 fps.
	ScreenFormat source.Format
	// VideoBitrate is the camera's VP8 bitrate in bit/s; zero means
	// 800 kbit/s.
	VideoBitrate int
	// ScreenBitrate is the screen share's VP8 bitrate in bit/s; zero
	// means 1.2 Mbit/s.
	ScreenBitrate int
	// StartMuted starts the call with the microphone muted.
	StartMuted bool
	// StartCameraOff starts the call with the camera off.
	StartCameraOff bool

	// SettingEngine configures pion (tests pass one through
	// sfu.LoopbackOnly). It is copied.
	SettingEngine webrtc.SettingEngine
	// Player plays remote audio; nil decodes and measures it without
	// playing.
	Player *playout.Player

	// Logger receives the call's logs (ids only). Nil discards them.
	Logger *slog.Logger
	// Clock tells the time for level meters and key-frame requests. Nil
	// means the wall clock.
	Clock clock.Clock
	// After returns a channel that fires after d, for pings, timeouts and
	// back-off. Nil means time.After.
	After func(d time.Duration) <-chan time.Time
	// PingInterval between pings; zero means 15 s.
	PingInterval time.Duration
	// MaxBackoff caps the delay between reconnection attempts; zero means
	// 10 s. The first retry waits 250 ms.
	MaxBackoff time.Duration
}

// Errors returned by Call's methods.
var (
	ErrNoDial   = errors.New("mediaengine: Options.Dial is required")
	ErrClosed   = errors.New("mediaengine: call closed")
	ErrSharing  = errors.New("mediaengine: already sharing the screen")
	ErrBadChat  = errors.New("mediaengine: chat message refused")
	errNotReady = errors.New("mediaengine: no connection")
)

// fatalCodes are relay errors after which the relay closes the connection
// and reconnecting cannot help.
var fatalCodes = map[string]bool{
	"hello_required": true, "unauthorized": true, "forbidden": true,
	"not_admitted": true, "meeting_ended": true, "link_expired": true,
}

// Call is a participant's side of one meeting.
type Call struct {
	opts   Options
	log    *slog.Logger
	clock  clock.Clock
	after  func(time.Duration) <-chan time.Time
	api    *webrtc.API
	events *eventQueue

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done closes
	// closing is set by Close: the relay's answer to our own leave ends
	// the call without an error.
	closing atomic.Bool

	audioSink, cameraSink, screenSink sink

	mu         sync.Mutex
	muted      bool
	cameraOff  bool
	audioPipe  *pipe
	cameraPipe *pipe
	screenPipe *pipe

	cameraPreview Preview
	screenPreview Preview
	sharing       bool
	pending       []msg.Message // chats not yet echoed, in order
	seen          map[string]bool
	lastSeq       uint64
	sess          *session
	roster        []msg.Peer
	tracks        map[*RemoteTrack]struct{}
	// The whiteboard (board.go): the last op seq delivered in order, the
	// epoch of the state it continues, own ops not yet confirmed.
	boardSeq     uint64
	boardEpoch   string
	boardPending []boardPending
}

// Start begins the call: it starts capture and connects in the background.
// The call runs until ctx ends, Close is called, the relay ends it or
// refuses it for good.
func Start(ctx context.Context, opts Options) (*Call, error) {
	if opts.Dial == nil {
		return nil, ErrNoDial
	}
	if opts.VideoFormat == (source.Format{}) {
		opts.VideoFormat = source.Format{Width: 640, Height: 480, FPS: 30}
	}
	if opts.ScreenFormat == (source.Format{}) {
		opts.ScreenFormat = source.Format{Width: 1280, Height: 720, FPS: 5}
	}
	if opts.VideoBitrate <= 0 {
		opts.VideoBitrate = 800_000
	}
	if opts.ScreenBitrate <= 0 {
		opts.ScreenBitrate = 1_200_000
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 15 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	api, err := newAPI(opts.SettingEngine)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	after := opts.After
	if after == nil {
		after = time.After
	}
	cctx, cancel := context.WithCancel(ctx)
	c := &Call{
		opts: opts, log: log, clock: clock.Or(opts.Clock), after: after, api: api,
		events: newEventQueue(), ctx: cctx, cancel: cancel, done: make(chan struct{}),
		muted: opts.StartMuted, cameraOff: opts.StartCameraOff,
		seen: make(map[string]bool), tracks: make(map[*RemoteTrack]struct{}),
	}
	c.mu.Lock()
	err = c.startPipesLocked()
	c.mu.Unlock()
	if err != nil {
		cancel()
		c.stopPipes()
		c.events.close()
		return nil, err
	}
	go c.run()
	return c, nil
}

func newAPI(se webrtc.SettingEngine) (*webrtc.API, error) {
	if se.LoggerFactory == nil {
		// pion's own logger would print to stderr, addresses included.
		quiet := logging.NewDefaultLoggerFactory()
		quiet.DefaultLogLevel = logging.LogLevelDisabled
		se.LoggerFactory = quiet
	}
	me := &webrtc.MediaEngine{}
	for _, c := range []struct {
		p webrtc.RTPCodecParameters
		k webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: opusCap, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: vp8Cap, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
	} {
		if err := me.RegisterCodec(c.p, c.k); err != nil {
			return nil, fmt.Errorf("mediaengine: registering codec: %w", err)
		}
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, reg); err != nil {
		return nil, fmt.Errorf("mediaengine: registering interceptors: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

var (
	videoFeedback = []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: webrtc.TypeRTCPFBTransportCC},
		{Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
	opusCap = webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
		RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}},
	}
	vp8Cap = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback}
)

// startPipesLocked starts the capture loops the toggles ask for.
func (c *Call) startPipesLocked() error {
	var err error
	if c.opts.Microphone != nil && !c.muted && c.audioPipe == nil {
		if c.audioPipe, err = startAudio(c.opts.Microphone, &c.audioSink, c.log); err != nil {
			return err
		}
	}
	if c.opts.Camera != nil && !c.cameraOff && c.cameraPipe == nil {
		if c.cameraPipe, err = startVideo(c.opts.Camera, c.opts.VideoFormat, c.opts.VideoBitrate, &c.cameraSink, &c.cameraPreview, c.log); err != nil {
			return err
		}
	}
	return nil
}

func (c *Call) stopPipes() {
	c.mu.Lock()
	ps := []*pipe{c.audioPipe, c.cameraPipe, c.screenPipe}
	c.audioPipe, c.cameraPipe, c.screenPipe = nil, nil, nil
	c.sharing = false
	c.mu.Unlock()
	for _, p := range ps {
		p.stop()
	}
}

// Events delivers what happens in the call, in order. The channel is
// closed after the final StateChanged{State: StateEnded}; the consumer
// should read until then (events queue up meanwhile, nothing blocks).
func (c *Call) Events() <-chan Event { return c.events.out }

// Done is closed when the call has ended and released its resources.
func (c *Call) Done() <-chan struct{} { return c.done }

// Err says why the call ended (after Done): nil after Close or the
// context's end, otherwise an error wrapping the relay's reason.
func (c *Call) Err() error {
	<-c.done
	return c.err
}

// Close ends the call: it sends leave if connected, closes the connection
// and stops capture. It waits for the call to finish.
func (c *Call) Close() error {
	c.closing.Store(true)
	if s := c.session(); s != nil {
		s.post(func() { s.send(msg.Message{Type: msg.TypeLeave}) })
	}
	c.cancel()
	<-c.done
	return nil
}

// Roster returns the latest roster.
func (c *Call) Roster() []msg.Peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]msg.Peer(nil), c.roster...)
}

// CameraPreview is the camera's latest frame for the self view (nil
// picture while the camera is off).
func (c *Call) CameraPreview() *Preview { return &c.cameraPreview }

// ScreenPreview is the shared screen's latest frame while sharing.
func (c *Call) ScreenPreview() *Preview { return &c.screenPreview }

// Tracks returns the remote tracks being received now.
func (c *Call) Tracks() []*RemoteTrack {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*RemoteTrack, 0, len(c.tracks))
	for t := range c.tracks {
		out = append(out, t)
	}
	return out
}

// SetMuted stops (true) or resumes (false) sending microphone audio and
// tells the relay.
func (c *Call) SetMuted(muted bool) error {
	return c.toggle(func() (*pipe, error) {
		if c.muted == muted {
			return nil, nil
		}
		c.muted = muted
		if muted {
			p := c.audioPipe
			c.audioPipe = nil
			return p, nil
		}
		return nil, c.startPipesLocked()
	})
}

// SetCamera turns the camera on or off (capture stops while off) and tells
// the relay.
func (c *Call) SetCamera(on bool) error {
	return c.toggle(func() (*pipe, error) {
		if c.cameraOff == !on {
			return nil, nil
		}
		c.cameraOff = !on
		if !on {
			p := c.cameraPipe
			c.cameraPipe = nil
			return p, nil
		}
		return nil, c.startPipesLocked()
	})
}

// toggle changes the local state under the lock, stops what it returns
// and sends the new media state.
func (c *Call) toggle(change func() (*pipe, error)) error {
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	c.mu.Lock()
	stop, err := change()
	s := c.sess
	c.mu.Unlock()
	stop.stop()
	if s != nil {
		s.post(s.sendMedia)
	}
	return err
}

// StartScreenShare publishes src as a second video track, stream id
// "<peer id>/screen", announced in media before the offer that adds it.
func (c *Call) StartScreenShare(src source.Video) error {
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	c.mu.Lock()
	if c.sharing {
		c.mu.Unlock()
		return ErrSharing
	}
	p, err := startVideo(src, c.opts.ScreenFormat, c.opts.ScreenBitrate, &c.screenSink, &c.screenPreview, c.log)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	c.sharing, c.screenPipe = true, p
	s := c.sess
	c.mu.Unlock()
	if s != nil {
		s.post(s.addScreen)
	}
	return nil
}

// StopScreenShare withdraws the screen track. It does nothing when not
// sharing.
func (c *Call) StopScreenShare() error {
	c.mu.Lock()
	if !c.sharing {
		c.mu.Unlock()
		return nil
	}
	p := c.screenPipe
	c.sharing, c.screenPipe = false, nil
	s := c.sess
	c.mu.Unlock()
	p.stop()
	if s != nil {
		s.post(s.removeScreen)
	}
	return nil
}

// SendChat posts a chat message and returns its nonce. The message is
// resent after reconnects until the relay echoes it; the echo arrives as
// ChatReceived with Own set.
func (c *Call) SendChat(text string) (string, error) {
	if c.ctx.Err() != nil {
		return "", ErrClosed
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	m := msg.Message{Type: msg.TypeChat, Text: text, Nonce: hex.EncodeToString(b[:])}
	// The relay's own checks, applied before anything is queued.
	raw, err := msg.Encode(m)
	if err == nil {
		_, err = msg.Decode(raw)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadChat, err)
	}
	c.mu.Lock()
	c.pending = append(c.pending, m)
	s := c.sess
	c.mu.Unlock()
	if s != nil {
		s.post(func() { s.send(m) })
	}
	return m.Nonce, nil
}

// RestartICE asks for an ICE restart (e.g. after the network changed); the
// call also restarts ICE by itself when ICE fails while signalling stands.
func (c *Call) RestartICE() error {
	s := c.session()
	if s == nil {
		return errNotReady
	}
	s.post(func() { s.makeOffer(true) })
	return nil
}

func (c *Call) session() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// mediaState is what the media message says now.
func (c *Call) mediaState(peerID string) *msg.MediaState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &msg.MediaState{
		Audio: c.opts.Microphone != nil && !c.muted,
		Video: c.opts.Camera != nil && !c.cameraOff,
	}
	if c.sharing {
		st.ScreenStream = peerID + msg.ScreenSuffix
	}
	return st
}

// entry records a timeline entry and reports whether it is new and
// whether it echoes one of this client's chat messages.
func (c *Call) entry(e *msg.Entry) (isNew, own bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Seq > c.lastSeq {
		c.lastSeq = e.Seq
	}
	if e.Nonce != "" {
		for i, p := range c.pending {
			if p.Nonce == e.Nonce {
				c.pending = append(c.pending[:i], c.pending[i+1:]...)
				own = true
				break
			}
		}
	}
	if c.seen[e.ID] {
		return false, own
	}
	c.seen[e.ID] = true
	return true, own
}

// run connects, and reconnects with back-off, until the call ends.
func (c *Call) run() {
	var endErr error
	reason := ""
	defer func() {
		c.mu.Lock()
		c.sess = nil
		c.mu.Unlock()
		c.stopPipes()
		if c.closing.Load() {
			endErr = nil // the relay answered our own leave
		}
		c.err = endErr
		c.events.push(StateChanged{State: StateEnded, Reason: reason, Err: endErr})
		c.events.close()
		close(c.done)
	}()
	const minBackoff = 250 * time.Millisecond
	backoff := minBackoff
	retryNow := false
	lastRetryNow := -2
	c.events.push(StateChanged{State: StateConnecting})
	for attempt := 0; ; attempt++ {
		if c.ctx.Err() != nil {
			return
		}
		if attempt > 0 && retryNow {
			retryNow = false
			c.events.push(StateChanged{State: StateReconnecting})
		} else if attempt > 0 {
			select {
			case <-c.ctx.Done():
				return
			case <-c.after(backoff):
			}
			backoff = min(2*backoff, c.opts.MaxBackoff)
			c.events.push(StateChanged{State: StateReconnecting})
		}
		conn, err := c.opts.Dial(c.ctx)
		if err != nil {
			c.log.Info("dialling the relay", "err", err, "attempt", attempt)
			continue
		}
		s := newSession(c, conn)
		res := s.run()
		if res.welcomed {
			backoff = minBackoff
		}
		if res.final {
			reason, endErr = res.reason, res.err
			return
		}
		// One immediate retry; a collision right after it waits for the
		// back-off.
		retryNow = res.retryNow && lastRetryNow != attempt-1
		if res.retryNow {
			lastRetryNow = attempt
		}
		if c.ctx.Err() == nil {
			c.log.Info("connection lost", "err", res.err)
		}
	}
}

// ErrEnded wraps the reason when the relay ends the call or refuses it.
var ErrEnded = errors.New("mediaengine: call ended by the relay")

func endedErr(reason, detail string) error {
	if detail == "" {
		return fmt.Errorf("%w: %s", ErrEnded, reason)
	}
	return fmt.Errorf("%w: %s (%s)", ErrEnded, reason, strings.TrimSpace(detail))
}
