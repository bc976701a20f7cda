// Package msg defines Parley's signalling protocol: the JSON messages a
// meeting's participants (the customer's browser, the advisor's desktop
// app) exchange with the relay to set up media through the SFU, follow the
// roster, chat and hear about files, share the whiteboard, follow the
// waiting room and the meeting's end.
//
// The same messages travel over two framings of GET/POST /api/v1/signal:
// WebSocket text frames, one message per frame (browsers), and a
// full-duplex HTTP stream of newline-delimited JSON (the desktop app, over
// HTTP/3 on its QUIC connection, or HTTP/2 as fallback). docs/signalling.md
// describes the exchange.
//
// This package is shared by the relay and the desktop client and has no
// dependencies beyond the standard library.
package msg

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Message types. Client → relay: Hello, Offer, Answer, Candidate, Media,
// Chat, Board, Record, Ping, Leave. Relay → client: Welcome, Offer, Answer,
// Candidate, Roster, Chat, File, Board, BoardState, Recording, Waiting,
// Pong, Ended, Error.
const (
	TypeHello     = "hello"
	TypeWelcome   = "welcome"
	TypeOffer     = "offer"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	TypeMedia     = "media"
	TypeRoster    = "roster"
	TypeChat      = "chat"
	TypeFile      = "file"
	// TypeBoard carries one whiteboard op in Board: from a client the op
	// to apply, from the relay an accepted op (docs/whiteboard.md).
	TypeBoard = "board"
	// TypeBoardState carries the whole whiteboard (a whiteboard.State) in
	// Board and its BoardEpoch: on joining, on a resume that cannot be
	// served op by op, and when content expired or was erased.
	TypeBoardState = "board_state"
	// TypeRecord asks the relay to act on the meeting's recording
	// (Action: RecordRequest or RecordStop from the advisor, RecordAccept,
	// RecordRefuse or RecordWithdraw from a customer;
	// docs/recording.md).
	TypeRecord = "record"
	// TypeRecording carries the recording state (Recording) to every
	// participant after every change and on joining: the recording
	// indicator, and for a customer whether to show the consent dialog.
	TypeRecording = "recording"
	// TypeSignRequest (relay → one customer) asks the customer to sign a
	// document the advisor presents in the meeting (Sign); clients that do
	// not know it ignore it.
	TypeSignRequest = "sign_request"
	TypeWaiting     = "waiting"
	TypePing        = "ping"
	TypePong        = "pong"
	TypeLeave       = "leave"
	TypeEnded       = "ended"
	TypeError       = "error"
)

// Limits enforced by Decode. A message larger than MaxMessageBytes is
// refused before it is parsed.
const (
	MaxMessageBytes = 64 << 10
	MaxSDPBytes     = 48 << 10
	MaxChatRunes    = 4000
	MaxCandidate    = 1024
	MaxNonce        = 64
	MaxStreamID     = 128
)

// Roles of a peer in a meeting.
const (
	RoleAdvisor  = "advisor"
	RoleCustomer = "customer"
)

// Reasons carried by Ended.
const (
	EndedMeeting  = "meeting_ended" // the advisor ended the meeting
	EndedRemoved  = "removed"       // the advisor removed this participant
	EndedLeft     = "left"          // the participant left
	EndedReplaced = "replaced"      // the same participant connected again elsewhere
)

// Record actions (Message.Action of TypeRecord).
const (
	RecordRequest  = "request"  // the advisor asks every customer to consent
	RecordStop     = "stop"     // the advisor ends the recording
	RecordAccept   = "accept"   // a customer consents
	RecordRefuse   = "refuse"   // a customer declines; the request ends
	RecordWithdraw = "withdraw" // a customer takes consent back; recording stops
)

// Recording phases (RecordingState.Phase).
const (
	RecordingOff     = "off"       // nothing requested, nothing recorded
	RecordingPending = "pending"   // asked; not every customer has accepted
	RecordingOn      = "recording" // every present customer accepted; media is written
	RecordingPaused  = "paused"    // a customer who has not accepted is present
)

