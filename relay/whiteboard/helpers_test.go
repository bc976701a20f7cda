package whiteboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/signal/msg"
	"parley/relay/store"
)

const meetingA = "0123456789abcdef0123456789abcdef"
const meetingB = "fedcba9876543210fedcba9876543210"

// docA is a presented document with docAPages pages.
const docA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
const docAPages = 3

var (
	advisor  = Actor{ID: "u-1", Role: msg.RoleAdvisor}
	customer = Actor{ID: "p-1", Role: msg.RoleCustomer}
	other    = Actor{ID: "p-2", Role: msg.RoleCustomer}
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
	t     testing.TB
	ctx   context.Context
	clock *clock.Fake
	kv    store.KV
	svc   *Service
	logs  *syncBuffer
}

func documents(_ context.Context, _, docID string) (int, error) {
	if docID == docA {
		return docAPages, nil
	}
	return 0, ErrUnknownDocument
}

func newEnv(t testing.TB, kv store.KV, opts Options) *env {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	if kv == nil {
		kv = &store.Memory{Clock: clk}
	}
	logs := &syncBuffer{}
	opts.Store, opts.Clock = kv, clk
	if opts.Documents == nil {
		opts.Documents = documents
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: context.Background(), clock: clk, kv: kv, svc: svc, logs: logs}
}

func (e *env) open(meetingID string) *Board {
	e.t.Helper()
	b, err := e.svc.Open(e.ctx, meetingID)
	must(e.t, err)
	return b
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func stroke(page int, pts ...float64) Op {
	return Op{Kind: KindStroke, ID: ids.New(), Page: page, Tool: ToolPen, Color: "#1f4e79", Width: 0.004, Points: pts}
}

func shape(kind string, page int) Op {
	return Op{Kind: KindShape, ID: ids.New(), Page: page, Shape: kind, Color: "#c00000", Width: 0.003, Points: []float64{0.1, 0.1, 0.4, 0.3}}
}

func text(page int, s string) Op {
	return Op{Kind: KindText, ID: ids.New(), Page: page, Color: "#000000", Size: 0.03, Points: []float64{0.5, 0.5}, Text: s}
}

// apply applies op and fails the test on error.
func apply(t testing.TB, b *Board, a Actor, op Op) Op {
	t.Helper()
	acc, err := b.Apply(context.Background(), a, op)
	if err != nil {
		t.Fatalf("apply %s by %s: %v", op.Kind, a.ID, err)
	}
	return acc
}

// visibleIDs lists the ids of the visible objects of a page in z-order.
func visibleIDs(t testing.TB, b *Board, ref PageRef) []string {
	t.Helper()
	st, err := b.State(context.Background(), ref)
	must(t, err)
	var out []string
	for _, o := range st.Objects(ref) {
		out = append(out, o.ID)
	}
	return out
}

// wire sends v through JSON as the signalling layer would.
func wire[T any](t testing.TB, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	var out T
	must(t, json.Unmarshal(b, &out))
	return out
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func eq(t testing.TB, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("visible %v, want %v", got, want)
	}
}
