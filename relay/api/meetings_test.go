package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

type created struct {
	Meeting struct {
		ID, Status, Type string
	}
	JoinToken string `json:"join_token"`
}

func (f *fixture) advisor(admin, username string) string {
	f.t.Helper()
	pw := "Kaffee-und-Kuchen-42"
	if r := f.json("POST", "/api/v1/users", admin, map[string]string{"username": username, "display_name": "Berater " + username, "password": pw}); r.status != 201 {
		f.t.Fatalf("create advisor: %d %s", r.status, r.body)
	}
	tok := f.login("sparkasse", username, pw)
	if r := f.json("POST", "/api/v1/me/password", tok, map[string]string{"current_password": pw, "new_password": "Regenschirm-im-Mai-9"}); r.status != 204 {
		f.t.Fatalf("advisor password: %d %s", r.status, r.body)
	}
	return tok
}

func TestInstantMeetingWaitingRoomFlow(t *testing.T) {
	f := newFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	adv := f.advisor(admin, "paul")
	other := f.advisor(admin, "olga")

	r := f.json("POST", "/api/v1/meetings", adv, map[string]string{"title": "Baufinanzierung"})
	var m created
	if err := json.Unmarshal(r.body, &m); r.status != 201 || err != nil || !strings.HasPrefix(m.JoinToken, "pmj_") || m.Meeting.Type != "instant" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}

	// The customer opens the link, sees whom they meet, and joins.
	r = f.json("GET", "/api/v1/join/"+m.JoinToken, "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"advisor_name":"Berater paul"`) || !strings.Contains(string(r.body), "Baufinanzierung") {
		t.Fatalf("resolve: %d %s", r.status, r.body)
	}
	r = f.json("POST", "/api/v1/join/"+m.JoinToken, "", map[string]string{"name": "Klara Fischer", "phone": "+49 170 1234567"})
	var j struct {
		ParticipantID string `json:"participant_id"`
		Secret        string
	}
	if err := json.Unmarshal(r.body, &j); r.status != 201 || err != nil || j.Secret == "" {
		t.Fatalf("join: %d %s", r.status, r.body)
	}
	state := func() string {
		r := f.json("GET", "/api/v1/participant", j.Secret, nil)
		var s struct{ State string }
		_ = json.Unmarshal(r.body, &s)
		return s.State
	}
	if got := state(); got != "waiting" {
		t.Fatalf("state after join %q", got)
	}

	// The advisor sees the waiting customer; another advisor does not.
	r = f.json("GET", "/api/v1/meetings/"+m.Meeting.ID+"/participants", adv, nil)
	if r.status != 200 || !strings.Contains(string(r.body), "Klara Fischer") || !strings.Contains(string(r.body), `"state":"waiting"`) {
		t.Fatalf("participants: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/meetings/"+m.Meeting.ID+"/participants", other, nil); r.status != 403 {
		t.Fatalf("another advisor reads the waiting room: %d %s", r.status, r.body)
	}
	if r := f.json("POST", "/api/v1/meetings/"+m.Meeting.ID+"/participants/"+j.ParticipantID+"/admit", other, nil); r.status != 403 {
		t.Fatalf("another advisor admits: %d", r.status)
	}
	if r := f.json("POST", "/api/v1/meetings/"+m.Meeting.ID+"/participants/"+j.ParticipantID+"/admit", adv, nil); r.status != 204 {
		t.Fatalf("admit: %d %s", r.status, r.body)
	}
	if got := state(); got != "admitted" {
		t.Fatalf("state after admit %q", got)
	}
	if r := f.json("POST", "/api/v1/meetings/"+m.Meeting.ID+"/participants/"+j.ParticipantID+"/admit", adv, nil); r.status != 409 {
		t.Fatalf("admitting twice: %d %s", r.status, r.body)
	}

	// Rotating the link kills the old one.
	r = f.json("POST", "/api/v1/meetings/"+m.Meeting.ID+"/link", adv, nil)
	var rot struct {
		JoinToken string `json:"join_token"`
	}
	if err := json.Unmarshal(r.body, &rot); r.status != 200 || err != nil || rot.JoinToken == m.JoinToken {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/join/"+m.JoinToken, "", nil); r.status != 404 || r.errCode() != "link_invalid" {
		t.Fatalf("old link after rotation: %d %s", r.status, r.body)
	}

	// Ending: the link dies and the customer's state says so.
	if r := f.json("POST", "/api/v1/meetings/"+m.Meeting.ID+"/end", adv, nil); r.status != 204 {
		t.Fatalf("end: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/join/"+rot.JoinToken, "", nil); r.status != 410 || r.errCode() != "meeting_ended" {
		t.Fatalf("link after end: %d %s", r.status, r.body)
	}
	if got := state(); got != "ended" {
		t.Fatalf("state after end %q", got)
	}
}

func TestJoinLinkErrorsAreClear(t *testing.T) {
	f := newFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	adv := f.advisor(admin, "paul")

	start := f.clock.Now().Add(3 * time.Hour).UTC()
	r := f.json("POST", "/api/v1/meetings", adv, map[string]any{"type": "booked", "scheduled_start": start})
	var m created
	if err := json.Unmarshal(r.body, &m); r.status != 201 || err != nil {
		t.Fatalf("create booked: %d %s", r.status, r.body)
	}
	r = f.json("GET", "/api/v1/join/"+m.JoinToken, "", nil)
	if r.status != 409 || r.errCode() != "link_not_yet_open" || !strings.Contains(string(r.body), `"opens_at":"`+start.Add(-15*time.Minute).Format(time.RFC3339)) {
		t.Fatalf("early link: %d %s", r.status, r.body)
	}
	f.clock.Advance(3 * time.Hour)
	if r := f.json("GET", "/api/v1/join/"+m.JoinToken, "", nil); r.status != 200 {
		t.Fatalf("link at the start: %d %s", r.status, r.body)
	}
	f.clock.Advance(3 * time.Hour)
	if r := f.json("GET", "/api/v1/join/"+m.JoinToken, "", nil); r.status != 410 || r.errCode() != "link_expired" {
		t.Fatalf("late link: %d %s", r.status, r.body)
	}

	r = f.json("POST", "/api/v1/meetings", adv, map[string]string{})
	_ = json.Unmarshal(r.body, &m)
	cases := []struct {
		name, method, path, token, ct, body string
		status                              int
		code                                string
	}{
		{"forged link", "GET", "/api/v1/join/pmj_forged", "", "", "", 404, "link_invalid"},
		{"garbage link", "GET", "/api/v1/join/%00%ff", "", "", "", 404, "link_invalid"},
		{"name with control character", "POST", "/api/v1/join/" + m.JoinToken, "", "application/json", `{"name":"Eve\u0007"}`, 400, "bad_request"},
		{"no name", "POST", "/api/v1/join/" + m.JoinToken, "", "application/json", `{"phone":"+491701234567"}`, 400, "bad_request"},
		{"bad phone", "POST", "/api/v1/join/" + m.JoinToken, "", "application/json", `{"name":"Eve","phone":"call me"}`, 400, "bad_request"},
		{"unknown field", "POST", "/api/v1/join/" + m.JoinToken, "", "application/json", `{"name":"Eve","admin":true}`, 400, "bad_request"},
		{"forged secret", "GET", "/api/v1/participant", "pmp_forged", "", "", 401, "unauthenticated"},
		{"no secret", "GET", "/api/v1/participant", "", "", "", 401, "unauthenticated"},
		{"session token as secret", "GET", "/api/v1/participant", adv, "", "", 401, "unauthenticated"},
		{"instant with start", "POST", "/api/v1/meetings", adv, "application/json", `{"scheduled_start":"2026-12-01T10:00:00Z"}`, 400, "bad_request"},
		{"booked without start", "POST", "/api/v1/meetings", adv, "application/json", `{"type":"booked"}`, 400, "bad_request"},
		{"unknown type", "POST", "/api/v1/meetings", adv, "application/json", `{"type":"webinar"}`, 400, "bad_request"},
		{"customer cannot create", "POST", "/api/v1/meetings", "", "application/json", `{}`, 401, "unauthenticated"},
		{"unknown meeting", "GET", "/api/v1/meetings/0123456789abcdef0123456789abcdef", adv, "", "", 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(c.method, c.path, c.ct, c.token, []byte(c.body))
			if r.status != c.status || r.errCode() != c.code {
				t.Fatalf("got %d %q (%s), want %d %q", r.status, r.errCode(), r.body, c.status, c.code)
			}
		})
	}
	// None of the hostile joins reached the waiting room.
	r = f.json("GET", "/api/v1/meetings/"+m.Meeting.ID+"/participants", adv, nil)
	if r.status != http.StatusOK || strings.Contains(string(r.body), "Eve") {
		t.Fatalf("waiting room after hostile joins: %d %s", r.status, r.body)
	}
}

