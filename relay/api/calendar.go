package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"parley/relay/auth"
	"parley/relay/booking"
	"parley/relay/calsync"
	"parley/relay/ical"
)

// Calendars is what the API needs from calendar sync (*calsync.Service).
type Calendars interface {
	DeleteAdvisor(ctx context.Context, tenantID, advisorID string) error
	PutSource(ctx context.Context, tenantID, advisorID string, src calsync.Source) (calsync.Source, error)
	Sources(ctx context.Context, tenantID, advisorID string) ([]calsync.Source, error)
	DeleteSource(ctx context.Context, tenantID, advisorID, sourceID string) error
	SyncNow(ctx context.Context, tenantID, advisorID string) error
	FeedToken(ctx context.Context, tenantID, advisorID string) (string, error)
	RotateFeedToken(ctx context.Context, tenantID, advisorID string) (string, error)
	ResolveFeedToken(ctx context.Context, token string) (tenantID, advisorID string, err error)
}

// calendarError maps calendar sync's errors for toError.
func calendarError(err error) *Error {
	switch {
	case errors.Is(err, calsync.ErrInvalidSource):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "url",
			Message: "The relay does not fetch calendars from this address (use https, no user name or password inside the URL, no private addresses)."}
	case errors.Is(err, calsync.ErrInvalidInput):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_input", Message: publicMessage(err)}
	case errors.Is(err, calsync.ErrNotFound):
		return errNotFound
	case errors.Is(err, calsync.ErrTooManySources):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: "This advisor already has the most calendars allowed (10)."}
	case errors.Is(err, calsync.ErrTokenIssued):
		return &Error{Status: http.StatusConflict, Code: "feed_issued",
			Message: "The feed address was shown once when it was made and is not stored in readable form. Make a new address to see one again."}
	}
	return nil
}

type sourceJSON struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	URL       string     `json:"url"`
	Username  string     `json:"username,omitempty"`
	Password  string     `json:"password,omitempty"`
	Label     string     `json:"label,omitempty"`
	LastSync  *time.Time `json:"last_sync,omitempty"`
	LastError string     `json:"last_error,omitempty"`
	Events    int        `json:"events"`
}

func toSourceJSON(s calsync.Source) sourceJSON {
	return sourceJSON{ID: s.ID, Kind: string(s.Kind), URL: s.URL, Label: s.Label, LastSync: optTime(s.LastSync),
		LastError: s.LastError, Events: s.Events}
}

// calendarCall runs a calendar route for the advisor the caller acts for.
func (h *handler) calendarCall(w http.ResponseWriter, r *http.Request, s auth.Session, fn func(ctx context.Context, advisorID string) (int, any, error)) {
	if h.calendars == nil {
		writeError(w, errNotFound)
		return
	}
	adv, err := h.advisorOf(r, s)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	status, v, err := fn(ctx, adv)
	if err != nil {
		writeError(w, err)
		return
	}
	if v == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

func (h *handler) listSources(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.calendarCall(w, r, s, func(ctx context.Context, adv string) (int, any, error) {
		ss, err := h.calendars.Sources(ctx, s.TenantID, adv)
		out := make([]sourceJSON, 0, len(ss))
		for _, src := range ss {
			out = append(out, toSourceJSON(src))
		}
		return http.StatusOK, map[string]any{"sources": out}, err
	})
}

func decodeSource(body []byte) (sourceJSON, error) {
	var src sourceJSON
	if err := decodeStrict(body, &src); err != nil {
		return src, err
	}
	return src, requireFields([2]string{"kind", src.Kind}, [2]string{"url", src.URL})
}

func (h *handler) addSource(w http.ResponseWriter, r *http.Request, s auth.Session) {
	src, ok := decodeRequest(w, r, decodeSource)
	if !ok {
		return
	}
	h.calendarCall(w, r, s, func(ctx context.Context, adv string) (int, any, error) {
		got, err := h.calendars.PutSource(ctx, s.TenantID, adv, calsync.Source{Kind: calsync.Kind(src.Kind), URL: src.URL,
			Username: src.Username, Password: src.Password, Label: src.Label})
		if err != nil {
			return 0, nil, err
		}
		// The first sync runs at once; its outcome shows in last_error.
		_ = h.calendars.SyncNow(ctx, s.TenantID, adv)
		if all, err := h.calendars.Sources(ctx, s.TenantID, adv); err == nil {
			for _, x := range all {
				if x.ID == got.ID {
					got = x
				}
			}
		}
		return http.StatusCreated, toSourceJSON(got), nil
	})
}

func (h *handler) deleteSource(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.calendarCall(w, r, s, func(ctx context.Context, adv string) (int, any, error) {
		return http.StatusNoContent, nil, h.calendars.DeleteSource(ctx, s.TenantID, adv, r.PathValue("id"))
	})
}

func (h *handler) feedURL(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.calendarCall(w, r, s, func(ctx context.Context, adv string) (int, any, error) {
		tok, err := h.calendars.FeedToken(ctx, s.TenantID, adv)
		return http.StatusOK, map[string]string{"url": h.baseURL(r) + "/cal/" + tok}, err
	})
}

func (h *handler) rotateFeed(w http.ResponseWriter, r *http.Request, s auth.Session) {
	h.calendarCall(w, r, s, func(ctx context.Context, adv string) (int, any, error) {
		tok, err := h.calendars.RotateFeedToken(ctx, s.TenantID, adv)
		return http.StatusOK, map[string]string{"url": h.baseURL(r) + "/cal/" + tok}, err
	})
}

// feedPast and feedAhead bound the appointments in an advisor's feed.
const (
	feedPast  = 30 * 24 * time.Hour
	feedAhead = 202 * 24 * time.Hour
)

// calendarFeed serves an advisor's appointments as an iCalendar feed for
// Outlook, Google or Apple Calendar to subscribe to. The feed leaves the
// relay for the advisor's calendar provider, so it carries no customer
// data: each event names the appointment type and kind, and the advisor
// opens the app for the customer's details.
func (h *handler) calendarFeed(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if h.calendars == nil || h.booking == nil {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	tenantID, advisorID, err := h.calendars.ResolveFeedToken(ctx, r.PathValue("token"))
	if err != nil {
		writeError(w, err)
		return
	}
	now := h.clock.Now()
	bs, err := h.booking.List(ctx, booking.Actor{TenantID: tenantID, UserID: advisorID}, advisorID, now.Add(-feedPast), now.Add(feedAhead))
	if err != nil {
		writeError(w, err)
		return
	}
	cal := ical.Calendar{ProdID: "-//Parley//Booking//EN", Method: "PUBLISH", Name: "Parley"}
	for _, b := range bs {
		ev := ical.Event{UID: b.ID + "@parley", Sequence: b.Sequence, Status: "CONFIRMED", Summary: b.TypeName,
			Description: kindText(b.Kind), Start: b.Start, End: b.End, Stamp: now, Created: b.Created, LastModified: b.Updated}
		if b.Status == booking.StatusCancelled {
			ev.Status = "CANCELLED"
		}
		cal.Events = append(cal.Events, ev)
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", `inline; filename="parley.ics"`)
	w.WriteHeader(http.StatusOK)
	_, _ = cal.WriteTo(w)
}

func kindText(k booking.Kind) string {
	switch k {
	case booking.KindVideo:
		return "Video consultation (Parley)"
	case booking.KindPhone:
		return "Phone appointment (Parley)"
	case booking.KindOnsite:
		return "On-site appointment (Parley)"
	}
	return "Appointment (Parley)"
}
