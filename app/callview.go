package app

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Keyboard shortcuts of the call view (Cmd instead of Ctrl on macOS).
var (
	shortcutMute   = &desktop.CustomShortcut{KeyName: fyne.KeyD, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutCamera = &desktop.CustomShortcut{KeyName: fyne.KeyE, Modifier: fyne.KeyModifierShortcutDefault}
)

// callView is a meeting's call in the window: the others' video, the
// advisor's own preview, the controls, and a side panel with the chat,
// the participants and the waiting room. It replaces the workspace while
// the advisor is in the call.
type callView struct {
	u       *UI
	s       *session
	meeting MeetingInfo
	call    Call
	// onClose runs (UI thread) when the view has closed; ended is true when
	// the meeting ended, note says why the call ended if it was not the
	// advisor's choice.
	onClose func(ended bool, note string)

	// ctx ends the view's goroutines.
	ctx    context.Context
	cancel context.CancelFunc
	closed bool
	// eventsDone is closed when the event goroutine returns.
	eventsDone chan struct{}
	video      *videoRenderer

	muted, camera, screen bool
	// selfOn is whether the preview shows the local video.
	selfOn  bool
	conn    ConnState
	roster  []CallParticipant
	videos  map[string]VideoAddedEvent // remote tracks by id
	tiles   map[string]*videoTile      // by participant id, or track id for screens
	order   []string                   // tile keys in the order they came
	entries []CallEntry                // chat, ordered by Seq
	waiting []Guest

	stage       *fyne.Container
	placeholder fyne.CanvasObject
	self        *videoTile
	muteBtn     *widget.Button
	cameraBtn   *widget.Button
	screenBtn   *widget.Button
	toggleBox   *fyne.Container
	leave       *busyButton
	end         *busyButton
	connDot     *canvas.Circle
	connLabel   *widget.Label
	notice      callNotice
	// rec is the recording state; recordBtn is nil when the call cannot
	// be recorded (callrecording.go).
	rec       RecordingEvent
	recordBtn *widget.Button
	recLabel  *widget.Label
	// board is the whiteboard (board.go); nil when the call has none.
	// boardBox holds its panel over the stage.
	board    *boardView
	boardBox *fyne.Container
	boardBtn *widget.Button

	tabs        *container.AppTabs
	peopleTab   *container.TabItem
	waitingTab  *container.TabItem
	chatRows    *fyne.Container
	chatScroll  *container.Scroll
	chatEmpty   *widget.Label
	chatEntry   *widget.Entry
	fileBtn     *widget.Button
	fileBox     fyne.CanvasObject
	fileLabel   *widget.Label
	fileBar     *widget.ProgressBar
	peopleRows  *fyne.Container
	waitingRows *fyne.Container
	waitingNone *widget.Label
	// peopleScroll and waitingScroll are refreshed when their lists
	// change, so that their content is laid out again.
	peopleScroll  *container.Scroll
	waitingScroll *container.Scroll

	content fyne.CanvasObject
}

// newCallView builds the view for call c of meeting m and starts reading
// the call's events and drawing its video.
// ticks makes the renderer's ticker (realTicks outside tests).
func newCallView(u *UI, s *session, m MeetingInfo, c Call, ticks func() (<-chan time.Time, func()),
	onClose func(ended bool, note string)) *callView {
	v := &callView{u: u, s: s, meeting: m, call: c, onClose: onClose, camera: true,
		videos: map[string]VideoAddedEvent{}, tiles: map[string]*videoTile{}, eventsDone: make(chan struct{})}
	v.ctx, v.cancel = context.WithCancel(s.ctx)
	v.video = newVideoRenderer(u.do)
	v.build()

	if ticks == nil {
		ticks = realTicks
	}
	ch, stop := ticks()
	go v.video.run(v.ctx, ch, stop)
	go v.readEvents()

	cv := u.win.Canvas()
	cv.AddShortcut(shortcutMute, func(fyne.Shortcut) { v.toggleMute() })
	cv.AddShortcut(shortcutCamera, func(fyne.Shortcut) { v.toggleCamera() })
	return v
}

// build makes the widgets.
func (v *callView) build() {
	title := widget.NewLabelWithStyle(meetingName(v.meeting), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	title.Truncation = fyne.TextTruncateEllipsis
	since := widget.NewLabel("Started at " + v.meeting.Created.Local().Format("15:04"))
	v.connDot = canvas.NewCircle(theme.Color(theme.ColorNameWarning))
	v.connLabel = widget.NewLabel("")
	conn := container.NewHBox(container.NewCenter(withSize(10, 10, v.connDot)), v.connLabel)
	v.notice = callNotice{statusLabel: newStatusLabel()}
	v.notice.Truncation = fyne.TextTruncateEllipsis
	v.notice.Wrapping = fyne.TextWrapOff
	v.recLabel = newRecordingLabel()
	top := container.NewBorder(nil, nil, nil, container.NewHBox(v.recLabel, since, conn), title)

	// Stage: remote tiles, a placeholder while there are none, own preview.
	v.stage = container.New(tileLayout{big: v.isScreenTile})
	wait := canvas.NewText("Waiting for your guests", stageText)
	wait.TextSize = theme.TextSubHeadingSize()
	wait.Alignment = fyne.TextAlignCenter
	hint := canvas.NewText("Admit your customer from the waiting room; their video appears here.", stageTextSoft)
	hint.Alignment = fyne.TextAlignCenter
	icon := canvas.NewImageFromResource(theme.NewColoredResource(iconCamera, theme.ColorNameDisabled))
	icon.FillMode = canvas.ImageFillContain
	icon.SetMinSize(fyne.NewSize(56, 56))
	v.placeholder = container.NewCenter(container.NewVBox(icon, wait, hint))
	v.self = newVideoTile("self", "You", false)
	v.self.letter.Text = initials(v.s.account.DisplayName)
	preview := container.NewBorder(nil, container.NewHBox(spacer(), withSize(192, 108+tileLabel(), v.self.obj)), nil, nil)
	bg := canvas.NewRectangle(stageColor)
	stage := container.NewStack(bg, container.NewPadded(container.NewPadded(v.stage)), v.placeholder, container.NewPadded(preview))
	// Notices (someone waits, an action failed) sit above the stage.
	v.notice.action = widget.NewButton("Open waiting room", func() { v.tabs.Select(v.waitingTab) })
	v.notice.action.Hide()
	v.notice.box = container.NewPadded(container.NewBorder(nil, nil, nil, v.notice.action, v.notice.Label))
	v.notice.box.Hide()
	v.boardBox = container.NewStack()
	withNotice := container.NewBorder(v.notice.box, nil, nil, nil, container.NewStack(stage, v.boardBox))
	v.notice.parent = withNotice

	// Controls.
	v.muteBtn = widget.NewButtonWithIcon("", iconMic, v.toggleMute)
	v.cameraBtn = widget.NewButtonWithIcon("", iconCamera, v.toggleCamera)
	v.screenBtn = widget.NewButtonWithIcon("", iconScreen, v.toggleScreen)
	v.toggleBox = container.NewHBox(v.muteBtn, v.cameraBtn, v.screenBtn)
	v.buildRecording()
	v.buildBoard()
	v.leave = newBusyButton("Leave", iconLeave, v.leaveCall)
	v.end = newBusyButton("End meeting", theme.MediaStopIcon(), v.endMeeting)
	v.end.btn.Importance = widget.DangerImportance
	keys := widget.NewLabel("Ctrl+D mute · Ctrl+E camera")
	keys.SizeName = theme.SizeNameCaptionText
	controls := container.NewBorder(widget.NewSeparator(), nil, keys, container.NewHBox(v.leave.row(), v.end.row()),
		container.NewCenter(v.toggleBox))
	v.showToggles()

	// Side panel.
	v.chatRows = container.NewVBox()
	v.chatEmpty = widget.NewLabel("Messages and files you exchange in this meeting appear here. They are deleted 7 days after the meeting.")
	v.chatEmpty.Wrapping = fyne.TextWrapWord
	v.chatScroll = container.NewVScroll(container.NewVBox(v.chatEmpty, v.chatRows))
	v.chatEntry = widget.NewEntry()
	v.chatEntry.SetPlaceHolder("Write a message")
	v.chatEntry.OnSubmitted = func(string) { v.sendChat() }
	send := widget.NewButtonWithIcon("", iconSend, v.sendChat)
	v.fileBtn = widget.NewButtonWithIcon("Send file", theme.MailAttachmentIcon(), v.pickFile)
	v.fileLabel = widget.NewLabel("")
	v.fileLabel.Truncation = fyne.TextTruncateEllipsis
	v.fileBar = widget.NewProgressBar()
	v.fileBox = container.NewVBox(v.fileLabel, v.fileBar)
	v.fileBox.Hide()
	chat := container.NewBorder(nil, container.NewVBox(v.fileBox,
		container.NewBorder(nil, nil, nil, send, v.chatEntry),
		container.NewHBox(v.fileBtn)), nil, nil, v.chatScroll)

	v.peopleRows = container.NewVBox()
	v.waitingRows = container.NewVBox()
	v.waitingNone = widget.NewLabel("No one is waiting. Guests appear here when they open the link.")
	v.waitingNone.Wrapping = fyne.TextWrapWord
	v.peopleScroll = container.NewVScroll(v.peopleRows)
	v.waitingScroll = container.NewVScroll(container.NewVBox(v.waitingNone, v.waitingRows))
	v.peopleTab = container.NewTabItem("People", container.NewPadded(v.peopleScroll))
	v.waitingTab = container.NewTabItem("Waiting room", container.NewPadded(v.waitingScroll))
	v.tabs = container.NewAppTabs(container.NewTabItem("Chat", container.NewPadded(chat)), v.peopleTab, v.waitingTab)
	v.tabs.OnSelected = func(t *container.TabItem) {
		if t == v.waitingTab && v.notice.action.Visible() {
			v.notice.info("")
		}
	}
	side := container.NewBorder(nil, nil, widget.NewSeparator(), nil, withMinWidth(320, v.tabs))

	v.showConnection(CallConnecting, "")
	v.showPeople()
	v.showWaiting()
	v.content = container.NewBorder(container.NewPadded(top), container.NewPadded(controls), nil, side, withNotice)
}

// callNotice is the line above the stage; it takes no room while empty.
type callNotice struct {
	statusLabel
	box    fyne.CanvasObject
	parent *fyne.Container
	// action is shown with waiting-room notices only.
	action *widget.Button
}

func (n *callNotice) info(text string) { n.statusLabel.info(text); n.fit(false) }
func (n *callNotice) fail(text string) { n.statusLabel.fail(text); n.fit(false) }
func (n *callNotice) ok(text string)   { n.statusLabel.ok(text); n.fit(false) }

// waiting tells that guests wait, with a button to the waiting room.
func (n *callNotice) waiting(text string) { n.statusLabel.info(text); n.fit(true) }

// fit shows the line only when it has something to say.
func (n *callNotice) fit(action bool) {
	if action {
		n.action.Show()
	} else {
		n.action.Hide()
	}
	if n.Text == "" {
		n.box.Hide()
	} else {
		n.box.Show()
	}
	if n.parent != nil {
		n.parent.Refresh()
	}
}

// readEvents hands the call's events to the UI thread until the call
// closes its channel, or the view closes (the advisor left, or the session
// or window ended): then it leaves the call.
func (v *callView) readEvents() {
	defer close(v.eventsDone)
	evs := v.call.Events()
	for {
		select {
		case <-v.ctx.Done():
			_ = v.call.Leave()
			return
		case ev, ok := <-evs:
			if !ok {
				v.u.do(func() { v.close(false, "") })
				return
			}
			v.u.do(func() {
				if !v.closed {
					v.handle(ev)
				}
			})
		}
	}
}

// handle applies one event (UI thread).
func (v *callView) handle(ev CallEvent) {
	switch e := ev.(type) {
	case ConnectionEvent:
		v.showConnection(e.State, e.Detail)
	case RosterEvent:
		v.roster = e.Participants
		v.syncTiles()
		v.showPeople()
	case VideoAddedEvent:
		v.videos[e.ID] = e
		v.syncTiles()
	case VideoRemovedEvent:
		delete(v.videos, e.ID)
		v.syncTiles()
	case EntryEvent:
		v.addEntry(e.Entry)
	case WaitingEvent:
		arrived := slices.ContainsFunc(e.Guests, func(g Guest) bool {
			return !slices.ContainsFunc(v.waiting, func(w Guest) bool { return w.ID == g.ID })
		})
		v.waiting = e.Guests
		v.showWaiting()
		switch {
		case arrived && v.tabs.Selected() != v.waitingTab:
			v.notice.waiting(waitingNotice(v.waiting))
		case len(v.waiting) == 0 && v.notice.action.Visible():
			v.notice.info("")
		}
	case RecordingEvent:
		v.rec = e
		v.showRecording()
	case BoardStateEvent, BoardOpEvent, BoardRefusedEvent:
		if v.board != nil {
			v.board.handle(ev)
		}
	case LocalMediaEvent:
		v.muted, v.camera, v.screen = e.Muted, e.Camera, e.Screen
		v.showToggles()
		if e.Note != "" {
			v.notice.info(e.Note)
		}
	case EndedEvent:
		switch e.Reason {
		case CallEndedMeeting:
			v.close(true, "")
		case CallEndedRemoved:
			v.close(false, "You were removed from the call.")
		case CallEndedReplaced:
			v.close(false, "You joined this call from another device, so it was closed here.")
		default:
			v.close(false, "")
		}
	}
}

// close stops the view's goroutines (the event goroutine then leaves the
// call) and hands back to the workspace. It runs once.
func (v *callView) close(ended bool, note string) {
	if v.closed {
		return
	}
	v.closed = true
	v.cancel()
	cv := v.u.win.Canvas()
	cv.RemoveShortcut(shortcutMute)
	cv.RemoveShortcut(shortcutCamera)
	v.onClose(ended, note)
}

// showConnection shows the connection's state in the top bar.
func (v *callView) showConnection(st ConnState, detail string) {
	v.conn = st
	text, col := "Connecting …", theme.ColorNameWarning
	switch st {
	case CallConnected:
		text, col = "Connected", theme.ColorNameSuccess
	case CallReconnecting:
		text = "Reconnecting …"
	case CallFailed:
		text, col = "Connection lost", theme.ColorNameError
	}
	v.connLabel.SetText(text)
	v.connDot.FillColor = theme.Color(col)
	v.connDot.Refresh()
	switch {
	case st == CallFailed && detail != "":
		v.notice.fail(detail + " Leave the call and join again.")
	case st == CallFailed:
		v.notice.fail("The call lost its connection. Leave the call and join again.")
	case detail != "":
		v.notice.info(detail)
	case v.notice.Importance == widget.DangerImportance:
		v.notice.info("")
	}
}

// showToggles labels the three toggles after the current state.
func (v *callView) showToggles() {
	set := func(b *widget.Button, on bool, onText, offText string, onIcon, offIcon fyne.Resource) {
		if on {
			b.SetText(onText)
			b.SetIcon(onIcon)
			b.Importance = widget.MediumImportance
		} else {
			b.SetText(offText)
			b.SetIcon(offIcon)
			b.Importance = widget.WarningImportance
		}
		b.Refresh()
	}
	set(v.muteBtn, !v.muted, "Mute", "Unmute", iconMic, iconMicOff)
	set(v.cameraBtn, v.camera, "Stop camera", "Start camera", iconCamera, iconCameraOff)
	if v.screen {
		v.screenBtn.SetText("Stop sharing")
		v.screenBtn.Importance = widget.HighImportance
	} else {
		v.screenBtn.SetText("Share screen")
		v.screenBtn.Importance = widget.MediumImportance
	}
	v.screenBtn.Refresh()
	// The labels' widths changed: lay the row out again.
	v.toggleBox.Refresh()
	v.showSelf()
}

// showSelf gives the preview the call's local video while the camera or
// the screen share is on, and the initials otherwise.
func (v *callView) showSelf() {
	on := v.camera || v.screen
	if on == v.selfOn {
		return
	}
	v.selfOn = on
	if on {
		if src := v.call.LocalVideo(); src != nil {
			v.video.set(v.self, src)
			return
		}
	}
	v.video.set(v.self, nil)
	v.self.blank()
}

func (v *callView) toggleMute() {
	v.toggle(v.muteBtn, !v.muted, v.call.SetMuted, func(on bool) { v.muted = on })
}

func (v *callView) toggleCamera() {
	v.toggle(v.cameraBtn, !v.camera, v.call.SetCamera, func(on bool) { v.camera = on })
}

func (v *callView) toggleScreen() {
	v.toggle(v.screenBtn, !v.screen, v.call.SetScreenShare, func(on bool) { v.screen = on })
}

// toggle asks the call to change one state off the UI thread; the button
// stays disabled until the call answered, and shows the new state only
// when it succeeded.
func (v *callView) toggle(b *widget.Button, want bool, set func(bool) error, apply func(bool)) {
	if v.closed || b.Disabled() {
		return
	}
	b.Disable()
	run(v.u, v.ctx, func(context.Context) (struct{}, error) {
		return struct{}{}, set(want)
	}, func(_ struct{}, err error) {
		if v.closed {
			return
		}
		b.Enable()
		if err != nil {
			v.notice.fail(message(err))
			return
		}
		apply(want)
		v.showToggles()
	})
}

// isScreenTile reports whether o is a screen share's tile.
func (v *callView) isScreenTile(o fyne.CanvasObject) bool {
	for _, t := range v.tiles {
		if t.obj == o {
			return t.screen
		}
	}
	return false
}

// syncTiles makes the stage show one tile per other participant (their
// camera, or their initials) and one per screen share, in the order they
// came.
func (v *callView) syncTiles() {
	want := map[string]bool{}
	names := map[string]CallParticipant{}
	for _, p := range v.roster {
		names[p.ID] = p
		if !p.Self {
			want[p.ID] = true
		}
	}
	cams := map[string]VideoAddedEvent{}
	for _, e := range v.videos {
		if e.Screen {
			want[e.ID] = true
		} else {
			want[e.ParticipantID] = true
			cams[e.ParticipantID] = e
		}
	}
	// Drop tiles no longer wanted.
	v.order = slices.DeleteFunc(v.order, func(k string) bool {
		if want[k] {
			return false
		}
		v.video.set(v.tiles[k], nil)
		delete(v.tiles, k)
		return true
	})
	// Add new tiles: cameras in roster order, then screens.
	add := func(key string, screen bool) *videoTile {
		t, ok := v.tiles[key]
		if !ok {
			t = newVideoTile(key, "", screen)
			v.tiles[key] = t
			v.order = append(v.order, key)
		}
		return t
	}
	for _, p := range v.roster {
		if !p.Self {
			add(p.ID, false)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(cams)) {
		add(id, false)
	}
	for _, id := range slices.Sorted(maps.Keys(v.videos)) {
		if v.videos[id].Screen {
			add(id, true)
		}
	}
	// Update names, mute marks and sources.
	for key, t := range v.tiles {
		var p CallParticipant
		var track VideoAddedEvent
		if t.screen {
			track = v.videos[key]
			p = names[track.ParticipantID]
			t.setName(participantName(p) + " · screen")
			t.setMuted(false)
		} else {
			p = names[key]
			if e, ok := cams[key]; ok && (p.ID == "" || p.Video) {
				track = e
			}
			t.setName(participantName(p))
			t.setMuted(p.ID != "" && !p.Audio)
		}
		if track.ID != t.track {
			t.track = track.ID
			v.video.set(t, track.Source)
			if track.Source == nil {
				t.blank()
			}
		}
	}
	objs := make([]fyne.CanvasObject, 0, len(v.order))
	for _, k := range v.order {
		objs = append(objs, v.tiles[k].obj)
	}
	v.stage.Objects = objs
	v.stage.Refresh()
	if len(objs) == 0 {
		v.placeholder.Show()
	} else {
		v.placeholder.Hide()
	}
}

// participantName is p's name, or a neutral word before the roster named
// them.
func participantName(p CallParticipant) string {
	if p.Name == "" {
		return "Guest"
	}
	return p.Name
}

// showPeople lists the roster with what each participant has on, and
// Remove for customers.
func (v *callView) showPeople() {
	v.peopleRows.RemoveAll()
	n := 0
	for _, p := range v.roster {
		n++
		name := participantName(p)
		if p.Self {
			name += " (you)"
		}
		title := widget.NewLabelWithStyle(name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		title.Truncation = fyne.TextTruncateEllipsis
		var state []string
		if p.Role == "advisor" {
			state = append(state, "Advisor")
		} else {
			state = append(state, "Customer")
		}
		if !p.Audio {
			state = append(state, "muted")
		}
		if !p.Video {
			state = append(state, "camera off")
		}
		if p.Screen {
			state = append(state, "sharing screen")
		}
		if c := v.consentState(p.GuestID); p.GuestID != "" && c != "" {
			state = append(state, c)
		}
		detail := widget.NewLabel(strings.Join(state, " · "))
		detail.Truncation = fyne.TextTruncateEllipsis
		var right fyne.CanvasObject
		if !p.Self && p.GuestID != "" {
			right = container.NewCenter(v.guestAction("Remove", theme.ContentRemoveIcon(), widget.MediumImportance, p.GuestID, name, "was removed from the meeting", v.u.relay.RemoveGuest, true))
		}
		v.peopleRows.Add(container.NewBorder(nil, nil, nil, right, container.NewVBox(title, detail)))
	}
	v.peopleTab.Text = fmt.Sprintf("People (%d)", n)
	v.peopleScroll.Refresh()
	v.tabs.Refresh()
}

// showWaiting lists the waiting room with Admit and Turn away.
func (v *callView) showWaiting() {
	v.waitingRows.RemoveAll()
	for _, g := range v.waiting {
		name := widget.NewLabelWithStyle(g.Name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		name.Truncation = fyne.TextTruncateEllipsis
		since := "waiting"
		if !g.Joined.IsZero() {
			since = "waiting since " + g.Joined.Local().Format("15:04")
		}
		detail := widget.NewLabel(since)
		admit := v.guestAction("Admit", theme.ConfirmIcon(), widget.HighImportance, g.ID, g.Name, "is admitted", v.u.relay.AdmitGuest, false)
		away := v.guestAction("Turn away", theme.CancelIcon(), widget.MediumImportance, g.ID, g.Name, "was turned away", v.u.relay.TurnAwayGuest, false)
		v.waitingRows.Add(container.NewVBox(container.NewVBox(name, detail), container.NewHBox(admit, away), widget.NewSeparator()))
	}
	if len(v.waiting) == 0 {
		v.waitingNone.Show()
		v.waitingTab.Text = "Waiting room"
	} else {
		v.waitingNone.Hide()
		v.waitingTab.Text = fmt.Sprintf("Waiting room (%d)", len(v.waiting))
	}
	v.waitingScroll.Refresh()
	v.tabs.Refresh()
}

// waitingNotice tells the advisor in the top bar that someone waits.
func waitingNotice(gs []Guest) string {
	if len(gs) == 1 {
		return gs[0].Name + " is waiting to be admitted."
	}
	return fmt.Sprintf("%d guests are waiting to be admitted.", len(gs))
}

// guestAction is a button that calls the relay for one guest off the UI
// thread; ask makes it confirm first.
func (v *callView) guestAction(label string, icon fyne.Resource, imp widget.Importance, guestID, name, done string,
	call func(context.Context, string, string) error, ask bool) *widget.Button {
	var b *widget.Button
	act := func() {
		b.Disable()
		run(v.u, v.ctx, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, call(ctx, v.meeting.ID, guestID)
		}, func(_ struct{}, err error) {
			if v.closed {
				return
			}
			b.Enable()
			if err != nil {
				v.notice.fail(message(err))
				return
			}
			v.notice.ok(name + " " + done + ".")
			// The call's next event confirms; until then, do not offer the
			// guest again.
			v.waiting = slices.DeleteFunc(v.waiting, func(g Guest) bool { return g.ID == guestID })
			v.showWaiting()
		})
	}
	b = widget.NewButtonWithIcon(label, icon, func() {
		if !ask {
			act()
			return
		}
		confirm(v.u.win, "Remove "+name+"?", name+" leaves the meeting and cannot come back with the same link.", "Remove", act)
	})
	b.Importance = imp
	return b
}

// addEntry shows a chat message or file once, in the meeting's order.
func (v *callView) addEntry(e CallEntry) {
	if slices.ContainsFunc(v.entries, func(x CallEntry) bool { return x.ID == e.ID }) {
		return
	}
	i, _ := slices.BinarySearchFunc(v.entries, e.Seq, func(x CallEntry, seq uint64) int {
		switch {
		case x.Seq < seq:
			return -1
		case x.Seq > seq:
			return 1
		}
		return 0
	})
	for i < len(v.entries) && v.entries[i].Seq == e.Seq {
		i++
	}
	v.entries = slices.Insert(v.entries, i, e)
	v.chatRows.Objects = slices.Insert(v.chatRows.Objects, i, chatRow(e, func() { v.pickSaveTarget(e) }))
	v.chatEmpty.Hide()
	if v.board != nil && e.FileName != "" {
		v.board.refreshFiles()
	}
	v.chatScroll.Refresh()
	v.chatScroll.ScrollToBottom()
}

// chatRow is one entry: who and when, then the text or the file (with a
// Save button that calls save).
func chatRow(e CallEntry, save func()) fyne.CanvasObject {
	who, whoColor := e.Name, theme.ColorNameForeground
	if e.Mine {
		who, whoColor = "You", theme.ColorNamePrimary
	}
	head := []widget.RichTextSegment{
		&widget.TextSegment{Text: who, Style: widget.RichTextStyle{Inline: true, ColorName: whoColor, TextStyle: fyne.TextStyle{Bold: true}}},
		&widget.TextSegment{Text: "  " + e.Sent.Local().Format("15:04"), Style: widget.RichTextStyle{ColorName: theme.ColorNamePlaceHolder}},
	}
	if e.FileName == "" {
		text := widget.NewRichText(append(head, &widget.TextSegment{Text: e.Text, Style: widget.RichTextStyleParagraph})...)
		text.Wrapping = fyne.TextWrapWord
		return text
	}
	name := widget.NewLabel(e.FileName)
	name.Truncation = fyne.TextTruncateEllipsis
	size := widget.NewLabel(formatSize(e.FileSize))
	saveBtn := widget.NewButtonWithIcon("Save", theme.DownloadIcon(), save)
	saveBtn.Importance = widget.LowImportance
	return container.NewVBox(widget.NewRichText(head...),
		container.NewBorder(nil, nil, widget.NewIcon(theme.FileIcon()), container.NewHBox(size, saveBtn), name))
}

// pickSaveTarget asks where to save the file of e and saves it there.
func (v *callView) pickSaveTarget(e CallEntry) {
	if v.closed {
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			v.notice.fail("The file could not be saved: " + err.Error())
			return
		}
		if w == nil {
			return
		}
		v.saveFile(e, w)
	}, v.u.win)
	d.SetFileName(e.FileName)
	d.Show()
}

// showFileProgress shows the file progress bar with label and returns the
// progress callback for a transfer, callable from any goroutine: it posts
// at most one update at a time to the UI thread.
func (v *callView) showFileProgress(label string) func(done, total int64) {
	v.fileLabel.SetText(label)
	v.fileBar.SetValue(0)
	v.fileBox.Show()
	var done, total atomic.Int64
	var posted atomic.Bool
	return func(d, t int64) {
		done.Store(d)
		total.Store(t)
		if posted.Swap(true) {
			return
		}
		v.u.do(func() {
			posted.Store(false)
			if t := total.Load(); !v.closed && t > 0 {
				v.fileBar.SetValue(float64(done.Load()) / float64(t))
			}
		})
	}
}

// saveFile downloads e's file into w off the UI thread, with the file
// progress bar, and closes w. A failed download says so.
func (v *callView) saveFile(e CallEntry, w io.WriteCloser) {
	progress := v.showFileProgress("Saving " + e.FileName + " …")
	go func() {
		err := v.call.SaveFile(v.ctx, e.ID, w, progress)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		v.u.do(func() {
			if v.closed {
				return
			}
			v.fileBox.Hide()
			if err != nil {
				v.notice.fail(e.FileName + " was not saved: " + message(err))
				return
			}
			v.notice.ok(e.FileName + " was saved.")
		})
	}()
}

// formatSize is a file size for people, e.g. "1.4 MB".
func formatSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.0f kB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}

// sendChat sends the entry's text off the UI thread; it shows in the
// chat when the relay echoes it.
func (v *callView) sendChat() {
	text := v.chatEntry.Text
	if v.closed || strings.TrimSpace(text) == "" {
		return
	}
	v.chatEntry.SetText("")
	run(v.u, v.ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, v.call.SendChat(ctx, text)
	}, func(_ struct{}, err error) {
		if v.closed {
			return
		}
		if err != nil {
			v.notice.fail("The message was not sent: " + message(err))
			if v.chatEntry.Text == "" {
				v.chatEntry.SetText(text)
			}
		}
	})
}

