package calsync_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/relay/calsync"
	"parley/relay/clock"
	"parley/relay/store"
)

const (
	tenant  = "t1"
	advisor = "a1"
)

var t0 = time.Date(2027, 3, 1, 6, 0, 0, 0, time.UTC)

type env struct {
	svc *calsync.Service
	kv  *store.Memory
	clk *clock.Fake
	log *bytes.Buffer
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func newEnv(t *testing.T, tweak func(*calsync.Options)) *env {
	t.Helper()
	e := &env{kv: &store.Memory{}, clk: clock.NewFake(t0)}
	lb := &syncBuffer{}
	o := calsync.Options{
		Store: e.kv, Clock: e.clk, AllowPrivateNetworks: true,
		Logger: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tweak != nil {
		tweak(&o)
	}
	svc, err := calsync.New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	t.Cleanup(func() { e.log = &lb.Buffer })
	e.log = &lb.Buffer
	return e
}

// feedServer serves testdata files; fail switches every answer to the
// given handler.
type feedServer struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	fail http.HandlerFunc
}

func newFeedServer(t *testing.T) *feedServer {
	fs := &feedServer{}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.hits.Add(1)
		fs.mu.Lock()
		fail := fs.fail
		fs.mu.Unlock()
		if fail != nil {
			fail(w, r)
			return
		}
		data, err := os.ReadFile(filepath.Join("testdata", filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
		w.Write(data)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *feedServer) setFail(h http.HandlerFunc) {
	fs.mu.Lock()
	fs.fail = h
	fs.mu.Unlock()
}

func (e *env) put(t *testing.T, src calsync.Source) calsync.Source {
	t.Helper()
	got, err := e.svc.PutSource(context.Background(), tenant, advisor, src)
	if err != nil {
		t.Fatalf("PutSource: %v", err)
	}
	return got
}

func (e *env) busy(t *testing.T) []calsync.Interval {
	t.Helper()
	b, err := e.svc.Busy(context.Background(), tenant, advisor, t0, t0.Add(202*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSyncICSFeedsBusyAndHidesSecrets(t *testing.T) {
	e := newEnv(t, nil)
	fs := newFeedServer(t)
	ctx := context.Background()
	src := e.put(t, calsync.Source{Kind: calsync.KindICS, URL: fs.URL + "/weekly-dst.ics", Label: "Outlook",
		Username: "advisor", Password: "s3cret-pass"})
	e.clk.Advance(time.Second)
	e.put(t, calsync.Source{Kind: calsync.KindICS, URL: fs.URL + "/exdate.ics"})
	if err := e.svc.SyncNow(ctx, tenant, advisor); err != nil {
		t.Fatal(err)
	}
	busy := e.busy(t)
	// The window is 202 days from t0 (to 2027-09-19): 29 of the weekly
	// meetings (the first, 03-01 09:00 Berlin = 08:00Z, after t0), the
	// March DST-gap event (the October one is beyond the window) and the 8
	// stand-up intervals.
	if len(busy) != 29+1+8 {
		t.Fatalf("%d busy intervals:\n%s", len(busy), fmtBusy(busy))
	}
	if !busy[0].Start.Equal(utc("2027-03-01T08:00Z")) {
		t.Fatalf("first busy %v", busy[0])
	}
	// Busy clips to the asked range.
	part, err := e.svc.Busy(ctx, tenant, advisor, utc("2027-03-01T08:30Z"), utc("2027-03-08T08:30Z"))
	if err != nil {
		t.Fatal(err)
	}
	wantBusy(t, part, iv("2027-03-01T08:30Z", "2027-03-01T09:00Z"), iv("2027-03-08T08:00Z", "2027-03-08T08:30Z"))

	list, err := e.svc.Sources(ctx, tenant, advisor)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != src.ID || list[0].Label != "Outlook" || list[0].TimeZone != calsync.DefaultTimeZone {
		t.Fatalf("sources: %+v", list)
	}
	for _, s := range list {
		if s.Password != "" || s.Username != "" {
			t.Fatalf("credentials returned: %+v", s)
		}
		if !s.LastSync.Equal(t0.Add(time.Second)) || s.LastError != "" {
			t.Fatalf("sync state: %+v", s)
		}
	}
	if list[0].Events != 2 || list[1].Events != 1 {
		t.Fatalf("events %d, %d; want 2, 1", list[0].Events, list[1].Events)
	}
	logs := e.log.String()
	for _, secret := range []string{"s3cret-pass", fs.URL, "Jour fixe", "Stand-up"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("log contains %q:\n%s", secret, logs)
		}
	}
	// The store keeps no event text.
	e.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(""), func(k, v []byte) error {
			if bytes.Contains(v, []byte("Jour fixe")) || bytes.Contains(v, []byte("Stand-up")) {
				t.Errorf("key %s holds event text", k)
			}
			return nil
		})
	})
}

func TestFailedSyncKeepsPreviousBusy(t *testing.T) {
	e := newEnv(t, func(o *calsync.Options) { o.MaxBody = 64 << 10 })
	fs := newFeedServer(t)
	ctx := context.Background()
	e.put(t, calsync.Source{Kind: calsync.KindICS, URL: fs.URL + "/weekly-dst.ics"})
	if err := e.svc.SyncNow(ctx, tenant, advisor); err != nil {
		t.Fatal(err)
	}
	before := fmtBusy(e.busy(t))
	for _, c := range []struct {
		name    string
		h       http.HandlerFunc
		wantErr error
		wantMsg string
	}{
		{"server error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, calsync.ErrFetch, "HTTP status 500"},
		{"login page", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>Anmeldung Max Mustermann</html>") }, calsync.ErrMalformed, "malformed"},
		{"broken calendar", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Max Mustermann\r\n;;bad\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
		}, calsync.ErrMalformed, "malformed"},
		{"too large", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("BEGIN:VCALENDAR\r\n"))
			w.Write(bytes.Repeat([]byte("X-PAD:"+strings.Repeat("x", 1000)+"\r\n"), 100))
		}, calsync.ErrTooLarge, "too large"},
		{"too large, announced", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000000")
			w.Write(bytes.Repeat([]byte("x"), 1000000))
		}, calsync.ErrTooLarge, "too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs.setFail(c.h)
			e.clk.Advance(time.Minute)
			err := e.svc.SyncNow(ctx, tenant, advisor)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if got := fmtBusy(e.busy(t)); got != before {
				t.Fatalf("busy changed after a failed sync")
			}
			list, _ := e.svc.Sources(ctx, tenant, advisor)
			if !strings.Contains(list[0].LastError, c.wantMsg) || strings.Contains(list[0].LastError, "Mustermann") {
				t.Fatalf("LastError = %q", list[0].LastError)
			}
			if !list[0].LastSync.Equal(t0) {
				t.Fatalf("LastSync moved on a failure")
			}
		})
	}
	fs.setFail(nil)
	if err := e.svc.SyncNow(ctx, tenant, advisor); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.svc.Sources(ctx, tenant, advisor); list[0].LastError != "" {
		t.Fatalf("LastError kept after success: %q", list[0].LastError)
	}
}

