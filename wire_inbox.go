package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"parley/app"
	"parley/sync/cache"
	"parley/sync/link"
)

// linkInbox adapts the offline cache (sync/cache) and the link client to
// the UI's Inbox: reads come from the cache, replies go to its outbox,
// status changes and read marks go to the relay and then into the cache.
type linkInbox struct {
	c   *link.Client
	log *slog.Logger
	// dir is the folder holding one cache folder per relay and account;
	// empty: the user's config folder.
	dir string

	mu    sync.Mutex
	cache *cache.Cache
	done  chan struct{} // closed when the running cache's store is closed
}

var _ app.Inbox = (*linkInbox)(nil)

// uiMessage is an error whose text is a sentence for the UI.
type uiMessage string

func (m uiMessage) Error() string { return string(m) }

// Sentences for the inbox's own failures.
const (
	errNoInbox     uiMessage = "The inbox is not open yet."
	errFileOffline uiMessage = "This file has not been opened on this computer before and the relay is not reachable."
)

// cacheDir is the account's cache folder: the relay, tenant and username
// hashed, so that the folder name reveals none of them.
func (l *linkInbox) cacheDir(acc app.Account) (string, error) {
	base := l.dir
	if base == "" {
		cfg, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("inbox cache folder: %w", err)
		}
		base = filepath.Join(cfg, "parley", "cache")
	}
	sum := sha256.Sum256([]byte(l.c.BaseURL() + "\x00" + acc.Tenant + "\x00" + acc.Username))
	return filepath.Join(base, hex.EncodeToString(sum[:12])), nil
}

func (l *linkInbox) Start(ctx context.Context, acc app.Account, onChange func(app.InboxChange)) error {
	l.mu.Lock()
	prev := l.done
	l.mu.Unlock()
	if prev != nil {
		// The previous sign-in's cache closes when its context ends; the
		// store cannot be opened twice.
		select {
		case <-prev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	dir, err := l.cacheDir(acc)
	if err != nil {
		return err
	}
	db, err := cache.OpenStore(dir, l.log)
	if err != nil {
		return err
	}
	c, err := cache.New(cache.Options{Store: db, Source: l.c, Logger: l.log, OnUpdate: func(u cache.Update) {
		onChange(toInboxChange(u))
	}})
	if err != nil {
		db.Close()
		return err
	}
	done := make(chan struct{})
	l.mu.Lock()
	l.cache, l.done = c, done
	l.mu.Unlock()
	go func() {
		defer close(done)
		_ = c.Run(ctx)
		l.mu.Lock()
		if l.cache == c {
			l.cache = nil
		}
		l.mu.Unlock()
		if err := db.Close(); err != nil {
			l.log.Warn("inbox: close cache", "err", err)
		}
	}()
	return nil
}

func (l *linkInbox) current() (*cache.Cache, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cache == nil {
		return nil, errNoInbox
	}
	return l.cache, nil
}

func toInboxChange(u cache.Update) app.InboxChange {
	ch := app.InboxChange{Conversations: u.Conversations, Online: u.Online, CatchingUp: u.CatchingUp}
	for _, m := range u.Incoming {
		ch.Incoming = append(ch.Incoming, toChatMessage(m))
	}
	return ch
}

func toConversation(c link.Conversation) app.Conversation {
	out := app.Conversation{ID: c.ID, Channel: c.Channel, CustomerName: c.CustomerName, Status: c.Status,
		Unread: c.Unread, LastMessageAt: c.LastMessageAt}
	if c.Window != nil {
		out.WindowKnown, out.WindowOpen, out.WindowClosesAt = true, c.Window.Open, c.Window.ClosesAt
		if out.WindowClosesAt.IsZero() {
			out.WindowClosesAt = c.Window.Closes
		}
	}
	return out
}

func toChatMessage(m link.Message) app.ChatMessage {
	out := app.ChatMessage{ID: m.ID, ConversationID: m.ConversationID, Seq: m.Seq, FromCustomer: m.Side == link.SideCustomer,
		Text: m.Text, Delivery: m.Delivery, Created: m.Created}
	if m.Unreadable {
		out.Text = "(This message was erased.)"
	}
	if m.Template != nil {
		out.Template = m.Template.Name
	}
	for _, a := range m.Attachments {
		out.Attachments = append(out.Attachments, app.FileRef{ID: a.ID, Name: a.Name, Type: a.Type, Size: a.Size})
	}
	return out
}

func (l *linkInbox) Conversations(ctx context.Context) ([]app.Conversation, error) {
	c, err := l.current()
	if err != nil {
		return nil, err
	}
	cs, err := c.Conversations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]app.Conversation, 0, len(cs))
	for _, x := range cs {
		out = append(out, toConversation(x))
	}
	return out, nil
}

