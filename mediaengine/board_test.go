package mediaengine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"parley/mediaengine"
	"parley/relay/signal/msg"
)

// boardRelay hands the test the relay's end of every connection the call
// dials, after reading its hello.
type boardRelay struct {
	conns chan *pipeConn
	hello chan msg.Message
}

func startBoardCall(t *testing.T) (*mediaengine.Call, *recorder, *boardRelay) {
	t.Helper()
	r := &boardRelay{conns: make(chan *pipeConn, 8), hello: make(chan msg.Message, 8)}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := mediaengine.Start(ctx, mediaengine.Options{
		MeetingID:     "m1",
		SettingEngine: loopback(),
		MaxBackoff:    50 * time.Millisecond,
		Dial: func(context.Context) (mediaengine.Conn, error) {
			client, relay := connPair()
			go func() {
				m, err := relay.Recv(ctx)
				if err != nil || m.Type != msg.TypeHello {
					return
				}
				r.hello <- m
				_ = relay.Send(ctx, msg.Message{Type: msg.TypeWelcome, PeerID: "adv-1", Role: msg.RoleAdvisor})
				r.conns <- relay
			}()
			return client, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := record(c)
	t.Cleanup(func() {
		cancel()
		<-c.Done()
		<-rec.done
	})
	return c, rec, r
}

// next returns the next connection and its hello.
func (r *boardRelay) next(t *testing.T) (*pipeConn, msg.Message) {
	t.Helper()
	select {
	case h := <-r.hello:
		select {
		case c := <-r.conns:
			return c, h
		case <-time.After(wait):
		}
	case <-time.After(wait):
	}
	t.Fatal("the call did not connect")
	return nil, msg.Message{}
}

// boardMsg waits for the next board message the client sends on conn.
func boardMsg(t *testing.T, conn *pipeConn) msg.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		m, err := conn.Recv(ctx)
		if err != nil {
			t.Fatalf("no board message from the client: %v", err)
		}
		if m.Type == msg.TypeBoard {
			return m
		}
	}
}

func send(t *testing.T, conn *pipeConn, m msg.Message) {
	t.Helper()
	if err := conn.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func boardEvents[E mediaengine.Event](rec *recorder) []E {
	var out []E
	for _, ev := range rec.all() {
		if e, ok := ev.(E); ok {
			out = append(out, e)
		}
	}
	return out
}

const (
	strokeA = `{"kind":"stroke","id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","page":1,"tool":"pen","color":"#000000","width":0.004,"points":[0.1,0.1,0.2,0.2]}`
	strokeB = `{"kind":"stroke","id":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","page":1,"tool":"pen","color":"#000000","width":0.004,"points":[0.3,0.3]}`
)

// accepted is op as the relay relays it.
func accepted(t *testing.T, op string, seq uint64) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(op), &m); err != nil {
		t.Fatal(err)
	}
	m["seq"], m["author"] = seq, "adv"
	b, _ := json.Marshal(m)
	return b
}

