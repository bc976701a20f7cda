package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"parley/sync/link"
)

// fakeRelay is the relay's inbox as the cache sees it: a change feed over
// conversations and messages, with the relay's exactly-once rule on client
// ids. It can be switched off (every call fails before doing anything) and
// made flaky: a share of sends fail before the relay applies them, and a
// share after (the relay stored the message, the answer was lost).
type fakeRelay struct {
	mu       sync.Mutex
	feed     []link.Change // feed[i].Seq == i+1
	convs    map[string]link.Conversation
	msgs     map[string][]link.Message // by conversation, seq order
	byClient map[string]link.Message
	files    map[string][]byte // attachment id → bytes
	changed  chan struct{}     // closed and replaced on every change

	down       bool
	failBefore float64 // share of sends that fail before applying
	failAfter  float64 // share of sends that fail after applying
	rng        *rand.Rand
	refuse     map[string]bool // conversation ids whose sends are refused (409)
	sendCalls  int
	tick       int // message clock, seconds after fakeEpoch
	downloads  int
}

var errDown = errors.New("fake relay: connection refused")

func newFakeRelay() *fakeRelay {
	return &fakeRelay{convs: map[string]link.Conversation{}, msgs: map[string][]link.Message{},
		byClient: map[string]link.Message{}, files: map[string][]byte{}, changed: make(chan struct{}),
		rng: rand.New(rand.NewPCG(1, 2)), refuse: map[string]bool{}}
}

var fakeEpoch = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)

// emit appends a change; mu is held.
func (f *fakeRelay) emit(ch link.Change) {
	ch.Seq = uint64(len(f.feed) + 1)
	f.feed = append(f.feed, ch)
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeRelay) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// addConversation creates a conversation.
func (f *fakeRelay) addConversation(id, channel string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := link.Conversation{ID: id, Channel: channel, CustomerID: "cu-" + id, CustomerName: "Kunde " + id, AdvisorID: "u1", Status: link.ConversationOpen}
	f.convs[id] = c
	f.emit(link.Change{Kind: link.ChangeConversation, ConversationID: id, Conversation: &c})
}

// store appends a message; mu is held.
func (f *fakeRelay) store(conv string, m link.Message) link.Message {
	m.ConversationID = conv
	m.Seq = uint64(len(f.msgs[conv]) + 1)
	m.ID = fmt.Sprintf("%s-m%d", conv, m.Seq)
	f.tick++
	m.Created = fakeEpoch.Add(time.Duration(f.tick) * time.Second)
	if m.Attachments == nil {
		m.Attachments = []link.Attachment{}
	}
	f.msgs[conv] = append(f.msgs[conv], m)
	c := f.convs[conv]
	c.LastMessageAt = m.Created
	if m.Side == link.SideCustomer {
		c.Unread++
	} else {
		c.Unread = 0
	}
	f.convs[conv] = c
	if m.ClientID != "" {
		f.byClient[m.ClientID] = m
	}
	mc := m
	f.emit(link.Change{Kind: link.ChangeMessage, ConversationID: conv, Message: &mc})
	return m
}

// customerSays adds a customer's message.
func (f *fakeRelay) customerSays(conv, text string) link.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.store(conv, link.Message{Side: link.SideCustomer, Author: "cu-" + conv, Text: text})
}

// addFile adds a customer's message with an attachment.
func (f *fakeRelay) addFile(conv, attID string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[attID] = data
	f.store(conv, link.Message{Side: link.SideCustomer, Author: "cu-" + conv,
		Attachments: []link.Attachment{{ID: attID, Name: "scan.pdf", Type: "application/pdf", Size: int64(len(data))}}})
}

// remove deletes a conversation (retention, erasure) and leaves a
// tombstone.
func (f *fakeRelay) remove(conv string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs[conv] {
		delete(f.byClient, m.ClientID)
	}
	delete(f.convs, conv)
	delete(f.msgs, conv)
	f.emit(link.Change{Kind: link.ChangeRemoved, ConversationID: conv})
}