func (l *linkInbox) Messages(ctx context.Context, conversationID string) ([]app.ChatMessage, error) {
	c, err := l.current()
	if err != nil {
		return nil, err
	}
	ms, err := c.Messages(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	out := make([]app.ChatMessage, 0, len(ms))
	for _, m := range ms {
		out = append(out, toChatMessage(m))
	}
	return out, nil
}

func (l *linkInbox) Send(ctx context.Context, conversationID, text string) error {
	c, err := l.current()
	if err != nil {
		return err
	}
	_, err = c.Send(ctx, conversationID, link.OutgoingMessage{Text: text})
	return err
}

func (l *linkInbox) SendTemplate(ctx context.Context, conversationID, template string) error {
	c, err := l.current()
	if err != nil {
		return err
	}
	_, err = c.Send(ctx, conversationID, link.OutgoingMessage{Template: &link.Template{Name: template, Language: "de"}})
	return err
}

func (l *linkInbox) Attach(ctx context.Context, conversationID, name string, data []byte) error {
	c, err := l.current()
	if err != nil {
		return err
	}
	_, err = c.SendAttachment(ctx, conversationID, name, data)
	return err
}

func (l *linkInbox) Attachment(ctx context.Context, conversationID, attachmentID string) ([]byte, error) {
	c, err := l.current()
	if err != nil {
		return nil, err
	}
	b, err := c.Attachment(ctx, conversationID, attachmentID)
	if errors.Is(err, cache.ErrOffline) {
		return nil, errFileOffline
	}
	return b, forUI(err)
}

func (l *linkInbox) SetStatus(ctx context.Context, conversationID, status string) (app.Conversation, error) {
	c, err := l.current()
	if err != nil {
		return app.Conversation{}, err
	}
	conv, err := l.c.UpdateConversation(ctx, conversationID, link.ConversationUpdate{Status: &status})
	if err != nil {
		return app.Conversation{}, forUI(err)
	}
	if err := c.PutConversation(ctx, conv); err != nil {
		return app.Conversation{}, err
	}
	return toConversation(conv), nil
}

func (l *linkInbox) MarkRead(ctx context.Context, conversationID string, seq uint64) error {
	c, err := l.current()
	if err != nil {
		return err
	}
	conv, err := l.c.MarkRead(ctx, conversationID, seq)
	if err != nil {
		return forUI(err)
	}
	return c.PutConversation(ctx, conv)
}

// CannedResponses reads them from the relay and keeps a snapshot in the
// cache for offline use.
func (l *linkInbox) CannedResponses(ctx context.Context) ([]app.CannedResponse, error) {
	c, err := l.current()
	if err != nil {
		return nil, err
	}
	rs, err := l.c.CannedResponses(ctx)
	if err == nil {
		snap := map[string][]byte{}
		for _, r := range rs {
			if b, err := json.Marshal(r); err == nil {
				snap[r.ID] = b
			}
		}
		if err := c.PutSnapshot(ctx, "canned", snap); err != nil {
			l.log.Warn("inbox: keep canned responses", "err", err)
		}
	} else {
		snap, serr := c.Snapshot(ctx, "canned")
		if serr != nil || len(snap) == 0 {
			return nil, forUI(err)
		}
		rs = rs[:0]
		for _, b := range snap {
			var r link.CannedResponse
			if json.Unmarshal(b, &r) == nil {
				rs = append(rs, r)
			}
		}
	}
	slices.SortFunc(rs, func(a, b link.CannedResponse) int { return strings.Compare(a.Title, b.Title) })
	out := make([]app.CannedResponse, 0, len(rs))
	for _, r := range rs {
		out = append(out, app.CannedResponse{ID: r.ID, Title: r.Title, Text: r.Text, TenantWide: r.TenantWide})
	}
	return out, nil
}
