package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/meeting"
)

// TestSweepAnonymisesMeetingMetadataAfterTwoDays runs a meeting through the
// API, then steps the relay's clock and sweeps: nothing happens before the
// deadline, the customer's name and full IP are gone after it.
func TestSweepAnonymisesMeetingMetadataAfterTwoDays(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	s, err := Start(context.Background(), Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: "Leuchtturm-Hafen-2026", Hash: auth.TestHashParams, Clock: clk, SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(t, s)}}
	call := func(method, path, token string, body any, out any) int {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, s.URL()+path, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if out != nil {
			_ = json.NewDecoder(res.Body).Decode(out)
		}
		return res.StatusCode
	}
	var login struct{ Token string }
	call("POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": "admin", "password": "Leuchtturm-Hafen-2026"}, &login)
	var created struct {
		Meeting   struct{ ID string }
		JoinToken string `json:"join_token"`
	}
	if st := call("POST", "/api/v1/meetings", login.Token, map[string]string{}, &created); st != 201 {
		t.Fatalf("create meeting: %d", st)
	}
	if st := call("POST", "/api/v1/join/"+created.JoinToken, "", map[string]string{"name": "Klara Fischer"}, nil); st != 201 {
		t.Fatalf("join: %d", st)
	}
	if st := call("POST", "/api/v1/meetings/"+created.Meeting.ID+"/end", login.Token, nil, nil); st != 204 {
		t.Fatalf("end: %d", st)
	}
	ms, err := meeting.New(meeting.Options{Store: s.store, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	meta := func() string {
		m, err := ms.MetadataOf(context.Background(), created.Meeting.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	if !strings.Contains(meta(), "Klara Fischer") || !strings.Contains(meta(), "127.0.0.1") {
		t.Fatalf("metadata lacks the customer before the deadline: %s", meta())
	}

	clk.Advance(2*24*time.Hour - time.Second)
	if err := s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(meta(), "Klara Fischer") {
		t.Fatalf("anonymised before the deadline: %s", meta())
	}
	clk.Advance(time.Second)
	if err := s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := meta(); strings.Contains(m, "Klara Fischer") || strings.Contains(m, "127.0.0.1") || !strings.Contains(m, "127.0.0.0") {
		t.Fatalf("metadata after the deadline: %s", m)
	}
	var metrics bytes.Buffer
	res, err := c.Get(s.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(&metrics, res.Body)
	res.Body.Close()
	if !strings.Contains(metrics.String(), `parley_retention_processed_total{action="anonymise",class="meeting_metadata"} 1`) {
		t.Errorf("metrics do not count the anonymisation")
	}
}
