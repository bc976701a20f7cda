package auth

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

const goodPW, badPW = "Tulpen-im-Regen-1", "wrong-password-1"

// throttled returns the RetryAfter of err, or 0 if it is no *ThrottledError.
func throttled(err error) time.Duration {
	var te *ThrottledError
	if errors.As(err, &te) {
		return te.RetryAfter
	}
	return 0
}

func TestThrottleAccount(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	e.user(tn.ID, "erika", goodPW, RoleAdvisor)
	login := func(pw, src string) error {
		_, _, err := e.svc.Login(e.ctx, "bank", "erika", pw, src)
		return err
	}
	// Three free failures (from one source), then back-off starts.
	for i := 1; i <= 3; i++ {
		if err := login(badPW, "198.51.100.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("free failure %d: %v", i, err)
		}
	}
	if err := login(badPW, "198.51.100.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("4th failure: %v", err)
	}
	// The correct password is now refused without being checked, from any
	// source; so is a wrong one, with the same answer.
	for _, src := range []string{"198.51.100.1", "203.0.113.5", ""} {
		if d := throttled(login(goodPW, src)); d != time.Second {
			t.Fatalf("correct password during back-off from %q: RetryAfter %v, want 1s", src, d)
		}
		if d := throttled(login(badPW, src)); d != time.Second {
			t.Fatalf("wrong password during back-off: RetryAfter %v, want 1s", d)
		}
	}
	e.clock.Advance(400 * time.Millisecond)
	if d := throttled(login(goodPW, "")); d != 600*time.Millisecond {
		t.Fatalf("RetryAfter after 0.4 s: %v", d)
	}
	// Attempts during the back-off did not count: the next failure doubles
	// the delay once (2 s), not more.
	e.clock.Advance(600 * time.Millisecond)
	if err := login(badPW, "198.51.100.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("5th failure: %v", err)
	}
	if d := throttled(login(goodPW, "")); d != 2*time.Second {
		t.Fatalf("after 5th failure: RetryAfter %v, want 2s", d)
	}
	e.clock.Advance(2 * time.Second)
	if err := login(goodPW, "198.51.100.1"); err != nil {
		t.Fatalf("correct password after the back-off: %v", err)
	}
	// Success reset the account and the source: three free failures again.
	for i := 1; i <= 4; i++ {
		if err := login(badPW, "198.51.100.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d after reset: %v", i, err)
		}
	}
	if d := throttled(login(goodPW, "")); d != time.Second {
		t.Fatalf("after reset and 4 failures: %v", d)
	}
}

func TestThrottleUnknownUsersAndTenants(t *testing.T) {
	e := newEnv(t, nil)
	e.tenant("bank")
	for i := 0; i < 4; i++ {
		e.svc.Login(e.ctx, "bank", "ghost", badPW, "")
	}
	if d := throttled(func() error { _, _, err := e.svc.Login(e.ctx, "bank", "GHOST", badPW, ""); return err }()); d != time.Second {
		t.Fatalf("unknown user not throttled like a real one: %v", d)
	}
	for i := 0; i < 4; i++ {
		e.svc.Login(e.ctx, "nobank", "x", badPW, "192.0.2.1")
	}
	if d := throttled(func() error { _, _, err := e.svc.Login(e.ctx, "nobank", "y", badPW, "192.0.2.1"); return err }()); d != time.Second {
		t.Fatalf("guessing tenants from one source not throttled: %v", d)
	}
}

func TestThrottleAccountCapManySources(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	e.user(tn.ID, "erika", goodPW, RoleAdvisor)
	var maxSeen time.Duration
	for i := 0; i < 100; i++ {
		src := fmt.Sprintf("10.0.%d.%d", i/250, i%250)
		_, _, err := e.svc.Login(e.ctx, "bank", "erika", badPW, src)
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
		if i < 3 {
			continue // free failures (probing with the right password would reset them)
		}
		d := throttled(func() error { _, _, err := e.svc.Login(e.ctx, "bank", "erika", goodPW, "10.9.9.9"); return err }())
		if d == 0 {
			t.Fatalf("no back-off after failure %d", i+1)
		}
		if d > time.Minute {
			t.Fatalf("account back-off %v after %d failures exceeds the cap", d, i+1)
		}
		maxSeen = max(maxSeen, d)
		e.clock.Advance(d)
	}
	if maxSeen != time.Minute {
		t.Fatalf("largest account back-off %v, want exactly 1m", maxSeen)
	}
	// The real user gets in right after the (capped) back-off.
	e.login("bank", "erika", goodPW, "192.0.2.44")
}

