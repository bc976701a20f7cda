package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"parley/relay/auth"
	"parley/relay/booking"
	"parley/relay/customer"
)

// Booking is what the API needs from the booking service
// (*booking.Service).
type Booking interface {
	RemoveAdvisor(ctx context.Context, tenantID, advisorID string) error
	PutType(ctx context.Context, a booking.Actor, advisorID string, t booking.AppointmentType) (booking.AppointmentType, error)
	DeleteType(ctx context.Context, a booking.Actor, advisorID, typeID string) error
	TypesOf(ctx context.Context, a booking.Actor, advisorID string) ([]booking.AppointmentType, error)
	SetAvailability(ctx context.Context, a booking.Actor, advisorID string, av booking.Availability) error
	Availability(ctx context.Context, tenantID, advisorID string) (booking.Availability, error)
	EnablePage(ctx context.Context, a booking.Actor, advisorID string) (booking.Page, error)
	PageOf(ctx context.Context, a booking.Actor, advisorID string) (booking.Page, error)
	List(ctx context.Context, a booking.Actor, advisorID string, from, to time.Time) ([]booking.Booking, error)
	Get(ctx context.Context, a booking.Actor, bookingID string) (booking.Booking, booking.Details, error)
	ByCustomer(ctx context.Context, a booking.Actor, customerID string) ([]booking.Booking, error)
	Cancel(ctx context.Context, a booking.Actor, bookingID string) (booking.Booking, error)
	Reschedule(ctx context.Context, a booking.Actor, bookingID string, newStart time.Time) (booking.Booking, error)
	BookFor(ctx context.Context, a booking.Actor, advisorID, customerID string, req booking.Request) (booking.Booking, string, error)
	ResolvePage(ctx context.Context, pageID string) (booking.Page, error)
	Types(ctx context.Context, tenantID, advisorID string) ([]booking.AppointmentType, error)
	Slots(ctx context.Context, pageID, typeID string, from, to time.Time) ([]booking.Slot, error)
	LastBookableDate(ctx context.Context, tenantID, advisorID string) (string, error)
	Hold(ctx context.Context, pageID, typeID string, start time.Time) (string, time.Time, error)
	Book(ctx context.Context, req booking.Request) (booking.Booking, string, error)
	ByManageToken(ctx context.Context, token string) (booking.Booking, booking.Details, error)
	CancelByToken(ctx context.Context, token string) (booking.Booking, error)
	RescheduleByToken(ctx context.Context, token string, newStart time.Time, holdToken string) (booking.Booking, error)
}

// bookingError maps the booking service's errors for toError; nil when err
// is not one of them.
func bookingError(err error) *Error {
	var in *booking.InputError
	var hz *booking.HorizonError
	switch {
	case errors.As(err, &hz):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "beyond_horizon",
			Message: "Appointments can be booked up to " + hz.LastDate + ".", LastBookableDate: hz.LastDate}
	case errors.As(err, &in):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_input", Message: in.Error(), Field: in.Field}
	case errors.Is(err, booking.ErrFutureBookings):
		var fb *booking.FutureBookingsError
		n := 0
		if errors.As(err, &fb) {
			n = fb.Count
		}
		return &Error{Status: http.StatusConflict, Code: "future_bookings",
			Message: fmt.Sprintf("You still have %d appointments to come: cancel them or ask an admin to hand them over first.", n)}
	case errors.Is(err, booking.ErrIdempotencyMismatch):
		return &Error{Status: http.StatusConflict, Code: "idempotency_conflict", Message: "This Idempotency-Key was already used for a different booking request."}
	case errors.Is(err, booking.ErrSlotTaken):
		return &Error{Status: http.StatusConflict, Code: "slot_taken", Message: "This time has just been taken. Please pick another one."}
	case errors.Is(err, booking.ErrOutsideAvailability):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "outside_availability", Message: "The advisor is not available at this time."}
	case errors.Is(err, booking.ErrTooSoon):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "too_soon", Message: "This time is too soon to book."}
	case errors.Is(err, booking.ErrDayFull):
		return &Error{Status: http.StatusConflict, Code: "day_full", Message: "No more appointments of this kind can be booked on this day."}
	case errors.Is(err, booking.ErrHoldInvalid):
		return &Error{Status: http.StatusConflict, Code: "hold_invalid", Message: "The reservation of this time has expired. Please pick the time again."}
	case errors.Is(err, booking.ErrCancelled):
		return &Error{Status: http.StatusConflict, Code: "booking_cancelled", Message: "This appointment has been cancelled."}
	case errors.Is(err, booking.ErrPageDisabled):
		return &Error{Status: http.StatusNotFound, Code: "page_disabled", Message: "This booking page is not available."}
	case errors.Is(err, booking.ErrForbidden):
		return errForbidden
	case errors.Is(err, booking.ErrNotFound):
		return errNotFound
	case errors.Is(err, booking.ErrInvalidInput):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_input", Message: "The request is not valid."}
	}
	return nil
}

