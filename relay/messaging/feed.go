package messaging

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// ChangeKind says what a change is about.
type ChangeKind string

// The change kinds.
const (
	// ChangeMessage: a message was added; Change.Message holds it and
	// Change.Conversation its conversation (both as they are now).
	ChangeMessage ChangeKind = "message"
	// ChangeDelivery: a message's delivery state moved (and the
	// customer's receipts with it); Change.Message and
	// Change.Conversation hold them as they are now.
	ChangeDelivery ChangeKind = "delivery"
	// ChangeConversation: a conversation was created, assigned to the
	// feed's advisor, or changed its status, receipts or unread count;
	// Change.Conversation holds it (as it is now).
	ChangeConversation ChangeKind = "conversation"
	// ChangeRemoved: the conversation was assigned to another advisor;
	// the client drops it from its cache.
	ChangeRemoved ChangeKind = "removed"
	// ChangeDeleted: a tombstone; the conversation was deleted (retention
	// or erasure); the client drops it and its messages from its cache.
	ChangeDeleted ChangeKind = "deleted"
)

// Change is one entry of an advisor's change feed.
type Change struct {
	// Seq is the change's position in the advisor's feed (increasing,
	// not necessarily contiguous: entries of deleted conversations are
	// deleted with them).
	Seq uint64
	// Kind says what changed.
	Kind ChangeKind
	// ConversationID is the conversation concerned.
	ConversationID string
	// At is when the change was made.
	At time.Time
	// Conversation is set for ChangeConversation, ChangeMessage and
	// ChangeDelivery.
	Conversation *Conversation
	// Message is set for ChangeMessage and ChangeDelivery.
	Message *Message
}

// ChangePage is what Changes returns.
type ChangePage struct {
	// Changes are the changes after the cursor, in order.
	Changes []Change
	// Next is the cursor for the next call: the last change read (also
	// when entries were skipped).
	Next uint64
	// More is true when changes after Next exist already.
	More bool
}

// MaxChangesPage bounds the limit of one Changes call.
const MaxChangesPage = 1000

// op is one attempt of a write transaction; it collects the feeds it
// wrote to, for waking their waiters after the commit.
type op struct {
	s     *Service
	tx    store.Txn
	now   time.Time
	feeds []string
}

// emit appends a change to an advisor's feed in the op's transaction.
func (o *op) emit(tenant, advisor string, kind ChangeKind, conv string, msg uint64) error {
	if advisor == "" {
		return nil
	}
	head, err := getUint(o.tx, headKey(tenant, advisor))
	if err != nil {
		return err
	}
	head++
	if err := o.tx.Set(headKey(tenant, advisor), strconv.AppendUint(nil, head, 10)); err != nil {
		return err
	}
	if err := putJSON(o.tx, feedKey(tenant, advisor, head), changeRecord{Seq: head, Kind: kind, Conv: conv, Msg: msg, At: o.now}); err != nil {
		return err
	}
	if kind != ChangeDeleted {
		if err := o.tx.Set(fiKey(conv, tenant, advisor, head), nil); err != nil {
			return err
		}
	}
	o.feeds = append(o.feeds, feedName(tenant, advisor))
	return nil
}

func feedName(tenant, advisor string) string { return tenant + "/" + advisor }

// update runs fn in a write transaction and then wakes the waiters of
// the feeds it wrote to. Writes go through the group committer: the
// transactions of concurrent callers are committed together, in one
// synced commit, and update returns once its own is durable. The waiters
// are woken after a failed commit too: a commit that failed after
// applying (an ambiguous acknowledgement) must not leave them asleep.
func (s *Service) update(ctx context.Context, fn func(o *op) error) error {
	var last *op
	err := s.group.Do(ctx, func(tx store.Txn) error {
		last = &op{s: s, tx: tx, now: s.clock.Now().UTC()}
		return fn(last)
	})
	if last != nil {
		s.feeds.notify(last.feeds)
	}
	return err
}

// onConv runs fn on a conversation record in a write transaction. fn
// checks visibility itself.
func (s *Service) onConv(ctx context.Context, conv string, fn func(o *op, r *convRecord) error) error {
	if !ids.Valid(conv) {
		return ErrNotFound
	}
	return s.update(ctx, func(o *op) error {
		r, err := getConv(o.tx, conv)
		if err != nil {
			return err
		}
		return fn(o, r)
	})
}

// notifier wakes waiters of a feed.
type notifier struct {
	mu    sync.Mutex
	chans map[string]chan struct{}
}

// channel returns a channel closed at the feed's next notify.
func (n *notifier) channel(name string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.chans == nil {
		n.chans = map[string]chan struct{}{}
	}
	c, ok := n.chans[name]
	if !ok {
		c = make(chan struct{})
		n.chans[name] = c
	}
	return c
}

