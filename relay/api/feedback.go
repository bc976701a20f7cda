package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"parley/relay/auth"
	"parley/relay/feedback"
)

// Feedback is the feedback questionnaire (*feedback.Service): the
// advisor's consent record and reading of answers, the admin's monthly
// counters, and the customer's questionnaire link.
type Feedback interface {
	RecordConsent(ctx context.Context, a feedback.Actor, meetingID string, in feedback.ConsentInput) (feedback.Feedback, error)
	ForMeeting(ctx context.Context, a feedback.Actor, meetingID string) (feedback.Feedback, error)
	Withdraw(ctx context.Context, a feedback.Actor, meetingID string) error
	ByCustomer(ctx context.Context, a feedback.Actor, customerID string) ([]feedback.Feedback, error)
	Stats(ctx context.Context, a feedback.Actor, from, to string) ([]feedback.MonthStats, error)
	Questionnaire(ctx context.Context, token string) (feedback.Questionnaire, error)
	Answer(ctx context.Context, token string, ans feedback.Answer) error
}

func feedbackActor(s auth.Session) feedback.Actor {
	return feedback.Actor{TenantID: s.TenantID, UserID: s.UserID, Admin: s.Role == auth.RoleAdmin}
}

// feedbackError maps the feedback service's errors to API errors.
func feedbackError(err error) error {
	var in *feedback.InputError
	switch {
	case errors.As(err, &in):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_input", Message: in.Error(), Field: in.Field}
	case errors.Is(err, feedback.ErrNotEnded):
		return &Error{Status: http.StatusConflict, Code: "meeting_not_ended", Message: "End the meeting first: the feedback request is sent after it."}
	case errors.Is(err, feedback.ErrNoCustomer):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "no_customer_email", Message: "The meeting has no customer with an e-mail address to ask."}
	case errors.Is(err, feedback.ErrAlreadyRequested):
		return &Error{Status: http.StatusConflict, Code: "feedback_already_requested", Message: "The customer of this meeting was already asked for feedback."}
	case errors.Is(err, feedback.ErrAnswered):
		return &Error{Status: http.StatusConflict, Code: "feedback_answered", Message: "This questionnaire was already answered. Thank you!"}
	case errors.Is(err, feedback.ErrExpired):
		return &Error{Status: http.StatusGone, Code: "feedback_expired", Message: "This questionnaire's link has expired."}
	case errors.Is(err, feedback.ErrForbidden):
		return errForbidden
	case errors.Is(err, feedback.ErrNotFound):
		return errNotFound
	case errors.Is(err, feedback.ErrInvalidInput):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_input", Message: "The request is not valid."}
	}
	return err
}

// feedbackJSON is a meeting's feedback as the advisor sees it.
type feedbackJSON struct {
	MeetingID    string           `json:"meeting_id"`
	AdvisorID    string           `json:"advisor_id"`
	CustomerID   string           `json:"customer_id"`
	Lang         string           `json:"lang"`
	Consent      feedback.Consent `json:"consent"`
	MeetingEnded time.Time        `json:"meeting_ended"`
	Created      time.Time        `json:"created"`
	Sent         *time.Time       `json:"sent,omitempty"`
	Expires      time.Time        `json:"expires"`
	Status       string           `json:"status"`
	Answered     *time.Time       `json:"answered,omitempty"`
	Rating       int              `json:"rating,omitempty"`
	Text         string           `json:"text,omitempty"`
	DeleteAt     time.Time        `json:"delete_at"`
}

func toFeedbackJSON(f feedback.Feedback) feedbackJSON {
	return feedbackJSON{MeetingID: f.MeetingID, AdvisorID: f.AdvisorID, CustomerID: f.CustomerID, Lang: f.Lang, Consent: f.Consent,
		MeetingEnded: f.MeetingEnded, Created: f.Created, Sent: optTime(f.Sent), Expires: f.Expires, Status: string(f.Status),
		Answered: optTime(f.Answered), Rating: f.Rating, Text: f.Text, DeleteAt: f.DeleteAt}
}

