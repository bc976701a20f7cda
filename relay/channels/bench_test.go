package channels_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"parley/relay/channels"
	"parley/relay/channels/fake"
)

// BenchmarkWebhookVerify measures webhooks per second through signature
// verification, decoding and the (no-op) sink for each provider, without
// the network.
func BenchmarkWebhookVerify(b *testing.B) {
	nop := channels.SinkFunc(func(context.Context, []channels.Event) error { return nil })
	type bench struct {
		name string
		h    http.Handler
		body []byte
		ct   string
		hdr  http.Header
	}
	wa := fake.WhatsAppText(waPhoneID, "4915112345678", "Erika Muster", waMID(1), text(1), t0)
	fb := fake.MessengerText(fbPageID, "6789012345678901", fbMID(1), text(1), t0)
	tg := fake.TelegramText(1, 987654321, 1, "Erika", text(1), t0)
	tw := fake.TwilioInbound(twSID, twMID(1), "+4915112345678", twOurNumber, text(1), nil, nil)
	for _, c := range []bench{
		{"whatsapp", &channels.WhatsAppWebhook{AppSecret: appSecret, Sink: nop}, wa, "application/json",
			http.Header{"X-Hub-Signature-256": {fake.MetaSign(appSecret, wa)}}},
		{"messenger", &channels.MessengerWebhook{AppSecret: appSecret, Sink: nop}, fb, "application/json",
			http.Header{"X-Hub-Signature-256": {fake.MetaSign(appSecret, fb)}}},
		{"telegram", &channels.TelegramWebhook{SecretToken: tgSecret, Sink: nop}, tg, "application/json",
			http.Header{channels.TelegramSecretHeader: {tgSecret}}},
		{"sms", &channels.TwilioWebhook{AuthToken: twToken, PublicURL: twPublic, Sink: nop}, []byte(tw.Encode()),
			"application/x-www-form-urlencoded", http.Header{channels.TwilioSignatureHeader: {fake.TwilioSign(twToken, twPublic, tw)}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/hooks/x/ch-1", bytes.NewReader(c.body))
				for k, v := range c.hdr {
					req.Header[k] = v
				}
				req.Header.Set("Content-Type", c.ct)
				rec := httptest.NewRecorder()
				c.h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
		})
	}
}
