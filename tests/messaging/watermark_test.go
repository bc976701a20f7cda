package messaging_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"parley/relay/channels/fake"
)

// TestMessengerWatermarks: Messenger's message_deliveries and
// message_reads webhooks (watermarks, no message ids), signed by the
// fake as Meta signs them, move every answer the provider had accepted
// up to the watermark forward — never one accepted later, never back —
// and a forged one moves nothing.
func TestMessengerWatermarks(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	p, hook := e.provs["messenger"], e.hooks["messenger"]
	if st, err := p.post(ctx, hook, 1, "Guten Tag", false); err != nil || st != http.StatusOK {
		t.Fatalf("webhook: %d %v", st, err)
	}
	c, ok := e.conversation("messenger")
	if !ok {
		t.Fatal("no conversation")
	}
	answer := func(id string, n int) {
		t.Helper()
		if st := e.call("POST", "/api/v1/conversations/"+c.ID+"/messages", e.advisor, map[string]string{"client_id": id, "text": "Antwort " + id}, nil); st != http.StatusCreated {
			t.Fatalf("answer: %d", st)
		}
		e.eventually("sent "+id, 0, func() bool { ms := e.messagesOf(c.ID); return len(ms) == n && ms[n-1].Delivery == "sent" })
	}
	answer("w1", 2)
	first := e.clk.Now()
	e.clk.Advance(time.Minute)
	answer("w2", 3)
	states := func() []string {
		var out []string
		for _, m := range e.messagesOf(c.ID)[1:] {
			out = append(out, m.Delivery)
		}
		return out
	}
	want := func(what string, ds ...string) {
		t.Helper()
		got := states()
		if len(got) != len(ds) || got[0] != ds[0] || got[1] != ds[1] {
			t.Fatalf("%s: states %v, want %v", what, got, ds)
		}
	}
	post := func(body []byte, forged bool) {
		t.Helper()
		f := e.ms
		if forged {
			f = &fake.Messenger{AppSecret: "not-the-secret", Client: e.http}
		}
		st, err := f.PostWebhook(ctx, hook, body)
		if err != nil || (forged && st != http.StatusUnauthorized) || (!forged && st != http.StatusOK) {
			t.Fatalf("watermark webhook (forged %v): %d %v", forged, st, err)
		}
	}
	psid := p.address
	// Delivered up to 30 s after the first was accepted: the first only.
	post(fake.MessengerDelivery(e.ms.PageID, psid, nil, first.Add(30*time.Second)), false)
	want("delivery watermark", "delivered", "sent")
	// A forged read watermark moves nothing.
	post(fake.MessengerRead(e.ms.PageID, psid, e.clk.Now()), true)
	want("forged read", "delivered", "sent")
	// Read up to now: both; its replay and an older delivery change nothing.
	for range 2 {
		post(fake.MessengerRead(e.ms.PageID, psid, e.clk.Now()), false)
	}
	post(fake.MessengerDelivery(e.ms.PageID, psid, nil, e.clk.Now()), false)
	want("read watermark", "read", "read")
	// A watermark for another PSID touches nothing of this conversation.
	e.clk.Advance(time.Minute)
	answer("w3", 4)
	post(fake.MessengerRead(e.ms.PageID, "1357913579", e.clk.Now()), false)
	if ms := e.messagesOf(c.ID); ms[3].Delivery != "sent" {
		t.Fatalf("other PSID's watermark moved %+v", ms[3])
	}
}
