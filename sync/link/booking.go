package link

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Booking error codes of docs/api-contract.md ("Booking, customers and
// calendars"), found in [APIError.Code]. The relay words each for people;
// [APIError.Error] returns its message.
const (
	CodeSlotTaken           = "slot_taken"           // booked, held or busy meanwhile (409)
	CodeOutsideAvailability = "outside_availability" // not within the advisor's hours (422)
	CodeTooSoon             = "too_soon"             // within the minimum notice (422)
	CodeBeyondHorizon       = "beyond_horizon"       // after the last bookable date (422)
	CodeDayFull             = "day_full"             // the type's per-day limit is reached (409)
	CodeHoldInvalid         = "hold_invalid"         // the hold expired or is unknown (409)
	CodeBookingCancelled    = "booking_cancelled"    // the booking was cancelled (409)
	CodePageDisabled        = "page_disabled"        // the booking page is off (404)
	CodeInvalidInput        = "invalid_input"        // a field is invalid (400)
)

// Appointment kinds and booking statuses of the contract.
const (
	KindVideo  = "video"  // a video meeting through the relay
	KindPhone  = "phone"  // a phone call to the customer
	KindOnsite = "onsite" // a visit at the customer's address

	BookingConfirmed = "confirmed" // booked and not cancelled
	BookingCancelled = "cancelled" // cancelled by the customer or the advisor
)

// AppointmentType is one kind of appointment an advisor offers (TYPE in
// the contract).
type AppointmentType struct {
	ID          string `json:"id,omitempty"`          // the relay's id; empty when creating
	Name        string `json:"name"`                  // shown to customers
	Description string `json:"description,omitempty"` // optional longer text
	Kind        string `json:"kind"`                  // KindVideo, KindPhone or KindOnsite
	// DurationMin is the appointment's length in minutes.
	DurationMin int `json:"duration_min"`
	// BufferBeforeMin and BufferAfterMin are kept free around it, in
	// minutes.
	BufferBeforeMin int `json:"buffer_before_min"`
	// BufferAfterMin is kept free after the appointment, in minutes.
	BufferAfterMin int `json:"buffer_after_min"`
	// MinNoticeMin is how many minutes before its start it can be booked
	// at the latest.
	MinNoticeMin int `json:"min_notice_min"`
	// PerDayLimit bounds the appointments of this type on one local date;
	// 0 means no limit.
	PerDayLimit int `json:"per_day_limit"`
	// Active types are offered on the public booking page.
	Active bool `json:"active"`
}

// LogValue logs the id and kind only.
func (t AppointmentType) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", t.ID), slog.String("kind", t.Kind))
}

// Hours is a local time range, "15:04" to "15:04" (End may be "24:00").
type Hours struct {
	Start string `json:"start"` // first minute, e.g. "09:00"
	End   string `json:"end"`   // minute after the last, e.g. "12:00"
}

// WeeklyHours makes a time range available on every given weekday.
type WeeklyHours struct {
	// Weekday is the day of the week: 0 is Sunday, as in time.Weekday.
	Weekday time.Weekday `json:"weekday"`
	Hours
}

// AvailabilityException changes the availability of one date.
type AvailabilityException struct {
	// Date is the local date, "2006-01-02".
	Date string `json:"date"`
	// Closed drops the weekly hours of that date.
	Closed bool `json:"closed"`
	// Hours are added that date (with Closed: the only hours that date).
	Hours []Hours `json:"hours,omitempty"`
}

// Availability is when an advisor can be booked, in their time zone.
type Availability struct {
	// TimeZone is the advisor's IANA zone, e.g. "Europe/Berlin".
	TimeZone string `json:"time_zone"`
	// Weekly are the recurring hours.
	Weekly []WeeklyHours `json:"weekly"`
	// Exceptions change single dates.
	Exceptions []AvailabilityException `json:"exceptions"`
}

// BookingContact is the customer's contact as given with a booking.
type BookingContact struct {
	FirstName string   `json:"first_name"`        // given name
	LastName  string   `json:"last_name"`         // family name
	Email     string   `json:"email"`             // e-mail address
	Mobile    string   `json:"mobile,omitempty"`  // phone number, E.164
	Address   *Address `json:"address,omitempty"` // for on-site appointments
}

