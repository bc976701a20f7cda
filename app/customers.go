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

// customersListed is how many customers one search shows.
const customersListed = 100

// customersPage searches the tenant's customers and shows one profile with
// its history; the profile can be corrected (rectification).
type customersPage struct {
	u  *UI
	s  *session
	br BookingRelay
	// now is the clock; time.Now outside tests.
	now func() time.Time

	loaded    bool
	seq       int // numbers searches; only the latest answer is shown
	customers []Customer
	// profile is the customer shown, nil for none; histSeq numbers reads.
	profile *CustomerHistory
	histSeq int

	search     *widget.Entry
	list       *widget.List
	listStatus statusLabel

	empty     fyne.CanvasObject
	detail    fyne.CanvasObject
	name      *widget.Label
	first     *widget.Entry
	last      *widget.Entry
	email     *widget.Entry
	mobile    *widget.Entry
	street    *widget.Entry
	postal    *widget.Entry
	city      *widget.Entry
	country   *widget.Entry
	save      *busyButton
	status    statusLabel
	histRows  *fyne.Container
	histState statusLabel
	feedback  *feedbackSection

	// Booking for the customer shown: the advisor's active types and zone,
	// read when the page is first shown.
	types    []AppointmentType
	loc      *time.Location
	bookType *widget.Select
	bookDate *widget.Entry
	bookTime *widget.Entry
	bookNote *widget.Entry
	book     *busyButton
	bookMsg  statusLabel

	content fyne.CanvasObject
}

func newCustomersPage(u *UI, s *session, br BookingRelay) *customersPage {
	p := &customersPage{u: u, s: s, br: br, now: time.Now, loc: time.Local}
	p.search = widget.NewEntry()
	p.search.SetPlaceHolder("Search by name, e-mail or phone")
	p.search.OnChanged = func(string) { p.load() }
	p.list = widget.NewList(
		func() int { return len(p.customers) },
		func() fyne.CanvasObject {
			n := widget.NewLabelWithStyle("Name", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			n.Truncation = fyne.TextTruncateEllipsis
			d := widget.NewLabel("e-mail")
			d.Truncation = fyne.TextTruncateEllipsis
			return container.NewVBox(n, d)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			c := p.customers[id]
			rows := o.(*fyne.Container).Objects
			rows[0].(*widget.Label).SetText(c.name())
			rows[1].(*widget.Label).SetText(customerLine(c))
		},
	)
	p.list.OnSelected = func(id widget.ListItemID) {
		if id >= 0 && id < len(p.customers) {
			p.open(p.customers[id].ID)
		}
	}
	p.listStatus = newStatusLabel()

	p.empty = emptyState(theme.AccountIcon(), "Choose a customer",
		"A booking or a meeting creates the customer's profile. Choose one to see and correct it, with their past and upcoming appointments.")
	p.name = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	entry := func(ph string) *widget.Entry {
		e := widget.NewEntry()
		e.SetPlaceHolder(ph)
		return e
	}
	p.first, p.last = entry(""), entry("")
	p.email, p.mobile = entry("name@example.org"), entry("+49…")
	p.street, p.postal, p.city, p.country = entry(""), entry(""), entry(""), entry("e.g. DE")
	p.save = newBusyButton("Save changes", theme.DocumentSaveIcon(), p.submit)
	p.status = newStatusLabel()
	p.histRows = container.NewVBox()
	p.histState = newStatusLabel()
	p.feedback = newFeedbackSection(u, s, br)
	form := widget.NewForm(
		widget.NewFormItem("First name", p.first),
		widget.NewFormItem("Last name", p.last),
		widget.NewFormItem("E-mail", p.email),
		widget.NewFormItem("Mobile", p.mobile),
		widget.NewFormItem("Street", p.street),
		widget.NewFormItem("Postal code", p.postal),
		widget.NewFormItem("City", p.city),
		widget.NewFormItem("Country", p.country),
	)
	p.bookType = widget.NewSelect(nil, nil)
	p.bookDate = entry("YYYY-MM-DD")
	p.bookTime = entry("HH:MM")
	p.bookNote = entry("Optional note")
	p.book = newBusyButton("Book", theme.CalendarIcon(), p.bookFor)
	p.bookMsg = newStatusLabel()
	bookForm := widget.NewForm(
		widget.NewFormItem("Type", p.bookType),
		widget.NewFormItem("Date", p.bookDate),
		widget.NewFormItem("Start", p.bookTime),
		widget.NewFormItem("Note", p.bookNote),
	)
	bold := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	p.detail = container.NewVScroll(container.NewVBox(
		p.name, form, container.NewHBox(p.save.row()), p.status.Label,
		widget.NewSeparator(),
		bold("History"), p.histRows, p.histState.Label, p.feedback.object(),
		widget.NewSeparator(),
		bold("Book an appointment for this customer"), bookForm, container.NewHBox(p.book.row()), p.bookMsg.Label,
	))
	p.detail.Hide()
	left := container.NewBorder(p.search, p.listStatus.Label, nil, nil, p.list)
	split := container.NewHSplit(left, container.NewStack(p.empty, p.detail))
	split.Offset = 0.35
	p.content = split
	return p
}

// customerLine is the list's second line: e-mail and mobile.
func customerLine(c Customer) string {
	var parts []string
	for _, s := range []string{c.Email, c.Mobile} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, " · ")
}

