package app

import (
	"context"
	"strings"
	"time"
)

// BookingRelay is what the Calendar, Customers and Booking pages need from
// the relay. Like [Relay], the UI calls every method off the UI thread with
// a context that carries a timeout and shows the text of any error to the
// user, so implementations return messages a person can act on (for
// example the relay's own sentence for a slot that was taken meanwhile).
type BookingRelay interface {
	// Bookings returns the signed-in advisor's bookings that start in
	// [from, to), ordered by start, cancelled ones included.
	Bookings(ctx context.Context, from, to time.Time) ([]Booking, error)
	// CancelBooking cancels a booking (the customer is told by e-mail) and
	// returns it as it is now.
	CancelBooking(ctx context.Context, id string) (Booking, error)
	// RescheduleBooking moves a booking to a new start, keeping its type
	// and length, and returns it as it is now.
	RescheduleBooking(ctx context.Context, id string, start time.Time) (Booking, error)
	// BookForCustomer books an appointment for a known customer.
	BookForCustomer(ctx context.Context, b NewBooking) (Booking, error)

	// Availability returns the advisor's time zone, weekly hours and
	// exceptions; all empty (and no error) before they were first saved.
	Availability(ctx context.Context) (Availability, error)
	// SaveAvailability replaces the advisor's availability.
	SaveAvailability(ctx context.Context, a Availability) error
	// AppointmentTypes returns the advisor's appointment types.
	AppointmentTypes(ctx context.Context) ([]AppointmentType, error)
	// SaveAppointmentType creates the type (when its ID is empty) or
	// replaces it, and returns it as stored.
	SaveAppointmentType(ctx context.Context, t AppointmentType) (AppointmentType, error)
	// DeleteAppointmentType removes an appointment type.
	DeleteAppointmentType(ctx context.Context, id string) error

	// BookingPage returns the advisor's public booking page; Enabled is
	// false (and no error returned) before it was enabled.
	BookingPage(ctx context.Context) (BookingPageInfo, error)
	// EnableBookingPage turns the public booking page on and returns it.
	EnableBookingPage(ctx context.Context) (BookingPageInfo, error)
	// CalendarFeed returns the secret address of the advisor's ICS feed,
	// or "" (and no error) when it was shown before: the relay shows it
	// only once, and RotateCalendarFeed makes a new one to show.
	CalendarFeed(ctx context.Context) (string, error)
	// RotateCalendarFeed replaces the feed's address; the old one stops
	// working at once.
	RotateCalendarFeed(ctx context.Context) (string, error)
	// CalendarSources returns the calendars whose busy times block slots.
	CalendarSources(ctx context.Context) ([]CalendarSource, error)
	// AddCalendarSource adds a calendar (the relay syncs it at once; a
	// failed sync shows in LastError) and returns it.
	AddCalendarSource(ctx context.Context, s NewCalendarSource) (CalendarSource, error)
	// RemoveCalendarSource stops using a calendar.
	RemoveCalendarSource(ctx context.Context, id string) error

	// Customers returns up to limit of the tenant's customers matching
	// query (all when empty), latest interaction first.
	Customers(ctx context.Context, query string, limit int) ([]Customer, error)
	// CustomerHistory returns a customer's profile with their bookings and
	// meetings, past and future, newest first.
	CustomerHistory(ctx context.Context, id string) (CustomerHistory, error)
	// UpdateCustomer replaces the contact details (names, e-mail, mobile,
	// address) of the profile with c's ID by c's (rectification; an empty
	// field clears it) and returns the profile as it is now.
	UpdateCustomer(ctx context.Context, c Customer) (Customer, error)
}

// Appointment kinds, as in [AppointmentType.Kind] and [Booking.Kind].
const (
	KindVideo  = "video"  // a video meeting through Parley
	KindPhone  = "phone"  // the advisor calls the customer
	KindOnsite = "onsite" // at the customer's address
)

// Booking statuses, as in [Booking.Status].
const (
	BookingConfirmed = "confirmed" // booked and not cancelled
	BookingCancelled = "cancelled" // cancelled by the customer or advisor
)

// kindName is how an appointment kind reads in the UI.
func kindName(kind string) string {
	switch kind {
	case KindVideo:
		return "Video"
	case KindPhone:
		return "Phone"
	case KindOnsite:
		return "On site"
	}
	return kind
}

// Address is a customer's postal address.
type Address struct {
	// Street is the street and house number.
	Street string
	// PostalCode is the postal code.
	PostalCode string
	// City is the city or town.
	City string
	// Country is an ISO 3166-1 alpha-2 code, possibly empty.
	Country string
}

