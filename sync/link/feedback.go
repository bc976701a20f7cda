package link

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Feedback statuses (Feedback.Status).
const (
	FeedbackInvited  = "invited"  // the link is mailed (or about to be) and works
	FeedbackAnswered = "answered" // the customer answered
	FeedbackExpired  = "expired"  // the link expired unanswered
)

// FeedbackConsent is how a customer's consent to a feedback request was
// recorded.
type FeedbackConsent struct {
	// Given is when the consent was recorded.
	Given time.Time `json:"given"`
	// Source says how it was given: "advisor" (recorded by the advisor).
	Source string `json:"source"`
	// RecordedBy is the user id of who recorded it.
	RecordedBy string `json:"recorded_by"`
}

// Feedback is one meeting's feedback request and answer
// (docs/feedback.md).
type Feedback struct {
	// MeetingID is the meeting asked about.
	MeetingID string `json:"meeting_id"`
	// AdvisorID is the meeting's advisor.
	AdvisorID string `json:"advisor_id"`
	// CustomerID is the customer asked.
	CustomerID string `json:"customer_id"`
	// Lang is the invitation's language ("de", "en").
	Lang string `json:"lang"`
	// Consent is the recorded consent.
	Consent FeedbackConsent `json:"consent"`
	// MeetingEnded is when the meeting ended.
	MeetingEnded time.Time `json:"meeting_ended"`
	// Created is when the request was made.
	Created time.Time `json:"created"`
	// Sent is when the invitation was mailed; nil before.
	Sent *time.Time `json:"sent,omitempty"`
	// Expires is when the link stops working.
	Expires time.Time `json:"expires"`
	// Status is FeedbackInvited, FeedbackAnswered or FeedbackExpired.
	Status string `json:"status"`
	// Answered is when the customer answered; nil before.
	Answered *time.Time `json:"answered,omitempty"`
	// Rating is 1 to 5 once answered.
	Rating int `json:"rating,omitempty"`
	// Text is the customer's optional comment (personal data: never log).
	Text string `json:"text,omitempty"`
	// DeleteAt is when the relay deletes the record.
	DeleteAt time.Time `json:"delete_at"`
}

// LogValue keeps the comment out of logs.
func (f Feedback) LogValue() slog.Value {
	return slog.GroupValue(slog.String("meeting", f.MeetingID), slog.String("status", f.Status))
}

func checkFeedback(path string, f Feedback) error {
	switch {
	case f.MeetingID == "":
		return badResponse(path, "feedback without meeting id")
	case f.Status == "":
		return badResponse(path, "feedback without status")
	case f.Rating < 0 || f.Rating > 5:
		return badResponse(path, "feedback rating out of range")
	}
	return nil
}

func feedbackPath(meetingID string) string { return meetingPath(meetingID) + "/feedback" }

// RecordFeedbackConsent records that the customer of an ended meeting
// agreed to one feedback request; the relay then mails the questionnaire's
// link. lang ("de", "en", or empty for the relay's default) is the mail's
// language for a meeting without a booking. A running meeting, a second
// request or a meeting without a customer's e-mail address yields an
// *[APIError] (codes "meeting_not_ended", "feedback_already_requested",
// "no_customer_email").
func (c *Client) RecordFeedbackConsent(ctx context.Context, meetingID, lang string) (Feedback, error) {
	path := feedbackPath(meetingID)
	body := struct {
		Consent bool   `json:"consent"`
		Lang    string `json:"lang,omitempty"`
	}{true, lang}
	var f Feedback
	if _, _, err := c.do(ctx, http.MethodPost, path, true, body, &f); err != nil {
		return Feedback{}, err
	}
	if err := checkFeedback(path, f); err != nil {
		return Feedback{}, err
	}
	return f, nil
}

// MeetingFeedback returns the meeting's feedback request and answer; a
// meeting without one yields an *[APIError] with [CodeNotFound].
func (c *Client) MeetingFeedback(ctx context.Context, meetingID string) (Feedback, error) {
	path := feedbackPath(meetingID)
	var f Feedback
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &f); err != nil {
		return Feedback{}, err
	}
	if err := checkFeedback(path, f); err != nil {
		return Feedback{}, err
	}
	return f, nil
}

// WithdrawFeedback deletes the meeting's feedback request and its answer
// (the customer withdrew their consent): an invitation not yet sent is not
// sent and the link stops working.
func (c *Client) WithdrawFeedback(ctx context.Context, meetingID string) error {
	_, _, err := c.do(ctx, http.MethodDelete, feedbackPath(meetingID), true, nil, nil)
	return err
}

// CustomerFeedback returns the customer's feedback the logged-in user may
// see (an advisor: of their own meetings; an admin: all).
func (c *Client) CustomerFeedback(ctx context.Context, customerID string) ([]Feedback, error) {
	path := customerPath(customerID) + "/feedback"
	var res struct {
		Feedback []Feedback `json:"feedback"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &res); err != nil {
		return nil, err
	}
	if res.Feedback == nil {
		return nil, badResponse(path, "no feedback list")
	}
	for _, f := range res.Feedback {
		if err := checkFeedback(path, f); err != nil {
			return nil, err
		}
	}
	return res.Feedback, nil
}