// shown reads the list the first time, and the shown profile again.
func (p *customersPage) shown() {
	if !p.loaded {
		p.load()
		p.loadBooking()
		return
	}
	if p.profile != nil {
		p.open(p.profile.Customer.ID)
	}
}

// load searches for the text in the search field, off the UI thread.
func (p *customersPage) load() {
	u, s, br := p.u, p.s, p.br
	q := strings.TrimSpace(p.search.Text)
	p.loaded = true
	p.seq++
	seq := p.seq
	run(u, s.ctx, func(ctx context.Context) ([]Customer, error) {
		return br.Customers(ctx, q, customersListed)
	}, func(cs []Customer, err error) {
		if s.ctx.Err() != nil || seq != p.seq {
			return
		}
		if err != nil {
			p.loaded = false
			p.listStatus.fail("Customers could not be read: " + message(err))
			return
		}
		p.customers = cs
		p.list.UnselectAll()
		p.list.Refresh()
		switch {
		case len(cs) == 0 && q != "":
			p.listStatus.info("No customer matches.")
		case len(cs) == 0:
			p.listStatus.info("No customers yet. Bookings and meetings add them.")
		case len(cs) == 1:
			p.listStatus.info("1 customer")
		default:
			p.listStatus.info(fmt.Sprintf("%d customers", len(cs)))
		}
	})
}

// open reads a customer's profile and history off the UI thread.
func (p *customersPage) open(id string) {
	u, s, br := p.u, p.s, p.br
	p.histSeq++
	seq := p.histSeq
	p.histState.info("Loading …")
	run(u, s.ctx, func(ctx context.Context) (CustomerHistory, error) {
		return br.CustomerHistory(ctx, id)
	}, func(h CustomerHistory, err error) {
		if s.ctx.Err() != nil || seq != p.histSeq {
			return
		}
		if err != nil {
			p.histState.fail("The customer could not be read: " + message(err))
			return
		}
		p.show(h)
		p.feedback.load(h.Customer.ID, h.Meetings)
	})
}

// show fills the profile and its history.
func (p *customersPage) show(h CustomerHistory) {
	p.profile = &h
	c := h.Customer
	p.name.SetText(c.name())
	p.first.SetText(c.FirstName)
	p.last.SetText(c.LastName)
	p.email.SetText(c.Email)
	p.mobile.SetText(c.Mobile)
	p.street.SetText(c.Address.Street)
	p.postal.SetText(c.Address.PostalCode)
	p.city.SetText(c.Address.City)
	p.country.SetText(c.Address.Country)
	p.status.info("")
	p.showHistory()
	p.empty.Hide()
	p.detail.Show()
}

// historyItem is one line of a customer's history.
type historyItem struct {
	when   time.Time
	title  string
	detail string
	muted  bool
}

// historyItems merges bookings and meetings, newest first; bookings' times
// read in loc.
func historyItems(h CustomerHistory, now time.Time, loc *time.Location) []historyItem {
	var out []historyItem
	for _, b := range h.Bookings {
		it := historyItem{when: b.Start, title: "Appointment · " + b.TypeName + " · " + kindName(b.Kind)}
		it.detail = b.Start.In(loc).Format("Mon 2 Jan 2006, 15:04") + "–" + b.End.In(loc).Format("15:04")
		switch {
		case b.cancelled():
			it.detail += " · cancelled"
			it.muted = true
		case b.Start.After(now):
			it.detail += " · upcoming"
		default:
			it.detail += " · past"
			it.muted = true
		}
		out = append(out, it)
	}
	for _, m := range h.Meetings {
		when := m.Created
		if !m.Scheduled.IsZero() {
			when = m.Scheduled
		}
		out = append(out, historyItem{when: when, title: "Meeting · " + meetingName(m), detail: meetingWhen(m), muted: m.ended()})
	}
	slices.SortStableFunc(out, func(a, b historyItem) int { return b.when.Compare(a.when) })
	return out
}

