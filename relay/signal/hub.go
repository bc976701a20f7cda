// Package signal is the relay's signalling hub: it authenticates a
// meeting's participants, joins them to the meeting's SFU room, and carries
// the protocol of package msg between each participant and the SFU, the
// roster, the meeting's timeline (chat and files), the meeting's
// whiteboard, the recording consent (recording.go) and the waiting room.
//
// The hub is independent of framing: ServeWebSocket (browsers) and
// ServeStream (newline-delimited JSON over a full-duplex HTTP/3 or HTTP/2
// request, the desktop app) adapt a connection to Conn and call Serve.
package signal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/meeting"
	"parley/relay/sfu"
	"parley/relay/signal/msg"
)

// Meetings is what the hub needs from the meetings service
// (*meeting.Service).
type Meetings interface {
	Start(ctx context.Context, actor meeting.Actor, meetingID string) (meeting.Meeting, error)
	Waiting(ctx context.Context, actor meeting.Actor, meetingID string) ([]meeting.Participant, error)
	ParticipantBySecret(ctx context.Context, secret string) (meeting.Customer, error)
	Leave(ctx context.Context, secret string) error
	Subscribe(meetingID string) (<-chan meeting.Event, func())
}

// Sessions authenticates advisors (*auth.Service).
type Sessions interface {
	Authenticate(ctx context.Context, token string) (auth.Session, error)
	GetUser(ctx context.Context, tenantID, userID string) (auth.User, error)
}

// Author is who posts to a meeting's timeline.
type Author struct {
	// ID is the participant id of a customer or the user id of an advisor.
	ID string
	// Name is the name shown next to the entry.
	Name string
	// Role is msg.RoleAdvisor or msg.RoleCustomer.
	Role string
}

// Timeline stores a meeting's chat messages and lists its entries.
type Timeline interface {
	// Post stores a chat message; the same (meeting, author, nonce)
	// again returns the stored entry with created false.
	Post(ctx context.Context, meetingID string, a Author, text, nonce string) (e msg.Entry, created bool, err error)
	// Since lists the entries with a sequence number above since, in order.
	Since(ctx context.Context, meetingID string, since uint64, limit int) ([]msg.Entry, error)
}

// Conn is one client's signalling connection, one message per Read and
// Write.
type Conn interface {
	Read(ctx context.Context) ([]byte, error)
	Write(ctx context.Context, b []byte) error
	Close() error
}

// Options configure a Hub.
type Options struct {
	// SFU forwards the media. Required.
	SFU *sfu.SFU
	// Meetings authorises customers and starts meetings. Required.
	Meetings Meetings
	// Sessions authenticates advisors. Required.
	Sessions Sessions
	// Timeline stores chat; nil refuses chat messages.
	Timeline Timeline
	// Boards opens the meetings' whiteboards; nil refuses board
	// messages (board_unavailable).
	Boards Boards
	// BoardRate is how many whiteboard ops one participant may send per
	// second (by the Board's counts); 0 means DefaultBoardRate.
	BoardRate int
	// BoardRefresh is how often open boards are checked for expired or
	// erased content (participants then get a fresh state); 0 means
	// DefaultBoardRefresh, negative never (call RefreshBoards).
	BoardRefresh time.Duration
	// Recordings opens the meetings' recorders; nil refuses record
	// messages (record_unavailable).
	Recordings Recordings
	// ICE hands out the ICE servers (TURN credentials) for a peer; nil
	// hands out none (host candidates only).
	ICE func(peerID string) []msg.ICEServer
	// Logger receives ids only. Nil discards.
	Logger *slog.Logger
	// Clock is the time source; nil is the real clock.
	Clock clock.Clock
}

// Timeouts of a connection.
const (
	// HelloTimeout is how long a new connection may take to say hello.
	HelloTimeout = 10 * time.Second
	// IdleTimeout closes a connection the relay has heard nothing from.
	IdleTimeout = 45 * time.Second
	// writeTimeout bounds one write to a client.
	writeTimeout = 10 * time.Second
	// outboxSize is how many messages may wait for a slow client before
	// it is disconnected.
	outboxSize = 512
	// replayLimit is how many timeline entries one replay sends at most.
	replayLimit = 1000
)

// Hub connects signalling clients to the meetings' rooms.
type Hub struct {
	opts Options
	log  *slog.Logger
	clk  clock.Clock

	life     context.Context // ends with Close
	shutdown context.CancelFunc

	mu    sync.Mutex
	rooms map[string]*room
	wg    sync.WaitGroup
}

