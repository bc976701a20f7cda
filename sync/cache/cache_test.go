package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/store"
	"parley/sync/link"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newCache(t testing.TB, kv store.KV, src Source, opts Options) *Cache {
	t.Helper()
	opts.Store, opts.Source = kv, src
	if opts.Sleep == nil {
		opts.Sleep = func(ctx context.Context, d time.Duration) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
				return nil
			}
		}
	}
	if opts.Clock == nil {
		opts.Clock = clock.NewFake(fakeEpoch)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// catchUp calls SyncOnce until the cache holds the whole feed.
func catchUp(t testing.TB, c *Cache) {
	t.Helper()
	ctx := testCtx(t)
	for {
		full, err := c.SyncOnce(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !full {
			return
		}
	}
}

// assertMatches checks that the cache holds exactly the relay's
// conversations and messages.
func assertMatches(t *testing.T, c *Cache, f *fakeRelay) {
	t.Helper()
	ctx := testCtx(t)
	wantC, wantM := f.snapshot()
	got, err := c.Conversations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(wantC) {
		t.Fatalf("%d conversations cached, relay has %d", len(got), len(wantC))
	}
	for _, conv := range got {
		w, ok := wantC[conv.ID]
		if !ok {
			t.Fatalf("conversation %s cached but not on the relay", conv.ID)
		}
		if !reflect.DeepEqual(conv, w) {
			t.Errorf("conversation %s\n got %+v\nwant %+v", conv.ID, conv, w)
		}
		ms, err := c.Messages(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ms, wantM[conv.ID]) {
			t.Fatalf("messages of %s differ: %d cached, %d on the relay", conv.ID, len(ms), len(wantM[conv.ID]))
		}
	}
}

func TestCatchUpTenThousandAfterOffline(t *testing.T) {
	f := newFakeRelay()
	kv := &store.Memory{}
	c := newCache(t, kv, f, Options{})
	f.addConversation("cv0", link.ChannelChat)
	f.customerSays("cv0", "Guten Tag")
	catchUp(t, c)

	// Offline: sync fails, reads still work.
	f.setDown(true)
	if _, err := c.SyncOnce(testCtx(t), 0); !errors.Is(err, errDown) || c.Online() {
		t.Fatalf("offline sync: %v, online %v", err, c.Online())
	}
	if ms, err := c.Messages(testCtx(t), "cv0"); err != nil || len(ms) != 1 {
		t.Fatalf("offline read: %v %v", ms, err)
	}
	// Meanwhile 10,000 changes on the relay: 40 new conversations, 9,950
	// messages, ten conversations removed.
	f.setDown(false)
	for i := 1; i <= 40; i++ {
		f.addConversation(fmt.Sprintf("cv%d", i), link.ChannelWhatsApp)
	}
	for i := 0; i < 9950; i++ {
		f.customerSays(fmt.Sprintf("cv%d", i%41), fmt.Sprintf("Nachricht %d", i))
	}
	for i := 31; i <= 40; i++ {
		f.remove(fmt.Sprintf("cv%d", i))
	}
	catchUp(t, c)
	if !c.Online() {
		t.Error("not online after catching up")
	}
	assertMatches(t, c, f)
	if cur, _ := c.Cursor(testCtx(t)); cur != 10002 {
		t.Errorf("cursor %d", cur)
	}
	// Nothing left behind by the removed conversations.
	_, n, _ := c.Counts(testCtx(t))
	_, want := f.snapshot()
	total := 0
	for _, ms := range want {
		total += len(ms)
	}
	if n != total {
		t.Errorf("%d messages stored, relay has %d", n, total)
	}
}

func TestTombstoneDeletesEverything(t *testing.T) {
	f := newFakeRelay()
	c := newCache(t, &store.Memory{}, f, Options{})
	ctx := testCtx(t)
	f.addConversation("cv1", link.ChannelChat)
	f.addConversation("cv2", link.ChannelSMS)
	f.customerSays("cv1", "Hallo")
	f.addFile("cv1", "a1", []byte("%PDF-1.7"))
	f.customerSays("cv2", "Hi")
	catchUp(t, c)
	if b, err := c.Attachment(ctx, "cv1", "a1"); err != nil || string(b) != "%PDF-1.7" {
		t.Fatalf("attachment: %q %v", b, err)
	}
	f.setDown(true)
	if _, err := c.SendAttachment(ctx, "cv1", "antwort.pdf", []byte("%PDF")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, "cv1", link.OutgoingMessage{Text: "Bis morgen"}); err != nil {
		t.Fatal(err)
	}
	f.setDown(false)

	var updates []Update
	c.opts.OnUpdate = func(u Update) { updates = append(updates, u) }
	f.remove("cv1")
	catchUp(t, c)

	if _, err := c.Conversation(ctx, "cv1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("conversation: %v", err)
	}
	if ms, _ := c.Messages(ctx, "cv1"); len(ms) != 0 {
		t.Errorf("messages left: %+v", ms)
	}
	if _, err := c.Attachment(ctx, "cv1", "a1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("attachment: %v", err)
	}
	if p, _ := c.Outbox(ctx); len(p) != 0 {
		t.Errorf("outbox left: %+v", p)
	}
	// No key of cv1 remains anywhere.
	kv := c.kv
	kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(""), func(k, _ []byte) error {
			if strings.Contains(string(k), "cv1") {
				t.Errorf("key left: %s", k)
			}
			return nil
		})
	})
	if _, err := c.Conversation(ctx, "cv2"); err != nil {
		t.Errorf("other conversation: %v", err)
	}
	if len(updates) == 0 || len(updates[0].Removed) != 1 || updates[0].Removed[0] != "cv1" {
		t.Errorf("updates %+v", updates)
	}
	assertMatches(t, c, f)
}