func bookingActor(s auth.Session) booking.Actor {
	return booking.Actor{TenantID: s.TenantID, UserID: s.UserID, Admin: s.Role == auth.RoleAdmin}
}

// advisorOf is the advisor an advisor route acts for: the caller, or for an
// admin a user of the admin's own tenant named by ?advisor= (another
// tenant's user is unknown here: 404).
func (h *handler) advisorOf(r *http.Request, s auth.Session) (string, error) {
	a := r.URL.Query().Get("advisor")
	if a == "" || a == s.UserID {
		return s.UserID, nil
	}
	if s.Role != auth.RoleAdmin {
		return "", errForbidden
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	if _, err := h.auth.GetUser(ctx, s.TenantID, a); err != nil {
		return "", err
	}
	return a, nil
}

// availabilityOf is the advisor's availability; an advisor who has not
// set any yet has none, in the relay's default zone.
func (h *handler) availabilityOf(ctx context.Context, tenantID, advisorID string) (booking.Availability, error) {
	av, err := h.booking.Availability(ctx, tenantID, advisorID)
	if errors.Is(err, booking.ErrNotFound) {
		return booking.Availability{TimeZone: defaultTimeZone, Weekly: []booking.WeeklyRule{}, Exceptions: []booking.Exception{}}, nil
	}
	return av, err
}

// defaultTimeZone is the zone shown for an advisor without availability.
const defaultTimeZone = "Europe/Berlin"

// ---- JSON shapes ----

type typeJSON struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Description     string `json:"description,omitempty"`
	Kind            string `json:"kind"`
	DurationMin     int    `json:"duration_min"`
	BufferBeforeMin *int   `json:"buffer_before_min,omitempty"`
	BufferAfterMin  *int   `json:"buffer_after_min,omitempty"`
	MinNoticeMin    *int   `json:"min_notice_min,omitempty"`
	PerDayLimit     *int   `json:"per_day_limit,omitempty"`
	Active          *bool  `json:"active,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func toTypeJSON(t booking.AppointmentType, full bool) typeJSON {
	j := typeJSON{ID: t.ID, Name: t.Name, Description: t.Description, Kind: string(t.Kind), DurationMin: t.DurationMin}
	if full {
		j.BufferBeforeMin, j.BufferAfterMin = ptr(t.BufferBeforeMin), ptr(t.BufferAfterMin)
		j.MinNoticeMin, j.PerDayLimit, j.Active = ptr(t.MinNoticeMin), ptr(t.PerDayLimit), ptr(t.Active)
	}
	return j
}

func (j typeJSON) domain() booking.AppointmentType {
	deref := func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	}
	active := true
	if j.Active != nil {
		active = *j.Active
	}
	return booking.AppointmentType{ID: j.ID, Name: j.Name, Description: j.Description, Kind: booking.Kind(j.Kind),
		DurationMin: j.DurationMin, BufferBeforeMin: deref(j.BufferBeforeMin), BufferAfterMin: deref(j.BufferAfterMin),
		MinNoticeMin: deref(j.MinNoticeMin), PerDayLimit: deref(j.PerDayLimit), Active: active}
}

type publicBookingJSON struct {
	TypeID      string    `json:"type_id"`
	TypeName    string    `json:"type_name"`
	Kind        string    `json:"kind"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	TimeZone    string    `json:"time_zone"`
	Status      string    `json:"status"`
	AdvisorName string    `json:"advisor_name"`
	CanChange   bool      `json:"can_change"`
}

type bookingJSON struct {
	publicBookingJSON
	ID          string            `json:"id"`
	CustomerID  string            `json:"customer_id"`
	MeetingID   string            `json:"meeting_id,omitempty"`
	Sequence    int               `json:"sequence"`
	Created     time.Time         `json:"created"`
	Updated     time.Time         `json:"updated"`
	CancelledBy string            `json:"cancelled_by,omitempty"`
	Customer    *customer.Contact `json:"customer,omitempty"`
	Text        string            `json:"text,omitempty"`
}

