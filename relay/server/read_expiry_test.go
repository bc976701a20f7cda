package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/signal/msg"
)

// TestExpiredContentIsNotServedBeforeTheSweep steps the relay's clock past
// a file's deadline without sweeping: from the deadline on, the timeline
// endpoint does not list it, the download is 404 and a signalling replay
// does not carry it, while a held meeting's file is still served; a
// tenant override that shortens the period hides older content at once.
func TestExpiredContentIsNotServedBeforeTheSweep(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	// The sweep runs at start (nothing is due) and then hourly on the
	// real clock, i.e. not during the test.
	s, api := startClockedRelay(t, clk)
	var token string
	do := func(method, path, contentType string, body []byte, out any) int {
		t.Helper()
		return api.raw(method, path, token, contentType, body, out)
	}
	signIn := func() { token = api.login() } // sessions do not last the week the test skips
	signIn()
	newMeeting := func() (meetingID, fileID string) {
		t.Helper()
		var created struct{ Meeting struct{ ID string } }
		if st := do("POST", "/api/v1/meetings", "application/json", []byte("{}"), &created); st != 201 {
			t.Fatalf("create meeting: %d", st)
		}
		var up struct{ Entry msg.Entry }
		if st := do("POST", "/api/v1/meetings/"+created.Meeting.ID+"/files?name=Angebot.pdf", "application/pdf", []byte("%PDF-1.7\n%%EOF\n"), &up); st != 201 {
			t.Fatalf("upload: %d", st)
		}
		return created.Meeting.ID, up.Entry.ID
	}
	listed := func(meetingID, entryID string) bool {
		t.Helper()
		var tl struct{ Entries []msg.Entry }
		if st := do("GET", "/api/v1/meetings/"+meetingID+"/timeline", "", nil, &tl); st != 200 {
			t.Fatalf("timeline: %d", st)
		}
		for _, e := range tl.Entries {
			if e.ID == entryID {
				return true
			}
		}
		return false
	}
	downloads := func(meetingID, fileID string) bool {
		t.Helper()
		switch st := do("GET", "/api/v1/meetings/"+meetingID+"/files/"+fileID, "", nil, nil); st {
		case 200:
			return true
		case 404:
			return false
		default:
			t.Fatalf("download: %d", st)
			return false
		}
	}
	// replayed connects as the advisor with since 0 and reports whether
	// the replay carries entryID. A chat message sent after the welcome
	// is delivered after the replay, so it marks the replay's end.
	replayed := func(meetingID, entryID string) bool {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(wctx, "wss"+strings.TrimPrefix(s.URL(), "https")+"/api/v1/signal",
			&websocket.DialOptions{HTTPClient: api.c})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer ws.CloseNow()
		send := func(m msg.Message) {
			b, _ := msg.Encode(m)
			if err := ws.Write(wctx, websocket.MessageText, b); err != nil {
				t.Fatalf("send %s: %v", m.Type, err)
			}
		}
		send(msg.Message{Type: msg.TypeHello, Token: token, MeetingID: meetingID})
		marker := "marker-" + clk.Now().Format("150405.000")
		sentMarker, seen := false, false
		for {
			_, data, err := ws.Read(wctx)
			if err != nil {
				t.Fatalf("signalling read: %v", err)
			}
			var m msg.Message
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			switch {
			case m.Type == msg.TypeError:
				t.Fatalf("signalling error: %s %s", m.Code, m.Message)
			case m.Type == msg.TypeWelcome && !sentMarker:
				send(msg.Message{Type: msg.TypeChat, Text: "Ende der Wiederholung", Nonce: marker})
				sentMarker = true
			case m.Entry != nil && m.Entry.Nonce == marker:
				return seen
			case m.Entry != nil && m.Entry.ID == entryID:
				seen = true
			}
		}
	}

	free, freeFile := newMeeting()
	held, heldFile := newMeeting()
	if st := do("POST", "/api/v1/retention/holds", "application/json",
		[]byte(`{"subject_kind":"meeting","subject_id":"`+held+`","reason":"Beschwerdeverfahren"}`), nil); st != 201 {
		t.Fatalf("hold: %d", st)
	}

	clk.Advance(chat.Retention - time.Second)
	signIn()
	if !listed(free, freeFile) || !downloads(free, freeFile) || !replayed(free, freeFile) {
		t.Fatal("deadline - 1 s: the file is not served everywhere")
	}
	clk.Advance(2 * time.Second)
	signIn()
	if listed(free, freeFile) {
		t.Error("deadline + 1 s: the timeline lists the file")
	}
	if downloads(free, freeFile) {
		t.Error("deadline + 1 s: the file downloads")
	}
	if replayed(free, freeFile) {
		t.Error("deadline + 1 s: the signalling replay carries the file")
	}
	if !listed(held, heldFile) || !downloads(held, heldFile) || !replayed(held, heldFile) {
		t.Error("deadline + 1 s: the held meeting's file is not served everywhere")
	}

	// A shorter period applies to reads at once, without a sweep.
	other, otherFile := newMeeting()
	clk.Advance(48 * time.Hour)
	signIn()
	if !listed(other, otherFile) || !downloads(other, otherFile) {
		t.Fatal("a two-day-old file is not served under the default period")
	}
	if st := do("PUT", "/api/v1/retention/overrides/meeting_content", "application/json", []byte(`{"period_hours":24}`), nil); st != 200 {
		t.Fatalf("content override: %d", st)
	}
	if listed(other, otherFile) || downloads(other, otherFile) || replayed(other, otherFile) {
		t.Error("after the tenant shortened the period to 24 h, a two-day-old file is still served")
	}
	if !listed(held, heldFile) {
		t.Error("the shortened period hides the held meeting's file")
	}
}
