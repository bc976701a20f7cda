package app

import (
	"errors"
	"slices"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// testRefresh is the waiting room's refresh interval in these tests.
const testRefresh = 20 * time.Millisecond

// meetingHarness signs an advisor in and returns the Meetings page with a
// short refresh interval.
func meetingHarness(t *testing.T, f *fakeRelay) (*harness, *meetingsPage) {
	t.Helper()
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	w := h.waitWorkspace()
	w.meet.every = testRefresh
	return h, w.meet
}

// startMeeting starts a meeting titled title and waits for its link.
func (h *harness) startMeeting(p *meetingsPage, title string) {
	h.t.Helper()
	test.Type(p.title, title)
	h.tap("Start instant meeting")
	h.eventually("the join link", func() bool { return p.current != nil && h.shows("https://relay.example/j/pmj_") })
}

// polling reports whether the refresh goroutine is still running.
func polling(p *meetingsPage) bool {
	if p.pollDone == nil {
		return false
	}
	select {
	case <-p.pollDone:
		return false
	default:
		return true
	}
}

func TestMeetingsEmptyState(t *testing.T) {
	h, p := meetingHarness(t, &fakeRelay{})
	if !h.shows("Meetings you start appear here") {
		t.Errorf("no empty state; texts: %q", h.texts())
	}
	if polling(p) {
		t.Error("refreshing without a meeting")
	}
}

func TestMeetingStartShowsAndCopiesLink(t *testing.T) {
	f := &fakeRelay{}
	h, p := meetingHarness(t, f)
	h.startMeeting(p, "Baufinanzierung")
	if !slices.Contains(f.Calls(), "StartMeeting Baufinanzierung") {
		t.Fatalf("calls %q", f.Calls())
	}
	if !h.shows("Baufinanzierung") || h.shows("Meetings you start appear here") {
		t.Errorf("texts: %q", h.texts())
	}

	h.tap("Copy link")
	if got := h.ui.app.Clipboard().Content(); got != "https://relay.example/j/pmj_m1_1" {
		t.Errorf("clipboard %q", got)
	}
	if !h.shows("Link copied") {
		t.Errorf("no confirmation of the copy; texts: %q", h.texts())
	}

	h.tap("New link")
	h.eventually("the new link", func() bool { return h.shows("https://relay.example/j/pmj_m1_2") })
	if h.shows("pmj_m1_1") || !h.shows("previous link no longer works") {
		t.Errorf("texts: %q", h.texts())
	}
	h.tap("Copy link")
	if got := h.ui.app.Clipboard().Content(); got != "https://relay.example/j/pmj_m1_2" {
		t.Errorf("clipboard after New link %q", got)
	}
}

func TestMeetingStartFails(t *testing.T) {
	f := &fakeRelay{meetingErr: errors.New("You are not allowed to do this.")}
	h, p := meetingHarness(t, f)
	h.tap("Start instant meeting")
	h.eventually("the error", func() bool { return h.shows("You are not allowed to do this.") })
	if p.current != nil || p.start.btn.Disabled() || polling(p) {
		t.Errorf("after a failed start: current %v, start disabled %v", p.current, p.start.btn.Disabled())
	}
}

func TestMeetingWaitingRoom(t *testing.T) {
	f := &fakeRelay{}
	h, p := meetingHarness(t, f)
	h.startMeeting(p, "")
	if !h.shows("Instant meeting") || !h.shows("No one is waiting") {
		t.Errorf("texts: %q", h.texts())
	}
	if !polling(p) {
		t.Fatal("the waiting room is not refreshed")
	}

	// Guests appear with the next refresh.
	f.addGuest("m1", Guest{ID: "p1", Name: "Max Kunde", Phone: "+49 30 1234567", Joined: time.Now()})
	f.addGuest("m1", Guest{ID: "p2", Name: "Ida Gast", Joined: time.Now()})
	h.eventually("the waiting guests", func() bool { return h.shows("Max Kunde") && h.shows("Ida Gast") })
	if !h.shows("+49 30 1234567 · waiting") || !h.shows("2 waiting, 0 in the meeting.") {
		t.Errorf("texts: %q", h.texts())
	}

	// Admit the first.
	h.tap("Admit")
	h.eventually("the admitted guest", func() bool { return h.shows("+49 30 1234567 · admitted") })
	if !slices.Contains(f.Calls(), "AdmitGuest m1 p1") || f.guestState("m1", "p1") != GuestAdmitted {
		t.Fatalf("calls %q", f.Calls())
	}
	// Turn the second away.
	h.tap("Turn away")
	h.eventually("the turned away guest", func() bool { return h.shows("turned away · since") })
	if !slices.Contains(f.Calls(), "TurnAwayGuest m1 p2") || h.button("Turn away") != nil {
		t.Fatalf("calls %q; texts %q", f.Calls(), h.texts())
	}
	// Remove the first.
	h.tap("Remove")
	h.eventually("the removed guest", func() bool { return h.shows("+49 30 1234567 · removed") })
	if !slices.Contains(f.Calls(), "RemoveGuest m1 p1") || h.button("Remove") != nil || h.button("Admit") != nil {
		t.Fatalf("calls %q; texts %q", f.Calls(), h.texts())
	}

	// A failing action says why and keeps the list.
	f.addGuest("m1", Guest{ID: "p3", Name: "Ole Spät"})
	h.eventually("the third guest", func() bool { return h.button("Admit") != nil })
	f.mu.Lock()
	f.guestErr = errors.New("The guest is no longer where they were.")
	f.mu.Unlock()
	h.tap("Admit")
	h.eventually("the error", func() bool { return h.shows("The guest is no longer where they were.") })
	if h.button("Admit") == nil || h.button("Admit").Disabled() {
		t.Error("the Admit button is gone or stays disabled after a failure")
	}
}

func TestMeetingEndAsksAndStopsRefreshing(t *testing.T) {
	f := &fakeRelay{}
	h, p := meetingHarness(t, f)
	h.startMeeting(p, "Rente")
	f.addGuest("m1", Guest{ID: "p1", Name: "Max Kunde"})
	h.eventually("the guest", func() bool { return h.shows("Max Kunde") })

	h.tap("End meeting")
	if f.called("EndMeeting") != 0 {
		t.Fatal("ended without confirmation")
	}
	if !h.shows("End Rente?") {
		t.Errorf("no confirmation; texts: %q", h.texts())
	}
	h.tapInDialog("End meeting")
	h.eventually("the ended meeting", func() bool { return h.shows("Rente has ended") })
	if !slices.Contains(f.Calls(), "EndMeeting m1") {
		t.Fatalf("calls %q", f.Calls())
	}
	h.eventually("the refresh to stop", func() bool { return !polling(p) })
	h.settle()
	n := f.called("Guests")
	time.Sleep(5 * testRefresh)
	h.settle()
	if got := f.called("Guests"); got != n {
		t.Errorf("the waiting room was read %d more times after the meeting ended", got-n)
	}
	if h.shows("Max Kunde") || h.button("Copy link") != nil || p.start.btn.Disabled() {
		t.Errorf("the ended meeting is still shown; texts: %q", h.texts())
	}
	if !h.shows("Ended · today") {
		t.Errorf("the ended meeting is not listed; texts: %q", h.texts())
	}

	// A new meeting can be started.
	h.startMeeting(p, "")
	if p.current.info.ID != "m2" || !polling(p) {
		t.Errorf("second meeting %+v, polling %v", p.current.info, polling(p))
	}
}

func TestMeetingRefreshOnlyWhileShown(t *testing.T) {
	f := &fakeRelay{}
	h, p := meetingHarness(t, f)
	h.startMeeting(p, "")
	w := h.ui.sess.work

	w.selectPage("Calendar")
	h.eventually("the refresh to stop when the page is left", func() bool { return !polling(p) })
	h.settle()
	n := f.called("Guests")
	time.Sleep(5 * testRefresh)
	h.settle()
	if got := f.called("Guests"); got != n {
		t.Errorf("the waiting room was read %d times while another page was shown", got-n)
	}

	w.selectPage("Meetings")
	if !polling(p) {
		t.Fatal("the refresh does not resume when the page is shown again")
	}
	h.eventually("a refresh", func() bool { return f.called("Guests") > n+1 })

	// Ending the session stops it too.
	h.ui.sess.cancel()
	h.eventually("the refresh to stop when the session ends", func() bool { return !polling(p) })
}

func TestMeetingsLoadedFromRelay(t *testing.T) {
	now := time.Now()
	f := &fakeRelay{list: []MeetingInfo{
		{ID: "m9", Title: "Rente", Status: MeetingOpen, Created: now.Add(-time.Hour), LinkExpiresAt: now.Add(20 * time.Hour)},
		{ID: "m8", Title: "Kredit", Status: MeetingOpen, Created: now.Add(-2 * time.Hour), LinkExpiresAt: now.Add(19 * time.Hour)},
		{ID: "m7", Title: "Depot", Status: MeetingEnded, Created: now.Add(-26 * time.Hour), Ended: now.Add(-25 * time.Hour)},
	}}
	h, p := meetingHarness(t, f)
	h.eventually("the newest open meeting", func() bool { return p.current != nil && p.current.info.ID == "m9" })
	if f.listCalls() == 0 {
		t.Fatal("the meetings were not read from the relay")
	}
	if h.shows("No meetings yet") || !h.shows("Kredit") || !h.shows("Depot") || !h.shows("Ended · ") {
		t.Errorf("texts: %q", h.texts())
	}
	// The link of a meeting started earlier is not known: only a new one
	// can be shared.
	if h.button("Copy link") != nil || h.button("New link") == nil || !h.shows("cannot show it again") {
		t.Errorf("an unknown link is offered for copying; texts: %q", h.texts())
	}
	h.tap("New link")
	h.eventually("the new link", func() bool { return h.shows("https://relay.example/j/pmj_m9_1") })
	h.tap("Copy link")
	if got := h.ui.app.Clipboard().Content(); got != "https://relay.example/j/pmj_m9_1" {
		t.Errorf("clipboard %q", got)
	}

	// The other open meeting can be shown; the ended one cannot.
	if n := countButtons(h, "Show"); n != 1 {
		t.Fatalf("%d Show buttons, want 1 (for Kredit)", n)
	}
	h.tap("Show")
	h.eventually("Kredit in detail", func() bool { return p.current.info.ID == "m8" && h.button("Copy link") == nil })
	h.eventually("Kredit's waiting room", func() bool { return slices.Contains(f.Calls(), "Guests m8") })

	// Rente's new link is still known when it is shown again.
	h.tap("Show")
	h.eventually("Rente again", func() bool { return p.current.info.ID == "m9" && h.button("Copy link") != nil })
}

func TestMeetingsStartSecondWhileOneIsOpen(t *testing.T) {
	f := &fakeRelay{}
	h, p := meetingHarness(t, f)
	h.startMeeting(p, "Erste")
	if p.start.btn.Disabled() {
		t.Fatal("Start is disabled while a meeting is open")
	}
	test.Type(p.title, "Zweite")
	h.tap("Start instant meeting")
	h.eventually("the second meeting", func() bool { return p.current.info.ID == "m2" && h.shows("pmj_m2_1") })
	if !h.shows("Erste") || h.button("Show") == nil {
		t.Errorf("the first meeting is not listed; texts: %q", h.texts())
	}
}

func TestMeetingsListError(t *testing.T) {
	f := &fakeRelay{listErr: errors.New("The relay is not reachable.")}
	h, _ := meetingHarness(t, f)
	h.eventually("the error", func() bool { return h.shows("Your meetings could not be read: The relay is not reachable.") })
}

// countButtons counts the visible buttons labelled text.
func countButtons(h *harness, text string) int {
	n := 0
	h.walk(func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == text {
			n++
		}
	})
	return n
}
