package app

import (
	"context"
	"image"
	"io"
	"time"
)

// CallStarter joins meetings' calls: signalling, media capture and the
// peer connection to the relay's SFU. The program's main package builds it
// from the media engine; the UI only sees this interface and [Call].
type CallStarter interface {
	// JoinCall connects the signed-in advisor to the call of the meeting.
	// ctx bounds the setup only: the call lasts until Leave, or until the
	// relay ends it. JoinCall may return before the media flow; the
	// connection's progress arrives as [ConnectionEvent]s.
	JoinCall(ctx context.Context, meetingID string) (Call, error)
}

// Call is one advisor's presence in a meeting's call as the UI needs it.
// Every method may block for a while (devices start, the network answers):
// the UI calls them off its thread. Errors are shown to the advisor, so
// they should read as sentences a person can act on.
//
// Admitting, turning away and removing guests go through the [Relay]
// (AdmitGuest, TurnAwayGuest, RemoveGuest), ending the meeting through
// Relay.EndMeeting; the call then reports an [EndedEvent].
type Call interface {
	// Events delivers what happens in the call, in order. The UI reads it
	// until it is closed; the call closes it after it ended (Leave, or the
	// relay ended it, reported first as an EndedEvent). Entries may be
	// delivered again (after a reconnect); the UI shows each ID once.
	Events() <-chan CallEvent
	// SetMuted mutes (true) or unmutes the advisor's microphone.
	SetMuted(muted bool) error
	// SetCamera turns the advisor's camera on or off.
	SetCamera(on bool) error
	// SetScreenShare starts or stops sharing the advisor's screen.
	SetScreenShare(on bool) error
	// SendChat posts a chat message to everyone in the meeting. The
	// message appears in the chat when the relay echoes it as an
	// [EntryEvent].
	SendChat(ctx context.Context, text string) error
	// SendFile uploads a file for everyone in the meeting, reading it from
	// r, and calls progress (from any goroutine) as bytes go out, with
	// total < 0 while the size is unknown. The file appears in the chat
	// when the relay announces it as an [EntryEvent].
	SendFile(ctx context.Context, name string, r io.Reader, progress func(sent, total int64)) error
	// SaveFile downloads the file of the chat entry entryID into w,
	// calling progress (from any goroutine) as bytes arrive, with total < 0
	// while the size is unknown.
	SaveFile(ctx context.Context, entryID string, w io.Writer, progress func(got, total int64)) error
	// LocalVideo is the advisor's own picture (camera, or the shared
	// screen while sharing) for the preview; nil when there is none.
	LocalVideo() VideoSource
	// Leave leaves the call (the meeting goes on). It may be called more
	// than once and after the call ended.
	Leave() error
}

// VideoSource hands out the latest decoded frame of a video track. The
// UI polls it about 30 times a second and redraws only when the frame
// number changed.
type VideoSource interface {
	// Latest returns the newest frame and its number, which changes with
	// every new frame; nil and 0 before the first frame. The image must not
	// be modified after it was returned: the UI draws it later.
	Latest() (image.Image, uint64)
}

// CallEvent is one thing that happened in a call: a [ConnectionEvent],
// [RosterEvent], [VideoAddedEvent], [VideoRemovedEvent], [EntryEvent],
// [WaitingEvent], [LocalMediaEvent], [RecordingEvent], [EndedEvent], or
// the whiteboard's [BoardStateEvent], [BoardOpEvent] and
// [BoardRefusedEvent].
type CallEvent interface{ callEvent() }

// ConnState is the state of the call's connection to the relay.
type ConnState int

// Connection states, as reported in [ConnectionEvent.State].
const (
	// CallConnecting: the call is being set up.
	CallConnecting ConnState = iota
	// CallConnected: signalling and media flow.
	CallConnected
	// CallReconnecting: the connection dropped and is being restored.
	CallReconnecting
	// CallFailed: the connection is lost for good; the advisor can only
	// leave (and join again).
	CallFailed
)

