package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/audit"
	"parley/relay/customer"
	"parley/relay/signing"
	"parley/relay/signing/pdf"
	"parley/relay/store"
	"parley/signpad/envelope"
)

// The e-signature routes in the tenant isolation matrix. Their service is
// not part of the matrix's shared relay: each case runs against a relay
// with the signing service (on a store of its own) and the matrix's
// accounts (so tenant B's sessions are real), where tenant A has a sent process with a customer
// signer, a verified signer session, a trustee key and a seal CA. Every
// route is called by B's admin, advisor, customer and nobody, with A's
// process id, A's id as a guessed link token, a forged link token, and A's
// real link with B's credentials; the answer must be a refusal carrying
// none of A's signing data, and A's process, trustee key and seal CA must
// be unchanged.

// signingCases has one case per e-signature route.
func signingCases() map[string]isoCase {
	out := map[string]isoCase{}
	for _, rt := range routes {
		if strings.HasPrefix(rt.pattern, "/api/v1/signing/") || strings.HasPrefix(rt.pattern, "/api/v1/sign/") {
			out[rt.method+" "+rt.pattern] = isoCase{run: func(t *testing.T, f *fixture, a, b *isoTenant, c isoCaller) {
				signingIsolationCase(t, f, a, b, c, rt)
			}}
		}
	}
	return out
}

// noAudit discards audit records (the matrix's audit log belongs to its
// own relay).
type noAudit struct{}

func (noAudit) Append(context.Context, audit.Record) (audit.Entry, error) { return audit.Entry{}, nil }
func (noAudit) List(context.Context, string, uint64, int) ([]audit.Entry, error) {
	return nil, nil
}

// jobSink keeps the signing service's outbox jobs.
type jobSink struct {
	mu   sync.Mutex
	jobs []signing.Notice
}

func (j *jobSink) EnqueueTx(_ store.Txn, _ string, payload []byte, _ time.Time) error {
	var n signing.Notice
	if err := json.Unmarshal(payload, &n); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.jobs = append(j.jobs, n)
	return nil
}

func (j *jobSink) last(event string) signing.Notice {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := len(j.jobs) - 1; i >= 0; i-- {
		if j.jobs[i].Event == event {
			return j.jobs[i]
		}
	}
	return signing.Notice{}
}

// sigTenant is one tenant's signing state.
type sigTenant struct {
	processID, link, session string
	customerID, sealCA       string
	private                  []string
}

// sigFixture is the signing relay of one matrix run.
type sigFixture struct {
	srv  *httptest.Server
	svc  *signing.Service
	a, b sigTenant
}

var (
	sigFixturesMu sync.Mutex
	sigFixtures   = map[*fixture]*sigFixture{}
)

// sigPDF is a one-page PDF with a classic cross-reference table; tag
// makes its bytes (and hash) unique.
func sigPDF(tag string) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.4\n% " + tag + "\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] >>")
	obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>")
	obj("<< /Length 0 >>\nstream\n\nendstream")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// signingFixture builds (once per matrix) the signing relay and both
