package app

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeFeedback is the feedback a fakeRelay serves, per fake (the fake's
// own fields belong to other tests).
var fakeFeedback = struct {
	sync.Mutex
	byFake     map[*fakeRelay]map[string][]Feedback
	consentErr map[*fakeRelay]error
}{byFake: map[*fakeRelay]map[string][]Feedback{}, consentErr: map[*fakeRelay]error{}}

func (f *fakeRelay) CustomerFeedback(_ context.Context, customerID string) ([]Feedback, error) {
	f.record("CustomerFeedback %s", customerID)
	fakeFeedback.Lock()
	defer fakeFeedback.Unlock()
	return append([]Feedback(nil), fakeFeedback.byFake[f][customerID]...), nil
}

func (f *fakeRelay) RecordFeedbackConsent(_ context.Context, meetingID, lang string) (Feedback, error) {
	f.record("RecordFeedbackConsent %s %s", meetingID, lang)
	fakeFeedback.Lock()
	defer fakeFeedback.Unlock()
	if err := fakeFeedback.consentErr[f]; err != nil {
		return Feedback{}, err
	}
	now := time.Now()
	return Feedback{MeetingID: meetingID, Status: FeedbackInvited, ConsentGiven: now, ConsentSource: "advisor", Expires: now.Add(14 * 24 * time.Hour)}, nil
}

var _ FeedbackRelay = (*fakeRelay)(nil)

// TestCustomerHistoryShowsFeedback: the customers view shows a
// customer's answered feedback with its rating and comment, and offers to
// record consent for an ended meeting without a request; the relay's
// refusal is shown and the button works again.
func TestCustomerHistoryShowsFeedback(t *testing.T) {
	f := customersFake()
	now := time.Now()
	f.bk.history["c1"] = CustomerHistory{Meetings: []MeetingInfo{
		{ID: "m1", Title: "Depot", Status: MeetingEnded, Created: now.Add(-72 * time.Hour), Ended: now.Add(-71 * time.Hour)},
		{ID: "m2", Title: "Rente", Status: MeetingEnded, Created: now.Add(-2 * time.Hour), Ended: now.Add(-time.Hour)},
	}}
	fakeFeedback.Lock()
	fakeFeedback.byFake[f] = map[string][]Feedback{"c1": {{MeetingID: "m1", Status: FeedbackAnswered, Rating: 4,
		Text: "Sehr verständlich erklärt", MeetingEnded: now.Add(-71 * time.Hour), Answered: now.Add(-time.Hour)}}}
	fakeFeedback.consentErr[f] = errors.New("The meeting has no customer with an e-mail address to ask.")
	fakeFeedback.Unlock()
	t.Cleanup(func() {
		fakeFeedback.Lock()
		delete(fakeFeedback.byFake, f)
		delete(fakeFeedback.consentErr, f)
		fakeFeedback.Unlock()
	})

	h, p := customersHarness(t, f)
	p.list.Select(0)
	h.eventually("the feedback", func() bool { return h.shows("Feedback · ★★★★☆ 4/5") })
	answer := strings.Join(textsOf(p.feedback.rows.Objects[0]), " ")
	if !strings.Contains(answer, "“Sehr verständlich erklärt”") {
		t.Errorf("answer row %q", answer)
	}
	// m1 has its feedback; only m2 gets the consent button.
	if h.button("Customer agreed to feedback: Depot") != nil || h.button("Customer agreed to feedback: Rente") == nil {
		t.Fatalf("consent buttons: %q", h.texts())
	}
	h.tap("Customer agreed to feedback: Rente")
	h.eventually("the confirmation", func() bool { return h.dialogOpen() && h.shows("Send a feedback request?") })
	h.tap("Customer agreed")
	h.eventually("the refusal", func() bool { return strings.Contains(p.feedback.state.Text, "no customer with an e-mail") })

	fakeFeedback.Lock()
	fakeFeedback.consentErr[f] = nil
	fakeFeedback.Unlock()
	h.tap("Customer agreed to feedback: Rente")
	h.eventually("the confirmation", func() bool { return h.dialogOpen() })
	h.tap("Customer agreed")
	h.eventually("the request", func() bool { return h.shows("Feedback · requested") })
	if h.button("Customer agreed to feedback: Rente") != nil || !strings.Contains(p.feedback.state.Text, "on its way") {
		t.Errorf("after the consent: %q", h.texts())
	}
	if n := f.called("RecordFeedbackConsent m2"); n != 2 {
		t.Errorf("consent calls %q", f.Calls())
	}
}

func TestFeedbackLine(t *testing.T) {
	loc := time.UTC
	d := time.Date(2026, 11, 23, 10, 0, 0, 0, loc)
	for _, c := range []struct {
		f            Feedback
		title, right string
	}{
		{Feedback{Status: FeedbackAnswered, Rating: 2, Answered: d, MeetingEnded: d}, "Feedback · ★★☆☆☆ 2/5", "Answered 23 Nov 2026 about the meeting of 23 Nov 2026"},
		{Feedback{Status: FeedbackExpired, Expires: d}, "Feedback · not answered", "expired on 23 Nov 2026"},
		{Feedback{Status: FeedbackInvited, ConsentGiven: d, Expires: d.Add(14 * 24 * time.Hour)}, "Feedback · requested", "until 7 Dec 2026"},
		{Feedback{Status: FeedbackAnswered, Rating: 9}, "Feedback · ☆☆☆☆☆ 9/5", "Answered"},
	} {
		title, detail := feedbackLine(c.f, loc)
		if title != c.title || !strings.Contains(detail, c.right) {
			t.Errorf("%+v: %q %q", c.f, title, detail)
		}
	}
}
