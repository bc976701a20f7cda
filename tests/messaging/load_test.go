package messaging_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadAdvisors is how many advisors the 1,000-client benchmark creates;
// each has two devices long-polling the feed (968 feed clients) and the
// 32 senders write into their conversations: 1,000 connected clients.
const (
	loadAdvisors = 484
	loadSenders  = 32
)

// BenchmarkThousandClients runs 1,000 connected clients against the
// relay: 968 desktop-like clients long-polling their advisor's change
// feed (two devices for each of 484 advisors) and 32 API clients sending
// advisor messages into the advisors' conversations. "max" sends as fast
// as the 32 senders can (closed loop) and reports persisted messages per
// second; "500-per-s" sends at 500 messages/s (open loop). Both report
// the latency from the send's start until the message's change reached
// the first of its advisor's feed clients (p50, p99).
func BenchmarkThousandClients(b *testing.B) {
	e := startEnv(b)
	l := newLoad(b, e)
	b.Run("max", func(b *testing.B) { l.run(b, 0) })
	b.Run("500-per-s", func(b *testing.B) { l.run(b, 500) })
}

type loadAdvisor struct {
	token string
	conv  string
}

type load struct {
	e      *env
	http   *http.Client
	advs   []loadAdvisor
	mu     sync.Mutex
	sentAt map[string]time.Time
	lat    []time.Duration
	seen   atomic.Int64
	n      atomic.Int64 // message counter across runs (unique client ids)
}

func newLoad(b *testing.B, e *env) *load {
	tr := e.http.Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2000
	tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(2000)
	l := &load{e: e, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}, sentAt: map[string]time.Time{}}
	b.Cleanup(tr.CloseIdleConnections)
	// Advisors, each with one customer and one chat conversation.
	var wg sync.WaitGroup
	l.advs = make([]loadAdvisor, loadAdvisors)
	sem := make(chan struct{}, 8)
	for i := range l.advs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			l.advs[i] = l.newAdvisor(b, i)
		}()
	}
	wg.Wait()
	// Two feed clients per advisor, following the feed from its head.
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel) // runs before the relay closes
	for _, a := range l.advs {
		var page struct{ Next uint64 }
		if st := l.call(ctx, "GET", "/api/v1/inbox/changes?limit=1000", a.token, nil, &page); st != 200 {
			b.Fatalf("head: %d", st)
		}
		for range 2 {
			go l.poll(ctx, a.token, page.Next)
		}
	}
	return l
}

func (l *load) newAdvisor(b *testing.B, i int) loadAdvisor {
	ctx := context.Background()
	name := "adv" + strconv.Itoa(i)
	first, final := "Erstes-Passwort-"+strconv.Itoa(1000+i), "Gezeiten-Passwort-"+strconv.Itoa(1000+i)
	var u struct{ ID string }
	if st := l.call(ctx, "POST", "/api/v1/users", l.e.admin, map[string]string{"username": name, "display_name": "Beraterin " + strconv.Itoa(i), "email": name + "@bank.test", "password": first}, &u); st != 201 {
		b.Errorf("advisor %d: %d", i, st)
		return loadAdvisor{}
	}
	var login struct{ Token string }
	l.call(ctx, "POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": name, "password": first}, &login)
	if st := l.call(ctx, "POST", "/api/v1/me/password", login.Token, map[string]string{"current_password": first, "new_password": final}, nil); st != 204 {
		b.Errorf("advisor %d password: %d", i, st)
	}
	l.call(ctx, "POST", "/api/v1/login", "", map[string]string{"tenant": "bank", "username": name, "password": final}, &login)
	var cust struct{ ID string }
	if st := l.call(ctx, "POST", "/api/v1/customers", login.Token, map[string]string{"first_name": "Last", "last_name": strconv.Itoa(i), "email": "last" + strconv.Itoa(i) + "@example.org"}, &cust); st != 201 {
		b.Errorf("customer %d: %d", i, st)
	}
	var c struct{ ID string }
	if st := l.call(ctx, "POST", "/api/v1/conversations", login.Token, map[string]string{"customer_id": cust.ID, "channel": "chat"}, &c); st != 201 {
		b.Errorf("conversation %d: %d", i, st)
	}
	return loadAdvisor{token: login.Token, conv: c.ID}
}

// call is env.call with the load's client and a context.
func (l *load) call(ctx context.Context, method, path, token string, body, out any) int {
	var rd io.Reader
	if body != nil {
		bs, _ := json.Marshal(body)
		rd = bytes.NewReader(bs)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.e.s.URL()+path, rd)
	if err != nil {
		return 0
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := l.http.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// poll follows one advisor's feed with the long poll until ctx ends,
// recording the latency of each message it is the first to see.
func (l *load) poll(ctx context.Context, token string, since uint64) {
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
		if st := l.call(ctx, "GET", "/api/v1/inbox/changes?wait=25&since="+strconv.FormatUint(since, 10), token, nil, &p); st != 200 {
			if ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		now := time.Now()
		l.mu.Lock()
		for _, c := range p.Changes {
			if c.Kind != "message" || c.Message == nil {
				continue
			}
			if t0, ok := l.sentAt[c.Message.Text]; ok {
				l.lat = append(l.lat, now.Sub(t0))
				delete(l.sentAt, c.Message.Text)
				l.seen.Add(1)
			}
		}
		l.mu.Unlock()
		if p.Next > since {
			since = p.Next
		}
	}
}

// send sends the next message as the i-th advisor into their
// conversation and notes its start time.
func (l *load) send(b *testing.B) {
	i := l.n.Add(1)
	a := l.advs[int(i)%len(l.advs)]
	text := "Last " + strconv.FormatInt(i, 10)
	l.mu.Lock()
	l.sentAt[text] = time.Now()
	l.mu.Unlock()
	if st := l.call(context.Background(), "POST", "/api/v1/conversations/"+a.conv+"/messages", a.token, map[string]string{"client_id": "l" + strconv.FormatInt(i, 10), "text": text}, nil); st != 201 {
		b.Errorf("send: %d", st)
	}
}

// run sends b.N messages, closed loop from loadSenders clients when rate
// is 0, else open loop at rate per second, and waits for all of them to
// reach a feed client.
func (l *load) run(b *testing.B, rate int) {
	l.mu.Lock()
	l.lat, l.sentAt = nil, map[string]time.Time{}
	l.mu.Unlock()
	l.seen.Store(0)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	if rate == 0 {
		var left atomic.Int64
		left.Store(int64(b.N))
		for range loadSenders {
			wg.Go(func() {
				for left.Add(-1) >= 0 {
					l.send(b)
				}
			})
		}
	} else {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		sem := make(chan struct{}, loadSenders)
		for range b.N {
			<-tick.C
			sem <- struct{}{} // at most 32 sends in flight: 32 sender clients
			wg.Go(func() {
				defer func() { <-sem }()
				l.send(b)
			})
		}
		tick.Stop()
	}
	wg.Wait()
	stored := time.Since(start)
	deadline := time.Now().Add(60 * time.Second)
	for l.seen.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	if got := l.seen.Load(); got < int64(b.N) {
		b.Fatalf("only %d of %d messages reached a feed client", got, b.N)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.lat)
	b.ReportMetric(float64(b.N)/stored.Seconds(), "msgs/s")
	b.ReportMetric(float64(l.lat[len(l.lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(l.lat[len(l.lat)*99/100].Microseconds())/1000, "p99-ms")
}
