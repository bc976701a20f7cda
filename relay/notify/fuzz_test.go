package notify_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"parley/relay/ical"
	"parley/relay/notify"
)

var renders = []func(notify.Appointment) (notify.Mail, error){
	func(d notify.Appointment) (notify.Mail, error) {
		return notify.AppointmentMail("de", notify.EventConfirmed, d)
	},
	func(d notify.Appointment) (notify.Mail, error) {
		return notify.AdvisorMail("en", notify.EventNewBooking, d)
	},
}

// FuzzAppointmentMail renders mails with arbitrary names and text: the
// HTML part never carries a "<" that came from the input, the subject is
// one line, and the ICS parses with both libraries.
func FuzzAppointmentMail(f *testing.F) {
	for _, s := range []string{"", "<script>alert(1)</script>", "a\r\nBcc: x@y.z", "\"'&<>", "\xff\xfe", "🙂\u2028\u0085x",
		strings.Repeat("<", 300), "{{.Customer}}", "</textarea><img src=x onerror=alert(1)>", " \t "} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, name, text string) {
		d := appointment()
		d.CustomerName, d.AdvisorName, d.TypeName, d.Text, d.Address = name, name, name, text, text
		d.Kind = notify.KindOnsite
		// The same appointment with harmless values: the reference for the
		// number of tags.
		ref := d
		if notify.HeaderText(name, 100) != "" {
			ref.CustomerName, ref.AdvisorName, ref.TypeName = "n", "n", "n"
		} else {
			ref.CustomerName, ref.AdvisorName, ref.TypeName = "", "", ""
		}
		if strings.TrimSpace(ical.CleanText(text)) != "" {
			ref.Text, ref.Address = "t", "t"
		} else {
			ref.Text, ref.Address = "", ""
		}
		for i, render := range renders {
			m, err := render(d)
			if err != nil {
				t.Fatal(err)
			}
			r, err := render(ref)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(m.Subject, "\r\n") || strings.ContainsAny(m.ToName, "\r\n") || !utf8.ValidString(m.Subject) {
				t.Fatalf("subject or name spans lines: %q / %q", m.Subject, m.ToName)
			}
			if n, want := strings.Count(m.HTML, "<"), strings.Count(r.HTML, "<"); n != want {
				t.Fatalf("render %d: input changed the HTML markup (%d '<', want %d)\n%s", i, n, want, m.HTML)
			}
			if ics := parseICS(t, m.ICS); ics.UID != d.UID {
				t.Fatalf("ICS UID %q", ics.UID)
			}
			if _, err := notify.MailJob(m); err != nil {
				t.Fatalf("rendered mail refused: %v", err)
			}
		}
	})
}
