package signing_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"parley/relay/customer"
	"parley/relay/retention"
	"parley/relay/signing"
	"parley/relay/signing/pdf"
	"parley/relay/store"
)

// keysOf counts the store's signing keys with prefix.
func (e *env) keysOf(prefix string) int {
	e.t.Helper()
	n := 0
	if err := e.kv.View(context.Background(), func(tx store.Txn) error {
		return tx.Scan([]byte(prefix), func(_, _ []byte) error { n++; return nil })
	}); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// complete runs a one-customer process to completion.
func (e *env) complete(custID string) signing.Process {
	e.t.Helper()
	p := e.sent(classicPDF(1), []string{custID}, false)
	link := e.link(kinds(e.jobs.take())[signing.JobSignerMail][0])
	if _, err := e.svc.Submit(context.Background(), link, e.session(link), signing.Submission{Pointer: pointerJSON(e.t, 0)}); err != nil {
		e.t.Fatal(err)
	}
	p, err := e.svc.Get(context.Background(), e.adv, p.ID)
	if err != nil || p.Status != signing.StatusCompleted {
		e.t.Fatalf("complete: %+v %v", p, err)
	}
	return p
}

// TestRetentionDeadlines: an unfinished process is hidden and swept 30
// days after its start, a signed document 180 days after completion (each
// ±1 s); a hold keeps either; sweeping leaves no key behind.
func TestRetentionDeadlines(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	start := e.clk.Now()
	unfinished := e.sent(classicPDF(1), []string{e.customer("Anna", 1)}, false)
	link := e.link(kinds(e.jobs.take())[signing.JobSignerMail][0])
	draft, err := e.svc.Create(ctx, e.adv, "Entwurf", "", bytes.NewReader(classicPDF(3)))
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	done := e.complete(e.customer("Bernd", 2))
	if !done.Expires.Equal(done.Completed.Add(signing.DefaultDocumentRetention)) || !unfinished.Expires.Equal(start.Add(signing.DefaultProcessRetention)) {
		t.Fatalf("deadlines: unfinished %v, done %v", unfinished.Expires, done.Expires)
	}

	e.clk.Set(start.Add(signing.DefaultProcessRetention - time.Second))
	if _, err := e.svc.Get(ctx, e.adv, unfinished.ID); err != nil {
		t.Fatalf("1 s before the deadline: %v", err)
	}
	if st, err := e.svc.SweepExpired(ctx, retention.ClassSignatureProcess, e.clk.Now()); err != nil || st.Due != 0 {
		t.Fatalf("sweep 1 s early: %+v %v", st, err)
	}
	e.clk.Set(start.Add(signing.DefaultProcessRetention))
	if _, err := e.svc.Get(ctx, e.adv, unfinished.ID); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("at the deadline: %v", err)
	}
	if _, err := e.svc.ByLink(ctx, link, ""); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("link at the deadline: %v", err)
	}
	if ps, _ := e.svc.List(ctx, e.adv); len(ps) != 1 || ps[0].ID != done.ID {
		t.Fatalf("list at the deadline: %d processes", len(ps))
	}
	// A hold on the draft keeps it (and shows it again); the other goes.
	e.holds.set(tenant, retention.SubjectDocument, draft.ID, true)
	if _, err := e.svc.Get(ctx, e.adv, draft.ID); err != nil {
		t.Fatalf("held draft: %v", err)
	}
	st, err := e.svc.SweepExpired(ctx, retention.ClassSignatureProcess, e.clk.Now())
	if err != nil || st.Due != 1 || st.Deleted != 1 {
		t.Fatalf("sweep: %+v %v", st, err)
	}
	if n := e.keysOf("signing/d/" + unfinished.ID); n != 0 {
		t.Fatalf("%d document chunks left", n)
	}
	if n := e.keysOf("signing/a/" + unfinished.ID); n != 0 {
		t.Fatalf("%d access records left", n)
	}
	if _, err := e.svc.ByLink(ctx, link, ""); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("link after the sweep: %v", err)
	}
	e.holds.set(tenant, retention.SubjectDocument, draft.ID, false)
	if st, err := e.svc.SweepExpired(ctx, retention.ClassSignatureProcess, e.clk.Now()); err != nil || st.Deleted != 1 {
		t.Fatalf("sweep after release: %+v %v", st, err)
	}

	// The signed document: 180 days after completion.
	e.clk.Set(done.Completed.Add(signing.DefaultDocumentRetention - time.Second))
	if _, err := e.svc.CurrentDocument(ctx, e.adv, done.ID); err != nil {
		t.Fatalf("document 1 s before its deadline: %v", err)
	}
	if st, _ := e.svc.SweepExpired(ctx, retention.ClassSignedDocument, e.clk.Now()); st.Due != 0 {
		t.Fatalf("document swept 1 s early: %+v", st)
	}
	e.clk.Advance(time.Second)
	if _, err := e.svc.CurrentDocument(ctx, e.adv, done.ID); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("document at its deadline: %v", err)
	}
	// A hold on a customer keeps the customer's documents.
	e.holds.set(tenant, retention.SubjectCustomer, done.Signers[0].CustomerID, true)
	if st, _ := e.svc.SweepExpired(ctx, retention.ClassSignedDocument, e.clk.Now()); st.Due != 0 || st.Deleted != 0 {
		t.Fatalf("held customer's document swept: %+v", st)
	}
	e.holds.set(tenant, retention.SubjectCustomer, done.Signers[0].CustomerID, false)
	if st, err := e.svc.SweepExpired(ctx, retention.ClassSignedDocument, e.clk.Now()); err != nil || st.Deleted != 1 {
		t.Fatalf("document sweep: %+v %v", st, err)
	}
	for _, p := range []string{"signing/p/", "signing/t/", "signing/c/", "signing/a/", "signing/k/", "signing/d/"} {
		if n := e.keysOf(p); n != 0 {
			t.Errorf("%d keys left under %s", n, p)
		}
	}
}

