package main

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"parley/app"
	"parley/mediaengine"
	"parley/mediaengine/playout"
	"parley/mediaengine/source"
	"parley/relay/signal/msg"
	"parley/relay/whiteboard"
	"parley/sync/link"
)

// linkCalls joins meetings' calls through the media engine, signalling
// over the relay link (HTTP/3 on QUIC, or HTTP/2).
type linkCalls struct {
	c   *link.Client
	log *slog.Logger
	// synthetic publishes the test pattern and a tone instead of devices
	// (PARLEY_SYNTHETIC_MEDIA=1, or no camera/microphone found).
	synthetic bool

	mu     sync.Mutex
	player *playout.Player
}

func (lc *linkCalls) playerOnce() *playout.Player {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.player == nil {
		p, err := playout.New(playout.Options{Logger: lc.log})
		if err != nil {
			lc.log.Warn("no audio output", "err", err)
			return nil
		}
		lc.player = p
	}
	return lc.player
}

func (lc *linkCalls) close() {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.player != nil {
		_ = lc.player.Close()
	}
}

// sources picks the camera and microphone: the first real ones, else
// synthetic ones (with a note for the UI).
func (lc *linkCalls) sources() (source.Video, source.Audio, string) {
	if lc.synthetic {
		return source.TestPattern{}, source.Tone{}, ""
	}
	var note string
	var cam source.Video = source.TestPattern{Label: "Test pattern (no camera found)"}
	if cams := source.Cameras(); len(cams) > 0 {
		cam = cams[0]
	} else {
		note = "No camera found: sending a test pattern."
	}
	var mic source.Audio
	if mics, err := source.Microphones(); err == nil && len(mics) > 0 {
		mic = mics[0]
	} else {
		if note != "" {
			note += " "
		}
		note += "No microphone found."
	}
	return cam, mic, note
}

// JoinCall implements app.CallStarter.
func (lc *linkCalls) JoinCall(ctx context.Context, meetingID string) (app.Call, error) {
	cam, mic, note := lc.sources()
	ac := &appCall{c: lc.c, meetingID: meetingID, events: make(chan app.CallEvent, 64), recNote: make(chan struct{}, 1),
		log: lc.log.With("meeting", meetingID)}
	dial := func(ctx context.Context) (mediaengine.Conn, error) {
		sc, err := lc.c.Signal(ctx)
		if err != nil {
			return nil, err
		}
		return &recConn{Conn: sc, call: ac}, nil
	}
	var se webrtc.SettingEngine
	if relayOnThisMachine(lc.c.BaseURL()) {
		// A relay on this machine may offer loopback media candidates.
		se.SetIncludeLoopbackCandidate(true)
	}
	call, err := mediaengine.Start(context.Background(), mediaengine.Options{
		Dial: dial, MeetingID: meetingID, Camera: cam, Microphone: mic, SettingEngine: se,
		Player: lc.playerOnce(), Logger: lc.log.With("meeting", meetingID),
	})
	if err != nil {
		return nil, forUI(err)
	}
	ac.call = call
	go ac.translate(note, mic == nil)
	return ac, nil
}

// relayOnThisMachine reports whether base names a loopback host.
func relayOnThisMachine(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	h := u.Hostname()
	ip := net.ParseIP(h)
	return h == "localhost" || (ip != nil && ip.IsLoopback())
}

// lanAddress is this machine's first non-loopback IPv4 address on an
// interface that is up, or "" (then media stays on loopback). Local mode
// serves media there, so that a browser on this machine (which never
// offers loopback candidates) can reach it.
func lanAddress() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	return ""
}

// appCall adapts a mediaengine.Call to app.Call.
type appCall struct {
	call      *mediaengine.Call
	c         *link.Client
	meetingID string
	events    chan app.CallEvent
	log       *slog.Logger

	mu     sync.Mutex
	selfID string

	rec recState
	// recNote tells translate that rec has a new state to show.
	recNote chan struct{}
}

func (a *appCall) Events() <-chan app.CallEvent { return a.events }

func (a *appCall) SetMuted(m bool) error   { return a.call.SetMuted(m) }
func (a *appCall) SetCamera(on bool) error { return a.call.SetCamera(on) }

