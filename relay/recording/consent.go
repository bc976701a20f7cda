package recording

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"parley/relay/clock"
)

// Role is a participant's part in the consent process.
type Role string

// Roles.
const (
	// RoleAdvisor may request and stop a recording; the advisor's consent
	// is implied by the request.
	RoleAdvisor Role = "advisor"
	// RoleCustomer must accept before anything is recorded, and may
	// refuse or withdraw at any time.
	RoleCustomer Role = "customer"
)

// Phase is where a meeting's recording stands.
type Phase string

// Phases.
const (
	// PhaseOff: nothing is requested and nothing is recorded.
	PhaseOff Phase = "off"
	// PhasePending: the advisor asked; not every present customer has
	// accepted yet. Nothing is recorded.
	PhasePending Phase = "pending"
	// PhaseRecording: every present customer (at least one) has accepted;
	// media is written.
	PhaseRecording Phase = "recording"
	// PhasePaused: the recording had started, but a customer joined who
	// has not accepted yet (or no customer is present). Nothing is written
	// until every present customer has accepted.
	PhasePaused Phase = "paused"
)

// Answer is a customer's answer to the current request.
type Answer string

// Answers. Refusal is the default: a customer who has not answered counts
// as refusing.
const (
	// AnswerNone: asked, not answered (counts as refusing).
	AnswerNone Answer = "unanswered"
	// AnswerAccepted: the customer agreed.
	AnswerAccepted Answer = "accepted"
)

// Action names an entry of the consent record.
type Action string

// Actions recorded.
const (
	ActionJoin     Action = "join"     // a participant came in
	ActionLeave    Action = "leave"    // a participant left
	ActionRequest  Action = "request"  // the advisor asked to record
	ActionAccept   Action = "accept"   // a customer agreed
	ActionRefuse   Action = "refuse"   // a customer declined; the request ends
	ActionWithdraw Action = "withdraw" // a customer took consent back; the request ends
	ActionStop     Action = "stop"     // the advisor stopped; the request ends
	ActionStarted  Action = "started"  // recording began
	ActionPaused   Action = "paused"   // recording paused (a customer has not accepted)
	ActionResumed  Action = "resumed"  // recording resumed
	ActionEnded    Action = "ended"    // the request ended; recording, if any, stopped
)

// Errors of the consent state machine; check with errors.Is. A failed
// call changes nothing and records nothing.
var (
	// ErrUnknownParticipant: the participant is not present.
	ErrUnknownParticipant = errors.New("recording: participant not present")
	// ErrNotAllowed: the participant's role may not do this (a customer
	// requesting, an advisor accepting).
	ErrNotAllowed = errors.New("recording: not allowed for this role")
	// ErrNoRequest: there is no recording request to answer or stop.
	ErrNoRequest = errors.New("recording: no recording requested")
	// ErrAlreadyRequested: a request is already running.
	ErrAlreadyRequested = errors.New("recording: recording already requested")
	// ErrInvalidParticipant: an empty or over-long participant id, or an
	// unknown role.
	ErrInvalidParticipant = errors.New("recording: invalid participant")
	// ErrRecordFull: the consent record reached MaxConsentEntries.
	ErrRecordFull = errors.New("recording: consent record full")
)

// MaxConsentEntries bounds a meeting's consent record, so that a client
// cycling through join and leave cannot grow it without limit.
const MaxConsentEntries = 10000

// maxParticipantID bounds a participant id's length.
const maxParticipantID = 128

// Entry is one line of the consent record.
type Entry struct {
	// Seq numbers the entries from 1.
	Seq int `json:"seq"`
	// At is when it happened (the injected clock, UTC).
	At time.Time `json:"at"`
	// ParticipantID is who acted; empty for the resulting state changes
	// (started, paused, resumed, ended).
	ParticipantID string `json:"participant_id,omitempty"`
	// Role is the actor's role; empty for state changes.
	Role Role `json:"role,omitempty"`
	// Action is what happened.
	Action Action `json:"action"`
	// Request numbers the recording requests from 1; 0 before the first.
	Request int `json:"request"`
	// Phase is the phase after the entry.
	Phase Phase `json:"phase"`
}

// Record is a meeting's consent record: every consent-relevant event with
// who (participant id), what and when. It goes into the archive as
// consent.json.
type Record struct {
	// MeetingID is the meeting.
	MeetingID string `json:"meeting_id"`
	// Entries are in order.
	Entries []Entry `json:"entries"`
}

