package server

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"parley/relay/audit"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/meeting"
	"parley/relay/retention"
	"parley/relay/store"
)

// errInjected is the write failure flakyKV injects.
var errInjected = errors.New("injected write failure")

// flakyKV is a memory store whose writes fail for keys that contain a
// chosen string (a meeting id), to make one meeting's retention fail.
type flakyKV struct {
	store.Memory
	mu   sync.Mutex
	fail string
}

// failWrites makes writes to keys containing s fail; "" stops it.
func (f *flakyKV) failWrites(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = s
}

func (f *flakyKV) Update(ctx context.Context, fn func(store.Txn) error) error {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail == "" {
		return f.Memory.Update(ctx, fn)
	}
	return f.Memory.Update(ctx, func(tx store.Txn) error { return fn(flakyTxn{tx, []byte(fail)}) })
}

type flakyTxn struct {
	store.Txn
	fail []byte
}

func (t flakyTxn) check(key []byte) error {
	if bytes.Contains(key, t.fail) {
		return errInjected
	}
	return nil
}

func (t flakyTxn) Set(key, value []byte) error {
	if err := t.check(key); err != nil {
		return err
	}
	return t.Txn.Set(key, value)
}

func (t flakyTxn) SetWithTTL(key, value []byte, ttl time.Duration) error {
	if err := t.check(key); err != nil {
		return err
	}
	return t.Txn.SetWithTTL(key, value, ttl)
}

func (t flakyTxn) Delete(key []byte) error {
	if err := t.check(key); err != nil {
		return err
	}
	return t.Txn.Delete(key)
}

// sweepEnv is a sweeper with the relay's services on a memory store and a
// fake clock.
type sweepEnv struct {
	t        testing.TB
	ctx      context.Context
	clk      *clock.Fake
	kv       *flakyKV
	meetings *meeting.Service
	chat     *chat.Service
	stored   *chat.Service // reads everything stored (keepAll)
	policy   *retention.Policy
	audit    *audit.Log
	reg      *prometheus.Registry
	sw       *sweeper
}

// admin is the actor of the tests' policy changes and holds.
var admin = retention.Actor{UserID: "u-admin", Admin: true}

func newSweepEnv(t testing.TB, start time.Time, interval time.Duration) *sweepEnv {
	t.Helper()
	e := &sweepEnv{t: t, ctx: context.Background(), clk: clock.NewFake(start), kv: &flakyKV{}, reg: prometheus.NewRegistry()}
	e.kv.Clock = e.clk
	var err error
	if e.audit, err = audit.New(e.ctx, audit.Options{Store: e.kv, Clock: e.clk}); err != nil {
		t.Fatal(err)
	}
	if e.meetings, err = meeting.New(meeting.Options{Store: e.kv, Clock: e.clk, InstantLinkTTL: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if e.chat, err = chat.New(chat.Options{Store: e.kv, Clock: e.clk}); err != nil {
		t.Fatal(err)
	}
	if e.stored, err = chat.New(chat.Options{Store: e.kv, Clock: e.clk, Rule: keepAll}); err != nil {
		t.Fatal(err)
	}
	if e.policy, err = retention.New(retention.Options{Store: e.kv, Audit: e.audit, Clock: e.clk}); err != nil {
		t.Fatal(err)
	}
	e.sw = newSweeperFrom(sweeperDeps{clock: e.clk, meetings: e.meetings, chat: e.chat, retention: e.policy, audit: e.audit}, e.reg)
	e.sw.interval.Store(int64(interval))
	return e
}

// metric returns the value of a gauge or counter of the sweeper's
// registry whose labels include every name=value pair of labels.
func (e *sweepEnv) metric(name string, labels ...string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				if have[k] != v {
					continue next
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// anonymised reports whether the meeting's metadata was anonymised.
func (e *sweepEnv) anonymised(meetingID string) bool {
	e.t.Helper()
	md, err := e.meetings.MetadataOf(e.ctx, meetingID)
	if err != nil {
		e.t.Fatal(err)
	}
	return !md.Anonymised.IsZero()
}

// keepAll is a chat.ContentRule under which reads list every stored
// entry, expired or not: tests observe what a sweep left in the store.
func keepAll(context.Context, string) (time.Duration, bool, error) { return 0, true, nil }

// entries returns the ids of the meeting's timeline entries still stored
// (reads through keepAll, so expired but unswept entries count).
func (e *sweepEnv) entries(meetingID string) map[string]bool {
	e.t.Helper()
	es, err := e.stored.Since(e.ctx, meetingID, 0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make(map[string]bool, len(es))
	for _, x := range es {
		ids[x.ID] = true
	}
	return ids
}

// keepAllMeta is a metadata rule under which reads show everything stored
// (every meeting held): for looking at what a sweep left.
func keepAllMeta(context.Context, string, string) (time.Duration, bool, error) { return 0, true, nil }