func TestThrottleSourceGrowsBeyondAccountCap(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	e.user(tn.ID, "erika", goodPW, RoleAdvisor)
	const src = "203.0.113.66"
	var got []time.Duration
	for i := 0; i < 16; i++ {
		// A different account each time: only the source counter grows.
		_, _, err := e.svc.Login(e.ctx, "bank", fmt.Sprintf("guess%d", i), badPW, src)
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
		if i < 3 {
			got = append(got, 0) // free failures (probing with the right password would reset them)
			continue
		}
		d := throttled(func() error { _, _, err := e.svc.Login(e.ctx, "bank", "erika", goodPW, src); return err }())
		got = append(got, d)
		e.clock.Advance(d)
	}
	want := []time.Duration{0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("source back-off after %d failures = %v, want %v (all: %v)", i+1, got[i], want[i]*time.Second, got)
		}
	}
	// The account itself is not throttled: erika logs in from elsewhere.
	e.login("bank", "erika", goodPW, "198.51.100.200")
	// And the source may try again after its back-off; success resets it.
	e.clock.Advance(15 * time.Minute)
	e.login("bank", "erika", goodPW, src)
	if _, _, err := e.svc.Login(e.ctx, "bank", "nobody", badPW, src); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("source not reset by success: %v", err)
	}
}

func TestThrottleForgetAfter(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	e.user(tn.ID, "erika", goodPW, RoleAdvisor)
	fail := func() error { _, _, err := e.svc.Login(e.ctx, "bank", "erika", badPW, "192.0.2.8"); return err }
	for i := 0; i < 5; i++ {
		fail()
		e.clock.Advance(2 * time.Second)
	}
	e.clock.Advance(time.Hour)
	// Forgotten: three free failures again.
	for i := 0; i < 4; i++ {
		if err := fail(); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d after ForgetAfter: %v", i+1, err)
		}
	}
	if d := throttled(fail()); d != time.Second {
		t.Fatalf("back-off after forgetting: %v", d)
	}
	e.clock.Advance(2 * time.Hour)
	e.svc.Login(e.ctx, "bank", "x", badPW, "")
	if a, s := e.svc.th.size(); a != 1 || s != 0 {
		t.Fatalf("after pruning: %d account, %d source counters; want 1, 0", a, s)
	}
}

func TestThrottleBounded(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Throttle.MaxEntries = 10 })
	e.tenant("bank")
	for i := 0; i < 50; i++ {
		e.svc.Login(e.ctx, "bank", fmt.Sprintf("u%d", i), badPW, fmt.Sprintf("192.0.2.%d", i))
		if a, s := e.svc.th.size(); a > 10 || s > 10 {
			t.Fatalf("%d account, %d source counters; max 10", a, s)
		}
	}
}

