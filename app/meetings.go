package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// guestRefresh is how often the waiting room is read while the Meetings
// page is shown and a meeting is open.
const guestRefresh = 3 * time.Second

// meetingsListed is how many of the advisor's meetings the page reads.
const meetingsListed = 50

// openMeeting is the meeting shown in detail: an open meeting with its
// join link (when known) and waiting room.
type openMeeting struct {
	info MeetingInfo
	// link is empty for a meeting whose link was not created in this
	// session: the relay keeps only a hash of it.
	link   JoinLinkInfo
	guests []Guest
}

// meetingsPage lists the advisor's meetings, starts instant meetings,
// shows the open meeting's join link and waiting room, joins its call and
// ends it.
type meetingsPage struct {
	u *UI
	s *session
	// every is the waiting room's refresh interval (guestRefresh; tests
	// shorten it).
	every time.Duration
	// isShown reports whether the page is the workspace's current page;
	// nil means always.
	isShown func() bool

	// list is the advisor's meetings as last read, newest first.
	list []MeetingInfo
	// links are the join links created in this session, by meeting id.
	links   map[string]JoinLinkInfo
	loading bool
	current *openMeeting
	// call is the call view while the advisor is in a call.
	call *callView
	// frameTicks makes the call view's frame ticker; nil means every
	// frameEvery (tests tick by hand).
	frameTicks func() (<-chan time.Time, func())
	// stopPoll ends the refresh goroutine, which closes pollDone when it
	// returns; both nil while not refreshing.
	stopPoll context.CancelFunc
	pollDone chan struct{}
	fetching bool

	title       *widget.Entry
	start       *busyButton
	startStatus statusLabel
	startBox    fyne.CanvasObject

	empty       fyne.CanvasObject
	meetingBox  fyne.CanvasObject
	name        *widget.Label
	detail      *widget.Label
	link        *widget.Label
	noLink      *widget.Label
	copyLink    *widget.Button
	newLink     *busyButton
	joinCall    *busyButton
	end         *busyButton
	status      statusLabel
	guestRows   *fyne.Container
	guestStatus statusLabel
	video       *widget.Label

	listBox fyne.CanvasObject
	// body holds the meeting, the list and its status; it is laid out
	// again after every render.
	body       *fyne.Container
	listRows   *fyne.Container
	listStatus statusLabel

	content fyne.CanvasObject
}

