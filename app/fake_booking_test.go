package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// fakeBooking is the booking state of fakeRelay. Its zero value works: no
// bookings, no availability (the calendar then uses the local zone), no
// types, the booking page off, a feed address, no calendars, no
// customers. Tests set fields before the UI uses them, or under f.mu.
type fakeBooking struct {
	bookings      []Booking // returned by Bookings (those in the range)
	bookingsErr   error
	cancelErr     error
	rescheduleErr error
	bookErr       error          // returned by BookForCustomer
	ranges        [][2]time.Time // every range Bookings was asked for

	avail      Availability
	availErr   error
	savedAvail []Availability

	types      []AppointmentType
	savedTypes []AppointmentType
	typeN      int

	page      BookingPageInfo
	feedN     int
	feedShown bool // CalendarFeed answered an address already
	sources   []CalendarSource
	added     []NewCalendarSource
	srcErr    string // LastError of added sources

	customers []Customer
	history   map[string]CustomerHistory
	changes   []Customer
	queries   []string
}

func (f *fakeRelay) Bookings(ctx context.Context, from, to time.Time) ([]Booking, error) {
	f.record("Bookings")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bk.ranges = append(f.bk.ranges, [2]time.Time{from, to})
	if f.bk.bookingsErr != nil {
		return nil, f.bk.bookingsErr
	}
	var out []Booking
	for _, b := range f.bk.bookings {
		if !b.Start.Before(from) && b.Start.Before(to) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b Booking) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// lastRange is the last range Bookings was asked for.
func (f *fakeRelay) lastRange() [2]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bk.ranges) == 0 {
		return [2]time.Time{}
	}
	return f.bk.ranges[len(f.bk.ranges)-1]
}

func (f *fakeRelay) booking(id string) *Booking {
	for i := range f.bk.bookings {
		if f.bk.bookings[i].ID == id {
			return &f.bk.bookings[i]
		}
	}
	return nil
}

func (f *fakeRelay) CancelBooking(ctx context.Context, id string) (Booking, error) {
	f.record("CancelBooking %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bk.cancelErr != nil {
		return Booking{}, f.bk.cancelErr
	}
	b := f.booking(id)
	if b == nil {
		return Booking{}, fmt.Errorf("no such booking")
	}
	b.Status, b.CancelledBy = BookingCancelled, "advisor"
	return *b, nil
}

func (f *fakeRelay) RescheduleBooking(ctx context.Context, id string, start time.Time) (Booking, error) {
	f.record("RescheduleBooking %s %s", id, start.UTC().Format(time.RFC3339))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bk.rescheduleErr != nil {
		return Booking{}, f.bk.rescheduleErr
	}
	b := f.booking(id)
	if b == nil {
		return Booking{}, fmt.Errorf("no such booking")
	}
	b.End = start.Add(b.End.Sub(b.Start))
	b.Start = start
	return *b, nil
}

func (f *fakeRelay) BookForCustomer(ctx context.Context, nb NewBooking) (Booking, error) {
	f.record("BookForCustomer %s %s %s", nb.CustomerID, nb.TypeID, nb.Start.UTC().Format(time.RFC3339))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bk.bookErr != nil {
		return Booking{}, f.bk.bookErr
	}
	var typ AppointmentType
	for _, t := range f.bk.types {
		if t.ID == nb.TypeID {
			typ = t
		}
	}
	b := Booking{ID: fmt.Sprintf("nb%d", len(f.bk.bookings)+1), TypeID: typ.ID, TypeName: typ.Name, Kind: typ.Kind,
		Start: nb.Start, End: nb.Start.Add(typ.Duration), Status: BookingConfirmed, CustomerID: nb.CustomerID, Text: nb.Text}
	f.bk.bookings = append(f.bk.bookings, b)
	if f.bk.history == nil {
		f.bk.history = map[string]CustomerHistory{}
	}
	h := f.bk.history[nb.CustomerID]
	h.Bookings = append([]Booking{b}, h.Bookings...)
	f.bk.history[nb.CustomerID] = h
	return b, nil
}

func (f *fakeRelay) Availability(ctx context.Context) (Availability, error) {
	f.record("Availability")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bk.avail, f.bk.availErr
}

func (f *fakeRelay) SaveAvailability(ctx context.Context, a Availability) error {
	f.record("SaveAvailability")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bk.savedAvail = append(f.bk.savedAvail, a)
	f.bk.avail = a
	return nil
}

