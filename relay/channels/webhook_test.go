package channels_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"parley/relay/channels"
	"parley/relay/channels/fake"
)

func mustForm(b []byte) url.Values {
	v, err := url.ParseQuery(string(b))
	if err != nil {
		panic(err)
	}
	return v
}

func TestSignedWebhookCreatesMessage(t *testing.T) {
	for _, p := range providers() {
		t.Run(p.name, func(t *testing.T) {
			sink := &memSink{}
			srv := serve(t, p.hook(sink))
			code, err := p.post(context.Background(), srv.URL, p.payload(1), sigGood)
			if err != nil || code != http.StatusOK {
				t.Fatalf("post: %d %v", code, err)
			}
			got := sink.stored()
			if len(got) != 1 {
				t.Fatalf("stored %d events, want 1", len(got))
			}
			e := got[0]
			if e.Kind != channels.KindMessage || e.Channel != p.channel || e.MessageID != p.wantID(1) ||
				e.Address != p.from || e.Text != text(1) {
				t.Errorf("event %+v", e)
			}
			if p.channel != channels.SMS && !e.Time.Equal(t0) {
				t.Errorf("time %v, want %v", e.Time, t0)
			}
			if e.Account == "" {
				t.Error("no account")
			}
		})
	}
}

func TestBadOrMissingSignatureIsRejected(t *testing.T) {
	for _, p := range providers() {
		for _, mode := range []sigMode{sigMissing, sigWrong} {
			t.Run(p.name, func(t *testing.T) {
				sink := &memSink{}
				srv := serve(t, p.hook(sink))
				code, err := p.post(context.Background(), srv.URL, p.payload(1), mode)
				if err != nil || code != http.StatusUnauthorized {
					t.Fatalf("mode %d: %d %v, want 401", mode, code, err)
				}
				if sink.calls != 0 || len(sink.stored()) != 0 {
					t.Fatalf("mode %d: sink called %d times", mode, sink.calls)
				}
			})
		}
	}
}

func TestTamperedBodyIsRejected(t *testing.T) {
	for _, p := range providers() {
		if p.channel == channels.Telegram {
			continue // the Bot API does not sign bodies; its secret header is all there is
		}
		t.Run(p.name, func(t *testing.T) {
			sink := &memSink{}
			// A proxy that rewrites the body after the provider signed it.
			h := p.hook(sink)
			srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				b = bytes.Replace(b, []byte("Vertrag"), []byte("Vertrxg"), 1)
				r.Body = io.NopCloser(bytes.NewReader(b))
				r.ContentLength = int64(len(b))
				h.ServeHTTP(w, r)
			}))
			code, err := p.post(context.Background(), srv.URL, p.payload(1), sigGood)
			if err != nil || code != http.StatusUnauthorized || len(sink.stored()) != 0 {
				t.Fatalf("%d %v, stored %d", code, err, len(sink.stored()))
			}
		})
	}
}

func TestReplayedWebhookStoresOneMessage(t *testing.T) {
	for _, p := range providers() {
		t.Run(p.name, func(t *testing.T) {
			sink := &memSink{}
			srv := serve(t, p.hook(sink))
			body := p.payload(7)
			for i := range 3 {
				if code, err := p.post(context.Background(), srv.URL, body, sigGood); err != nil || code != http.StatusOK {
					t.Fatalf("post %d: %d %v", i, code, err)
				}
			}
			if got := sink.stored(); len(got) != 1 || got[0].MessageID != p.wantID(7) {
				t.Fatalf("stored %+v", got)
			}
			if sink.calls != 3 {
				t.Fatalf("sink called %d times, want 3 (dedupe is the sink's)", sink.calls)
			}
		})
	}
}

func TestStoreFailureIsNotAcknowledged(t *testing.T) {
	for _, p := range providers() {
		t.Run(p.name, func(t *testing.T) {
			sink := &memSink{fail: 1}
			srv := serve(t, p.hook(sink))
			body := p.payload(3)
			code, err := p.post(context.Background(), srv.URL, body, sigGood)
			if err != nil || code != http.StatusServiceUnavailable {
				t.Fatalf("first post: %d %v, want 503", code, err)
			}
			// The provider retries the same delivery.
			code, err = p.post(context.Background(), srv.URL, body, sigGood)
			if err != nil || code != http.StatusOK {
				t.Fatalf("retry: %d %v", code, err)
			}
			if got := sink.stored(); len(got) != 1 || got[0].MessageID != p.wantID(3) {
				t.Fatalf("stored %+v", got)
			}
		})
	}
}

