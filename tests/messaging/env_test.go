package messaging_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"parley/relay/auth"
	"parley/relay/channels/fake"
	"parley/relay/clock"
	"parley/relay/server"
	"parley/tests/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	adminPassword   = "Leuchtfeuer-Nordsee-3141"
	advisorPassword = "Wattenmeer-bei-Ebbe-2718"
	advisorName     = "Greta Gezeitenberg"
)

// provider is one fake provider wired to a relay channel.
type provider struct {
	kind  string
	creds map[string]string
	// post sends the i-th customer message (a new provider id per i) with
	// text; forged signs it wrongly.
	post func(ctx context.Context, hook string, i int, text string, forged bool) (int, error)
	// sent returns the texts the provider accepted, with their recipient.
	sent func() []sentMsg
	// fail fails the next n provider API requests with 503.
	fail func(n int)
	// address is the customer's address the conversation carries.
	address string
}

type sentMsg struct{ To, Text string }

// env is a relay in-process with the four fakes and an SMTP server.
type env struct {
	t        testing.TB
	s        *server.Server
	clk      *clock.Fake
	http     *http.Client
	admin    string
	advisor  string
	advID    string
	mails    *mailServer
	provs    map[string]*provider
	hooks    map[string]string // kind → webhook URL
	fakeSrvs map[string]*httptest.Server
	dir      string // the relay's data folder
	// The fakes themselves, for tests that look at more than texts.
	wa *fake.WhatsApp
	ms *fake.Messenger
	tg *fake.Telegram
	tw *fake.Twilio
}

func startEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, clk: clock.NewFake(time.Now().UTC().Truncate(time.Second)), provs: map[string]*provider{}, hooks: map[string]string{}, fakeSrvs: map[string]*httptest.Server{}}
	e.mails = startMail(t)
	wa := &fake.WhatsApp{PhoneNumberID: "1234567890", Token: "EAAG-wa-token-0001", AppSecret: "wa-app-secret"}
	ms := &fake.Messenger{PageID: "998877", PageToken: "EAAG-page-token-0002", AppSecret: "fb-app-secret"}
	tg := &fake.Telegram{Token: "123456:AAE-bot-token", SecretToken: "tg-secret-token-0003"}
	tw := &fake.Twilio{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "twilio-auth-token"}
	base := map[string]string{}
	for kind, h := range map[string]http.Handler{"whatsapp": wa, "messenger": ms, "telegram": tg, "sms": tw} {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		base[kind], e.fakeSrvs[kind] = srv.URL, srv
	}
	dir := t.TempDir()
	s, err := server.Start(context.Background(), server.Options{DataDir: dir, Listen: "127.0.0.1:0", TenantSlug: "bank", TenantName: "Küstenbank",
		AdminPassword: adminPassword, Hash: auth.TestHashParams, Clock: e.clk, SweepInterval: time.Hour,
		Mail:     server.MailOptions{SMTPAddr: e.mails.addr, TLS: "none", From: "parley@bank.test"},
		Channels: server.ChannelOptions{BaseURLs: base}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	e.s, e.dir = s, dir
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(testenv.CertFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	e.http = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, MaxIdleConnsPerHost: 64}, Timeout: 60 * time.Second}
	wa.Client, ms.Client, tg.Client, tw.Client = e.http, e.http, e.http, e.http
	e.wa, e.ms, e.tg, e.tw = wa, ms, tg, tw
	e.setUpUsers()

	e.provs["whatsapp"] = &provider{kind: "whatsapp", address: "4915150000001",
		creds: map[string]string{"access_token": wa.Token, "phone_number_id": wa.PhoneNumberID, "app_secret": wa.AppSecret},
		post: func(ctx context.Context, hook string, i int, text string, forged bool) (int, error) {
			body := fake.WhatsAppText(wa.PhoneNumberID, "4915150000001", "Wiebke Wal", "wamid.e2e."+strconv.Itoa(i), text, e.clk.Now())
			if forged {
				return (&fake.WhatsApp{AppSecret: "not-the-secret", Client: e.http}).PostWebhook(ctx, hook, body)
			}
			return wa.PostWebhook(ctx, hook, body)
		},
		sent: func() []sentMsg {
			var out []sentMsg
			for _, m := range wa.Sent() {
				out = append(out, sentMsg{m.To, m.Text})
			}
			return out
		},
		fail: func(n int) { wa.Fail(n, fake.Unavailable) }}
	e.provs["messenger"] = &provider{kind: "messenger", address: "2468013579",
		creds: map[string]string{"page_token": ms.PageToken, "page_id": ms.PageID, "app_secret": ms.AppSecret},
		post: func(ctx context.Context, hook string, i int, text string, forged bool) (int, error) {
			body := fake.MessengerText(ms.PageID, "2468013579", "m_e2e_"+strconv.Itoa(i), text, e.clk.Now())
			if forged {
				return (&fake.Messenger{AppSecret: "not-the-secret", Client: e.http}).PostWebhook(ctx, hook, body)
			}
			return ms.PostWebhook(ctx, hook, body)
		},
		sent: func() []sentMsg {
			var out []sentMsg
			for _, m := range ms.Sent() {
				out = append(out, sentMsg{m.To, m.Text})
			}
			return out
		},
		fail: func(n int) { ms.Fail(n, fake.Unavailable) }}
	e.provs["telegram"] = &provider{kind: "telegram", address: "55501234",
		creds: map[string]string{"bot_token": tg.Token, "secret_token": tg.SecretToken},
		post: func(ctx context.Context, hook string, i int, text string, forged bool) (int, error) {
			body := fake.TelegramText(int64(1000+i), 55501234, int64(i), "Tilo", text, e.clk.Now())
			if forged {
				return (&fake.Telegram{SecretToken: "not-the-secret-token", Client: e.http}).PostWebhook(ctx, hook, body)
			}
			return tg.PostWebhook(ctx, hook, body)
		},
		sent: func() []sentMsg {
			var out []sentMsg
			for _, m := range tg.Sent() {
				out = append(out, sentMsg{m.ChatID, m.Text})
			}
			return out
		},
		fail: func(n int) { tg.Fail(n, fake.Unavailable) }}
	e.provs["sms"] = &provider{kind: "sms", address: "+4915150000009",
		creds: map[string]string{"auth_token": tw.AuthToken, "account_sid": tw.AccountSID, "from": "+4930123456"},
		post: func(ctx context.Context, hook string, i int, text string, forged bool) (int, error) {
			form := fake.TwilioInbound(tw.AccountSID, "SM"+strconv.Itoa(100000+i), "+4915150000009", "+4930123456", text, nil, nil)
			if forged {
				return (&fake.Twilio{AuthToken: "not-the-token", Client: e.http}).PostWebhook(ctx, hook, hook, form)
			}
			return tw.PostWebhook(ctx, hook, hook, form)
		},
		sent: func() []sentMsg {
			var out []sentMsg
			for _, m := range tw.Sent() {
				out = append(out, sentMsg{m.To, m.Body})
			}
			return out
		},
		fail: func(n int) { tw.Fail(n, fake.Unavailable) }}
	for kind, p := range e.provs {
		var ch struct {
			WebhookURL string `json:"webhook_url"`
		}
		if st := e.call("POST", "/api/v1/channels", e.admin, map[string]any{"kind": kind, "advisor_id": e.advID, "credentials": p.creds}, &ch); st != 201 {
			t.Fatalf("channel %s: %d", kind, st)
		}
		e.hooks[kind] = ch.WebhookURL
	}
	return e
}

