package feedback

import (
	"testing"
	"time"
)

// BenchmarkConsentAndAnswer measures one whole request: consent with the
// invitation queued, the invitation read, and the sealed answer.
func BenchmarkConsentAndAnswer(b *testing.B) {
	e := newEnv(b)
	c := e.customer(tenantA, "klara@example.test")
	a := advisor(tenantA, advisorA)
	b.ResetTimer()
	for b.Loop() {
		m := e.meeting(tenantA, advisorA, c, "")
		if _, err := e.svc.RecordConsent(e.ctx, a, m, ConsentInput{Consent: true}); err != nil {
			b.Fatal(err)
		}
		inv, ok, err := e.svc.Invitation(e.ctx, Notice{MeetingID: m})
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		if err := e.svc.Answer(e.ctx, inv.Token, Answer{Rating: 4, Text: "Sehr hilfreich, danke!"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkByCustomer reads a customer's history of 50 answered requests.
func BenchmarkByCustomer(b *testing.B) {
	e := newEnv(b)
	c := e.customer(tenantA, "klara@example.test")
	a := advisor(tenantA, advisorA)
	for range 50 {
		m := e.meeting(tenantA, advisorA, c, "")
		if _, err := e.svc.RecordConsent(e.ctx, a, m, ConsentInput{Consent: true}); err != nil {
			b.Fatal(err)
		}
		inv, _, _ := e.svc.Invitation(e.ctx, Notice{MeetingID: m})
		if err := e.svc.Answer(e.ctx, inv.Token, Answer{Rating: 5, Text: "gut"}); err != nil {
			b.Fatal(err)
		}
		e.clock.Advance(time.Minute)
	}
	b.ResetTimer()
	for b.Loop() {
		l, err := e.svc.ByCustomer(e.ctx, a, c)
		if err != nil || len(l) != 50 {
			b.Fatal(len(l), err)
		}
	}
}