func (a *appCall) SetScreenShare(on bool) error {
	if !on {
		return a.call.StopScreenShare()
	}
	var scr source.Video = source.TestScreen{}
	if os.Getenv("PARLEY_SYNTHETIC_MEDIA") == "" {
		if s := source.Screens(); len(s) > 0 {
			scr = s[0]
		}
	}
	return a.call.StartScreenShare(scr)
}

func (a *appCall) SendChat(_ context.Context, text string) error {
	_, err := a.call.SendChat(text)
	return err
}

func (a *appCall) SendFile(ctx context.Context, name string, r io.Reader, progress func(sent, total int64)) error {
	size := int64(-1)
	if s, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := s.Stat(); err == nil {
			size = fi.Size()
		}
	}
	_, err := a.c.UploadMeetingFile(ctx, a.meetingID, name, r, size, progress)
	return forUI(err)
}

func (a *appCall) SaveFile(ctx context.Context, entryID string, w io.Writer, progress func(got, total int64)) error {
	_, err := a.c.DownloadMeetingFile(ctx, a.meetingID, entryID, w, progress)
	return forUI(err)
}

var _ app.CallBoard = (*appCall)(nil)

// SendBoard implements app.CallBoard: the op goes out on the call's
// signalling connection (the media engine resends unconfirmed strokes,
// shapes and texts after a reconnect).
func (a *appCall) SendBoard(op json.RawMessage) error { return forUI(a.call.SendBoard(op)) }

// BoardPage implements app.CallBoard: a page of a file shared in the
// meeting, rendered by the relay (contract A).
func (a *appCall) BoardPage(ctx context.Context, fileID string, page, width int) (image.Image, error) {
	img, _, err := a.c.MeetingFilePage(ctx, a.meetingID, fileID, page, width)
	return img, forUI(err)
}

// LocalVideo shows the shared screen while sharing, else the camera.
func (a *appCall) LocalVideo() app.VideoSource { return selfView{a.call} }

type selfView struct{ call *mediaengine.Call }

func (s selfView) Latest() (image.Image, uint64) {
	if img, n := s.call.ScreenPreview().Latest(); img != nil {
		return img, n<<1 | 1 // keeps the numbers of the two sources apart
	}
	img, n := s.call.CameraPreview().Latest()
	return img, n << 1
}

func (a *appCall) Leave() error {
	err := a.call.Close()
	if errors.Is(err, mediaengine.ErrEnded) {
		return nil
	}
	return err
}