func TestThrottleConcurrent(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	e.user(tn.ID, "erika", goodPW, RoleAdvisor)
	e.user(tn.ID, "max", goodPW, RoleAdvisor)
	// Many parallel wrong guesses against one account: only a few may be
	// checked before the back-off takes hold.
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.svc.Login(e.ctx, "bank", "erika", badPW, fmt.Sprintf("10.1.0.%d", i))
			if errors.Is(err, ErrInvalidCredentials) {
				mu.Lock()
				checked++
				mu.Unlock()
			} else if throttled(err) == 0 {
				t.Errorf("unexpected %v", err)
			}
			// Meanwhile another user logs in and out.
			if _, tok, err := e.svc.Login(e.ctx, "bank", "max", goodPW, ""); err == nil {
				if _, err := e.svc.Authenticate(e.ctx, tok); err != nil {
					t.Error(err)
				}
				e.svc.Logout(e.ctx, tok)
			} else {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// Attempts in flight count: exactly FreeFailures+1 guesses get checked
	// before the back-off starts, however many run in parallel.
	if checked != 4 {
		t.Fatalf("%d of 40 parallel guesses were checked, want 4", checked)
	}
}

func TestThrottleDelayFormula(t *testing.T) {
	th := newThrottle(ThrottleOptions{})
	cases := map[int]time.Duration{0: 0, 3: 0, 4: time.Second, 5: 2 * time.Second, 9: 32 * time.Second, 10: time.Minute, 1000: time.Minute, 1 << 40: time.Minute}
	for n, want := range cases {
		if got := th.delay(n, time.Minute); got != want {
			t.Errorf("delay(%d) = %v, want %v", n, got, want)
		}
	}
	none := newThrottle(ThrottleOptions{FreeFailures: -1, BaseDelay: 10 * time.Millisecond})
	if got := none.delay(1, time.Hour); got != 10*time.Millisecond {
		t.Errorf("no free failures: delay(1) = %v", got)
	}
}

func TestThrottleInflightCountsAsFailures(t *testing.T) {
	th := newThrottle(ThrottleOptions{})
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	acct := makeThrottleKey("bank", "erika")
	src := func(i int) *throttleKey { k := makeThrottleKey(fmt.Sprint("10.0.0.", i)); return &k }

	// FreeFailures+1 = 4 attempts may run at once on one account ...
	var running []*attempt
	for i := 0; i < 4; i++ {
		a, wait, busy := th.begin(now, acct, src(i))
		if a == nil || wait != 0 || busy != nil {
			t.Fatalf("attempt %d not admitted: %v %v", i, wait, busy)
		}
		running = append(running, a)
	}
	// ... a fifth waits for one of them to finish.
	_, wait, busy := th.begin(now, acct, src(9))
	if wait != 0 || busy == nil {
		t.Fatalf("5th concurrent attempt: wait %v, busy %v", wait, busy)
	}
	running[0].finish(now, outcomeFailure)
	select {
	case <-busy:
	default:
		t.Fatal("finishing an attempt did not wake the waiter")
	}
	// One failure + three in flight: still no room.
	if _, _, busy := th.begin(now, acct, src(9)); busy == nil {
		t.Fatal("admitted a 5th attempt while 3 were in flight after 1 failure")
	}
	for _, a := range running[1:] {
		a.finish(now, outcomeFailure)
	}
	// Four failures: the back-off runs.
	if _, wait, _ := th.begin(now, acct, src(9)); wait != time.Second {
		t.Fatalf("after 4 failures: wait %v", wait)
	}
	// A neutral outcome (store error) neither counts nor resets.
	now = now.Add(time.Second)
	a, _, _ := th.begin(now, acct, nil)
	a.finish(now, outcomeNeutral)
	if c := th.accounts.m[acct]; c == nil || c.failures != 4 || c.inflight != 0 {
		t.Fatalf("after neutral outcome: %+v", c)
	}

	// A source that used up its free failures runs one attempt at a time,
	// but a fresh source runs many (users behind one NAT).
	s := src(100)
	var many []*attempt
	for i := 0; i < 10; i++ {
		a, _, _ := th.begin(now, makeThrottleKey("bank", fmt.Sprint("user", i)), s)
		if a == nil {
			t.Fatalf("fresh source: attempt %d not admitted", i)
		}
		many = append(many, a)
	}
	for _, a := range many[:3] {
		a.finish(now, outcomeFailure)
	}
	if _, _, busy := th.begin(now, makeThrottleKey("bank", "other"), s); busy == nil {
		t.Fatal("source with 3 failures admitted a parallel attempt")
	}
	for _, a := range many[3:] {
		a.finish(now, outcomeSuccess)
	}
	if a, _, _ := th.begin(now, makeThrottleKey("bank", "other"), s); a == nil {
		t.Fatal("source not reset by success")
	}
}

// TestLoginVerifiesOnceOrNever checks that Login runs exactly one argon2
// verification whether or not the tenant and user exist (a dummy hash
// stands in), and none at all while throttled.
func TestLoginVerifiesOnceOrNever(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	e.user(tn.ID, "erika", goodPW, RoleAdvisor)
	var calls []string
	e.svc.verify = func(encoded, password string) (bool, HashParams) {
		calls = append(calls, encoded)
		return verifyPassword(encoded, password)
	}
	for _, tc := range []struct{ slug, user, pw string }{
		{"bank", "erika", goodPW},
		{"bank", "erika", badPW},
		{"bank", "nobody", badPW},
		{"nobank", "erika", badPW},
		{"bank", "erika", strings.Repeat("x", MaxPasswordBytes+1)},
	} {
		calls = nil
		e.svc.Login(e.ctx, tc.slug, tc.user, tc.pw, "")
		if len(calls) != 1 {
			t.Fatalf("Login(%s, %s): %d verifications", tc.slug, tc.user, len(calls))
		}
		if tc.user == "nobody" || tc.slug == "nobank" {
			if calls[0] != e.svc.dummyHash {
				t.Fatalf("Login(%s, %s) did not verify against the dummy hash", tc.slug, tc.user)
			}
		}
	}
	for range 4 {
		e.svc.Login(e.ctx, "bank", "erika", badPW, "")
	}
	calls = nil
	if d := throttled(func() error { _, _, err := e.svc.Login(e.ctx, "bank", "erika", goodPW, ""); return err }()); d == 0 {
		t.Fatal("not throttled")
	}
	if len(calls) != 0 {
		t.Fatalf("%d verifications while throttled", len(calls))
	}
}
