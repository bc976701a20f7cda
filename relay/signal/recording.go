package signal

import (
	"context"
	"errors"
	"strings"
	"sync"

	"parley/relay/recording"
	"parley/relay/sfu"
	"parley/relay/signal/msg"
)

// Recordings opens the meetings' recorders (the relay's recording
// wiring). A recorder outlives the room: when everyone has left and
// someone comes back, the hub asks for it again.
type Recordings interface {
	// Recorder returns the meeting's recorder. With create false it
	// returns nil (and no error) when the meeting has none yet; with
	// create true it begins the meeting's recording first.
	Recorder(ctx context.Context, meetingID string, create bool) (*recording.Recorder, error)
}

// recordErrors maps the consent state machine's refusals to the error
// codes the sender gets.
var recordErrors = []struct {
	err  error
	code string
}{
	{recording.ErrNotAllowed, "record_forbidden"},
	{recording.ErrUnknownParticipant, "record_forbidden"},
	{recording.ErrNoRequest, "record_no_request"},
	{recording.ErrAlreadyRequested, "record_already_requested"},
	{recording.ErrRecorderClosed, "record_unavailable"},
	{recording.ErrRecordFull, "record_unavailable"},
}

// roomRecording is a room's link to its meeting's recorder: nil until the
// advisor first asks to record (or a recorder from before the room was
// reopened is found). mu serialises consent changes with broadcasting
// their result, so that every client sees the states in order.
type roomRecording struct {
	mu     sync.Mutex
	rec    *recording.Recorder
	looked bool // asked Recordings for an existing recorder
}

// role maps a signalling role to the consent role.
func consentRole(role string) recording.Role {
	if role == msg.RoleAdvisor {
		return recording.RoleAdvisor
	}
	return recording.RoleCustomer
}

// attach makes rec the room's recorder: everyone present joins its
// consent state machine, and every track published in the room is fed to
// it. Called with rr.mu held.
func (r *room) attach(rec *recording.Recorder) {
	r.rec.rec = rec
	for _, c := range r.snapshot() {
		if _, err := rec.Join(c.id.authorID, consentRole(c.id.role)); err != nil {
			c.log.Error("recording: join", "err", err)
		}
	}
	r.sfu.SetSinks(func(pt sfu.PublishedTrack) sfu.Sink {
		r.hub.mu.Lock()
		c := r.clients[pt.PeerID]
		r.hub.mu.Unlock()
		if c == nil {
			return nil
		}
		mime := pt.Codec.MimeType
		if !strings.EqualFold(mime, recording.MimeVP8) && !strings.EqualFold(mime, recording.MimeOpus) {
			c.log.Warn("recording: track not recordable", "codec", mime)
			return nil
		}
		t, err := rec.AddTrack(recording.TrackInfo{ParticipantID: c.id.authorID, TrackID: pt.TrackID, StreamID: pt.StreamID,
			MimeType: mime, ClockRate: pt.Codec.ClockRate, Channels: pt.Codec.Channels, SSRC: pt.SSRC}, pt.RequestKeyframe)
		if err != nil {
			c.log.Error("recording: adding track", "err", err)
			return nil
		}
		return t
	})
}

// recordingJoin joins c to the meeting's recording, if there is one, and
// sends everyone the state (a customer joining during a recording pauses
// it until they accept).
func (c *client) recordingJoin(ctx context.Context) {
	if c.hub.opts.Recordings == nil {
		return
	}
	r := c.room
	rr := &r.rec
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if !rr.looked {
		rec, err := c.hub.opts.Recordings.Recorder(ctx, r.id, false)
		if err != nil {
			c.log.Error("recording: looking up recorder", "err", err)
			return
		}
		rr.looked = true
		if rec != nil {
			r.attach(rec)
		}
	}
	if rr.rec == nil {
		return
	}
	in, err := rr.rec.Join(c.id.authorID, consentRole(c.id.role))
	if err != nil {
		c.log.Error("recording: join", "err", err)
		in = rr.rec.Indicator()
	}
	r.broadcastRecording(in)
}

