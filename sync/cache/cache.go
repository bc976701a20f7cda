package cache

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/store"
	"parley/sync/link"
)

// Source is what the cache needs from the relay. *link.Client implements
// it; tests use doubles.
type Source interface {
	// InboxChanges returns the change feed after since (see
	// [link.Client.InboxChanges]).
	InboxChanges(ctx context.Context, since uint64, limit int, wait time.Duration) (link.Changes, error)
	// Conversation returns one conversation.
	Conversation(ctx context.Context, id string) (link.Conversation, error)
	// Messages returns a conversation's messages after a sequence number.
	Messages(ctx context.Context, conversationID string, after uint64, limit int) ([]link.Message, error)
	// UnreadCounts returns the advisor's unread counts.
	UnreadCounts(ctx context.Context) (link.Unread, error)
	// SendMessage sends a text or template message, idempotent on its
	// client id.
	SendMessage(ctx context.Context, conversationID string, m link.OutgoingMessage) (link.Message, error)
	// SendAttachment sends a file as a message, idempotent on clientID.
	SendAttachment(ctx context.Context, conversationID, clientID, name string, data []byte) (link.Message, error)
	// DownloadAttachment writes an attachment's bytes to w.
	DownloadAttachment(ctx context.Context, conversationID, attachmentID string, w io.Writer) (int64, error)
}

// Local delivery states of messages still in the outbox, found in
// [link.Message.Delivery] of what [Cache.Messages] returns.
const (
	// DeliveryPending: written here, not yet accepted by the relay.
	DeliveryPending = "pending"
	// DeliveryRefused: the relay refused it; see [Pending.Refused].
	DeliveryRefused = "refused"
)

// Errors of the cache, checked with errors.Is.
var (
	// ErrNotFound: no such conversation, message or attachment here.
	ErrNotFound = errors.New("cache: not found")
	// ErrInvalid: an id or message the cache will not store (empty,
	// too long, with characters outside [A-Za-z0-9_.-], or no content).
	ErrInvalid = errors.New("cache: invalid input")
	// ErrOffline: an attachment that is not cached cannot be fetched now.
	ErrOffline = errors.New("cache: not available offline")
)

// Defaults for [Options].
const (
	DefaultPageSize   = 500
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Minute
	// MaxAttachment is the largest attachment the outbox accepts (the
	// relay's limit).
	MaxAttachment = 25 << 20
)

// Options configure a [Cache].
type Options struct {
	// Store holds the cache (see [OpenStore]). Required.
	Store store.KV
	// Source is the relay. Required.
	Source Source
	// Clock stamps outbox entries. nil means the real clock.
	Clock clock.Clock
	// Logger receives sync events with ids only. nil discards them.
	Logger *slog.Logger
	// PageSize is how many changes and messages are asked for at once. 0
	// means DefaultPageSize.
	PageSize int
	// Wait is how long one long-poll for live changes lasts. 0 means
	// link.MaxChangesWait.
	Wait time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failure, which
	// doubles from MinBackoff up to MaxBackoff, with jitter. 0 means the
	// defaults.
	MinBackoff, MaxBackoff time.Duration
	// Sleep waits for d or until ctx ends (returning its error). nil means
	// a timer; tests make back-off instant.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnUpdate, if set, is called after every change the cache applied or
	// when it goes online or offline, on the cache's own goroutines; it
	// must not block (hand the update to the UI thread).
	OnUpdate func(Update)
}

// Update tells the UI what changed in the cache.
type Update struct {
	// Conversations are the ids of conversations that changed (also
	// removed ones, and ones whose outbox changed).
	Conversations []string
	// Removed are the ids of conversations deleted here.
	Removed []string
	// Incoming are customer messages new to this cache, in feed order.
	Incoming []link.Message
	// Online is whether the last call to the relay succeeded.
	Online bool
	// CatchingUp is true while the cache works through a backlog, false
	// once it waits for live changes.
	CatchingUp bool
}

// Pending is a message in the outbox.
type Pending struct {
	ClientID       string    // the idempotency key sent to the relay
	ConversationID string    // where it goes
	Text           string    // text, if any
	Template       string    // template's name, if any
	Name           string    // attachment's file name, if it is a file
	Size           int64     // attachment's size in bytes
	Created        time.Time // when it was written
	// Refused is the relay's reason when it refused the message for good;
	// empty while it waits to be sent.
	Refused string
}

// LogValue keeps the text and file name out of logs.
func (p Pending) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", p.ClientID), slog.String("conversation_id", p.ConversationID))
}

// Cache is the offline inbox. Create it with [New] and start [Cache.Run];
// reads work whether or not Run is running. It is safe for concurrent use.
type Cache struct {
	kv   store.KV
	src  Source
	clk  clock.Clock
	log  *slog.Logger
	opts Options

	online     atomic.Bool
	catchingUp atomic.Bool
	wake       chan struct{} // pokes the sender
	outboxMu   sync.Mutex    // serialises outbox numbering
}

