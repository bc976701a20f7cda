package link

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The relay's messaging API is built in parallel; these tests run against
// a double that answers with the contract's JSON.

const (
	convJSON = `{"id":"cv1","channel":"whatsapp","customer_id":"c1","customer_name":"Max Kunde","advisor_id":"u1","status":"open",` +
		`"unread":2,"last_message_at":"2027-03-01T10:00:00Z","window":{"open":true,"closes_at":"2027-03-02T10:00:00Z"}}`
	msgJSON = `{"id":"ms1","conversation_id":"cv1","seq":3,"client_id":"k1","side":"advisor","author":"u1","text":"Hallo",` +
		`"attachments":[{"id":"a1","name":"x.pdf","type":"application/pdf","size":4}],"delivery":"sent","created":"2027-03-01T10:00:00Z"}`
)

func TestMessagingCalls(t *testing.T) {
	r, c := loggedIn(t)
	ctx := testCtx(t)
	ms := &meetingServer{reply: map[string]func(http.ResponseWriter){
		"GET /api/v1/conversations":                  raw(200, `{"conversations":[`+convJSON+`]}`),
		"GET /api/v1/conversations/cv1":              raw(200, convJSON),
		"PATCH /api/v1/conversations/cv1":            raw(200, strings.Replace(convJSON, `"open"`, `"closed"`, 1)),
		"GET /api/v1/conversations/cv1/messages":     raw(200, `{"messages":[`+msgJSON+`]}`),
		"POST /api/v1/conversations/cv1/messages":    raw(201, msgJSON),
		"POST /api/v1/conversations/cv1/attachments": raw(201, msgJSON),
		"GET /api/v1/conversations/cv1/attachments/a1": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/pdf")
			w.Write([]byte("%PDF"))
		},
		"POST /api/v1/conversations/cv1/read": raw(200, strings.Replace(convJSON, `"unread":2`, `"unread":0`, 1)),
		"GET /api/v1/inbox/changes": raw(200, `{"changes":[{"seq":5,"kind":"message","conversation_id":"cv1","message":`+msgJSON+`},`+
			`{"seq":6,"kind":"removed","conversation_id":"cv9"}],"next":6}`),
		"GET /api/v1/inbox/unread":            raw(200, `{"total":2,"conversations":{"cv1":2}}`),
		"GET /api/v1/canned-responses":        raw(200, `{"canned_responses":[{"id":"cr1","title":"Gruß","text":"Viele Grüße","tenant_wide":true}]}`),
		"PUT /api/v1/canned-responses/cr1":    raw(200, `{"id":"cr1","title":"Gruß","text":"Beste Grüße","tenant_wide":false}`),
		"DELETE /api/v1/canned-responses/cr1": noContent,
	}}
	var (
		qmu     sync.Mutex
		queries []string
	)
	r.serveAll(func(w http.ResponseWriter, req *http.Request) {
		qmu.Lock()
		queries = append(queries, req.URL.RawQuery)
		qmu.Unlock()
		ms.ServeHTTP(w, req)
	})

	cs, err := c.Conversations(ctx, ConversationOpen, ChannelWhatsApp, 50)
	if err != nil || len(cs) != 1 || cs[0].CustomerName != "Max Kunde" || cs[0].Window == nil || !cs[0].Window.Open || cs[0].Unread != 2 {
		t.Errorf("Conversations: %+v %v", cs, err)
	}
	if cv, err := c.Conversation(ctx, "cv1"); err != nil || cv.ID != "cv1" {
		t.Errorf("Conversation: %+v %v", cv, err)
	}
	closed := ConversationClosed
	if cv, err := c.UpdateConversation(ctx, "cv1", ConversationUpdate{Status: &closed}); err != nil || cv.Status != ConversationClosed {
		t.Errorf("UpdateConversation: %+v %v", cv, err)
	}
	m, err := c.Messages(ctx, "cv1", 2, 100)
	if err != nil || len(m) != 1 || m[0].Seq != 3 || m[0].Attachments[0].Size != 4 {
		t.Errorf("Messages: %+v %v", m, err)
	}
	if m, err := c.SendMessage(ctx, "cv1", OutgoingMessage{ClientID: "k1", Text: "Hallo"}); err != nil || m.ClientID != "k1" {
		t.Errorf("SendMessage: %+v %v", m, err)
	}
	if _, err := c.SendMessage(ctx, "cv1", OutgoingMessage{Text: "no key"}); err == nil {
		t.Error("SendMessage without client id succeeded")
	}
	if m, err := c.SendAttachment(ctx, "cv1", "k2", "Vertrag März.pdf", []byte("%PDF")); err != nil || m.ID != "ms1" {
		t.Errorf("SendAttachment: %+v %v", m, err)
	}
	var buf bytes.Buffer
	if n, err := c.DownloadAttachment(ctx, "cv1", "a1", &buf); err != nil || n != 4 || buf.String() != "%PDF" {
		t.Errorf("DownloadAttachment: %d %q %v", n, buf.String(), err)
	}
	if cv, err := c.MarkRead(ctx, "cv1", 3); err != nil || cv.Unread != 0 {
		t.Errorf("MarkRead: %+v %v", cv, err)
	}
	ch, err := c.InboxChanges(ctx, 4, 500, 40*time.Second)
	if err != nil || ch.Next != 6 || len(ch.Changes) != 2 || ch.Changes[0].Message == nil || ch.Changes[1].Kind != ChangeRemoved {
		t.Errorf("InboxChanges: %+v %v", ch, err)
	}
	if u, err := c.UnreadCounts(ctx); err != nil || u.Total != 2 || u.Conversations["cv1"] != 2 {
		t.Errorf("UnreadCounts: %+v %v", u, err)
	}
	if rs, err := c.CannedResponses(ctx); err != nil || len(rs) != 1 || !rs[0].TenantWide {
		t.Errorf("CannedResponses: %+v %v", rs, err)
	}
	if cr, err := c.SaveCannedResponse(ctx, CannedResponse{ID: "cr1", Title: "Gruß", Text: "Beste Grüße"}); err != nil || cr.Text != "Beste Grüße" {
		t.Errorf("SaveCannedResponse: %+v %v", cr, err)
	}
	if err := c.DeleteCannedResponse(ctx, "cr1"); err != nil {
		t.Error(err)
	}

	want := []string{
		"GET /api/v1/conversations",
		"GET /api/v1/conversations/cv1",
		`PATCH /api/v1/conversations/cv1 {"status":"closed"}`,
		"GET /api/v1/conversations/cv1/messages",
		`POST /api/v1/conversations/cv1/messages {"client_id":"k1","text":"Hallo"}`,
		"POST /api/v1/conversations/cv1/attachments %PDF",
		"GET /api/v1/conversations/cv1/attachments/a1",
		`POST /api/v1/conversations/cv1/read {"seq":3}`,
		"GET /api/v1/inbox/changes",
		"GET /api/v1/inbox/unread",
		"GET /api/v1/canned-responses",
		`PUT /api/v1/canned-responses/cr1 {"title":"Gruß","text":"Beste Grüße","tenant_wide":false}`,
		"DELETE /api/v1/canned-responses/cr1",
	}
	if got := ms.requests(); !slices.Equal(got, want) {
		t.Errorf("requests\n got %q\nwant %q", got, want)
	}
	wantQ := []string{"channel=whatsapp&limit=50&status=open", "", "", "after=2&limit=100", "",
		"name=Vertrag+M%C3%A4rz.pdf&client_id=k2", "", "", "since=4&limit=500&wait=25", "", "", "", ""}
	qmu.Lock()
	defer qmu.Unlock()
	if !slices.Equal(queries, wantQ) {
		t.Errorf("queries\n got %q\nwant %q", queries, wantQ)
	}
}

