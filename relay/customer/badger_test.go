package customer

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"parley/relay/clock"
	"parley/relay/store"
	"parley/relay/store/storetest"
)

func openBadger(t testing.TB, dir string, key []byte) *store.Badger {
	t.Helper()
	db, err := store.Open(store.BadgerOptions{Dir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func badgerFixture(t testing.TB, db *store.Badger) *fixture {
	t.Helper()
	clk := clock.NewFake(testStart)
	logs := &syncBuffer{}
	svc, err := New(Options{Store: db, Clock: clk, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, kv: db, clock: clk, logs: logs}
}

// TestBadgerKeysAndValuesHoldNoPersonalData writes a full profile to a real
// badger store, reopens it and reads every key and value through the store
// (the layer below this package's own encryption): neither the name, the
// e-mail address, the mobile number nor the address appears in a key or a
// value, in any case. After the profile is shredded, a sealed blob kept
// elsewhere cannot be opened.
func TestBadgerKeysAndValuesHoldNoPersonalData(t *testing.T) {
	dir := t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	db := openBadger(t, dir, key)
	f := badgerFixture(t, db)
	id := f.upsert(t, "bank1", erika())
	sealed := f.seal(t, id, []byte(`{"text":"Rückruf bitte an Erika Mustermann"}`))
	if _, err := f.svc.Create(ctx, advisor, Contact{FirstName: "Max", LastName: "Mustermann", Mobile: "0171 1234567"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if storetest.AssertNoPlaintext(t, dir, "on disk", piiNeedles...) == 0 {
		t.Fatal("no files in the data folder")
	}

	db = openBadger(t, dir, key)
	defer db.Close()
	f = badgerFixture(t, db)
	scanned := 0
	err := db.View(ctx, func(tx store.Txn) error {
		return tx.Scan(nil, func(k, v []byte) error {
			scanned++
			assertNoPII(t, fmt.Sprintf("key %q", k), string(k))
			assertNoPII(t, fmt.Sprintf("value of %q", k), string(v))
			if bytes.Contains(v, []byte("Rückruf")) {
				t.Errorf("value of %q holds sealed plaintext", k)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 8 {
		t.Fatalf("scanned only %d keys", scanned)
	}
	if strings.Contains(string(sealed), "Erika") {
		t.Fatal("the sealed blob holds plaintext")
	}
	// The data is there: the checks above looked at real profiles.
	c, err := f.contact(id)
	if err != nil || c != (Contact{FirstName: "Erika", LastName: "Mustermann", Email: "Erika.Mustermann@example.org",
		Mobile: "+491711234567", Address: c.Address}) || *c.Address != (Address{Street: "Heidestraße 17", PostalCode: "51147", City: "Köln", Country: "DE"}) {
		t.Fatalf("after reopen: %+v, %v", c, err)
	}
	if pt, err := f.open(id, sealed); err != nil || !bytes.Contains(pt, []byte("Rückruf")) {
		t.Fatalf("open after reopen: %q, %v", pt, err)
	}
	if _, err := f.svc.Shred(ctx, "bank1", id); err != nil {
		t.Fatal(err)
	}
	_, err = f.open(id, sealed)
	wantErr(t, err, ErrShredded)
	assertNoPII(t, "logs", f.logs.String())
}

// TestBadgerConcurrentUpsertMakesOneProfile runs 50 concurrent UpsertTx of
// one address (in changing case) for a new tenant on badger, whose
// transactions are optimistic: exactly one profile, one key and one index
// entry come out, and every caller gets its id.
func TestBadgerConcurrentUpsertMakesOneProfile(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	db := openBadger(t, t.TempDir(), key)
	defer db.Close()
	f := badgerFixture(t, db)
	const n = 50
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := Contact{Email: "erika.mustermann@example.org", FirstName: fmt.Sprintf("E%d", i)}
			if i%2 == 1 {
				c.Email = strings.ToUpper(c.Email)
			}
			errs[i] = db.Update(ctx, func(tx store.Txn) error {
				var err error
				got[i], err = f.svc.UpsertTx(tx, "newtenant", c, f.clock.Now())
				return err
			})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("upsert %d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("upsert %d got %s, upsert 0 got %s", i, got[i], got[0])
		}
	}
	for _, prefix := range []string{prefixProfile, prefixKey, prefixEmail, prefixTenant, prefixPepper} {
		if c := countKeys(t, db, prefix); c != 1 {
			t.Errorf("%d keys under %s, want 1", c, prefix)
		}
	}
}