// ConnectionEvent reports a change of the connection's state.
type ConnectionEvent struct {
	// State is the new state.
	State ConnState
	// Detail optionally explains it, e.g. why the connection failed.
	Detail string
}

// CallParticipant is one entry of the call's roster.
type CallParticipant struct {
	// ID is the participant's peer id in the call; [VideoAddedEvent]
	// names it.
	ID string
	// GuestID is the id to pass to Relay.RemoveGuest; empty for the
	// advisor.
	GuestID string
	// Name is the name shown under the participant's tile.
	Name string
	// Role is "advisor" or "customer".
	Role string
	// Self marks the advisor's own entry.
	Self bool
	// Audio, Video and Screen report whether the participant's
	// microphone, camera and screen share are on.
	Audio, Video, Screen bool
}

// RosterEvent lists everyone connected to the call now, the advisor
// included.
type RosterEvent struct {
	// Participants are the connected participants.
	Participants []CallParticipant
}

// VideoAddedEvent reports a remote video track that can be shown.
type VideoAddedEvent struct {
	// ID identifies the track in the call (its stream id).
	ID string
	// ParticipantID is the peer id of the participant who sends it.
	ParticipantID string
	// Screen marks a screen share (shown larger than cameras).
	Screen bool
	// Source delivers the track's decoded frames.
	Source VideoSource
}

// VideoRemovedEvent reports that a remote video track ended.
type VideoRemovedEvent struct {
	// ID is the [VideoAddedEvent.ID] of the track.
	ID string
}

// CallEntry is one item of the meeting's chat: a message or a file.
type CallEntry struct {
	// ID identifies the entry; an entry delivered twice is shown once.
	ID string
	// Seq orders the meeting's entries.
	Seq uint64
	// Name is the sender's name.
	Name string
	// Role is the sender's role, "advisor" or "customer".
	Role string
	// Mine marks entries the advisor sent.
	Mine bool
	// Sent is when the relay received it.
	Sent time.Time
	// Text is a chat message's text; empty for files.
	Text string
	// FileName is a file's name; empty for chat messages.
	FileName string
	// FileSize is a file's size in bytes.
	FileSize int64
}

// EntryEvent delivers a chat message or file posted in the meeting.
type EntryEvent struct {
	// Entry is the message or file.
	Entry CallEntry
}

// WaitingEvent lists who is in the meeting's waiting room now.
type WaitingEvent struct {
	// Guests are the waiting customers, in the order they came.
	Guests []Guest
}

// LocalMediaEvent reports the advisor's own microphone, camera and screen
// share state when it changes other than through the Set methods (the call
// starts, a device is lost). Until the first one, the UI assumes the
// microphone and camera are on and the screen is not shared.
type LocalMediaEvent struct {
	// Muted, Camera and Screen are the current states.
	Muted, Camera, Screen bool
	// Note optionally explains a change, e.g. "No camera found.".
	Note string
}

// Reasons carried by [EndedEvent] (as in the signalling protocol).
const (
	CallEndedMeeting  = "meeting_ended" // the meeting was ended
	CallEndedRemoved  = "removed"       // the advisor was removed (by an admin)
	CallEndedLeft     = "left"          // the advisor left
	CallEndedReplaced = "replaced"      // the advisor joined the call elsewhere
)

// EndedEvent reports that the call ended; the event channel closes next.
type EndedEvent struct {
	// Reason is one of the CallEnded… reasons.
	Reason string
}

func (ConnectionEvent) callEvent()   {}
func (RosterEvent) callEvent()       {}
func (VideoAddedEvent) callEvent()   {}
func (VideoRemovedEvent) callEvent() {}
func (EntryEvent) callEvent()        {}
func (WaitingEvent) callEvent()      {}
func (LocalMediaEvent) callEvent()   {}
func (EndedEvent) callEvent()        {}
