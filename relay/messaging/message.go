package messaging

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"parley/relay/ids"
	"parley/relay/store"
)

// Template is a pre-approved WhatsApp message template (the only thing a
// business may send outside the 24-hour window).
type Template struct {
	// Name is the template's approved name.
	Name string `json:"name"`
	// Language is the template's language code ("de", "en_US").
	Language string `json:"language"`
	// Params are the body's {{1}}, {{2}}, … values, in order.
	Params []string `json:"params,omitempty"`
}

// Attachment is a file of a message.
type Attachment struct {
	// ID is random (32 hex digits).
	ID string
	// Name is the sanitised file name, with an extension that matches
	// Type.
	Name string
	// Type is the sniffed media type.
	Type string
	// Size is the size in bytes.
	Size int64
	// Data is the content; only Service.Attachment fills it.
	Data []byte
}

// AttachmentInput is a file to attach. Its type is decided by sniffing
// the content; a type the client claims is not used.
type AttachmentInput struct {
	// Name is the client's file name (sanitised before it is stored).
	Name string
	// Data is the content.
	Data []byte
}

// Draft is a message to send.
type Draft struct {
	// ClientID is the client's id for the message (1–64 of
	// [A-Za-z0-9_-]); a retry with the same id returns the stored
	// message.
	ClientID string
	// Text is the message text (up to MaxTextRunes).
	Text string
	// Template sends an approved WhatsApp template instead of text.
	Template *Template
	// Attachments are files to attach.
	Attachments []AttachmentInput
}

// Message is a message as callers see it.
type Message struct {
	// ID is random (32 hex digits), unique in the relay.
	ID string
	// ConversationID is the conversation.
	ConversationID string
	// TenantID is the tenant.
	TenantID string
	// Channel is the conversation's channel.
	Channel Channel
	// Seq is the message's position in the conversation: 1, 2, 3, …
	// without gaps, in the order the relay stored them.
	Seq uint64
	// Side is who wrote it.
	Side Side
	// AuthorID is the advisor's user id or the customer's id.
	AuthorID string
	// Text is the text.
	Text string
	// Template is set for a template message.
	Template *Template
	// Attachments are the files (without Data).
	Attachments []Attachment
	// Delivery is the delivery state of an advisor's message on an
	// external channel; empty otherwise.
	Delivery DeliveryState
	// Unreadable is true when the body can no longer be opened (the
	// customer's key is destroyed); Text, Template and attachment names
	// are empty then.
	Unreadable bool
	// Created is when the relay stored it.
	Created time.Time
}

// Inbound is a customer's message that came through a provider.
type Inbound struct {
	// TenantID is the tenant whose channel account received it.
	TenantID string
	// Channel is the external channel.
	Channel Channel
	// ProviderID is the provider's message id (the dedupe key).
	ProviderID string
	// Address is the customer's provider address (thread).
	Address string
	// CustomerID is the customer's profile id (found or created by the
	// caller from the address).
	CustomerID string
	// AdvisorID is the advisor a new conversation is assigned to (the
	// channel account's routing).
	AdvisorID string
	// Text is the text.
	Text string
	// Attachments are downloaded files.
	Attachments []AttachmentInput
	// At is the provider's timestamp; zero or a future time means now.
	At time.Time
}

// checkText validates a message or canned text.
func checkText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return invalid(field, "not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > max {
		return invalid(field, fmt.Sprintf("longer than %d characters", max))
	}
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t' && r != '\r') || r == 0x7f {
			return invalid(field, "contains control characters")
		}
	}
	return nil
}

func checkTemplate(t *Template) error {
	if t.Name == "" || len(t.Name) > 512 || !validProviderString(t.Name) {
		return invalid("template.name", "malformed")
	}
	if t.Language == "" || len(t.Language) > 16 || !validProviderString(t.Language) {
		return invalid("template.language", "malformed")
	}
	if len(t.Params) > 20 {
		return invalid("template.params", "too many")
	}
	for _, p := range t.Params {
		if err := checkText("template.params", p, 1024); err != nil {
			return err
		}
	}
	return nil
}

// prepared is a validated draft.
type prepared struct {
	text     string
	template *Template
	atts     []checkedAttachment
	digest   string
}

