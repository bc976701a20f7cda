package link

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Messaging channels, conversation statuses, message sides, delivery
// states and change kinds of the inbox API (docs/messaging.md).
const (
	ChannelChat        = "chat"         // the relay's own web chat
	ChannelContactForm = "contact_form" // the booking page's contact form
	ChannelWhatsApp    = "whatsapp"     // WhatsApp Business
	ChannelTelegram    = "telegram"     // Telegram
	ChannelMessenger   = "messenger"    // Facebook Messenger
	ChannelSMS         = "sms"          // SMS

	ConversationOpen    = "open"    // waiting for the advisor
	ConversationPending = "pending" // waiting for the customer
	ConversationClosed  = "closed"  // done; deleted after the tenant's retention

	SideAdvisor  = "advisor"  // written by the advisor
	SideCustomer = "customer" // written by the customer

	DeliveryQueued    = "queued"    // stored by the relay, not handed to the provider yet
	DeliverySent      = "sent"      // handed to the provider
	DeliveryDelivered = "delivered" // reached the customer's device
	DeliveryRead      = "read"      // read by the customer
	DeliveryFailed    = "failed"    // the provider refused it

	ChangeMessage      = "message"      // a message was added or its delivery changed
	ChangeConversation = "conversation" // created, assigned to me, status changed
	ChangeReceipt      = "receipt"      // read/delivered watermarks moved
	ChangeRemoved      = "removed"      // reassigned away: drop it
	ChangeDeleted      = "deleted"      // deleted by retention or erasure (tombstone): drop it
	ChangeDelivery     = "delivery"     // a message's delivery state changed
)

// MaxChangesWait is the longest long-poll [Client.InboxChanges] asks for.
const MaxChangesWait = 25 * time.Second

// Window is the WhatsApp 24-hour customer-service window of a
// conversation: outside it only approved templates may be sent.
type Window struct {
	Open     bool      `json:"open"`               // free text may be sent
	ClosesAt time.Time `json:"closes_at,omitzero"` // when an open window closes
	// Closes is the relay's name for ClosesAt; the client copies it into
	// ClosesAt.
	Closes time.Time `json:"closes,omitzero"`
}

// Template is an approved WhatsApp template with its parameters.
type Template struct {
	Name     string   `json:"name"`             // the approved name
	Language string   `json:"language"`         // language code, e.g. "de"
	Params   []string `json:"params,omitempty"` // the body's {{1}}, {{2}}, … values
}

// Conversation is one conversation of the advisor's inbox (CONV).
type Conversation struct {
	ID         string `json:"id"`          // the relay's id
	Channel    string `json:"channel"`     // one of the Channel… constants
	CustomerID string `json:"customer_id"` // the customer's profile id
	// CustomerName is the name to show for the customer.
	CustomerName string `json:"customer_name"`
	AdvisorID    string `json:"advisor_id"` // the assigned advisor's user id
	Status       string `json:"status"`     // one of the Conversation… statuses
	Unread       int    `json:"unread"`     // customer messages the advisor has not read
	// LastMessageAt is when the latest message was stored.
	LastMessageAt time.Time `json:"last_message_at,omitzero"`
	// Window is set on WhatsApp conversations.
	Window *Window `json:"window,omitempty"`
}

// LogValue keeps the customer's name out of logs.
func (c Conversation) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.String("channel", c.Channel), slog.String("status", c.Status))
}

// Attachment describes a file sent with a message.
type Attachment struct {
	ID   string `json:"id"`   // the relay's id, for [Client.DownloadAttachment]
	Name string `json:"name"` // sanitised file name
	Type string `json:"type"` // media type sniffed by the relay
	Size int64  `json:"size"` // bytes
}

