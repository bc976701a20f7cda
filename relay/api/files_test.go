package api

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/signal/msg"
	"parley/relay/store"
)

// announcements records what the API announced.
type announcements struct {
	mu sync.Mutex
	m  []string // meeting id + " " + file name
}

func (a *announcements) Announce(meetingID string, e msg.Entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m = append(a.m, meetingID+" "+e.FileName)
}

func (a *announcements) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.m...)
}

// newChatFixture is newFixture with the timeline service and an
// announcer; co sets the timeline service's limits.
func newChatFixture(t *testing.T, co chat.Options) (*fixture, *chat.Service, *announcements) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	kv := &store.Memory{Clock: clk}
	svc, err := auth.New(auth.Options{Store: kv, Clock: clk, Hash: auth.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Bootstrap(context.Background(), "sparkasse", "Sparkasse", adminPass); err != nil {
		t.Fatal(err)
	}
	co.Store, co.Clock = kv, clk
	cs, err := chat.New(co)
	if err != nil {
		t.Fatal(err)
	}
	ann := &announcements{}
	srv := httptest.NewServer(New(Options{Auth: svc, Audit: newAudit(t, kv, clk), Meetings: newMeetings(t, kv, clk), Clock: clk,
		Chat: cs, Announcer: ann}))
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, auth: svc, clock: clk, kv: kv}, cs, ann
}

// meetingWithCustomer creates a meeting of adv and a customer in it
// (admitted unless wait), returning the meeting id and the secret.
func (f *fixture) meetingWithCustomer(adv, name string, wait bool) (string, string) {
	f.t.Helper()
	r := f.json("POST", "/api/v1/meetings", adv, map[string]string{})
	var m created
	if err := json.Unmarshal(r.body, &m); r.status != 201 || err != nil {
		f.t.Fatalf("create: %d %s", r.status, r.body)
	}
	r = f.json("POST", "/api/v1/join/"+m.JoinToken, "", map[string]string{"name": name})
	var j struct {
		ParticipantID string `json:"participant_id"`
		Secret        string
	}
	if err := json.Unmarshal(r.body, &j); r.status != 201 || err != nil {
		f.t.Fatalf("join: %d %s", r.status, r.body)
	}
	if !wait {
		if r := f.json("POST", "/api/v1/meetings/"+m.Meeting.ID+"/participants/"+j.ParticipantID+"/admit", adv, nil); r.status != 204 {
			f.t.Fatalf("admit: %d %s", r.status, r.body)
		}
	}
	return m.Meeting.ID, j.Secret
}

