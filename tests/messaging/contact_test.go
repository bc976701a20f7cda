package messaging_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parley/tests/browser"
	"parley/tests/internal/testenv"
)

// TestContactFormInChromium: a customer writes to the advisor through the
// contact page in a real Chromium; the message opens a contact-form
// conversation in the advisor's inbox; the advisor's answer arrives by
// e-mail at the SMTP server, with the contact page's link to write again.
func TestContactFormInChromium(t *testing.T) {
	testenv.Chromium(t)
	e := startEnv(t)
	var page struct {
		PageID string `json:"page_id"`
	}
	if st := e.call("POST", "/api/v1/booking/page", e.advisor, nil, &page); st != http.StatusOK || page.PageID == "" {
		t.Fatalf("booking page: %d", st)
	}
	ctx := browser.New(t, browser.Options{TrustCertFiles: []string{testenv.CertFile(e.dir)}})
	const (
		name  = "Hanna Hafenmeister"
		email = "hanna.hafen@example.org"
		text  = "Ich möchte über eine Anschlussfinanzierung sprechen & <b>bald</b>."
	)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main').dataset.view + ' | ' + document.getElementById('heading').textContent + ' | ' + document.getElementById('form-error').textContent`))
			t.Fatalf("browser: %s: %v (page: %s)", what, err, shown)
		}
	}
	run("open", chromedp.Navigate(e.s.URL()+"/c/"+page.PageID), chromedp.WaitVisible(`#contact-form`))
	heading, err := chromedp.Run(ctx, chromedp.Text(`#heading`, chromedp.NodeVisible))
	if err != nil || !strings.Contains(heading, advisorName) {
		t.Fatalf("heading %q: %v", heading, err)
	}
	run("empty form refused", chromedp.Click(`#send`, chromedp.NodeVisible), chromedp.WaitVisible(`#name-error`))
	run("fill in",
		chromedp.SendKeys(`#name`, name, chromedp.NodeVisible),
		chromedp.SendKeys(`#email`, email, chromedp.NodeVisible),
		chromedp.SendKeys(`#message`, text, chromedp.NodeVisible),
		chromedp.Click(`#send`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#done`))

	c, ok := e.conversation("contact_form")
	if !ok || c.CustomerName != name || c.Unread != 1 {
		t.Fatalf("contact conversation %+v (%v)", c, ok)
	}
	if ms := e.messagesOf(c.ID); len(ms) != 1 || ms[0].Text != text {
		t.Fatalf("messages %+v", ms)
	}
	answer := "Gern! Ich rufe Sie morgen um 10 Uhr an."
	if st := e.call("POST", "/api/v1/conversations/"+c.ID+"/messages", e.advisor, map[string]string{"client_id": "answer-1", "text": answer}, nil); st != http.StatusCreated {
		t.Fatalf("answer: %d", st)
	}
	e.eventually("answer mail", 0, func() bool { return len(e.mails.all()) == 1 })
	time.Sleep(100 * time.Millisecond)
	mails := e.mails.all()
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	raw := mails[0]
	for _, want := range []string{"To: \"Hanna Hafenmeister\" <" + email + ">", "Antwort auf Ihre Nachricht", "/c/" + page.PageID} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("mail lacks %q:\n%s", want, raw)
		}
	}
	if !bytes.Contains(raw, []byte("morgen um 10 Uhr")) {
		t.Errorf("mail lacks the answer:\n%s", raw)
	}
}
