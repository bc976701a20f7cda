package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"parley/relay/audit"
	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/meeting"
	"parley/relay/store"
)

const adminPass = "Vorsicht-Bahnsteig-7"

func newMeetings(t *testing.T, kv store.KV, clk clock.Clock) *meeting.Service {
	t.Helper()
	m, err := meeting.New(meeting.Options{Store: kv, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newAudit(t *testing.T, kv store.KV, clk clock.Clock) *audit.Log {
	t.Helper()
	l, err := audit.New(context.Background(), audit.Options{Store: kv, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type fixture struct {
	t     *testing.T
	srv   *httptest.Server
	auth  *auth.Service
	clock *clock.Fake
	kv    *store.Memory
}

func newFixture(t *testing.T) *fixture {
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
	srv := httptest.NewServer(New(Options{Auth: svc, Audit: newAudit(t, kv, clk), Meetings: newMeetings(t, kv, clk), Clock: clk}))
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, auth: svc, clock: clk, kv: kv}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) errCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

func (f *fixture) do(method, path, contentType, token string, body []byte) resp {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func (f *fixture) json(method, path, token string, v any) resp {
	f.t.Helper()
	var b []byte
	if v != nil {
		b, _ = json.Marshal(v)
	}
	ct := ""
	if v != nil {
		ct = "application/json"
	}
	return f.do(method, path, ct, token, b)
}

func (f *fixture) login(tenant, user, pass string) string {
	f.t.Helper()
	r := f.json("POST", "/api/v1/login", "", map[string]string{"tenant": tenant, "username": user, "password": pass})
	if r.status != http.StatusOK {
		f.t.Fatalf("login: %d %s", r.status, r.body)
	}
	var out struct {
		Token string `json:"token"`
		User  struct {
			Tenant string `json:"tenant"`
			Role   string `json:"role"`
		} `json:"user"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.Token == "" {
		f.t.Fatalf("login body %s: %v", r.body, err)
	}
	if out.User.Tenant != tenant {
		f.t.Fatalf("login answered tenant %q, want %q", out.User.Tenant, tenant)
	}
	return out.Token
}

func TestLoginMeLogout(t *testing.T) {
	f := newFixture(t)
	tok := f.login("sparkasse", "admin", adminPass)
	r := f.json("GET", "/api/v1/me", tok, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"role":"admin"`) || !strings.Contains(string(r.body), `"tenant":"sparkasse"`) {
		t.Fatalf("me: %d %s", r.status, r.body)
	}
	if r := f.json("POST", "/api/v1/logout", tok, nil); r.status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/me", tok, nil); r.status != 401 || r.errCode() != "unauthenticated" {
		t.Fatalf("me after logout: %d %s", r.status, r.body)
	}
}

func TestAdminCreatesAdvisorAndRolesAreEnforced(t *testing.T) {
	f := newFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	r := f.json("POST", "/api/v1/users", admin, map[string]string{
		"username": "erika", "display_name": "Erika Mustermann", "email": "erika@example.org", "password": "Kaffee-und-Kuchen-42",
	})
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"role":"advisor"`) {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created struct{ ID string }
	_ = json.Unmarshal(r.body, &created)
	if r := f.json("POST", "/api/v1/users", admin, map[string]string{"username": "ERIKA", "password": "Kaffee-und-Kuchen-43"}); r.status != 409 {
		t.Fatalf("duplicate username: %d %s", r.status, r.body)
	}
	adv := f.login("sparkasse", "erika", "Kaffee-und-Kuchen-42")
	if r := f.json("GET", "/api/v1/users", adv, nil); r.status != 403 || r.errCode() != "password_change_required" {
		t.Fatalf("advisor with initial password: %d %s", r.status, r.body)
	}
	if r := f.json("POST", "/api/v1/me/password", adv, map[string]string{"current_password": "Kaffee-und-Kuchen-42", "new_password": "Regenschirm-im-Mai-9"}); r.status != 204 {
		t.Fatalf("advisor password change: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/users", adv, nil); r.status != 403 || r.errCode() != "forbidden" {
		t.Fatalf("advisor listing users: %d %s", r.status, r.body)
	}
	if r := f.json("DELETE", "/api/v1/users/"+created.ID+"/sessions", admin, nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/me", adv, nil); r.status != 401 {
		t.Fatalf("revoked session still works: %d", r.status)
	}
	if r := f.json("DELETE", "/api/v1/users/nosuchuser/sessions", admin, nil); r.status != 404 {
		t.Fatalf("revoke unknown user: %d", r.status)
	}
	r = f.json("GET", "/api/v1/users", admin, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"username":"erika"`) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
}

func TestOneTimePasswordMustBeChangedFirst(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	kv := &store.Memory{Clock: clk}
	svc, err := auth.New(auth.Options{Store: kv, Clock: clk, Hash: auth.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	boot, err := svc.Bootstrap(context.Background(), "vb", "Volksbank", "")
	if err != nil || !boot.Generated {
		t.Fatalf("bootstrap: %+v %v", boot, err)
	}
	srv := httptest.NewServer(New(Options{Auth: svc, Audit: newAudit(t, kv, clk), Meetings: newMeetings(t, kv, clk), Clock: clk}))
	defer srv.Close()
	f := &fixture{t: t, srv: srv, auth: svc, clock: clk}
	tok := f.login("vb", "admin", boot.Password)
	if r := f.json("GET", "/api/v1/users", tok, nil); r.status != 403 || r.errCode() != "password_change_required" {
		t.Fatalf("before change: %d %s", r.status, r.body)
	}
	r := f.json("POST", "/api/v1/me/password", tok, map[string]string{"current_password": boot.Password, "new_password": "password"})
	if r.status != 422 || r.errCode() != "weak_password" || !strings.Contains(string(r.body), "common") {
		t.Fatalf("weak password: %d %s", r.status, r.body)
	}
	if r := f.json("POST", "/api/v1/me/password", tok, map[string]string{"current_password": boot.Password, "new_password": "Nordsee-Wellen-2026"}); r.status != 204 {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/users", tok, nil); r.status != 200 {
		t.Fatalf("after change: %d %s", r.status, r.body)
	}
}

func TestThrottledLoginAnswers429WithRetryAfter(t *testing.T) {
	f := newFixture(t)
	var last resp
	for i := 0; i < 10; i++ {
		last = f.json("POST", "/api/v1/login", "", map[string]string{"tenant": "sparkasse", "username": "admin", "password": "wrong-guess-" + string(rune('a'+i))})
		if last.status == 429 {
			break
		}
		if last.status != 401 || last.errCode() != "invalid_credentials" {
			t.Fatalf("wrong password %d: %d %s", i, last.status, last.body)
		}
	}
	if last.status != 429 || last.errCode() != "throttled" || last.header.Get("Retry-After") == "" {
		t.Fatalf("no throttling after repeated failures: %d %s %v", last.status, last.body, last.header)
	}
	// Even the right password waits for the back-off...
	r := f.json("POST", "/api/v1/login", "", map[string]string{"tenant": "sparkasse", "username": "admin", "password": adminPass})
	if r.status != 429 {
		t.Fatalf("correct password during back-off: %d", r.status)
	}
	// ...and works once it has passed.
	f.clock.Advance(2 * time.Minute)
	f.login("sparkasse", "admin", adminPass)
}

// TestHostileInput sends malformed requests and checks each gets a clear
// 4xx JSON error and that nothing was written.
func TestHostileInput(t *testing.T) {
	f := newFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	before := f.json("GET", "/api/v1/users", admin, nil).body

	big := `{"username":"` + strings.Repeat("a", maxBody) + `","password":"x"}`
	cases := []struct {
		name, method, path, ct, token, body string
		status                              int
		code                                string
	}{
		{"malformed json", "POST", "/api/v1/users", "application/json", admin, `{"username":`, 400, "bad_request"},
		{"not an object", "POST", "/api/v1/users", "application/json", admin, `[1,2,3]`, 400, "bad_request"},
		{"trailing data", "POST", "/api/v1/users", "application/json", admin, `{"username":"bob","password":"Kaffee-und-Kuchen-42"} {}`, 400, "bad_request"},
		{"unknown field", "POST", "/api/v1/users", "application/json", admin, `{"username":"bob","password":"Kaffee-und-Kuchen-42","is_root":true}`, 400, "bad_request"},
		{"wrong type", "POST", "/api/v1/users", "application/json", admin, `{"username":7,"password":"Kaffee-und-Kuchen-42"}`, 400, "bad_request"},
		{"bad role", "POST", "/api/v1/users", "application/json", admin, `{"username":"bob","password":"Kaffee-und-Kuchen-42","role":"root"}`, 400, "bad_request"},
		{"invalid utf8", "POST", "/api/v1/users", "application/json", admin, "{\"username\":\"b\xffb\",\"password\":\"Kaffee-und-Kuchen-42\"}", 400, "bad_request"},
		{"wrong content type", "POST", "/api/v1/users", "text/plain", admin, `{"username":"bob","password":"Kaffee-und-Kuchen-42"}`, 415, "unsupported_media_type"},
		{"no content type", "POST", "/api/v1/users", "", admin, `{"username":"bob","password":"Kaffee-und-Kuchen-42"}`, 415, "unsupported_media_type"},
		{"oversized body", "POST", "/api/v1/users", "application/json", admin, big, 413, "too_large"},
		{"weak password", "POST", "/api/v1/users", "application/json", admin, `{"username":"bob","password":"bob12345"}`, 422, "weak_password"},
		{"forged token", "POST", "/api/v1/users", "application/json", "pst_forged", `{"username":"bob","password":"Kaffee-und-Kuchen-42"}`, 401, "unauthenticated"},
		{"no token", "GET", "/api/v1/users", "", "", ``, 401, "unauthenticated"},
		{"unknown tenant", "POST", "/api/v1/login", "application/json", "", `{"tenant":"nope","username":"admin","password":"x"}`, 404, "unknown_tenant"},
		{"missing field", "POST", "/api/v1/login", "application/json", "", `{"tenant":"sparkasse","username":"admin"}`, 400, "bad_request"},
		{"empty body", "POST", "/api/v1/login", "application/json", "", ``, 400, "bad_request"},
		{"wrong method", "GET", "/api/v1/login", "", "", ``, 405, "method_not_allowed"},
		{"unknown route", "GET", "/api/v1/nothing", "", "", ``, 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(c.method, c.path, c.ct, c.token, []byte(c.body))
			if r.status != c.status || r.errCode() != c.code {
				t.Fatalf("got %d %q (%s), want %d %q", r.status, r.errCode(), r.body, c.status, c.code)
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("error content type %q", r.header.Get("Content-Type"))
			}
		})
	}
	if after := f.json("GET", "/api/v1/users", admin, nil).body; !bytes.Equal(before, after) {
		t.Fatalf("hostile requests changed the user list:\n%s\n%s", before, after)
	}
}

func TestExpiredSessionIsRejected(t *testing.T) {
	f := newFixture(t)
	tok := f.login("sparkasse", "admin", adminPass)
	f.clock.Advance(13 * time.Hour)
	if r := f.json("GET", "/api/v1/me", tok, nil); r.status != 401 {
		t.Fatalf("expired session: %d", r.status)
	}
}

func TestHealthMetricsAndHeaders(t *testing.T) {
	f := newFixture(t)
	r := f.json("GET", "/healthz", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"ok"`) {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Content-Security-Policy") == "" {
		t.Fatalf("security headers missing: %v", r.header)
	}
	f.json("POST", "/api/v1/login", "", map[string]string{"tenant": "sparkasse", "username": "admin", "password": "nope-nope"})
	r = f.json("GET", "/metrics", "", nil)
	for _, want := range []string{`parley_http_requests_total{code="200",route="/healthz",transport="tcp"} 1`, `parley_logins_total{result="invalid_credentials"} 1`} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestOpenAPIMatchesRoutes keeps openapi.json and the routing table in step.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var documented, served []string
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/api/") || path == "/api/v1/openapi.json" {
			continue
		}
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+path)
		}
	}
	for _, rt := range routes {
		served = append(served, rt.method+" "+rt.pattern)
	}
	sort.Strings(documented)
	sort.Strings(served)
	if strings.Join(documented, "\n") != strings.Join(served, "\n") {
		t.Fatalf("openapi.json documents\n%s\nbut the handler serves\n%s", strings.Join(documented, "\n"), strings.Join(served, "\n"))
	}
	for _, p := range []string{"/healthz", "/metrics"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
}

func TestAdminDisablesAndResetsAdvisor(t *testing.T) {
	f := newFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	r := f.json("POST", "/api/v1/users", admin, map[string]string{"username": "jonas", "password": "Zugvogel-Herbst-71"})
	var u struct{ ID string }
	if err := json.Unmarshal(r.body, &u); err != nil || u.ID == "" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	adv := f.login("sparkasse", "jonas", "Zugvogel-Herbst-71")

	r = f.json("PATCH", "/api/v1/users/"+u.ID, admin, map[string]bool{"disabled": true})
	if r.status != 200 || !strings.Contains(string(r.body), `"disabled":true`) {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/me", adv, nil); r.status != 401 {
		t.Fatalf("disabled user's session still works: %d", r.status)
	}
	if r := f.json("POST", "/api/v1/login", "", map[string]string{"tenant": "sparkasse", "username": "jonas", "password": "Zugvogel-Herbst-71"}); r.status != 401 {
		t.Fatalf("disabled user signs in: %d %s", r.status, r.body)
	}
	if r := f.json("PATCH", "/api/v1/users/"+u.ID, admin, map[string]bool{"disabled": false}); r.status != 200 {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}

	r = f.json("POST", "/api/v1/users/"+u.ID+"/password-reset", admin, nil)
	var reset struct{ Password string }
	if err := json.Unmarshal(r.body, &reset); r.status != 200 || err != nil || len(reset.Password) < 8 {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	tok := f.login("sparkasse", "jonas", reset.Password)
	if r := f.json("GET", "/api/v1/me", tok, nil); !strings.Contains(string(r.body), `"must_change_password":true`) {
		t.Fatalf("after reset the user need not change the password: %s", r.body)
	}

	// An admin cannot lock themself out or reset their own password here.
	me := f.json("GET", "/api/v1/me", admin, nil)
	var self struct{ ID string }
	_ = json.Unmarshal(me.body, &self)
	if r := f.json("PATCH", "/api/v1/users/"+self.ID, admin, map[string]bool{"disabled": true}); r.status != 409 {
		t.Fatalf("self-disable: %d %s", r.status, r.body)
	}
	if r := f.json("POST", "/api/v1/users/"+self.ID+"/password-reset", admin, nil); r.status != 409 {
		t.Fatalf("self-reset: %d %s", r.status, r.body)
	}
	if r := f.json("PATCH", "/api/v1/users/"+u.ID, admin, map[string]string{}); r.status != 400 {
		t.Fatalf("empty update: %d %s", r.status, r.body)
	}
	if r := f.json("PATCH", "/api/v1/users/nosuch", admin, map[string]bool{"disabled": true}); r.status != 404 {
		t.Fatalf("unknown user: %d %s", r.status, r.body)
	}
}

func TestAdminActionsAreAudited(t *testing.T) {
	f := newFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	r := f.json("POST", "/api/v1/users", admin, map[string]string{"username": "lena", "display_name": "Lena Vogt", "email": "lena.vogt@example.org", "password": "Kastanie-Allee-12"})
	var u struct{ ID string }
	_ = json.Unmarshal(r.body, &u)
	f.json("PATCH", "/api/v1/users/"+u.ID, admin, map[string]bool{"disabled": true})
	f.json("PATCH", "/api/v1/users/"+u.ID, admin, map[string]bool{"disabled": false})
	f.json("POST", "/api/v1/users/"+u.ID+"/password-reset", admin, nil)
	f.json("DELETE", "/api/v1/users/"+u.ID+"/sessions", admin, nil)

	r = f.json("GET", "/api/v1/audit", admin, nil)
	var out struct {
		Entries []struct {
			Seq            uint64
			Action, Target string
			Actor          string
		}
	}
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 {
		t.Fatalf("audit: %d %s", r.status, r.body)
	}
	var actions []string
	for _, e := range out.Entries {
		if e.Target != u.ID || e.Actor == "" {
			t.Errorf("entry %+v does not name the advisor and the admin", e)
		}
		actions = append(actions, e.Action)
	}
	want := "user.create user.disable user.enable user.password_reset user.sessions_revoke"
	if strings.Join(actions, " ") != want {
		t.Fatalf("audited %q, want %q", actions, want)
	}
	for _, secret := range []string{"lena", "Lena Vogt", "lena.vogt@example.org", "Kastanie"} {
		if strings.Contains(string(r.body), secret) {
			t.Errorf("audit log holds personal data %q", secret)
		}
	}
	if r := f.json("GET", "/api/v1/audit?after=3", admin, nil); strings.Count(string(r.body), `"seq"`) != 2 {
		t.Errorf("after=3: %s", r.body)
	}
	for _, q := range []string{"?after=x", "?limit=0", "?limit=5000"} {
		if r := f.json("GET", "/api/v1/audit"+q, admin, nil); r.status != 400 {
			t.Errorf("audit%s: %d", q, r.status)
		}
	}
}
