package link_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/certs"
	"parley/relay/notify"
	"parley/relay/server"
	"parley/sync/link"
)

// capturedMails keeps the relay's outgoing mails (server.MailOptions.Mailer).
type capturedMails struct {
	mu    sync.Mutex
	mails []notify.Mail
}

func (b *capturedMails) Send(_ context.Context, m notify.Mail) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mails = append(b.mails, m)
	return nil
}

func (b *capturedMails) take() []notify.Mail {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.mails
	b.mails = nil
	return out
}

// rawRelay calls the relay's API without the link client, for what the
// client does not offer (a meeting with a customer, the customer's
// questionnaire answer). It trusts only the relay's own certificate.
type rawRelay struct {
	t     *testing.T
	base  string
	hc    *http.Client
	token string
}

func newRawRelay(t *testing.T, s *server.Server, dir string) *rawRelay {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(dir, "tls", certs.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in the relay's folder")
	}
	tr := &http.Transport{Proxy: nil, ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &rawRelay{t: t, base: s.URL(), hc: &http.Client{Transport: tr}}
}

func (r *rawRelay) call(method, path string, in, out any) int {
	r.t.Helper()
	var body bytes.Buffer
	if in != nil {
		if err := json.NewEncoder(&body).Encode(in); err != nil {
			r.t.Fatal(err)
		}
	}
	req, err := http.NewRequestWithContext(realCtx(r.t), method, r.base+path, &body)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			r.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

var questionnaireLink = regexp.MustCompile(`/f/(pfb_[A-Za-z0-9_-]{43})`)

func apiCode(err error) string {
	var ae *link.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// TestFeedbackAgainstRealRelay drives the feedback calls against the real
// relay: consent refused while the meeting runs, recorded after its end
// (the invitation is mailed), refused a second time; the customer answers
// from the mailed link and the answer shows in the meeting's and the
// customer's feedback; withdrawal deletes it.
func TestFeedbackAgainstRealRelay(t *testing.T) {
	dir := t.TempDir()
	box := &capturedMails{}
	s, err := server.Start(context.Background(), server.Options{
		DataDir: dir, Listen: "127.0.0.1:0", MediaListen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: realAdminPassword, Hash: auth.TestHashParams, PublicURL: "https://beratung.bank.test",
		Mail: server.MailOptions{Mailer: box},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := realCtx(t)
	c := link.New(link.Options{})
	t.Cleanup(func() { c.Close() })
	if err := c.Trust(s.URL(), s.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Connect(ctx, s.URL()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, "bank", "admin", realAdminPassword); err != nil {
		t.Fatal(err)
	}
	cust, err := c.CreateCustomer(ctx, link.Customer{FirstName: "Frieda", LastName: "Feedback", Email: "frieda@kunde.test"})
	if err != nil {
		t.Fatal(err)
	}

	raw := newRawRelay(t, s, dir)
	var login struct{ Token string }
	if st := raw.call("POST", "/api/v1/login", map[string]string{"tenant": "bank", "username": "admin", "password": realAdminPassword}, &login); st != http.StatusOK {
		t.Fatalf("raw login: %d", st)
	}
	raw.token = login.Token
	var created struct {
		Meeting struct{ ID string } `json:"meeting"`
	}
	if st := raw.call("POST", "/api/v1/meetings", map[string]string{"title": "Beratung", "customer_id": cust.ID}, &created); st != http.StatusCreated {
		t.Fatalf("meeting with customer: %d", st)
	}
	mid := created.Meeting.ID

	if _, err := c.RecordFeedbackConsent(ctx, mid, "en"); apiCode(err) != "meeting_not_ended" {
		t.Fatalf("consent while the meeting runs: %v", err)
	}
	if _, err := c.MeetingFeedback(ctx, mid); apiCode(err) != link.CodeNotFound {
		t.Fatalf("feedback before consent: %v", err)
	}
	if fs, err := c.CustomerFeedback(ctx, cust.ID); err != nil || len(fs) != 0 {
		t.Fatalf("customer's feedback before consent: %+v %v", fs, err)
	}
	if err := c.EndMeeting(ctx, mid); err != nil {
		t.Fatal(err)
	}
	f, err := c.RecordFeedbackConsent(ctx, mid, "en")
	if err != nil {
		t.Fatal(err)
	}
	if f.MeetingID != mid || f.CustomerID != cust.ID || f.Status != link.FeedbackInvited || f.Consent.Source != "advisor" ||
		f.Consent.Given.IsZero() || !f.Expires.After(f.Consent.Given) {
		t.Fatalf("recorded: %+v", f)
	}
	if _, err := c.RecordFeedbackConsent(ctx, mid, "en"); apiCode(err) != "feedback_already_requested" {
		t.Fatalf("second consent: %v", err)
	}

	// The outbox runs the invitation job (its own timer, or DeliverDue).
	var mails []notify.Mail
	for len(mails) == 0 && ctx.Err() == nil {
		if _, err := s.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		mails = box.take()
		time.Sleep(10 * time.Millisecond)
	}
	if len(mails) != 1 || mails[0].To != "frieda@kunde.test" {
		t.Fatalf("invitations: %d", len(mails))
	}
	m := questionnaireLink.FindStringSubmatch(mails[0].Text)
	if m == nil {
		t.Fatal("no questionnaire link in the invitation")
	}
	anon := &rawRelay{t: t, base: raw.base, hc: raw.hc}
	if st := anon.call("POST", "/api/v1/feedback/"+m[1], map[string]any{"rating": 4, "text": "Klar erklärt"}, nil); st != http.StatusNoContent {
		t.Fatalf("answer: %d", st)
	}

	got, err := c.MeetingFeedback(ctx, mid)
	if err != nil || got.Status != link.FeedbackAnswered || got.Rating != 4 || got.Text != "Klar erklärt" || got.Answered == nil || got.Sent == nil {
		t.Fatalf("meeting's feedback: %+v %v", got, err)
	}
	fs, err := c.CustomerFeedback(ctx, cust.ID)
	if err != nil || len(fs) != 1 || fs[0].MeetingID != mid || fs[0].Rating != 4 {
		t.Fatalf("customer's feedback: %+v %v", fs, err)
	}

	if err := c.WithdrawFeedback(ctx, mid); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MeetingFeedback(ctx, mid); apiCode(err) != link.CodeNotFound {
		t.Fatalf("after withdrawal: %v", err)
	}
	if fs, err := c.CustomerFeedback(ctx, cust.ID); err != nil || len(fs) != 0 {
		t.Fatalf("customer's feedback after withdrawal: %+v %v", fs, err)
	}
}
