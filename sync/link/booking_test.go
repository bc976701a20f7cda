package link

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	typeJSON    = `{"id":"t1","name":"Erstberatung","kind":"video","duration_min":45,"buffer_before_min":10,"buffer_after_min":5,"min_notice_min":1440,"per_day_limit":3,"active":true}`
	bookingJSON = `{"id":"b1","type_id":"t1","type_name":"Erstberatung","kind":"video","start":"2027-03-28T08:00:00Z","end":"2027-03-28T08:45:00Z",` +
		`"time_zone":"Europe/Berlin","status":"confirmed","advisor_name":"Erika","can_change":true,"customer_id":"c1","meeting_id":"m1",` +
		`"sequence":0,"created":"2027-03-01T10:00:00Z","updated":"2027-03-01T10:00:00Z",` +
		`"customer":{"first_name":"Max","last_name":"Kunde","email":"max@example.org","mobile":"+4917012345"},"text":"Bitte Unterlagen"}`
	customerJSON = `{"id":"c1","first_name":"Max","last_name":"Kunde","email":"max@example.org","mobile":"+4917012345",` +
		`"address":{"street":"Hauptstr. 1","postal_code":"10115","city":"Berlin","country":"DE"},"created":"2027-03-01T10:00:00Z","last_interaction":"2027-03-01T10:00:00Z"}`
	sourceJSON = `{"id":"s1","kind":"caldav","url":"https://dav.example.org/cal/","label":"Büro","last_sync":"2027-03-01T10:00:00Z","events":4}`
)

func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// loggedIn starts the test relay and logs a client in.
func loggedIn(t *testing.T) (*testRelay, *Client) {
	t.Helper()
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{})
	mustConnect(t, c, r.URL, TransportQUIC)
	if _, err := c.Login(testCtx(t), "acme", "erika", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.serveAll(nil) })
	return r, c
}

