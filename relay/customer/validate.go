package customer

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a contact's fields.
const (
	// MaxNameRunes is the longest first or last name accepted, after
	// trimming.
	MaxNameRunes = 100
	// MaxEmailBytes is the longest e-mail address accepted (RFC 5321's
	// path limit less the angle brackets).
	MaxEmailBytes = 254
	// MinMobileDigits and MaxMobileDigits bound the digits of a mobile
	// number in E.164 form, country code included.
	MinMobileDigits, MaxMobileDigits = 7, 15
	// MaxStreetRunes bounds Address.Street.
	MaxStreetRunes = 200
	// MaxCityRunes bounds Address.City.
	MaxCityRunes = 100
	// MaxPostalCodeLen bounds Address.PostalCode.
	MaxPostalCodeLen = 16
	// DefaultCountryCode is the calling code ValidateContact gives a
	// national mobile number ("0171 …"): Germany.
	DefaultCountryCode = "+49"
	// maxRawBytes bounds any raw field before it is looked at, so that a
	// 10 MB name is refused without being scanned.
	maxRawBytes = 1024
)

// ValidateContact checks a contact and returns it normalised: every field
// trimmed, the e-mail's domain in lower case, the mobile number in E.164
// form (national numbers get DefaultCountryCode), the address's country in
// upper case and an all-empty address dropped. With requireEmail an empty
// e-mail is refused. Errors are *InputError (matching ErrInvalidInput) and
// never contain the value. Booking validates its form with it; the Service
// applies the same rules with its own Options.DefaultCountryCode.
func ValidateContact(c Contact, requireEmail bool) (Contact, error) {
	return validateContact(c, requireEmail, DefaultCountryCode)
}

func validateContact(c Contact, requireEmail bool, cc string) (Contact, error) {
	var out Contact
	var err error
	if out.FirstName, err = cleanName("first_name", c.FirstName, MaxNameRunes); err != nil {
		return Contact{}, err
	}
	if out.LastName, err = cleanName("last_name", c.LastName, MaxNameRunes); err != nil {
		return Contact{}, err
	}
	if out.Email, err = ValidateEmail(c.Email); err != nil {
		return Contact{}, err
	}
	if requireEmail && out.Email == "" {
		return Contact{}, &InputError{Field: "email", Msg: "required"}
	}
	if out.Mobile, err = NormaliseMobile(c.Mobile, cc); err != nil {
		return Contact{}, err
	}
	if out.Address, err = cleanAddress(c.Address); err != nil {
		return Contact{}, err
	}
	return out, nil
}

// cleanName trims s and checks it is valid UTF-8 of at most max runes
// without control characters or angle brackets. Empty is allowed.
func cleanName(field, s string, max int) (string, error) {
	if len(s) > maxRawBytes {
		return "", &InputError{Field: field, Msg: "too long"}
	}
	if !utf8.ValidString(s) {
		return "", &InputError{Field: field, Msg: "not valid UTF-8"}
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		return "", &InputError{Field: field, Msg: "too long"}
	}
	for _, r := range s {
		if forbiddenRune(r) {
			return "", &InputError{Field: field, Msg: "contains control characters"}
		}
		if r == '<' || r == '>' {
			return "", &InputError{Field: field, Msg: "contains angle brackets"}
		}
	}
	return s, nil
}

// forbiddenRune reports control characters, line and paragraph separators,
// the bidirectional overrides and isolates (which can disguise a name) and
// the replacement character.
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

// ValidateEmail checks an optional e-mail address and returns it trimmed
// with its domain in lower case; "" stays "". It accepts one plain address
// (no display name, comment, quoted local part or IP literal) of at most
// MaxEmailBytes that net/mail parses to itself, whose domain has at least
// two labels of letters, digits and inner hyphens. Errors are *InputError
// with Field "email".
func ValidateEmail(s string) (string, error) {
	bad := func(msg string) (string, error) { return "", &InputError{Field: "email", Msg: msg} }
	if len(s) > maxRawBytes {
		return bad("too long")
	}
	if !utf8.ValidString(s) {
		return bad("not valid UTF-8")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > MaxEmailBytes {
		return bad("too long")
	}
	for _, r := range s {
		if forbiddenRune(r) || unicode.IsSpace(r) {
			return bad("contains spaces or control characters")
		}
		if strings.ContainsRune(`"()<>,;:\[]`, r) {
			return bad("must be a single plain address")
		}
	}
	at := strings.IndexByte(s, '@')
	if at < 0 || strings.IndexByte(s[at+1:], '@') >= 0 {
		return bad("must contain exactly one @")
	}
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if local == "" || len(local) > 64 {
		return bad("invalid local part")
	}
	if !validDomain(domain) {
		return bad("invalid domain")
	}
	norm := local + "@" + domain
	a, err := mail.ParseAddress(norm)
	if err != nil || a.Name != "" || a.Address != norm {
		return bad("not a valid address")
	}
	return norm, nil
}

// validDomain checks a lower-cased domain: two or more dot-separated labels
// of 1–63 letters, digits or inner hyphens, the last one not all digits.
func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return strings.ContainsFunc(tld, func(r rune) bool { return !unicode.IsDigit(r) })
}