// feedbackCall runs fn with a request context and writes its answer.
func (h *handler) feedbackCall(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context) (int, any, error)) {
	if h.feedback == nil {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	status, v, err := fn(ctx)
	if err != nil {
		writeError(w, feedbackError(err))
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

type consentRequest struct {
	// Consent must be true: the customer agreed to one feedback request.
	Consent bool `json:"consent"`
	// Lang is the mail's language for a meeting without a booking.
	Lang string `json:"lang"`
}

func (h *handler) feedbackConsent(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if h.feedback == nil {
		writeError(w, errNotFound)
		return
	}
	req, ok := decodeRequest(w, r, func(b []byte) (consentRequest, error) {
		var c consentRequest
		err := decodeStrict(b, &c)
		return c, err
	})
	if !ok {
		return
	}
	h.feedbackCall(w, r, func(ctx context.Context) (int, any, error) {
		f, err := h.feedback.RecordConsent(ctx, feedbackActor(s), r.PathValue("id"), feedback.ConsentInput{Consent: req.Consent, Lang: req.Lang})
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, toFeedbackJSON(f), nil
	})
}

func (h *handler) feedbackOfMeeting(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.feedbackCall(w, r, func(ctx context.Context) (int, any, error) {
		f, err := h.feedback.ForMeeting(ctx, feedbackActor(s), r.PathValue("id"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, toFeedbackJSON(f), nil
	})
}

func (h *handler) feedbackWithdraw(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.feedbackCall(w, r, func(ctx context.Context) (int, any, error) {
		return http.StatusNoContent, nil, h.feedback.Withdraw(ctx, feedbackActor(s), r.PathValue("id"))
	})
}

func (h *handler) feedbackOfCustomer(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.feedbackCall(w, r, func(ctx context.Context) (int, any, error) {
		fs, err := h.feedback.ByCustomer(ctx, feedbackActor(s), r.PathValue("id"))
		if err != nil {
			return 0, nil, err
		}
		out := make([]feedbackJSON, 0, len(fs))
		for _, f := range fs {
			out = append(out, toFeedbackJSON(f))
		}
		return http.StatusOK, map[string]any{"feedback": out}, nil
	})
}

func (h *handler) feedbackStats(w http.ResponseWriter, r *http.Request, s auth.Session) {
	q := r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	if to == "" {
		to = h.clock.Now().UTC().Format("2006-01")
	}
	if from == "" {
		if t, err := time.Parse("2006-01", to); err == nil {
			from = t.AddDate(0, -11, 0).Format("2006-01")
		}
	}
	h.feedbackCall(w, r, func(ctx context.Context) (int, any, error) {
		st, err := h.feedback.Stats(ctx, feedbackActor(s), from, to)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]any{"months": st}, nil
	})
}

func (h *handler) feedbackQuestionnaire(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	h.feedbackCall(w, r, func(ctx context.Context) (int, any, error) {
		q, err := h.feedback.Questionnaire(ctx, r.PathValue("token"))
		if err != nil {
			return 0, nil, err
		}
		out := map[string]any{"lang": q.Lang, "meeting_ended": q.MeetingEnded, "expires": q.Expires,
			"answered": !q.Answered.IsZero(), "max_text": feedback.MaxTextRunes}
		if u, err := h.auth.GetUser(ctx, q.TenantID, q.AdvisorID); err == nil {
			out["advisor_name"] = u.DisplayName
		}
		if t, err := h.auth.TenantByID(ctx, q.TenantID); err == nil {
			out["tenant_name"] = t.Name
		}
		return http.StatusOK, out, nil
	})
}

type answerRequest struct {
	Rating int    `json:"rating"`
	Text   string `json:"text"`
}

func (h *handler) feedbackAnswer(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if h.feedback == nil {
		writeError(w, errNotFound)
		return
	}
	req, ok := decodeRequest(w, r, func(b []byte) (answerRequest, error) {
		var a answerRequest
		err := decodeStrict(b, &a)
		return a, err
	})
	if !ok {
		return
	}
	h.feedbackCall(w, r, func(ctx context.Context) (int, any, error) {
		return http.StatusNoContent, nil, h.feedback.Answer(ctx, r.PathValue("token"), feedback.Answer{Rating: req.Rating, Text: req.Text})
	})
}
