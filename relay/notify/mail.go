// Package notify sends the relay's notifications: appointment e-mails with
// an iCalendar attachment (over SMTP, through github.com/wneessen/go-mail)
// and short SMS texts (through a provider adapter; Twilio's Programmable
// Messaging API is implemented). Both run as jobs of the durable outbox
// (relay/outbox): MailJob/SMSJob make payloads, MailHandler/SMSHandler send
// them, and errors are classified for the outbox's retries: a temporary
// failure (SMTP 4xx, HTTP 429/5xx, a broken connection) is retried, a
// permanent one (SMTP 5xx, HTTP 4xx, an invalid address) wraps
// outbox.ErrPermanent and dead-letters the job.
//
// The texts come from embedded templates in German and English
// (AppointmentMail, AdvisorMail, AppointmentSMS). Every value is escaped in
// the HTML part by html/template, header values are stripped of control
// characters (no header injection through a name or subject), and errors
// never carry personal data: no addresses, names, phone numbers or server
// replies that could echo them, only status codes.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"parley/relay/ical"
	"parley/relay/outbox"
)

// Job kinds for the outbox.
const (
	// KindMail is the outbox kind of an e-mail job (payload: MailJob).
	KindMail = "mail"
	// KindSMS is the outbox kind of an SMS job (payload: SMSJob).
	KindSMS = "sms"
)

// ErrInvalid reports a message that cannot be sent as it is (a malformed
// address, a missing part). It is permanent: retrying cannot fix it.
var ErrInvalid = fmt.Errorf("notify: invalid message: %w", outbox.ErrPermanent)

// Mail is one e-mail. Addresses are plain (local@domain); names are
// display names.
type Mail struct {
	// From is the sender address (the relay's mailbox).
	From string `json:"from"`
	// FromName is the sender's display name (e.g. the tenant's name).
	FromName string `json:"fromName,omitempty"`
	// To is the recipient address.
	To string `json:"to"`
	// ToName is the recipient's display name.
	ToName string `json:"toName,omitempty"`
	// ReplyTo is an optional reply address (the advisor's, on customer mails).
	ReplyTo string `json:"replyTo,omitempty"`
	// ReplyToName is ReplyTo's display name.
	ReplyToName string `json:"replyToName,omitempty"`
	// Subject is the subject line; control characters are removed on send.
	Subject string `json:"subject"`
	// Text is the plain-text part (required).
	Text string `json:"text"`
	// HTML is the optional HTML part, sent as an alternative to Text.
	HTML string `json:"html,omitempty"`
	// ICS is an optional iCalendar object, sent as a text/calendar
	// alternative part and as an attachment (invite.ics or cancel.ics).
	ICS []byte `json:"ics,omitempty"`
	// Attachments are files sent with the mail (the signed PDF of a
	// completed signature process). They are not stored in outbox jobs:
	// the handler reads them when it sends.
	Attachments []Attachment `json:"-"`
	// ICSMethod is the iTIP method of ICS: ical.MethodRequest,
	// ical.MethodCancel or ical.MethodPublish.
	ICSMethod string `json:"icsMethod,omitempty"`
	// MessageID is the Message-ID without angle brackets; when empty the
	// sender makes one. MailHandler derives it from the outbox job's id,
	// so that a duplicate delivery after a crash carries the same id.
	MessageID string `json:"messageId,omitempty"`
}

// Mailer sends e-mails.
type Mailer interface {
	// Send delivers m. An error wrapping outbox.ErrPermanent means it can
	// never be delivered; any other error may succeed later.
	Send(ctx context.Context, m Mail) error
}

// Validate reports why m cannot be sent (wrapping ErrInvalid), or nil.
func (m Mail) Validate() error {
	if !ical.ValidEmail(m.From) {
		return fmt.Errorf("%w: sender address", ErrInvalid)
	}
	if !ical.ValidEmail(m.To) {
		return fmt.Errorf("%w: recipient address", ErrInvalid)
	}
	if m.ReplyTo != "" && !ical.ValidEmail(m.ReplyTo) {
		return fmt.Errorf("%w: reply-to address", ErrInvalid)
	}
	if strings.TrimSpace(m.Text) == "" {
		return fmt.Errorf("%w: no text part", ErrInvalid)
	}
	if len(m.ICS) > 0 {
		switch m.ICSMethod {
		case ical.MethodRequest, ical.MethodCancel, ical.MethodPublish:
		default:
			return fmt.Errorf("%w: calendar method", ErrInvalid)
		}
	}
	if m.MessageID != "" && !validMessageID(m.MessageID) {
		return fmt.Errorf("%w: message id", ErrInvalid)
	}
	if len(m.Attachments) > MaxAttachments {
		return fmt.Errorf("%w: more than %d attachments", ErrInvalid, MaxAttachments)
	}
	total := 0
	for _, a := range m.Attachments {
		total += len(a.Data)
		if AttachmentName(a.Name) == "" || !allowedAttachment[a.ContentType] || len(a.Data) == 0 {
			return fmt.Errorf("%w: attachment", ErrInvalid)
		}
	}
	if total > MaxAttachmentBytes {
		return fmt.Errorf("%w: attachments larger than %d bytes", ErrInvalid, MaxAttachmentBytes)
	}
	return nil
}

