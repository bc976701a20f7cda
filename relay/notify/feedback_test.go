package notify_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/relay/notify"
)

func feedbackInvitation() notify.FeedbackInvitation {
	return notify.FeedbackInvitation{From: "parley@bank.example", TenantName: "Sparkasse Musterstadt", AdvisorName: "Max Berater",
		CustomerName: "Erika Müller", CustomerEmail: "erika@example.org",
		MeetingEnded: time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC), Expires: time.Date(2026, 12, 7, 10, 31, 0, 0, time.UTC),
		URL: "https://beratung.bank.example/f/pfb_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
}

// Golden files of the invitation's text parts (German, English) and the
// German HTML part; regenerate with -update after checking the diff.
func TestFeedbackInvitationGolden(t *testing.T) {
	for _, c := range []struct{ lang, file string }{
		{"de", "feedback.de.txt.golden"}, {"en", "feedback.en.txt.golden"}, {"de", "feedback.de.html.golden"},
	} {
		m, err := notify.FeedbackInvitationMail(c.lang, feedbackInvitation())
		if err != nil {
			t.Fatal(err)
		}
		got := m.Subject + "\n\n" + m.Text
		if strings.Contains(c.file, "html") {
			got = m.HTML
		}
		path := filepath.Join("testdata", c.file)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s differs (run with -update after checking):\n%s", path, got)
		}
	}
}

func TestFeedbackInvitationEscapesAndRefuses(t *testing.T) {
	d := feedbackInvitation()
	d.CustomerName = "Eve <script>alert(1)</script>\r\nBcc: x@evil.example"
	d.AdvisorName = `Max "<b>" Berater`
	m, err := notify.FeedbackInvitationMail("en", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, "<b>") {
		t.Fatalf("names not escaped in the HTML part:\n%s", m.HTML)
	}
	if strings.ContainsAny(m.ToName, "\r\n") {
		t.Fatalf("header injection through the name: %q", m.ToName)
	}
	if !strings.Contains(m.Text, d.URL) || !strings.Contains(m.HTML, d.URL) || m.Subject != "How was your consultation?" {
		t.Fatalf("mail lacks the link or the English subject: %+v", m)
	}
	for name, mod := range map[string]func(*notify.FeedbackInvitation){
		"no recipient":  func(d *notify.FeedbackInvitation) { d.CustomerEmail = "" },
		"bad recipient": func(d *notify.FeedbackInvitation) { d.CustomerEmail = "erika@example.org\r\nBcc: x@y.z" },
		"js link":       func(d *notify.FeedbackInvitation) { d.URL = "javascript:alert(1)" },
		"bad zone":      func(d *notify.FeedbackInvitation) { d.TimeZone = "Mars/Olympus" },
	} {
		d := feedbackInvitation()
		mod(&d)
		if _, err := notify.FeedbackInvitationMail("de", d); !errors.Is(err, notify.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
