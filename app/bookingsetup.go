package app

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// bookingPage is the workspace's Booking page: availability, appointment
// types, and the links and calendars (booking page, ICS feed, calendars
// that block slots), each on its own tab.
type bookingPage struct {
	avail *availabilityEditor
	types *typesEditor
	links *linksTab
	tabs  *container.AppTabs

	content fyne.CanvasObject
}

func newBookingPage(u *UI, s *session, br BookingRelay) *bookingPage {
	b := &bookingPage{
		avail: newAvailabilityEditor(u, s, br),
		types: newTypesEditor(u, s, br),
		links: newLinksTab(u, s, br),
	}
	b.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Availability", theme.HistoryIcon(), b.avail.content),
		container.NewTabItemWithIcon("Appointment types", theme.ListIcon(), b.types.content),
		container.NewTabItemWithIcon("Links and calendars", theme.MailForwardIcon(), b.links.content),
	)
	b.tabs.OnSelected = func(*container.TabItem) { b.shownTab() }
	b.content = b.tabs
	return b
}

// shown reads what the current tab shows.
func (b *bookingPage) shown() { b.shownTab() }

func (b *bookingPage) shownTab() {
	switch b.tabs.SelectedIndex() {
	case 0:
		b.avail.shown()
	case 1:
		b.types.shown()
	case 2:
		b.links.shown()
	}
}

// linksTab shows the booking page link, the calendar feed, and the
// calendars whose busy times block slots.
type linksTab struct {
	u  *UI
	s  *session
	br BookingRelay

	loaded bool
	page   BookingPageInfo
	feed   string

	pageURL    *widget.Label
	pageCopy   *widget.Button
	pageEnable *busyButton
	pageStatus statusLabel

	feedURL    *widget.Label
	feedNone   *widget.Label
	feedCopy   *widget.Button
	feedRotate *busyButton
	feedStatus statusLabel

	sources    []CalendarSource
	srcRows    *fyne.Container
	srcKind    *widget.Select
	srcURL     *widget.Entry
	srcLabel   *widget.Entry
	srcUser    *widget.Entry
	srcPass    *widget.Entry
	srcAdd     *busyButton
	srcStatus  statusLabel
	srcRefresh *widget.Button

	content fyne.CanvasObject
}

func newLinksTab(u *UI, s *session, br BookingRelay) *linksTab {
	l := &linksTab{u: u, s: s, br: br}
	mono := func() *widget.Label {
		x := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		x.Selectable = true
		x.Truncation = fyne.TextTruncateEllipsis
		return x
	}
	bold := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	wrap := func(s string) *widget.Label {
		x := widget.NewLabel(s)
		x.Wrapping = fyne.TextWrapWord
		return x
	}
	l.pageURL = mono()
	l.pageCopy = widget.NewButtonWithIcon("Copy booking link", theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(l.page.URL)
		l.pageStatus.ok("Booking link copied. Put it in your e-mail signature or on your website.")
	})
	l.pageEnable = newBusyButton("Turn on booking page", theme.ConfirmIcon(), l.enablePage)
	l.pageEnable.btn.Importance = widget.HighImportance
	l.pageStatus = newStatusLabel()

	l.feedURL = mono()
	l.feedNone = wrap("The address is shown only once, when it is made. Make a new address to copy it; the old one then stops working.")
	l.feedCopy = widget.NewButtonWithIcon("Copy feed address", theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(l.feed)
		l.feedStatus.ok("Feed address copied. Subscribe to it in Outlook, Google or Apple Calendar.")
	})
	l.feedRotate = newBusyButton("New feed address", theme.ViewRefreshIcon(), l.rotateFeed)
	l.feedStatus = newStatusLabel()

	l.srcRows = container.NewVBox()
	l.srcKind = widget.NewSelect([]string{"ICS address", "CalDAV"}, func(v string) {
		if v == "CalDAV" {
			l.srcUser.Enable()
			l.srcPass.Enable()
		} else {
			l.srcUser.Disable()
			l.srcPass.Disable()
		}
	})
	l.srcURL = widget.NewEntry()
	l.srcURL.SetPlaceHolder("https://calendar.example.org/…")
	l.srcLabel = widget.NewEntry()
	l.srcLabel.SetPlaceHolder("e.g. Office calendar")
	l.srcUser = widget.NewEntry()
	l.srcPass = widget.NewPasswordEntry()
	l.srcKind.SetSelected("ICS address")
	l.srcAdd = newBusyButton("Add calendar", theme.ContentAddIcon(), l.addSource)
	l.srcStatus = newStatusLabel()
	l.srcRefresh = widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), l.load)

	l.content = container.NewVScroll(container.NewVBox(
		bold("Booking page"),
		wrap("Customers book with you on this page. They choose an appointment type and a free time; you get every booking in your calendar."),
		container.NewBorder(nil, nil, nil, container.NewHBox(l.pageCopy, l.pageEnable.row()), l.pageURL),
		l.pageStatus.Label,
		widget.NewSeparator(),
		bold("Calendar feed"),
		wrap("Your appointments as a calendar subscription. Anyone with the address can read them: if it got out, make a new one; the old one stops working."),
		container.NewBorder(nil, nil, nil, container.NewHBox(l.feedCopy, l.feedRotate.row()), container.NewStack(l.feedURL, l.feedNone)),
		l.feedStatus.Label,
		widget.NewSeparator(),
		container.NewBorder(nil, nil, bold("Calendars that block times"), l.srcRefresh),
		wrap("Busy times in these calendars are not offered to customers. The relay reads them regularly."),
		l.srcRows,
		widget.NewForm(
			widget.NewFormItem("Kind", l.srcKind),
			widget.NewFormItem("Address", l.srcURL),
			widget.NewFormItem("Name", l.srcLabel),
			widget.NewFormItem("Username", l.srcUser),
			widget.NewFormItem("Password", l.srcPass),
		),
		container.NewHBox(l.srcAdd.row()),
		l.srcStatus.Label,
	))
	l.showPage()
	l.showFeed()
	return l
}