func newMeetingsPage(u *UI, s *session) *meetingsPage {
	p := &meetingsPage{u: u, s: s, every: guestRefresh, links: map[string]JoinLinkInfo{}}

	p.title = widget.NewEntry()
	p.title.SetPlaceHolder("Title (optional), e.g. Baufinanzierung")
	p.title.OnSubmitted = func(string) { p.startMeeting() }
	p.start = newBusyButton("Start instant meeting", theme.MediaVideoIcon(), p.startMeeting)
	p.start.btn.Importance = widget.HighImportance
	p.startStatus = newStatusLabel()
	p.startBox = container.NewVBox(container.NewBorder(nil, nil, nil, p.start.row(), p.title), p.startStatus.Label)

	p.empty = emptyState(theme.MediaVideoIcon(), "No meetings yet",
		"Meetings you start appear here, with their join link and waiting room.")

	p.name = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	p.name.Truncation = fyne.TextTruncateEllipsis
	p.detail = widget.NewLabel("")
	p.detail.Wrapping = fyne.TextWrapWord
	p.link = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	p.link.Selectable = true
	p.link.Truncation = fyne.TextTruncateEllipsis
	p.noLink = widget.NewLabel("Parley keeps only a fingerprint of a link once it was handed out, so it cannot show it again. Create a new link to share it; the earlier one stops working.")
	p.noLink.Wrapping = fyne.TextWrapWord
	p.copyLink = widget.NewButtonWithIcon("Copy link", theme.ContentCopyIcon(), p.copy)
	p.newLink = newBusyButton("New link", theme.ViewRefreshIcon(), p.rotate)
	p.end = newBusyButton("End meeting", theme.MediaStopIcon(), p.endMeeting)
	p.end.btn.Importance = widget.DangerImportance
	actions := container.NewHBox(p.end.row())
	if u.opts.Calls != nil {
		p.joinCall = newBusyButton("Join call", iconCamera, p.join)
		p.joinCall.btn.Importance = widget.HighImportance
		actions = container.NewHBox(p.joinCall.row(), p.end.row())
	}
	p.status = newStatusLabel()
	p.guestRows = container.NewVBox()
	p.guestStatus = newStatusLabel()
	p.video = widget.NewLabel("Video and audio start here once the media part of Parley is ready; for now, admit your guests and talk by phone.")
	p.video.Wrapping = fyne.TextWrapWord
	p.video.Importance = widget.LowImportance
	if p.joinCall != nil {
		p.video.SetText("Join the call to see and hear your guests; you can admit them there too.")
	}

	p.meetingBox = container.NewVBox(
		container.NewBorder(nil, nil, nil, actions, p.name),
		p.detail,
		widget.NewLabelWithStyle("Join link for your customer", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewBorder(nil, nil, nil, container.NewHBox(p.copyLink, p.newLink.row()), container.NewStack(p.link, p.noLink)),
		p.status.Label,
		widget.NewSeparator(),
		widget.NewLabelWithStyle("Waiting room", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		p.guestRows,
		p.guestStatus.Label,
		p.video,
	)
	p.listRows = container.NewVBox()
	p.listStatus = newStatusLabel()
	p.listBox = container.NewVBox(
		widget.NewSeparator(),
		widget.NewLabelWithStyle("Your meetings", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		p.listRows,
	)

	p.body = container.NewVBox(p.meetingBox, p.listBox, p.listStatus.Label)
	body := container.NewStack(p.empty, container.NewVScroll(p.body))
	p.content = container.NewBorder(p.startBox, nil, nil, nil, body)
	p.render()
	return p
}

// others are the listed meetings other than the one shown in detail.
func (p *meetingsPage) others() []MeetingInfo {
	var out []MeetingInfo
	for _, m := range p.list {
		if p.current == nil || m.ID != p.current.info.ID {
			out = append(out, m)
		}
	}
	return out
}

// render shows the empty state, or the open meeting, and the list of the
// other meetings.
func (p *meetingsPage) render() {
	m := p.current
	others := p.others()
	if m == nil && len(others) == 0 {
		p.empty.Show()
	} else {
		p.empty.Hide()
	}
	p.listRows.RemoveAll()
	for _, o := range others {
		p.listRows.Add(p.meetingRow(o))
	}
	if len(others) > 0 {
		p.listBox.Show()
	} else {
		p.listBox.Hide()
	}
	p.title.Enable()
	if !p.start.busy {
		p.start.btn.Enable()
	}
	defer p.body.Refresh()
	if m == nil {
		p.meetingBox.Hide()
		return
	}
	p.name.SetText(meetingName(m.info))
	switch {
	case m.info.Status == MeetingScheduled && !m.info.Scheduled.IsZero():
		p.detail.SetText(fmt.Sprintf("Booked for %s. Anyone with the join link can ask to join, and you decide who comes in.",
			m.info.Scheduled.Local().Format("15:04 on 2 Jan")))
	default:
		p.detail.SetText(fmt.Sprintf("Started at %s. The link works until %s; anyone with it can ask to join, and you decide who comes in.",
			m.info.Created.Local().Format("15:04"), m.info.LinkExpiresAt.Local().Format("15:04 on 2 Jan")))
	}
	if m.link.URL != "" {
		p.link.SetText(m.link.URL)
		p.link.Show()
		p.noLink.Hide()
		p.copyLink.Show()
	} else {
		p.link.Hide()
		p.noLink.Show()
		p.copyLink.Hide()
	}
	p.showGuests()
	p.meetingBox.Show()
}

// meetingRow is one of the advisor's other meetings: its name, when it
// ran, and a button to show it when it is still open.
func (p *meetingsPage) meetingRow(m MeetingInfo) fyne.CanvasObject {
	name := widget.NewLabelWithStyle(meetingName(m), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.Truncation = fyne.TextTruncateEllipsis
	detail := widget.NewLabel(meetingWhen(m))
	detail.Truncation = fyne.TextTruncateEllipsis
	if m.ended() {
		detail.Importance = widget.LowImportance
		return container.NewVBox(name, detail)
	}
	show := widget.NewButton("Show", func() { p.selectMeeting(m) })
	return container.NewBorder(nil, nil, nil, container.NewCenter(show), container.NewVBox(name, detail))
}

// meetingWhen says in a few words when a meeting ran or runs.
func meetingWhen(m MeetingInfo) string {
	day := func(t time.Time) string {
		t = t.Local()
		if y, mo, d := time.Now().Date(); t.Year() == y && t.Month() == mo && t.Day() == d {
			return "today"
		}
		return t.Format("2 Jan")
	}
	switch {
	case m.ended() && !m.Ended.IsZero():
		return fmt.Sprintf("Ended · %s, %s–%s", day(m.Created), m.Created.Local().Format("15:04"), m.Ended.Local().Format("15:04"))
	case m.ended():
		return fmt.Sprintf("Ended · started %s at %s", day(m.Created), m.Created.Local().Format("15:04"))
	case m.Status == MeetingScheduled && !m.Scheduled.IsZero():
		return fmt.Sprintf("Booked · %s at %s", day(m.Scheduled), m.Scheduled.Local().Format("15:04"))
	}
	return fmt.Sprintf("Open · started %s at %s", day(m.Created), m.Created.Local().Format("15:04"))
}

// selectMeeting shows the open meeting m in detail.
func (p *meetingsPage) selectMeeting(m MeetingInfo) {
	p.stopPolling()
	p.current = &openMeeting{info: m, link: p.links[m.ID]}
	p.status.info("")
	p.guestStatus.info("")
	p.render()
	p.loadGuests()
	if p.visible() {
		p.startPolling()
	}
}

// load reads the advisor's meetings off the UI thread. The newest open
// meeting is shown in detail when none is; a shown meeting that ended
// elsewhere is dropped.
func (p *meetingsPage) load() {
	if p.loading {
		return
	}
	u, s := p.u, p.s
	p.loading = true
	run(u, s.ctx, func(ctx context.Context) ([]MeetingInfo, error) {
		return u.relay.Meetings(ctx, meetingsListed)
	}, func(ms []MeetingInfo, err error) {
		p.loading = false
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			p.listStatus.fail("Your meetings could not be read: " + message(err))
			return
		}
		p.listStatus.info("")
		p.list = ms
		if m := p.current; m != nil {
			for _, x := range ms {
				if x.ID == m.info.ID {
					m.info = x
				}
			}
			if m.info.ended() {
				p.stopPolling()
				p.current = nil
			}
		}
		if p.current == nil {
			for _, x := range ms {
				if !x.ended() {
					p.selectMeeting(x)
					return
				}
			}
		}
		p.render()
	})
}

func meetingName(m MeetingInfo) string {
	if m.Title != "" {
		return m.Title
	}
	return "Instant meeting"
}

// shown reads the advisor's meetings and starts refreshing the waiting
// room while a meeting is open.
func (p *meetingsPage) shown() {
	if p.call != nil {
		return
	}
	p.load()
	if p.current != nil {
		p.loadGuests()
		p.startPolling()
	}
}

// visible reports whether the page is on screen (not covered by a call).
func (p *meetingsPage) visible() bool { return p.call == nil && (p.isShown == nil || p.isShown()) }

// startPolling starts the goroutine that asks for a waiting-room refresh
// every p.every. It stops when stopPolling is called, when the session
// ends, or at the first tick after the page was left.
func (p *meetingsPage) startPolling() {
	if p.stopPoll != nil || p.current == nil {
		return
	}
	ctx, cancel := context.WithCancel(p.s.ctx)
	done := make(chan struct{})
	p.stopPoll, p.pollDone = cancel, done
	every := p.every
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.u.do(func() {
					if ctx.Err() == nil {
						p.tick()
					}
				})
			}
		}
	}()
}

