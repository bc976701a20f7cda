package channels_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"parley/relay/channels"
	"parley/relay/channels/fake"
)

// memSink is the tiny in-memory sink of the tests: it dedupes on
// (channel, kind, message id, status, watermark) like the messaging domain
// must, and can be told to fail its next Store calls.
type memSink struct {
	mu     sync.Mutex
	seen   map[string]bool
	events []channels.Event
	fail   int
	calls  int
}

var errStoreDown = errors.New("store down")

func (s *memSink) Store(_ context.Context, evs []channels.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail > 0 {
		s.fail--
		return errStoreDown
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	for _, e := range evs {
		k := fmt.Sprintf("%s|%s|%s|%s|%d|%s", e.Channel, e.Kind, e.MessageID, e.Status, e.Watermark.UnixMilli(), e.Address)
		if !s.seen[k] {
			s.seen[k] = true
			s.events = append(s.events, e)
		}
	}
	return nil
}

func (s *memSink) stored() []channels.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]channels.Event(nil), s.events...)
}

var t0 = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)

const (
	appSecret   = "meta-app-secret-1"
	verifyToken = "verify-me-42"
	waToken     = "EAAG-wa-token"
	waPhoneID   = "106540352242922"
	tgToken     = "123456789:AAE-test_token"
	tgSecret    = "tg-secret_TOKEN-1"
	fbToken     = "EAAG-page-token"
	fbPageID    = "1122334455"
	twSID       = "AC0123456789abcdef0123456789abcdef"
	twToken     = "twilio-auth-token"
	twPublic    = "https://relay.example.de/hooks/sms/ch-sms-1"
	twOurNumber = "+4930123456"
)

type sigMode int

const (
	sigGood sigMode = iota
	sigMissing
	sigWrong
)

// provider bundles one provider's webhook handler, fake and sender for
// the tests that run against every provider.
type provider struct {
	name    string
	channel channels.Channel
	hook    func(sink channels.Sink) http.Handler
	// payload returns the raw inbound body of message n.
	payload func(n int) []byte
	// post delivers body to url as the provider would, with sig.
	post func(ctx context.Context, url string, body []byte, sig sigMode) (int, error)
	// wantID is the provider message id of message n.
	wantID func(n int) string
	// from is the customer's address in inbound messages.
	from string
	// to is a valid recipient for sends.
	to string
	// start serves a fresh fake and returns a sender pointed at it.
	start func(t *testing.T) (channels.Sender, fakeView)
}

// fakeView is what the generic tests need from a fake.
type fakeView struct {
	outage   *fake.Outage
	texts    func() []string
	rejected func() []string
}

func text(n int) string { return "Guten Tag, eine Frage zu Vertrag Nr. " + strconv.Itoa(n) }

