package link

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Meeting types and statuses, and participant states, as in
// docs/api-contract.md ("Meetings").
const (
	MeetingInstant = "instant" // created on the spot, link usable at once
	MeetingBooked  = "booked"  // has a scheduled start

	ParticipantWaiting  = "waiting"  // in the waiting room
	ParticipantAdmitted = "admitted" // let in by the advisor
	ParticipantRejected = "rejected" // turned away from the waiting room
	ParticipantRemoved  = "removed"  // removed after being admitted
	ParticipantEnded    = "ended"    // was there when the meeting ended
	ParticipantLeft     = "left"     // left by themself
)

// Meeting is a meeting as the relay describes it (MEETING in the contract).
type Meeting struct {
	ID        string `json:"id"`         // the meeting's id on the relay
	Type      string `json:"type"`       // MeetingInstant or MeetingBooked
	Status    string `json:"status"`     // e.g. "open", "ended"
	Title     string `json:"title"`      // optional title given by the advisor
	AdvisorID string `json:"advisor_id"` // id of the advisor who owns it
	// Created is when the meeting was created.
	Created time.Time `json:"created"`
	// ScheduledStart is the start of a booked meeting, nil for instant ones.
	ScheduledStart *time.Time `json:"scheduled_start,omitempty"`
	// Started is when the first customer entered, nil before.
	Started *time.Time `json:"started,omitempty"`
	// Ended is when the meeting ended, nil while it runs.
	Ended *time.Time `json:"ended,omitempty"`
	// LinkOpensAt is from when the join link works.
	LinkOpensAt time.Time `json:"link_opens_at"`
	// LinkExpiresAt is when the join link stops working.
	LinkExpiresAt time.Time `json:"link_expires_at"`
}

// LogValue keeps the title (which may name a customer) out of logs.
func (m Meeting) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", m.ID), slog.String("type", m.Type), slog.String("status", m.Status))
}

// JoinLink is a meeting's join link for customers. The relay shows the
// token only once: when the meeting is created or the link is rotated.
type JoinLink struct {
	Token string `json:"join_token"` // the secret token, "pmj_..."
	URL   string `json:"join_url"`   // the customer page's address with the token
}

// LogValue keeps the secret token out of logs.
func (l JoinLink) LogValue() slog.Value { return slog.StringValue("[join link]") }

// Participant is a customer who joined a meeting through its link.
type Participant struct {
	ID    string `json:"id"`    // the participant's id in the meeting
	Name  string `json:"name"`  // the name the customer gave
	Phone string `json:"phone"` // the phone number, if the customer gave one
	State string `json:"state"` // one of the Participant… states
	// Joined is when the customer entered the waiting room.
	Joined time.Time `json:"joined"`
	// Admitted is when the advisor let them in, nil before.
	Admitted *time.Time `json:"admitted,omitempty"`
	// Left is when they left or were removed, nil while present.
	Left *time.Time `json:"left,omitempty"`
}

// LogValue keeps the name and phone number out of logs.
func (p Participant) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", p.ID), slog.String("state", p.State))
}

func meetingPath(id string) string { return "/api/v1/meetings/" + url.PathEscape(id) }

func checkMeeting(path string, m Meeting) error {
	if m.ID == "" || m.Status == "" {
		return badResponse(path, "meeting without id or status")
	}
	return nil
}

func checkLink(path string, l JoinLink) error {
	if l.Token == "" || l.URL == "" {
		return badResponse(path, "join token or URL missing")
	}
	return nil
}

// CreateMeeting creates an instant meeting owned by the logged-in user,
// with an optional title, and returns it with its join link.
func (c *Client) CreateMeeting(ctx context.Context, title string) (Meeting, JoinLink, error) {
	const path = "/api/v1/meetings"
	body := struct {
		Type  string `json:"type"`
		Title string `json:"title,omitempty"`
	}{MeetingInstant, title}
	var res struct {
		Meeting Meeting `json:"meeting"`
		JoinLink
	}
	if _, _, err := c.do(ctx, http.MethodPost, path, true, body, &res); err != nil {
		return Meeting{}, JoinLink{}, err
	}
	if err := checkMeeting(path, res.Meeting); err != nil {
		return Meeting{}, JoinLink{}, err
	}
	if err := checkLink(path, res.JoinLink); err != nil {
		return Meeting{}, JoinLink{}, err
	}
	return res.Meeting, res.JoinLink, nil
}

// Meeting returns the meeting with the given id (its advisor or a tenant
// admin only).
func (c *Client) Meeting(ctx context.Context, id string) (Meeting, error) {
	path := meetingPath(id)
	var m Meeting
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &m); err != nil {
		return Meeting{}, err
	}
	if err := checkMeeting(path, m); err != nil {
		return Meeting{}, err
	}
	return m, nil
}

// Meetings returns up to limit (1–200) of the signed-in user's own
// meetings, newest first.
func (c *Client) Meetings(ctx context.Context, limit int) ([]Meeting, error) {
	const path = "/api/v1/meetings"
	var res struct {
		Meetings []Meeting `json:"meetings"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, fmt.Sprintf("%s?limit=%d", path, limit), true, nil, &res); err != nil {
		return nil, err
	}
	if res.Meetings == nil {
		return nil, badResponse(path, "no meeting list")
	}
	for _, m := range res.Meetings {
		if err := checkMeeting(path, m); err != nil {
			return nil, err
		}
	}
	return res.Meetings, nil
}

// RotateLink gives the meeting a new join link; the old one stops working.
func (c *Client) RotateLink(ctx context.Context, id string) (JoinLink, error) {
	path := meetingPath(id) + "/link"
	var l JoinLink
	if _, _, err := c.do(ctx, http.MethodPost, path, true, nil, &l); err != nil {
		return JoinLink{}, err
	}
	if err := checkLink(path, l); err != nil {
		return JoinLink{}, err
	}
	return l, nil
}

// EndMeeting ends the meeting: everyone leaves and the link dies.
func (c *Client) EndMeeting(ctx context.Context, id string) error {
	_, _, err := c.do(ctx, http.MethodPost, meetingPath(id)+"/end", true, nil, nil)
	return err
}

// Participants returns everyone who joined the meeting, waiting or not.
func (c *Client) Participants(ctx context.Context, id string) ([]Participant, error) {
	path := meetingPath(id) + "/participants"
	var res struct {
		Participants []Participant `json:"participants"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &res); err != nil {
		return nil, err
	}
	if res.Participants == nil {
		return nil, badResponse(path, "no participant list")
	}
	for _, p := range res.Participants {
		if p.ID == "" || p.State == "" {
			return nil, badResponse(path, "participant without id or state")
		}
	}
	return res.Participants, nil
}

// Admit lets a waiting participant into the meeting. A participant who is
// no longer waiting yields an *[APIError] with [CodeConflict].
func (c *Client) Admit(ctx context.Context, meetingID, participantID string) error {
	return c.participantAction(ctx, meetingID, participantID, "admit")
}

// Reject turns a waiting participant away.
func (c *Client) Reject(ctx context.Context, meetingID, participantID string) error {
	return c.participantAction(ctx, meetingID, participantID, "reject")
}

// Remove removes an admitted participant from the meeting.
func (c *Client) Remove(ctx context.Context, meetingID, participantID string) error {
	return c.participantAction(ctx, meetingID, participantID, "remove")
}

func (c *Client) participantAction(ctx context.Context, meetingID, participantID, op string) error {
	path := meetingPath(meetingID) + "/participants/" + url.PathEscape(participantID) + "/" + op
	_, _, err := c.do(ctx, http.MethodPost, path, true, nil, nil)
	return err
}
