package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/meeting"
	"parley/relay/signal/msg"
)

// TestSweepAnonymisesMeetingMetadataAfterTwoDays runs a meeting through the
// API, then steps the relay's clock and sweeps: nothing happens before the
// deadline, the customer's name and full IP are gone after it.
func TestSweepAnonymisesMeetingMetadataAfterTwoDays(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	s, api := startClockedRelay(t, clk)
	call := api.call
	login := struct{ Token string }{api.login()}
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
	ms, err := meeting.New(meeting.Options{Store: s.store, Clock: clk, MetadataRule: keepAllMeta}) // what the sweep left
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
	res, err := api.c.Get(s.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(&metrics, res.Body)
	res.Body.Close()
	if !strings.Contains(metrics.String(), `parley_retention_processed_total{action="anonymise",class="meeting_metadata"} 1`) {
		t.Errorf("metrics do not count the anonymisation")
	}
}

// TestSweepDeletesMeetingContentAfterSevenDays shares a file and a chat
// message in a meeting, then steps the relay's clock and sweeps: both stay
// until seven days after they were posted, then they are gone, counted in
// the metrics and recorded in the audit log.
func TestSweepDeletesMeetingContentAfterSevenDays(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	s, api := startClockedRelay(t, clk)
	do := api.raw
	var login struct{ Token string }
	signIn := func() { login.Token = api.login() } // sessions do not last the week the test skips
	signIn()
	var created struct{ Meeting struct{ ID string } }
	if st := do("POST", "/api/v1/meetings", login.Token, "application/json", []byte("{}"), &created); st != 201 {
		t.Fatalf("create meeting: %d", st)
	}
	mid := created.Meeting.ID
	var up struct{ Entry msg.Entry }
	if st := do("POST", "/api/v1/meetings/"+mid+"/files?name=Angebot.pdf", login.Token, "application/pdf", []byte("%PDF-1.7\n%%EOF\n"), &up); st != 201 {
		t.Fatalf("upload: %d", st)
	}
	clk.Advance(time.Hour)
	if _, _, err := s.chat.Post(context.Background(), mid, chat.Author{ID: "p-1", Name: "Klara", Role: msg.RoleCustomer}, "Danke!", ""); err != nil {
		t.Fatal(err)
	}
	timeline := func() int {
		signIn()
		var tl struct{ Entries []msg.Entry }
		if st := do("GET", "/api/v1/meetings/"+mid+"/timeline", login.Token, "", nil, &tl); st != 200 {
			t.Fatalf("timeline: %d", st)
		}
		return len(tl.Entries)
	}
	sweep := func() {
		t.Helper()
		if err := s.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	clk.Advance(chat.Retention - time.Hour - time.Second)
	sweep()
	if n := timeline(); n != 2 {
		t.Fatalf("%d entries just before the file's deadline, want 2", n)
	}
	clk.Advance(time.Second)
	sweep()
	if n := timeline(); n != 1 {
		t.Fatalf("%d entries at the file's deadline, want the chat message only", n)
	}
	if st := do("GET", "/api/v1/meetings/"+mid+"/files/"+up.Entry.ID, login.Token, "", nil, nil); st != 404 {
		t.Fatalf("expired file downloads: %d", st)
	}
	clk.Advance(time.Hour)
	sweep()
	if n := timeline(); n != 0 {
		t.Fatalf("%d entries after both deadlines", n)
	}

	res, err := api.c.Get(s.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(metrics), `parley_retention_processed_total{action="delete",class="meeting_content"} 2`) {
		t.Errorf("metrics do not count the two deletions")
	}
	entries, err := s.audit.List(context.Background(), "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var deletes []string
	for _, e := range entries {
		if e.Action == "retention.delete" {
			deletes = append(deletes, e.Details["class"]+" "+e.Details["entries"]+" "+e.Details["files"])
		}
	}
	if len(deletes) != 2 || deletes[0] != "meeting_content 1 1" || deletes[1] != "meeting_content 1 0" {
		t.Fatalf("audit records %q", deletes)
	}
}