// recordingLeave takes c out of the recording's consent state machine
// unless the same participant is still connected (a replacing
// connection).
func (r *room) recordingLeave(c *client) {
	rr := &r.rec
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.rec == nil {
		return
	}
	for _, o := range r.snapshot() {
		if o.id.role == c.id.role && o.id.authorID == c.id.authorID {
			return
		}
	}
	in, err := rr.rec.Leave(c.id.authorID)
	if err != nil {
		c.log.Error("recording: leave", "err", err)
		return
	}
	r.broadcastRecording(in)
}

// record handles a Record message: the advisor requests (opening the
// meeting's recorder on first use) or stops; a customer accepts, refuses
// or withdraws. Every change goes to everyone; a refusal of the
// message itself to the sender only.
func (c *client) record(ctx context.Context, m msg.Message) {
	if c.hub.opts.Recordings == nil {
		c.send(msg.Message{Type: msg.TypeError, Code: "record_unavailable", Message: "Recording is not available."})
		return
	}
	advisor := c.id.role == msg.RoleAdvisor
	if advisor != (m.Action == msg.RecordRequest || m.Action == msg.RecordStop) {
		c.send(msg.Message{Type: msg.TypeError, Code: "record_forbidden", Message: "This recording action is not yours to take."})
		return
	}
	r := c.room
	rr := &r.rec
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.rec == nil && m.Action == msg.RecordRequest {
		rec, err := c.hub.opts.Recordings.Recorder(ctx, r.id, true)
		if err != nil {
			c.log.Error("recording: opening recorder", "err", err)
			c.send(msg.Message{Type: msg.TypeError, Code: "record_unavailable", Message: "Recording is not available."})
			return
		}
		rr.looked = true
		r.attach(rec)
	}
	if rr.rec == nil {
		c.send(msg.Message{Type: msg.TypeError, Code: "record_no_request", Message: "Nobody asked to record."})
		return
	}
	id := c.id.authorID
	var in recording.Indicator
	var err error
	switch m.Action {
	case msg.RecordRequest:
		in, err = rr.rec.Request(id)
	case msg.RecordStop:
		in, err = rr.rec.Stop(id)
	case msg.RecordAccept:
		in, err = rr.rec.Accept(id)
	case msg.RecordRefuse:
		in, err = rr.rec.Refuse(id)
	case msg.RecordWithdraw:
		in, err = rr.rec.Withdraw(id)
	}
	if err != nil && in.Seq == 0 {
		code := "record_failed"
		for _, e := range recordErrors {
			if errors.Is(err, e.err) {
				code = e.code
				break
			}
		}
		if code == "record_failed" {
			c.log.Error("recording: consent", "action", m.Action, "err", err)
		}
		c.send(msg.Message{Type: msg.TypeError, Code: code, Message: "The recording action was refused."})
		return
	}
	if err != nil {
		// The change was made; sealing the consent record failed.
		c.log.Error("recording: saving consent record", "action", m.Action, "err", err)
	}
	r.broadcastRecording(in)
}

// broadcastRecording sends every client the state as it sees it. Called
// with r.rec.mu held.
func (r *room) broadcastRecording(in recording.Indicator) {
	for _, c := range r.snapshot() {
		c.send(msg.Message{Type: msg.TypeRecording, Recording: recordingState(in, c)})
	}
}

// recordingState is in as c sees it.
func recordingState(in recording.Indicator, c *client) *msg.RecordingState {
	st := &msg.RecordingState{Seq: in.Seq, Phase: string(in.Phase), Recording: in.Recording, Request: in.Request,
		Awaiting: in.Awaiting, Accepted: in.Accepted, Since: in.Since}
	if c.id.role == msg.RoleCustomer {
		for _, id := range in.Awaiting {
			st.Asked = st.Asked || id == c.id.authorID
		}
		for _, id := range in.Accepted {
			st.Consented = st.Consented || id == c.id.authorID
		}
	}
	return st
}
