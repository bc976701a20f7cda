package signal_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/recording"
	"parley/relay/signal"
	"parley/relay/signal/msg"
	"parley/relay/store"
)

// memRecordings opens recorders on a recording.Store in a temporary
// folder, one per meeting, as the relay does.
type memRecordings struct {
	store *recording.Store
	mu    sync.Mutex
	recs  map[string]*recording.Recorder
	opens int
}

func (m *memRecordings) Recorder(ctx context.Context, meetingID string, create bool) (*recording.Recorder, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.recs[meetingID]; r != nil || !create {
		return r, nil
	}
	r, err := m.store.NewRecorder(ctx, "t1", meetingID, recording.RecorderOptions{})
	if err != nil {
		return nil, err
	}
	m.recs[meetingID] = r
	m.opens++
	return r, nil
}

func newRecordingEnv(t *testing.T) (*env, *memRecordings) {
	t.Helper()
	st, err := recording.NewStore(recording.Options{Dir: filepath.Join(t.TempDir(), "recordings"), Key: bytes.Repeat([]byte{3}, 32), KV: &store.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	recs := &memRecordings{store: st, recs: map[string]*recording.Recorder{}}
	e := newEnv(t, func(o *signal.Options) { o.Recordings = recs })
	t.Cleanup(func() {
		for _, r := range recs.recs {
			_ = r.Close()
		}
	})
	return e, recs
}

// recState returns the next recording state p receives.
func (p *peer) recState() *msg.RecordingState {
	p.t.Helper()
	m := p.next(msg.TypeRecording)
	if m.Recording == nil {
		p.t.Fatal("recording message without state")
	}
	return m.Recording
}

// recUntil returns the first recording state p receives that has the
// phase (states are broadcast after every join and change).
func (p *peer) recUntil(phase string) *msg.RecordingState {
	p.t.Helper()
	for {
		if st := p.recState(); st.Phase == phase {
			return st
		}
	}
}

// recError returns the code of the next error p receives.
func (p *peer) recError() string {
	p.t.Helper()
	return p.next(msg.TypeError).Code
}

func (e *env) advisorPeer() *peer {
	e.t.Helper()
	p := e.connect(&auth.Session{TenantID: "t1", UserID: "u1"})
	p.send(msg.Message{Type: msg.TypeHello, MeetingID: e.m.ID})
	p.next(msg.TypeWelcome)
	return p
}

func (e *env) customerPeer(name string) (*peer, string) {
	e.t.Helper()
	j := e.customer(name, true)
	p := e.connect(nil)
	p.send(msg.Message{Type: msg.TypeHello, Token: j.Secret})
	p.next(msg.TypeWelcome)
	return p, j.ParticipantID
}

func TestRecordingConsentFlow(t *testing.T) {
	e, recs := newRecordingEnv(t)
	adv := e.advisorPeer()
	c1, id1 := e.customerPeer("Max")
	c1.next(msg.TypeRoster)

	// Nothing is asked before the advisor requests; customers cannot
	// request, the advisor cannot accept.
	c1.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordAccept})
	if code := c1.recError(); code != "record_no_request" {
		t.Fatalf("accept without a request: %q", code)
	}
	c1.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordRequest})
	if code := c1.recError(); code != "record_forbidden" {
		t.Fatalf("customer requesting: %q", code)
	}
	if recs.opens != 0 {
		t.Fatal("a recorder was opened before the advisor asked")
	}

	adv.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordRequest})
	st := c1.recUntil(msg.RecordingPending)
	if !st.Asked || st.Consented || st.Recording || !slices.Equal(st.Awaiting, []string{id1}) || st.Request != 1 {
		t.Fatalf("customer's state after the request: %+v", st)
	}
	if st := adv.recUntil(msg.RecordingPending); st.Asked || st.Recording {
		t.Fatalf("advisor's state after the request: %+v", st)
	}
	adv.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordAccept})
	if code := adv.recError(); code != "record_forbidden" {
		t.Fatalf("advisor accepting: %q", code)
	}
	adv.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordRequest})
	if code := adv.recError(); code != "record_already_requested" {
		t.Fatalf("second request: %q", code)
	}

	// The customer accepts: everyone sees the indicator.
	c1.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordAccept})
	st = c1.recUntil(msg.RecordingOn)
	if !st.Recording || st.Asked || !st.Consented || !slices.Equal(st.Accepted, []string{id1}) {
		t.Fatalf("customer's state after accepting: %+v", st)
	}
	if st := adv.recUntil(msg.RecordingOn); !st.Recording {
		t.Fatalf("advisor's indicator: %+v", st)
	}

	// A late joiner pauses the recording and is asked; the others see
	// the pause.
	c2, id2 := e.customerPeer("Erika")
	st = c2.recUntil(msg.RecordingPaused)
	if !st.Asked || st.Recording || !slices.Equal(st.Awaiting, []string{id2}) {
		t.Fatalf("late joiner's state: %+v", st)
	}
	if st := c1.recUntil(msg.RecordingPaused); st.Asked || !st.Consented || st.Recording {
		t.Fatalf("first customer's state while paused: %+v", st)
	}
	if st := adv.recUntil(msg.RecordingPaused); st.Recording {
		t.Fatalf("advisor's indicator while paused: %+v", st)
	}
	c2.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordAccept})
	if st := adv.recUntil(msg.RecordingOn); len(st.Accepted) != 2 {
		t.Fatalf("after the late joiner accepted: %+v", st)
	}

	// Either customer withdrawing stops it for everyone.
	c2.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordWithdraw})
	for _, p := range []*peer{adv, c1, c2} {
		if st := p.recUntil(msg.RecordingOff); st.Recording || st.Asked || st.Consented {
			t.Fatalf("after withdrawal: %+v", st)
		}
	}

	// A new request asks everyone anew; a refusal ends it, the advisor
	// may stop one.
	adv.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordRequest})
	if st := c1.recUntil(msg.RecordingPending); !st.Asked || st.Request != 2 {
		t.Fatalf("second request, first customer: %+v", st)
	}
	c1.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordRefuse})
	c1.recUntil(msg.RecordingOff)
	adv.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordRequest})
	for st := adv.recUntil(msg.RecordingPending); st.Request != 3; st = adv.recUntil(msg.RecordingPending) {
	}
	adv.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordStop})
	adv.recUntil(msg.RecordingOff)

	// The consent record names who did what.
	var actions []recording.Action
	for _, en := range recs.recs[e.m.ID].ConsentRecord().Entries {
		actions = append(actions, en.Action)
	}
	for _, want := range []recording.Action{recording.ActionRequest, recording.ActionAccept, recording.ActionStarted, recording.ActionPaused,
		recording.ActionResumed, recording.ActionWithdraw, recording.ActionRefuse, recording.ActionStop} {
		if !slices.Contains(actions, want) {
			t.Errorf("consent record lacks %q: %v", want, actions)
		}
	}
	if recs.opens != 1 {
		t.Fatalf("%d recorders opened for one meeting", recs.opens)
	}
}

