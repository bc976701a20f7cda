package meeting

import "sync"

// EventKind names a change to a meeting.
type EventKind string

// The event kinds.
const (
	// EventJoined: a customer entered the waiting room.
	EventJoined EventKind = "joined"
	// EventAdmitted: the advisor admitted a waiting customer.
	EventAdmitted EventKind = "admitted"
	// EventRejected: the advisor turned a waiting customer away.
	EventRejected EventKind = "rejected"
	// EventRemoved: the advisor removed an admitted customer.
	EventRemoved EventKind = "removed"
	// EventLeft: a customer left the waiting room or the meeting.
	EventLeft EventKind = "left"
	// EventStarted: the meeting started (status open).
	EventStarted EventKind = "started"
	// EventLinkRotated: the join link was replaced; the old one is dead.
	EventLinkRotated EventKind = "link_rotated"
	// EventEnded: the meeting ended; everyone is out.
	EventEnded EventKind = "ended"
)

// Event is a committed change to a meeting. It carries ids only, never
// personal data; read the details from the Service.
type Event struct {
	// Kind is what happened.
	Kind EventKind
	// MeetingID is the meeting it happened to.
	MeetingID string
	// ParticipantID is the participant concerned; empty for meeting-wide
	// events.
	ParticipantID string
	// Lagged is set on the first event a subscriber receives after events
	// were dropped because its channel was full: it should re-read the
	// meeting's state (Waiting, Participants, Get) instead of relying on
	// the events it saw.
	Lagged bool
}

// notifier fans committed events out to in-memory subscribers.
type notifier struct {
	buffer int
	mu     sync.Mutex
	subs   map[string]map[*subscriber]struct{}
}

type subscriber struct {
	ch      chan Event
	lagging bool
}

// Subscribe returns a channel of the events of one meeting, delivered after
// each change is committed to the store, and a cancel function that ends
// the subscription and closes the channel (call it exactly when done; it is
// safe to call more than once).
//
// Delivery never blocks the Service: when the subscriber's channel (of
// Options.EventBuffer events) is full, the event is dropped and the
// subscriber is marked lagging; the next event it does receive has Lagged
// set. A subscription does not end by itself when the meeting ends.
func (s *Service) Subscribe(meetingID string) (<-chan Event, func()) {
	n := &s.notes
	sub := &subscriber{ch: make(chan Event, n.buffer)}
	n.mu.Lock()
	if n.subs == nil {
		n.subs = map[string]map[*subscriber]struct{}{}
	}
	if n.subs[meetingID] == nil {
		n.subs[meetingID] = map[*subscriber]struct{}{}
	}
	n.subs[meetingID][sub] = struct{}{}
	n.mu.Unlock()
	var once sync.Once
	return sub.ch, func() {
		once.Do(func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			delete(n.subs[meetingID], sub)
			if len(n.subs[meetingID]) == 0 {
				delete(n.subs, meetingID)
			}
			close(sub.ch)
		})
	}
}

// publish delivers events without blocking.
func (n *notifier) publish(events []Event) {
	if len(events) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ev := range events {
		for sub := range n.subs[ev.MeetingID] {
			e := ev
			e.Lagged = sub.lagging
			select {
			case sub.ch <- e:
				sub.lagging = false
			default:
				sub.lagging = true
			}
		}
	}
}
