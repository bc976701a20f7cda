package link_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/server"
	"parley/sync/link"
)

// These tests run the booking, customer and calendar calls against the
// real relay, started in this process on loopback.

const (
	realAdminPassword   = "Leuchtturm-Hafen-2026"
	realAdvisorPassword = "Zeder-Moewe-Strand-77"
)

func realCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// realAdvisor starts a relay, creates an advisor with the admin account
// and returns a client logged in as that advisor.
func realAdvisor(t *testing.T) *link.Client {
	t.Helper()
	s, err := server.Start(context.Background(), server.Options{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", MediaListen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: realAdminPassword, Hash: auth.TestHashParams,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	connect := func() *link.Client {
		c := link.New(link.Options{})
		t.Cleanup(func() { c.Close() })
		if err := c.Trust(s.URL(), s.Fingerprint()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Connect(realCtx(t), s.URL()); err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := realCtx(t)
	admin := connect()
	if _, err := admin.Login(ctx, "bank", "admin", realAdminPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateUser(ctx, link.NewUser{Username: "erika", DisplayName: "Erika Mustermann",
		Email: "erika@example.org", Password: "Einmal-Passwort-Tanne-1", Role: link.RoleAdvisor}); err != nil {
		t.Fatal(err)
	}
	c := connect()
	res, err := c.Login(ctx, "bank", "erika", "Einmal-Passwort-Tanne-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.User.MustChangePassword {
		if err := c.ChangePassword(ctx, "Einmal-Passwort-Tanne-1", realAdvisorPassword); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// weekdayAt returns the first Tuesday at least days ahead, at hh:mm in loc.
func weekdayAt(loc *time.Location, days, hh, mm int) time.Time {
	y, m, d := time.Now().In(loc).AddDate(0, 0, days).Date()
	t := time.Date(y, m, d, hh, mm, 0, 0, loc)
	for t.Weekday() != time.Tuesday {
		y, m, d = t.Date()
		t = time.Date(y, m, d+1, hh, mm, 0, 0, loc)
	}
	return t
}

func TestRealRelayBooking(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	c := realAdvisor(t)
	ctx := realCtx(t)

	// Availability round trip.
	var weekly []link.WeeklyHours
	for d := time.Monday; d <= time.Friday; d++ {
		weekly = append(weekly, link.WeeklyHours{Weekday: d, Hours: link.Hours{Start: "09:00", End: "17:00"}})
	}
	closed := weekdayAt(loc, 21, 0, 0).Format(time.DateOnly)
	av := link.Availability{TimeZone: "Europe/Berlin", Weekly: weekly,
		Exceptions: []link.AvailabilityException{{Date: closed, Closed: true}}}
	if err := c.SetAvailability(ctx, av); err != nil {
		t.Fatal(err)
	}
	got, err := c.Availability(ctx)
	if err != nil || got.TimeZone != "Europe/Berlin" || len(got.Weekly) != 5 || got.Weekly[0].Start != "09:00" ||
		len(got.Exceptions) != 1 || got.Exceptions[0].Date != closed || !got.Exceptions[0].Closed {
		t.Fatalf("availability %+v, %v", got, err)
	}
	// Hours that end before they start are refused with the relay's code.
	bad := av
	bad.Weekly = []link.WeeklyHours{{Weekday: time.Monday, Hours: link.Hours{Start: "12:00", End: "09:00"}}}
	var ae *link.APIError
	if err := c.SetAvailability(ctx, bad); !errors.As(err, &ae) || ae.Status != 400 && ae.Status != 422 {
		t.Errorf("inverted hours: %v", err)
	}

	// Appointment types.
	typ, err := c.CreateAppointmentType(ctx, link.AppointmentType{Name: "Erstberatung", Kind: link.KindVideo, DurationMin: 30,
		BufferBeforeMin: 5, BufferAfterMin: 10, MinNoticeMin: 60, PerDayLimit: 4, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	if typ.ID == "" || typ.BufferAfterMin != 10 || typ.PerDayLimit != 4 || !typ.Active {
		t.Errorf("created type %+v", typ)
	}
	typ.Name = "Erstberatung Baufinanzierung"
	if typ, err = c.UpdateAppointmentType(ctx, typ); err != nil || typ.Name != "Erstberatung Baufinanzierung" {
		t.Fatalf("update: %+v %v", typ, err)
	}
	if ts, err := c.AppointmentTypes(ctx); err != nil || len(ts) != 1 || ts[0].ID != typ.ID {
		t.Errorf("types %+v %v", ts, err)
	}

	// The booking page: off at first, then on.
	if _, err := c.BookingPage(ctx); !errors.As(err, &ae) || ae.Code != link.CodeNotFound {
		t.Errorf("page before enabling: %v", err)
	}
	page, err := c.EnableBookingPage(ctx)
	if err != nil || !page.Enabled || page.URL == "" {
		t.Fatalf("enable: %+v %v", page, err)
	}
	if p, err := c.BookingPage(ctx); err != nil || p != page {
		t.Errorf("page %+v %v, want %+v", p, err, page)
	}

	// A customer, found by search and corrected.
	cust, err := c.CreateCustomer(ctx, link.Customer{FirstName: "Max", LastName: "Kunde", Email: "max@example.org", Mobile: "+4917012345678"})
	if err != nil {
		t.Fatal(err)
	}
	if cs, err := c.Customers(ctx, "Kunde", 10); err != nil || len(cs) != 1 || cs[0].ID != cust.ID {
		t.Errorf("search: %+v %v", cs, err)
	}
	cust.Email = "max.kunde@example.org"
	cust.Address = &link.Address{Street: "Hauptstr. 1", PostalCode: "10115", City: "Berlin"}
	if up, err := c.UpdateCustomer(ctx, cust); err != nil || up.Email != "max.kunde@example.org" || up.Address == nil || up.Address.City != "Berlin" {
		t.Errorf("rectify: %+v %v", up, err)
	}

	// Book, refuse the same slot, refuse beyond the horizon.
	start := weekdayAt(loc, 14, 10, 0)
	b, err := c.BookFor(ctx, link.NewBooking{CustomerID: cust.ID, TypeID: typ.ID, Start: start, Text: "Unterlagen"})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Start.Equal(start) || !b.End.Equal(start.Add(30*time.Minute)) || b.Status != link.BookingConfirmed || b.CustomerID != cust.ID ||
		b.Kind != link.KindVideo || b.TimeZone != "Europe/Berlin" {
		t.Errorf("booking %+v", b)
	}
	if _, err := c.BookFor(ctx, link.NewBooking{CustomerID: cust.ID, TypeID: typ.ID, Start: start.Add(15 * time.Minute)}); !errors.As(err, &ae) || ae.Code != link.CodeSlotTaken {
		t.Errorf("overlapping booking: %v", err)
	}
	if _, err := c.BookFor(ctx, link.NewBooking{CustomerID: cust.ID, TypeID: typ.ID, Start: weekdayAt(loc, 260, 10, 0)}); !errors.As(err, &ae) || ae.Code != link.CodeBeyondHorizon || ae.Message == "" {
		t.Errorf("beyond the horizon: %v", err)
	}

	// The calendar's week query finds it, with the customer's contact.
	from := start.Add(-72 * time.Hour)
	bs, err := c.Bookings(ctx, from, from.Add(7*24*time.Hour))
	if err != nil || len(bs) != 1 || bs[0].ID != b.ID || bs[0].Customer == nil || bs[0].Customer.LastName != "Kunde" {
		t.Fatalf("bookings %+v %v", bs, err)
	}

	// Reschedule, then cancel.
	moved := weekdayAt(loc, 14, 14, 30)
	if r, err := c.RescheduleBooking(ctx, b.ID, moved); err != nil || !r.Start.Equal(moved) || r.Sequence <= b.Sequence {
		t.Errorf("reschedule: %+v %v", r, err)
	}
	if r, err := c.CancelBooking(ctx, b.ID); err != nil || r.Status != link.BookingCancelled {
		t.Errorf("cancel: %+v %v", r, err)
	}
	if r, err := c.Booking(ctx, b.ID); err != nil || r.Status != link.BookingCancelled || !r.Start.Equal(moved) {
		t.Errorf("after cancel: %+v %v", r, err)
	}

	// The customer's history lists the booking.
	h, err := c.Customer(ctx, cust.ID)
	if err != nil || len(h.Bookings) != 1 || h.Bookings[0].ID != b.ID {
		t.Errorf("history %+v %v", h, err)
	}

	if err := c.DeleteAppointmentType(ctx, typ.ID); err != nil {
		t.Error(err)
	}
}

func TestRealRelayCalendars(t *testing.T) {
	c := realAdvisor(t)
	ctx := realCtx(t)
	feed, err := c.CalendarFeed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The relay shows the address once; later reads say so.
	var ae *link.APIError
	if _, err := c.CalendarFeed(ctx); !errors.As(err, &ae) || ae.Code != link.CodeFeedIssued || ae.Message == "" {
		t.Errorf("second read of the feed: %v", err)
	}
	rotated, err := c.RotateCalendarFeed(ctx)
	if err != nil || rotated == feed {
		t.Errorf("rotate: %q %v", rotated, err)
	}

	srcs, err := c.CalendarSources(ctx)
	if err != nil || len(srcs) != 0 {
		t.Fatalf("sources %+v %v", srcs, err)
	}
	// A source the relay cannot read is added with its error, or refused
	// outright; either way the advisor learns why.
	src, err := c.AddCalendarSource(ctx, link.NewCalendarSource{Kind: link.SourceICS, URL: "https://127.0.0.1:1/busy.ics", Label: "Büro"})
	switch {
	case errors.As(err, &ae):
		if ae.Message == "" {
			t.Errorf("refusal without a message: %#v", ae)
		}
		return
	case err != nil:
		t.Fatal(err)
	}
	if src.ID == "" || src.LastError == "" || src.LastSync != nil {
		t.Errorf("source %+v", src)
	}
	if err := c.RemoveCalendarSource(ctx, src.ID); err != nil {
		t.Fatal(err)
	}
	if srcs, err := c.CalendarSources(ctx); err != nil || len(srcs) != 0 {
		t.Errorf("after removal: %+v %v", srcs, err)
	}
}
