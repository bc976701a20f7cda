package signal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"parley/relay/signal/msg"
	"parley/relay/whiteboard"
)

// Boards opens the meetings' whiteboards (*whiteboard.Service).
type Boards interface {
	Open(ctx context.Context, meetingID string) (*whiteboard.Board, error)
}

// Whiteboard defaults for Options.
const (
	// DefaultBoardRate is how many whiteboard ops (accepted or refused)
	// one participant may send per second before the relay answers
	// board_rate.
	DefaultBoardRate = 50
	// DefaultBoardRefresh is how often open boards are checked for
	// content that expired or was erased meanwhile.
	DefaultBoardRefresh = time.Minute
)

// boardErrors maps the whiteboard's refusals to the error codes the
// sender gets (docs/whiteboard.md).
var boardErrors = []struct {
	err  error
	code string
}{
	{whiteboard.ErrForbidden, "board_forbidden"},
	{whiteboard.ErrTooLarge, "board_too_large"},
	{whiteboard.ErrBadPage, "board_bad_page"},
	{whiteboard.ErrPageFull, "board_page_full"},
	{whiteboard.ErrBoardFull, "board_full"},
	{whiteboard.ErrDuplicateID, "board_duplicate"},
	{whiteboard.ErrUnknownObject, "board_unknown_object"},
	{whiteboard.ErrUnknownDocument, "board_unknown_document"},
	{whiteboard.ErrNoChange, "board_no_change"},
	{whiteboard.ErrNothingToUndo, "board_nothing_to_undo"},
	{whiteboard.ErrNothingToRedo, "board_nothing_to_redo"},
	{whiteboard.ErrInvalid, "board_invalid"},
}

// boardCode returns the error code for a refused op and whether the
// refusal is the sender's doing (false: the relay failed).
func boardCode(err error) (string, bool) {
	for _, e := range boardErrors {
		if errors.Is(err, e.err) {
			return e.code, true
		}
	}
	return "board_failed", false
}

// roomBoard is a room's whiteboard: the Board, the epoch clients resume
// against, and the per-participant rate windows. mu serialises applying
// an op with relaying it, and a joiner's state with its first op, so that
// every client sees the ops in sequence order after its state.
type roomBoard struct {
	mu    sync.Mutex
	board *whiteboard.Board
	id    string // random, names this copy of the board in epochs
	gen   uint64 // the Board's Generation the clients' states reflect
	last  uint64 // the highest seq relayed or sent in a state
	rate  map[string]*rateWindow
	// ready are the clients that received a state (or resumed) and
	// get every accepted op from now on.
	ready map[*client]bool
}

// rateWindow counts an actor's ops in the current second.
type rateWindow struct {
	start time.Time
	base  uint64 // the actor's accepted+rejected count at start
}

func (rb *roomBoard) epoch() string {
	return rb.id + "." + strconv.FormatUint(rb.gen, 10)
}

// open returns the room's Board, opening it on first use. Called with
// rb.mu held.
func (rb *roomBoard) open(ctx context.Context, h *Hub, meetingID string) (*whiteboard.Board, error) {
	if rb.board != nil {
		return rb.board, nil
	}
	b, err := h.opts.Boards.Open(ctx, meetingID)
	if err != nil {
		return nil, err
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	rb.board, rb.id, rb.gen = b, hex.EncodeToString(id[:]), b.Generation()
	rb.rate = map[string]*rateWindow{}
	rb.ready = map[*client]bool{}
	return b, nil
}

// encodeBoard renders a board message once for every receiver.
func encodeBoard(typ string, v any, epoch string) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return msg.Encode(msg.Message{Type: typ, Board: raw, BoardEpoch: epoch})
}

// sendState sends c the whole board. Called with rb.mu held.
func (rb *roomBoard) sendState(c *client, st whiteboard.State) {
	b, err := encodeBoard(msg.TypeBoardState, st, rb.epoch())
	if err != nil {
		c.log.Error("encoding board state", "err", err)
		return
	}
	rb.last = max(rb.last, st.Seq)
	c.queue(b)
	rb.ready[c] = true
}

// checkGeneration pushes a fresh state to every ready client when the
// Board dropped content (expiry, erasure) since the last check, and
// reports whether it did. Called with rb.mu held.
func (rb *roomBoard) checkGeneration(ctx context.Context, r *room) bool {
	gen := rb.board.Generation()
	if gen == rb.gen {
		return false
	}
	st, err := rb.board.State(ctx, whiteboard.PageRef{})
	if err != nil {
		r.hub.log.Error("board state after expiry", "meeting", r.id, "err", err)
		return false
	}
	rb.gen = rb.board.Generation() // State may have synced again
	for _, c := range r.snapshot() {
		if rb.ready[c] {
			rb.sendState(c, st)
		}
	}
	r.hub.log.Info("board content dropped; fresh state sent", "meeting", r.id)
	return true
}