// translate turns the engine's events (and the relay's recording states)
// into the UI's until the call ends.
func (a *appCall) translate(note string, noMic bool) {
	defer close(a.events)
	a.events <- app.LocalMediaEvent{Muted: noMic, Camera: true, Note: note}
	for {
		var ev mediaengine.Event
		select {
		case <-a.recNote:
			if st, ok := a.rec.latest(); ok {
				a.events <- app.RecordingEvent{Phase: st.Phase, Awaiting: append([]string(nil), st.Awaiting...),
					Accepted: append([]string(nil), st.Accepted...)}
			}
			continue
		case e, ok := <-a.call.Events():
			if !ok {
				return
			}
			ev = e
		}
		switch e := ev.(type) {
		case mediaengine.StateChanged:
			switch e.State {
			case mediaengine.StateConnecting:
				a.events <- app.ConnectionEvent{State: app.CallConnecting}
			case mediaengine.StateJoined:
				a.mu.Lock()
				a.selfID = e.PeerID
				a.mu.Unlock()
			case mediaengine.StateMediaConnected:
				a.events <- app.ConnectionEvent{State: app.CallConnected}
			case mediaengine.StateReconnecting:
				a.events <- app.ConnectionEvent{State: app.CallReconnecting, Detail: link.UserMessage(e.Err)}
			case mediaengine.StateEnded:
				reason := e.Reason
				if reason == "" {
					reason = app.CallEndedLeft
				}
				a.events <- app.EndedEvent{Reason: reason}
			}
		case mediaengine.RosterChanged:
			a.mu.Lock()
			self := a.selfID
			a.mu.Unlock()
			ps := make([]app.CallParticipant, 0, len(e.Peers))
			for _, p := range e.Peers {
				ps = append(ps, app.CallParticipant{ID: p.PeerID, GuestID: p.ParticipantID, Name: p.Name, Role: p.Role,
					Self: p.PeerID == self, Audio: p.Audio, Video: p.Video, Screen: p.Screen})
			}
			a.events <- app.RosterEvent{Participants: ps}
		case mediaengine.TrackAdded:
			if e.Track.Kind == mediaengine.KindAudio {
				continue
			}
			a.events <- app.VideoAddedEvent{ID: e.Track.StreamID, ParticipantID: e.Track.PeerID,
				Screen: e.Track.Kind == mediaengine.KindScreen, Source: &trackSource{t: e.Track}}
		case mediaengine.TrackRemoved:
			if e.Track.Kind != mediaengine.KindAudio {
				a.events <- app.VideoRemovedEvent{ID: e.Track.StreamID}
			}
		case mediaengine.ChatReceived:
			a.events <- app.EntryEvent{Entry: toCallEntry(e.Entry, e.Own)}
		case mediaengine.FileReceived:
			a.events <- app.EntryEvent{Entry: toCallEntry(e.Entry, false)}
		case mediaengine.BoardStateReceived:
			var st whiteboard.State
			if err := json.Unmarshal(e.State, &st); err != nil {
				a.log.Warn("whiteboard state unreadable", "err", err)
				continue
			}
			a.events <- app.BoardStateEvent{State: st}
		case mediaengine.BoardReceived:
			var op whiteboard.Op
			if err := json.Unmarshal(e.Op, &op); err != nil {
				a.log.Warn("whiteboard op unreadable", "err", err)
				continue
			}
			a.events <- app.BoardOpEvent{Op: op}
		case mediaengine.BoardRefused:
			a.events <- app.BoardRefusedEvent{Code: e.Code, Ref: e.Ref}
		case mediaengine.WaitingChanged:
			gs := make([]app.Guest, 0, len(e.Waiting))
			for _, w := range e.Waiting {
				gs = append(gs, app.Guest{ID: w.ID, Name: w.Name, State: app.GuestWaiting, Joined: w.Joined})
			}
			a.events <- app.WaitingEvent{Guests: gs}
		}
	}
}

func toCallEntry(e msg.Entry, own bool) app.CallEntry {
	return app.CallEntry{ID: e.ID, Seq: e.Seq, Name: e.Name, Role: e.Role, Mine: own, Sent: e.Sent,
		Text: e.Text, FileName: e.FileName, FileSize: e.FileSize}
}

// trackSource hands the UI a remote track's latest decoded frame.
type trackSource struct{ t *mediaengine.RemoteTrack }

func (s *trackSource) Latest() (image.Image, uint64) {
	n := s.t.Decoded()
	if n == 0 {
		return nil, 0
	}
	return s.t.Latest(), n
}

// recordWait bounds how long SetRecording waits for the relay to confirm
// a request or stop.
const recordWait = 15 * time.Second

// SetRecording's own failures, worded as recordError codes.
var (
	errRecordNotConnected = recordError{"not_connected"}
	errRecordNoAnswer     = recordError{"no_answer"}
	errRecordBusy         = recordError{"busy"}
)

// recordError is the relay's refusal of a record message (its code), or
// one of SetRecording's own failures; its text is for the UI.
type recordError struct{ code string }

func (e recordError) Error() string {
	switch e.code {
	case "record_unavailable":
		return "Recording is not available on this relay."
	case "record_already_requested":
		return "Your customers have already been asked to consent."
	case "record_no_request":
		return "Nothing is being recorded or asked."
	case "record_forbidden":
		return "This recording action is not yours to take."
	case "not_connected":
		return "Not connected to the meeting right now — try again in a moment."
	case "no_answer":
		return "The relay did not confirm the recording change — try again."
	case "busy":
		return "A recording change is already under way."
	}
	return "The relay refused the recording change."
}

var _ app.CallRecorder = (*appCall)(nil)

