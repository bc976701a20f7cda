package channels_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"parley/relay/channels"
	"parley/relay/channels/fake"
	"parley/relay/outbox"
)

// pngBytes and pdfBytes are files with some binary content (every byte
// value), so that a lossy encoding would show.
var (
	pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), allBytes(3)...)
	pdfBytes = append([]byte("%PDF-1.7\n"), allBytes(2)...)
)

func allBytes(n int) []byte {
	var b []byte
	for range n {
		for i := range 256 {
			b = append(b, byte(i))
		}
	}
	return b
}

func png(id string) channels.File {
	return channels.File{ID: id, Name: "Grundriss \"EG\".png", MIMEType: "image/png", Size: int64(len(pngBytes)), Data: pngBytes}
}

func pdf(id string) channels.File {
	return channels.File{ID: id, Name: "Angebot.pdf", MIMEType: "application/pdf", Size: int64(len(pdfBytes)), Data: pdfBytes}
}

func TestWhatsAppFileUploadThenMessage(t *testing.T) {
	f := &fake.WhatsApp{PhoneNumberID: "1234567890", Token: "tok"}
	srv := serve(t, f)
	s := &channels.WhatsAppSender{BaseURL: srv.URL, PhoneNumberID: f.PhoneNumberID, Token: f.Token}
	for _, file := range []channels.File{png("a1"), pdf("a2")} {
		res, err := s.Send(context.Background(), channels.Outgoing{To: "4915112345678", Text: "Bitte ansehen", Files: []channels.File{file}, Reference: "r"})
		if err != nil || res.MessageID == "" {
			t.Fatal(err, res)
		}
	}
	sent := f.Sent()
	if len(sent) != 2 || f.Uploads() != 2 || len(f.Rejected()) != 0 {
		t.Fatalf("sent %+v uploads %d rejected %q", sent, f.Uploads(), f.Rejected())
	}
	if s := sent[0]; s.Type != "image" || s.Caption != "Bitte ansehen" || s.File == nil || !bytes.Equal(s.File.Data, pngBytes) || s.File.MIMEType != "image/png" {
		t.Fatalf("image: %+v", s)
	}
	if s := sent[1]; s.Type != "document" || s.FileName != "Angebot.pdf" || !bytes.Equal(s.File.Data, pdfBytes) || s.File.MIMEType != "application/pdf" {
		t.Fatalf("document: %+v", s)
	}
}

// TestWhatsAppRetryReusesMediaID: the upload succeeds, the message call
// fails with 503; the retry sends the kept media id without uploading
// again, and the id is forgotten once the message is accepted.
func TestWhatsAppRetryReusesMediaID(t *testing.T) {
	f := &fake.WhatsApp{PhoneNumberID: "1234567890", Token: "tok"}
	var failed atomic.Int32
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/messages") && failed.Add(1) == 1 {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		f.ServeHTTP(w, r)
	}))
	cache := &channels.MemoryUploads{}
	s := &channels.WhatsAppSender{BaseURL: srv.URL, PhoneNumberID: f.PhoneNumberID, Token: f.Token, Uploads: cache}
	m := channels.Outgoing{To: "4915112345678", Files: []channels.File{pdf("att1")}}
	if _, err := s.Send(context.Background(), m); !channels.IsTransient(err) {
		t.Fatalf("first attempt: %v", err)
	}
	if _, ok, _ := cache.Get(context.Background(), "1234567890/att1"); !ok || f.Uploads() != 1 {
		t.Fatalf("media id not kept (uploads %d)", f.Uploads())
	}
	if _, err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if f.Uploads() != 1 || len(f.Sent()) != 1 || !bytes.Equal(f.Sent()[0].File.Data, pdfBytes) {
		t.Fatalf("uploads %d, sent %d", f.Uploads(), len(f.Sent()))
	}
	if _, ok, _ := cache.Get(context.Background(), "1234567890/att1"); ok {
		t.Fatal("media id kept after the message was accepted")
	}
}