// boardJoin sends a connecting client the board: the ops after since
// when it resumes the same epoch, the whole state otherwise.
func (c *client) boardJoin(ctx context.Context, since uint64, epoch string) {
	if c.hub.opts.Boards == nil {
		return
	}
	r := c.room
	rb := &r.board
	rb.mu.Lock()
	defer rb.mu.Unlock()
	b, err := rb.open(ctx, c.hub, r.id)
	if err != nil {
		c.log.Error("opening board", "err", err)
		c.send(msg.Message{Type: msg.TypeError, Code: "board_unavailable", Message: "The whiteboard is not available."})
		return
	}
	if since > 0 && epoch == rb.epoch() {
		ops, err := b.Since(ctx, since, 0)
		if err == nil && len(ops) < whiteboard.MaxSince && !rb.checkGeneration(ctx, r) {
			for _, op := range ops {
				if out, err := encodeBoard(msg.TypeBoard, op, ""); err == nil {
					c.queue(out)
				}
			}
			rb.ready[c] = true
			return
		}
	}
	rb.checkGeneration(ctx, r)
	st, err := b.State(ctx, whiteboard.PageRef{})
	if err != nil {
		c.log.Error("board state", "err", err)
		c.send(msg.Message{Type: msg.TypeError, Code: "board_unavailable", Message: "The whiteboard is not available."})
		return
	}
	rb.sendState(c, st)
}

// boardLeave forgets c.
func (r *room) boardLeave(c *client) {
	r.board.mu.Lock()
	delete(r.board.ready, c)
	r.board.mu.Unlock()
}

// boardError answers the sender of a refused op.
func (c *client) boardError(code, message, ref string) {
	c.send(msg.Message{Type: msg.TypeError, Code: code, Message: message, Ref: ref})
}

// boardOp applies a client's op and relays the accepted op: to everyone
// (the sender included, so that it learns the seq) or, for a pointer, to
// everyone else. A refusal goes to the sender only.
func (c *client) boardOp(ctx context.Context, m msg.Message) {
	if c.hub.opts.Boards == nil {
		c.boardError("board_unavailable", "The whiteboard is not available.", "")
		return
	}
	op, err := whiteboard.DecodeOp(m.Board)
	if err != nil {
		code, _ := boardCode(err)
		c.boardError(code, "The whiteboard operation was refused.", "")
		return
	}
	r := c.room
	rb := &r.board
	rb.mu.Lock()
	defer rb.mu.Unlock()
	b, err := rb.open(ctx, c.hub, r.id)
	if err != nil {
		c.log.Error("opening board", "err", err)
		c.boardError("board_unavailable", "The whiteboard is not available.", op.ID)
		return
	}
	if !rb.allow(c, b) {
		c.boardError("board_rate", "Too many whiteboard operations; wait a moment.", op.ID)
		return
	}
	acc, err := b.Apply(ctx, c.boardActor(), op)
	switch {
	case errors.Is(err, whiteboard.ErrDuplicateID) && acc.Seq != 0:
		// A resend after a reconnect: the op accepted first, to the
		// sender only (the others had it then).
		if out, err := encodeBoard(msg.TypeBoard, acc, ""); err == nil {
			c.queue(out)
		}
	case err != nil:
		code, theirs := boardCode(err)
		if !theirs {
			c.log.Error("applying board op", "kind", op.Kind, "err", err)
		}
		c.boardError(code, "The whiteboard operation was refused.", op.ID)
	default:
		out, err := encodeBoard(msg.TypeBoard, acc, "")
		if err != nil {
			c.log.Error("encoding board op", "err", err)
			return
		}
		pointer := acc.Kind == whiteboard.KindPointer
		rb.last = max(rb.last, acc.Seq)
		for _, o := range r.snapshot() {
			if rb.ready[o] && (!pointer || o != c) {
				o.queue(out)
			}
		}
	}
	rb.checkGeneration(ctx, r)
}

func (c *client) boardActor() whiteboard.Actor {
	return whiteboard.Actor{ID: c.id.authorID, Role: c.id.role}
}

// allow applies the per-participant rate: at most BoardRate ops (the
// Board's accepted and rejected counts) per second of the hub's clock.
// Called with rb.mu held.
func (rb *roomBoard) allow(c *client, b *whiteboard.Board) bool {
	limit := uint64(c.hub.opts.BoardRate)
	if limit == 0 {
		limit = DefaultBoardRate
	}
	id := c.id.authorID
	n := b.Counts(id)
	total := n.Accepted + n.Rejected
	now := c.hub.clk.Now()
	w := rb.rate[id]
	if w == nil || now.Sub(w.start) >= time.Second || now.Before(w.start) {
		if w == nil && len(rb.rate) >= 10000 {
			return false
		}
		w = &rateWindow{start: now, base: total}
		rb.rate[id] = w
	}
	return total-w.base < limit
}

// RefreshBoards checks every open board for content that expired or was
// erased and sends the participants of those that changed a fresh state.
// The hub does this every Options.BoardRefresh; the retention sweep may
// call it after deleting. It returns how many boards changed.
func (h *Hub) RefreshBoards(ctx context.Context) int {
	h.mu.Lock()
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()
	n := 0
	for _, r := range rooms {
		rb := &r.board
		rb.mu.Lock()
		if rb.board != nil {
			// Since syncs the board with the store (and the retention
			// rule); its result does not matter here.
			_, _ = rb.board.Since(ctx, rb.last, 1)
			if rb.checkGeneration(ctx, r) {
				n++
			}
		}
		rb.mu.Unlock()
	}
	return n
}

// refreshBoards runs RefreshBoards every interval until the hub closes.
func (h *Hub) refreshBoards(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-h.life.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(h.life, 30*time.Second)
			h.RefreshBoards(ctx)
			cancel()
		}
	}
}
