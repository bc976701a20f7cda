package signal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"parley/relay/sfu"
	"parley/relay/signal/msg"
)

// errSlowClient ends a connection whose outbox is full.
var errSlowClient = errors.New("signal: client too slow, outbox full")

// client is one connected participant.
type client struct {
	hub    *Hub
	conn   Conn
	id     identity
	peerID string
	peer   *sfu.Peer
	log    *slog.Logger
	cancel context.CancelFunc
	room   *room

	out         chan []byte
	limiter     *rate.Limiter
	chatLimiter *rate.Limiter

	mu        sync.Mutex
	media     msg.MediaState
	closed    bool
	replaying bool
	held      []msg.Message
	lastSeq   uint64
	endReason string
}

// send queues m for the client. A client whose queue is full is
// disconnected rather than allowed to hold up the room.
func (c *client) send(m msg.Message) {
	b, err := msg.Encode(m)
	if err != nil {
		c.log.Error("encoding message", "type", m.Type, "err", err)
		return
	}
	c.queue(b)
}

// queue queues an encoded message, as send does.
func (c *client) queue(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	select {
	case c.out <- b:
	default:
		c.log.Warn("disconnecting slow client", "err", errSlowClient)
		c.closed = true
		c.cancel()
	}
}

// end sends a final message and closes the connection after it is
// written.
func (c *client) end(reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.endReason = reason
	c.mu.Unlock()
	c.send(msg.Message{Type: msg.TypeEnded, Reason: reason})
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.out)
	}
	c.mu.Unlock()
}

// writeLoop writes queued messages until the queue is closed (after an
// ended message) or ctx ends.
func (c *client) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b, ok := <-c.out:
			if !ok {
				c.cancel()
				return
			}
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := c.conn.Write(wctx, b)
			cancel()
			if err != nil {
				c.log.Debug("writing", "err", err)
				c.cancel()
				return
			}
		}
	}
}

// SendDescription implements sfu.Signaller.
func (c *client) SendDescription(d webrtc.SessionDescription) error {
	t := msg.TypeOffer
	if d.Type == webrtc.SDPTypeAnswer {
		t = msg.TypeAnswer
	}
	c.send(msg.Message{Type: t, SDP: d.SDP})
	return nil
}

// SendCandidate implements sfu.Signaller.
func (c *client) SendCandidate(ci webrtc.ICECandidateInit) error {
	c.send(msg.Message{Type: msg.TypeCandidate, Candidate: &msg.Candidate{
		Candidate: ci.Candidate, SDPMid: ci.SDPMid, SDPMLineIndex: ci.SDPMLineIndex, UsernameFragment: ci.UsernameFragment,
	}})
	return nil
}

// replay sends the timeline after since; entries broadcast meanwhile are
// held and sent after it, in order and without duplicates.
func (c *client) replay(ctx context.Context, since uint64) {
	c.mu.Lock()
	c.lastSeq = since
	c.mu.Unlock()
	var entries []msg.Entry
	if tl := c.hub.opts.Timeline; tl != nil {
		var err error
		entries, err = tl.Since(ctx, c.id.meetingID, since, replayLimit)
		if err != nil {
			c.log.Error("replaying timeline", "err", err)
		}
	}
	c.mu.Lock()
	held := c.held
	c.held = nil
	c.replaying = false
	c.mu.Unlock()
	for _, e := range entries {
		c.deliver(entryType(e), e)
	}
	for _, m := range held {
		c.deliver(m.Type, *m.Entry)
	}
}

func entryType(e msg.Entry) string {
	if e.FileName != "" {
		return msg.TypeFile
	}
	return msg.TypeChat
}

// deliver sends a timeline entry unless it was sent already or the
// replay is still running (then it is held).
func (c *client) deliver(typ string, e msg.Entry) {
	c.mu.Lock()
	if c.replaying {
		c.held = append(c.held, msg.Message{Type: typ, Entry: &e})
		c.mu.Unlock()
		return
	}
	if e.Seq != 0 && e.Seq <= c.lastSeq {
		c.mu.Unlock()
		return
	}
	if e.Seq > c.lastSeq {
		c.lastSeq = e.Seq
	}
	c.mu.Unlock()
	if e.From != c.id.authorID || e.Role != c.id.role {
		e.Nonce = "" // a nonce is the sender's business only
	}
	c.send(msg.Message{Type: typ, Entry: &e})
}