// New returns a hub.
func New(opts Options) *Hub {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	life, shutdown := context.WithCancel(context.Background())
	h := &Hub{opts: opts, log: log, clk: clock.Or(opts.Clock), rooms: make(map[string]*room), life: life, shutdown: shutdown}
	if opts.Boards != nil && opts.BoardRefresh >= 0 {
		interval := opts.BoardRefresh
		if interval == 0 {
			interval = DefaultBoardRefresh
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.refreshBoards(interval)
		}()
	}
	return h
}

// Close ends every connection and waits for their goroutines.
func (h *Hub) Close() {
	h.shutdown()
	h.wg.Wait()
}

// Announce sends a timeline entry (a file someone uploaded) to every
// connected participant of the meeting.
func (h *Hub) Announce(meetingID string, e msg.Entry) {
	h.mu.Lock()
	r := h.rooms[meetingID]
	h.mu.Unlock()
	if r != nil {
		r.broadcastEntry(msg.TypeFile, e)
	}
}

// Rooms is the number of meetings with connected participants.
func (h *Hub) Rooms() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.rooms)
}

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("signal: hub closed")

// ProtocolError is a signalling error sent to the client as an error
// message.
type ProtocolError struct {
	Code    string // msg error code
	Message string // for a person
	// Fatal errors close the connection.
	Fatal bool
}

// Error implements error.
func (e *ProtocolError) Error() string { return "signal: " + e.Code + ": " + e.Message }

func fatal(code, message string) *ProtocolError {
	return &ProtocolError{Code: code, Message: message, Fatal: true}
}

// identity is who a connection speaks for.
type identity struct {
	meetingID string
	role      string
	authorID  string
	name      string
	actor     meeting.Actor // advisors
	secret    string        // customers
}

// Serve runs one client's connection until it ends. sess is the session
// the transport already authenticated (the stream framing), or nil when
// the client authenticates in its hello (WebSocket). The returned error
// says why the connection ended; it is nil for a normal end.
func (h *Hub) Serve(ctx context.Context, conn Conn, sess *auth.Session) error {
	if h.life.Err() != nil {
		_ = conn.Close()
		return ErrClosed
	}
	h.wg.Add(1)
	defer h.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(h.life, cancel)
	defer stop()
	defer conn.Close()

	hello, err := h.readHello(ctx, conn)
	if err == nil {
		var id identity
		id, err = h.identify(ctx, hello, sess)
		if err == nil {
			return h.run(ctx, cancel, conn, id, hello)
		}
	}
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		pe = fatal("unauthorized", "The connection could not be authorised.")
	}
	b, _ := msg.Encode(msg.Message{Type: msg.TypeError, Code: pe.Code, Message: pe.Message})
	wctx, wcancel := context.WithTimeout(ctx, writeTimeout)
	_ = conn.Write(wctx, b)
	wcancel()
	return err
}

func (h *Hub) readHello(ctx context.Context, conn Conn) (msg.Message, error) {
	rctx, cancel := context.WithTimeout(ctx, HelloTimeout)
	defer cancel()
	b, err := conn.Read(rctx)
	if err != nil {
		return msg.Message{}, fmt.Errorf("signal: reading hello: %w", err)
	}
	m, err := msg.Decode(b)
	if err != nil {
		return msg.Message{}, fatal("bad_message", err.Error())
	}
	if m.Type != msg.TypeHello {
		return msg.Message{}, fatal("hello_required", "The first message must be a hello.")
	}
	return m, nil
}

func (h *Hub) identify(ctx context.Context, hello msg.Message, sess *auth.Session) (identity, error) {
	switch {
	case sess == nil && strings.HasPrefix(hello.Token, meeting.SecretPrefix):
		return h.identifyCustomer(ctx, hello.Token)
	case sess == nil && hello.Token != "":
		s, err := h.opts.Sessions.Authenticate(ctx, hello.Token)
		if err != nil {
			return identity{}, fatal("unauthorized", "The session is not valid. Sign in again.")
		}
		return h.identifyAdvisor(ctx, s, hello.MeetingID)
	case sess != nil:
		return h.identifyAdvisor(ctx, *sess, hello.MeetingID)
	}
	return identity{}, fatal("unauthorized", "A token is required.")
}