func TestCustomerLeaves(t *testing.T) {
	f := newFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	r := f.json("POST", "/api/v1/meetings", admin, map[string]string{})
	var m created
	_ = json.Unmarshal(r.body, &m)
	r = f.json("POST", "/api/v1/join/"+m.JoinToken, "", map[string]string{"name": "Klara Fischer"})
	var j struct{ Secret string }
	_ = json.Unmarshal(r.body, &j)
	if r := f.json("POST", "/api/v1/participant/leave", j.Secret, nil); r.status != 204 {
		t.Fatalf("leave: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/participant", j.Secret, nil); !strings.Contains(string(r.body), `"state":"left"`) {
		t.Fatalf("state after leave: %s", r.body)
	}
	if r := f.json("GET", "/api/v1/meetings/"+m.Meeting.ID+"/participants", admin, nil); !strings.Contains(string(r.body), `"state":"left"`) {
		t.Fatalf("advisor's view after leave: %s", r.body)
	}
	if r := f.json("POST", "/api/v1/participant/leave", "pmp_forged", nil); r.status != 401 {
		t.Fatalf("forged leave: %d", r.status)
	}
}

func TestListOwnMeetings(t *testing.T) {
	f := newFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	adv := f.advisor(admin, "paul")
	for _, title := range []string{"Erstgespräch", "Folgetermin"} {
		if r := f.json("POST", "/api/v1/meetings", adv, map[string]string{"title": title}); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		f.clock.Advance(time.Minute)
	}
	f.json("POST", "/api/v1/meetings", admin, map[string]string{"title": "Admin-Termin"})
	r := f.json("GET", "/api/v1/meetings", adv, nil)
	var out struct {
		Meetings []struct{ Title string }
	}
	if err := json.Unmarshal(r.body, &out); r.status != 200 || err != nil {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if len(out.Meetings) != 2 || out.Meetings[0].Title != "Folgetermin" || out.Meetings[1].Title != "Erstgespräch" {
		t.Fatalf("advisor's meetings: %+v", out.Meetings)
	}
	if r := f.json("GET", "/api/v1/meetings?limit=1", adv, nil); strings.Count(string(r.body), `"id"`) != 1 {
		t.Fatalf("limit=1: %s", r.body)
	}
	if r := f.json("GET", "/api/v1/meetings?limit=0", adv, nil); r.status != 400 {
		t.Fatalf("limit=0: %d", r.status)
	}
}

// TestParticipantLongPoll: a waiting customer's state request with wait
// returns as soon as the advisor admits them, not at its timeout.
func TestParticipantLongPoll(t *testing.T) {
	f := newFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	adv := f.advisor(admin, "paula")
	var m created
	if r := f.json("POST", "/api/v1/meetings", adv, map[string]string{}); r.status != 201 || json.Unmarshal(r.body, &m) != nil {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var j struct {
		ParticipantID string `json:"participant_id"`
		Secret        string
	}
	if r := f.json("POST", "/api/v1/join/"+m.JoinToken, "", map[string]string{"name": "Klara"}); r.status != 201 || json.Unmarshal(r.body, &j) != nil {
		t.Fatalf("join: %d %s", r.status, r.body)
	}
	for _, bad := range []string{"-1", "x", "26", "99999999999999999999"} {
		if r := f.json("GET", "/api/v1/participant?wait="+bad, j.Secret, nil); r.status != 400 {
			t.Errorf("wait=%s: %d", bad, r.status)
		}
	}
	// Nothing happens: the request ends at its timeout, still waiting.
	if r := f.json("GET", "/api/v1/participant?wait=1", j.Secret, nil); r.status != 200 || !strings.Contains(string(r.body), `"state":"waiting"`) {
		t.Fatalf("idle long poll: %d %s", r.status, r.body)
	}
	done := make(chan resp, 1)
	go func() { done <- f.json("GET", "/api/v1/participant?wait=25", j.Secret, nil) }()
	time.Sleep(100 * time.Millisecond) // let the request subscribe (a miss still ends at the timeout)
	if r := f.json("POST", "/api/v1/meetings/"+m.Meeting.ID+"/participants/"+j.ParticipantID+"/admit", adv, nil); r.status != 204 {
		t.Fatalf("admit: %d %s", r.status, r.body)
	}
	select {
	case r := <-done:
		if r.status != 200 || !strings.Contains(string(r.body), `"state":"admitted"`) {
			t.Fatalf("long poll after admission: %d %s", r.status, r.body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the long poll did not return on admission")
	}
}
