package messaging_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/relay/channels/fake"
)

// BenchmarkWebhooks posts signed WhatsApp webhooks (one new message each,
// from 64 customers) through the whole relay: TLS, rate limit, channel
// lookup, signature, decoding, customer upsert, deduplicated store with a
// synced badger commit, and the 200.
func BenchmarkWebhooks(b *testing.B) {
	e := startEnv(b)
	hook := e.hooks["whatsapp"]
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			body := fake.WhatsAppText("1234567890", "49151500"+fmt.Sprintf("%05d", i%64), "Kunde", "wamid.bench."+strconv.FormatInt(i, 10), "Nachricht "+strconv.FormatInt(i, 10), e.clk.Now())
			st, err := (&fake.WhatsApp{AppSecret: "wa-app-secret", Client: e.http}).PostWebhook(context.Background(), hook, body)
			if err != nil || st != http.StatusOK {
				b.Errorf("webhook: %d %v", st, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "webhooks/s")
}

// BenchmarkSend stores advisor messages through the API from 32
// concurrent clients, each on its own chat conversation (idempotent send,
// sequence number, feed entry, synced commit).
func BenchmarkSend(b *testing.B) {
	e := startEnv(b)
	const clients = 32
	convs := make([]string, clients)
	for i := range convs {
		var cust struct{ ID string }
		if st := e.call("POST", "/api/v1/customers", e.advisor, map[string]string{"first_name": "Bench", "last_name": strconv.Itoa(i), "email": "bench" + strconv.Itoa(i) + "@example.org"}, &cust); st != 201 {
			b.Fatalf("customer: %d", st)
		}
		var c struct{ ID string }
		if st := e.call("POST", "/api/v1/conversations", e.advisor, map[string]string{"customer_id": cust.ID, "channel": "chat"}, &c); st != 201 {
			b.Fatalf("conversation: %d", st)
		}
		convs[i] = c.ID
	}
	var n atomic.Int64
	b.SetParallelism(clients / 2) // GOMAXPROCS(2) × 16 = 32 goroutines
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			conv := convs[int(i)%clients]
			if st := e.call("POST", "/api/v1/conversations/"+conv+"/messages", e.advisor, map[string]string{"client_id": "b" + strconv.FormatInt(i, 10), "text": "Antwort " + strconv.FormatInt(i, 10)}, nil); st != 201 {
				b.Errorf("send: %d", st)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkFeedLatency measures relay→desktop latency: inbound webhooks
// at 500 messages/s, and a desktop-like client following the advisor's
// change feed with the long poll (wait=25); the latency is from the
// webhook's send to the change arriving at the client. Each iteration is
// one message; p50 and p99 are reported. At 500/s the relay is past what
// it stores per second on a small machine, so the figure includes the
// queue; 50/s shows the feed's own latency.
func BenchmarkFeedLatency(b *testing.B) {
	for _, rate := range []int{50, 500} {
		b.Run(strconv.Itoa(rate)+"-per-s", func(b *testing.B) { feedLatency(b, rate) })
	}
}

func feedLatency(b *testing.B, rate int) {
	e := startEnv(b)
	hook := e.hooks["whatsapp"]
	var mu sync.Mutex
	sentAt := map[string]time.Time{}
	var lat []time.Duration
	got := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel) // before the relay closes (cleanups run last-in first-out)
	// The head first, so the poller follows only this benchmark's changes.
	var first struct{ Next uint64 }
	e.call("GET", "/api/v1/inbox/changes?since=0&limit=1000", e.advisor, nil, &first)
	for first.Next > 0 {
		var p struct {
			Changes []any
			Next    uint64
		}
		e.call("GET", "/api/v1/inbox/changes?since="+strconv.FormatUint(first.Next, 10), e.advisor, nil, &p)
		if len(p.Changes) == 0 {
			break
		}
		first.Next = p.Next
	}
	go func() {
		since := first.Next
		for ctx.Err() == nil {
			var p struct {
				Changes []struct {
					Kind    string `json:"kind"`
					Message *struct {
						Text string `json:"text"`
					} `json:"message"`
				} `json:"changes"`
				Next uint64 `json:"next"`
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", e.s.URL()+"/api/v1/inbox/changes?wait=25&since="+strconv.FormatUint(since, 10), nil)
			req.Header.Set("Authorization", "Bearer "+e.advisor)
			res, err := e.http.Do(req)
			if err != nil {
				return
			}
			err = json.NewDecoder(res.Body).Decode(&p)
			res.Body.Close()
			if err != nil || res.StatusCode != 200 {
				return
			}
			now := time.Now()
			mu.Lock()
			for _, c := range p.Changes {
				if c.Kind != "message" || c.Message == nil {
					continue
				}
				if t0, ok := sentAt[c.Message.Text]; ok {
					lat = append(lat, now.Sub(t0))
					delete(sentAt, c.Message.Text)
				}
			}
			done := len(lat)
			mu.Unlock()
			since = p.Next
			if done >= b.N {
				select {
				case got <- struct{}{}:
				default:
				}
			}
		}
	}()
	b.ResetTimer()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := 0; i < b.N; i++ {
		<-tick.C
		text := "Latenz " + strconv.Itoa(i)
		body := fake.WhatsAppText("1234567890", "49151600"+fmt.Sprintf("%05d", i%256), "Kunde", "wamid.lat."+strconv.Itoa(i), text, e.clk.Now())
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			sentAt[text] = time.Now()
			mu.Unlock()
			if st, err := (&fake.WhatsApp{AppSecret: "wa-app-secret", Client: e.http}).PostWebhook(context.Background(), hook, body); err != nil || st != 200 {
				b.Errorf("webhook: %d %v", st, err)
			}
		}()
	}
	wg.Wait()
	select {
	case <-got:
	case <-time.After(60 * time.Second):
		b.Fatalf("only %d of %d changes arrived", len(lat), b.N)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
