package feedback

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/ids"
	"parley/relay/store"
)

// fakeMeetings is a table of meetings; its zero value has none. It
// authorises like relay/meeting: the advisor or an admin of the tenant.
type fakeMeetings struct {
	mu sync.Mutex
	m  map[string]MeetingInfo
}

func (f *fakeMeetings) put(m MeetingInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]MeetingInfo{}
	}
	f.m[m.ID] = m
}

func (f *fakeMeetings) Meeting(_ context.Context, a Actor, id string) (MeetingInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.m[id]
	if !ok {
		return MeetingInfo{}, ErrNotFound
	}
	if !a.may(m.TenantID, m.AdvisorID) {
		return MeetingInfo{}, ErrForbidden
	}
	return m, nil
}

// jobs keeps the outbox jobs enqueued (in the caller's transaction: a
// rolled-back transaction leaves none, as with the real outbox).
type jobs struct{}

func (jobs) EnqueueTx(tx store.Txn, kind string, payload []byte, _ time.Time) error {
	return tx.Set([]byte("testjobs/"+ids.New()), append([]byte(kind+" "), payload...))
}

// queued returns the jobs enqueued so far as "kind payload".
func queued(t testing.TB, kv store.KV) []string {
	t.Helper()
	var out []string
	if err := kv.View(context.Background(), func(tx store.Txn) error {
		return tx.Scan([]byte("testjobs/"), func(_, v []byte) error {
			out = append(out, string(v))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// env is a feedback service with real customer profiles on a memory
// store and a fake clock.
type env struct {
	t        testing.TB
	ctx      context.Context
	clock    *clock.Fake
	kv       *store.Memory
	cust     *customer.Service
	meetings *fakeMeetings
	svc      *Service
	held     map[string]bool // customer ids under a legal hold
	period   time.Duration   // 0: the default
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

const (
	tenantA  = "t_alpha"
	tenantB  = "t_beta"
	advisorA = "u_anna"
	advisorC = "u_carl" // a colleague of advisorA's
	adminA   = "u_admin"
	advisorB = "u_bert"
)

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clock: clock.NewFake(t0), meetings: &fakeMeetings{}, held: map[string]bool{}}
	e.kv = &store.Memory{Clock: e.clock}
	var err error
	e.cust, err = customer.New(customer.Options{Store: e.kv, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.svc, err = New(Options{Store: e.kv, Clock: e.clock, Meetings: e.meetings, Profiles: e.cust, Outbox: jobs{},
		Retention: func(string) time.Duration { return e.period },
		Held:      func(_ context.Context, _, c string) bool { return e.held[c] }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// customer creates a profile in tenant with the e-mail given.
func (e *env) customer(tenant, email string) string {
	e.t.Helper()
	p, err := e.cust.Create(e.ctx, customer.Actor{TenantID: tenant, UserID: "u_x"},
		customer.Contact{FirstName: "Klara", LastName: "Kundin", Email: email})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.ID
}

// meeting registers an ended meeting of advisor with customer.
func (e *env) meeting(tenant, advisor, customerID, lang string) string {
	id := ids.New()
	e.meetings.put(MeetingInfo{ID: id, TenantID: tenant, AdvisorID: advisor, CustomerID: customerID,
		Ended: e.clock.Now().Add(-time.Minute), Lang: lang})
	return id
}

func advisor(tenant, user string) Actor { return Actor{TenantID: tenant, UserID: user} }
func admin(tenant, user string) Actor   { return Actor{TenantID: tenant, UserID: user, Admin: true} }

// invite records consent for the meeting and returns the link's token
// from the invitation, checking that exactly one job more is queued.
func (e *env) invite(meetingID string) string {
	e.t.Helper()
	before := len(queued(e.t, e.kv))
	if _, err := e.svc.RecordConsent(e.ctx, advisor(tenantA, advisorA), meetingID, ConsentInput{Consent: true}); err != nil {
		e.t.Fatal(err)
	}
	js := queued(e.t, e.kv)
	if len(js) != before+1 {
		e.t.Fatalf("jobs after consent: %d, want %d", len(js), before+1)
	}
	want, _ := json.Marshal(Notice{MeetingID: meetingID})
	if js[len(js)-1] != JobInvite+" "+string(want) && !contains(js, JobInvite+" "+string(want)) {
		e.t.Fatalf("job %q, want an invitation for the meeting", js[len(js)-1])
	}
	inv, ok, err := e.svc.Invitation(e.ctx, Notice{MeetingID: meetingID})
	if err != nil || !ok {
		e.t.Fatalf("invitation: %v %v", ok, err)
	}
	return inv.Token
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

type customerActorT = customer.Actor

func contactNoMail() customer.Contact {
	return customer.Contact{FirstName: "Otto", LastName: "Ohnemail", Mobile: "+4917012345678"}
}

// dump returns the store's feedback keys and values.
func dump(t *testing.T, e *env) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := e.kv.View(e.ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(prefix), func(k, v []byte) error {
			if !strings.HasPrefix(string(k), prefixCount) {
				out[string(k)] = string(v)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
