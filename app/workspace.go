package app

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// page is one entry of the workspace's navigation.
type page struct {
	title string
	icon  fyne.Resource
	// build makes the page's content the first time it is shown.
	build func() fyne.CanvasObject
	// shown is called each time the page is shown, after build.
	shown func()
}

// workspace is the signed-in screen: navigation, content, status bar.
type workspace struct {
	u       *UI
	s       *session
	pages   []*page
	built   map[*page]fyne.CanvasObject
	current *page
	nav     *widget.List
	body    *fyne.Container
	conn    *widget.Label
	note    *widget.Label
	user    *widget.Label
	meet    *meetingsPage
	team    *teamPage
	audit   *auditPage
	// cal, cust and book are the booking pages; nil without
	// Options.Booking.
	// inbox is the Inbox page; nil without Options.Inbox.
	inbox *inboxPage
	// docs is the Signatures page; nil without Options.Signing.
	docs    *documentsPage
	cal     *calendarPage
	cust    *customersPage
	book    *bookingPage
	content fyne.CanvasObject
}

// newWorkspace builds the workspace for s; admins get the Team and Audit
// log pages.
func newWorkspace(u *UI, s *session) *workspace {
	w := &workspace{u: u, s: s, built: map[*page]fyne.CanvasObject{}}
	w.meet = newMeetingsPage(u, s)
	meetings := &page{title: "Meetings", icon: theme.MediaVideoIcon(),
		build: func() fyne.CanvasObject { return titled("Meetings", w.meet.content) },
		shown: w.meet.shown,
	}
	w.meet.isShown = func() bool { return w.current == meetings }
	w.pages = []*page{
		meetings,
		w.calendarPage(),
		w.inboxPage(),
		w.customersPage(),
		w.signaturesPage(),
		{title: "Settings", icon: theme.SettingsIcon(), build: func() fyne.CanvasObject {
			return titled("Settings", newSettingsPage(u, s))
		}},
	}
	if br := u.opts.Booking; br != nil {
		w.book = newBookingPage(u, s, br)
		// After Customers, before Signatures.
		at := slices.IndexFunc(w.pages, func(p *page) bool { return p.title == "Customers" }) + 1
		w.pages = slices.Insert(w.pages, at, &page{title: "Booking", icon: theme.HistoryIcon(),
			build: func() fyne.CanvasObject { return titled("Booking", w.book.content) },
			shown: w.book.shown,
		})
	}
	if s.account.Role == "admin" {
		w.team = newTeamPage(u, s)
		w.pages = append(w.pages, &page{title: "Team", icon: teamIcon,
			build: func() fyne.CanvasObject { return titled("Team", w.team.content) },
			shown: w.team.shown,
		})
		w.audit = newAuditPage(u, s)
		w.pages = append(w.pages, &page{title: "Audit log", icon: theme.ListIcon(),
			build: func() fyne.CanvasObject { return titled("Audit log", w.audit.content) },
			shown: w.audit.shown,
		})
	}

	w.nav = widget.NewList(
		func() int { return len(w.pages) },
		func() fyne.CanvasObject {
			return container.NewHBox(widget.NewIcon(theme.DocumentIcon()), widget.NewLabel("Signatures"))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			row := o.(*fyne.Container)
			row.Objects[0].(*widget.Icon).SetResource(w.pages[id].icon)
			row.Objects[1].(*widget.Label).SetText(w.pages[id].title)
		},
	)
	w.nav.OnSelected = func(id widget.ListItemID) { w.show(w.pages[id]) }
	w.body = container.NewStack()

	w.conn = widget.NewLabel(connectedText(s.addr, s.transport))
	w.conn.Truncation = fyne.TextTruncateEllipsis
	w.note = widget.NewLabel("")
	w.note.Importance = widget.SuccessImportance
	w.user = widget.NewLabelWithStyle(s.account.DisplayName+" · "+roleName(s.account.Role),
		fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
	bar := container.NewBorder(widget.NewSeparator(), nil,
		widget.NewIcon(theme.NewSuccessThemedResource(theme.ConfirmIcon())),
		container.NewHBox(w.note, widget.NewIcon(theme.AccountIcon()), w.user),
		w.conn)

	side := container.NewBorder(nil, nil, nil, widget.NewSeparator(), withMinWidth(190, w.nav))
	w.content = container.NewBorder(nil, bar, side, nil, w.body)
	w.nav.Select(0)
	return w
}

// calendarPage is the Calendar entry: the booking calendar, or a
// placeholder without Options.Booking.
func (w *workspace) calendarPage() *page {
	br := w.u.opts.Booking
	if br == nil {
		return &page{title: "Calendar", icon: theme.CalendarIcon(), build: func() fyne.CanvasObject {
			return titled("Calendar", emptyState(theme.CalendarIcon(), "No appointments yet",
				"Appointments that customers book with you, and your availability, will appear here."))
		}}
	}
	w.cal = newCalendarPage(w.u, w.s, br)
	w.cal.onJoin = w.openMeeting
	return &page{title: "Calendar", icon: theme.CalendarIcon(),
		build: func() fyne.CanvasObject { return titled("Calendar", w.cal.content) },
		shown: w.cal.shown,
	}
}

// inboxPage is the Inbox entry: the conversations of every channel, or
// a placeholder without Options.Inbox. The inbox starts syncing at once,
// so that notifications arrive whichever page is shown.
func (w *workspace) inboxPage() *page {
	in := w.u.opts.Inbox
	if in == nil {
		return &page{title: "Inbox", icon: theme.MailComposeIcon(), build: func() fyne.CanvasObject {
			return titled("Inbox", emptyState(theme.MailComposeIcon(), "Your inbox is empty",
				"Customer messages from the contact form, chat, WhatsApp, Telegram, Messenger and SMS will arrive here."))
		}}
	}
	w.inbox = newInboxPage(w.u, w.s, in)
	p := &page{title: "Inbox", icon: theme.MailComposeIcon(),
		build: func() fyne.CanvasObject { return titled("Inbox", w.inbox.content) },
		shown: w.inbox.shown,
	}
	w.inbox.isShown = func() bool { return w.current == p }
	w.inbox.start()
	return p
}

// signaturesPage is the Signatures entry: the advisor's documents for
// e-signature, or a placeholder without Options.Signing.
func (w *workspace) signaturesPage() *page {
	sr := w.u.opts.Signing
	if sr == nil {
		return &page{title: "Signatures", icon: theme.DocumentCreateIcon(), build: func() fyne.CanvasObject {
			return titled("Signatures", emptyState(theme.DocumentCreateIcon(), "No documents to sign",
				"Documents you prepare for e-signature, in a meeting, at the kiosk or by link, will appear here with their status."))
		}}
	}
	w.docs = newDocumentsPage(w.u, w.s, sr, w.u.opts.Booking)
	return &page{title: "Signatures", icon: theme.DocumentCreateIcon(),
		build: func() fyne.CanvasObject { return titled("Documents for signature", w.docs.content) },
		shown: w.docs.shown,
	}
}

// customersPage is the Customers entry: the customer list and profiles, or
// a placeholder without Options.Booking.
func (w *workspace) customersPage() *page {
	br := w.u.opts.Booking
	if br == nil {
		return &page{title: "Customers", icon: theme.AccountIcon(), build: func() fyne.CanvasObject {
			return titled("Customers", emptyState(theme.AccountIcon(), "No customers yet",
				"Customer profiles with their past and upcoming meetings will appear here."))
		}}
	}
	w.cust = newCustomersPage(w.u, w.s, br)
	return &page{title: "Customers", icon: theme.AccountIcon(),
		build: func() fyne.CanvasObject { return titled("Customers", w.cust.content) },
		shown: w.cust.shown,
	}
}

// openMeeting shows a booked meeting on the Meetings page, where the
// advisor can share its link, admit guests and join the call.
func (w *workspace) openMeeting(m MeetingInfo) {
	for _, x := range w.meet.list {
		if x.ID == m.ID {
			m = x
		}
	}
	w.meet.selectMeeting(m)
	w.selectPage("Meetings")
}

// show makes p the visible page, building it the first time.
func (w *workspace) show(p *page) {
	o, ok := w.built[p]
	if !ok {
		o = p.build()
		w.built[p] = o
	}
	w.current = p
	w.body.Objects = []fyne.CanvasObject{o}
	w.body.Refresh()
	if p.shown != nil {
		p.shown()
	}
}

// selectPage selects the navigation entry titled title, if there is one.
func (w *workspace) selectPage(title string) bool {
	for i, p := range w.pages {
		if p.title == title {
			w.nav.Select(i)
			return true
		}
	}
	return false
}

// notify shows a short message in the status bar.
func (w *workspace) notify(msg string) { w.note.SetText(msg) }

// titled puts a page title above body.
func titled(title string, body fyne.CanvasObject) fyne.CanvasObject {
	return container.NewBorder(container.NewPadded(heading(title)), nil, nil, nil, container.NewPadded(body))
}

// emptyState is a friendly placeholder: an icon, a title and one line of
// explanation of what will appear on the page.
func emptyState(icon fyne.Resource, title, text string) fyne.CanvasObject {
	img := canvas.NewImageFromResource(theme.NewPrimaryThemedResource(icon))
	img.FillMode = canvas.ImageFillContain
	img.SetMinSize(fyne.NewSize(72, 72))
	t := widget.NewLabelWithStyle(title, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	l := widget.NewLabel(text)
	l.Alignment = fyne.TextAlignCenter
	l.Wrapping = fyne.TextWrapWord
	return container.NewCenter(column(420, img, t, l))
}