// stopPolling ends the refresh goroutine, if one runs.
func (p *meetingsPage) stopPolling() {
	if p.stopPoll != nil {
		p.stopPoll()
		p.stopPoll = nil
	}
}

// tick runs on the UI thread at every refresh interval.
func (p *meetingsPage) tick() {
	if p.current == nil || !p.visible() {
		p.stopPolling()
		return
	}
	p.loadGuests()
}

// loadGuests reads the open meeting's guests off the UI thread, unless a
// read is already under way.
func (p *meetingsPage) loadGuests() {
	m := p.current
	if m == nil || p.fetching {
		return
	}
	u, s := p.u, p.s
	p.fetching = true
	id := m.info.ID // m.info changes on the UI thread
	run(u, s.ctx, func(ctx context.Context) ([]Guest, error) {
		return u.relay.Guests(ctx, id)
	}, func(gs []Guest, err error) {
		p.fetching = false
		if s.ctx.Err() != nil || p.current != m {
			return
		}
		if err != nil {
			p.guestStatus.fail("The waiting room could not be read: " + message(err))
			return
		}
		if !slices.Equal(gs, m.guests) || len(p.guestRows.Objects) == 0 {
			m.guests = gs
			p.showGuests()
		}
		p.guestStatus.info(guestSummary(gs))
		p.body.Refresh()
	})
}

