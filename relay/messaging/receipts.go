package messaging

import (
	"context"
	"errors"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// applyDelivery moves an advisor's message forward to st and the
// customer's watermarks with it; it reports whether anything changed.
func applyDelivery(o *op, r *convRecord, mr *messageRecord, st DeliveryState) (bool, error) {
	if mr.Side != SideAdvisor || mr.Delivery == "" || !mr.Delivery.advance(st) {
		return false, nil
	}
	if mr.Delivery == DeliveryQueued && st != DeliveryFailed {
		mr.Sent = o.now
	}
	mr.Delivery = st
	mr.Updated = o.now
	if err := putJSON(o.tx, msgKey(r.ID, mr.Seq), mr); err != nil {
		return false, err
	}
	if err := o.emit(r.TenantID, r.AdvisorID, ChangeDelivery, r.ID, mr.Seq); err != nil {
		return false, err
	}
	moved := false
	if (st == DeliveryDelivered || st == DeliveryRead) && mr.Seq > r.Receipts.CustomerDelivered {
		r.Receipts.CustomerDelivered, moved = mr.Seq, true
	}
	if st == DeliveryRead && mr.Seq > r.Receipts.CustomerRead {
		r.Receipts.CustomerRead, moved = mr.Seq, true
	}
	if moved {
		r.Updated = o.now
		if err := putJSON(o.tx, convKey(r.ID), r); err != nil {
			return false, err
		}
	}
	return true, nil
}

// SetDelivery records what became of an advisor's message on an external
// channel, identified by the relay's message id (for the outbox handler
// that sent it): DeliverySent with the provider's message id, which later
// provider statuses refer to, or DeliveryFailed. States only move
// forward; a stale or repeated state changes nothing.
func (s *Service) SetDelivery(ctx context.Context, tenantID, messageID string, st DeliveryState, providerID string) (Message, error) {
	if !ids.ValidRef(tenantID) || !ids.Valid(messageID) {
		return Message{}, wrap("set delivery", ErrNotFound)
	}
	if st.rank() == 0 || st == DeliveryQueued {
		return Message{}, wrap("set delivery", invalid("state", "unknown"))
	}
	if providerID != "" && !validProviderString(providerID) {
		return Message{}, wrap("set delivery", invalid("provider_id", "malformed"))
	}
	var ref msgRef
	err := s.kv.View(ctx, func(tx store.Txn) error { return getJSON(tx, idKey(messageID), &ref) })
	if errors.Is(err, store.ErrNotFound) {
		return Message{}, wrap("set delivery", ErrNotFound)
	}
	if err != nil {
		return Message{}, wrap("set delivery", err)
	}
	m, err := s.delivery(ctx, tenantID, ref, st, func(o *op, r *convRecord, mr *messageRecord) error {
		if providerID == "" || mr.ProviderKey != "" {
			return nil
		}
		pk := pidKey(tenantID, r.Channel, providerID)
		mr.ProviderKey = string(pk)
		if err := putJSON(o.tx, msgKey(r.ID, mr.Seq), mr); err != nil {
			return err
		}
		return putJSON(o.tx, pk, msgRef{Conv: r.ID, Seq: mr.Seq})
	})
	return m, wrap("set delivery", err)
}

// UpdateDelivery applies a provider's delivery status to the advisor's
// message it refers to (by the provider's message id, as recorded by
// SetDelivery) and moves the customer's watermarks forward with it.
// ErrNotFound for an unknown provider id.
func (s *Service) UpdateDelivery(ctx context.Context, tenantID string, ch Channel, providerID string, st DeliveryState) (Message, error) {
	if !ids.ValidRef(tenantID) || !ch.External() || !validProviderString(providerID) {
		return Message{}, wrap("update delivery", ErrNotFound)
	}
	if st.rank() == 0 {
		return Message{}, wrap("update delivery", invalid("state", "unknown"))
	}
	var ref msgRef
	err := s.kv.View(ctx, func(tx store.Txn) error { return getJSON(tx, pidKey(tenantID, ch, providerID), &ref) })
	if errors.Is(err, store.ErrNotFound) {
		return Message{}, wrap("update delivery", ErrNotFound)
	}
	if err != nil {
		return Message{}, wrap("update delivery", err)
	}
	m, err := s.delivery(ctx, tenantID, ref, st, nil)
	return m, wrap("update delivery", err)
}

// ApplyWatermark applies a provider's watermark status (Messenger's
// message_deliveries and message_reads: "everything sent to this
// address up to then has reached st") to the live conversation of
// (tenant, channel, address): every advisor message the provider had
// accepted at or before watermark (by the relay's record of when the
// send was accepted) moves forward to st, and the customer's receipts
// with it. Messages still queued, failed ones and ones accepted after
// the watermark are left alone; states never move back. It returns how
// many messages moved; an address without a live conversation moves
// none. The cost is one read of each message of the conversation.
func (s *Service) ApplyWatermark(ctx context.Context, tenantID string, ch Channel, address string, watermark time.Time, st DeliveryState) (int, error) {
	if !ids.ValidRef(tenantID) || !ch.External() || !validProviderString(address) {
		return 0, wrap("apply watermark", ErrNotFound)
	}
	if st != DeliveryDelivered && st != DeliveryRead {
		return 0, wrap("apply watermark", invalid("state", "delivered or read only"))
	}
	if watermark.IsZero() {
		return 0, wrap("apply watermark", invalid("watermark", "missing"))
	}
	moved := 0
	err := s.update(ctx, func(o *op) error {
		moved = 0
		pep, err := pepper(o.tx, tenantID)
		if err != nil {
			return err
		}
		id, err := o.tx.Get(byTKey(tenantID, ch, threadMAC(pep, address)))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		r, err := getConv(o.tx, string(id))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if r.TenantID != tenantID || !s.servable(r, o.now) {
			return nil
		}
		var due []*messageRecord
		err = scanFrom(o.tx, msgPrefix(r.ID), 1, r.LastSeq, func(k, v []byte) error {
			var mr messageRecord
			if err := decode(k, v, &mr); err != nil {
				return err
			}
			if mr.Side != SideAdvisor || mr.Delivery == DeliveryQueued || mr.Sent.IsZero() ||
				mr.Sent.After(watermark) || !mr.Delivery.advance(st) {
				return nil
			}
			due = append(due, &mr)
			return nil
		})
		if err != nil {
			return err
		}
		for _, mr := range due {
			ok, err := applyDelivery(o, r, mr, st)
			if err != nil {
				return err
			}
			if ok {
				moved++
			}
		}
		return nil
	})
	if err != nil {
		return 0, wrap("apply watermark", err)
	}
	return moved, nil
}

func (s *Service) delivery(ctx context.Context, tenantID string, ref msgRef, st DeliveryState,
	before func(o *op, r *convRecord, mr *messageRecord) error) (Message, error) {
	var out Message
	err := s.onConv(ctx, ref.Conv, func(o *op, r *convRecord) error {
		if r.TenantID != tenantID || !s.servable(r, o.now) {
			return ErrNotFound
		}
		mr, err := getMsg(o.tx, r.ID, ref.Seq)
		if err != nil {
			return err
		}
		if before != nil {
			if err := before(o, r, mr); err != nil {
				return err
			}
		}
		if _, err := applyDelivery(o, r, mr, st); err != nil {
			return err
		}
		out, err = s.message(o.tx, r, mr)
		return err
	})
	return out, err
}

// MarkDelivered moves the actor's side's delivered watermark up to seq
// (clamped to the last message); a lower one changes nothing.
func (s *Service) MarkDelivered(ctx context.Context, a Actor, conversationID string, seq uint64) (Conversation, error) {
	c, err := s.mark(ctx, a, conversationID, seq, false)
	return c, wrap("mark delivered", err)
}

// MarkRead moves the actor's side's read watermark (and the delivered one
// with it) up to seq (clamped to the last message); a lower one changes
// nothing. The advisor's read watermark decides the unread count.
func (s *Service) MarkRead(ctx context.Context, a Actor, conversationID string, seq uint64) (Conversation, error) {
	c, err := s.mark(ctx, a, conversationID, seq, true)
	return c, wrap("mark read", err)
}

func (s *Service) mark(ctx context.Context, a Actor, conversationID string, seq uint64, read bool) (Conversation, error) {
	if !a.valid() {
		return Conversation{}, ErrForbidden
	}
	var c Conversation
	err := s.onConv(ctx, conversationID, func(o *op, r *convRecord) error {
		if !visible(a, r) || !s.servable(r, o.now) {
			return ErrNotFound
		}
		seq := min(seq, r.LastSeq)
		delivered, readMark := &r.Receipts.AdvisorDelivered, &r.Receipts.AdvisorRead
		if a.side() == SideCustomer {
			delivered, readMark = &r.Receipts.CustomerDelivered, &r.Receipts.CustomerRead
		}
		moved := false
		if seq > *delivered {
			*delivered, moved = seq, true
		}
		if read && seq > *readMark {
			*readMark, moved = seq, true
			if a.side() == SideAdvisor {
				n, err := s.countCustomer(o.tx, r, seq)
				if err != nil {
					return err
				}
				r.Unread = n
			}
		}
		if moved {
			r.Updated = o.now
			if err := putJSON(o.tx, convKey(r.ID), r); err != nil {
				return err
			}
			if err := o.emit(r.TenantID, r.AdvisorID, ChangeConversation, r.ID, 0); err != nil {
				return err
			}
		}
		var err error
		c, err = s.conversation(o.tx, r, o.now, a.Role != RoleCustomer)
		return err
	})
	return c, err
}

// countCustomer counts the customer's messages after seq.
func (s *Service) countCustomer(tx store.Txn, r *convRecord, seq uint64) (int, error) {
	n := 0
	err := scanFrom(tx, msgPrefix(r.ID), seq+1, r.LastSeq, func(k, v []byte) error {
		var mr messageRecord
		if err := decode(k, v, &mr); err != nil {
			return err
		}
		if mr.Side == SideCustomer {
			n++
		}
		return nil
	})
	return n, err
}

// UnreadCounts are an advisor's unread messages.
type UnreadCounts struct {
	// Total is the sum over the advisor's conversations.
	Total int
	// ByConversation holds the conversations with unread messages.
	ByConversation map[string]int
}

// Unread returns the unread counts of an advisor's live conversations
// (advisors their own, admins any advisor's of their tenant).
func (s *Service) Unread(ctx context.Context, a Actor, advisor string) (UnreadCounts, error) {
	if err := feedOwner(a, advisor); err != nil {
		return UnreadCounts{}, wrap("unread", err)
	}
	var out UnreadCounts
	err := s.kv.View(ctx, func(tx store.Txn) error {
		out = UnreadCounts{ByConversation: map[string]int{}}
		now := s.clock.Now()
		return tx.Scan(advPrefix(a.TenantID, advisor), func(k, _ []byte) error {
			r, err := getConv(tx, lastSegment(k))
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if r.AdvisorID != advisor || !s.servable(r, now) || r.Unread == 0 {
				return nil
			}
			out.Total += r.Unread
			out.ByConversation[r.ID] = r.Unread
			return nil
		})
	})
	if err != nil {
		return UnreadCounts{}, wrap("unread", err)
	}
	return out, nil
}

// WindowState tells whether free text may be sent on a WhatsApp
// conversation.
type WindowState struct {
	// Open is true while free text may be sent.
	Open bool
	// Closes is when the window closes (or closed); zero when the
	// customer never wrote.
	Closes time.Time
}

// Window returns the WhatsApp customer-service window of a conversation
// the actor may see; other channels are always open.
func (s *Service) Window(ctx context.Context, a Actor, conversationID string) (WindowState, error) {
	if !a.valid() {
		return WindowState{}, wrap("window", ErrForbidden)
	}
	var w WindowState
	err := s.kv.View(ctx, func(tx store.Txn) error {
		now := s.clock.Now()
		r, err := s.liveConv(tx, a, conversationID, now)
		if err != nil {
			return err
		}
		if r.Channel != ChannelWhatsApp {
			w.Open = true
			return nil
		}
		if !r.LastInbound.IsZero() {
			w.Closes = r.LastInbound.Add(WhatsAppWindow)
			w.Open = now.Before(w.Closes)
		}
		return nil
	})
	if err != nil {
		return WindowState{}, wrap("window", err)
	}
	return w, nil
}
