// Command sweep measures the retention sweep of meeting content (issue 7):
//
//	go run ./tests/bench/sweep [-n 1000000] [-meetings 1000] [-workers 8]
//	    [-idle 10s] [-clients 4] [-rate 200] [-api=true] [-timeout 90m]
//
// It seeds n expired chat messages (chat.Post, with a nonce as browsers
// send, posted eight days ago by a ticking clock) across -meetings
// meetings (meeting.CreateInstant, so the sweep's rule finds each
// meeting's tenant) from -workers goroutines into the encrypted badger
// store in a temporary folder, with NoSyncWrites, and reports the seeding
// time. It then closes the store and opens it again as the relay does
// (every commit synced) and serves the relay's API handler (api.New with
// the auth, audit, meeting and chat services over that store) on an
// httptest server on loopback. -clients clients send -rate requests per
// second in all, at fixed times, alternating GET /api/v1/me and GET
// /api/v1/meetings/{id}/timeline of a live meeting (20 fresh entries),
// first for -idle with nothing else running, then while
// chat.DeleteExpiredSweep with the relay sweeper's meeting-content rule
// (the tenant's effective period from relay/retention, legal holds)
// deletes everything due, called until nothing is due. It prints the
// sweep's time and records/s, the requests' p50/p99 idle and during the
// sweep and their ratio, and finally counts the keys left under chat/:
// only the live meeting's may remain.
//
// With -api=false the sweep runs alone. Loopback only. CI never runs this
// program.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley/relay/api"
	"parley/relay/audit"
	"parley/relay/auth"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/meeting"
	"parley/relay/retention"
	"parley/relay/signal/msg"
	"parley/relay/store"
	"parley/tests/internal/stats"
)

const (
	tenantSlug = "bench"
	adminPass  = "Leuchtturm-Hafen-2026"
)

type config struct {
	n, meetings, workers int
	idle                 time.Duration
	clients              int
	rate                 float64
	withAPI              bool
	cpuProfile           string
}

func main() {
	var c config
	flag.IntVar(&c.n, "n", 1_000_000, "expired chat messages to seed and sweep")
	flag.IntVar(&c.meetings, "meetings", 1000, "meetings the messages are spread over")
	flag.IntVar(&c.workers, "workers", 8, "seeding goroutines")
	flag.DurationVar(&c.idle, "idle", 10*time.Second, "API measurement with nothing else running")
	flag.IntVar(&c.clients, "clients", 4, "API clients")
	flag.Float64Var(&c.rate, "rate", 200, "API requests per second, all clients together")
	flag.BoolVar(&c.withAPI, "api", true, "measure API latency idle and during the sweep")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the sweep phase to this file")
	timeout := flag.Duration("timeout", 90*time.Minute, "give up after this long")
	flag.Parse()
	if c.n < 1 || c.meetings < 1 || c.workers < 1 || c.clients < 1 || c.rate <= 0 {
		log.Fatal("sweep: -n, -meetings, -workers, -clients and -rate must be positive")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "sweep:", err)
		os.Exit(1)
	}
}

// tickClock moves forward by step on every reading, so that seeded
// entries get distinct, increasing times.
type tickClock struct {
	base time.Time
	step time.Duration
	n    atomic.Int64
}

func (c *tickClock) Now() time.Time { return c.base.Add(time.Duration(c.n.Add(1)) * c.step) }

