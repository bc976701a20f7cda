package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// fakeInbox is an Inbox for tests that works from its zero value (an
// empty, offline inbox). Every call is recorded; replies are added to the
// conversation as pending while offline and as sent while online.
type fakeInbox struct {
	mu        sync.Mutex
	online    bool
	convs     []Conversation
	msgs      map[string][]ChatMessage
	files     map[string][]byte // attachment id → bytes
	canned    []CannedResponse
	statusErr error
	onChange  func(InboxChange)
	calls     []string
}

func (f *fakeInbox) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Calls returns the recorded calls.
func (f *fakeInbox) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeInbox) called(call string) bool { return slices.Contains(f.Calls(), call) }

// change tells the page, as the cache would.
func (f *fakeInbox) change(ch InboxChange) {
	f.mu.Lock()
	ch.Online = f.online
	cb := f.onChange
	f.mu.Unlock()
	if cb != nil {
		cb(ch)
	}
}

// setOnline switches the connection and tells the page.
func (f *fakeInbox) setOnline(on bool) {
	f.mu.Lock()
	f.online = on
	f.mu.Unlock()
	f.change(InboxChange{})
}

// customerSays adds a customer's message and tells the page.
func (f *fakeInbox) customerSays(conv, text string) {
	f.mu.Lock()
	m := ChatMessage{ID: fmt.Sprintf("m%d", len(f.msgs[conv])+1), ConversationID: conv, Seq: uint64(len(f.msgs[conv]) + 1),
		FromCustomer: true, Text: text, Created: time.Now()}
	f.msgs[conv] = append(f.msgs[conv], m)
	for i := range f.convs {
		if f.convs[i].ID == conv {
			f.convs[i].Unread++
		}
	}
	f.mu.Unlock()
	f.change(InboxChange{Conversations: []string{conv}, Incoming: []ChatMessage{m}})
}

// remove deletes a conversation (retention) and tells the page.
func (f *fakeInbox) remove(conv string) {
	f.mu.Lock()
	f.convs = slices.DeleteFunc(f.convs, func(c Conversation) bool { return c.ID == conv })
	f.mu.Unlock()
	f.change(InboxChange{Conversations: []string{conv}})
}

func (f *fakeInbox) Start(ctx context.Context, acc Account, onChange func(InboxChange)) error {
	f.mu.Lock()
	f.record("Start %s", acc.Username)
	f.onChange = onChange
	f.mu.Unlock()
	f.change(InboxChange{})
	return nil
}

func (f *fakeInbox) Conversations(ctx context.Context) ([]Conversation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Conversation{}, f.convs...), nil
}

func (f *fakeInbox) Messages(ctx context.Context, conv string) ([]ChatMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ChatMessage{}, f.msgs[conv]...), nil
}

// reply adds the advisor's message; mu is held.
func (f *fakeInbox) reply(conv string, m ChatMessage) {
	if f.msgs == nil {
		f.msgs = map[string][]ChatMessage{}
	}
	m.ConversationID, m.Created, m.Delivery = conv, time.Now(), DeliveryPending
	if f.online {
		m.Seq, m.ID, m.Delivery = uint64(len(f.msgs[conv])+1), fmt.Sprintf("m%d", len(f.msgs[conv])+1), DeliverySent
	}
	f.msgs[conv] = append(f.msgs[conv], m)
}

func (f *fakeInbox) Send(ctx context.Context, conv, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Send %s %s", conv, text)
	f.reply(conv, ChatMessage{Text: text})
	return nil
}

func (f *fakeInbox) SendTemplate(ctx context.Context, conv, template string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("SendTemplate %s %s", conv, template)
	f.reply(conv, ChatMessage{Template: template})
	return nil
}

func (f *fakeInbox) Attach(ctx context.Context, conv, name string, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Attach %s %s %d", conv, name, len(data))
	f.reply(conv, ChatMessage{Attachments: []FileRef{{Name: name, Size: int64(len(data))}}})
	return nil
}

func (f *fakeInbox) Attachment(ctx context.Context, conv, id string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Attachment %s %s", conv, id)
	b, ok := f.files[id]
	if !ok {
		return nil, errors.New("This file is not available offline.")
	}
	return b, nil
}

func (f *fakeInbox) SetStatus(ctx context.Context, conv, status string) (Conversation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("SetStatus %s %s", conv, status)
	if f.statusErr != nil {
		return Conversation{}, f.statusErr
	}
	for i := range f.convs {
		if f.convs[i].ID == conv {
			f.convs[i].Status = status
			return f.convs[i], nil
		}
	}
	return Conversation{}, errors.New("no such conversation")
}

func (f *fakeInbox) MarkRead(ctx context.Context, conv string, seq uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("MarkRead %s %d", conv, seq)
	for i := range f.convs {
		if f.convs[i].ID == conv {
			f.convs[i].Unread = 0
		}
	}
	return nil
}

func (f *fakeInbox) CannedResponses(ctx context.Context) ([]CannedResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("CannedResponses")
	return append([]CannedResponse{}, f.canned...), nil
}

var _ Inbox = (*fakeInbox)(nil)
