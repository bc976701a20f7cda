package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"parley/relay/auth"
	"parley/relay/kiosk"
	"parley/relay/meeting"
	"parley/relay/signing"
)

// The synchronous signing and kiosk routes in the tenant isolation matrix.
// Each case runs against a relay with a real kiosk.Service (on a store of
// its own) and the matrix's accounts, behind isoKiosks, which passes the
// caller's tenant on as the relay's wiring does and knows one sent
// process of tenant A. Tenant A has a kiosk (token, queued entry with its
// pickup code, a waiting call); tenant B has a kiosk of its own. Every
// route is called by B's admin, advisor, customer, nobody and B's kiosk
// with A's kiosk, call and process ids and A's pickup code; the answer
// must be a refusal (or an answer about B only) carrying none of A's
// kiosk data, and A's kiosks, queue and calls must be unchanged.

// kioskCases has one case per route of this feature (they replace the
// signing matrix's cases for present and kiosk).
func kioskCases() map[string]isoCase {
	out := map[string]isoCase{}
	for _, rt := range routes {
		p := rt.pattern
		if strings.HasPrefix(p, "/api/v1/kiosk") || strings.HasSuffix(p, "/present") || strings.HasSuffix(p, "/{id}/kiosk") {
			out[rt.method+" "+p] = isoCase{run: func(t *testing.T, f *fixture, a, b *isoTenant, c isoCaller) {
				kioskIsolationCase(t, f, a, b, c, rt)
			}}
		}
	}
	return out
}

// isoKiosks is api.Kiosks over a real kiosk.Service; A's process stands
// for the signing service (another tenant's process is not found).
type isoKiosks struct {
	svc       *kiosk.Service
	processes map[string]string // id → tenant
}

func (k *isoKiosks) process(tenantID, id string) error {
	if k.processes[id] != tenantID {
		return signing.ErrNotFound
	}
	return nil
}

func (k *isoKiosks) Present(_ context.Context, s auth.Session, processID, _, _ string) (Presented, error) {
	if err := k.process(s.TenantID, processID); err != nil {
		return Presented{}, err
	}
	return Presented{}, ErrMeetingNotLive
}

func (k *isoKiosks) QueueAtKiosk(ctx context.Context, s auth.Session, processID, kioskID string) (kiosk.Entry, string, error) {
	if err := k.process(s.TenantID, processID); err != nil {
		return kiosk.Entry{}, "", err
	}
	return k.svc.Queue(ctx, s.TenantID, kioskID, processID, "customer1", s.UserID)
}

func (k *isoKiosks) CreateKiosk(ctx context.Context, tenantID, name, pin string) (kiosk.Device, string, error) {
	return k.svc.Create(ctx, tenantID, name, pin)
}
func (k *isoKiosks) ListKiosks(ctx context.Context, tenantID string) ([]kiosk.Device, error) {
	return k.svc.List(ctx, tenantID)
}
func (k *isoKiosks) DeleteKiosk(ctx context.Context, tenantID, id string) error {
	return k.svc.Delete(ctx, tenantID, id)
}
func (k *isoKiosks) Authenticate(ctx context.Context, token string) (kiosk.Device, error) {
	return k.svc.Authenticate(ctx, token)
}
func (k *isoKiosks) Me(_ context.Context, d kiosk.Device) (KioskInfo, error) {
	return KioskInfo{ID: d.ID, Name: d.Name}, nil
}
func (k *isoKiosks) Queue(ctx context.Context, d kiosk.Device) ([]KioskQueueEntry, error) {
	es, err := k.svc.Entries(ctx, d.TenantID, d.ID)
	out := []KioskQueueEntry{}
	for _, e := range es {
		out = append(out, KioskQueueEntry{EntryID: e.ID, QueuedAt: e.Queued})
	}
	return out, err
}
func (k *isoKiosks) Open(ctx context.Context, d kiosk.Device, code string) (kiosk.Entry, signing.SyncSession, error) {
	e, err := k.svc.Open(ctx, d.TenantID, d.ID, code)
	return e, signing.SyncSession{ProcessID: e.ProcessID}, err
}
func (k *isoKiosks) Unlock(ctx context.Context, d kiosk.Device, pin string) error {
	return k.svc.Unlock(ctx, d.TenantID, d.ID, pin)
}
func (k *isoKiosks) CreateCall(ctx context.Context, d kiosk.Device) (kiosk.Call, error) {
	return k.svc.CreateCall(ctx, d.TenantID, d.ID)
}
func (k *isoKiosks) Call(ctx context.Context, d kiosk.Device, id string) (kiosk.Call, error) {
	return k.svc.CallOf(ctx, d.TenantID, d.ID, id)
}
func (k *isoKiosks) CancelCall(ctx context.Context, d kiosk.Device, id string) (kiosk.Call, error) {
	return k.svc.CancelCall(ctx, d.TenantID, d.ID, id)
}
func (k *isoKiosks) WaitingCalls(ctx context.Context, tenantID string) ([]KioskCall, error) {
	cs, err := k.svc.WaitingCalls(ctx, tenantID)
	out := []KioskCall{}
	for _, c := range cs {
		out = append(out, KioskCall{ID: c.ID, KioskID: c.KioskID, CreatedAt: c.Created})
	}
	return out, err
}
func (k *isoKiosks) AcceptCall(ctx context.Context, s auth.Session, id string) (meeting.Meeting, error) {
	if _, err := k.svc.Claim(ctx, s.TenantID, id, s.UserID); err != nil {
		return meeting.Meeting{}, err
	}
	return meeting.Meeting{}, fmt.Errorf("isolation relay makes no meetings: %w", kiosk.ErrTaken)
}

