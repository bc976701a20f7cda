package app

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// kioskRelay is the fake relay with kiosk calls waiting.
type kioskRelay struct {
	*fakeRelay
	kmu      sync.Mutex
	waiting  []KioskCall
	accepted []string
	taken    bool
}

func (k *kioskRelay) KioskCalls(ctx context.Context) ([]KioskCall, error) {
	k.kmu.Lock()
	defer k.kmu.Unlock()
	return slices.Clone(k.waiting), nil
}

func (k *kioskRelay) AcceptKioskCall(ctx context.Context, id string) (MeetingInfo, error) {
	k.kmu.Lock()
	defer k.kmu.Unlock()
	if k.taken {
		return MeetingInfo{}, ErrKioskCallTaken
	}
	k.accepted = append(k.accepted, id)
	k.waiting = nil
	return MeetingInfo{ID: "mk1", Title: "Kiosk Desk 2", Created: time.Now()}, nil
}

func (k *kioskRelay) set(calls ...KioskCall) {
	k.kmu.Lock()
	defer k.kmu.Unlock()
	k.waiting = calls
}

func TestKioskCallAcceptJoinsTheMeeting(t *testing.T) {
	old := kioskCallEvery
	kioskCallEvery = 10 * time.Millisecond
	t.Cleanup(func() { kioskCallEvery = old })
	f := &kioskRelay{fakeRelay: &fakeRelay{}}
	starter := &fakeStarter{call: newFakeCall()}
	h := newHarness(t, f.fakeRelay, Options{DefaultAddr: testAddr, Calls: starter})
	h.ui.relay = f
	h.signIn("acme", "erika", "pw")
	h.waitWorkspace()

	// A call that goes away before anyone accepts closes its dialog.
	f.set(KioskCall{ID: "kc0", KioskName: "Desk 1"})
	h.eventually("the first dialog", func() bool { return h.shows("Kiosk Desk 1 asks for an advisor") })
	f.set()
	h.eventually("the dialog closed", func() bool { return !h.shows("Kiosk Desk 1 asks for an advisor") })

	f.set(KioskCall{ID: "kc1", KioskName: "Desk 2"})
	h.eventually("the dialog", func() bool { return h.shows("Kiosk Desk 2 asks for an advisor") })
	h.tapInDialog("Accept")
	h.eventually("the call view", func() bool { return h.ui.sess.work.meet.call != nil })
	starter.mu.Lock()
	joins := slices.Clone(starter.joins)
	starter.mu.Unlock()
	if !slices.Equal(joins, []string{"mk1"}) || !slices.Equal(f.accepted, []string{"kc1"}) {
		t.Fatalf("joins %q, accepted %q", joins, f.accepted)
	}
	// The same call is not announced twice.
	f.set(KioskCall{ID: "kc1", KioskName: "Desk 2"})
	h.settle()
	if n := len(h.ui.Window().Canvas().Overlays().List()); n != 0 {
		t.Errorf("%d dialogs after the call was accepted", n)
	}
}

func TestKioskCallTakenBySomeoneElse(t *testing.T) {
	old := kioskCallEvery
	kioskCallEvery = 10 * time.Millisecond
	t.Cleanup(func() { kioskCallEvery = old })
	f := &kioskRelay{fakeRelay: &fakeRelay{}, taken: true}
	h := newHarness(t, f.fakeRelay, Options{DefaultAddr: testAddr, Calls: &fakeStarter{}})
	h.ui.relay = f
	h.signIn("acme", "erika", "pw")
	h.waitWorkspace()
	f.set(KioskCall{ID: "kc1", KioskName: "Desk 2"})
	h.eventually("the dialog", func() bool { return h.shows("Kiosk Desk 2 asks for an advisor") })
	h.tapInDialog("Accept")
	h.eventually("the note", func() bool { return h.shows("Another advisor has already taken") })
	if h.ui.sess.work.meet.call != nil {
		t.Fatal("joined a call someone else took")
	}
}