func run(ctx context.Context, c config) error {
	dir, err := os.MkdirTemp("", "sweepbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*7 + 1)
	}
	dbDir := filepath.Join(dir, "store")
	fmt.Printf("sweep %s, %s, GOMAXPROCS=%d, %d CPUs\n", time.Now().UTC().Format(time.DateOnly), runtime.Version(),
		runtime.GOMAXPROCS(0), runtime.NumCPU())

	// Seed with unsynced commits.
	kv, err := store.Open(store.BadgerOptions{Dir: dbDir, Key: key, NoSyncWrites: true})
	if err != nil {
		return err
	}
	past := &tickClock{base: time.Now().Add(-chat.Retention - 24*time.Hour), step: 100 * time.Microsecond}
	a, err := bootstrap(ctx, kv)
	if err != nil {
		kv.Close()
		return err
	}
	t0 := time.Now()
	if err := seed(ctx, kv, past, a, c); err != nil {
		kv.Close()
		return err
	}
	seedTime := time.Since(t0)
	if err := kv.Close(); err != nil {
		return fmt.Errorf("close after seeding: %w", err)
	}
	fmt.Printf("seeded %d expired chat messages in %d meetings with %d goroutines (unsynced commits) in %v: %.0f messages/s (close included: %v)\n",
		c.n, c.meetings, c.workers, seedTime.Round(time.Millisecond), float64(c.n)/seedTime.Seconds(), time.Since(t0).Round(time.Millisecond))
	fmt.Printf("store on disk after seeding: %.1f MiB\n", float64(dirSize(dbDir))/(1<<20))

	// Reopen as the relay does: every commit synced.
	kv, err = store.Open(store.BadgerOptions{Dir: dbDir, Key: key})
	if err != nil {
		return err
	}
	defer kv.Close()
	env, err := newRelay(ctx, kv, a)
	if err != nil {
		return err
	}
	defer env.srv.Close()

	var load *loadGen
	if c.withAPI {
		load, err = env.startLoad(ctx, c)
		if err != nil {
			return err
		}
		time.Sleep(time.Second) // warm-up, not counted
		load.phase.Store(phaseIdle)
		time.Sleep(c.idle)
	}

	if load != nil {
		load.phase.Store(phaseSweep)
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	t0 = time.Now()
	stopProgress := progress(t0, &env.counted.updates)
	var deleted, calls int
	var sweepErr error
	for {
		res, st, err := env.chat.DeleteExpiredSweep(ctx, time.Now(), env.rule)
		calls++
		deleted += res.Entries
		if err != nil {
			sweepErr = fmt.Errorf("sweep call %d: %w", calls, err)
			break
		}
		if res.Entries == 0 && st.Due == 0 {
			break
		}
	}
	sweepTime := time.Since(t0)
	stopProgress()
	if c.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if load != nil {
		load.phase.Store(phaseDone)
		load.stop()
	}
	if sweepErr != nil {
		// Cut short (-timeout): report what was done.
		fmt.Printf("sweep stopped after %v: %v; about %d entries deleted (%d transactions of up to 64): %.0f records/s\n",
			sweepTime.Round(time.Millisecond), sweepErr, env.counted.updates.Load()*64, env.counted.updates.Load(),
			float64(env.counted.updates.Load()*64)/sweepTime.Seconds())
	} else {
		fmt.Printf("swept %d messages in %v (%d calls of chat.DeleteExpiredSweep, the last finding nothing due): %.0f records/s\n",
			deleted, sweepTime.Round(time.Millisecond), calls, float64(deleted)/sweepTime.Seconds())
	}

	if load != nil {
		if err := load.report(c); err != nil {
			return err
		}
	}
	if sweepErr != nil {
		return sweepErr
	}

	total, live, err := env.chatKeys(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("keys left under chat/: %d, all of them the live meeting's (%d): %v\n", total, live, total == live)
	if deleted != c.n || total != live {
		return fmt.Errorf("sweep incomplete: deleted %d of %d, %d keys of seeded meetings left", deleted, c.n, total-live)
	}
	return nil
}

// admin is the bootstrapped tenant and admin.
type admin struct{ tenantID, userID string }

func bootstrap(ctx context.Context, kv store.KV) (admin, error) {
	svc, err := auth.New(auth.Options{Store: kv})
	if err != nil {
		return admin{}, err
	}
	res, err := svc.Bootstrap(ctx, tenantSlug, "Bench Bank", adminPass)
	if err != nil {
		return admin{}, err
	}
	return admin{res.Tenant.ID, res.Admin.ID}, nil
}

// seed creates the meetings and posts c.n messages, round robin over each
// worker's own meetings (so that workers never conflict).
func seed(ctx context.Context, kv store.KV, clk clock.Clock, a admin, c config) error {
	ms, err := meeting.New(meeting.Options{Store: kv, Clock: clk})
	if err != nil {
		return err
	}
	cs, err := chat.New(chat.Options{Store: kv, Clock: clk})
	if err != nil {
		return err
	}
	mids := make([]string, c.meetings)
	for i := range mids {
		m, _, err := ms.CreateInstant(ctx, meeting.NewMeeting{TenantID: a.tenantID, AdvisorID: a.userID, AdvisorName: "Bench Advisor"})
		if err != nil {
			return fmt.Errorf("create meeting: %w", err)
		}
		mids[i] = m.ID
	}
	author := chat.Author{ID: a.userID, Name: "Bench Advisor", Role: msg.RoleAdvisor}
	var posted atomic.Int64
	errs := make(chan error, c.workers)
	var wg sync.WaitGroup
	for w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []string
			for i := w; i < len(mids); i += c.workers {
				mine = append(mine, mids[i])
			}
			if len(mine) == 0 {
				return
			}
			for k := 0; ; k++ {
				i := posted.Add(1)
				if i > int64(c.n) {
					return
				}
				text := fmt.Sprintf("Nachricht %d: die Unterlagen zum Angebot liegen bei, bitte bis Freitag prüfen.", i)
				if _, _, err := cs.Post(ctx, mine[k%len(mine)], author, text, fmt.Sprintf("n%d", i)); err != nil {
					errs <- fmt.Errorf("post %d: %w", i, err)
					return
				}
				if i%100_000 == 0 {
					fmt.Printf("  seeded %d\n", i)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// relayEnv is the relay's services over the reopened store and its API
// on loopback.
type relayEnv struct {
	kv      store.KV
	admin   admin
	chat    *chat.Service // the sweeper's, over counted
	counted *countingKV
	rule    chat.ContentRule
	srv     *httptest.Server
	live    string // the live meeting's id
}

func newRelay(ctx context.Context, kv store.KV, a admin) (*relayEnv, error) {
	au, err := auth.New(auth.Options{Store: kv})
	if err != nil {
		return nil, err
	}
	al, err := audit.New(ctx, audit.Options{Store: kv})
	if err != nil {
		return nil, err
	}
	pol, err := retention.New(retention.Options{Store: kv, Audit: al})
	if err != nil {
		return nil, err
	}
	ms, err := meeting.New(meeting.Options{Store: kv})
	if err != nil {
		return nil, err
	}
	cs, err := chat.New(chat.Options{Store: kv})
	if err != nil {
		return nil, err
	}
	counted := &countingKV{KV: kv}
	sweeper, err := chat.New(chat.Options{Store: counted})
	if err != nil {
		return nil, err
	}
	e := &relayEnv{kv: kv, admin: a, chat: sweeper, counted: counted, rule: contentRule(ms, pol)}
	m, _, err := ms.CreateInstant(ctx, meeting.NewMeeting{TenantID: a.tenantID, AdvisorID: a.userID, AdvisorName: "Bench Advisor"})
	if err != nil {
		return nil, err
	}
	e.live = m.ID
	author := chat.Author{ID: a.userID, Name: "Bench Advisor", Role: msg.RoleAdvisor}
	for i := range 20 {
		if _, _, err := cs.Post(ctx, m.ID, author, fmt.Sprintf("Live-Nachricht %d im laufenden Termin.", i), fmt.Sprintf("live%d", i)); err != nil {
			return nil, err
		}
	}
	e.srv = httptest.NewServer(api.New(api.Options{Auth: au, Audit: al, Meetings: ms, Chat: cs}))
	return e, nil
}

// contentRule is the relay sweeper's meeting-content rule
// (relay/server.contentRuleOf): the period of the meeting's tenant and its
// legal hold; the default period for a meeting without metadata.
func contentRule(meetings *meeting.Service, policy *retention.Policy) chat.ContentRule {
	return func(ctx context.Context, meetingID string) (time.Duration, bool, error) {
		md, err := meetings.MetadataOf(ctx, meetingID)
		if errors.Is(err, meeting.ErrNotFound) {
			return chat.Retention, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		r, err := policy.Effective(ctx, md.TenantID, retention.ClassMeetingContent)
		if err != nil {
			return 0, false, err
		}
		return r.Period, policy.Held(ctx, md.TenantID, retention.SubjectMeeting, meetingID), nil
	}
}

// chatKeys counts the keys under chat/ and those of them that hold the
// live meeting's id (its entries, expiry index, nonces, counter).
func (e *relayEnv) chatKeys(ctx context.Context) (total, live int, err error) {
	err = e.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte("chat/"), func(k, _ []byte) error {
			total++
			if strings.Contains(string(k), e.live) {
				live++
			}
			return nil
		})
	})
	return total, live, err
}

// countingKV counts write transactions: the sweep deletes up to 64
// entries in each.
type countingKV struct {
	store.KV
	updates atomic.Int64
}

func (c *countingKV) Update(ctx context.Context, fn func(store.Txn) error) error {
	err := c.KV.Update(ctx, fn)
	if err == nil {
		c.updates.Add(1)
	}
	return err
}

// progress prints the sweep's progress every 30 s until stopped.
func progress(t0 time.Time, updates *atomic.Int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-done:
				return
			case <-t.C:
				n := updates.Load()
				fmt.Printf("  sweep %v: ~%d entries deleted, ~%.0f records/s over the last 30 s\n",
					time.Since(t0).Round(time.Second), n*64, float64((n-last)*64)/30)
				last = n
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// Phases of the load generator.
const (
	phaseWarmup int32 = iota
	phaseIdle
	phaseSweep
	phaseDone
)

// sample is one request's latency: from sending to the end of the body,
// and from its scheduled time (which also counts the wait of a request
// that could not start on time).
type sample struct {
	phase     int32
	timeline  bool
	service   time.Duration
	scheduled time.Duration
}

type loadGen struct {
	phase   atomic.Int32
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	samples []sample
	errs    atomic.Int64
}

func (e *relayEnv) login(ctx context.Context, c *http.Client) (string, error) {
	body := fmt.Sprintf(`{"tenant":%q,"username":"admin","password":%q}`, tenantSlug, adminPass)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/api/v1/login", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK || out.Token == "" {
		return "", fmt.Errorf("login: status %d: %v", res.StatusCode, err)
	}
	return out.Token, nil
}

// startLoad signs every client in and starts sending.
func (e *relayEnv) startLoad(ctx context.Context, c config) (*loadGen, error) {
	lctx, cancel := context.WithCancel(ctx)
	g := &loadGen{cancel: cancel}
	interval := time.Duration(float64(time.Second) * float64(c.clients) / c.rate)
	type client struct {
		hc    *http.Client
		token string
	}
	clients := make([]client, c.clients)
	for i := range clients {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, Timeout: 30 * time.Second}
		tok, err := e.login(ctx, hc)
		if err != nil {
			cancel()
			return nil, err
		}
		clients[i] = client{hc, tok}
	}
	// Check both routes once.
	for _, path := range []string{"/api/v1/me", "/api/v1/meetings/" + e.live + "/timeline"} {
		b, status, err := get(ctx, clients[0].hc, e.srv.URL+path, clients[0].token)
		if err != nil || status != http.StatusOK {
			cancel()
			return nil, fmt.Errorf("GET %s: %d %v", path, status, err)
		}
		if strings.HasSuffix(path, "/timeline") && strings.Count(string(b), `"seq"`) != 20 {
			cancel()
			return nil, fmt.Errorf("timeline of the live meeting does not hold its 20 entries")
		}
	}
	for i, cl := range clients {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			// Spread the clients over one interval.
			next := time.Now().Add(interval * time.Duration(i) / time.Duration(len(clients)))
			for k := i; ; k++ {
				if d := time.Until(next); d > 0 {
					select {
					case <-lctx.Done():
						return
					case <-time.After(d):
					}
				} else if lctx.Err() != nil {
					return
				}
				ph := g.phase.Load()
				tl := k%2 == 1
				path := "/api/v1/me"
				if tl {
					path = "/api/v1/meetings/" + e.live + "/timeline"
				}
				sent := time.Now()
				_, status, err := get(lctx, cl.hc, e.srv.URL+path, cl.token)
				done := time.Now()
				if lctx.Err() != nil {
					return
				}
				if err != nil || status != http.StatusOK {
					g.errs.Add(1)
				} else {
					g.mu.Lock()
					g.samples = append(g.samples, sample{ph, tl, done.Sub(sent), done.Sub(next)})
					g.mu.Unlock()
				}
				next = next.Add(interval)
			}
		}()
	}
	return g, nil
}

func (g *loadGen) stop() {
	g.cancel()
	g.wg.Wait()
}

func get(ctx context.Context, c *http.Client, url, token string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return b, res.StatusCode, err
}

func (g *loadGen) report(c config) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	fmt.Printf("API load: %d clients, %.0f requests/s in all at fixed times, GET /api/v1/me and GET /api/v1/meetings/{id}/timeline (20 entries) alternating; failed requests: %d\n",
		c.clients, c.rate, g.errs.Load())
	pick := func(phase int32, tl bool, scheduled bool) []time.Duration {
		var out []time.Duration
		for _, s := range g.samples {
			if s.phase == phase && s.timeline == tl {
				if scheduled {
					out = append(out, s.scheduled)
				} else {
					out = append(out, s.service)
				}
			}
		}
		return out
	}
	for _, ep := range []struct {
		name string
		tl   bool
	}{{"GET /api/v1/me", false}, {"GET /api/v1/meetings/{id}/timeline", true}} {
		idle, sweep := stats.Summarise(pick(phaseIdle, ep.tl, false)), stats.Summarise(pick(phaseSweep, ep.tl, false))
		idleS, sweepS := stats.Summarise(pick(phaseIdle, ep.tl, true)), stats.Summarise(pick(phaseSweep, ep.tl, true))
		if idle.N == 0 || sweep.N == 0 {
			return fmt.Errorf("%s: no samples idle (%d) or during the sweep (%d)", ep.name, idle.N, sweep.N)
		}
		fmt.Printf("%s\n  idle:         %s\n  during sweep: %s\n", ep.name, idle, sweep)
		fmt.Printf("  ratio sweep/idle: p50 %.2f, p99 %.2f\n", ratio(sweep.Median, idle.Median), ratio(sweep.P99, idle.P99))
		fmt.Printf("  from the scheduled time (counts waiting behind a late request): idle p50 %v p99 %v, sweep p50 %v p99 %v, ratio p99 %.2f\n",
			idleS.Median, idleS.P99, sweepS.Median, sweepS.P99, ratio(sweepS.P99, idleS.P99))
	}
	return nil
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
