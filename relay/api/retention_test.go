package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/retention"
	"parley/relay/store"
)

// newRetentionFixture is newFixture with the privacy engine wired in, and
// a second tenant "vb" whose admin is returned as the second token.
func newRetentionFixture(t *testing.T) (*fixture, *retention.Policy, string) {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	kv := &store.Memory{Clock: clk}
	svc, err := auth.New(auth.Options{Store: kv, Clock: clk, Hash: auth.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Bootstrap(ctx, "sparkasse", "Sparkasse", adminPass); err != nil {
		t.Fatal(err)
	}
	vb, err := svc.CreateTenant(ctx, "vb", "Volksbank")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, vb.ID, auth.NewUser{Username: "chef", Password: adminPass, Role: auth.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	al := newAudit(t, kv, clk)
	pol, err := retention.New(retention.Options{Store: kv, Audit: al, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Auth: svc, Audit: al, Meetings: newMeetings(t, kv, clk), Clock: clk, Retention: pol}))
	t.Cleanup(srv.Close)
	f := &fixture{t: t, srv: srv, auth: svc, clock: clk, kv: kv}
	return f, pol, f.login("vb", "chef", adminPass)
}

type policyBody struct {
	Classes []struct {
		Class        string `json:"class"`
		PeriodHours  int64  `json:"period_hours"`
		DefaultHours int64  `json:"default_period_hours"`
		Implemented  bool   `json:"implemented"`
		Overridable  bool   `json:"overridable"`
		Override     *struct {
			PeriodHours int64  `json:"period_hours"`
			Reason      string `json:"reason"`
		} `json:"override"`
	} `json:"classes"`
}

func (f *fixture) policy(tok string) map[string]int64 {
	f.t.Helper()
	r := f.json("GET", "/api/v1/retention/policy", tok, nil)
	if r.status != 200 {
		f.t.Fatalf("policy: %d %s", r.status, r.body)
	}
	var b policyBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		f.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, c := range b.Classes {
		out[c.Class] = c.PeriodHours
	}
	return out
}

func TestRetentionPolicyAndOverrides(t *testing.T) {
	f, _, vbAdmin := newRetentionFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)

	p := f.policy(admin)
	if len(p) != len(retention.Classes()) || p["meeting_content"] != 168 || p["meeting_metadata"] != 48 || p["customer_profile"] != 360*24 {
		t.Fatalf("default policy: %v", p)
	}
	// Shorten without a reason.
	r := f.json("PUT", "/api/v1/retention/overrides/meeting_content", admin, map[string]any{"period_hours": 72})
	if r.status != 200 || !strings.Contains(string(r.body), `"period_hours":72`) {
		t.Fatalf("shorten: %d %s", r.status, r.body)
	}
	if p := f.policy(admin); p["meeting_content"] != 72 {
		t.Fatalf("after shortening: %v", p["meeting_content"])
	}
	if p := f.policy(vbAdmin); p["meeting_content"] != 168 {
		t.Fatalf("the other tenant sees the override: %v", p["meeting_content"])
	}
	// Lengthen: reason required.
	if r := f.json("PUT", "/api/v1/retention/overrides/meeting_content", admin, map[string]any{"period_hours": 24 * 30}); r.status != 422 || r.errCode() != "reason_required" {
		t.Fatalf("lengthen without reason: %d %s", r.status, r.body)
	}
	if r := f.json("PUT", "/api/v1/retention/overrides/meeting_content", admin, map[string]any{"period_hours": 24 * 30, "reason": "Revision 2026"}); r.status != 200 {
		t.Fatalf("lengthen with reason: %d %s", r.status, r.body)
	}
	// Clearing back to the default (shorter) needs no reason; a clear
	// that lengthens does.
	if r := f.do("DELETE", "/api/v1/retention/overrides/meeting_content", "", admin, nil); r.status != 200 || !strings.Contains(string(r.body), `"period_hours":168`) {
		t.Fatalf("clear: %d %s", r.status, r.body)
	}
	if r := f.json("PUT", "/api/v1/retention/overrides/meeting_metadata", admin, map[string]any{"period_hours": 12}); r.status != 200 {
		t.Fatalf("shorten metadata: %d %s", r.status, r.body)
	}
	if r := f.do("DELETE", "/api/v1/retention/overrides/meeting_metadata", "", admin, nil); r.status != 422 {
		t.Fatalf("clear that lengthens without reason: %d %s", r.status, r.body)
	}
	if r := f.json("DELETE", "/api/v1/retention/overrides/meeting_metadata", admin, map[string]string{"reason": "zurück zum Standard"}); r.status != 200 {
		t.Fatalf("clear with reason: %d %s", r.status, r.body)
	}

	// Every change is in the tenant's audit log; the other tenant sees none.
	r = f.json("GET", "/api/v1/audit", admin, nil)
	if n := strings.Count(string(r.body), `"retention.override"`); n != 5 {
		t.Fatalf("audit has %d overrides: %s", n, r.body)
	}
	if r := f.json("GET", "/api/v1/audit", vbAdmin, nil); strings.Contains(string(r.body), "retention.") {
		t.Fatalf("other tenant's audit: %s", r.body)
	}
}

func TestRetentionHostileInput(t *testing.T) {
	f, _, _ := newRetentionFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	adv := f.advisor(admin, "erika")
	const ov = "/api/v1/retention/overrides/"
	for _, tc := range []struct {
		name, method, path, tok string
		body                    any
		status                  int
		code                    string
	}{
		{"advisor reads policy", "GET", "/api/v1/retention/policy", adv, nil, 403, "forbidden"},
		{"advisor overrides", "PUT", ov + "meeting_content", adv, map[string]any{"period_hours": 1}, 403, "forbidden"},
		{"advisor lists holds", "GET", "/api/v1/retention/holds", adv, nil, 403, "forbidden"},
		{"advisor places hold", "POST", "/api/v1/retention/holds", adv, map[string]any{"subject_kind": "meeting", "subject_id": "m1", "reason": "x"}, 403, "forbidden"},
		{"no session", "GET", "/api/v1/retention/policy", "", nil, 401, "unauthenticated"},
		{"unknown class", "PUT", ov + "passwords", admin, map[string]any{"period_hours": 1}, 404, "unknown_class"},
		{"unknown class clear", "DELETE", ov + "passwords", admin, nil, 404, "unknown_class"},
		{"not overridable", "PUT", ov + "advisor_account", admin, map[string]any{"period_hours": 1}, 409, "not_overridable"},
		{"negative period", "PUT", ov + "meeting_content", admin, map[string]any{"period_hours": -5}, 400, "bad_request"},
		{"zero period", "PUT", ov + "meeting_content", admin, map[string]any{"period_hours": 0}, 400, "bad_request"},
		{"huge period", "PUT", ov + "meeting_content", admin, map[string]any{"period_hours": 87601, "reason": "x"}, 400, "bad_request"},
		{"overflowing period", "PUT", ov + "meeting_content", admin, map[string]any{"period_hours": 1e30, "reason": "x"}, 400, "bad_request"},
		{"fractional period", "PUT", ov + "meeting_content", admin, map[string]any{"period_hours": 1.5}, 400, "bad_request"},
		{"missing period", "PUT", ov + "meeting_content", admin, map[string]any{"reason": "x"}, 400, "bad_request"},
		{"unknown field", "PUT", ov + "meeting_content", admin, map[string]any{"period_hours": 1, "days": 1}, 400, "bad_request"},
		{"long reason", "PUT", ov + "recording", admin, map[string]any{"period_hours": 9000, "reason": strings.Repeat("x", 501)}, 400, "bad_request"},
		{"lengthen without reason", "PUT", ov + "recording", admin, map[string]any{"period_hours": 9000}, 422, "reason_required"},
		{"hold without reason", "POST", "/api/v1/retention/holds", admin, map[string]any{"subject_kind": "meeting", "subject_id": "m1"}, 400, "bad_request"},
		{"hold of unknown kind", "POST", "/api/v1/retention/holds", admin, map[string]any{"subject_kind": "tenant", "subject_id": "t", "reason": "x"}, 400, "bad_request"},
		{"hold with path in id", "POST", "/api/v1/retention/holds", admin, map[string]any{"subject_kind": "meeting", "subject_id": "m1/x", "reason": "x"}, 400, "bad_request"},
		{"release unknown hold", "DELETE", "/api/v1/retention/holds/hold_nope", admin, nil, 404, "not_found"},
		{"wrong method", "PATCH", "/api/v1/retention/holds", admin, nil, 405, "method_not_allowed"},
	} {
		r := f.json(tc.method, tc.path, tc.tok, tc.body)
		if r.status != tc.status || r.errCode() != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
		}
	}
	if r := f.do("PUT", ov+"meeting_content", "text/plain", admin, []byte(`{"period_hours":1}`)); r.status != 415 {
		t.Errorf("text/plain: %d", r.status)
	}
	if r := f.do("PUT", ov+"meeting_content", "application/json", admin, []byte(`{"period_hours":1}{}`)); r.status != 400 {
		t.Errorf("trailing data: %d", r.status)
	}
	// Nothing of the above changed the policy.
	if p := f.policy(admin); p["meeting_content"] != 168 || p["recording"] != 180*24 {
		t.Fatalf("policy changed by rejected requests: %v", p)
	}
}

