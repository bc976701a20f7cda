package auth

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"parley/relay/clock"
	"parley/relay/store"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers (the logger).
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

type env struct {
	t     *testing.T
	svc   *Service
	clock *clock.Fake
	kv    *store.Memory
	logs  *syncBuffer
	ctx   context.Context
}

// newEnv returns a Service on a Memory store with a fake clock and test
// hash parameters; mod may adjust the options.
func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	fc := &clock.Fake{}
	kv := &store.Memory{Clock: fc}
	logs := &syncBuffer{}
	opts := Options{
		Store:  kv,
		Clock:  fc,
		Hash:   TestHashParams,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&opts)
	}
	svc, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{t: t, svc: svc, clock: fc, kv: kv, logs: logs, ctx: context.Background()}
}

func (e *env) tenant(slug string) Tenant {
	e.t.Helper()
	tn, err := e.svc.CreateTenant(e.ctx, slug, "Tenant "+slug)
	if err != nil {
		e.t.Fatalf("CreateTenant(%q): %v", slug, err)
	}
	return tn
}

func (e *env) user(tenantID, username, password string, role Role) User {
	e.t.Helper()
	u, err := e.svc.CreateUser(e.ctx, tenantID, NewUser{
		Username: username, DisplayName: "Test " + username, Password: password, Role: role,
	})
	if err != nil {
		e.t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

func (e *env) login(slug, username, password, source string) (Session, string) {
	e.t.Helper()
	s, tok, err := e.svc.Login(e.ctx, slug, username, password, source)
	if err != nil {
		e.t.Fatalf("Login(%s/%s): %v", slug, username, err)
	}
	return s, tok
}

// dump returns every key and value in the store, for before/after checks.
func (e *env) dump() map[string]string {
	e.t.Helper()
	m := map[string]string{}
	err := e.kv.View(e.ctx, func(tx store.Txn) error {
		return tx.Scan(nil, func(k, v []byte) error {
			m[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// record reads a user's stored record.
func (e *env) record(tid, uid string) *userRecord {
	e.t.Helper()
	var rec *userRecord
	if err := e.kv.View(e.ctx, func(tx store.Txn) (err error) {
		rec, err = getUser(tx, tid, uid)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return rec
}