// Attachment limits: mail servers commonly refuse messages over 25 MB,
// and base64 grows a file by a third.
const (
	// MaxAttachments is the most files one mail carries.
	MaxAttachments = 5
	// MaxAttachmentBytes bounds the files of one mail together.
	MaxAttachmentBytes = 15 << 20
)

// Attachment is a file sent with a mail.
type Attachment struct {
	// Name is the file name shown to the recipient (cleaned on send).
	Name string
	// ContentType is the media type; only application/pdf is sent.
	ContentType string
	// Data is the file.
	Data []byte
}

var allowedAttachment = map[string]bool{"application/pdf": true}

// AttachmentName cleans a file name for a mail: letters, digits, space,
// '.', '-' and '_' kept, everything else replaced by '_', at most 80
// characters, never a dot file; "" when nothing is left.
func AttachmentName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == ' ', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	out := strings.Trim(b.String(), " ._")
	if r := []rune(out); len(r) > 80 {
		out = string(r[len(r)-80:])
	}
	return out
}

func validMessageID(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 250 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("<>()[]\\,;:\"", r) {
			return false
		}
	}
	return true
}

// HeaderText returns s fit for a header: control characters (CR and LF
// included) become spaces, runs of white space collapse, invalid UTF-8 is
// dropped and the result is cut to max runes (with "…").
func HeaderText(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if max > 0 && utf8.RuneCountInString(out) > max {
		rs := []rune(out)
		out = strings.TrimSpace(string(rs[:max-1])) + "…"
	}
	return out
}

// MailJob returns the outbox payload for m, checked with Validate.
func MailJob(m Mail) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("notify: encode mail job: %w", err)
	}
	if len(b) > outbox.MaxPayload {
		return nil, fmt.Errorf("%w: mail of %d bytes is too large", ErrInvalid, len(b))
	}
	return b, nil
}

// MailHandler returns the outbox handler for KindMail jobs: it decodes the
// payload and sends it through mailer. When the mail has no MessageID, it
// gets "<job id>@<sender's domain>", the same for every attempt.
func MailHandler(mailer Mailer) outbox.Handler {
	return func(ctx context.Context, j outbox.Job) error {
		var m Mail
		if err := json.Unmarshal(j.Payload, &m); err != nil {
			return fmt.Errorf("notify: mail job %s: undecodable payload: %w", j.ID, outbox.ErrPermanent)
		}
		if m.MessageID == "" {
			m.MessageID = MessageID(j.ID, m.From)
		}
		if err := mailer.Send(ctx, m); err != nil {
			return fmt.Errorf("notify: mail job %s: %w", j.ID, err)
		}
		return nil
	}
}

// MessageID returns the Message-ID (without angle brackets) for the mail
// an outbox job sends: "<jobID>@<domain of from>". A handler that sends
// with it gives every attempt of the job the same id, so that a duplicate
// after a crash is recognisable as one. It returns "" when from has no
// domain.
func MessageID(jobID, from string) string {
	at := strings.LastIndexByte(from, '@')
	if at < 0 || jobID == "" {
		return ""
	}
	return jobID + from[at:]
}

// SMS is the payload of a KindSMS job.
type SMS struct {
	// To is the recipient's number in E.164 form (+4915112345678).
	To string `json:"to"`
	// Text is the message.
	Text string `json:"text"`
}

// SMSJob returns the outbox payload for an SMS to the E.164 number to.
func SMSJob(to, text string) ([]byte, error) {
	if !ValidE164(to) {
		return nil, fmt.Errorf("%w: phone number is not E.164", ErrInvalid)
	}
	if strings.TrimSpace(text) == "" || utf8.RuneCountInString(text) > MaxSMSLen {
		return nil, fmt.Errorf("%w: SMS text empty or longer than %d characters", ErrInvalid, MaxSMSLen)
	}
	b, err := json.Marshal(SMS{To: to, Text: text})
	if err != nil {
		return nil, fmt.Errorf("notify: encode SMS job: %w", err)
	}
	return b, nil
}

// SMSHandler returns the outbox handler for KindSMS jobs.
func SMSHandler(s SMSSender) outbox.Handler {
	return func(ctx context.Context, j outbox.Job) error {
		var m SMS
		if err := json.Unmarshal(j.Payload, &m); err != nil {
			return fmt.Errorf("notify: SMS job %s: undecodable payload: %w", j.ID, outbox.ErrPermanent)
		}
		if err := s.SendSMS(ctx, m.To, m.Text); err != nil {
			return fmt.Errorf("notify: SMS job %s: %w", j.ID, err)
		}
		return nil
	}
}

// deliveryError is a delivery failure with a message free of personal
// data; it matches outbox.ErrPermanent when permanent is set and unwraps to
// the library's error for errors.As.
type deliveryError struct {
	msg       string
	permanent bool
	cause     error
}

func (e *deliveryError) Error() string { return e.msg }

func (e *deliveryError) Unwrap() []error {
	errs := []error{}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	if e.permanent {
		errs = append(errs, outbox.ErrPermanent)
	}
	return errs
}

// IsTemporary reports whether err is a delivery failure worth retrying (it
// does not wrap outbox.ErrPermanent).
func IsTemporary(err error) bool {
	return err != nil && !errors.Is(err, outbox.ErrPermanent)
}
