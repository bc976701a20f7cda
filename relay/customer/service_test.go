package customer

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

func TestNewNeedsStoreAndValidCountryCode(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a store succeeded")
	}
	if _, err := New(Options{Store: &store.Memory{}, DefaultCountryCode: "+0x"}); err == nil {
		t.Error("New with a malformed country code succeeded")
	}
}

func TestUpsertCreatesThenFindsByEmailIgnoringCaseAndSpace(t *testing.T) {
	f := newFixture(t, nil)
	id := f.upsert(t, "bank1", erika())
	if !ids.Valid(id) {
		t.Fatalf("id %q", id)
	}
	again := f.upsert(t, "bank1", Contact{Email: "  erika.mustermann@example.org "})
	if again != id {
		t.Fatalf("second upsert made a new profile %s, want %s", again, id)
	}
	c, err := f.contact(id)
	if err != nil {
		t.Fatal(err)
	}
	// Empty fields in the second upsert kept the stored ones.
	if c.FirstName != "Erika" || c.LastName != "Mustermann" || c.Mobile != "+491711234567" ||
		c.Address == nil || c.Address.City != "Köln" || c.Address.Country != "DE" {
		t.Fatalf("contact %+v", c)
	}
	if c.Email != "Erika.Mustermann@example.org" {
		t.Fatalf("email %q: want the stored address with its domain in lower case", c.Email)
	}
	// Another tenant with the same address gets its own profile.
	if other := f.upsert(t, "bank2", erika()); other == id {
		t.Fatal("two tenants share a profile")
	}
	if n := countKeys(t, f.kv, prefixProfile); n != 2 {
		t.Fatalf("%d profiles, want 2", n)
	}
}

func TestUpsertOverwritesGivenFieldsAndRecordsInteraction(t *testing.T) {
	f := newFixture(t, nil)
	id := f.upsert(t, "bank1", erika())
	f.clock.Advance(48 * time.Hour)
	f.upsert(t, "bank1", Contact{FirstName: "Eri", Email: "erika.mustermann@example.org", Mobile: "0160 7654321",
		Address: &Address{Street: "Weg 1", PostalCode: "10115", City: "Berlin"}})
	p, err := f.svc.Get(ctx, advisor, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Contact.FirstName != "Eri" || p.Contact.LastName != "Mustermann" || p.Contact.Mobile != "+491607654321" ||
		p.Contact.Address.City != "Berlin" || p.Contact.Address.Country != "" {
		t.Fatalf("contact %+v / %+v", p.Contact, p.Contact.Address)
	}
	if !p.LastInteraction.Equal(f.clock.Now()) || !p.Created.Equal(f.clock.Now().Add(-48*time.Hour)) {
		t.Fatalf("created %v, last interaction %v", p.Created, p.LastInteraction)
	}
	if !p.Expires.Equal(p.LastInteraction.Add(DefaultRetention)) {
		t.Fatalf("expires %v", p.Expires)
	}
}

func TestUpsertRefusesInvalidInputAndStoresNothing(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []Contact{{FirstName: "Erika"}, {Email: "not-an-address"}, {Email: "a@b.de", FirstName: "<script>alert(1)</script>"}} {
		err := f.kv.Update(ctx, func(tx store.Txn) error {
			_, err := f.svc.UpsertTx(tx, "bank1", c, f.clock.Now())
			return err
		})
		wantErr(t, err, ErrInvalidInput)
	}
	err := f.kv.Update(ctx, func(tx store.Txn) error {
		_, err := f.svc.UpsertTx(tx, "../x", erika(), f.clock.Now())
		return err
	})
	wantErr(t, err, ErrInvalidInput)
	if n := countKeys(t, f.kv, "customer/"); n != 0 {
		t.Fatalf("%d keys stored after refused input", n)
	}
}

func TestSealOpenRoundTripAndBinding(t *testing.T) {
	f := newFixture(t, nil)
	a := f.upsert(t, "bank1", erika())
	b := f.upsert(t, "bank1", Contact{Email: "max@example.de"})
	pt := []byte(`{"text":"Ich möchte über meine Altersvorsorge sprechen"}`)
	sa := f.seal(t, a, pt)
	if bytes.Contains(sa, pt[10:30]) {
		t.Fatal("sealed blob contains the plaintext")
	}
	if again := f.seal(t, a, pt); bytes.Equal(again, sa) {
		t.Fatal("two seals of the same plaintext are equal (nonce reused)")
	}
	got, err := f.open(a, sa)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("OpenTx = %q, %v", got, err)
	}
	// Bound to the customer: another customer's key and id cannot open it.
	_, err = f.open(b, sa)
	wantErr(t, err, ErrSealedInvalid)
	// Altered blobs are refused.
	for _, pos := range []int{0, 1, 20, len(sa) - 1} {
		bad := bytes.Clone(sa)
		bad[pos] ^= 1
		_, err := f.open(a, bad)
		wantErr(t, err, ErrSealedInvalid)
	}
	_, err = f.open(a, sa[:10])
	wantErr(t, err, ErrSealedInvalid)
	// A profile's own sealed contact is not accepted as an external blob
	// (different associated data).
	var r profileRecord
	_ = f.kv.View(ctx, func(tx store.Txn) error { return getJSON(tx, profileKey(a), &r) })
	_, err = f.open(a, r.Sealed)
	wantErr(t, err, ErrSealedInvalid)
}

