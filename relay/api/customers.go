package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"parley/relay/audit"
	"parley/relay/auth"
	"parley/relay/customer"
	"parley/relay/meeting"
)

// Customers is what the API needs from the customer profiles service
// (*customer.Service).
type Customers interface {
	List(ctx context.Context, a customer.Actor, query string, limit int) ([]customer.Profile, error)
	Get(ctx context.Context, a customer.Actor, id string) (customer.Profile, error)
	Create(ctx context.Context, a customer.Actor, c customer.Contact) (customer.Profile, error)
	Update(ctx context.Context, a customer.Actor, id string, c customer.Contact) (customer.Profile, []string, error)
	Touch(ctx context.Context, tenantID, customerID string, at time.Time) error
}

// MeetingHistory lists the meetings held with a customer
// (*meeting.Service).
type MeetingHistory interface {
	ByCustomer(ctx context.Context, actor meeting.Actor, customerID string, limit int) ([]meeting.Meeting, error)
}

// customerError maps the profile service's errors for toError.
func customerError(err error) *Error {
	var in *customer.InputError
	switch {
	case errors.As(err, &in):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_input", Message: in.Error(), Field: in.Field}
	case errors.Is(err, customer.ErrForbidden):
		return errForbidden
	case errors.Is(err, customer.ErrNotFound):
		return errNotFound
	case errors.Is(err, customer.ErrDuplicate):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: "A customer with this e-mail address already exists."}
	}
	return nil
}

func customerActor(s auth.Session) customer.Actor {
	return customer.Actor{TenantID: s.TenantID, UserID: s.UserID, Admin: s.Role == auth.RoleAdmin}
}

type customerJSON struct {
	ID              string            `json:"id"`
	FirstName       string            `json:"first_name"`
	LastName        string            `json:"last_name"`
	Email           string            `json:"email"`
	Mobile          string            `json:"mobile,omitempty"`
	Address         *customer.Address `json:"address,omitempty"`
	Created         time.Time         `json:"created"`
	LastInteraction time.Time         `json:"last_interaction"`
}

func toCustomerJSON(p customer.Profile) customerJSON {
	return customerJSON{ID: p.ID, FirstName: p.Contact.FirstName, LastName: p.Contact.LastName, Email: p.Contact.Email,
		Mobile: p.Contact.Mobile, Address: p.Contact.Address, Created: p.Created.UTC(), LastInteraction: p.LastInteraction.UTC()}
}

// customerCall runs a customer route when the service exists.
func (h *handler) customerCall(w http.ResponseWriter, r *http.Request, s auth.Session, fn func(ctx context.Context, a customer.Actor) (int, any, error)) {
	if h.customers == nil {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	status, v, err := fn(ctx, customerActor(s))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, status, v)
}

func (h *handler) listCustomers(w http.ResponseWriter, r *http.Request, s auth.Session) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	q := r.URL.Query().Get("q")
	if len(q) > 200 {
		writeError(w, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "q", Message: "The search text is longer than 200 characters."})
		return
	}
	h.customerCall(w, r, s, func(ctx context.Context, a customer.Actor) (int, any, error) {
		ps, err := h.customers.List(ctx, a, q, limit)
		out := make([]customerJSON, 0, len(ps))
		for _, p := range ps {
			out = append(out, toCustomerJSON(p))
		}
		return http.StatusOK, map[string]any{"customers": out}, err
	})
}

func decodeContact(body []byte) (customerJSON, error) {
	var c customerJSON
	err := decodeStrict(body, &c)
	return c, err
}

func (c customerJSON) contact() customer.Contact {
	return customer.Contact{FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Mobile: c.Mobile, Address: c.Address}
}

func (h *handler) createCustomer(w http.ResponseWriter, r *http.Request, s auth.Session) {
	c, ok := decodeRequest(w, r, decodeContact)
	if !ok {
		return
	}
	h.customerCall(w, r, s, func(ctx context.Context, a customer.Actor) (int, any, error) {
		p, err := h.customers.Create(ctx, a, c.contact())
		if err != nil {
			return 0, nil, err
		}
		h.log.Info("customer: created", "customer_id", p.ID, "tenant_id", p.TenantID)
		return http.StatusCreated, toCustomerJSON(p), nil
	})
}

func (h *handler) getCustomer(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.customerCall(w, r, s, func(ctx context.Context, a customer.Actor) (int, any, error) {
		p, err := h.customers.Get(ctx, a, r.PathValue("id"))
		if err != nil {
			return 0, nil, err
		}
		bookings := []bookingJSON{}
		if h.booking != nil {
			bs, err := h.booking.ByCustomer(ctx, bookingActor(s), p.ID)
			if err != nil {
				return 0, nil, err
			}
			for _, b := range bs {
				bookings = append(bookings, h.toBookingJSON(ctx, b, nil))
			}
		}
		meetings := []meetingJSON{}
		if mh, ok := h.meetings.(MeetingHistory); ok {
			ms, err := mh.ByCustomer(ctx, actorOf(s), p.ID, 200)
			if err != nil {
				return 0, nil, err
			}
			for _, m := range ms {
				meetings = append(meetings, toMeetingJSON(m))
			}
		}
		return http.StatusOK, map[string]any{"customer": toCustomerJSON(p), "bookings": bookings, "meetings": meetings}, nil
	})
}

func (h *handler) updateCustomer(w http.ResponseWriter, r *http.Request, s auth.Session) {
	c, ok := decodeRequest(w, r, decodeContact)
	if !ok {
		return
	}
	h.customerCall(w, r, s, func(ctx context.Context, a customer.Actor) (int, any, error) {
		p, changed, err := h.customers.Update(ctx, a, r.PathValue("id"), c.contact())
		if err != nil {
			return 0, nil, err
		}
		if len(changed) > 0 {
			// Rectification is recorded with the names of the fields, never
			// their values.
			if _, err := h.audit.Append(ctx, audit.Record{TenantID: s.TenantID, Actor: s.UserID, Action: "customer.rectify",
				Target: p.ID, Details: map[string]string{"fields": strings.Join(changed, ",")}}); err != nil {
				return 0, nil, err
			}
		}
		return http.StatusOK, toCustomerJSON(p), nil
	})
}
