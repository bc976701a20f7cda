package app

import (
	"bytes"
	"context"
	"errors"
	"image/color"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// callTest is a signed-in advisor in the call of meeting m1, with the
// frame ticker in the test's hand.
type callTest struct {
	*harness
	page    *meetingsPage
	view    *callView
	call    *fakeCall
	starter *fakeStarter
	// ticks drives the view's video; stopped is set when the view stopped
	// its ticker.
	ticks   chan time.Time
	stopped atomic.Bool
}

func newCallTest(t *testing.T, f *fakeRelay) *callTest {
	t.Helper()
	c := &callTest{starter: &fakeStarter{call: newFakeCall()}, ticks: make(chan time.Time)}
	c.call = c.starter.call
	c.harness = newHarness(t, f, Options{DefaultAddr: testAddr, Calls: c.starter})
	c.signIn("acme", "erika", "pw")
	w := c.waitWorkspace()
	c.page = w.meet
	c.page.every = testRefresh
	c.page.frameTicks = func() (<-chan time.Time, func()) {
		return c.ticks, func() { c.stopped.Store(true) }
	}
	c.startMeeting(c.page, "Baufinanzierung")
	c.tap("Join call")
	c.eventually("the call view", func() bool { return c.page.call != nil })
	c.view = c.page.call
	return c
}

// tick lets the view look for frames once and waits until it has.
func (c *callTest) tick() {
	c.ticks <- time.Now()
	// A second tick is received only after the first was handled.
	c.ticks <- time.Now()
	c.settle()
}

// tileNames returns the names under the stage's tiles, in order.
func (c *callTest) tileNames() []string {
	var out []string
	for _, k := range c.view.order {
		out = append(out, c.view.tiles[k].name.Text)
	}
	return out
}

// onStage reports whether o is one of the stage's objects.
func (c *callTest) onStage(t *videoTile) bool {
	return slices.Contains(c.view.stage.Objects, t.obj)
}

var (
	rosterSelf = CallParticipant{ID: "peer-a", Name: "Erika Mustermann", Role: "advisor", Self: true, Audio: true, Video: true}
	rosterMax  = CallParticipant{ID: "peer-1", GuestID: "p1", Name: "Max Kunde", Role: "customer", Audio: true, Video: true}
	rosterIda  = CallParticipant{ID: "peer-2", GuestID: "p2", Name: "Ida Gast", Role: "customer", Audio: false, Video: false}
)

func TestCallJoinShowsView(t *testing.T) {
	f := &fakeRelay{}
	c := newCallTest(t, f)
	if got := c.starter.joins; !slices.Equal(got, []string{"m1"}) {
		t.Fatalf("JoinCall %q", got)
	}
	if c.ui.Window().Content() != c.view.content {
		t.Fatal("the call view is not the window's content")
	}
	if !c.shows("Baufinanzierung") || !c.shows("Waiting for your guests") || !c.shows("Connecting …") {
		t.Errorf("texts: %q", c.texts())
	}
	c.call.emit(ConnectionEvent{State: CallConnected})
	c.eventually("Connected", func() bool { return c.shows("Connected") })
	c.call.emit(ConnectionEvent{State: CallReconnecting})
	c.eventually("Reconnecting", func() bool { return c.shows("Reconnecting …") })
	c.call.emit(ConnectionEvent{State: CallFailed, Detail: "The relay cannot be reached."})
	c.eventually("the failure", func() bool {
		return c.shows("Connection lost") && c.shows("The relay cannot be reached. Leave the call and join again.")
	})
	// The waiting room of the Meetings page is not read while in the call.
	c.settle()
	n := f.called("Guests")
	time.Sleep(5 * testRefresh)
	c.settle()
	if got := f.called("Guests"); got != n {
		t.Errorf("the waiting room was polled %d times during the call", got-n)
	}
}

func TestCallJoinFails(t *testing.T) {
	starter := &fakeStarter{err: errors.New("No camera or microphone could be opened.")}
	h := newHarness(t, &fakeRelay{}, Options{DefaultAddr: testAddr, Calls: starter})
	h.signIn("acme", "erika", "pw")
	p := h.waitWorkspace().meet
	h.startMeeting(p, "")
	h.tap("Join call")
	h.eventually("the error", func() bool { return h.shows("The call could not be joined: No camera or microphone could be opened.") })
	if p.call != nil || h.button("Join call").Disabled() {
		t.Error("after a failed join the view is open or Join call stays disabled")
	}
}

func TestJoinCallHiddenWithoutCalls(t *testing.T) {
	h, p := meetingHarness(t, &fakeRelay{})
	h.startMeeting(p, "")
	if h.button("Join call") != nil {
		t.Error("Join call offered without a CallStarter")
	}
}

func TestCallTilesFollowRosterAndTracks(t *testing.T) {
	c := newCallTest(t, &fakeRelay{})
	c.ui.Window().Resize(fyne.NewSize(1280, 800))

	c.call.emit(RosterEvent{Participants: []CallParticipant{rosterSelf, rosterMax}})
	c.eventually("Max's tile", func() bool { return slices.Equal(c.tileNames(), []string{"Max Kunde"}) })
	max := c.view.tiles["peer-1"]
	if !c.onStage(max) || c.view.placeholder.Visible() {
		t.Fatal("the tile is not on the stage, or the placeholder still shows")
	}
	if max.letter.Text != "MK" || !max.avatar.Visible() {
		t.Errorf("no initials before video: %q", max.letter.Text)
	}

	// Max's camera arrives; its frames are drawn at the next tick.
	cam := newFakeVideo(color.NRGBA{R: 0x80, A: 0xff})
	c.call.emit(VideoAddedEvent{ID: "peer-1", ParticipantID: "peer-1", Source: cam})
	c.settle()
	cam.frame()
	c.tick()
	if max.frames != 1 || max.img.Image == nil || !max.img.Visible() || max.avatar.Visible() {
		t.Fatalf("frames drawn %d, image %v", max.frames, max.img.Image)
	}

	// Ida joins without camera, muted; Max shares his screen.
	c.call.emit(RosterEvent{Participants: []CallParticipant{rosterSelf, rosterMax, rosterIda}})
	screen := newFakeVideo(color.NRGBA{B: 0x80, A: 0xff})
	c.call.emit(VideoAddedEvent{ID: "peer-1/screen", ParticipantID: "peer-1", Screen: true, Source: screen})
	c.eventually("three tiles", func() bool {
		return slices.Equal(c.tileNames(), []string{"Max Kunde", "Ida Gast", "Max Kunde · screen"})
	})
	ida := c.view.tiles["peer-2"]
	if !ida.muted.Visible() || max.muted.Visible() {
		t.Error("the muted mark is wrong")
	}
	// The screen share is laid out larger than the cameras.
	c.view.stage.Refresh()
	if s, m := c.view.tiles["peer-1/screen"].obj.Size(), max.obj.Size(); s.Width <= 2*m.Width {
		t.Errorf("screen tile %v not larger than camera tile %v", s, m)
	}

	// The screen share ends; Ida leaves; Max's camera goes.
	c.call.emit(VideoRemovedEvent{ID: "peer-1/screen"})
	c.call.emit(RosterEvent{Participants: []CallParticipant{rosterSelf, rosterMax}})
	c.eventually("one tile again", func() bool { return slices.Equal(c.tileNames(), []string{"Max Kunde"}) })
	if c.onStage(ida) {
		t.Error("Ida's tile is still on the stage")
	}
	c.call.emit(VideoRemovedEvent{ID: "peer-1"}, RosterEvent{Participants: []CallParticipant{rosterSelf}})
	c.eventually("no tile", func() bool { return len(c.view.stage.Objects) == 0 })
	if !c.view.placeholder.Visible() {
		t.Error("no placeholder without guests")
	}
}

func TestCallVideoDrawsOnlyNewFrames(t *testing.T) {
	c := newCallTest(t, &fakeRelay{})
	c.call.emit(RosterEvent{Participants: []CallParticipant{rosterSelf, rosterMax}})
	cam := newFakeVideo(color.NRGBA{R: 0x80, A: 0xff})
	c.call.emit(VideoAddedEvent{ID: "peer-1", ParticipantID: "peer-1", Source: cam})
	c.eventually("Max's tile", func() bool { return c.view.tiles["peer-1"] != nil })
	max := c.view.tiles["peer-1"]

	c.tick()
	if max.frames != 0 {
		t.Fatalf("%d frames drawn before the first frame", max.frames)
	}
	for i := 1; i <= 3; i++ {
		cam.frame()
		c.tick()
		if max.frames != i {
			t.Fatalf("after frame %d: %d drawn", i, max.frames)
		}
		first := max.img.Image
		c.tick() // no new frame
		if max.frames != i || max.img.Image != first {
			t.Fatalf("an unchanged frame was drawn again (%d drawn)", max.frames)
		}
	}

	// The own preview shows the local camera, and stops with it.
	self := c.view.self
	c.call.local.frame()
	c.tick()
	if self.frames != 1 {
		t.Fatalf("own preview drew %d frames", self.frames)
	}
	c.tap("Stop camera")
	c.eventually("the camera off", func() bool { return c.button("Start camera") != nil })
	c.call.local.frame()
	c.tick()
	if self.frames != 1 || !self.avatar.Visible() {
		t.Errorf("the preview still draws with the camera off (%d frames)", self.frames)
	}
}

func TestCallTogglesCallThroughAndShowState(t *testing.T) {
	c := newCallTest(t, &fakeRelay{})
	for _, step := range []struct {
		tap, call, after string
	}{
		{"Mute", "SetMuted true", "Unmute"},
		{"Unmute", "SetMuted false", "Mute"},
		{"Stop camera", "SetCamera false", "Start camera"},
		{"Start camera", "SetCamera true", "Stop camera"},
		{"Share screen", "SetScreenShare true", "Stop sharing"},
		{"Stop sharing", "SetScreenShare false", "Share screen"},
	} {
		c.tap(step.tap)
		c.eventually(step.after, func() bool { return c.button(step.after) != nil })
		if got := c.call.Calls(); got[len(got)-1] != step.call {
			t.Fatalf("after %s: calls %q", step.tap, got)
		}
	}

	// Keyboard shortcuts: Ctrl+D mutes, Ctrl+E turns the camera off.
	cv := c.ui.Window().Canvas().(fyne.Shortcutable)
	cv.TypedShortcut(shortcutMute)
	c.eventually("muted by Ctrl+D", func() bool { return c.button("Unmute") != nil })
	cv.TypedShortcut(shortcutCamera)
	c.eventually("camera off by Ctrl+E", func() bool { return c.button("Start camera") != nil })
	if got := c.call.Calls(); !slices.Contains(got, "SetMuted true") || got[len(got)-1] != "SetCamera false" {
		t.Errorf("calls %q", got)
	}

	// A failure keeps the state and says why.
	c.call.mu.Lock()
	c.call.setErr = errors.New("The microphone is used by another program.")
	c.call.mu.Unlock()
	c.tap("Unmute")
	c.eventually("the error", func() bool { return c.shows("The microphone is used by another program.") })
	if b := c.button("Unmute"); b == nil || b.Disabled() {
		t.Error("after a failure the button changed or stays disabled")
	}

	// The call's own report wins.
	c.call.emit(LocalMediaEvent{Muted: false, Camera: false, Note: "No camera found."})
	c.eventually("the call's state", func() bool { return c.button("Mute") != nil && c.shows("No camera found.") })
}

func TestCallChatShowsEachEntryOnce(t *testing.T) {
	c := newCallTest(t, &fakeRelay{})
	at := time.Date(2026, 11, 23, 10, 5, 0, 0, time.Local)
	hello := CallEntry{ID: "e2", Seq: 2, Name: "Max Kunde", Role: "customer", Sent: at, Text: "Guten Tag!"}
	first := CallEntry{ID: "e1", Seq: 1, Name: "Erika Mustermann", Role: "advisor", Mine: true, Sent: at, Text: "Willkommen"}
	file := CallEntry{ID: "e3", Seq: 3, Name: "Max Kunde", Role: "customer", Sent: at, FileName: "Gehaltsnachweis.pdf", FileSize: 1_400_000}
	// Replays after a reconnect deliver entries again.
	c.call.emit(EntryEvent{hello}, EntryEvent{first}, EntryEvent{hello}, EntryEvent{file}, EntryEvent{first})
	c.eventually("three entries", func() bool { return len(c.view.entries) == 3 && c.shows("Gehaltsnachweis.pdf") })
	c.settle()
	if len(c.view.chatRows.Objects) != 3 {
		t.Fatalf("%d chat rows for 3 entries", len(c.view.chatRows.Objects))
	}
	var order []string
	for _, e := range c.view.entries {
		order = append(order, e.ID)
	}
	if !slices.Equal(order, []string{"e1", "e2", "e3"}) {
		t.Errorf("entries in order %q", order)
	}
	if !c.shows("1.4 MB") || !c.shows("Guten Tag!") || c.shows("Messages and files you exchange") {
		t.Errorf("texts: %q", c.texts())
	}

	// Enter sends; the message shows when the relay echoes it.
	test.Type(c.view.chatEntry, "Ich schicke Ihnen den Vertrag.")
	enter(c.view.chatEntry)
	c.eventually("the message sent", func() bool { return c.call.called("SendChat Ich schicke Ihnen den Vertrag.") == 1 })
	if c.view.chatEntry.Text != "" {
		t.Errorf("entry keeps %q", c.view.chatEntry.Text)
	}
	// An empty message is not sent.
	enter(c.view.chatEntry)
	c.settle()
	if n := c.call.called("SendChat"); n != 1 {
		t.Errorf("%d messages sent", n)
	}
	// A failed send gives the text back.
	c.call.mu.Lock()
	c.call.chatErr = errors.New("The connection is interrupted.")
	c.call.mu.Unlock()
	test.Type(c.view.chatEntry, "Noch da?")
	enter(c.view.chatEntry)
	c.eventually("the error", func() bool { return c.shows("The message was not sent: The connection is interrupted.") })
	if c.view.chatEntry.Text != "Noch da?" {
		t.Errorf("entry %q after a failed send", c.view.chatEntry.Text)
	}
}

func TestCallFileSendShowsProgress(t *testing.T) {
	c := newCallTest(t, &fakeRelay{})
	gate := make(chan struct{})
	c.call.mu.Lock()
	c.call.fileGate = gate
	c.call.mu.Unlock()
	c.view.sendFile("Vertrag.pdf", io.NopCloser(bytes.NewReader(make([]byte, 1000))))
	c.eventually("half the file", func() bool { return c.view.fileBar.Value == 0.5 })
	if !c.view.fileBox.Visible() || !c.shows("Sending Vertrag.pdf") || !c.view.fileBtn.Disabled() {
		t.Errorf("no progress shown; texts: %q", c.texts())
	}
	close(gate)
	c.eventually("the file sent", func() bool { return c.shows("Vertrag.pdf was sent.") })
	if c.view.fileBox.Visible() || c.view.fileBtn.Disabled() || c.call.called("SendFile Vertrag.pdf 1000") != 1 {
		t.Errorf("after sending: calls %q", c.call.Calls())
	}
}

func TestCallWaitingRoomAdmitAndTurnAway(t *testing.T) {
	f := &fakeRelay{}
	c := newCallTest(t, f)
	f.addGuest("m1", Guest{ID: "p1", Name: "Max Kunde"})
	f.addGuest("m1", Guest{ID: "p2", Name: "Ida Gast"})
	c.call.emit(WaitingEvent{Guests: []Guest{{ID: "p1", Name: "Max Kunde", State: GuestWaiting}, {ID: "p2", Name: "Ida Gast", State: GuestWaiting}}})
	c.eventually("the waiting guests", func() bool { return c.view.waitingTab.Text == "Waiting room (2)" })
	if !c.shows("2 guests are waiting to be admitted.") {
		t.Errorf("no notice of the waiting guests; texts: %q", c.texts())
	}
	c.view.tabs.Select(c.view.waitingTab)
	c.tap("Admit")
	c.eventually("Max admitted", func() bool { return c.shows("Max Kunde is admitted.") })
	if !slices.Contains(f.Calls(), "AdmitGuest m1 p1") || f.guestState("m1", "p1") != GuestAdmitted {
		t.Fatalf("calls %q", f.Calls())
	}
	c.tap("Turn away")
	c.eventually("Ida turned away", func() bool { return c.shows("Ida Gast was turned away.") })
	if !slices.Contains(f.Calls(), "TurnAwayGuest m1 p2") || c.view.waitingTab.Text != "Waiting room" {
		t.Fatalf("calls %q, tab %q", f.Calls(), c.view.waitingTab.Text)
	}
}

func TestCallRemoveAsks(t *testing.T) {
	f := &fakeRelay{}
	c := newCallTest(t, f)
	f.addGuest("m1", Guest{ID: "p1", Name: "Max Kunde", State: GuestAdmitted})
	c.call.emit(RosterEvent{Participants: []CallParticipant{rosterSelf, rosterMax}})
	c.eventually("the roster", func() bool { return c.view.peopleTab.Text == "People (2)" })
	c.view.tabs.Select(c.view.peopleTab)
	if countButtons(c.harness, "Remove") != 1 {
		t.Fatalf("want Remove for the customer only; texts %q", c.texts())
	}
	c.tap("Remove")
	if f.called("RemoveGuest") != 0 || !c.shows("Remove Max Kunde?") {
		t.Fatal("removed without asking")
	}
	c.tapInDialog("Remove")
	c.eventually("the removal", func() bool { return slices.Contains(f.Calls(), "RemoveGuest m1 p1") })
}

// stoppedCleanly reports whether the view's goroutines returned and its
// ticker stopped.
func (c *callTest) stoppedCleanly() bool {
	select {
	case <-c.view.eventsDone:
	default:
		return false
	}
	select {
	case <-c.view.video.done:
	default:
		return false
	}
	return c.stopped.Load()
}

func TestCallLeaveStopsEverything(t *testing.T) {
	f := &fakeRelay{}
	c := newCallTest(t, f)
	c.page.every = time.Hour // settle below waits for a quiet queue
	c.tap("Leave")
	c.eventually("the workspace", func() bool { return c.ui.Window().Content() == c.ui.sess.work.content })
	c.eventually("Leave", func() bool { return c.call.called("Leave") == 1 })
	c.eventually("the goroutines to stop", c.stoppedCleanly)
	if c.page.call != nil || c.page.current == nil || f.called("EndMeeting") != 0 {
		t.Error("leaving changed the meeting")
	}
	if !polling(c.page) {
		t.Error("the waiting room is not refreshed again after the call")
	}
	// The shortcuts are gone with the view.
	c.ui.Window().Canvas().(fyne.Shortcutable).TypedShortcut(shortcutMute)
	c.settle()
	if c.call.called("SetMuted") != 0 {
		t.Error("Ctrl+D still mutes after the call")
	}
	// The call can be joined again.
	c.starter.mu.Lock()
	c.starter.call = newFakeCall()
	c.starter.mu.Unlock()
	c.tap("Join call")
	c.eventually("the call view again", func() bool { return c.page.call != nil })
}

func TestCallEndAsksForConfirmation(t *testing.T) {
	f := &fakeRelay{}
	c := newCallTest(t, f)
	c.tap("End meeting")
	if f.called("EndMeeting") != 0 {
		t.Fatal("ended without confirmation")
	}
	if !c.shows("End Baufinanzierung?") {
		t.Fatalf("no confirmation; texts: %q", c.texts())
	}
	c.tapInDialog("Cancel")
	c.settle()
	if f.called("EndMeeting") != 0 || c.page.call == nil {
		t.Fatal("Cancel ended the meeting")
	}
	c.tap("End meeting")
	c.tapInDialog("End meeting")
	c.eventually("the workspace", func() bool { return c.ui.Window().Content() == c.ui.sess.work.content })
	if !slices.Contains(f.Calls(), "EndMeeting m1") {
		t.Fatalf("calls %q", f.Calls())
	}
	c.eventually("the goroutines to stop", c.stoppedCleanly)
	c.eventually("the meeting listed as ended", func() bool { return c.page.current == nil && c.shows("Baufinanzierung has ended") })
}

func TestCallEndedByRelay(t *testing.T) {
	for _, tc := range []struct {
		reason, says string
		ended        bool
	}{
		{CallEndedMeeting, "Baufinanzierung has ended", true},
		{CallEndedReplaced, "You joined this call from another device", false},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			f := &fakeRelay{}
			c := newCallTest(t, f)
			if tc.ended {
				// The relay ended the meeting (e.g. from another device).
				_ = f.EndMeeting(context.Background(), "m1")
			}
			c.call.emit(EndedEvent{Reason: tc.reason})
			c.call.end()
			c.eventually("the workspace", func() bool { return c.page.call == nil })
			c.eventually("the message", func() bool { return c.shows(tc.says) })
			c.eventually("the goroutines to stop", c.stoppedCleanly)
			if (c.page.current == nil) != tc.ended {
				t.Errorf("meeting still shown: %v", c.page.current != nil)
			}
		})
	}
}