// TestBoardStateOpsResumeAndResend: the call hands on the board's state
// and ops in order, resumes after a reconnect with board_since and
// board_epoch, resends an own op the relay never confirmed (and no
// longer once it did), reconnects when it misses an op, and hands
// refusals on with their ref.
func TestBoardStateOpsResumeAndResend(t *testing.T) {
	c, rec, r := startBoardCall(t)
	conn, hello := r.next(t)
	if hello.BoardSince != 0 || hello.BoardEpoch != "" {
		t.Errorf("first hello resumes: since %d epoch %q", hello.BoardSince, hello.BoardEpoch)
	}
	send(t, conn, msg.Message{Type: msg.TypeBoardState, BoardEpoch: "e1", Board: json.RawMessage(`{"seq":2,"background":{"page":1},"pages":[]}`)})
	send(t, conn, msg.Message{Type: msg.TypeBoard, Board: json.RawMessage(`{"kind":"undo","seq":3,"author":"c1","target":1}`)})
	eventually(t, "state and op delivered", func() bool { return len(boardEvents[mediaengine.BoardReceived](rec)) == 1 })
	if st := boardEvents[mediaengine.BoardStateReceived](rec); len(st) != 1 || st[0].Epoch != "e1" {
		t.Fatalf("states: %+v", st)
	}

	// Own op: sent now; the connection drops before the relay answers.
	if err := c.SendBoard(json.RawMessage(strokeA)); err != nil {
		t.Fatal(err)
	}
	if m := boardMsg(t, conn); string(m.Board) != strokeA {
		t.Fatalf("sent %s", m.Board)
	}
	_ = conn.Close()
	conn, hello = r.next(t)
	if hello.BoardSince != 3 || hello.BoardEpoch != "e1" {
		t.Errorf("resuming hello: since %d epoch %q, want 3 e1", hello.BoardSince, hello.BoardEpoch)
	}
	if m := boardMsg(t, conn); string(m.Board) != strokeA {
		t.Fatalf("resent %s", m.Board)
	}
	send(t, conn, msg.Message{Type: msg.TypeBoard, Board: accepted(t, strokeA, 4)})
	// A refusal with ref: handed on, the op is not resent.
	if err := c.SendBoard(json.RawMessage(strokeB)); err != nil {
		t.Fatal(err)
	}
	boardMsg(t, conn)
	send(t, conn, msg.Message{Type: msg.TypeError, Code: "board_rate", Message: "slow down", Ref: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"})
	eventually(t, "refusal delivered", func() bool { return len(boardEvents[mediaengine.BoardRefused](rec)) == 1 })
	if f := boardEvents[mediaengine.BoardRefused](rec)[0]; f.Code != "board_rate" || f.Ref != "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" {
		t.Errorf("refusal %+v", f)
	}
	if n := len(boardEvents[mediaengine.RelayError](rec)); n != 0 {
		t.Errorf("%d board refusals also reported as relay errors", n)
	}

	// A gap: seq 6 after 4 makes the call resume after 4.
	send(t, conn, msg.Message{Type: msg.TypeBoard, Board: json.RawMessage(`{"kind":"redo","seq":6,"author":"c1","target":1}`)})
	conn, hello = r.next(t)
	if hello.BoardSince != 4 || hello.BoardEpoch != "e1" {
		t.Errorf("hello after a gap: since %d epoch %q, want 4 e1", hello.BoardSince, hello.BoardEpoch)
	}
	// Nothing pending any more: the next board message is a new one.
	// (ErrBoardOffline until the client has read the welcome.)
	eventually(t, "undo sent", func() bool { return c.SendBoard(json.RawMessage(`{"kind":"undo"}`)) == nil })
	if m := boardMsg(t, conn); string(m.Board) != `{"kind":"undo"}` {
		t.Errorf("after reconnecting the client sent %s first, want the undo (nothing to resend)", m.Board)
	}
	got := boardEvents[mediaengine.BoardReceived](rec)
	var seqs []uint64
	for _, e := range got {
		seqs = append(seqs, e.Seq)
	}
	if len(seqs) != 2 || seqs[0] != 3 || seqs[1] != 4 {
		t.Errorf("delivered seqs %v, want [3 4] (the out-of-order op is not delivered)", seqs)
	}

	// A fresh state in a new epoch confirms what it holds.
	if err := c.SendBoard(json.RawMessage(strokeB)); err != nil {
		t.Fatal(err)
	}
	boardMsg(t, conn)
	send(t, conn, msg.Message{Type: msg.TypeBoardState, BoardEpoch: "e2",
		Board: json.RawMessage(`{"seq":9,"background":{"page":1},"pages":[{"page":1,"objects":[` + string(accepted(t, strokeB, 9)) + `]}]}`)})
	eventually(t, "second state", func() bool { return len(boardEvents[mediaengine.BoardStateReceived](rec)) == 2 })
	_ = conn.Close()
	_, hello = r.next(t)
	if hello.BoardSince != 9 || hello.BoardEpoch != "e2" {
		t.Errorf("hello after the new state: since %d epoch %q, want 9 e2", hello.BoardSince, hello.BoardEpoch)
	}
}

func TestSendBoardRefusesBadOps(t *testing.T) {
	c, _, _ := startBoardCall(t)
	for _, op := range []string{``, `[]`, `{"kind":`, `{"id":"x"}`, `{"kind":"undo","seq":3}`, `{"kind":"undo"} {}`} {
		if err := c.SendBoard(json.RawMessage(op)); !errors.Is(err, mediaengine.ErrBadBoardOp) {
			t.Errorf("SendBoard(%q) = %v, want ErrBadBoardOp", op, err)
		}
	}
	big := `{"kind":"text","text":"` + string(make([]byte, msg.MaxMessageBytes)) + `"}`
	if err := c.SendBoard(json.RawMessage(big)); !errors.Is(err, mediaengine.ErrBadBoardOp) {
		t.Errorf("oversized op: %v", err)
	}
	_ = c.Close()
	if err := c.SendBoard(json.RawMessage(`{"kind":"undo"}`)); !errors.Is(err, mediaengine.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}
