package calsync

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	eical "github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
)

// maxCalendars bounds the calendars one CalDAV source may contribute.
const maxCalendars = 20

// fetchCalDAV reads a CalDAV source. Its URL may name:
//   - a calendar collection: that calendar is queried;
//   - a calendar home set: every calendar in it that holds events;
//   - anything else on the server (a principal, the server root): the
//     current user's principal and its calendar home are discovered
//     (RFC 4791 §6.2.1, RFC 5397) and all its event calendars are queried.
//
// Each calendar gets a calendar-query REPORT for VEVENTs with a time-range
// filter over the window (RFC 4791 §7.8.1); recurrences are expanded here,
// not by the server.
func (s *Service) fetchCalDAV(ctx context.Context, rec *sourceRecord, opt ParseOptions) (ParseResult, error) {
	var hc webdav.HTTPClient = s.http
	if rec.Username != "" || rec.Password != "" {
		hc = webdav.HTTPClientWithBasicAuth(s.http, rec.Username, rec.Password)
	}
	u, err := url.Parse(rec.URL)
	if err != nil {
		return ParseResult{}, fmt.Errorf("%w: bad URL", ErrFetch)
	}
	c, err := caldav.NewClient(hc, rec.URL)
	if err != nil {
		return ParseResult{}, fmt.Errorf("%w: bad URL", ErrFetch)
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	u.Path, u.RawPath, u.RawQuery = "/", "", ""
	root, err := caldav.NewClient(hc, u.String())
	if err != nil {
		return ParseResult{}, fmt.Errorf("%w: bad URL", ErrFetch)
	}
	paths, err := findCalendars(ctx, c, root, p)
	if err != nil {
		return ParseResult{}, davError(ctx, err)
	}
	if len(paths) == 0 {
		return ParseResult{}, fmt.Errorf("%w: no calendar found at the address", ErrFetch)
	}
	query := &caldav.CalendarQuery{
		CompRequest: caldav.CalendarCompRequest{Name: "VCALENDAR", AllProps: true, AllComps: true},
		CompFilter: caldav.CompFilter{Name: "VCALENDAR", Comps: []caldav.CompFilter{
			{Name: "VEVENT", Start: opt.From.UTC(), End: opt.To.UTC()},
		}},
	}
	var cals []*eical.Calendar
	for _, cp := range paths {
		objs, err := c.QueryCalendar(ctx, cp, query)
		if err != nil {
			return ParseResult{}, davError(ctx, err)
		}
		for _, o := range objs {
			cals = append(cals, o.Data)
		}
	}
	return collectSafe(eventsFromGoICal(cals), opt)
}

// collectSafe is collect with a panic turned into ErrMalformed.
func collectSafe(events []vevent, opt ParseOptions) (res ParseResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = ParseResult{}, fmt.Errorf("%w: parser panic", ErrMalformed)
		}
	}()
	return collect(events, opt)
}

func eventCalendars(cals []caldav.Calendar) []string {
	var out []string
	for _, cal := range cals {
		if len(cal.SupportedComponentSet) > 0 && !slices.ContainsFunc(cal.SupportedComponentSet, func(c string) bool {
			return strings.EqualFold(c, "VEVENT")
		}) {
			continue
		}
		out = append(out, cal.Path)
		if len(out) == maxCalendars {
			break
		}
	}
	return out
}

// findCalendars finds the calendars at p (see fetchCalDAV); c's endpoint
// is the source URL, root's the server root.
func findCalendars(ctx context.Context, c, root *caldav.Client, p string) ([]string, error) {
	cals, firstErr := c.FindCalendars(ctx, p)
	if firstErr == nil {
		self := path.Clean(p)
		for _, cal := range cals {
			if path.Clean(cal.Path) == self {
				return []string{cal.Path}, nil
			}
		}
		if paths := eventCalendars(cals); len(paths) > 0 {
			return paths, nil
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// current-user-principal may be asked of any resource; some servers
	// answer it only at the root.
	principal, err := c.FindCurrentUserPrincipal(ctx)
	if err != nil && ctx.Err() == nil {
		principal, err = root.FindCurrentUserPrincipal(ctx)
	}
	if err != nil {
		return nil, errors.Join(firstErr, err)
	}
	home, err := c.FindCalendarHomeSet(ctx, principal)
	if err != nil {
		return nil, err
	}
	if cals, err = c.FindCalendars(ctx, home); err != nil {
		return nil, err
	}
	return eventCalendars(cals), nil
}

// davError turns a go-webdav error into one without server text or URLs.
func davError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for _, e := range []error{ErrForbiddenAddress, ErrTooManyRedirects, ErrTooLarge} {
		if errors.Is(err, e) {
			return fetchError(ctx, err)
		}
	}
	// go-webdav's HTTP errors read "401 Unauthorized: …".
	msg := err.Error()
	if len(msg) >= 4 && msg[3] == ' ' {
		if code, cerr := strconv.Atoi(msg[:3]); cerr == nil && code >= 300 && code < 600 {
			return fmt.Errorf("%w: HTTP status %d", ErrFetch, code)
		}
	}
	if _, ok := errors.AsType[*url.Error](err); ok {
		return fetchError(ctx, err)
	}
	return fmt.Errorf("%w: unexpected CalDAV response", ErrFetch)
}