func TestTelegramFileMultipart(t *testing.T) {
	f := &fake.Telegram{Token: "123456:ABC-def"}
	srv := serve(t, f)
	s := &channels.TelegramSender{BaseURL: srv.URL, Token: f.Token}
	for _, file := range []channels.File{png("p1"), pdf("d1")} {
		if _, err := s.Send(context.Background(), channels.Outgoing{To: "4711", Text: "Unterlagen", Files: []channels.File{file}}); err != nil {
			t.Fatal(err)
		}
	}
	sent := f.Sent()
	if len(sent) != 2 || len(f.Rejected()) != 0 {
		t.Fatalf("sent %+v rejected %q", sent, f.Rejected())
	}
	if s := sent[0]; s.Method != "sendPhoto" || s.ChatID != "4711" || s.Caption != "Unterlagen" || !bytes.Equal(s.File.Data, pngBytes) || s.File.Field != "photo" {
		t.Fatalf("photo: %+v", s)
	}
	if s := sent[1]; s.Method != "sendDocument" || s.File.FileName != "Angebot.pdf" || !bytes.Equal(s.File.Data, pdfBytes) || s.File.MIMEType != "application/pdf" {
		t.Fatalf("document: %+v", s)
	}
}

func TestMessengerFileMultipart(t *testing.T) {
	f := &fake.Messenger{PageID: "998877", PageToken: "page-tok"}
	srv := serve(t, f)
	s := &channels.MessengerSender{BaseURL: srv.URL, PageToken: f.PageToken}
	for _, file := range []channels.File{png("p1"), pdf("d1")} {
		if _, err := s.Send(context.Background(), channels.Outgoing{To: "24680135", Files: []channels.File{file}}); err != nil {
			t.Fatal(err)
		}
	}
	sent := f.Sent()
	if len(sent) != 2 || len(f.Rejected()) != 0 {
		t.Fatalf("sent %+v rejected %q", sent, f.Rejected())
	}
	if s := sent[0]; s.AttachmentType != "image" || s.To != "24680135" || s.MessagingType != "RESPONSE" || !bytes.Equal(s.File.Data, pngBytes) || s.File.Field != "filedata" {
		t.Fatalf("image: %+v", s)
	}
	if s := sent[1]; s.AttachmentType != "file" || !bytes.Equal(s.File.Data, pdfBytes) || s.File.MIMEType != "application/pdf" {
		t.Fatalf("file: %+v", s)
	}
	// Text with a file is refused before anything is sent.
	_, err := s.Send(context.Background(), channels.Outgoing{To: "24680135", Text: "hier", Files: []channels.File{png("p2")}})
	var re *channels.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, outbox.ErrPermanent) || len(f.Sent()) != 2 {
		t.Fatalf("text with file: %v", err)
	}
}

func TestTwilioMMSFetchesMediaURL(t *testing.T) {
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngBytes)
	}))
	t.Cleanup(media.Close)
	f := &fake.Twilio{AccountSID: "AC0123", AuthToken: "tw-tok"}
	srv := serve(t, f)
	var asked []string
	s := &channels.TwilioSender{BaseURL: srv.URL, AccountSID: f.AccountSID, AuthToken: f.AuthToken, From: "+15550001111",
		MediaURL: func(_ context.Context, ref string, file channels.File) (string, error) {
			asked = append(asked, ref+"|"+file.ID)
			return media.URL + "/m/" + file.ID, nil
		}}
	res, err := s.Send(context.Background(), channels.Outgoing{To: "+14155550123", Text: "Plan", Reference: "t/m1", Files: []channels.File{png("i1")}})
	if err != nil || !strings.HasPrefix(res.MessageID, "MM") {
		t.Fatal(err, res)
	}
	sent := f.Sent()
	if len(sent) != 1 || len(sent[0].Media) != 1 || !bytes.Equal(sent[0].Media[0].Data, pngBytes) || sent[0].Body != "Plan" {
		t.Fatalf("sent %+v rejected %q", sent, f.Rejected())
	}
	if len(asked) != 1 || asked[0] != "t/m1|i1" {
		t.Fatalf("MediaURL asked %q", asked)
	}
	// A German number gets no MMS: refused locally, nothing sent.
	_, err = s.Send(context.Background(), channels.Outgoing{To: "+4915112345678", Files: []channels.File{png("i2")}})
	var re *channels.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "+1") || len(f.Sent()) != 1 {
		t.Fatalf("German MMS: %v", err)
	}
}