func (e *env) setUpUsers() {
	t := e.t
	var login struct{ Token string }
	if st := e.call("POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": "admin", "password": adminPassword}, &login); st != 200 {
		t.Fatalf("admin login: %d", st)
	}
	e.admin = login.Token
	var u struct{ ID string }
	if st := e.call("POST", "/api/v1/users", e.admin, map[string]string{"username": "greta", "display_name": advisorName, "email": "greta@bank.test", "password": "Erstes-Passwort-0001"}, &u); st != 201 {
		t.Fatalf("advisor: %d", st)
	}
	e.advID = u.ID
	e.call("POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": "greta", "password": "Erstes-Passwort-0001"}, &login)
	if st := e.call("POST", "/api/v1/me/password", login.Token, map[string]string{"current_password": "Erstes-Passwort-0001", "new_password": advisorPassword}, nil); st != 204 {
		t.Fatalf("advisor password: %d", st)
	}
	e.call("POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": "greta", "password": advisorPassword}, &login)
	e.advisor = login.Token
}

// call sends body as JSON (nil: none) and decodes the answer into out.
func (e *env) call(method, path, token string, body, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.s.URL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	// Read to the end so that the connection is reused (an unread body
	// closes it, and the next request pays a new TLS handshake).
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// eventually runs the due outbox jobs (stepping the clock past back-offs)
// until ok holds; the deadline only stops a hung test.
func (e *env) eventually(what string, step time.Duration, ok func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not reached", what)
		}
		if step > 0 {
			e.clk.Advance(step)
		}
		if _, err := e.s.DeliverDue(context.Background()); err != nil {
			e.t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- an SMTP server on loopback ----

type mailServer struct {
	addr string
	mu   sync.Mutex
	msgs [][]byte
}

func startMail(t testing.TB) *mailServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &mailServer{addr: ln.Addr().String()}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{m: m}, nil }))
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return m
}

func (m *mailServer) all() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.msgs...)
}

type session struct{ m *mailServer }

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }
func (s *session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	s.m.msgs = append(s.m.msgs, b)
	s.m.mu.Unlock()
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }
