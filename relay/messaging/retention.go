package messaging

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// SweepStats tells a retention sweep what SweepExpired found and did.
type SweepStats struct {
	// Due counts the conversations past their deadline that no hold keeps
	// (and deletions left unfinished by an earlier run).
	Due int
	// Deleted counts the conversations deleted.
	Deleted int
	// Failed counts the due conversations whose deletion failed (they are
	// not served and the next sweep tries again).
	Failed int
	// Held counts the conversations past their deadline kept by a hold.
	Held int
}

// errNotDue: a conversation that is no longer due (reopened meanwhile).
var errNotDue = errors.New("not due")

// deleteBatch bounds the messages or feed entries deleted per
// transaction, so that a long conversation never exceeds a transaction's
// size.
const deleteBatch = 200

// SweepExpired deletes every conversation whose retention deadline (its
// closing plus the tenant's period) has come at now and that held (nil:
// none) does not keep: its messages, attachments, indexes and feed
// entries, leaving a ChangeDeleted tombstone in its advisor's feed.
// Conversations not yet due are never touched. Reads hide expired
// conversations already; this reclaims them. A failing conversation is
// counted and logged, the others are still processed, and the errors are
// returned joined.
func (s *Service) SweepExpired(ctx context.Context, now time.Time, held func(c Conversation) bool) (SweepStats, error) {
	var st SweepStats
	var due []string
	var errs []error
	err := s.kv.View(ctx, func(tx store.Txn) error {
		due = due[:0]
		st = SweepStats{}
		return tx.Scan([]byte(prefixConv), func(k, v []byte) error {
			var r convRecord
			if err := decode(k, v, &r); err != nil {
				st.Failed++ // reported, not skipped silently
				errs = append(errs, err)
				return nil
			}
			switch {
			case r.Deleting:
				due = append(due, r.ID)
			case s.expired(&r, now):
				if held != nil {
					c, err := s.conversation(tx, &r, now, false)
					if err != nil {
						return err
					}
					if held(c) {
						st.Held++
						return nil
					}
				}
				due = append(due, r.ID)
			}
			return nil
		})
	})
	if err != nil {
		return st, wrap("sweep", err)
	}
	st.Due = len(due)
	for i, id := range due {
		if err := ctx.Err(); err != nil {
			st.Failed += len(due) - i
			errs = append(errs, err)
			break
		}
		err := s.deleteConversation(ctx, id, func(r *convRecord) bool { return s.expired(r, now) })
		switch {
		case err == nil:
			st.Deleted++
			s.log.Info("conversation deleted by retention", "conversation_id", id)
		case errors.Is(err, errNotDue), errors.Is(err, ErrNotFound):
			st.Due-- // reopened or gone meanwhile
		default:
			st.Failed++
			errs = append(errs, fmt.Errorf("conversation %s: %w", id, err))
			s.log.Error("conversation retention delete failed", "conversation_id", id, "err", err)
		}
	}
	if st.Due > 0 || st.Held > 0 || st.Failed > 0 {
		s.log.Info("messaging sweep", "due", st.Due, "deleted", st.Deleted, "failed", st.Failed, "held", st.Held)
	}
	if len(errs) > 0 {
		return st, wrap("sweep", errors.Join(errs...))
	}
	return st, nil
}

