package messaging

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"parley/relay/ids"
	"parley/relay/store"
)

// Receipts are a conversation's watermarks: the highest sequence number
// each side has received and read. They only move forward; read implies
// delivered.
type Receipts struct {
	// AdvisorDelivered is the last message the advisor's app received.
	AdvisorDelivered uint64 `json:"advisor_delivered"`
	// AdvisorRead is the last message the advisor read.
	AdvisorRead uint64 `json:"advisor_read"`
	// CustomerDelivered is the last message that reached the customer.
	CustomerDelivered uint64 `json:"customer_delivered"`
	// CustomerRead is the last message the customer read.
	CustomerRead uint64 `json:"customer_read"`
}

// Conversation is a conversation as callers see it.
type Conversation struct {
	// ID is random (32 hex digits).
	ID string
	// TenantID is the tenant.
	TenantID string
	// AdvisorID is the assigned advisor.
	AdvisorID string
	// CustomerID refers to the customer's profile (relay/customer).
	CustomerID string
	// Channel is where the conversation takes place.
	Channel Channel
	// Status is open, pending or closed.
	Status Status
	// Address is the customer's provider address (external channels; the
	// advisor side only); empty when it cannot be opened any more.
	Address string
	// Created is when the conversation was opened.
	Created time.Time
	// Updated is the last change of the conversation or its messages.
	Updated time.Time
	// ClosedAt is when it was closed; zero unless closed.
	ClosedAt time.Time
	// Expires is when a closed conversation is deleted (ClosedAt plus the
	// tenant's period); zero unless closed. A client cache drops the
	// conversation at Expires.
	Expires time.Time
	// LastSeq is the sequence number of the last message (0: none).
	LastSeq uint64
	// LastMessage is when the last message was stored.
	LastMessage time.Time
	// LastInbound is when the customer last wrote.
	LastInbound time.Time
	// Receipts are the sides' watermarks.
	Receipts Receipts
	// Unread counts the customer's messages after Receipts.AdvisorRead.
	Unread int
}

// OpenRequest names the conversation Open finds or creates.
type OpenRequest struct {
	// Channel is the conversation's channel.
	Channel Channel
	// CustomerID is the customer's profile id; for RoleCustomer it is the
	// actor's own id (empty means that).
	CustomerID string
	// AdvisorID is the advisor a new conversation is assigned to; empty
	// means the actor (advisors). Required for admins and customers.
	AdvisorID string
	// Address is the customer's provider address (phone number, chat id,
	// page-scoped id); required for external channels, empty otherwise.
	Address string
}

// ListFilter selects conversations for List.
type ListFilter struct {
	// AdvisorID selects one advisor's conversations; admins may leave it
	// empty for the whole tenant, advisors' own are always used.
	AdvisorID string
	// Status selects one status; empty means all.
	Status Status
}

// expired reports whether a closed conversation's retention deadline has
// come at now.
func (s *Service) expired(r *convRecord, now time.Time) bool {
	return r.Status == StatusClosed && !r.ClosedAt.IsZero() && !now.Before(s.deadline(r))
}

func (s *Service) deadline(r *convRecord) time.Time {
	return r.ClosedAt.Add(s.retentionPeriod(r.TenantID))
}

// servable reports whether a conversation may be served at now.
func (s *Service) servable(r *convRecord, now time.Time) bool {
	return !r.Deleting && !s.expired(r, now)
}

// visible reports whether a may see the conversation.
func visible(a Actor, r *convRecord) bool {
	if r.TenantID != a.TenantID {
		return false
	}
	switch a.Role {
	case RoleAdmin:
		return true
	case RoleAdvisor:
		return r.AdvisorID == a.UserID
	case RoleCustomer:
		return r.CustomerID == a.UserID && !r.Channel.External()
	}
	return false
}

// liveConv reads a conversation that a may see and that is served at now.
func (s *Service) liveConv(tx store.Txn, a Actor, id string, now time.Time) (*convRecord, error) {
	if !ids.Valid(id) {
		return nil, ErrNotFound
	}
	r, err := getConv(tx, id)
	if err != nil {
		return nil, err
	}
	if !visible(a, r) || !s.servable(r, now) {
		return nil, ErrNotFound
	}
	return r, nil
}

// conversation turns a record into a Conversation, opening the address
// when withAddress.
func (s *Service) conversation(tx store.Txn, r *convRecord, now time.Time, withAddress bool) (Conversation, error) {
	c := Conversation{ID: r.ID, TenantID: r.TenantID, AdvisorID: r.AdvisorID, CustomerID: r.CustomerID,
		Channel: r.Channel, Status: r.Status, Created: r.Created, Updated: r.Updated, ClosedAt: r.ClosedAt,
		LastSeq: r.LastSeq, LastMessage: r.LastMessage, LastInbound: r.LastInbound, Receipts: r.Receipts, Unread: r.Unread}
	if r.Status == StatusClosed {
		c.Expires = s.deadline(r)
	}
	if withAddress && len(r.SealedAddress) > 0 {
		b, err := s.sealer.OpenTx(tx, r.CustomerID, r.SealedAddress)
		if err == nil {
			c.Address = string(b)
		}
	}
	return c, nil
}

