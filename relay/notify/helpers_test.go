package notify_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	arran "github.com/arran4/golang-ical"
	emersion "github.com/emersion/go-ical"
	"github.com/emersion/go-smtp"

	"parley/relay/notify"
)

// received is one message the test server accepted.
type received struct {
	From string
	To   []string
	Data []byte
}

// smtpServer is an in-process SMTP server on loopback that records what
// it accepts. reject, when set, may refuse a stage ("mail", "rcpt", "data")
// of the n-th transaction (counting from 1) with an SMTP error.
type smtpServer struct {
	t      testing.TB
	srv    *smtp.Server
	Host   string
	Port   int
	mu     sync.Mutex
	msgs   []received
	tx     int
	reject func(stage string, n int) *smtp.SMTPError
}

func startSMTP(t testing.TB, tlsConf *tls.Config) *smtpServer {
	t.Helper()
	s := &smtpServer{t: t}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.TLSConfig = tlsConf
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Host, s.Port = "127.0.0.1", l.Addr().(*net.TCPAddr).Port
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *smtpServer) check(stage string) error {
	s.mu.Lock()
	n, r := s.tx, s.reject
	s.mu.Unlock()
	if r != nil {
		if e := r(stage, n); e != nil {
			return e
		}
	}
	return nil
}

// NewSession implements smtp.Backend.
func (s *smtpServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct {
	s   *smtpServer
	cur received
}

func (x *session) Reset()        { x.cur = received{} }
func (x *session) Logout() error { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.s.mu.Lock()
	x.s.tx++
	x.s.mu.Unlock()
	x.cur = received{From: from}
	return x.s.check("mail")
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := x.s.check("rcpt"); err != nil {
		return err
	}
	x.cur.To = append(x.cur.To, to)
	return nil
}
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := x.s.check("data"); err != nil {
		return err
	}
	x.cur.Data = b
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, x.cur)
	x.s.mu.Unlock()
	return nil
}

func (s *smtpServer) mailer(t testing.TB) *notify.SMTP {
	t.Helper()
	m, err := notify.NewSMTP(notify.SMTPOptions{Host: s.Host, Port: s.Port, TLS: notify.TLSNone,
		HELO: "relay.test", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// part is one leaf of a parsed MIME message, decoded.
type part struct {
	Type   string
	Params map[string]string
	Header textproto.MIMEHeader
	Body   []byte
}

// parsedMail is a received message parsed with net/mail and mime/multipart.
type parsedMail struct {
	Header mail.Header
	Parts  []part
}

func parseMail(t testing.TB, raw []byte) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	pm := parsedMail{Header: msg.Header}
	walk(t, textproto.MIMEHeader(msg.Header), msg.Body, &pm.Parts)
	return pm
}

func walk(t testing.TB, h textproto.MIMEHeader, body io.Reader, out *[]part) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type %q: %v", h.Get("Content-Type"), err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("multipart: %v", err)
			}
			walk(t, p.Header, p, out)
		}
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "base64":
		b, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(b)))
	case "quoted-printable":
		b, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
	}
	if err != nil {
		t.Fatalf("decode part: %v", err)
	}
	*out = append(*out, part{Type: mt, Params: params, Header: h, Body: b})
}

func (pm parsedMail) find(t testing.TB, mediaType string, attachment bool) part {
	t.Helper()
	for _, p := range pm.Parts {
		isAtt := strings.HasPrefix(p.Header.Get("Content-Disposition"), "attachment")
		if p.Type == mediaType && isAtt == attachment {
			return p
		}
	}
	t.Fatalf("no %s part (attachment %v) in %d parts", mediaType, attachment, len(pm.Parts))
	return part{}
}

func (pm parsedMail) subject(t testing.TB) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// icsFields is what both iCalendar libraries read from an invitation.
type icsFields struct {
	Method, UID, Sequence, Status, Summary string
	Start, End                             time.Time
}

func parseICS(t testing.TB, b []byte) icsFields {
	t.Helper()
	ac, err := arran.ParseCalendar(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("golang-ical: %v\n%s", err, b)
	}
	var a icsFields
	for _, p := range ac.CalendarProperties {
		if p.IANAToken == "METHOD" {
			a.Method = p.Value
		}
	}
	if len(ac.Events()) != 1 {
		t.Fatalf("golang-ical: %d events", len(ac.Events()))
	}
	ev := ac.Events()[0]
	a.UID = ev.GetProperty(arran.ComponentPropertyUniqueId).Value
	a.Sequence = ev.GetProperty(arran.ComponentPropertySequence).Value
	a.Status = ev.GetProperty(arran.ComponentPropertyStatus).Value
	a.Summary = ev.GetProperty(arran.ComponentPropertySummary).Value
	a.Start, _ = ev.GetStartAt()
	a.End, _ = ev.GetEndAt()

	ec, err := emersion.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatalf("go-ical: %v", err)
	}
	var e icsFields
	e.Method = ec.Props.Get("METHOD").Value
	if len(ec.Events()) != 1 {
		t.Fatalf("go-ical: %d events", len(ec.Events()))
	}
	eev := ec.Events()[0]
	e.UID, _ = eev.Props.Text("UID")
	e.Sequence = eev.Props.Get("SEQUENCE").Value
	e.Status, _ = eev.Props.Text("STATUS")
	e.Summary, _ = eev.Props.Text("SUMMARY")
	e.Start, _ = eev.DateTimeStart(time.UTC)
	e.End, _ = eev.DateTimeEnd(time.UTC)
	if a != e {
		t.Fatalf("iCalendar libraries disagree:\n%+v\n%+v", a, e)
	}
	return a
}

// selfSigned returns a server TLS config for 127.0.0.1 and a client
// config that trusts it.
func selfSigned(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}
