package kiosk_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/kiosk"
	"parley/relay/store"
)

type env struct {
	svc *kiosk.Service
	clk *clock.Fake
	kv  *store.Memory
}

func newEnv(t *testing.T) env {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	kv := &store.Memory{Clock: clk}
	svc, err := kiosk.New(kiosk.Options{Store: kv, Clock: clk, PIN: kiosk.TestPINParams})
	if err != nil {
		t.Fatal(err)
	}
	return env{svc: svc, clk: clk, kv: kv}
}

var ctx = context.Background()

func TestCreateAuthenticateListDelete(t *testing.T) {
	e := newEnv(t)
	d, token, err := e.svc.Create(ctx, "tenantA", "Filiale Mitte", "123456")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, kiosk.TokenPrefix) || !ids.Valid(d.ID) || d.Name != "Filiale Mitte" {
		t.Fatalf("created %+v %q", d, token)
	}
	got, err := e.svc.Authenticate(ctx, token)
	if err != nil || got.ID != d.ID || got.TenantID != "tenantA" {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	// The token is stored only as its digest.
	_ = e.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte("kiosk/"), func(k, v []byte) error {
			if strings.Contains(string(k)+string(v), token) || strings.Contains(string(v), "123456") {
				t.Errorf("secret stored in %s", k)
			}
			return nil
		})
	})
	if l, _ := e.svc.List(ctx, "tenantA"); len(l) != 1 || l[0].ID != d.ID {
		t.Fatalf("list A: %+v", l)
	}
	if l, _ := e.svc.List(ctx, "tenantB"); len(l) != 0 {
		t.Fatalf("list B: %+v", l)
	}
	if err := e.svc.Delete(ctx, "tenantB", d.ID); !errors.Is(err, kiosk.ErrNotFound) {
		t.Fatalf("delete by B: %v", err)
	}
	if err := e.svc.Delete(ctx, "tenantA", d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, token); !errors.Is(err, kiosk.ErrUnauthorized) {
		t.Fatalf("token after delete: %v", err)
	}
	var left []string
	_ = e.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte("kiosk/"), func(k, _ []byte) error { left = append(left, string(k)); return nil })
	})
	if len(left) != 0 {
		t.Fatalf("keys left after delete: %v", left)
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ name, pin string }{
		{"", "123456"}, {"a\x00b", "123456"}, {strings.Repeat("x", 81), "123456"},
		{"ok", "12345"}, {"ok", "1234567890123"}, {"ok", "12345a"}, {"ok", "١٢٣٤٥٦"},
	} {
		if _, _, err := e.svc.Create(ctx, "t", c.name, c.pin); !errors.Is(err, kiosk.ErrInvalidInput) {
			t.Errorf("Create(%q, %q) = %v", c.name, c.pin, err)
		}
	}
	for _, tok := range []string{"", "pkd_", "pkd_" + strings.Repeat("A", 43), "pss_" + strings.Repeat("A", 43)} {
		if _, err := e.svc.Authenticate(ctx, tok); !errors.Is(err, kiosk.ErrUnauthorized) {
			t.Errorf("Authenticate(%q) = %v", tok, err)
		}
	}
}

