package messaging

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/store"
)

var ctx = context.Background()

// testStart is when the fixtures' clocks start.
var testStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const (
	tenantA = "tenant-a"
	tenantB = "tenant-b"
	advA    = "adv-a"
	advB    = "adv-b"
	cust1   = "0123456789abcdef0123456789abcdef"
	cust2   = "fedcba9876543210fedcba9876543210"
)

var (
	advisorA  = Actor{TenantID: tenantA, UserID: advA, Role: RoleAdvisor}
	advisorB  = Actor{TenantID: tenantA, UserID: advB, Role: RoleAdvisor}
	adminA    = Actor{TenantID: tenantA, UserID: "admin-a", Role: RoleAdmin}
	customer1 = Actor{TenantID: tenantA, UserID: cust1, Role: RoleCustomer}
	outsider  = Actor{TenantID: tenantB, UserID: advA, Role: RoleAdmin}
)

// fakeSealer seals with a per-customer AES-GCM key kept in memory; Shred
// destroys a key. Its zero value is ready.
type fakeSealer struct {
	mu   sync.Mutex
	keys map[string][]byte
	gone map[string]bool
}

var errShredded = errors.New("fake sealer: key destroyed")

func (f *fakeSealer) aead(customer string, create bool) (cipher.AEAD, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone[customer] {
		return nil, errShredded
	}
	k, ok := f.keys[customer]
	if !ok {
		if !create {
			return nil, errShredded
		}
		if f.keys == nil {
			f.keys = map[string][]byte{}
		}
		k = make([]byte, 32)
		crand.Read(k)
		f.keys[customer] = k
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func (f *fakeSealer) SealTx(_ store.Txn, customer string, plain []byte) ([]byte, error) {
	g, err := f.aead(customer, true)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize())
	crand.Read(nonce)
	return g.Seal(nonce, nonce, plain, []byte(customer)), nil
}

func (f *fakeSealer) OpenTx(_ store.Txn, customer string, sealed []byte) ([]byte, error) {
	g, err := f.aead(customer, false)
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize() {
		return nil, errors.New("fake sealer: short")
	}
	return g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte(customer))
}

func (f *fakeSealer) Shred(customer string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone == nil {
		f.gone = map[string]bool{}
	}
	f.gone[customer] = true
	delete(f.keys, customer)
}

type fixture struct {
	svc    *Service
	kv     store.KV
	mem    *store.Memory
	clock  *clock.Fake
	sealer *fakeSealer
	sent   []Message // what Outbound saw (committed or not)
	mu     sync.Mutex
}

func newFixture(t testing.TB, mod func(*Options)) *fixture {
	t.Helper()
	clk := clock.NewFake(testStart)
	mem := &store.Memory{Clock: clk}
	f := &fixture{mem: mem, kv: mem, clock: clk, sealer: &fakeSealer{}}
	opts := Options{Store: mem, Clock: clk, Sealer: f.sealer, Logger: slog.New(slog.DiscardHandler),
		Outbound: func(tx store.Txn, c Conversation, m Message) error {
			if c.Address == "" && c.Channel.External() {
				return errors.New("outbound without address")
			}
			f.mu.Lock()
			f.sent = append(f.sent, m)
			f.mu.Unlock()
			return nil
		}}
	if mod != nil {
		mod(&opts)
	}
	f.kv = opts.Store
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

// open opens a relay-chat conversation of cust for advisor a.
func (f *fixture) open(t testing.TB, a Actor, customer string) Conversation {
	t.Helper()
	c, _, err := f.svc.Open(ctx, a, OpenRequest{Channel: ChannelChat, CustomerID: customer})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) send(t testing.TB, a Actor, conv, clientID, text string) Message {
	t.Helper()
	m, err := f.svc.Send(ctx, a, conv, Draft{ClientID: clientID, Text: text})
	if err != nil {
		t.Fatalf("send %s: %v", clientID, err)
	}
	return m
}

// rawKeys returns every key and value in the store under messaging/.
func rawKeys(t testing.TB, kv store.KV) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(prefix), func(k, v []byte) error {
			out[string(k)] = v
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// faultyKV fails some commits before applying them and some after
// (ambiguous acknowledgements), with a seeded random source.
type faultyKV struct {
	store.KV
	mu            sync.Mutex
	rng           *rand.Rand
	before, after float64
	failedBefore  int
	failedAfter   int
}

var errInjected = errors.New("injected store failure")

func (f *faultyKV) roll() (before, after bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	x := f.rng.Float64()
	switch {
	case x < f.before:
		f.failedBefore++
		return true, false
	case x < f.before+f.after:
		f.failedAfter++
		return false, true
	}
	return false, false
}

func (f *faultyKV) Update(ctx context.Context, fn func(store.Txn) error) error {
	before, after := f.roll()
	if before {
		return fmt.Errorf("commit: %w", errInjected)
	}
	if err := f.KV.Update(ctx, fn); err != nil {
		return err
	}
	if after {
		return fmt.Errorf("ack lost: %w", errInjected)
	}
	return nil
}

type txn = store.Txn

// cancelAfter cancels a context after n successful updates.
type cancelAfter struct {
	store.KV
	cancel func()
	n      int
}

func (c *cancelAfter) Update(ctx context.Context, fn func(store.Txn) error) error {
	if err := c.KV.Update(ctx, fn); err != nil {
		return err
	}
	c.n--
	if c.n == 0 {
		c.cancel()
	}
	return nil
}

// storeMemory is a Memory store with numbered keys for scanFrom tests.
type storeMemory struct{ m store.Memory }

func (s *storeMemory) put(t *testing.T, fill func(put func(n uint64))) {
	t.Helper()
	err := s.m.Update(ctx, func(tx store.Txn) error {
		var err error
		fill(func(n uint64) {
			if err == nil {
				err = tx.Set(fmt.Appendf(nil, "k/%020d", n), nil)
			}
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (s *storeMemory) scan(t *testing.T, from, max uint64) []uint64 {
	t.Helper()
	var out []uint64
	err := s.m.View(ctx, func(tx store.Txn) error {
		return scanFrom(tx, []byte("k/"), from, max, func(k, _ []byte) error {
			var n uint64
			if _, err := fmt.Sscanf(string(k), "k/%d", &n); err != nil {
				return err
			}
			out = append(out, n)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
