package app

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
)

func customersFake() *fakeRelay {
	now := time.Now()
	f := &fakeRelay{}
	f.bk.customers = []Customer{
		{ID: "c1", FirstName: "Max", LastName: "Berger", Email: "max@example.org", Mobile: "+4917011111"},
		{ID: "c2", FirstName: "Ida", LastName: "Gast", Email: "ida@example.org"},
		{ID: "c3", FirstName: "Erika", LastName: "Bergmann", Email: "eb@example.org",
			Address: Address{Street: "Hauptstr. 1", PostalCode: "10115", City: "Berlin", Country: "DE"}},
	}
	f.bk.history = map[string]CustomerHistory{
		"c1": {
			Bookings: []Booking{
				{ID: "b1", TypeName: "Erstberatung", Kind: KindVideo, Start: now.Add(48 * time.Hour), End: now.Add(49 * time.Hour), Status: BookingConfirmed},
				{ID: "b0", TypeName: "Rente", Kind: KindPhone, Start: now.Add(-30 * 24 * time.Hour), End: now.Add(-30*24*time.Hour + time.Hour), Status: BookingCancelled},
			},
			Meetings: []MeetingInfo{{ID: "m1", Title: "Depot", Status: MeetingEnded, Created: now.Add(-72 * time.Hour), Ended: now.Add(-71 * time.Hour)}},
		},
	}
	return f
}

func customersHarness(t *testing.T, f *fakeRelay) (*harness, *customersPage) {
	t.Helper()
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	w := h.waitWorkspace()
	w.selectPage("Customers")
	h.eventually("the customers", func() bool { return len(w.cust.customers) == 3 })
	return h, w.cust
}

func TestCustomersSearch(t *testing.T) {
	f := customersFake()
	h, p := customersHarness(t, f)
	if !h.shows("3 customers") {
		t.Errorf("texts %q", h.texts())
	}
	test.Type(p.search, "berg")
	h.eventually("the search", func() bool { return len(p.customers) == 2 })
	if p.customers[0].ID != "c1" || p.customers[1].ID != "c3" || !h.shows("2 customers") {
		t.Errorf("found %+v", p.customers)
	}
	if !slices.Contains(f.Calls(), "Customers berg") {
		t.Errorf("calls %q", f.Calls())
	}
	fill(p.search, "nobody")
	h.eventually("no match", func() bool { return h.shows("No customer matches.") })
	if len(p.customers) != 0 {
		t.Errorf("list %+v", p.customers)
	}
}

func TestCustomerProfileAndHistory(t *testing.T) {
	f := customersFake()
	h, p := customersHarness(t, f)
	if !h.shows("Choose a customer") {
		t.Errorf("no empty state: %q", h.texts())
	}
	p.list.Select(0)
	h.eventually("the profile", func() bool { return p.profile != nil && h.shows("History") })
	if p.email.Text != "max@example.org" || p.mobile.Text != "+4917011111" {
		t.Errorf("form %q %q", p.email.Text, p.mobile.Text)
	}
	// Both kinds, newest first: the upcoming booking, the meeting, the
	// cancelled booking.
	var rows []string
	for _, o := range p.histRows.Objects {
		rows = append(rows, strings.Join(textsOf(o), " | "))
	}
	if len(rows) != 3 || !strings.Contains(rows[0], "Appointment · Erstberatung · Video") || !strings.Contains(rows[0], "upcoming") ||
		!strings.Contains(rows[1], "Meeting · Depot") || !strings.Contains(rows[2], "Rente") || !strings.Contains(rows[2], "cancelled") {
		t.Errorf("history %q", rows)
	}

	// Rectification sends the whole contact, validated.
	fill(p.email, "not-an-address")
	h.tap("Save changes")
	if !strings.Contains(p.status.Text, "valid e-mail") || f.called("UpdateCustomer") != 0 {
		t.Fatalf("status %q", p.status.Text)
	}
	fill(p.email, "max.berger@example.org")
	fill(p.city, "Potsdam")
	h.tap("Save changes")
	h.eventually("the save", func() bool { return p.status.Text == "Profile corrected." })
	f.mu.Lock()
	sent := f.bk.changes[0]
	f.mu.Unlock()
	want := Customer{ID: "c1", FirstName: "Max", LastName: "Berger", Email: "max.berger@example.org", Mobile: "+4917011111",
		Address: Address{City: "Potsdam"}}
	if sent != want {
		t.Errorf("sent %+v\nwant %+v", sent, want)
	}
	if p.customers[0].Email != "max.berger@example.org" {
		t.Errorf("list not updated: %+v", p.customers[0])
	}
	h.tap("Save changes")
	if p.status.Text != "Nothing changed." || f.called("UpdateCustomer") != 1 {
		t.Errorf("status %q, calls %q", p.status.Text, f.Calls())
	}

	// A customer without history says so.
	p.list.Select(1)
	h.eventually("Ida", func() bool { return p.profile.Customer.ID == "c2" && h.shows("No appointments or meetings yet.") })
}

func TestBookForCustomer(t *testing.T) {
	loc := berlin(t)
	f := customersFake()
	f.bk.avail = Availability{TimeZone: "Europe/Berlin"}
	f.bk.types = []AppointmentType{
		{ID: "t0", Name: "Alt", Kind: KindPhone, Duration: time.Hour},
		{ID: "t1", Name: "Erstberatung", Kind: KindVideo, Duration: 45 * time.Minute, Active: true},
	}
	h, p := customersHarness(t, f)
	p.now = func() time.Time { return time.Date(2027, 3, 24, 12, 0, 0, 0, loc) }
	h.eventually("the types", func() bool { return len(p.bookType.Options) == 1 })
	p.list.Select(1)
	h.eventually("Ida", func() bool { return p.profile != nil && p.profile.Customer.ID == "c2" })

	fill(p.bookDate, "2027-03-28")
	fill(p.bookTime, "02:15")
	h.tap("Book")
	if !strings.Contains(p.bookMsg.Text, "does not exist") || f.called("BookForCustomer") != 0 {
		t.Fatalf("status %q", p.bookMsg.Text)
	}
	f.mu.Lock()
	f.bk.bookErr = errors.New("The last bookable date is 10 October 2027.")
	f.mu.Unlock()
	fill(p.bookTime, "10:00")
	h.tap("Book")
	h.eventually("the refusal", func() bool { return strings.Contains(p.bookMsg.Text, "last bookable date") })
	f.mu.Lock()
	f.bk.bookErr = nil
	f.mu.Unlock()
	h.tap("Book")
	h.eventually("the booking", func() bool { return strings.Contains(p.bookMsg.Text, "Booked for Sun 28 Mar 2027 at 10:00") })
	if !slices.Contains(f.Calls(), "BookForCustomer c2 t1 2027-03-28T08:00:00Z") {
		t.Errorf("calls %q", f.Calls())
	}
	h.eventually("the history", func() bool { return len(p.histRows.Objects) == 1 })
	if got := strings.Join(textsOf(p.histRows.Objects[0]), " "); !strings.Contains(got, "Erstberatung · Video") {
		t.Errorf("history %q", got)
	}
}