func TestLegalHoldsAPI(t *testing.T) {
	f, pol, vbAdmin := newRetentionFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	r := f.json("POST", "/api/v1/retention/holds", admin, map[string]string{"subject_kind": "meeting", "subject_id": "m_42", "reason": "Beschwerde 2026-11"})
	if r.status != 201 {
		t.Fatalf("place: %d %s", r.status, r.body)
	}
	var h retention.Hold
	if err := json.Unmarshal(r.body, &h); err != nil || h.ID == "" || h.SubjectID != "m_42" {
		t.Fatalf("hold %s: %v", r.body, err)
	}
	if !pol.Held(context.Background(), h.TenantID, retention.SubjectMeeting, "m_42") {
		t.Fatal("placed hold does not hold")
	}
	r = f.json("GET", "/api/v1/retention/holds", admin, nil)
	if r.status != 200 || !strings.Contains(string(r.body), h.ID) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	// The other tenant neither sees nor releases it.
	if r := f.json("GET", "/api/v1/retention/holds", vbAdmin, nil); r.status != 200 || strings.Contains(string(r.body), h.ID) || !strings.Contains(string(r.body), `"holds":[]`) {
		t.Fatalf("other tenant lists: %d %s", r.status, r.body)
	}
	if r := f.json("DELETE", "/api/v1/retention/holds/"+h.ID, vbAdmin, nil); r.status != 404 {
		t.Fatalf("other tenant releases: %d %s", r.status, r.body)
	}
	if r := f.json("DELETE", "/api/v1/retention/holds/"+h.ID, admin, nil); r.status != 204 {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	if pol.Held(context.Background(), h.TenantID, retention.SubjectMeeting, "m_42") {
		t.Fatal("released hold still holds")
	}
	r = f.json("GET", "/api/v1/audit", admin, nil)
	if !strings.Contains(string(r.body), `"retention.hold.place"`) || !strings.Contains(string(r.body), `"retention.hold.release"`) || strings.Contains(string(r.body), "Beschwerde") {
		t.Fatalf("audit: %s", r.body)
	}
}

func TestRetentionRoutesWithoutEngine(t *testing.T) {
	f := newFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)
	for _, path := range []string{"/api/v1/retention/policy", "/api/v1/retention/holds"} {
		if r := f.json("GET", path, admin, nil); r.status != 404 {
			t.Errorf("%s without engine: %d", path, r.status)
		}
	}
}
