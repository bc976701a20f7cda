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

// openMeeting is a meeting started in this session that has not ended.
type openMeeting struct {
	info   MeetingInfo
	link   JoinLinkInfo
	guests []Guest
}

// meetingsPage starts instant meetings, shows their join link and the
// waiting room, and ends them. The relay has no list of an advisor's
// meetings yet, so the page knows only the meetings started in this
// session.
type meetingsPage struct {
	u *UI
	s *session
	// every is the waiting room's refresh interval (guestRefresh; tests
	// shorten it).
	every time.Duration
	// isShown reports whether the page is the workspace's current page;
	// nil means always.
	isShown func() bool

	current *openMeeting
	ended   []string // one line per meeting ended in this session
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
	copyLink    *widget.Button
	newLink     *busyButton
	end         *busyButton
	status      statusLabel
	guestRows   *fyne.Container
	guestStatus statusLabel
	endedList   *widget.Label

	content fyne.CanvasObject
}

func newMeetingsPage(u *UI, s *session) *meetingsPage {
	p := &meetingsPage{u: u, s: s, every: guestRefresh}

	p.title = widget.NewEntry()
	p.title.SetPlaceHolder("Title (optional), e.g. Baufinanzierung")
	p.title.OnSubmitted = func(string) { p.startMeeting() }
	p.start = newBusyButton("Start instant meeting", theme.MediaVideoIcon(), p.startMeeting)
	p.start.btn.Importance = widget.HighImportance
	p.startStatus = newStatusLabel()
	p.startBox = container.NewVBox(container.NewBorder(nil, nil, nil, p.start.row(), p.title), p.startStatus.Label)

	p.empty = emptyState(theme.MediaVideoIcon(), "No meetings yet",
		"Meetings you start appear here, with their join link and waiting room. Parley shows the meetings started since you signed in.")

	p.name = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	p.name.Truncation = fyne.TextTruncateEllipsis
	p.detail = widget.NewLabel("")
	p.detail.Wrapping = fyne.TextWrapWord
	p.link = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	p.link.Selectable = true
	p.link.Truncation = fyne.TextTruncateEllipsis
	p.copyLink = widget.NewButtonWithIcon("Copy link", theme.ContentCopyIcon(), p.copy)
	p.newLink = newBusyButton("New link", theme.ViewRefreshIcon(), p.rotate)
	p.end = newBusyButton("End meeting", theme.MediaStopIcon(), p.endMeeting)
	p.end.btn.Importance = widget.DangerImportance
	p.status = newStatusLabel()
	p.guestRows = container.NewVBox()
	p.guestStatus = newStatusLabel()
	video := widget.NewLabel("Video and audio start here once the media part of Parley is ready; for now, admit your guests and talk by phone.")
	video.Wrapping = fyne.TextWrapWord
	video.Importance = widget.LowImportance

	p.meetingBox = container.NewVBox(
		container.NewBorder(nil, nil, nil, p.end.row(), p.name),
		p.detail,
		widget.NewLabelWithStyle("Join link for your customer", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewBorder(nil, nil, nil, container.NewHBox(p.copyLink, p.newLink.row()), p.link),
		p.status.Label,
		widget.NewSeparator(),
		widget.NewLabelWithStyle("Waiting room", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		p.guestRows,
		p.guestStatus.Label,
		video,
	)
	p.endedList = widget.NewLabel("")
	p.endedList.Wrapping = fyne.TextWrapWord
	p.endedList.Hide()

	body := container.NewStack(p.empty, container.NewVScroll(container.NewVBox(p.meetingBox, p.endedList)))
	p.content = container.NewBorder(p.startBox, nil, nil, nil, body)
	p.render()
	return p
}

// render shows the empty state, or the open meeting, and the list of ended
// meetings.
func (p *meetingsPage) render() {
	m := p.current
	if m == nil && len(p.ended) == 0 {
		p.empty.Show()
	} else {
		p.empty.Hide()
	}
	if len(p.ended) > 0 {
		p.endedList.SetText("Ended since you signed in:\n" + strings.Join(p.ended, "\n"))
		p.endedList.Show()
	}
	if m == nil {
		p.meetingBox.Hide()
		p.title.Enable()
		if !p.start.busy {
			p.start.btn.Enable()
		}
		return
	}
	p.title.Disable()
	p.start.btn.Disable()
	p.name.SetText(meetingName(m.info))
	p.detail.SetText(fmt.Sprintf("Started at %s. The link works until %s; anyone with it can ask to join, and you decide who comes in.",
		m.info.Created.Local().Format("15:04"), m.info.LinkExpiresAt.Local().Format("15:04 on 2 Jan")))
	p.link.SetText(m.link.URL)
	p.showGuests()
	p.meetingBox.Show()
}

func meetingName(m MeetingInfo) string {
	if m.Title != "" {
		return m.Title
	}
	return "Instant meeting"
}

// shown starts refreshing the waiting room while a meeting is open.
func (p *meetingsPage) shown() {
	if p.current != nil {
		p.loadGuests()
		p.startPolling()
	}
}

func (p *meetingsPage) visible() bool { return p.isShown == nil || p.isShown() }

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
	run(u, s.ctx, func(ctx context.Context) ([]Guest, error) {
		return u.relay.Guests(ctx, m.info.ID)
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
				return struct{}{}, call(ctx, m.info.ID, g.ID)
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

// startMeeting creates an instant meeting off the UI thread.
func (p *meetingsPage) startMeeting() {
	if p.start.busy || p.current != nil {
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
	run(u, s.ctx, func(ctx context.Context) (JoinLinkInfo, error) {
		return u.relay.NewJoinLink(ctx, m.info.ID)
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
		p.link.SetText(l.URL)
		p.status.ok("New link created; the previous link no longer works.")
	})
}

// endMeeting ends the open meeting after confirmation.
func (p *meetingsPage) endMeeting() {
	m := p.current
	if m == nil || p.end.busy {
		return
	}
	confirm(p.u.win, "End "+meetingName(m.info)+"?",
		"Everyone in the meeting and in the waiting room leaves, and the join link stops working.", "End meeting", func() {
			u, s := p.u, p.s
			p.end.set(true)
			run(u, s.ctx, func(ctx context.Context) (struct{}, error) {
				return struct{}{}, u.relay.EndMeeting(ctx, m.info.ID)
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
				p.current = nil
				p.ended = append(p.ended, fmt.Sprintf("%s · %s–%s", meetingName(m.info),
					m.info.Created.Local().Format("15:04"), time.Now().Format("15:04")))
				p.showGuests()
				p.render()
				p.startStatus.ok(meetingName(m.info) + " has ended; its link no longer works.")
			})
		})
}
