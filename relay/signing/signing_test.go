package signing_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"parley/relay/signing"
	"parley/relay/signing/pdf"
	"parley/signpad/envelope"
)

func kinds(js []job) map[string][]signing.Notice {
	out := map[string][]signing.Notice{}
	for _, j := range js {
		out[j.kind] = append(out[j.kind], j.notice)
	}
	return out
}

// TestAsyncFlow: two customers and the advisor sign in order; the order
// is enforced, each signer is told in turn, the final document verifies
// with the tenant's seal CA, each envelope opens with the trustee's key
// and is bound to the revision its signer saw.
func TestAsyncFlow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c1, c2 := e.customer("Anna", 1), e.customer("Bernd", 2)
	p := e.sent(classicPDF(2), []string{c1, c2}, true)
	if p.Status != signing.StatusSent || p.Signers[0].State != signing.SignerPending || p.Signers[1].State != signing.SignerWaiting {
		t.Fatalf("after send: %+v", p)
	}
	js := kinds(e.jobs.take())
	if len(js[signing.JobSignerMail]) != 1 || js[signing.JobSignerMail][0].Role != "customer1" || len(js[signing.JobAdvisorMail]) != 0 {
		t.Fatalf("send enqueued %+v, want one invite for customer1", js)
	}
	link1 := e.link(js[signing.JobSignerMail][0])

	// The advisor cannot sign ahead of the customers, nor can anyone
	// without a verified code.
	if _, err := e.svc.AdvisorSign(ctx, e.adv, p.ID, signing.Submission{Pointer: pointerJSON(t, 0)}); !errors.Is(err, signing.ErrNotYourTurn) {
		t.Fatalf("advisor signs first: %v", err)
	}
	if _, err := e.svc.Submit(ctx, link1, "", signing.Submission{Pointer: pointerJSON(t, 0)}); !errors.Is(err, signing.ErrCodeRequired) {
		t.Fatalf("submit without a code: %v", err)
	}
	if _, err := e.svc.SignerDocument(ctx, link1, ""); !errors.Is(err, signing.ErrCodeRequired) {
		t.Fatalf("document without a code: %v", err)
	}
	sess1 := e.session(link1)
	v, err := e.svc.ByLink(ctx, link1, sess1)
	if err != nil || !v.Verified || len(v.Fields) != 3 || v.Role != "customer1" || v.State != signing.SignerPending {
		t.Fatalf("verified view: %+v %v", v, err)
	}
	seen1, err := e.svc.SignerDocument(ctx, link1, sess1)
	if err != nil || !bytes.Equal(seen1.Data, classicPDF(2)) {
		t.Fatalf("customer1 sees %d bytes, %v", len(seen1.Data), err)
	}
	v, err = e.svc.Submit(ctx, link1, sess1, signing.Submission{Pointer: pointerJSON(t, 0), Texts: map[string]string{"place-customer1": "Kiel, 23.11.2026"}})
	if err != nil || v.State != signing.SignerSigned {
		t.Fatalf("customer1 submits: %+v %v", v, err)
	}
	if _, err := e.svc.Submit(ctx, link1, sess1, signing.Submission{Pointer: pointerJSON(t, 0)}); !errors.Is(err, signing.ErrNotYourTurn) {
		t.Fatalf("customer1 signs twice: %v", err)
	}
	js = kinds(e.jobs.take())
	if len(js[signing.JobSignerMail]) != 1 || js[signing.JobSignerMail][0].Role != "customer2" {
		t.Fatalf("after customer1: %+v, want customer2's invite", js)
	}
	link2 := e.link(js[signing.JobSignerMail][0])
	sess2 := e.session(link2)
	seen2, err := e.svc.SignerDocument(ctx, link2, sess2)
	if err != nil || !bytes.HasPrefix(seen2.Data, classicPDF(2)) || len(seen2.Data) <= len(classicPDF(2)) {
		t.Fatalf("customer2 sees the signed revision: %d bytes, %v", len(seen2.Data), err)
	}
	if _, err := e.svc.Submit(ctx, link2, sess2, signing.Submission{Pointer: pointerJSON(t, 1)}); err != nil {
		t.Fatal(err)
	}
	js = kinds(e.jobs.take())
	if len(js[signing.JobAdvisorMail]) != 1 || js[signing.JobAdvisorMail][0].Event != signing.EventAdvisorTurn {
		t.Fatalf("after customer2: %+v, want the advisor's turn", js)
	}
	if _, err := e.svc.AdvisorSign(ctx, e.admin, p.ID, signing.Submission{Pointer: pointerJSON(t, 2)}); !errors.Is(err, signing.ErrForbidden) {
		t.Fatalf("an admin signs for the advisor: %v", err)
	}
	done, err := e.svc.AdvisorSign(ctx, e.adv, p.ID, signing.Submission{Pointer: pointerJSON(t, 2), Texts: map[string]string{"place-advisor": "Filiale Kiel"}})
	if err != nil || done.Status != signing.StatusCompleted || done.Completed.IsZero() || len(done.Versions) != 5 {
		t.Fatalf("advisor signs: %+v %v", done, err)
	}
	js = kinds(e.jobs.take())
	if len(js[signing.JobSignerMail]) != 2 || len(js[signing.JobAdvisorMail]) != 1 || js[signing.JobAdvisorMail][0].Event != signing.EventCompleted {
		t.Fatalf("completion enqueued %+v", js)
	}

	final, err := e.svc.CurrentDocument(ctx, e.adv, p.ID)
	if err != nil || final.Version.Kind != signing.VersionFinal {
		t.Fatalf("final: %+v %v", final.Version, err)
	}
	// The link alone now gives the final document (it replaces the
	// attachment).
	if d, err := e.svc.SignerDocument(ctx, link1, ""); err != nil || !bytes.Equal(d.Data, final.Data) {
		t.Fatalf("final by link: %v", err)
	}
	reports, err := pdf.Verify(final.Data, e.roots())
	if err != nil || len(reports) != 4 {
		t.Fatalf("verify: %d reports, %v", len(reports), err)
	}
	// Each step's envelope: opened with the trustee key, bound to the
	// revision its signer saw (a prefix of the final document).
	seen := [][]byte{classicPDF(2)}
	for _, r := range reports {
		if !r.Valid || !r.ChainVerified {
			t.Fatalf("signature %s: %+v", r.Field, r)
		}
		if r.Kind == "step" {
			seen = append(seen, final.Data[:r.RevisionEnd])
		}
	}
	for i, r := range reports[:3] {
		if !r.EnvelopeBound {
			t.Fatalf("step %d envelope not bound", i+1)
		}
		env := embeddedEnvelope(t, final.Data[:r.RevisionEnd], r.EnvelopeSHA256)
		c, err := envelope.Open(e.trustee, env)
		if err != nil {
			t.Fatalf("step %d: open: %v", i+1, err)
		}
		if err := c.Check(envelope.Binding{DocumentSHA256: sha256.Sum256(seen[i]), Field: "sig-" + r.Role, Signer: r.Role}); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if err := c.Check(envelope.Binding{DocumentSHA256: sha256.Sum256(final.Data), Field: "sig-" + r.Role, Signer: r.Role}); !errors.Is(err, envelope.ErrBinding) {
			t.Fatalf("step %d: bound to another revision: %v", i+1, err)
		}
	}
}

