package meeting

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

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

var (
	tenantA  = "tenant-a"
	tenantB  = "tenant-b"
	advisor  = Actor{TenantID: tenantA, UserID: "advisor-1"}
	advisor2 = Actor{TenantID: tenantA, UserID: "advisor-2"}
	adminA   = Actor{TenantID: tenantA, UserID: "admin-1", Admin: true}
	adminB   = Actor{TenantID: tenantB, UserID: "admin-b", Admin: true}
)

type env struct {
	t     *testing.T
	svc   *Service
	clock *clock.Fake
	kv    store.KV
	logs  *syncBuffer
	ctx   context.Context
}

// newEnv returns a Service on a Memory store (or kv, when not nil) with a
// fake clock; mod may adjust the options.
func newEnv(t *testing.T, kv store.KV, mod func(*Options)) *env {
	t.Helper()
	fc := &clock.Fake{}
	if kv == nil {
		kv = &store.Memory{Clock: fc}
	}
	logs := &syncBuffer{}
	opts := Options{
		Store:  kv,
		Clock:  fc,
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

func (e *env) instant() (Meeting, string) {
	e.t.Helper()
	m, tok, err := e.svc.CreateInstant(e.ctx, NewMeeting{
		TenantID: tenantA, AdvisorID: advisor.UserID, AdvisorName: "Anna Beraterin", Title: "Beratung",
	})
	if err != nil {
		e.t.Fatalf("CreateInstant: %v", err)
	}
	return m, tok
}

func (e *env) booked(start time.Time) (Meeting, string) {
	e.t.Helper()
	m, tok, err := e.svc.CreateBooked(e.ctx, NewMeeting{
		TenantID: tenantA, AdvisorID: advisor.UserID, AdvisorName: "Anna Beraterin", ScheduledStart: start, Initiator: "booking",
	})
	if err != nil {
		e.t.Fatalf("CreateBooked: %v", err)
	}
	return m, tok
}

func (e *env) join(token, name, ip string) Joined {
	e.t.Helper()
	j, err := e.svc.Join(e.ctx, token, JoinRequest{Name: name, IP: ip})
	if err != nil {
		e.t.Fatalf("Join(%q): %v", name, err)
	}
	return j
}

func (e *env) state(secret string) State {
	e.t.Helper()
	c, err := e.svc.ParticipantBySecret(e.ctx, secret)
	if err != nil {
		e.t.Fatalf("ParticipantBySecret: %v", err)
	}
	return c.Participant.State
}

func (e *env) meta(id string) Metadata {
	e.t.Helper()
	m, err := e.svc.MetadataOf(e.ctx, id)
	if err != nil {
		e.t.Fatalf("MetadataOf: %v", err)
	}
	return m
}

// assertLogsClean fails when any of the personal data appears in the logs.
func (e *env) assertLogsClean(pd ...string) {
	e.t.Helper()
	logs := e.logs.String()
	for _, s := range pd {
		if s != "" && strings.Contains(logs, s) {
			e.t.Errorf("logs contain personal data %q", s)
		}
	}
}

// dumpKV returns every key and value in the store.
func dumpKV(t *testing.T, e *env) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := e.kv.View(e.ctx, func(tx store.Txn) error {
		return tx.Scan(nil, func(k, v []byte) error {
			m[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