// Indicator is the recording state to broadcast to every participant: the
// visible recording indicator and whom to show the consent dialog.
type Indicator struct {
	// MeetingID is the meeting.
	MeetingID string `json:"meeting_id"`
	// Seq increases with every change, so that clients can drop stale
	// broadcasts.
	Seq int `json:"seq"`
	// Phase is off, pending, recording or paused.
	Phase Phase `json:"phase"`
	// Recording is true exactly while media is written (PhaseRecording):
	// the indicator every participant sees.
	Recording bool `json:"recording"`
	// Request numbers the current (or last) request from 1; each request
	// writes its own media files.
	Request int `json:"request"`
	// RequestedBy is the advisor's participant id while a request runs.
	RequestedBy string `json:"requested_by,omitempty"`
	// Awaiting lists the present customers who have not accepted: each of
	// them sees the consent dialog. Sorted.
	Awaiting []string `json:"awaiting,omitempty"`
	// Accepted lists the present customers who accepted. Sorted.
	Accepted []string `json:"accepted,omitempty"`
	// Since is when the phase began.
	Since time.Time `json:"since"`
}

type member struct {
	role   Role
	answer Answer
}

// Consent is the consent state machine of one meeting. It does no I/O;
// its clock is injected. It is safe for concurrent use.
//
// Rules: only a present advisor requests or stops; a request asks every
// present customer, and every customer who joins while it runs. Recording
// runs only while at least one customer is present and every present
// customer has accepted. A customer who joins during a recording pauses
// it until they accept (they are asked, and the recording resumes at
// once when they do): the alternative, recording on while a newcomer is
// still reading the dialog, would record them without consent. A
// customer's refusal or withdrawal ends the request (the advisor may ask
// again, which asks everyone anew). Customers who leave no longer block;
// one who comes back is asked again.
type Consent struct {
	mu        sync.Mutex
	clock     clock.Clock
	meetingID string
	members   map[string]*member
	phase     Phase
	since     time.Time
	request   int
	by        string
	started   bool // the current request has recorded
	seq       int
	entries   []Entry
}

// NewConsent returns the state machine of a meeting, in PhaseOff with
// nobody present. A nil clock means the real clock.
func NewConsent(meetingID string, clk clock.Clock) *Consent {
	c := &Consent{clock: clock.Or(clk), meetingID: meetingID, members: make(map[string]*member), phase: PhaseOff}
	c.since = c.now()
	return c
}

func (c *Consent) now() time.Time { return c.clock.Now().UTC() }

func (c *Consent) log(id string, role Role, a Action) {
	c.entries = append(c.entries, Entry{
		Seq: len(c.entries) + 1, At: c.now(), ParticipantID: id, Role: role,
		Action: a, Request: c.request, Phase: c.phase,
	})
}

func (c *Consent) full(extra int) error {
	if len(c.entries)+extra > MaxConsentEntries {
		return ErrRecordFull
	}
	return nil
}

func (c *Consent) setPhase(p Phase) {
	if p != c.phase {
		c.phase, c.since = p, c.now()
	}
}

// evaluate moves between pending, recording and paused after a change,
// recording what resulted.
func (c *Consent) evaluate() {
	if c.phase == PhaseOff {
		return
	}
	customers, accepted := 0, 0
	for _, m := range c.members {
		if m.role == RoleCustomer {
			customers++
			if m.answer == AnswerAccepted {
				accepted++
			}
		}
	}
	ok := customers > 0 && accepted == customers
	switch {
	case ok && c.phase != PhaseRecording:
		resumed := c.started
		c.setPhase(PhaseRecording)
		c.started = true
		if resumed {
			c.log("", "", ActionResumed)
		} else {
			c.log("", "", ActionStarted)
		}
	case !ok && c.phase == PhaseRecording:
		c.setPhase(PhasePaused)
		c.log("", "", ActionPaused)
	}
}

func (c *Consent) end() {
	c.setPhase(PhaseOff)
	c.by = ""
	c.started = false
	for _, m := range c.members {
		m.answer = AnswerNone
	}
	c.log("", "", ActionEnded)
}

func (c *Consent) indicator() Indicator {
	in := Indicator{
		MeetingID: c.meetingID, Seq: c.seq, Phase: c.phase, Recording: c.phase == PhaseRecording,
		Request: c.request, RequestedBy: c.by, Since: c.since,
	}
	if c.phase != PhaseOff {
		for id, m := range c.members {
			if m.role != RoleCustomer {
				continue
			}
			if m.answer == AnswerAccepted {
				in.Accepted = append(in.Accepted, id)
			} else {
				in.Awaiting = append(in.Awaiting, id)
			}
		}
		slices.Sort(in.Accepted)
		slices.Sort(in.Awaiting)
	}
	return in
}

