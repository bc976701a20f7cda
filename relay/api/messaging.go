package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"parley/relay/auth"
	"parley/relay/booking"
	"parley/relay/ids"
	"parley/relay/messaging"
)

// Messaging is the messenger inbox (*messaging.Service).
type Messaging interface {
	List(ctx context.Context, a messaging.Actor, f messaging.ListFilter) ([]messaging.Conversation, error)
	Open(ctx context.Context, a messaging.Actor, req messaging.OpenRequest) (messaging.Conversation, bool, error)
	Get(ctx context.Context, a messaging.Actor, id string) (messaging.Conversation, error)
	SetStatus(ctx context.Context, a messaging.Actor, id string, st messaging.Status) (messaging.Conversation, error)
	Assign(ctx context.Context, a messaging.Actor, id, advisorID string) (messaging.Conversation, error)
	Messages(ctx context.Context, a messaging.Actor, conversationID string, after uint64, limit int) ([]messaging.Message, error)
	Send(ctx context.Context, a messaging.Actor, conversationID string, d messaging.Draft) (messaging.Message, error)
	Attachment(ctx context.Context, a messaging.Actor, conversationID, attachmentID string) (messaging.Attachment, error)
	MarkRead(ctx context.Context, a messaging.Actor, conversationID string, seq uint64) (messaging.Conversation, error)
	Changes(ctx context.Context, a messaging.Actor, advisor string, since uint64, limit int) (messaging.ChangePage, error)
	Wait(ctx context.Context, a messaging.Actor, advisor string, since uint64) (uint64, error)
	Unread(ctx context.Context, a messaging.Actor, advisor string) (messaging.UnreadCounts, error)
	ListCanned(ctx context.Context, a messaging.Actor) ([]messaging.CannedResponse, error)
	PutCanned(ctx context.Context, a messaging.Actor, in messaging.CannedInput) (messaging.CannedResponse, error)
	DeleteCanned(ctx context.Context, a messaging.Actor, id string, tenantWide bool) error
}

// Inbox is the relay's wiring around the inbox (relay/server): customer
// names, provider channel configurations and their webhooks, and the
// contact form. Errors wrap messaging.ErrNotFound or
// messaging.ErrInvalidInput (an *messaging.InputError), or a customer
// package input error for the contact form.
type Inbox interface {
	// CustomerName is the display name of a tenant's customer ("" when
	// the profile has none); an error for an unknown customer.
	CustomerName(ctx context.Context, tenantID, customerID string) (string, error)
	// ExternalAddress is the customer's address on an external channel
	// for a conversation an advisor starts (the mobile number for
	// WhatsApp and SMS); an *messaging.InputError when there is none.
	ExternalAddress(ctx context.Context, tenantID, customerID string, ch messaging.Channel) (string, error)
	// Channels lists a tenant's provider channels.
	Channels(ctx context.Context, tenantID string) ([]ChannelConfig, error)
	// AddChannel stores a provider channel; the result carries the
	// secrets the relay generated (once).
	AddChannel(ctx context.Context, tenantID string, in ChannelInput) (ChannelConfig, error)
	// RemoveChannel deletes a tenant's provider channel.
	RemoveChannel(ctx context.Context, tenantID, id string) error
	// Webhook is the handler of a channel's provider webhooks.
	Webhook(ctx context.Context, provider, channelID string) (http.Handler, error)
	// Contact stores a contact-form message to an advisor.
	Contact(ctx context.Context, page booking.Page, in ContactInput) error
	// Stopping is closed when the relay shuts down (long polls return).
	Stopping() <-chan struct{}
}

// ChannelConfig is a tenant's provider channel as admins see it: never
// its credentials.
type ChannelConfig struct {
	// ID is the channel's id, part of its webhook URL.
	ID string `json:"id"`
	// Kind is whatsapp, telegram, messenger or sms.
	Kind string `json:"kind"`
	// AdvisorID is who new conversations go to.
	AdvisorID string `json:"advisor_id"`
	// Account is the relay's own address at the provider (phone number
	// id, page id, bot id, sending number); not secret.
	Account string `json:"account,omitempty"`
	// WebhookURL is the URL to enter at the provider.
	WebhookURL string `json:"webhook_url"`
	// Hint is the last characters of the access token, masked.
	Hint string `json:"hint"`
	// Created is when it was added.
	Created time.Time `json:"created"`
	// Generated holds secrets the relay made up for the channel (the
	// Telegram secret_token, Meta's verify_token), returned once, in the
	// answer to the creation.
	Generated map[string]string `json:"generated,omitempty"`
}