// Message is one message of a conversation (MSG).
type Message struct {
	ID             string `json:"id"`              // the relay's id
	ConversationID string `json:"conversation_id"` // the conversation it belongs to
	// Seq is the message's place in its conversation: 1, 2, 3, … without
	// gaps, assigned by the relay.
	Seq uint64 `json:"seq"`
	// ClientID is the sender's idempotency key (advisor messages).
	ClientID string `json:"client_id,omitempty"`
	Side     string `json:"side"`                // SideAdvisor or SideCustomer
	Author   string `json:"author,omitempty"`    // author's user or customer id (contract name)
	AuthorID string `json:"author_id,omitempty"` // author's user or customer id (relay's name)
	Text     string `json:"text"`                // the text, possibly empty
	// Template is the approved WhatsApp template sent, if any.
	Template *Template `json:"template,omitempty"`
	// Unreadable is set when the customer's data was erased (crypto-shredded).
	Unreadable bool `json:"unreadable,omitempty"`
	// Attachments are the files sent with the message.
	Attachments []Attachment `json:"attachments"`
	// Delivery is one of the Delivery… states (advisor messages on
	// external channels).
	Delivery string    `json:"delivery,omitempty"`
	Created  time.Time `json:"created"` // when the relay stored it
}

// LogValue keeps the text and file names out of logs.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", m.ID), slog.String("conversation_id", m.ConversationID),
		slog.Uint64("seq", m.Seq), slog.String("side", m.Side))
}

// Change is one entry of the advisor's change feed (CHANGE).
type Change struct {
	Seq            uint64 `json:"seq"`             // place in the feed, from 1
	Kind           string `json:"kind"`            // one of the Change… kinds
	ConversationID string `json:"conversation_id"` // the conversation concerned
	// Message is the message as it is now (ChangeMessage).
	Message *Message `json:"message,omitempty"`
	// Conversation is the conversation as it is now (ChangeConversation,
	// ChangeReceipt).
	Conversation *Conversation `json:"conversation,omitempty"`
}

// Changes is a page of the change feed.
type Changes struct {
	Changes []Change `json:"changes"` // in feed order
	Next    uint64   `json:"next"`    // the cursor to ask with next time
}

// Unread is the advisor's unread count, in total and per conversation.
type Unread struct {
	Total         int            `json:"total"`         // over all conversations
	Conversations map[string]int `json:"conversations"` // by conversation id
}

// CannedResponse is a prepared reply.
type CannedResponse struct {
	ID    string `json:"id,omitempty"` // the relay's id; empty when creating
	Title string `json:"title"`        // shown in the picker
	Text  string `json:"text"`         // inserted into the reply box
	// TenantWide responses are shared with everyone in the tenant (only
	// admins write them).
	TenantWide bool `json:"tenant_wide"`
}

// ConversationUpdate changes a conversation; nil fields stay as they are.
type ConversationUpdate struct {
	Status    *string `json:"status,omitempty"`     // a Conversation… status
	AdvisorID *string `json:"advisor_id,omitempty"` // reassign to this advisor
}

// OutgoingMessage is what [Client.SendMessage] sends.
type OutgoingMessage struct {
	// ClientID is the idempotency key: sending the same ClientID again
	// returns the stored message instead of storing a second one.
	ClientID string    `json:"client_id"`
	Text     string    `json:"text,omitempty"`     // the text
	Template *Template `json:"template,omitempty"` // an approved template
}

// LogValue keeps the text out of logs.
func (o OutgoingMessage) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", o.ClientID))
}

func conversationPath(id string) string { return "/api/v1/conversations/" + url.PathEscape(id) }

func checkConversation(path string, c Conversation) error {
	if c.Window != nil && c.Window.ClosesAt.IsZero() {
		c.Window.ClosesAt = c.Window.Closes
	}
	if c.ID == "" {
		return badResponse(path, "conversation without id")
	}
	return nil
}

func checkMessage(path string, m Message) error {
	if m.ID == "" || m.ConversationID == "" || m.Seq == 0 {
		return badResponse(path, "message without id, conversation or sequence number")
	}
	return nil
}

