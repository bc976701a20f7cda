package signing_test

import (
	"bytes"
	"encoding/base64"
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

	mu   sync.Mutex
	msgs []received
	wake chan struct{}
}

type received struct {
	to  []string
	raw []byte
}

func startMail(t *testing.T) *mailServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &mailServer{wake: make(chan struct{}), addr: ln.Addr().String()}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{m: m}, nil }))
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 30*time.Second, 30*time.Second
	s.MaxMessageBytes = 40 << 20
	m.srv = s
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = ln.Close(); _ = s.Close() })
	return m
}

// count is how many messages to rcpt arrived so far.
func (m *mailServer) count(rcpt string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.msgs {
		for _, to := range r.to {
			if strings.EqualFold(to, rcpt) {
				n++
			}
		}
	}
	return n
}

// waitFor waits for the n-th message (from 1) to rcpt and returns it
// parsed.
func (m *mailServer) waitFor(t *testing.T, rcpt string, n int) *parsedMail {
	t.Helper()
	deadline := time.After(mailTimeout)
	for {
		m.mu.Lock()
		msgs, wake := append([]received(nil), m.msgs...), m.wake
		m.mu.Unlock()
		seen := 0
		for _, r := range msgs {
			for _, to := range r.to {
				if !strings.EqualFold(to, rcpt) {
					continue
				}
				if seen++; seen == n {
					p, err := parseMail(r.raw)
					if err != nil {
						t.Fatalf("smtp: mail to %s does not parse: %v", rcpt, err)
					}
					return p
				}
			}
		}
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("smtp: no mail %d to %s within %v", n, rcpt, mailTimeout)
		}
	}
}

type session struct {
	m   *mailServer
	cur received
}

func (s *session) Reset()                               { s.cur = received{} }
func (s *session) Logout() error                        { return nil }
func (s *session) Mail(string, *smtp.MailOptions) error { return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg := s.cur
	msg.raw = b
	s.m.mu.Lock()
	s.m.msgs = append(s.m.msgs, msg)
	close(s.m.wake)
	s.m.wake = make(chan struct{})
	s.m.mu.Unlock()
	return nil
}

// parsedMail is a received mail's headers, its decoded text and HTML
// parts and its attachments.
type parsedMail struct {
	Header      mail.Header
	Text, HTML  string
	Attachments []attachment
}

// attachment is a decoded MIME part with a file name.
type attachment struct {
	Name, Type string
	Data       []byte
}

func parseMail(raw []byte) (*parsedMail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	p := &parsedMail{Header: msg.Header}
	return p, p.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), "", msg.Body)
}

func (p *parsedMail) walk(contentType, encoding, disposition string, body io.Reader) error {
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
			if err := p.walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part.Header.Get("Content-Disposition"), part); err != nil {
				return err
			}
		}
	}
	r := body
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if d, dp, err := mime.ParseMediaType(disposition); err == nil && d == "attachment" || params["name"] != "" && !strings.HasPrefix(mt, "text/") {
		name := dp["filename"]
		if name == "" {
			name = params["name"]
		}
		p.Attachments = append(p.Attachments, attachment{Name: name, Type: mt, Data: b})
		return nil
	}
	switch {
	case mt == "text/plain" && p.Text == "":
		p.Text = string(b)
	case mt == "text/html" && p.HTML == "":
		p.HTML = string(b)
	}
	return nil
}
