package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"parley/relay/feedback"
)

// The feedback routes in the tenant isolation matrix. Their service is not
// part of the matrix's shared relay: each case runs against a relay with
// meetings, customers and feedback (on a store of their own) and the
// matrix's accounts (so tenant B's sessions are real), where tenant A has
// an answered request (with a comment), an unanswered one and an ended
// meeting without consent. Every route is called by B's admin, advisor,
// customer and nobody with A's meeting and customer ids, A's meeting id as
// a guessed link and a forged link; the answer must be a refusal (or, for
// the routes on the caller's own tenant, an answer about B only) carrying
// none of A's feedback data, and A's feedback must be unchanged.

// feedbackCases has one case per feedback route.
func feedbackCases() map[string]isoCase {
	out := map[string]isoCase{}
	for _, rt := range routes {
		if strings.HasSuffix(rt.pattern, "/feedback") || strings.HasPrefix(rt.pattern, "/api/v1/feedback/") {
			out[rt.method+" "+rt.pattern] = isoCase{run: func(t *testing.T, f *fixture, a, b *isoTenant, c isoCaller) {
				feedbackIsolationCase(t, f, a, b, c, rt)
			}}
		}
	}
	return out
}

// fbTenant is one tenant's feedback state.
type fbTenant struct {
	answered, invited, bare string // meetings: answered, unanswered, no consent
	customerID              string
	link, answeredLink      string
	private                 []string
}

// fbFixture is the feedback relay of one matrix run.
type fbFixture struct {
	f    *fixture
	svc  *feedback.Service
	a, b fbTenant
}

var (
	fbFixturesMu sync.Mutex
	fbFixtures   = map[*fixture]*fbFixture{}
)

// feedbackFixture builds (once per matrix) the feedback relay and both
// tenants' feedback state.
func feedbackFixture(t *testing.T, f *fixture, a, b *isoTenant) *fbFixture {
	t.Helper()
	fbFixturesMu.Lock()
	defer fbFixturesMu.Unlock()
	if fx := fbFixtures[f]; fx != nil {
		return fx
	}
	srv, svc, ms, cust := fbServices(f.t, f.auth, f.clock)
	fx := &fbFixture{f: &fixture{t: f.t, srv: srv, auth: f.auth, clock: f.clock, kv: f.kv}, svc: svc}
	ctx := context.Background()
	for i, w := range []*isoTenant{a, b} {
		tag := []string{"Alpha", "Beta"}[i]
		st := &fx.a
		if i == 1 {
			st = &fx.b
		}
		adv := feedback.Actor{TenantID: w.tenantID, UserID: w.advisorID}
		mail := "frieda." + strings.ToLower(tag) + "@example.test"
		st.answered, st.customerID = fbMeeting(t, ms, cust, w.tenantID, w.advisorID, "Frieda-"+tag, mail, true)
		st.invited, _ = fbMeeting(t, ms, cust, w.tenantID, w.advisorID, "Fritz-"+tag, "fritz."+strings.ToLower(tag)+"@example.test", true)
		st.bare, _ = fbMeeting(t, ms, cust, w.tenantID, w.advisorID, "Bruno-"+tag, "bruno."+strings.ToLower(tag)+"@example.test", true)
		for _, m := range []string{st.answered, st.invited} {
			if _, err := svc.RecordConsent(ctx, adv, m, feedback.ConsentInput{Consent: true}); err != nil {
				t.Fatal(err)
			}
		}
		inv, _, err := svc.Invitation(ctx, feedback.Notice{MeetingID: st.answered})
		if err != nil {
			t.Fatal(err)
		}
		st.answeredLink = inv.Token
		comment := "Kommentar " + tag + " sehr vertraulich"
		if err := svc.Answer(ctx, inv.Token, feedback.Answer{Rating: 2 + i, Text: comment}); err != nil {
			t.Fatal(err)
		}
		inv, _, err = svc.Invitation(ctx, feedback.Notice{MeetingID: st.invited})
		if err != nil {
			t.Fatal(err)
		}
		st.link = inv.Token
		st.private = []string{st.answered, st.invited, st.bare, st.customerID, st.link, st.answeredLink, comment, mail, "Frieda-" + tag}
	}
	// Sanity: tenant A's own callers reach A's feedback and link.
	if r := fx.f.call("GET", "/api/v1/meetings/"+fx.a.answered+"/feedback", "", a.advisor, nil, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), "Alpha") {
		t.Fatalf("sanity: A's advisor gets A's feedback: %d %s", r.status, r.body)
	}
	if r := fx.f.call("GET", "/api/v1/feedback/"+fx.a.link, "", "", nil, nil); r.status != http.StatusOK {
		t.Fatalf("sanity: A's link works: %d %s", r.status, r.body)
	}
	fbFixtures[f] = fx
	return fx
}