// emailIndexForm is the form an address is indexed under: trimmed and in
// lower case (callers pass a validated address).
func emailIndexForm(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// NormaliseMobile returns an optional phone number in E.164 form ("+"
// and 7–15 digits, the first not 0); "" stays "". It accepts
// international numbers written with "+" or "00" and national numbers
// with a leading 0, which get defaultCountryCode ("+49" or "49"); spaces,
// hyphens, dots, slashes and parentheses are separators, and a "(0)" after
// the country code is dropped. Letters and anything else are refused.
// Errors are *InputError with Field "mobile".
func NormaliseMobile(s, defaultCountryCode string) (string, error) {
	bad := func(msg string) (string, error) { return "", &InputError{Field: "mobile", Msg: msg} }
	if len(s) > 64 {
		return bad("too long")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	international := false
	switch {
	case s[0] == '+':
		international = true
		s = s[1:]
	case strings.HasPrefix(s, "00"):
		international = true
		s = s[2:]
	}
	if international {
		s = strings.Replace(s, "(0)", "", 1)
	}
	digits := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')':
		default:
			return bad("may contain only digits, a leading + and separators")
		}
	}
	if len(digits) == 0 {
		return bad("has no digits")
	}
	if !international {
		if digits[0] != '0' {
			return bad("must start with +, 00 or 0")
		}
		cc, ok := countryCode(defaultCountryCode)
		if !ok {
			return bad("no valid default country code")
		}
		digits = append([]byte(cc), digits[1:]...)
	}
	if digits[0] == '0' {
		return bad("country code must not start with 0")
	}
	if len(digits) < MinMobileDigits || len(digits) > MaxMobileDigits {
		return bad("must have 7 to 15 digits")
	}
	return "+" + string(digits), nil
}

// countryCode checks a calling code ("+49" or "49": 1–3 digits, not
// starting with 0) and returns its digits.
func countryCode(s string) (string, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "+")
	if s == "" || len(s) > 3 || s[0] == '0' {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

// cleanAddress validates an optional address; an all-empty one becomes nil.
// A given address needs street, postal code and city.
func cleanAddress(a *Address) (*Address, error) {
	if a == nil {
		return nil, nil
	}
	var out Address
	var err error
	if out.Street, err = cleanName("address.street", a.Street, MaxStreetRunes); err != nil {
		return nil, err
	}
	if out.City, err = cleanName("address.city", a.City, MaxCityRunes); err != nil {
		return nil, err
	}
	if out.PostalCode, err = cleanPostalCode(a.PostalCode); err != nil {
		return nil, err
	}
	if out.Country, err = cleanCountry(a.Country); err != nil {
		return nil, err
	}
	if out == (Address{}) {
		return nil, nil
	}
	switch {
	case out.Street == "":
		return nil, &InputError{Field: "address.street", Msg: "required"}
	case out.PostalCode == "":
		return nil, &InputError{Field: "address.postal_code", Msg: "required"}
	case out.City == "":
		return nil, &InputError{Field: "address.city", Msg: "required"}
	}
	return &out, nil
}

func cleanPostalCode(s string) (string, error) {
	if len(s) > maxRawBytes {
		return "", &InputError{Field: "address.postal_code", Msg: "too long"}
	}
	s = strings.TrimSpace(s)
	if len(s) > MaxPostalCodeLen {
		return "", &InputError{Field: "address.postal_code", Msg: "too long"}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == ' ' || c == '-') {
			return "", &InputError{Field: "address.postal_code", Msg: "may contain only letters, digits, spaces and hyphens"}
		}
	}
	return s, nil
}

func cleanCountry(s string) (string, error) {
	if len(s) > maxRawBytes {
		return "", &InputError{Field: "address.country", Msg: "too long"}
	}
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return "", &InputError{Field: "address.country", Msg: "must be an ISO 3166-1 alpha-2 code"}
	}
	return s, nil
}
