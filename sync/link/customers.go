package link

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Address is a postal address.
type Address struct {
	Street     string `json:"street"`            // street and house number
	PostalCode string `json:"postal_code"`       // postal code
	City       string `json:"city"`              // city or town
	Country    string `json:"country,omitempty"` // ISO 3166-1 alpha-2, empty: the tenant's
}

// Customer is a customer's profile (CUSTOMER in the contract).
type Customer struct {
	ID        string   `json:"id,omitempty"`      // the relay's id; empty when creating
	FirstName string   `json:"first_name"`        // given name
	LastName  string   `json:"last_name"`         // family name
	Email     string   `json:"email"`             // e-mail address
	Mobile    string   `json:"mobile,omitempty"`  // phone number, E.164
	Address   *Address `json:"address,omitempty"` // postal address, if known
	// Created is when the profile was made.
	Created time.Time `json:"created,omitzero"`
	// LastInteraction is the last booking or meeting; the profile is
	// deleted 360 days after it.
	LastInteraction time.Time `json:"last_interaction,omitzero"`
}

// LogValue keeps the customer's personal data out of logs.
func (c Customer) LogValue() slog.Value { return slog.GroupValue(slog.String("id", c.ID)) }

// CustomerHistory is a profile with the customer's bookings and meetings,
// newest first.
type CustomerHistory struct {
	Customer Customer  `json:"customer"` // the profile
	Bookings []Booking `json:"bookings"` // bookings, past and future
	Meetings []Meeting `json:"meetings"` // meetings, past and future
}

// LogValue logs the id and the sizes of the history only.
func (h CustomerHistory) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", h.Customer.ID), slog.Int("bookings", len(h.Bookings)), slog.Int("meetings", len(h.Meetings)))
}

func checkCustomer(path string, c Customer) error {
	if c.ID == "" {
		return badResponse(path, "customer without id")
	}
	return nil
}

func customerPath(id string) string { return "/api/v1/customers/" + url.PathEscape(id) }

// Customers returns up to limit (1–200; 0: the relay's default) of the
// tenant's customers matching q (all when empty), latest interaction
// first.
func (c *Client) Customers(ctx context.Context, q string, limit int) ([]Customer, error) {
	const path = "/api/v1/customers"
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	full := path
	if len(v) > 0 {
		full += "?" + v.Encode()
	}
	var res struct {
		Customers []Customer `json:"customers"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, full, true, nil, &res); err != nil {
		return nil, err
	}
	if res.Customers == nil {
		return nil, badResponse(path, "no customer list")
	}
	for _, x := range res.Customers {
		if err := checkCustomer(path, x); err != nil {
			return nil, err
		}
	}
	return res.Customers, nil
}

// CreateCustomer creates a profile (its ID is ignored) and returns it. An
// e-mail address another profile has yields an *[APIError] with
// [CodeConflict].
func (c *Client) CreateCustomer(ctx context.Context, x Customer) (Customer, error) {
	const path = "/api/v1/customers"
	return c.customerCall(ctx, http.MethodPost, path, contactOf(x))
}

// Customer returns a profile with its history.
func (c *Client) Customer(ctx context.Context, id string) (CustomerHistory, error) {
	path := customerPath(id)
	var h CustomerHistory
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &h); err != nil {
		return CustomerHistory{}, err
	}
	if err := checkCustomer(path, h.Customer); err != nil {
		return CustomerHistory{}, err
	}
	if h.Bookings == nil || h.Meetings == nil {
		return CustomerHistory{}, badResponse(path, "no booking or meeting list")
	}
	for _, b := range h.Bookings {
		if err := checkBooking(path, b); err != nil {
			return CustomerHistory{}, err
		}
	}
	for _, m := range h.Meetings {
		if err := checkMeeting(path, m); err != nil {
			return CustomerHistory{}, err
		}
	}
	return h, nil
}

// UpdateCustomer rectifies the profile with x.ID: its names, e-mail,
// mobile and address replace the stored ones as a whole (an empty field
// clears it). It returns the profile as it is now.
func (c *Client) UpdateCustomer(ctx context.Context, x Customer) (Customer, error) {
	return c.customerCall(ctx, http.MethodPatch, customerPath(x.ID), contactOf(x))
}

// contactOf keeps the fields a client may send.
func contactOf(x Customer) Customer {
	return Customer{FirstName: x.FirstName, LastName: x.LastName, Email: x.Email, Mobile: x.Mobile, Address: x.Address}
}

func (c *Client) customerCall(ctx context.Context, method, path string, in Customer) (Customer, error) {
	var out Customer
	if _, _, err := c.do(ctx, method, path, true, in, &out); err != nil {
		return Customer{}, err
	}
	if err := checkCustomer(path, out); err != nil {
		return Customer{}, err
	}
	return out, nil
}