func (p *customersPage) showHistory() {
	p.histRows.RemoveAll()
	items := historyItems(*p.profile, p.now(), p.loc)
	for _, it := range items {
		t := widget.NewLabelWithStyle(it.title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		t.Truncation = fyne.TextTruncateEllipsis
		d := widget.NewLabel(it.detail)
		d.Truncation = fyne.TextTruncateEllipsis
		if it.muted {
			d.Importance = widget.LowImportance
		}
		p.histRows.Add(container.NewVBox(t, d))
	}
	if len(items) == 0 {
		p.histState.info("No appointments or meetings yet.")
	} else {
		p.histState.info("")
	}
	p.histRows.Refresh()
}

// edited reads the form into a copy of the profile shown, validated, and
// reports whether anything differs.
func (p *customersPage) edited() (Customer, bool, error) {
	old := p.profile.Customer
	c := old
	c.FirstName, c.LastName = strings.TrimSpace(p.first.Text), strings.TrimSpace(p.last.Text)
	c.Email, c.Mobile = strings.TrimSpace(p.email.Text), strings.TrimSpace(p.mobile.Text)
	c.Address = Address{Street: strings.TrimSpace(p.street.Text), PostalCode: strings.TrimSpace(p.postal.Text),
		City: strings.TrimSpace(p.city.Text), Country: strings.ToUpper(strings.TrimSpace(p.country.Text))}
	changed := c != old
	switch {
	case !changed:
	case c.FirstName == "" || c.LastName == "":
		return c, true, userError("A customer needs a first and a last name.")
	case c.Email == "" || !strings.Contains(c.Email, "@") || strings.ContainsAny(c.Email, " <>,;"):
		return c, true, userError("Enter a valid e-mail address.")
	case c.Mobile != "" && strings.Trim(c.Mobile, "+0123456789 /-()") != "":
		return c, true, userError("A mobile number has only digits, spaces and a leading +.")
	case c.Address.Country != "" && len(c.Address.Country) != 2:
		return c, true, userError("Enter the country as a two-letter code, e.g. DE.")
	}
	return c, changed, nil
}

// submit saves the corrected fields off the UI thread.
func (p *customersPage) submit() {
	if p.profile == nil || p.save.busy {
		return
	}
	c, changed, err := p.edited()
	if err != nil {
		p.status.fail(err.Error())
		return
	}
	if !changed {
		p.status.info("Nothing changed.")
		return
	}
	u, s, br := p.u, p.s, p.br
	h := p.profile
	p.save.set(true)
	p.status.info("Saving …")
	run(u, s.ctx, func(ctx context.Context) (Customer, error) {
		return br.UpdateCustomer(ctx, c)
	}, func(c Customer, err error) {
		if s.ctx.Err() != nil {
			return
		}
		p.save.set(false)
		if p.profile != h {
			return
		}
		if err != nil {
			p.status.fail(message(err))
			return
		}
		h.Customer = c
		p.show(*h)
		for i := range p.customers {
			if p.customers[i].ID == c.ID {
				p.customers[i] = c
			}
		}
		p.list.Refresh()
		p.status.ok("Profile corrected.")
	})
}

// bookingSetup is what booking for a customer needs to know.
type bookingSetup struct {
	types []AppointmentType
	zone  string
}

// loadBooking reads the advisor's active types and time zone, off the UI
// thread.
func (p *customersPage) loadBooking() {
	u, s, br := p.u, p.s, p.br
	run(u, s.ctx, func(ctx context.Context) (bookingSetup, error) {
		ts, err := br.AppointmentTypes(ctx)
		if err != nil {
			return bookingSetup{}, err
		}
		a, err := br.Availability(ctx)
		return bookingSetup{types: ts, zone: a.TimeZone}, err
	}, func(b bookingSetup, err error) {
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			p.bookMsg.fail("Your appointment types could not be read: " + message(err))
			return
		}
		if loc, err := time.LoadLocation(b.zone); err == nil && b.zone != "" {
			p.loc = loc
		}
		p.types = nil
		var names []string
		for _, t := range b.types {
			if t.Active {
				p.types = append(p.types, t)
				names = append(names, t.Name)
			}
		}
		p.bookType.SetOptions(names)
		if len(names) > 0 {
			p.bookType.SetSelectedIndex(0)
			p.bookMsg.info("Times are in " + p.loc.String() + ". The customer gets a confirmation by e-mail.")
		} else {
			p.bookMsg.info("Add an appointment type on the Booking page first.")
		}
	})
}

// bookFor books the form's appointment for the customer shown, off the UI
// thread, and reads the history again.
func (p *customersPage) bookFor() {
	if p.profile == nil || p.book.busy {
		return
	}
	i := p.bookType.SelectedIndex()
	if i < 0 || i >= len(p.types) {
		p.bookMsg.fail("Choose the appointment type.")
		return
	}
	start, err := parseLocal(p.bookDate.Text, p.bookTime.Text, p.loc)
	if err == nil && !start.After(p.now()) {
		err = userError("Choose a time in the future.")
	}
	if err != nil {
		p.bookMsg.fail(err.Error())
		return
	}
	nb := NewBooking{CustomerID: p.profile.Customer.ID, TypeID: p.types[i].ID, Start: start, Text: strings.TrimSpace(p.bookNote.Text)}
	u, s, br := p.u, p.s, p.br
	h := p.profile
	p.book.set(true)
	p.bookMsg.info("Booking …")
	run(u, s.ctx, func(ctx context.Context) (Booking, error) {
		return br.BookForCustomer(ctx, nb)
	}, func(b Booking, err error) {
		if s.ctx.Err() != nil {
			return
		}
		p.book.set(false)
		if p.profile != h {
			return
		}
		if err != nil {
			p.bookMsg.fail(message(err))
			return
		}
		p.bookDate.SetText("")
		p.bookTime.SetText("")
		p.bookNote.SetText("")
		p.bookMsg.ok("Booked for " + b.Start.In(p.loc).Format("Mon 2 Jan 2006 at 15:04") + "; the customer is told by e-mail.")
		p.open(nb.CustomerID)
	})
}
