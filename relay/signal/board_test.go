package signal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/clock"
	"parley/relay/signal"
	"parley/relay/signal/msg"
	"parley/relay/store"
	"parley/relay/whiteboard"
)

// boardEnv is a hub with whiteboards on an in-memory store and a fake
// clock shared by the hub (rate windows) and the boards (expiry).
type boardEnv struct {
	*env
	clock *clock.Fake
	svc   *whiteboard.Service
}

func newBoardEnv(t *testing.T, configure ...func(*signal.Options)) *boardEnv {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	svc, err := whiteboard.New(whiteboard.Options{Store: &store.Memory{}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, append([]func(*signal.Options){func(o *signal.Options) {
		o.Boards, o.Clock, o.BoardRefresh = svc, clk, -1
	}}, configure...)...)
	return &boardEnv{env: e, clock: clk, svc: svc}
}

// nextOf returns the next message of one of the types, skipping others.
func (p *peer) nextOf(types ...string) msg.Message {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		b, err := p.conn.Read(ctx)
		if err != nil {
			p.t.Fatalf("waiting for %v: %v", types, err)
		}
		var m msg.Message
		if err := jsonUnmarshal(b, &m); err != nil {
			p.t.Fatal(err)
		}
		if slices.Contains(types, m.Type) {
			return m
		}
	}
}

// boardMsg is the next board-related message (op, state or error).
func (p *peer) boardMsg() msg.Message {
	p.t.Helper()
	return p.nextOf(msg.TypeBoard, msg.TypeBoardState, msg.TypeError)
}

// quiet checks that no board message is queued for p: a ping's pong
// comes back before any.
func (p *peer) quiet() {
	p.t.Helper()
	p.send(msg.Message{Type: msg.TypePing})
	if m := p.nextOf(msg.TypeBoard, msg.TypeBoardState, msg.TypeError, msg.TypePong); m.Type != msg.TypePong {
		p.t.Fatalf("unexpected %s: code %q board %s", m.Type, m.Code, m.Board)
	}
}

func (p *peer) sendOp(op string) {
	p.t.Helper()
	p.send(msg.Message{Type: msg.TypeBoard, Board: json.RawMessage(op)})
}