func (n *notifier) notify(names []string) {
	if len(names) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, name := range names {
		if c, ok := n.chans[name]; ok {
			close(c)
			delete(n.chans, name)
		}
	}
}

// feedOwner checks that a may read advisor's feed: advisors their own,
// admins any advisor's of their tenant.
func feedOwner(a Actor, advisor string) error {
	if !a.valid() || a.Role == RoleCustomer {
		return ErrForbidden
	}
	if !ids.ValidRef(advisor) {
		return invalid("advisor_id", "malformed")
	}
	if a.Role == RoleAdvisor && advisor != a.UserID {
		return ErrForbidden
	}
	return nil
}

// Head returns the advisor's last change sequence (0 for an empty feed):
// a client starting with an empty cache loads the conversations and
// messages and then follows the feed from here.
func (s *Service) Head(ctx context.Context, a Actor, advisor string) (uint64, error) {
	if err := feedOwner(a, advisor); err != nil {
		return 0, wrap("feed head", err)
	}
	var head uint64
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		head, err = getUint(tx, headKey(a.TenantID, advisor))
		return err
	})
	return head, wrap("feed head", err)
}

// Changes returns up to limit changes of the advisor's feed after the
// cursor since (0: from the start), in order, with the content as it is
// now. Changes of conversations that are past their retention deadline,
// being deleted or no longer assigned to the advisor are skipped (a
// ChangeRemoved or ChangeDeleted entry follows them). limit ≤ 0 or above
// MaxChangesPage means MaxChangesPage. Advisors read their own feed,
// admins any advisor's of their tenant.
func (s *Service) Changes(ctx context.Context, a Actor, advisor string, since uint64, limit int) (ChangePage, error) {
	if err := feedOwner(a, advisor); err != nil {
		return ChangePage{}, wrap("changes", err)
	}
	if limit <= 0 || limit > MaxChangesPage {
		limit = MaxChangesPage
	}
	now := s.clock.Now()
	var page ChangePage
	err := s.kv.View(ctx, func(tx store.Txn) error {
		page = ChangePage{Next: since}
		head, err := getUint(tx, headKey(a.TenantID, advisor))
		if err != nil {
			return err
		}
		convs := map[string]*convRecord{}
		err = scanFrom(tx, feedPrefix(a.TenantID, advisor), since+1, head, func(k, v []byte) error {
			if len(page.Changes) == limit {
				page.More = true
				return errStop
			}
			var cr changeRecord
			if err := decode(k, v, &cr); err != nil {
				return err
			}
			page.Next = cr.Seq
			ch := Change{Seq: cr.Seq, Kind: cr.Kind, ConversationID: cr.Conv, At: cr.At}
			if cr.Kind == ChangeRemoved || cr.Kind == ChangeDeleted {
				page.Changes = append(page.Changes, ch)
				return nil
			}
			r, ok := convs[cr.Conv]
			if !ok {
				r, err = getConv(tx, cr.Conv)
				if err != nil && !errors.Is(err, ErrNotFound) {
					return err
				}
				if r != nil && (r.TenantID != a.TenantID || r.AdvisorID != advisor || !s.servable(r, now)) {
					r = nil
				}
				convs[cr.Conv] = r
			}
			if r == nil {
				return nil // not served; a removal or tombstone follows
			}
			c, err := s.conversation(tx, r, now, false)
			if err != nil {
				return err
			}
			ch.Conversation = &c
			if cr.Kind != ChangeConversation {
				mr, err := getMsg(tx, cr.Conv, cr.Msg)
				if errors.Is(err, ErrNotFound) {
					return nil
				}
				if err != nil {
					return err
				}
				m, err := s.message(tx, r, mr)
				if err != nil {
					return err
				}
				ch.Message = &m
			}
			page.Changes = append(page.Changes, ch)
			return nil
		})
		return err
	})
	if err != nil {
		return ChangePage{}, wrap("changes", err)
	}
	return page, nil
}

// Wait blocks until the advisor's feed has a change after since, and
// returns the feed's head; or until ctx ends (ctx.Err()). A client
// follows its feed live with Changes(since) and Wait(next) in a loop.
func (s *Service) Wait(ctx context.Context, a Actor, advisor string, since uint64) (uint64, error) {
	if err := feedOwner(a, advisor); err != nil {
		return 0, wrap("wait", err)
	}
	name := feedName(a.TenantID, advisor)
	for {
		ch := s.feeds.channel(name)
		var head uint64
		err := s.kv.View(ctx, func(tx store.Txn) error {
			var err error
			head, err = getUint(tx, headKey(a.TenantID, advisor))
			return err
		})
		if err != nil {
			return 0, wrap("wait", err)
		}
		if head > since {
			return head, nil
		}
		select {
		case <-ctx.Done():
			return head, ctx.Err()
		case <-ch:
		}
	}
}
