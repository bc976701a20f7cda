package mediaengine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"parley/relay/signal/msg"
)

// The whiteboard on the call's signalling connection (docs/whiteboard.md).
// The call keeps three things about it: the last op seq it delivered in
// order and the epoch of the state it started from (hello resumes with
// both after a reconnect), and the own ops that create an object and have
// not been confirmed yet (resent after a reconnect; the relay answers a
// resend with the op it accepted first). Ops are handed on as JSON: the
// UI decodes them with package whiteboard.

// Errors of SendBoard.
var (
	// ErrBadBoardOp: the op is not one JSON object of at most
	// msg.MaxMessageBytes with a kind.
	ErrBadBoardOp = errors.New("mediaengine: whiteboard op refused")
	// ErrBoardOffline: an op that is not kept for resending (undo, redo,
	// erase, clear, background, pointer) while the call has no
	// connection, or too many unconfirmed ops.
	ErrBoardOffline = errors.New("mediaengine: whiteboard not connected")
)

// maxBoardPending bounds the own ops kept for resending.
const maxBoardPending = 256

// BoardReceived is a whiteboard op the relay relayed: an accepted op
// (with seq, author and at; this client's own ops included) or a pointer
// (seq 0, not kept). Accepted ops arrive in seq order after the
// BoardStateReceived they continue; Seq at or below the last one
// delivered is the answer to a resend of an own op.
type BoardReceived struct {
	// Op is the op as the relay sent it (a whiteboard.Op in JSON).
	Op json.RawMessage
	// Seq is the op's seq (0 for a pointer).
	Seq uint64
}

// BoardStateReceived is the whole board (a whiteboard.State in JSON): on
// joining, after a reconnect that could not resume op by op, and when
// content expired or was erased. It replaces what the UI shows.
type BoardStateReceived struct {
	// State is the board as the relay sent it.
	State json.RawMessage
	// Epoch names the relay's copy of the board the state came from.
	Epoch string
}

// BoardRefused is the relay's refusal of an own op (an error with a
// board_* code). Ref is the refused op's object id, if it had one: the
// UI takes back what it drew ahead.
type BoardRefused struct {
	// Code is the relay's error code (board_rate, board_invalid, …).
	Code string
	// Message is the relay's sentence.
	Message string
	// Ref is the refused op's object id, or empty.
	Ref string
}

func (BoardReceived) isEvent()      {}
func (BoardStateReceived) isEvent() {}
func (BoardRefused) isEvent()       {}

// boardHead is the part of an op the call looks at.
type boardHead struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Seq  uint64 `json:"seq"`
}

// boardPending is an own op waiting for the relay's confirmation.
type boardPending struct {
	id string
	m  msg.Message
}

// errBoardGap ends a session that missed a whiteboard op: the call
// reconnects at once and resumes after the last op it delivered.
var errBoardGap = errors.New("mediaengine: whiteboard op out of sequence")

// SendBoard sends one whiteboard op (JSON, as docs/whiteboard.md
// describes; the relay checks it). A stroke, shape or text (an op with
// an id) is kept and resent after reconnects until the relay relays it
// back or refuses it; other ops need a connection now (ErrBoardOffline).
func (c *Call) SendBoard(op json.RawMessage) error {
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	op = bytes.TrimSpace(op)
	if len(op) == 0 || op[0] != '{' || len(op) > msg.MaxMessageBytes-64 || !json.Valid(op) {
		return fmt.Errorf("%w: not one JSON object within the size limit", ErrBadBoardOp)
	}
	var h boardHead
	if err := json.Unmarshal(op, &h); err != nil || h.Kind == "" || h.Seq != 0 {
		return fmt.Errorf("%w: kind missing or relay fields set", ErrBadBoardOp)
	}
	m := msg.Message{Type: msg.TypeBoard, Board: append(json.RawMessage(nil), op...)}
	c.mu.Lock()
	s := c.sess
	if h.ID != "" {
		if len(c.boardPending) >= maxBoardPending {
			c.mu.Unlock()
			return fmt.Errorf("%w: too many unconfirmed ops", ErrBoardOffline)
		}
		c.boardPending = append(c.boardPending, boardPending{id: h.ID, m: m})
	}
	c.mu.Unlock()
	if s == nil {
		if h.ID != "" {
			return nil // sent once connected
		}
		return ErrBoardOffline
	}
	s.post(func() { s.send(m) })
	return nil
}

// boardHello fills in hello's resume fields.
func (c *Call) boardHello(m *msg.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.boardEpoch != "" {
		m.BoardSince, m.BoardEpoch = c.boardSeq, c.boardEpoch
	}
}

// boardResend returns the own ops to send again after a welcome.
func (c *Call) boardResend() []msg.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]msg.Message, 0, len(c.boardPending))
	for _, p := range c.boardPending {
		out = append(out, p.m)
	}
	return out
}

// boardConfirmed forgets the pending own op with id. Called with c.mu
// held.
func (c *Call) boardConfirmed(id string) {
	if id == "" {
		return
	}
	for i, p := range c.boardPending {
		if p.id == id {
			c.boardPending = append(c.boardPending[:i], c.boardPending[i+1:]...)
			return
		}
	}
}

// handleBoardState applies a board_state message.
func (s *session) handleBoardState(m msg.Message) error {
	var st struct {
		Seq   uint64 `json:"seq"`
		Pages []struct {
			Objects []struct {
				ID string `json:"id"`
			} `json:"objects"`
		} `json:"pages"`
	}
	if len(m.Board) == 0 || json.Unmarshal(m.Board, &st) != nil {
		return errors.New("mediaengine: board_state without a readable state")
	}
	c := s.c
	c.mu.Lock()
	c.boardSeq, c.boardEpoch = st.Seq, m.BoardEpoch
	for _, p := range st.Pages {
		for _, o := range p.Objects {
			c.boardConfirmed(o.ID)
		}
	}
	c.mu.Unlock()
	c.events.push(BoardStateReceived{State: m.Board, Epoch: m.BoardEpoch})
	return nil
}

// handleBoard applies a relayed op; a gap in the seqs ends the session
// (errBoardGap) so that the call resumes where it is.
func (s *session) handleBoard(m msg.Message) error {
	var h boardHead
	if len(m.Board) == 0 || json.Unmarshal(m.Board, &h) != nil || h.Kind == "" {
		return errors.New("mediaengine: board message without a readable op")
	}
	c := s.c
	c.mu.Lock()
	switch {
	case h.Seq == 0: // a pointer
	case c.boardEpoch == "" || h.Seq > c.boardSeq+1:
		seq := c.boardSeq
		c.mu.Unlock()
		s.log.Info("whiteboard op out of sequence; resuming", "have", seq, "got", h.Seq)
		return errBoardGap
	case h.Seq == c.boardSeq+1:
		c.boardSeq = h.Seq
		c.boardConfirmed(h.ID)
	default: // the answer to a resend
		c.boardConfirmed(h.ID)
	}
	c.mu.Unlock()
	c.events.push(BoardReceived{Op: m.Board, Seq: h.Seq})
	return nil
}

// handleBoardError hands a board_* refusal to the UI and forgets the
// refused own op.
func (s *session) handleBoardError(m msg.Message) {
	s.c.mu.Lock()
	s.c.boardConfirmed(m.Ref)
	s.c.mu.Unlock()
	s.c.events.push(BoardRefused{Code: m.Code, Message: m.Message, Ref: m.Ref})
}

// isBoardError reports whether an error message is about the whiteboard.
func isBoardError(m msg.Message) bool {
	return m.Type == msg.TypeError && strings.HasPrefix(m.Code, "board_")
}
