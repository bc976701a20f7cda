package messaging_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"parley/relay/channels/fake"
)

// pngFile is a file the relay sniffs as PNG, with every byte value in it.
var pngFile = func() []byte {
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	for i := range 4096 {
		b = append(b, byte(i))
	}
	return b
}()

// upload sends data as an attachment message; it returns the status and
// the error text of a refusal.
func (e *env) upload(convID, clientID, name string, data []byte) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.s.URL()+"/api/v1/conversations/"+convID+"/attachments?name="+url.QueryEscape(name)+"&client_id="+clientID, bytes.NewReader(data))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.advisor)
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// TestFilesToProviders: an advisor's file reaches each provider in its
// documented upload format, byte for byte; the SMS customer's German
// number gets no MMS (refused before anything is stored); a US number
// gets an MMS whose media Twilio fetches from a one-hour relay link.
func TestFilesToProviders(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	got := map[string]func() []byte{
		"whatsapp": func() []byte {
			if s := e.wa.Sent(); len(s) > 0 && s[len(s)-1].File != nil && s[len(s)-1].Type == "image" {
				return s[len(s)-1].File.Data
			}
			return nil
		},
		"telegram": func() []byte {
			if s := e.tg.Sent(); len(s) > 0 && s[len(s)-1].File != nil && s[len(s)-1].Method == "sendPhoto" {
				return s[len(s)-1].File.Data
			}
			return nil
		},
		"messenger": func() []byte {
			if s := e.ms.Sent(); len(s) > 0 && s[len(s)-1].File != nil && s[len(s)-1].AttachmentType == "image" {
				return s[len(s)-1].File.Data
			}
			return nil
		},
	}
	for _, kind := range []string{"whatsapp", "telegram", "messenger"} {
		t.Run(kind, func(t *testing.T) {
			p := e.provs[kind]
			if st, err := p.post(ctx, e.hooks[kind], 1, "Schicken Sie mir den Plan?", false); err != nil || st != http.StatusOK {
				t.Fatalf("webhook: %d %v", st, err)
			}
			c, _ := e.conversation(kind)
			if st, body := e.upload(c.ID, kind+"-f1", "Grundriss.png", pngFile); st != http.StatusCreated {
				t.Fatalf("upload: %d %s", st, body)
			}
			e.eventually(kind+" file", 0, func() bool { return got[kind]() != nil })
			if !bytes.Equal(got[kind](), pngFile) {
				t.Fatal("the provider got other bytes than the file")
			}
			e.eventually("sent state", 0, func() bool { ms := e.messagesOf(c.ID); return ms[len(ms)-1].Delivery == "sent" })
		})
	}
	for kind, rej := range map[string][]string{"whatsapp": e.wa.Rejected(), "telegram": e.tg.Rejected(), "messenger": e.ms.Rejected()} {
		if len(rej) != 0 {
			t.Errorf("%s rejected %q", kind, rej)
		}
	}

	t.Run("sms", func(t *testing.T) {
		p, hook := e.provs["sms"], e.hooks["sms"]
		if st, err := p.post(ctx, hook, 1, "Hallo", false); err != nil || st != http.StatusOK {
			t.Fatalf("webhook: %d %v", st, err)
		}
		de, _ := e.conversation("sms")
		st, body := e.upload(de.ID, "sms-de", "Plan.png", pngFile)
		if st != http.StatusBadRequest || !strings.Contains(body, "+1") {
			t.Fatalf("MMS to a German number: %d %s", st, body)
		}
		if ms := e.messagesOf(de.ID); len(ms) != 1 {
			t.Fatalf("the refused file was stored: %+v", ms)
		}
		// A US customer.
		us := fake.TwilioInbound(e.tw.AccountSID, "SM900001", "+14155550123", "+4930123456", "Hi", nil, nil)
		if st, err := e.tw.PostWebhook(ctx, hook, hook, us); err != nil || st != http.StatusOK {
			t.Fatalf("US webhook: %d %v", st, err)
		}
		var list struct{ Conversations []conv }
		e.call("GET", "/api/v1/conversations?channel=sms", e.advisor, nil, &list)
		var usID string
		for _, c := range list.Conversations {
			if c.ID != de.ID {
				usID = c.ID
			}
		}
		if st, body := e.upload(usID, "sms-us", "Plan.png", pngFile); st != http.StatusCreated {
			t.Fatalf("MMS upload: %d %s", st, body)
		}
		e.eventually("mms", 0, func() bool { return len(e.tw.Sent()) > 0 && len(e.tw.Sent()[len(e.tw.Sent())-1].Media) == 1 })
		mms := e.tw.Sent()[len(e.tw.Sent())-1]
		if !bytes.Equal(mms.Media[0].Data, pngFile) || mms.To != "+14155550123" || !strings.HasPrefix(mms.SID, "MM") {
			t.Fatalf("MMS %+v", mms)
		}
		link := mms.MediaURLs[0]
		if !strings.HasPrefix(link, e.s.URL()+"/hooks/mms/") {
			t.Fatalf("media link %s", link)
		}
		fetch := func(u string) int {
			res, err := e.http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode
		}
		if st := fetch(link); st != http.StatusOK {
			t.Fatalf("link within the hour: %d", st)
		}
		if st := fetch(link[:len(link)-4] + "AAAA"); st != http.StatusNotFound {
			t.Fatalf("guessed link: %d", st)
		}
		e.clk.Advance(61 * time.Minute)
		if st := fetch(link); st != http.StatusNotFound {
			t.Fatalf("link after the hour: %d", st)
		}
	})
}