func entryOf(t *testing.T, r resp) msg.Entry {
	t.Helper()
	var out struct{ Entry msg.Entry }
	if err := json.Unmarshal(r.body, &out); r.status != 201 || err != nil || out.Entry.ID == "" {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	return out.Entry
}

const testPDF = "%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

func TestFilesCustomerAndAdvisorShareFiles(t *testing.T) {
	f, _, ann := newChatFixture(t, chat.Options{})
	admin := f.login("sparkasse", "admin", adminPass)
	adv := f.advisor(admin, "paul")
	other := f.advisor(admin, "olga")
	mid, secret := f.meetingWithCustomer(adv, "Klara Fischer", false)

	// The customer uploads; the name is sanitised and gets a safe
	// download header.
	name := "../../Gehaltsnachweis März \"2026\".pdf"
	r := f.do("POST", "/api/v1/participant/files?name="+url.QueryEscape(name), "application/octet-stream", secret, []byte(testPDF))
	e := entryOf(t, r)
	if e.FileName != `Gehaltsnachweis März _2026_.pdf` || e.FileType != "application/pdf" || e.Role != msg.RoleCustomer ||
		e.Name != "Klara Fischer" || e.Seq != 1 || e.FileSize != int64(len(testPDF)) {
		t.Fatalf("entry %+v", e)
	}

	// Both sides download it.
	for _, get := range []struct{ path, token string }{
		{"/api/v1/participant/files/" + e.ID, secret},
		{"/api/v1/meetings/" + mid + "/files/" + e.ID, adv},
		{"/api/v1/meetings/" + mid + "/files/" + e.ID, admin},
	} {
		r := f.do("GET", get.path, "", get.token, nil)
		if r.status != 200 || string(r.body) != testPDF {
			t.Fatalf("download %s: %d %q", get.path, r.status, r.body)
		}
		h := r.header
		if h.Get("Content-Type") != "application/pdf" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") != "sandbox" {
			t.Fatalf("download headers %v", h)
		}
		disp, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
		if err != nil || disp != "attachment" || params["filename"] != e.FileName {
			t.Fatalf("Content-Disposition %q: %v %v", h.Get("Content-Disposition"), params, err)
		}
	}

	// The advisor uploads; the timeline holds both in order.
	r = f.do("POST", "/api/v1/meetings/"+mid+"/files?name=Angebot.txt", "text/plain", adv, []byte("Ihr Angebot\n"))
	e2 := entryOf(t, r)
	if e2.Role != msg.RoleAdvisor || e2.Name != "Berater paul" || e2.FileType != "text/plain; charset=utf-8" || e2.Seq != 2 {
		t.Fatalf("advisor entry %+v", e2)
	}
	for _, get := range []struct{ path, token string }{
		{"/api/v1/participant/timeline", secret},
		{"/api/v1/meetings/" + mid + "/timeline?since=0", adv},
	} {
		r := f.do("GET", get.path, "", get.token, nil)
		var tl struct{ Entries []msg.Entry }
		if err := json.Unmarshal(r.body, &tl); r.status != 200 || err != nil || len(tl.Entries) != 2 || tl.Entries[1].ID != e2.ID {
			t.Fatalf("timeline %s: %d %s", get.path, r.status, r.body)
		}
	}
	r = f.do("GET", "/api/v1/participant/timeline?since=1", "", secret, nil)
	if r.status != 200 || strings.Contains(string(r.body), e.ID) || !strings.Contains(string(r.body), e2.ID) {
		t.Fatalf("timeline since 1: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/api/v1/participant/timeline?since=-1", "", secret, nil); r.status != 400 {
		t.Fatalf("bad since: %d", r.status)
	}
	if got := ann.list(); len(got) != 2 || got[0] != mid+" "+e.FileName || got[1] != mid+" Angebot.txt" {
		t.Fatalf("announced %q", got)
	}

	// Another advisor of the tenant sees nothing.
	for _, path := range []string{"/api/v1/meetings/" + mid + "/files/" + e.ID, "/api/v1/meetings/" + mid + "/timeline"} {
		if r := f.do("GET", path, "", other, nil); r.status != 403 {
			t.Fatalf("other advisor %s: %d", path, r.status)
		}
	}
	if r := f.do("POST", "/api/v1/meetings/"+mid+"/files?name=a.pdf", "", other, []byte(testPDF)); r.status != 403 {
		t.Fatalf("other advisor uploads: %d", r.status)
	}

	// After the end: the customer's secret is dead, the advisor can still
	// read but not add.
	if r := f.json("POST", "/api/v1/meetings/"+mid+"/end", adv, nil); r.status != 204 {
		t.Fatalf("end: %d", r.status)
	}
	if r := f.do("GET", "/api/v1/participant/files/"+e.ID, "", secret, nil); r.status != 410 || r.errCode() != "meeting_ended" {
		t.Fatalf("customer after end: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/api/v1/meetings/"+mid+"/files?name=a.pdf", "", adv, []byte(testPDF)); r.status != 410 {
		t.Fatalf("advisor upload after end: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/api/v1/meetings/"+mid+"/files/"+e.ID, "", adv, nil); r.status != 200 {
		t.Fatalf("advisor download after end: %d", r.status)
	}
}

func TestFilesRefuseHostileInput(t *testing.T) {
	const limit = 64 << 10
	f, _, ann := newChatFixture(t, chat.Options{MaxFileBytes: limit})
	admin := f.login("sparkasse", "admin", adminPass)
	adv := f.advisor(admin, "paul")
	mid, secret := f.meetingWithCustomer(adv, "Klara Fischer", false)
	mid2, secret2 := f.meetingWithCustomer(adv, "Jonas Weber", false)
	_, waiting := f.meetingWithCustomer(adv, "Wartende Kundin", true)

	up := func(token, name string, body []byte) resp {
		t.Helper()
		return f.do("POST", "/api/v1/participant/files?name="+url.QueryEscape(name), "application/pdf", token, body)
	}
	big := append([]byte(testPDF), bytes.Repeat([]byte("0"), 3*limit)...)
	if r := up(secret, "gross.pdf", big); r.status != 413 || r.errCode() != "file_too_large" {
		t.Fatalf("oversized: %d %s", r.status, r.body)
	}
	for name, body := range map[string]string{
		"html.pdf": "<!DOCTYPE html><html><body><script>fetch('/api/v1/me')</script></body></html>",
		"svg.pdf":  `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>`,
		"elf.pdf":  "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00\x01\x00\x00\x00",
	} {
		if r := up(secret, name, []byte(body)); r.status != 415 || r.errCode() != "file_type_not_allowed" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := up(secret, "..", []byte(testPDF)); r.status != 400 {
		t.Errorf("name '..': %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/api/v1/participant/files", "", secret, []byte(testPDF)); r.status != 400 {
		t.Errorf("no name: %d %s", r.status, r.body)
	}
	// A path-traversal name is reduced to its last element.
	r := up(secret, "../../../etc/passwd.pdf", []byte(testPDF))
	e := entryOf(t, r)
	if e.FileName != "passwd.pdf" {
		t.Fatalf("traversal name stored as %q", e.FileName)
	}

	// Another meeting's file id with a valid secret: 404, never the bytes;
	// and a file id that is not one.
	for _, path := range []string{"/api/v1/participant/files/" + e.ID, "/api/v1/participant/files/..%2f" + e.ID} {
		r := f.do("GET", path, "", secret2, nil)
		if r.status != 404 || strings.Contains(string(r.body), "%PDF") {
			t.Fatalf("%s with another meeting's secret: %d %s", path, r.status, r.body)
		}
	}
	if r := f.do("GET", "/api/v1/meetings/"+mid2+"/files/"+e.ID, "", adv, nil); r.status != 404 {
		t.Fatalf("file through another meeting of the same advisor: %d", r.status)
	}

	// Not admitted, missing, malformed or forged secrets.
	for _, c := range []struct {
		token  string
		status int
	}{
		{waiting, 403}, {"", 401}, {"pmp_short", 401}, {"pmp_" + strings.Repeat("A", 43), 401}, {"pst_" + strings.Repeat("A", 43), 401},
	} {
		for _, req := range []struct{ method, path string }{
			{"POST", "/api/v1/participant/files?name=a.pdf"},
			{"GET", "/api/v1/participant/files/" + e.ID},
			{"GET", "/api/v1/participant/timeline"},
		} {
			r := f.do(req.method, req.path, "", c.token, []byte(testPDF))
			if r.status != c.status || strings.Contains(string(r.body), "%PDF") {
				t.Errorf("%s %s with %q: %d %s, want %d", req.method, req.path, c.token, r.status, r.body, c.status)
			}
		}
	}
	if r := f.do("GET", "/api/v1/participant/files/"+e.ID, "", waiting, nil); r.errCode() != "not_admitted" {
		t.Errorf("waiting customer: %s", r.body)
	}
	if got := ann.list(); len(got) != 1 || got[0] != mid+" passwd.pdf" {
		t.Fatalf("announced %q, want only the one stored file", got)
	}
}

func TestFilesQuotaAnswers409(t *testing.T) {
	f, _, _ := newChatFixture(t, chat.Options{MaxMeetingBytes: 2*int64(len(testPDF)) + 10})
	admin := f.login("sparkasse", "admin", adminPass)
	adv := f.advisor(admin, "paul")
	mid, secret := f.meetingWithCustomer(adv, "Klara Fischer", false)
	for i := range 2 {
		if r := f.do("POST", "/api/v1/participant/files?name=a.pdf", "", secret, []byte(testPDF)); r.status != 201 {
			t.Fatalf("upload %d: %d %s", i, r.status, r.body)
		}
	}
	for _, path := range []string{"/api/v1/participant/files?name=a.pdf", "/api/v1/meetings/" + mid + "/files?name=a.pdf"} {
		tok := secret
		if strings.HasPrefix(path, "/api/v1/meetings/") {
			tok = adv
		}
		if r := f.do("POST", path, "", tok, []byte(testPDF)); r.status != 409 || r.errCode() != "meeting_quota_exceeded" {
			t.Fatalf("over quota %s: %d %s", path, r.status, r.body)
		}
	}
}