// New returns a cache over opts.Store; it does not contact the relay.
func New(opts Options) (*Cache, error) {
	if opts.Store == nil || opts.Source == nil {
		return nil, fmt.Errorf("cache: %w: Store and Source are required", ErrInvalid)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.Wait <= 0 {
		opts.Wait = link.MaxChangesWait
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	c := &Cache{kv: opts.Store, src: opts.Source, clk: clock.Or(opts.Clock), log: opts.Logger, opts: opts,
		wake: make(chan struct{}, 1)}
	c.catchingUp.Store(true)
	return c, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Store layout (all under "inbox/"):
//
//	cursor                 the feed cursor, 8 bytes big-endian
//	c/<conv>               conversation record (JSON)
//	m/<conv>/<seq:020>     message (JSON)
//	k/<client id>          <conv>/<seq:020> of the stored message with that client id
//	a/<conv>/<attachment>  attachment bytes, once downloaded
//	f/<conv>               the conversation must be fetched in full
//	o/<n:020>              outbox entry (JSON), in the order written
//	ok/<client id>         <n:020>: the outbox entry with that client id
//	on                     last outbox number, 8 bytes big-endian
//
// and "snap/<kind>/<id>" for snapshots.
const (
	kCursor = "inbox/cursor"
	kOutSeq = "inbox/on"
)

func convKey(id string) []byte     { return []byte("inbox/c/" + id) }
func msgPrefix(conv string) []byte { return []byte("inbox/m/" + conv + "/") }
func msgKey(conv string, seq uint64) []byte {
	return []byte("inbox/m/" + conv + "/" + seqText(seq))
}
func clientKey(id string) []byte     { return []byte("inbox/k/" + id) }
func attPrefix(conv string) []byte   { return []byte("inbox/a/" + conv + "/") }
func attKey(conv, att string) []byte { return []byte("inbox/a/" + conv + "/" + att) }
func fetchKey(conv string) []byte    { return []byte("inbox/f/" + conv) }
func outKey(n uint64) []byte         { return []byte("inbox/o/" + seqText(n)) }
func outClientKey(id string) []byte  { return []byte("inbox/ok/" + id) }
func seqText(n uint64) string        { return fmt.Sprintf("%020d", n) }
func snapPrefix(kind string) []byte  { return []byte("snap/" + kind + "/") }
func snapKey(kind, id string) []byte { return []byte("snap/" + kind + "/" + id) }
func u64(b []byte) uint64            { return binary.BigEndian.Uint64(b) }
func u64b(n uint64) []byte           { return binary.BigEndian.AppendUint64(nil, n) }

// validID reports whether id can be part of a key: 1–128 characters from
// [A-Za-z0-9_.-], not "." or "..".
func validID(id string) bool {
	if id == "" || len(id) > 128 || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// convRecord is a stored conversation with what the cache knows about it.
type convRecord struct {
	Conv   link.Conversation `json:"conv"`
	MaxSeq uint64            `json:"max_seq"` // highest stored message
}

// outboxEntry is a stored outbox message.
type outboxEntry struct {
	N              uint64         `json:"n"`
	ConversationID string         `json:"conversation_id"`
	ClientID       string         `json:"client_id"`
	Text           string         `json:"text,omitempty"`
	Template       *link.Template `json:"template,omitempty"`
	Name           string         `json:"name,omitempty"`
	Data           []byte         `json:"data,omitempty"`
	Created        time.Time      `json:"created"`
	Refused        string         `json:"refused,omitempty"`
}

func (e outboxEntry) pending() Pending {
	p := Pending{ClientID: e.ClientID, ConversationID: e.ConversationID, Text: e.Text,
		Name: e.Name, Size: int64(len(e.Data)), Created: e.Created, Refused: e.Refused}
	if e.Template != nil {
		p.Template = e.Template.Name
	}
	return p
}

func getJSON(tx store.Txn, key []byte, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("cache: decode %s: %w", keyKind(key), err)
	}
	return nil
}

func setJSON(tx store.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cache: encode %s: %w", keyKind(key), err)
	}
	return tx.Set(key, b)
}

// keyKind names a key's kind for errors, without its ids.
func keyKind(key []byte) string {
	parts := strings.SplitN(string(key), "/", 3)
	if len(parts) < 2 {
		return string(key)
	}
	return parts[0] + "/" + parts[1]
}

// Online reports whether the last call to the relay succeeded.
func (c *Cache) Online() bool { return c.online.Load() }

// Cursor returns the stored change-feed cursor (0 before the first sync).
func (c *Cache) Cursor(ctx context.Context) (uint64, error) {
	var n uint64
	err := c.kv.View(ctx, func(tx store.Txn) error {
		b, err := tx.Get([]byte(kCursor))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		n = u64(b)
		return nil
	})
	return n, err
}

// Conversations returns the cached conversations, latest message first.
func (c *Cache) Conversations(ctx context.Context) ([]link.Conversation, error) {
	var out []link.Conversation
	err := c.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte("inbox/c/"), func(_, v []byte) error {
			var r convRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("cache: decode conversation: %w", err)
			}
			out = append(out, r.Conv)
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b link.Conversation) int {
		if d := b.LastMessageAt.Compare(a.LastMessageAt); d != 0 {
			return d
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, err
}

// Conversation returns one cached conversation or [ErrNotFound].
func (c *Cache) Conversation(ctx context.Context, id string) (link.Conversation, error) {
	if !validID(id) {
		return link.Conversation{}, ErrNotFound
	}
	var r convRecord
	err := c.kv.View(ctx, func(tx store.Txn) error { return getJSON(tx, convKey(id), &r) })
	if errors.Is(err, store.ErrNotFound) {
		return link.Conversation{}, ErrNotFound
	}
	return r.Conv, err
}

// Messages returns a conversation's cached messages in order, followed by
// its outbox messages (Seq 0, Delivery DeliveryPending or
// DeliveryRefused, Side advisor).
func (c *Cache) Messages(ctx context.Context, conversationID string) ([]link.Message, error) {
	if !validID(conversationID) {
		return nil, ErrNotFound
	}
	var out []link.Message
	err := c.kv.View(ctx, func(tx store.Txn) error {
		if err := tx.Scan(msgPrefix(conversationID), func(_, v []byte) error {
			var m link.Message
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("cache: decode message: %w", err)
			}
			out = append(out, m)
			return nil
		}); err != nil {
			return err
		}
		return scanOutbox(tx, func(e outboxEntry) error {
			if e.ConversationID == conversationID {
				out = append(out, e.message())
			}
			return nil
		})
	})
	return out, err
}

// message shows an outbox entry as a message.
func (e outboxEntry) message() link.Message {
	m := link.Message{ConversationID: e.ConversationID, ClientID: e.ClientID, Side: link.SideAdvisor,
		Text: e.Text, Template: e.Template, Delivery: DeliveryPending, Created: e.Created, Attachments: []link.Attachment{}}
	if e.Name != "" {
		m.Attachments = []link.Attachment{{Name: e.Name, Size: int64(len(e.Data))}}
	}
	if e.Refused != "" {
		m.Delivery = DeliveryRefused
	}
	return m
}

func scanOutbox(tx store.Txn, fn func(outboxEntry) error) error {
	return tx.Scan([]byte("inbox/o/"), func(_, v []byte) error {
		var e outboxEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("cache: decode outbox entry: %w", err)
		}
		return fn(e)
	})
}

// Outbox returns the messages waiting to be sent (or refused), oldest
// first.
func (c *Cache) Outbox(ctx context.Context) ([]Pending, error) {
	var out []Pending
	err := c.kv.View(ctx, func(tx store.Txn) error {
		return scanOutbox(tx, func(e outboxEntry) error {
			out = append(out, e.pending())
			return nil
		})
	})
	return out, err
}

// Send queues a text or template message for a cached conversation and
// returns its client id (m.ClientID, or a fresh one when empty). It does
// not wait for the relay.
func (c *Cache) Send(ctx context.Context, conversationID string, m link.OutgoingMessage) (string, error) {
	if strings.TrimSpace(m.Text) == "" && (m.Template == nil || m.Template.Name == "") {
		return "", fmt.Errorf("cache: send: %w: nothing to send", ErrInvalid)
	}
	return c.enqueue(ctx, outboxEntry{ConversationID: conversationID, ClientID: m.ClientID, Text: m.Text, Template: m.Template})
}

// SendAttachment queues a file (at most [MaxAttachment] bytes) as a
// message and returns its client id.
func (c *Cache) SendAttachment(ctx context.Context, conversationID, name string, data []byte) (string, error) {
	if name == "" || len(data) == 0 || len(data) > MaxAttachment {
		return "", fmt.Errorf("cache: send attachment: %w: empty, unnamed or larger than %d bytes", ErrInvalid, MaxAttachment)
	}
	return c.enqueue(ctx, outboxEntry{ConversationID: conversationID, Name: name, Data: bytes.Clone(data)})
}

func (c *Cache) enqueue(ctx context.Context, e outboxEntry) (string, error) {
	if !validID(e.ConversationID) {
		return "", fmt.Errorf("cache: send: %w: conversation id", ErrInvalid)
	}
	if e.ClientID == "" {
		e.ClientID = ids.New()
	}
	if !validID(e.ClientID) {
		return "", fmt.Errorf("cache: send: %w: client id", ErrInvalid)
	}
	e.Created = c.clk.Now()
	c.outboxMu.Lock()
	err := c.kv.Update(ctx, func(tx store.Txn) error {
		if _, err := tx.Get(convKey(e.ConversationID)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrNotFound
			}
			return err
		}
		if _, err := tx.Get(outClientKey(e.ClientID)); err == nil {
			return nil // queued already
		}
		if _, err := tx.Get(clientKey(e.ClientID)); err == nil {
			return nil // sent already
		}
		var n uint64
		if b, err := tx.Get([]byte(kOutSeq)); err == nil {
			n = u64(b)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		n++
		e.N = n
		if err := tx.Set([]byte(kOutSeq), u64b(n)); err != nil {
			return err
		}
		if err := tx.Set(outClientKey(e.ClientID), []byte(seqText(n))); err != nil {
			return err
		}
		return setJSON(tx, outKey(n), e)
	})
	c.outboxMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("cache: queue message: %w", err)
	}
	c.log.Info("cache: message queued", "conversation_id", e.ConversationID, "client_id", e.ClientID)
	c.poke()
	c.notify(Update{Conversations: []string{e.ConversationID}})
	return e.ClientID, nil
}

