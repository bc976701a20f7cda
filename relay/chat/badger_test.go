package chat

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"parley/relay/signal/msg"
	"parley/relay/store"
	"parley/relay/store/storetest"
)

func openBadger(t *testing.T, dir string, key []byte) *store.Badger {
	t.Helper()
	db, err := store.Open(store.BadgerOptions{Dir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func openBadgerB(b *testing.B) (*store.Badger, error) {
	return store.Open(store.BadgerOptions{Dir: b.TempDir(), Key: bytes.Repeat([]byte{7}, 32)})
}

// TestBadgerConcurrentPostsGetDistinctSeqs posts from many goroutines at
// once into one meeting on the real store: every post gets its own
// sequence number and together they number the timeline 1..n.
func TestBadgerConcurrentPostsGetDistinctSeqs(t *testing.T) {
	db := openBadger(t, t.TempDir(), bytes.Repeat([]byte{7}, 32))
	defer db.Close()
	e := newEnv(t, db, Options{})
	const writers, each = 8, 12
	seqs := make(chan uint64, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			a := Author{ID: fmt.Sprintf("p-%d", w), Name: "Kunde", Role: msg.RoleCustomer}
			for i := range each {
				en, created, err := e.svc.Post(e.ctx, meetingA, a, "nachricht", fmt.Sprintf("n%d", i))
				if err != nil || !created {
					t.Errorf("writer %d post %d: %v created=%v", w, i, err, created)
					return
				}
				seqs <- en.Seq
			}
		})
	}
	wg.Wait()
	close(seqs)
	seen := map[uint64]bool{}
	for s := range seqs {
		if seen[s] {
			t.Fatalf("seq %d assigned twice", s)
		}
		seen[s] = true
	}
	all, err := e.svc.Since(e.ctx, meetingA, 0, 0)
	must(t, err)
	if len(all) != writers*each || len(seen) != writers*each {
		t.Fatalf("%d entries, %d seqs, want %d", len(all), len(seen), writers*each)
	}
	for i, en := range all {
		if en.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, en.Seq)
		}
	}
}

// TestBadgerNoPlaintextContent stores a chat message and a file on the
// encrypted store and checks that neither the text, the names nor the
// file's bytes appear in any file of the data folder, before and after
// the retention sweep.
func TestBadgerNoPlaintextContent(t *testing.T) {
	const (
		text     = "Meine IBAN ist DE02120300000000202051"
		author   = "Erika Mustermann"
		fileName = "Gehaltsnachweis-Mustermann.pdf"
		content  = "Bruttogehalt 4711 EUR Mustermann"
	)
	dir := t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	needles := []string{text, author, fileName, content}
	check := func(when string) {
		t.Helper()
		if storetest.AssertNoPlaintext(t, dir, when, needles...) == 0 {
			t.Fatalf("%s: no files in the data folder", when)
		}
	}
	a := Author{ID: "p-1", Name: author, Role: msg.RoleCustomer}
	body := []byte("%PDF-1.7\n" + content + "\n%%EOF\n")

	db := openBadger(t, dir, key)
	e := newEnv(t, db, Options{})
	_, _, err := e.svc.Post(e.ctx, meetingA, a, text, "n1")
	must(t, err)
	f, err := e.svc.PutFile(e.ctx, meetingA, a, fileName, bytes.NewReader(body))
	must(t, err)
	must(t, db.Close())
	check("after close")

	db = openBadger(t, dir, key)
	e2 := newEnv(t, db, Options{})
	all, err := e2.svc.Since(e2.ctx, meetingA, 0, 0)
	must(t, err)
	if len(all) != 2 || all[0].Text != text || all[0].Name != author || all[1].FileName != fileName {
		t.Fatalf("after reopen: %+v", all)
	}
	if got := e2.read(meetingA, f.ID); !bytes.Equal(got, body) {
		t.Fatalf("file after reopen: %q", got)
	}
	res, err := e2.svc.DeleteExpired(e2.ctx, all[1].Sent.Add(Retention))
	must(t, err)
	if res != (DeleteResult{Entries: 2, Files: 1}) {
		t.Fatalf("sweep: %+v", res)
	}
	if n := e2.keys("chat/"); n != 0 {
		t.Fatalf("%d keys after the sweep", n)
	}
	must(t, db.Close())
	check("after the sweep")
	e.assertLogsClean(needles...)
	e2.assertLogsClean(needles...)
}