// deleteConversation deletes a conversation in steps: the first
// transaction marks it deleting (no longer served), removes it from the
// indexes and writes the tombstone (when due says it is still due);
// later ones delete its messages and feed entries in batches; the last
// deletes the record. An interrupted deletion is finished by the next
// sweep.
func (s *Service) deleteConversation(ctx context.Context, id string, due func(r *convRecord) bool) error {
	err := s.onConv(ctx, id, func(o *op, r *convRecord) error {
		if r.Deleting {
			return nil
		}
		if !due(r) {
			return errNotDue
		}
		r.Deleting = true
		if err := putJSON(o.tx, convKey(r.ID), r); err != nil {
			return err
		}
		if err := o.tx.Delete(advKey(r.TenantID, r.AdvisorID, r.ID)); err != nil {
			return err
		}
		if err := o.tx.Delete(custKey(r.TenantID, r.CustomerID, r.ID)); err != nil {
			return err
		}
		idx := byCKey(r.TenantID, r.Channel, r.CustomerID)
		if r.Channel.External() {
			idx = byTKey(r.TenantID, r.Channel, r.ThreadMAC)
		}
		if cur, err := o.tx.Get(idx); err == nil && string(cur) == r.ID {
			if err := o.tx.Delete(idx); err != nil {
				return err
			}
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return o.emit(r.TenantID, r.AdvisorID, ChangeDeleted, r.ID, 0)
	})
	if err != nil {
		return err
	}
	// Messages, with their attachments and indexes.
	for {
		n := 0
		err := s.group.Do(ctx, func(tx store.Txn) error {
			n = 0
			var recs []messageRecord
			err := tx.Scan(msgPrefix(id), func(k, v []byte) error {
				var mr messageRecord
				if err := decode(k, v, &mr); err != nil {
					return err
				}
				recs = append(recs, mr)
				if len(recs) == deleteBatch {
					return errStop
				}
				return nil
			})
			if err != nil && !errors.Is(err, errStop) {
				return err
			}
			for _, mr := range recs {
				keys := [][]byte{msgKey(id, mr.Seq), idKey(mr.ID)}
				for _, k := range []string{mr.ClientKey, mr.ProviderKey} {
					if k != "" {
						keys = append(keys, []byte(k))
					}
				}
				for _, a := range mr.Atts {
					keys = append(keys, attKey(id, a.ID))
				}
				for _, k := range keys {
					if err := tx.Delete(k); err != nil {
						return err
					}
				}
			}
			n = len(recs)
			return nil
		})
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	// Feed entries, then leftovers (idempotency records of failed sends
	// never exist: they are written with their message).
	for {
		n := 0
		err := s.group.Do(ctx, func(tx store.Txn) error {
			n = 0
			var keys [][]byte
			err := tx.Scan(fiPrefix(id), func(k, _ []byte) error {
				keys = append(keys, k)
				if len(keys) == deleteBatch {
					return errStop
				}
				return nil
			})
			if err != nil && !errors.Is(err, errStop) {
				return err
			}
			for _, k := range keys {
				parts := strings.Split(strings.TrimPrefix(string(k), string(fiPrefix(id))), "/")
				if len(parts) != 3 {
					return errors.New("decode feed index: malformed key")
				}
				seq, err := strconv.ParseUint(parts[2], 10, 64)
				if err != nil {
					return errors.New("decode feed index: malformed key")
				}
				if err := tx.Delete(feedKey(parts[0], parts[1], seq)); err != nil {
					return err
				}
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			n = len(keys)
			return nil
		})
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	return s.group.Do(ctx, func(tx store.Txn) error {
		if s.deleted != nil {
			r, err := getConv(tx, id)
			if err != nil {
				return err
			}
			c, err := s.conversation(tx, r, s.clock.Now(), true)
			if err != nil {
				return err
			}
			if err := s.deleted(tx, c); err != nil {
				return fmt.Errorf("deleted hook: %w", err)
			}
		}
		for _, p := range [][]byte{cidPrefix(id), attPrefix(id)} {
			var keys [][]byte
			if err := tx.Scan(p, func(k, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
				return err
			}
			for _, k := range keys {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
		}
		return tx.Delete(convKey(id))
	})
}

// EraseCustomer deletes every conversation of a customer in a tenant,
// with its messages, attachments, indexes and feed entries, leaving
// ChangeDeleted tombstones (erasure on the data subject's request; the
// caller authorises, checks holds and audits it). It returns how many
// conversations were deleted.
func (s *Service) EraseCustomer(ctx context.Context, tenantID, customerID string) (int, error) {
	if !ids.ValidRef(tenantID) || !ids.ValidRef(customerID) {
		return 0, wrap("erase customer", invalid("customer_id", "malformed"))
	}
	var convs []string
	err := s.kv.View(ctx, func(tx store.Txn) error {
		convs = convs[:0]
		return tx.Scan(custPrefix(tenantID, customerID), func(k, _ []byte) error {
			convs = append(convs, lastSegment(k))
			return nil
		})
	})
	if err != nil {
		return 0, wrap("erase customer", err)
	}
	n := 0
	for _, id := range convs {
		err := s.deleteConversation(ctx, id, func(r *convRecord) bool {
			return r.TenantID == tenantID && r.CustomerID == customerID
		})
		if errors.Is(err, ErrNotFound) || errors.Is(err, errNotDue) {
			continue
		}
		if err != nil {
			return n, wrap("erase customer", err)
		}
		n++
	}
	s.log.Info("customer's conversations erased", "tenant_id", tenantID, "customer_id", customerID, "count", n)
	return n, nil
}

// ConversationExport is one conversation of a customer's export.
type ConversationExport struct {
	// Conversation is the conversation (with its provider address).
	Conversation Conversation
	// Messages are all its messages, attachments with Data.
	Messages []Message
}

// ExportCustomer returns every live conversation of a customer in a
// tenant with all messages and attachment contents, for the privacy
// export (the caller authorises it).
func (s *Service) ExportCustomer(ctx context.Context, tenantID, customerID string) ([]ConversationExport, error) {
	if !ids.ValidRef(tenantID) || !ids.ValidRef(customerID) {
		return nil, wrap("export customer", invalid("customer_id", "malformed"))
	}
	admin := Actor{TenantID: tenantID, UserID: "export", Role: RoleAdmin}
	var out []ConversationExport
	err := s.kv.View(ctx, func(tx store.Txn) error {
		out = out[:0]
		now := s.clock.Now()
		return tx.Scan(custPrefix(tenantID, customerID), func(k, _ []byte) error {
			r, err := s.liveConv(tx, admin, lastSegment(k), now)
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if r.CustomerID != customerID {
				return nil
			}
			c, err := s.conversation(tx, r, now, true)
			if err != nil {
				return err
			}
			ce := ConversationExport{Conversation: c}
			err = tx.Scan(msgPrefix(r.ID), func(k, v []byte) error {
				var mr messageRecord
				if err := decode(k, v, &mr); err != nil {
					return err
				}
				m, err := s.message(tx, r, &mr)
				if err != nil {
					return err
				}
				for i := range m.Attachments {
					v, err := tx.Get(attKey(r.ID, m.Attachments[i].ID))
					if err != nil || len(v) < 8 {
						return fmt.Errorf("read attachment: %w", errors.Join(err, store.ErrNotFound))
					}
					if data, err := s.sealer.OpenTx(tx, r.CustomerID, v[8:]); err == nil {
						m.Attachments[i].Data = data
					}
				}
				ce.Messages = append(ce.Messages, m)
				return nil
			})
			if err != nil {
				return err
			}
			out = append(out, ce)
			return nil
		})
	})
	if err != nil {
		return nil, wrap("export customer", err)
	}
	return out, nil
}