// TestTenantRetentionOverride: the tenant's period replaces the default.
func TestTenantRetentionOverride(t *testing.T) {
	e := newEnv(t)
	svc, err := signing.New(signing.Options{Store: e.kv, Clock: e.clk, Profiles: e.cust, Outbox: e.jobs, SealKEK: make([]byte, 32),
		Retention: func(_, class string) time.Duration {
			if class == retention.ClassSignatureProcess {
				return 5 * retention.Day
			}
			return 0
		}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Create(context.Background(), e.adv, "Kurz", "", bytes.NewReader(classicPDF(1)))
	if err != nil || !p.Expires.Equal(p.Created.Add(5*retention.Day)) {
		t.Fatalf("override: %v %v", p.Expires, err)
	}
}

// TestEraseAndExport: erasure deletes every process the customer signs
// in; export lists them with the final PDFs and hides other customers'
// ids.
func TestEraseAndExport(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	anna, bernd := e.customer("Anna", 1), e.customer("Bernd", 2)
	done := e.complete(anna)
	shared := e.sent(classicPDF(1), []string{bernd, anna}, false)
	other := e.sent(classicPDF(1), []string{bernd}, false)
	ex, err := e.svc.ExportCustomer(ctx, tenant, anna)
	if err != nil || len(ex) != 2 {
		t.Fatalf("export: %d, %v", len(ex), err)
	}
	for _, x := range ex {
		for _, sg := range x.Process.Signers {
			if sg.CustomerID == bernd {
				t.Fatal("the export names another customer")
			}
		}
		if (x.Process.ID == done.ID) != (x.Final != nil) {
			t.Fatalf("export of %s: final %d bytes", x.Process.Status, len(x.Final))
		}
		if x.Final != nil {
			if _, err := pdf.Verify(x.Final, e.roots()); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := e.svc.EraseCustomer(ctx, tenant, anna)
	if err != nil || n != 2 {
		t.Fatalf("erase: %d %v", n, err)
	}
	for _, id := range []string{done.ID, shared.ID} {
		if _, err := e.svc.Get(ctx, e.adv, id); !errors.Is(err, signing.ErrNotFound) {
			t.Fatalf("erased process %s: %v", id, err)
		}
		if k := e.keysOf("signing/d/" + id); k != 0 {
			t.Fatalf("%d chunks of an erased process", k)
		}
	}
	if _, err := e.svc.Get(ctx, e.adv, other.ID); err != nil {
		t.Fatalf("another customer's process: %v", err)
	}
	if n, err := e.svc.EraseCustomer(ctx, tenant, anna); err != nil || n != 0 {
		t.Fatalf("second erase: %d %v", n, err)
	}
}

// TestHostileInput: non-PDF, encrypted and oversized uploads store
// nothing; forged tokens, foreign actors and broken pointer data are
// refused.
func TestHostileInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	big := append(classicPDF(1), bytes.Repeat([]byte("%"), signing.DefaultMaxBytes)...)
	for _, c := range []struct {
		name string
		doc  []byte
		want error
	}{
		{"empty", nil, pdf.ErrNotPDF},
		{"zip", []byte("PK\x03\x04 not a contract"), pdf.ErrNotPDF},
		{"html", []byte("<html><body>Vertrag</body></html>"), pdf.ErrNotPDF},
		{"encrypted", encryptedPDF(t), pdf.ErrEncrypted},
		{"truncated", classicPDF(2)[:300], pdf.ErrMalformed},
		{"too large", big, pdf.ErrTooLarge},
	} {
		if _, err := e.svc.Create(ctx, e.adv, "Vertrag", "", bytes.NewReader(c.doc)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if n := e.keysOf("signing/p/") + e.keysOf("signing/d/"); n != 0 {
		t.Fatalf("refused uploads left %d keys", n)
	}
	for _, title := range []string{"", "   ", strings.Repeat("x", signing.MaxTitle+1), "a\x00b"} {
		if _, err := e.svc.Create(ctx, e.adv, title, "", bytes.NewReader(classicPDF(1))); !errors.Is(err, signing.ErrInvalidInput) {
			t.Errorf("title %q: %v", title, err)
		}
	}

	anna := e.customer("Anna", 1)
	p := e.sent(classicPDF(1), []string{anna}, false)
	link := e.link(kinds(e.jobs.take())[signing.JobSignerMail][0])
	for _, forged := range []string{"", "psg_", "psg_" + strings.Repeat("A", 43), link[:len(link)-1] + "x", "pbk_" + link[4:], link + "/../x", p.ID} {
		if _, err := e.svc.ByLink(ctx, forged, ""); !errors.Is(err, signing.ErrNotFound) {
			t.Errorf("forged link %q: %v", forged, err)
		}
		if _, err := e.svc.SendCode(ctx, forged); !errors.Is(err, signing.ErrNotFound) {
			t.Errorf("code for forged link: %v", err)
		}
	}
	sess := e.session(link)
	for _, s := range []string{"", "pss_forged", sess[:len(sess)-1] + "x"} {
		if _, err := e.svc.SignerDocument(ctx, link, s); !errors.Is(err, signing.ErrCodeRequired) {
			t.Errorf("forged session %q: %v", s, err)
		}
	}
	other := signing.Actor{TenantID: "ffffffffffffffffffffffffffffffff", UserID: advisor, Admin: true}
	if _, err := e.svc.Get(ctx, other, p.ID); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("another tenant's admin: %v", err)
	}
	colleague := signing.Actor{TenantID: tenant, UserID: "cccccccccccccccccccccccccccccccc"}
	if _, err := e.svc.Cancel(ctx, colleague, p.ID); !errors.Is(err, signing.ErrForbidden) {
		t.Errorf("a colleague cancels: %v", err)
	}
	for name, ptr := range map[string][]byte{
		"empty":        nil,
		"not JSON":     []byte("<svg/>"),
		"no pen down":  []byte(`{"v":1,"pointerType":"pen","pointerId":1,"field":{"width":10,"height":10},"events":[]}`),
		"over 8 MiB":   bytes.Repeat([]byte(" "), 8<<20+1),
		"outside":      []byte(`{"v":1,"pointerType":"pen","pointerId":1,"field":{"width":10,"height":10},"events":[{"type":"down","t":1,"x":50,"y":5,"pressure":0.5}]}`),
		"unknown text": pointerJSON(t, 0),
	} {
		sub := signing.Submission{Pointer: ptr}
		if name == "unknown text" {
			sub.Texts = map[string]string{"no-such-field": "x"}
		}
		if _, err := e.svc.Submit(ctx, link, sess, sub); !errors.Is(err, signing.ErrInvalidInput) {
			t.Errorf("pointer %s: %v", name, err)
		}
	}
	if ps, _ := e.svc.Get(ctx, e.adv, p.ID); len(ps.Versions) != 1 || ps.Signers[0].State != signing.SignerPending {
		t.Fatalf("refused submissions changed the process: %+v", ps)
	}
	// Cancelling kills the link.
	if _, err := e.svc.Cancel(ctx, e.adv, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ByLink(ctx, link, sess); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("cancelled link: %v", err)
	}
}

// TestSendPreconditions: no trustee key, missing mobile, foreign customer,
// bad layouts.
func TestSendPreconditions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p, err := e.svc.Create(ctx, e.adv, "Vertrag", "en", bytes.NewReader(classicPDF(1)))
	if err != nil {
		t.Fatal(err)
	}
	anna := e.customer("Anna", 1)
	cases := []struct {
		name    string
		signers []signing.SignerInput
		fields  []pdf.Field
	}{
		{"no signers", nil, layout([]string{"customer1"}, 1)},
		{"advisor not last", []signing.SignerInput{{Role: "advisor"}, {Role: "customer1", CustomerID: anna}}, layout([]string{"advisor", "customer1"}, 1)},
		{"bad role", []signing.SignerInput{{Role: "customer0", CustomerID: anna}}, layout([]string{"customer0"}, 1)},
		{"no customer id", []signing.SignerInput{{Role: "customer1"}}, layout([]string{"customer1"}, 1)},
		{"unknown customer", []signing.SignerInput{{Role: "customer1", CustomerID: "dddddddddddddddddddddddddddddddd"}}, layout([]string{"customer1"}, 1)},
		{"no signature field", []signing.SignerInput{{Role: "customer1", CustomerID: anna}}, layout([]string{"customer1"}, 1)[1:]},
		{"field off the page", []signing.SignerInput{{Role: "customer1", CustomerID: anna}}, []pdf.Field{{ID: "s", Page: 2, Rect: pdf.Rect{URX: 10, URY: 10}, Kind: pdf.KindSignature, Signer: "customer1"}}},
	}
	for _, c := range cases {
		if _, err := e.svc.SetFields(ctx, e.adv, p.ID, c.signers, c.fields); !errors.Is(err, signing.ErrInvalidInput) && !errors.Is(err, pdf.ErrInvalidField) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := e.svc.Send(ctx, e.adv, p.ID); !errors.Is(err, signing.ErrState) {
		t.Fatalf("send without fields: %v", err)
	}
	noMobile, err := e.cust.Create(ctx, customer.Actor{TenantID: tenant, UserID: advisor}, customer.Contact{FirstName: "Zora", LastName: "Ohne", Email: "zora@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetFields(ctx, e.adv, p.ID, []signing.SignerInput{{Role: "customer1", CustomerID: noMobile.ID}}, layout([]string{"customer1"}, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Send(ctx, e.adv, p.ID); !errors.Is(err, signing.ErrContactMissing) {
		t.Fatalf("send to a customer without mobile: %v", err)
	}
	// A tenant without a trustee key cannot send.
	kv := &store.Memory{Clock: e.clk}
	cust, err := customer.New(customer.Options{Store: kv, Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := signing.New(signing.Options{Store: kv, Clock: e.clk, Profiles: cust, Outbox: e.jobs, SealKEK: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	q, err := svc.Create(ctx, e.adv, "Vertrag", "", bytes.NewReader(classicPDF(1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetFields(ctx, e.adv, q.ID, []signing.SignerInput{{Role: "advisor"}}, layout([]string{"advisor"}, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, e.adv, q.ID); !errors.Is(err, signing.ErrNoTrusteeKey) {
		t.Fatalf("send without a trustee key: %v", err)
	}
}