func (c *Cache) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Retry sends a refused outbox message again.
func (c *Cache) Retry(ctx context.Context, clientID string) error {
	conv, err := c.editOutbox(ctx, clientID, func(tx store.Txn, key []byte, e *outboxEntry) error {
		e.Refused = ""
		return setJSON(tx, key, e)
	})
	if err != nil {
		return err
	}
	c.poke()
	c.notify(Update{Conversations: []string{conv}})
	return nil
}

// Discard removes a message from the outbox (sent or not: a message the
// relay already accepted stays on the relay).
func (c *Cache) Discard(ctx context.Context, clientID string) error {
	conv, err := c.editOutbox(ctx, clientID, func(tx store.Txn, key []byte, e *outboxEntry) error {
		if err := tx.Delete(key); err != nil {
			return err
		}
		return tx.Delete(outClientKey(e.ClientID))
	})
	if err != nil {
		return err
	}
	c.notify(Update{Conversations: []string{conv}})
	return nil
}

func (c *Cache) editOutbox(ctx context.Context, clientID string, fn func(store.Txn, []byte, *outboxEntry) error) (string, error) {
	if !validID(clientID) {
		return "", ErrNotFound
	}
	var conv string
	err := c.kv.Update(ctx, func(tx store.Txn) error {
		n, err := tx.Get(outClientKey(clientID))
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		key := []byte("inbox/o/" + string(n))
		var e outboxEntry
		if err := getJSON(tx, key, &e); err != nil {
			return err
		}
		conv = e.ConversationID
		return fn(tx, key, &e)
	})
	if err != nil {
		return "", fmt.Errorf("cache: outbox: %w", err)
	}
	return conv, nil
}

