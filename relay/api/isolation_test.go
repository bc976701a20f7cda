package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/relay/auth"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/retention"
	"parley/relay/sfu"
	"parley/relay/signal"
	"parley/relay/signal/msg"
	"parley/relay/store"
)

// This file proves tenant isolation (issue 7): every route of the routing
// table is called by every kind of caller of tenant B — admin, advisor,
// admitted customer, nobody — with tenant A's ids in its path (or, for the
// routes that act on the caller's own tenant, as they are), and the answer
// must be a refusal that carries none of tenant A's data, and tenant A's
// state must be unchanged afterwards.

// hubTimeline adapts the chat service to the signalling hub's Timeline
// (relay/server does the same).
type hubTimeline struct{ c *chat.Service }

func (t hubTimeline) Post(ctx context.Context, meetingID string, a signal.Author, text, nonce string) (msg.Entry, bool, error) {
	return t.c.Post(ctx, meetingID, chat.Author{ID: a.ID, Name: a.Name, Role: a.Role}, text, nonce)
}

func (t hubTimeline) Since(ctx context.Context, meetingID string, since uint64, limit int) ([]msg.Entry, error) {
	return t.c.Since(ctx, meetingID, since, limit)
}

// newIsolationFixture is newFixture with the timeline service, the
// signalling hub (over a loopback-only SFU), customer profiles, booking
// and calendar sync, like the relay wires them, and a loopback calendar
// server for the tenants' calendar sources.
func newIsolationFixture(t *testing.T) (*fixture, *chat.Service, *httptest.Server) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	kv := &store.Memory{Clock: clk}
	// The matrix fails sign-ins on purpose; login back-off (tested
	// elsewhere) would only slow the legitimate sign-ins after them.
	svc, err := auth.New(auth.Options{Store: kv, Clock: clk, Hash: auth.TestHashParams, Throttle: auth.ThrottleOptions{FreeFailures: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Bootstrap(context.Background(), "sparkasse", "Sparkasse Alpha", adminPass); err != nil {
		t.Fatal(err)
	}
	cs, err := chat.New(chat.Options{Store: kv, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ms := newMeetings(t, kv, clk)
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	media, err := sfu.New(sfu.Options{UDP: udp, PublicIPs: []string{"127.0.0.1"}, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = media.Close() })
	hub := signal.New(signal.Options{SFU: media, Meetings: ms, Sessions: svc, Timeline: hubTimeline{cs}, Clock: clk})
	al := newAudit(t, kv, clk)
	rp, err := retention.New(retention.Options{Store: kv, Audit: al, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	bk, cust, cal := isoBookingServices(t, kv, clk)
	pv := isoPrivacy(t, kv, clk, cust, rp, al)
	ics := isoICSServer(t)
	msgs, inbox := isoMessaging(t, kv, clk, cust)
	srv := httptest.NewServer(New(Options{Auth: svc, Audit: al, Meetings: ms, Clock: clk, Messaging: msgs, Inbox: inbox,
		Chat: cs, Announcer: hub, Signal: hub, Retention: rp, Booking: bk, Customers: cust, Calendars: cal, Privacy: pv,
		Pages: isoPages(t)}))
	// Cleanups run last-in first-out: the server closes its connections
	// before the hub waits for its clients.
	t.Cleanup(hub.Close)
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, auth: svc, clock: clk, kv: kv}, cs, ics
}

// isoTenant is one tenant's people and things, and what of it must never
// reach another tenant.
type isoTenant struct {
	slug, tenantID           string
	adminPass, advisorUser   string
	advisorPass, advisorName string
	admin, advisor           string // session tokens
	adminID, advisorID       string
	meetingID, joinToken     string
	waitingPID, waitingSec   string
	admittedPID, admittedSec string
	fileID                   string
	holdID                   string
	erasureID                string // an erasure of a customer made for it
	isoBooking
	msgs isoMsgs
	// private is everything of this tenant no other tenant may see:
	// names, e-mail, phone numbers, chat text, file name and bytes,
	// tokens, secrets and ids.
	private []string
}

// populate fills tenant slug (whose admin "admin" exists) through the API:
// an advisor, a meeting with a waiting and an admitted customer, a chat
// message and a file, and the advisor's booking page with a booked
// appointment, customers, a calendar source on ics and a calendar feed
// (populateBooking). tag makes every personal datum unique to the tenant.
func (f *fixture) populate(cs *chat.Service, ics *httptest.Server, slug, adminPassword, tag string) *isoTenant {
	f.t.Helper()
	w := &isoTenant{slug: slug, adminPass: adminPassword, advisorUser: "berater." + strings.ToLower(tag), advisorPass: "Regenschirm-im-Mai-" + strconv.Itoa(len(tag))}
	w.admin = f.login(slug, "admin", adminPassword)
	w.adminID = f.userID(w.admin)
	w.tenantID = f.tenantID(w.admin)

	advName, advMail := "Berater "+tag+"mann", "berater."+strings.ToLower(tag)+"@"+slug+".example"
	w.advisorName = advName
	r := f.json("POST", "/api/v1/users", w.admin, map[string]string{"username": w.advisorUser, "display_name": advName, "email": advMail, "password": "Kaffee-und-Kuchen-42"})
	if r.status != http.StatusCreated {
		f.t.Fatalf("%s: create advisor: %d %s", slug, r.status, r.body)
	}
	first := f.login(slug, w.advisorUser, "Kaffee-und-Kuchen-42")
	if r := f.json("POST", "/api/v1/me/password", first, map[string]string{"current_password": "Kaffee-und-Kuchen-42", "new_password": w.advisorPass}); r.status != http.StatusNoContent {
		f.t.Fatalf("%s: advisor password: %d %s", slug, r.status, r.body)
	}
	w.advisor = f.login(slug, w.advisorUser, w.advisorPass)
	w.advisorID = f.userID(w.advisor)

	title := "Baufinanzierung Familie " + tag
	r = f.json("POST", "/api/v1/meetings", w.advisor, map[string]string{"title": title})
	var m created
	if err := json.Unmarshal(r.body, &m); r.status != http.StatusCreated || err != nil {
		f.t.Fatalf("%s: create meeting: %d %s", slug, r.status, r.body)
	}
	w.meetingID, w.joinToken = m.Meeting.ID, m.JoinToken

	digit := "1"
	if tag != "Alpha" {
		digit = "2"
	}
	waitName, waitPhone := "Wilma Wartend-"+tag, "+49 170 "+strings.Repeat(digit, 4)+" 0001"
	w.waitingPID, w.waitingSec = f.joinAs(w.joinToken, waitName, waitPhone)
	custName, custPhone := "Klara Kundin-"+tag, "+49 170 "+strings.Repeat(digit, 4)+" 0002"
	w.admittedPID, w.admittedSec = f.joinAs(w.joinToken, custName, custPhone)
	if r := f.json("POST", "/api/v1/meetings/"+w.meetingID+"/participants/"+w.admittedPID+"/admit", w.advisor, nil); r.status != http.StatusNoContent {
		f.t.Fatalf("%s: admit: %d %s", slug, r.status, r.body)
	}

	text := "Meine IBAN lautet DE00 " + tag + " 4711"
	if _, _, err := cs.Post(context.Background(), w.meetingID, chat.Author{ID: w.admittedPID, Name: custName, Role: msg.RoleCustomer}, text, "n-"+tag); err != nil {
		f.t.Fatalf("%s: chat: %v", slug, err)
	}
	fileName := "Gehaltsnachweis-" + tag + ".pdf"
	fileMark := "Dateiinhalt-" + tag + "-geheim"
	body := strings.Replace(testPDF, "%%EOF", "% "+fileMark+"\n%%EOF", 1)
	r = f.do("POST", "/api/v1/participant/files?name="+url.QueryEscape(fileName), "application/octet-stream", w.admittedSec, []byte(body))
	w.fileID = entryOf(f.t, r).ID

	// The admin lengthens a retention period and places a legal hold on
	// the meeting, both with reasons.
	overrideReason := "Pruefung Akte " + tag + " 0815"
	if r := f.json("PUT", "/api/v1/retention/overrides/"+retention.ClassMeetingContent, w.admin, map[string]any{"period_hours": 240, "reason": overrideReason}); r.status != http.StatusOK {
		f.t.Fatalf("%s: retention override: %d %s", slug, r.status, r.body)
	}
	holdReason := "Rechtsstreit " + tag + " 2026"
	r = f.json("POST", "/api/v1/retention/holds", w.admin, map[string]string{"subject_kind": "meeting", "subject_id": w.meetingID, "reason": holdReason})
	var hold struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &hold); r.status != http.StatusCreated || err != nil || hold.ID == "" {
		f.t.Fatalf("%s: legal hold: %d %s", slug, r.status, r.body)
	}
	w.holdID = hold.ID

	w.private = []string{overrideReason, holdReason, w.holdID, slug, w.tenantID, advName, advMail, w.advisorUser, title, waitName, waitPhone, custName, custPhone,
		text, fileName, fileMark, w.admin, w.advisor, w.joinToken, w.waitingSec, w.admittedSec,
		w.adminID, w.advisorID, w.meetingID, w.waitingPID, w.admittedPID, w.fileID}
	f.populateBooking(w, ics, tag, digit)
	f.populatePrivacy(w, tag)
	f.populateMessaging(w, tag)
	return w
}

func (f *fixture) joinAs(token, name, phone string) (pid, secret string) {
	f.t.Helper()
	r := f.json("POST", "/api/v1/join/"+token, "", map[string]string{"name": name, "phone": phone})
	var j struct {
		ParticipantID string `json:"participant_id"`
		Secret        string `json:"secret"`
	}
	if err := json.Unmarshal(r.body, &j); r.status != http.StatusCreated || err != nil || j.Secret == "" {
		f.t.Fatalf("join: %d %s", r.status, r.body)
	}
	return j.ParticipantID, j.Secret
}

func (f *fixture) me(token string) userJSON {
	f.t.Helper()
	r := f.json("GET", "/api/v1/me", token, nil)
	var u userJSON
	if err := json.Unmarshal(r.body, &u); r.status != http.StatusOK || err != nil || u.ID == "" {
		f.t.Fatalf("me: %d %s", r.status, r.body)
	}
	return u
}

func (f *fixture) userID(token string) string   { return f.me(token).ID }
func (f *fixture) tenantID(token string) string { return f.me(token).TenantID }

// freshCustomer joins tenant w's meeting and is admitted: for calls that
// end the caller's participation.
func (f *fixture) freshCustomer(w *isoTenant) string {
	f.t.Helper()
	pid, sec := f.joinAs(w.joinToken, "Zacharias Zusatz", "")
	if r := f.json("POST", "/api/v1/meetings/"+w.meetingID+"/participants/"+pid+"/admit", w.advisor, nil); r.status != http.StatusNoContent {
		f.t.Fatalf("admit fresh customer: %d %s", r.status, r.body)
	}
	return sec
}

// leaked names the first of w's private data found in the answer, but for
// the data in shown (what the route legitimately shows anyone).
func (w *isoTenant) leaked(r resp, shown []string) string {
	var all strings.Builder
	all.Write(r.body)
	all.WriteString(zipText(r))
	for k, vs := range r.header {
		all.WriteString("\n" + k + ": " + strings.Join(vs, ", "))
	}
	s := all.String()
	for _, p := range w.private {
		if p != "" && !slices.Contains(shown, p) && strings.Contains(s, p) {
			return p
		}
	}
	return ""
}

// snapshot is tenant A's state as tenant A sees it; the matrix must not
// change any of it.
func (f *fixture) snapshot(a *isoTenant) string {
	f.t.Helper()
	var b strings.Builder
	for _, c := range append([]struct{ path, token string }{
		{"/api/v1/me", a.admin},
		{"/api/v1/me", a.advisor},
		{"/api/v1/users", a.admin},
		{"/api/v1/audit", a.admin},
		{"/api/v1/meetings", a.advisor},
		{"/api/v1/meetings/" + a.meetingID, a.advisor},
		{"/api/v1/meetings/" + a.meetingID + "/participants", a.advisor},
		{"/api/v1/meetings/" + a.meetingID + "/timeline", a.advisor},
		{"/api/v1/meetings/" + a.meetingID + "/files/" + a.fileID, a.advisor},
		{"/api/v1/participant", a.waitingSec},
		{"/api/v1/participant", a.admittedSec},
		{"/api/v1/join/" + a.joinToken, ""},
		{"/api/v1/retention/policy", a.admin},
		{"/api/v1/retention/holds", a.admin},
	}, append(append(bookingSnapshotPaths(a), privacySnapshotPaths(a)...), messagingSnapshotPaths(a)...)...) {
		r := f.call("GET", c.path, "", c.token, nil, nil)
		if r.status != http.StatusOK {
			f.t.Fatalf("snapshot %s: %d %s", c.path, r.status, r.body)
		}
		b.WriteString(c.path + "\n" + string(r.body) + "\n")
	}
	return b.String()
}

// isoCaller is one kind of caller of tenant B; token(fresh) gives its
// credential, a new one when the call ends the session or participation.
type isoCaller struct {
	name  string
	token func(fresh bool) string
}

// isoTarget is one request of a case: the path, and whether it names
// tenant A's objects (then only a refusal is acceptable).
type isoTarget struct {
	path    string
	foreign bool
	// body, when not nil, is sent as JSON instead of the case's body.
	body any
	// header holds extra request headers.
	header map[string]string
	// shown is tenant A's data the answer may hold: what a public page
	// shows anyone.
	shown []string
	// note explains the target in its failures.
	note string
	// likeUnknown, when set, is the id of tenant A's that makes the
	// target foreign: the answer must be the refusal a made-up id in its
	// place gets (for the routes that refuse an unknown id with 400).
	likeUnknown string
	// want, when set, is the one status a foreign target may get.
	want int
}

// isoCase says how to call one route across tenants.
type isoCase struct {
	// targets lists the paths to call (A's ids substituted).
	targets func(a, b *isoTenant) []isoTarget
	// body is the request body for caller c; nil sends none.
	body func(a, b *isoTenant, c string) (contentType string, body []byte)
	// fresh: the call ends the caller's session or participation.
	fresh bool
	// refusals are the acceptable statuses of a foreign call, besides
	// 401, 403 and 404.
	refusals []int
	// run replaces the plain HTTP call (signalling).
	run func(t *testing.T, f *fixture, a, b *isoTenant, c isoCaller)
	// sanity is tenant A's own caller for the route: it must get past
	// authorisation, proving the substituted ids are real.
	sanity func(a *isoTenant) string
}

// foreignPath substitutes tenant A's ids into a route pattern.
func foreignPath(rt route, a *isoTenant) string {
	if messagingRoute(rt.pattern) {
		return messagingPath(rt.pattern, a)
	}
	id := a.meetingID
	switch {
	case strings.HasPrefix(rt.pattern, "/api/v1/users/"):
		id = a.advisorID
	case strings.HasPrefix(rt.pattern, "/api/v1/retention/holds/"):
		id = a.holdID
	case strings.HasPrefix(rt.pattern, "/api/v1/booking/types/"):
		id = a.typeID
	case strings.HasPrefix(rt.pattern, "/api/v1/bookings/"):
		id = a.bookingID
	case strings.HasPrefix(rt.pattern, "/api/v1/customers/"):
		id = a.customerID
	case strings.HasPrefix(rt.pattern, "/api/v1/calendar/sources/"):
		id = a.sourceID
	case strings.HasPrefix(rt.pattern, "/api/v1/erasures/"):
		id = a.erasureID
	}
	token := a.meetingID
	if strings.HasPrefix(rt.pattern, "/api/v1/manage/") {
		token = a.bookingID
	}
	pid := a.waitingPID
	if strings.HasSuffix(rt.pattern, "/remove") {
		pid = a.admittedPID
	}
	return strings.NewReplacer("{id}", id, "{pid}", pid, "{file}", a.fileID, "{token}", token, "{class}", retention.ClassMeetingContent,
		"{page}", a.pageID).Replace(rt.pattern)
}

func jsonBody(v any) (string, []byte) {
	b, _ := json.Marshal(v)
	return "application/json", b
}

// pdfBody is an upload's body: a small PDF.
func pdfBody(a, b *isoTenant, c string) (string, []byte) {
	return "application/octet-stream", []byte(testPDF)
}

// isolationCases has one case per route of the routing table; the test
// fails for a route without one.
func isolationCases() map[string]isoCase {
	own := func(rt string) func(a, b *isoTenant) []isoTarget {
		return func(a, b *isoTenant) []isoTarget { return []isoTarget{{path: rt}} }
	}
	// foreign names A's objects; where the path names a meeting and an
	// object in it, it is also called with B's own meeting and A's
	// participant or file, which B's staff may pass the meeting check of.
	foreign := func(rt route) func(a, b *isoTenant) []isoTarget {
		return func(a, b *isoTenant) []isoTarget {
			ts := []isoTarget{{path: foreignPath(rt, a), foreign: true}}
			if strings.HasPrefix(rt.pattern, "/api/v1/meetings/{id}/") && (strings.Contains(rt.pattern, "{pid}") || strings.Contains(rt.pattern, "{file}")) {
				ts = append(ts, isoTarget{path: strings.Replace(foreignPath(rt, a), a.meetingID, b.meetingID, 1), foreign: true})
			}
			return ts
		}
	}
	byKey := map[string]route{}
	for _, rt := range routes {
		byKey[rt.method+" "+rt.pattern] = rt
	}
	fr := func(key string) func(a, b *isoTenant) []isoTarget { return foreign(byKey[key]) }
	adminOf := func(a *isoTenant) string { return a.admin }
	advisorOf := func(a *isoTenant) string { return a.advisor }
	customerOf := func(a *isoTenant) string { return a.admittedSec }
	nobody := func(a *isoTenant) string { return "" }
	// joinTargets: A's meeting id as a guessed link token must not
	// resolve, and B's own link leads to B's meeting only.
	joinTargets := func(a, b *isoTenant) []isoTarget {
		return []isoTarget{{path: "/api/v1/join/" + a.meetingID, foreign: true}, {path: "/api/v1/join/" + b.joinToken}}
	}
	upload := func(path string) func(a, b *isoTenant) []isoTarget {
		return func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: strings.Replace(path, "{id}", a.meetingID, 1) + "?name=Beta-Upload.pdf", foreign: strings.Contains(path, "{id}")}}
		}
	}

	cases := map[string]isoCase{
		"POST /api/v1/login": {
			// Tenant B's credentials presented to tenant A.
			targets: func(a, b *isoTenant) []isoTarget { return []isoTarget{{path: "/api/v1/login", foreign: true}} },
			body: func(a, b *isoTenant, c string) (string, []byte) {
				user, pw := "admin", b.adminPass
				switch c {
				case "B advisor":
					user, pw = b.advisorUser, b.advisorPass
				case "B customer":
					user, pw = a.advisorUser, b.advisorPass
				}
				return jsonBody(map[string]string{"tenant": a.slug, "username": user, "password": pw})
			},
			sanity: nobody,
		},
		"POST /api/v1/logout": {targets: own("/api/v1/logout"), fresh: true},
		"GET /api/v1/me":      {targets: own("/api/v1/me")},
		"POST /api/v1/me/password": {targets: own("/api/v1/me/password"), body: func(a, b *isoTenant, c string) (string, []byte) {
			return jsonBody(map[string]string{"current_password": "Falsches-Passwort-0", "new_password": "Nebel-ueber-der-Elbe-3"})
		}},
		"GET /api/v1/users": {targets: own("/api/v1/users")},
		"POST /api/v1/users": {targets: own("/api/v1/users"), body: func(a, b *isoTenant, c string) (string, []byte) {
			return jsonBody(map[string]string{"username": "neu.beta", "password": "Kaffee-und-Kuchen-42"})
		}},
		"PATCH /api/v1/users/{id}": {targets: fr("PATCH /api/v1/users/{id}"), body: func(a, b *isoTenant, c string) (string, []byte) {
			return jsonBody(map[string]bool{"disabled": true})
		}, sanity: adminOf},
		"POST /api/v1/users/{id}/password-reset": {targets: fr("POST /api/v1/users/{id}/password-reset"), sanity: adminOf},
		"DELETE /api/v1/users/{id}/sessions":     {targets: fr("DELETE /api/v1/users/{id}/sessions"), sanity: adminOf},
		"GET /api/v1/audit":                      {targets: own("/api/v1/audit")},
		"POST /api/v1/meetings": {targets: own("/api/v1/meetings"), body: func(a, b *isoTenant, c string) (string, []byte) {
			return jsonBody(map[string]string{"title": "Termin Beta"})
		}},
		"GET /api/v1/meetings":                                 {targets: own("/api/v1/meetings")},
		"GET /api/v1/meetings/{id}":                            {targets: fr("GET /api/v1/meetings/{id}"), sanity: advisorOf},
		"POST /api/v1/meetings/{id}/link":                      {targets: fr("POST /api/v1/meetings/{id}/link"), sanity: advisorOf},
		"POST /api/v1/meetings/{id}/end":                       {targets: fr("POST /api/v1/meetings/{id}/end"), sanity: advisorOf},
		"GET /api/v1/meetings/{id}/participants":               {targets: fr("GET /api/v1/meetings/{id}/participants"), sanity: advisorOf},
		"POST /api/v1/meetings/{id}/participants/{pid}/admit":  {targets: fr("POST /api/v1/meetings/{id}/participants/{pid}/admit"), sanity: advisorOf},
		"POST /api/v1/meetings/{id}/participants/{pid}/reject": {targets: fr("POST /api/v1/meetings/{id}/participants/{pid}/reject"), sanity: advisorOf},
		"POST /api/v1/meetings/{id}/participants/{pid}/remove": {targets: fr("POST /api/v1/meetings/{id}/participants/{pid}/remove"), sanity: advisorOf},
		"GET /api/v1/join/{token}":                             {targets: joinTargets, sanity: nobody},
		"POST /api/v1/join/{token}": {targets: joinTargets, body: func(a, b *isoTenant, c string) (string, []byte) {
			return jsonBody(map[string]string{"name": "Zacharias Zusatz"})
		}, sanity: nobody},
		"GET /api/v1/participant":                {targets: own("/api/v1/participant")},
		"POST /api/v1/participant/leave":         {targets: own("/api/v1/participant/leave"), fresh: true},
		"POST /api/v1/participant/files":         {targets: upload("/api/v1/participant/files"), body: pdfBody},
		"GET /api/v1/participant/files/{file}":   {targets: fr("GET /api/v1/participant/files/{file}"), sanity: customerOf},
		"GET /api/v1/participant/timeline":       {targets: own("/api/v1/participant/timeline")},
		"POST /api/v1/meetings/{id}/files":       {targets: upload("/api/v1/meetings/{id}/files"), body: pdfBody, sanity: advisorOf},
		"GET /api/v1/meetings/{id}/files/{file}": {targets: fr("GET /api/v1/meetings/{id}/files/{file}"), sanity: advisorOf},
		"GET /api/v1/meetings/{id}/timeline":     {targets: fr("GET /api/v1/meetings/{id}/timeline"), sanity: advisorOf},
		// The retention table's classes are the same for every tenant: B's
		// admin changing a class's period changes B's override only (the
		// snapshot holds A's table).
		"GET /api/v1/retention/policy": {targets: own("/api/v1/retention/policy")},
		"PUT /api/v1/retention/overrides/{class}": {targets: own("/api/v1/retention/overrides/" + retention.ClassMeetingContent), body: func(a, b *isoTenant, c string) (string, []byte) {
			return jsonBody(map[string]any{"period_hours": 48})
		}},
		"DELETE /api/v1/retention/overrides/{class}": {targets: own("/api/v1/retention/overrides/" + retention.ClassMeetingContent)},
		"GET /api/v1/retention/holds":                {targets: own("/api/v1/retention/holds")},
		"POST /api/v1/retention/holds": {targets: own("/api/v1/retention/holds"), body: func(a, b *isoTenant, c string) (string, []byte) {
			return jsonBody(map[string]string{"subject_kind": "meeting", "subject_id": b.meetingID, "reason": "Pruefung Beta"})
		}},
		"DELETE /api/v1/retention/holds/{id}": {targets: fr("DELETE /api/v1/retention/holds/{id}"), sanity: adminOf},
		"GET /api/v1/signal":                  {run: signalWebSocketCase},
		"POST /api/v1/signal":                 {run: signalStreamCase},
	}
	for k, c := range bookingCases(fr) {
		cases[k] = c
	}
	for k, c := range privacyCases(fr) {
		cases[k] = c
	}
	for k, c := range messagingCases() {
		cases[k] = c
	}
	for k, c := range signingCases() {
		cases[k] = c
	}
	for k, c := range feedbackCases() {
		cases[k] = c
	}
	for k, c := range recordingCases() {
		cases[k] = c
	}
	for k, c := range kioskCases() {
		cases[k] = c
	}
	for k, c := range pagesCases() {
		cases[k] = c
	}
	return cases
}

// sanityPath is the route's path as tenant A's own caller uses it: A's
// ids, A's real join and manage links, a file name for uploads.
func sanityPath(rt route, a *isoTenant) string {
	p := foreignPath(rt, a)
	switch {
	case strings.HasPrefix(rt.pattern, "/api/v1/manage/"):
		p = strings.Replace(rt.pattern, "{token}", a.manageToken, 1)
	case strings.Contains(rt.pattern, "{token}"):
		p = strings.Replace(rt.pattern, "{token}", a.joinToken, 1)
	}
	if strings.HasSuffix(rt.pattern, "/files") {
		p += "?name=Alpha-Upload.pdf"
	}
	return p
}

func TestTenantIsolation(t *testing.T) {
	f, cs, ics := newIsolationFixture(t)
	a := f.populate(cs, ics, "sparkasse", adminPass, "Alpha")

	const bAdminPass = "Bergsee-Morgenrot-88"
	tb, err := f.auth.CreateTenant(context.Background(), "volksbank", "Volksbank Beta")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth.CreateUser(context.Background(), tb.ID, auth.NewUser{Username: "admin", DisplayName: "Administrator", Password: bAdminPass, Role: auth.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	b := f.populate(cs, ics, "volksbank", bAdminPass, "Beta")
	if a.tenantID == b.tenantID {
		t.Fatal("both tenants have the same id")
	}

	cases := isolationCases()
	for _, rt := range routes {
		if _, ok := cases[rt.method+" "+rt.pattern]; !ok {
			t.Errorf("route %s %s has no tenant isolation case: add one to isolationCases", rt.method, rt.pattern)
		}
	}
	served := map[string]bool{}
	for _, rt := range routes {
		served[rt.method+" "+rt.pattern] = true
	}
	for k := range cases {
		if !served[k] {
			t.Errorf("isolation case %q names no route", k)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Same-tenant sanity for the reads: tenant A's own caller gets the
	// data, so the ids substituted below are real.
	for _, rt := range routes {
		c := cases[rt.method+" "+rt.pattern]
		if c.sanity == nil || rt.method != "GET" {
			continue
		}
		r := f.call("GET", sanityPath(rt, a), "", c.sanity(a), nil, nil)
		if r.status != http.StatusOK || a.leaked(r, nil) == "" {
			t.Errorf("sanity %s %s for tenant A's caller: %d %.200s", rt.method, rt.pattern, r.status, r.body)
		}
	}
	if r := f.json("POST", "/api/v1/login", "", map[string]string{"tenant": a.slug, "username": a.advisorUser, "password": a.advisorPass}); r.status != http.StatusOK {
		t.Errorf("sanity login for tenant A's advisor: %d %s", r.status, r.body)
	}

	feedChecks(t, f, a, b)

	before := f.snapshot(a)

	callers := []isoCaller{
		{"B admin", func(fresh bool) string {
			if fresh {
				return f.login(b.slug, "admin", bAdminPass)
			}
			return b.admin
		}},
		{"B advisor", func(fresh bool) string {
			if fresh {
				return f.login(b.slug, b.advisorUser, b.advisorPass)
			}
			return b.advisor
		}},
		{"B customer", func(fresh bool) string {
			if fresh {
				return f.freshCustomer(b)
			}
			return b.admittedSec
		}},
		{"nobody", func(bool) string { return "" }},
	}

	calls := 0
	for _, rt := range routes {
		c := cases[rt.method+" "+rt.pattern]
		for _, caller := range callers {
			name := rt.method + " " + rt.pattern + " as " + caller.name
			if c.run != nil {
				t.Run(name, func(t *testing.T) { c.run(t, f, a, b, caller) })
				calls++
				continue
			}
			for _, tg := range c.targets(a, b) {
				calls++
				var ct string
				var body []byte
				if c.body != nil {
					ct, body = c.body(a, b, caller.name)
				}
				if tg.body != nil {
					ct, body = jsonBody(tg.body)
				}
				note := ""
				if tg.note != "" {
					note = " [" + tg.note + "]"
				}
				token := caller.token(c.fresh)
				r := f.call(rt.method, tg.path, ct, token, body, tg.header)
				if leak := a.leaked(r, tg.shown); leak != "" {
					t.Errorf("%s %s: the answer (%d) holds tenant A's data %q: %.300s%s", name, tg.path, r.status, leak, r.body, note)
				}
				if r.status >= 500 {
					t.Errorf("%s %s: %d %s", name, tg.path, r.status, r.body)
				}
				if tg.foreign && tg.likeUnknown != "" {
					made := ids.New()
					u := f.call(rt.method, strings.ReplaceAll(tg.path, tg.likeUnknown, made), ct, token,
						bytes.ReplaceAll(body, []byte(tg.likeUnknown), []byte(made)), tg.header)
					if u.status < 400 || u.status != r.status || u.errCode() != r.errCode() {
						t.Errorf("%s %s: tenant A's id answers %d %.300s, a made-up one %d %.300s%s", name, tg.path, r.status, r.body, u.status, u.body, note)
					}
					continue
				}
				if tg.foreign && tg.want != 0 && r.status != tg.want {
					t.Errorf("%s %s: %d %.300s, want %d%s", name, tg.path, r.status, r.body, tg.want, note)
					continue
				}
				if tg.foreign && !refused(r.status, c.refusals) {
					t.Errorf("%s %s: tenant B reached tenant A's object: %d %.300s%s", name, tg.path, r.status, r.body, note)
				}
			}
		}
	}
	t.Logf("isolation matrix: %d routes x %d callers, %d calls", len(routes), len(callers), calls)

	// The routes outside the table are public and tenant-free; their
	// answers (metrics labels included) name no tenant's data.
	for _, p := range []string{"/healthz", "/metrics", "/api/v1/openapi.json"} {
		r := f.json("GET", p, "", nil)
		if leak := a.leaked(r, nil); r.status != http.StatusOK || leak != "" {
			t.Errorf("GET %s: %d, holds tenant A's data %q", p, r.status, leak)
		}
	}

	feedSanity(t, f, a)
	sameEmailChecks(t, f, a, b)

	if after := f.snapshot(a); after != before {
		t.Fatalf("tenant B's calls changed tenant A's state:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Same-tenant sanity for the writes, after the state check: tenant
	// A's own caller succeeds with the same ids. Ending the meeting and
	// cancelling bookings come after the other meeting and booking
	// writes, deleting the appointment type after those, and the writes
	// on the advisor's account (disable, reset, revoke) come last; admit
	// and reject each get a fresh waiting customer, advisor cancellation
	// a fresh booking.
	rank := func(rt route) int {
		switch {
		case strings.HasPrefix(rt.pattern, "/api/v1/users/"), strings.HasSuffix(rt.pattern, "/erasure"):
			return 3
		case rt.method == "DELETE" && strings.HasPrefix(rt.pattern, "/api/v1/booking/types/"):
			return 2
		case strings.HasSuffix(rt.pattern, "/end"), strings.HasSuffix(rt.pattern, "/cancel"):
			return 1
		}
		return 0
	}
	var writes []route
	for _, rt := range routes {
		if c := cases[rt.method+" "+rt.pattern]; c.sanity != nil && rt.method != "GET" {
			writes = append(writes, rt)
		}
	}
	sort.SliceStable(writes, func(i, j int) bool { return rank(writes[i]) < rank(writes[j]) })
	for _, rt := range writes {
		c := cases[rt.method+" "+rt.pattern]
		if strings.HasSuffix(rt.pattern, "/end") {
			// Before the meeting ends: tenant A's advisor enters it.
			signalSanity(t, f, a)
		}
		var ct string
		var body []byte
		if c.body != nil {
			ct, body = c.body(a, a, "A")
		}
		path := sanityPrep(f, rt, a, sanityPath(rt, a))
		if strings.HasSuffix(rt.pattern, "/admit") || strings.HasSuffix(rt.pattern, "/reject") {
			pid, _ := f.joinAs(a.joinToken, "Zacharias Zusatz", "")
			path = strings.Replace(path, a.waitingPID, pid, 1)
		}
		r := f.call(rt.method, path, ct, c.sanity(a), body, nil)
		if r.status < 200 || r.status > 299 {
			t.Errorf("sanity %s %s for tenant A's caller: %d %.300s", rt.method, rt.pattern, r.status, r.body)
		}
		if strings.HasSuffix(rt.pattern, "/link") {
			var rot struct {
				JoinToken string `json:"join_token"`
			}
			if err := json.Unmarshal(r.body, &rot); err == nil && rot.JoinToken != "" {
				a.joinToken = rot.JoinToken
			}
		}
	}
}

// signalSanity: tenant A's advisor's hello for tenant A's meeting is
// welcomed, so the refusals of tenant B's are not a broken hub.
func signalSanity(t *testing.T, f *fixture, a *isoTenant) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.srv.URL, "http")+"/api/v1/signal", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.CloseNow()
	hello, _ := msg.Encode(msg.Message{Type: msg.TypeHello, Token: a.advisor, MeetingID: a.meetingID})
	if err := ws.Write(ctx, websocket.MessageText, hello); err != nil {
		t.Fatalf("hello: %v", err)
	}
	_, data, err := ws.Read(ctx)
	var m msg.Message
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil || m.Type != msg.TypeWelcome || m.MeetingID != a.meetingID {
		t.Errorf("sanity: tenant A's advisor's hello for its meeting: %s %v", data, err)
	}
}

// refused reports whether status is a refusal: 401, 403, 404 or one of
// extra.
func refused(status int, extra []int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	}
	for _, s := range extra {
		if s == status {
			return true
		}
	}
	return false
}

// signalStreamCase: the desktop stream, authenticated by tenant B's
// session, asks for tenant A's meeting and is refused with "forbidden";
// without a session the stream does not open.
func signalStreamCase(t *testing.T, f *fixture, a, b *isoTenant, c isoCaller) {
	hello, _ := msg.Encode(msg.Message{Type: msg.TypeHello, MeetingID: a.meetingID})
	r := f.do("POST", "/api/v1/signal", signal.StreamContentType, c.token(false), append(hello, '\n'))
	if leak := a.leaked(r, nil); leak != "" {
		t.Errorf("the stream (%d) holds tenant A's data %q: %.300s", r.status, leak, r.body)
	}
	switch c.name {
	case "B admin", "B advisor":
		first, _, _ := bytes.Cut(r.body, []byte("\n"))
		var m msg.Message
		err := json.Unmarshal(first, &m)
		if r.status != http.StatusOK || err != nil || m.Type != msg.TypeError || m.Code != "forbidden" {
			t.Errorf("stream hello for tenant A's meeting: %d %q (%v), want an error message \"forbidden\"", r.status, r.body, err)
		}
	default:
		if r.status != http.StatusUnauthorized {
			t.Errorf("stream without a session: %d %.300s", r.status, r.body)
		}
	}
}

// signalWebSocketCase: over the browser's WebSocket, tenant B's session
// token with tenant A's meeting id is refused with "forbidden"; tenant
// B's customer secret leads to tenant B's meeting whatever meeting id the
// hello names; no token is refused.
func signalWebSocketCase(t *testing.T, f *fixture, a, b *isoTenant, c isoCaller) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.srv.URL, "http")+"/api/v1/signal", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.CloseNow()
	hello, _ := msg.Encode(msg.Message{Type: msg.TypeHello, Token: c.token(false), MeetingID: a.meetingID})
	if err := ws.Write(ctx, websocket.MessageText, hello); err != nil {
		t.Fatalf("hello: %v", err)
	}
	read := func() msg.Message {
		t.Helper()
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if leak := a.leaked(resp{body: data}, nil); leak != "" {
			t.Errorf("signalling message holds tenant A's data %q: %s", leak, data)
		}
		var m msg.Message
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		return m
	}
	m := read()
	switch c.name {
	case "B admin", "B advisor":
		if m.Type != msg.TypeError || m.Code != "forbidden" {
			t.Errorf("hello for tenant A's meeting: %+v, want error \"forbidden\"", m)
		}
	case "B customer":
		if m.Type != msg.TypeWelcome || m.MeetingID != b.meetingID {
			t.Fatalf("customer hello naming tenant A's meeting: %+v, want a welcome to tenant B's meeting", m)
		}
		// The replayed timeline is tenant B's: read up to B's chat
		// message, checking each message on the way.
		for {
			m := read()
			if m.Type == msg.TypeChat && m.Entry != nil && strings.Contains(m.Entry.Text, "Beta") {
				break
			}
		}
	default:
		if m.Type != msg.TypeError || m.Code != "unauthorized" {
			t.Errorf("hello without a token: %+v, want error \"unauthorized\"", m)
		}
	}
}
