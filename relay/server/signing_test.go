package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/notify"
	"parley/relay/signing"
	"parley/relay/signing/pdf"
	"parley/signpad/envelope"
)

// smsBox records the SMS a relay sends.
type smsBox struct {
	mu   sync.Mutex
	msgs []struct{ to, text string }
}

func (b *smsBox) SendSMS(_ context.Context, to, text string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, struct{ to, text string }{to, text})
	return nil
}

var smsCode = regexp.MustCompile(`\b([0-9]{6})\b`)

// code waits for the next SMS to number and returns its code.
func (b *smsBox) code(t *testing.T, s *Server, to string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := s.DeliverDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.mu.Lock()
		for i, m := range b.msgs {
			if m.to == to {
				b.msgs = append(b.msgs[:i], b.msgs[i+1:]...)
				b.mu.Unlock()
				c := smsCode.FindStringSubmatch(m.text)
				if c == nil || strings.Contains(m.text, "http") {
					t.Fatalf("code SMS %q", m.text)
				}
				return c[1]
			}
		}
		b.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no SMS to %s", to)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sigDoc writes an n-page PDF with a classic xref table.
func sigDoc(n int) []byte {
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
		content := fmt.Sprintf("BT /F1 24 Tf 72 760 Td (Kreditvertrag Seite %d) Tj ET", i+1)
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

// penJSON is a synthetic pen signature (Pointer Events JSON with
// pressure, tilt and coalesced events).
func penJSON(variant float64) map[string]any {
	at := func(i int) map[string]any {
		f := float64(i) / 200
		return map[string]any{"t": 1000 + float64(i)*5, "x": 40 + 500*f, "y": 100 + 60*math.Sin(f*12+variant),
			"pressure": 0.3 + 0.4*math.Abs(math.Sin(f*7)), "tiltX": 15, "tiltY": -8}
	}
	evs := []map[string]any{{"type": "down"}}
	for k, v := range at(0) {
		evs[0][k] = v
	}
	for i := 2; i <= 200; i += 2 {
		e := map[string]any{"type": "move", "coalesced": []map[string]any{at(i - 1), at(i)}}
		for k, v := range at(i) {
			e[k] = v
		}
		evs = append(evs, e)
	}
	up := map[string]any{"type": "up"}
	for k, v := range at(201) {
		up[k] = v
	}
	up["pressure"] = 0
	evs = append(evs, up)
	return map[string]any{"v": 1, "pointerType": "pen", "pointerId": 7, "field": map[string]int{"width": 600, "height": 200}, "events": evs}
}

// fetch sends a request and returns the status, headers and body.
func (a *testAPI) fetch(method, path, token, contentType string, body io.Reader) (int, http.Header, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.s.URL()+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.c.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

var (
	signLink     = regexp.MustCompile(`https://beratung\.bank\.test/s/(psg_[A-Za-z0-9_-]+)`)
	downloadLink = regexp.MustCompile(`https://beratung\.bank\.test(/api/v1/sign/psg_[A-Za-z0-9_-]+/document\?download=1)`)
)

// mailTo finds the one mail to addr among ms.
func mailTo(t *testing.T, ms []notify.Mail, addr string) notify.Mail {
	t.Helper()
	for _, m := range ms {
		if m.To == addr {
			return m
		}
	}
	t.Fatalf("no mail to %s among %d", addr, len(ms))
	return notify.Mail{}
}

func errCode(b []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return e.Error.Code
}

// TestSigningThroughTheRelay runs the asynchronous e-signature flow over
// HTTPS with two customers and the advisor: links by e-mail, codes by SMS,
// the document served to each signer, signatures in order, the advisor's
// turn mail and signature, completion mails with the download link; the
// final PDF verifies in Verify and in poppler's pdfsig, and every
// biometric envelope opens with the trustee's key and is bound to the
// revision its signer saw. Then hostile input, and the retention sweep.
func TestSigningThroughTheRelay(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	box, sms := &mailbox{}, &smsBox{}
	s, err := Start(context.Background(), Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", TenantSlug: "bank", TenantName: "Bank AG",
		AdminPassword: testAdminPassword, Hash: auth.TestHashParams, Clock: clk, SweepInterval: time.Hour,
		PublicURL: "https://beratung.bank.test", Mail: MailOptions{Mailer: box, From: "termine@bank.test", SMS: sms}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	a := &testAPI{t: t, s: s, c: &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(t, s)}}}
	admin := a.login()
	adv := advisorWithMail(t, a, admin)

	// The admin sets the trustee key; the private half stays here.
	trustee, err := envelope.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := envelope.MarshalPublicKeyPEM(trustee.PublicKey())
	if st, _, body := a.fetch("PUT", "/api/v1/signing/trustee-key", admin, "application/x-pem-file", bytes.NewReader(pub)); st != http.StatusOK {
		t.Fatalf("trustee key: %d %s", st, body)
	}
	if st, _, _ := a.fetch("PUT", "/api/v1/signing/trustee-key", adv, "application/x-pem-file", bytes.NewReader(pub)); st != http.StatusForbidden {
		t.Fatalf("an advisor sets the trustee key: %d", st)
	}

	var custs [2]string
	mobiles := [2]string{"+4917011110001", "+4917011110002"}
	mails := [2]string{"anna.muster@example.test", "bernd.beispiel@example.test"}
	for i, n := range []string{"Anna", "Bernd"} {
		var c struct{ ID string }
		if st := a.call("POST", "/api/v1/customers", adv, map[string]string{"first_name": n, "last_name": "Kunde", "email": mails[i], "mobile": mobiles[i]}, &c); st != http.StatusCreated {
			t.Fatalf("customer: %d", st)
		}
		custs[i] = c.ID
	}

	// Hostile uploads store nothing.
	api.DisableConfigDir()
	var enc bytes.Buffer
	if err := api.Encrypt(bytes.NewReader(sigDoc(1)), &enc, model.NewAESConfiguration("", "owner", 256)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		body []byte
		want string
	}{
		"zip":       {[]byte("PK\x03\x04 not a contract"), "not_pdf"},
		"encrypted": {enc.Bytes(), "pdf_encrypted"},
		"truncated": {sigDoc(2)[:400], "pdf_malformed"},
	} {
		if st, _, body := a.fetch("POST", "/api/v1/signing/processes?title=Vertrag", adv, "application/pdf", bytes.NewReader(c.body)); errCode(body) != c.want || st < 400 {
			t.Errorf("%s upload: %d %s", name, st, body)
		}
	}

	doc := sigDoc(2)
	var created struct{ Process signing.Process }
	st, _, body := a.fetch("POST", "/api/v1/signing/processes?title="+url.QueryEscape("Kreditvertrag Familie Kunde"), adv, "application/pdf", bytes.NewReader(doc))
	if st != http.StatusCreated || json.Unmarshal(body, &created) != nil || len(created.Process.Pages) != 2 {
		t.Fatalf("create: %d %s", st, body)
	}
	id := created.Process.ID
	field := func(id, kind, signer string, y float64) map[string]any {
		return map[string]any{"id": id, "page": 1, "kind": kind, "signer": signer, "rect": map[string]float64{"LLX": 300, "LLY": y, "URX": 540, "URY": y + 70}}
	}
	layout := map[string]any{
		"signers": []map[string]string{{"role": "customer1", "customer_id": custs[0]}, {"role": "customer2", "customer_id": custs[1]}, {"role": "advisor"}},
		"fields": []map[string]any{field("sig-c1", "signature", "customer1", 100), field("sig-c2", "signature", "customer2", 200),
			field("sig-adv", "signature", "advisor", 300), field("ort-c1", "text", "customer1", 400)},
	}
	if st := a.call("PUT", "/api/v1/signing/processes/"+id+"/fields", adv, layout, nil); st != http.StatusOK {
		t.Fatalf("fields: %d", st)
	}
	if st := a.call("POST", "/api/v1/signing/processes/"+id+"/send", adv, nil, nil); st != http.StatusOK {
		t.Fatalf("send: %d", st)
	}

	var seen [][]byte
	for i := range 2 {
		m := mailTo(t, box.await(t, s, 1), mails[i])
		link := signLink.FindStringSubmatch(m.Text)
		if link == nil {
			t.Fatalf("invite %d without link:\n%s", i+1, m.Text)
		}
		tok := link[1]
		base := "/api/v1/sign/" + tok
		if st, _, body := a.fetch("GET", base, "", "", nil); st != http.StatusOK || !strings.Contains(string(body), `"state":"pending"`) {
			t.Fatalf("signer %d view: %d %s", i+1, st, body)
		}
		if st, _, body := a.fetch("GET", base+"/document", "", "", nil); errCode(body) != "code_required" {
			t.Fatalf("document without code: %d %s", st, body)
		}
		if st := a.call("POST", base+"/code", "", nil, nil); st != http.StatusAccepted {
			t.Fatalf("code: %d", st)
		}
		code := sms.code(t, s, mobiles[i])
		if i == 0 {
			// Wrong codes: counted, then the code is dead.
			wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
			for k := 0; k < signing.CodeAttempts; k++ {
				if st, _, body := a.fetch("POST", base+"/verify", "", "application/json", strings.NewReader(`{"code":"`+wrong+`"}`)); errCode(body) != "wrong_code" {
					t.Fatalf("wrong code %d: %d %s", k, st, body)
				}
			}
			if _, _, body := a.fetch("POST", base+"/verify", "", "application/json", strings.NewReader(`{"code":"`+code+`"}`)); errCode(body) != "code_expired" {
				t.Fatalf("right code after %d wrong ones: %s", signing.CodeAttempts, body)
			}
			if _, h, body := a.fetch("POST", base+"/code", "", "", nil); errCode(body) != "throttled" || h.Get("Retry-After") == "" {
				t.Fatalf("resend within the cooldown: %s", body)
			}
			clk.Advance(signing.CodeCooldown)
			if st := a.call("POST", base+"/code", "", nil, nil); st != http.StatusAccepted {
				t.Fatalf("code again: %d", st)
			}
			code = sms.code(t, s, mobiles[i])
		}
		var v struct{ Session string }
		if st := a.call("POST", base+"/verify", "", map[string]string{"code": code}, &v); st != http.StatusOK || v.Session == "" {
			t.Fatalf("verify: %d", st)
		}
		st, h, pdfBytes := a.fetch("GET", base+"/document", v.Session, "", nil)
		if st != http.StatusOK || h.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdfBytes, doc) || h.Get("X-Frame-Options") != "SAMEORIGIN" {
			t.Fatalf("document for signer %d: %d %v", i+1, st, h)
		}
		seen = append(seen, pdfBytes)
		sub := map[string]any{"pointer": penJSON(float64(i))}
		if i == 0 {
			sub["texts"] = map[string]string{"ort-c1": "Kiel, 23.11.2026"}
		}
		if st, _, body := a.fetch("POST", "/api/v1/signing/processes/"+id+"/sign", adv, "application/json", jsonReader(t, map[string]any{"pointer": penJSON(9)})); errCode(body) != "not_your_turn" {
			t.Fatalf("advisor before customer %d: %d %s", i+1, st, body)
		}
		if st := a.call("POST", base+"/submit", v.Session, sub, nil); st != http.StatusOK {
			t.Fatalf("submit %d: %d", i+1, st)
		}
		if st, _, body := a.fetch("POST", base+"/submit", v.Session, "application/json", jsonReader(t, sub)); errCode(body) != "not_your_turn" {
			t.Fatalf("second submit: %d %s", st, body)
		}
	}
	turn := mailTo(t, box.await(t, s, 1), "erika@bank.test")
	if !strings.Contains(turn.Subject, "Kreditvertrag Familie Kunde") {
		t.Fatalf("advisor's turn mail: %q", turn.Subject)
	}
	st, _, body = a.fetch("GET", "/api/v1/signing/processes/"+id+"/document", adv, "", nil)
	if st != http.StatusOK {
		t.Fatalf("advisor's document: %d", st)
	}
	seen = append(seen, body)
	if st := a.call("POST", "/api/v1/signing/processes/"+id+"/sign", adv, map[string]any{"pointer": penJSON(2)}, nil); st != http.StatusOK {
		t.Fatalf("advisor signs: %d", st)
	}
	done := box.await(t, s, 3)
	mailTo(t, done, "erika@bank.test")
	dl := downloadLink.FindStringSubmatch(mailTo(t, done, mails[1]).Text)
	if dl == nil {
		t.Fatalf("completion mail without download link:\n%s", mailTo(t, done, mails[1]).Text)
	}
	st, h, final := a.fetch("GET", dl[1], "", "", nil)
	if st != http.StatusOK || h.Get("X-Parley-Document-Version") != signing.VersionFinal || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("final by link: %d %v", st, h)
	}
	if _, _, adv2 := a.fetch("GET", "/api/v1/signing/processes/"+id+"/document", adv, "", nil); !bytes.Equal(adv2, final) {
		t.Fatal("the advisor's final document differs from the signer's")
	}
	// Everyone receives the final PDF itself with the completion mail.
	for _, m := range done {
		if len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/pdf" || !bytes.Equal(m.Attachments[0].Data, final) {
			t.Fatalf("completion mail to %s carries %d attachments, want the final PDF", m.To, len(m.Attachments))
		}
	}

	// Verify with the seal CA the admin downloads, and with pdfsig.
	_, _, caPEM := a.fetch("GET", "/api/v1/signing/seal-ca", admin, "", nil)
	blk, _ := pem.Decode(caPEM)
	if blk == nil {
		t.Fatalf("seal CA: %q", caPEM)
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	reports, err := pdf.Verify(final, roots)
	if err != nil || len(reports) != 4 {
		t.Fatalf("verify: %d reports, %v", len(reports), err)
	}
	if ca.Subject.Organization[0] != "Bank AG" {
		t.Fatalf("seal CA organisation %v", ca.Subject.Organization)
	}
	if bin := "/usr/bin/pdfsig"; fileExists(bin) {
		f := filepath.Join(t.TempDir(), "final.pdf")
		if err := os.WriteFile(f, final, 0o600); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command(bin, f).CombinedOutput()
		if n := strings.Count(string(out), "Signature Validation: Signature is Valid."); n != 4 {
			t.Fatalf("pdfsig: %d valid signatures:\n%s", n, out)
		}
	} else {
		t.Log("pdfsig not installed (poppler-utils): only Verify checked the document")
	}
	roles := []string{"customer1", "customer2", "advisor"}
	for i, r := range reports[:3] {
		if r.Role != roles[i] || !r.Valid || !r.ChainVerified || !r.EnvelopeBound {
			t.Fatalf("step %d: %+v", i+1, r)
		}
		env := findEnvelope(t, final[:r.RevisionEnd], r.EnvelopeSHA256)
		c, err := envelope.Open(trustee, env)
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if err := c.Check(envelope.Binding{DocumentSHA256: sha256.Sum256(seen[i]), Field: []string{"sig-c1", "sig-c2", "sig-adv"}[i], Signer: roles[i]}); err != nil {
			t.Fatalf("step %d binding: %v", i+1, err)
		}
		if !strings.HasPrefix(c.Device, "browser pointer:pen") || len(c.Record) < 1000 {
			t.Fatalf("step %d contents: device %q, record %d bytes", i+1, c.Device, len(c.Record))
		}
	}

	// Forged links and sessions are refused; the finished link gives no
	// more codes.
	for _, forged := range []string{"psg_" + strings.Repeat("x", 43), id, "pbk_abc"} {
		if st, _, _ := a.fetch("GET", "/api/v1/sign/"+forged, "", "", nil); st != http.StatusNotFound {
			t.Errorf("forged link %q: %d", forged, st)
		}
	}
	// 10^7 pointer events, streamed: refused at the size cap.
	if st, err := streamPoints(a, "/api/v1/signing/processes/"+id+"/sign", adv, 10_000_000); err == nil && st != http.StatusRequestEntityTooLarge {
		t.Fatalf("10^7 points: %d", st)
	}

	// The privacy engine's part: the export holds the process (without
	// the other customer's id) and the signed PDF.
	files := map[string][]byte{}
	part := signingPart{s.signing}
	if err := part.Export(context.Background(), created.Process.TenantID, custs[0], func(name string, r io.Reader) error {
		b, err := io.ReadAll(r)
		files[name] = b
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(files[id+"/signed.pdf"], final) || !strings.Contains(string(files["processes.json"]), id) || strings.Contains(string(files["processes.json"]), custs[1]) {
		t.Fatalf("export: %d files, processes.json %s", len(files), files["processes.json"])
	}

	// Retention: the signed document goes 180 days after completion.
	clk.Advance(signing.DefaultDocumentRetention)
	if err := s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := a.fetch("GET", "/api/v1/signing/processes/"+id, a.login(), "", nil); st != http.StatusNotFound {
		t.Fatalf("after retention: %d", st)
	}
	if st, _, _ := a.fetch("GET", dl[1], "", "", nil); st != http.StatusNotFound {
		t.Fatalf("download link after retention: %d", st)
	}

	// Erasure through the part deletes the customer's processes.
	admin = a.login()
	var again struct{ Process signing.Process }
	if st, _, body := a.fetch("POST", "/api/v1/signing/processes?title=Nachtrag", admin, "application/pdf", bytes.NewReader(doc)); st != http.StatusCreated || json.Unmarshal(body, &again) != nil {
		t.Fatalf("create: %d %s", st, body)
	}
	if st := a.call("PUT", "/api/v1/signing/processes/"+again.Process.ID+"/fields", admin, map[string]any{
		"signers": []map[string]string{{"role": "customer1", "customer_id": custs[1]}}, "fields": []map[string]any{field("s", "signature", "customer1", 100)}}, nil); st != http.StatusOK {
		t.Fatalf("fields: %d", st)
	}
	if n, err := part.Erase(context.Background(), created.Process.TenantID, custs[1]); err != nil || n != 1 {
		t.Fatalf("erase: %d %v", n, err)
	}
	if st, _, _ := a.fetch("GET", "/api/v1/signing/processes/"+again.Process.ID, admin, "", nil); st != http.StatusNotFound {
		t.Fatalf("after erasure: %d", st)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func jsonReader(t *testing.T, v any) io.Reader {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// streamPoints posts a submission whose pointer JSON has n events,
// generated while sending; a transport error (the relay closing the
// connection after its limit) is returned as err.
func streamPoints(a *testAPI, path, token string, n int) (int, error) {
	pr, pw := io.Pipe()
	go func() {
		_, err := pw.Write([]byte(`{"pointer":{"v":1,"pointerType":"pen","pointerId":1,"field":{"width":600,"height":200},"events":[{"type":"down","t":1,"x":1,"y":1,"pressure":0.5}`))
		for i := 0; i < n && err == nil; i++ {
			_, err = fmt.Fprintf(pw, `,{"type":"move","t":%d,"x":2,"y":2,"pressure":0.5}`, i+2)
		}
		if err == nil {
			_, err = pw.Write([]byte(`]}}`))
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	req, err := http.NewRequest("POST", a.s.URL()+path, pr)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := a.c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	return res.StatusCode, nil
}

// findEnvelope finds the embedded envelope whose SHA-256 is sum.
func findEnvelope(t *testing.T, doc, sum []byte) []byte {
	t.Helper()
	for off := 0; ; {
		i := bytes.Index(doc[off:], []byte("PSE1"))
		if i < 0 {
			t.Fatal("envelope not found")
		}
		start := off + i
		for end := start + envelope.HeaderSize; end <= len(doc); end++ {
			if bytes.HasPrefix(doc[end:], []byte("\nendstream")) || bytes.HasPrefix(doc[end:], []byte("\r\nendstream")) {
				if s := sha256.Sum256(doc[start:end]); bytes.Equal(s[:], sum) {
					return doc[start:end]
				}
			}
		}
		off = start + 4
	}
}