func (h *handler) advisorName(ctx context.Context, tenantID, userID string) string {
	u, err := h.auth.GetUser(ctx, tenantID, userID)
	if err != nil {
		return ""
	}
	return u.DisplayName
}

func (h *handler) toPublicBooking(ctx context.Context, b booking.Booking) publicBookingJSON {
	return publicBookingJSON{TypeID: b.TypeID, TypeName: b.TypeName, Kind: string(b.Kind), Start: b.Start.UTC(), End: b.End.UTC(),
		TimeZone: b.TimeZone, Status: string(b.Status), AdvisorName: h.advisorName(ctx, b.TenantID, b.AdvisorID),
		CanChange: b.Status == booking.StatusConfirmed && h.clock.Now().Before(b.Start)}
}

func (h *handler) toBookingJSON(ctx context.Context, b booking.Booking, d *booking.Details) bookingJSON {
	j := bookingJSON{publicBookingJSON: h.toPublicBooking(ctx, b), ID: b.ID, CustomerID: b.CustomerID, MeetingID: b.MeetingID,
		Sequence: b.Sequence, Created: b.Created.UTC(), Updated: b.Updated.UTC(), CancelledBy: b.CancelledBy}
	if d != nil {
		c := d.Contact
		j.Customer, j.Text = &c, d.Text
	}
	return j
}

// ---- public booking page ----

func (h *handler) bookingPage(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if h.booking == nil {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	p, err := h.booking.ResolvePage(ctx, r.PathValue("page"))
	if err != nil {
		writeError(w, err)
		return
	}
	av, err := h.availabilityOf(ctx, p.TenantID, p.AdvisorID)
	if err != nil {
		writeError(w, err)
		return
	}
	types, err := h.booking.Types(ctx, p.TenantID, p.AdvisorID)
	if err != nil {
		writeError(w, err)
		return
	}
	last, err := h.booking.LastBookableDate(ctx, p.TenantID, p.AdvisorID)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]typeJSON, 0, len(types))
	for _, t := range types {
		out = append(out, toTypeJSON(t, false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"advisor_name": h.advisorName(ctx, p.TenantID, p.AdvisorID),
		"time_zone": av.TimeZone, "last_bookable_date": last, "types": out})
}

// maxSlotRange bounds one slots request.
const maxSlotRange = 42 * 24 * time.Hour

func (h *handler) bookingSlots(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if h.booking == nil {
		writeError(w, errNotFound)
		return
	}
	q := r.URL.Query()
	from, err1 := time.Parse(time.RFC3339, q.Get("from"))
	to, err2 := time.Parse(time.RFC3339, q.Get("to"))
	if err1 != nil || err2 != nil {
		writeError(w, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "from", Message: "Give \"from\" and \"to\" as RFC 3339 times."})
		return
	}
	if !to.After(from) || to.Sub(from) > maxSlotRange {
		writeError(w, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "to", Message: "\"to\" must be after \"from\", at most 42 days later."})
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	p, err := h.booking.ResolvePage(ctx, r.PathValue("page"))
	if err != nil {
		writeError(w, err)
		return
	}
	slots, err := h.booking.Slots(ctx, p.ID, q.Get("type"), from, to)
	if err != nil {
		writeError(w, err)
		return
	}
	av, err := h.availabilityOf(ctx, p.TenantID, p.AdvisorID)
	if err != nil {
		writeError(w, err)
		return
	}
	last, err := h.booking.LastBookableDate(ctx, p.TenantID, p.AdvisorID)
	if err != nil {
		writeError(w, err)
		return
	}
	type slotJSON struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	}
	out := make([]slotJSON, 0, len(slots))
	for _, s := range slots {
		out = append(out, slotJSON{s.Start.UTC(), s.End.UTC()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"slots": out, "time_zone": av.TimeZone, "last_bookable_date": last})
}

// holdsPerClient bounds the live holds one client address may keep, so
// that nobody can hold an advisor's whole week.
const holdsPerClient = 3

// holdCounter remembers, in memory only, when each client's holds expire.
type holdCounter struct {
	mu   sync.Mutex
	live map[string][]time.Time
}

