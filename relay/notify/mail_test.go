package notify_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"parley/relay/clock"
	"parley/relay/notify"
	"parley/relay/outbox"
	"parley/relay/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

func appointment() notify.Appointment {
	return notify.Appointment{
		CustomerName: "Erika Müller", CustomerEmail: "erika@example.org",
		AdvisorName: "Max Berater", AdvisorEmail: "max@bank.example",
		TypeName: "Baufinanzierung", Kind: notify.KindVideo,
		Text:  "Ich habe Fragen zur Anschlussfinanzierung.",
		Start: time.Date(2026, 3, 30, 8, 30, 0, 0, time.UTC), End: time.Date(2026, 3, 30, 9, 15, 0, 0, time.UTC),
		TimeZone: "Europe/Berlin", JoinURL: "https://relay.example/j/9f8e7d", ManageURL: "https://relay.example/b/m/4c3b2a",
		UID: "3f2a9c1d@relay.example", TenantName: "Musterbank", From: "termine@bank.example",
		Stamp:  time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Alarms: []time.Duration{time.Hour},
	}
}

func send(t *testing.T, s *smtpServer, m notify.Mail) parsedMail {
	t.Helper()
	before := len(s.messages())
	if err := s.mailer(t).Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msgs := s.messages()
	if len(msgs) != before+1 {
		t.Fatalf("server holds %d messages, want %d", len(msgs), before+1)
	}
	return parseMail(t, msgs[len(msgs)-1].Data)
}

// Confirm, reschedule and cancel one appointment over SMTP: the ICS in
// every mail parses with both libraries, the UID stays, SEQUENCE rises,
// the cancellation says METHOD:CANCEL.
func TestConfirmRescheduleCancelOverSMTP(t *testing.T) {
	s := startSMTP(t, nil)
	d := appointment()
	steps := []struct {
		ev       notify.Event
		seq      int
		start    time.Time
		method   string
		status   string
		filename string
	}{
		{notify.EventConfirmed, 0, d.Start, "REQUEST", "CONFIRMED", "invite.ics"},
		{notify.EventRescheduled, 1, d.Start.Add(24 * time.Hour), "REQUEST", "CONFIRMED", "invite.ics"},
		{notify.EventCancelled, 2, d.Start.Add(24 * time.Hour), "CANCEL", "CANCELLED", "cancel.ics"},
	}
	for _, st := range steps {
		d.Sequence, d.PreviousStart = st.seq, d.Start
		d.Start, d.End = st.start, st.start.Add(45*time.Minute)
		m, err := notify.AppointmentMail("de", st.ev, d)
		if err != nil {
			t.Fatal(err)
		}
		pm := send(t, s, m)
		if got := pm.Header.Get("To"); !strings.Contains(got, "<erika@example.org>") {
			t.Fatalf("To: %q", got)
		}
		if pm.Header.Get("Message-Id") == "" || pm.Header.Get("Auto-Submitted") != "auto-generated" {
			t.Fatalf("headers: %v", pm.Header)
		}
		if !strings.Contains(pm.Header.Get("Reply-To"), "max@bank.example") {
			t.Fatalf("Reply-To: %q", pm.Header.Get("Reply-To"))
		}
		att := pm.find(t, "text/calendar", true)
		if att.Params["method"] != st.method || !strings.Contains(att.Header.Get("Content-Disposition"), st.filename) {
			t.Fatalf("%s: attachment %v", st.ev, att.Header)
		}
		alt := pm.find(t, "text/calendar", false)
		if !bytes.Equal(bytes.ReplaceAll(alt.Body, []byte("\r\n"), []byte("\n")), bytes.ReplaceAll(att.Body, []byte("\r\n"), []byte("\n"))) {
			t.Fatalf("%s: alternative and attached calendars differ", st.ev)
		}
		ics := parseICS(t, att.Body)
		want := icsFields{Method: st.method, UID: d.UID, Sequence: string(rune('0' + st.seq)), Status: st.status,
			Summary: "Baufinanzierung – Max Berater", Start: st.start, End: st.start.Add(45 * time.Minute)}
		if ics != want {
			t.Fatalf("%s: ICS %+v, want %+v", st.ev, ics, want)
		}
		text := pm.find(t, "text/plain", false)
		html := pm.find(t, "text/html", false)
		if st.ev != notify.EventCancelled && (!bytes.Contains(text.Body, []byte(d.JoinURL)) || !bytes.Contains(html.Body, []byte(d.JoinURL))) {
			t.Fatalf("%s: join link missing", st.ev)
		}
	}
	// The advisor's copy of the cancellation carries the same UID and
	// SEQUENCE but not the customer's manage link.
	am, err := notify.AdvisorMail("en", notify.EventCancelledByCustomer, d)
	if err != nil {
		t.Fatal(err)
	}
	pm := send(t, s, am)
	att := pm.find(t, "text/calendar", true)
	if ics := parseICS(t, att.Body); ics.UID != d.UID || ics.Sequence != "2" || ics.Method != "CANCEL" {
		t.Fatalf("advisor ICS %+v", ics)
	}
	for _, p := range pm.Parts {
		if bytes.Contains(p.Body, []byte(d.ManageURL)) {
			t.Fatalf("advisor mail part %s holds the customer's manage link", p.Type)
		}
	}
}

