package mediaengine_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"parley/mediaengine"
	"parley/relay/sfu"
	"parley/relay/signal/msg"
)

// pipeConn is one end of an in-memory signalling connection. Closing
// either end closes both.
type pipeConn struct {
	in     <-chan msg.Message
	out    chan<- msg.Message
	closed chan struct{}
	once   *sync.Once
}

var errConnClosed = errors.New("test conn closed")

func connPair() (client, relay *pipeConn) {
	up, down := make(chan msg.Message, 64), make(chan msg.Message, 64)
	closed, once := make(chan struct{}), &sync.Once{}
	return &pipeConn{in: down, out: up, closed: closed, once: once},
		&pipeConn{in: up, out: down, closed: closed, once: once}
}

func (c *pipeConn) Send(ctx context.Context, m msg.Message) error {
	select {
	case <-c.closed:
		return errConnClosed
	default:
	}
	select {
	case c.out <- m:
		return nil
	case <-c.closed:
		return errConnClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *pipeConn) Recv(ctx context.Context) (msg.Message, error) {
	select {
	case m := <-c.in:
		return m, nil
	case <-c.closed:
		return msg.Message{}, errConnClosed
	case <-ctx.Done():
		return msg.Message{}, ctx.Err()
	}
}

func (c *pipeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// testRelay is a minimal relay-side adapter: hello/welcome, roster, chat
// with nonce dedup and replay, media state, pings, and descriptions and
// candidates handed to the real SFU.
type testRelay struct {
	t    *testing.T
	sfu  *sfu.SFU
	room *sfu.Room

	mu       sync.Mutex
	n        int
	peers    map[string]*relayPeer
	entries  []msg.Entry
	nonces   map[string]int // token + nonce → times received
	dropEcho map[string]bool
}

type relayPeer struct {
	id, token string
	conn      *pipeConn
	media     msg.MediaState
}

func newTestRelay(t *testing.T) *testRelay {
	t.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sfu.New(sfu.Options{UDP: udp, PublicIPs: []string{"127.0.0.1"}, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &testRelay{t: t, sfu: s, room: s.Room("m1"), peers: map[string]*relayPeer{},
		nonces: map[string]int{}, dropEcho: map[string]bool{}}
}

// dial returns a Dial function for a participant identified by token.
func (r *testRelay) dial(ctx context.Context) func(context.Context) (mediaengine.Conn, error) {
	return func(context.Context) (mediaengine.Conn, error) {
		client, relay := connPair()
		go r.serve(ctx, relay)
		return client, nil
	}
}

// peerByToken returns the current connection of a participant.
func (r *testRelay) peerByToken(token string) *relayPeer {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.peers {
		if p.token == token {
			return p
		}
	}
	return nil
}

type sig struct {
	ctx  context.Context
	conn *pipeConn
}

func (s sig) SendDescription(d webrtc.SessionDescription) error {
	return s.conn.Send(s.ctx, msg.Message{Type: d.Type.String(), SDP: d.SDP})
}

func (s sig) SendCandidate(c webrtc.ICECandidateInit) error {
	return s.conn.Send(s.ctx, msg.Message{Type: msg.TypeCandidate, Candidate: &msg.Candidate{
		Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
	}})
}

func (r *testRelay) serve(ctx context.Context, conn *pipeConn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer conn.Close()
	hello, err := conn.Recv(ctx)
	if err != nil || hello.Type != msg.TypeHello || hello.Token == "" {
		return
	}
	r.mu.Lock()
	r.n++
	p := &relayPeer{id: fmt.Sprintf("%s-%d", hello.Token, r.n), token: hello.Token, conn: conn}
	r.mu.Unlock()
	if conn.Send(ctx, msg.Message{Type: msg.TypeWelcome, PeerID: p.id, Role: msg.RoleCustomer}) != nil {
		return
	}
	sp, err := r.room.Join(ctx, p.id, sig{ctx, conn})
	if err != nil {
		r.t.Errorf("join: %v", err)
		return
	}
	r.mu.Lock()
	r.peers[p.id] = p
	var replay []msg.Entry
	for _, e := range r.entries {
		if e.Seq > hello.Since {
			replay = append(replay, e)
		}
	}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.peers, p.id)
		r.mu.Unlock()
		sp.Close()
		r.broadcastRoster()
	}()
	r.broadcastRoster()
	for _, e := range replay {
		_ = conn.Send(ctx, msg.Message{Type: msg.TypeChat, Entry: &e})
	}
	for {
		m, err := conn.Recv(ctx)
		if err != nil {
			return
		}
		// What a real relay's transport does first.
		raw, _ := msg.Encode(m)
		if _, err := msg.Decode(raw); err != nil {
			r.t.Errorf("client sent an invalid message: %v", err)
			continue
		}
		switch m.Type {
		case msg.TypeOffer, msg.TypeAnswer:
			t := webrtc.SDPTypeOffer
			if m.Type == msg.TypeAnswer {
				t = webrtc.SDPTypeAnswer
			}
			if err := sp.HandleDescription(webrtc.SessionDescription{Type: t, SDP: m.SDP}); err != nil {
				r.t.Logf("relay: %s from %s: %v", m.Type, p.id, err)
			}
		case msg.TypeCandidate:
			if m.Candidate != nil {
				_ = sp.HandleCandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate,
					SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex})
			}
		case msg.TypeMedia:
			r.mu.Lock()
			p.media = *m.Media
			r.mu.Unlock()
			r.broadcastRoster()
		case msg.TypeChat:
			r.chat(p, m)
		case msg.TypePing:
			_ = conn.Send(ctx, msg.Message{Type: msg.TypePong})
		case msg.TypeLeave:
			_ = conn.Send(ctx, msg.Message{Type: msg.TypeEnded, Reason: msg.EndedLeft})
			return
		}
	}
}

func (r *testRelay) chat(p *relayPeer, m msg.Message) {
	r.mu.Lock()
	key := p.token + "/" + m.Nonce
	r.nonces[key]++
	if r.nonces[key] > 1 {
		r.mu.Unlock()
		return // already posted
	}
	e := msg.Entry{ID: fmt.Sprintf("e%d", len(r.entries)+1), Seq: uint64(len(r.entries) + 1), From: p.token,
		Role: msg.RoleCustomer, Sent: time.Now(), Text: m.Text, Nonce: m.Nonce}
	r.entries = append(r.entries, e)
	drop := r.dropEcho[p.token]
	delete(r.dropEcho, p.token)
	var to []*pipeConn
	for _, q := range r.peers {
		if q != p || !drop {
			to = append(to, q.conn)
		}
	}
	r.mu.Unlock()
	for _, c := range to {
		_ = c.Send(context.Background(), msg.Message{Type: msg.TypeChat, Entry: &e})
	}
	if drop {
		// The echo is lost with the connection.
		_ = p.conn.Close()
	}
}

func (r *testRelay) broadcastRoster() {
	r.mu.Lock()
	var peers []msg.Peer
	var to []*pipeConn
	for _, p := range r.peers {
		peers = append(peers, msg.Peer{PeerID: p.id, Name: p.token, Role: msg.RoleCustomer,
			Audio: p.media.Audio, Video: p.media.Video, Screen: p.media.ScreenStream != ""})
		to = append(to, p.conn)
	}
	r.mu.Unlock()
	for _, c := range to {
		_ = c.Send(context.Background(), msg.Message{Type: msg.TypeRoster, Peers: peers})
	}
}