// readLoop handles the client's messages until the connection ends.
func (c *client) readLoop(ctx context.Context) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, IdleTimeout)
		b, err := c.conn.Read(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("signal: reading: %w", err)
		}
		if !c.limiter.Allow() {
			c.send(msg.Message{Type: msg.TypeError, Code: "rate_limited", Message: "Too many messages."})
			continue
		}
		m, err := msg.Decode(b)
		if err != nil {
			c.send(msg.Message{Type: msg.TypeError, Code: "bad_message", Message: err.Error()})
			continue
		}
		if done := c.handle(ctx, m); done {
			return nil
		}
	}
}

func (c *client) handle(ctx context.Context, m msg.Message) (done bool) {
	switch m.Type {
	case msg.TypeHello:
		c.send(msg.Message{Type: msg.TypeError, Code: "bad_message", Message: "hello was already received"})
	case msg.TypeOffer, msg.TypeAnswer:
		t := webrtc.SDPTypeOffer
		if m.Type == msg.TypeAnswer {
			t = webrtc.SDPTypeAnswer
		}
		if err := c.peer.HandleDescription(webrtc.SessionDescription{Type: t, SDP: m.SDP}); err != nil {
			c.log.Debug("negotiation", "err", err)
			c.send(msg.Message{Type: msg.TypeError, Code: "negotiation_failed", Message: "The session description was refused."})
		}
	case msg.TypeCandidate:
		if m.Candidate == nil || m.Candidate.Candidate == "" {
			return false // end of candidates
		}
		err := c.peer.HandleCandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate,
			SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex, UsernameFragment: m.Candidate.UsernameFragment})
		if err != nil {
			c.send(msg.Message{Type: msg.TypeError, Code: "bad_message", Message: "The ICE candidate was refused."})
		}
	case msg.TypeMedia:
		c.mu.Lock()
		c.media = *m.Media
		c.mu.Unlock()
		c.peer.SetScreenStream(m.Media.ScreenStream)
		c.room.broadcastRoster()
	case msg.TypeChat:
		c.chat(ctx, m)
	case msg.TypeBoard:
		c.boardOp(ctx, m)
	case msg.TypeRecord:
		c.record(ctx, m)
	case msg.TypePing:
		c.send(msg.Message{Type: msg.TypePong})
	case msg.TypeLeave:
		if c.id.secret != "" {
			if err := c.hub.opts.Meetings.Leave(ctx, c.id.secret); err != nil {
				c.log.Debug("leaving", "err", err)
			}
		}
		c.end(msg.EndedLeft)
		return true
	}
	return false
}

func (c *client) chat(ctx context.Context, m msg.Message) {
	tl := c.hub.opts.Timeline
	if tl == nil {
		c.send(msg.Message{Type: msg.TypeError, Code: "bad_message", Message: "Chat is not available."})
		return
	}
	if !c.chatLimiter.Allow() {
		c.send(msg.Message{Type: msg.TypeError, Code: "rate_limited", Message: "Too many chat messages; wait a moment."})
		return
	}
	e, created, err := tl.Post(ctx, c.id.meetingID, Author{ID: c.id.authorID, Name: c.id.name, Role: c.id.role}, m.Text, m.Nonce)
	if err != nil {
		c.log.Error("posting chat", "err", err)
		c.send(msg.Message{Type: msg.TypeError, Code: "bad_message", Message: "The message could not be stored."})
		return
	}
	if created {
		c.room.broadcastEntry(msg.TypeChat, e)
		return
	}
	// A resend after a reconnect: echo it to the sender only, even if
	// its replay already covered it.
	c.send(msg.Message{Type: msg.TypeChat, Entry: &e})
}
