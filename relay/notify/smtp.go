package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"parley/relay/clock"
	"parley/relay/ical"
	"parley/relay/ids"
)

// TLS policies of SMTPOptions.TLS.
const (
	// TLSMandatory requires STARTTLS (the default).
	TLSMandatory = "mandatory"
	// TLSImplicit speaks TLS from the first byte (SMTPS, port 465).
	TLSImplicit = "implicit"
	// TLSOpportunistic uses STARTTLS when the server offers it.
	TLSOpportunistic = "opportunistic"
	// TLSNone never encrypts; allowed only for a loopback host (tests, a
	// local relay MTA).
	TLSNone = "none"
)

// SMTPOptions configures an SMTP mailer.
type SMTPOptions struct {
	// Host is the submission server's host name (required).
	Host string
	// Port is the server's port; default 587 (465 for TLSImplicit).
	Port int
	// Username and Password authenticate (SMTP AUTH, best mechanism the
	// server offers); no authentication when Username is empty.
	Username, Password string
	// TLS is TLSMandatory (default), TLSImplicit, TLSOpportunistic or
	// TLSNone (loopback hosts only).
	TLS string
	// TLSConfig overrides the TLS client configuration (e.g. a private CA).
	TLSConfig *tls.Config
	// HELO is the name announced in EHLO; default the library's (the
	// machine's host name).
	HELO string
	// Timeout bounds connecting and each SMTP command; default 30s.
	Timeout time.Duration
	// Clock sets the Date header; nil means the real clock.
	Clock clock.Clock
	// Logger receives message ids and SMTP status codes; nil discards.
	Logger *slog.Logger
}

// SMTP sends mails through an SMTP submission server, one connection per
// mail. It is safe for concurrent use.
type SMTP struct {
	opts   SMTPOptions
	policy gomail.TLSPolicy
	clk    clock.Clock
	log    *slog.Logger
}

var _ Mailer = (*SMTP)(nil)

// NewSMTP checks opts and returns a mailer.
func NewSMTP(opts SMTPOptions) (*SMTP, error) {
	if opts.Host == "" {
		return nil, errors.New("notify: SMTPOptions.Host is required")
	}
	s := &SMTP{opts: opts, clk: clock.Or(opts.Clock), log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	switch opts.TLS {
	case "", TLSMandatory, TLSImplicit:
		s.policy = gomail.TLSMandatory
	case TLSOpportunistic:
		s.policy = gomail.TLSOpportunistic
	case TLSNone:
		if !isLoopback(opts.Host) {
			return nil, errors.New("notify: SMTP without TLS is allowed only to a loopback host")
		}
		s.policy = gomail.NoTLS
	default:
		return nil, fmt.Errorf("notify: unknown SMTP TLS policy %q", opts.TLS)
	}
	if s.opts.Port == 0 {
		s.opts.Port = 587
		if opts.TLS == TLSImplicit {
			s.opts.Port = 465
		}
	}
	if s.opts.Timeout <= 0 {
		s.opts.Timeout = 30 * time.Second
	}
	return s, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Build returns the MIME message for m (as Send would transmit it).
func (s *SMTP) Build(m Mail) (*gomail.Msg, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithCharset(gomail.CharsetUTF8))
	// The library's errors would name the address; ours do not.
	if err := msg.FromFormat(HeaderText(m.FromName, 100), m.From); err != nil {
		return nil, fmt.Errorf("%w: sender address", ErrInvalid)
	}
	if err := msg.AddToFormat(HeaderText(m.ToName, 100), m.To); err != nil {
		return nil, fmt.Errorf("%w: recipient address", ErrInvalid)
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyToFormat(HeaderText(m.ReplyToName, 100), m.ReplyTo); err != nil {
			return nil, fmt.Errorf("%w: reply-to address", ErrInvalid)
		}
	}
	msg.Subject(HeaderText(m.Subject, 200))
	id := m.MessageID
	if id == "" {
		id = ids.New() + m.From[strings.LastIndexByte(m.From, '@'):]
	}
	msg.SetMessageIDWithValue(id)
	msg.SetDateWithValue(s.clk.Now())
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	if len(m.ICS) > 0 {
		// As an alternative part, which calendar-aware clients turn into
		// an invitation, and as a file for every other client.
		msg.AddAlternativeString(gomail.ContentType("text/calendar; method="+m.ICSMethod), string(m.ICS))
		name := "invite.ics"
		if m.ICSMethod == ical.MethodCancel {
			name = "cancel.ics"
		}
		msg.AttachReadSeeker(name, bytes.NewReader(m.ICS),
			gomail.WithFileContentType(gomail.ContentType("text/calendar; charset=utf-8; method="+m.ICSMethod)))
	}
	for _, a := range m.Attachments {
		msg.AttachReadSeeker(AttachmentName(a.Name), bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType)))
	}
	return msg, nil
}

// Send delivers m. SMTP 4xx replies and connection failures are temporary;
// 5xx replies and invalid mails wrap outbox.ErrPermanent. The error text
// holds the SMTP status code only, never the server's reply text (which may
// echo an address).
func (s *SMTP) Send(ctx context.Context, m Mail) error {
	msg, err := s.Build(m)
	if err != nil {
		return err
	}
	opts := []gomail.Option{
		gomail.WithPort(s.opts.Port), gomail.WithTLSPolicy(s.policy), gomail.WithTimeout(s.opts.Timeout),
	}
	if s.opts.TLS == TLSImplicit {
		opts = append(opts, gomail.WithSSL())
	}
	if s.opts.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(s.opts.TLSConfig))
	}
	if s.opts.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.opts.HELO))
	}
	if s.opts.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.opts.Username), gomail.WithPassword(s.opts.Password))
	}
	c, err := gomail.NewClient(s.opts.Host, opts...)
	if err != nil {
		return &deliveryError{msg: "notify: smtp: client setup failed", permanent: true, cause: err}
	}
	err = c.DialAndSendWithContext(ctx, msg)
	if err == nil {
		s.log.Debug("notify: mail sent", "message_id", msg.GetMessageID())
		return nil
	}
	derr := classifySMTP(ctx, err)
	s.log.Warn("notify: mail not sent", "message_id", msg.GetMessageID(), "err", derr.msg, "permanent", derr.permanent)
	return derr
}

// classifySMTP turns a go-mail error into a deliveryError whose text has
// no personal data.
func classifySMTP(ctx context.Context, err error) *deliveryError {
	if ctx.Err() != nil {
		return &deliveryError{msg: "notify: smtp: " + ctx.Err().Error(), cause: ctx.Err()}
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		msg := fmt.Sprintf("notify: smtp: %s", se.Reason)
		if code != 0 {
			msg += fmt.Sprintf(": server replied %d", code)
			if esc := se.EnhancedStatusCode(); esc != "" {
				msg += " " + esc
			}
		}
		switch {
		case code >= 500 && code < 600:
			return &deliveryError{msg: msg + " (permanent)", permanent: true, cause: se}
		case code >= 400 && code < 500:
			return &deliveryError{msg: msg + " (temporary)", cause: se}
		default:
			return &deliveryError{msg: msg, cause: se}
		}
	}
	// Not a reply from the server: connecting, TLS or authentication. The
	// library's text names the server, not the recipient.
	var ne net.Error
	if errors.As(err, &ne) {
		return &deliveryError{msg: "notify: smtp: connection failed: " + ne.Error(), cause: err}
	}
	return &deliveryError{msg: "notify: smtp: " + firstLine(err.Error()), cause: err}
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
