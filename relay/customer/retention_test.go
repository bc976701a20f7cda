package customer

import (
	"context"
	"errors"
	"testing"
	"time"

	"parley/relay/retention"
	"parley/relay/store"
)

func TestDefaultRetentionIsTheClassPeriod(t *testing.T) {
	c, ok := retention.Lookup(retention.ClassCustomerProfile)
	if !ok || c.Period != DefaultRetention || c.Kind != retention.Sliding {
		t.Fatalf("class %+v, DefaultRetention %v", c, DefaultRetention)
	}
}

func TestSlidingRetentionFilterOnRead(t *testing.T) {
	f := newFixture(t, nil)
	id := f.upsert(t, "bank1", erika())
	sealed := f.seal(t, id, []byte("details"))

	// A touch 300 days in restarts the period.
	f.clock.Advance(300 * retention.Day)
	if err := f.svc.Touch(ctx, "bank1", id, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(359 * retention.Day)
	if _, err := f.svc.Get(ctx, advisor, id); err != nil {
		t.Fatalf("359 days after the touch: %v", err)
	}
	if _, err := f.open(id, sealed); err != nil {
		t.Fatalf("359 days after the touch OpenTx: %v", err)
	}
	// A touch in the past or future cannot move the deadline backwards or
	// past now.
	if err := f.svc.Touch(ctx, "bank1", id, f.clock.Now().Add(-400*retention.Day)); err != nil {
		t.Fatal(err)
	}
	p, _ := f.svc.Get(ctx, advisor, id)
	want := f.clock.Now().Add(-359 * retention.Day)
	if !p.LastInteraction.Equal(want) {
		t.Fatalf("last interaction %v, want %v", p.LastInteraction, want)
	}
	// At the deadline (360 days after the last interaction) nothing is
	// served any more, before any sweep ran.
	f.clock.Advance(retention.Day)
	_, err := f.svc.Get(ctx, advisor, id)
	wantErr(t, err, ErrNotFound)
	_, err = f.contact(id)
	wantErr(t, err, ErrNotFound)
	_, err = f.open(id, sealed)
	wantErr(t, err, ErrShredded)
	if ps, _ := f.svc.List(ctx, advisor, "", 0); len(ps) != 0 {
		t.Fatalf("List serves an expired profile: %v", ps)
	}
	err = f.svc.Touch(ctx, "bank1", id, f.clock.Now())
	wantErr(t, err, ErrNotFound)
	// A new booking with the address starts a new profile; the expired one
	// is not revived.
	fresh := f.upsert(t, "bank1", erika())
	if fresh == id {
		t.Fatal("an expired profile was revived")
	}
	// The sweep deletes the old profile and key but leaves the new one and
	// its index entry.
	st, err := f.svc.SweepExpired(ctx, f.clock.Now(), nil)
	if err != nil || st != (SweepStats{Due: 1, Deleted: 1}) {
		t.Fatalf("sweep = %+v, %v", st, err)
	}
	if got := f.upsert(t, "bank1", erika()); got != fresh {
		t.Fatalf("after the sweep the address finds %s, want %s", got, fresh)
	}
	if n := countKeys(t, f.kv, prefixKey); n != 1 {
		t.Fatalf("%d data keys, want 1", n)
	}
}

func TestTouchFutureCountsAsNow(t *testing.T) {
	f := newFixture(t, nil)
	id := f.upsert(t, "bank1", erika())
	f.clock.Advance(time.Hour)
	if err := f.svc.Touch(ctx, "bank1", id, f.clock.Now().Add(200*retention.Day)); err != nil {
		t.Fatal(err)
	}
	p, _ := f.svc.Get(ctx, advisor, id)
	if !p.LastInteraction.Equal(f.clock.Now()) {
		t.Fatalf("last interaction %v, want now %v", p.LastInteraction, f.clock.Now())
	}
}

func TestSweepDeletesOnlyExpiredAndSkipsHeld(t *testing.T) {
	periods := map[string]time.Duration{"short": 30 * retention.Day}
	f := newFixture(t, func(o *Options) {
		o.Retention = func(tenantID string) time.Duration { return periods[tenantID] }
	})
	start := f.clock.Now()
	mk := func(tenant, email string, age time.Duration) string {
		f.clock.Set(start.Add(-age))
		return f.upsert(t, tenant, Contact{Email: email})
	}
	// Default tenant (360 days): one just due, one a second short of due.
	due := mk("bank1", "due@example.de", 360*retention.Day)
	notYet := mk("bank1", "notyet@example.de", 360*retention.Day-time.Second)
	held := mk("bank1", "held@example.de", 400*retention.Day)
	// Tenant with a 30-day override.
	shortDue := mk("short", "s1@example.de", 31*retention.Day)
	shortKeep := mk("short", "s2@example.de", 29*retention.Day)
	f.clock.Set(start)
	sealedHeld := f.seal(t, notYet, []byte("x"))

	st, err := f.svc.SweepExpired(ctx, start, func(_, id string) bool { return id == held })
	if err != nil {
		t.Fatal(err)
	}
	if st != (SweepStats{Due: 2, Deleted: 2, Held: 1}) {
		t.Fatalf("stats %+v", st)
	}
	for _, id := range []string{due, shortDue} {
		err := f.kv.View(ctx, func(tx store.Txn) error {
			for _, k := range [][]byte{profileKey(id), dataKeyKey(id)} {
				if _, err := tx.Get(k); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s of a swept profile still there: %v", keyKindOf(k), err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if erased, _ := f.svc.Erased(ctx, id); erased {
			t.Error("a retention deletion was recorded as an erasure")
		}
	}
	if _, err := f.open(notYet, sealedHeld); err != nil {
		t.Fatalf("a profile not yet due lost its key: %v", err)
	}
	if _, err := f.svc.Get(ctx, Actor{TenantID: "short", UserID: "a"}, shortKeep); err != nil {
		t.Fatalf("a profile not yet due: %v", err)
	}
	// The held profile is kept but not served.
	if n := countKeys(t, f.kv, string(profileKey(held))); n != 1 {
		t.Fatal("held profile deleted")
	}
	_, err = f.svc.Get(ctx, advisor, held)
	wantErr(t, err, ErrNotFound)
	// Every profile left: 3 (not yet due, held, short keep).
	if n := countKeys(t, f.kv, prefixProfile); n != 3 {
		t.Fatalf("%d profiles left, want 3", n)
	}
	// Tenant index and e-mail index entries went with the profiles.
	if n := countKeys(t, f.kv, prefixTenant); n != 3 {
		t.Fatalf("%d tenant entries left, want 3", n)
	}
	if n := countKeys(t, f.kv, prefixEmail); n != 3 {
		t.Fatalf("%d e-mail index entries left, want 3", n)
	}
	// A second sweep finds nothing new but still reports the hold.
	st, err = f.svc.SweepExpired(ctx, start, func(_, id string) bool { return id == held })
	if err != nil || st != (SweepStats{Held: 1}) {
		t.Fatalf("second sweep %+v, %v", st, err)
	}
	// Without the hold it goes.
	st, err = f.svc.SweepExpired(ctx, start, nil)
	if err != nil || st != (SweepStats{Due: 1, Deleted: 1}) {
		t.Fatalf("sweep without hold %+v, %v", st, err)
	}
}

// failingKV fails every Update after the first View.
type failingKV struct{ store.KV }

func (failingKV) Update(context.Context, func(store.Txn) error) error {
	return errors.New("disk on fire")
}

func TestSweepCountsFailures(t *testing.T) {
	f := newFixture(t, nil)
	f.upsert(t, "bank1", erika())
	f.upsert(t, "bank1", Contact{Email: "max@example.de"})
	svc, err := New(Options{Store: failingKV{f.kv}, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	st, err := svc.SweepExpired(ctx, f.clock.Now().Add(DefaultRetention), nil)
	if err == nil || st != (SweepStats{Due: 2, Failed: 2}) {
		t.Fatalf("stats %+v, err %v", st, err)
	}
	if n := countKeys(t, f.kv, prefixProfile); n != 2 {
		t.Fatal("profiles vanished")
	}
}