// Conversations lists the advisor's conversations, filtered by status and
// channel when not empty, at most limit (0: the relay's default).
func (c *Client) Conversations(ctx context.Context, status, channel string, limit int) ([]Conversation, error) {
	const path = "/api/v1/conversations"
	v := url.Values{}
	if status != "" {
		v.Set("status", status)
	}
	if channel != "" {
		v.Set("channel", channel)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	full := path
	if len(v) > 0 {
		full += "?" + v.Encode()
	}
	var res struct {
		Conversations []Conversation `json:"conversations"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, full, true, nil, &res); err != nil {
		return nil, err
	}
	if res.Conversations == nil {
		return nil, badResponse(path, "no conversation list")
	}
	for _, x := range res.Conversations {
		if err := checkConversation(path, x); err != nil {
			return nil, err
		}
	}
	return res.Conversations, nil
}

// Conversation returns one conversation.
func (c *Client) Conversation(ctx context.Context, id string) (Conversation, error) {
	path := conversationPath(id)
	var out Conversation
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &out); err != nil {
		return Conversation{}, err
	}
	return out, checkConversation(path, out)
}

// UpdateConversation changes a conversation's status or assigned advisor
// and returns it as it is now.
func (c *Client) UpdateConversation(ctx context.Context, id string, u ConversationUpdate) (Conversation, error) {
	path := conversationPath(id)
	var out Conversation
	if _, _, err := c.do(ctx, http.MethodPatch, path, true, u, &out); err != nil {
		return Conversation{}, err
	}
	return out, checkConversation(path, out)
}

// Messages returns up to limit (0: the relay's default) messages of a
// conversation with a sequence number above after, oldest first.
func (c *Client) Messages(ctx context.Context, conversationID string, after uint64, limit int) ([]Message, error) {
	path := conversationPath(conversationID) + "/messages"
	full := path + "?after=" + strconv.FormatUint(after, 10)
	if limit > 0 {
		full += "&limit=" + strconv.Itoa(limit)
	}
	var res struct {
		Messages []Message `json:"messages"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, full, true, nil, &res); err != nil {
		return nil, err
	}
	if res.Messages == nil {
		return nil, badResponse(path, "no message list")
	}
	for _, m := range res.Messages {
		if err := checkMessage(path, m); err != nil {
			return nil, err
		}
	}
	return res.Messages, nil
}

// SendMessage sends a text or template message. It is idempotent on
// m.ClientID: after an ambiguous failure, send the same message again.
// A WhatsApp conversation outside its window refuses free text with an
// *[APIError].
func (c *Client) SendMessage(ctx context.Context, conversationID string, m OutgoingMessage) (Message, error) {
	path := conversationPath(conversationID) + "/messages"
	if m.ClientID == "" {
		return Message{}, fmt.Errorf("link: send message: no client id")
	}
	var out Message
	if _, _, err := c.do(ctx, http.MethodPost, path, true, m, &out); err != nil {
		return Message{}, err
	}
	return out, checkMessage(path, out)
}

// SendAttachment sends one file as a message, idempotent on clientID like
// [Client.SendMessage]. The relay sniffs the type and refuses what it does
// not accept.
func (c *Client) SendAttachment(ctx context.Context, conversationID, clientID, name string, data []byte) (Message, error) {
	path := conversationPath(conversationID) + "/attachments"
	if clientID == "" {
		return Message{}, fmt.Errorf("link: send attachment: no client id")
	}
	full := path + "?name=" + url.QueryEscape(name) + "&client_id=" + url.QueryEscape(clientID)
	resp, err := c.raw(ctx, http.MethodPost, full, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return Message{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return Message{}, fmt.Errorf("link: send attachment: %w", &transportError{err})
	}
	var out Message
	if err := decodeJSON(raw, &out); err != nil {
		return Message{}, fmt.Errorf("%w: %s: %v", ErrBadResponse, path, err)
	}
	return out, checkMessage(path, out)
}

// DownloadAttachment writes an attachment's bytes to w.
func (c *Client) DownloadAttachment(ctx context.Context, conversationID, attachmentID string, w io.Writer) (int64, error) {
	path := conversationPath(conversationID) + "/attachments/" + url.PathEscape(attachmentID)
	resp, err := c.raw(ctx, http.MethodGet, path, nil, 0)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("link: download attachment: %w", &transportError{err})
	}
	return n, nil
}

// MarkRead moves the advisor's read watermark of a conversation to seq
// and returns the conversation with its new unread count.
func (c *Client) MarkRead(ctx context.Context, conversationID string, seq uint64) (Conversation, error) {
	path := conversationPath(conversationID) + "/read"
	body := struct {
		Seq uint64 `json:"seq"`
	}{seq}
	var out Conversation
	if _, _, err := c.do(ctx, http.MethodPost, path, true, body, &out); err != nil {
		return Conversation{}, err
	}
	return out, checkConversation(path, out)
}

// InboxChanges returns up to limit (0: the relay's default) changes of the
// advisor's feed after since. With wait > 0 the relay holds the request
// until a change arrives or wait (at most [MaxChangesWait]) passes, and
// then answers with what it has, possibly nothing.
func (c *Client) InboxChanges(ctx context.Context, since uint64, limit int, wait time.Duration) (Changes, error) {
	const path = "/api/v1/inbox/changes"
	full := path + "?since=" + strconv.FormatUint(since, 10)
	if limit > 0 {
		full += "&limit=" + strconv.Itoa(limit)
	}
	if wait > 0 {
		full += "&wait=" + strconv.Itoa(int(min(wait, MaxChangesWait).Seconds()))
	}
	var res Changes
	if _, _, err := c.do(ctx, http.MethodGet, full, true, nil, &res); err != nil {
		return Changes{}, err
	}
	if res.Changes == nil {
		return Changes{}, badResponse(path, "no change list")
	}
	last := since
	for _, ch := range res.Changes {
		switch {
		case ch.Seq <= last:
			return Changes{}, badResponse(path, "changes out of order")
		case ch.ConversationID == "":
			return Changes{}, badResponse(path, "change without conversation")
		case ch.Conversation != nil:
			if err := checkConversation(path, *ch.Conversation); err != nil {
				return Changes{}, err
			}
		case ch.Message != nil:
			if err := checkMessage(path, *ch.Message); err != nil {
				return Changes{}, err
			}
		}
		last = ch.Seq
	}
	if res.Next < last {
		return Changes{}, badResponse(path, "cursor behind the changes")
	}
	return res, nil
}

// UnreadCounts returns the advisor's unread count.
func (c *Client) UnreadCounts(ctx context.Context) (Unread, error) {
	var out Unread
	if _, _, err := c.do(ctx, http.MethodGet, "/api/v1/inbox/unread", true, nil, &out); err != nil {
		return Unread{}, err
	}
	if out.Conversations == nil {
		out.Conversations = map[string]int{}
	}
	return out, nil
}

// CannedResponses returns the advisor's own and the tenant-wide canned
// responses.
func (c *Client) CannedResponses(ctx context.Context) ([]CannedResponse, error) {
	const path = "/api/v1/canned-responses"
	var res struct {
		Responses []CannedResponse `json:"canned_responses"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &res); err != nil {
		return nil, err
	}
	if res.Responses == nil {
		return nil, badResponse(path, "no canned response list")
	}
	return res.Responses, nil
}

// SaveCannedResponse creates (empty r.ID: PUT on the collection, the
// relay picks the id) or replaces the canned response with r.ID, and
// returns it as stored.
func (c *Client) SaveCannedResponse(ctx context.Context, r CannedResponse) (CannedResponse, error) {
	path := "/api/v1/canned-responses"
	if r.ID != "" {
		path += "/" + url.PathEscape(r.ID)
	}
	in := struct {
		Title      string `json:"title"`
		Text       string `json:"text"`
		TenantWide bool   `json:"tenant_wide"`
	}{r.Title, r.Text, r.TenantWide}
	var out CannedResponse
	if _, _, err := c.do(ctx, http.MethodPut, path, true, in, &out); err != nil {
		return CannedResponse{}, err
	}
	if out.ID == "" {
		return CannedResponse{}, badResponse(path, "canned response without id")
	}
	return out, nil
}

// DeleteCannedResponse deletes a canned response.
func (c *Client) DeleteCannedResponse(ctx context.Context, id string) error {
	_, _, err := c.do(ctx, http.MethodDelete, "/api/v1/canned-responses/"+url.PathEscape(id), true, nil, nil)
	return err
}