// embeddedEnvelope finds the envelope whose SHA-256 is sum among the
// stream bodies of doc (the envelopes are embedded unfiltered).
func embeddedEnvelope(t *testing.T, doc, sum []byte) []byte {
	t.Helper()
	rest := doc
	for {
		i := bytes.Index(rest, []byte("PSE1"))
		if i < 0 {
			t.Fatal("envelope not found in the document")
		}
		rest = rest[i:]
		for end := envelope.HeaderSize; end <= len(rest); end++ {
			if bytes.HasPrefix(rest[end:], []byte("\nendstream")) || bytes.HasPrefix(rest[end:], []byte("\r\nendstream")) || bytes.HasPrefix(rest[end:], []byte("endstream")) {
				if s := sha256.Sum256(rest[:end]); bytes.Equal(s[:], sum) {
					return rest[:end]
				}
			}
		}
		rest = rest[4:]
	}
}

// TestCodes: attempts, expiry, resend cooldown and budget, all on the
// fake clock.
func TestCodes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := e.sent(classicPDF(1), []string{e.customer("Anna", 1)}, false)
	_ = p
	link := e.link(kinds(e.jobs.take())[signing.JobSignerMail][0])

	if _, _, err := e.svc.VerifyCode(ctx, link, "123456"); !errors.Is(err, signing.ErrCodeExpired) {
		t.Fatalf("verify before any code: %v", err)
	}
	code := e.code(link)
	if _, err := e.svc.SendCode(ctx, link); !errors.Is(err, signing.ErrTooSoon) {
		t.Fatalf("resend at once: %v", err)
	}
	e.clk.Advance(signing.CodeCooldown - time.Second)
	var we *signing.WaitError
	if _, err := e.svc.SendCode(ctx, link); !errors.As(err, &we) || we.Wait != time.Second {
		t.Fatalf("resend 1 s early: %v", err)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	for i := 1; i < signing.CodeAttempts; i++ {
		if _, _, err := e.svc.VerifyCode(ctx, link, wrong); !errors.Is(err, signing.ErrWrongCode) {
			t.Fatalf("wrong code %d: %v", i, err)
		}
	}
	if _, _, err := e.svc.VerifyCode(ctx, link, wrong); !errors.Is(err, signing.ErrWrongCode) {
		t.Fatalf("last wrong code: %v", err)
	}
	if _, _, err := e.svc.VerifyCode(ctx, link, code); !errors.Is(err, signing.ErrCodeExpired) {
		t.Fatalf("right code after %d wrong ones: %v", signing.CodeAttempts, err)
	}
	for _, bad := range []string{"", "12345", "1234567", "12a456", "١٢٣٤٥٦"} {
		if _, _, err := e.svc.VerifyCode(ctx, link, bad); !errors.Is(err, signing.ErrInvalidInput) {
			t.Fatalf("malformed code %q: %v", bad, err)
		}
	}

	// A code expires after CodeTTL (±1 s).
	e.clk.Advance(time.Second)
	code = e.code(link)
	e.clk.Advance(signing.CodeTTL - time.Second)
	if _, _, err := e.svc.VerifyCode(ctx, link, code); err != nil {
		t.Fatalf("code 1 s before expiry: %v", err)
	}
	e.clk.Advance(signing.CodeCooldown)
	code = e.code(link)
	e.clk.Advance(signing.CodeTTL)
	if _, _, err := e.svc.VerifyCode(ctx, link, code); !errors.Is(err, signing.ErrCodeExpired) {
		t.Fatalf("code at expiry: %v", err)
	}

	// The budget: MaxCodes in all.
	for sent := 3; sent < signing.MaxCodes; sent++ {
		e.clk.Advance(signing.CodeCooldown)
		e.code(link)
	}
	e.clk.Advance(signing.CodeCooldown)
	if _, err := e.svc.SendCode(ctx, link); !errors.As(err, &we) || we.Wait != 0 {
		t.Fatalf("code %d: %v", signing.MaxCodes+1, err)
	}

	// A session expires after SessionTTL.
	e2 := newEnv(t)
	e2.sent(classicPDF(1), []string{e2.customer("Carla", 3)}, false)
	link2 := e2.link(kinds(e2.jobs.take())[signing.JobSignerMail][0])
	sess := e2.session(link2)
	e2.clk.Advance(signing.SessionTTL - time.Second)
	if _, err := e2.svc.SignerDocument(ctx, link2, sess); err != nil {
		t.Fatalf("session 1 s before expiry: %v", err)
	}
	e2.clk.Advance(time.Second)
	if _, err := e2.svc.SignerDocument(ctx, link2, sess); !errors.Is(err, signing.ErrCodeRequired) {
		t.Fatalf("session at expiry: %v", err)
	}
}