func TestBookingCalls(t *testing.T) {
	r, c := loggedIn(t)
	ctx := testCtx(t)
	var (
		qmu   sync.Mutex
		query string
	)
	ms := &meetingServer{reply: map[string]func(http.ResponseWriter){
		"GET /api/v1/booking/page":            raw(200, `{"page_id":"p1","url":"https://r/b/p1","enabled":true}`),
		"POST /api/v1/booking/page":           raw(200, `{"page_id":"p1","url":"https://r/b/p1","enabled":true}`),
		"GET /api/v1/booking/types":           raw(200, `{"types":[`+typeJSON+`]}`),
		"POST /api/v1/booking/types":          raw(201, typeJSON),
		"PUT /api/v1/booking/types/t1":        raw(200, typeJSON),
		"DELETE /api/v1/booking/types/t1":     noContent,
		"GET /api/v1/booking/availability":    raw(200, `{"time_zone":"Europe/Berlin","weekly":[{"weekday":0,"start":"10:00","end":"12:00"},{"weekday":1,"start":"09:00","end":"24:00"}],"exceptions":[{"date":"2026-12-24","closed":true}]}`),
		"PUT /api/v1/booking/availability":    noContent,
		"GET /api/v1/bookings":                raw(200, `{"bookings":[`+bookingJSON+`]}`),
		"POST /api/v1/bookings":               raw(201, `{"booking":`+bookingJSON+`}`),
		"GET /api/v1/bookings/b1":             raw(200, bookingJSON),
		"POST /api/v1/bookings/b1/cancel":     raw(200, strings.Replace(bookingJSON, `"confirmed"`, `"cancelled","cancelled_by":"advisor"`, 1)),
		"POST /api/v1/bookings/b1/reschedule": raw(200, bookingJSON),
	}}
	r.serveAll(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/api/v1/bookings" && req.Method == http.MethodGet {
			qmu.Lock()
			query = req.URL.RawQuery
			qmu.Unlock()
		}
		ms.ServeHTTP(w, req)
	})

	if p, err := c.BookingPage(ctx); err != nil || p.URL != "https://r/b/p1" || !p.Enabled {
		t.Errorf("BookingPage: %+v %v", p, err)
	}
	if _, err := c.EnableBookingPage(ctx); err != nil {
		t.Error(err)
	}
	ts, err := c.AppointmentTypes(ctx)
	if err != nil || len(ts) != 1 || ts[0] != (AppointmentType{ID: "t1", Name: "Erstberatung", Kind: KindVideo, DurationMin: 45,
		BufferBeforeMin: 10, BufferAfterMin: 5, MinNoticeMin: 1440, PerDayLimit: 3, Active: true}) {
		t.Errorf("AppointmentTypes: %+v %v", ts, err)
	}
	nt := ts[0]
	if _, err := c.CreateAppointmentType(ctx, nt); err != nil {
		t.Error(err)
	}
	if _, err := c.UpdateAppointmentType(ctx, nt); err != nil {
		t.Error(err)
	}
	if err := c.DeleteAppointmentType(ctx, "t1"); err != nil {
		t.Error(err)
	}
	a, err := c.Availability(ctx)
	if err != nil || a.TimeZone != "Europe/Berlin" || len(a.Weekly) != 2 || a.Weekly[0].Weekday != time.Sunday ||
		a.Weekly[1].End != "24:00" || len(a.Exceptions) != 1 || !a.Exceptions[0].Closed {
		t.Errorf("Availability: %+v %v", a, err)
	}
	if err := c.SetAvailability(ctx, Availability{TimeZone: "Europe/Vienna"}); err != nil {
		t.Error(err)
	}
	from := time.Date(2027, 3, 22, 0, 0, 0, 0, time.FixedZone("CET", 3600))
	bs, err := c.Bookings(ctx, from, from.Add(167*time.Hour))
	if err != nil || len(bs) != 1 || bs[0].Customer == nil || bs[0].Customer.FirstName != "Max" || bs[0].MeetingID != "m1" ||
		!bs[0].Start.Equal(time.Date(2027, 3, 28, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("Bookings: %+v %v", bs, err)
	}
	qmu.Lock()
	if query != "from=2027-03-21T23%3A00%3A00Z&to=2027-03-28T22%3A00%3A00Z" {
		t.Errorf("Bookings query %q", query)
	}
	qmu.Unlock()
	if b, err := c.Booking(ctx, "b1"); err != nil || b.ID != "b1" {
		t.Errorf("Booking: %+v %v", b, err)
	}
	start := time.Date(2027, 3, 29, 9, 30, 0, 0, time.FixedZone("CEST", 7200))
	if b, err := c.BookFor(ctx, NewBooking{CustomerID: "c1", TypeID: "t1", Start: start}); err != nil || b.ID != "b1" {
		t.Errorf("BookFor: %+v %v", b, err)
	}
	if b, err := c.CancelBooking(ctx, "b1"); err != nil || b.Status != BookingCancelled || b.CancelledBy != "advisor" {
		t.Errorf("CancelBooking: %+v %v", b, err)
	}
	if _, err := c.RescheduleBooking(ctx, "b1", start); err != nil {
		t.Error(err)
	}
	want := []string{
		"GET /api/v1/booking/page",
		"POST /api/v1/booking/page",
		"GET /api/v1/booking/types",
		`POST /api/v1/booking/types {"name":"Erstberatung","kind":"video","duration_min":45,"buffer_before_min":10,"buffer_after_min":5,"min_notice_min":1440,"per_day_limit":3,"active":true}`,
		`PUT /api/v1/booking/types/t1 {"id":"t1","name":"Erstberatung","kind":"video","duration_min":45,"buffer_before_min":10,"buffer_after_min":5,"min_notice_min":1440,"per_day_limit":3,"active":true}`,
		"DELETE /api/v1/booking/types/t1",
		"GET /api/v1/booking/availability",
		`PUT /api/v1/booking/availability {"time_zone":"Europe/Vienna","weekly":[],"exceptions":[]}`,
		"GET /api/v1/bookings",
		"GET /api/v1/bookings/b1",
		`POST /api/v1/bookings {"customer_id":"c1","type":"t1","start":"2027-03-29T09:30:00+02:00"}`,
		"POST /api/v1/bookings/b1/cancel",
		`POST /api/v1/bookings/b1/reschedule {"start":"2027-03-29T07:30:00Z"}`,
	}
	if got := ms.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCustomerAndCalendarCalls(t *testing.T) {
	r, c := loggedIn(t)
	ctx := testCtx(t)
	var (
		qmu     sync.Mutex
		queries []string
	)
	ms := &meetingServer{reply: map[string]func(http.ResponseWriter){
		"GET /api/v1/customers":              raw(200, `{"customers":[`+customerJSON+`]}`),
		"POST /api/v1/customers":             raw(201, customerJSON),
		"GET /api/v1/customers/c1":           raw(200, `{"customer":`+customerJSON+`,"bookings":[`+bookingJSON+`],"meetings":[`+meetingJSON+`]}`),
		"PATCH /api/v1/customers/c1":         raw(200, customerJSON),
		"GET /api/v1/calendar/sources":       raw(200, `{"sources":[`+sourceJSON+`]}`),
		"POST /api/v1/calendar/sources":      raw(201, `{"id":"s2","kind":"ics","url":"https://x.example/a.ics","last_error":"not found","events":0}`),
		"DELETE /api/v1/calendar/sources/s1": noContent,
		"GET /api/v1/calendar/feed":          raw(200, `{"url":"https://r/cal/pcf_a"}`),
		"POST /api/v1/calendar/feed/rotate":  raw(200, `{"url":"https://r/cal/pcf_b"}`),
	}}
	r.serveAll(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/api/v1/customers" && req.Method == http.MethodGet {
			qmu.Lock()
			queries = append(queries, req.URL.RawQuery)
			qmu.Unlock()
		}
		ms.ServeHTTP(w, req)
	})

	cs, err := c.Customers(ctx, "Kunde & Co", 50)
	if err != nil || len(cs) != 1 || cs[0].Address == nil || cs[0].Address.City != "Berlin" || cs[0].LastInteraction.IsZero() {
		t.Errorf("Customers: %+v %v", cs, err)
	}
	if _, err := c.Customers(ctx, "", 0); err != nil {
		t.Error(err)
	}
	qmu.Lock()
	if strings.Join(queries, " ") != "limit=50&q=Kunde+%26+Co " {
		t.Errorf("queries %q", queries)
	}
	qmu.Unlock()
	if _, err := c.CreateCustomer(ctx, Customer{ID: "ignored", FirstName: "Max", LastName: "Kunde", Email: "max@example.org"}); err != nil {
		t.Error(err)
	}
	h, err := c.Customer(ctx, "c1")
	if err != nil || h.Customer.ID != "c1" || len(h.Bookings) != 1 || len(h.Meetings) != 1 || h.Meetings[0].ID != "m1" {
		t.Errorf("Customer: %+v %v", h, err)
	}
	if _, err := c.UpdateCustomer(ctx, Customer{ID: "c1", FirstName: "Max", LastName: "Kunde", Email: "neu@example.org",
		Created: time.Now()}); err != nil {
		t.Error(err)
	}
	srcs, err := c.CalendarSources(ctx)
	if err != nil || len(srcs) != 1 || srcs[0].LastSync == nil || srcs[0].Events != 4 || srcs[0].Label != "Büro" {
		t.Errorf("CalendarSources: %+v %v", srcs, err)
	}
	src, err := c.AddCalendarSource(ctx, NewCalendarSource{Kind: SourceICS, URL: "https://x.example/a.ics"})
	if err != nil || src.ID != "s2" || src.LastError != "not found" || src.LastSync != nil {
		t.Errorf("AddCalendarSource: %+v %v", src, err)
	}
	if err := c.RemoveCalendarSource(ctx, "s1"); err != nil {
		t.Error(err)
	}
	if u, err := c.CalendarFeed(ctx); err != nil || u != "https://r/cal/pcf_a" {
		t.Errorf("CalendarFeed: %q %v", u, err)
	}
	if u, err := c.RotateCalendarFeed(ctx); err != nil || u != "https://r/cal/pcf_b" {
		t.Errorf("RotateCalendarFeed: %q %v", u, err)
	}
	want := []string{
		"GET /api/v1/customers",
		"GET /api/v1/customers",
		`POST /api/v1/customers {"first_name":"Max","last_name":"Kunde","email":"max@example.org"}`,
		"GET /api/v1/customers/c1",
		`PATCH /api/v1/customers/c1 {"first_name":"Max","last_name":"Kunde","email":"neu@example.org"}`,
		"GET /api/v1/calendar/sources",
		`POST /api/v1/calendar/sources {"kind":"ics","url":"https://x.example/a.ics"}`,
		"DELETE /api/v1/calendar/sources/s1",
		"GET /api/v1/calendar/feed",
		"POST /api/v1/calendar/feed/rotate",
	}
	if got := ms.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestBookingBadResponsesAndErrors(t *testing.T) {
	r, c := loggedIn(t)
	ctx := testCtx(t)
	serve := func(status int, body string) {
		r.serveAll(func(w http.ResponseWriter, _ *http.Request) { raw(status, body)(w) })
	}
	from := time.Now()
	for _, tc := range []struct {
		name, body string
		call       func() error
	}{
		{"no booking list", `{}`, func() error { _, err := c.Bookings(ctx, from, from.Add(time.Hour)); return err }},
		{"booking without id", `{"bookings":[{"status":"confirmed","start":"2027-03-28T08:00:00Z","end":"2027-03-28T09:00:00Z"}]}`,
			func() error { _, err := c.Bookings(ctx, from, from.Add(time.Hour)); return err }},
		{"booking ending before it starts", `{"id":"b1","status":"confirmed","start":"2027-03-28T08:00:00Z","end":"2027-03-28T07:00:00Z"}`,
			func() error { _, err := c.CancelBooking(ctx, "b1"); return err }},
		{"unwrapped booking from BookFor", bookingJSON, func() error { _, err := c.BookFor(ctx, NewBooking{}); return err }},
		{"type without duration", `{"types":[{"id":"t1","name":"x","kind":"video"}]}`,
			func() error { _, err := c.AppointmentTypes(ctx); return err }},
		{"bad weekday", `{"time_zone":"UTC","weekly":[{"weekday":7,"start":"09:00","end":"10:00"}]}`,
			func() error { _, err := c.Availability(ctx); return err }},
		{"bad exception date", `{"time_zone":"UTC","weekly":[],"exceptions":[{"date":"24.12.2026","closed":true}]}`,
			func() error { _, err := c.Availability(ctx); return err }},
		{"page without url", `{"page_id":"p1","enabled":true}`, func() error { _, err := c.BookingPage(ctx); return err }},
		{"customer without id", `{"customers":[{"first_name":"x"}]}`, func() error { _, err := c.Customers(ctx, "", 0); return err }},
		{"history without lists", `{"customer":` + customerJSON + `}`, func() error { _, err := c.Customer(ctx, "c1"); return err }},
		{"source without url", `{"sources":[{"id":"s1","kind":"ics"}]}`, func() error { _, err := c.CalendarSources(ctx); return err }},
		{"feed not a URL", `{"url":"javascript:alert(1)"}`, func() error { _, err := c.CalendarFeed(ctx); return err }},
	} {
		serve(200, tc.body)
		if err := tc.call(); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v, want ErrBadResponse", tc.name, err)
		}
	}

	// Booking errors keep the relay's code and sentence.
	for _, tc := range []struct {
		status int
		code   string
	}{{409, CodeSlotTaken}, {422, CodeBeyondHorizon}, {422, CodeTooSoon}, {409, CodeDayFull}, {422, CodeOutsideAvailability}} {
		msg := fmt.Sprintf("Sorry: %s.", tc.code)
		serve(tc.status, fmt.Sprintf(`{"error":{"code":%q,"message":%q,"last_bookable_date":"2027-10-10"}}`, tc.code, msg))
		_, err := c.RescheduleBooking(ctx, "b1", from)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != tc.code || ae.Status != tc.status || UserMessage(err) != msg {
			t.Errorf("%s: %#v (%q)", tc.code, err, UserMessage(err))
		}
	}
	serve(404, `{"error":{"code":"not_found","message":"no booking page"}}`)
	if _, err := c.BookingPage(ctx); !hasCode(err, CodeNotFound) {
		t.Errorf("BookingPage before enabling: %v", err)
	}
}