// Booking is an appointment as the advisor sees it (BOOKING in the
// contract).
type Booking struct {
	ID          string    `json:"id"`           // the relay's id
	TypeID      string    `json:"type_id"`      // the appointment type's id
	TypeName    string    `json:"type_name"`    // its name at booking time
	Kind        string    `json:"kind"`         // KindVideo, KindPhone or KindOnsite
	Start       time.Time `json:"start"`        // the appointment's start
	End         time.Time `json:"end"`          // its end (buffers not included)
	TimeZone    string    `json:"time_zone"`    // the advisor's zone
	Status      string    `json:"status"`       // BookingConfirmed or BookingCancelled
	AdvisorName string    `json:"advisor_name"` // the advisor's display name
	// CanChange is whether the customer can still cancel or reschedule.
	CanChange  bool   `json:"can_change"`
	CustomerID string `json:"customer_id"` // the customer's profile id
	// MeetingID is the video meeting of a video appointment, if any.
	MeetingID string    `json:"meeting_id,omitempty"`
	Sequence  int       `json:"sequence"` // raised with every change (iCalendar SEQUENCE)
	Created   time.Time `json:"created"`  // when it was booked
	Updated   time.Time `json:"updated"`  // when it last changed
	// CancelledBy is "customer" or "advisor" once cancelled.
	CancelledBy string `json:"cancelled_by,omitempty"`
	// Customer is the customer's contact, nil when the relay withholds it.
	Customer *BookingContact `json:"customer,omitempty"`
	// Text is the customer's optional message.
	Text string `json:"text,omitempty"`
}

// LogValue keeps the customer's details and message out of logs.
func (b Booking) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", b.ID), slog.String("type_id", b.TypeID),
		slog.String("customer_id", b.CustomerID), slog.String("status", b.Status), slog.Time("start", b.Start))
}

// NewBooking is what [Client.BookFor] sends.
type NewBooking struct {
	CustomerID string    `json:"customer_id"`    // a known customer's id
	TypeID     string    `json:"type"`           // the appointment type's id
	Start      time.Time `json:"start"`          // one of the free slots
	Text       string    `json:"text,omitempty"` // optional note
}

// LogValue keeps the note out of logs.
func (b NewBooking) LogValue() slog.Value {
	return slog.GroupValue(slog.String("customer_id", b.CustomerID), slog.String("type", b.TypeID), slog.Time("start", b.Start))
}

// BookingPage is the advisor's public booking page.
type BookingPage struct {
	PageID  string `json:"page_id"` // the page's id, part of its URL
	URL     string `json:"url"`     // the page's address for customers
	Enabled bool   `json:"enabled"` // whether it takes bookings
}

func checkType(path string, t AppointmentType) error {
	if t.ID == "" || t.Name == "" || t.Kind == "" || t.DurationMin <= 0 {
		return badResponse(path, "appointment type without id, name, kind or duration")
	}
	return nil
}

func checkBooking(path string, b Booking) error {
	if b.ID == "" || b.Status == "" || b.Start.IsZero() || b.End.Before(b.Start) {
		return badResponse(path, "booking without id, status or a valid time")
	}
	return nil
}

func checkPage(path string, p BookingPage) error {
	if p.PageID == "" || p.URL == "" {
		return badResponse(path, "booking page without id or URL")
	}
	return nil
}

// BookingPage returns the logged-in advisor's booking page. Before it was
// enabled, the relay answers an *[APIError] with [CodeNotFound].
func (c *Client) BookingPage(ctx context.Context) (BookingPage, error) {
	return c.bookingPage(ctx, http.MethodGet)
}

// EnableBookingPage turns the advisor's booking page on (creating it the
// first time) and returns it.
func (c *Client) EnableBookingPage(ctx context.Context) (BookingPage, error) {
	return c.bookingPage(ctx, http.MethodPost)
}

func (c *Client) bookingPage(ctx context.Context, method string) (BookingPage, error) {
	const path = "/api/v1/booking/page"
	var p BookingPage
	if _, _, err := c.do(ctx, method, path, true, nil, &p); err != nil {
		return BookingPage{}, err
	}
	if err := checkPage(path, p); err != nil {
		return BookingPage{}, err
	}
	return p, nil
}