// ChannelInput is a new provider channel.
type ChannelInput struct {
	// Kind is whatsapp, telegram, messenger or sms.
	Kind string `json:"kind"`
	// AdvisorID is who new conversations go to.
	AdvisorID string `json:"advisor_id"`
	// Credentials are the provider's fields (see docs/api-contract.md).
	Credentials map[string]string `json:"credentials"`
}

// ContactInput is what the contact form sends.
type ContactInput struct {
	// Name is the customer's name.
	Name string `json:"name"`
	// Email is the customer's e-mail address (the answer goes there).
	Email string `json:"email"`
	// Message is the text.
	Message string `json:"message"`
	// Lang is the page's language ("de" or "en").
	Lang string `json:"lang"`
}

// maxAttachmentBody bounds an attachment upload's body.
const maxAttachmentBody = messaging.MaxAttachmentBytes

// maxLongPoll bounds the wait of the changes long poll.
const maxLongPoll = 25 * time.Second

// rateHook is the rate class of provider webhooks: providers deliver in
// bursts from few addresses, so the budget is high; it still stops a
// flood of forged requests (each costs a signature check).
const rateHook rateClass = 100

func init() { rateSpecs[rateHook] = rateSpec{burst: 10000, perSec: 2000} }

// messagingError maps the inbox's errors; nil when err is not one.
func messagingError(err error) *Error {
	var in *messaging.InputError
	switch {
	case errors.As(err, &in):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_input", Message: "Field " + strconv.Quote(in.Field) + ": " + in.Msg + ".", Field: in.Field}
	case errors.Is(err, messaging.ErrIdempotencyMismatch):
		return &Error{Status: http.StatusConflict, Code: "idempotency_conflict", Message: "This client_id was already used for a different message."}
	case errors.Is(err, messaging.ErrTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "The attachment is larger than 25 MiB."}
	case errors.Is(err, messaging.ErrTypeNotAllowed):
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "type_not_allowed", Message: "Only PDF, PNG, JPEG, GIF, WebP and plain text files can be attached."}
	case errors.Is(err, messaging.ErrForbidden):
		return errForbidden
	case errors.Is(err, messaging.ErrNotFound):
		return errNotFound
	case errors.Is(err, messaging.ErrInvalidInput):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_input", Message: "The request is not valid."}
	}
	return nil
}

// writeMsgError writes err, with the window_closed answer for WhatsApp.
func writeMsgError(w http.ResponseWriter, err error) {
	var we *messaging.WindowError
	if errors.As(err, &we) {
		d := windowClosedBody{Code: "window_closed", Hint: "templates",
			Message: "The WhatsApp 24-hour window is closed: only an approved template can be sent."}
		if !we.LastInbound.IsZero() {
			d.LastInbound, d.ClosedAt = ptr(we.LastInbound), ptr(we.ClosedAt)
		}
		writeJSON(w, http.StatusConflict, map[string]any{"error": d})
		return
	}
	if e := messagingError(err); e != nil {
		writeError(w, e)
		return
	}
	writeError(w, err)
}