// snapshot is tenant A's feedback state as A's admin sees it.
func (fx *fbFixture) snapshot(t *testing.T, a *isoTenant) string {
	t.Helper()
	ctx := context.Background()
	adm := feedback.Actor{TenantID: a.tenantID, UserID: a.adminID, Admin: true}
	var parts []any
	for _, m := range []string{fx.a.answered, fx.a.invited, fx.a.bare} {
		fb, err := fx.svc.ForMeeting(ctx, adm, m)
		parts = append(parts, fb, errString(err))
	}
	st, err := fx.svc.Stats(ctx, adm, "2026-01", "2026-12")
	q, qerr := fx.svc.Questionnaire(ctx, fx.a.link)
	parts = append(parts, st, errString(err), q, errString(qerr))
	b, _ := json.Marshal(parts)
	return string(b)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// feedbackIsolationCase calls route rt as caller c of tenant B.
func feedbackIsolationCase(t *testing.T, f *fixture, a, b *isoTenant, c isoCaller, rt route) {
	fx := feedbackFixture(t, f, a, b)
	sf := &fixture{t: t, srv: fx.f.srv, auth: f.auth, clock: f.clock, kv: f.kv}
	before := fx.snapshot(t, a)
	token := c.token(false)

	type target struct {
		path string
		own  bool // the route acts on the caller's own tenant: B's data only
	}
	var targets []target
	switch {
	case strings.HasPrefix(rt.pattern, "/api/v1/meetings/"):
		for _, m := range []string{fx.a.answered, fx.a.invited, fx.a.bare} {
			targets = append(targets, target{path: strings.Replace(rt.pattern, "{id}", m, 1)})
		}
	case strings.HasPrefix(rt.pattern, "/api/v1/customers/"):
		// A customer id is looked up in the caller's own tenant only.
		targets = append(targets, target{path: strings.Replace(rt.pattern, "{id}", fx.a.customerID, 1), own: true})
	case strings.Contains(rt.pattern, "{token}"):
		sub := func(tok string) string { return strings.Replace(rt.pattern, "{token}", tok, 1) }
		targets = append(targets,
			target{path: sub(fx.a.answered)},                    // A's meeting id as a guessed link
			target{path: sub("pfb_" + strings.Repeat("A", 43))}, // a forged link
			target{path: sub(fx.b.link), own: true},             // B's own link (B's data only)
		)
	default:
		targets = append(targets, target{path: rt.pattern, own: true})
	}
	var ct string
	var body []byte
	switch {
	case rt.method == "POST" && strings.HasSuffix(rt.pattern, "/feedback"):
		ct, body = jsonBody(map[string]any{"consent": true})
	case rt.method == "POST":
		ct, body = jsonBody(map[string]any{"rating": 1, "text": "Beta war hier"})
	}
	for _, tg := range targets {
		if tg.own && rt.method == "POST" {
			continue // B answering B's own link is B's business; it would change B's fixture
		}
		r := sf.call(rt.method, tg.path, ct, token, body, nil)
		all := string(r.body)
		for k, vs := range r.header {
			all += "\n" + k + ": " + strings.Join(vs, ", ")
		}
		for _, p := range append(fx.a.private, a.private...) {
			if p != "" && strings.Contains(all, p) {
				t.Errorf("%s %s as %s: the answer (%d) holds tenant A's data %q: %.300s", rt.method, tg.path, c.name, r.status, p, r.body)
			}
		}
		if r.status >= 500 {
			t.Errorf("%s %s as %s: %d %s", rt.method, tg.path, c.name, r.status, r.body)
		}
		if !tg.own && !refused(r.status, nil) {
			t.Errorf("%s %s as %s: tenant B reached tenant A's feedback: %d %.300s", rt.method, tg.path, c.name, r.status, r.body)
		}
	}
	if after := fx.snapshot(t, a); after != before {
		t.Errorf("%s %s as %s changed tenant A's feedback:\nbefore %s\nafter  %s", rt.method, rt.pattern, c.name, before, after)
	}
	// B's admin gets B's own counters, which hold B's answer only.
	if rt.pattern == "/api/v1/feedback/stats" && c.name == "B admin" {
		r := sf.call("GET", rt.pattern+"?from=2026-11&to=2026-11", "", token, nil, nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"answers":1,"average":3`) {
			t.Errorf("B's admin's own counters: %d %s", r.status, r.body)
		}
	}
}
