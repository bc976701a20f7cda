package link

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// meetingServer answers the meeting endpoints with canned JSON and records
// every request as "METHOD path body".
type meetingServer struct {
	mu    sync.Mutex
	seen  []string
	reply map[string]func(w http.ResponseWriter) // by "METHOD path"
}

func (m *meetingServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	route := req.Method + " " + req.URL.EscapedPath()
	m.mu.Lock()
	m.seen = append(m.seen, strings.TrimSpace(route+" "+string(b)))
	m.mu.Unlock()
	if !strings.HasPrefix(req.Header.Get("Authorization"), "Bearer ") {
		writeError(w, http.StatusUnauthorized, CodeUnauthenticated, nil)
		return
	}
	if f, ok := m.reply[route]; ok {
		f(w)
		return
	}
	writeError(w, http.StatusNotFound, CodeNotFound, nil)
}

func (m *meetingServer) requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...)
}

func raw(status int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const meetingJSON = `{"id":"m1","type":"instant","status":"open","title":"Baufinanzierung","advisor_id":"u1",` +
	`"created":"2026-11-23T10:00:00Z","started":"2026-11-23T10:00:00Z",` +
	`"link_opens_at":"2026-11-23T10:00:00Z","link_expires_at":"2026-11-23T14:00:00Z"}`

func TestMeetingCalls(t *testing.T) {
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{})
	mustConnect(t, c, r.URL, TransportQUIC)
	ctx := testCtx(t)
	if _, err := c.Login(ctx, "acme", "erika", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	ms := &meetingServer{reply: map[string]func(http.ResponseWriter){
		"POST /api/v1/meetings":         raw(201, `{"meeting":`+meetingJSON+`,"join_token":"pmj_a","join_url":"https://r/j/pmj_a"}`),
		"GET /api/v1/meetings/m1":       raw(200, meetingJSON),
		"POST /api/v1/meetings/m1/link": raw(200, `{"join_token":"pmj_b","join_url":"https://r/j/pmj_b"}`),
		"POST /api/v1/meetings/m1/end":  func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) },
		"GET /api/v1/meetings/m1/participants": raw(200, `{"participants":[`+
			`{"id":"p1","name":"Max Kunde","phone":"+4930123","state":"waiting","joined":"2026-11-23T10:01:00Z"},`+
			`{"id":"p2","name":"Ida","state":"admitted","joined":"2026-11-23T10:01:00Z","admitted":"2026-11-23T10:02:00Z"}]}`),
		"POST /api/v1/meetings/m1/participants/p1/admit":  func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) },
		"POST /api/v1/meetings/m1/participants/p1/reject": func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) },
		"POST /api/v1/meetings/m1/participants/p2/remove": func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) },
	}}
	r.serveAll(ms.ServeHTTP)
	defer r.serveAll(nil)

	m, l, err := c.CreateMeeting(ctx, "Baufinanzierung")
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "m1" || m.Type != MeetingInstant || m.Title != "Baufinanzierung" || m.Ended != nil || m.Started == nil ||
		!m.LinkExpiresAt.Equal(time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)) {
		t.Errorf("meeting %+v", m)
	}
	if l.Token != "pmj_a" || l.URL != "https://r/j/pmj_a" {
		t.Errorf("link %+v", l)
	}
	if got, err := c.Meeting(ctx, "m1"); err != nil || got.ID != "m1" {
		t.Errorf("Meeting: %+v %v", got, err)
	}
	if l, err := c.RotateLink(ctx, "m1"); err != nil || l.Token != "pmj_b" {
		t.Errorf("RotateLink: %+v %v", l, err)
	}
	ps, err := c.Participants(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "Max Kunde" || ps[0].Phone != "+4930123" || ps[0].State != ParticipantWaiting ||
		ps[0].Admitted != nil || ps[1].Admitted == nil || ps[1].Phone != "" {
		t.Errorf("participants %+v", ps)
	}
	for _, err := range []error{c.Admit(ctx, "m1", "p1"), c.Reject(ctx, "m1", "p1"), c.Remove(ctx, "m1", "p2"), c.EndMeeting(ctx, "m1")} {
		if err != nil {
			t.Error(err)
		}
	}
	// Ids are escaped into the path.
	if err := c.Admit(ctx, "m1", "../../x"); !hasCode(err, CodeNotFound) {
		t.Errorf("Admit with a hostile id: %v", err)
	}
	want := []string{
		`POST /api/v1/meetings {"type":"instant","title":"Baufinanzierung"}`,
		"GET /api/v1/meetings/m1",
		"POST /api/v1/meetings/m1/link",
		"GET /api/v1/meetings/m1/participants",
		"POST /api/v1/meetings/m1/participants/p1/admit",
		"POST /api/v1/meetings/m1/participants/p1/reject",
		"POST /api/v1/meetings/m1/participants/p2/remove",
		"POST /api/v1/meetings/m1/end",
		"POST /api/v1/meetings/m1/participants/..%2F..%2Fx/admit",
	}
	if got := ms.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Without a title the field is left out.
	if _, _, err := c.CreateMeeting(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if got := ms.requests(); got[len(got)-1] != `POST /api/v1/meetings {"type":"instant"}` {
		t.Errorf("untitled create sent %q", got[len(got)-1])
	}
}

func TestMeetingBadResponsesAndErrors(t *testing.T) {
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{})
	mustConnect(t, c, r.URL, TransportQUIC)
	ctx := testCtx(t)
	if _, err := c.Login(ctx, "acme", "erika", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	defer r.serveAll(nil)
	serve := func(status int, body string) {
		r.serveAll(func(w http.ResponseWriter, _ *http.Request) { raw(status, body)(w) })
	}

	for _, tc := range []struct {
		name string
		body string
	}{
		{"no join token", `{"meeting":` + meetingJSON + `,"join_url":"https://r/j/x"}`},
		{"no join url", `{"meeting":` + meetingJSON + `,"join_token":"pmj_x"}`},
		{"meeting without id", `{"meeting":{"status":"open"},"join_token":"pmj_x","join_url":"u"}`},
		{"wrong types", `{"meeting":{"id":1},"join_token":"pmj_x","join_url":"u"}`},
	} {
		serve(201, tc.body)
		if _, _, err := c.CreateMeeting(ctx, ""); !errors.Is(err, ErrBadResponse) {
			t.Errorf("CreateMeeting with %s: %v, want ErrBadResponse", tc.name, err)
		}
	}
	serve(200, `{"join_token":""}`)
	if _, err := c.RotateLink(ctx, "m1"); !errors.Is(err, ErrBadResponse) {
		t.Errorf("RotateLink without token: %v", err)
	}
	serve(200, `{}`)
	if _, err := c.Participants(ctx, "m1"); !errors.Is(err, ErrBadResponse) {
		t.Errorf("Participants without list: %v", err)
	}
	serve(200, `{"participants":[{"name":"x"}]}`)
	if _, err := c.Participants(ctx, "m1"); !errors.Is(err, ErrBadResponse) {
		t.Errorf("Participants with a participant without id: %v", err)
	}
	serve(200, `{"participants":[]}`)
	if ps, err := c.Participants(ctx, "m1"); err != nil || len(ps) != 0 {
		t.Errorf("empty participant list: %v %v", ps, err)
	}

	// The relay's errors come back as APIErrors with the relay's sentence
	// for codes the client does not know.
	r.serveAll(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGone)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "meeting_ended", "message": "This meeting has ended."}})
	})
	err := c.EndMeeting(ctx, "m1")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusGone || ae.Code != "meeting_ended" || UserMessage(err) != "This meeting has ended." {
		t.Errorf("EndMeeting of an ended meeting: %#v (%q)", err, UserMessage(err))
	}
	serve(409, `{"error":{"code":"conflict","message":"The participant is not in a state that allows this."}}`)
	if err := c.Admit(ctx, "m1", "p1"); !hasCode(err, CodeConflict) {
		t.Errorf("Admit of a guest no longer waiting: %v", err)
	}
}