type windowClosedBody struct {
	Code        string     `json:"code"`
	Message     string     `json:"message"`
	Hint        string     `json:"hint"`
	LastInbound *time.Time `json:"last_inbound,omitempty"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
}

func msgActor(s auth.Session) messaging.Actor {
	role := messaging.RoleAdvisor
	if s.Role == auth.RoleAdmin {
		role = messaging.RoleAdmin
	}
	return messaging.Actor{TenantID: s.TenantID, UserID: s.UserID, Role: role}
}

// ---- JSON shapes ----

type convJSON struct {
	ID           string             `json:"id"`
	Channel      string             `json:"channel"`
	CustomerID   string             `json:"customer_id"`
	CustomerName string             `json:"customer_name"`
	AdvisorID    string             `json:"advisor_id"`
	Status       string             `json:"status"`
	Unread       int                `json:"unread"`
	LastSeq      uint64             `json:"last_seq"`
	LastMessage  *time.Time         `json:"last_message_at,omitempty"`
	LastInbound  *time.Time         `json:"last_inbound_at,omitempty"`
	Created      time.Time          `json:"created"`
	Updated      time.Time          `json:"updated"`
	ClosedAt     *time.Time         `json:"closed_at,omitempty"`
	Expires      *time.Time         `json:"expires,omitempty"`
	Receipts     messaging.Receipts `json:"receipts"`
	Window       *windowJSON        `json:"window,omitempty"`
}

type windowJSON struct {
	Open   bool       `json:"open"`
	Closes *time.Time `json:"closes,omitempty"`
}

type attJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

type msgJSON struct {
	ID             string              `json:"id"`
	ConversationID string              `json:"conversation_id"`
	Seq            uint64              `json:"seq"`
	Side           string              `json:"side"`
	AuthorID       string              `json:"author_id"`
	Text           string              `json:"text,omitempty"`
	Template       *messaging.Template `json:"template,omitempty"`
	Attachments    []attJSON           `json:"attachments"`
	Delivery       string              `json:"delivery,omitempty"`
	Unreadable     bool                `json:"unreadable,omitempty"`
	Created        time.Time           `json:"created"`
}

type changeJSON struct {
	Seq            uint64    `json:"seq"`
	Kind           string    `json:"kind"`
	ConversationID string    `json:"conversation_id"`
	At             time.Time `json:"at"`
	Conversation   *convJSON `json:"conversation,omitempty"`
	Message        *msgJSON  `json:"message,omitempty"`
}

func optTimeZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// names caches customer names for one answer.
type names struct {
	h     *handler
	ctx   context.Context
	cache map[string]string
}

func (h *handler) names(ctx context.Context) *names {
	return &names{h: h, ctx: ctx, cache: map[string]string{}}
}

func (n *names) of(tenantID, customerID string) string {
	if v, ok := n.cache[customerID]; ok {
		return v
	}
	name, err := n.h.inbox.CustomerName(n.ctx, tenantID, customerID)
	if err != nil {
		name = ""
	}
	n.cache[customerID] = name
	return name
}

func (h *handler) toConvJSON(c messaging.Conversation, n *names) convJSON {
	j := convJSON{ID: c.ID, Channel: string(c.Channel), CustomerID: c.CustomerID, CustomerName: n.of(c.TenantID, c.CustomerID),
		AdvisorID: c.AdvisorID, Status: string(c.Status), Unread: c.Unread, LastSeq: c.LastSeq,
		LastMessage: optTimeZero(c.LastMessage), LastInbound: optTimeZero(c.LastInbound), Created: c.Created, Updated: c.Updated,
		ClosedAt: optTimeZero(c.ClosedAt), Expires: optTimeZero(c.Expires), Receipts: c.Receipts}
	if c.Channel == messaging.ChannelWhatsApp {
		wj := &windowJSON{}
		if !c.LastInbound.IsZero() {
			closes := c.LastInbound.Add(messaging.WhatsAppWindow)
			wj.Open, wj.Closes = h.clock.Now().Before(closes), &closes
		}
		j.Window = wj
	}
	return j
}

func toMsgJSON(m messaging.Message) msgJSON {
	j := msgJSON{ID: m.ID, ConversationID: m.ConversationID, Seq: m.Seq, Side: string(m.Side), AuthorID: m.AuthorID, Text: m.Text,
		Template: m.Template, Attachments: make([]attJSON, 0, len(m.Attachments)), Delivery: string(m.Delivery),
		Unreadable: m.Unreadable, Created: m.Created}
	for _, a := range m.Attachments {
		j.Attachments = append(j.Attachments, attJSON{ID: a.ID, Name: a.Name, Type: a.Type, Size: a.Size})
	}
	return j
}

// ---- advisor routes ----

// inboxReady reports whether the inbox is wired; it answers 404 when not.
func (h *handler) inboxReady(w http.ResponseWriter) bool {
	if h.messaging == nil || h.inbox == nil {
		writeError(w, errNotFound)
		return false
	}
	return true
}

func queryUint(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: name, Message: "Query parameter " + strconv.Quote(name) + " must be a whole number."}
	}
	return n, nil
}

func queryLimit(r *http.Request, max int) (int, error) {
	n, err := queryUint(r, "limit")
	if err != nil {
		return 0, err
	}
	if n > uint64(max) {
		n = uint64(max)
	}
	return int(n), nil
}

func (h *handler) listConversations(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	q := r.URL.Query()
	st := messaging.Status(q.Get("status"))
	if st != "" && !st.Valid() {
		writeError(w, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "status", Message: "status must be open, pending or closed."})
		return
	}
	ch := messaging.Channel(q.Get("channel"))
	if ch != "" && !ch.Valid() {
		writeError(w, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "channel", Message: "Unknown channel."})
		return
	}
	limit, err := queryLimit(r, 1000)
	if err != nil {
		writeError(w, err)
		return
	}
	f := messaging.ListFilter{Status: st}
	if s.Role != auth.RoleAdmin {
		f.AdvisorID = s.UserID
	} else if a := q.Get("advisor"); a != "" {
		f.AdvisorID = a
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	cs, err := h.messaging.List(ctx, msgActor(s), f)
	if err != nil {
		writeMsgError(w, err)
		return
	}
	n := h.names(ctx)
	out := make([]convJSON, 0, len(cs))
	for _, c := range cs {
		if ch != "" && c.Channel != ch {
			continue
		}
		if limit > 0 && len(out) >= limit {
			break
		}
		out = append(out, h.toConvJSON(c, n))
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversations": out})
}

type openConvRequest struct {
	CustomerID string `json:"customer_id"`
	Channel    string `json:"channel"`
}

func decodeOpenConv(body []byte) (openConvRequest, error) {
	var req openConvRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if err := requireFields([2]string{"customer_id", req.CustomerID}, [2]string{"channel", req.Channel}); err != nil {
		return req, err
	}
	if !ids.ValidRef(req.CustomerID) {
		return req, errNotFound
	}
	if !messaging.Channel(req.Channel).Valid() {
		return req, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "channel", Message: "Unknown channel."}
	}
	return req, nil
}

func (h *handler) createConversation(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	req, ok := decodeRequest(w, r, decodeOpenConv)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	// The customer must be one of the caller's tenant.
	if _, err := h.inbox.CustomerName(ctx, s.TenantID, req.CustomerID); err != nil {
		writeMsgError(w, err)
		return
	}
	ch := messaging.Channel(req.Channel)
	or := messaging.OpenRequest{Channel: ch, CustomerID: req.CustomerID, AdvisorID: s.UserID}
	if ch.External() {
		addr, err := h.inbox.ExternalAddress(ctx, s.TenantID, req.CustomerID, ch)
		if err != nil {
			writeMsgError(w, err)
			return
		}
		or.Address = addr
	}
	c, created, err := h.messaging.Open(ctx, msgActor(s), or)
	if err != nil {
		writeMsgError(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		h.log.Info("messaging: conversation opened", "conversation_id", c.ID, "tenant_id", s.TenantID, "user_id", s.UserID)
	}
	writeJSON(w, status, h.toConvJSON(c, h.names(ctx)))
}

func (h *handler) getConversation(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	c, err := h.messaging.Get(ctx, msgActor(s), r.PathValue("id"))
	if err != nil {
		writeMsgError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.toConvJSON(c, h.names(ctx)))
}

type patchConvRequest struct {
	Status    *string `json:"status"`
	AdvisorID *string `json:"advisor_id"`
}

func decodePatchConv(body []byte) (patchConvRequest, error) {
	var req patchConvRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if req.Status == nil && req.AdvisorID == nil {
		return req, badRequest("Nothing to change: send \"status\" or \"advisor_id\".")
	}
	if req.Status != nil && !messaging.Status(*req.Status).Valid() {
		return req, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "status", Message: "status must be open, pending or closed."}
	}
	if req.AdvisorID != nil && !ids.ValidRef(*req.AdvisorID) {
		return req, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "advisor_id", Message: "Unknown advisor."}
	}
	return req, nil
}

func (h *handler) patchConversation(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	req, ok := decodeRequest(w, r, decodePatchConv)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	a := msgActor(s)
	id := r.PathValue("id")
	c, err := h.messaging.Get(ctx, a, id)
	if err != nil {
		writeMsgError(w, err)
		return
	}
	if req.AdvisorID != nil && *req.AdvisorID != c.AdvisorID {
		// Only a user of the caller's own tenant can take it over.
		if _, err := h.auth.GetUser(ctx, s.TenantID, *req.AdvisorID); err != nil {
			writeError(w, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "advisor_id", Message: "Unknown advisor."})
			return
		}
		if c, err = h.messaging.Assign(ctx, a, id, *req.AdvisorID); err != nil {
			writeMsgError(w, err)
			return
		}
	}
	if req.Status != nil && messaging.Status(*req.Status) != c.Status {
		if c, err = h.messaging.SetStatus(ctx, a, id, messaging.Status(*req.Status)); err != nil {
			writeMsgError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, h.toConvJSON(c, h.names(ctx)))
}

func (h *handler) listMessages(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	after, err := queryUint(r, "after")
	if err != nil {
		writeError(w, err)
		return
	}
	limit, err := queryLimit(r, messaging.MaxMessagesPage)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	ms, err := h.messaging.Messages(ctx, msgActor(s), r.PathValue("id"), after, limit)
	if err != nil {
		writeMsgError(w, err)
		return
	}
	out := make([]msgJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, toMsgJSON(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out})
}

type sendRequest struct {
	ClientID string              `json:"client_id"`
	Text     string              `json:"text"`
	Template *messaging.Template `json:"template"`
}

func decodeSend(body []byte) (sendRequest, error) {
	var req sendRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if err := requireFields([2]string{"client_id", req.ClientID}); err != nil {
		return req, err
	}
	if strings.TrimSpace(req.Text) == "" && req.Template == nil {
		return req, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "text", Message: "Send \"text\" or \"template\"."}
	}
	return req, nil
}

// send stores d and answers 201, or 200 for a retry of a stored message.
func (h *handler) send(w http.ResponseWriter, r *http.Request, s auth.Session, d messaging.Draft) {
	ctx, cancel := reqContext(r)
	defer cancel()
	a := msgActor(s)
	id := r.PathValue("id")
	before, err := h.messaging.Get(ctx, a, id)
	if err != nil {
		writeMsgError(w, err)
		return
	}
	m, err := h.messaging.Send(ctx, a, id, d)
	if err != nil {
		writeMsgError(w, err)
		return
	}
	status := http.StatusCreated
	if m.Seq <= before.LastSeq {
		status = http.StatusOK // the same client_id again: the stored message
	}
	writeJSON(w, status, toMsgJSON(m))
}

func (h *handler) sendMessage(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	req, ok := decodeRequest(w, r, decodeSend)
	if !ok {
		return
	}
	h.send(w, r, s, messaging.Draft{ClientID: req.ClientID, Text: req.Text, Template: req.Template})
}

func (h *handler) uploadAttachment(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	q := r.URL.Query()
	name, cid := q.Get("name"), q.Get("client_id")
	if err := requireFields([2]string{"name", name}, [2]string{"client_id", cid}); err != nil {
		writeError(w, err)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAttachmentBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeMsgError(w, messaging.ErrTooLarge)
			return
		}
		writeError(w, badRequest("Could not read the request body."))
		return
	}
	if len(data) == 0 {
		writeError(w, badRequest("The body is empty."))
		return
	}
	h.send(w, r, s, messaging.Draft{ClientID: cid, Attachments: []messaging.AttachmentInput{{Name: name, Data: data}}})
}

func (h *handler) downloadAttachment(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	att, err := h.messaging.Attachment(ctx, msgActor(s), r.PathValue("id"), r.PathValue("aid"))
	if err != nil {
		writeMsgError(w, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", att.Type)
	hd.Set("Content-Length", strconv.Itoa(len(att.Data)))
	hd.Set("Content-Disposition", contentDisposition(att.Name))
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(att.Data)
}

type readRequest struct {
	Seq *uint64 `json:"seq"`
}

func decodeRead(body []byte) (readRequest, error) {
	var req readRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if req.Seq == nil {
		return req, badRequest("Field \"seq\" is required.")
	}
	return req, nil
}

func (h *handler) markRead(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	req, ok := decodeRequest(w, r, decodeRead)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	c, err := h.messaging.MarkRead(ctx, msgActor(s), r.PathValue("id"), *req.Seq)
	if err != nil {
		writeMsgError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.toConvJSON(c, h.names(ctx)))
}

// feedOf is the advisor whose feed the caller reads: their own, or for an
// admin ?advisor= of the own tenant.
func (h *handler) feedOf(r *http.Request, s auth.Session) (string, error) {
	a := r.URL.Query().Get("advisor")
	if a == "" || a == s.UserID {
		return s.UserID, nil
	}
	if s.Role != auth.RoleAdmin {
		return "", errForbidden
	}
	if !ids.ValidRef(a) {
		return "", errNotFound
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	if _, err := h.auth.GetUser(ctx, s.TenantID, a); err != nil {
		return "", errNotFound
	}
	return a, nil
}

func (h *handler) inboxChanges(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	since, err := queryUint(r, "since")
	if err != nil {
		writeError(w, err)
		return
	}
	limit, err := queryLimit(r, messaging.MaxChangesPage)
	if err != nil {
		writeError(w, err)
		return
	}
	wait, err := queryUint(r, "wait")
	if err != nil {
		writeError(w, err)
		return
	}
	waitFor := min(time.Duration(wait)*time.Second, maxLongPoll)
	advisor, err := h.feedOf(r, s)
	if err != nil {
		writeError(w, err)
		return
	}
	a := msgActor(s)
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout+maxLongPoll)
	defer cancel()
	page, err := h.messaging.Changes(ctx, a, advisor, since, limit)
	if err != nil {
		writeMsgError(w, err)
		return
	}
	if len(page.Changes) == 0 && waitFor > 0 {
		wctx, wcancel := context.WithTimeout(ctx, waitFor)
		go func() {
			select {
			case <-h.inbox.Stopping():
				wcancel()
			case <-wctx.Done():
			}
		}()
		_, werr := h.messaging.Wait(wctx, a, advisor, since)
		wcancel()
		if werr == nil {
			if page, err = h.messaging.Changes(ctx, a, advisor, since, limit); err != nil {
				writeMsgError(w, err)
				return
			}
		} else if ctx.Err() != nil {
			return // the client went away
		}
	}
	n := h.names(ctx)
	out := make([]changeJSON, 0, len(page.Changes))
	for _, c := range page.Changes {
		j := changeJSON{Seq: c.Seq, Kind: string(c.Kind), ConversationID: c.ConversationID, At: c.At}
		if c.Conversation != nil {
			cj := h.toConvJSON(*c.Conversation, n)
			j.Conversation = &cj
		}
		if c.Message != nil {
			mj := toMsgJSON(*c.Message)
			j.Message = &mj
		}
		out = append(out, j)
	}
	next := page.Next
	if next < since {
		next = since
	}
	writeJSON(w, http.StatusOK, map[string]any{"changes": out, "next": next, "more": page.More})
}

func (h *handler) inboxUnread(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	advisor, err := h.feedOf(r, s)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	u, err := h.messaging.Unread(ctx, msgActor(s), advisor)
	if err != nil {
		writeMsgError(w, err)
		return
	}
	by := u.ByConversation
	if by == nil {
		by = map[string]int{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": u.Total, "conversations": by})
}

// ---- canned responses ----

type cannedJSON struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Text       string    `json:"text"`
	TenantWide bool      `json:"tenant_wide"`
	AdvisorID  string    `json:"advisor_id,omitempty"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
}