func TestMessagingBadResponses(t *testing.T) {
	r, c := loggedIn(t)
	ctx := testCtx(t)
	cases := map[string]string{
		"out of order":        `{"changes":[{"seq":5,"kind":"message","conversation_id":"cv1"},{"seq":5,"kind":"message","conversation_id":"cv1"}],"next":5}`,
		"behind since":        `{"changes":[{"seq":2,"kind":"message","conversation_id":"cv1"}],"next":2}`,
		"no conversation":     `{"changes":[{"seq":5,"kind":"message"}],"next":5}`,
		"message without seq": `{"changes":[{"seq":5,"kind":"message","conversation_id":"cv1","message":{"id":"m","conversation_id":"cv1"}}],"next":5}`,
		"cursor behind":       `{"changes":[{"seq":5,"kind":"message","conversation_id":"cv1"}],"next":4}`,
		"no list":             `{"next":4}`,
	}
	for name, body := range cases {
		r.serveAll(func(w http.ResponseWriter, req *http.Request) { raw(200, body)(w) })
		if _, err := c.InboxChanges(ctx, 3, 0, 0); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v", name, err)
		}
	}
	r.serveAll(func(w http.ResponseWriter, req *http.Request) { raw(201, `{"id":"","seq":0}`)(w) })
	if _, err := c.SendMessage(ctx, "cv1", OutgoingMessage{ClientID: "k"}); !errors.Is(err, ErrBadResponse) {
		t.Errorf("send: %v", err)
	}
	r.serveAll(func(w http.ResponseWriter, req *http.Request) { writeError(w, 409, CodeConflict, nil) })
	var ae *APIError
	if _, err := c.SendMessage(ctx, "cv1", OutgoingMessage{ClientID: "k", Text: "x"}); !errors.As(err, &ae) || ae.Code != CodeConflict {
		t.Errorf("refusal: %v", err)
	}
}

// TestMessagingRelayShapes decodes the relay's own field names where they
// differ from the contract: window.closes, author_id, template objects,
// and the delivery and deleted change kinds.
func TestMessagingRelayShapes(t *testing.T) {
	r, c := loggedIn(t)
	body := `{"changes":[` +
		`{"seq":1,"kind":"conversation","conversation_id":"cv1","at":"2027-03-01T10:00:00Z","conversation":{"id":"cv1","channel":"whatsapp","status":"open","last_seq":2,"receipts":{},"window":{"open":false,"closes":"2027-03-02T10:00:00Z"}}},` +
		`{"seq":2,"kind":"delivery","conversation_id":"cv1","message":{"id":"m","conversation_id":"cv1","seq":2,"side":"advisor","author_id":"u1","template":{"name":"termin","language":"de","params":["Mo"]},"attachments":[],"created":"2027-03-01T10:00:00Z"}},` +
		`{"seq":3,"kind":"deleted","conversation_id":"cv9"}],"next":3,"more":false}`
	r.serveAll(func(w http.ResponseWriter, req *http.Request) { raw(200, body)(w) })
	ch, err := c.InboxChanges(testCtx(t), 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := ch.Changes[0].Conversation.Window
	m := ch.Changes[1].Message
	if w == nil || w.Open || !w.ClosesAt.Equal(time.Date(2027, 3, 2, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("window %+v", w)
	}
	if m.AuthorID != "u1" || m.Template == nil || m.Template.Name != "termin" || m.Template.Params[0] != "Mo" || ch.Changes[1].Kind != ChangeDelivery {
		t.Errorf("message %+v", m)
	}
	if ch.Changes[2].Kind != ChangeDeleted {
		t.Errorf("kind %q", ch.Changes[2].Kind)
	}
}