func TestReminderHasNoCalendar(t *testing.T) {
	m, err := notify.AppointmentMail("en", notify.EventReminder, appointment())
	if err != nil {
		t.Fatal(err)
	}
	if m.ICS != nil || !strings.HasPrefix(m.Subject, "Reminder: Baufinanzierung") {
		t.Fatalf("reminder: subject %q, %d ICS bytes", m.Subject, len(m.ICS))
	}
}

// Hostile names and text: escaped in HTML, literal in text, never in a
// header line of their own, never an extra recipient.
func TestHostileInputIsEscapedAndNotInjected(t *testing.T) {
	s := startSMTP(t, nil)
	d := appointment()
	d.CustomerName = "<script>alert(1)</script>\r\nBcc: victim@evil.example\r\nX-Injected: yes"
	d.TypeName = "Termin\r\nSubject: spoofed <img src=x onerror=alert(2)>"
	d.AdvisorName = `Max "Evil" Berater <max@evil.example>`
	d.Text = strings.Repeat("<b>fett</b> & \"quote\" ", 100) // 2 KB
	for _, render := range []func() (notify.Mail, error){
		func() (notify.Mail, error) { return notify.AppointmentMail("de", notify.EventConfirmed, d) },
		func() (notify.Mail, error) { return notify.AdvisorMail("en", notify.EventNewBooking, d) },
	} {
		m, err := render()
		if err != nil {
			t.Fatal(err)
		}
		pm := send(t, s, m)
		raw := s.messages()[len(s.messages())-1]
		if len(raw.To) != 1 {
			t.Fatalf("envelope recipients %v", raw.To)
		}
		for _, h := range []string{"Bcc", "X-Injected"} {
			if v := pm.Header.Get(h); v != "" {
				t.Fatalf("injected header %s: %q", h, v)
			}
		}
		if len(pm.Header["Subject"]) != 1 || strings.ContainsAny(pm.subject(t), "\r\n") {
			t.Fatalf("subject %q", pm.Header["Subject"])
		}
		html := string(pm.find(t, "text/html", false).Body)
		for _, bad := range []string{"<script>", "<img", "<b>fett"} {
			if strings.Contains(html, bad) {
				t.Fatalf("HTML part holds %q unescaped", bad)
			}
		}
		if !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Fatal("escaped name missing from HTML part")
		}
		text := string(pm.find(t, "text/plain", false).Body)
		if !strings.Contains(text, "<script>alert(1)</script> Bcc: victim@evil.example X-Injected: yes") {
			t.Fatalf("name not shown literally on one line in the text part:\n%s", text)
		}
		if ics := parseICS(t, pm.find(t, "text/calendar", true).Body); ics.UID != d.UID || strings.ContainsAny(ics.Summary, "\r\n") {
			t.Fatalf("ICS %+v", ics)
		}
	}
	// The advisor sees the customer's 2 KB text, escaped.
	am, _ := notify.AdvisorMail("de", notify.EventNewBooking, d)
	if !strings.Contains(am.HTML, "&lt;b&gt;fett&lt;/b&gt; &amp; &#34;quote&#34;") {
		t.Fatal("customer text not escaped in the advisor's HTML")
	}
}