// take records a hold for addr unless it already has holdsPerClient live.
func (c *holdCounter) take(addr string, now, expires time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live == nil {
		c.live = map[string][]time.Time{}
	}
	kept := c.live[addr][:0]
	for _, e := range c.live[addr] {
		if e.After(now) {
			kept = append(kept, e)
		}
	}
	if len(kept) >= holdsPerClient {
		c.live[addr] = kept
		return false
	}
	c.live[addr] = append(kept, expires)
	if len(c.live) > maxBuckets {
		for k, v := range c.live {
			if len(v) == 0 || !v[len(v)-1].After(now) {
				delete(c.live, k)
			}
		}
	}
	return true
}

func (c *holdCounter) full(addr string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.live[addr] {
		if e.After(now) {
			n++
		}
	}
	return n >= holdsPerClient
}

type slotHoldRequest struct {
	Type  string    `json:"type"`
	Start time.Time `json:"start"`
}

func decodeSlotHold(body []byte) (slotHoldRequest, error) {
	var req slotHoldRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	return req, requireFields([2]string{"type", req.Type})
}

func (h *handler) bookingHold(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if h.booking == nil {
		writeError(w, errNotFound)
		return
	}
	req, ok := decodeRequest(w, r, decodeSlotHold)
	if !ok {
		return
	}
	addr := source(r)
	if h.holds.full(addr, h.clock.Now()) {
		writeError(w, &Error{Status: http.StatusTooManyRequests, Code: "throttled", RetryAfter: 60,
			Message: "You are already holding several times. Book one of them or wait a few minutes."})
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	token, expires, err := h.booking.Hold(ctx, r.PathValue("page"), req.Type, req.Start)
	if err != nil {
		writeError(w, err)
		return
	}
	h.holds.take(addr, h.clock.Now(), expires)
	writeJSON(w, http.StatusCreated, map[string]any{"hold_token": token, "expires_at": expires.UTC()})
}

type addressJSON struct {
	Street     string `json:"street"`
	PostalCode string `json:"postal_code"`
	City       string `json:"city"`
	Country    string `json:"country"`
}

type bookRequest struct {
	Type      string       `json:"type"`
	Start     time.Time    `json:"start"`
	HoldToken string       `json:"hold_token"`
	FirstName string       `json:"first_name"`
	LastName  string       `json:"last_name"`
	Email     string       `json:"email"`
	Phone     string       `json:"phone"`
	Address   *addressJSON `json:"address"`
	Text      string       `json:"text"`
	Lang      string       `json:"lang"`
}

func decodeBook(body []byte) (bookRequest, error) {
	var req bookRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	return req, requireFields([2]string{"type", req.Type})
}

func (req bookRequest) contact() customer.Contact {
	c := customer.Contact{FirstName: req.FirstName, LastName: req.LastName, Email: req.Email, Mobile: req.Phone}
	if req.Address != nil {
		c.Address = &customer.Address{Street: req.Address.Street, PostalCode: req.Address.PostalCode, City: req.Address.City, Country: req.Address.Country}
	}
	return c
}

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 200

func (h *handler) bookingCreate(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if h.booking == nil {
		writeError(w, errNotFound)
		return
	}
	req, ok := decodeRequest(w, r, decodeBook)
	if !ok {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		writeError(w, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "idempotency_key", Message: "The Idempotency-Key header is longer than 200 characters."})
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	b, token, err := h.booking.Book(ctx, booking.Request{PageID: r.PathValue("page"), TypeID: req.Type, Start: req.Start,
		Contact: req.contact(), Text: req.Text, HoldToken: req.HoldToken, IdempotencyKey: key, Lang: req.Lang})
	if err != nil {
		writeError(w, err)
		return
	}
	h.log.Info("booking: booked", "booking_id", b.ID, "tenant_id", b.TenantID, "advisor_id", b.AdvisorID)
	writeJSON(w, http.StatusCreated, map[string]any{"booking": h.toPublicBooking(ctx, b), "manage_url": h.baseURL(r) + "/m/" + token})
}

func (h *handler) manageGet(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if h.booking == nil {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	b, _, err := h.booking.ByManageToken(ctx, r.PathValue("token"))
	if err != nil {
		writeError(w, err)
		return
	}
	page, err := h.booking.PageOf(ctx, booking.Actor{TenantID: b.TenantID, UserID: b.AdvisorID}, b.AdvisorID)
	if err != nil && !errors.Is(err, booking.ErrNotFound) {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"booking": h.toPublicBooking(ctx, b), "page_id": page.ID})
}

func (h *handler) manageCancel(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if h.booking == nil {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	b, err := h.booking.CancelByToken(ctx, r.PathValue("token"))
	if err != nil {
		writeError(w, err)
		return
	}
	h.log.Info("booking: cancelled by customer", "booking_id", b.ID)
	writeJSON(w, http.StatusOK, map[string]any{"booking": h.toPublicBooking(ctx, b)})
}

type rescheduleRequest struct {
	Start     time.Time `json:"start"`
	HoldToken string    `json:"hold_token"`
}

func decodeReschedule(body []byte) (rescheduleRequest, error) {
	var req rescheduleRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if req.Start.IsZero() {
		return req, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "start", Message: "Field \"start\" is required."}
	}
	return req, nil
}

func (h *handler) manageReschedule(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if h.booking == nil {
		writeError(w, errNotFound)
		return
	}
	req, ok := decodeRequest(w, r, decodeReschedule)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	b, err := h.booking.RescheduleByToken(ctx, r.PathValue("token"), req.Start, req.HoldToken)
	if err != nil {
		writeError(w, err)
		return
	}
	h.log.Info("booking: rescheduled by customer", "booking_id", b.ID)
	writeJSON(w, http.StatusOK, map[string]any{"booking": h.toPublicBooking(ctx, b)})
}

// ---- advisor side ----

// bookingCall runs an advisor booking route: it resolves the advisor the
// caller acts for and checks the service exists.
func (h *handler) bookingCall(w http.ResponseWriter, r *http.Request, s auth.Session, fn func(ctx context.Context, a booking.Actor, advisorID string) (int, any, error)) {
	if h.booking == nil {
		writeError(w, errNotFound)
		return
	}
	advisorID, err := h.advisorOf(r, s)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	status, v, err := fn(ctx, bookingActor(s), advisorID)
	if err != nil {
		writeError(w, err)
		return
	}
	if v == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

func (h *handler) pageJSON(r *http.Request, p booking.Page) map[string]any {
	return map[string]any{"page_id": p.ID, "url": h.baseURL(r) + "/b/" + p.ID, "enabled": p.Enabled}
}

func (h *handler) getBookingPage(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, adv string) (int, any, error) {
		p, err := h.booking.PageOf(ctx, a, adv)
		return http.StatusOK, h.pageJSON(r, p), err
	})
}

