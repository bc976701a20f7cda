package privacy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/audit"
	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/retention"
	"parley/relay/store"
)

const tenant = "tenant-a"

var admin = Actor{TenantID: tenant, UserID: "admin-1", Admin: true}

// fakePart keeps records of customers in the store under
// fake/<name>/<tenant>/<customer>/<n>, like a real data class.
type fakePart struct {
	name string
	kv   store.KV
}

func (p *fakePart) Name() string { return p.name }

func (p *fakePart) prefix(tenantID, customerID string) []byte {
	return []byte("fake/" + p.name + "/" + tenantID + "/" + customerID + "/")
}

func (p *fakePart) seed(ctx context.Context, tenantID, customerID string, n int) error {
	return p.kv.Update(ctx, func(tx store.Txn) error {
		for i := range n {
			if err := tx.Set(fmt.Appendf(p.prefix(tenantID, customerID), "%04d", i), fmt.Appendf(nil, "%s record %d of %s", p.name, i, customerID)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (p *fakePart) records(ctx context.Context, tenantID, customerID string) (map[string]string, error) {
	out := map[string]string{}
	err := p.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan(p.prefix(tenantID, customerID), func(k, v []byte) error {
			out[string(k[len(p.prefix(tenantID, customerID)):])] = string(v)
			return nil
		})
	})
	return out, err
}

func (p *fakePart) Export(ctx context.Context, tenantID, customerID string, add AddFunc) error {
	recs, err := p.records(ctx, tenantID, customerID)
	if err != nil {
		return err
	}
	for k, v := range recs {
		if err := add("rec-"+k+".txt", strings.NewReader(v)); err != nil {
			return err
		}
	}
	return nil
}

func (p *fakePart) Erase(ctx context.Context, tenantID, customerID string) (int, error) {
	n := 0
	err := p.kv.Update(ctx, func(tx store.Txn) error {
		n = 0
		var keys [][]byte
		if err := tx.Scan(p.prefix(tenantID, customerID), func(k, _ []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

type holdSet map[string]bool

func (h holdSet) Held(_ context.Context, tenantID string, kind retention.SubjectKind, id string) bool {
	return kind == retention.SubjectCustomer && h[tenantID+"/"+id]
}

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

// env is a privacy engine over a store (badger in dir when dir is set),
// the real customer profiles and audit log, and two fake parts.
type env struct {
	t         *testing.T
	ctx       context.Context
	kv        store.KV
	clock     *clock.Fake
	customers *customer.Service
	audit     *audit.Log
	ledger    *Ledger
	parts     []*fakePart
	holds     holdSet
	svc       *Service
	logs      *syncBuffer
}

func newEnv(t *testing.T, kv store.KV, ledgerPath string) *env {
	t.Helper()
	fc := &clock.Fake{}
	fc.Set(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	if kv == nil {
		kv = &store.Memory{Clock: fc}
	}
	if ledgerPath == "" {
		ledgerPath = filepath.Join(t.TempDir(), LedgerFileName)
	}
	e := &env{t: t, ctx: context.Background(), kv: kv, clock: fc, holds: holdSet{}, logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	var err error
	e.customers, err = customer.New(customer.Options{Store: kv, Clock: fc, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e.audit, err = audit.New(e.ctx, audit.Options{Store: kv, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	e.ledger, err = OpenLedger(ledgerPath)
	if err != nil {
		t.Fatal(err)
	}
	e.parts = []*fakePart{{name: "bookings", kv: kv}, {name: "meetings", kv: kv}}
	e.svc, err = New(Options{Store: kv, Ledger: e.ledger, Profiles: e.customers, Parts: []Part{e.parts[0], e.parts[1]},
		Holds: e.holds, Audit: e.audit, Clock: fc, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// seed creates a customer with n records in each part.
func (e *env) seed(tenantID, email string, n int) customer.Profile {
	e.t.Helper()
	p, err := e.customers.Create(e.ctx, customer.Actor{TenantID: tenantID, UserID: "advisor-1"},
		customer.Contact{FirstName: "Kai", LastName: "Kunde", Email: email, Mobile: "+491701234567"})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, part := range e.parts {
		if err := part.seed(e.ctx, tenantID, p.ID, n); err != nil {
			e.t.Fatal(err)
		}
	}
	return p
}

// readable reports whether the customer's profile can still be read.
func (e *env) readable(tenantID, id string) bool {
	e.t.Helper()
	_, err := e.customers.Get(e.ctx, customer.Actor{TenantID: tenantID, UserID: "advisor-1"}, id)
	if err != nil && !errors.Is(err, customer.ErrNotFound) {
		e.t.Fatalf("Get: %v", err)
	}
	return err == nil
}

func (e *env) left(tenantID, id string) int {
	e.t.Helper()
	n := 0
	for _, p := range e.parts {
		recs, err := p.records(e.ctx, tenantID, id)
		if err != nil {
			e.t.Fatal(err)
		}
		n += len(recs)
	}
	return n
}