// AppointmentTypes returns the advisor's appointment types.
func (c *Client) AppointmentTypes(ctx context.Context) ([]AppointmentType, error) {
	const path = "/api/v1/booking/types"
	var res struct {
		Types []AppointmentType `json:"types"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &res); err != nil {
		return nil, err
	}
	if res.Types == nil {
		return nil, badResponse(path, "no type list")
	}
	for _, t := range res.Types {
		if err := checkType(path, t); err != nil {
			return nil, err
		}
	}
	return res.Types, nil
}

// CreateAppointmentType creates a type (its ID is ignored) and returns it
// with its new id.
func (c *Client) CreateAppointmentType(ctx context.Context, t AppointmentType) (AppointmentType, error) {
	const path = "/api/v1/booking/types"
	t.ID = ""
	return c.putType(ctx, http.MethodPost, path, t)
}

// UpdateAppointmentType replaces the type with t.ID and returns it.
func (c *Client) UpdateAppointmentType(ctx context.Context, t AppointmentType) (AppointmentType, error) {
	return c.putType(ctx, http.MethodPut, "/api/v1/booking/types/"+url.PathEscape(t.ID), t)
}

func (c *Client) putType(ctx context.Context, method, path string, t AppointmentType) (AppointmentType, error) {
	var out AppointmentType
	if _, _, err := c.do(ctx, method, path, true, t, &out); err != nil {
		return AppointmentType{}, err
	}
	if err := checkType(path, out); err != nil {
		return AppointmentType{}, err
	}
	return out, nil
}

// DeleteAppointmentType removes a type; booked appointments stay.
func (c *Client) DeleteAppointmentType(ctx context.Context, id string) error {
	_, _, err := c.do(ctx, http.MethodDelete, "/api/v1/booking/types/"+url.PathEscape(id), true, nil, nil)
	return err
}

// Availability returns the advisor's time zone, weekly hours and
// exceptions.
func (c *Client) Availability(ctx context.Context) (Availability, error) {
	const path = "/api/v1/booking/availability"
	var a Availability
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &a); err != nil {
		return Availability{}, err
	}
	for _, w := range a.Weekly {
		if w.Weekday < time.Sunday || w.Weekday > time.Saturday || w.Start == "" || w.End == "" {
			return Availability{}, badResponse(path, "weekly hours with a bad weekday or time")
		}
	}
	for _, x := range a.Exceptions {
		if _, err := time.Parse(time.DateOnly, x.Date); err != nil {
			return Availability{}, badResponse(path, "exception with a bad date")
		}
	}
	return a, nil
}

// SetAvailability replaces the advisor's availability. Invalid hours yield
// an *[APIError] with [CodeInvalidInput] (or [CodeBadRequest]) and the
// relay's sentence.
func (c *Client) SetAvailability(ctx context.Context, a Availability) error {
	if a.Weekly == nil {
		a.Weekly = []WeeklyHours{}
	}
	if a.Exceptions == nil {
		a.Exceptions = []AvailabilityException{}
	}
	_, _, err := c.do(ctx, http.MethodPut, "/api/v1/booking/availability", true, a, nil)
	return err
}

// Bookings returns the advisor's bookings starting in [from, to) (at most
// 400 days), ordered by start, cancelled ones included.
func (c *Client) Bookings(ctx context.Context, from, to time.Time) ([]Booking, error) {
	const path = "/api/v1/bookings"
	q := url.Values{"from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)}}
	var res struct {
		Bookings []Booking `json:"bookings"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, path+"?"+q.Encode(), true, nil, &res); err != nil {
		return nil, err
	}
	if res.Bookings == nil {
		return nil, badResponse(path, "no booking list")
	}
	for _, b := range res.Bookings {
		if err := checkBooking(path, b); err != nil {
			return nil, err
		}
	}
	return res.Bookings, nil
}

func bookingPath(id string) string { return "/api/v1/bookings/" + url.PathEscape(id) }

// Booking returns one of the advisor's bookings.
func (c *Client) Booking(ctx context.Context, id string) (Booking, error) {
	return c.bookingCall(ctx, http.MethodGet, bookingPath(id), nil, false)
}

// BookFor books an appointment for a known customer. A time no longer
// free yields an *[APIError] with [CodeSlotTaken]; one beyond the horizon
// one with [CodeBeyondHorizon], and so on (the Code… constants above).
func (c *Client) BookFor(ctx context.Context, b NewBooking) (Booking, error) {
	return c.bookingCall(ctx, http.MethodPost, "/api/v1/bookings", b, true)
}

// CancelBooking cancels a booking (the customer is told) and returns it.
func (c *Client) CancelBooking(ctx context.Context, id string) (Booking, error) {
	return c.bookingCall(ctx, http.MethodPost, bookingPath(id)+"/cancel", nil, false)
}

// RescheduleBooking moves a booking to start and returns it. Errors are
// those of [Client.BookFor].
func (c *Client) RescheduleBooking(ctx context.Context, id string, start time.Time) (Booking, error) {
	body := struct {
		Start time.Time `json:"start"`
	}{start.UTC()}
	return c.bookingCall(ctx, http.MethodPost, bookingPath(id)+"/reschedule", body, false)
}

// bookingCall sends a request answered by a BOOKING, wrapped in
// {"booking":…} when wrapped.
func (c *Client) bookingCall(ctx context.Context, method, path string, in any, wrapped bool) (Booking, error) {
	var b Booking
	var out any = &b
	var res struct {
		Booking *Booking `json:"booking"`
	}
	if wrapped {
		res.Booking = &b
		out = &res
	}
	if _, _, err := c.do(ctx, method, path, true, in, out); err != nil {
		return Booking{}, err
	}
	if err := checkBooking(path, b); err != nil {
		return Booking{}, err
	}
	return b, nil
}
