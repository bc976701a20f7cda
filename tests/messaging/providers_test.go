package messaging_test

import (
	"context"
	"net/http"
	"testing"
	"time"
)

type conv struct {
	ID           string `json:"id"`
	Channel      string `json:"channel"`
	CustomerName string `json:"customer_name"`
	Unread       int    `json:"unread"`
}

type message struct {
	ID       string `json:"id"`
	Seq      uint64 `json:"seq"`
	Side     string `json:"side"`
	Text     string `json:"text"`
	Delivery string `json:"delivery"`
}

func (e *env) conversation(kind string) (conv, bool) {
	e.t.Helper()
	var out struct{ Conversations []conv }
	if st := e.call("GET", "/api/v1/conversations?channel="+kind, e.advisor, nil, &out); st != http.StatusOK {
		e.t.Fatalf("conversations: %d", st)
	}
	if len(out.Conversations) > 1 {
		e.t.Fatalf("%s: %d conversations, want one", kind, len(out.Conversations))
	}
	if len(out.Conversations) == 0 {
		return conv{}, false
	}
	return out.Conversations[0], true
}

func (e *env) messagesOf(id string) []message {
	e.t.Helper()
	var out struct{ Messages []message }
	if st := e.call("GET", "/api/v1/conversations/"+id+"/messages", e.advisor, nil, &out); st != http.StatusOK {
		e.t.Fatalf("messages: %d", st)
	}
	return out.Messages
}

// TestProvidersThroughTheRelay: for each provider, a forged webhook is
// refused and stores nothing, a signed one creates a message the advisor
// sees, its replay stores nothing more, the advisor's answer reaches the
// provider in its wire format, and an answer sent during an outage (three
// 503s) arrives exactly once after the outbox's retries.
func TestProvidersThroughTheRelay(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	for _, kind := range []string{"whatsapp", "telegram", "messenger", "sms"} {
		t.Run(kind, func(t *testing.T) {
			p, hook := e.provs[kind], e.hooks[kind]
			text := "Frage über " + kind + ": Wie hoch ist der Zins?"
			if st, err := p.post(ctx, hook, 1, text, true); err != nil || st != http.StatusUnauthorized {
				t.Fatalf("forged webhook: %d %v", st, err)
			}
			if _, ok := e.conversation(kind); ok {
				t.Fatal("the forged webhook stored a conversation")
			}
			for range 2 { // the provider's retry of the same delivery
				if st, err := p.post(ctx, hook, 1, text, false); err != nil || st != http.StatusOK {
					t.Fatalf("webhook: %d %v", st, err)
				}
			}
			c, ok := e.conversation(kind)
			if !ok || c.Unread != 1 {
				t.Fatalf("conversation %+v (found %v)", c, ok)
			}
			ms := e.messagesOf(c.ID)
			if len(ms) != 1 || ms[0].Text != text || ms[0].Side != "customer" {
				t.Fatalf("messages %+v", ms)
			}

			answer := "Antwort über " + kind
			if st := e.call("POST", "/api/v1/conversations/"+c.ID+"/messages", e.advisor, map[string]string{"client_id": kind + "-1", "text": answer}, nil); st != http.StatusCreated {
				t.Fatalf("answer: %d", st)
			}
			e.eventually("answer at "+kind, 0, func() bool { return len(p.sent()) == 1 })
			if s := p.sent()[0]; s.Text != answer || s.To != p.address {
				t.Fatalf("provider got %+v, want %q to %s", s, answer, p.address)
			}
			e.eventually("sent state", 0, func() bool { return e.messagesOf(c.ID)[1].Delivery == "sent" })

			p.fail(3)
			outage := "Während der Störung " + kind
			if st := e.call("POST", "/api/v1/conversations/"+c.ID+"/messages", e.advisor, map[string]string{"client_id": kind + "-2", "text": outage}, nil); st != http.StatusCreated {
				t.Fatalf("answer in the outage: %d", st)
			}
			e.eventually("answer after the outage", 2*time.Minute, func() bool { return len(p.sent()) >= 2 })
			time.Sleep(100 * time.Millisecond)
			if _, err := e.s.DeliverDue(ctx); err != nil {
				t.Fatal(err)
			}
			sent := p.sent()
			if len(sent) != 2 || sent[1].Text != outage {
				t.Fatalf("after the outage the provider has %d messages: %+v", len(sent), sent)
			}
			if ms := e.messagesOf(c.ID); len(ms) != 3 || ms[2].Delivery != "sent" {
				t.Fatalf("messages after the outage: %+v", ms)
			}
		})
	}
}
