// Package ical writes iCalendar objects (RFC 5545) for scheduling messages
// (iTIP, RFC 5546) and calendar feeds: one VCALENDAR with VEVENTs, their
// organizer and attendees, and display alarms.
//
// It only writes; it never parses. Everything it writes is plain UTF-8 with
// CRLF line ends, long lines folded at 75 octets (never inside a UTF-8
// sequence), times in UTC ("...Z"), TEXT values escaped (backslash,
// semicolon, comma, newline) and stripped of control characters, parameter
// values (CN) stripped of DQUOTE and control characters and quoted when
// they hold a ":", ";" or ",". Addresses are written as mailto: URIs and
// must be plain e-mail addresses; URLs must be absolute http(s) URLs
// without spaces or control characters. A calendar that breaks these rules
// is refused with ErrInvalid; nothing is written for it.
package ical

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Methods of an iTIP message (RFC 5546) used by Parley.
const (
	// MethodRequest invites or updates: a new or changed appointment.
	MethodRequest = "REQUEST"
	// MethodCancel cancels an appointment; its events are written with
	// STATUS:CANCELLED.
	MethodCancel = "CANCEL"
	// MethodPublish is for feeds and downloads that are not scheduling
	// messages.
	MethodPublish = "PUBLISH"
)

// Event statuses.
const (
	// StatusConfirmed is an appointment that takes place.
	StatusConfirmed = "CONFIRMED"
	// StatusCancelled is an appointment that was cancelled.
	StatusCancelled = "CANCELLED"
)

// DefaultProdID is written when Calendar.ProdID is empty.
const DefaultProdID = "-//Parley//Parley Relay//EN"

// ErrInvalid is returned (wrapped, with the reason) for a calendar that
// cannot be written: missing UID, start or stamp, end before start, an
// address that is not a plain e-mail address, a URL that is not an absolute
// http(s) URL, an unknown method or status.
var ErrInvalid = errors.New("ical: invalid calendar")

// Person is an organizer or attendee.
type Person struct {
	// Name is the display name, written as the CN parameter (optional).
	Name string
	// Email is the plain address (local@domain), written as a mailto: URI.
	Email string
}

// Event is one VEVENT.
type Event struct {
	// UID identifies the appointment across all its messages; it must stay
	// the same for every update and the cancellation.
	UID string
	// Sequence is the revision: 0 when first sent, raised on every change
	// and on cancellation.
	Sequence int
	// Status is StatusConfirmed, StatusCancelled or empty (no STATUS).
	// Events in a METHOD:CANCEL calendar are always written as cancelled.
	Status string
	// Summary is the title (TEXT).
	Summary string
	// Description is the body text (TEXT, may hold newlines).
	Description string
	// Location is where (TEXT): an address, a phone number or a join link.
	Location string
	// URL is an optional absolute http(s) link (e.g. to manage the booking).
	URL string
	// Start and End are the appointment's times, written in UTC.
	Start, End time.Time
	// Stamp is when this message was made (DTSTAMP, required).
	Stamp time.Time
	// Organizer is the advisor (ORGANIZER; required for REQUEST and CANCEL).
	Organizer Person
	// Attendees are the participants (ATTENDEE).
	Attendees []Person
	// Created and LastModified are optional (CREATED, LAST-MODIFIED).
	Created, LastModified time.Time
	// Alarms are display reminders, each this long before the start.
	Alarms []time.Duration
}

// Calendar is one VCALENDAR object.
type Calendar struct {
	// ProdID names the product (PRODID); DefaultProdID when empty.
	ProdID string
	// Method is MethodRequest, MethodCancel, MethodPublish or empty (no
	// METHOD, as for a subscribed feed).
	Method string
	// Name is the feed's display name (X-WR-CALNAME), optional.
	Name string
	// Events are the calendar's events.
	Events []Event
}

const utcFormat = "20060102T150405Z"

// Validate reports why c cannot be written, or nil.
func (c Calendar) Validate() error {
	switch c.Method {
	case "", MethodRequest, MethodCancel, MethodPublish:
	default:
		return fmt.Errorf("%w: unknown method", ErrInvalid)
	}
	for i, ev := range c.Events {
		if err := ev.validate(c.Method); err != nil {
			return fmt.Errorf("%w: event %d: %s", ErrInvalid, i, err)
		}
	}
	return nil
}

