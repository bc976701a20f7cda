package channels_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"parley/relay/channels"
	"parley/relay/channels/fake"
)

func TestWhatsAppStatusesUpdateReceipts(t *testing.T) {
	ctx := context.Background()
	f := &fake.WhatsApp{PhoneNumberID: waPhoneID, Token: waToken, AppSecret: appSecret}
	api := serve(t, f)
	res, err := (&channels.WhatsAppSender{BaseURL: api.URL, PhoneNumberID: waPhoneID, Token: waToken}).
		Send(ctx, channels.Outgoing{To: "4915112345678", Text: "Hallo"})
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	hook := serve(t, &channels.WhatsAppWebhook{AppSecret: appSecret, Sink: sink})
	for _, st := range []string{"sent", "delivered", "read", "delivered"} {
		if code, err := f.PostWebhook(ctx, hook.URL, fake.WhatsAppStatus(waPhoneID, res.MessageID, "4915112345678", st, 0, t0)); err != nil || code != 200 {
			t.Fatalf("%s: %d %v", st, code, err)
		}
	}
	f.PostWebhook(ctx, hook.URL, fake.WhatsAppStatus(waPhoneID, "wamid.other", "4915112345678", "failed", 131026, t0))
	got := sink.stored()
	want := []channels.Status{channels.StatusSent, channels.StatusDelivered, channels.StatusRead, channels.StatusFailed}
	if len(got) != len(want) {
		t.Fatalf("stored %+v", got)
	}
	for i, e := range got {
		if e.Kind != channels.KindStatus || e.Status != want[i] {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	if got[0].MessageID != res.MessageID || got[0].Address != "4915112345678" || got[0].Account != waPhoneID {
		t.Errorf("correlation: %+v", got[0])
	}
	if got[3].ErrorCode != "131026" {
		t.Errorf("failed status code %q", got[3].ErrorCode)
	}
}

func TestMessengerDeliveryAndReadWatermarks(t *testing.T) {
	ctx := context.Background()
	sink := &memSink{}
	hook := serve(t, &channels.MessengerWebhook{AppSecret: appSecret, Sink: sink})
	f := &fake.Messenger{AppSecret: appSecret}
	psid := "6789012345678901"
	for _, b := range [][]byte{
		fake.MessengerDelivery(fbPageID, psid, []string{"m_a", "m_b"}, t0.Add(time.Minute)),
		fake.MessengerDelivery(fbPageID, psid, nil, t0.Add(2*time.Minute)),
		fake.MessengerRead(fbPageID, psid, t0.Add(3*time.Minute)),
	} {
		if code, err := f.PostWebhook(ctx, hook.URL, b); err != nil || code != 200 {
			t.Fatalf("%d %v", code, err)
		}
	}
	got := sink.stored()
	if len(got) != 4 {
		t.Fatalf("stored %+v", got)
	}
	if got[0].MessageID != "m_a" || got[1].MessageID != "m_b" || got[0].Status != channels.StatusDelivered {
		t.Errorf("mids: %+v", got[:2])
	}
	if got[2].MessageID != "" || got[2].Status != channels.StatusDelivered || !got[2].Watermark.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("delivery watermark: %+v", got[2])
	}
	if got[3].Status != channels.StatusRead || !got[3].Watermark.Equal(t0.Add(3*time.Minute)) || got[3].Address != psid || got[3].Account != fbPageID {
		t.Errorf("read watermark: %+v", got[3])
	}
}

func TestMessengerEchoesAreSkipped(t *testing.T) {
	sink := &memSink{}
	hook := serve(t, &channels.MessengerWebhook{AppSecret: appSecret, Sink: sink})
	echo := []byte(`{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"1"},"recipient":{"id":"2"},"timestamp":1,"message":{"mid":"m_1","text":"our own","is_echo":true}}]}]}`)
	if code, _ := (&fake.Messenger{AppSecret: appSecret}).PostWebhook(context.Background(), hook.URL, echo); code != 200 || len(sink.stored()) != 0 {
		t.Fatalf("%d, stored %d", code, len(sink.stored()))
	}
}

func TestTwilioStatusCallbacksUpdateReceipts(t *testing.T) {
	ctx := context.Background()
	f := &fake.Twilio{AccountSID: twSID, AuthToken: twToken}
	api := serve(t, f)
	res, err := (&channels.TwilioSender{BaseURL: api.URL, AccountSID: twSID, AuthToken: twToken, From: twOurNumber, StatusCallback: twPublic}).
		Send(ctx, channels.Outgoing{To: "+4915112345678", Text: "Hallo"})
	if err != nil {
		t.Fatal(err)
	}
	sent := f.Sent()
	if len(sent) != 1 || sent[0].StatusCallback != twPublic || sent[0].SID != res.MessageID {
		t.Fatalf("sent %+v", sent)
	}
	sink := &memSink{}
	hook := serve(t, &channels.TwilioWebhook{AuthToken: twToken, PublicURL: twPublic, Sink: sink})
	for _, st := range []string{"queued", "sent", "delivered"} {
		if code, err := f.PostWebhook(ctx, sent[0].StatusCallback, hook.URL, fake.TwilioStatus(twSID, res.MessageID, twOurNumber, "+4915112345678", st, "")); err != nil || code != 200 {
			t.Fatalf("%s: %d %v", st, code, err)
		}
	}
	f.PostWebhook(ctx, twPublic, hook.URL, fake.TwilioStatus(twSID, twMID(5), twOurNumber, "+4915112345678", "undelivered", "30003"))
	got := sink.stored()
	if len(got) != 3 || got[0].Status != channels.StatusSent || got[1].Status != channels.StatusDelivered ||
		got[0].MessageID != res.MessageID || got[0].Address != "+4915112345678" || got[0].Account != twOurNumber {
		t.Fatalf("stored %+v", got)
	}
	if got[2].Status != channels.StatusFailed || got[2].ErrorCode != "30003" {
		t.Fatalf("failed: %+v", got[2])
	}
}

func TestTwilioAnswersEmptyTwiML(t *testing.T) {
	sink := &memSink{}
	h := &channels.TwilioWebhook{AuthToken: twToken, PublicURL: twPublic, Sink: sink}
	form := fake.TwilioInbound(twSID, twMID(1), "+4915112345678", twOurNumber, "Hallo", nil, nil)
	req, _ := http.NewRequest(http.MethodPost, "/hooks/sms/ch-sms-1", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", fake.TwilioSign(twToken, twPublic, form))
	rec := newRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/xml") || !strings.Contains(rec.Body.String(), "<Response></Response>") {
		t.Fatalf("%d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
}

func TestTelegramHasNoStatusesAndSkipsNonMessages(t *testing.T) {
	sink := &memSink{}
	hook := serve(t, &channels.TelegramWebhook{SecretToken: tgSecret, Sink: sink})
	f := &fake.Telegram{SecretToken: tgSecret}
	for _, b := range []string{
		`{"update_id":1,"edited_message":{"message_id":1,"chat":{"id":5,"type":"private"},"date":1,"text":"edit"}}`,
		`{"update_id":2,"my_chat_member":{"chat":{"id":5}}}`,
		`{"update_id":3,"message":{"message_id":2,"chat":{"id":5,"type":"group"},"date":1,"new_chat_members":[{"id":7}]}}`,
	} {
		if code, err := f.PostWebhook(context.Background(), hook.URL, []byte(b)); err != nil || code != 200 {
			t.Fatalf("%d %v", code, err)
		}
	}
	if len(sink.stored()) != 0 {
		t.Fatalf("stored %+v", sink.stored())
	}
}

func TestAttachmentsAreReferenced(t *testing.T) {
	ctx := context.Background()
	sink := &memSink{}
	wa := serve(t, &channels.WhatsAppWebhook{AppSecret: appSecret, Sink: sink})
	tg := serve(t, &channels.TelegramWebhook{SecretToken: tgSecret, Sink: sink})
	fb := serve(t, &channels.MessengerWebhook{AppSecret: appSecret, Sink: sink})
	tw := serve(t, &channels.TwilioWebhook{AuthToken: twToken, PublicURL: twPublic, Sink: sink})
	(&fake.WhatsApp{AppSecret: appSecret}).PostWebhook(ctx, wa.URL,
		fake.WhatsAppMedia(waPhoneID, "4915112345678", "wamid.doc", "document", "media-77", "application/pdf", "Gehaltsnachweis.pdf", "Anbei", t0))
	(&fake.Telegram{SecretToken: tgSecret}).PostWebhook(ctx, tg.URL, fake.TelegramPhoto(9, 555, 12, "AgACphoto", t0))
	(&fake.Telegram{SecretToken: tgSecret}).PostWebhook(ctx, tg.URL, fake.TelegramDocument(10, 555, 13, "BQACdoc", "Antrag.pdf", "application/pdf", 3000, "", t0))
	(&fake.Messenger{AppSecret: appSecret}).PostWebhook(ctx, fb.URL, fake.MessengerImage(fbPageID, "6789012345678901", "m_img", "https://scontent.xx.fbcdn.net/v/x.jpg", t0))
	(&fake.Twilio{AuthToken: twToken}).PostWebhook(ctx, twPublic, tw.URL, fake.TwilioInbound(twSID, "MM00000000000000000000000000000001", "+4915112345678", twOurNumber, "",
		[]string{"https://api.twilio.com/2010-04-01/Accounts/" + twSID + "/Messages/MM1/Media/ME1"}, []string{"image/jpeg"}))
	got := sink.stored()
	if len(got) != 5 {
		t.Fatalf("stored %d: %+v", len(got), got)
	}
	want := []channels.Attachment{
		{MediaID: "media-77", Type: "document", MIMEType: "application/pdf", FileName: "Gehaltsnachweis.pdf", Caption: "Anbei"},
		{MediaID: "AgACphoto", Type: "photo"},
		{MediaID: "BQACdoc", Type: "document", MIMEType: "application/pdf", FileName: "Antrag.pdf", Size: 3000},
		{URL: "https://scontent.xx.fbcdn.net/v/x.jpg", Type: "image"},
		{URL: "https://api.twilio.com/2010-04-01/Accounts/" + twSID + "/Messages/MM1/Media/ME1", Type: "media", MIMEType: "image/jpeg"},
	}
	for i, e := range got {
		if len(e.Attachments) != 1 {
			t.Fatalf("event %d: %+v", i, e)
		}
		a := e.Attachments[0]
		a.SHA256 = ""
		if i == 1 {
			a.Size = 0
		}
		if a != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, a, want[i])
		}
	}
	if got[0].Text != "Anbei" {
		t.Errorf("caption as text: %q", got[0].Text)
	}
}

func TestMediaDownloads(t *testing.T) {
	ctx := context.Background()
	pdf := bytes.Repeat([]byte("%PDF-1.7 "), 1000)

	wf := &fake.WhatsApp{PhoneNumberID: waPhoneID, Token: waToken}
	wf.AddMedia("media-77", fake.Media{Data: pdf, MIMEType: "application/pdf"})
	wsrv := serve(t, wf)
	ws := &channels.WhatsAppSender{BaseURL: wsrv.URL, PhoneNumberID: waPhoneID, Token: waToken}
	var buf bytes.Buffer
	info, err := ws.Download(ctx, "media-77", &buf)
	if err != nil || !bytes.Equal(buf.Bytes(), pdf) || info.MIMEType != "application/pdf" || info.Size != int64(len(pdf)) {
		t.Fatalf("whatsapp: %+v %v", info, err)
	}
	ws.MaxMedia = 100
	if _, err := ws.Download(ctx, "media-77", &bytes.Buffer{}); !errors.Is(err, channels.ErrTooLarge) {
		t.Fatalf("whatsapp cap: %v", err)
	}

	tf := &fake.Telegram{Token: tgToken}
	tf.AddFile("BQACdoc", "documents/file_3.pdf", fake.Media{Data: pdf})
	tsrv := serve(t, tf)
	ts := &channels.TelegramSender{BaseURL: tsrv.URL, Token: tgToken}
	buf.Reset()
	if _, err := ts.Download(ctx, "BQACdoc", &buf); err != nil || !bytes.Equal(buf.Bytes(), pdf) {
		t.Fatalf("telegram: %v", err)
	}
	ts.MaxMedia = 100
	if _, err := ts.Download(ctx, "BQACdoc", &bytes.Buffer{}); !errors.Is(err, channels.ErrTooLarge) {
		t.Fatalf("telegram cap: %v", err)
	}

	twf := &fake.Twilio{AccountSID: twSID, AuthToken: twToken}
	twsrv := serve(t, twf)
	u := twf.AddMedia(twsrv.URL, fake.Media{Data: pdf, MIMEType: "image/jpeg"})
	tws := &channels.TwilioSender{BaseURL: twsrv.URL, AccountSID: twSID, AuthToken: twToken}
	buf.Reset()
	if info, err := tws.Download(ctx, u, &buf); err != nil || !bytes.Equal(buf.Bytes(), pdf) || info.MIMEType != "image/jpeg" {
		t.Fatalf("twilio: %v", err)
	}
	for _, bad := range []string{"https://evil.example/2010-04-01/Accounts/" + twSID + "/x", twsrv.URL + "/2010-04-01/Accounts/ACother/Messages/MM1/Media/ME1"} {
		if _, err := tws.Download(ctx, bad, &bytes.Buffer{}); !errors.Is(err, channels.ErrInvalid) {
			t.Errorf("twilio %s: %v", bad, err)
		}
	}
	if len(twf.Rejected()) != 0 || len(wf.Rejected()) != 0 || len(tf.Rejected()) != 0 {
		t.Fatalf("rejected: %q %q %q", twf.Rejected(), wf.Rejected(), tf.Rejected())
	}
}

func TestWhatsAppMediaURLMustBeOnAKnownHost(t *testing.T) {
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"messaging_product":"whatsapp","url":"http://169.254.169.254/latest/meta-data","mime_type":"image/jpeg","id":"m1"}`))
	}))
	_, err := (&channels.WhatsAppSender{BaseURL: srv.URL, PhoneNumberID: waPhoneID, Token: waToken}).Download(context.Background(), "m1", &bytes.Buffer{})
	if !errors.Is(err, channels.ErrPermanent) {
		t.Fatalf("%v", err)
	}
}
