package booking_test

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// mailServer is an SMTP server on loopback that keeps every message it
// receives. It accepts any sender and recipient and asks for no auth.
type mailServer struct {
	addr string
	srv  *smtp.Server
	ln   net.Listener

	mu   sync.Mutex
	msgs []*message
	wake chan struct{}
}

// message is one received mail.
type message struct {
	From string
	To   []string
	Raw  []byte
}

// startMail starts the server on addr ("127.0.0.1:0" for any port); it
// stops when the test ends.
func startMail(t *testing.T, addr string) *mailServer {
	t.Helper()
	m := &mailServer{wake: make(chan struct{})}
	m.listen(t, addr)
	t.Cleanup(m.stop)
	return m
}

func (m *mailServer) listen(t *testing.T, addr string) {
	t.Helper()
	var ln net.Listener
	var err error
	// The port of a stopped server may take a moment to be free again.
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("smtp: listen on %s: %v", addr, err)
	}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{m: m}, nil }))
	s.Domain = "localhost"
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	s.MaxMessageBytes = 10 << 20
	m.srv, m.ln, m.addr = s, ln, ln.Addr().String()
	go func() { _ = s.Serve(ln) }()
}

// stop closes the server (and its connections); restart opens it again on
// the same address.
func (m *mailServer) stop() {
	if m.srv != nil {
		// Close the listener too: Serve may not have registered it yet.
		_ = m.ln.Close()
		_ = m.srv.Close()
		m.srv, m.ln = nil, nil
	}
}

func (m *mailServer) restart(t *testing.T) {
	t.Helper()
	m.stop()
	m.listen(t, m.addr)
}

func (m *mailServer) add(msg *message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	close(m.wake)
	m.wake = make(chan struct{})
}

// all returns the messages received so far.
func (m *mailServer) all() []*message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*message(nil), m.msgs...)
}

// waitFor waits until a message to rcpt satisfies match and returns it;
// messages in skip are not considered.
func (m *mailServer) waitFor(t *testing.T, what, rcpt string, match func(*parsedMail) bool) *parsedMail {
	t.Helper()
	deadline := time.After(mailTimeout)
	for {
		m.mu.Lock()
		msgs, wake := append([]*message(nil), m.msgs...), m.wake
		m.mu.Unlock()
		for _, msg := range msgs {
			if !msg.to(rcpt) {
				continue
			}
			p, err := parseMail(msg.Raw)
			if err != nil {
				t.Fatalf("smtp: %s: mail to %s does not parse: %v\n%s", what, rcpt, err, msg.Raw)
			}
			if match == nil || match(p) {
				return p
			}
		}
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("smtp: no %s to %s within %v (%d messages received)", what, rcpt, mailTimeout, len(msgs))
		}
	}
}

func (msg *message) to(rcpt string) bool {
	for _, r := range msg.To {
		if strings.EqualFold(r, rcpt) {
			return true
		}
	}
	return false
}

type session struct {
	m   *mailServer
	cur message
}

func (s *session) Reset()        { s.cur = message{} }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.From = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg := s.cur
	msg.Raw = b
	s.m.add(&msg)
	return nil
}

// parsedMail is a received mail taken apart: its headers and the decoded
// bodies of its text, HTML and calendar parts.
type parsedMail struct {
	Header   mail.Header
	Text     string
	HTML     string
	Calendar string // the text/calendar part (inline or attached)
	// CalendarMethod is the part's method parameter (REQUEST, CANCEL).
	CalendarMethod string
}

func parseMail(raw []byte) (*parsedMail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	p := &parsedMail{Header: msg.Header}
	if err := p.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *parsedMail) walk(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := p.walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part); err != nil {
				return err
			}
		}
	}
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64Reader(body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		if p.Text == "" {
			p.Text = string(b)
		}
	case "text/html":
		if p.HTML == "" {
			p.HTML = string(b)
		}
	case "text/calendar", "application/ics":
		if p.Calendar == "" {
			p.Calendar = string(b)
			p.CalendarMethod = strings.ToUpper(params["method"])
		}
	}
	return nil
}
