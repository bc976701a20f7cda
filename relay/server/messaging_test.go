package server

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/channels/fake"
	"parley/relay/clock"
	"parley/relay/notify"
	"parley/relay/store"
)

// inboxMail is a notify.Mailer that keeps what it is given.
type inboxMail struct {
	mu    sync.Mutex
	mails []notify.Mail
}

func (m *inboxMail) Send(_ context.Context, x notify.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mails = append(m.mails, x)
	return nil
}

func (m *inboxMail) all() []notify.Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]notify.Mail(nil), m.mails...)
}

// inboxEnv is a relay with a WhatsApp fake, a inboxMail and an advisor.
type inboxEnv struct {
	t       *testing.T
	s       *Server
	api     *testAPI
	clk     *clock.Fake
	wa      *fake.WhatsApp
	mail    *inboxMail
	admin   string
	advisor string
	advID   string
	channel string // the WhatsApp channel's id
	hook    string // its webhook URL
}

const (
	waPhoneID   = "1098765432"
	waToken     = "EAAG-test-token-7781"
	waAppSecret = "app-secret-4471"
	waCustomer  = "4917612345678"
)

func startInbox(t *testing.T) *inboxEnv {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	wa := &fake.WhatsApp{PhoneNumberID: waPhoneID, Token: waToken, AppSecret: waAppSecret}
	fs := httptest.NewServer(wa)
	t.Cleanup(fs.Close)
	mb := &inboxMail{}
	s, err := Start(context.Background(), Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", TenantSlug: "bank", TenantName: "Musterbank",
		AdminPassword: testAdminPassword, Hash: auth.TestHashParams, Clock: clk, SweepInterval: time.Hour,
		Mail:     MailOptions{Mailer: mb, From: "parley@bank.test"},
		Channels: ChannelOptions{BaseURLs: map[string]string{"whatsapp": fs.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	a := &testAPI{t: t, s: s, c: &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(t, s)}}}
	wa.Client = a.c
	e := &inboxEnv{t: t, s: s, api: a, clk: clk, wa: wa, mail: mb}
	e.admin = a.login()
	var u struct{ ID string }
	if st := a.call("POST", "/api/v1/users", e.admin, map[string]string{"username": "berta", "display_name": "Berta Beraterin",
		"email": "berta@bank.test", "password": "Kaffee-und-Kuchen-42"}, &u); st != 201 {
		t.Fatalf("create advisor: %d", st)
	}
	e.advID = u.ID
	var login struct{ Token string }
	a.call("POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": "berta", "password": "Kaffee-und-Kuchen-42"}, &login)
	if st := a.call("POST", "/api/v1/me/password", login.Token, map[string]string{"current_password": "Kaffee-und-Kuchen-42", "new_password": "Regenbogen-ueber-Kiel-7"}, nil); st != 204 {
		t.Fatalf("advisor password: %d", st)
	}
	a.call("POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": "berta", "password": "Regenbogen-ueber-Kiel-7"}, &login)
	e.advisor = login.Token

	var ch struct {
		ID         string            `json:"id"`
		WebhookURL string            `json:"webhook_url"`
		Hint       string            `json:"hint"`
		Generated  map[string]string `json:"generated"`
	}
	if st := a.call("POST", "/api/v1/channels", e.admin, map[string]any{"kind": "whatsapp", "advisor_id": e.advID,
		"credentials": map[string]string{"access_token": waToken, "phone_number_id": waPhoneID, "app_secret": waAppSecret}}, &ch); st != 201 {
		t.Fatalf("create channel: %d", st)
	}
	if ch.Generated["verify_token"] == "" || ch.Hint != "…7781" || !strings.HasSuffix(ch.WebhookURL, "/hooks/whatsapp/"+ch.ID) {
		t.Fatalf("channel %+v", ch)
	}
	e.channel, e.hook = ch.ID, s.URL()+"/hooks/whatsapp/"+ch.ID
	return e
}