func toCannedJSON(c messaging.CannedResponse) cannedJSON {
	return cannedJSON{ID: c.ID, Title: c.Title, Text: c.Text, TenantWide: c.AdvisorID == "", AdvisorID: c.AdvisorID, Created: c.Created, Updated: c.Updated}
}

func (h *handler) listCanned(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	cs, err := h.messaging.ListCanned(ctx, msgActor(s))
	if err != nil {
		writeMsgError(w, err)
		return
	}
	out := make([]cannedJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, toCannedJSON(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"canned_responses": out})
}

type cannedRequest struct {
	Title      string `json:"title"`
	Text       string `json:"text"`
	TenantWide bool   `json:"tenant_wide"`
}

func decodeCanned(body []byte) (cannedRequest, error) {
	var req cannedRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	return req, requireFields([2]string{"title", req.Title}, [2]string{"text", req.Text})
}

func (h *handler) putCanned(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	req, ok := decodeRequest(w, r, decodeCanned)
	if !ok {
		return
	}
	id := r.PathValue("id") // empty on the collection: a new response
	if id != "" && !ids.ValidRef(id) {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	c, err := h.messaging.PutCanned(ctx, msgActor(s), messaging.CannedInput{ID: id, TenantWide: req.TenantWide, Title: req.Title, Text: req.Text})
	if err != nil {
		writeMsgError(w, err)
		return
	}
	if req.TenantWide {
		h.record(ctx, s, "canned.put", c.ID, map[string]string{"tenant_wide": "true"})
	}
	status := http.StatusOK
	if id == "" {
		status = http.StatusCreated
	}
	writeJSON(w, status, toCannedJSON(c))
}

func (h *handler) deleteCanned(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	tw := r.URL.Query().Get("tenant_wide") == "true"
	ctx, cancel := reqContext(r)
	defer cancel()
	if err := h.messaging.DeleteCanned(ctx, msgActor(s), r.PathValue("id"), tw); err != nil {
		writeMsgError(w, err)
		return
	}
	if tw {
		h.record(ctx, s, "canned.delete", r.PathValue("id"), map[string]string{"tenant_wide": "true"})
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- provider channels (admins) ----

func (h *handler) listChannels(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	cs, err := h.inbox.Channels(ctx, s.TenantID)
	if err != nil {
		writeMsgError(w, err)
		return
	}
	if cs == nil {
		cs = []ChannelConfig{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": cs})
}

func decodeChannel(body []byte) (ChannelInput, error) {
	var req ChannelInput
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if err := requireFields([2]string{"kind", req.Kind}, [2]string{"advisor_id", req.AdvisorID}); err != nil {
		return req, err
	}
	if !ids.ValidRef(req.AdvisorID) {
		return req, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "advisor_id", Message: "Unknown advisor."}
	}
	return req, nil
}

func (h *handler) createChannel(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	req, ok := decodeRequest(w, r, decodeChannel)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	if _, err := h.auth.GetUser(ctx, s.TenantID, req.AdvisorID); err != nil {
		writeError(w, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "advisor_id", Message: "Unknown advisor."})
		return
	}
	c, err := h.inbox.AddChannel(ctx, s.TenantID, req)
	if err != nil {
		writeMsgError(w, err)
		return
	}
	h.record(ctx, s, "channel.create", c.ID, map[string]string{"kind": c.Kind, "advisor_id": c.AdvisorID})
	writeJSON(w, http.StatusCreated, c)
}

func (h *handler) deleteChannel(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	id := r.PathValue("id")
	if err := h.inbox.RemoveChannel(ctx, s.TenantID, id); err != nil {
		writeMsgError(w, err)
		return
	}
	h.record(ctx, s, "channel.delete", id, nil)
	w.WriteHeader(http.StatusNoContent)
}

// ---- public: webhooks and the contact form ----

func (h *handler) webhook(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if !h.inboxReady(w) {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	hook, err := h.inbox.Webhook(ctx, r.PathValue("provider"), r.PathValue("channel"))
	if err != nil {
		writeMsgError(w, err)
		return
	}
	hook.ServeHTTP(w, r.WithContext(ctx))
}

func (h *handler) contactPage(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if !h.inboxReady(w) || h.booking == nil {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	p, err := h.booking.ResolvePage(ctx, r.PathValue("page"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"advisor_name": h.advisorName(ctx, p.TenantID, p.AdvisorID)})
}

// maxContactText bounds the contact form's message.
const maxContactText = messaging.MaxTextRunes

func decodeContactForm(body []byte) (ContactInput, error) {
	var req ContactInput
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	req.Name, req.Email = strings.TrimSpace(req.Name), strings.TrimSpace(req.Email)
	if err := requireFields([2]string{"name", req.Name}, [2]string{"email", req.Email}, [2]string{"message", req.Message}); err != nil {
		return req, err
	}
	if len([]rune(req.Message)) > maxContactText {
		return req, &Error{Status: http.StatusBadRequest, Code: "invalid_input", Field: "message", Message: "The message is longer than 4096 characters."}
	}
	if req.Lang != "en" {
		req.Lang = "de"
	}
	return req, nil
}

func (h *handler) contactSubmit(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	if !h.inboxReady(w) || h.booking == nil {
		writeError(w, errNotFound)
		return
	}
	req, ok := decodeRequest(w, r, decodeContactForm)
	if !ok {
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	p, err := h.booking.ResolvePage(ctx, r.PathValue("page"))
	if err != nil {
		writeError(w, err)
		return
	}
	if err := h.inbox.Contact(ctx, p, req); err != nil {
		writeMsgError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"status": "received"})
}