// tenants' signing state.
func signingFixture(t *testing.T, f *fixture, a, b *isoTenant) *sigFixture {
	t.Helper()
	sigFixturesMu.Lock()
	defer sigFixturesMu.Unlock()
	if fx := sigFixtures[f]; fx != nil {
		return fx
	}
	// A store of its own: the matrix's snapshot of tenant A (customers
	// included) must not see the signing fixture's customers.
	kv := &store.Memory{Clock: f.clock}
	cust, err := customer.New(customer.Options{Store: kv, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	sink := &jobSink{}
	kek := make([]byte, 32)
	rand.Read(kek)
	svc, err := signing.New(signing.Options{Store: kv, Clock: f.clock, Profiles: cust, Outbox: sink, SealKEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Auth: f.auth, Audit: noAudit{}, Clock: f.clock, Signing: svc}))
	f.t.Cleanup(srv.Close)
	fx := &sigFixture{srv: srv, svc: svc}
	ctx := context.Background()
	for i, w := range []*isoTenant{a, b} {
		tag := []string{"Alpha", "Beta"}[i]
		st := &fx.a
		if i == 1 {
			st = &fx.b
		}
		adv := signing.Actor{TenantID: w.tenantID, UserID: w.advisorID}
		admin := signing.Actor{TenantID: w.tenantID, UserID: w.adminID, Admin: true}
		key, _ := envelope.GenerateKey(rand.Reader)
		pub, _ := envelope.MarshalPublicKeyPEM(key.PublicKey())
		if _, err := svc.SetTrusteeKey(ctx, admin, pub); err != nil {
			t.Fatal(err)
		}
		name, mail, mobile := "Sina Signiert-"+tag, "sina."+strings.ToLower(tag)+"@example.test", fmt.Sprintf("+491700000%03d", 100+i)
		p, err := cust.Create(ctx, customer.Actor{TenantID: w.tenantID, UserID: w.advisorID},
			customer.Contact{FirstName: name, LastName: "Test", Email: mail, Mobile: mobile})
		if err != nil {
			t.Fatal(err)
		}
		title := "Darlehensvertrag " + tag + " 0815"
		proc, err := svc.Create(ctx, adv, title, "de", bytes.NewReader(sigPDF(tag)))
		if err != nil {
			t.Fatal(err)
		}
		fields := []pdf.Field{{ID: "sig-" + tag, Page: 1, Rect: pdf.Rect{LLX: 300, LLY: 100, URX: 540, URY: 180}, Kind: pdf.KindSignature, Signer: "customer1"}}
		if _, err := svc.SetFields(ctx, adv, proc.ID, []signing.SignerInput{{Role: "customer1", CustomerID: p.ID}}, fields); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Send(ctx, adv, proc.ID); err != nil {
			t.Fatal(err)
		}
		m, ok, err := svc.Message(ctx, sink.last(signing.EventInvite))
		if err != nil || !ok {
			t.Fatalf("invite of tenant %s: %v %v", tag, ok, err)
		}
		if _, err := svc.SendCode(ctx, m.LinkToken); err != nil {
			t.Fatal(err)
		}
		cm, ok, err := svc.Message(ctx, sink.last(signing.EventCode))
		if err != nil || !ok {
			t.Fatalf("code of tenant %s: %v %v", tag, ok, err)
		}
		sess, _, err := svc.VerifyCode(ctx, m.LinkToken, cm.Code)
		if err != nil {
			t.Fatal(err)
		}
		ca, err := svc.SealCA(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		*st = sigTenant{processID: proc.ID, link: m.LinkToken, session: sess, customerID: p.ID, sealCA: string(ca),
			private: []string{proc.ID, title, m.LinkToken, sess, p.ID, name, mail, mobile, "sig-" + tag, string(ca), proc.Versions[0].SHA256}}
	}
	// Sanity: tenant A's own callers reach A's process and link.
	sf := &fixture{t: t, srv: srv, auth: f.auth, clock: f.clock, kv: f.kv}
	if r := sf.call("GET", "/api/v1/signing/processes/"+fx.a.processID, "", a.advisor, nil, nil); r.status != http.StatusOK {
		t.Fatalf("sanity: A's advisor gets A's process: %d %s", r.status, r.body)
	}
	if r := sf.call("GET", "/api/v1/sign/"+fx.a.link+"/document", "", fx.a.session, nil, nil); r.status != http.StatusOK {
		t.Fatalf("sanity: A's signer gets the document: %d %.200s", r.status, r.body)
	}
	sigFixtures[f] = fx
	return fx
}

// snapshot is tenant A's signing state as A sees it.
func (fx *sigFixture) snapshot(t *testing.T, a *isoTenant) string {
	t.Helper()
	ctx := context.Background()
	p, err := fx.svc.Get(ctx, signing.Actor{TenantID: a.tenantID, UserID: a.advisorID}, fx.a.processID)
	if err != nil {
		t.Fatalf("A's process: %v", err)
	}
	k, err := fx.svc.TrusteeKey(ctx, signing.Actor{TenantID: a.tenantID, UserID: a.adminID, Admin: true})
	if err != nil {
		t.Fatalf("A's trustee key: %v", err)
	}
	ca, err := fx.svc.SealCA(ctx, signing.Actor{TenantID: a.tenantID, UserID: a.adminID, Admin: true})
	if err != nil {
		t.Fatalf("A's seal CA: %v", err)
	}
	v, err := fx.svc.ByLink(ctx, fx.a.link, "")
	if err != nil {
		t.Fatalf("A's link: %v", err)
	}
	b, _ := json.Marshal([]any{p, k, string(ca), v})
	return string(b)
}

// signingIsolationCase calls route rt as caller c of tenant B.
func signingIsolationCase(t *testing.T, f *fixture, a, b *isoTenant, c isoCaller, rt route) {
	fx := signingFixture(t, f, a, b)
	sf := &fixture{t: t, srv: fx.srv, auth: f.auth, clock: f.clock, kv: f.kv}
	before := fx.snapshot(t, a)
	token := c.token(false)

	type target struct {
		path, token string
		own         bool // the route acts on the caller's own tenant
	}
	var targets []target
	switch {
	case strings.Contains(rt.pattern, "{id}"):
		targets = append(targets, target{path: strings.Replace(rt.pattern, "{id}", fx.a.processID, 1), token: token})
	case strings.Contains(rt.pattern, "{token}"):
		sub := func(tok string) string { return strings.Replace(rt.pattern, "{token}", tok, 1) }
		targets = append(targets,
			target{path: sub(fx.a.processID), token: token},                   // A's process id as a guessed link
			target{path: sub("psg_" + strings.Repeat("A", 43)), token: token}, // a forged link
			target{path: sub(fx.b.link), token: token, own: true},             // B's own link (B's data only)
		)
		// The link itself is the signer's capability (like a manage
		// link): whoever holds it sees the signer's page and may ask for
		// and try codes. Credentials of tenant B must not stand in for
		// the verified code on A's link.
		if strings.HasSuffix(rt.pattern, "/document") || strings.HasSuffix(rt.pattern, "/submit") {
			targets = append(targets,
				target{path: sub(fx.a.link), token: token},        // A's real link, B's credentials
				target{path: sub(fx.a.link), token: fx.b.session}, // A's real link, B's signer session
			)
		}
	default:
		targets = append(targets, target{path: rt.pattern, token: token, own: true})
	}
	var ct string
	var body []byte
	switch {
	case strings.HasSuffix(rt.pattern, "/fields"):
		ct, body = jsonBody(map[string]any{"signers": []map[string]string{{"role": "advisor"}},
			"fields": []map[string]any{{"id": "x", "page": 1, "rect": map[string]float64{"LLX": 1, "LLY": 1, "URX": 50, "URY": 50}, "kind": "signature", "signer": "advisor"}}})
	case strings.HasSuffix(rt.pattern, "/sign"), strings.HasSuffix(rt.pattern, "/submit"):
		ct, body = jsonBody(map[string]any{"pointer": map[string]any{"v": 1, "pointerType": "mouse", "pointerId": 1,
			"field": map[string]int{"width": 100, "height": 50}, "events": []map[string]any{{"type": "down", "t": 1, "x": 5, "y": 5}, {"type": "up", "t": 9, "x": 20, "y": 9}}}})
	case strings.HasSuffix(rt.pattern, "/verify"):
		ct, body = jsonBody(map[string]string{"code": "123456"})
	case rt.pattern == "/api/v1/signing/trustee-key" && rt.method == "PUT":
		key, _ := envelope.GenerateKey(rand.Reader)
		pub, _ := envelope.MarshalPublicKeyPEM(key.PublicKey())
		ct, body = "application/x-pem-file", pub
	case rt.pattern == "/api/v1/signing/processes" && rt.method == "POST":
		ct, body = "application/pdf", sigPDF("Beta-Upload")
		targets[0].path += "?title=Beta-Vertrag"
	}
	for _, tg := range targets {
		r := sf.call(rt.method, tg.path, ct, tg.token, body, nil)
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
		if !tg.own && !refused(r.status, []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnsupportedMediaType}) {
			t.Errorf("%s %s as %s: tenant B reached tenant A's signing data: %d %.300s", rt.method, tg.path, c.name, r.status, r.body)
		}
	}
	if after := fx.snapshot(t, a); after != before {
		t.Errorf("%s %s as %s changed tenant A's signing state:\nbefore %s\nafter  %s", rt.method, rt.pattern, c.name, before, after)
	}
	if rt.pattern == "/api/v1/signing/seal-ca" && c.name == "B admin" {
		r := sf.call("GET", rt.pattern, "", token, nil, nil)
		if r.status != http.StatusOK || string(r.body) != fx.b.sealCA {
			t.Errorf("B's admin does not get B's own seal CA: %d", r.status)
		}
	}
}
