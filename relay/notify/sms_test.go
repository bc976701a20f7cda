package notify_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"parley/relay/clock"
	"parley/relay/notify"
	"parley/relay/outbox"
	"parley/relay/store"
)

// fakeTwilio checks the wire format of Twilio's Messages API and answers
// with the status and body the test chose.
type fakeTwilio struct {
	t      *testing.T
	mu     sync.Mutex
	forms  []url.Values
	status int
	body   string
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := f.t
	if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/AC0123/Messages.json" {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != "AC0123" || pass != "secret-token" {
		t.Errorf("basic auth %q %q %v", user, pass, ok)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("content type %q", ct)
	}
	b, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(b))
	if err != nil {
		t.Errorf("form: %v", err)
	}
	f.mu.Lock()
	f.forms = append(f.forms, form)
	status, body := f.status, f.body
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func newTwilio(t *testing.T, status int, body string) (*fakeTwilio, *notify.Twilio) {
	f := &fakeTwilio{t: t, status: status, body: body}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, &notify.Twilio{BaseURL: srv.URL, AccountSID: "AC0123", AuthToken: "secret-token",
		From: "+4930123456", Client: srv.Client()}
}

const twilioCreated = `{"sid":"SM0001","status":"queued","to":"+4915112345678","body":"x"}`

func TestTwilioWireFormat(t *testing.T) {
	f, tw := newTwilio(t, http.StatusCreated, twilioCreated)
	text := "Termin bestätigt: Mo 30.03., 10:30 Uhr & mehr; 🙂"
	if err := tw.SendSMS(context.Background(), "+4915112345678", text); err != nil {
		t.Fatal(err)
	}
	tw.From, tw.MessagingServiceSID = "", "MG999"
	if err := tw.SendSMS(context.Background(), "+4915112345678", "x"); err != nil {
		t.Fatal(err)
	}
	if len(f.forms) != 2 {
		t.Fatalf("%d requests", len(f.forms))
	}
	first, second := f.forms[0], f.forms[1]
	if first.Get("To") != "+4915112345678" || first.Get("From") != "+4930123456" || first.Get("Body") != text ||
		first.Has("MessagingServiceSid") {
		t.Fatalf("first form %v", first)
	}
	if second.Get("MessagingServiceSid") != "MG999" || second.Has("From") {
		t.Fatalf("second form %v", second)
	}
}

func TestTwilioErrorsClassified(t *testing.T) {
	cases := []struct {
		status    int
		body      string
		permanent bool
		code      string
	}{
		{400, `{"code":21211,"message":"The 'To' number +4915112345678 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`, true, "21211"},
		{401, `{"code":20003,"message":"Authenticate","status":401}`, true, "20003"},
		{429, `{"code":20429,"message":"Too Many Requests","status":429}`, false, "20429"},
		{503, `<html>unavailable</html>`, false, "HTTP 503"},
	}
	for _, c := range cases {
		_, tw := newTwilio(t, c.status, c.body)
		err := tw.SendSMS(context.Background(), "+4915112345678", "hello")
		if err == nil || errors.Is(err, outbox.ErrPermanent) != c.permanent || notify.IsTemporary(err) == c.permanent {
			t.Fatalf("HTTP %d: %v (permanent %v)", c.status, err, errors.Is(err, outbox.ErrPermanent))
		}
		if !strings.Contains(err.Error(), c.code) || strings.Contains(err.Error(), "15112345678") {
			t.Fatalf("HTTP %d: error text %q", c.status, err)
		}
		var te *notify.TwilioError
		if c.status != 503 && (!errors.As(err, &te) || te.Status != c.status) {
			t.Fatalf("HTTP %d: no TwilioError behind %v", c.status, err)
		}
	}
}

func TestTwilioRefusesBadInputWithoutARequest(t *testing.T) {
	f, tw := newTwilio(t, http.StatusCreated, twilioCreated)
	for _, to := range []string{"", "015112345678", "+0151", "+49 151 123", "+4915112345678\r\n", "+1234567890123456"} {
		if err := tw.SendSMS(context.Background(), to, "hi"); !errors.Is(err, outbox.ErrPermanent) {
			t.Errorf("to %q: %v", to, err)
		}
	}
	if err := tw.SendSMS(context.Background(), "+4915112345678", strings.Repeat("x", notify.MaxSMSLen+1)); !errors.Is(err, outbox.ErrPermanent) {
		t.Errorf("long text: %v", err)
	}
	if len(f.forms) != 0 {
		t.Fatalf("%d requests for invalid input", len(f.forms))
	}
	unconfigured := &notify.Twilio{BaseURL: tw.BaseURL}
	if err := unconfigured.SendSMS(context.Background(), "+4915112345678", "hi"); !errors.Is(err, outbox.ErrPermanent) {
		t.Errorf("unconfigured: %v", err)
	}
}