// PutConversation stores a conversation the caller got from the relay
// (after changing its status or marking it read), so the UI shows it at
// once; the change feed brings the same later.
func (c *Cache) PutConversation(ctx context.Context, conv link.Conversation) error {
	if !validID(conv.ID) {
		return fmt.Errorf("cache: put conversation: %w", ErrInvalid)
	}
	err := c.kv.Update(ctx, func(tx store.Txn) error {
		var r convRecord
		if err := getJSON(tx, convKey(conv.ID), &r); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		r.Conv = conv
		return setJSON(tx, convKey(conv.ID), r)
	})
	if err != nil {
		return fmt.Errorf("cache: put conversation: %w", err)
	}
	c.notify(Update{Conversations: []string{conv.ID}})
	return nil
}

// Attachment returns an attachment's bytes, from the cache or, when
// online, from the relay (then kept in the cache). Offline, an attachment
// never opened before is [ErrOffline].
func (c *Cache) Attachment(ctx context.Context, conversationID, attachmentID string) ([]byte, error) {
	if !validID(conversationID) || !validID(attachmentID) {
		return nil, ErrNotFound
	}
	var data []byte
	known := false
	err := c.kv.View(ctx, func(tx store.Txn) error {
		if _, err := tx.Get(convKey(conversationID)); err != nil {
			return err
		}
		known = true
		b, err := tx.Get(attKey(conversationID, attachmentID))
		data = b
		return err
	})
	switch {
	case err == nil:
		return data, nil
	case !known && errors.Is(err, store.ErrNotFound):
		return nil, ErrNotFound
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("cache: read attachment: %w", err)
	}
	var buf bytes.Buffer
	if _, err := c.src.DownloadAttachment(ctx, conversationID, attachmentID, &limitWriter{w: &buf, n: MaxAttachment}); err != nil {
		c.setOnline(err)
		return nil, fmt.Errorf("cache: download attachment: %w: %w", ErrOffline, err)
	}
	c.setOnline(nil)
	data = buf.Bytes()
	err = c.kv.Update(ctx, func(tx store.Txn) error {
		if _, err := tx.Get(convKey(conversationID)); err != nil {
			return err // removed meanwhile: keep nothing
		}
		return tx.Set(attKey(conversationID, attachmentID), data)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("cache: keep attachment: %w", err)
	}
	return data, nil
}

// limitWriter fails once more than n bytes are written.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, fmt.Errorf("cache: attachment larger than %d bytes", MaxAttachment)
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

// setOnline records the outcome of a relay call and tells the UI when the
// state flips.
func (c *Cache) setOnline(err error) {
	if errors.Is(err, context.Canceled) {
		return // we stopped asking; says nothing about the relay
	}
	on := err == nil || isRefusal(err)
	if c.online.Swap(on) != on {
		if on {
			c.log.Info("cache: relay reachable")
		} else {
			c.log.Info("cache: relay unreachable", "err", err)
		}
		c.notify(Update{})
	}
}

func (c *Cache) notify(u Update) {
	if c.opts.OnUpdate == nil {
		return
	}
	u.Online = c.online.Load()
	u.CatchingUp = c.catchingUp.Load()
	c.opts.OnUpdate(u)
}

// isRefusal reports whether err is the relay refusing a request for good
// (4xx other than unauthenticated, timeout and throttling): retrying the
// same request cannot help.
func isRefusal(err error) bool {
	var ae *link.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch {
	case ae.Status < 400 || ae.Status > 499:
		return false
	case ae.Code == link.CodeUnauthenticated, ae.Code == link.CodeThrottled, ae.Status == 408, ae.Status == 429:
		return false
	}
	return true
}

// backoff is an exponential back-off with jitter.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	// 50–100 % of the step, so that many desktops do not retry together.
	return b.cur/2 + time.Duration(mrand.Int64N(int64(b.cur/2)+1))
}