// pickFile asks for a file and sends it.
func (v *callView) pickFile() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			v.notice.fail("The file could not be opened: " + err.Error())
			return
		}
		if r == nil {
			return
		}
		v.sendFile(r.URI().Name(), r)
	}, v.u.win)
	d.Show()
}

// sendFile uploads r as name off the UI thread, with a progress bar, and
// closes r when done. One file at a time.
func (v *callView) sendFile(name string, r io.ReadCloser) {
	if v.closed || !v.fileBtn.Visible() || v.fileBtn.Disabled() {
		_ = r.Close()
		return
	}
	v.fileBtn.Disable()
	progress := v.showFileProgress("Sending " + name + " …")
	// Uploads may take longer than callTimeout: they end with the view.
	go func() {
		err := v.call.SendFile(v.ctx, name, r, progress)
		_ = r.Close()
		v.u.do(func() {
			if v.closed {
				return
			}
			v.fileBtn.Enable()
			v.fileBox.Hide()
			if err != nil {
				v.notice.fail(name + " was not sent: " + message(err))
				return
			}
			v.notice.ok(name + " was sent.")
		})
	}()
}

// leaveCall leaves the call; the meeting goes on.
func (v *callView) leaveCall() {
	if v.closed {
		return
	}
	v.leave.set(true)
	v.close(false, "")
}

// endMeeting ends the meeting for everyone after confirmation.
func (v *callView) endMeeting() {
	if v.closed || v.end.busy {
		return
	}
	confirm(v.u.win, "End "+meetingName(v.meeting)+"?",
		"Everyone in the meeting and in the waiting room leaves, and the join link stops working.", "End meeting", func() {
			v.end.set(true)
			run(v.u, v.ctx, func(ctx context.Context) (struct{}, error) {
				return struct{}{}, v.u.relay.EndMeeting(ctx, v.meeting.ID)
			}, func(_ struct{}, err error) {
				if v.closed {
					return
				}
				v.end.set(false)
				if err != nil {
					v.notice.fail(message(err))
					return
				}
				v.close(true, "")
			})
		})
}