// relogin signs the admin and the advisor in again (after the clock
// jumped past the sessions' lifetime).
func (e *inboxEnv) relogin() {
	e.t.Helper()
	e.admin = e.api.login()
	var login struct{ Token string }
	if st := e.api.call("POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": "berta", "password": "Regenbogen-ueber-Kiel-7"}, &login); st != 200 {
		e.t.Fatalf("advisor login: %d", st)
	}
	e.advisor = login.Token
}

// deliver runs the due outbox jobs until ok holds (the relay's own worker
// may have taken a job first), or fails after a generous deadline.
func (e *inboxEnv) deliver(what string, ok func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not delivered", what)
		}
		if _, err := e.s.DeliverDue(context.Background()); err != nil {
			e.t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type convOut struct {
	ID           string `json:"id"`
	Channel      string `json:"channel"`
	CustomerID   string `json:"customer_id"`
	CustomerName string `json:"customer_name"`
	AdvisorID    string `json:"advisor_id"`
	Status       string `json:"status"`
	Unread       int    `json:"unread"`
	LastSeq      uint64 `json:"last_seq"`
	Window       *struct {
		Open bool `json:"open"`
	} `json:"window"`
}

type msgOut struct {
	ID          string `json:"id"`
	Seq         uint64 `json:"seq"`
	Side        string `json:"side"`
	Text        string `json:"text"`
	Delivery    string `json:"delivery"`
	Attachments []struct {
		ID, Name, Type string
		Size           int64
	} `json:"attachments"`
}

type errOut struct {
	Error struct {
		Code  string `json:"code"`
		Hint  string `json:"hint"`
		Field string `json:"field"`
	} `json:"error"`
}

func (e *inboxEnv) conversations(token, query string) []convOut {
	e.t.Helper()
	var out struct{ Conversations []convOut }
	if st := e.api.call("GET", "/api/v1/conversations"+query, token, nil, &out); st != 200 {
		e.t.Fatalf("list conversations: %d", st)
	}
	return out.Conversations
}

func (e *inboxEnv) messages(conv string) []msgOut {
	e.t.Helper()
	var out struct{ Messages []msgOut }
	if st := e.api.call("GET", "/api/v1/conversations/"+conv+"/messages", e.advisor, nil, &out); st != 200 {
		e.t.Fatalf("messages: %d", st)
	}
	return out.Messages
}

func TestInboxWhatsAppThroughTheRelay(t *testing.T) {
	e := startInbox(t)
	ctx := context.Background()
	a := e.api

	// Admins see the channel without its secrets.
	var list struct{ Channels []map[string]any }
	if st := a.call("GET", "/api/v1/channels", e.admin, nil, &list); st != 200 || len(list.Channels) != 1 {
		t.Fatalf("channels: %d %+v", st, list)
	}
	raw, _ := json.Marshal(list)
	for _, secret := range []string{waToken, waAppSecret} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("channel list reveals a secret: %s", raw)
		}
	}
	if st := a.call("GET", "/api/v1/channels", e.advisor, nil, nil); st != 403 {
		t.Fatalf("advisor lists channels: %d", st)
	}

	// A forged webhook stores nothing; a signed one a message; its replay
	// nothing more.
	body := fake.WhatsAppText(waPhoneID, waCustomer, "Kunde Karl", "wamid.A1", "Guten Tag, ich habe eine Frage", e.clk.Now())
	forged := &fake.WhatsApp{AppSecret: "wrong", Client: a.c}
	if st, err := forged.PostWebhook(ctx, e.hook, body); err != nil || st != 401 {
		t.Fatalf("forged webhook: %d %v", st, err)
	}
	if cs := e.conversations(e.advisor, ""); len(cs) != 0 {
		t.Fatalf("forged webhook stored %+v", cs)
	}
	for range 2 {
		if st, err := e.wa.PostWebhook(ctx, e.hook, body); err != nil || st != 200 {
			t.Fatalf("webhook: %d %v", st, err)
		}
	}
	cs := e.conversations(e.advisor, "?status=open&channel=whatsapp")
	if len(cs) != 1 || cs[0].CustomerName != "Kunde Karl" || cs[0].Unread != 1 || cs[0].Window == nil || !cs[0].Window.Open || cs[0].AdvisorID != e.advID {
		t.Fatalf("conversations %+v", cs)
	}
	conv := cs[0].ID
	if ms := e.messages(conv); len(ms) != 1 || ms[0].Text != "Guten Tag, ich habe eine Frage" || ms[0].Side != "customer" {
		t.Fatalf("messages %+v", ms)
	}
	if st := a.call("GET", "/hooks/telegram/"+e.channel, "", nil, nil); st != 404 {
		t.Fatalf("webhook of another provider: %d", st)
	}

	// The advisor answers; a retry with the same client_id is the same
	// message (200), another text under it a conflict.
	var m1, m2 msgOut
	if st := a.call("POST", "/api/v1/conversations/"+conv+"/messages", e.advisor, map[string]string{"client_id": "c1", "text": "Gern, worum geht es?"}, &m1); st != 201 || m1.Delivery != "queued" || m1.Seq != 2 {
		t.Fatalf("send: %d %+v", st, m1)
	}
	if st := a.call("POST", "/api/v1/conversations/"+conv+"/messages", e.advisor, map[string]string{"client_id": "c1", "text": "Gern, worum geht es?"}, &m2); st != 200 || m2.ID != m1.ID {
		t.Fatalf("retry: %d %+v", st, m2)
	}
	var eo errOut
	if st := a.call("POST", "/api/v1/conversations/"+conv+"/messages", e.advisor, map[string]string{"client_id": "c1", "text": "anders"}, &eo); st != 409 || eo.Error.Code != "idempotency_conflict" {
		t.Fatalf("conflict: %d %+v", st, eo)
	}
	e.deliver("answer", func() bool { return len(e.wa.Sent()) == 1 })
	sent := e.wa.Sent()
	if len(sent) != 1 || sent[0].To != waCustomer || sent[0].Text != "Gern, worum geht es?" || len(e.wa.Rejected()) != 0 {
		t.Fatalf("provider got %+v (rejected %v)", sent, e.wa.Rejected())
	}
	e.deliver("sent state", func() bool { return e.messages(conv)[1].Delivery == "sent" })
	st, err := e.wa.PostWebhook(ctx, e.hook, fake.WhatsAppStatus(waPhoneID, sent[0].ID, waCustomer, "read", 0, e.clk.Now()))
	if err != nil || st != 200 {
		t.Fatalf("status webhook: %d %v", st, err)
	}
	if ms := e.messages(conv); ms[1].Delivery != "read" {
		t.Fatalf("after read status: %+v", ms[1])
	}

	// A file type WhatsApp does not take (GIF; it takes JPEG, PNG, PDF
	// and text) is refused before anything is stored.
	if st := a.raw("POST", "/api/v1/conversations/"+conv+"/attachments?name=a.gif&client_id=f1", e.advisor, "application/octet-stream", []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"), &eo); st != 400 || eo.Error.Field != "attachments" {
		t.Fatalf("attachment on WhatsApp: %d %+v", st, eo)
	}

	// 25 hours later free text is refused; a template goes.
	e.clk.Advance(25 * time.Hour)
	e.relogin()
	if st := a.call("POST", "/api/v1/conversations/"+conv+"/messages", e.advisor, map[string]string{"client_id": "c2", "text": "Noch da?"}, &eo); st != 409 || eo.Error.Code != "window_closed" || eo.Error.Hint != "templates" {
		t.Fatalf("outside the window: %d %+v", st, eo)
	}
	if st := a.call("POST", "/api/v1/conversations/"+conv+"/messages", e.advisor, map[string]any{"client_id": "c3",
		"template": map[string]any{"name": "termin_erinnerung", "language": "de", "params": []string{"Karl"}}}, &m1); st != 201 {
		t.Fatalf("template: %d", st)
	}
	e.deliver("template", func() bool { return len(e.wa.Sent()) == 2 })
	if sent := e.wa.Sent(); len(sent) != 2 || sent[1].Template != "termin_erinnerung" {
		t.Fatalf("template at the provider: %+v", sent)
	}

	// Read, unread, assignment, status.
	var c convOut
	if st := a.call("POST", "/api/v1/conversations/"+conv+"/read", e.advisor, map[string]uint64{"seq": 3}, &c); st != 200 || c.Unread != 0 {
		t.Fatalf("read: %d %+v", st, c)
	}
	var unread struct {
		Total         int            `json:"total"`
		Conversations map[string]int `json:"conversations"`
	}
	if st := a.call("GET", "/api/v1/inbox/unread", e.advisor, nil, &unread); st != 200 || unread.Total != 0 {
		t.Fatalf("unread: %d %+v", st, unread)
	}
	if st := a.call("PATCH", "/api/v1/conversations/"+conv, e.advisor, map[string]string{"status": "pending"}, &c); st != 200 || c.Status != "pending" {
		t.Fatalf("patch: %d %+v", st, c)
	}
	if st := a.call("PATCH", "/api/v1/conversations/"+conv, e.advisor, map[string]string{"advisor_id": "nobody-here"}, &eo); st != 400 {
		t.Fatalf("assign to an unknown user: %d", st)
	}

	// Erasing the customer also removes the route of their WhatsApp
	// address (which channel it wrote through).
	if keys := e.keysWith(prefixRoute, "/whatsapp/"); len(keys) != 1 {
		t.Fatalf("route records before erasure: %q", keys)
	}
	if st := a.call("POST", "/api/v1/customers/"+cs[0].CustomerID+"/erasure", e.admin, nil, nil); st != 200 {
		t.Fatalf("erasure: %d", st)
	}
	if keys := append(e.keysWith(prefixRoute, "/whatsapp/"), e.keysWith(prefixRouteOf, "")...); len(keys) != 0 {
		t.Fatalf("route records left after erasure: %q", keys)
	}
}

