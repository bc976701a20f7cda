package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/app"
	"parley/relay/auth"
	"parley/relay/certs"
	"parley/relay/server"
	"parley/relay/signal/msg"
	"parley/sync/link"
)

// pinnedHTTP is an HTTP client that trusts only the relay's certificate.
func pinnedHTTP(t *testing.T, dir string) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(dir, "tls", certs.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in the relay's folder")
	}
	tr := &http.Transport{Proxy: nil, ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// goCustomer is a customer's signalling connection from Go: it joins by
// the meeting's link, and accepts every recording request it is asked.
type goCustomer struct {
	id string
	ws *websocket.Conn
}

func joinAsCustomer(t *testing.T, ctx context.Context, hc *http.Client, base, joinURL string) (id, secret string) {
	t.Helper()
	token := joinURL[strings.LastIndex(joinURL, "/")+1:]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/join/"+token, bytes.NewBufferString(`{"name":"Paula Probe"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var joined struct {
		ParticipantID string `json:"participant_id"`
		Secret        string `json:"secret"`
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("join: %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&joined); err != nil || joined.Secret == "" {
		t.Fatalf("join: %+v %v", joined, err)
	}
	return joined.ParticipantID, joined.Secret
}

func (g *goCustomer) run(ctx context.Context) {
	send := func(m msg.Message) {
		b, _ := msg.Encode(m)
		_ = g.ws.Write(ctx, websocket.MessageText, b)
	}
	for {
		_, b, err := g.ws.Read(ctx)
		if err != nil {
			return
		}
		var m msg.Message
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if m.Type == msg.TypeRecording && m.Recording != nil && m.Recording.Asked {
			send(msg.Message{Type: msg.TypeRecord, Action: msg.RecordAccept})
		}
	}
}

// callEvents collects a call's events for the test.
type callEvents struct {
	mu  sync.Mutex
	evs []app.CallEvent
}

func (c *callEvents) follow(call app.Call) {
	for ev := range call.Events() {
		c.mu.Lock()
		c.evs = append(c.evs, ev)
		c.mu.Unlock()
	}
}

// until waits for an event matching ok after the first from events and
// returns its index; ctx bounds the wait.
func (c *callEvents) until(t *testing.T, ctx context.Context, from int, what string, ok func(app.CallEvent) bool) int {
	t.Helper()
	for {
		c.mu.Lock()
		for i := from; i < len(c.evs); i++ {
			if ok(c.evs[i]) {
				c.mu.Unlock()
				return i
			}
		}
		n := len(c.evs)
		c.mu.Unlock()
		if ctx.Err() != nil {
			t.Fatalf("never saw %s (%d events)", what, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDesktopCallRecording runs the desktop's call adapter against the
// real relay: the advisor asks to record, a customer (Go signalling
// client) accepts, and the call view's events say "recording" with the
// customer's consent; a second request is refused in words; stopping
// turns it off.
func TestDesktopCallRecording(t *testing.T) {
	const password = "Leuchtturm-Hafen-2026"
	dir := t.TempDir()
	s, err := server.Start(context.Background(), server.Options{
		DataDir: dir, Listen: "127.0.0.1:0", MediaListen: "127.0.0.1:0", TenantSlug: "bank",
		AdminPassword: password, Hash: auth.TestHashParams,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := link.New(link.Options{})
	t.Cleanup(func() { c.Close() })
	r := &linkRelay{c: c}
	if err := r.Trust(s.URL(), s.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Connect(ctx, s.URL()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Login(ctx, "bank", "admin", password); err != nil {
		t.Fatal(err)
	}
	mi, jl, err := r.StartMeeting(ctx, "Beratung")
	if err != nil {
		t.Fatal(err)
	}

	lc := &linkCalls{c: c, log: slog.New(slog.DiscardHandler), synthetic: true}
	t.Cleanup(lc.close)
	call, err := lc.JoinCall(ctx, mi.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = call.Leave() })
	rec, ok := call.(app.CallRecorder)
	if !ok {
		t.Fatal("the desktop call is not an app.CallRecorder")
	}
	evs := &callEvents{}
	go evs.follow(call)
	evs.until(t, ctx, 0, "the roster", func(ev app.CallEvent) bool { _, ok := ev.(app.RosterEvent); return ok })

	hc := pinnedHTTP(t, dir)
	pid, secret := joinAsCustomer(t, ctx, hc, s.URL(), jl.URL)
	if err := r.AdmitGuest(ctx, mi.ID, pid); err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(s.URL(), "https")+"/api/v1/signal",
		&websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Origin": {s.URL()}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	ws.SetReadLimit(-1)
	hello, _ := msg.Encode(msg.Message{Type: msg.TypeHello, Token: secret})
	if err := ws.Write(ctx, websocket.MessageText, hello); err != nil {
		t.Fatal(err)
	}
	g := &goCustomer{id: pid, ws: ws}
	go g.run(ctx)
	evs.until(t, ctx, 0, "the customer in the roster", func(ev app.CallEvent) bool {
		re, ok := ev.(app.RosterEvent)
		if !ok {
			return false
		}
		for _, p := range re.Participants {
			if p.GuestID == pid {
				return true
			}
		}
		return false
	})

	if err := rec.SetRecording(ctx, true); err != nil {
		t.Fatalf("request: %v", err)
	}
	on := evs.until(t, ctx, 0, "state recording with the customer's consent", func(ev app.CallEvent) bool {
		re, ok := ev.(app.RecordingEvent)
		return ok && re.Phase == app.RecordingOn && len(re.Accepted) == 1 && re.Accepted[0] == pid && len(re.Awaiting) == 0
	})
	err = rec.SetRecording(ctx, true)
	var re recordError
	if !errors.As(err, &re) || re.code != "record_already_requested" || !strings.Contains(err.Error(), "already been asked") {
		t.Fatalf("second request: %v", err)
	}
	if err := rec.SetRecording(ctx, false); err != nil {
		t.Fatalf("stop: %v", err)
	}
	evs.until(t, ctx, on+1, "state off after stop", func(ev app.CallEvent) bool {
		re, ok := ev.(app.RecordingEvent)
		return ok && re.Phase == app.RecordingOff
	})
}
