package booking

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"parley/relay/customer"
)

func TestHostileInputIsRefusedAndStoresNothing(t *testing.T) {
	e := newEnv(t, nil, nil)
	p, video := e.setup(advisor, officeHours("Europe/Berlin"), videoType(30))
	phone, err := e.svc.PutType(e.ctx, advisor, advisor.UserID, AppointmentType{Name: "Telefon", Kind: KindPhone, DurationMin: 20, Active: true})
	must(t, err)
	onsite, err := e.svc.PutType(e.ctx, advisor, advisor.UserID, AppointmentType{Name: "Vor Ort", Kind: KindOnsite, DurationMin: 60, Active: true})
	must(t, err)
	inactive, err := e.svc.PutType(e.ctx, advisor, advisor.UserID, AppointmentType{Name: "Alt", Kind: KindVideo, DurationMin: 30})
	must(t, err)
	start := at(2027, 3, 3, 10, 0)
	ok := Request{PageID: p.ID, TypeID: video.ID, Start: start, Contact: erika}
	with := func(f func(r *Request)) Request { r := ok; f(&r); return r }
	contact := func(f func(c *customer.Contact)) Request {
		r := ok
		f(&r.Contact)
		return r
	}
	huge := strings.Repeat("A", 10<<20)
	for _, c := range []struct {
		name  string
		req   Request
		want  error
		field string
	}{
		{"empty first name", contact(func(c *customer.Contact) { c.FirstName = " " }), ErrInvalidInput, "first_name"},
		{"101-rune last name", contact(func(c *customer.Contact) { c.LastName = strings.Repeat("ä", 101) }), ErrInvalidInput, "last_name"},
		{"10 MB name", contact(func(c *customer.Contact) { c.FirstName = huge }), ErrInvalidInput, "first_name"},
		{"NUL in name", contact(func(c *customer.Contact) { c.FirstName = "Eri\x00ka" }), ErrInvalidInput, "first_name"},
		{"newline in name", contact(func(c *customer.Contact) { c.LastName = "Muster\nBcc: x@y.de" }), ErrInvalidInput, "last_name"},
		{"bidi override in name", contact(func(c *customer.Contact) { c.LastName = "Muster\u202emann" }), ErrInvalidInput, "last_name"},
		{"invalid UTF-8 name", contact(func(c *customer.Contact) { c.FirstName = "Er\xffika" }), ErrInvalidInput, "first_name"},
		{"no e-mail", contact(func(c *customer.Contact) { c.Email = "" }), ErrInvalidInput, "email"},
		{"not an e-mail", contact(func(c *customer.Contact) { c.Email = "erika.example.de" }), ErrInvalidInput, "email"},
		{"domain without dot", contact(func(c *customer.Contact) { c.Email = "erika@localhost" }), ErrInvalidInput, "email"},
		{"display name", contact(func(c *customer.Contact) { c.Email = "Erika <erika@example.de>" }), ErrInvalidInput, "email"},
		{"two addresses", contact(func(c *customer.Contact) { c.Email = "a@example.de,b@example.de" }), ErrInvalidInput, "email"},
		{"header injection", contact(func(c *customer.Contact) { c.Email = "a@example.de\r\nBcc: b@example.de" }), ErrInvalidInput, "email"},
		{"255-byte e-mail", contact(func(c *customer.Contact) { c.Email = strings.Repeat("a", 244) + "@example.de" }), ErrInvalidInput, "email"},
		{"10 MB text", with(func(r *Request) { r.Text = huge }), ErrInvalidInput, "text"},
		{"2001-rune text", with(func(r *Request) { r.Text = strings.Repeat("ß", 2001) }), ErrInvalidInput, "text"},
		{"control in text", with(func(r *Request) { r.Text = "hi\x1b[31m" }), ErrInvalidInput, "text"},
		{"bad mobile", contact(func(c *customer.Contact) { c.Mobile = "0170 1234567" }), ErrInvalidInput, "mobile"},
		{"mobile letters", contact(func(c *customer.Contact) { c.Mobile = "+49 170 CALLME" }), ErrInvalidInput, "mobile"},
		{"phone type without mobile", with(func(r *Request) { r.TypeID = phone.ID; r.Contact.Mobile = "" }), ErrInvalidInput, "mobile"},
		{"on-site without address", with(func(r *Request) { r.TypeID = onsite.ID }), ErrInvalidInput, "address"},
		{"on-site empty city", with(func(r *Request) {
			r.TypeID = onsite.ID
			r.Contact.Address = &customer.Address{Street: "Hauptstr. 1", PostalCode: "10115"}
		}), ErrInvalidInput, "address.city"},
		{"on-site bad country", with(func(r *Request) {
			r.TypeID = onsite.ID
			r.Contact.Address = &customer.Address{Street: "Hauptstr. 1", PostalCode: "10115", City: "Berlin", Country: "Germany"}
		}), ErrInvalidInput, "address.country"},
		{"year 1", with(func(r *Request) { r.Start = time.Date(1, 1, 1, 10, 0, 0, 0, time.UTC) }), ErrInvalidInput, "start"},
		{"year 9999", with(func(r *Request) { r.Start = time.Date(9999, 1, 4, 10, 0, 0, 0, berlin) }), ErrInvalidInput, "start"},
		{"no start", with(func(r *Request) { r.Start = time.Time{} }), ErrInvalidInput, "start"},
		{"past", with(func(r *Request) { r.Start = at(2027, 2, 26, 10, 0) }), ErrTooSoon, ""},
		{"next year", with(func(r *Request) { r.Start = at(2028, 3, 1, 10, 0) }), ErrBeyondHorizon, ""},
		{"off the grid", with(func(r *Request) { r.Start = at(2027, 3, 3, 10, 7) }), ErrInvalidInput, "start"},
		{"ends after hours", with(func(r *Request) { r.Start = at(2027, 3, 3, 16, 45) }), ErrOutsideAvailability, ""},
		{"sunday", with(func(r *Request) { r.Start = at(2027, 3, 7, 10, 0) }), ErrOutsideAvailability, ""},
		{"unknown type", with(func(r *Request) { r.TypeID = "0123456789abcdef0123456789abcdef" }), ErrInvalidInput, "type_id"},
		{"malformed type", with(func(r *Request) { r.TypeID = "../avail" }), ErrInvalidInput, "type_id"},
		{"inactive type", with(func(r *Request) { r.TypeID = inactive.ID }), ErrInvalidInput, "type_id"},
		{"unknown page", with(func(r *Request) { r.PageID = "0123456789abcdef0123456789abcdef" }), ErrNotFound, ""},
		{"malformed page", with(func(r *Request) { r.PageID = "../../x" }), ErrNotFound, ""},
		{"language", with(func(r *Request) { r.Lang = "fr" }), ErrInvalidInput, "lang"},
		{"long idempotency key", with(func(r *Request) { r.IdempotencyKey = strings.Repeat("k", 201) }), ErrInvalidInput, "idempotency_key"},
		{"malformed hold", with(func(r *Request) { r.HoldToken = "pbh_<script>" }), ErrHoldInvalid, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.dump()
			_, _, err := e.svc.Book(e.ctx, c.req)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			var ie *InputError
			if c.field != "" && (!errors.As(err, &ie) || ie.Field != c.field) {
				t.Fatalf("err = %v, want field %s", err, c.field)
			}
			if err != nil && len(err.Error()) > 200 {
				t.Fatalf("error message echoes input: %d bytes", len(err.Error()))
			}
			if after := e.dump(); !maps.Equal(before, after) {
				t.Fatalf("refused request changed the store")
			}
		})
	}
	// Markup in names is plain text: stored and returned as given, never
	// interpreted (escaping is the renderers' job).
	script := "<script>alert(1)</script>"
	b, _, err := e.svc.Book(e.ctx, with(func(r *Request) {
		r.Contact.FirstName = script
		r.Text = "\"'><img src=x onerror=alert(1)>\nzweite Zeile"
	}))
	must(t, err)
	_, d, err := e.svc.Get(e.ctx, advisor, b.ID)
	must(t, err)
	if d.Contact.FirstName != script || !strings.HasPrefix(d.Text, "\"'><img") {
		t.Fatalf("details %+v", d)
	}
	e.assertLogsClean(script, "onerror")
}