// A customer who leaves no longer blocks the recording; the recorder
// outlives the room and the next connection finds it.
func TestRecordingLeaveAndReopen(t *testing.T) {
	e, recs := newRecordingEnv(t)
	adv := e.advisorPeer()
	c1, _ := e.customerPeer("Max")
	adv.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordRequest})
	c1.recUntil(msg.RecordingPending)
	c1.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordAccept})
	adv.recUntil(msg.RecordingOn)

	c2, _ := e.customerPeer("Erika")
	adv.recUntil(msg.RecordingPaused)
	c2.send(msg.Message{Type: msg.TypeLeave})
	if st := adv.recUntil(msg.RecordingOn); len(st.Awaiting) != 0 {
		t.Fatalf("after the unanswered customer left: %+v", st)
	}

	// Everyone leaves: the recording pauses (no customer), the room
	// closes; on return the state continues.
	c1.send(msg.Message{Type: msg.TypeLeave})
	adv.recUntil(msg.RecordingPaused)
	_ = adv.conn.Close()
	<-adv.done
	deadline := time.Now().Add(10 * time.Second)
	for e.hub.Rooms() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the room did not close")
		}
		time.Sleep(10 * time.Millisecond)
	}
	adv2 := e.advisorPeer()
	st := adv2.recUntil(msg.RecordingPaused)
	if st.Request != 1 || st.Recording {
		t.Fatalf("state after the room reopened: %+v", st)
	}
	adv2.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordStop})
	adv2.recUntil(msg.RecordingOff)
	if recs.opens != 1 {
		t.Fatalf("%d recorders opened", recs.opens)
	}
}

// Without Recordings the hub refuses record messages.
func TestRecordingUnavailable(t *testing.T) {
	e := newEnv(t)
	adv := e.advisorPeer()
	adv.send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordRequest})
	if code := adv.recError(); code != "record_unavailable" {
		t.Fatalf("code %q", code)
	}
}