func TestCallClosesWithSession(t *testing.T) {
	c := newCallTest(t, &fakeRelay{})
	c.ui.sess.cancel()
	c.eventually("the goroutines to stop", c.stoppedCleanly)
	if c.call.called("Leave") != 1 {
		t.Errorf("the call was not left; calls %q", c.call.Calls())
	}
}

// saveTarget records what is written and whether it was closed.
type saveTarget struct {
	bytes.Buffer
	closed bool
}

func (s *saveTarget) Close() error { s.closed = true; return nil }

func TestCallFileEntrySaves(t *testing.T) {
	c := newCallTest(t, &fakeRelay{})
	c.call.mu.Lock()
	c.call.files = map[string][]byte{"f1": []byte("%PDF-1.4 Angebot")}
	c.call.mu.Unlock()
	entry := CallEntry{ID: "f1", Seq: 1, Name: "Max Kunde", Role: "customer", Sent: time.Now(), FileName: "Angebot.pdf", FileSize: 16}
	c.call.emit(EntryEvent{Entry: entry})
	c.eventually("the file entry", func() bool { return c.shows("Angebot.pdf") })
	if countButtons(c.harness, "Save") != 1 {
		t.Fatalf("no Save button on the file entry; texts %q", c.texts())
	}
	var out saveTarget
	c.view.saveFile(entry, &out)
	c.eventually("the file saved", func() bool { return c.shows("Angebot.pdf was saved.") })
	if out.String() != "%PDF-1.4 Angebot" || !out.closed || c.call.called("SaveFile f1") != 1 {
		t.Fatalf("saved %q (closed %v), calls %q", out.String(), out.closed, c.call.Calls())
	}
	var missing saveTarget
	c.view.saveFile(CallEntry{ID: "gone", FileName: "Alt.pdf"}, &missing)
	c.eventually("the failure", func() bool { return c.shows("Alt.pdf was not saved") })
}