// shown reads the links and calendars the first time.
func (l *linksTab) shown() {
	if !l.loaded {
		l.load()
	}
}

// linksState is what load reads.
type linksState struct {
	page       BookingPageInfo
	pageErr    error
	feed       string
	feedErr    error
	sources    []CalendarSource
	sourcesErr error
}

// load reads the page, the feed and the sources off the UI thread.
func (l *linksTab) load() {
	u, s, br := l.u, l.s, l.br
	l.loaded = true
	run(u, s.ctx, func(ctx context.Context) (linksState, error) {
		var st linksState
		st.page, st.pageErr = br.BookingPage(ctx)
		st.feed, st.feedErr = br.CalendarFeed(ctx)
		st.sources, st.sourcesErr = br.CalendarSources(ctx)
		return st, nil
	}, func(st linksState, _ error) {
		if s.ctx.Err() != nil {
			return
		}
		if st.pageErr != nil {
			l.pageStatus.fail("Your booking page could not be read: " + message(st.pageErr))
		} else {
			l.page = st.page
			l.pageStatus.info("")
			l.showPage()
		}
		if st.feedErr != nil {
			l.feedStatus.fail("Your calendar feed could not be read: " + message(st.feedErr))
		} else {
			l.feed = st.feed
			l.feedStatus.info("")
			l.showFeed()
		}
		if st.sourcesErr != nil {
			l.srcStatus.fail("Your calendars could not be read: " + message(st.sourcesErr))
		} else {
			l.sources = st.sources
			l.srcStatus.info("")
			l.showSources()
		}
		if st.pageErr != nil || st.feedErr != nil || st.sourcesErr != nil {
			l.loaded = false
		}
	})
}

func (l *linksTab) showPage() {
	if l.page.Enabled && l.page.URL != "" {
		l.pageURL.SetText(l.page.URL)
		l.pageCopy.Show()
		l.pageEnable.btn.Hide()
		return
	}
	l.pageURL.SetText("Not turned on yet.")
	l.pageCopy.Hide()
	l.pageEnable.btn.Show()
}

func (l *linksTab) showFeed() {
	if l.feed == "" {
		l.feedURL.Hide()
		l.feedNone.Show()
		l.feedCopy.Hide()
		return
	}
	l.feedURL.SetText(l.feed)
	l.feedURL.Show()
	l.feedNone.Hide()
	l.feedCopy.Show()
}

// enablePage turns the booking page on, off the UI thread.
func (l *linksTab) enablePage() {
	if l.pageEnable.busy {
		return
	}
	u, s, br := l.u, l.s, l.br
	l.pageEnable.set(true)
	run(u, s.ctx, func(ctx context.Context) (BookingPageInfo, error) {
		return br.EnableBookingPage(ctx)
	}, func(p BookingPageInfo, err error) {
		if s.ctx.Err() != nil {
			return
		}
		l.pageEnable.set(false)
		if err != nil {
			l.pageStatus.fail(message(err))
			return
		}
		l.page = p
		l.showPage()
		l.pageStatus.ok("Your booking page is on. Copy the link and share it.")
	})
}

// rotateFeed replaces the feed address after confirmation.
func (l *linksTab) rotateFeed() {
	if l.feedRotate.busy {
		return
	}
	confirm(l.u.win, "Make a new feed address?",
		"Calendars subscribed to the current address stop receiving your appointments until you subscribe them to the new one.",
		"New feed address", func() {
			u, s, br := l.u, l.s, l.br
			l.feedRotate.set(true)
			run(u, s.ctx, func(ctx context.Context) (string, error) {
				return br.RotateCalendarFeed(ctx)
			}, func(feed string, err error) {
				if s.ctx.Err() != nil {
					return
				}
				l.feedRotate.set(false)
				if err != nil {
					l.feedStatus.fail(message(err))
					return
				}
				l.feed = feed
				l.showFeed()
				l.feedStatus.ok("New feed address made; the previous one no longer works.")
			})
		})
}