// ScreenSuffix ends the stream id of a forwarded screen-share track: the
// SFU forwards a peer's camera and microphone as stream "<peer id>" and its
// screen share as stream "<peer id>" + ScreenSuffix.
const ScreenSuffix = "/screen"

// Message is one signalling message. Type says which of the other fields
// are meaningful; the rest are empty.
type Message struct {
	// Type is one of the Type* constants.
	Type string `json:"type"`

	// Hello: the participant's secret (pmp_…) or the advisor's session
	// token. Only over WebSocket, where browsers cannot set headers; the
	// stream framing authenticates with its Authorization header.
	Token string `json:"token,omitempty"`
	// Hello: replay chat messages and files with a sequence number above
	// this one (0 replays the meeting's whole timeline).
	Since uint64 `json:"since,omitempty"`
	// Hello (advisor): the meeting to connect to.
	MeetingID string `json:"meeting_id,omitempty"`
	// Hello: the last whiteboard seq the client applied and the epoch of
	// the board state it started from (BoardState); with both the relay
	// resumes op by op, otherwise it sends the whole board.
	BoardSince uint64 `json:"board_since,omitempty"`
	// BoardEpoch names the relay's copy of the board a state came from
	// (BoardState) or that a resuming client saw (Hello).
	BoardEpoch string `json:"board_epoch,omitempty"`
	// Board: a whiteboard op (Board) or the whiteboard's state
	// (BoardState) as JSON; package whiteboard defines both. Kept raw so
	// that this package needs nothing beyond the standard library.
	Board json.RawMessage `json:"board,omitempty"`
	// Action: what a Record message asks (Record* constants).
	Action string `json:"action,omitempty"`
	// Recording: the meeting's recording state (Recording).
	Recording *RecordingState `json:"recording,omitempty"`
	// Ref: the object id of a refused whiteboard op (Error with a board_*
	// code), so the client can take back what it drew ahead.
	Ref string `json:"ref,omitempty"`

	// Welcome: this connection's peer id in the room, the participant's
	// role, and ICE servers (TURN with short-lived credentials).
	PeerID string `json:"peer_id,omitempty"`
	// Role is RoleAdvisor or RoleCustomer (Welcome).
	Role string `json:"role,omitempty"`
	// ICEServers are the STUN/TURN servers to use (Welcome).
	ICEServers []ICEServer `json:"ice_servers,omitempty"`

	// Offer, Answer: the session description.
	SDP string `json:"sdp,omitempty"`
	// Candidate: one ICE candidate; nil ends gathering.
	Candidate *Candidate `json:"candidate,omitempty"`

	// Media: the sender's own state. Other peers see it in Roster.
	Media *MediaState `json:"media,omitempty"`

	// Roster: everyone currently connected, including the receiver.
	Peers []Peer `json:"peers,omitempty"`

	// Chat (client → relay): Text and a client-chosen Nonce; sending the
	// same nonce again (after a reconnect) does not post twice.
	// Chat and File (relay → client): Entry.
	Text string `json:"text,omitempty"`
	// Nonce makes a chat message idempotent (Chat from a client).
	Nonce string `json:"nonce,omitempty"`
	// Entry is the timeline entry (Chat and File from the relay).
	Entry *Entry `json:"entry,omitempty"`

	// Sign (SignRequest): the document to sign and the signing page.
	Sign *SignRequest `json:"sign,omitempty"`

	// Waiting (advisor only): who is in the waiting room now.
	Waiting []Waiting `json:"waiting,omitempty"`

	// Ended: why the connection ends (Ended* constants).
	Reason string `json:"reason,omitempty"`

	// Error: a stable code and a human-readable message. Errors about one
	// message leave the connection open; fatal ones are followed by a close.
	Code string `json:"code,omitempty"`
	// Message explains an Error to a person.
	Message string `json:"message,omitempty"`
}

