package calsync_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"

	"parley/relay/calsync"
)

// davBackend is an in-memory CalDAV backend for one user: principal
// /advisor/, home /advisor/calendars/, an event calendar "work" and a task
// list "tasks".
type davBackend struct {
	mu      sync.Mutex
	objects []caldav.CalendarObject
	queries []caldav.CalendarQuery
}

var davCalendars = []caldav.Calendar{
	{Path: "/advisor/calendars/work/", Name: "Work", SupportedComponentSet: []string{"VEVENT"}},
	{Path: "/advisor/calendars/tasks/", Name: "Tasks", SupportedComponentSet: []string{"VTODO"}},
}

func (b *davBackend) CurrentUserPrincipal(context.Context) (string, error) { return "/advisor/", nil }
func (b *davBackend) CalendarHomeSetPath(context.Context) (string, error) {
	return "/advisor/calendars/", nil
}
func (b *davBackend) CreateCalendar(context.Context, *caldav.Calendar) error {
	return webdav.NewHTTPError(http.StatusForbidden, errors.New("read-only"))
}
func (b *davBackend) ListCalendars(context.Context) ([]caldav.Calendar, error) {
	return davCalendars, nil
}
func (b *davBackend) GetCalendar(_ context.Context, p string) (*caldav.Calendar, error) {
	for _, c := range davCalendars {
		if strings.TrimSuffix(c.Path, "/") == strings.TrimSuffix(p, "/") {
			return &c, nil
		}
	}
	return nil, webdav.NewHTTPError(http.StatusNotFound, errors.New("no calendar"))
}
func (b *davBackend) GetCalendarObject(_ context.Context, p string, _ *caldav.CalendarCompRequest) (*caldav.CalendarObject, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, o := range b.objects {
		if o.Path == p {
			return &o, nil
		}
	}
	return nil, webdav.NewHTTPError(http.StatusNotFound, errors.New("no object"))
}
func (b *davBackend) in(p string) []caldav.CalendarObject {
	var out []caldav.CalendarObject
	for _, o := range b.objects {
		if strings.HasPrefix(o.Path, strings.TrimSuffix(p, "/")+"/") {
			out = append(out, o)
		}
	}
	return out
}
func (b *davBackend) ListCalendarObjects(_ context.Context, p string, _ *caldav.CalendarCompRequest) ([]caldav.CalendarObject, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.in(p), nil
}
func (b *davBackend) QueryCalendarObjects(_ context.Context, p string, q *caldav.CalendarQuery) ([]caldav.CalendarObject, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queries = append(b.queries, *q)
	return caldav.Filter(q, b.in(p))
}
func (b *davBackend) PutCalendarObject(context.Context, string, *ical.Calendar, *caldav.PutCalendarObjectOptions) (*caldav.CalendarObject, error) {
	return nil, webdav.NewHTTPError(http.StatusForbidden, errors.New("read-only"))
}
func (b *davBackend) DeleteCalendarObject(context.Context, string) error {
	return webdav.NewHTTPError(http.StatusForbidden, errors.New("read-only"))
}

func (b *davBackend) add(t *testing.T, p string, data []byte) {
	t.Helper()
	c, err := ical.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		t.Fatalf("decode %s: %v", p, err)
	}
	b.objects = append(b.objects, caldav.CalendarObject{Path: p, ModTime: t0, ETag: `"1"`, Data: c})
}

