package notify

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSigningMails(t *testing.T) {
	d := Signing{Title: "Kreditvertrag <4711>", RecipientName: "Anna\r\nBcc: x@evil.test", RecipientEmail: "anna@example.test",
		AdvisorName: "Erika Beraterin", AdvisorEmail: "erika@bank.test", TenantName: "Bank AG", From: "parley@bank.test",
		Link: "https://beratung.bank.test/s/psg_abc", Until: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC), TimeZone: "Europe/Berlin"}
	m, err := SigningMail("de", SigningInvite, false, d)
	if err != nil {
		t.Fatal(err)
	}
	if m.To != d.RecipientEmail || m.ReplyTo != d.AdvisorEmail || !strings.Contains(m.Text, d.Link) || !strings.Contains(m.Subject, "Bitte unterschreiben") {
		t.Fatalf("invite: %+v", m)
	}
	if strings.ContainsAny(m.ToName, "\r\n") || strings.Contains(m.HTML, "<4711>") || !strings.Contains(m.HTML, "&lt;4711&gt;") {
		t.Fatalf("invite not escaped: %q / %s", m.ToName, m.HTML)
	}
	if !strings.Contains(m.Text, "10:00 Uhr (CET)") {
		t.Fatalf("link validity not in the zone: %s", m.Text)
	}
	m, err = SigningMail("en", SigningCompleted, false, d)
	if err != nil || !strings.Contains(m.Text, "Download the signed document") || !strings.Contains(m.Text, d.Link) {
		t.Fatalf("completed: %v %s", err, m.Text)
	}
	m, err = SigningMail("en", SigningAdvisorTurn, true, d)
	if err != nil || m.To != d.AdvisorEmail || strings.Contains(m.Text, d.Link) {
		t.Fatalf("advisor turn: %v %+v", err, m)
	}
	for name, c := range map[string]struct {
		ev  SigningEvent
		adv bool
		mod func(*Signing)
	}{
		"invite to advisor": {SigningInvite, true, nil},
		"turn to customer":  {SigningAdvisorTurn, false, nil},
		"bad link":          {SigningInvite, false, func(s *Signing) { s.Link = "javascript:alert(1)" }},
		"bad address":       {SigningInvite, false, func(s *Signing) { s.RecipientEmail = "anna" }},
		"bad sender":        {SigningCompleted, true, func(s *Signing) { s.From = "" }},
		"unknown time zone": {SigningInvite, false, func(s *Signing) { s.TimeZone = "Mars/Olympus" }},
	} {
		dd := d
		if c.mod != nil {
			c.mod(&dd)
		}
		if _, err := SigningMail("de", c.ev, c.adv, dd); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSigningCodeSMS(t *testing.T) {
	s, err := SigningCodeSMS("de", "Bank\nAG", "012345")
	if err != nil || s != "Bank AG: Ihr Code zum Unterschreiben lautet 012345. Er gilt 10 Minuten. Geben Sie ihn nicht weiter." {
		t.Fatalf("%q %v", s, err)
	}
	for _, bad := range []string{"", "12345", "12345a", "1234567"} {
		if _, err := SigningCodeSMS("en", "Bank", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("code %q: %v", bad, err)
		}
	}
}
