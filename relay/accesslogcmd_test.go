package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/relay/accesslog"
	"parley/relay/store"
)

func TestAccessLogCommandPrintsADayFiltered(t *testing.T) {
	t.Setenv(store.KeyEnv, "")
	dir := t.TempDir()
	key, err := store.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := accesslog.Open(accesslog.Options{Dir: filepath.Join(dir, accesslog.DirName), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	l.Write(accesslog.Entry{Time: at, IP: "198.51.100.7", Method: "GET", Path: "/b/page", Route: "other", Status: 200})
	l.Write(accesslog.Entry{Time: at, IP: "203.0.113.9", Method: "POST", Path: "/api/v1/login", Route: "/api/v1/login", Status: 401})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := accessLog([]string{"--data", dir}, &out); err != nil || strings.TrimSpace(out.String()) != "2026-11-23" {
		t.Fatalf("days: %q, %v", out.String(), err)
	}
	out.Reset()
	if err := accessLog([]string{"--data", dir, "--day", "2026-11-23", "--ip", "203.0.113.9"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"status":401`) || !strings.Contains(lines[0], `"ip":"203.0.113.9"`) {
		t.Fatalf("filtered day: %q", out.String())
	}
	out.Reset()
	if err := accessLog([]string{"--data", dir, "--day", "2026-11-23", "--key-file", filepath.Join(t.TempDir(), "none")}, &out); err == nil {
		t.Fatal("a missing key file was accepted")
	}
}