func (h *Hub) identifyCustomer(ctx context.Context, secret string) (identity, error) {
	c, err := h.opts.Meetings.ParticipantBySecret(ctx, secret)
	if err != nil {
		return identity{}, fatal("unauthorized", "This meeting access is not valid.")
	}
	switch c.Participant.State {
	case meeting.StateAdmitted:
	case meeting.StateEnded:
		return identity{}, fatal("meeting_ended", "This meeting has ended.")
	case meeting.StateWaiting:
		return identity{}, fatal("not_admitted", "The advisor has not admitted you yet.")
	default:
		return identity{}, fatal("forbidden", "You are no longer part of this meeting.")
	}
	if c.Meeting.Status == meeting.StatusEnded {
		return identity{}, fatal("meeting_ended", "This meeting has ended.")
	}
	return identity{meetingID: c.Meeting.ID, role: msg.RoleCustomer, authorID: c.Participant.ID,
		name: c.Participant.Name, secret: secret}, nil
}

func (h *Hub) identifyAdvisor(ctx context.Context, s auth.Session, meetingID string) (identity, error) {
	if s.MustChangePassword {
		return identity{}, fatal("forbidden", "Change your password first.")
	}
	if meetingID == "" {
		return identity{}, fatal("bad_message", "hello: meeting_id missing")
	}
	actor := meeting.Actor{TenantID: s.TenantID, UserID: s.UserID, Admin: s.Role == auth.RoleAdmin}
	m, err := h.opts.Meetings.Start(ctx, actor, meetingID)
	switch {
	case errors.Is(err, meeting.ErrMeetingEnded):
		return identity{}, fatal("meeting_ended", "This meeting has ended.")
	case errors.Is(err, meeting.ErrForbidden), errors.Is(err, meeting.ErrNotFound):
		return identity{}, fatal("forbidden", "This meeting is not yours.")
	case err != nil:
		return identity{}, fmt.Errorf("signal: starting meeting: %w", err)
	}
	name := "Advisor"
	if u, err := h.opts.Sessions.GetUser(ctx, s.TenantID, s.UserID); err == nil && u.DisplayName != "" {
		name = u.DisplayName
	}
	return identity{meetingID: m.ID, role: msg.RoleAdvisor, authorID: s.UserID, name: name, actor: actor}, nil
}

func newPeerID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "p" + hex.EncodeToString(b[:])
}

// run serves an identified client.
func (h *Hub) run(ctx context.Context, cancel context.CancelFunc, conn Conn, id identity, hello msg.Message) error {
	c := &client{
		hub: h, conn: conn, id: id, peerID: newPeerID(), cancel: cancel,
		out:     make(chan []byte, outboxSize),
		limiter: rate.NewLimiter(50, 200), chatLimiter: rate.NewLimiter(2, 10),
		log: h.log.With("meeting", id.meetingID), media: msg.MediaState{Audio: true, Video: true},
		replaying: true,
	}
	c.log = c.log.With("peer", c.peerID, "role", id.role)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(ctx)
	}()
	defer func() {
		// A connection that ends normally (ended was queued) first lets
		// the writer deliver what is queued.
		c.mu.Lock()
		ending := c.endReason != ""
		c.mu.Unlock()
		if ending {
			select {
			case <-writerDone:
			case <-time.After(writeTimeout):
			}
		}
		cancel()
		<-writerDone
	}()

	var ice []msg.ICEServer
	if h.opts.ICE != nil {
		ice = h.opts.ICE(c.peerID)
	}
	c.send(msg.Message{Type: msg.TypeWelcome, PeerID: c.peerID, Role: id.role, MeetingID: id.meetingID, ICEServers: ice})

	r := h.enter(c)
	defer r.exit(c)
	peer, err := r.sfu.Join(ctx, c.peerID, c)
	if err != nil {
		return fmt.Errorf("signal: joining room: %w", err)
	}
	c.peer = peer
	defer peer.Close()
	// A peer whose media connection failed for good is gone from the room:
	// end the signalling too, so the client starts afresh.
	go func() {
		select {
		case <-peer.Done():
			c.log.Info("media connection closed; ending signalling")
			cancel()
		case <-ctx.Done():
		}
	}()
	c.log.Info("signalling connected")
	r.broadcastRoster()
	c.replay(ctx, hello.Since)
	c.boardJoin(ctx, hello.BoardSince, hello.BoardEpoch)
	c.recordingJoin(ctx)
	if id.role == msg.RoleAdvisor {
		r.refreshWaiting(ctx, c)
	}
	return c.readLoop(ctx)
}
