// Package customer keeps customer profiles: the one place where a
// customer's personal data (name, e-mail, mobile, postal address) lives.
// Other packages (booking, meetings, messaging) refer to a customer by id
// and seal the personal details they must keep with the customer's own
// data key, so that destroying that key (crypto-shredding) makes every
// copy unreadable, backups included.
package customer

// Contact is what a customer tells us about themselves when they book or
// join, and what a profile holds. Empty fields mean "not given".
type Contact struct {
	// FirstName is the customer's given name.
	FirstName string `json:"first_name"`
	// LastName is the customer's family name.
	LastName string `json:"last_name"`
	// Email is the customer's e-mail address.
	Email string `json:"email"`
	// Mobile is the customer's phone number in E.164 form (+4917…).
	Mobile string `json:"mobile,omitempty"`
	// Address is the customer's postal address, for on-site appointments.
	Address *Address `json:"address,omitempty"`
}

// Address is a postal address.
type Address struct {
	// Street is the street and house number.
	Street string `json:"street"`
	// PostalCode is the postal code.
	PostalCode string `json:"postal_code"`
	// City is the city or town.
	City string `json:"city"`
	// Country is an ISO 3166-1 alpha-2 code; empty means the tenant's
	// country.
	Country string `json:"country,omitempty"`
}
