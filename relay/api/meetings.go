package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"parley/relay/auth"
	"parley/relay/meeting"
)

// Meetings is what the API needs from the meetings service
// (*meeting.Service).
type Meetings interface {
	CreateInstant(ctx context.Context, nm meeting.NewMeeting) (meeting.Meeting, string, error)
	CreateBooked(ctx context.Context, nm meeting.NewMeeting) (meeting.Meeting, string, error)
	Get(ctx context.Context, actor meeting.Actor, id string) (meeting.Meeting, error)
	List(ctx context.Context, actor meeting.Actor, limit int) ([]meeting.Meeting, error)
	RotateLink(ctx context.Context, actor meeting.Actor, id string) (string, error)
	End(ctx context.Context, actor meeting.Actor, id string) error
	Participants(ctx context.Context, actor meeting.Actor, id string) ([]meeting.Participant, error)
	Admit(ctx context.Context, actor meeting.Actor, meetingID, participantID string) error
	Reject(ctx context.Context, actor meeting.Actor, meetingID, participantID string) error
	Remove(ctx context.Context, actor meeting.Actor, meetingID, participantID string) error
	Resolve(ctx context.Context, token string) (meeting.Meeting, error)
	Join(ctx context.Context, token string, req meeting.JoinRequest) (meeting.Joined, error)
	Leave(ctx context.Context, secret string) error
	ParticipantBySecret(ctx context.Context, secret string) (meeting.Customer, error)
	Subscribe(meetingID string) (<-chan meeting.Event, func())
}

// meetingError maps the meetings service's errors for toError; nil when
// err is not one of them.
func meetingError(err error) *Error {
	var nyo *meeting.NotYetOpenError
	var in *meeting.InputError
	switch {
	case errors.As(err, &nyo):
		return &Error{Status: http.StatusConflict, Code: "link_not_yet_open",
			Message: "This meeting link opens at " + nyo.OpensAt.UTC().Format(time.RFC3339) + ".", OpensAt: nyo.OpensAt.UTC()}
	case errors.As(err, &in):
		return badRequest("Field %q: %s", in.Field, in.Msg)
	case errors.Is(err, meeting.ErrLinkInvalid):
		return &Error{Status: http.StatusNotFound, Code: "link_invalid", Message: "This meeting link is not valid. Ask your advisor for a new one."}
	case errors.Is(err, meeting.ErrLinkExpired):
		return &Error{Status: http.StatusGone, Code: "link_expired", Message: "This meeting link has expired. Ask your advisor for a new one."}
	case errors.Is(err, meeting.ErrMeetingEnded):
		return &Error{Status: http.StatusGone, Code: "meeting_ended", Message: "This meeting has ended."}
	case errors.Is(err, meeting.ErrFull):
		return &Error{Status: http.StatusConflict, Code: "meeting_full", Message: "This meeting cannot take more participants right now."}
	case errors.Is(err, meeting.ErrWrongState):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: "The participant is not in a state that allows this."}
	case errors.Is(err, meeting.ErrSecretInvalid):
		return errUnauth
	case errors.Is(err, meeting.ErrForbidden):
		return errForbidden
	case errors.Is(err, meeting.ErrNotFound):
		return errNotFound
	}
	return nil
}

func actorOf(s auth.Session) meeting.Actor {
	return meeting.Actor{TenantID: s.TenantID, UserID: s.UserID, Admin: s.Role == auth.RoleAdmin}
}