func TestHostileTypesAndAvailability(t *testing.T) {
	e := newEnv(t, nil, nil)
	before := e.dump()
	for _, typ := range []AppointmentType{
		{Name: "", Kind: KindVideo, DurationMin: 30},
		{Name: strings.Repeat("x", 101), Kind: KindVideo, DurationMin: 30},
		{Name: "A", Kind: "carrier-pigeon", DurationMin: 30},
		{Name: "A", Kind: KindVideo, DurationMin: 0},
		{Name: "A", Kind: KindVideo, DurationMin: 30, BufferBeforeMin: -1},
		{Name: "A", Kind: KindVideo, DurationMin: 30, PerDayLimit: -1},
		{Name: "A", Kind: KindVideo, DurationMin: 30, MinNoticeMin: 1 << 30},
		{Name: "A", Kind: KindVideo, DurationMin: 30, Description: strings.Repeat("d", 10<<20)},
		{ID: "../../x", Name: "A", Kind: KindVideo, DurationMin: 30},
	} {
		if _, err := e.svc.PutType(e.ctx, advisor, advisor.UserID, typ); err == nil {
			t.Errorf("PutType accepted %+v", typ.Kind)
		}
	}
	for _, av := range []Availability{
		{TimeZone: ""},
		{TimeZone: "Local"},
		{TimeZone: "Mars/Olympus"},
		{TimeZone: "../../etc/passwd"},
		{TimeZone: "UTC", Weekly: []WeeklyRule{{Weekday: 7, Span: Span{"09:00", "10:00"}}}},
		{TimeZone: "UTC", Weekly: []WeeklyRule{{Weekday: 1, Span: Span{"10:00", "09:00"}}}},
		{TimeZone: "UTC", Weekly: []WeeklyRule{{Weekday: 1, Span: Span{"09:00", "24:01"}}}},
		{TimeZone: "UTC", Weekly: []WeeklyRule{{Weekday: 1, Span: Span{"9:00", "10:00"}}}},
		{TimeZone: "UTC", Exceptions: []Exception{{Date: "2027-02-30", Closed: true}}},
		{TimeZone: "UTC", Exceptions: []Exception{{Date: "9999-01-01", Closed: true}}},
		{TimeZone: "UTC", Exceptions: []Exception{{Date: "2027-05-01"}}},
		{TimeZone: "UTC", Exceptions: []Exception{{Date: "2027-05-01", Closed: true}, {Date: "2027-05-01", Closed: true}}},
	} {
		if err := e.svc.SetAvailability(e.ctx, advisor, advisor.UserID, av); !errors.Is(err, ErrInvalidInput) {
			b, _ := json.Marshal(av)
			t.Errorf("SetAvailability(%s) = %v", b, err)
		}
	}
	for _, a := range []Actor{{TenantID: "../x", UserID: "a"}, {TenantID: tenant, UserID: "a/b"}, {}} {
		if _, err := e.svc.PutType(e.ctx, a, a.UserID, videoType(30)); err == nil {
			t.Errorf("PutType as %+v accepted", a)
		}
	}
	if after := e.dump(); !maps.Equal(before, after) {
		t.Fatal("refused input changed the store")
	}
}