func providers() []provider {
	return []provider{
		{
			name: "whatsapp", channel: channels.WhatsApp, from: "4915112345678", to: "4915112345678",
			hook: func(s channels.Sink) http.Handler {
				return &channels.WhatsAppWebhook{AppSecret: appSecret, VerifyToken: verifyToken, Sink: s}
			},
			payload: func(n int) []byte {
				return fake.WhatsAppText(waPhoneID, "4915112345678", "Erika Muster", waMID(n), text(n), t0)
			},
			post: func(ctx context.Context, url string, body []byte, sig sigMode) (int, error) {
				switch sig {
				case sigMissing:
					return fake.Post(ctx, nil, url, "application/json", body, nil)
				case sigWrong:
					return (&fake.WhatsApp{AppSecret: "other-secret"}).PostWebhook(ctx, url, body)
				}
				return (&fake.WhatsApp{AppSecret: appSecret}).PostWebhook(ctx, url, body)
			},
			wantID: waMID,
			start: func(t *testing.T) (channels.Sender, fakeView) {
				f := &fake.WhatsApp{PhoneNumberID: waPhoneID, Token: waToken}
				srv := serve(t, f)
				return &channels.WhatsAppSender{BaseURL: srv.URL, PhoneNumberID: waPhoneID, Token: waToken, Client: srv.Client()},
					fakeView{&f.Outage, func() []string {
						var out []string
						for _, s := range f.Sent() {
							out = append(out, s.To+"|"+s.Text)
						}
						return out
					}, f.Rejected}
			},
		},
		{
			name: "telegram", channel: channels.Telegram, from: "987654321", to: "987654321",
			hook: func(s channels.Sink) http.Handler {
				return &channels.TelegramWebhook{SecretToken: tgSecret, Account: "123456789", Sink: s}
			},
			payload: func(n int) []byte {
				return fake.TelegramText(int64(700000+n), 987654321, int64(n), "Erika", text(n), t0)
			},
			post: func(ctx context.Context, url string, body []byte, sig sigMode) (int, error) {
				switch sig {
				case sigMissing:
					return (&fake.Telegram{}).PostWebhook(ctx, url, body)
				case sigWrong:
					return (&fake.Telegram{SecretToken: "tg-secret_TOKEN-2"}).PostWebhook(ctx, url, body)
				}
				return (&fake.Telegram{SecretToken: tgSecret}).PostWebhook(ctx, url, body)
			},
			wantID: func(n int) string { return "987654321:" + strconv.Itoa(n) },
			start: func(t *testing.T) (channels.Sender, fakeView) {
				f := &fake.Telegram{Token: tgToken}
				srv := serve(t, f)
				return &channels.TelegramSender{BaseURL: srv.URL, Token: tgToken, Client: srv.Client()},
					fakeView{&f.Outage, func() []string {
						var out []string
						for _, s := range f.Sent() {
							out = append(out, s.ChatID+"|"+s.Text)
						}
						return out
					}, f.Rejected}
			},
		},
		{
			name: "messenger", channel: channels.Messenger, from: "6789012345678901", to: "6789012345678901",
			hook: func(s channels.Sink) http.Handler {
				return &channels.MessengerWebhook{AppSecret: appSecret, VerifyToken: verifyToken, Sink: s}
			},
			payload: func(n int) []byte {
				return fake.MessengerText(fbPageID, "6789012345678901", fbMID(n), text(n), t0)
			},
			post: func(ctx context.Context, url string, body []byte, sig sigMode) (int, error) {
				switch sig {
				case sigMissing:
					return fake.Post(ctx, nil, url, "application/json", body, nil)
				case sigWrong:
					return (&fake.Messenger{AppSecret: "other-secret"}).PostWebhook(ctx, url, body)
				}
				return (&fake.Messenger{AppSecret: appSecret}).PostWebhook(ctx, url, body)
			},
			wantID: fbMID,
			start: func(t *testing.T) (channels.Sender, fakeView) {
				f := &fake.Messenger{PageID: fbPageID, PageToken: fbToken}
				srv := serve(t, f)
				return &channels.MessengerSender{BaseURL: srv.URL, PageToken: fbToken, Client: srv.Client()},
					fakeView{&f.Outage, func() []string {
						var out []string
						for _, s := range f.Sent() {
							out = append(out, s.To+"|"+s.Text)
						}
						return out
					}, f.Rejected}
			},
		},
		{
			name: "sms", channel: channels.SMS, from: "+4915112345678", to: "+4915112345678",
			hook: func(s channels.Sink) http.Handler {
				return &channels.TwilioWebhook{AuthToken: twToken, PublicURL: twPublic, Sink: s}
			},
			payload: func(n int) []byte {
				return []byte(fake.TwilioInbound(twSID, twMID(n), "+4915112345678", twOurNumber, text(n), nil, nil).Encode())
			},
			post: func(ctx context.Context, url string, body []byte, sig sigMode) (int, error) {
				form := mustForm(body)
				switch sig {
				case sigMissing:
					return fake.Post(ctx, nil, url, "application/x-www-form-urlencoded", body, nil)
				case sigWrong:
					// Right token, but signed for another URL.
					return (&fake.Twilio{AuthToken: twToken}).PostWebhook(ctx, twPublic+"-other", url, form)
				}
				return (&fake.Twilio{AuthToken: twToken}).PostWebhook(ctx, twPublic, url, form)
			},
			wantID: twMID,
			start: func(t *testing.T) (channels.Sender, fakeView) {
				f := &fake.Twilio{AccountSID: twSID, AuthToken: twToken}
				srv := serve(t, f)
				return &channels.TwilioSender{BaseURL: srv.URL, AccountSID: twSID, AuthToken: twToken, From: twOurNumber,
						StatusCallback: twPublic, Client: srv.Client()},
					fakeView{&f.Outage, func() []string {
						var out []string
						for _, s := range f.Sent() {
							out = append(out, s.To+"|"+s.Body)
						}
						return out
					}, f.Rejected}
			},
		},
	}
}

func waMID(n int) string { return fmt.Sprintf("wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFDNB%04d", n) }
func fbMID(n int) string { return fmt.Sprintf("m_AWd3kPZ0zG%04d", n) }
func twMID(n int) string { return fmt.Sprintf("SM%032d", n) }

func serve(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
