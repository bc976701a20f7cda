package customer

import (
	"crypto/rand"
	"fmt"
	"testing"

	"parley/relay/store"
)

// BenchmarkUpsertTxBadger measures one booking's profile write on badger
// with synced writes: a new customer per iteration.
func BenchmarkUpsertTxBadger(b *testing.B) {
	key := make([]byte, 32)
	rand.Read(key)
	db := openBadger(b, b.TempDir(), key)
	defer db.Close()
	f := badgerFixture(b, db)
	i := 0
	for b.Loop() {
		i++
		f.upsert(b, "bank1", Contact{FirstName: "Erika", LastName: "Mustermann", Email: fmt.Sprintf("c%d@example.org", i)})
	}
}

// BenchmarkUpsertTxExisting measures the upsert of a returning customer
// (lookup, decrypt, merge, re-seal) in memory.
func BenchmarkUpsertTxExisting(b *testing.B) {
	f := newFixture(b, nil)
	f.upsert(b, "bank1", erika())
	for b.Loop() {
		f.upsert(b, "bank1", Contact{Email: "erika.mustermann@example.org", Mobile: "0171 1234567"})
	}
}

// BenchmarkList measures an advisor's search over a tenant with the given
// number of customers (every profile decrypted and matched).
func BenchmarkList(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			f := newFixture(b, nil)
			_ = f.kv.Update(ctx, func(tx store.Txn) error {
				for i := range n {
					c := Contact{FirstName: "Kunde", LastName: fmt.Sprintf("Nummer%d", i), Email: fmt.Sprintf("k%d@example.org", i)}
					if _, err := f.svc.UpsertTx(tx, "bank1", c, f.clock.Now()); err != nil {
						return err
					}
				}
				return nil
			})
			for b.Loop() {
				ps, err := f.svc.List(ctx, advisor, "nummer42", 50)
				if err != nil || len(ps) == 0 {
					b.Fatal(len(ps), err)
				}
			}
		})
	}
}

// BenchmarkSealOpen measures sealing and opening 1 KiB for a customer
// (two store reads each for the profile and the key).
func BenchmarkSealOpen(b *testing.B) {
	f := newFixture(b, nil)
	id := f.upsert(b, "bank1", erika())
	pt := make([]byte, 1024)
	for b.Loop() {
		s := f.seal(b, id, pt)
		if _, err := f.open(id, s); err != nil {
			b.Fatal(err)
		}
	}
}
