package link_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"parley/relay/auth"
	"parley/relay/pdfrender/pdfrendertest"
	"parley/relay/server"
	"parley/signpad/envelope"
	"parley/sync/link"
)

// signingDoc writes an n-page A4 PDF with a classic xref table.
func signingDoc(n int) []byte {
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
		content := fmt.Sprintf("BT /F1 24 Tf 72 760 Td (Vertrag Seite %d) Tj ET", i+1)
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// mouseSignature is a short mouse signature in the Pointer Events JSON
// the desktop pad sends.
func mouseSignature() json.RawMessage {
	evs := []map[string]any{{"type": "down", "t": 10.0, "x": 20.0, "y": 50.0, "pressure": 0.5}}
	for i := 1; i <= 40; i++ {
		evs = append(evs, map[string]any{"type": "move", "t": 10.0 + float64(i)*8, "x": 20.0 + float64(i)*10, "y": 50.0 + float64(i%7)*8, "pressure": 0.5})
	}
	evs = append(evs, map[string]any{"type": "up", "t": 340.0, "x": 420.0, "y": 60.0, "pressure": 0.0})
	b, _ := json.Marshal(map[string]any{"v": 1, "pointerType": "mouse", "pointerId": 1, "field": map[string]int{"width": 480, "height": 160}, "events": evs})
	return b
}

// onlyReader hides everything but Read, so the upload is streamed with
// an unknown length.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// signingRelay starts a relay with an advisor, and returns the advisor's
// and the admin's clients.
func signingRelay(t *testing.T) (s *server.Server, dir string, adv, admin *link.Client) {
	t.Helper()
	dir = t.TempDir()
	s, err := server.Start(context.Background(), server.Options{
		DataDir: dir, Listen: "127.0.0.1:0", MediaListen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: realAdminPassword, Hash: auth.TestHashParams, PublicURL: "https://beratung.bank.test",
		Mail: server.MailOptions{Mailer: &capturedMails{}}, RenderCacheDir: pdfrendertest.CacheDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := realCtx(t)
	connect := func() *link.Client {
		c := link.New(link.Options{})
		t.Cleanup(func() { c.Close() })
		if err := c.Trust(s.URL(), s.Fingerprint()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Connect(ctx, s.URL()); err != nil {
			t.Fatal(err)
		}
		return c
	}
	admin = connect()
	if _, err := admin.Login(ctx, "bank", "admin", realAdminPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateUser(ctx, link.NewUser{Username: "erika", DisplayName: "Erika Mustermann",
		Email: "erika@example.org", Password: "Einmal-Passwort-Tanne-1", Role: link.RoleAdvisor}); err != nil {
		t.Fatal(err)
	}
	adv = connect()
	if _, err := adv.Login(ctx, "bank", "erika", "Einmal-Passwort-Tanne-1"); err != nil {
		t.Fatal(err)
	}
	if err := adv.ChangePassword(ctx, "Einmal-Passwort-Tanne-1", realAdvisorPassword); err != nil {
		t.Fatal(err)
	}
	return s, dir, adv, admin
}

// setTrusteeKey stores a fresh trustee public key for the tenant, as an
// admin does with signpad-trustee's key (the link client has no call for
// it: admins do it once, from the web or the CLI).
func setTrusteeKey(t *testing.T, s *server.Server, dir, adminToken string) {
	t.Helper()
	k, err := envelope.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := envelope.MarshalPublicKeyPEM(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	raw := newRawRelay(t, s, dir)
	req, err := http.NewRequestWithContext(realCtx(t), http.MethodPut, s.URL()+"/api/v1/signing/trustee-key", bytes.NewReader(pub))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-pem-file")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := raw.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("trustee key: %d", resp.StatusCode)
	}
}

// TestSigningAgainstRealRelay runs the advisor's signing calls against
// the real relay: hostile uploads refused with typed errors and nothing
// stored, a streamed upload, fields, the send preconditions (trustee key,
// contact), order (the advisor's turn comes after the customer's),
// cancel, the advisor's signature completing a process and the sealed
// PDF's download checked against the relay's hash.
func TestSigningAgainstRealRelay(t *testing.T) {
	s, dir, adv, admin := signingRelay(t)
	ctx := realCtx(t)

	for name, c := range map[string]struct {
		body []byte
		want error
	}{
		"zip":       {[]byte("PK\x03\x04 not a contract"), link.ErrNotPDF},
		"truncated": {signingDoc(2)[:400], link.ErrPDFMalformed},
	} {
		_, err := adv.CreateSigningProcess(ctx, "Vertrag", "de", bytes.NewReader(c.body), int64(len(c.body)))
		if !errors.Is(err, c.want) {
			t.Errorf("%s upload: %v, want %v", name, err, c.want)
		}
		if link.UserMessage(err) == "" || strings.Contains(link.UserMessage(err), "link:") {
			t.Errorf("%s upload: message %q", name, link.UserMessage(err))
		}
	}
	if ps, err := adv.SigningProcesses(ctx); err != nil || len(ps) != 0 {
		t.Fatalf("processes after refused uploads: %d %v", len(ps), err)
	}

	doc := signingDoc(2)
	p, err := adv.CreateSigningProcess(ctx, "Kreditvertrag", "de", onlyReader{bytes.NewReader(doc)}, -1)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != link.SigningDraft || len(p.Pages) != 2 || p.Pages[1].Number != 2 || p.Pages[0].MediaBox.URX != 595 || p.Pages[0].CropBox.URY != 842 {
		t.Fatalf("created %+v", p)
	}
	sum := sha256.Sum256(doc)
	if len(p.Versions) != 1 || p.Versions[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("original version %+v", p.Versions)
	}
	if got, err := adv.SigningProcess(ctx, p.ID); err != nil || got.ID != p.ID || got.Title != "Kreditvertrag" {
		t.Fatalf("get: %+v %v", got, err)
	}

	good, err := adv.CreateCustomer(ctx, link.Customer{FirstName: "Anna", LastName: "Kunde", Email: "anna@kunde.test", Mobile: "+4917011110001"})
	if err != nil {
		t.Fatal(err)
	}
	noMobile, err := adv.CreateCustomer(ctx, link.Customer{FirstName: "Bernd", LastName: "Kunde", Email: "bernd@kunde.test"})
	if err != nil {
		t.Fatal(err)
	}
	field := func(id, kind, signer string, y float64) link.SigningField {
		return link.SigningField{ID: id, Page: 1, Kind: kind, Signer: signer, Rect: link.SigningRect{LLX: 300, LLY: y, URX: 540, URY: y + 70}}
	}
	// A field off the page is refused by the relay.
	if _, err := adv.SetSigningFields(ctx, p.ID, []link.SignerInput{{Role: link.RoleAdvisor}},
		[]link.SigningField{{ID: "off", Page: 1, Kind: link.FieldSignature, Signer: link.RoleAdvisor, Rect: link.SigningRect{LLX: 500, LLY: 800, URX: 700, URY: 900}}}); apiCode(err) != "invalid_input" {
		t.Fatalf("field off the page: %v", err)
	}
	p, err = adv.SetSigningFields(ctx, p.ID,
		[]link.SignerInput{{Role: "customer1", CustomerID: noMobile.ID}, {Role: link.RoleAdvisor}},
		[]link.SigningField{field("sig-c1", link.FieldSignature, "customer1", 100), field("sig-adv", link.FieldSignature, link.RoleAdvisor, 300),
			field("ort", link.FieldText, link.RoleAdvisor, 400)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Plan == nil || len(p.Plan.Fields) != 3 || len(p.Signers) != 2 || p.Signers[1].Role != link.RoleAdvisor {
		t.Fatalf("fields: %+v", p)
	}
	if _, err := adv.SendSigningProcess(ctx, p.ID); !errors.Is(err, link.ErrTrusteeKeyMissing) {
		t.Fatalf("send without trustee key: %v", err)
	}
	setTrusteeKey(t, s, dir, adminToken(t, s, dir))
	if _, err := adv.SendSigningProcess(ctx, p.ID); !errors.Is(err, link.ErrContactMissing) {
		t.Fatalf("send without the customer's mobile: %v", err)
	}
	if _, err := adv.SetSigningFields(ctx, p.ID,
		[]link.SignerInput{{Role: "customer1", CustomerID: good.ID}, {Role: link.RoleAdvisor}},
		[]link.SigningField{field("sig-c1", link.FieldSignature, "customer1", 100), field("sig-adv", link.FieldSignature, link.RoleAdvisor, 300)}); err != nil {
		t.Fatal(err)
	}
	p, err = adv.SendSigningProcess(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != link.SigningSent || p.Next() == nil || p.Next().Role != "customer1" || p.Signers[0].State != link.SignerPending {
		t.Fatalf("sent: %+v", p)
	}
	if _, err := adv.AdvisorSign(ctx, p.ID, nil, mouseSignature()); !errors.Is(err, link.ErrNotYourTurn) {
		t.Fatalf("advisor before the customer: %v", err)
	}

	// Contract B: kiosks (made by the admin) and queueing the customer.
	raw := newRawRelay(t, s, dir)
	raw.token = adminToken(t, s, dir)
	if st := raw.call("POST", "/api/v1/kiosks", map[string]string{"name": "Filiale Mitte", "pin": "246810"}, nil); st != http.StatusCreated {
		t.Fatalf("create kiosk: %d", st)
	}
	ks, err := adv.Kiosks(ctx)
	if err != nil || len(ks) != 1 || ks[0].Name != "Filiale Mitte" {
		t.Fatalf("kiosks: %+v %v", ks, err)
	}
	tk, err := adv.QueueAtKiosk(ctx, p.ID, ks[0].ID)
	if err != nil || len(tk.PickupCode) != 6 || !tk.Expires.After(p.Sent) {
		t.Fatalf("queue at kiosk: %+v %v", tk, err)
	}
	// Presenting needs a live meeting with that participant.
	m, _, err := adv.CreateMeeting(ctx, "Beratung")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adv.PresentSigning(ctx, p.ID, m.ID, "nobody"); !errors.Is(err, link.ErrParticipantNotFound) && !errors.Is(err, link.ErrMeetingNotLive) {
		t.Errorf("present to nobody: %v", err)
	}
	if _, err := adv.SetSigningFields(ctx, p.ID, []link.SignerInput{{Role: link.RoleAdvisor}}, nil); !errors.Is(err, link.ErrSigningState) && apiCode(err) != "invalid_input" {
		t.Fatalf("fields of a sent process: %v", err)
	}
	if p, err = adv.CancelSigningProcess(ctx, p.ID); err != nil || p.Status != link.SigningCancelled {
		t.Fatalf("cancel: %+v %v", p, err)
	}

	// The advisor alone: signs at once, which completes and seals it.
	q, err := adv.CreateSigningProcess(ctx, "Beratungsprotokoll", "en", bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adv.SetSigningFields(ctx, q.ID, []link.SignerInput{{Role: link.RoleAdvisor}},
		[]link.SigningField{field("sig", link.FieldSignature, link.RoleAdvisor, 100), field("ort", link.FieldText, link.RoleAdvisor, 200)}); err != nil {
		t.Fatal(err)
	}
	if _, err := adv.SendSigningProcess(ctx, q.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := adv.AdvisorSign(ctx, q.ID, nil, json.RawMessage(`{"v":1}`)); apiCode(err) != "invalid_input" {
		t.Fatalf("broken pointer data: %v", err)
	}
	q, err = adv.AdvisorSign(ctx, q.ID, map[string]string{"ort": "Kiel"}, mouseSignature())
	if err != nil {
		t.Fatal(err)
	}
	if q.Status != link.SigningCompleted || q.Completed.IsZero() || q.Signers[0].SignedAt.IsZero() {
		t.Fatalf("signed: %+v", q)
	}
	var buf bytes.Buffer
	d, err := adv.DownloadSigningDocument(ctx, q.ID, &buf)
	if err != nil {
		t.Fatal(err)
	}
	last := q.Versions[len(q.Versions)-1]
	if d.Kind != "final" || d.Size != int64(buf.Len()) || d.SHA256 != last.SHA256 || !bytes.HasPrefix(buf.Bytes(), doc) {
		t.Fatalf("download %+v (last version %+v)", d, last)
	}

	ps, err := adv.SigningProcesses(ctx)
	if err != nil || len(ps) != 2 {
		t.Fatalf("list: %d %v", len(ps), err)
	}
	// The admin sees the tenant's processes but cannot sign for the advisor.
	if ps, err := admin.SigningProcesses(ctx); err != nil || len(ps) != 2 {
		t.Fatalf("admin's list: %d %v", len(ps), err)
	}
	if _, err := adv.SigningProcess(ctx, "0123456789abcdef0123456789abcdef"); apiCode(err) != link.CodeNotFound {
		t.Fatalf("unknown process: %v", err)
	}
}

// adminToken logs the admin in over plain HTTPS and returns the token.
func adminToken(t *testing.T, s *server.Server, dir string) string {
	t.Helper()
	raw := newRawRelay(t, s, dir)
	var login struct{ Token string }
	if st := raw.call("POST", "/api/v1/login", map[string]string{"tenant": "bank", "username": "admin", "password": realAdminPassword}, &login); st != http.StatusOK {
		t.Fatalf("raw login: %d", st)
	}
	return login.Token
}

// TestSigningPagesAgainstRealRelay checks contract A's page images of a
// process's current revision. It skips, saying so, while the relay in
// this tree does not serve the route yet.
func TestSigningPagesAgainstRealRelay(t *testing.T) {
	_, _, adv, _ := signingRelay(t)
	ctx := realCtx(t)
	doc := signingDoc(2)
	p, err := adv.CreateSigningProcess(ctx, "Vertrag", "de", bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	img, err := adv.SigningPage(ctx, p.ID, 2, 300)
	if apiCode(err) == link.CodeNotFound && !errors.Is(err, link.ErrPageNotFound) {
		t.Skip("contract A: GET /api/v1/signing/processes/{id}/pages/{n} is not served by this relay yet")
	}
	if err != nil {
		t.Fatalf("page image: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 300 || b.Dy() < 420 || b.Dy() > 426 {
		t.Errorf("page image %v, want 300 wide in A4's aspect", b)
	}
	if _, err := adv.SigningPage(ctx, p.ID, 3, 0); !errors.Is(err, link.ErrPageNotFound) {
		t.Errorf("page 3 of 2: %v", err)
	}
}
