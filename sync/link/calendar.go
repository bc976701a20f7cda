package link

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Calendar source kinds.
const (
	SourceICS    = "ics"    // a plain ICS address, polled
	SourceCalDAV = "caldav" // a CalDAV calendar, polled
)

// CalendarSource is a calendar whose busy times block the advisor's slots.
type CalendarSource struct {
	ID    string `json:"id"`              // the relay's id
	Kind  string `json:"kind"`            // SourceICS or SourceCalDAV
	URL   string `json:"url"`             // the calendar's address
	Label string `json:"label,omitempty"` // the advisor's name for it
	// LastSync is when it was last read successfully, nil before.
	LastSync *time.Time `json:"last_sync,omitempty"`
	// LastError is why the last read failed, empty when it worked.
	LastError string `json:"last_error,omitempty"`
	// Events is how many busy events the last read found.
	Events int `json:"events"`
}

// LogValue keeps the address (which may hold a secret) out of logs.
func (s CalendarSource) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", s.ID), slog.String("kind", s.Kind))
}

// NewCalendarSource is what [Client.AddCalendarSource] sends.
type NewCalendarSource struct {
	Kind     string `json:"kind"`               // SourceICS or SourceCalDAV
	URL      string `json:"url"`                // the calendar's address
	Username string `json:"username,omitempty"` // CalDAV user, if needed
	Password string `json:"password,omitempty"` // CalDAV password, if needed
	Label    string `json:"label,omitempty"`    // the advisor's name for it
}

// LogValue keeps the address and credentials out of logs.
func (s NewCalendarSource) LogValue() slog.Value { return slog.GroupValue(slog.String("kind", s.Kind)) }

func checkSource(path string, s CalendarSource) error {
	if s.ID == "" || s.Kind == "" || s.URL == "" {
		return badResponse(path, "calendar source without id, kind or URL")
	}
	return nil
}

// CalendarSources returns the advisor's calendars that block slots.
func (c *Client) CalendarSources(ctx context.Context) ([]CalendarSource, error) {
	const path = "/api/v1/calendar/sources"
	var res struct {
		Sources []CalendarSource `json:"sources"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &res); err != nil {
		return nil, err
	}
	if res.Sources == nil {
		return nil, badResponse(path, "no source list")
	}
	for _, s := range res.Sources {
		if err := checkSource(path, s); err != nil {
			return nil, err
		}
	}
	return res.Sources, nil
}

// AddCalendarSource adds a calendar; the relay reads it at once and a
// failed read shows in LastError rather than as an error.
func (c *Client) AddCalendarSource(ctx context.Context, s NewCalendarSource) (CalendarSource, error) {
	const path = "/api/v1/calendar/sources"
	var out CalendarSource
	if _, _, err := c.do(ctx, http.MethodPost, path, true, s, &out); err != nil {
		return CalendarSource{}, err
	}
	if err := checkSource(path, out); err != nil {
		return CalendarSource{}, err
	}
	return out, nil
}

// RemoveCalendarSource stops using a calendar.
func (c *Client) RemoveCalendarSource(ctx context.Context, id string) error {
	_, _, err := c.do(ctx, http.MethodDelete, "/api/v1/calendar/sources/"+url.PathEscape(id), true, nil, nil)
	return err
}

// CodeFeedIssued is the [APIError.Code] of [Client.CalendarFeed] once the
// feed's address was shown: the relay keeps only a hash of its token, so
// only [Client.RotateCalendarFeed] can show an address again.
const CodeFeedIssued = "feed_issued"

// CalendarFeed returns the secret address of the advisor's ICS feed the
// first time it is asked for; after that it yields an *[APIError] with
// [CodeFeedIssued].
func (c *Client) CalendarFeed(ctx context.Context) (string, error) {
	return c.feed(ctx, http.MethodGet, "/api/v1/calendar/feed")
}

// RotateCalendarFeed gives the feed a new address and returns it; the old
// one stops working at once.
func (c *Client) RotateCalendarFeed(ctx context.Context) (string, error) {
	return c.feed(ctx, http.MethodPost, "/api/v1/calendar/feed/rotate")
}

func (c *Client) feed(ctx context.Context, method, path string) (string, error) {
	var res struct {
		URL string `json:"url"`
	}
	if _, _, err := c.do(ctx, method, path, true, nil, &res); err != nil {
		return "", err
	}
	if u, err := url.Parse(res.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", badResponse(path, "no usable feed URL")
	}
	return res.URL, nil
}