func (h *handler) enableBookingPage(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, adv string) (int, any, error) {
		p, err := h.booking.EnablePage(ctx, a, adv)
		return http.StatusOK, h.pageJSON(r, p), err
	})
}

func (h *handler) listTypes(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, adv string) (int, any, error) {
		ts, err := h.booking.TypesOf(ctx, a, adv)
		out := make([]typeJSON, 0, len(ts))
		for _, t := range ts {
			out = append(out, toTypeJSON(t, true))
		}
		return http.StatusOK, map[string]any{"types": out}, err
	})
}

func decodeType(body []byte) (typeJSON, error) {
	var t typeJSON
	err := decodeStrict(body, &t)
	return t, err
}

func (h *handler) createType(w http.ResponseWriter, r *http.Request, s auth.Session) {
	t, ok := decodeRequest(w, r, decodeType)
	if !ok {
		return
	}
	t.ID = ""
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, adv string) (int, any, error) {
		got, err := h.booking.PutType(ctx, a, adv, t.domain())
		return http.StatusCreated, toTypeJSON(got, true), err
	})
}

func (h *handler) updateType(w http.ResponseWriter, r *http.Request, s auth.Session) {
	t, ok := decodeRequest(w, r, decodeType)
	if !ok {
		return
	}
	t.ID = r.PathValue("id")
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, adv string) (int, any, error) {
		got, err := h.booking.PutType(ctx, a, adv, t.domain())
		return http.StatusOK, toTypeJSON(got, true), err
	})
}

func (h *handler) deleteType(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, adv string) (int, any, error) {
		return http.StatusNoContent, nil, h.booking.DeleteType(ctx, a, adv, r.PathValue("id"))
	})
}

func (h *handler) getAvailability(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, adv string) (int, any, error) {
		if a.TenantID != s.TenantID {
			return 0, nil, errForbidden
		}
		av, err := h.availabilityOf(ctx, s.TenantID, adv)
		return http.StatusOK, av, err
	})
}

