package channels_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"unicode/utf8"

	"parley/relay/channels"
	"parley/relay/channels/fake"
)

// fuzzHook posts body, validly signed by sign, to h and checks the
// handler's contract: 200 or 400 (413 when over the cap), nothing stored
// unless 200, and every stored event well-formed.
func fuzzHook(t *testing.T, h func(channels.Sink) http.Handler, body []byte, contentType string, sign func(*http.Request, []byte) bool) {
	sink := &memSink{}
	req := httptest.NewRequest(http.MethodPost, "/hooks/x/ch-1", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	signed := sign(req, body)
	rec := httptest.NewRecorder()
	h(sink).ServeHTTP(rec, req)
	if !signed {
		// The provider could not have signed it (Twilio signs parsed forms).
		if rec.Code != http.StatusUnauthorized || sink.calls != 0 {
			t.Fatalf("unsignable body: status %d, %d stores", rec.Code, sink.calls)
		}
		return
	}
	switch rec.Code {
	case http.StatusOK:
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		if sink.calls != 0 {
			t.Fatalf("%d but stored", rec.Code)
		}
		return
	default:
		t.Fatalf("status %d", rec.Code)
	}
	for _, e := range sink.stored() {
		if !e.Channel.Valid() || e.Address == "" || !utf8.ValidString(e.Text) || len(e.Text) > channels.MaxTextLen {
			t.Fatalf("bad event %+v", e)
		}
		if e.Kind == channels.KindMessage && (e.MessageID == "" || e.Text == "" && len(e.Attachments) == 0) {
			t.Fatalf("bad message %+v", e)
		}
		if e.Kind == channels.KindStatus && e.Status == "" {
			t.Fatalf("bad status %+v", e)
		}
	}
}

func metaSigner(r *http.Request, body []byte) bool {
	r.Header.Set("X-Hub-Signature-256", fake.MetaSign(appSecret, body))
	return true
}

func FuzzWhatsAppWebhook(f *testing.F) {
	f.Add(fake.WhatsAppText(waPhoneID, "4915112345678", "Erika", "wamid.1", "Hallo", t0))
	f.Add(fake.WhatsAppMedia(waPhoneID, "4915112345678", "wamid.2", "image", "m1", "image/jpeg", "", "Foto", t0))
	f.Add(fake.WhatsAppStatus(waPhoneID, "wamid.3", "4915112345678", "failed", 131026, t0))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1","id":"x","timestamp":"1","type":"location","location":{}}]}}]}]}`))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"reaction"}]}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzHook(t, func(s channels.Sink) http.Handler { return &channels.WhatsAppWebhook{AppSecret: appSecret, Sink: s} },
			body, "application/json", metaSigner)
	})
}

func FuzzMessengerWebhook(f *testing.F) {
	f.Add(fake.MessengerText(fbPageID, "6789012345678901", "m_1", "Hallo", t0))
	f.Add(fake.MessengerImage(fbPageID, "6789012345678901", "m_2", "https://scontent.xx.fbcdn.net/x.jpg", t0))
	f.Add(fake.MessengerDelivery(fbPageID, "6789012345678901", []string{"m_a"}, t0))
	f.Add(fake.MessengerDelivery(fbPageID, "6789012345678901", nil, t0))
	f.Add(fake.MessengerRead(fbPageID, "6789012345678901", t0))
	f.Add([]byte(`{"object":"page","entry":[{"messaging":[{"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":1,"postback":{"mid":"m_p","title":"Ja"}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzHook(t, func(s channels.Sink) http.Handler { return &channels.MessengerWebhook{AppSecret: appSecret, Sink: s} },
			body, "application/json", metaSigner)
	})
}

func FuzzTelegramWebhook(f *testing.F) {
	f.Add(fake.TelegramText(1, 987654321, 5, "Erika", "Hallo", t0))
	f.Add(fake.TelegramPhoto(2, 987654321, 6, "AgAC", t0))
	f.Add(fake.TelegramDocument(3, -100123, 7, "BQAC", "a.pdf", "application/pdf", 10, "Anbei", t0))
	f.Add([]byte(`{"update_id":4,"message":{"message_id":8,"chat":{"id":5},"date":1,"location":{"latitude":1,"longitude":2}}}`))
	f.Add([]byte(`{"update_id":5,"edited_message":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzHook(t, func(s channels.Sink) http.Handler { return &channels.TelegramWebhook{SecretToken: tgSecret, Sink: s} },
			body, "application/json", func(r *http.Request, _ []byte) bool {
				r.Header.Set(channels.TelegramSecretHeader, tgSecret)
				return true
			})
	})
}

func FuzzTwilioWebhook(f *testing.F) {
	f.Add([]byte(fake.TwilioInbound(twSID, twMID(1), "+4915112345678", twOurNumber, "Hallo", nil, nil).Encode()))
	f.Add([]byte(fake.TwilioInbound(twSID, "MM1", "+4915112345678", twOurNumber, "", []string{"https://api.twilio.com/x"}, []string{"image/png"}).Encode()))
	f.Add([]byte(fake.TwilioStatus(twSID, twMID(2), twOurNumber, "+4915112345678", "delivered", "").Encode()))
	f.Add([]byte(fake.TwilioStatus(twSID, twMID(3), twOurNumber, "+4915112345678", "failed", "30008").Encode()))
	f.Add([]byte("MessageSid=SM1&NumMedia=2&MediaUrl0=x"))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzHook(t, func(s channels.Sink) http.Handler {
			return &channels.TwilioWebhook{AuthToken: twToken, PublicURL: twPublic, Sink: s}
		}, body, "application/x-www-form-urlencoded", func(r *http.Request, b []byte) bool {
			form, err := url.ParseQuery(string(b))
			if err != nil {
				return false
			}
			r.Header.Set(channels.TwilioSignatureHeader, fake.TwilioSign(twToken, twPublic, form))
			return true
		})
	})
}

// FuzzTwilioSignature checks the relay's signature against the fake's
// independent implementation for arbitrary forms and URLs.
func FuzzTwilioSignature(f *testing.F) {
	f.Add(twPublic, "Body=Hallo&From=%2B49151&To=%2B4930&Body=zwei")
	f.Add("https://x.example/?a=1", "")
	f.Fuzz(func(t *testing.T, u, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		if a, b := channels.TwilioSignature(twToken, u, form), fake.TwilioSign(twToken, u, form); a != b {
			t.Fatalf("%s != %s", a, b)
		}
	})
}