func TestAttachmentOffline(t *testing.T) {
	f := newFakeRelay()
	c := newCache(t, &store.Memory{}, f, Options{})
	ctx := testCtx(t)
	f.addConversation("cv1", link.ChannelChat)
	f.addFile("cv1", "a1", []byte("one"))
	f.addFile("cv1", "a2", []byte("two"))
	catchUp(t, c)
	if _, err := c.Attachment(ctx, "cv1", "a1"); err != nil {
		t.Fatal(err)
	}
	f.setDown(true)
	if b, err := c.Attachment(ctx, "cv1", "a1"); err != nil || string(b) != "one" {
		t.Errorf("opened before: %q %v", b, err)
	}
	if _, err := c.Attachment(ctx, "cv1", "a2"); !errors.Is(err, ErrOffline) {
		t.Errorf("never opened: %v", err)
	}
	if _, err := c.Attachment(ctx, "cv9", "a1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown conversation: %v", err)
	}
	if _, err := c.Attachment(ctx, "cv1", "../a1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bad id: %v", err)
	}
}

func TestReassignedConversationFetchedInFull(t *testing.T) {
	f := newFakeRelay()
	c := newCache(t, &store.Memory{}, f, Options{PageSize: 7})
	// The conversation had 30 messages before it came to me: the feed
	// shows only its assignment and one new message.
	f.mu.Lock()
	f.convs["cv1"] = link.Conversation{ID: "cv1", Channel: link.ChannelTelegram, AdvisorID: "u9", Status: link.ConversationOpen}
	for i := 0; i < 30; i++ {
		f.store("cv1", link.Message{Side: link.SideCustomer, Text: "früher"})
	}
	f.feed = nil
	conv := f.convs["cv1"]
	conv.AdvisorID = "u1"
	f.convs["cv1"] = conv
	f.emit(link.Change{Kind: link.ChangeConversation, ConversationID: "cv1", Conversation: &conv})
	f.mu.Unlock()
	f.customerSays("cv1", "jetzt")
	catchUp(t, c)
	assertMatches(t, c, f)
}

