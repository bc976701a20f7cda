package signing_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/retention"
	"parley/relay/signing"
	"parley/relay/signing/pdf"
	"parley/relay/store"
	"parley/signpad/envelope"
)

// classicPDF writes an n-page PDF with a classic xref table by hand.
func classicPDF(n int) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	var kids []string
	for i := 0; i < n; i++ {
		kids = append(kids, fmt.Sprintf("%d 0 R", 4+2*i))
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> >>", strings.Join(kids, " "), n))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	for i := 0; i < n; i++ {
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /Contents %d 0 R >>", 5+2*i))
		content := fmt.Sprintf("BT /F1 24 Tf 72 760 Td (Page %d of the contract) Tj ET", i+1)
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>] >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// xrefStreamPDF rewrites classicPDF(n) with pdfcpu (object streams and a
// cross-reference stream).
func xrefStreamPDF(t testing.TB, n int) []byte {
	t.Helper()
	api.DisableConfigDir()
	conf := model.NewDefaultConfiguration()
	conf.WriteXRefStream = true
	conf.WriteObjectStream = true
	ctx, err := api.ReadContext(bytes.NewReader(classicPDF(n)), conf)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := api.WriteContext(ctx, &out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// encryptedPDF encrypts classicPDF(1) with pdfcpu (AES-256).
func encryptedPDF(t testing.TB) []byte {
	t.Helper()
	api.DisableConfigDir()
	conf := model.NewAESConfiguration("", "owner-secret", 256)
	var out bytes.Buffer
	if err := api.Encrypt(bytes.NewReader(classicPDF(1)), &out, conf); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// pointerJSON is a synthetic pen signature in the browser's Pointer Events
// JSON: a loop with pressure and tilt, coalesced events, 200 Hz.
func pointerJSON(t testing.TB, variant float64) []byte {
	t.Helper()
	type pt struct {
		T        float64 `json:"t"`
		X        float64 `json:"x"`
		Y        float64 `json:"y"`
		Pressure float64 `json:"pressure"`
		TiltX    float64 `json:"tiltX"`
		TiltY    float64 `json:"tiltY"`
	}
	type ev struct {
		Type string `json:"type"`
		pt
		Coalesced []pt `json:"coalesced,omitempty"`
	}
	at := func(i int) pt {
		f := float64(i) / 200
		return pt{T: 1000 + float64(i)*5, X: 40 + 500*f, Y: 100 + 60*math.Sin(f*12+variant),
			Pressure: 0.3 + 0.4*math.Abs(math.Sin(f*7)), TiltX: 20, TiltY: -10}
	}
	evs := []ev{{Type: "down", pt: at(0)}}
	for i := 2; i <= 200; i += 2 {
		evs = append(evs, ev{Type: "move", pt: at(i), Coalesced: []pt{at(i - 1), at(i)}})
	}
	up := at(201)
	up.Pressure = 0
	evs = append(evs, ev{Type: "up", pt: up})
	b, err := json.Marshal(map[string]any{"v": 1, "pointerType": "pen", "pointerId": 1,
		"field": map[string]float64{"width": 600, "height": 200}, "events": evs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jobs records the outbox jobs the service enqueues.
type jobs struct {
	mu   sync.Mutex
	list []job
}

type job struct {
	kind   string
	notice signing.Notice
}

func (j *jobs) EnqueueTx(_ store.Txn, kind string, payload []byte, _ time.Time) error {
	var n signing.Notice
	if err := json.Unmarshal(payload, &n); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.list = append(j.list, job{kind, n})
	return nil
}

// take returns and forgets the jobs so far.
func (j *jobs) take() []job {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.list
	j.list = nil
	return out
}

// holds is a fake legal-hold register.
type holds struct {
	mu sync.Mutex
	on map[string]bool
}

func (h *holds) Held(_ context.Context, tenantID string, kind retention.SubjectKind, id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.on[tenantID+"/"+string(kind)+"/"+id]
}

func (h *holds) set(tenantID string, kind retention.SubjectKind, id string, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.on == nil {
		h.on = map[string]bool{}
	}
	h.on[tenantID+"/"+string(kind)+"/"+id] = on
}

const (
	tenant  = "0123456789abcdef0123456789abcdef"
	advisor = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

type env struct {
	t       testing.TB
	clk     *clock.Fake
	kv      *store.Memory
	svc     *signing.Service
	cust    *customer.Service
	jobs    *jobs
	holds   *holds
	trustee *ecdh.PrivateKey
	adv     signing.Actor
	admin   signing.Actor
}

func newEnv(t testing.TB) *env {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	kv := &store.Memory{Clock: clk}
	cust, err := customer.New(customer.Options{Store: kv, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clk: clk, kv: kv, cust: cust, jobs: &jobs{}, holds: &holds{},
		adv: signing.Actor{TenantID: tenant, UserID: advisor}, admin: signing.Actor{TenantID: tenant, UserID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Admin: true}}
	kek := make([]byte, 32)
	rand.Read(kek)
	e.svc, err = signing.New(signing.Options{Store: kv, Clock: clk, Profiles: cust, Outbox: e.jobs, Holds: e.holds, SealKEK: kek,
		TenantName: func(context.Context, string) string { return "Test Bank AG" }})
	if err != nil {
		t.Fatal(err)
	}
	e.trustee, err = envelope.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := envelope.MarshalPublicKeyPEM(e.trustee.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetTrusteeKey(context.Background(), e.admin, pubPEM); err != nil {
		t.Fatal(err)
	}
	return e
}

// customer creates a profile with e-mail and mobile.
func (e *env) customer(first string, n int) string {
	e.t.Helper()
	p, err := e.cust.Create(context.Background(), customer.Actor{TenantID: tenant, UserID: advisor},
		customer.Contact{FirstName: first, LastName: "Muster", Email: strings.ToLower(first) + "@example.test", Mobile: fmt.Sprintf("+4917000000%02d", n)})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.ID
}

// roots is the tenant's seal CA as a pool.
func (e *env) roots() *x509.CertPool {
	e.t.Helper()
	caPEM, err := e.svc.SealCA(context.Background(), e.admin)
	if err != nil {
		e.t.Fatal(err)
	}
	blk, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		e.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

// layout is a signature and a text field per role on page 1 (and a second
// signature field on the last page for customer1).
func layout(roles []string, pages int) []pdf.Field {
	var fs []pdf.Field
	for i, r := range roles {
		y := 100 + float64(i)*120
		fs = append(fs,
			pdf.Field{ID: "sig-" + r, Page: 1, Rect: pdf.Rect{LLX: 300, LLY: y, URX: 540, URY: y + 80}, Kind: pdf.KindSignature, Signer: r},
			pdf.Field{ID: "place-" + r, Page: 1, Rect: pdf.Rect{LLX: 60, LLY: y, URX: 280, URY: y + 20}, Kind: pdf.KindText, Signer: r})
	}
	if pages > 1 {
		fs = append(fs, pdf.Field{ID: "sig2-" + roles[0], Page: pages, Rect: pdf.Rect{LLX: 300, LLY: 100, URX: 540, URY: 180}, Kind: pdf.KindSignature, Signer: roles[0]})
	}
	return fs
}

// draft creates a process with the given customers (then the advisor
// when withAdvisor) and sends it.
func (e *env) sent(doc []byte, custIDs []string, withAdvisor bool) signing.Process {
	e.t.Helper()
	ctx := context.Background()
	p, err := e.svc.Create(ctx, e.adv, "Kreditvertrag 4711", "de", bytes.NewReader(doc))
	if err != nil {
		e.t.Fatal(err)
	}
	var ss []signing.SignerInput
	var roles []string
	for i, c := range custIDs {
		r := fmt.Sprintf("customer%d", i+1)
		ss = append(ss, signing.SignerInput{Role: r, CustomerID: c})
		roles = append(roles, r)
	}
	if withAdvisor {
		ss = append(ss, signing.SignerInput{Role: signing.RoleAdvisor})
		roles = append(roles, signing.RoleAdvisor)
	}
	if _, err := e.svc.SetFields(ctx, e.adv, p.ID, ss, layout(roles, len(p.Pages))); err != nil {
		e.t.Fatal(err)
	}
	p, err = e.svc.Send(ctx, e.adv, p.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// link returns the link token of role from the invite mail job's
// message.
func (e *env) link(n signing.Notice) string {
	e.t.Helper()
	m, ok, err := e.svc.Message(context.Background(), n)
	if err != nil || !ok || m.LinkToken == "" {
		e.t.Fatalf("message for %+v: ok %v, %v", n, ok, err)
	}
	return m.LinkToken
}

// code requests a code for the link and reads it from the SMS job.
func (e *env) code(token string) string {
	e.t.Helper()
	if _, err := e.svc.SendCode(context.Background(), token); err != nil {
		e.t.Fatal(err)
	}
	for _, j := range e.jobs.take() {
		if j.kind == signing.JobCodeSMS {
			m, ok, err := e.svc.Message(context.Background(), j.notice)
			if err != nil || !ok {
				e.t.Fatalf("code message: %v %v", ok, err)
			}
			return m.Code
		}
	}
	e.t.Fatal("no code SMS enqueued")
	return ""
}

// session verifies a fresh code for the link.
func (e *env) session(token string) string {
	e.t.Helper()
	sess, _, err := e.svc.VerifyCode(context.Background(), token, e.code(token))
	if err != nil {
		e.t.Fatal(err)
	}
	return sess
}
