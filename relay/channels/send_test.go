package channels_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/channels"
	"parley/relay/channels/fake"
	"parley/relay/clock"
	"parley/relay/outbox"
	"parley/relay/store"
)

func TestOutboundReachesFakeInWireFormat(t *testing.T) {
	for _, p := range providers() {
		t.Run(p.name, func(t *testing.T) {
			s, fv := p.start(t)
			msg := "Ihr Termin am Montag, 10:30 Uhr – bitte bringen Sie Ihren Ausweis mit. 🙂"
			res, err := s.Send(context.Background(), channels.Outgoing{To: p.to, Text: msg, Reference: "msg-1"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Channel != p.channel || res.MessageID == "" || res.Reference != "msg-1" {
				t.Errorf("result %+v", res)
			}
			if got := fv.texts(); len(got) != 1 || got[0] != p.to+"|"+msg {
				t.Errorf("fake received %q", got)
			}
			if r := fv.rejected(); len(r) != 0 {
				t.Errorf("fake rejected: %q", r)
			}
		})
	}
}

func TestInvalidOutgoingIsPermanentAndNotSent(t *testing.T) {
	for _, p := range providers() {
		t.Run(p.name, func(t *testing.T) {
			s, fv := p.start(t)
			for _, m := range []channels.Outgoing{
				{To: p.to, Text: ""},
				{To: p.to, Text: "   "},
				{To: "", Text: "x"},
				{To: "not an address", Text: "x"},
				{To: p.to, Text: strings.Repeat("a", 5000)},
			} {
				_, err := s.Send(context.Background(), m)
				if !errors.Is(err, channels.ErrInvalid) || !errors.Is(err, outbox.ErrPermanent) || channels.IsTransient(err) {
					t.Errorf("%q/%d chars: %v", m.To, len(m.Text), err)
				}
			}
			if got := fv.texts(); len(got) != 0 {
				t.Fatalf("sent %q", got)
			}
		})
	}
}

// TestOutageIsRetriedWithoutLoss sends through the durable outbox while
// the fake provider is down (503, then dropped connections): the job is
// retried with back-off until the provider takes the message, exactly once.
func TestOutageIsRetriedWithoutLoss(t *testing.T) {
	for _, p := range providers() {
		for _, mode := range []fake.FailMode{fake.Unavailable, fake.Disconnect} {
			t.Run(p.name, func(t *testing.T) {
				ctx := context.Background()
				s, fv := p.start(t)
				fv.outage.Fail(3, mode)
				clk := clock.NewFake(t0)
				ob, err := outbox.New(outbox.Options{Store: &store.Memory{Clock: clk}, Clock: clk, MinBackoff: time.Second, MaxBackoff: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				var mu sync.Mutex
				var sent []channels.SendResult
				d := &channels.Dispatcher{
					Lookup: func(_ context.Context, id string) (channels.Sender, error) {
						if id != "ch-1" {
							return nil, channels.ErrPermanent
						}
						return s, nil
					},
					OnSent: func(_ context.Context, id string, r channels.SendResult) error {
						mu.Lock()
						sent = append(sent, r)
						mu.Unlock()
						return nil
					},
				}
				ob.Handle(channels.JobKind, d.Handler())
				job, err := channels.SendJob("ch-1", p.channel, channels.Outgoing{To: p.to, Text: "Rückruf heute 15 Uhr", Reference: "m-9"})
				if err != nil {
					t.Fatal(err)
				}
				if err := ob.Enqueue(ctx, channels.JobKind, job, clk.Now()); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 10; i++ {
					if _, err := ob.RunDue(ctx); err != nil {
						t.Fatal(err)
					}
					clk.Advance(2 * time.Minute)
				}
				if n, _ := ob.Pending(ctx); n != 0 {
					t.Fatalf("%d jobs pending", n)
				}
				if dead, _ := ob.Dead(ctx); len(dead) != 0 {
					t.Fatalf("dead: %+v", dead)
				}
				if fv.outage.Failed() != 3 {
					t.Fatalf("outage failed %d requests, want 3", fv.outage.Failed())
				}
				if got := fv.texts(); len(got) != 1 {
					t.Fatalf("provider got %d messages, want 1", len(got))
				}
				if len(sent) != 1 || sent[0].Reference != "m-9" || sent[0].MessageID == "" {
					t.Fatalf("OnSent %+v", sent)
				}
			})
		}
	}
}

func TestPermanentRefusalKillsTheJob(t *testing.T) {
	ctx := context.Background()
	f := &fake.Telegram{Token: tgToken}
	f.Block("42")
	srv := serve(t, f)
	s := &channels.TelegramSender{BaseURL: srv.URL, Token: tgToken, Client: srv.Client()}
	clk := clock.NewFake(t0)
	ob, _ := outbox.New(outbox.Options{Store: &store.Memory{Clock: clk}, Clock: clk})
	ob.Handle(channels.JobKind, (&channels.Dispatcher{Lookup: func(context.Context, string) (channels.Sender, error) { return s, nil }}).Handler())
	job, _ := channels.SendJob("ch-tg", channels.Telegram, channels.Outgoing{To: "42", Text: "Hallo"})
	ob.Enqueue(ctx, channels.JobKind, job, clk.Now())
	ob.RunDue(ctx)
	dead, _ := ob.Dead(ctx)
	if len(dead) != 1 || !strings.Contains(dead[0].LastError, "HTTP 403") {
		t.Fatalf("dead %+v", dead)
	}
}

func TestProviderErrorsAreClassified(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		status    int
		body      string
		send      func(url string) error
		permanent bool
		code      int
	}{
		{"whatsapp bad token", 401, `{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190,"fbtrace_id":"x"}}`, nil, true, 190},
		{"whatsapp rate limit", 400, `{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429}}`, nil, false, 130429},
		{"whatsapp re-engagement", 400, `{"error":{"message":"Re-engagement message","code":131047}}`, nil, true, 131047},
		{"whatsapp 500", 500, `{"error":{"message":"oops","code":2,"is_transient":true}}`, nil, false, 2},
	}
	for _, c := range cases {
		srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(c.status)
			w.Write([]byte(c.body))
		}))
		s := &channels.WhatsAppSender{BaseURL: srv.URL, PhoneNumberID: waPhoneID, Token: waToken}
		_, err := s.Send(ctx, channels.Outgoing{To: "4915112345678", Text: "Hallo Erika"})
		var pe *channels.ProviderError
		if !errors.As(err, &pe) || pe.Code != c.code || pe.Permanent != c.permanent ||
			errors.Is(err, channels.ErrPermanent) != c.permanent || errors.Is(err, channels.ErrTransient) == c.permanent {
			t.Errorf("%s: %v", c.name, err)
		}
		if strings.Contains(err.Error(), "4915112345678") || strings.Contains(err.Error(), "Erika") || strings.Contains(err.Error(), "Invalid OAuth") {
			t.Errorf("%s: personal data or provider text in %q", c.name, err)
		}
	}

	tw := &fake.Twilio{AccountSID: twSID, AuthToken: twToken}
	tsrv := serve(t, tw)
	_, err := (&channels.TwilioSender{BaseURL: tsrv.URL, AccountSID: twSID, AuthToken: "wrong", From: twOurNumber}).
		Send(ctx, channels.Outgoing{To: "+4915112345678", Text: "x"})
	var pe *channels.ProviderError
	if !errors.As(err, &pe) || pe.Code != 20003 || !pe.Permanent {
		t.Errorf("twilio bad token: %v", err)
	}
	tw.Fail(1, fake.Unavailable)
	_, err = (&channels.TwilioSender{BaseURL: tsrv.URL, AccountSID: twSID, AuthToken: twToken, From: twOurNumber}).
		Send(ctx, channels.Outgoing{To: "+4915112345678", Text: "x"})
	if !channels.IsTransient(err) || !errors.As(err, &pe) || pe.HTTPStatus != 503 || pe.RetryAfter != time.Second {
		t.Errorf("twilio 503: %v", err)
	}

	fb := &fake.Messenger{PageID: fbPageID, PageToken: fbToken}
	fsrv := serve(t, fb)
	_, err = (&channels.MessengerSender{BaseURL: fsrv.URL, PageToken: "stale"}).Send(ctx, channels.Outgoing{To: "6789012345678901", Text: "x"})
	if !errors.As(err, &pe) || pe.Code != 190 || !pe.Permanent {
		t.Errorf("messenger bad token: %v", err)
	}
}

func TestTelegramTokenNeverInErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // connection refused from now on
	s := &channels.TelegramSender{BaseURL: base, Token: tgToken}
	_, err := s.Send(context.Background(), channels.Outgoing{To: "42", Text: "x"})
	if !channels.IsTransient(err) || strings.Contains(err.Error(), tgToken) || strings.Contains(err.Error(), "AAE-test") {
		t.Fatalf("%v", err)
	}
	_, err = s.Download(context.Background(), "file-1", &bytes.Buffer{})
	if err == nil || strings.Contains(err.Error(), "AAE-test") {
		t.Fatalf("%v", err)
	}
}

func TestWhatsAppTemplateWireFormat(t *testing.T) {
	f := &fake.WhatsApp{PhoneNumberID: waPhoneID, Token: waToken}
	srv := serve(t, f)
	s := &channels.WhatsAppSender{BaseURL: srv.URL, PhoneNumberID: waPhoneID, Token: waToken}
	_, err := s.Send(context.Background(), channels.Outgoing{To: "+4915112345678",
		Template: &channels.Template{Name: "termin_erinnerung", Language: "de", Params: []string{"Montag", "10:30"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := f.Sent()
	if len(got) != 1 || got[0].Type != "template" || got[0].Template != "termin_erinnerung" || got[0].Language != "de" ||
		strings.Join(got[0].Params, ",") != "Montag,10:30" || len(f.Rejected()) != 0 {
		t.Fatalf("sent %+v, rejected %q", got, f.Rejected())
	}
	_, err = s.Send(context.Background(), channels.Outgoing{To: "4915112345678", Template: &channels.Template{Name: "Bad Name", Language: "de"}})
	if !errors.Is(err, channels.ErrInvalid) {
		t.Fatalf("bad template name: %v", err)
	}
}

func TestSendJobRefusesHostileInput(t *testing.T) {
	for _, c := range []struct {
		id string
		ch channels.Channel
		m  channels.Outgoing
	}{
		{"", channels.SMS, channels.Outgoing{To: "+49151", Text: "x"}},
		{"ch 1", channels.SMS, channels.Outgoing{To: "+49151", Text: "x"}},
		{"ch-1", "pigeon", channels.Outgoing{To: "+49151", Text: "x"}},
		{"ch-1", channels.SMS, channels.Outgoing{Text: "x"}},
		{"ch-1", channels.SMS, channels.Outgoing{To: "+49151"}},
	} {
		if _, err := channels.SendJob(c.id, c.ch, c.m); !errors.Is(err, channels.ErrInvalid) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestDispatcherRefusesChannelMismatch(t *testing.T) {
	s, _ := providers()[0].start(t)
	h := (&channels.Dispatcher{Lookup: func(context.Context, string) (channels.Sender, error) { return s, nil }}).Handler()
	job, _ := channels.SendJob("ch-1", channels.SMS, channels.Outgoing{To: "+4915112345678", Text: "x"})
	if err := h(context.Background(), outbox.Job{ID: "j1", Kind: channels.JobKind, Payload: job}); !errors.Is(err, outbox.ErrPermanent) {
		t.Fatalf("%v", err)
	}
	if err := h(context.Background(), outbox.Job{ID: "j2", Kind: channels.JobKind, Payload: []byte("{")}); !errors.Is(err, outbox.ErrPermanent) {
		t.Fatalf("%v", err)
	}
}