// changed bumps the sequence and returns the indicator to broadcast.
func (c *Consent) changed() Indicator {
	c.seq++
	return c.indicator()
}

// Indicator returns the current state.
func (c *Consent) Indicator() Indicator {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.indicator()
}

// Record returns a copy of the consent record.
func (c *Consent) Record() Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Record{MeetingID: c.meetingID, Entries: slices.Clone(c.entries)}
}

// Join adds a present participant. A customer joining while a request
// runs is asked (and pauses a running recording until they accept).
// Joining again while present changes nothing.
func (c *Consent) Join(id string, role Role) (Indicator, error) {
	if id == "" || len(id) > maxParticipantID || (role != RoleAdvisor && role != RoleCustomer) {
		return Indicator{}, ErrInvalidParticipant
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.members[id]; ok {
		if m.role != role {
			return Indicator{}, fmt.Errorf("%w: present with another role", ErrInvalidParticipant)
		}
		return c.indicator(), nil
	}
	if err := c.full(2); err != nil {
		return Indicator{}, err
	}
	c.members[id] = &member{role: role, answer: AnswerNone}
	c.log(id, role, ActionJoin)
	c.evaluate()
	return c.changed(), nil
}

// Leave removes a participant; a customer who leaves no longer blocks the
// recording. Leaving when not present changes nothing.
func (c *Consent) Leave(id string) (Indicator, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.members[id]
	if !ok {
		return c.indicator(), nil
	}
	if err := c.full(2); err != nil {
		return Indicator{}, err
	}
	delete(c.members, id)
	c.log(id, m.role, ActionLeave)
	c.evaluate()
	return c.changed(), nil
}

func (c *Consent) member(id string, role Role) (*member, error) {
	m, ok := c.members[id]
	if !ok {
		return nil, ErrUnknownParticipant
	}
	if m.role != role {
		return nil, ErrNotAllowed
	}
	return m, nil
}

// Request starts a recording request by a present advisor: every present
// customer is asked. Recording starts once all of them have accepted.
func (c *Consent) Request(by string) (Indicator, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.member(by, RoleAdvisor); err != nil {
		return Indicator{}, err
	}
	if c.phase != PhaseOff {
		return Indicator{}, ErrAlreadyRequested
	}
	if err := c.full(2); err != nil {
		return Indicator{}, err
	}
	c.request++
	c.by = by
	for _, m := range c.members {
		m.answer = AnswerNone
	}
	c.setPhase(PhasePending)
	c.log(by, RoleAdvisor, ActionRequest)
	c.evaluate()
	return c.changed(), nil
}

// Accept records a present customer's consent to the running request.
// Accepting twice changes nothing.
func (c *Consent) Accept(by string) (Indicator, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.member(by, RoleCustomer)
	if err != nil {
		return Indicator{}, err
	}
	if c.phase == PhaseOff {
		return Indicator{}, ErrNoRequest
	}
	if m.answer == AnswerAccepted {
		return c.indicator(), nil
	}
	if err := c.full(2); err != nil {
		return Indicator{}, err
	}
	m.answer = AnswerAccepted
	c.log(by, RoleCustomer, ActionAccept)
	c.evaluate()
	return c.changed(), nil
}

// Refuse records a present customer's refusal: the request ends and
// nothing more is recorded.
func (c *Consent) Refuse(by string) (Indicator, error) {
	return c.decline(by, ActionRefuse)
}

// Withdraw records a present customer taking consent back: the request
// ends and the recording stops.
func (c *Consent) Withdraw(by string) (Indicator, error) {
	return c.decline(by, ActionWithdraw)
}

func (c *Consent) decline(by string, a Action) (Indicator, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.member(by, RoleCustomer); err != nil {
		return Indicator{}, err
	}
	if c.phase == PhaseOff {
		return Indicator{}, ErrNoRequest
	}
	if err := c.full(2); err != nil {
		return Indicator{}, err
	}
	c.log(by, RoleCustomer, a)
	c.end()
	return c.changed(), nil
}

// Stop ends the running request at a present advisor's wish.
func (c *Consent) Stop(by string) (Indicator, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.member(by, RoleAdvisor); err != nil {
		return Indicator{}, err
	}
	if c.phase == PhaseOff {
		return Indicator{}, ErrNoRequest
	}
	if err := c.full(2); err != nil {
		return Indicator{}, err
	}
	c.log(by, RoleAdvisor, ActionStop)
	c.end()
	return c.changed(), nil
}
