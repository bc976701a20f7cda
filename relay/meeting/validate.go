package meeting

import (
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the join request's fields.
const (
	// MaxNameRunes is the longest customer name accepted, after trimming.
	MaxNameRunes = 80
	// MinPhoneDigits and MaxPhoneDigits bound a phone number's digits
	// after its leading "+".
	MinPhoneDigits, MaxPhoneDigits = 6, 15
	// maxTextRunes bounds titles and advisor names.
	maxTextRunes = 200
	// maxRawBytes bounds any raw input before it is looked at.
	maxRawBytes = 1024
)

// JoinRequest is what a customer gives to join a meeting.
type JoinRequest struct {
	// Name is shown to the advisor: 1–80 characters after trimming, no
	// control characters. Required.
	Name string
	// Phone is optional: "+" and 6–15 digits; spaces are allowed and
	// stripped.
	Phone string
	// IP is the customer's address as the relay saw it (set by the API
	// layer, not the customer); empty when unknown. Kept in the meeting
	// metadata only.
	IP string
}

// validateJoin checks a join request and returns its normalised fields.
func validateJoin(req JoinRequest) (name, phone, ip string, err error) {
	if name, err = cleanText("name", req.Name, MaxNameRunes, true); err != nil {
		return "", "", "", err
	}
	if phone, err = cleanPhone(req.Phone); err != nil {
		return "", "", "", err
	}
	if ip, err = cleanIP(req.IP); err != nil {
		return "", "", "", err
	}
	return name, phone, ip, nil
}

// cleanText trims s and checks it is valid UTF-8 of at most max runes
// without control characters; required means it must not be empty.
func cleanText(field, s string, max int, required bool) (string, error) {
	if len(s) > maxRawBytes {
		return "", &InputError{Field: field, Msg: "too long"}
	}
	if !utf8.ValidString(s) {
		return "", &InputError{Field: field, Msg: "not valid UTF-8"}
	}
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			return "", &InputError{Field: field, Msg: "empty"}
		}
		return "", nil
	}
	if utf8.RuneCountInString(s) > max {
		return "", &InputError{Field: field, Msg: "too long"}
	}
	for _, r := range s {
		if forbiddenRune(r) {
			return "", &InputError{Field: field, Msg: "contains control characters"}
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

// cleanPhone normalises an optional phone number to "+" and digits.
func cleanPhone(s string) (string, error) {
	if len(s) > 64 {
		return "", &InputError{Field: "phone", Msg: "too long"}
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if s[0] != '+' {
		return "", &InputError{Field: "phone", Msg: "must start with +"}
	}
	var b strings.Builder
	b.WriteByte('+')
	digits := 0
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
		case c >= '0' && c <= '9':
			b.WriteByte(c)
			digits++
		default:
			return "", &InputError{Field: "phone", Msg: "only digits and spaces may follow +"}
		}
	}
	if digits < MinPhoneDigits || digits > MaxPhoneDigits {
		return "", &InputError{Field: "phone", Msg: "must have 6 to 15 digits"}
	}
	return b.String(), nil
}

// cleanIP normalises an optional IP address (IPv4-mapped IPv6 becomes
// IPv4, zones are dropped).
func cleanIP(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) > 64 {
		return "", &InputError{Field: "ip", Msg: "not an IP address"}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", &InputError{Field: "ip", Msg: "not an IP address"}
	}
	return a.Unmap().WithZone("").String(), nil
}

// TruncateIP anonymises an IP address: IPv4 keeps its /24 network, IPv6
// its /48 ("192.0.2.77" → "192.0.2.0", "2001:db8:1:2::5" → "2001:db8:1::").
// Anything that is not an IP address becomes "".
func TruncateIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	a = a.Unmap().WithZone("")
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.Addr().String()
}