// showSources lists the calendars with their last sync and error.
func (l *linksTab) showSources() {
	l.srcRows.RemoveAll()
	if len(l.sources) == 0 {
		none := widget.NewLabel("No calendars added.")
		none.Importance = widget.LowImportance
		l.srcRows.Add(none)
	}
	for _, src := range l.sources {
		l.srcRows.Add(l.sourceRow(src))
	}
	l.srcRows.Refresh()
}

// sourceRow is one calendar: its name, kind and host, last sync, error,
// and Remove.
func (l *linksTab) sourceRow(src CalendarSource) fyne.CanvasObject {
	name := src.Label
	if name == "" {
		name = hostOf(src.URL)
	}
	title := widget.NewLabelWithStyle(name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.Truncation = fyne.TextTruncateEllipsis
	kind := "ICS"
	if src.Kind == SourceCalDAV {
		kind = "CalDAV"
	}
	parts := []string{kind, hostOf(src.URL)}
	if src.LastSync.IsZero() {
		parts = append(parts, "not read yet")
	} else {
		parts = append(parts, fmt.Sprintf("read %s, %d busy times", src.LastSync.Local().Format("2 Jan 15:04"), src.Events))
	}
	detail := widget.NewLabel(strings.Join(parts, " · "))
	detail.Truncation = fyne.TextTruncateEllipsis
	rows := container.NewVBox(title, detail)
	if src.LastError != "" {
		e := widget.NewLabel("Last read failed: " + src.LastError)
		e.Importance = widget.DangerImportance
		e.Wrapping = fyne.TextWrapWord
		rows.Add(e)
	}
	var remove *busyButton
	remove = newBusyButton("Remove", theme.DeleteIcon(), func() { l.removeSource(src, remove) })
	return container.NewBorder(nil, nil, nil, remove.row(), rows)
}

// removeSource stops using a calendar after confirmation.
func (l *linksTab) removeSource(src CalendarSource, b *busyButton) {
	if b.busy {
		return
	}
	confirm(l.u.win, "Remove this calendar?", "Its busy times no longer block times on your booking page.", "Remove", func() {
		u, s, br := l.u, l.s, l.br
		b.set(true)
		run(u, s.ctx, func(ctx context.Context) ([]CalendarSource, error) {
			if err := br.RemoveCalendarSource(ctx, src.ID); err != nil {
				return nil, err
			}
			return br.CalendarSources(ctx)
		}, func(srcs []CalendarSource, err error) {
			if s.ctx.Err() != nil {
				return
			}
			b.set(false)
			if err != nil {
				l.srcStatus.fail(message(err))
				return
			}
			l.sources = srcs
			l.showSources()
			l.srcStatus.ok("Calendar removed.")
		})
	})
}

// addSource validates the form and adds the calendar off the UI thread.
func (l *linksTab) addSource() {
	if l.srcAdd.busy {
		return
	}
	ns := NewCalendarSource{Kind: SourceICS, URL: strings.TrimSpace(l.srcURL.Text), Label: strings.TrimSpace(l.srcLabel.Text)}
	if l.srcKind.Selected == "CalDAV" {
		ns.Kind, ns.Username, ns.Password = SourceCalDAV, strings.TrimSpace(l.srcUser.Text), l.srcPass.Text
	}
	if pu, err := url.Parse(ns.URL); err != nil || (pu.Scheme != "https" && pu.Scheme != "http" && pu.Scheme != "webcal") || pu.Host == "" {
		l.srcStatus.fail("Enter the calendar's address, starting with https://.")
		return
	} else if pu.User != nil {
		l.srcStatus.fail("Put the username and password in their own fields, not in the address.")
		return
	}
	u, s, br := l.u, l.s, l.br
	l.srcAdd.set(true)
	l.srcStatus.info("Adding and reading the calendar …")
	run(u, s.ctx, func(ctx context.Context) (CalendarSource, error) {
		return br.AddCalendarSource(ctx, ns)
	}, func(src CalendarSource, err error) {
		if s.ctx.Err() != nil {
			return
		}
		l.srcAdd.set(false)
		if err != nil {
			l.srcStatus.fail(message(err))
			return
		}
		l.sources = append(l.sources, src)
		l.showSources()
		l.srcURL.SetText("")
		l.srcLabel.SetText("")
		l.srcUser.SetText("")
		l.srcPass.SetText("")
		if src.LastError != "" {
			l.srcStatus.fail("Calendar added, but it could not be read: " + src.LastError)
			return
		}
		l.srcStatus.ok("Calendar added.")
	})
}
