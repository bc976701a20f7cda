package meeting

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"parley/relay/ids"
)

func TestForgetCustomerAnonymisesAndUnlinksOnlyThatCustomersMeetings(t *testing.T) {
	e := newEnv(t, nil, nil)
	cust := ids.New()
	linked, tok, err := e.svc.CreateInstant(e.ctx, NewMeeting{TenantID: tenantA, AdvisorID: advisor.UserID, AdvisorName: "Anna Beraterin", CustomerID: cust})
	if err != nil {
		t.Fatal(err)
	}
	e.join(tok, "Kunde Kurt", "203.0.113.77")
	other, otherTok := e.instant()
	e.join(otherTok, "Erika Muster", "198.51.100.9")

	got, err := e.svc.MeetingsOf(e.ctx, tenantA, cust)
	if err != nil || len(got) != 1 || got[0] != linked.ID {
		t.Fatalf("MeetingsOf = %v, %v; want [%s]", got, err, linked.ID)
	}
	if ms, _ := e.svc.MeetingsOf(e.ctx, tenantB, cust); len(ms) != 0 {
		t.Fatalf("another tenant's MeetingsOf = %v", ms)
	}

	e.clock.Advance(time.Minute)
	forgot, err := e.svc.ForgetCustomer(e.ctx, tenantA, cust)
	if err != nil || len(forgot) != 1 || forgot[0] != linked.ID {
		t.Fatalf("ForgetCustomer = %v, %v", forgot, err)
	}
	m := e.meta(linked.ID)
	if m.Anonymised.IsZero() || m.AdvisorName != "" || len(m.Participants) != 1 || m.Participants[0].Name != "" || m.Participants[0].IP != "203.0.113.0" {
		t.Fatalf("metadata after forget: %+v", m)
	}
	if _, err := e.svc.Resolve(e.ctx, tok); !errors.Is(err, ErrLinkInvalid) {
		t.Fatalf("join link still resolves after forget: %v", err)
	}
	if ms, _ := e.svc.ByCustomer(e.ctx, adminA, cust, 0); len(ms) != 0 {
		t.Fatalf("ByCustomer after forget = %+v", ms)
	}
	mt, err := e.svc.Get(e.ctx, adminA, linked.ID)
	if err != nil || mt.CustomerID != "" {
		t.Fatalf("meeting after forget: %+v, %v", mt, err)
	}
	// The meeting without that customer is untouched.
	if om := e.meta(other.ID); !om.Anonymised.IsZero() || om.Participants[0].Name != "Erika Muster" {
		t.Fatalf("other meeting touched: %+v", om)
	}
	again, err := e.svc.ForgetCustomer(e.ctx, tenantA, cust)
	if err != nil || len(again) != 0 {
		t.Fatalf("second ForgetCustomer = %v, %v", again, err)
	}
	for k, v := range dumpKV(t, e) {
		if strings.Contains(k+v, cust) {
			t.Errorf("store still links the customer: %s", k)
		}
		if strings.Contains(v, "Kunde Kurt") || strings.Contains(v, "203.0.113.77") {
			t.Errorf("store still holds the customer's name or address under %s", k)
		}
	}
	if _, err := e.svc.ForgetCustomer(e.ctx, tenantA, "../x"); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("malformed id: %v", err)
	}
	e.assertLogsClean("Kunde Kurt", "203.0.113.77")
}

func TestReadsStopServingPersonalMetadataAtItsDeadline(t *testing.T) {
	held := false
	e := newEnv(t, nil, func(o *Options) {
		o.MetadataRule = func(_ context.Context, tenantID, meetingID string) (time.Duration, bool, error) {
			return 3 * 24 * time.Hour, held, nil // a tenant that keeps metadata three days
		}
	})
	m, tok := e.instant()
	j := e.join(tok, "Kunde Kurt", "203.0.113.77")
	if err := e.svc.Admit(e.ctx, advisor, m.ID, j.ParticipantID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.End(e.ctx, advisor, m.ID); err != nil {
		t.Fatal(err)
	}
	names := func() (string, string, string) {
		t.Helper()
		ps, err := e.svc.Participants(e.ctx, advisor, m.ID)
		if err != nil || len(ps) != 1 {
			t.Fatalf("Participants: %+v, %v", ps, err)
		}
		md := e.meta(m.ID)
		return ps[0].Name, md.Participants[0].Name, md.Participants[0].IP
	}
	e.clock.Advance(3*24*time.Hour - time.Second)
	if p, n, ip := names(); p != "Kunde Kurt" || n != "Kunde Kurt" || ip != "203.0.113.77" {
		t.Fatalf("a second before the deadline: %q %q %q", p, n, ip)
	}
	e.clock.Advance(time.Second)
	if p, n, ip := names(); p != "" || n != "" || ip != "203.0.113.0" {
		t.Fatalf("at the deadline, before any sweep: %q %q %q", p, n, ip)
	}
	held = true
	if p, _, _ := names(); p != "Kunde Kurt" {
		t.Fatalf("a held meeting's names are not served: %q", p)
	}
}