func TestInvalidAppointmentsAreRefused(t *testing.T) {
	cases := map[string]func(*notify.Appointment){
		"customer address":   func(d *notify.Appointment) { d.CustomerEmail = "erika@example.org\r\nBcc: x@y.z" },
		"sender address":     func(d *notify.Appointment) { d.From = "" },
		"javascript link":    func(d *notify.Appointment) { d.JoinURL = "javascript:alert(1)" },
		"unknown zone":       func(d *notify.Appointment) { d.TimeZone = "Mars/Olympus" },
		"unknown kind":       func(d *notify.Appointment) { d.Kind = "fax" },
		"end before start":   func(d *notify.Appointment) { d.End = d.Start.Add(-time.Minute) },
		"no uid":             func(d *notify.Appointment) { d.UID = " " },
		"absurd year":        func(d *notify.Appointment) { d.Start = time.Date(12026, 1, 1, 0, 0, 0, 0, time.UTC); d.End = d.Start },
		"phone kind bad url": func(d *notify.Appointment) { d.Kind = notify.KindPhone; d.ManageURL = "ftp://x" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			d := appointment()
			mutate(&d)
			_, err := notify.AppointmentMail("de", notify.EventConfirmed, d)
			if !errors.Is(err, notify.ErrInvalid) || !errors.Is(err, outbox.ErrPermanent) {
				t.Fatalf("err %v", err)
			}
			if strings.Contains(err.Error(), "erika") {
				t.Fatalf("error carries personal data: %v", err)
			}
		})
	}
	if _, err := notify.AppointmentMail("de", notify.EventNewBooking, appointment()); !errors.Is(err, notify.ErrInvalid) {
		t.Fatalf("advisor event for the customer: %v", err)
	}
	if _, err := notify.AdvisorMail("de", notify.EventConfirmed, appointment()); !errors.Is(err, notify.ErrInvalid) {
		t.Fatalf("customer event for the advisor: %v", err)
	}
}

func TestTimesInZoneWithAbbreviation(t *testing.T) {
	d := appointment()
	cases := []struct {
		lang, zone string
		start, end time.Time
		want       string
	}{
		{"de", "Europe/Berlin", time.Date(2026, 3, 30, 8, 30, 0, 0, time.UTC), time.Date(2026, 3, 30, 9, 15, 0, 0, time.UTC),
			"Montag, 30. März 2026, 10:30–11:15 Uhr (CEST)"},
		{"en", "America/New_York", time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 16, 0, 0, 0, time.UTC),
			"Monday, 2 November 2026, 10:00–11:00 (EST)"},
		// Across the spring-forward night: 01:30 CET to 03:30 CEST.
		{"de", "Europe/Berlin", time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC),
			"Sonntag, 29. März 2026, 01:30 CET – 03:30 CEST Uhr"},
		{"en", "", time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 30, 0, 0, time.UTC),
			"Thursday, 31 December 2026, 23:30 (UTC) – Friday, 1 January 2027, 00:30 (UTC)"},
	}
	for _, c := range cases {
		d.TimeZone, d.Start, d.End = c.zone, c.start, c.end
		m, err := notify.AppointmentMail(c.lang, notify.EventConfirmed, d)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, c.want) || !strings.Contains(m.HTML, c.want) {
			t.Errorf("%s %s: want %q in\n%s", c.lang, c.zone, c.want, m.Text)
		}
	}
}

// Golden files of the confirmation's text (German and English) and HTML
// (German) parts; regenerate with -update after checking the diff.
func TestConfirmationGolden(t *testing.T) {
	for _, c := range []struct{ lang, file string }{
		{"de", "confirmed.de.txt.golden"}, {"en", "confirmed.en.txt.golden"}, {"de", "confirmed.de.html.golden"},
	} {
		m, err := notify.AppointmentMail(c.lang, notify.EventConfirmed, appointment())
		if err != nil {
			t.Fatal(err)
		}
		got := m.Subject + "\n\n" + m.Text
		if strings.Contains(c.file, "html") {
			got = m.HTML
		}
		path := filepath.Join("testdata", c.file)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s differs (run with -update after checking):\n%s", path, got)
		}
	}
}