func TestCheckFilesLimits(t *testing.T) {
	big := func(mime string, n int64) channels.File { return channels.File{ID: "x", MIMEType: mime, Size: n} }
	cases := []struct {
		ch   channels.Channel
		m    channels.Outgoing
		ok   bool
		want string
	}{
		{channels.WhatsApp, channels.Outgoing{To: "49151", Files: []channels.File{big("image/png", 5_000_000)}}, true, ""},
		{channels.WhatsApp, channels.Outgoing{To: "49151", Files: []channels.File{big("image/png", 5_000_001)}}, false, "cap"},
		{channels.WhatsApp, channels.Outgoing{To: "49151", Files: []channels.File{big("application/pdf", 25<<20)}}, true, ""},
		{channels.WhatsApp, channels.Outgoing{To: "49151", Files: []channels.File{big("image/gif", 10)}}, false, "JPEG and PNG"},
		{channels.WhatsApp, channels.Outgoing{To: "49151", Text: strings.Repeat("a", 1025), Files: []channels.File{big("image/png", 10)}}, false, "caption"},
		{channels.WhatsApp, channels.Outgoing{To: "49151", Files: []channels.File{big("image/png", 10), big("image/png", 10)}}, false, "one file"},
		{channels.Telegram, channels.Outgoing{To: "1", Files: []channels.File{big("image/jpeg", 10_000_001)}}, false, "cap"},
		{channels.Telegram, channels.Outgoing{To: "1", Files: []channels.File{big("application/pdf", 25<<20)}}, true, ""},
		{channels.Messenger, channels.Outgoing{To: "1", Files: []channels.File{big("application/pdf", 25_000_001)}}, false, "cap"},
		{channels.SMS, channels.Outgoing{To: "+14155550123", Files: []channels.File{big("image/png", 3_000_000), big("image/png", 3_000_000)}}, false, "5000000"},
		{channels.SMS, channels.Outgoing{To: "+14155550123", Files: []channels.File{big("application/pdf", 10)}}, false, "JPEG, PNG and GIF"},
		{channels.SMS, channels.Outgoing{To: "+33612345678", Files: []channels.File{big("image/png", 10)}}, false, "+1"},
	}
	for i, c := range cases {
		err := channels.CheckFiles(c.ch, c.m)
		var re *channels.RefusedError
		if c.ok != (err == nil) || (!c.ok && (!errors.As(err, &re) || !strings.Contains(re.Reason, c.want) || !errors.Is(err, channels.ErrInvalid))) {
			t.Errorf("case %d (%s): %v", i, c.ch, err)
		}
	}
}

// TestSendJobWithFilesCarriesIDsOnly: the outbox payload names the
// files by id; the Dispatcher loads them when the job runs and the
// bytes reach the provider.
func TestSendJobWithFilesCarriesIDsOnly(t *testing.T) {
	payload, err := channels.SendJob("ch_1", channels.Telegram, channels.Outgoing{To: "4711", Reference: "t1/m1", Files: []channels.File{pdf("att-9")}})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(payload, []byte("Angebot")) || bytes.Contains(payload, []byte("PDF")) || !bytes.Contains(payload, []byte(`"att-9"`)) {
		t.Fatalf("payload %s", payload)
	}
	var job channels.Job
	if err := json.Unmarshal(payload, &job); err != nil || len(job.Message.Files) != 1 || job.Message.Files[0].Data != nil {
		t.Fatal(err, job)
	}
	f := &fake.Telegram{Token: "123456:ABC-def"}
	srv := serve(t, f)
	var loads int
	d := &channels.Dispatcher{
		Lookup: func(context.Context, string) (channels.Sender, error) {
			return &channels.TelegramSender{BaseURL: srv.URL, Token: f.Token}, nil
		},
		Files: func(_ context.Context, ref string, file channels.File) (channels.File, error) {
			loads++
			if ref != "t1/m1" || file.ID != "att-9" {
				return channels.File{}, channels.ErrPermanent
			}
			return pdf(file.ID), nil
		},
	}
	if err := d.Handler()(context.Background(), outbox.Job{ID: "j1", Kind: channels.JobKind, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	if loads != 1 || len(f.Sent()) != 1 || !bytes.Equal(f.Sent()[0].File.Data, pdfBytes) {
		t.Fatalf("loads %d sent %+v", loads, f.Sent())
	}
	// Without a loader the job dies instead of sending a file-less message.
	d.Files = nil
	if err := d.Handler()(context.Background(), outbox.Job{ID: "j2", Kind: channels.JobKind, Payload: payload}); !errors.Is(err, outbox.ErrPermanent) {
		t.Fatalf("no loader: %v", err)
	}
}