func op(m msg.Message, t testing.TB) whiteboard.Op {
	t.Helper()
	if m.Type != msg.TypeBoard {
		t.Fatalf("got %s (code %q), want a board op", m.Type, m.Code)
	}
	var o whiteboard.Op
	if err := json.Unmarshal(m.Board, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func state(m msg.Message, t testing.TB) whiteboard.State {
	t.Helper()
	if m.Type != msg.TypeBoardState || m.BoardEpoch == "" {
		t.Fatalf("got %s (code %q, epoch %q), want a board state", m.Type, m.Code, m.BoardEpoch)
	}
	var st whiteboard.State
	if err := json.Unmarshal(m.Board, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func stroke(id string) string {
	return `{"kind":"stroke","id":"` + id + `","page":1,"tool":"pen","color":"#1f4e79","width":0.004,"points":[0.1,0.1,0.2,0.25,0.3,0.2],"pressure":[0.5,0.6,0.7]}`
}

func objectID(n int) string { return fmt.Sprintf("%032x", n) }

// joined is a connected customer.
type joined struct {
	*peer
	state  whiteboard.State
	epoch  string
	secret string
}

// joinCustomer admits a new customer and connects them; it returns once
// the board state arrived.
func (e *boardEnv) joinCustomer(name string) joined {
	e.t.Helper()
	j := e.customer(name, true)
	p := e.connect(nil)
	p.send(msg.Message{Type: msg.TypeHello, Token: j.Secret})
	m := p.boardMsg()
	return joined{peer: p, state: state(m, e.t), epoch: m.BoardEpoch, secret: j.Secret}
}

func (e *boardEnv) joinAdvisor() *peer {
	e.t.Helper()
	p := e.connect(&auth.Session{TenantID: "t1", UserID: "u1"})
	p.send(msg.Message{Type: msg.TypeHello, MeetingID: e.m.ID})
	if st := state(p.boardMsg(), e.t); st.Seq != 0 || len(st.Pages) != 0 {
		e.t.Fatalf("a new meeting's board: %+v", st)
	}
	return p
}

// TestBoardFlow: an op is applied and relayed to everyone with its seq;
// pointers go to the others only; refusals to the sender only; a late
// joiner gets the state; a reconnect resumes op by op in the same epoch.
func TestBoardFlow(t *testing.T) {
	e := newBoardEnv(t)
	adv := e.joinAdvisor()
	cust := e.joinCustomer("Max")

	s1 := objectID(1)
	cust.sendOp(stroke(s1))
	for _, p := range []*peer{adv, cust.peer} {
		o := op(p.boardMsg(), t)
		if o.Seq != 1 || o.ID != s1 || o.Author == "" || o.At.IsZero() || len(o.Pressure) != 3 {
			t.Fatalf("relayed stroke %+v", o)
		}
	}

	// The advisor presents page 2 of the blank board.
	adv.sendOp(`{"kind":"background","page":2}`)
	for _, p := range []*peer{adv, cust.peer} {
		if o := op(p.boardMsg(), t); o.Kind != whiteboard.KindBackground || o.Page != 2 || o.Seq != 2 {
			t.Fatalf("background %+v", o)
		}
	}

	// A customer may not; the refusal reaches the customer only.
	cust.sendOp(`{"kind":"background","page":3}`)
	if er := cust.boardMsg(); er.Type != msg.TypeError || er.Code != "board_forbidden" {
		t.Fatalf("customer background: %+v", er)
	}
	adv.quiet()

	// Pointers are relayed to the others, not stored, not numbered.
	cust.sendOp(`{"kind":"pointer","page":1,"points":[0.5,0.5]}`)
	if o := op(adv.boardMsg(), t); o.Kind != whiteboard.KindPointer || o.Seq != 0 {
		t.Fatalf("pointer %+v", o)
	}
	cust.quiet()

	// A late joiner sees the stroke and the background.
	late := e.joinCustomer("Eva")
	st := late.state
	if st.Seq != 2 || st.Background.Page != 2 || len(st.Objects(whiteboard.PageRef{Page: 1})) != 1 ||
		st.Objects(whiteboard.PageRef{Page: 1})[0].ID != s1 {
		t.Fatalf("late joiner's state %+v", st)
	}

	// Undo by the customer is relayed with the id it hides.
	cust.sendOp(`{"kind":"undo"}`)
	for _, p := range []*peer{adv, cust.peer, late.peer} {
		if o := op(p.boardMsg(), t); o.Kind != whiteboard.KindUndo || o.Seq != 3 || !slices.Equal(o.Hide, []string{s1}) {
			t.Fatalf("undo %+v", o)
		}
	}

	// Eva reconnects from seq 2 in the same epoch: she gets op 3 only.
	again := e.connect(nil)
	again.send(msg.Message{Type: msg.TypeHello, Token: late.secret, BoardSince: 2, BoardEpoch: late.epoch})
	if o := op(again.boardMsg(), t); o.Seq != 3 || o.Kind != whiteboard.KindUndo {
		t.Fatalf("resume got %+v", o)
	}
	// With an unknown epoch she gets the whole board.
	third := e.connect(nil)
	third.send(msg.Message{Type: msg.TypeHello, Token: late.secret, BoardSince: 2, BoardEpoch: "other.0"})
	if st := state(third.boardMsg(), t); st.Seq != 3 || len(st.Pages) != 0 {
		t.Fatalf("resume with a foreign epoch: %+v", st)
	}
}

// TestBoardRefusals: each kind of refusal answers the sender with its
// code and the op's id, stores nothing and leaves the connection open; a
// resend of an accepted op comes back to its sender only.
func TestBoardRefusals(t *testing.T) {
	e := newBoardEnv(t)
	adv := e.joinAdvisor()
	cust := e.joinCustomer("Max")
	cases := []struct {
		op, code, ref string
	}{
		{`{"kind":"stroke","id":"` + objectID(7) + `","page":1,"tool":"pen","color":"#000000","width":0.004,"points":[1.5,0]}`, "board_invalid", ""},
		{`{"kind":"stroke","id":"x"}`, "board_invalid", ""},
		{`{"kind":"stroke","id":"` + objectID(8) + `","page":1,"tool":"pen","color":"#000000","width":0.004,"points":[0.5,0.5],"seq":9}`, "board_invalid", ""},
		{`{"kind":"nonsense"}`, "board_invalid", ""},
		{`{"kind":"undo"}`, "board_nothing_to_undo", ""},
		{`{"kind":"redo"}`, "board_nothing_to_redo", ""},
		{`{"kind":"clear","page":1}`, "board_no_change", ""},
		{`{"kind":"erase","ids":["` + objectID(9) + `"]}`, "board_unknown_object", ""},
		{`{"kind":"stroke","id":"` + objectID(10) + `","page":51,"tool":"pen","color":"#000000","width":0.004,"points":[0.5,0.5]}`, "board_bad_page", objectID(10)},
	}
	for _, c := range cases {
		cust.sendOp(c.op)
		er := cust.boardMsg()
		if er.Type != msg.TypeError || er.Code != c.code || er.Ref != c.ref {
			t.Errorf("%s: got %s code %q ref %q, want %q ref %q", c.op, er.Type, er.Code, er.Ref, c.code, c.ref)
		}
	}
	adv.quiet()

	// Accepted once; the resend after a "reconnect" goes to the sender.
	s := objectID(11)
	cust.sendOp(stroke(s))
	if o := op(adv.boardMsg(), t); o.Seq != 1 {
		t.Fatalf("first stroke %+v", o)
	}
	op(cust.boardMsg(), t)
	cust.sendOp(stroke(s))
	if o := op(cust.boardMsg(), t); o.Seq != 1 || o.ID != s {
		t.Fatalf("resend answered %+v", o)
	}
	adv.quiet()
	// Another participant reusing the id is refused.
	adv.sendOp(stroke(s))
	if er := adv.boardMsg(); er.Code != "board_duplicate" || er.Ref != s {
		t.Fatalf("foreign id reuse: %+v", er)
	}
	cust.quiet()
}

// TestBoardRate: beyond BoardRate ops in a second of the hub's clock the
// relay answers board_rate; the next second accepts again.
func TestBoardRate(t *testing.T) {
	e := newBoardEnv(t, func(o *signal.Options) { o.BoardRate = 5 })
	adv := e.joinAdvisor()
	cust := e.joinCustomer("Max")
	pointer := `{"kind":"pointer","page":1,"points":[0.5,0.5]}`
	got := map[string]int{}
	for range 8 {
		cust.sendOp(pointer)
	}
	cust.send(msg.Message{Type: msg.TypePing})
	for {
		m := cust.nextOf(msg.TypeError, msg.TypePong)
		if m.Type == msg.TypePong {
			break
		}
		got[m.Code]++
	}
	if got["board_rate"] != 3 || len(got) != 1 {
		t.Fatalf("refusals %v, want 3 board_rate", got)
	}
	for range 5 {
		adv.nextOf(msg.TypeBoard)
	}
	adv.quiet()
	e.clock.Advance(time.Second)
	cust.sendOp(pointer)
	if o := op(adv.boardMsg(), t); o.Kind != whiteboard.KindPointer {
		t.Fatalf("after a second: %+v", o)
	}
}

// TestBoardExpiry: when content runs out its retention period during the
// meeting, RefreshBoards sends everyone a fresh state in a new epoch.
func TestBoardExpiry(t *testing.T) {
	e := newBoardEnv(t)
	adv := e.joinAdvisor()
	cust := e.joinCustomer("Max")
	cust.sendOp(stroke(objectID(1)))
	op(adv.boardMsg(), t)
	op(cust.boardMsg(), t)
	if n := e.hub.RefreshBoards(e.ctx); n != 0 {
		t.Fatalf("RefreshBoards changed %d boards before anything expired", n)
	}
	e.clock.Advance(whiteboard.Retention + time.Hour)
	if n := e.hub.RefreshBoards(e.ctx); n != 1 {
		t.Fatalf("RefreshBoards changed %d boards, want 1", n)
	}
	for _, p := range []*peer{adv, cust.peer} {
		m := p.boardMsg()
		if st := state(m, t); len(st.Pages) != 0 || m.BoardEpoch == cust.epoch {
			t.Fatalf("after expiry: %+v epoch %q (was %q)", st, m.BoardEpoch, cust.epoch)
		}
	}
}

// TestBoardUnavailable: without Boards, board messages are refused.
func TestBoardUnavailable(t *testing.T) {
	e := newEnv(t)
	j := e.customer("Max", true)
	p := e.connect(nil)
	p.send(msg.Message{Type: msg.TypeHello, Token: j.Secret})
	p.sendOp(stroke(objectID(1)))
	if er := p.nextOf(msg.TypeError, msg.TypeBoardState); er.Code != "board_unavailable" {
		t.Fatalf("got %+v", er)
	}
}