func TestSuccessfulSyncReplacesBusy(t *testing.T) {
	e := newEnv(t, nil)
	fs := newFeedServer(t)
	ctx := context.Background()
	e.put(t, calsync.Source{Kind: calsync.KindICS, URL: fs.URL + "/cal.ics"})
	serve := func(body string) {
		fs.setFail(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
	}
	serve(string(cal(ev("DTSTART:20270310T100000Z", "DURATION:PT1H"))))
	if err := e.svc.SyncNow(ctx, tenant, advisor); err != nil {
		t.Fatal(err)
	}
	wantBusy(t, e.busy(t), iv("2027-03-10T10:00Z", "2027-03-10T11:00Z"))
	serve(string(cal(ev("DTSTART:20270311T100000Z", "DURATION:PT1H"))))
	if err := e.svc.SyncNow(ctx, tenant, advisor); err != nil {
		t.Fatal(err)
	}
	wantBusy(t, e.busy(t), iv("2027-03-11T10:00Z", "2027-03-11T11:00Z"))
	serve(string(cal()))
	if err := e.svc.SyncNow(ctx, tenant, advisor); err != nil {
		t.Fatal(err)
	}
	wantBusy(t, e.busy(t))
}

func TestDeleteSourceDropsBusy(t *testing.T) {
	e := newEnv(t, nil)
	fs := newFeedServer(t)
	ctx := context.Background()
	a := e.put(t, calsync.Source{Kind: calsync.KindICS, URL: fs.URL + "/google.ics"})
	e.put(t, calsync.Source{Kind: calsync.KindICS, URL: fs.URL + "/apple.ics"})
	if err := e.svc.SyncNow(ctx, tenant, advisor); err != nil {
		t.Fatal(err)
	}
	if n := len(e.busy(t)); n != 3+2 {
		t.Fatalf("%d busy intervals before delete", n)
	}
	if err := e.svc.DeleteSource(ctx, tenant, advisor, a.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(e.busy(t)); n != 2 {
		t.Fatalf("%d busy intervals after delete, want apple's 2", n)
	}
	if err := e.svc.DeleteSource(ctx, tenant, advisor, a.ID); !errors.Is(err, calsync.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// Another advisor sees nothing.
	if b, _ := e.svc.Busy(ctx, tenant, "a2", t0, t0.AddDate(1, 0, 0)); len(b) != 0 {
		t.Fatalf("other advisor has busy time")
	}
}

func TestPutSourceValidation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	prod := newEnv(t, func(o *calsync.Options) { o.AllowPrivateNetworks = false })
	for _, c := range []struct {
		name string
		svc  *calsync.Service
		src  calsync.Source
	}{
		{"ftp", e.svc, calsync.Source{Kind: calsync.KindICS, URL: "ftp://example.com/c.ics"}},
		{"file", e.svc, calsync.Source{Kind: calsync.KindICS, URL: "file:///etc/passwd"}},
		{"userinfo", e.svc, calsync.Source{Kind: calsync.KindICS, URL: "https://u:p@example.com/c.ics"}},
		{"no host", e.svc, calsync.Source{Kind: calsync.KindICS, URL: "https:///c.ics"}},
		{"kind", e.svc, calsync.Source{Kind: "exchange", URL: "https://example.com/c.ics"}},
		{"zone", e.svc, calsync.Source{Kind: calsync.KindICS, URL: "https://example.com/c.ics", TimeZone: "Mars/Olympus"}},
		{"label", e.svc, calsync.Source{Kind: calsync.KindICS, URL: "https://example.com/c.ics", Label: "a\x00b"}},
		{"http in production", prod.svc, calsync.Source{Kind: calsync.KindICS, URL: "http://example.com/c.ics"}},
		{"loopback literal", prod.svc, calsync.Source{Kind: calsync.KindICS, URL: "https://127.0.0.1/c.ics"}},
		{"private literal", prod.svc, calsync.Source{Kind: calsync.KindCalDAV, URL: "https://10.1.2.3/dav/"}},
		{"metadata literal", prod.svc, calsync.Source{Kind: calsync.KindCalDAV, URL: "https://169.254.169.254/latest"}},
		{"v6 loopback", prod.svc, calsync.Source{Kind: calsync.KindICS, URL: "https://[::1]/c.ics"}},
		{"mapped v4", prod.svc, calsync.Source{Kind: calsync.KindICS, URL: "https://[::ffff:192.168.1.1]/c.ics"}},
	} {
		if _, err := c.svc.PutSource(ctx, tenant, advisor, c.src); !errors.Is(err, calsync.ErrInvalidInput) {
			t.Errorf("%s: err = %v, want ErrInvalidInput", c.name, err)
		}
	}
	if _, err := e.svc.PutSource(ctx, "../x", advisor, calsync.Source{Kind: calsync.KindICS, URL: "https://example.com/c.ics"}); !errors.Is(err, calsync.ErrInvalidInput) {
		t.Errorf("bad tenant id: %v", err)
	}
	if _, err := e.svc.PutSource(ctx, tenant, advisor, calsync.Source{ID: "0123456789abcdef0123456789abcdef", Kind: calsync.KindICS, URL: "https://example.com/c.ics"}); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("update of a missing source: %v", err)
	}
	got, err := prod.svc.PutSource(ctx, tenant, advisor, calsync.Source{Kind: calsync.KindICS, URL: "webcal://p01-calendars.example.com/published/2/abc"})
	if err != nil || got.URL != "https://p01-calendars.example.com/published/2/abc" {
		t.Fatalf("webcal: %+v, %v", got, err)
	}
	if list, _ := e.svc.Sources(ctx, tenant, advisor); len(list) != 0 {
		t.Fatalf("refused sources were stored: %+v", list)
	}
}

func TestAtMostTenSources(t *testing.T) {
	e := newEnv(t, nil)
	for i := range calsync.MaxSources {
		e.put(t, calsync.Source{Kind: calsync.KindICS, URL: fmt.Sprintf("https://example.com/%d.ics", i)})
	}
	_, err := e.svc.PutSource(context.Background(), tenant, advisor, calsync.Source{Kind: calsync.KindICS, URL: "https://example.com/x.ics"})
	if !errors.Is(err, calsync.ErrTooManySources) {
		t.Fatalf("11th source: %v", err)
	}
	// Another advisor has their own ten.
	if _, err := e.svc.PutSource(context.Background(), tenant, "a2", calsync.Source{Kind: calsync.KindICS, URL: "https://example.com/x.ics"}); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateSourceKeepsPasswordAndDropsStaleBusy(t *testing.T) {
	e := newEnv(t, nil)
	fs := newFeedServer(t)
	ctx := context.Background()
	var gotPass atomic.Value
	fs.setFail(func(w http.ResponseWriter, r *http.Request) {
		_, p, _ := r.BasicAuth()
		gotPass.Store(p)
		w.Write(cal(ev("DTSTART:20270310T100000Z", "DURATION:PT1H")))
	})
	src := e.put(t, calsync.Source{Kind: calsync.KindICS, URL: fs.URL + "/a.ics", Username: "u", Password: "pw1"})
	if err := e.svc.SyncNow(ctx, tenant, advisor); err != nil {
		t.Fatal(err)
	}
	src.Label = "renamed" // no new password: the stored one stays
	e.put(t, src)
	if len(e.busy(t)) != 1 {
		t.Fatalf("a label change dropped busy time")
	}
	if err := e.svc.SyncNow(ctx, tenant, advisor); err != nil || gotPass.Load() != "pw1" {
		t.Fatalf("password after label change: %v, %v", gotPass.Load(), err)
	}
	src.URL = fs.URL + "/b.ics"
	e.put(t, src)
	if len(e.busy(t)) != 0 {
		t.Fatalf("busy time of the old address kept after the URL changed")
	}
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func TestNetworkGuardRefusesLoopbackBeforeDialing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(cal())
	}))
	srv.Listener = cl
	srv.StartTLS()
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	ctx := context.Background()

	prod := newEnv(t, func(o *calsync.Options) { o.AllowPrivateNetworks = false })
	// "localhost" passes the URL check (it is a name) and resolves to
	// loopback: the dial guard must refuse it.
	for _, kind := range []calsync.Kind{calsync.KindICS, calsync.KindCalDAV} {
		if _, err := prod.svc.PutSource(ctx, tenant, advisor, calsync.Source{Kind: kind, URL: fmt.Sprintf("https://localhost:%d/c.ics", port)}); err != nil {
			t.Fatal(err)
		}
	}
	err = prod.svc.SyncNow(ctx, tenant, advisor)
	if !errors.Is(err, calsync.ErrForbiddenAddress) {
		t.Fatalf("SyncNow: %v, want ErrForbiddenAddress", err)
	}
	if n := cl.n.Load(); n != 0 {
		t.Fatalf("the guard let %d connections through", n)
	}
	list, _ := prod.svc.Sources(ctx, tenant, advisor)
	for _, s := range list {
		if !strings.Contains(s.LastError, "not allowed") || strings.Contains(s.LastError, "localhost") {
			t.Fatalf("LastError = %q", s.LastError)
		}
	}

	// The same listener is reachable when private networks are allowed
	// (so the zero above means something).
	dev := newEnv(t, func(o *calsync.Options) { o.HTTPClient = srv.Client() })
	dev.put(t, calsync.Source{Kind: calsync.KindICS, URL: fmt.Sprintf("https://127.0.0.1:%d/c.ics", port)})
	if err := dev.svc.SyncNow(ctx, tenant, advisor); err != nil {
		t.Fatal(err)
	}
	if cl.n.Load() == 0 {
		t.Fatalf("no connection accepted with the guard off")
	}
}

