package booking

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"parley/relay/customer"
)

// Limits of the request fields.
const (
	// MaxNameRunes bounds first and last names and type names.
	MaxNameRunes = 100
	// MaxEmailBytes bounds an e-mail address.
	MaxEmailBytes = 254
	// MaxTextRunes bounds the customer's message and type descriptions.
	MaxTextRunes = 2000
	// MaxIdempotencyKey bounds an idempotency key's length in bytes.
	MaxIdempotencyKey = 200
	// MinPhoneDigits and MaxPhoneDigits bound a phone number's digits
	// after its leading "+".
	MinPhoneDigits, MaxPhoneDigits = 6, 15
	// MaxTypesPerAdvisor bounds an advisor's appointment types.
	MaxTypesPerAdvisor = 50
)

// cleanText trims s and checks it is valid UTF-8 of at most max runes
// without control characters (multiline allows line feeds and tabs);
// required means it must not be empty. The raw length is checked first,
// so that a huge input costs nothing.
func cleanText(field, s string, max int, required, multiline bool) (string, error) {
	if len(s) > 4*max+16 {
		return "", invalid(field, "too long")
	}
	if !utf8.ValidString(s) {
		return "", invalid(field, "not valid UTF-8")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			return "", invalid(field, "empty")
		}
		return "", nil
	}
	if utf8.RuneCountInString(s) > max {
		return "", invalid(field, "too long")
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if forbiddenRune(r) {
			return "", invalid(field, "contains control characters")
		}
	}
	return s, nil
}

// forbiddenRune reports control characters, line and paragraph separators
// and the bidirectional overrides and isolates (which can disguise a name).
func forbiddenRune(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == '\u2028' || r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f':
		return true
	case r == utf8.RuneError:
		return true
	}
	return false
}

// cleanEmail checks an e-mail address: a bare addr-spec that net/mail
// accepts, at most MaxEmailBytes, whose domain has a dot between labels.
func cleanEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("email", "empty")
	}
	if len(s) > MaxEmailBytes {
		return "", invalid("email", "too long")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || forbiddenRune(r) {
			return "", invalid("email", "not an e-mail address")
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", invalid("email", "not an e-mail address")
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") || strings.HasPrefix(domain, "[") {
		return "", invalid("email", "not an e-mail address")
	}
	return s, nil
}

// cleanPhone normalises a phone number to "+" and 6–15 digits; spaces,
// dashes, dots and parentheses are dropped.
func cleanPhone(s string) (string, error) {
	if len(s) > 64 {
		return "", invalid("mobile", "too long")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if s[0] != '+' {
		return "", invalid("mobile", "must start with +")
	}
	var b strings.Builder
	b.WriteByte('+')
	digits := 0
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		case c >= '0' && c <= '9':
			b.WriteByte(c)
			digits++
		default:
			return "", invalid("mobile", "only digits may follow +")
		}
	}
	if digits < MinPhoneDigits || digits > MaxPhoneDigits {
		return "", invalid("mobile", "must have 6 to 15 digits")
	}
	return b.String(), nil
}

func cleanAddress(a *customer.Address) (*customer.Address, error) {
	var out customer.Address
	var err error
	if out.Street, err = cleanText("address.street", a.Street, 200, true, false); err != nil {
		return nil, err
	}
	if out.PostalCode, err = cleanText("address.postal_code", a.PostalCode, 16, true, false); err != nil {
		return nil, err
	}
	for _, r := range out.PostalCode {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == ' ' || r == '-') {
			return nil, invalid("address.postal_code", "only letters, digits, spaces and dashes")
		}
	}
	if out.City, err = cleanText("address.city", a.City, MaxNameRunes, true, false); err != nil {
		return nil, err
	}
	out.Country = strings.TrimSpace(a.Country)
	if out.Country != "" && (len(out.Country) != 2 || out.Country[0] < 'A' || out.Country[0] > 'Z' ||
		out.Country[1] < 'A' || out.Country[1] > 'Z') {
		return nil, invalid("address.country", "not an ISO 3166-1 alpha-2 code")
	}
	return &out, nil
}

// cleanContact checks a contact for an appointment of kind k. The mobile
// number is required for phone appointments, the address for on-site
// ones; an address is dropped for other kinds (data minimisation).
func cleanContact(c customer.Contact, k Kind) (customer.Contact, error) {
	var out customer.Contact
	var err error
	if out.FirstName, err = cleanText("first_name", c.FirstName, MaxNameRunes, true, false); err != nil {
		return out, err
	}
	if out.LastName, err = cleanText("last_name", c.LastName, MaxNameRunes, true, false); err != nil {
		return out, err
	}
	if out.Email, err = cleanEmail(c.Email); err != nil {
		return out, err
	}
	if out.Mobile, err = cleanPhone(c.Mobile); err != nil {
		return out, err
	}
	if k == KindPhone && out.Mobile == "" {
		return out, invalid("mobile", "required for phone appointments")
	}
	if k == KindOnsite {
		if c.Address == nil {
			return out, invalid("address", "required for on-site appointments")
		}
		if out.Address, err = cleanAddress(c.Address); err != nil {
			return out, err
		}
	}
	return out, nil
}

func cleanLang(l string) (string, error) {
	switch l {
	case "":
		return "de", nil
	case "de", "en":
		return l, nil
	}
	return "", invalid("lang", "must be de or en")
}

// cleanType checks an appointment type.
func cleanType(t AppointmentType, horizonDays int) (AppointmentType, error) {
	var err error
	if t.Name, err = cleanText("name", t.Name, MaxNameRunes, true, false); err != nil {
		return t, err
	}
	if t.Description, err = cleanText("description", t.Description, MaxTextRunes, false, true); err != nil {
		return t, err
	}
	switch t.Kind {
	case KindVideo, KindPhone, KindOnsite:
	default:
		return t, invalid("kind", "must be video, phone or onsite")
	}
	switch {
	case t.DurationMin < 5 || t.DurationMin > 720:
		return t, invalid("duration_min", "must be 5 to 720")
	case t.BufferBeforeMin < 0 || t.BufferBeforeMin > 240:
		return t, invalid("buffer_before_min", "must be 0 to 240")
	case t.BufferAfterMin < 0 || t.BufferAfterMin > 240:
		return t, invalid("buffer_after_min", "must be 0 to 240")
	case t.MinNoticeMin < 0 || t.MinNoticeMin > horizonDays*24*60:
		return t, invalid("min_notice_min", "must be 0 up to the horizon")
	case t.PerDayLimit < 0 || t.PerDayLimit > 100:
		return t, invalid("per_day_limit", "must be 0 (no limit) to 100")
	}
	return t, nil
}
