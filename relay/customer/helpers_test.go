package customer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/store"
)

// profiles is the interface relay/booking consumes (copied here because
// booking imports this package); the guard keeps them in step.
type profiles interface {
	UpsertTx(tx store.Txn, tenantID string, c Contact, now time.Time) (customerID string, err error)
	SealTx(tx store.Txn, customerID string, plaintext []byte) ([]byte, error)
	OpenTx(tx store.Txn, customerID string, sealed []byte) ([]byte, error)
	ContactTx(tx store.Txn, customerID string) (Contact, error)
}

var _ profiles = (*Service)(nil)

// syncBuffer collects log output from concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	svc   *Service
	kv    store.KV
	clock *clock.Fake
	logs  *syncBuffer
}

func newFixture(t testing.TB, mod func(*Options)) *fixture {
	t.Helper()
	clk := clock.NewFake(testStart)
	kv := &store.Memory{Clock: clk}
	logs := &syncBuffer{}
	opts := Options{Store: kv, Clock: clk, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mod != nil {
		mod(&opts)
	}
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, kv: opts.Store, clock: clk, logs: logs}
}

var ctx = context.Background()

// testStart is when the fixtures' clocks start.
var testStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// erika is a full, valid contact.
func erika() Contact {
	return Contact{FirstName: "Erika", LastName: "Mustermann", Email: "Erika.Mustermann@Example.ORG",
		Mobile: "+49 171 1234567", Address: &Address{Street: "Heidestraße 17", PostalCode: "51147", City: "Köln", Country: "de"}}
}

// piiNeedles are the bytes of erika() that must never show up in keys,
// logs or unencrypted values.
var piiNeedles = []string{"Erika", "Mustermann", "erika.mustermann", "Example.ORG", "example.org", "1711234567", "171 1234567", "Heidestra", "51147", "Köln"}

func (f *fixture) upsert(t testing.TB, tenantID string, c Contact) string {
	t.Helper()
	var id string
	err := f.kv.Update(ctx, func(tx store.Txn) error {
		var err error
		id, err = f.svc.UpsertTx(tx, tenantID, c, f.clock.Now())
		return err
	})
	if err != nil {
		t.Fatalf("UpsertTx: %v", err)
	}
	return id
}

func (f *fixture) seal(t testing.TB, id string, pt []byte) []byte {
	t.Helper()
	var out []byte
	err := f.kv.Update(ctx, func(tx store.Txn) error {
		var err error
		out, err = f.svc.SealTx(tx, id, pt)
		return err
	})
	if err != nil {
		t.Fatalf("SealTx: %v", err)
	}
	return out
}

func (f *fixture) open(id string, sealed []byte) ([]byte, error) {
	var out []byte
	err := f.kv.View(ctx, func(tx store.Txn) error {
		var err error
		out, err = f.svc.OpenTx(tx, id, sealed)
		return err
	})
	return out, err
}

func (f *fixture) contact(id string) (Contact, error) {
	var c Contact
	err := f.kv.View(ctx, func(tx store.Txn) error {
		var err error
		c, err = f.svc.ContactTx(tx, id)
		return err
	})
	return c, err
}

// countKeys counts the store's keys under prefix.
func countKeys(t testing.TB, kv store.KV, prefix string) int {
	t.Helper()
	n := 0
	err := kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(prefix), func(_, _ []byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// assertNoPII fails when a needle appears in s (case-insensitively).
func assertNoPII(t testing.TB, where, s string) {
	t.Helper()
	for _, n := range piiNeedles {
		if strings.Contains(strings.ToLower(s), strings.ToLower(n)) {
			t.Errorf("%s contains personal data %q", where, n)
		}
	}
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

var advisor = Actor{TenantID: "bank1", UserID: "adv1"}