func (f *fakeRelay) InboxChanges(ctx context.Context, since uint64, limit int, wait time.Duration) (link.Changes, error) {
	for {
		f.mu.Lock()
		if f.down {
			f.mu.Unlock()
			return link.Changes{}, errDown
		}
		if int(since) < len(f.feed) || wait <= 0 {
			end := min(len(f.feed), int(since)+limit)
			page := append([]link.Change{}, f.feed[min(int(since), end):end]...)
			next := since
			if len(page) > 0 {
				next = page[len(page)-1].Seq
			}
			f.mu.Unlock()
			return link.Changes{Changes: page, Next: next}, nil
		}
		ch := f.changed
		f.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return link.Changes{}, ctx.Err()
		case <-t.C:
			wait = 0
		case <-ch:
			t.Stop()
		}
	}
}

func notFound() error { return &link.APIError{Status: http.StatusNotFound, Code: link.CodeNotFound} }

func (f *fakeRelay) Conversation(ctx context.Context, id string) (link.Conversation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return link.Conversation{}, errDown
	}
	c, ok := f.convs[id]
	if !ok {
		return link.Conversation{}, notFound()
	}
	return c, nil
}

func (f *fakeRelay) Messages(ctx context.Context, conv string, after uint64, limit int) ([]link.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	if _, ok := f.convs[conv]; !ok {
		return nil, notFound()
	}
	ms := f.msgs[conv]
	end := min(len(ms), int(after)+limit)
	return append([]link.Message{}, ms[min(int(after), end):end]...), nil
}

func (f *fakeRelay) UnreadCounts(ctx context.Context) (link.Unread, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return link.Unread{}, errDown
	}
	u := link.Unread{Conversations: map[string]int{}}
	for id, c := range f.convs {
		if c.Unread > 0 {
			u.Conversations[id] = c.Unread
			u.Total += c.Unread
		}
	}
	return u, nil
}

// send applies an advisor's message once per client id, failing before or
// after as configured.
func (f *fakeRelay) send(conv string, m link.Message) (link.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sendCalls++
	if f.down || f.rng.Float64() < f.failBefore {
		return link.Message{}, errDown
	}
	if _, ok := f.convs[conv]; !ok {
		return link.Message{}, notFound()
	}
	if f.refuse[conv] {
		return link.Message{}, &link.APIError{Status: http.StatusConflict, Code: link.CodeConflict, Message: "The WhatsApp window is closed."}
	}
	stored, ok := f.byClient[m.ClientID]
	if !ok {
		stored = f.store(conv, m)
	}
	if f.rng.Float64() < f.failAfter {
		return link.Message{}, fmt.Errorf("fake relay: answer lost: %w", io.ErrUnexpectedEOF)
	}
	return stored, nil
}

func (f *fakeRelay) SendMessage(ctx context.Context, conv string, m link.OutgoingMessage) (link.Message, error) {
	return f.send(conv, link.Message{ClientID: m.ClientID, Side: link.SideAdvisor, Author: "u1", Text: m.Text,
		Template: m.Template, Delivery: link.DeliveryQueued})
}

func (f *fakeRelay) SendAttachment(ctx context.Context, conv, clientID, name string, data []byte) (link.Message, error) {
	return f.send(conv, link.Message{ClientID: clientID, Side: link.SideAdvisor, Author: "u1",
		Attachments: []link.Attachment{{ID: "att-" + clientID, Name: name, Type: "application/pdf", Size: int64(len(data))}}})
}

func (f *fakeRelay) DownloadAttachment(ctx context.Context, conv, att string, w io.Writer) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return 0, errDown
	}
	f.downloads++
	b, ok := f.files[att]
	if !ok {
		return 0, notFound()
	}
	n, err := w.Write(b)
	return int64(n), err
}

// snapshot returns the relay's conversations and messages.
func (f *fakeRelay) snapshot() (map[string]link.Conversation, map[string][]link.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cs := map[string]link.Conversation{}
	for k, v := range f.convs {
		cs[k] = v
	}
	ms := map[string][]link.Message{}
	for k, v := range f.msgs {
		ms[k] = append([]link.Message{}, v...)
	}
	return cs, ms
}

var _ Source = (*fakeRelay)(nil)
var _ Source = (*link.Client)(nil)