func TestHostileChangesStoreNothing(t *testing.T) {
	f := newFakeRelay()
	c := newCache(t, &store.Memory{}, f, Options{})
	ctx := testCtx(t)
	f.mu.Lock()
	bad := link.Conversation{ID: "../x"}
	f.emit(link.Change{Kind: link.ChangeConversation, ConversationID: "../x", Conversation: &bad})
	f.emit(link.Change{Kind: link.ChangeConversation, ConversationID: "ok", Conversation: &link.Conversation{ID: "other"}})
	f.mu.Unlock()
	if _, err := c.SyncOnce(ctx, 0); err == nil {
		// "ok" with a mismatching body is fetched: the relay says not found.
		t.Log("synced")
	}
	if cs, _ := c.Conversations(ctx); len(cs) != 0 {
		t.Errorf("stored %+v", cs)
	}
	if _, err := c.Send(ctx, "../x", link.OutgoingMessage{Text: "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("send to bad id: %v", err)
	}
	if _, err := c.Send(ctx, "nope", link.OutgoingMessage{Text: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("send to unknown conversation: %v", err)
	}
	if _, err := c.Send(ctx, "nope", link.OutgoingMessage{Text: "  "}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty send: %v", err)
	}
	if _, err := c.SendAttachment(ctx, "nope", "big.pdf", make([]byte, MaxAttachment+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("large attachment: %v", err)
	}
	if err := c.PutSnapshot(ctx, "customers", map[string][]byte{"a/b": nil}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad snapshot id: %v", err)
	}
}

func TestRefusedMessageStaysUntilRetriedOrDiscarded(t *testing.T) {
	f := newFakeRelay()
	c := newCache(t, &store.Memory{}, f, Options{})
	ctx := testCtx(t)
	f.addConversation("cv1", link.ChannelWhatsApp)
	catchUp(t, c)
	f.refuse["cv1"] = true
	id, err := c.Send(ctx, "cv1", link.OutgoingMessage{Text: "Hallo"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	p, _ := c.Outbox(ctx)
	if len(p) != 1 || p[0].ClientID != id || !strings.Contains(p[0].Refused, "window is closed") {
		t.Fatalf("outbox %+v", p)
	}
	ms, _ := c.Messages(ctx, "cv1")
	if len(ms) != 1 || ms[0].Delivery != DeliveryRefused || ms[0].Text != "Hallo" {
		t.Fatalf("messages %+v", ms)
	}
	// A refused message is not retried on its own.
	calls := f.sendCalls
	if err := c.Flush(ctx); err != nil || f.sendCalls != calls {
		t.Fatalf("flush resent a refused message: %v", err)
	}
	f.mu.Lock()
	f.refuse["cv1"] = false
	f.mu.Unlock()
	if err := c.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.Outbox(ctx); len(p) != 0 {
		t.Fatalf("outbox %+v", p)
	}
	ms, _ = c.Messages(ctx, "cv1")
	if len(ms) != 1 || ms[0].Seq != 1 || ms[0].ClientID != id {
		t.Fatalf("messages %+v", ms)
	}

	f.refuse["cv1"] = true
	id2, _ := c.Send(ctx, "cv1", link.OutgoingMessage{Template: &link.Template{Name: "termin_erinnerung", Language: "de"}})
	c.Flush(ctx)
	if err := c.Discard(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if err := c.Discard(ctx, id2); !errors.Is(err, ErrNotFound) {
		t.Errorf("second discard: %v", err)
	}
	if p, _ := c.Outbox(ctx); len(p) != 0 {
		t.Fatalf("outbox %+v", p)
	}
}

// TestOutboxExactlyOnceAcrossRestarts queues messages offline, then runs
// the cache against a relay that fails a fifth of the sends before and a
// fifth after storing them, restarting the app (closing and reopening the
// badger store) several times: every client id ends up stored once on the
// relay and once in the cache.
func TestOutboxExactlyOnceAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	f := newFakeRelay()
	for i := 0; i < 4; i++ {
		f.addConversation(fmt.Sprintf("cv%d", i), link.ChannelWhatsApp)
	}
	open := func() (*store.Badger, *Cache) {
		db, err := OpenStore(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return db, newCache(t, db, f, Options{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Wait: 50 * time.Millisecond})
	}
	db, c := open()
	catchUp(t, c)
	f.setDown(true)
	ctx := testCtx(t)
	const n = 120
	var sent []string
	for i := 0; i < n; i++ {
		var id string
		var err error
		conv := fmt.Sprintf("cv%d", i%4)
		if i%10 == 0 {
			id, err = c.SendAttachment(ctx, conv, fmt.Sprintf("anlage-%d.pdf", i), []byte("%PDF "+fmt.Sprint(i)))
		} else {
			id, err = c.Send(ctx, conv, link.OutgoingMessage{Text: fmt.Sprintf("Antwort %d", i)})
		}
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, id)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	f.mu.Lock()
	f.down, f.failBefore, f.failAfter = false, 0.2, 0.2
	f.mu.Unlock()
	// A customer writes meanwhile, so the feed and the sender race.
	go func() {
		for i := 0; i < 50; i++ {
			f.customerSays(fmt.Sprintf("cv%d", i%4), "Rückfrage")
			time.Sleep(time.Millisecond)
		}
	}()
	for round := 0; ; round++ {
		db, c = open()
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(rctx) }()
		// Let it work a little, then "quit the app".
		time.Sleep(time.Duration(20+round*10) * time.Millisecond)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
		p, err := c.Outbox(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 && round >= 2 {
			// Let the feed settle, then compare.
			f.mu.Lock()
			f.failBefore, f.failAfter = 0, 0
			f.mu.Unlock()
			time.Sleep(60 * time.Millisecond)
			catchUp(t, c)
			break
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if round > 200 {
			t.Fatalf("outbox never emptied: %d left", len(p))
		}
	}
	defer db.Close()

	_, relayMsgs := f.snapshot()
	stored := map[string]int{}
	for _, ms := range relayMsgs {
		for _, m := range ms {
			if m.ClientID != "" {
				stored[m.ClientID]++
			}
		}
	}
	cached := map[string]int{}
	for i := 0; i < 4; i++ {
		ms, err := c.Messages(ctx, fmt.Sprintf("cv%d", i))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.ClientID != "" {
				cached[m.ClientID]++
			}
			if m.Delivery == DeliveryPending || m.Delivery == DeliveryRefused {
				t.Errorf("still pending: %s", m.ClientID)
			}
		}
	}
	for _, id := range sent {
		if stored[id] != 1 || cached[id] != 1 {
			t.Errorf("client id %s: stored %d times on the relay, %d in the cache", id, stored[id], cached[id])
		}
	}
	if len(stored) != n || len(cached) != n {
		t.Errorf("%d client ids on the relay, %d in the cache, want %d", len(stored), len(cached), n)
	}
	t.Logf("%d send attempts for %d messages", f.sendCalls, n)
	assertMatches(t, c, f)
}

func TestRunLongPollsLiveChangesAndStops(t *testing.T) {
	f := newFakeRelay()
	var mu sync.Mutex
	var incoming []link.Message
	online := false
	c := newCache(t, &store.Memory{}, f, Options{Wait: time.Second, OnUpdate: func(u Update) {
		mu.Lock()
		defer mu.Unlock()
		incoming = append(incoming, u.Incoming...)
		online = u.Online
	}})
	f.addConversation("cv1", link.ChannelChat)
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	f.customerSays("cv1", "Sind Sie da?")
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(incoming)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("live message not delivered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if incoming[0].Text != "Sind Sie da?" || !online {
		t.Errorf("incoming %+v online %v", incoming, online)
	}
	conv, _ := c.Conversation(context.Background(), "cv1")
	if conv.Unread != 1 {
		t.Errorf("unread %d", conv.Unread)
	}
}

func TestSnapshots(t *testing.T) {
	c := newCache(t, &store.Memory{}, newFakeRelay(), Options{})
	ctx := testCtx(t)
	if err := c.PutSnapshot(ctx, "customers", map[string][]byte{"c1": []byte(`{"id":"c1"}`), "c2": []byte(`{"id":"c2"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutSnapshot(ctx, "bookings", map[string][]byte{"b1": []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutSnapshot(ctx, "customers", map[string][]byte{"c2": []byte(`{"id":"c2","v":2}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Snapshot(ctx, "customers")
	if err != nil || len(got) != 1 || !bytes.Equal(got["c2"], []byte(`{"id":"c2","v":2}`)) {
		t.Errorf("customers %q %v", got, err)
	}
	if got, _ := c.Snapshot(ctx, "bookings"); len(got) != 1 {
		t.Errorf("bookings %q", got)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	k1, err := loadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := loadOrCreateKey(dir)
	if !bytes.Equal(k1, k2) || len(k1) != 32 {
		t.Error("key not kept")
	}
	st, err := statMode(dir + "/" + KeyFileName)
	if err != nil || st != 0o600 {
		t.Errorf("key file mode %o %v", st, err)
	}
}

// FuzzApplyChanges feeds arbitrary change pages to the cache: whatever
// arrives, nothing is stored outside the inbox's keys, ids in keys are
// well-formed, and the cursor only moves forward.
func FuzzApplyChanges(f *testing.F) {
	f.Add([]byte(`{"changes":[{"seq":1,"kind":"conversation","conversation_id":"cv1","conversation":{"id":"cv1"}}],"next":1}`))
	f.Add([]byte(`{"changes":[{"seq":1,"kind":"message","conversation_id":"cv1","message":{"id":"m","conversation_id":"cv1","seq":1,"client_id":"../k"}}],"next":1}`))
	f.Add([]byte(`{"changes":[{"seq":1,"kind":"removed","conversation_id":"../../x"}],"next":9}`))
	f.Add([]byte(`{"changes":[{"seq":1,"kind":"strange","conversation_id":"a/b"}],"next":0}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var page link.Changes
		if json.Unmarshal(data, &page) != nil {
			return
		}
		kv := &store.Memory{}
		c := newCache(t, kv, newFakeRelay(), Options{})
		ctx := context.Background()
		if _, err := c.apply(ctx, 0, page); err != nil {
			return
		}
		kv.View(ctx, func(tx store.Txn) error {
			return tx.Scan(nil, func(k, _ []byte) error {
				parts := strings.Split(string(k), "/")
				if parts[0] != "inbox" || len(parts) < 2 {
					t.Errorf("key outside the inbox: %q", k)
				}
				for _, p := range parts[2:] {
					if !validID(p) {
						t.Errorf("malformed id in key %q", k)
					}
				}
				return nil
			})
		})
	})
}

func statMode(path string) (os.FileMode, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Mode().Perm(), nil
}