func TestUnlockLimitsAttempts(t *testing.T) {
	e := newEnv(t)
	d, _, _ := e.svc.Create(ctx, "t", "K", "24681357")
	if err := e.svc.Unlock(ctx, "t", d.ID, "24681357"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Unlock(ctx, "other", d.ID, "24681357"); !errors.Is(err, kiosk.ErrNotFound) {
		t.Fatalf("other tenant: %v", err)
	}
	for i := range kiosk.MaxAttempts {
		if err := e.svc.Unlock(ctx, "t", d.ID, "00000000"); !errors.Is(err, kiosk.ErrWrongPIN) {
			t.Fatalf("wrong PIN %d: %v", i, err)
		}
	}
	err := e.svc.Unlock(ctx, "t", d.ID, "24681357")
	var we *kiosk.WaitError
	if !errors.As(err, &we) || we.Wait != kiosk.AttemptWindow {
		t.Fatalf("after %d wrong PINs: %v", kiosk.MaxAttempts, err)
	}
	e.clk.Advance(kiosk.AttemptWindow - time.Second)
	if err := e.svc.Unlock(ctx, "t", d.ID, "24681357"); !errors.Is(err, kiosk.ErrTooManyAttempts) {
		t.Fatalf("1 s before the window ends: %v", err)
	}
	e.clk.Advance(time.Second)
	if err := e.svc.Unlock(ctx, "t", d.ID, "24681357"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestQueueOpenSingleUseAndExpiry(t *testing.T) {
	e := newEnv(t)
	k1, _, _ := e.svc.Create(ctx, "t", "K1", "123456")
	k2, _, _ := e.svc.Create(ctx, "t", "K2", "123456")
	p1, p2 := ids.New(), ids.New()
	en, code, err := e.svc.Queue(ctx, "t", k1.ID, p1, "customer1", "advisor1")
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != 6 || en.Expires.Sub(en.Queued) != kiosk.EntryTTL {
		t.Fatalf("entry %+v code %q", en, code)
	}
	if _, _, err := e.svc.Queue(ctx, "other", k1.ID, p1, "customer1", "advisor1"); !errors.Is(err, kiosk.ErrNotFound) {
		t.Fatalf("queue at another tenant's kiosk: %v", err)
	}
	// Re-queueing the process at the other kiosk replaces the entry.
	en2, code2, err := e.svc.Queue(ctx, "t", k2.ID, p1, "customer1", "advisor1")
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := e.svc.Entries(ctx, "t", k1.ID); len(l) != 0 {
		t.Fatalf("old entry still queued: %+v", l)
	}
	if _, err := e.svc.Open(ctx, "t", k1.ID, code); !errors.Is(err, kiosk.ErrInvalidCode) {
		t.Fatalf("replaced code: %v", err)
	}
	if _, err := e.svc.Open(ctx, "other", k2.ID, code2); !errors.Is(err, kiosk.ErrNotFound) {
		t.Fatalf("open with another tenant: %v", err)
	}
	got, err := e.svc.Open(ctx, "t", k2.ID, code2)
	if err != nil || got.ID != en2.ID || got.ProcessID != p1 || got.Role != "customer1" {
		t.Fatalf("open: %+v %v", got, err)
	}
	if _, err := e.svc.Open(ctx, "t", k2.ID, code2); !errors.Is(err, kiosk.ErrInvalidCode) {
		t.Fatalf("second use: %v", err)
	}
	// Expiry at exactly EntryTTL.
	_, code3, _ := e.svc.Queue(ctx, "t", k1.ID, p2, "customer2", "advisor1")
	e.clk.Advance(kiosk.EntryTTL - time.Second)
	if l, _ := e.svc.Entries(ctx, "t", k1.ID); len(l) != 1 {
		t.Fatalf("entries 1 s before expiry: %+v", l)
	}
	e.clk.Advance(time.Second)
	if l, _ := e.svc.Entries(ctx, "t", k1.ID); len(l) != 0 {
		t.Fatalf("entries at expiry: %+v", l)
	}
	if _, err := e.svc.Open(ctx, "t", k1.ID, code3); !errors.Is(err, kiosk.ErrInvalidCode) {
		t.Fatalf("expired code: %v", err)
	}
}

func TestOpenLimitsWrongCodesPerKiosk(t *testing.T) {
	e := newEnv(t)
	k, _, _ := e.svc.Create(ctx, "t", "K", "123456")
	other, _, _ := e.svc.Create(ctx, "t", "K2", "123456")
	_, code, _ := e.svc.Queue(ctx, "t", k.ID, ids.New(), "customer1", "a")
	wrong := "000000"
	if wrong == code {
		wrong = "000001"
	}
	for i := range kiosk.MaxAttempts {
		if _, err := e.svc.Open(ctx, "t", k.ID, wrong); !errors.Is(err, kiosk.ErrInvalidCode) {
			t.Fatalf("wrong code %d: %v", i, err)
		}
	}
	if _, err := e.svc.Open(ctx, "t", k.ID, code); !errors.Is(err, kiosk.ErrTooManyAttempts) {
		t.Fatalf("right code after the limit: %v", err)
	}
	// Another kiosk has its own budget.
	if _, err := e.svc.Open(ctx, "t", other.ID, wrong); !errors.Is(err, kiosk.ErrInvalidCode) {
		t.Fatalf("other kiosk: %v", err)
	}
	e.clk.Advance(kiosk.AttemptWindow)
	if _, err := e.svc.Open(ctx, "t", k.ID, code); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestCallLifecycle(t *testing.T) {
	e := newEnv(t)
	k, _, _ := e.svc.Create(ctx, "t", "K", "123456")
	c, err := e.svc.CreateCall(ctx, "t", k.ID)
	if err != nil || c.Status != kiosk.CallWaiting {
		t.Fatalf("create: %+v %v", c, err)
	}
	if again, _ := e.svc.CreateCall(ctx, "t", k.ID); again.ID != c.ID {
		t.Fatalf("second call while waiting: %+v", again)
	}
	if l, _ := e.svc.WaitingCalls(ctx, "t"); len(l) != 1 {
		t.Fatalf("waiting: %+v", l)
	}
	if l, _ := e.svc.WaitingCalls(ctx, "other"); len(l) != 0 {
		t.Fatalf("other tenant sees %+v", l)
	}
	if _, err := e.svc.Claim(ctx, "other", c.ID, "b"); !errors.Is(err, kiosk.ErrNotFound) {
		t.Fatalf("claim by other tenant: %v", err)
	}
	if _, err := e.svc.Claim(ctx, "t", c.ID, "adv"); err != nil {
		t.Fatal(err)
	}
	if l, _ := e.svc.WaitingCalls(ctx, "t"); len(l) != 0 {
		t.Fatalf("claimed call still listed: %+v", l)
	}
	if _, err := e.svc.Complete(ctx, "t", c.ID, "adv", ids.New(), "pmp_secret"); err != nil {
		t.Fatal(err)
	}
	got, _ := e.svc.CallOf(ctx, "t", k.ID, c.ID)
	if got.Status != kiosk.CallAccepted || got.Secret != "pmp_secret" || got.MeetingID == "" {
		t.Fatalf("first poll: %+v", got)
	}
	got, _ = e.svc.CallOf(ctx, "t", k.ID, c.ID)
	if got.Secret != "" || got.MeetingID == "" {
		t.Fatalf("second poll: %+v", got)
	}
	if _, err := e.svc.CancelCall(ctx, "t", k.ID, c.ID); !errors.Is(err, kiosk.ErrTaken) {
		t.Fatalf("cancel accepted: %v", err)
	}
}

func TestCallUnansweredAndCancelled(t *testing.T) {
	e := newEnv(t)
	k, _, _ := e.svc.Create(ctx, "t", "K", "123456")
	c, _ := e.svc.CreateCall(ctx, "t", k.ID)
	e.clk.Advance(kiosk.CallTimeout - time.Second)
	if got, _ := e.svc.CallOf(ctx, "t", k.ID, c.ID); got.Status != kiosk.CallWaiting {
		t.Fatalf("1 s before the timeout: %s", got.Status)
	}
	e.clk.Advance(time.Second)
	if got, _ := e.svc.CallOf(ctx, "t", k.ID, c.ID); got.Status != kiosk.CallUnanswered {
		t.Fatalf("at the timeout: %s", got.Status)
	}
	if _, err := e.svc.Claim(ctx, "t", c.ID, "adv"); !errors.Is(err, kiosk.ErrTaken) {
		t.Fatalf("claim unanswered: %v", err)
	}
	c2, _ := e.svc.CreateCall(ctx, "t", k.ID)
	if c2.ID == c.ID {
		t.Fatal("a new call after the timeout reuses the old one")
	}
	if _, err := e.svc.Claim(ctx, "t", c2.ID, "adv"); err != nil {
		t.Fatal(err)
	}
	if got, err := e.svc.CancelCall(ctx, "t", k.ID, c2.ID); err != nil || got.Status != kiosk.CallCancelled {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	if _, err := e.svc.Complete(ctx, "t", c2.ID, "adv", ids.New(), "pmp_x"); !errors.Is(err, kiosk.ErrTaken) {
		t.Fatalf("complete after cancel: %v", err)
	}
	if _, err := e.svc.CallOf(ctx, "t", "otherkiosk", c2.ID); !errors.Is(err, kiosk.ErrNotFound) {
		t.Fatalf("another kiosk reads the call: %v", err)
	}
}

func TestConcurrentClaimsOneWinner(t *testing.T) {
	for _, kv := range []struct {
		name string
		open func(t *testing.T, clk clock.Clock) store.KV
	}{
		{"memory", func(t *testing.T, clk clock.Clock) store.KV { return &store.Memory{Clock: clk} }},
		{"badger", func(t *testing.T, clk clock.Clock) store.KV {
			st, err := store.Open(store.BadgerOptions{Dir: t.TempDir(), KeyDir: t.TempDir(), Key: make([]byte, 32)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
	} {
		t.Run(kv.name, func(t *testing.T) {
			clk := clock.NewFake(time.Now())
			svc, _ := kiosk.New(kiosk.Options{Store: kv.open(t, clk), Clock: clk, PIN: kiosk.TestPINParams})
			k, _, _ := svc.Create(ctx, "t", "K", "123456")
			c, _ := svc.CreateCall(ctx, "t", k.ID)
			const n = 8
			var wg sync.WaitGroup
			wins := make(chan string, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					adv := "adv" + string(rune('a'+i))
					if _, err := svc.Claim(ctx, "t", c.ID, adv); err == nil {
						wins <- adv
					} else if !errors.Is(err, kiosk.ErrTaken) {
						t.Errorf("claim: %v", err)
					}
				}()
			}
			wg.Wait()
			close(wins)
			var winners []string
			for w := range wins {
				winners = append(winners, w)
			}
			if len(winners) != 1 {
				t.Fatalf("winners: %v", winners)
			}
		})
	}
}