// kioskTenant is one tenant's kiosk state.
type kioskTenant struct {
	kioskID, token, code, callID, process string
}

type kioskFixture struct {
	f       *fixture
	k       *isoKiosks
	a, b    kioskTenant
	private []string
}

var (
	kioskFixturesMu sync.Mutex
	kioskFixtures   = map[*fixture]*kioskFixture{}
)

func kioskIsoFixture(t *testing.T, f *fixture, a, b *isoTenant) *kioskFixture {
	t.Helper()
	kioskFixturesMu.Lock()
	defer kioskFixturesMu.Unlock()
	if fx := kioskFixtures[f]; fx != nil {
		return fx
	}
	svc, err := kiosk.New(kiosk.Options{Store: f.kv, Clock: f.clock, PIN: kiosk.TestPINParams})
	if err != nil {
		t.Fatal(err)
	}
	k := &isoKiosks{svc: svc, processes: map[string]string{}}
	h := New(Options{Auth: f.auth, Audit: noAudit{}, Meetings: newMeetings(t, f.kv, f.clock), Kiosks: k, Clock: f.clock})
	srv := httptest.NewTLSServer(h)
	f.t.Cleanup(srv.Close)
	fx := &kioskFixture{f: &fixture{t: f.t, srv: srv, auth: f.auth, clock: f.clock, kv: f.kv}, k: k}
	ctx := context.Background()
	for i, w := range []*isoTenant{a, b} {
		st := &fx.a
		if i == 1 {
			st = &fx.b
		}
		d, token, err := svc.Create(ctx, w.tenantID, "Kiosk "+w.slug, "13572468")
		if err != nil {
			t.Fatal(err)
		}
		st.kioskID, st.token = d.ID, token
		st.process = fmt.Sprintf("%032x", i+7)
		k.processes[st.process] = w.tenantID
		if _, st.code, err = svc.Queue(ctx, w.tenantID, d.ID, st.process, "customer1", w.advisorID); err != nil {
			t.Fatal(err)
		}
		c, err := svc.CreateCall(ctx, w.tenantID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		st.callID = c.ID
	}
	fx.private = []string{fx.a.kioskID, fx.a.token, fx.a.callID, "Kiosk " + a.slug}
	// Sanity: A's own callers reach A's kiosk data.
	if r := fx.f.call("GET", "/api/v1/kiosk/calls/"+fx.a.callID, "", fx.a.token, nil, nil); r.status != http.StatusOK {
		t.Fatalf("sanity: A's kiosk reads its call: %d %s", r.status, r.body)
	}
	if r := fx.f.call("GET", "/api/v1/kiosks", "", a.advisor, nil, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), fx.a.kioskID) {
		t.Fatalf("sanity: A's advisor lists A's kiosks: %d %s", r.status, r.body)
	}
	kioskFixtures[f] = fx
	return fx
}

// snapshot is tenant A's kiosk state.
func (fx *kioskFixture) snapshot(t *testing.T, a *isoTenant) string {
	t.Helper()
	ctx := context.Background()
	ds, err1 := fx.k.svc.List(ctx, a.tenantID)
	es, err2 := fx.k.svc.Entries(ctx, a.tenantID, fx.a.kioskID)
	cs, err3 := fx.k.svc.WaitingCalls(ctx, a.tenantID)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	return fmt.Sprintf("%+v %+v %+v", ds, es, cs)
}

func kioskIsolationCase(t *testing.T, f *fixture, a, b *isoTenant, c isoCaller, rt route) {
	fx := kioskIsoFixture(t, f, a, b)
	before := fx.snapshot(t, a)
	path := strings.NewReplacer("{id}", "").Replace(rt.pattern)
	var ids []string
	switch {
	case strings.HasPrefix(rt.pattern, "/api/v1/signing/"):
		ids = []string{fx.a.process}
	case strings.HasPrefix(rt.pattern, "/api/v1/kiosks/"):
		ids = []string{fx.a.kioskID}
	case strings.Contains(rt.pattern, "calls/{id}"):
		ids = []string{fx.a.callID}
	default:
		ids = []string{""}
	}
	bodies := []any{map[string]string{"kiosk_id": fx.a.kioskID, "meeting_id": a.meetingID, "participant_id": a.admittedPID,
		"code": fx.a.code, "pin": "13572468", "name": "x"}}
	if rt.pattern == "/api/v1/kiosks" && rt.method == "POST" {
		bodies = []any{map[string]string{"name": "B's kiosk", "pin": "13572468"}}
	}
	// B's callers and B's own kiosk token.
	tokens := []string{c.token(false), fx.b.token}
	for _, id := range ids {
		p := path
		if id != "" {
			p = strings.Replace(rt.pattern, "{id}", id, 1)
		}
		for _, tok := range tokens {
			for _, body := range bodies {
				r := fx.f.callJSON(rt.method, p, tok, body, nil)
				for _, s := range fx.private {
					if strings.Contains(string(r.body), s) {
						t.Errorf("%s %s by %s: answer holds A's data %q: %d %s", rt.method, p, c.name, s, r.status, r.body)
					}
				}
				if r.status < 300 && id != "" {
					t.Errorf("%s %s by %s: %d %s, want a refusal", rt.method, p, c.name, r.status, r.body)
				}
			}
		}
	}
	if after := fx.snapshot(t, a); after != before {
		t.Errorf("%s %s by %s changed A's kiosk state:\n%s\n%s", rt.method, rt.pattern, c.name, before, after)
	}
}
