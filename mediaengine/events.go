package mediaengine

import (
	"sync"

	"parley/relay/signal/msg"
)

// Event is something the UI should know about a call. The concrete types
// are StateChanged, RosterChanged, ChatReceived, FileReceived,
// WaitingChanged, TrackAdded, TrackRemoved, RelayError, and the
// whiteboard's BoardStateReceived, BoardReceived and BoardRefused.
type Event interface{ isEvent() }

// State is the call's connection state.
type State int

// Connection states, in the order a call normally goes through them.
const (
	// StateConnecting: dialling the relay for the first time.
	StateConnecting State = iota
	// StateJoined: the relay welcomed the client; media is being set up.
	StateJoined
	// StateMediaConnected: the WebRTC connection to the relay is up.
	StateMediaConnected
	// StateReconnecting: signalling or media was lost; the call dials
	// again with back-off.
	StateReconnecting
	// StateEnded: the call is over (Ended, a fatal relay error, Close or
	// the context's end). No event follows.
	StateEnded
)

var stateNames = [...]string{"connecting", "joined", "media-connected", "reconnecting", "ended"}

// String names the state for logs.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// StateChanged reports a new connection state.
type StateChanged struct {
	// State is the new state.
	State State
	// PeerID is this client's peer id in the room (from StateJoined on).
	PeerID string
	// Role is the participant's role as the relay sees it.
	Role string
	// Reason is the relay's Ended reason (msg.Ended*) or fatal error
	// code when State is StateEnded because of the relay.
	Reason string
	// Err is what caused a reconnect or the end, if anything.
	Err error
}

// RosterChanged carries everyone connected to the meeting, this client
// included.
type RosterChanged struct {
	// Peers as the relay listed them.
	Peers []msg.Peer
}

// ChatReceived is a chat message of the meeting's timeline, delivered once
// per entry id (replays after a reconnect are filtered out). Own is true
// for messages this client sent.
type ChatReceived struct {
	// Entry is the timeline entry.
	Entry msg.Entry
	// Own marks the echo of a message this client sent.
	Own bool
}

// FileReceived announces a file shared in the meeting.
type FileReceived struct {
	// Entry is the timeline entry naming the file.
	Entry msg.Entry
}

// WaitingChanged carries the waiting room (advisors only).
type WaitingChanged struct {
	// Waiting lists the customers in the waiting room.
	Waiting []msg.Waiting
}

// TrackAdded reports a remote participant's track; its frames or audio
// level are read from the track.
type TrackAdded struct {
	// Track is the new track.
	Track *RemoteTrack
}

// TrackRemoved reports that a remote track ended.
type TrackRemoved struct {
	// Track is the track that ended.
	Track *RemoteTrack
}

// RelayError reports an error: one the relay sent (Code is its msg error
// code), or a relay message the client could not apply (Code is
// "client"). The call continues unless a StateEnded follows.
type RelayError struct {
	// Code is the relay's error code, or "client".
	Code string
	// Message is the relay's sentence, or what the client refused.
	Message string
	// Err is the client's error for Code "client".
	Err error
}

func (StateChanged) isEvent()   {}
func (RosterChanged) isEvent()  {}
func (ChatReceived) isEvent()   {}
func (FileReceived) isEvent()   {}
func (WaitingChanged) isEvent() {}
func (TrackAdded) isEvent()     {}
func (TrackRemoved) isEvent()   {}
func (RelayError) isEvent()     {}

// eventQueue delivers events in order without ever blocking the sender:
// the queue grows while the consumer is slow.
type eventQueue struct {
	mu     sync.Mutex
	q      []Event
	closed bool
	wake   chan struct{}
	out    chan Event
}

func newEventQueue() *eventQueue {
	e := &eventQueue{wake: make(chan struct{}, 1), out: make(chan Event)}
	go e.pump()
	return e
}

func (e *eventQueue) push(ev Event) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.q = append(e.q, ev)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// close delivers what is queued, then closes the channel.
func (e *eventQueue) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventQueue) pump() {
	defer close(e.out)
	for {
		e.mu.Lock()
		q, closed := e.q, e.closed
		e.q = nil
		e.mu.Unlock()
		for _, ev := range q {
			e.out <- ev
		}
		if closed && len(q) == 0 {
			return
		}
		if len(q) == 0 {
			<-e.wake
		}
	}
}
