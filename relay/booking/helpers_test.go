package booking

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/ids"
	"parley/relay/store"
)

// fakeProfiles keeps profiles under "customer/" keys in the caller's
// transaction and seals with AES-GCM under one test key (bound to the
// customer id). Its zero value works.
type fakeProfiles struct{}

var profileKey = bytes.Repeat([]byte{9}, 32)

func (fakeProfiles) UpsertTx(tx store.Txn, tenantID string, c customer.Contact, now time.Time) (string, error) {
	sum := sha256.Sum256([]byte(strings.ToLower(c.Email)))
	ik := []byte("customer/email/" + tenantID + "/" + hex.EncodeToString(sum[:]))
	id := ""
	v, err := tx.Get(ik)
	switch {
	case err == nil:
		id = string(v)
	case errors.Is(err, store.ErrNotFound):
		id = ids.New()
		if err := tx.Set(ik, []byte(id)); err != nil {
			return "", err
		}
	default:
		return "", err
	}
	b, _ := json.Marshal(c)
	return id, tx.Set([]byte("customer/p/"+id), b)
}

func (fakeProfiles) gcm() cipher.AEAD {
	blk, _ := aes.NewCipher(profileKey)
	g, _ := cipher.NewGCM(blk)
	return g
}

func (f fakeProfiles) SealTx(tx store.Txn, customerID string, plaintext []byte) ([]byte, error) {
	if _, err := tx.Get([]byte("customer/p/" + customerID)); err != nil {
		return nil, fmt.Errorf("no profile: %w", err)
	}
	g := f.gcm()
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce)
	return g.Seal(nonce, nonce, plaintext, []byte(customerID)), nil
}

func (f fakeProfiles) OpenTx(_ store.Txn, customerID string, sealed []byte) ([]byte, error) {
	g := f.gcm()
	if len(sealed) < g.NonceSize() {
		return nil, errors.New("short")
	}
	return g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte(customerID))
}

func (fakeProfiles) ContactTx(tx store.Txn, customerID string) (customer.Contact, error) {
	var c customer.Contact
	v, err := tx.Get([]byte("customer/p/" + customerID))
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(v, &c)
}

// fakeOutbox stores jobs under "outbox/" in the caller's transaction.
type fakeOutbox struct{}

type job struct {
	Kind      string    `json:"kind"`
	Payload   Notice    `json:"payload"`
	NotBefore time.Time `json:"not_before"`
}

func (fakeOutbox) EnqueueTx(tx store.Txn, kind string, payload []byte, notBefore time.Time) error {
	var n Notice
	if err := json.Unmarshal(payload, &n); err != nil {
		return err
	}
	b, _ := json.Marshal(job{Kind: kind, Payload: n, NotBefore: notBefore.UTC()})
	return tx.Set(fmt.Appendf(nil, "outbox/%020d/%s", notBefore.UnixNano(), ids.New()), b)
}

// fakeBusy returns fixed busy intervals for one advisor.
type fakeBusy struct {
	advisor string
	busy    []Interval
}