func TestRedirectsAreLimited(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Path, "/r/%d", &n)
		switch {
		case n > 0:
			http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusFound)
		case r.URL.Path == "/r/0":
			w.Write(cal(ev("DTSTART:20270310T100000Z", "DURATION:PT1H")))
		case r.URL.Path == "/ftp":
			http.Redirect(w, r, "ftp://example.com/c.ics", http.StatusFound)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	for _, c := range []struct {
		path string
		want error
	}{
		{"/r/3", nil},
		{"/r/4", calsync.ErrTooManyRedirects},
		{"/ftp", calsync.ErrInvalidSource},
	} {
		e := newEnv(t, nil)
		e.put(t, calsync.Source{Kind: calsync.KindICS, URL: srv.URL + c.path})
		if err := e.svc.SyncNow(ctx, tenant, advisor); !errors.Is(err, c.want) && (c.want != nil || err != nil) {
			t.Errorf("%s: err = %v, want %v", c.path, err, c.want)
		}
	}
}

func TestPollDueFollowsTheClock(t *testing.T) {
	e := newEnv(t, func(o *calsync.Options) { o.PollInterval = 10 * time.Minute })
	fs := newFeedServer(t)
	ctx := context.Background()
	e.put(t, calsync.Source{Kind: calsync.KindICS, URL: fs.URL + "/google.ics"})
	e.put(t, calsync.Source{Kind: calsync.KindICS, URL: fs.URL + "/apple.ics"})
	poll := func() int {
		n, err := e.svc.PollDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := poll(); n != 2 || fs.hits.Load() != 2 {
		t.Fatalf("first poll fetched %d (hits %d), want 2", n, fs.hits.Load())
	}
	e.clk.Advance(9 * time.Minute)
	if n := poll(); n != 0 {
		t.Fatalf("poll before the interval fetched %d", n)
	}
	e.clk.Advance(2*time.Minute + 1) // past the interval plus the largest jitter
	if n := poll(); n != 2 || fs.hits.Load() != 4 {
		t.Fatalf("poll after the interval fetched %d (hits %d)", n, fs.hits.Load())
	}
	// A failing source is retried at the next interval, not at every tick.
	fs.setFail(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	e.clk.Advance(11 * time.Minute)
	if n := poll(); n != 2 {
		t.Fatalf("poll fetched %d", n)
	}
	if n := poll(); n != 0 {
		t.Fatalf("failing sources refetched at once: %d", n)
	}
	list, _ := e.svc.Sources(ctx, tenant, advisor)
	for _, s := range list {
		if s.LastError == "" || s.Events == 0 {
			t.Fatalf("after a failing poll: %+v", s)
		}
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	e := newEnv(t, func(o *calsync.Options) { o.PollInterval = time.Second })
	fs := newFeedServer(t)
	e.put(t, calsync.Source{Kind: calsync.KindICS, URL: fs.URL + "/google.ics"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(ctx) }()
	// Run syncs the new source at once (it is due).
	for {
		list, err := e.svc.Sources(context.Background(), tenant, advisor)
		if err != nil {
			t.Fatal(err)
		}
		if !list[0].LastSync.IsZero() {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if b := e.busy(t); len(b) != 3 {
		t.Fatalf("Run synced %d intervals, want 3", len(b))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
}

func TestFeedTokens(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tok, err := e.svc.FeedToken(ctx, tenant, advisor)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, calsync.FeedTokenPrefix) || len(tok) != 4+43 {
		t.Fatalf("token %q", tok)
	}
	if _, err := e.svc.FeedToken(ctx, tenant, advisor); !errors.Is(err, calsync.ErrTokenIssued) {
		t.Fatalf("second FeedToken: %v", err)
	}
	ten, adv, err := e.svc.ResolveFeedToken(ctx, tok)
	if err != nil || ten != tenant || adv != advisor {
		t.Fatalf("resolve: %s %s %v", ten, adv, err)
	}
	other, _ := e.svc.FeedToken(ctx, tenant, "a2")
	if _, adv, _ := e.svc.ResolveFeedToken(ctx, other); adv != "a2" {
		t.Fatalf("other advisor's token resolves to %s", adv)
	}
	rot, err := e.svc.RotateFeedToken(ctx, tenant, advisor)
	if err != nil || rot == tok {
		t.Fatalf("rotate: %v", err)
	}
	if _, _, err := e.svc.ResolveFeedToken(ctx, tok); !errors.Is(err, calsync.ErrNotFound) {
		t.Fatalf("rotated token resolves: %v", err)
	}
	if _, adv, err := e.svc.ResolveFeedToken(ctx, rot); err != nil || adv != advisor {
		t.Fatalf("new token: %v", err)
	}
	for _, bad := range []string{"", "pcf_", tok[:len(tok)-1] + "!", strings.Repeat("a", 47), "pcf_" + strings.Repeat("A", 43)} {
		if _, _, err := e.svc.ResolveFeedToken(ctx, bad); !errors.Is(err, calsync.ErrNotFound) {
			t.Errorf("resolve %q: %v", bad, err)
		}
	}
	// Only digests are stored.
	e.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(""), func(k, v []byte) error {
			if bytes.Contains(k, []byte(rot)) || bytes.Contains(v, []byte(rot)) || bytes.Contains(v, []byte(rot[4:])) {
				t.Errorf("token stored in clear under %s", k)
			}
			return nil
		})
	})
	if err := e.svc.DeleteAdvisor(ctx, tenant, advisor); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.ResolveFeedToken(ctx, rot); !errors.Is(err, calsync.ErrNotFound) {
		t.Fatalf("token of a deleted advisor resolves: %v", err)
	}
}