func newDAVServer(t *testing.T) (*httptest.Server, *davBackend) {
	t.Helper()
	b := &davBackend{}
	data, err := os.ReadFile(filepath.Join("testdata", "exdate.ics"))
	if err != nil {
		t.Fatal(err)
	}
	// go-ical (the server's filter) reads one EXDATE value per line.
	data = bytes.ReplaceAll(data, []byte("T083000,20270506T083000"), []byte("T083000\r\nEXDATE;TZID=Europe/Berlin:20270506T083000"))
	b.add(t, "/advisor/calendars/work/standup.ics", data)
	b.add(t, "/advisor/calendars/work/outlook.ics", []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"+
		"BEGIN:VEVENT\r\nUID:ny@parley.test\r\nDTSTAMP:20270101T000000Z\r\nSUMMARY:Call\r\n"+
		"DTSTART;TZID=America/New_York:20270616T090000\r\nDTEND;TZID=America/New_York:20270616T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	// Long past the window: the server's time-range filter leaves it out.
	b.add(t, "/advisor/calendars/work/old.ics", []byte(string(cal(ev("DTSTART:20200101T100000Z", "DURATION:PT1H")))))
	h := &caldav.Handler{Backend: b}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "advisor" || p != "dav-pass" {
			w.Header().Set("WWW-Authenticate", `Basic realm="dav"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, b
}

func TestCalDAVSync(t *testing.T) {
	want := []calsync.Interval{
		iv("2027-05-03T06:30Z", "2027-05-03T06:45Z"),
		iv("2027-05-04T06:30Z", "2027-05-04T06:45Z"),
		iv("2027-05-07T13:00Z", "2027-05-07T13:15Z"),
		iv("2027-05-11T06:30Z", "2027-05-11T06:45Z"),
		iv("2027-05-12T06:30Z", "2027-05-12T06:45Z"),
		iv("2027-05-13T06:30Z", "2027-05-13T06:45Z"),
		iv("2027-05-14T06:30Z", "2027-05-14T06:45Z"),
		iv("2027-05-15T08:00Z", "2027-05-15T08:15Z"),
		iv("2027-06-16T13:00Z", "2027-06-16T14:00Z"),
	}
	for name, p := range map[string]string{
		"calendar collection": "/advisor/calendars/work/",
		"calendar home":       "/advisor/calendars/",
		"principal":           "/advisor/",
		"server root":         "/",
	} {
		t.Run(name, func(t *testing.T) {
			srv, b := newDAVServer(t)
			e := newEnv(t, nil)
			ctx := context.Background()
			e.put(t, calsync.Source{Kind: calsync.KindCalDAV, URL: srv.URL + p, Username: "advisor", Password: "dav-pass"})
			if err := e.svc.SyncNow(ctx, tenant, advisor); err != nil {
				t.Fatal(err)
			}
			wantBusy(t, e.busy(t), want...)
			b.mu.Lock()
			defer b.mu.Unlock()
			if len(b.queries) != 1 {
				t.Fatalf("%d calendar queries, want 1 (the task list is not queried)", len(b.queries))
			}
			f := b.queries[0].CompFilter
			if f.Name != "VCALENDAR" || len(f.Comps) != 1 || f.Comps[0].Name != "VEVENT" ||
				!f.Comps[0].Start.Equal(t0.Add(-24*time.Hour)) || !f.Comps[0].End.Equal(t0.Add(202*24*time.Hour)) {
				t.Fatalf("query filter %+v", f)
			}
			if logs := e.log.String(); strings.Contains(logs, "dav-pass") || strings.Contains(logs, srv.URL) {
				t.Fatalf("log leaks:\n%s", logs)
			}
		})
	}
}

func TestCalDAVWrongPasswordKeepsBusy(t *testing.T) {
	srv, _ := newDAVServer(t)
	e := newEnv(t, nil)
	ctx := context.Background()
	src := e.put(t, calsync.Source{Kind: calsync.KindCalDAV, URL: srv.URL + "/advisor/calendars/work/", Username: "advisor", Password: "dav-pass"})
	if err := e.svc.SyncNow(ctx, tenant, advisor); err != nil {
		t.Fatal(err)
	}
	n := len(e.busy(t))
	src.Password = "changed-wrong"
	src.Label = "x"
	e.put(t, src)
	err := e.svc.SyncNow(ctx, tenant, advisor)
	if !errors.Is(err, calsync.ErrFetch) {
		t.Fatalf("err = %v, want ErrFetch", err)
	}
	list, _ := e.svc.Sources(ctx, tenant, advisor)
	if !strings.Contains(list[0].LastError, "HTTP status 401") {
		t.Fatalf("LastError = %q", list[0].LastError)
	}
	// Changed credentials dropped the old busy time (it belonged to the old
	// settings); nothing new came in.
	if len(e.busy(t)) != 0 || n == 0 {
		t.Fatalf("busy %d (before %d)", len(e.busy(t)), n)
	}
}