// SignRequest asks one customer to sign a process now (the advisor
// presents it in the meeting; no SMS code is needed).
type SignRequest struct {
	// Process is the signature process's id.
	Process string `json:"process"`
	// Title is the process's title.
	Title string `json:"title"`
	// URL is the relay's signing page with the signer's link and session:
	// "/s/<psg token>#session=<pss token>" (relative to the relay).
	URL string `json:"url"`
}

// RecordingState is a meeting's recording state as one participant sees
// it. Recording is the indicator everyone is shown; Asked tells a
// customer to show the consent dialog (refusal is the default: nothing
// is recorded until every present customer accepted).
type RecordingState struct {
	// Seq increases with every change; drop a state with a lower Seq
	// than one already shown.
	Seq int `json:"seq"`
	// Phase is RecordingOff, RecordingPending, RecordingOn or
	// RecordingPaused.
	Phase string `json:"phase"`
	// Recording is true exactly while media is written.
	Recording bool `json:"recording"`
	// Request numbers the advisor's requests from 1.
	Request int `json:"request"`
	// Awaiting are the participant ids of the present customers who have
	// not accepted yet (names are in the roster).
	Awaiting []string `json:"awaiting,omitempty"`
	// Accepted are the participant ids of the present customers who
	// accepted.
	Accepted []string `json:"accepted,omitempty"`
	// Asked: the receiver is a customer who must answer the current
	// request (show the consent dialog).
	Asked bool `json:"asked,omitempty"`
	// Consented: the receiver is a customer who accepted the current
	// request (offer to withdraw).
	Consented bool `json:"consented,omitempty"`
	// Since is when the phase began.
	Since time.Time `json:"since"`
}

// ICEServer is an ICE server as in RTCIceServer.
type ICEServer struct {
	// URLs are stun:, turn: or turns: URLs.
	URLs []string `json:"urls"`
	// Username is the TURN user name ("<expiry>:<peer id>").
	Username string `json:"username,omitempty"`
	// Credential is the TURN password for Username.
	Credential string `json:"credential,omitempty"`
}