type meetingJSON struct {
	ID             string     `json:"id"`
	Type           string     `json:"type"`
	Status         string     `json:"status"`
	Title          string     `json:"title,omitempty"`
	AdvisorID      string     `json:"advisor_id"`
	CustomerID     string     `json:"customer_id,omitempty"`
	Created        time.Time  `json:"created"`
	ScheduledStart *time.Time `json:"scheduled_start,omitempty"`
	Started        *time.Time `json:"started,omitempty"`
	Ended          *time.Time `json:"ended,omitempty"`
	LinkOpensAt    time.Time  `json:"link_opens_at"`
	LinkExpiresAt  time.Time  `json:"link_expires_at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func toMeetingJSON(m meeting.Meeting) meetingJSON {
	return meetingJSON{ID: m.ID, Type: string(m.Type), Status: string(m.Status), Title: m.Title, AdvisorID: m.AdvisorID, CustomerID: m.CustomerID,
		Created: m.Created.UTC(), ScheduledStart: optTime(m.ScheduledStart), Started: optTime(m.Started), Ended: optTime(m.Ended),
		LinkOpensAt: m.LinkOpensAt.UTC(), LinkExpiresAt: m.LinkExpiresAt.UTC()}
}

type newMeetingRequest struct {
	Type           string     `json:"type"`
	Title          string     `json:"title"`
	ScheduledStart *time.Time `json:"scheduled_start"`
	CustomerID     string     `json:"customer_id"`
}

func decodeNewMeeting(body []byte) (newMeetingRequest, error) {
	var req newMeetingRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if req.Type == "" {
		req.Type = string(meeting.TypeInstant)
	}
	switch req.Type {
	case string(meeting.TypeInstant):
		if req.ScheduledStart != nil {
			return req, badRequest("An instant meeting has no \"scheduled_start\".")
		}
	case string(meeting.TypeBooked):
		if req.ScheduledStart == nil {
			return req, badRequest("A booked meeting needs \"scheduled_start\".")
		}
	default:
		return req, badRequest("Field \"type\" must be \"instant\" or \"booked\".")
	}
	if len(req.Title) > 800 {
		return req, badRequest("The title is longer than allowed.")
	}
	return req, nil
}

type joinBody struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

func decodeJoin(body []byte) (joinBody, error) {
	var req joinBody
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if strings.TrimSpace(req.Name) == "" {
		return req, badRequest("Field \"name\" is required.")
	}
	if len(req.Name) > 400 || len(req.Phone) > 64 {
		return req, badRequest("A field is longer than allowed.")
	}
	return req, nil
}

func (h *handler) createMeeting(w http.ResponseWriter, r *http.Request, s auth.Session) {
	req, ok := decodeRequest(w, r, decodeNewMeeting)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	u, err := h.auth.GetUser(ctx, s.TenantID, s.UserID)
	if err != nil {
		writeError(w, err)
		return
	}
	nm := meeting.NewMeeting{TenantID: s.TenantID, AdvisorID: s.UserID, AdvisorName: u.DisplayName, Title: req.Title}
	if req.CustomerID != "" {
		// The meeting joins the customer's history; the profile must be
		// one of the caller's tenant.
		if h.customers == nil {
			writeError(w, errNotFound)
			return
		}
		if _, err := h.customers.Get(ctx, customerActor(s), req.CustomerID); err != nil {
			writeError(w, err)
			return
		}
		nm.CustomerID = req.CustomerID
	}
	var m meeting.Meeting
	var token string
	if req.Type == string(meeting.TypeBooked) {
		nm.ScheduledStart = *req.ScheduledStart
		m, token, err = h.meetings.CreateBooked(ctx, nm)
	} else {
		m, token, err = h.meetings.CreateInstant(ctx, nm)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if nm.CustomerID != "" {
		// A meeting is an interaction: the profile's retention restarts.
		if err := h.customers.Touch(ctx, s.TenantID, nm.CustomerID, h.clock.Now()); err != nil {
			h.log.Warn("customer: touch failed", "customer_id", nm.CustomerID, "error", err)
		}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"meeting": toMeetingJSON(m), "join_token": token, "join_url": h.joinURL(r, token)})
}

func (h *handler) listMeetings(w http.ResponseWriter, r *http.Request, s auth.Session) {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			writeError(w, badRequest("Parameter \"limit\" must be between 1 and 200."))
			return
		}
		limit = n
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	ms, err := h.meetings.List(ctx, actorOf(s), limit)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]meetingJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, toMeetingJSON(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"meetings": out})
}

func (h *handler) getMeeting(w http.ResponseWriter, r *http.Request, s auth.Session) {
	ctx, cancel := reqContext(r)
	defer cancel()
	m, err := h.meetings.Get(ctx, actorOf(s), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toMeetingJSON(m))
}

func (h *handler) rotateLink(w http.ResponseWriter, r *http.Request, s auth.Session) {
	ctx, cancel := reqContext(r)
	defer cancel()
	token, err := h.meetings.RotateLink(ctx, actorOf(s), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"join_token": token, "join_url": h.joinURL(r, token)})
}

func (h *handler) endMeeting(w http.ResponseWriter, r *http.Request, s auth.Session) {
	ctx, cancel := reqContext(r)
	defer cancel()
	if err := h.meetings.End(ctx, actorOf(s), r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type participantJSON struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Phone    string     `json:"phone,omitempty"`
	State    string     `json:"state"`
	Joined   time.Time  `json:"joined"`
	Admitted *time.Time `json:"admitted,omitempty"`
	Left     *time.Time `json:"left,omitempty"`
}

func (h *handler) listParticipants(w http.ResponseWriter, r *http.Request, s auth.Session) {
	ctx, cancel := reqContext(r)
	defer cancel()
	ps, err := h.meetings.Participants(ctx, actorOf(s), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]participantJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, participantJSON{ID: p.ID, Name: p.Name, Phone: p.Phone, State: string(p.State),
			Joined: p.Joined.UTC(), Admitted: optTime(p.Admitted), Left: optTime(p.Left)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"participants": out})
}

// participantAction runs "admit", "reject" or "remove" on the {pid}
// participant of meeting {id}.
func participantAction(op string) func(*handler, http.ResponseWriter, *http.Request, auth.Session) {
	return func(h *handler, w http.ResponseWriter, r *http.Request, s auth.Session) {
		fn := map[string]func(context.Context, meeting.Actor, string, string) error{
			"admit": h.meetings.Admit, "reject": h.meetings.Reject, "remove": h.meetings.Remove,
		}[op]
		ctx, cancel := reqContext(r)
		defer cancel()
		if err := fn(ctx, actorOf(s), r.PathValue("id"), r.PathValue("pid")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// resolveLink tells the customer page what a join link leads to: only
// what a person holding the link may see.
func (h *handler) resolveLink(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	ctx, cancel := reqContext(r)
	defer cancel()
	m, err := h.meetings.Resolve(ctx, r.PathValue("token"))
	if err != nil {
		writeError(w, err)
		return
	}
	advisor := ""
	if u, err := h.auth.GetUser(ctx, m.TenantID, m.AdvisorID); err == nil {
		advisor = u.DisplayName
	}
	writeJSON(w, http.StatusOK, map[string]any{"title": m.Title, "advisor_name": advisor, "status": m.Status,
		"link_expires_at": m.LinkExpiresAt.UTC()})
}

func (h *handler) joinMeeting(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	req, ok := decodeRequest(w, r, decodeJoin)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	j, err := h.meetings.Join(ctx, r.PathValue("token"), meeting.JoinRequest{Name: req.Name, Phone: req.Phone, IP: source(r)})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"participant_id": j.ParticipantID, "secret": j.Secret, "state": string(meeting.StateWaiting)})
}

// participantState lets a customer's page poll whether they were admitted;
// the participant secret is the bearer token.
func (h *handler) participantState(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	secret := bearer(r)
	if secret == "" {
		writeError(w, errUnauth)
		return
	}
	wait, err := parseWait(r.URL.Query().Get("wait"))
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	c, err := h.meetings.ParticipantBySecret(ctx, secret)
	if err != nil {
		writeError(w, err)
		return
	}
	if wait > 0 && c.Participant.State == meeting.StateWaiting {
		c, err = h.awaitChange(ctx, secret, c, wait)
		if err != nil {
			writeError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"participant_id": c.Participant.ID, "state": string(c.Participant.State), "meeting_status": string(c.Meeting.Status)})
}

// maxWait bounds a long poll of the participant's state.
const maxWait = 25 * time.Second

// parseWait reads the optional long-poll duration in seconds (0–25).
func parseWait(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || time.Duration(n)*time.Second > maxWait {
		return 0, badRequest("Parameter \"wait\" must be a number of seconds from 0 to %d.", int(maxWait/time.Second))
	}
	return time.Duration(n) * time.Second, nil
}

// awaitChange holds a waiting customer's state request until the advisor
// admits or turns them away, the meeting changes, or wait passes, so the
// page learns of its admission at once instead of at its next poll.
func (h *handler) awaitChange(ctx context.Context, secret string, c meeting.Customer, wait time.Duration) (meeting.Customer, error) {
	events, unsubscribe := h.meetings.Subscribe(c.Meeting.ID)
	defer unsubscribe()
	// Read again after subscribing: a change in between is not missed.
	c, err := h.meetings.ParticipantBySecret(ctx, secret)
	if err != nil || c.Participant.State != meeting.StateWaiting {
		return c, err
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return c, nil
		case <-timer.C:
			return c, nil
		case ev, ok := <-events:
			if !ok {
				return c, nil
			}
			if ev.ParticipantID != "" && ev.ParticipantID != c.Participant.ID && !ev.Lagged {
				continue
			}
			return h.meetings.ParticipantBySecret(ctx, secret)
		}
	}
}

// joinURL is the link a customer opens: the customer page at /j/{token}.
func (h *handler) joinURL(r *http.Request, token string) string {
	return h.baseURL(r) + "/j/" + token
}

// leaveMeeting lets the calling customer leave the waiting room or the
// meeting (Authorization: Bearer <participant secret>).
func (h *handler) leaveMeeting(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	secret := bearer(r)
	if secret == "" {
		writeError(w, errUnauth)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	if err := h.meetings.Leave(ctx, secret); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