func (ev Event) validate(method string) error {
	if strings.TrimSpace(CleanText(ev.UID)) == "" || strings.ContainsAny(ev.UID, "\r\n") {
		return errors.New("UID missing or not one line")
	}
	if ev.Start.IsZero() || ev.Stamp.IsZero() {
		return errors.New("start or stamp missing")
	}
	if !ev.End.IsZero() && ev.End.Before(ev.Start) {
		return errors.New("end before start")
	}
	for _, t := range []time.Time{ev.Start, ev.End, ev.Stamp, ev.Created, ev.LastModified} {
		if y := t.UTC().Year(); !t.IsZero() && (y < 1900 || y > 9999) {
			return errors.New("time out of range")
		}
	}
	if ev.Sequence < 0 {
		return errors.New("negative sequence")
	}
	switch ev.Status {
	case "", StatusConfirmed, StatusCancelled:
	default:
		return errors.New("unknown status")
	}
	if ev.URL != "" && !validURL(ev.URL) {
		return errors.New("URL is not an absolute http(s) URL")
	}
	if method == MethodRequest || method == MethodCancel {
		if ev.Organizer.Email == "" {
			return errors.New("organizer missing")
		}
		if len(ev.Attendees) == 0 {
			return errors.New("attendee missing")
		}
	}
	if ev.Organizer.Email != "" && !ValidEmail(ev.Organizer.Email) {
		return errors.New("organizer address invalid")
	}
	for _, a := range ev.Attendees {
		if !ValidEmail(a.Email) {
			return errors.New("attendee address invalid")
		}
	}
	for _, a := range ev.Alarms {
		if a < 0 {
			return errors.New("negative alarm")
		}
	}
	return nil
}

// ValidEmail reports whether s is a plain address (local@domain, no display
// name, no quoting, no spaces or characters that have a meaning in a
// content line) that can be written as a mailto: URI.
func ValidEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, "\"\\;:,<>()[] \t\r\n") {
		return false
	}
	for _, r := range s {
		if r < 0x21 || r == 0x7f {
			return false
		}
	}
	if !utf8.ValidString(s) {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1
}

