package feedback_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parley/relay/server"
	"parley/tests/browser"
	"parley/tests/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Timeouts that only stop a hung test; nothing asserts on durations.
const (
	mailTimeout = 60 * time.Second
	stepTimeout = 45 * time.Second
)

const (
	adminPassword   = "Kiesel-Leuchtturm-8813!"
	advisorDisplay  = "Erika Quellmann-Zander"
	advisorPassword = "Anker-Morgenrot-5521#"
	custEmail       = "ada.feedback@example.org"
	// The comment has markup, which the advisor gets back as text.
	custComment = "Sehr verständlich erklärt & <b>gut</b> vorbereitet."
)

var feedbackURL = regexp.MustCompile(`https://127\.0\.0\.1:\d+/f/pfb_[A-Za-z0-9_-]{43}`)

// TestCustomerAnswersInChromium: after the meeting the advisor records
// the customer's consent; the relay mails the invitation (German, as the
// advisor chose for a meeting without booking) to the test's SMTP server;
// a real Chromium opens the link from the mail, is refused without a
// rating, answers with a rating and a comment, sees the thanks and, after
// a reload, that the questionnaire is answered; the page loads nothing
// from outside the relay; the advisor reads the answer through the API.
func TestCustomerAnswersInChromium(t *testing.T) {
	testenv.Chromium(t)
	mails := startMail(t)
	dir := t.TempDir()
	s := testenv.StartRelayServer(t, server.Options{DataDir: dir, TenantSlug: "bank", TenantName: "Musterbank",
		AdminPassword: adminPassword, Mail: server.MailOptions{SMTPAddr: mails.addr, TLS: "none", From: "parley@bank.test"}})
	api := &testenv.API{Base: s.URL(), HTTP: testenv.RelayClient(t, dir)}
	admin, _ := api.Login(t, "bank", "admin", adminPassword)
	admin.Must(t, http.MethodPost, "/api/v1/users", map[string]string{"username": "qxberaterin", "display_name": advisorDisplay,
		"email": "erika.qz@bank.test", "password": advisorPassword, "role": "advisor"}, http.StatusCreated, nil)
	adv, login := api.Login(t, "bank", "qxberaterin", advisorPassword)
	if login.User.MustChangePassword {
		adv.Must(t, http.MethodPost, "/api/v1/me/password", map[string]string{"current_password": advisorPassword,
			"new_password": advisorPassword + "x"}, http.StatusNoContent, nil)
		adv, _ = api.Login(t, "bank", "qxberaterin", advisorPassword+"x")
	}

	var cust struct{ ID string }
	adv.Must(t, http.MethodPost, "/api/v1/customers", map[string]string{"first_name": "Ada", "last_name": "Lovelace", "email": custEmail},
		http.StatusCreated, &cust)
	var m struct {
		Meeting struct{ ID string } `json:"meeting"`
	}
	adv.Must(t, http.MethodPost, "/api/v1/meetings", map[string]string{"title": "Baufinanzierung", "customer_id": cust.ID}, http.StatusCreated, &m)
	adv.Fail(t, http.MethodPost, "/api/v1/meetings/"+m.Meeting.ID+"/feedback", map[string]any{"consent": true}, http.StatusConflict, "meeting_not_ended")
	adv.Must(t, http.MethodPost, "/api/v1/meetings/"+m.Meeting.ID+"/end", nil, http.StatusNoContent, nil)
	adv.Must(t, http.MethodPost, "/api/v1/meetings/"+m.Meeting.ID+"/feedback", map[string]any{"consent": true, "lang": "de"}, http.StatusCreated, nil)

	mail := mails.waitFor(t, custEmail)
	if subj := mail.Header.Get("Subject"); !strings.Contains(subj, "Beratung") && !strings.Contains(subj, "=?") {
		t.Errorf("subject %q", subj)
	}
	link := feedbackURL.FindString(mail.Text)
	if link == "" || !strings.Contains(mail.HTML, link) || !strings.Contains(mail.Text, advisorDisplay) {
		t.Fatalf("no questionnaire link (or advisor) in the mail:\n%s", mail.Text)
	}
	if !strings.HasPrefix(link, s.URL()+"/f/") {
		t.Fatalf("link %s is not on the relay %s", link, s.URL())
	}

	ctx := browser.New(t, browser.Options{TrustCertFiles: []string{testenv.CertFile(dir)},
		Flags: map[string]any{"lang": "de-DE", "accept-lang": "de-DE"}})
	requests := browser.RecordRequests(t, ctx)
	do(t, ctx, "open the link", chromedp.Navigate(link), chromedp.WaitVisible(`#feedback[data-view="form"]`))
	if h := text(t, ctx, "#heading"); !strings.Contains(h, advisorDisplay) {
		t.Errorf("heading %q does not name the advisor", h)
	}
	if p := eval[string](t, ctx, `location.pathname`); p != "/f/answer" {
		t.Errorf("the token stays in the address bar: %s", p)
	}
	do(t, ctx, "send without a rating", chromedp.Click(`#send`, chromedp.NodeVisible), chromedp.WaitVisible(`#rating-error`))
	do(t, ctx, "answer",
		chromedp.Click(`.rating-scale label:nth-child(4)`, chromedp.NodeVisible),
		chromedp.SendKeys(`#comment`, custComment, chromedp.NodeVisible),
		chromedp.Click(`#send`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#feedback[data-view="done"]`))
	do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(`#feedback[data-view="answered"]`))
	do(t, ctx, "forged link", chromedp.Navigate(s.URL()+"/f/pfb_"+strings.Repeat("A", 43)), chromedp.WaitVisible(`#feedback[data-view="missing"]`))
	if out := requests.Outside(s.URL()); len(out) > 0 {
		t.Errorf("the page loaded from outside the relay: %v", out)
	}

	var fb struct {
		Status string `json:"status"`
		Rating int    `json:"rating"`
		Text   string `json:"text"`
		Sent   string `json:"sent"`
	}
	adv.Must(t, http.MethodGet, "/api/v1/meetings/"+m.Meeting.ID+"/feedback", nil, http.StatusOK, &fb)
	if fb.Status != "answered" || fb.Rating != 4 || fb.Text != custComment || fb.Sent == "" {
		t.Fatalf("the advisor sees %+v", fb)
	}
	var list struct {
		Feedback []struct {
			MeetingID string `json:"meeting_id"`
			Rating    int    `json:"rating"`
		} `json:"feedback"`
	}
	adv.Must(t, http.MethodGet, "/api/v1/customers/"+cust.ID+"/feedback", nil, http.StatusOK, &list)
	if len(list.Feedback) != 1 || list.Feedback[0].MeetingID != m.Meeting.ID || list.Feedback[0].Rating != 4 {
		t.Fatalf("customer history: %+v", list)
	}
	if n := mails.count(custEmail); n != 1 {
		t.Errorf("%d mails to the customer, want one invitation", n)
	}
}

// do runs chromedp actions with a step timeout, failing the test with
// what was being done and what the page shows.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
			`(document.querySelector('main') ? document.querySelector('main').dataset.view : '') + ' | ' + document.getElementById('status').textContent`))
		t.Fatalf("browser: %s: %v\npage shows: %s", what, err, shown)
	}
}

// text is the visible text of the first element matching sel, trimmed.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Text(sel, chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("browser: %s: %v", expr, err)
	}
	return v
}