// guestSummary says in a few words who is there.
func guestSummary(gs []Guest) string {
	waiting, in := 0, 0
	for _, g := range gs {
		switch g.State {
		case GuestWaiting:
			waiting++
		case GuestAdmitted:
			in++
		}
	}
	switch {
	case waiting == 0 && in == 0:
		return "No one is waiting. Guests appear here when they open the link."
	case waiting == 0:
		return fmt.Sprintf("%d in the meeting, no one waiting.", in)
	}
	return fmt.Sprintf("%d waiting, %d in the meeting.", waiting, in)
}

// stateText is how a guest's state reads in the list.
var stateText = map[string]string{
	GuestWaiting:  "waiting",
	GuestAdmitted: "admitted",
	GuestRejected: "turned away",
	GuestRemoved:  "removed",
	GuestEnded:    "left when the meeting ended",
	GuestLeft:     "left",
}

// showGuests rebuilds the waiting-room rows from the open meeting.
func (p *meetingsPage) showGuests() {
	m := p.current
	p.guestRows.RemoveAll()
	if m == nil {
		return
	}
	for _, g := range m.guests {
		p.guestRows.Add(p.guestRow(m, g))
	}
	p.guestRows.Refresh()
}

// guestRow is one guest: name, phone if given, state, and what can be
// done now.
func (p *meetingsPage) guestRow(m *openMeeting, g Guest) fyne.CanvasObject {
	id := m.info.ID // m.info changes on the UI thread
	name := widget.NewLabelWithStyle(g.Name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.Truncation = fyne.TextTruncateEllipsis
	parts := []string{}
	if g.Phone != "" {
		parts = append(parts, g.Phone)
	}
	st, ok := stateText[g.State]
	if !ok {
		st = g.State
	}
	parts = append(parts, st)
	if !g.Joined.IsZero() {
		parts = append(parts, "since "+g.Joined.Local().Format("15:04"))
	}
	detail := widget.NewLabel(strings.Join(parts, " · "))
	detail.Truncation = fyne.TextTruncateEllipsis
	if g.State != GuestWaiting && g.State != GuestAdmitted {
		detail.Importance = widget.LowImportance
	}
	act := widget.NewActivity()
	act.Hide()
	var buttons []*widget.Button
	action := func(label string, icon fyne.Resource, done string, call func(context.Context, string, string) error) {
		b := widget.NewButtonWithIcon(label, icon, func() {
			for _, o := range buttons {
				o.Disable()
			}
			act.Show()
			act.Start()
			u, s := p.u, p.s
			run(u, s.ctx, func(ctx context.Context) (struct{}, error) {
				return struct{}{}, call(ctx, id, g.ID)
			}, func(_ struct{}, err error) {
				if s.ctx.Err() != nil || p.current != m {
					return
				}
				act.Stop()
				act.Hide()
				for _, o := range buttons {
					o.Enable()
				}
				if err != nil {
					p.guestStatus.fail(message(err))
				} else {
					p.status.ok(g.Name + " " + done + ".")
				}
				p.loadGuests()
			})
		})
		buttons = append(buttons, b)
	}
	rel := p.u.relay
	switch g.State {
	case GuestWaiting:
		action("Admit", theme.ConfirmIcon(), "is admitted", rel.AdmitGuest)
		buttons[0].Importance = widget.HighImportance
		action("Turn away", theme.CancelIcon(), "was turned away", rel.TurnAwayGuest)
	case GuestAdmitted:
		action("Remove", theme.ContentRemoveIcon(), "was removed from the meeting", rel.RemoveGuest)
	}
	right := container.NewHBox(act)
	for _, b := range buttons {
		right.Add(b)
	}
	return container.NewBorder(nil, nil, nil, right, container.NewVBox(name, detail))
}

// startMeeting creates an instant meeting off the UI thread and shows it.
func (p *meetingsPage) startMeeting() {
	if p.start.busy {
		return
	}
	u, s := p.u, p.s
	title := strings.TrimSpace(p.title.Text)
	p.start.set(true)
	p.startStatus.info("Starting the meeting …")
	run(u, s.ctx, func(ctx context.Context) (openMeeting, error) {
		info, link, err := u.relay.StartMeeting(ctx, title)
		return openMeeting{info: info, link: link}, err
	}, func(m openMeeting, err error) {
		if s.ctx.Err() != nil {
			return
		}
		p.start.set(false)
		if err != nil {
			p.startStatus.fail(message(err))
			p.render()
			return
		}
		p.startStatus.info("")
		p.title.SetText("")
		p.stopPolling()
		p.links[m.info.ID] = m.link
		p.list = append([]MeetingInfo{m.info}, slices.DeleteFunc(p.list, func(x MeetingInfo) bool { return x.ID == m.info.ID })...)
		p.current = &m
		p.status.ok("The meeting is open. Copy the link and send it to your customer.")
		p.guestStatus.info(guestSummary(nil))
		p.render()
		if p.visible() {
			p.startPolling()
		}
	})
}

// copy puts the join link on the clipboard.
func (p *meetingsPage) copy() {
	if p.current == nil {
		return
	}
	p.u.app.Clipboard().SetContent(p.current.link.URL)
	p.status.ok("Link copied. Paste it into an e-mail or message to your customer.")
}

// rotate replaces the join link off the UI thread.
func (p *meetingsPage) rotate() {
	m := p.current
	if m == nil || p.newLink.busy {
		return
	}
	u, s := p.u, p.s
	p.newLink.set(true)
	id := m.info.ID
	run(u, s.ctx, func(ctx context.Context) (JoinLinkInfo, error) {
		return u.relay.NewJoinLink(ctx, id)
	}, func(l JoinLinkInfo, err error) {
		if s.ctx.Err() != nil {
			return
		}
		p.newLink.set(false)
		if p.current != m {
			return
		}
		if err != nil {
			p.status.fail(message(err))
			return
		}
		m.link = l
		p.links[id] = l
		p.render()
		p.status.ok("New link created; the previous link no longer works.")
	})
}

// endMeeting ends the open meeting after confirmation.
func (p *meetingsPage) endMeeting() {
	m := p.current
	if m == nil || p.end.busy {
		return
	}
	id := m.info.ID
	confirm(p.u.win, "End "+meetingName(m.info)+"?",
		"Everyone in the meeting and in the waiting room leaves, and the join link stops working.", "End meeting", func() {
			u, s := p.u, p.s
			p.end.set(true)
			run(u, s.ctx, func(ctx context.Context) (struct{}, error) {
				return struct{}{}, u.relay.EndMeeting(ctx, id)
			}, func(_ struct{}, err error) {
				if s.ctx.Err() != nil {
					return
				}
				p.end.set(false)
				if p.current != m {
					return
				}
				if err != nil {
					p.status.fail(message(err))
					return
				}
				p.stopPolling()
				p.ended(m.info.ID)
				p.startStatus.ok(meetingName(m.info) + " has ended; its link no longer works.")
			})
		})
}

// ended marks the meeting with the given id as ended in the list, stops
// showing it, and reads the list again.
func (p *meetingsPage) ended(id string) {
	for i := range p.list {
		if p.list[i].ID == id && !p.list[i].ended() {
			p.list[i].Status, p.list[i].Ended = MeetingEnded, time.Now()
		}
	}
	delete(p.links, id)
	if p.current != nil && p.current.info.ID == id {
		p.stopPolling()
		p.current = nil
	}
	p.showGuests()
	p.render()
	p.load()
}

// join joins the shown meeting's call off the UI thread and shows the
// call view in the window until the advisor leaves.
func (p *meetingsPage) join() {
	m := p.current
	if m == nil || p.joinCall == nil || p.joinCall.busy || p.call != nil {
		return
	}
	u, s := p.u, p.s
	p.joinCall.set(true)
	p.status.info("Joining the call …")
	id := m.info.ID
	run(u, s.ctx, func(ctx context.Context) (Call, error) {
		return u.opts.Calls.JoinCall(ctx, id)
	}, func(c Call, err error) {
		if s.ctx.Err() != nil {
			if c != nil {
				go func() { _ = c.Leave() }()
			}
			return
		}
		p.joinCall.set(false)
		if err != nil {
			p.status.fail("The call could not be joined: " + message(err))
			return
		}
		p.status.info("")
		p.stopPolling()
		p.call = newCallView(u, s, m.info, c, p.frameTicks, func(ended bool, note string) {
			p.call = nil
			if s.ctx.Err() != nil {
				return
			}
			u.setContent(s.work.content, nil)
			if ended {
				p.ended(m.info.ID)
				p.startStatus.ok(meetingName(m.info) + " has ended; its link no longer works.")
				return
			}
			if note != "" {
				p.status.info(note)
			}
			p.shown()
		})
		u.setContent(p.call.content, p.call.chatEntry)
	})
}