func TestSealForUnknownCustomer(t *testing.T) {
	f := newFixture(t, nil)
	for _, id := range []string{"", "../key/x", ids.New()} {
		err := f.kv.Update(ctx, func(tx store.Txn) error {
			_, err := f.svc.SealTx(tx, id, []byte("x"))
			return err
		})
		wantErr(t, err, ErrNotFound)
		_, err = f.contact(id)
		wantErr(t, err, ErrNotFound)
	}
}

func TestShredDestroysKeyProfileAndIndexAndKeepsLedger(t *testing.T) {
	f := newFixture(t, nil)
	id := f.upsert(t, "bank1", erika())
	other := f.upsert(t, "bank1", Contact{Email: "max@example.de"})
	sealed := f.seal(t, id, []byte("booking details"))

	if _, err := f.svc.Shred(ctx, "bank2", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("shred by another tenant: %v", err)
	}
	f.clock.Advance(time.Hour)
	rc, err := f.svc.Shred(ctx, "bank1", id)
	if err != nil {
		t.Fatal(err)
	}
	if rc.CustomerID != id || rc.TenantID != "bank1" || !rc.Erased.Equal(f.clock.Now()) {
		t.Fatalf("receipt %+v", rc)
	}
	_, err = f.open(id, sealed)
	wantErr(t, err, ErrShredded)
	_, err = f.contact(id)
	wantErr(t, err, ErrNotFound)
	_, err = f.svc.Get(ctx, advisor, id)
	wantErr(t, err, ErrNotFound)
	err = f.kv.Update(ctx, func(tx store.Txn) error { _, err := f.svc.SealTx(tx, id, []byte("x")); return err })
	wantErr(t, err, ErrShredded)
	if erased, err := f.svc.Erased(ctx, id); err != nil || !erased {
		t.Fatalf("Erased = %v, %v", erased, err)
	}
	if erased, _ := f.svc.Erased(ctx, other); erased {
		t.Fatal("an untouched customer is reported erased")
	}
	// Only the other customer's key, profile, tenant entry and index remain
	// besides the ledger entry and the pepper.
	for prefix, want := range map[string]int{prefixKey: 1, prefixProfile: 1, prefixTenant: 1, prefixEmail: 1, prefixErased: 1, prefixPepper: 1} {
		if n := countKeys(t, f.kv, prefix); n != want {
			t.Errorf("%d keys under %s, want %d", n, prefix, want)
		}
	}
	// Shredding again returns the first receipt.
	f.clock.Advance(time.Hour)
	again, err := f.svc.Shred(ctx, "bank1", id)
	if err != nil || again != rc {
		t.Fatalf("second shred = %+v, %v; want %+v", again, err, rc)
	}
	// The ledger holds ids and a time only.
	err = f.kv.View(ctx, func(tx store.Txn) error {
		v, err := tx.Get(erasedKey(id))
		assertNoPII(t, "erasure ledger", string(v))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUpsertAfterShredCreatesNewIDNeverReKeysErased(t *testing.T) {
	f := newFixture(t, nil)
	id := f.upsert(t, "bank1", erika())
	old := f.seal(t, id, []byte("old booking"))
	if _, err := f.svc.Shred(ctx, "bank1", id); err != nil {
		t.Fatal(err)
	}
	fresh := f.upsert(t, "bank1", erika())
	if fresh == id {
		t.Fatal("the erased id was re-used")
	}
	// The erased id stays erased: its old blobs stay unreadable, and the
	// new profile's key cannot open them either.
	_, err := f.open(id, old)
	wantErr(t, err, ErrShredded)
	_, err = f.open(fresh, old)
	wantErr(t, err, ErrSealedInvalid)
	if _, err := f.contact(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("erased contact: %v", err)
	}
	if c, err := f.contact(fresh); err != nil || c.LastName != "Mustermann" {
		t.Fatalf("new profile %+v, %v", c, err)
	}
	// Even if a restored backup brought the old index entry back, the
	// erased profile is not revived.
	err = f.kv.Update(ctx, func(tx store.Txn) error {
		var r profileRecord
		if err := getJSON(tx, profileKey(fresh), &r); err != nil {
			return err
		}
		return putJSON(tx, emailKey("bank1", r.EmailMAC), indexRecord{ID: id})
	})
	if err != nil {
		t.Fatal(err)
	}
	third := f.upsert(t, "bank1", erika())
	if third == id {
		t.Fatal("an index entry of an erased profile re-keyed it")
	}
	// Nor if the profile and key came back while the ledger entry stayed.
	var saved map[string][]byte
	_ = f.kv.View(ctx, func(tx store.Txn) error {
		saved = map[string][]byte{}
		for _, k := range [][]byte{profileKey(third), dataKeyKey(third)} {
			v, err := tx.Get(k)
			saved[string(k)] = v
			if err != nil {
				return err
			}
		}
		return nil
	})
	err = f.kv.Update(ctx, func(tx store.Txn) error {
		var r profileRecord
		if err := json.Unmarshal(saved[string(profileKey(third))], &r); err != nil {
			return err
		}
		var k keyRecord
		if err := json.Unmarshal(saved[string(dataKeyKey(third))], &k); err != nil {
			return err
		}
		r.ID = id
		if r.Sealed, err = sealContact(k.Key, id, erika()); err != nil {
			return err
		}
		if err := putJSON(tx, profileKey(id), r); err != nil {
			return err
		}
		if err := tx.Set(dataKeyKey(id), saved[string(dataKeyKey(third))]); err != nil {
			return err
		}
		return putJSON(tx, emailKey("bank1", r.EmailMAC), indexRecord{ID: id})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.upsert(t, "bank1", erika()); got == id {
		t.Fatal("a restored profile of an erased customer was re-used")
	}
	if _, err := f.contact(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a restored profile of an erased customer is served: %v", err)
	}
}

func TestReplayErasuresAfterRestore(t *testing.T) {
	f := newFixture(t, nil)
	id := f.upsert(t, "bank1", erika())
	keep := f.upsert(t, "bank1", Contact{Email: "max@example.de"})
	sealed := f.seal(t, id, []byte("x"))
	// Take a "backup": a copy of every key and value.
	backup := map[string][]byte{}
	_ = f.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte("customer/"), func(k, v []byte) error { backup[string(k)] = v; return nil })
	})
	if _, err := f.svc.Shred(ctx, "bank1", id); err != nil {
		t.Fatal(err)
	}
	ledger, err := f.svc.ErasureLedger(ctx)
	if err != nil || len(ledger) != 1 || ledger[0].CustomerID != id {
		t.Fatalf("ledger %+v, %v", ledger, err)
	}
	// "Restore" the backup into an empty store.
	g := newFixture(t, nil)
	_ = g.kv.Update(ctx, func(tx store.Txn) error {
		for k, v := range backup {
			if err := tx.Set([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if b, err := g.open(id, sealed); err != nil || string(b) != "x" {
		t.Fatalf("before replay the restored key opens the blob: %q, %v", b, err)
	}
	n, err := g.svc.ReplayErasures(ctx, ledger)
	if err != nil || n != 1 {
		t.Fatalf("ReplayErasures = %d, %v", n, err)
	}
	_, err = g.open(id, sealed)
	wantErr(t, err, ErrShredded)
	if _, err := g.contact(keep); err != nil {
		t.Fatalf("a customer not in the ledger was touched: %v", err)
	}
	if n, err := g.svc.ReplayErasures(ctx, ledger); err != nil || n != 0 {
		t.Fatalf("second replay = %d, %v", n, err)
	}
}
