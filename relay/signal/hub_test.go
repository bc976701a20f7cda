package signal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/meeting"
	"parley/relay/sfu"
	"parley/relay/signal"
	"parley/relay/signal/msg"
	"parley/relay/store"
)

// pipeConn is one end of an in-memory signalling connection.
type pipeConn struct {
	in, out chan []byte
	once    *sync.Once // shared by both ends
	closed  chan struct{}
}

func newPipe() (server, client *pipeConn) {
	a, b := make(chan []byte, 256), make(chan []byte, 256)
	closed, once := make(chan struct{}), &sync.Once{}
	return &pipeConn{in: a, out: b, closed: closed, once: once}, &pipeConn{in: b, out: a, closed: closed, once: once}
}

func (p *pipeConn) Read(ctx context.Context) ([]byte, error) {
	select { // what was written before the close is still read
	case b := <-p.in:
		return b, nil
	default:
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.closed:
		return nil, errors.New("closed")
	case b := <-p.in:
		return b, nil
	}
}

func (p *pipeConn) Write(ctx context.Context, b []byte) error {
	select {
	case <-p.closed:
		return errors.New("closed")
	case p.out <- append([]byte(nil), b...):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipeConn) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// fakeSessions accepts "pst_<user>" for users of tenant "t1".
type fakeSessions struct{}

func (fakeSessions) Authenticate(_ context.Context, tok string) (auth.Session, error) {
	if !strings.HasPrefix(tok, "pst_") {
		return auth.Session{}, errors.New("bad token")
	}
	return auth.Session{ID: "s", TenantID: "t1", UserID: strings.TrimPrefix(tok, "pst_"), Role: auth.RoleAdvisor}, nil
}

func (fakeSessions) GetUser(_ context.Context, tenantID, userID string) (auth.User, error) {
	return auth.User{ID: userID, TenantID: tenantID, DisplayName: "Advisor " + userID}, nil
}

// memTimeline is an in-memory Timeline with the nonce rule.
type memTimeline struct {
	mu      sync.Mutex
	entries map[string][]msg.Entry
}

func (t *memTimeline) Post(_ context.Context, meetingID string, a signal.Author, text, nonce string) (msg.Entry, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil {
		t.entries = map[string][]msg.Entry{}
	}
	for _, e := range t.entries[meetingID] {
		if nonce != "" && e.Nonce == nonce && e.From == a.ID {
			return e, false, nil
		}
	}
	e := msg.Entry{ID: fmt.Sprintf("e%d", len(t.entries[meetingID])+1), Seq: uint64(len(t.entries[meetingID]) + 1),
		From: a.ID, Name: a.Name, Role: a.Role, Text: text, Nonce: nonce, Sent: time.Now()}
	t.entries[meetingID] = append(t.entries[meetingID], e)
	return e, true, nil
}

func (t *memTimeline) Since(_ context.Context, meetingID string, since uint64, limit int) ([]msg.Entry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []msg.Entry
	for _, e := range t.entries[meetingID] {
		if e.Seq > since && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

type env struct {
	t        testing.TB
	ctx      context.Context
	meetings *meeting.Service
	hub      *signal.Hub
	sfu      *sfu.SFU
	timeline *memTimeline
	m        meeting.Meeting
	token    string
	advisor  meeting.Actor
}

func newEnv(t testing.TB, configure ...func(*signal.Options)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ms, err := meeting.New(meeting.Options{Store: &store.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sfu.New(sfu.Options{UDP: udp, PublicIPs: []string{"127.0.0.1"}, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	tl := &memTimeline{}
	opts := signal.Options{SFU: s, Meetings: ms, Sessions: fakeSessions{}, Timeline: tl,
		ICE: func(peer string) []msg.ICEServer {
			return []msg.ICEServer{{URLs: []string{"turn:127.0.0.1:3478"}, Username: "u:" + peer, Credential: "c"}}
		}}
	for _, f := range configure {
		f(&opts)
	}
	hub := signal.New(opts)
	t.Cleanup(hub.Close)
	m, tok, err := ms.CreateInstant(ctx, meeting.NewMeeting{TenantID: "t1", AdvisorID: "u1", AdvisorName: "Anna", Initiator: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, meetings: ms, hub: hub, sfu: s, timeline: tl, m: m, token: tok, advisor: meeting.Actor{TenantID: "t1", UserID: "u1"}}
}

// peer is a test client speaking the protocol over a pipe.
type peer struct {
	t    testing.TB
	conn *pipeConn
	done chan error
}

func (e *env) connect(sess *auth.Session) *peer {
	srv, cli := newPipe()
	p := &peer{t: e.t, conn: cli, done: make(chan error, 1)}
	go func() { p.done <- e.hub.Serve(e.ctx, srv, sess) }()
	e.t.Cleanup(func() { _ = cli.Close() })
	return p
}

func (p *peer) send(m msg.Message) {
	p.t.Helper()
	b, err := msg.Encode(m)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.conn.Write(context.Background(), b); err != nil {
		p.t.Fatalf("send %s: %v", m.Type, err)
	}
}

func (p *peer) sendRaw(s string) {
	p.t.Helper()
	if err := p.conn.Write(context.Background(), []byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

// next returns the next message of type typ, skipping others.
func (p *peer) next(typ string) msg.Message {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		b, err := p.conn.Read(ctx)
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", typ, err)
		}
		var m msg.Message
		if err := jsonUnmarshal(b, &m); err != nil {
			p.t.Fatal(err)
		}
		if m.Type == typ {
			return m
		}
	}
}

// customer joins the waiting room and, if admit, is admitted.
func (e *env) customer(name string, admit bool) meeting.Joined {
	e.t.Helper()
	j, err := e.meetings.Join(e.ctx, e.token, meeting.JoinRequest{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	if admit {
		if err := e.meetings.Admit(e.ctx, e.advisor, e.m.ID, j.ParticipantID); err != nil {
			e.t.Fatal(err)
		}
	}
	return j
}

func TestHelloRules(t *testing.T) {
	e := newEnv(t)
	waiting := e.customer("Max", false)
	cases := []struct {
		name  string
		first string
		sess  *auth.Session
		code  string
	}{
		{"not hello first", `{"type":"ping"}`, nil, "hello_required"},
		{"garbage", `{"type":`, nil, "bad_message"},
		{"unknown field", `{"type":"hello","x":1}`, nil, "bad_message"},
		{"no token", `{"type":"hello"}`, nil, "unauthorized"},
		{"forged secret", `{"type":"hello","token":"pmp_AAAA"}`, nil, "unauthorized"},
		{"waiting customer", `{"type":"hello","token":"` + waiting.Secret + `"}`, nil, "not_admitted"},
		{"advisor without meeting", `{"type":"hello"}`, &auth.Session{TenantID: "t1", UserID: "u1"}, "bad_message"},
		{"other advisor", `{"type":"hello","meeting_id":"` + e.m.ID + `"}`, &auth.Session{TenantID: "t1", UserID: "u2"}, "forbidden"},
		{"other tenant", `{"type":"hello","meeting_id":"` + e.m.ID + `"}`, &auth.Session{TenantID: "t2", UserID: "u1"}, "forbidden"},
		{"advisor must change password", `{"type":"hello","meeting_id":"` + e.m.ID + `"}`, &auth.Session{TenantID: "t1", UserID: "u1", MustChangePassword: true}, "forbidden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := e.connect(c.sess)
			p.sendRaw(c.first)
			got := p.next(msg.TypeError)
			if got.Code != c.code {
				t.Fatalf("code %q (%s), want %q", got.Code, got.Message, c.code)
			}
			select {
			case err := <-p.done:
				if err == nil {
					t.Fatal("Serve returned nil for a refused connection")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("connection not closed after a fatal error")
			}
		})
	}
}

func TestMeetingFlow(t *testing.T) {
	e := newEnv(t)
	adv := e.connect(&auth.Session{TenantID: "t1", UserID: "u1"})
	adv.send(msg.Message{Type: msg.TypeHello, MeetingID: e.m.ID})
	w := adv.next(msg.TypeWelcome)
	if w.Role != msg.RoleAdvisor || w.PeerID == "" || len(w.ICEServers) != 1 || !strings.HasSuffix(w.ICEServers[0].Username, w.PeerID) {
		t.Fatalf("welcome %+v", w)
	}
	if r := adv.next(msg.TypeRoster); len(r.Peers) != 1 || r.Peers[0].Name != "Advisor u1" {
		t.Fatalf("first roster %+v", r.Peers)
	}
	if wt := adv.next(msg.TypeWaiting); len(wt.Waiting) != 0 {
		t.Fatalf("waiting room at start: %+v", wt.Waiting)
	}

	// A customer entering the waiting room shows up there.
	j := e.customer("Max Mustermann", false)
	if wt := adv.next(msg.TypeWaiting); len(wt.Waiting) != 1 || wt.Waiting[0].Name != "Max Mustermann" || wt.Waiting[0].ID != j.ParticipantID {
		t.Fatalf("waiting room after join: %+v", wt.Waiting)
	}
	if err := e.meetings.Admit(e.ctx, e.advisor, e.m.ID, j.ParticipantID); err != nil {
		t.Fatal(err)
	}
	cust := e.connect(nil)
	cust.send(msg.Message{Type: msg.TypeHello, Token: j.Secret})
	if w := cust.next(msg.TypeWelcome); w.Role != msg.RoleCustomer {
		t.Fatalf("customer welcome %+v", w)
	}
	r := cust.next(msg.TypeRoster)
	if len(r.Peers) != 2 || r.Peers[0].Role != msg.RoleAdvisor || r.Peers[1].Name != "Max Mustermann" ||
		r.Peers[0].ParticipantID != "" || r.Peers[1].ParticipantID != j.ParticipantID {
		t.Fatalf("roster %+v", r.Peers)
	}

	// Media state reaches the roster.
	cust.send(msg.Message{Type: msg.TypeMedia, Media: &msg.MediaState{Audio: false, Video: true, ScreenStream: "s1"}})
	for {
		r := adv.next(msg.TypeRoster)
		if len(r.Peers) == 2 && !r.Peers[1].Audio && r.Peers[1].Screen {
			break
		}
	}

	// Chat goes both ways once; a resent nonce is echoed to its sender only.
	cust.send(msg.Message{Type: msg.TypeChat, Text: "Guten Tag", Nonce: "n1"})
	got := adv.next(msg.TypeChat)
	if got.Entry == nil || got.Entry.Text != "Guten Tag" || got.Entry.Name != "Max Mustermann" || got.Entry.Nonce != "" {
		t.Fatalf("advisor got %+v", got.Entry)
	}
	if echo := cust.next(msg.TypeChat); echo.Entry.Nonce != "n1" || echo.Entry.Seq != 1 {
		t.Fatalf("echo %+v", echo.Entry)
	}
	cust.send(msg.Message{Type: msg.TypeChat, Text: "Guten Tag", Nonce: "n1"})
	if echo := cust.next(msg.TypeChat); echo.Entry.Seq != 1 {
		t.Fatalf("resend echo %+v", echo.Entry)
	}
	adv.send(msg.Message{Type: msg.TypeChat, Text: "Hallo", Nonce: "a1"})
	if c := adv.next(msg.TypeChat); c.Entry.Seq != 2 {
		t.Fatalf("advisor's own message came back as %+v (the resend was broadcast?)", c.Entry)
	}
	if c := cust.next(msg.TypeChat); c.Entry.Text != "Hallo" {
		t.Fatalf("customer got %+v", c.Entry)
	}

	// A file announcement reaches everyone.
	file := msg.Entry{ID: "f", Seq: 3, FileName: "a.pdf", FileSize: 10}
	e.timeline.mu.Lock()
	e.timeline.entries[e.m.ID] = append(e.timeline.entries[e.m.ID], file)
	e.timeline.mu.Unlock()
	e.hub.Announce(e.m.ID, file)
	if f := cust.next(msg.TypeFile); f.Entry.FileName != "a.pdf" {
		t.Fatalf("file %+v", f.Entry)
	}

	// Bad messages are refused without closing.
	cust.sendRaw(`{"type":"chat","text":""}`)
	if er := cust.next(msg.TypeError); er.Code != "bad_message" {
		t.Fatalf("error %+v", er)
	}
	cust.send(msg.Message{Type: msg.TypeOffer, SDP: "v=0 not an sdp"})
	if er := cust.next(msg.TypeError); er.Code != "negotiation_failed" {
		t.Fatalf("error %+v", er)
	}
	cust.send(msg.Message{Type: msg.TypePing})
	cust.next(msg.TypePong)

	// A reconnect replays what came after since and replaces the old one.
	again := e.connect(nil)
	again.send(msg.Message{Type: msg.TypeHello, Token: j.Secret, Since: 1})
	if c := again.next(msg.TypeChat); c.Entry.Seq != 2 {
		t.Fatalf("replay started at %+v", c.Entry)
	}
	if f := again.next(msg.TypeFile); f.Entry.Seq != 3 {
		t.Fatalf("replayed file %+v", f.Entry)
	}
	if end := cust.next(msg.TypeEnded); end.Reason != msg.EndedReplaced {
		t.Fatalf("old connection ended with %q", end.Reason)
	}

	// Removing the customer ends their connection; ending the meeting ends
	// the advisor's.
	if err := e.meetings.Remove(e.ctx, e.advisor, e.m.ID, j.ParticipantID); err != nil {
		t.Fatal(err)
	}
	if end := again.next(msg.TypeEnded); end.Reason != msg.EndedRemoved {
		t.Fatalf("removed customer ended with %q", end.Reason)
	}
	if err := e.meetings.End(e.ctx, e.advisor, e.m.ID); err != nil {
		t.Fatal(err)
	}
	if end := adv.next(msg.TypeEnded); end.Reason != msg.EndedMeeting {
		t.Fatalf("advisor ended with %q", end.Reason)
	}
	select {
	case <-adv.done:
	case <-time.After(10 * time.Second):
		t.Fatal("advisor's connection still open after the meeting ended")
	}
	// Nobody gets back in.
	late := e.connect(&auth.Session{TenantID: "t1", UserID: "u1"})
	late.send(msg.Message{Type: msg.TypeHello, MeetingID: e.m.ID})
	if er := late.next(msg.TypeError); er.Code != "meeting_ended" {
		t.Fatalf("late advisor: %+v", er)
	}
}

func TestLeave(t *testing.T) {
	e := newEnv(t)
	j := e.customer("Eva", true)
	p := e.connect(nil)
	p.send(msg.Message{Type: msg.TypeHello, Token: j.Secret})
	p.next(msg.TypeWelcome)
	p.send(msg.Message{Type: msg.TypeLeave})
	if end := p.next(msg.TypeEnded); end.Reason != msg.EndedLeft {
		t.Fatalf("ended %q", end.Reason)
	}
	c, err := e.meetings.ParticipantBySecret(e.ctx, j.Secret)
	if err != nil || c.Participant.State != meeting.StateLeft {
		t.Fatalf("after leave: %v %v", c.Participant.State, err)
	}
	again := e.connect(nil)
	again.send(msg.Message{Type: msg.TypeHello, Token: j.Secret})
	if er := again.next(msg.TypeError); er.Code != "forbidden" {
		t.Fatalf("rejoin after leave: %+v", er)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestMediaGoneEndsSignalling: when the SFU drops a peer (its media
// connection failed for good), the relay ends the signalling connection so
// the client reconnects with a fresh peer instead of talking to a dead one.
func TestMediaGoneEndsSignalling(t *testing.T) {
	e := newEnv(t)
	j := e.customer("Eva", true)
	p := e.connect(nil)
	p.send(msg.Message{Type: msg.TypeHello, Token: j.Secret})
	w := p.next(msg.TypeWelcome)
	p.next(msg.TypeRoster) // sent once the peer is in the SFU's room
	e.sfu.Room(e.m.ID).Leave(w.PeerID)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("signalling still open after the SFU dropped the peer")
	}
}