// Candidate is an ICE candidate as in RTCIceCandidateInit.
type Candidate struct {
	// Candidate is the a=candidate line's value; empty ends gathering.
	Candidate string `json:"candidate"`
	// SDPMid is the media section's mid.
	SDPMid *string `json:"sdpMid,omitempty"`
	// SDPMLineIndex is the media section's index.
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"`
	// UsernameFragment is the ICE ufrag the candidate belongs to.
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// MediaState is what a peer publishes. ScreenStream is the msid stream id
// of the peer's screen-share track in its offers (empty when not sharing);
// the client sends it before the offer that adds the track.
type MediaState struct {
	// Audio is true while the microphone is on (not muted).
	Audio bool `json:"audio"`
	// Video is true while the camera is on.
	Video bool `json:"video"`
	// ScreenStream is the msid stream id of the screen share.
	ScreenStream string `json:"screen_stream,omitempty"`
}

// Peer is one roster entry.
type Peer struct {
	// PeerID is the connection's id; forwarded tracks carry it as stream id.
	PeerID string `json:"peer_id"`
	// ParticipantID is a customer's participant id (what the advisor
	// admits or removes); empty for the advisor.
	ParticipantID string `json:"participant_id,omitempty"`
	// Name is the participant's display name.
	Name string `json:"name"`
	// Role is RoleAdvisor or RoleCustomer.
	Role string `json:"role"`
	// Audio, Video and Screen mirror the peer's MediaState.
	Audio  bool `json:"audio"`
	Video  bool `json:"video"`  // camera on
	Screen bool `json:"screen"` // sharing the screen
}

// Entry is one item of a meeting's timeline: a chat message or a file.
// Seq numbers the meeting's timeline from 1 without gaps.
type Entry struct {
	ID       string    `json:"id"`                  // the entry's (and file's) id
	Seq      uint64    `json:"seq"`                 // position in the meeting's timeline
	From     string    `json:"from"`                // participant id, or the advisor's user id
	Name     string    `json:"name"`                // the author's display name
	Role     string    `json:"role"`                // the author's role
	Sent     time.Time `json:"sent"`                // when the relay stored it
	Text     string    `json:"text,omitempty"`      // a chat message's text
	Nonce    string    `json:"nonce,omitempty"`     // the author's nonce, only to the author
	FileName string    `json:"file_name,omitempty"` // a file's (sanitised) name
	FileSize int64     `json:"file_size,omitempty"` // a file's size in bytes
	FileType string    `json:"file_type,omitempty"` // a file's sniffed media type
}

// Waiting is one customer in the waiting room.
type Waiting struct {
	ID     string    `json:"id"`     // participant id, to admit or turn away
	Name   string    `json:"name"`   // the name the customer gave
	Joined time.Time `json:"joined"` // when the customer arrived
}

// ErrInvalid is wrapped by every error Decode returns.
var ErrInvalid = errors.New("invalid signalling message")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// Decode parses and checks one message sent by a client. It rejects
// unknown types and fields, oversized values and text that is not UTF-8.
func Decode(b []byte) (Message, error) {
	var m Message
	if len(b) > MaxMessageBytes {
		return m, invalid("message larger than %d bytes", MaxMessageBytes)
	}
	if !utf8.Valid(b) {
		return m, invalid("message is not UTF-8")
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, invalid("%v", err)
	}
	if dec.More() {
		return Message{}, invalid("trailing data after the message")
	}
	if err := m.checkClient(); err != nil {
		return Message{}, err
	}
	return m, nil
}

func (m *Message) checkClient() error {
	switch m.Type {
	case TypeHello:
		if len(m.Token) > 256 || len(m.MeetingID) > 64 || len(m.BoardEpoch) > MaxNonce {
			return invalid("hello: token, meeting id or board epoch too long")
		}
	case TypeOffer, TypeAnswer:
		if m.SDP == "" {
			return invalid("%s: sdp missing", m.Type)
		}
		if len(m.SDP) > MaxSDPBytes {
			return invalid("%s: sdp larger than %d bytes", m.Type, MaxSDPBytes)
		}
	case TypeCandidate:
		if m.Candidate != nil && len(m.Candidate.Candidate) > MaxCandidate {
			return invalid("candidate longer than %d bytes", MaxCandidate)
		}
		if m.Candidate != nil && m.Candidate.SDPMid != nil && len(*m.Candidate.SDPMid) > 32 {
			return invalid("candidate sdpMid too long")
		}
	case TypeMedia:
		if m.Media == nil {
			return invalid("media: state missing")
		}
		if len(m.Media.ScreenStream) > MaxStreamID {
			return invalid("media: screen_stream longer than %d bytes", MaxStreamID)
		}
	case TypeChat:
		text := strings.TrimSpace(m.Text)
		if text == "" {
			return invalid("chat: text missing")
		}
		if utf8.RuneCountInString(m.Text) > MaxChatRunes {
			return invalid("chat: text longer than %d characters", MaxChatRunes)
		}
		if len(m.Nonce) > MaxNonce {
			return invalid("chat: nonce longer than %d bytes", MaxNonce)
		}
		for _, r := range m.Text {
			if r < 0x20 && r != '\n' && r != '\t' {
				return invalid("chat: control characters in text")
			}
		}
	case TypeBoard:
		if len(m.Board) == 0 || m.Board[0] != '{' {
			return invalid("board: op missing or not an object")
		}
	case TypeRecord:
		switch m.Action {
		case RecordRequest, RecordStop, RecordAccept, RecordRefuse, RecordWithdraw:
		default:
			return invalid("record: unknown action %.20q", m.Action)
		}
	case TypePing, TypeLeave:
	case "":
		return invalid("type missing")
	default:
		return invalid("unknown type %q", m.Type)
	}
	return nil
}

// Encode renders a message as one line of JSON without the trailing
// newline.
func Encode(m Message) ([]byte, error) {
	return json.Marshal(m)
}
