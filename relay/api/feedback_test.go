package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/feedback"
	"parley/relay/meeting"
	"parley/relay/store"
)

// fbMeetings adapts the meetings service to feedback (relay/server does
// the same, with the booking's language).
type fbMeetings struct{ m *meeting.Service }

func (x fbMeetings) Meeting(ctx context.Context, a feedback.Actor, id string) (feedback.MeetingInfo, error) {
	m, err := x.m.Get(ctx, meeting.Actor{TenantID: a.TenantID, UserID: a.UserID, Admin: a.Admin}, id)
	switch {
	case errors.Is(err, meeting.ErrNotFound):
		return feedback.MeetingInfo{}, feedback.ErrNotFound
	case errors.Is(err, meeting.ErrForbidden):
		return feedback.MeetingInfo{}, feedback.ErrForbidden
	case err != nil:
		return feedback.MeetingInfo{}, err
	}
	return feedback.MeetingInfo{ID: m.ID, TenantID: m.TenantID, AdvisorID: m.AdvisorID, CustomerID: m.CustomerID, Ended: m.Ended}, nil
}

// fbSink keeps the invitation jobs' payloads.
type fbSink struct{}

func (fbSink) EnqueueTx(store.Txn, string, []byte, time.Time) error { return nil }

// fbServices builds meetings, customers and feedback on a store of their
// own and serves them with the accounts given.
func fbServices(t *testing.T, accounts *auth.Service, clk *clock.Fake) (*httptest.Server, *feedback.Service, *meeting.Service, *customer.Service) {
	t.Helper()
	kv := &store.Memory{Clock: clk}
	ms := newMeetings(t, kv, clk)
	cust, err := customer.New(customer.Options{Store: kv, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := feedback.New(feedback.Options{Store: kv, Clock: clk, Meetings: fbMeetings{ms}, Profiles: cust, Outbox: fbSink{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Auth: accounts, Audit: noAudit{}, Clock: clk, Meetings: ms, Feedback: svc}))
	t.Cleanup(srv.Close)
	return srv, svc, ms, cust
}

// fbMeeting creates an ended meeting of the advisor with a new customer
// (with e-mail when email is set) and returns its id and the customer's.
func fbMeeting(t *testing.T, ms *meeting.Service, cust *customer.Service, tenantID, advisorID, name, email string, end bool) (string, string) {
	t.Helper()
	ctx := context.Background()
	c := customer.Contact{FirstName: name, LastName: "Kundin", Email: email}
	if email == "" {
		c.Mobile = "+4917012345678"
	}
	p, err := cust.Create(ctx, customer.Actor{TenantID: tenantID, UserID: advisorID}, c)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := ms.CreateInstant(ctx, meeting.NewMeeting{TenantID: tenantID, AdvisorID: advisorID, CustomerID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	if end {
		if err := ms.End(ctx, meeting.Actor{TenantID: tenantID, UserID: advisorID}, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	return m.ID, p.ID
}

func TestFeedbackAPI(t *testing.T) {
	f := newFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	adv := f.advisor(admin, "anna")
	other := f.advisor(admin, "olga")
	srv, svc, ms, cust := fbServices(t, f.auth, f.clock)
	f.srv = srv
	me := f.me(adv)

	running, _ := fbMeeting(t, ms, cust, me.TenantID, me.ID, "Rita", "rita@example.test", false)
	mid, cid := fbMeeting(t, ms, cust, me.TenantID, me.ID, "Klara", "klara@example.test", true)
	noMail, _ := fbMeeting(t, ms, cust, me.TenantID, me.ID, "Otto", "", true)

	for _, c := range []struct {
		path, token string
		body        any
		status      int
		code        string
	}{
		{"/api/v1/meetings/" + mid + "/feedback", adv, map[string]any{"consent": false}, 400, "invalid_input"},
		{"/api/v1/meetings/" + mid + "/feedback", adv, map[string]any{"consent": true, "extra": 1}, 400, "bad_request"},
		{"/api/v1/meetings/" + mid + "/feedback", adv, map[string]any{"consent": true, "lang": "fr"}, 400, "invalid_input"},
		{"/api/v1/meetings/" + running + "/feedback", adv, map[string]any{"consent": true}, 409, "meeting_not_ended"},
		{"/api/v1/meetings/" + noMail + "/feedback", adv, map[string]any{"consent": true}, 422, "no_customer_email"},
		{"/api/v1/meetings/" + mid + "/feedback", other, map[string]any{"consent": true}, 403, "forbidden"},
		{"/api/v1/meetings/" + mid + "/feedback", "", map[string]any{"consent": true}, 401, "unauthenticated"},
	} {
		if r := f.json("POST", c.path, c.token, c.body); r.status != c.status || r.errCode() != c.code {
			t.Errorf("POST %s %v: %d %s, want %d %s", c.path, c.body, r.status, r.body, c.status, c.code)
		}
	}
	r := f.json("POST", "/api/v1/meetings/"+mid+"/feedback", adv, map[string]any{"consent": true, "lang": "en"})
	var got feedbackJSON
	if err := json.Unmarshal(r.body, &got); r.status != 201 || err != nil || got.Status != "invited" || got.Lang != "en" ||
		got.Consent.Source != feedback.SourceAdvisor || got.Consent.RecordedBy != me.ID || got.Consent.Given.IsZero() {
		t.Fatalf("consent: %d %s", r.status, r.body)
	}
	if r := f.json("POST", "/api/v1/meetings/"+mid+"/feedback", adv, map[string]any{"consent": true}); r.status != 409 || r.errCode() != "feedback_already_requested" {
		t.Fatalf("second consent: %d %s", r.status, r.body)
	}
	inv, ok, err := svc.Invitation(context.Background(), feedback.Notice{MeetingID: mid})
	if err != nil || !ok {
		t.Fatalf("invitation: %v %v", ok, err)
	}
	link := "/api/v1/feedback/" + inv.Token
	r = f.json("GET", link, "", nil)
	var q struct {
		Lang     string `json:"lang"`
		Answered bool   `json:"answered"`
	}
	if err := json.Unmarshal(r.body, &q); r.status != 200 || err != nil || q.Answered || !strings.Contains(string(r.body), `"advisor_name":"Berater anna"`) {
		t.Fatalf("questionnaire: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "klara") || strings.Contains(string(r.body), cid) {
		t.Fatalf("the questionnaire shows the customer's data: %s", r.body)
	}
	for _, c := range []struct {
		body   any
		status int
	}{{map[string]any{"rating": 0}, 400}, {map[string]any{"rating": 9}, 400}, {map[string]any{"rating": 3, "text": strings.Repeat("x", 1001)}, 400}, {map[string]any{"rating": "5"}, 400}} {
		if r := f.json("POST", link, "", c.body); r.status != c.status {
			t.Errorf("answer %v: %d %s", c.body, r.status, r.body)
		}
	}
	if r := f.json("POST", "/api/v1/feedback/pfb_"+strings.Repeat("A", 43), "", map[string]any{"rating": 5}); r.status != 404 {
		t.Errorf("forged link: %d %s", r.status, r.body)
	}
	if r := f.json("POST", link, "", map[string]any{"rating": 5, "text": "Sehr <b>kompetent</b>\r\n\u202edanke"}); r.status != 204 {
		t.Fatalf("answer: %d %s", r.status, r.body)
	}
	if r := f.json("POST", link, "", map[string]any{"rating": 1}); r.status != 409 || r.errCode() != "feedback_answered" {
		t.Fatalf("second answer: %d %s", r.status, r.body)
	}
	if r := f.json("GET", link, "", nil); r.status != 200 || !strings.Contains(string(r.body), `"answered":true`) {
		t.Fatalf("answered questionnaire: %d %s", r.status, r.body)
	}
	for _, tok := range []string{adv, admin} {
		r = f.json("GET", "/api/v1/meetings/"+mid+"/feedback", tok, nil)
		if err := json.Unmarshal(r.body, &got); r.status != 200 || err != nil || got.Rating != 5 || got.Text != "Sehr <b>kompetent</b>\ndanke" || got.Status != "answered" {
			t.Fatalf("meeting feedback: %d %s", r.status, r.body)
		}
	}
	if r := f.json("GET", "/api/v1/meetings/"+mid+"/feedback", other, nil); r.status != 403 {
		t.Fatalf("a colleague reads the feedback: %d %s", r.status, r.body)
	}
	r = f.json("GET", "/api/v1/customers/"+cid+"/feedback", adv, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"rating":5`) {
		t.Fatalf("customer's feedback: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/customers/"+cid+"/feedback", other, nil); r.status != 200 || strings.Contains(string(r.body), "rating") {
		t.Fatalf("customer's feedback for a colleague: %d %s", r.status, r.body)
	}
	r = f.json("GET", "/api/v1/feedback/stats?from=2026-11&to=2026-12", admin, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `{"month":"2026-11","answers":1,"average":5,"ratings":[0,0,0,0,1]}`) ||
		strings.Contains(string(r.body), me.ID) || strings.Contains(string(r.body), cid) {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/feedback/stats", adv, nil); r.status != 403 {
		t.Fatalf("stats for an advisor: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/feedback/stats?from=2026-13&to=2026-12", admin, nil); r.status != 400 {
		t.Fatalf("stats for a bad month: %d %s", r.status, r.body)
	}

	// Withdrawal deletes the request and its answer.
	if r := f.json("DELETE", "/api/v1/meetings/"+mid+"/feedback", adv, nil); r.status != 204 {
		t.Fatalf("withdraw: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/meetings/"+mid+"/feedback", adv, nil); r.status != 404 {
		t.Fatalf("after withdrawal: %d %s", r.status, r.body)
	}
	// A second request expires unanswered after 14 days: 410.
	mid2, _ := fbMeeting(t, ms, cust, me.TenantID, me.ID, "Karl", "karl@example.test", true)
	if r := f.json("POST", "/api/v1/meetings/"+mid2+"/feedback", admin, map[string]any{"consent": true}); r.status != 201 {
		t.Fatalf("admin's consent: %d %s", r.status, r.body)
	}
	inv2, _, _ := svc.Invitation(context.Background(), feedback.Notice{MeetingID: mid2})
	f.clock.Advance(feedback.DefaultLinkTTL)
	if r := f.json("GET", "/api/v1/feedback/"+inv2.Token, "", nil); r.status != 410 || r.errCode() != "feedback_expired" {
		t.Fatalf("expired link: %d %s", r.status, r.body)
	}
	if r := f.json("POST", "/api/v1/feedback/"+inv2.Token, "", map[string]any{"rating": 4}); r.status != 410 {
		t.Fatalf("answer on an expired link: %d %s", r.status, r.body)
	}
}