// keysWith lists the store's keys under prefix that contain part.
func (e *inboxEnv) keysWith(prefix, part string) []string {
	e.t.Helper()
	var keys []string
	err := e.s.store.View(context.Background(), func(tx store.Txn) error {
		return tx.Scan([]byte(prefix), func(k, _ []byte) error {
			if strings.Contains(string(k), part) {
				keys = append(keys, string(k))
			}
			return nil
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return keys
}

// testPDFBytes is a small valid PDF.
const testPDFBytes = "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

func TestInboxChatAttachmentsChangesAndCanned(t *testing.T) {
	e := startInbox(t)
	a := e.api
	var cust struct{ ID string }
	if st := a.call("POST", "/api/v1/customers", e.advisor, map[string]string{"first_name": "Clara", "last_name": "Chat", "email": "clara@example.org", "mobile": "+4915112345678"}, &cust); st != 201 {
		t.Fatalf("customer: %d", st)
	}
	var c, again convOut
	if st := a.call("POST", "/api/v1/conversations", e.advisor, map[string]string{"customer_id": cust.ID, "channel": "chat"}, &c); st != 201 || c.CustomerName != "Clara Chat" {
		t.Fatalf("open: %d %+v", st, c)
	}
	if st := a.call("POST", "/api/v1/conversations", e.advisor, map[string]string{"customer_id": cust.ID, "channel": "chat"}, &again); st != 200 || again.ID != c.ID {
		t.Fatalf("open again: %d %+v", st, again)
	}
	var eo errOut
	if st := a.call("POST", "/api/v1/conversations", e.advisor, map[string]string{"customer_id": cust.ID, "channel": "telegram"}, &eo); st != 400 {
		t.Fatalf("telegram without address: %d", st)
	}
	if st := a.call("POST", "/api/v1/conversations", e.advisor, map[string]string{"customer_id": "unknown01", "channel": "chat"}, nil); st != 404 {
		t.Fatalf("unknown customer: %d", st)
	}
	var wc convOut
	if st := a.call("POST", "/api/v1/conversations", e.advisor, map[string]string{"customer_id": cust.ID, "channel": "whatsapp"}, &wc); st != 201 || wc.Window == nil || wc.Window.Open {
		t.Fatalf("whatsapp conversation from the mobile: %d %+v", st, wc)
	}

	// Attachments: a PDF is kept and served with its sniffed type; hostile
	// files are refused and store nothing.
	var m msgOut
	if st := a.raw("POST", "/api/v1/conversations/"+c.ID+"/attachments?name=Vertrag%E2%80%AEfdp.exe&client_id=a1", e.advisor, "image/png", []byte(testPDFBytes), &m); st != 201 || len(m.Attachments) != 1 {
		t.Fatalf("upload: %d %+v", st, m)
	}
	att := m.Attachments[0]
	if att.Type != "application/pdf" || strings.ContainsRune(att.Name, '\u202e') || !strings.HasSuffix(att.Name, ".pdf") {
		t.Fatalf("attachment %+v", att)
	}
	for _, hostile := range []struct {
		name string
		body []byte
		want int
	}{
		{"setup.exe", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"), 415},
		{"page.html", []byte("<html><script>alert(1)</script></html>"), 415},
		{"big.pdf", append([]byte(testPDFBytes), make([]byte, 25<<20)...), 413},
	} {
		if st := a.raw("POST", "/api/v1/conversations/"+c.ID+"/attachments?name="+hostile.name+"&client_id=h-"+hostile.name[:3], e.advisor, "application/octet-stream", hostile.body, nil); st != hostile.want {
			t.Errorf("%s: %d, want %d", hostile.name, st, hostile.want)
		}
	}
	if ms := e.messages(c.ID); len(ms) != 1 {
		t.Fatalf("refused uploads stored messages: %+v", ms)
	}
	req, _ := http.NewRequest("GET", e.s.URL()+"/api/v1/conversations/"+c.ID+"/attachments/"+att.ID, nil)
	req.Header.Set("Authorization", "Bearer "+e.advisor)
	res, err := a.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(got) != testPDFBytes || res.Header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("download: %d %v", res.StatusCode, res.Header)
	}

	// The change feed: everything so far, then a long poll woken by a new
	// message.
	var page struct {
		Changes []struct {
			Seq            uint64  `json:"seq"`
			Kind           string  `json:"kind"`
			ConversationID string  `json:"conversation_id"`
			Message        *msgOut `json:"message"`
		} `json:"changes"`
		Next uint64 `json:"next"`
	}
	if st := a.call("GET", "/api/v1/inbox/changes?since=0", e.advisor, nil, &page); st != 200 || len(page.Changes) == 0 || page.Next == 0 {
		t.Fatalf("changes: %d %+v", st, page)
	}
	next := page.Next
	done := make(chan int, 1)
	go func() {
		var p struct {
			Changes []struct {
				Kind    string  `json:"kind"`
				Message *msgOut `json:"message"`
			} `json:"changes"`
		}
		st := a.call("GET", "/api/v1/inbox/changes?wait=25&since="+itoa(next), e.advisor, nil, &p)
		if st != 200 || len(p.Changes) == 0 || p.Changes[0].Message == nil || p.Changes[0].Message.Text != "Hallo Clara" {
			st = -st
		}
		done <- st
	}()
	time.Sleep(200 * time.Millisecond) // let the poll start waiting (a late start still passes)
	if st := a.call("POST", "/api/v1/conversations/"+c.ID+"/messages", e.advisor, map[string]string{"client_id": "t1", "text": "Hallo Clara"}, nil); st != 201 {
		t.Fatalf("send: %d", st)
	}
	if st := <-done; st != 200 {
		t.Fatalf("long poll: %d", st)
	}

	// Canned responses: own, tenant-wide by the admin only.
	var cr struct {
		ID         string `json:"id"`
		TenantWide bool   `json:"tenant_wide"`
	}
	if st := a.call("PUT", "/api/v1/canned-responses", e.advisor, map[string]any{"title": "Gruß", "text": "Viele Grüße"}, &cr); st != 201 || cr.TenantWide || cr.ID == "" {
		t.Fatalf("create canned: %d %+v", st, cr)
	}
	if st := a.call("PUT", "/api/v1/canned-responses/"+cr.ID, e.advisor, map[string]any{"title": "Gruß", "text": "Beste Grüße"}, &cr); st != 200 {
		t.Fatalf("replace canned: %d %+v", st, cr)
	}
	if st := a.call("PUT", "/api/v1/canned-responses/unknown01", e.advisor, map[string]any{"title": "x", "text": "x"}, nil); st != 404 {
		t.Fatalf("replace unknown canned: %d", st)
	}
	if st := a.call("PUT", "/api/v1/canned-responses", e.advisor, map[string]any{"title": "Haus", "text": "x", "tenant_wide": true}, nil); st != 403 {
		t.Fatalf("advisor tenant-wide canned: %d", st)
	}
	if st := a.call("PUT", "/api/v1/canned-responses", e.admin, map[string]any{"title": "Haus", "text": "Unsere Filialen", "tenant_wide": true}, nil); st != 201 {
		t.Fatalf("admin tenant-wide canned: %d", st)
	}
	var cl struct {
		CannedResponses []struct{ ID string } `json:"canned_responses"`
	}
	if st := a.call("GET", "/api/v1/canned-responses", e.advisor, nil, &cl); st != 200 || len(cl.CannedResponses) != 2 {
		t.Fatalf("list canned: %d %+v", st, cl)
	}
	if st := a.call("DELETE", "/api/v1/canned-responses/"+cr.ID, e.advisor, nil, nil); st != 204 {
		t.Fatalf("delete canned: %d", st)
	}
	if st := a.call("DELETE", "/api/v1/channels/"+e.channel, e.admin, nil, nil); st != 204 {
		t.Fatalf("delete channel: %d", st)
	}
	if st := a.call("POST", "/hooks/whatsapp/"+e.channel, "", nil, nil); st != 404 {
		t.Fatalf("webhook of a deleted channel: %d", st)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestInboxContactFormMailPrivacyAndSweep(t *testing.T) {
	e := startInbox(t)
	a := e.api
	ctx := context.Background()
	var page struct {
		PageID string `json:"page_id"`
	}
	if st := a.call("POST", "/api/v1/booking/page", e.advisor, nil, &page); st != 200 {
		t.Fatalf("booking page: %d", st)
	}
	var info struct {
		AdvisorName string `json:"advisor_name"`
	}
	if st := a.call("GET", "/api/v1/contact/"+page.PageID, "", nil, &info); st != 200 || info.AdvisorName != "Berta Beraterin" {
		t.Fatalf("contact page: %d %+v", st, info)
	}
	var eo errOut
	if st := a.call("POST", "/api/v1/contact/"+page.PageID, "", map[string]string{"name": "Doris", "email": "not an address", "message": "x"}, &eo); st != 400 {
		t.Fatalf("bad e-mail: %d %+v", st, eo)
	}
	if st := a.call("POST", "/api/v1/contact/"+page.PageID, "", map[string]string{"name": "Doris Dorn", "email": "doris@example.org",
		"message": "Bitte rufen Sie mich zurück.", "lang": "de"}, nil); st != 201 {
		t.Fatalf("contact: %d", st)
	}
	cs := e.conversations(e.advisor, "?channel=contact_form")
	if len(cs) != 1 || cs[0].CustomerName != "Doris Dorn" || cs[0].Unread != 1 {
		t.Fatalf("contact conversations: %+v", cs)
	}
	conv := cs[0]
	if st := a.call("POST", "/api/v1/conversations/"+conv.ID+"/messages", e.advisor, map[string]string{"client_id": "r1", "text": "Gern, morgen um 10 Uhr."}, nil); st != 201 {
		t.Fatalf("reply: %d", st)
	}
	e.deliver("reply mail", func() bool { return len(e.mail.all()) == 1 })
	mails := e.mail.all()
	if len(mails) != 1 || mails[0].To != "doris@example.org" || !strings.Contains(mails[0].Text, "Gern, morgen um 10 Uhr.") ||
		!strings.Contains(mails[0].Text, "/c/"+page.PageID) || mails[0].FromName != "Musterbank" {
		t.Fatalf("reply mail: %+v", mails)
	}

	// The privacy export holds the conversation; erasure removes it.
	req, _ := http.NewRequest("GET", e.s.URL()+"/api/v1/customers/"+conv.CustomerID+"/export", nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	res, err := a.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	zb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if res.StatusCode != 200 || err != nil {
		t.Fatalf("export: %d %v", res.StatusCode, err)
	}
	found := false
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "messages/conversations.json") {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			found = bytes.Contains(b, []byte("Bitte rufen Sie mich zurück.")) && bytes.Contains(b, []byte("Gern, morgen um 10 Uhr."))
		}
	}
	if !found {
		t.Fatal("export lacks the conversation")
	}

	// A second contact: closed, held, then swept when the hold goes.
	if st := a.call("POST", "/api/v1/contact/"+page.PageID, "", map[string]string{"name": "Emil Eck", "email": "emil@example.org", "message": "Frage", "lang": "en"}, nil); st != 201 {
		t.Fatalf("contact 2: %d", st)
	}
	var emil convOut
	for _, c := range e.conversations(e.advisor, "") {
		if c.CustomerName == "Emil Eck" {
			emil = c
		}
	}
	if st := a.call("PATCH", "/api/v1/conversations/"+emil.ID, e.advisor, map[string]string{"status": "closed"}, nil); st != 200 {
		t.Fatalf("close: %d", st)
	}
	var hold struct{ ID string }
	if st := a.call("POST", "/api/v1/retention/holds", e.admin, map[string]string{"subject_kind": "conversation", "subject_id": emil.ID, "reason": "Beschwerdeverfahren"}, &hold); st != 201 {
		t.Fatalf("hold: %d", st)
	}
	e.clk.Advance(31 * 24 * time.Hour)
	e.relogin()
	if err := e.s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	// Reads hide an expired conversation even while held; the hold keeps
	// it in the store until released.
	if st := a.call("DELETE", "/api/v1/retention/holds/"+hold.ID, e.admin, nil, nil); st != 204 {
		t.Fatalf("release: %d", st)
	}
	if err := e.s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if st := a.call("GET", "/api/v1/conversations/"+emil.ID, e.advisor, nil, nil); st != 404 {
		t.Fatalf("swept conversation: %d", st)
	}
	if keys := e.keysWith(prefixContactForm, emil.ID); len(keys) != 0 {
		t.Fatalf("contact-form record left after the sweep: %q", keys)
	}
	if keys := e.keysWith(prefixContactForm, conv.ID); len(keys) != 1 {
		t.Fatalf("contact-form record of the live conversation: %q", keys)
	}
	var rc struct{ State string }
	if st := a.call("POST", "/api/v1/customers/"+conv.CustomerID+"/erasure", e.admin, nil, &rc); st != 200 {
		t.Fatalf("erasure: %d", st)
	}
	if st := a.call("GET", "/api/v1/conversations/"+conv.ID, e.advisor, nil, nil); st != 404 {
		t.Fatalf("erased conversation: %d", st)
	}
	if keys := e.keysWith(prefixContactForm, ""); len(keys) != 0 {
		t.Fatalf("contact-form records left after erasure: %q", keys)
	}
}