// validAddress checks a provider address or message id: 1–MaxProviderID
// bytes of printable text without white space at the ends.
func validProviderString(s string) bool {
	if s == "" || len(s) > MaxProviderID || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// findOrCreate returns the live conversation of (tenant, channel,
// customer) or of (tenant, channel, address) for external channels, or
// creates it assigned to advisor.
func (s *Service) findOrCreate(o *op, tenant string, ch Channel, customer, advisor, address string) (*convRecord, bool, error) {
	var idx []byte
	var mac string
	if ch.External() {
		pep, err := pepper(o.tx, tenant)
		if err != nil {
			return nil, false, err
		}
		mac = threadMAC(pep, address)
		idx = byTKey(tenant, ch, mac)
	} else {
		idx = byCKey(tenant, ch, customer)
	}
	id, err := o.tx.Get(idx)
	switch {
	case err == nil:
		r, err := getConv(o.tx, string(id))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, false, err
		}
		if r != nil && s.servable(r, o.now) {
			return r, false, nil
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, false, err
	}
	r := &convRecord{V: 1, ID: ids.New(), TenantID: tenant, AdvisorID: advisor, CustomerID: customer,
		Channel: ch, Status: StatusOpen, ThreadMAC: mac, Created: o.now, Updated: o.now}
	if ch.External() {
		if r.SealedAddress, err = s.sealer.SealTx(o.tx, customer, []byte(address)); err != nil {
			return nil, false, err
		}
	}
	if err := putJSON(o.tx, convKey(r.ID), r); err != nil {
		return nil, false, err
	}
	for _, k := range [][]byte{advKey(tenant, advisor, r.ID), custKey(tenant, customer, r.ID)} {
		if err := o.tx.Set(k, nil); err != nil {
			return nil, false, err
		}
	}
	if err := o.tx.Set(idx, []byte(r.ID)); err != nil {
		return nil, false, err
	}
	if err := o.emit(tenant, advisor, ChangeConversation, r.ID, 0); err != nil {
		return nil, false, err
	}
	s.log.Info("conversation opened", "tenant_id", tenant, "conversation_id", r.ID, "advisor_id", advisor, "channel", string(ch))
	return r, true, nil
}

// Open finds the live conversation of the customer on the channel (on
// external channels: of the provider address) or creates one assigned to
// req.AdvisorID. A conversation past its retention deadline is never
// reused. It reports whether the conversation was created.
func (s *Service) Open(ctx context.Context, a Actor, req OpenRequest) (Conversation, bool, error) {
	if !a.valid() {
		return Conversation{}, false, wrap("open", ErrForbidden)
	}
	switch a.Role {
	case RoleAdvisor:
		if req.AdvisorID == "" {
			req.AdvisorID = a.UserID
		}
		if req.AdvisorID != a.UserID {
			return Conversation{}, false, wrap("open", ErrForbidden)
		}
	case RoleCustomer:
		if req.CustomerID == "" {
			req.CustomerID = a.UserID
		}
		if req.CustomerID != a.UserID || req.Channel.External() {
			return Conversation{}, false, wrap("open", ErrForbidden)
		}
	}
	if !req.Channel.Valid() {
		return Conversation{}, false, wrap("open", invalid("channel", "unknown"))
	}
	if !ids.ValidRef(req.AdvisorID) {
		return Conversation{}, false, wrap("open", invalid("advisor_id", "malformed"))
	}
	if !ids.ValidRef(req.CustomerID) {
		return Conversation{}, false, wrap("open", invalid("customer_id", "malformed"))
	}
	if req.Channel.External() != (req.Address != "") {
		return Conversation{}, false, wrap("open", invalid("address", "required for external channels only"))
	}
	if req.Address != "" && !validProviderString(req.Address) {
		return Conversation{}, false, wrap("open", invalid("address", "malformed"))
	}
	var c Conversation
	var created bool
	err := s.update(ctx, func(o *op) error {
		r, cr, err := s.findOrCreate(o, a.TenantID, req.Channel, req.CustomerID, req.AdvisorID, req.Address)
		if err != nil {
			return err
		}
		if !visible(a, r) {
			return ErrNotFound // another advisor's conversation with this customer
		}
		created = cr
		c, err = s.conversation(o.tx, r, o.now, a.Role != RoleCustomer)
		return err
	})
	if err != nil {
		return Conversation{}, false, wrap("open", err)
	}
	return c, created, nil
}

// Get returns a conversation the actor may see.
func (s *Service) Get(ctx context.Context, a Actor, id string) (Conversation, error) {
	if !a.valid() {
		return Conversation{}, wrap("get conversation", ErrForbidden)
	}
	var c Conversation
	err := s.kv.View(ctx, func(tx store.Txn) error {
		now := s.clock.Now()
		r, err := s.liveConv(tx, a, id, now)
		if err != nil {
			return err
		}
		c, err = s.conversation(tx, r, now, a.Role != RoleCustomer)
		return err
	})
	if err != nil {
		return Conversation{}, wrap("get conversation", err)
	}
	return c, nil
}

// List returns the conversations the actor may see, most recent first:
// an advisor's own, an admin's of one advisor or the whole tenant, a
// customer's own relay-chat and contact-form conversations.
func (s *Service) List(ctx context.Context, a Actor, f ListFilter) ([]Conversation, error) {
	if !a.valid() {
		return nil, wrap("list conversations", ErrForbidden)
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, wrap("list conversations", invalid("status", "unknown"))
	}
	var p []byte
	switch a.Role {
	case RoleAdvisor:
		p = advPrefix(a.TenantID, a.UserID)
	case RoleAdmin:
		if f.AdvisorID == "" {
			p = []byte(prefixAdv + a.TenantID + "/")
		} else if ids.ValidRef(f.AdvisorID) {
			p = advPrefix(a.TenantID, f.AdvisorID)
		} else {
			return nil, wrap("list conversations", invalid("advisor_id", "malformed"))
		}
	case RoleCustomer:
		p = custPrefix(a.TenantID, a.UserID)
	}
	var out []Conversation
	err := s.kv.View(ctx, func(tx store.Txn) error {
		out = out[:0]
		now := s.clock.Now()
		return tx.Scan(p, func(k, _ []byte) error {
			r, err := s.liveConv(tx, a, lastSegment(k), now)
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if f.Status != "" && r.Status != f.Status {
				return nil
			}
			c, err := s.conversation(tx, r, now, a.Role != RoleCustomer)
			if err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, wrap("list conversations", err)
	}
	slices.SortFunc(out, func(x, y Conversation) int {
		if c := y.Updated.Compare(x.Updated); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	return out, nil
}

// Assign hands a conversation to another advisor of the tenant. Admins
// may assign any conversation, advisors their own. The old advisor's
// feed gets ChangeRemoved, the new one's ChangeConversation.
func (s *Service) Assign(ctx context.Context, a Actor, id, advisorID string) (Conversation, error) {
	if !a.valid() || a.Role == RoleCustomer {
		return Conversation{}, wrap("assign", ErrForbidden)
	}
	if !ids.ValidRef(advisorID) {
		return Conversation{}, wrap("assign", invalid("advisor_id", "malformed"))
	}
	if !ids.Valid(id) {
		return Conversation{}, wrap("assign", ErrNotFound)
	}
	var c Conversation
	var old string
	err := s.update(ctx, func(o *op) error {
		r, err := s.liveConv(o.tx, a, id, o.now)
		if err != nil {
			return err
		}
		old = r.AdvisorID
		if old != advisorID {
			r.AdvisorID = advisorID
			r.Updated = o.now
			if err := o.tx.Delete(advKey(r.TenantID, old, r.ID)); err != nil {
				return err
			}
			if err := o.tx.Set(advKey(r.TenantID, advisorID, r.ID), nil); err != nil {
				return err
			}
			if err := putJSON(o.tx, convKey(r.ID), r); err != nil {
				return err
			}
			if err := o.emit(r.TenantID, old, ChangeRemoved, r.ID, 0); err != nil {
				return err
			}
			if err := o.emit(r.TenantID, advisorID, ChangeConversation, r.ID, 0); err != nil {
				return err
			}
		}
		c, err = s.conversation(o.tx, r, o.now, true)
		return err
	})
	if err != nil {
		return Conversation{}, wrap("assign", err)
	}
	s.log.Info("conversation assigned", "tenant_id", a.TenantID, "conversation_id", id, "from", old, "to", advisorID, "by", a.UserID)
	return c, nil
}

// SetStatus sets a conversation's status (advisors and admins). Closing
// starts the retention period; reopening stops it.
func (s *Service) SetStatus(ctx context.Context, a Actor, id string, st Status) (Conversation, error) {
	if !a.valid() || a.Role == RoleCustomer {
		return Conversation{}, wrap("set status", ErrForbidden)
	}
	if !st.Valid() {
		return Conversation{}, wrap("set status", invalid("status", "unknown"))
	}
	var c Conversation
	err := s.onConv(ctx, id, func(o *op, r *convRecord) error {
		if !visible(a, r) || !s.servable(r, o.now) {
			return ErrNotFound
		}
		if r.Status != st {
			setStatus(r, st, o.now)
			if err := putJSON(o.tx, convKey(r.ID), r); err != nil {
				return err
			}
			if err := o.emit(r.TenantID, r.AdvisorID, ChangeConversation, r.ID, 0); err != nil {
				return err
			}
		}
		var err error
		c, err = s.conversation(o.tx, r, o.now, true)
		return err
	})
	if err != nil {
		return Conversation{}, wrap("set status", err)
	}
	return c, nil
}

func setStatus(r *convRecord, st Status, now time.Time) {
	r.Status = st
	r.Updated = now
	if st == StatusClosed {
		r.ClosedAt = now
	} else {
		r.ClosedAt = time.Time{}
	}
}