// String puts the address on one line, e.g. "Hauptstr. 1, 10115 Berlin".
func (a Address) String() string {
	var parts []string
	if s := strings.TrimSpace(a.Street); s != "" {
		parts = append(parts, s)
	}
	if s := strings.TrimSpace(strings.TrimSpace(a.PostalCode) + " " + strings.TrimSpace(a.City)); s != "" {
		parts = append(parts, s)
	}
	if s := strings.TrimSpace(a.Country); s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// Booking is an appointment a customer (or the advisor for them) booked.
type Booking struct {
	// ID is the relay's identifier of the booking.
	ID string
	// TypeID and TypeName identify the appointment type.
	TypeID, TypeName string
	// Kind is one of the Kind… constants.
	Kind string
	// Start and End are the appointment's time, without buffers.
	Start, End time.Time
	// TimeZone is the advisor's IANA zone at booking time.
	TimeZone string
	// Status is one of the Booking… statuses.
	Status string
	// CancelledBy says who cancelled ("customer" or "advisor"), if so.
	CancelledBy string
	// CustomerID is the id of the customer's profile.
	CustomerID string
	// MeetingID is the video meeting created for a video appointment.
	MeetingID string
	// FirstName, LastName, Email and Mobile are the customer's details
	// as given with the booking.
	FirstName, LastName, Email, Mobile string
	// Address is the customer's address for an on-site appointment.
	Address Address
	// Text is the customer's optional message.
	Text string
}

// cancelled reports whether the booking was cancelled.
func (b Booking) cancelled() bool { return b.Status == BookingCancelled }

// customerName is the customer's full name, or a placeholder.
func (b Booking) customerName() string {
	return personName(b.FirstName, b.LastName)
}

// personName joins first and last name, or says that there is none.
func personName(first, last string) string {
	if n := strings.TrimSpace(strings.TrimSpace(first) + " " + strings.TrimSpace(last)); n != "" {
		return n
	}
	return "Unnamed customer"
}

// NewBooking is what the advisor enters to book for a known customer.
type NewBooking struct {
	// CustomerID is the customer's profile id.
	CustomerID string
	// TypeID is the appointment type's id.
	TypeID string
	// Start is the appointment's start.
	Start time.Time
	// Text is an optional note.
	Text string
}

// AppointmentType is one kind of appointment the advisor offers.
type AppointmentType struct {
	// ID is the relay's identifier; empty for a type not yet created.
	ID string
	// Name is shown to customers, e.g. "Erstberatung Baufinanzierung".
	Name string
	// Description is an optional longer text for customers.
	Description string
	// Kind is one of the Kind… constants.
	Kind string
	// Duration is the appointment's length.
	Duration time.Duration
	// BufferBefore and BufferAfter are kept free around the appointment.
	BufferBefore, BufferAfter time.Duration
	// MinNotice is how long before its start an appointment can be booked
	// at the latest.
	MinNotice time.Duration
	// PerDayLimit is the most appointments of this type on one day; 0
	// means no limit.
	PerDayLimit int
	// Active types are offered on the booking page.
	Active bool
}

// Availability is when the advisor can be booked.
type Availability struct {
	// TimeZone is the advisor's IANA zone, e.g. "Europe/Berlin"; all
	// hours below are local times in it.
	TimeZone string
	// Weekly are the regular hours.
	Weekly []WeeklyHours
	// Exceptions override the weekly hours on single dates.
	Exceptions []DateException
}

// WeeklyHours is one span of regular hours on a weekday.
type WeeklyHours struct {
	// Weekday is the day of the week.
	Weekday time.Weekday
	// Span is the time of day.
	Span
}

// Span is a time of day from Start to End, both "15:04" local times.
type Span struct {
	// Start is the span's start, e.g. "09:00".
	Start string
	// End is the span's end, e.g. "12:30"; "24:00" is the end of the day.
	End string
}

// DateException changes the weekly hours on one date.
type DateException struct {
	// Date is the local date, "2006-01-02".
	Date string
	// Closed drops the weekly hours of that date (a holiday).
	Closed bool
	// Hours are added to the weekly hours that date; with Closed they are
	// the only hours that date.
	Hours []Span
}

// BookingPageInfo is the advisor's public booking page.
type BookingPageInfo struct {
	// URL is the page's address to hand to customers.
	URL string
	// Enabled is false until the advisor turns the page on.
	Enabled bool
}

// Calendar source kinds, as in [CalendarSource.Kind].
const (
	SourceICS    = "ics"    // a plain ICS URL
	SourceCalDAV = "caldav" // a CalDAV calendar
)

// CalendarSource is a calendar whose busy times block slots.
type CalendarSource struct {
	// ID is the relay's identifier.
	ID string
	// Kind is SourceICS or SourceCalDAV.
	Kind string
	// URL is the calendar's address (without credentials).
	URL string
	// Label is the advisor's name for it.
	Label string
	// LastSync is when it was last read successfully; zero before.
	LastSync time.Time
	// LastError is why the last sync failed, empty when it worked.
	LastError string
	// Events is how many busy events the last sync found.
	Events int
}

// NewCalendarSource is what the advisor enters to add a calendar.
type NewCalendarSource struct {
	// Kind is SourceICS or SourceCalDAV.
	Kind string
	// URL is the calendar's address.
	URL string
	// Username and Password are the CalDAV credentials, if needed.
	Username, Password string
	// Label is the advisor's name for it.
	Label string
}

// Customer is a customer's profile.
type Customer struct {
	// ID is the relay's identifier.
	ID string
	// FirstName, LastName, Email and Mobile are the customer's details.
	FirstName, LastName, Email, Mobile string
	// Address is the postal address, possibly empty.
	Address Address
	// Created is when the profile was made.
	Created time.Time
	// LastInteraction is the last booking or meeting.
	LastInteraction time.Time
}

// name is the customer's full name, or a placeholder.
func (c Customer) name() string { return personName(c.FirstName, c.LastName) }

// CustomerHistory is a profile with the customer's bookings and meetings.
type CustomerHistory struct {
	// Customer is the profile.
	Customer Customer
	// Bookings are the customer's bookings, newest first.
	Bookings []Booking
	// Meetings are the customer's meetings, newest first.
	Meetings []MeetingInfo
}