// prepare validates a draft's content and computes its digest (which a
// retry must match).
func prepare(side Side, author string, text string, tpl *Template, in []AttachmentInput) (*prepared, error) {
	if err := checkText("text", text, MaxTextRunes); err != nil {
		return nil, err
	}
	if tpl != nil {
		if err := checkTemplate(tpl); err != nil {
			return nil, err
		}
		if text != "" || len(in) > 0 {
			return nil, invalid("template", "a template message has no text or attachments")
		}
	}
	if strings.TrimSpace(text) == "" && tpl == nil && len(in) == 0 {
		return nil, invalid("text", "empty message")
	}
	atts, err := checkAttachments(in)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	w := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	w([]byte(side))
	w([]byte(author))
	w([]byte(text))
	if tpl != nil {
		b, _ := json.Marshal(tpl)
		w(b)
	} else {
		w(nil)
	}
	for _, a := range in {
		w([]byte(a.Name))
		sum := sha256.Sum256(a.Data)
		w(sum[:])
	}
	return &prepared{text: text, template: tpl, atts: atts, digest: hex.EncodeToString(h.Sum(nil))}, nil
}

// store writes a new message of the conversation r in o's transaction:
// next sequence number, sealed body and attachments, indexes, conversation
// update and feed entry. The caller has checked idempotency.
func (s *Service) storeMessage(o *op, r *convRecord, side Side, author string, p *prepared, clientKey, providerKey string) (*messageRecord, error) {
	r.LastSeq++
	m := &messageRecord{ID: ids.New(), Seq: r.LastSeq, Side: side, AuthorID: author,
		ClientKey: clientKey, ProviderKey: providerKey, Created: o.now, Updated: o.now}
	b := body{Text: p.text, Template: p.template}
	for _, a := range p.atts {
		id := ids.New()
		sealed, err := s.sealer.SealTx(o.tx, r.CustomerID, a.data)
		if err != nil {
			return nil, err
		}
		// The value is the message's sequence number (8 bytes) and the
		// sealed content.
		v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(sealed)), r.LastSeq)
		if err := o.tx.Set(attKey(r.ID, id), append(v, sealed...)); err != nil {
			return nil, err
		}
		m.Atts = append(m.Atts, attRecord{ID: id, Type: a.mime, Size: int64(len(a.data))})
		b.Names = append(b.Names, a.name)
	}
	plain, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	if m.Sealed, err = s.sealer.SealTx(o.tx, r.CustomerID, plain); err != nil {
		return nil, err
	}
	if s.touch != nil {
		if err := s.touch(o.tx, r.TenantID, r.CustomerID, o.now); err != nil {
			return nil, err
		}
	}
	if side == SideAdvisor && r.Channel.External() {
		m.Delivery = DeliveryQueued
	}
	if err := putJSON(o.tx, msgKey(r.ID, m.Seq), m); err != nil {
		return nil, err
	}
	if err := putJSON(o.tx, idKey(m.ID), msgRef{Conv: r.ID, Seq: m.Seq}); err != nil {
		return nil, err
	}
	r.LastMessage = o.now
	r.Updated = o.now
	switch side {
	case SideCustomer:
		r.Unread++
		// A customer's message on a closed or pending conversation needs
		// the advisor again.
		if r.Status != StatusOpen {
			setStatus(r, StatusOpen, o.now)
		}
	case SideAdvisor:
		// The advisor has seen everything up to their own message.
		r.Receipts.AdvisorRead = m.Seq
		r.Receipts.AdvisorDelivered = m.Seq
		r.Unread = 0
		if r.Status == StatusClosed {
			setStatus(r, StatusOpen, o.now)
		}
	}
	if err := putJSON(o.tx, convKey(r.ID), r); err != nil {
		return nil, err
	}
	if err := o.emit(r.TenantID, r.AdvisorID, ChangeMessage, r.ID, m.Seq); err != nil {
		return nil, err
	}
	return m, nil
}

