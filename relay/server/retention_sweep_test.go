package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/meeting"
	"parley/relay/signal/msg"
)

// TestSweepHonoursTenantPolicyAndHolds shortens the tenant's periods and
// holds one meeting through the API, then sweeps: the other meeting's
// content and metadata go at the shortened deadlines, the held meeting
// keeps both long after the defaults.
func TestSweepHonoursTenantPolicyAndHolds(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	s, api := startClockedRelay(t, clk)
	token := api.login()
	call := func(method, path string, body, out any) int {
		t.Helper()
		return api.call(method, path, token, body, out)
	}

	if st := call("PUT", "/api/v1/retention/overrides/meeting_content", map[string]any{"period_hours": 24}, nil); st != 200 {
		t.Fatalf("content override: %d", st)
	}
	if st := call("PUT", "/api/v1/retention/overrides/meeting_metadata", map[string]any{"period_hours": 6}, nil); st != 200 {
		t.Fatalf("metadata override: %d", st)
	}
	newMeeting := func() string {
		var created struct {
			Meeting   struct{ ID string }
			JoinToken string `json:"join_token"`
		}
		if st := call("POST", "/api/v1/meetings", map[string]string{}, &created); st != 201 {
			t.Fatalf("create meeting: %d", st)
		}
		tok := token
		token = ""
		if st := call("POST", "/api/v1/join/"+created.JoinToken, map[string]string{"name": "Klara Fischer"}, nil); st != 201 {
			t.Fatalf("join: %d", st)
		}
		token = tok
		if _, _, err := s.chat.Post(ctx, created.Meeting.ID, chat.Author{ID: "p-1", Name: "Klara", Role: msg.RoleCustomer}, "Danke!", ""); err != nil {
			t.Fatal(err)
		}
		if st := call("POST", "/api/v1/meetings/"+created.Meeting.ID+"/end", nil, nil); st != 204 {
			t.Fatalf("end: %d", st)
		}
		return created.Meeting.ID
	}
	free, held := newMeeting(), newMeeting()
	if st := call("POST", "/api/v1/retention/holds", map[string]string{"subject_kind": "meeting", "subject_id": held, "reason": "Beschwerdeverfahren"}, nil); st != 201 {
		t.Fatalf("hold: %d", st)
	}

	ms, err := meeting.New(meeting.Options{Store: s.store, Clock: clk, MetadataRule: keepAllMeta}) // what the sweep left
	if err != nil {
		t.Fatal(err)
	}
	named := func(id string) bool {
		m, err := ms.MetadataOf(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(m)
		return strings.Contains(string(b), "Klara Fischer")
	}
	stored, err := chat.New(chat.Options{Store: s.store, Clock: clk, Rule: keepAll}) // what the sweep left
	if err != nil {
		t.Fatal(err)
	}
	entries := func(id string) int {
		es, err := stored.Since(ctx, id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	sweep := func() {
		t.Helper()
		if err := s.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}

	clk.Advance(6*time.Hour - time.Second)
	sweep()
	if !named(free) || !named(held) {
		t.Fatal("anonymised before the tenant's 6 h")
	}
	clk.Advance(time.Second)
	sweep()
	if named(free) || !named(held) {
		t.Fatalf("at 6 h: free named %v, held named %v; want false, true", named(free), named(held))
	}
	clk.Advance(18 * time.Hour)
	sweep()
	if entries(free) != 0 || entries(held) != 1 {
		t.Fatalf("at 24 h: %d and %d entries, want 0 and 1", entries(free), entries(held))
	}
	clk.Advance(30 * 24 * time.Hour)
	sweep()
	if entries(held) != 1 || !named(held) {
		t.Fatal("the held meeting lost data")
	}
}