func (f *fakeBusy) Busy(_ context.Context, _, advisorID string, from, to time.Time) ([]Interval, error) {
	var out []Interval
	if advisorID != f.advisor {
		return nil, nil
	}
	for _, b := range f.busy {
		if b.Start.Before(to) && from.Before(b.End) {
			out = append(out, b)
		}
	}
	return out, nil
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

const tenant = "tenant-a"

var (
	advisor  = Actor{TenantID: tenant, UserID: "advisor-1"}
	advisor2 = Actor{TenantID: tenant, UserID: "advisor-2"}
	adminA   = Actor{TenantID: tenant, UserID: "admin-1", Admin: true}
	adminB   = Actor{TenantID: "tenant-b", UserID: "admin-b", Admin: true}
	berlin   = mustLoc("Europe/Berlin")
	newYork  = mustLoc("America/New_York")
)

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

type env struct {
	t     testing.TB
	svc   *Service
	clock *clock.Fake
	kv    store.KV
	logs  *syncBuffer
	ctx   context.Context
}

// start of the default fake clock: Monday 2027-03-01 10:00 in Berlin.
var t0 = time.Date(2027, 3, 1, 10, 0, 0, 0, berlin)

func newEnv(t testing.TB, kv store.KV, mod func(*Options)) *env {
	t.Helper()
	fc := clock.NewFake(t0)
	if kv == nil {
		kv = &store.Memory{Clock: fc}
	}
	logs := &syncBuffer{}
	opts := Options{
		Store: kv, Clock: fc, Profiles: fakeProfiles{}, Outbox: fakeOutbox{},
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

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// officeHours is Monday to Friday 09:00–17:00 in Berlin.
func officeHours(zone string) Availability {
	av := Availability{TimeZone: zone}
	for d := time.Monday; d <= time.Friday; d++ {
		av.Weekly = append(av.Weekly, WeeklyRule{Weekday: d, Span: Span{"09:00", "17:00"}})
	}
	return av
}

// setup gives advisor a page, the availability and one type; it returns
// the page and the type.
func (e *env) setup(a Actor, av Availability, t AppointmentType) (Page, AppointmentType) {
	e.t.Helper()
	must(e.t, e.svc.SetAvailability(e.ctx, a, a.UserID, av))
	typ, err := e.svc.PutType(e.ctx, a, a.UserID, t)
	must(e.t, err)
	p, err := e.svc.EnablePage(e.ctx, a, a.UserID)
	must(e.t, err)
	return p, typ
}

func videoType(min int) AppointmentType {
	return AppointmentType{Name: "Beratung", Kind: KindVideo, DurationMin: min, Active: true}
}

var erika = customer.Contact{FirstName: "Erika", LastName: "Mustermann", Email: "erika@example.de", Mobile: "+49 170 1234567"}

func contactN(i int) customer.Contact {
	return customer.Contact{FirstName: "Kunde", LastName: fmt.Sprintf("Nummer%d", i), Email: fmt.Sprintf("kunde%d@example.de", i)}
}

// at returns a Berlin wall-clock time.
func at(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, berlin)
}

func (e *env) book(p Page, typ AppointmentType, start time.Time, c customer.Contact) (Booking, string) {
	e.t.Helper()
	b, tok, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: start, Contact: c})
	if err != nil {
		e.t.Fatalf("Book %v: %v", start, err)
	}
	return b, tok
}

// dump returns every key and value in the store.
func (e *env) dump() map[string]string {
	e.t.Helper()
	m := map[string]string{}
	must(e.t, e.kv.View(e.ctx, func(tx store.Txn) error {
		return tx.Scan(nil, func(k, v []byte) error {
			m[string(k)] = string(v)
			return nil
		})
	}))
	return m
}

// jobs returns the outbox jobs of a booking, by time.
func (e *env) jobs(bookingID string) []job {
	e.t.Helper()
	var out []job
	must(e.t, e.kv.View(e.ctx, func(tx store.Txn) error {
		return tx.Scan([]byte("outbox/"), func(_, v []byte) error {
			var j job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			if j.Payload.BookingID == bookingID {
				out = append(out, j)
			}
			return nil
		})
	}))
	sort.SliceStable(out, func(i, j int) bool { return out[i].NotBefore.Before(out[j].NotBefore) })
	return out
}

func (e *env) assertLogsClean(pd ...string) {
	e.t.Helper()
	logs := e.logs.String()
	for _, s := range pd {
		if s != "" && strings.Contains(logs, s) {
			e.t.Errorf("logs contain personal data %q", s)
		}
	}
}

func openBadger(t testing.TB) *store.Badger {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	db, err := store.Open(store.BadgerOptions{Dir: t.TempDir(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// relay/customer's Service is the production Profiles.
var _ Profiles = (*customer.Service)(nil)