func newOutbox(t *testing.T, db store.KV, clk clock.Clock) *outbox.Outbox {
	t.Helper()
	o, err := outbox.New(outbox.Options{Store: db, Clock: clk, MinBackoff: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func enqueueMail(t *testing.T, o *outbox.Outbox, m notify.Mail) {
	t.Helper()
	p, err := notify.MailJob(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(context.Background(), notify.KindMail, p, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// A 451 on DATA is retried by the outbox after its back-off; a 550 on RCPT
// dead-letters the job. Neither error stores the address.
func TestOutboxRetries451AndDeadLetters550(t *testing.T) {
	s := startSMTP(t, nil)
	s.reject = func(stage string, n int) *smtp.SMTPError {
		switch {
		case stage == "data" && n == 1:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "erika@example.org try later"}
		case stage == "rcpt" && n == 3:
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "erika@example.org unknown"}
		}
		return nil
	}
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	o := newOutbox(t, &store.Memory{Clock: clk}, clk)
	o.Handle(notify.KindMail, notify.MailHandler(s.mailer(t)))
	m, err := notify.AppointmentMail("de", notify.EventConfirmed, appointment())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	enqueueMail(t, o, m)
	if n, err := o.RunDue(ctx); n != 0 || err != nil {
		t.Fatalf("first run: %d done, %v", n, err)
	}
	jobs, _ := o.Jobs(ctx)
	if len(jobs) != 1 || !strings.Contains(jobs[0].LastError, "451") || strings.Contains(jobs[0].LastError, "erika") {
		t.Fatalf("after 451: %+v", jobs)
	}
	t.Logf("stored error: %s", jobs[0].LastError)
	clk.Set(jobs[0].NotBefore)
	if n, _ := o.RunDue(ctx); n != 1 || len(s.messages()) != 1 {
		t.Fatalf("retry: %d done, %d messages", n, len(s.messages()))
	}
	// The message id is derived from the job id: a duplicate after a crash
	// would be recognisable.
	pm := parseMail(t, s.messages()[0].Data)
	if want := "<" + jobs[0].ID + "@bank.example>"; pm.Header.Get("Message-Id") != want {
		t.Fatalf("Message-Id %q, want %q", pm.Header.Get("Message-Id"), want)
	}

	enqueueMail(t, o, m)
	o.RunDue(ctx)
	dead, _ := o.Dead(ctx)
	if len(dead) != 1 || !strings.Contains(dead[0].LastError, "550") || strings.Contains(dead[0].LastError, "erika") {
		t.Fatalf("after 550: dead %+v", dead)
	}
	if n, _ := o.Pending(ctx); n != 0 {
		t.Fatalf("%d pending after 550", n)
	}
}

// A mail enqueued before a restart is sent after it.
func TestRestartLosesNoMail(t *testing.T) {
	s := startSMTP(t, nil)
	dir := t.TempDir()
	key := bytes.Repeat([]byte{9}, 32)
	db, err := store.Open(store.BadgerOptions{Dir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	o := newOutbox(t, db, nil)
	m, _ := notify.AppointmentMail("en", notify.EventConfirmed, appointment())
	p, _ := notify.MailJob(m)
	// As the booking package does: inside its own transaction.
	if err := db.Update(context.Background(), func(tx store.Txn) error {
		if err := tx.Set([]byte("booking/x"), []byte("{}")); err != nil {
			return err
		}
		return o.EnqueueTx(tx, notify.KindMail, p, time.Time{})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close() // the relay stops before the worker ran

	db, err = store.Open(store.BadgerOptions{Dir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	o = newOutbox(t, db, nil)
	o.Handle(notify.KindMail, notify.MailHandler(s.mailer(t)))
	if n, err := o.RunDue(context.Background()); n != 1 || err != nil {
		t.Fatalf("after restart: %d done, %v", n, err)
	}
	if msgs := s.messages(); len(msgs) != 1 || msgs[0].To[0] != "erika@example.org" {
		t.Fatalf("messages %+v", msgs)
	}
}

func TestSTARTTLS(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	s := startSMTP(t, serverTLS)
	m, err := notify.NewSMTP(notify.SMTPOptions{Host: s.Host, Port: s.Port, TLS: notify.TLSMandatory, TLSConfig: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	mail, _ := notify.AppointmentMail("de", notify.EventConfirmed, appointment())
	if err := m.Send(context.Background(), mail); err != nil {
		t.Fatalf("STARTTLS send: %v", err)
	}
	// A server that offers no STARTTLS gets nothing under "mandatory"; the
	// failure is temporary (the server may be fixed).
	plain := startSMTP(t, nil)
	m, _ = notify.NewSMTP(notify.SMTPOptions{Host: plain.Host, Port: plain.Port, TLS: notify.TLSMandatory, TLSConfig: clientTLS})
	err = m.Send(context.Background(), mail)
	if err == nil || !notify.IsTemporary(err) || len(plain.messages()) != 0 {
		t.Fatalf("mandatory TLS against a plain server: %v, %d messages", err, len(plain.messages()))
	}
}

func TestSMTPOptions(t *testing.T) {
	if _, err := notify.NewSMTP(notify.SMTPOptions{Host: "smtp.example.com", TLS: notify.TLSNone}); err == nil {
		t.Fatal("plain SMTP to a remote host accepted")
	}
	if _, err := notify.NewSMTP(notify.SMTPOptions{Host: "smtp.example.com", TLS: "sometimes"}); err == nil {
		t.Fatal("unknown TLS policy accepted")
	}
	if _, err := notify.NewSMTP(notify.SMTPOptions{}); err == nil {
		t.Fatal("no host accepted")
	}
	// A closed port: temporary.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	m, _ := notify.NewSMTP(notify.SMTPOptions{Host: "127.0.0.1", Port: port, TLS: notify.TLSNone, Timeout: 5 * time.Second})
	mail, _ := notify.AppointmentMail("de", notify.EventConfirmed, appointment())
	if err := m.Send(context.Background(), mail); err == nil || !notify.IsTemporary(err) {
		t.Fatalf("closed port: %v", err)
	}
	// An invalid mail: permanent, before any connection.
	mail.To = "not an address"
	if err := m.Send(context.Background(), mail); !errors.Is(err, outbox.ErrPermanent) {
		t.Fatalf("invalid mail: %v", err)
	}
}

func BenchmarkAppointmentMail(b *testing.B) {
	d := appointment()
	for i := 0; i < b.N; i++ {
		if _, err := notify.AppointmentMail("de", notify.EventConfirmed, d); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPDFAttachmentOverSMTP(t *testing.T) {
	s := startSMTP(t, nil)
	pdf := []byte("%PDF-1.7\n% signiert\n%%EOF\n")
	m := notify.Mail{From: "termine@bank.example", To: "erika@example.org", Subject: "Unterschrieben", Text: "Anbei das Dokument.",
		Attachments: []notify.Attachment{{Name: "../Vertrag: Kredit\r\n.pdf", ContentType: "application/pdf", Data: pdf}}}
	got := send(t, s, m)
	found := false
	for _, p := range got.Parts {
		if strings.HasPrefix(p.Header.Get("Content-Type"), "application/pdf") {
			found = true
			if !bytes.Equal(p.Body, pdf) {
				t.Errorf("attachment bytes differ")
			}
			if cd := p.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || strings.Contains(cd, "..") || strings.Contains(cd, "/") {
				t.Errorf("Content-Disposition %q", cd)
			}
		}
	}
	if !found {
		t.Fatalf("no PDF part in %d parts", len(got.Parts))
	}
	for _, bad := range []notify.Attachment{
		{Name: "x.exe", ContentType: "application/octet-stream", Data: pdf},
		{Name: "...", ContentType: "application/pdf", Data: pdf},
		{Name: "leer.pdf", ContentType: "application/pdf"},
		{Name: "gross.pdf", ContentType: "application/pdf", Data: make([]byte, notify.MaxAttachmentBytes+1)},
	} {
		m.Attachments = []notify.Attachment{bad}
		if err := m.Validate(); !errors.Is(err, notify.ErrInvalid) {
			t.Errorf("attachment %q (%s, %d bytes) accepted", bad.Name, bad.ContentType, len(bad.Data))
		}
	}
	if n := notify.AttachmentName("../Vertrag: Kredit\r\n.pdf"); n != "Vertrag_ Kredit__.pdf" {
		t.Errorf("AttachmentName = %q", n)
	}
}