func (b *backoff) reset() { b.cur = 0 }

// Run keeps the cache in step with the relay and sends the outbox until
// ctx ends; it then returns ctx's error. Failures are logged and retried
// with back-off, never returned. Run at most once at a time.
func (c *Cache) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.syncLoop(ctx) }()
	go func() { defer wg.Done(); c.sendLoop(ctx) }()
	wg.Wait()
	return ctx.Err()
}

// syncLoop catches up, then long-polls, forever.
func (c *Cache) syncLoop(ctx context.Context) {
	b := backoff{min: c.opts.MinBackoff, max: c.opts.MaxBackoff}
	wait := time.Duration(0)
	for ctx.Err() == nil {
		full, err := c.SyncOnce(ctx, wait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("cache: sync failed", "err", err)
			wait = 0
			if c.opts.Sleep(ctx, b.next()) != nil {
				return
			}
			continue
		}
		b.reset()
		// A full page means more is waiting: ask again at once; otherwise
		// we are up to date and long-poll.
		if full {
			wait = 0
			continue
		}
		if c.catchingUp.Swap(false) {
			c.notify(Update{})
		}
		wait = c.opts.Wait
	}
}

// SyncOnce fetches and applies one page of changes after the stored
// cursor (long-polling up to wait when there are none), then fetches any
// conversation the cache still needs in full. It reports whether the page
// was full (more changes are likely waiting). Run calls it in a loop;
// tests and benchmarks call it directly.
func (c *Cache) SyncOnce(ctx context.Context, wait time.Duration) (full bool, err error) {
	since, err := c.Cursor(ctx)
	if err != nil {
		return false, err
	}
	page, err := c.src.InboxChanges(ctx, since, c.opts.PageSize, wait)
	c.setOnline(err)
	if err != nil {
		return false, fmt.Errorf("cache: read changes after %d: %w", since, err)
	}
	u, err := c.apply(ctx, since, page)
	if err != nil {
		return false, err
	}
	if err := c.fetchPending(ctx, &u); err != nil {
		return false, err
	}
	if u.unreadNeeded {
		if err := c.refreshUnread(ctx, &u); err != nil {
			return false, err
		}
	}
	if len(u.Conversations) > 0 || len(u.Removed) > 0 {
		c.notify(u.Update)
	}
	return len(page.Changes) >= c.opts.PageSize, nil
}

// applied collects what one sync step changed.
type applied struct {
	Update
	seen         map[string]bool
	unreadNeeded bool
}

func (a *applied) touch(id string) {
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	if !a.seen[id] {
		a.seen[id] = true
		a.Conversations = append(a.Conversations, id)
	}
}

// apply stores one page of changes and the new cursor in one transaction,
// unless another sync moved the cursor from since meanwhile.
func (c *Cache) apply(ctx context.Context, since uint64, page link.Changes) (applied, error) {
	var u applied
	err := c.kv.Update(ctx, func(tx store.Txn) error {
		u = applied{}
		if b, err := tx.Get([]byte(kCursor)); err == nil && u64(b) != since {
			return errCursorMoved
		}
		for _, ch := range page.Changes {
			if !validID(ch.ConversationID) {
				c.log.Warn("cache: change with an unusable conversation id skipped", "seq", ch.Seq)
				continue
			}
			if err := c.applyChange(tx, ch, &u); err != nil {
				return err
			}
		}
		if page.Next > since {
			return tx.Set([]byte(kCursor), u64b(page.Next))
		}
		return nil
	})
	if errors.Is(err, errCursorMoved) {
		return applied{}, nil
	}
	if err != nil {
		return applied{}, fmt.Errorf("cache: apply changes after %d: %w", since, err)
	}
	return u, nil
}

var errCursorMoved = errors.New("cache: cursor moved")

