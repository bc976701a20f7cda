package signal_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"parley/relay/auth"
	"parley/relay/signal"
	"parley/relay/signal/msg"
	"parley/relay/store"
	"parley/relay/whiteboard"
)

// BenchmarkBoardStroke measures a 50-point stroke from one participant's
// send until the last of the room's 10 clients (the sender included) has
// read the accepted op through the hub: decode, rate check, Apply on an
// in-memory store, encode once, fan out. It reports p50 and p99. The
// senders take turns, and the connections' message limiters refill
// outside the timer.
func BenchmarkBoardStroke(b *testing.B) {
	svc, err := whiteboard.New(whiteboard.Options{Store: &store.Memory{}, MaxObjectsPerPage: 1 << 30, MaxBoardBytes: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	e := newEnv(b, func(o *signal.Options) { o.Boards, o.BoardRate, o.BoardRefresh = svc, 1<<30, -1 })
	const n = 10
	peers := make([]*peer, 0, n)
	adv := e.connect(&auth.Session{TenantID: "t1", UserID: "u1"})
	adv.send(msg.Message{Type: msg.TypeHello, MeetingID: e.m.ID})
	adv.nextOf(msg.TypeBoardState)
	peers = append(peers, adv)
	for len(peers) < n {
		j := e.customer("P", true)
		p := e.connect(nil)
		p.send(msg.Message{Type: msg.TypeHello, Token: j.Secret})
		p.nextOf(msg.TypeBoardState)
		peers = append(peers, p)
	}
	pts := make([]float64, 0, 100)
	for i := range 50 {
		pts = append(pts, float64(i)/50, 0.5)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		o := whiteboard.Op{Kind: whiteboard.KindStroke, ID: objectID(i + 1), Page: 1, Tool: whiteboard.ToolPen,
			Color: "#000000", Width: 0.004, Points: pts}
		raw, _ := json.Marshal(o)
		if i%500 == 499 {
			// Each connection may send 50 messages a second (burst 200):
			// let the limiters refill outside the measurement.
			b.StopTimer()
			time.Sleep(1100 * time.Millisecond)
			b.StartTimer()
		}
		start := time.Now()
		peers[i%n].send(msg.Message{Type: msg.TypeBoard, Board: raw})
		for _, p := range peers {
			p.nextOf(msg.TypeBoard)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