func (f *fakeRelay) AppointmentTypes(ctx context.Context) ([]AppointmentType, error) {
	f.record("AppointmentTypes")
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.bk.types), nil
}

func (f *fakeRelay) SaveAppointmentType(ctx context.Context, t AppointmentType) (AppointmentType, error) {
	f.record("SaveAppointmentType %s", t.ID)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bk.savedTypes = append(f.bk.savedTypes, t)
	if t.ID == "" {
		f.bk.typeN++
		t.ID = fmt.Sprintf("t%d", f.bk.typeN)
		f.bk.types = append(f.bk.types, t)
		return t, nil
	}
	for i := range f.bk.types {
		if f.bk.types[i].ID == t.ID {
			f.bk.types[i] = t
			return t, nil
		}
	}
	return AppointmentType{}, fmt.Errorf("no such type")
}

func (f *fakeRelay) DeleteAppointmentType(ctx context.Context, id string) error {
	f.record("DeleteAppointmentType %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bk.types = slices.DeleteFunc(f.bk.types, func(t AppointmentType) bool { return t.ID == id })
	return nil
}

func (f *fakeRelay) BookingPage(ctx context.Context) (BookingPageInfo, error) {
	f.record("BookingPage")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bk.page, nil
}

func (f *fakeRelay) EnableBookingPage(ctx context.Context) (BookingPageInfo, error) {
	f.record("EnableBookingPage")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bk.page = BookingPageInfo{URL: "https://relay.example/b/page1", Enabled: true}
	return f.bk.page, nil
}

func (f *fakeRelay) CalendarFeed(ctx context.Context) (string, error) {
	f.record("CalendarFeed")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bk.feedShown {
		return "", nil // as the relay: shown once only
	}
	f.bk.feedShown = true
	return fmt.Sprintf("https://relay.example/cal/pcf_%d", f.bk.feedN), nil
}

func (f *fakeRelay) RotateCalendarFeed(ctx context.Context) (string, error) {
	f.record("RotateCalendarFeed")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bk.feedN++
	return fmt.Sprintf("https://relay.example/cal/pcf_%d", f.bk.feedN), nil
}

func (f *fakeRelay) CalendarSources(ctx context.Context) ([]CalendarSource, error) {
	f.record("CalendarSources")
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.bk.sources), nil
}

func (f *fakeRelay) AddCalendarSource(ctx context.Context, s NewCalendarSource) (CalendarSource, error) {
	f.record("AddCalendarSource %s %s", s.Kind, s.URL)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bk.added = append(f.bk.added, s)
	src := CalendarSource{ID: fmt.Sprintf("s%d", len(f.bk.added)), Kind: s.Kind, URL: s.URL, Label: s.Label, LastError: f.bk.srcErr}
	if src.LastError == "" {
		src.LastSync, src.Events = time.Now(), 3
	}
	f.bk.sources = append(f.bk.sources, src)
	return src, nil
}

func (f *fakeRelay) RemoveCalendarSource(ctx context.Context, id string) error {
	f.record("RemoveCalendarSource %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bk.sources = slices.DeleteFunc(f.bk.sources, func(s CalendarSource) bool { return s.ID == id })
	return nil
}

func (f *fakeRelay) Customers(ctx context.Context, query string, limit int) ([]Customer, error) {
	f.record("Customers %s", query)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bk.queries = append(f.bk.queries, query)
	var out []Customer
	q := strings.ToLower(query)
	for _, c := range f.bk.customers {
		if strings.Contains(strings.ToLower(c.FirstName+" "+c.LastName+" "+c.Email+" "+c.Mobile), q) && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeRelay) CustomerHistory(ctx context.Context, id string) (CustomerHistory, error) {
	f.record("CustomerHistory %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.bk.history[id]
	for _, c := range f.bk.customers {
		if c.ID == id {
			h.Customer = c
			return h, nil
		}
	}
	if !ok {
		return CustomerHistory{}, fmt.Errorf("no such customer")
	}
	return h, nil
}

func (f *fakeRelay) UpdateCustomer(ctx context.Context, c Customer) (Customer, error) {
	f.record("UpdateCustomer %s", c.ID)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bk.changes = append(f.bk.changes, c)
	for i := range f.bk.customers {
		if f.bk.customers[i].ID == c.ID {
			f.bk.customers[i] = c
			return c, nil
		}
	}
	return Customer{}, fmt.Errorf("no such customer")
}

var _ BookingRelay = (*fakeRelay)(nil)