// SetRecording implements app.CallRecorder: it sends the advisor's
// "record" request or stop over the call's signalling connection and
// waits until the relay broadcasts the changed state or refuses.
func (a *appCall) SetRecording(ctx context.Context, on bool) error {
	action := msg.RecordStop
	if on {
		action = msg.RecordRequest
	}
	conn, done, err := a.rec.await(on)
	if err != nil {
		return err
	}
	defer a.rec.cancel(done)
	if err := conn.Send(ctx, msg.Message{Type: msg.TypeRecord, Action: action}); err != nil {
		return forUI(err)
	}
	ctx, cancel := context.WithTimeout(ctx, recordWait)
	defer cancel()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errRecordNoAnswer
		}
		return ctx.Err()
	}
}

// recState is the call's recording state as the relay last sent it, the
// welcomed signalling connection SetRecording sends on, and the one
// SetRecording waiting for the relay's answer.
type recState struct {
	mu    sync.Mutex
	conn  mediaengine.Conn
	st    *msg.RecordingState
	fresh bool // st not yet shown
	wait  chan error
	want  func(*msg.RecordingState) bool
}

// await registers a waiter for the answer to a request (on) or stop.
func (r *recState) await(on bool) (mediaengine.Conn, chan error, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return nil, nil, errRecordNotConnected
	}
	if r.wait != nil {
		return nil, nil, errRecordBusy
	}
	prev := 0
	if r.st != nil {
		prev = r.st.Request
	}
	done := make(chan error, 1)
	r.wait = done
	if on {
		r.want = func(st *msg.RecordingState) bool { return st.Request > prev }
	} else {
		r.want = func(st *msg.RecordingState) bool { return st.Phase == msg.RecordingOff }
	}
	return r.conn, done, nil
}

// cancel forgets the waiter done, if it is still registered.
func (r *recState) cancel(done chan error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wait == done {
		r.wait, r.want = nil, nil
	}
}

// welcomed makes c the connection to send on.
func (r *recState) welcomed(c mediaengine.Conn) {
	r.mu.Lock()
	r.conn = c
	r.mu.Unlock()
}

// closed forgets c if it is the connection to send on.
func (r *recState) closed(c mediaengine.Conn) {
	r.mu.Lock()
	if r.conn == c {
		r.conn = nil
	}
	r.mu.Unlock()
}

// update keeps a state from the relay unless it is older than the one
// kept, answers a waiting SetRecording, and reports whether it is new.
func (r *recState) update(st *msg.RecordingState) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st != nil && st.Seq < r.st.Seq {
		return false
	}
	c := *st
	r.st, r.fresh = &c, true
	if r.wait != nil && r.want(&c) {
		r.wait <- nil
		r.wait, r.want = nil, nil
	}
	return true
}

// refused hands the relay's refusal to a waiting SetRecording.
func (r *recState) refused(code string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wait != nil {
		r.wait <- recordError{code}
		r.wait, r.want = nil, nil
	}
}

// latest returns the state not yet shown.
func (r *recState) latest() (msg.RecordingState, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st == nil || !r.fresh {
		return msg.RecordingState{}, false
	}
	r.fresh = false
	return *r.st, true
}

// recConn is a signalling connection that keeps the relay's recording
// messages for the call (the media engine does not know them) and tells
// it which connection has been welcomed, so that "record" messages follow
// the hello.
type recConn struct {
	mediaengine.Conn
	call *appCall
}

// Recv returns the relay's next message for the media engine.
func (c *recConn) Recv(ctx context.Context) (msg.Message, error) {
	for {
		m, err := c.Conn.Recv(ctx)
		if err != nil {
			c.call.rec.closed(c)
			return m, err
		}
		switch {
		case m.Type == msg.TypeWelcome:
			c.call.rec.welcomed(c)
		case m.Type == msg.TypeRecording:
			if m.Recording != nil && c.call.rec.update(m.Recording) {
				select {
				case c.call.recNote <- struct{}{}:
				default:
				}
			}
			continue
		case m.Type == msg.TypeError && strings.HasPrefix(m.Code, "record_"):
			c.call.rec.refused(m.Code)
			continue
		}
		return m, nil
	}
}

// Close closes the connection.
func (c *recConn) Close() error {
	c.call.rec.closed(c)
	return c.Conn.Close()
}