func (c *Cache) applyChange(tx store.Txn, ch link.Change, u *applied) error {
	id := ch.ConversationID
	switch ch.Kind {
	case link.ChangeRemoved, link.ChangeDeleted:
		if err := removeConversation(tx, id); err != nil {
			return err
		}
		u.touch(id)
		u.Removed = append(u.Removed, id)
		return nil
	case link.ChangeConversation, link.ChangeReceipt:
		if ch.Conversation == nil || ch.Conversation.ID != id {
			return c.needFetch(tx, id, u)
		}
		var r convRecord
		err := getJSON(tx, convKey(id), &r)
		if errors.Is(err, store.ErrNotFound) {
			// New to me (created, or assigned to me): fetch its messages.
			if err := markFetch(tx, id, 0); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		r.Conv = *ch.Conversation
		u.touch(id)
		return setJSON(tx, convKey(id), r)
	case link.ChangeMessage, link.ChangeDelivery:
		if ch.Message == nil || ch.Message.ConversationID != id {
			return c.needFetch(tx, id, u)
		}
		var r convRecord
		err := getJSON(tx, convKey(id), &r)
		if errors.Is(err, store.ErrNotFound) {
			return c.needFetch(tx, id, u)
		}
		if err != nil {
			return err
		}
		isNew, err := putMessage(tx, &r, *ch.Message)
		if err != nil {
			return err
		}
		if isNew {
			// Customer messages add to the unread count, the advisor's
			// own clear it: ask the relay for the counts after the page.
			u.unreadNeeded = true
			if ch.Message.Side == link.SideCustomer {
				u.Incoming = append(u.Incoming, *ch.Message)
			}
		}
		u.touch(id)
		return setJSON(tx, convKey(id), r)
	}
	// An unknown kind from a newer relay: make sure we have the latest.
	return c.needFetch(tx, id, u)
}

// needFetch marks a conversation to be fetched after the page, from its
// highest stored message (all of it when it is not stored).
func (c *Cache) needFetch(tx store.Txn, id string, u *applied) error {
	u.touch(id)
	var r convRecord
	if err := getJSON(tx, convKey(id), &r); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return markFetch(tx, id, r.MaxSeq)
}

// markFetch notes that conversation id needs its messages after from,
// unless it is noted already.
func markFetch(tx store.Txn, id string, from uint64) error {
	_, err := tx.Get(fetchKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return tx.Set(fetchKey(id), u64b(from))
	}
	return err
}

// putMessage stores m (replacing an older copy of it) in conversation r,
// retiring an outbox entry with its client id. It reports whether the
// message was new here.
func putMessage(tx store.Txn, r *convRecord, m link.Message) (bool, error) {
	key := msgKey(m.ConversationID, m.Seq)
	_, err := tx.Get(key)
	isNew := errors.Is(err, store.ErrNotFound)
	if err != nil && !isNew {
		return false, err
	}
	if err := setJSON(tx, key, m); err != nil {
		return false, err
	}
	if m.Seq > r.MaxSeq {
		r.MaxSeq = m.Seq
	}
	if m.Created.After(r.Conv.LastMessageAt) {
		r.Conv.LastMessageAt = m.Created
	}
	// Messages that arrive in order while a fetch is due need not be
	// fetched again.
	if b, err := tx.Get(fetchKey(m.ConversationID)); err == nil && len(b) == 8 && u64(b)+1 == m.Seq {
		if err := tx.Set(fetchKey(m.ConversationID), u64b(m.Seq)); err != nil {
			return false, err
		}
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	if m.ClientID != "" && validID(m.ClientID) {
		if err := tx.Set(clientKey(m.ClientID), []byte(m.ConversationID+"/"+seqText(m.Seq))); err != nil {
			return false, err
		}
		n, err := tx.Get(outClientKey(m.ClientID))
		switch {
		case err == nil:
			if err := tx.Delete([]byte("inbox/o/" + string(n))); err != nil {
				return false, err
			}
			if err := tx.Delete(outClientKey(m.ClientID)); err != nil {
				return false, err
			}
		case !errors.Is(err, store.ErrNotFound):
			return false, err
		}
	}
	return isNew, nil
}

// removeConversation deletes a conversation with everything cached of it.
func removeConversation(tx store.Txn, id string) error {
	var keys [][]byte
	collect := func(k, _ []byte) error { keys = append(keys, k); return nil }
	if err := tx.Scan(msgPrefix(id), func(k, v []byte) error {
		keys = append(keys, k)
		var m link.Message
		if json.Unmarshal(v, &m) == nil && m.ClientID != "" && validID(m.ClientID) {
			keys = append(keys, clientKey(m.ClientID))
		}
		return nil
	}); err != nil {
		return err
	}
	if err := tx.Scan(attPrefix(id), collect); err != nil {
		return err
	}
	if err := scanOutbox(tx, func(e outboxEntry) error {
		if e.ConversationID == id {
			keys = append(keys, outKey(e.N), outClientKey(e.ClientID))
		}
		return nil
	}); err != nil {
		return err
	}
	keys = append(keys, convKey(id), fetchKey(id))
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// fetchPending fetches every conversation marked for a full fetch: the
// conversation, then its messages after the highest one stored, a page
// per transaction. A conversation the relay no longer shows me is
// removed.
func (c *Cache) fetchPending(ctx context.Context, u *applied) error {
	var todo []string
	err := c.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte("inbox/f/"), func(k, _ []byte) error {
			todo = append(todo, strings.TrimPrefix(string(k), "inbox/f/"))
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, id := range todo {
		if err := c.fetchConversation(ctx, id, u); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cache) fetchConversation(ctx context.Context, id string, u *applied) error {
	conv, err := c.src.Conversation(ctx, id)
	if isNotFound(err) {
		c.setOnline(nil)
		err = c.kv.Update(ctx, func(tx store.Txn) error { return removeConversation(tx, id) })
		if err == nil {
			u.touch(id)
			u.Removed = append(u.Removed, id)
		}
		return err
	}
	c.setOnline(err)
	if err != nil {
		return fmt.Errorf("cache: fetch conversation %s: %w", id, err)
	}
	if conv.ID != id {
		return fmt.Errorf("cache: fetch conversation %s: %w", id, link.ErrBadResponse)
	}
	var after uint64
	err = c.kv.Update(ctx, func(tx store.Txn) error {
		var r convRecord
		if err := getJSON(tx, convKey(id), &r); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		r.Conv = conv
		if b, err := tx.Get(fetchKey(id)); err == nil && len(b) == 8 {
			after = u64(b)
		} else {
			after = r.MaxSeq
		}
		return setJSON(tx, convKey(id), r)
	})
	if err != nil {
		return fmt.Errorf("cache: store conversation %s: %w", id, err)
	}
	u.touch(id)
	u.unreadNeeded = true
	for {
		ms, err := c.src.Messages(ctx, id, after, c.opts.PageSize)
		c.setOnline(err)
		if err != nil {
			return fmt.Errorf("cache: fetch messages of %s after %d: %w", id, after, err)
		}
		last := len(ms) < c.opts.PageSize
		err = c.kv.Update(ctx, func(tx store.Txn) error {
			var r convRecord
			if err := getJSON(tx, convKey(id), &r); err != nil {
				return err // removed meanwhile
			}
			for _, m := range ms {
				if m.ConversationID != id || m.Seq <= after || !validID(m.ID) {
					return fmt.Errorf("message out of order: %w", link.ErrBadResponse)
				}
				if _, err := putMessage(tx, &r, m); err != nil {
					return err
				}
				after = m.Seq
			}
			if err := setJSON(tx, convKey(id), r); err != nil {
				return err
			}
			if last {
				return tx.Delete(fetchKey(id))
			}
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cache: store messages of %s: %w", id, err)
		}
		if last {
			return nil
		}
	}
}

func isNotFound(err error) bool {
	var ae *link.APIError
	return errors.As(err, &ae) && (ae.Code == link.CodeNotFound || ae.Status == 404)
}

// refreshUnread sets the relay's unread counts on the cached conversations.
func (c *Cache) refreshUnread(ctx context.Context, u *applied) error {
	un, err := c.src.UnreadCounts(ctx)
	c.setOnline(err)
	if err != nil {
		return fmt.Errorf("cache: read unread counts: %w", err)
	}
	return c.kv.Update(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte("inbox/c/"), func(k, v []byte) error {
			var r convRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("cache: decode conversation: %w", err)
			}
			n := un.Conversations[r.Conv.ID]
			if n == r.Conv.Unread {
				return nil
			}
			r.Conv.Unread = n
			u.touch(r.Conv.ID)
			return setJSON(tx, k, r)
		})
	})
}

// sendLoop delivers the outbox whenever there is something to send.
func (c *Cache) sendLoop(ctx context.Context) {
	b := backoff{min: c.opts.MinBackoff, max: c.opts.MaxBackoff}
	for {
		err := c.Flush(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.log.Warn("cache: sending the outbox failed", "err", err)
			if c.opts.Sleep(ctx, b.next()) != nil {
				return
			}
			continue
		}
		b.reset()
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
	}
}

// Flush sends the outbox in order until it is empty (refused messages
// stay), or returns the first failure. Run calls it whenever messages
// are queued; tests call it directly.
func (c *Cache) Flush(ctx context.Context) error {
	var after uint64
	for {
		e, ok, err := c.nextOutbox(ctx, after)
		if err != nil || !ok {
			return err
		}
		after = e.N
		if err := c.sendOne(ctx, e); err != nil {
			return err
		}
	}
}

// nextOutbox returns the first unrefused outbox entry after number after.
func (c *Cache) nextOutbox(ctx context.Context, after uint64) (outboxEntry, bool, error) {
	var found outboxEntry
	ok := false
	stop := errors.New("stop")
	err := c.kv.View(ctx, func(tx store.Txn) error {
		return scanOutbox(tx, func(e outboxEntry) error {
			if e.N > after && e.Refused == "" {
				found, ok = e, true
				return stop
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, stop) {
		return outboxEntry{}, false, err
	}
	return found, ok, nil
}

// sendOne sends one outbox entry and stores the relay's message in its
// place; a refusal marks the entry refused.
func (c *Cache) sendOne(ctx context.Context, e outboxEntry) error {
	var m link.Message
	var err error
	if e.Name != "" {
		m, err = c.src.SendAttachment(ctx, e.ConversationID, e.ClientID, e.Name, e.Data)
	} else {
		m, err = c.src.SendMessage(ctx, e.ConversationID, link.OutgoingMessage{ClientID: e.ClientID, Text: e.Text, Template: e.Template})
	}
	c.setOnline(err)
	if err != nil && isRefusal(err) {
		c.log.Warn("cache: relay refused a queued message", "conversation_id", e.ConversationID, "client_id", e.ClientID, "err", err)
		reason := refusalText(err)
		_, eerr := c.editOutbox(ctx, e.ClientID, func(tx store.Txn, key []byte, x *outboxEntry) error {
			x.Refused = reason
			return setJSON(tx, key, x)
		})
		if eerr != nil && !errors.Is(eerr, ErrNotFound) {
			return eerr
		}
		c.notify(Update{Conversations: []string{e.ConversationID}})
		return nil
	}
	if err != nil {
		return fmt.Errorf("cache: send %s: %w", e.ClientID, err)
	}
	if m.ConversationID != e.ConversationID || (m.ClientID != "" && m.ClientID != e.ClientID) {
		return fmt.Errorf("cache: send %s: %w: answer for another message", e.ClientID, link.ErrBadResponse)
	}
	m.ClientID = e.ClientID
	err = c.kv.Update(ctx, func(tx store.Txn) error {
		var r convRecord
		if err := getJSON(tx, convKey(e.ConversationID), &r); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				// Removed meanwhile: drop the entry, keep nothing.
				if err := tx.Delete(outKey(e.N)); err != nil {
					return err
				}
				return tx.Delete(outClientKey(e.ClientID))
			}
			return err
		}
		if _, err := putMessage(tx, &r, m); err != nil {
			return err
		}
		// The advisor's own message marks everything before it read.
		r.Conv.Unread = 0
		return setJSON(tx, convKey(e.ConversationID), r)
	})
	if err != nil {
		return fmt.Errorf("cache: store sent message %s: %w", e.ClientID, err)
	}
	c.log.Info("cache: queued message sent", "conversation_id", e.ConversationID, "client_id", e.ClientID, "seq", m.Seq)
	c.notify(Update{Conversations: []string{e.ConversationID}})
	return nil
}

// refusalText is the reason shown for a refused message.
func refusalText(err error) string {
	var ae *link.APIError
	if errors.As(err, &ae) {
		return ae.Error()
	}
	return "refused by the relay"
}

// PutSnapshot replaces every record of kind (e.g. "customers",
// "bookings") with items, by id, in one transaction. Values are the
// caller's encoding (JSON). Kind and ids follow the id rule (see
// [ErrInvalid]).
func (c *Cache) PutSnapshot(ctx context.Context, kind string, items map[string][]byte) error {
	if !validID(kind) {
		return fmt.Errorf("cache: snapshot: %w: kind", ErrInvalid)
	}
	for id := range items {
		if !validID(id) {
			return fmt.Errorf("cache: snapshot %s: %w: id", kind, ErrInvalid)
		}
	}
	err := c.kv.Update(ctx, func(tx store.Txn) error {
		var old [][]byte
		if err := tx.Scan(snapPrefix(kind), func(k, _ []byte) error { old = append(old, k); return nil }); err != nil {
			return err
		}
		for _, k := range old {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		for id, v := range items {
			if err := tx.Set(snapKey(kind, id), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache: snapshot %s: %w", kind, err)
	}
	return nil
}

// Snapshot returns the records of kind stored by PutSnapshot, by id.
func (c *Cache) Snapshot(ctx context.Context, kind string) (map[string][]byte, error) {
	if !validID(kind) {
		return nil, fmt.Errorf("cache: snapshot: %w: kind", ErrInvalid)
	}
	out := map[string][]byte{}
	err := c.kv.View(ctx, func(tx store.Txn) error {
		prefix := snapPrefix(kind)
		return tx.Scan(prefix, func(k, v []byte) error {
			out[string(k[len(prefix):])] = v
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("cache: snapshot %s: %w", kind, err)
	}
	return out, nil
}

// Counts returns how many conversations and messages are cached (for
// diagnostics and tests).
func (c *Cache) Counts(ctx context.Context) (conversations, messages int, err error) {
	err = c.kv.View(ctx, func(tx store.Txn) error {
		if err := tx.Scan([]byte("inbox/c/"), func(_, _ []byte) error { conversations++; return nil }); err != nil {
			return err
		}
		return tx.Scan([]byte("inbox/m/"), func(_, _ []byte) error { messages++; return nil })
	})
	return conversations, messages, err
}