func TestTwilioConnectionFailureIsTemporary(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tw := &notify.Twilio{BaseURL: "http://" + addr, AccountSID: "AC0123", AuthToken: "t", From: "+4930123456",
		Client: &http.Client{Timeout: 5 * time.Second}}
	err = tw.SendSMS(context.Background(), "+4915112345678", "hi")
	if err == nil || !notify.IsTemporary(err) || strings.Contains(err.Error(), "15112345678") {
		t.Fatalf("connection refused: %v", err)
	}
}

// An SMS job through the outbox: 429 first (retried), then sent.
func TestSMSThroughOutbox(t *testing.T) {
	f, tw := newTwilio(t, http.StatusTooManyRequests, `{"code":20429,"message":"Too Many Requests","status":429}`)
	clk := clock.NewFake(time.Time{})
	o, err := outbox.New(outbox.Options{Store: &store.Memory{Clock: clk}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	o.Handle(notify.KindSMS, notify.SMSHandler(tw))
	text, err := notify.AppointmentSMS("de", notify.EventConfirmed, appointment())
	if err != nil {
		t.Fatal(err)
	}
	p, err := notify.SMSJob("+4915112345678", text)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o.Enqueue(ctx, notify.KindSMS, p, time.Time{})
	if n, _ := o.RunDue(ctx); n != 0 {
		t.Fatal("429 counted as done")
	}
	f.mu.Lock()
	f.status, f.body = http.StatusCreated, twilioCreated
	f.mu.Unlock()
	clk.Advance(time.Hour)
	if n, _ := o.RunDue(ctx); n != 1 || len(f.forms) != 2 || f.forms[1].Get("Body") != text {
		t.Fatalf("retry: %d done, %d requests", n, len(f.forms))
	}
	if _, err := notify.SMSJob("0151 123", "x"); !errors.Is(err, notify.ErrInvalid) {
		t.Fatalf("SMSJob with a bad number: %v", err)
	}
}

func TestAppointmentSMS(t *testing.T) {
	d := appointment()
	s, err := notify.AppointmentSMS("de", notify.EventConfirmed, d)
	if err != nil {
		t.Fatal(err)
	}
	want := "Musterbank: Ihr Termin „Baufinanzierung“ mit Max Berater ist bestätigt: Mo 30.03.2026, 10:30 Uhr CEST. " +
		"Video: https://relay.example/j/9f8e7d Ändern/absagen: https://relay.example/b/m/4c3b2a"
	if s != want {
		t.Fatalf("got  %q\nwant %q", s, want)
	}
	c, _ := notify.AppointmentSMS("en", notify.EventCancelled, d)
	if strings.Contains(c, "https://") || !strings.Contains(c, "cancelled") {
		t.Fatalf("cancel SMS %q", c)
	}
	// Long names and links: never above 320 characters, the join link
	// kept whole, no control characters.
	d.AdvisorName = strings.Repeat("Ä", 150) + "\r\nX"
	d.TypeName = strings.Repeat("Beratung ", 30)
	d.TenantName = strings.Repeat("Bank ", 40)
	d.JoinURL = "https://relay.example/j/" + strings.Repeat("a", 100)
	d.ManageURL = "https://relay.example/b/m/" + strings.Repeat("b", 100)
	for _, lang := range []string{"de", "en"} {
		for _, ev := range []notify.Event{notify.EventConfirmed, notify.EventRescheduled, notify.EventCancelled, notify.EventReminder} {
			s, err := notify.AppointmentSMS(lang, ev, d)
			if err != nil {
				t.Fatal(err)
			}
			if n := utf8.RuneCountInString(s); n > notify.MaxSMSText || strings.ContainsAny(s, "\r\n") {
				t.Fatalf("%s %s: %d characters: %q", lang, ev, n, s)
			}
			if ev != notify.EventCancelled && !strings.Contains(s, d.JoinURL) {
				t.Fatalf("%s %s: join link lost: %q", lang, ev, s)
			}
		}
	}
	if _, err := notify.AppointmentSMS("de", notify.EventNewBooking, d); !errors.Is(err, notify.ErrInvalid) {
		t.Fatalf("advisor event: %v", err)
	}
}
