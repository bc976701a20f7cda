package server

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/feedback"
	"parley/relay/privacy"
)

var feedbackLink = regexp.MustCompile(`https://beratung\.bank\.test/f/(pfb_[A-Za-z0-9_-]{43})`)

// TestFeedbackThroughTheRelay: the advisor ends a meeting and records the
// customer's consent; the relay mails one invitation with the link; the
// customer answers once through the public API; the advisor and the
// customer's history show it; export and erasure include it; a hold
// keeps it past 180 days, and the sweep deletes it when released.
func TestFeedbackThroughTheRelay(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	box := &mailbox{}
	s, api := startBookingRelay(t, clk, box)
	admin := api.login()

	var c struct{ ID string }
	if st := api.call("POST", "/api/v1/customers", admin, map[string]string{"first_name": "Frieda", "last_name": "Feedback",
		"email": "frieda@kunde.test"}, &c); st != http.StatusCreated || c.ID == "" {
		t.Fatalf("customer: %d", st)
	}
	var m struct {
		Meeting struct{ ID string } `json:"meeting"`
	}
	if st := api.call("POST", "/api/v1/meetings", admin, map[string]string{"title": "Beratung", "customer_id": c.ID}, &m); st != http.StatusCreated {
		t.Fatalf("meeting: %d", st)
	}
	mid := m.Meeting.ID
	if st := api.call("POST", "/api/v1/meetings/"+mid+"/feedback", admin, map[string]any{"consent": true}, nil); st != http.StatusConflict {
		t.Fatalf("consent before the end: %d", st)
	}
	if st := api.call("POST", "/api/v1/meetings/"+mid+"/end", admin, nil, nil); st != http.StatusNoContent {
		t.Fatalf("end: %d", st)
	}
	if n, err := s.DeliverDue(t.Context()); err != nil || len(box.take()) != 0 {
		t.Fatalf("mail without consent: %d %v", n, err)
	}
	if st := api.call("POST", "/api/v1/meetings/"+mid+"/feedback", admin, map[string]any{"consent": true, "lang": "en"}, nil); st != http.StatusCreated {
		t.Fatalf("consent: %d", st)
	}
	mails := box.await(t, s, 1)
	if len(mails) != 1 || mails[0].To != "frieda@kunde.test" || mails[0].Subject != "How was your consultation?" {
		t.Fatalf("invitation: %+v", mails)
	}
	link := feedbackLink.FindStringSubmatch(mails[0].Text)
	if link == nil || !strings.Contains(mails[0].HTML, link[0]) {
		t.Fatalf("no questionnaire link in\n%s", mails[0].Text)
	}
	// One invitation only: nothing more is due.
	if _, err := s.DeliverDue(t.Context()); err != nil || len(box.take()) != 0 {
		t.Fatalf("a second mail: %v", err)
	}
	if st := api.call("POST", "/api/v1/feedback/"+link[1], "", map[string]any{"rating": 4, "text": "Klar erklärt"}, nil); st != http.StatusNoContent {
		t.Fatalf("answer: %d", st)
	}
	var fb struct {
		Status, Text string
		Rating       int
		Sent         *time.Time
	}
	if st := api.call("GET", "/api/v1/meetings/"+mid+"/feedback", admin, nil, &fb); st != http.StatusOK || fb.Rating != 4 || fb.Text != "Klar erklärt" || fb.Sent == nil {
		t.Fatalf("feedback: %d %+v", st, fb)
	}
	if strings.Contains(storeText(t, s), "Klar erkl") {
		t.Fatal("the comment is stored in plain text")
	}
	files := exportZip(t, api, admin, c.ID)
	var exported []feedback.Feedback
	if err := json.Unmarshal(files["feedback/feedback.json"], &exported); err != nil || len(exported) != 1 || exported[0].Text != "Klar erklärt" {
		t.Fatalf("export: %v %+v (files %v)", err, exported, keys(files))
	}

	// A legal hold on the customer keeps the answer past 180 days.
	var hold struct{ ID string }
	if st := api.call("POST", "/api/v1/retention/holds", admin, map[string]string{"subject_kind": "customer", "subject_id": c.ID, "reason": "Beschwerdeverfahren"}, &hold); st != http.StatusCreated {
		t.Fatalf("hold: %d", st)
	}
	clk.Advance(feedback.DefaultRetention + time.Hour)
	admin = api.login()
	if err := s.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := api.call("GET", "/api/v1/meetings/"+mid+"/feedback", admin, nil, nil); st != http.StatusOK {
		t.Fatalf("held feedback after 180 days: %d", st)
	}
	if st := api.call("DELETE", "/api/v1/retention/holds/"+hold.ID, admin, nil, nil); st != http.StatusNoContent {
		t.Fatalf("release: %d", st)
	}
	if st := api.call("GET", "/api/v1/meetings/"+mid+"/feedback", admin, nil, nil); st != http.StatusNotFound {
		t.Fatalf("feedback past its deadline (filtered on read): %d", st)
	}
	if err := s.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(storeText(t, s), "feedback/r/") {
		t.Fatal("the sweep left the feedback record")
	}
}

// TestFeedbackErasure: erasing the customer deletes the request and the
// link stops working.
func TestFeedbackErasure(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	box := &mailbox{}
	s, api := startBookingRelay(t, clk, box)
	admin := api.login()
	var c struct{ ID string }
	api.call("POST", "/api/v1/customers", admin, map[string]string{"first_name": "Erna", "last_name": "Erase", "email": "erna@kunde.test"}, &c)
	var m struct {
		Meeting struct{ ID string } `json:"meeting"`
	}
	api.call("POST", "/api/v1/meetings", admin, map[string]string{"customer_id": c.ID}, &m)
	api.call("POST", "/api/v1/meetings/"+m.Meeting.ID+"/end", admin, nil, nil)
	if st := api.call("POST", "/api/v1/meetings/"+m.Meeting.ID+"/feedback", admin, map[string]any{"consent": true}, nil); st != http.StatusCreated {
		t.Fatalf("consent: %d", st)
	}
	mails := box.await(t, s, 1)
	link := feedbackLink.FindStringSubmatch(mails[0].Text)
	if link == nil || mails[0].Subject != "Wie war Ihre Beratung?" {
		t.Fatalf("invitation: %+v", mails[0])
	}
	var rc privacy.Receipt
	if st := api.call("POST", "/api/v1/customers/"+c.ID+"/erasure", admin, nil, &rc); st != http.StatusOK || rc.Deleted["feedback"] != 1 {
		t.Fatalf("erasure: %d %+v", st, rc)
	}
	if st := api.call("GET", "/api/v1/feedback/"+link[1], "", nil, nil); st != http.StatusNotFound {
		t.Fatalf("link after erasure: %d", st)
	}
}