// Send stores a message in a conversation the actor may see, written on
// the actor's side (customers on their own relay-chat and contact-form
// conversations only). The message gets the conversation's next sequence
// number in the same transaction. A retry with the same Draft.ClientID
// returns the stored message; the same id with different content fails
// with ErrIdempotencyMismatch. On an external channel the advisor's
// message is handed to Options.Outbound in the transaction and starts as
// DeliveryQueued; on WhatsApp, free text outside the 24-hour window fails
// with a *WindowError (ErrWindowClosed) and stores nothing.
func (s *Service) Send(ctx context.Context, a Actor, conversationID string, d Draft) (Message, error) {
	if !a.valid() {
		return Message{}, wrap("send", ErrForbidden)
	}
	if !ids.ValidRef(d.ClientID) {
		return Message{}, wrap("send", invalid("client_id", "must be 1 to 64 of A-Z, a-z, 0-9, _ and -"))
	}
	side := a.side()
	p, err := prepare(side, a.UserID, d.Text, d.Template, d.Attachments)
	if err != nil {
		return Message{}, wrap("send", err)
	}
	var out Message
	err = s.onConv(ctx, conversationID, func(o *op, r *convRecord) error {
		if !visible(a, r) || !s.servable(r, o.now) {
			return ErrNotFound
		}
		ck := cidKey(r.ID, d.ClientID)
		var idem idemRecord
		err := getJSON(o.tx, ck, &idem)
		if err == nil {
			if idem.Digest != p.digest {
				return ErrIdempotencyMismatch
			}
			mr, err := getMsg(o.tx, r.ID, idem.Seq)
			if err != nil {
				return err
			}
			out, err = s.message(o.tx, r, mr)
			return err
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if p.template != nil && (side != SideAdvisor || r.Channel != ChannelWhatsApp) {
			return invalid("template", "templates are for advisors on WhatsApp only")
		}
		if side == SideAdvisor && r.Channel == ChannelWhatsApp && p.template == nil {
			if r.LastInbound.IsZero() {
				return &WindowError{}
			}
			if closes := r.LastInbound.Add(WhatsAppWindow); !o.now.Before(closes) {
				return &WindowError{LastInbound: r.LastInbound, ClosedAt: closes}
			}
		}
		mr, err := s.storeMessage(o, r, side, a.UserID, p, string(ck), "")
		if err != nil {
			return err
		}
		if err := putJSON(o.tx, ck, idemRecord{Seq: mr.Seq, Digest: p.digest}); err != nil {
			return err
		}
		if out, err = s.message(o.tx, r, mr); err != nil {
			return err
		}
		if side == SideAdvisor && (r.Channel.External() || r.Channel == ChannelContactForm) && s.outbound != nil {
			c, err := s.conversation(o.tx, r, o.now, true)
			if err != nil {
				return err
			}
			if err := s.outbound(o.tx, c, out); err != nil {
				return fmt.Errorf("outbound: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Message{}, wrap("send", err)
	}
	return out, nil
}

// Receive stores a customer's message that came through a provider,
// deduplicated on (tenant, channel, provider message id): a replayed
// message returns the stored one with dup true. It finds or creates the
// conversation of the provider address (a new one is assigned to
// in.AdvisorID), reopens it when closed and opens the WhatsApp window.
func (s *Service) Receive(ctx context.Context, in Inbound) (Message, bool, error) {
	if !ids.ValidRef(in.TenantID) {
		return Message{}, false, wrap("receive", invalid("tenant_id", "malformed"))
	}
	if !in.Channel.External() {
		return Message{}, false, wrap("receive", invalid("channel", "not an external channel"))
	}
	if !validProviderString(in.ProviderID) {
		return Message{}, false, wrap("receive", invalid("provider_id", "malformed"))
	}
	if !validProviderString(in.Address) {
		return Message{}, false, wrap("receive", invalid("address", "malformed"))
	}
	if !ids.ValidRef(in.CustomerID) {
		return Message{}, false, wrap("receive", invalid("customer_id", "malformed"))
	}
	if !ids.ValidRef(in.AdvisorID) {
		return Message{}, false, wrap("receive", invalid("advisor_id", "malformed"))
	}
	p, err := prepare(SideCustomer, in.CustomerID, in.Text, nil, in.Attachments)
	if err != nil {
		return Message{}, false, wrap("receive", err)
	}
	var out Message
	var dup bool
	err = s.update(ctx, func(o *op) error {
		dup = false
		pk := pidKey(in.TenantID, in.Channel, in.ProviderID)
		var ref msgRef
		err := getJSON(o.tx, pk, &ref)
		if err == nil {
			r, err := getConv(o.tx, ref.Conv)
			if err != nil {
				return err
			}
			mr, err := getMsg(o.tx, ref.Conv, ref.Seq)
			if err != nil {
				return err
			}
			dup = true
			out, err = s.message(o.tx, r, mr)
			return err
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// An existing conversation keeps its advisor; a new one is
		// assigned to in.AdvisorID.
		r, _, err := s.findOrCreate(o, in.TenantID, in.Channel, in.CustomerID, in.AdvisorID, in.Address)
		if err != nil {
			return err
		}
		at := in.At
		if at.IsZero() || at.After(o.now) {
			at = o.now
		}
		if at.After(r.LastInbound) {
			r.LastInbound = at.UTC()
		}
		mr, err := s.storeMessage(o, r, SideCustomer, r.CustomerID, p, "", string(pk))
		if err != nil {
			return err
		}
		if err := putJSON(o.tx, pk, msgRef{Conv: r.ID, Seq: mr.Seq}); err != nil {
			return err
		}
		out, err = s.message(o.tx, r, mr)
		return err
	})
	if err != nil {
		return Message{}, false, wrap("receive", err)
	}
	return out, dup, nil
}

// message turns a record into a Message, opening its body.
func (s *Service) message(tx store.Txn, r *convRecord, mr *messageRecord) (Message, error) {
	m := Message{ID: mr.ID, ConversationID: r.ID, TenantID: r.TenantID, Channel: r.Channel, Seq: mr.Seq,
		Side: mr.Side, AuthorID: mr.AuthorID, Delivery: mr.Delivery, Created: mr.Created}
	for _, a := range mr.Atts {
		m.Attachments = append(m.Attachments, Attachment{ID: a.ID, Type: a.Type, Size: a.Size})
	}
	plain, err := s.sealer.OpenTx(tx, r.CustomerID, mr.Sealed)
	if err != nil {
		m.Unreadable = true
		return m, nil
	}
	var b body
	if err := json.Unmarshal(plain, &b); err != nil {
		return Message{}, fmt.Errorf("decode message body: %w", err)
	}
	m.Text, m.Template = b.Text, b.Template
	for i := range m.Attachments {
		if i < len(b.Names) {
			m.Attachments[i].Name = b.Names[i]
		}
	}
	return m, nil
}

// MaxMessagesPage bounds the limit of one Messages call.
const MaxMessagesPage = 1000

// Messages returns up to limit messages of a conversation the actor may
// see with a sequence number above after, in order (limit ≤ 0 or above
// MaxMessagesPage means MaxMessagesPage).
func (s *Service) Messages(ctx context.Context, a Actor, conversationID string, after uint64, limit int) ([]Message, error) {
	if !a.valid() {
		return nil, wrap("messages", ErrForbidden)
	}
	if limit <= 0 || limit > MaxMessagesPage {
		limit = MaxMessagesPage
	}
	var out []Message
	err := s.kv.View(ctx, func(tx store.Txn) error {
		out = out[:0]
		r, err := s.liveConv(tx, a, conversationID, s.clock.Now())
		if err != nil {
			return err
		}
		return scanFrom(tx, msgPrefix(r.ID), after+1, r.LastSeq, func(k, v []byte) error {
			if len(out) == limit {
				return errStop
			}
			var mr messageRecord
			if err := decode(k, v, &mr); err != nil {
				return err
			}
			m, err := s.message(tx, r, &mr)
			if err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, wrap("messages", err)
	}
	return out, nil
}

// Attachment returns an attachment of a message in a conversation the
// actor may see, with its Data.
func (s *Service) Attachment(ctx context.Context, a Actor, conversationID, attachmentID string) (Attachment, error) {
	if !a.valid() {
		return Attachment{}, wrap("attachment", ErrForbidden)
	}
	if !ids.Valid(attachmentID) {
		return Attachment{}, wrap("attachment", ErrNotFound)
	}
	var out Attachment
	err := s.kv.View(ctx, func(tx store.Txn) error {
		r, err := s.liveConv(tx, a, conversationID, s.clock.Now())
		if err != nil {
			return err
		}
		v, err := tx.Get(attKey(r.ID, attachmentID))
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if len(v) < 8 {
			return errors.New("decode attachment: too short")
		}
		seq, sealed := binary.BigEndian.Uint64(v), v[8:]
		mr, err := getMsg(tx, r.ID, seq)
		if err != nil {
			return err
		}
		m, err := s.message(tx, r, mr)
		if err != nil {
			return err
		}
		found := false
		for _, ma := range m.Attachments {
			if ma.ID == attachmentID {
				out, found = ma, true
			}
		}
		if !found {
			return ErrNotFound
		}
		data, err := s.sealer.OpenTx(tx, r.CustomerID, sealed)
		if err != nil {
			return fmt.Errorf("open attachment: %w", err)
		}
		out.Data = data
		return nil
	})
	if err != nil {
		return Attachment{}, wrap("attachment", err)
	}
	return out, nil
}