// TestBookingLogValues checks that personal data never reaches a log.
func TestBookingLogValues(t *testing.T) {
	var sb strings.Builder
	log := slog.New(slog.NewTextHandler(&sb, nil))
	addr := &Address{Street: "Hauptstr. 1", City: "Berlin"}
	log.Info("x",
		"booking", Booking{ID: "b1", Customer: &BookingContact{FirstName: "Max", LastName: "Kunde", Email: "max@example.org", Mobile: "+4917012345", Address: addr}, Text: "geheim"},
		"new", NewBooking{CustomerID: "c1", Text: "geheim"},
		"customer", Customer{ID: "c1", FirstName: "Max", Email: "max@example.org", Address: addr},
		"history", CustomerHistory{Customer: Customer{ID: "c1", FirstName: "Max"}},
		"source", CalendarSource{ID: "s1", URL: "https://dav.example.org/max/"},
		"newsource", NewCalendarSource{URL: "https://dav.example.org/max/", Username: "max", Password: "pw123"},
	)
	out := sb.String()
	for _, secret := range []string{"Max", "Kunde", "max@", "+4917", "Hauptstr", "Berlin", "geheim", "dav.example", "pw123"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line contains %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, "b1") || !strings.Contains(out, "c1") || !strings.Contains(out, "s1") {
		t.Errorf("log line lacks the ids: %s", out)
	}
}