func TestMalformedPayloadIs400AndStoresNothing(t *testing.T) {
	bodies := map[string][][]byte{
		"whatsapp": {
			[]byte(`{`), []byte(`{"object":"page","entry":[]}`), []byte(`[]`),
			[]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"49151","id":"","timestamp":"1","type":"text","text":{"body":"x"}}]}}]}]}`),
			[]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"49151","id":"wamid.1","timestamp":"soon","type":"text","text":{"body":"x"}}]}}]}]}`),
			[]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"49 151","id":"wamid.1","timestamp":"1","type":"text","text":{"body":"x"}}]}}]}]}`),
		},
		"telegram": {
			[]byte(`{`), []byte(`{"message":{"message_id":1,"chat":{"id":5},"date":1,"text":"x"}}`),
			[]byte(`{"update_id":1,"message":{"message_id":1,"date":1,"text":"x"}}`),
			[]byte(`{"update_id":1,"message":{"message_id":1,"chat":{"id":5},"date":1,"document":{"file_name":"a.pdf"}}}`),
		},
		"messenger": {
			[]byte(`{`), []byte(`{"object":"whatsapp_business_account"}`),
			[]byte(`{"object":"page","entry":[{"messaging":[{"recipient":{"id":"1"},"timestamp":1,"message":{"mid":"m_1","text":"x"}}]}]}`),
			[]byte(`{"object":"page","entry":[{"messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1,"read":{}}]}]}`),
		},
		"sms": {
			[]byte(`Body=x&From=%2B49151`), []byte(`MessageSid=SM1&From=%2B49151&To=%2B4930&Body=x&NumMedia=99`),
			[]byte(`MessageSid=SM1&From=%2B49151&To=%2B4930&Body=%ff`), []byte(`MessageSid=SM1&From=%2B49151&To=%2B4930&Body=`),
		},
	}
	for _, p := range providers() {
		t.Run(p.name, func(t *testing.T) {
			sink := &memSink{}
			srv := serve(t, p.hook(sink))
			for i, b := range bodies[p.name] {
				code, err := p.post(context.Background(), srv.URL, b, sigGood)
				if err != nil || code != http.StatusBadRequest {
					t.Errorf("body %d: %d %v, want 400", i, code, err)
				}
			}
			if sink.calls != 0 {
				t.Fatalf("sink called %d times", sink.calls)
			}
		})
	}
}

func TestOversizedBodyIs413(t *testing.T) {
	sink := &memSink{}
	srv := serve(t, &channels.WhatsAppWebhook{AppSecret: appSecret, Sink: sink, MaxBody: 1024})
	body := fake.WhatsAppText(waPhoneID, "4915112345678", "E", "wamid.1", strings.Repeat("x", 2000), t0)
	code, err := (&fake.WhatsApp{AppSecret: appSecret}).PostWebhook(context.Background(), srv.URL, body)
	if err != nil || code != http.StatusRequestEntityTooLarge || sink.calls != 0 {
		t.Fatalf("%d %v, sink calls %d", code, err, sink.calls)
	}
}

func TestUnconfiguredHookRefusesEverything(t *testing.T) {
	sink := &memSink{}
	for name, h := range map[string]http.Handler{
		"whatsapp":  &channels.WhatsAppWebhook{Sink: sink},
		"messenger": &channels.MessengerWebhook{Sink: sink},
		"telegram":  &channels.TelegramWebhook{Sink: sink},
		"sms":       &channels.TwilioWebhook{Sink: sink, PublicURL: twPublic},
	} {
		srv := serve(t, h)
		// Signed with the empty key: must not pass.
		var code int
		var err error
		switch name {
		case "telegram":
			code, err = fake.Post(context.Background(), nil, srv.URL, "application/json", fake.TelegramText(1, 2, 3, "E", "x", t0),
				http.Header{"X-Telegram-Bot-Api-Secret-Token": {""}})
		case "sms":
			code, err = (&fake.Twilio{}).PostWebhook(context.Background(), twPublic, srv.URL, fake.TwilioInbound(twSID, twMID(1), "+49151", "+4930", "x", nil, nil))
		default:
			code, err = (&fake.WhatsApp{}).PostWebhook(context.Background(), srv.URL, fake.WhatsAppText(waPhoneID, "49151", "E", "wamid.1", "x", t0))
		}
		if err != nil || code != http.StatusUnauthorized {
			t.Errorf("%s: %d %v", name, code, err)
		}
	}
	if sink.calls != 0 {
		t.Fatal("stored")
	}
}

func TestHubVerificationHandshake(t *testing.T) {
	for name, h := range map[string]http.Handler{
		"whatsapp":  &channels.WhatsAppWebhook{AppSecret: appSecret, VerifyToken: verifyToken, Sink: &memSink{}},
		"messenger": &channels.MessengerWebhook{AppSecret: appSecret, VerifyToken: verifyToken, Sink: &memSink{}},
	} {
		srv := serve(t, h)
		get := func(q string) (int, string) {
			resp, err := http.Get(srv.URL + "?" + q)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, body := get("hub.mode=subscribe&hub.verify_token=" + verifyToken + "&hub.challenge=1158201444"); code != 200 || body != "1158201444" {
			t.Errorf("%s: good handshake %d %q", name, code, body)
		}
		for _, q := range []string{
			"hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
			"hub.mode=unsubscribe&hub.verify_token=" + verifyToken + "&hub.challenge=1",
			"hub.challenge=1",
		} {
			if code, body := get(q); code != http.StatusForbidden || strings.Contains(body, "1\n") && code == 200 {
				t.Errorf("%s: %s → %d", name, q, code)
			}
		}
		if code, _ := get("hub.mode=subscribe&hub.verify_token=" + verifyToken + "&hub.challenge=%3Cscript%3E"); code != http.StatusBadRequest {
			t.Errorf("%s: markup challenge → %d", name, code)
		}
	}
}
