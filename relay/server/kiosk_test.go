package server

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/signing"
	"parley/relay/signing/pdf"
	"parley/signpad"
	"parley/signpad/envelope"
	"parley/signpad/iso19794"
)

// kioskRecord is a pen tablet's ISO/IEC 19794-7 record as the kiosk app
// sends it.
func kioskRecord(t *testing.T) []byte {
	t.Helper()
	sig := signpad.Signature{Start: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		Device: signpad.Device{Source: "evdev", Name: "Wacom STU-540 Pen", X: signpad.Axis{Max: 20000, Res: 40}, Y: signpad.Axis{Max: 12000, Res: 40},
			Pressure: signpad.Axis{Max: 1023}, Caps: signpad.CapPressure | signpad.CapTipSwitch | signpad.CapHover}}
	for i := range 400 {
		sig.Samples = append(sig.Samples, signpad.Sample{T: int64(i) * 4000, X: int32(1000 + 31*i), Y: int32(3000 + (i%23)*35),
			Pressure: int32(100 + i%500), Down: i%40 != 39})
	}
	rec, err := iso19794.FromSignature(sig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rec.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kioskSetup is a relay with a trustee key, an advisor and a sent
// process per customer.
type kioskSetup struct {
	s     *Server
	a     *testAPI
	admin string
	adv   string
}

func newKioskSetup(t *testing.T) *kioskSetup {
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	s, err := Start(context.Background(), Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", TenantSlug: "bank", TenantName: "Bank AG",
		AdminPassword: testAdminPassword, Hash: auth.TestHashParams, Clock: clk, SweepInterval: time.Hour,
		PublicURL: "https://beratung.bank.test", Mail: MailOptions{Mailer: &mailbox{}, From: "termine@bank.test", SMS: &smsBox{}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	a := &testAPI{t: t, s: s, c: &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(t, s)}}}
	k := &kioskSetup{s: s, a: a, admin: a.login()}
	k.adv = advisorWithMail(t, a, k.admin)
	trustee, err := envelope.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := envelope.MarshalPublicKeyPEM(trustee.PublicKey())
	if st, _, body := a.fetch("PUT", "/api/v1/signing/trustee-key", k.admin, "application/x-pem-file", bytes.NewReader(pub)); st != http.StatusOK {
		t.Fatalf("trustee key: %d %s", st, body)
	}
	return k
}

// process sends a one-page process with one customer signer.
func (k *kioskSetup) process(t *testing.T, first string) string {
	var c struct{ ID string }
	if st := k.a.call("POST", "/api/v1/customers", k.adv, map[string]string{"first_name": first, "last_name": "Kunde",
		"email": strings.ToLower(first) + "@example.test", "mobile": "+491701111" + string(rune('0'+len(first)%10)) + "000"}, &c); st != http.StatusCreated {
		t.Fatalf("customer: %d", st)
	}
	var created struct{ Process signing.Process }
	st, _, body := k.a.fetch("POST", "/api/v1/signing/processes?title="+url.QueryEscape("Depotvertrag"), k.adv, "application/pdf", bytes.NewReader(sigDoc(1)))
	if st != http.StatusCreated || json.Unmarshal(body, &created) != nil {
		t.Fatalf("create: %d %s", st, body)
	}
	id := created.Process.ID
	layout := map[string]any{
		"signers": []map[string]string{{"role": "customer1", "customer_id": c.ID}},
		"fields": []map[string]any{{"id": "sig-c1", "page": 1, "kind": "signature", "signer": "customer1",
			"rect": map[string]float64{"LLX": 300, "LLY": 100, "URX": 540, "URY": 170}}},
	}
	if st := k.a.call("PUT", "/api/v1/signing/processes/"+id+"/fields", k.adv, layout, nil); st != http.StatusOK {
		t.Fatalf("fields: %d", st)
	}
	if st := k.a.call("POST", "/api/v1/signing/processes/"+id+"/send", k.adv, nil, nil); st != http.StatusOK {
		t.Fatalf("send: %d", st)
	}
	return id
}

func (k *kioskSetup) final(t *testing.T, id string) []byte {
	st, _, doc := k.a.fetch("GET", "/api/v1/signing/processes/"+id+"/document", k.adv, "", nil)
	if st != http.StatusOK {
		t.Fatalf("document: %d", st)
	}
	return doc
}

// TestKioskSigningEndToEnd: sent → queued at a kiosk → opened with the
// pickup code → ISO record submitted → completed with a PAdES PDF whose
// steps verify and whose audit page says kiosk.
func TestKioskSigningEndToEnd(t *testing.T) {
	k := newKioskSetup(t)
	a := k.a
	id := k.process(t, "Anna")

	var made struct {
		Kiosk struct{ ID, Name string }
		Token string
	}
	if st := a.call("POST", "/api/v1/kiosks", k.adv, map[string]string{"name": "Filiale Mitte", "pin": "24681357"}, nil); st != http.StatusForbidden {
		t.Fatalf("advisor creates a kiosk: %d", st)
	}
	if st := a.call("POST", "/api/v1/kiosks", k.admin, map[string]string{"name": "Filiale Mitte", "pin": "123"}, nil); st != http.StatusBadRequest {
		t.Fatalf("short PIN: %d", st)
	}
	if st := a.call("POST", "/api/v1/kiosks", k.admin, map[string]string{"name": "Filiale Mitte", "pin": "24681357"}, &made); st != http.StatusCreated || !strings.HasPrefix(made.Token, "pkd_") {
		t.Fatalf("create kiosk: %d %+v", st, made)
	}
	kt := made.Token
	var list struct{ Kiosks []struct{ ID string } }
	if st := a.call("GET", "/api/v1/kiosks", k.adv, nil, &list); st != http.StatusOK || len(list.Kiosks) != 1 {
		t.Fatalf("advisor lists kiosks: %d %+v", st, list)
	}
	var me struct{ ID, Name, TenantName string }
	if st := a.call("GET", "/api/v1/kiosk/me", kt, nil, &me); st != http.StatusOK || me.ID != made.Kiosk.ID || me.Name != "Filiale Mitte" {
		t.Fatalf("me: %d %+v", st, me)
	}
	if st := a.call("GET", "/api/v1/kiosk/me", k.adv, nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("advisor session as kiosk token: %d", st)
	}

	var q struct {
		EntryID    string `json:"entry_id"`
		PickupCode string `json:"pickup_code"`
		ExpiresAt  time.Time
	}
	if st := a.call("POST", "/api/v1/signing/processes/"+id+"/kiosk", k.adv, map[string]string{"kiosk_id": made.Kiosk.ID}, &q); st != http.StatusOK || len(q.PickupCode) != 6 {
		t.Fatalf("queue: %d %+v", st, q)
	}
	var queue struct {
		Entries []struct {
			EntryID     string `json:"entry_id"`
			Title       string
			AdvisorName string `json:"advisor_name"`
		}
	}
	if st := a.call("GET", "/api/v1/kiosk/queue", kt, nil, &queue); st != http.StatusOK || len(queue.Entries) != 1 ||
		queue.Entries[0].Title != "Depotvertrag" || queue.Entries[0].AdvisorName != "Erika Beraterin" {
		t.Fatalf("queue: %d %+v", st, queue)
	}
	wrong := "000000"
	if wrong == q.PickupCode {
		wrong = "000001"
	}
	st, _, body := a.fetch("POST", "/api/v1/kiosk/open", kt, "application/json", jsonReader(t, map[string]string{"code": wrong}))
	if st != http.StatusForbidden || errCode(body) != "invalid_code" {
		t.Fatalf("wrong code: %d %s", st, body)
	}
	var opened struct {
		Token, Session, Signer, Title string
		Fields                        []pdf.Field
	}
	if st := a.call("POST", "/api/v1/kiosk/open", kt, map[string]string{"code": q.PickupCode}, &opened); st != http.StatusOK ||
		!strings.HasPrefix(opened.Token, "psg_") || !strings.HasPrefix(opened.Session, "pss_") || opened.Signer != "customer1" || len(opened.Fields) != 1 {
		t.Fatalf("open: %d %+v", st, opened)
	}
	if st := a.call("POST", "/api/v1/kiosk/open", kt, map[string]string{"code": q.PickupCode}, nil); st != http.StatusForbidden {
		t.Fatalf("code used twice: %d", st)
	}
	base := "/api/v1/sign/" + opened.Token
	if st, _, doc := a.fetch("GET", base+"/document", opened.Session, "", nil); st != http.StatusOK || !bytes.HasPrefix(doc, []byte("%PDF")) {
		t.Fatalf("document: %d", st)
	}
	// Hostile records: 422 with a reason, nothing stored.
	for name, c := range map[string]map[string]any{
		"garbage": {"iso19794": base64.StdEncoding.EncodeToString([]byte("SDI\x00020\x00xxxxxxxx")), "device": "evdev: Wacom"},
		"base64":  {"iso19794": "!!!", "device": "evdev: Wacom"},
		"device":  {"iso19794": base64.StdEncoding.EncodeToString(kioskRecord(t)), "device": "\x00"},
	} {
		st, _, body := a.fetch("POST", base+"/submit", opened.Session, "application/json", jsonReader(t, c))
		if st != http.StatusUnprocessableEntity || errCode(body) != "invalid_signature_record" {
			t.Errorf("%s: %d %s", name, st, body)
		}
	}
	var p struct{ Process signing.Process }
	if a.call("GET", "/api/v1/signing/processes/"+id, k.adv, nil, &p); p.Process.Status != signing.StatusSent || len(p.Process.Versions) != 1 {
		t.Fatalf("a refused record changed the process: %+v", p.Process)
	}
	rec := kioskRecord(t)
	st, _, body = a.fetch("POST", base+"/submit", opened.Session, "application/json", jsonReader(t, map[string]any{
		"iso19794": base64.StdEncoding.EncodeToString(rec), "device": "evdev: Wacom STU-540 Pen"}))
	if st != http.StatusOK {
		t.Fatalf("submit: %d %s", st, body)
	}
	if a.call("GET", "/api/v1/signing/processes/"+id, k.adv, nil, &p); p.Process.Status != signing.StatusCompleted {
		t.Fatalf("after the kiosk: %s", p.Process.Status)
	}
	final := k.final(t, id)
	reports, err := pdf.Verify(final, k.sealRoots(t))
	if err != nil || len(reports) != 2 || reports[0].Channel != signing.ChannelKiosk || !reports[0].Valid || !reports[0].EnvelopeBound || !reports[1].Valid {
		t.Fatalf("verify: %+v %v", reports, err)
	}
	if !auditSays(t, final, "channel kiosk") {
		t.Fatal("the audit page does not name the kiosk channel")
	}

	// Unlock: right, wrong, then the limit.
	if st := a.call("POST", "/api/v1/kiosk/unlock", kt, map[string]string{"pin": "24681357"}, nil); st != http.StatusNoContent {
		t.Fatalf("unlock: %d", st)
	}
	for range 5 {
		st, _, body := a.fetch("POST", "/api/v1/kiosk/unlock", kt, "application/json", jsonReader(t, map[string]string{"pin": "11111111"}))
		if st != http.StatusForbidden || errCode(body) != "wrong_pin" {
			t.Fatalf("wrong pin: %d %s", st, body)
		}
	}
	if st, hd, _ := a.fetch("POST", "/api/v1/kiosk/unlock", kt, "application/json", jsonReader(t, map[string]string{"pin": "24681357"})); st != http.StatusTooManyRequests || hd.Get("Retry-After") == "" {
		t.Fatalf("after 5 wrong PINs: %d", st)
	}

	// Deleting the kiosk kills its token at once.
	if st := a.call("DELETE", "/api/v1/kiosks/"+made.Kiosk.ID, k.admin, nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	if st := a.call("GET", "/api/v1/kiosk/me", kt, nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("deleted kiosk: %d", st)
	}
	var audit struct {
		Entries []struct{ Action, Actor string }
	}
	a.call("GET", "/api/v1/audit", k.admin, nil, &audit)
	seen := map[string]bool{}
	for _, e := range audit.Entries {
		seen[e.Action] = true
	}
	for _, act := range []string{"kiosk.create", "kiosk.queue", "kiosk.open", "kiosk.delete"} {
		if !seen[act] {
			t.Errorf("audit lacks %s (%v)", act, seen)
		}
	}
}

// sealRoots is the tenant's seal CA as a pool.
func (k *kioskSetup) sealRoots(t *testing.T) *x509.CertPool {
	st, _, pemData := k.a.fetch("GET", "/api/v1/signing/seal-ca", k.admin, "", nil)
	blk, _ := pem.Decode(pemData)
	if st != http.StatusOK || blk == nil {
		t.Fatalf("seal CA: %d", st)
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return roots
}

// auditSays reports whether one of doc's Flate streams (the audit page's
// content) holds text.
func auditSays(t *testing.T, doc []byte, text string) bool {
	t.Helper()
	for rest := doc; ; {
		i := bytes.Index(rest, []byte("stream\n"))
		if i < 0 {
			return false
		}
		rest = rest[i+len("stream\n"):]
		zr, err := zlib.NewReader(bytes.NewReader(rest))
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(zr, 1<<20))
		if bytes.Contains(b, []byte(text)) {
			return true
		}
	}
}

// TestKioskCallAndPresent: a kiosk calls, two advisors accept at once
// (one wins), the kiosk joins the meeting with the secret handed over once,
// and the advisor presents a process to it: the kiosk's signalling
// connection alone gets sign_request, whose URL signs with channel meeting.
func TestKioskCallAndPresent(t *testing.T) {
	k := newKioskSetup(t)
	a := k.a
	var made struct {
		Kiosk struct{ ID string }
		Token string
	}
	if st := a.call("POST", "/api/v1/kiosks", k.admin, map[string]string{"name": "Filiale Nord", "pin": "246813"}, &made); st != http.StatusCreated {
		t.Fatalf("kiosk: %d", st)
	}
	kt := made.Token
	var call struct{ ID, Status string }
	if st := a.call("POST", "/api/v1/kiosk/calls", kt, nil, &call); st != http.StatusCreated || call.Status != "waiting" {
		t.Fatalf("call: %d %+v", st, call)
	}
	var calls struct {
		Calls []struct {
			ID        string
			KioskName string `json:"kiosk_name"`
		}
	}
	if st := a.call("GET", "/api/v1/kiosk-calls", k.adv, nil, &calls); st != http.StatusOK || len(calls.Calls) != 1 || calls.Calls[0].KioskName != "Filiale Nord" {
		t.Fatalf("calls: %d %+v", st, calls)
	}
	// The admin and the advisor accept at once: one wins.
	var wg sync.WaitGroup
	status := map[string]int{}
	var mu sync.Mutex
	var meetingID string
	for _, who := range []string{k.admin, k.adv} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out struct{ Meeting struct{ ID string } }
			st := a.call("POST", "/api/v1/kiosk-calls/"+call.ID+"/accept", who, nil, &out)
			mu.Lock()
			defer mu.Unlock()
			status[who] = st
			if st == http.StatusOK {
				meetingID = out.Meeting.ID
			}
		}()
	}
	wg.Wait()
	if (status[k.admin] == http.StatusOK) == (status[k.adv] == http.StatusOK) || meetingID == "" {
		t.Fatalf("accepts: %v", status)
	}
	host := k.adv
	if status[k.admin] == http.StatusOK {
		host = k.admin
	}
	for _, st := range status {
		if st != http.StatusOK && st != http.StatusConflict {
			t.Fatalf("loser: %d", st)
		}
	}
	var raw map[string]string
	if st := a.call("GET", "/api/v1/kiosk/calls/"+call.ID, kt, nil, &raw); st != http.StatusOK || raw["status"] != "accepted" || raw["meeting_id"] != meetingID || !strings.HasPrefix(raw["participant_secret"], "pmp_") {
		t.Fatalf("poll: %d %v", st, raw)
	}
	secret := raw["participant_secret"]
	raw = nil
	if a.call("GET", "/api/v1/kiosk/calls/"+call.ID, kt, nil, &raw); raw["participant_secret"] != "" || raw["meeting_id"] != meetingID {
		t.Fatalf("second poll: %v", raw)
	}

	// The kiosk connects like a browser guest.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(k.s.URL(), "https")+"/api/v1/signal", &websocket.DialOptions{HTTPClient: a.c})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	hello, _ := json.Marshal(map[string]string{"type": "hello", "token": secret})
	if err := ws.Write(ctx, websocket.MessageText, hello); err != nil {
		t.Fatal(err)
	}
	read := func(want string) map[string]json.RawMessage {
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", want, err)
			}
			var m map[string]json.RawMessage
			_ = json.Unmarshal(b, &m)
			if string(m["type"]) == `"`+want+`"` {
				return m
			}
		}
	}
	read("welcome")

	var parts struct{ Participants []struct{ ID, State string } }
	if st := a.call("GET", "/api/v1/meetings/"+meetingID+"/participants", host, nil, &parts); st != http.StatusOK || len(parts.Participants) != 1 {
		t.Fatalf("participants: %d %+v", st, parts)
	}
	pid := parts.Participants[0].ID
	id := k.process(t, "Berta")
	other := k.adv
	if host == k.adv {
		other = k.admin
	}
	if st, _, body := a.fetch("POST", "/api/v1/signing/processes/"+id+"/present", other, "application/json",
		jsonReader(t, map[string]string{"meeting_id": meetingID, "participant_id": pid})); st < 400 {
		t.Fatalf("present by who does not host: %d %s", st, body)
	}
	if st, _, body := a.fetch("POST", "/api/v1/signing/processes/"+id+"/present", host, "application/json",
		jsonReader(t, map[string]string{"meeting_id": meetingID, "participant_id": "0123456789abcdef0123456789abcdef"})); errCode(body) != "participant_not_found" {
		t.Fatalf("unknown participant: %d %s", st, body)
	}
	var pres struct {
		Signer    string
		Delivered bool
	}
	if st := a.call("POST", "/api/v1/signing/processes/"+id+"/present", host, map[string]string{"meeting_id": meetingID, "participant_id": pid}, &pres); st != http.StatusOK ||
		pres.Signer != "customer1" || !pres.Delivered {
		t.Fatalf("present: %d %+v", st, pres)
	}
	m := read("sign_request")
	var sr struct{ Process, Title, URL string }
	_ = json.Unmarshal(m["sign"], &sr)
	tok, sess, ok := strings.Cut(strings.TrimPrefix(sr.URL, "/s/"), "#session=")
	if sr.Process != id || sr.Title != "Depotvertrag" || !ok || !strings.HasPrefix(tok, "psg_") || !strings.HasPrefix(sess, "pss_") {
		t.Fatalf("sign_request %+v", sr)
	}
	if st, _, body := a.fetch("POST", "/api/v1/sign/"+tok+"/submit", sess, "application/json", jsonReader(t, map[string]any{"pointer": penJSON(0)})); st != http.StatusOK {
		t.Fatalf("submit: %d %s", st, body)
	}
	reports, err := pdf.Verify(k.final(t, id), k.sealRoots(t))
	if err != nil || len(reports) != 2 || reports[0].Channel != signing.ChannelMeeting {
		t.Fatalf("verify: %+v %v", reports, err)
	}
	// The process is done: presenting again is refused.
	if st, _, body := a.fetch("POST", "/api/v1/signing/processes/"+id+"/present", host, "application/json",
		jsonReader(t, map[string]string{"meeting_id": meetingID, "participant_id": pid})); errCode(body) != "not_customers_turn" {
		t.Fatalf("present a completed process: %d %s", st, body)
	}
}
