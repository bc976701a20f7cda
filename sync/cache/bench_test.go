package cache

import (
	"fmt"
	"testing"

	"parley/relay/store"
	"parley/sync/link"
)

// benchRelay is a relay whose feed holds 10,000 customer messages in 50
// conversations that the cache has missed.
func benchRelay() *fakeRelay {
	f := newFakeRelay()
	for i := 0; i < 50; i++ {
		f.addConversation(fmt.Sprintf("cv%d", i), link.ChannelWhatsApp)
	}
	for i := 0; i < 10000; i++ {
		f.customerSays(fmt.Sprintf("cv%d", i%50), "Guten Tag, ich habe eine Frage zu meinem Vertrag.")
	}
	return f
}

// BenchmarkCatchUp10000Badger measures catching up on 10,000 missed
// messages into a fresh encrypted badger cache with synced writes (pages
// of 500 changes, each page one transaction).
func BenchmarkCatchUp10000Badger(b *testing.B) {
	f := benchRelay()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db, err := OpenStore(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		c := newCache(b, db, f, Options{})
		b.StartTimer()
		catchUp(b, c)
		b.StopTimer()
		if _, n, _ := c.Counts(testCtx(b)); n != 10000 {
			b.Fatalf("%d messages cached", n)
		}
		db.Close()
	}
}

// BenchmarkCatchUp10000Memory is the same into the in-memory store: the
// cache's own cost without disk.
func BenchmarkCatchUp10000Memory(b *testing.B) {
	f := benchRelay()
	for i := 0; i < b.N; i++ {
		c := newCache(b, &store.Memory{}, f, Options{})
		catchUp(b, c)
	}
}
