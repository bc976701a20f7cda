package server

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/relay/accesslog"
	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/store"
)

// TestAccessLogRecordsRequestsSealedAndSweepsThem: requests end up in
// the day's access log with the client's address and without their
// secrets, and the sweep deletes the day 30 days after it ended.
func TestAccessLogRecordsRequestsSealedAndSweepsThem(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	s, err := Start(context.Background(), Options{DataDir: dir, Listen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: testAdminPassword, Hash: auth.TestHashParams, Clock: clk, SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	api := &testAPI{t: t, s: s, c: &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(t, s)}}}
	token := api.login()
	api.call("GET", "/api/v1/me", token, nil, nil)
	api.call("GET", "/api/v1/join/pmj_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA?ref=mail", "", nil, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	key, err := store.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(dir, accesslog.DirName)
	es, err := accesslog.Read(logDir, "2026-11-23", key)
	if err != nil || len(es) < 3 {
		t.Fatalf("access log: %d entries, %v", len(es), err)
	}
	var me, join bool
	for _, e := range es {
		if e.IP != "127.0.0.1" {
			t.Errorf("entry without the client's address: %+v", e)
		}
		if strings.Contains(e.Path, "AAAAAAAA") || strings.Contains(e.Path, "?") {
			t.Errorf("a secret or query in the log: %q", e.Path)
		}
		me = me || e.Route == "/api/v1/me" && e.Status == 200 && e.Session != ""
		join = join || e.Path == "/api/v1/join/pmj_…"
	}
	if !me || !join {
		t.Fatalf("entries %+v", es)
	}

	// The same relay data 30 days after the day ended: swept.
	clk.Set(time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC))
	s2, err := Start(context.Background(), Options{DataDir: dir, Listen: "127.0.0.1:0", Hash: auth.TestHashParams, Clock: clk, SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	days, _ := accesslog.Days(logDir)
	for _, d := range days {
		if d == "2026-11-23" {
			t.Fatal("the access log of 2026-11-23 survived its deadline")
		}
	}
}