func validURL(s string) bool {
	if len(s) > 2048 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= 0x20 || r == 0x7f || r == '"' {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// CleanText returns s as the calendar carries it (and a parser returns
// it): invalid UTF-8 replaced by U+FFFD, CRLF and CR turned into LF, other
// control characters but TAB removed.
func CleanText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
		case r == '\r':
			b.WriteByte('\n')
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case r == '\n', r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			// dropped
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// EscapeText returns the TEXT value form of s (RFC 5545 §3.3.11): s is
// cleaned as by CleanText, then backslash, semicolon, comma and newline are
// escaped.
func EscapeText(s string) string {
	s = CleanText(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ';', ',':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// CleanParam returns s as a parameter value carries it: cleaned as by
// CleanText, with newlines and tabs turned into spaces and DQUOTE and
// backslash removed (RFC 5545 has no escape for them in parameters, and
// parsers disagree on backslashes).
func CleanParam(s string) string {
	s = CleanText(s)
	return strings.Map(func(r rune) rune {
		switch r {
		case '\n', '\t':
			return ' '
		case '"', '\\':
			return -1
		}
		return r
	}, s)
}

// paramValue returns CleanParam(s), quoted if it holds ":", ";" or ",".
func paramValue(s string) string {
	s = CleanParam(s)
	if strings.ContainsAny(s, ":;,") {
		return `"` + s + `"`
	}
	return s
}

// Duration formats d as an RFC 5545 DURATION ("-PT15M", "P1D").
func Duration(d time.Duration) string {
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	b.WriteByte('P')
	secs := int64(d / time.Second)
	days := secs / 86400
	secs %= 86400
	if days > 0 {
		b.WriteString(strconv.FormatInt(days, 10) + "D")
	}
	if secs > 0 || days == 0 {
		b.WriteByte('T')
		h, m, s := secs/3600, secs/60%60, secs%60
		if h > 0 {
			b.WriteString(strconv.FormatInt(h, 10) + "H")
		}
		if m > 0 {
			b.WriteString(strconv.FormatInt(m, 10) + "M")
		}
		if s > 0 || (h == 0 && m == 0) {
			b.WriteString(strconv.FormatInt(s, 10) + "S")
		}
	}
	return b.String()
}

// writer folds content lines and remembers the first error.
type writer struct {
	w   io.Writer
	n   int64
	err error
	buf []byte
}

// line writes one content line, folded at 75 octets.
func (w *writer) line(s string) {
	if w.err != nil {
		return
	}
	w.buf = appendFolded(w.buf[:0], s)
	n, err := w.w.Write(w.buf)
	w.n += int64(n)
	w.err = err
}

// appendFolded appends s as folded lines ending in CRLF: no physical line
// is longer than 75 octets, continuation lines start with one space (which
// counts), and a UTF-8 sequence is never split.
func appendFolded(dst []byte, s string) []byte {
	const max = 75
	limit := max
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		dst = append(dst, s[:cut]...)
		dst = append(dst, "\r\n "...)
		s = s[cut:]
		limit = max - 1
	}
	dst = append(dst, s...)
	return append(dst, "\r\n"...)
}

func (w *writer) prop(name, value string) { w.line(name + ":" + value) }

func (w *writer) text(name, value string) {
	if value != "" {
		w.prop(name, EscapeText(value))
	}
}

func (w *writer) time(name string, t time.Time) {
	if !t.IsZero() {
		w.prop(name, t.UTC().Format(utcFormat))
	}
}

func (w *writer) person(name string, p Person, attendee bool) {
	var b strings.Builder
	b.WriteString(name)
	if cn := CleanParam(p.Name); strings.TrimSpace(cn) != "" {
		b.WriteString(";CN=")
		b.WriteString(paramValue(cn))
	}
	if attendee {
		b.WriteString(";CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE")
	}
	b.WriteString(":mailto:")
	b.WriteString(p.Email)
	w.line(b.String())
}

// WriteTo writes the calendar to w. It writes nothing and returns an
// error wrapping ErrInvalid when Validate fails.
func (c Calendar) WriteTo(w io.Writer) (int64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	cw := &writer{w: w}
	cw.prop("BEGIN", "VCALENDAR")
	cw.prop("VERSION", "2.0")
	prod := c.ProdID
	if strings.TrimSpace(prod) == "" {
		prod = DefaultProdID
	}
	cw.text("PRODID", prod)
	cw.prop("CALSCALE", "GREGORIAN")
	if c.Method != "" {
		cw.prop("METHOD", c.Method)
	}
	cw.text("X-WR-CALNAME", c.Name)
	for _, ev := range c.Events {
		cw.event(ev, c.Method)
	}
	cw.prop("END", "VCALENDAR")
	if cw.err != nil {
		return cw.n, fmt.Errorf("ical: write: %w", cw.err)
	}
	return cw.n, nil
}

func (w *writer) event(ev Event, method string) {
	w.prop("BEGIN", "VEVENT")
	w.text("UID", ev.UID)
	w.prop("SEQUENCE", strconv.Itoa(ev.Sequence))
	w.time("DTSTAMP", ev.Stamp)
	w.time("DTSTART", ev.Start)
	w.time("DTEND", ev.End)
	w.time("CREATED", ev.Created)
	w.time("LAST-MODIFIED", ev.LastModified)
	w.text("SUMMARY", ev.Summary)
	w.text("DESCRIPTION", ev.Description)
	w.text("LOCATION", ev.Location)
	if ev.URL != "" {
		w.prop("URL", ev.URL)
	}
	status := ev.Status
	if method == MethodCancel {
		status = StatusCancelled
	}
	if status != "" {
		w.prop("STATUS", status)
	}
	w.prop("TRANSP", "OPAQUE")
	if ev.Organizer.Email != "" {
		w.person("ORGANIZER", ev.Organizer, false)
	}
	for _, a := range ev.Attendees {
		w.person("ATTENDEE", a, true)
	}
	if status != StatusCancelled {
		for _, a := range ev.Alarms {
			w.prop("BEGIN", "VALARM")
			w.prop("ACTION", "DISPLAY")
			w.text("DESCRIPTION", firstNonEmpty(ev.Summary, "Reminder"))
			w.prop("TRIGGER", Duration(-a))
			w.prop("END", "VALARM")
		}
	}
	w.prop("END", "VEVENT")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// Bytes returns the calendar as written by WriteTo, or nil when it is
// invalid (check Validate first).
func (c Calendar) Bytes() []byte {
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil
	}
	return b.Bytes()
}