func decodeAvailability(body []byte) (booking.Availability, error) {
	var av booking.Availability
	err := decodeStrict(body, &av)
	return av, err
}

func (h *handler) putAvailability(w http.ResponseWriter, r *http.Request, s auth.Session) {
	av, ok := decodeRequest(w, r, decodeAvailability)
	if !ok {
		return
	}
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, adv string) (int, any, error) {
		return http.StatusNoContent, nil, h.booking.SetAvailability(ctx, a, adv, av)
	})
}

// maxListRange bounds the advisor's bookings query.
const maxListRange = 400 * 24 * time.Hour

func (h *handler) listBookings(w http.ResponseWriter, r *http.Request, s auth.Session) {
	q := r.URL.Query()
	from, err1 := time.Parse(time.RFC3339, q.Get("from"))
	to, err2 := time.Parse(time.RFC3339, q.Get("to"))
	if err1 != nil || err2 != nil || !to.After(from) || to.Sub(from) > maxListRange {
		writeError(w, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "from",
			Message: "Give \"from\" and \"to\" as RFC 3339 times, at most 400 days apart."})
		return
	}
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, adv string) (int, any, error) {
		bs, err := h.booking.List(ctx, a, adv, from, to)
		if err != nil {
			return 0, nil, err
		}
		out := make([]bookingJSON, 0, len(bs))
		for _, b := range bs {
			_, d, err := h.booking.Get(ctx, a, b.ID)
			if err != nil {
				return 0, nil, err
			}
			out = append(out, h.toBookingJSON(ctx, b, &d))
		}
		return http.StatusOK, map[string]any{"bookings": out}, nil
	})
}

func (h *handler) getBooking(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, _ string) (int, any, error) {
		b, d, err := h.booking.Get(ctx, a, r.PathValue("id"))
		return http.StatusOK, h.toBookingJSON(ctx, b, &d), err
	})
}

func (h *handler) cancelBooking(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, _ string) (int, any, error) {
		b, err := h.booking.Cancel(ctx, a, r.PathValue("id"))
		if err != nil {
			return 0, nil, err
		}
		_, d, err := h.booking.Get(ctx, a, b.ID)
		return http.StatusOK, h.toBookingJSON(ctx, b, &d), err
	})
}

func (h *handler) rescheduleBooking(w http.ResponseWriter, r *http.Request, s auth.Session) {
	req, ok := decodeRequest(w, r, decodeReschedule)
	if !ok {
		return
	}
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, _ string) (int, any, error) {
		b, err := h.booking.Reschedule(ctx, a, r.PathValue("id"), req.Start)
		if err != nil {
			return 0, nil, err
		}
		_, d, err := h.booking.Get(ctx, a, b.ID)
		return http.StatusOK, h.toBookingJSON(ctx, b, &d), err
	})
}

type bookForRequest struct {
	CustomerID string    `json:"customer_id"`
	Type       string    `json:"type"`
	Start      time.Time `json:"start"`
	Text       string    `json:"text"`
	Lang       string    `json:"lang"`
}

func decodeBookFor(body []byte) (bookForRequest, error) {
	var req bookForRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	return req, requireFields([2]string{"customer_id", req.CustomerID}, [2]string{"type", req.Type})
}

func (h *handler) bookForCustomer(w http.ResponseWriter, r *http.Request, s auth.Session) {
	req, ok := decodeRequest(w, r, decodeBookFor)
	if !ok {
		return
	}
	h.bookingCall(w, r, s, func(ctx context.Context, a booking.Actor, adv string) (int, any, error) {
		// The customer must be one of the caller's tenant.
		if h.customers == nil {
			return 0, nil, errNotFound
		}
		if _, err := h.customers.Get(ctx, customerActor(s), req.CustomerID); err != nil {
			return 0, nil, err
		}
		b, _, err := h.booking.BookFor(ctx, a, adv, req.CustomerID, booking.Request{TypeID: req.Type, Start: req.Start, Text: req.Text, Lang: req.Lang})
		if err != nil {
			return 0, nil, err
		}
		_, d, err := h.booking.Get(ctx, a, b.ID)
		return http.StatusCreated, map[string]any{"booking": h.toBookingJSON(ctx, b, &d)}, err
	})
}

// baseURL is the public base URL for links handed to customers.
func (h *handler) baseURL(r *http.Request) string {
	if h.publicURL != "" {
		return h.publicURL
	}
	return "https://" + strings.TrimSuffix(r.Host, "/")
}
