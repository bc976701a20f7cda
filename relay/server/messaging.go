package server

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"parley/relay/api"
	"parley/relay/auth"
	"parley/relay/booking"
	"parley/relay/channels"
	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/ids"
	"parley/relay/messaging"
	"parley/relay/notify"
	"parley/relay/outbox"
	"parley/relay/privacy"
	"parley/relay/retention"
	"parley/relay/store"
)

// ChannelOptions configures the messenger channels' provider APIs.
type ChannelOptions struct {
	// BaseURLs replaces a provider's API root, by kind ("whatsapp",
	// "messenger", "telegram", "sms"); tests point them at the loopback
	// fakes of relay/channels/fake. Empty uses the providers' real APIs.
	BaseURLs map[string]string
	// Client makes the requests to the providers; nil uses the senders'
	// default (30 s timeout).
	Client *http.Client
}

// JobContactReply is the outbox kind of the mail that carries an
// advisor's answer to a contact-form message; its payload holds ids only.
const JobContactReply = "messaging-contact-reply"

// messagingActor is the user id the relay's own inbox work acts as.
const messagingActor = "messaging-relay"

// Store keys of the wiring (the inbox itself keeps "messaging/"):
//
//	msgwire/ch/<channel id>                        channelRecord
//	msgwire/cht/<tenant>/<channel id>              index of a tenant's channels
//	msgwire/route/<tenant>/<kind>/<address mac>    routeRecord: which channel a customer address came through
//	msgwire/cf/<conversation id>                   contactRecord: a contact-form conversation's page and language
//	msgwire/rc/<tenant>/<customer>/<kind>/<mac>    (empty) the routes of a customer, to delete them with the conversations
//	msgwire/up/<phone number id>/<conv>/<att>      WhatsApp media id of an uploaded attachment until its message is accepted (TTL 29 days)
//	msgwire/ml/<sha256(token)>                     mediaLinkRecord: an MMS media link (TTL 1 hour)
const (
	prefixChannel      = "msgwire/ch/"
	prefixTenantChans  = "msgwire/cht/"
	prefixRoute        = "msgwire/route/"
	prefixContactForm  = "msgwire/cf/"
	prefixRouteOf      = "msgwire/rc/"
	prefixUpload       = "msgwire/up/"
	prefixMediaLink    = "msgwire/ml/"
	maxCredentialBytes = 1024
)

// channelRecord is a tenant's provider channel; the credentials are
// sealed with the relay's channel key (AES-256-GCM, the id as associated
// data).
type channelRecord struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Kind      string    `json:"kind"`
	AdvisorID string    `json:"advisor_id"`
	Account   string    `json:"account,omitempty"`
	Hint      string    `json:"hint"`
	Sealed    []byte    `json:"sealed"`
	Created   time.Time `json:"created"`
}

// credentials are a channel's secrets, by provider field name.
type credentials map[string]string

type routeRecord struct {
	ChannelID string `json:"channel_id"`
}

type contactRecord struct {
	PageID string `json:"page_id"`
	Lang   string `json:"lang"`
}

// contactJob is the payload of a JobContactReply job.
type contactJob struct {
	TenantID       string `json:"tenant_id"`
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
	Seq            uint64 `json:"seq"`
}

// credentialFields are the fields a channel kind needs (required) and may
// have (optional); the first required field's value gives the hint.
var credentialFields = map[string]struct{ required, optional []string }{
	"whatsapp":  {required: []string{"access_token", "phone_number_id", "app_secret"}, optional: []string{"verify_token"}},
	"messenger": {required: []string{"page_token", "page_id", "app_secret"}, optional: []string{"verify_token"}},
	"telegram":  {required: []string{"bot_token"}, optional: []string{"secret_token"}},
	"sms":       {required: []string{"auth_token", "account_sid"}, optional: []string{"from", "messaging_service_sid"}},
}

// accountField is the non-secret field shown as the channel's account.
var accountField = map[string]string{"whatsapp": "phone_number_id", "messenger": "page_id", "sms": "from"}

// inbox wires the messaging domain to the relay: provider channel
// configurations and their webhooks, customer profiles for inbound
// addresses, the outbox for provider sends and contact-form answers,
// and the contact form itself. It implements api.Inbox.
type inbox struct {
	kv        store.KV
	clock     clock.Clock
	log       *slog.Logger
	auth      *auth.Service
	customers *customer.Service
	msgs      *messaging.Service
	outbox    *outbox.Outbox
	mailer    notify.Mailer
	from      string
	base      string // the public base URL
	opts      ChannelOptions
	aead      cipher.AEAD
	macKey    []byte
	quit      <-chan struct{}
	locks     [64]sync.Mutex // find-or-create of a customer per address
}

var _ api.Inbox = (*inbox)(nil)

// subKey derives a key for purpose from the store key.
func subKey(storeKey []byte, purpose string) []byte {
	m := hmac.New(sha256.New, storeKey)
	m.Write([]byte("parley/messaging/" + purpose))
	return m.Sum(nil)
}

// startMessaging builds the inbox and its wiring: run after startBooking
// (customers, outbox) and before the privacy engine and the sweeper.
func (s *Server) startMessaging(opts Options, storeKey []byte) error {
	log := s.log
	block, err := aes.NewCipher(subKey(storeKey, "channel-secrets/v1"))
	if err != nil {
		return fmt.Errorf("server: messaging: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("server: messaging: %w", err)
	}
	mailer, err := newMailer(opts.Mail, s.clock, log)
	if err != nil {
		return err
	}
	base := strings.TrimRight(opts.PublicURL, "/")
	if base == "" {
		base = "https://" + s.Addr()
	}
	from := opts.Mail.From
	if from == "" {
		from = "parley@" + hostOf(base)
	}
	n := &inbox{kv: s.store, clock: s.clock, log: log.With("component", "inbox"), auth: s.auth, customers: s.customers,
		outbox: s.outbox, mailer: mailer, from: from, base: base, opts: opts.Channels, aead: aead,
		macKey: subKey(storeKey, "address-mac/v1"), quit: s.quit}
	s.messaging, err = messaging.New(messaging.Options{Store: s.store, Clock: s.clock, Logger: log, Sealer: s.customers,
		Outbound: n.outbound, Touch: s.customers.TouchTx, Deleted: n.conversationDeleted,
		Retention: periodOf(s.retention, retention.ClassMessengerMessages, messaging.DefaultRetention)})
	if err != nil {
		return fmt.Errorf("server: messaging: %w", err)
	}
	n.msgs = s.messaging
	s.inbox = n
	d := &channels.Dispatcher{Lookup: n.lookupSender, OnSent: n.onSent, Files: n.loadFile, Logger: log.With("component", "channel-send")}
	send := d.Handler()
	s.outbox.Handle(channels.JobKind, func(ctx context.Context, j outbox.Job) error {
		err := send(ctx, j)
		if err != nil && errors.Is(err, outbox.ErrPermanent) {
			n.markFailed(ctx, j)
		}
		return err
	})
	s.outbox.Handle(JobContactReply, n.contactReply)
	return nil
}

func hostOf(base string) string {
	host := strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://")
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// Stopping implements api.Inbox.
func (n *inbox) Stopping() <-chan struct{} { return n.quit }

// addressMAC hides a provider address (a phone number is guessable) in
// keys and in the synthetic e-mail of a channel customer.
func (n *inbox) addressMAC(tenantID, kind, address string) string {
	m := hmac.New(sha256.New, n.macKey)
	m.Write([]byte(tenantID + "\x00" + kind + "\x00" + address))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// ---- channel configurations ----

func (n *inbox) seal(id string, c credentials) ([]byte, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, n.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return n.aead.Seal(nonce, nonce, plain, []byte("parley/channel/"+id)), nil
}

func (n *inbox) open(r *channelRecord) (credentials, error) {
	ns := n.aead.NonceSize()
	if len(r.Sealed) < ns {
		return nil, errors.New("server: channel credentials: sealed value too short")
	}
	plain, err := n.aead.Open(nil, r.Sealed[:ns], r.Sealed[ns:], []byte("parley/channel/"+r.ID))
	if err != nil {
		return nil, errors.New("server: channel credentials: cannot open")
	}
	var c credentials
	if err := json.Unmarshal(plain, &c); err != nil {
		return nil, fmt.Errorf("server: channel credentials: %w", err)
	}
	return c, nil
}

func getJSONKey(tx store.Txn, key string, v any) error {
	b, err := tx.Get([]byte(key))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func putJSONKey(tx store.Txn, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Set([]byte(key), b)
}

func channelInvalid(field, msg string) error { return &messaging.InputError{Field: field, Msg: msg} }

// printableASCII reports whether s is 1–maxCredentialBytes printable ASCII.
func printableASCII(s string) bool {
	if s == "" || len(s) > maxCredentialBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (n *inbox) config(r channelRecord, generated map[string]string) api.ChannelConfig {
	return api.ChannelConfig{ID: r.ID, Kind: r.Kind, AdvisorID: r.AdvisorID, Account: r.Account,
		WebhookURL: n.base + "/hooks/" + r.Kind + "/" + r.ID, Hint: r.Hint, Created: r.Created, Generated: generated}
}

// AddChannel implements api.Inbox.
func (n *inbox) AddChannel(ctx context.Context, tenantID string, in api.ChannelInput) (api.ChannelConfig, error) {
	fields, ok := credentialFields[in.Kind]
	if !ok {
		return api.ChannelConfig{}, channelInvalid("kind", "must be whatsapp, telegram, messenger or sms")
	}
	known := map[string]bool{}
	c := credentials{}
	for _, f := range fields.required {
		known[f] = true
		if !printableASCII(in.Credentials[f]) {
			return api.ChannelConfig{}, channelInvalid("credentials."+f, "required: 1 to 1024 printable ASCII characters")
		}
		c[f] = in.Credentials[f]
	}
	for _, f := range fields.optional {
		known[f] = true
		if v, ok := in.Credentials[f]; ok && v != "" {
			if !printableASCII(v) {
				return api.ChannelConfig{}, channelInvalid("credentials."+f, "1 to 1024 printable ASCII characters")
			}
			c[f] = v
		}
	}
	for f := range in.Credentials {
		if !known[f] {
			return api.ChannelConfig{}, channelInvalid("credentials", "unknown field for this kind")
		}
	}
	generated := map[string]string{}
	switch in.Kind {
	case "whatsapp", "messenger":
		if c["verify_token"] == "" {
			c["verify_token"] = ids.New()
			generated["verify_token"] = c["verify_token"]
		}
	case "telegram":
		if c["secret_token"] == "" {
			c["secret_token"] = ids.New() + ids.New()
			generated["secret_token"] = c["secret_token"]
		} else if !channels.ValidTelegramSecret(c["secret_token"]) {
			return api.ChannelConfig{}, channelInvalid("credentials.secret_token", "1 to 256 of A-Z, a-z, 0-9, _ and -")
		}
	case "sms":
		if (c["from"] == "") == (c["messaging_service_sid"] == "") {
			return api.ChannelConfig{}, channelInvalid("credentials.from", "give either from or messaging_service_sid")
		}
		if c["from"] != "" && !notify.ValidE164(c["from"]) {
			return api.ChannelConfig{}, channelInvalid("credentials.from", "must be an E.164 number")
		}
	}
	if len(generated) == 0 {
		generated = nil
	}
	tok := c[fields.required[0]]
	r := channelRecord{ID: "ch_" + ids.New(), TenantID: tenantID, Kind: in.Kind, AdvisorID: in.AdvisorID,
		Account: c[accountField[in.Kind]], Hint: "…" + tok[max(0, len(tok)-4):], Created: n.clock.Now()}
	if in.Kind == "telegram" {
		if bot, _, ok := strings.Cut(tok, ":"); ok && bot != "" {
			r.Account = bot
		}
	}
	var err error
	if r.Sealed, err = n.seal(r.ID, c); err != nil {
		return api.ChannelConfig{}, fmt.Errorf("server: add channel: %w", err)
	}
	err = n.kv.Update(ctx, func(tx store.Txn) error {
		if err := putJSONKey(tx, prefixChannel+r.ID, r); err != nil {
			return err
		}
		return tx.Set([]byte(prefixTenantChans+tenantID+"/"+r.ID), []byte{1})
	})
	if err != nil {
		return api.ChannelConfig{}, fmt.Errorf("server: add channel: %w", err)
	}
	n.log.Info("messaging: channel added", "channel_id", r.ID, "tenant_id", tenantID, "kind", r.Kind)
	return n.config(r, generated), nil
}

// channelsOf reads a tenant's channels in tx.
func channelsOf(tx store.Txn, tenantID string) ([]channelRecord, error) {
	var out []channelRecord
	err := tx.Scan([]byte(prefixTenantChans+tenantID+"/"), func(key, _ []byte) error {
		id := string(key[len(prefixTenantChans+tenantID+"/"):])
		var r channelRecord
		if err := getJSONKey(tx, prefixChannel+id, &r); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// Channels implements api.Inbox.
func (n *inbox) Channels(ctx context.Context, tenantID string) ([]api.ChannelConfig, error) {
	var rs []channelRecord
	err := n.kv.View(ctx, func(tx store.Txn) error {
		var err error
		rs, err = channelsOf(tx, tenantID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("server: list channels: %w", err)
	}
	out := make([]api.ChannelConfig, 0, len(rs))
	for _, r := range rs {
		out = append(out, n.config(r, nil))
	}
	return out, nil
}

// channel reads a channel record; messaging.ErrNotFound when unknown.
func (n *inbox) channel(ctx context.Context, id string) (channelRecord, error) {
	var r channelRecord
	if !ids.ValidRef(id) {
		return r, messaging.ErrNotFound
	}
	err := n.kv.View(ctx, func(tx store.Txn) error { return getJSONKey(tx, prefixChannel+id, &r) })
	if errors.Is(err, store.ErrNotFound) {
		return r, messaging.ErrNotFound
	}
	return r, err
}

// RemoveChannel implements api.Inbox.
func (n *inbox) RemoveChannel(ctx context.Context, tenantID, id string) error {
	if !ids.ValidRef(id) {
		return messaging.ErrNotFound
	}
	err := n.kv.Update(ctx, func(tx store.Txn) error {
		var r channelRecord
		if err := getJSONKey(tx, prefixChannel+id, &r); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return messaging.ErrNotFound
			}
			return err
		}
		if r.TenantID != tenantID {
			return messaging.ErrNotFound
		}
		if err := tx.Delete([]byte(prefixChannel + id)); err != nil {
			return err
		}
		return tx.Delete([]byte(prefixTenantChans + tenantID + "/" + id))
	})
	if err != nil {
		return fmt.Errorf("server: remove channel: %w", err)
	}
	n.log.Info("messaging: channel removed", "channel_id", id, "tenant_id", tenantID)
	return nil
}

// sender builds the provider sender of a channel.
func (n *inbox) sender(r channelRecord, c credentials) channels.Sender {
	base := n.opts.BaseURLs[r.Kind]
	cl := n.opts.Client
	lg := n.log.With("channel_id", r.ID)
	switch r.Kind {
	case "whatsapp":
		return &channels.WhatsAppSender{BaseURL: base, PhoneNumberID: c["phone_number_id"], Token: c["access_token"],
			MaxMedia: messaging.MaxAttachmentBytes, Uploads: uploadCache{n.kv}, Client: cl, Logger: lg}
	case "messenger":
		return &channels.MessengerSender{BaseURL: base, PageToken: c["page_token"], MaxMedia: messaging.MaxAttachmentBytes, Client: cl, Logger: lg}
	case "telegram":
		return &channels.TelegramSender{BaseURL: base, Token: c["bot_token"], MaxMedia: messaging.MaxAttachmentBytes, Client: cl, Logger: lg}
	default:
		return &channels.TwilioSender{BaseURL: base, AccountSID: c["account_sid"], AuthToken: c["auth_token"], From: c["from"],
			MessagingServiceSID: c["messaging_service_sid"], StatusCallback: n.config(r, nil).WebhookURL,
			MaxMedia: messaging.MaxAttachmentBytes, MediaURL: n.mediaURL, Client: cl, Logger: lg}
	}
}

// lookupSender is the Dispatcher's Lookup.
func (n *inbox) lookupSender(ctx context.Context, id string) (channels.Sender, error) {
	r, err := n.channel(ctx, id)
	if errors.Is(err, messaging.ErrNotFound) {
		return nil, fmt.Errorf("server: channel %s removed: %w", id, channels.ErrPermanent)
	}
	if err != nil {
		return nil, err
	}
	c, err := n.open(&r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, channels.ErrPermanent)
	}
	return n.sender(r, c), nil
}

// onSent records the provider's id of a sent message.
func (n *inbox) onSent(ctx context.Context, channelID string, res channels.SendResult) error {
	tenantID, msgID, ok := strings.Cut(res.Reference, "/")
	if !ok {
		return errors.New("server: channel send: reference without tenant")
	}
	_, err := n.msgs.SetDelivery(ctx, tenantID, msgID, messaging.DeliverySent, res.MessageID)
	return err
}

// markFailed records a send the provider refused for good.
func (n *inbox) markFailed(ctx context.Context, j outbox.Job) {
	var job channels.Job
	if err := json.Unmarshal(j.Payload, &job); err != nil {
		return
	}
	tenantID, msgID, ok := strings.Cut(job.Message.Reference, "/")
	if !ok {
		return
	}
	if _, err := n.msgs.SetDelivery(ctx, tenantID, msgID, messaging.DeliveryFailed, ""); err != nil {
		n.log.Warn("messaging: failed send not recorded", "message_id", msgID, "error", err)
	}
}

// conversationDeleted is messaging.Options.Deleted: when a conversation
// goes (retention sweep or erasure), its contact-form record goes with it,
// and so do the routes of its customer's addresses (which provider channel
// an address wrote through), found through the customer's route index
// because after an erasure's crypto-shredding the address itself can no
// longer be read. Without the route a later reply on another conversation
// of that customer falls back to the tenant's first channel of the kind,
// and the next inbound message records the route again.
func (n *inbox) conversationDeleted(tx store.Txn, c messaging.Conversation) error {
	if err := tx.Delete([]byte(prefixContactForm + c.ID)); err != nil {
		return fmt.Errorf("server: delete contact-form record of %s: %w", c.ID, err)
	}
	if c.Channel == messaging.ChannelContactForm || c.CustomerID == "" {
		return nil
	}
	idx := prefixRouteOf + c.TenantID + "/" + c.CustomerID + "/"
	var keys []string
	err := tx.Scan([]byte(idx), func(k, _ []byte) error {
		keys = append(keys, string(k))
		return nil
	})
	if err != nil {
		return fmt.Errorf("server: routes of %s: %w", c.ID, err)
	}
	for _, k := range keys {
		if err := tx.Delete([]byte(prefixRoute + c.TenantID + "/" + strings.TrimPrefix(k, idx))); err != nil {
			return fmt.Errorf("server: delete route of %s: %w", c.ID, err)
		}
		if err := tx.Delete([]byte(k)); err != nil {
			return fmt.Errorf("server: delete route index of %s: %w", c.ID, err)
		}
	}
	return nil
}

// outbound is messaging.Options.Outbound: it queues the provider send of
// an advisor's message on an external channel, or the mail with an
// answer on a contact-form conversation, in the message's transaction.
func (n *inbox) outbound(tx store.Txn, c messaging.Conversation, m messaging.Message) error {
	if c.Channel == messaging.ChannelContactForm {
		payload, err := json.Marshal(contactJob{TenantID: c.TenantID, ConversationID: c.ID, MessageID: m.ID, Seq: m.Seq})
		if err != nil {
			return err
		}
		return n.outbox.EnqueueTx(tx, JobContactReply, payload, time.Time{})
	}
	kind := string(c.Channel)
	chID := ""
	var rt routeRecord
	err := getJSONKey(tx, prefixRoute+c.TenantID+"/"+kind+"/"+n.addressMAC(c.TenantID, kind, c.Address), &rt)
	switch {
	case err == nil:
		var r channelRecord
		if err := getJSONKey(tx, prefixChannel+rt.ChannelID, &r); err == nil {
			chID = r.ID
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if chID == "" {
		rs, err := channelsOf(tx, c.TenantID)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Kind == kind {
				chID = r.ID
				break
			}
		}
	}
	if chID == "" {
		return channelInvalid("channel", "no provider channel of this kind is configured")
	}
	out := channels.Outgoing{To: c.Address, Text: m.Text, Reference: c.TenantID + "/" + m.ID}
	if m.Template != nil {
		out.Template = &channels.Template{Name: m.Template.Name, Language: m.Template.Language, Params: m.Template.Params}
		out.Text = ""
	}
	// Files go into the job by id ("<conversation>/<attachment>"); the
	// job reads them when it runs. What the provider does not take is
	// refused here, before anything is stored.
	for _, a := range m.Attachments {
		out.Files = append(out.Files, channels.File{ID: c.ID + "/" + a.ID, MIMEType: a.Type, Size: a.Size})
	}
	if err := channels.CheckFiles(channels.Channel(kind), out); err != nil {
		var re *channels.RefusedError
		if errors.As(err, &re) {
			return channelInvalid("attachments", re.Reason)
		}
		return channelInvalid("attachments", "cannot be sent on this channel")
	}
	payload, err := channels.SendJob(chID, channels.Channel(kind), out)
	if err != nil {
		return channelInvalid("text", "cannot be sent on this channel")
	}
	return n.outbox.EnqueueTx(tx, channels.JobKind, payload, time.Time{})
}

// ---- outbound files ----

// loadFile is the Dispatcher's Files: it reads (and opens) an
// attachment of the job's message when the job runs. A conversation or
// attachment gone since (erased, expired) kills the job.
func (n *inbox) loadFile(ctx context.Context, ref string, f channels.File) (channels.File, error) {
	tenantID, _, ok := strings.Cut(ref, "/")
	conv, att, ok2 := strings.Cut(f.ID, "/")
	if !ok || !ok2 {
		return channels.File{}, fmt.Errorf("server: file %s: malformed reference: %w", f.ID, channels.ErrPermanent)
	}
	a := messaging.Actor{TenantID: tenantID, UserID: messagingActor, Role: messaging.RoleAdmin}
	at, err := n.msgs.Attachment(ctx, a, conv, att)
	if errors.Is(err, messaging.ErrNotFound) {
		return channels.File{}, fmt.Errorf("server: file %s: %w: %w", f.ID, err, channels.ErrPermanent)
	}
	if err != nil {
		return channels.File{}, fmt.Errorf("server: file %s: %w", f.ID, err)
	}
	return channels.File{ID: f.ID, Name: at.Name, MIMEType: at.Type, Size: int64(len(at.Data)), Data: at.Data}, nil
}

// uploadCache keeps WhatsApp media ids of uploaded attachments in the
// store (ids only), so that a retried job does not upload again.
type uploadCache struct{ kv store.KV }

// uploadTTL is how long a media id is kept: WhatsApp keeps uploaded
// media for 30 days.
const uploadTTL = 29 * 24 * time.Hour

func (u uploadCache) Get(ctx context.Context, key string) (string, bool, error) {
	var v []byte
	err := u.kv.View(ctx, func(tx store.Txn) error {
		var err error
		v, err = tx.Get([]byte(prefixUpload + key))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return string(v), true, nil
}

func (u uploadCache) Put(ctx context.Context, key, mediaID string) error {
	return u.kv.Update(ctx, func(tx store.Txn) error {
		return tx.SetWithTTL([]byte(prefixUpload+key), []byte(mediaID), uploadTTL)
	})
}

func (u uploadCache) Delete(ctx context.Context, key string) error {
	return u.kv.Update(ctx, func(tx store.Txn) error { return tx.Delete([]byte(prefixUpload + key)) })
}

// mediaLinkKind is the webhook path segment of MMS media links:
// {base}/hooks/mms/{token}. The link rides on the webhook route, which
// is public and rate-limited per address like the providers' webhooks.
const mediaLinkKind = "mms"

// mediaLinkTTL is how long Twilio may fetch an MMS file.
const mediaLinkTTL = time.Hour

// mediaLinkRecord is what a media link opens: one attachment of one
// tenant, until Expires.
type mediaLinkRecord struct {
	TenantID string    `json:"tenant_id"`
	FileID   string    `json:"file_id"` // <conversation>/<attachment>
	Expires  time.Time `json:"expires"`
}

func mediaLinkKey(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return []byte(prefixMediaLink + hex.EncodeToString(sum[:]))
}

// mediaURL is the TwilioSender's MediaURL: a random token (only its
// digest is stored) that opens this one attachment for an hour.
func (n *inbox) mediaURL(ctx context.Context, ref string, f channels.File) (string, error) {
	tenantID, _, ok := strings.Cut(ref, "/")
	if !ok {
		return "", fmt.Errorf("server: media link: reference without tenant: %w", channels.ErrPermanent)
	}
	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	token := base64.RawURLEncoding.EncodeToString(tok)
	rec := mediaLinkRecord{TenantID: tenantID, FileID: f.ID, Expires: n.clock.Now().Add(mediaLinkTTL)}
	err := n.kv.Update(ctx, func(tx store.Txn) error {
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return tx.SetWithTTL(mediaLinkKey(token), b, mediaLinkTTL+time.Minute)
	})
	if err != nil {
		return "", fmt.Errorf("server: media link: %w", err)
	}
	return n.base + "/hooks/" + mediaLinkKind + "/" + token, nil
}

// mediaLink serves the file of an MMS media link (GET or HEAD) while
// the link lives and the attachment exists; anything else is
// messaging.ErrNotFound.
func (n *inbox) mediaLink(ctx context.Context, token string) (http.Handler, error) {
	if len(token) < 40 || len(token) > 64 || !ids.ValidRef(strings.ReplaceAll(token, "-", "_")) {
		return nil, messaging.ErrNotFound
	}
	var rec mediaLinkRecord
	err := n.kv.View(ctx, func(tx store.Txn) error { return getJSONKey(tx, string(mediaLinkKey(token)), &rec) })
	if errors.Is(err, store.ErrNotFound) || (err == nil && !n.clock.Now().Before(rec.Expires)) {
		return nil, messaging.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("server: media link: %w", err)
	}
	f, err := n.loadFile(ctx, rec.TenantID+"/link", channels.File{ID: rec.FileID})
	if err != nil {
		return nil, messaging.ErrNotFound
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", f.MIMEType)
		w.Header().Set("Content-Length", strconv.Itoa(len(f.Data)))
		w.Header().Set("Cache-Control", "private, no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Disposition", "inline")
		if r.Method == http.MethodGet {
			_, _ = w.Write(f.Data)
		}
		n.log.Info("messaging: mms media fetched", "tenant_id", rec.TenantID, "file_id", rec.FileID)
	}), nil
}

// ---- inbound: webhooks ----

// Webhook implements api.Inbox: the provider's handler for the channel,
// storing through a sink bound to it.
func (n *inbox) Webhook(ctx context.Context, provider, channelID string) (http.Handler, error) {
	if provider == mediaLinkKind {
		return n.mediaLink(ctx, channelID)
	}
	r, err := n.channel(ctx, channelID)
	if err != nil {
		return nil, err
	}
	if r.Kind != provider {
		return nil, messaging.ErrNotFound
	}
	c, err := n.open(&r)
	if err != nil {
		return nil, err
	}
	sink := channels.SinkFunc(func(ctx context.Context, evs []channels.Event) error { return n.store(ctx, r, c, evs) })
	lg := n.log.With("channel_id", r.ID)
	switch r.Kind {
	case "whatsapp":
		return &channels.WhatsAppWebhook{AppSecret: c["app_secret"], VerifyToken: c["verify_token"], Sink: sink, Logger: lg}, nil
	case "messenger":
		return &channels.MessengerWebhook{AppSecret: c["app_secret"], VerifyToken: c["verify_token"], Sink: sink, Logger: lg}, nil
	case "telegram":
		return &channels.TelegramWebhook{SecretToken: c["secret_token"], Account: r.Account, Sink: sink, Logger: lg}, nil
	default:
		return &channels.TwilioWebhook{AuthToken: c["auth_token"], PublicURL: n.config(r, nil).WebhookURL, Sink: sink, Logger: lg}, nil
	}
}

var deliveryOf = map[channels.Status]messaging.DeliveryState{
	channels.StatusSent: messaging.DeliverySent, channels.StatusDelivered: messaging.DeliveryDelivered,
	channels.StatusRead: messaging.DeliveryRead, channels.StatusFailed: messaging.DeliveryFailed,
}

// store is a channel's sink: messages are deduplicated by the inbox on
// the provider's id, statuses move delivery states forward (by the
// provider's message id, and for Messenger's watermarks every message
// the provider accepted up to the watermark).
func (n *inbox) store(ctx context.Context, r channelRecord, c credentials, evs []channels.Event) error {
	var marks map[string]bool
	for _, ev := range evs {
		switch ev.Kind {
		case channels.KindMessage:
			if err := n.receive(ctx, r, c, ev); err != nil {
				return err
			}
		case channels.KindStatus:
			st, ok := deliveryOf[ev.Status]
			if !ok {
				continue
			}
			if ev.MessageID != "" {
				_, err := n.msgs.UpdateDelivery(ctx, r.TenantID, messaging.Channel(r.Kind), ev.MessageID, st)
				if err != nil && !errors.Is(err, messaging.ErrNotFound) && !errors.Is(err, messaging.ErrInvalidInput) {
					return err
				}
			}
			if ev.Watermark.IsZero() || (st != messaging.DeliveryDelivered && st != messaging.DeliveryRead) {
				continue
			}
			// Messenger: everything sent to the address up to the
			// watermark has this status (once per batch; a delivery's
			// mids share one watermark).
			key := ev.Address + "\x00" + string(st) + "\x00" + ev.Watermark.String()
			if marks[key] {
				continue
			}
			if marks == nil {
				marks = map[string]bool{}
			}
			marks[key] = true
			_, err := n.msgs.ApplyWatermark(ctx, r.TenantID, messaging.Channel(r.Kind), ev.Address, ev.Watermark, st)
			if err != nil && !errors.Is(err, messaging.ErrNotFound) && !errors.Is(err, messaging.ErrInvalidInput) {
				return err
			}
		}
	}
	return nil
}

// customerFor finds or creates the customer profile of a provider
// address, and remembers which channel the address came through. A
// channel customer has no e-mail address; the profile gets a synthetic
// one under the reserved .invalid domain (never delivered to), derived
// from a keyed hash of the address, as its find key.
func (n *inbox) customerFor(ctx context.Context, r channelRecord, ev channels.Event) (string, error) {
	mac := n.addressMAC(r.TenantID, r.Kind, ev.Address)
	h := fnv.New32a()
	h.Write([]byte(mac))
	l := &n.locks[h.Sum32()%uint32(len(n.locks))]
	l.Lock()
	defer l.Unlock()
	contact := customer.Contact{FirstName: ev.Name, Email: r.Kind + "-" + mac + "@channels.parley.invalid"}
	if r.Kind == "whatsapp" || r.Kind == "sms" {
		mobile := ev.Address
		if !strings.HasPrefix(mobile, "+") {
			mobile = "+" + mobile
		}
		if notify.ValidE164(mobile) {
			contact.Mobile = mobile
		}
	}
	var id string
	put := func(c customer.Contact) error {
		return n.kv.Update(ctx, func(tx store.Txn) error {
			var err error
			if id, err = n.customers.UpsertTx(tx, r.TenantID, c, n.clock.Now()); err != nil {
				return err
			}
			if err := tx.Set([]byte(prefixRouteOf+r.TenantID+"/"+id+"/"+r.Kind+"/"+mac), nil); err != nil {
				return err
			}
			return putJSONKey(tx, prefixRoute+r.TenantID+"/"+r.Kind+"/"+mac, routeRecord{ChannelID: r.ID})
		})
	}
	err := put(contact)
	if errors.Is(err, customer.ErrInvalidInput) {
		// A provider name the profile does not take (too long, odd
		// characters): keep the address only.
		contact.FirstName, contact.Mobile = "", ""
		err = put(contact)
	}
	if err != nil {
		return "", fmt.Errorf("server: inbound customer: %w", err)
	}
	return id, nil
}

// receive stores one inbound message with its downloaded files.
func (n *inbox) receive(ctx context.Context, r channelRecord, c credentials, ev channels.Event) error {
	custID, err := n.customerFor(ctx, r, ev)
	if err != nil {
		return err
	}
	in := messaging.Inbound{TenantID: r.TenantID, Channel: messaging.Channel(r.Kind), ProviderID: ev.MessageID, Address: ev.Address,
		CustomerID: custID, AdvisorID: r.AdvisorID, Text: ev.Text, At: ev.Time}
	var notes []string
	if len(ev.Attachments) > 0 {
		snd := n.sender(r, c)
		for _, a := range ev.Attachments {
			data, err := download(ctx, snd, a)
			if err != nil {
				if channels.IsTransient(err) && ctx.Err() == nil {
					return fmt.Errorf("server: inbound media of channel %s: %w", r.ID, err) // the provider retries
				}
				notes = append(notes, "["+kindOf(a)+"]")
				continue
			}
			if data == nil {
				notes = append(notes, "["+kindOf(a)+"]")
				continue
			}
			name := a.FileName
			if name == "" {
				name = kindOf(a)
			}
			in.Attachments = append(in.Attachments, messaging.AttachmentInput{Name: name, Data: data})
		}
	}
	if len(notes) > 0 {
		in.Text = strings.TrimSpace(in.Text + "\n" + strings.Join(notes, " "))
	}
	_, _, err = n.msgs.Receive(ctx, in)
	if errors.Is(err, messaging.ErrTypeNotAllowed) || errors.Is(err, messaging.ErrTooLarge) || isAttachmentInput(err) {
		// Files the inbox does not keep: the message without them.
		in.Text = strings.TrimSpace(in.Text + "\n[" + strconv.Itoa(len(in.Attachments)) + " file(s) not accepted]")
		in.Attachments = nil
		_, _, err = n.msgs.Receive(ctx, in)
	}
	if errors.Is(err, messaging.ErrInvalidInput) {
		n.log.Warn("messaging: inbound message refused", "channel_id", r.ID, "error", err)
		return nil // retrying cannot fix it
	}
	return err
}

func isAttachmentInput(err error) bool {
	var in *messaging.InputError
	return errors.As(err, &in) && strings.HasPrefix(in.Field, "attachment")
}

func kindOf(a channels.Attachment) string {
	if a.Type != "" {
		return a.Type
	}
	return "file"
}

// download fetches an inbound file; nil data for a reference without
// media (a location, a contact card).
func download(ctx context.Context, snd channels.Sender, a channels.Attachment) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	switch s := snd.(type) {
	case *channels.WhatsAppSender:
		if a.MediaID == "" {
			return nil, nil
		}
		_, err = s.Download(ctx, a.MediaID, &buf)
	case *channels.TelegramSender:
		if a.MediaID == "" {
			return nil, nil
		}
		_, err = s.Download(ctx, a.MediaID, &buf)
	case *channels.MessengerSender:
		if a.URL == "" {
			return nil, nil
		}
		_, err = s.Download(ctx, a.URL, &buf)
	case *channels.TwilioSender:
		if a.URL == "" {
			return nil, nil
		}
		_, err = s.Download(ctx, a.URL, &buf)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ---- customers ----

func (n *inbox) customerActor(tenantID string) customer.Actor {
	return customer.Actor{TenantID: tenantID, UserID: messagingActor, Admin: true}
}

// CustomerName implements api.Inbox.
func (n *inbox) CustomerName(ctx context.Context, tenantID, customerID string) (string, error) {
	p, err := n.customers.Get(ctx, n.customerActor(tenantID), customerID)
	if errors.Is(err, customer.ErrNotFound) || errors.Is(err, customer.ErrForbidden) {
		return "", fmt.Errorf("server: customer: %w", messaging.ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(p.Contact.FirstName + " " + p.Contact.LastName), nil
}

// ExternalAddress implements api.Inbox.
func (n *inbox) ExternalAddress(ctx context.Context, tenantID, customerID string, ch messaging.Channel) (string, error) {
	if ch != messaging.ChannelWhatsApp && ch != messaging.ChannelSMS {
		return "", channelInvalid("channel", "on this channel the customer must write first")
	}
	p, err := n.customers.Get(ctx, n.customerActor(tenantID), customerID)
	if err != nil {
		return "", fmt.Errorf("server: customer: %w", messaging.ErrNotFound)
	}
	if p.Contact.Mobile == "" {
		return "", channelInvalid("customer_id", "the customer has no mobile number")
	}
	if ch == messaging.ChannelWhatsApp {
		return strings.TrimPrefix(p.Contact.Mobile, "+"), nil
	}
	return p.Contact.Mobile, nil
}

// ---- the contact form ----

// splitName splits a full name at its last space.
func splitName(s string) (first, last string) {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.LastIndexByte(s, ' '); i > 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// Contact implements api.Inbox: the profile of the sender's e-mail address
// is created or updated, and the message opens (or continues) the
// customer's contact-form conversation with the page's advisor.
func (n *inbox) Contact(ctx context.Context, page booking.Page, in api.ContactInput) error {
	first, last := splitName(in.Name)
	var custID string
	err := n.kv.Update(ctx, func(tx store.Txn) error {
		var err error
		custID, err = n.customers.UpsertTx(tx, page.TenantID, customer.Contact{FirstName: first, LastName: last, Email: in.Email}, n.clock.Now())
		return err
	})
	if err != nil {
		return fmt.Errorf("server: contact form: %w", err)
	}
	a := messaging.Actor{TenantID: page.TenantID, UserID: custID, Role: messaging.RoleCustomer}
	c, _, err := n.msgs.Open(ctx, a, messaging.OpenRequest{Channel: messaging.ChannelContactForm, CustomerID: custID, AdvisorID: page.AdvisorID})
	if err != nil {
		return err
	}
	err = n.kv.Update(ctx, func(tx store.Txn) error {
		return putJSONKey(tx, prefixContactForm+c.ID, contactRecord{PageID: page.ID, Lang: in.Lang})
	})
	if err != nil {
		return fmt.Errorf("server: contact form: %w", err)
	}
	m, err := n.msgs.Send(ctx, a, c.ID, messaging.Draft{ClientID: ids.New(), Text: in.Message})
	if err != nil {
		return err
	}
	n.log.Info("messaging: contact form message", "conversation_id", c.ID, "message_id", m.ID, "tenant_id", page.TenantID)
	return nil
}

// contactReply mails an advisor's answer on a contact-form conversation.
// The job holds ids only; a conversation deleted since needs no mail.
func (n *inbox) contactReply(ctx context.Context, j outbox.Job) error {
	var p contactJob
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.Seq == 0 {
		return fmt.Errorf("contact reply job %s: %w", j.ID, outbox.ErrPermanent)
	}
	a := messaging.Actor{TenantID: p.TenantID, UserID: messagingActor, Role: messaging.RoleAdmin}
	c, err := n.msgs.Get(ctx, a, p.ConversationID)
	if errors.Is(err, messaging.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("contact reply job %s: %w", j.ID, err)
	}
	ms, err := n.msgs.Messages(ctx, a, c.ID, p.Seq-1, 1)
	if err != nil {
		return fmt.Errorf("contact reply job %s: %w", j.ID, err)
	}
	if len(ms) == 0 || ms[0].ID != p.MessageID || ms[0].Unreadable {
		return nil
	}
	prof, err := n.customers.Get(ctx, n.customerActor(p.TenantID), c.CustomerID)
	if errors.Is(err, customer.ErrNotFound) {
		return nil // erased since
	}
	if err != nil {
		return fmt.Errorf("contact reply job %s: %w", j.ID, err)
	}
	var cf contactRecord
	if err := n.kv.View(ctx, func(tx store.Txn) error { return getJSONKey(tx, prefixContactForm+c.ID, &cf) }); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("contact reply job %s: %w", j.ID, err)
	}
	d := notify.ContactReply{From: n.from, CustomerName: strings.TrimSpace(prof.Contact.FirstName + " " + prof.Contact.LastName),
		CustomerEmail: prof.Contact.Email, Text: ms[0].Text}
	for _, at := range ms[0].Attachments {
		d.Attachments = append(d.Attachments, at.Name)
	}
	if u, err := n.auth.GetUser(ctx, p.TenantID, ms[0].AuthorID); err == nil {
		d.AdvisorName = u.DisplayName
	}
	if t, err := n.auth.TenantByID(ctx, p.TenantID); err == nil {
		d.TenantName = t.Name
	}
	if cf.PageID != "" {
		d.ContactURL = n.base + "/c/" + cf.PageID
	}
	m, err := notify.ContactReplyMail(cf.Lang, d)
	if err != nil {
		return fmt.Errorf("contact reply job %s: %w: %w", j.ID, err, outbox.ErrPermanent)
	}
	m.MessageID = j.ID + "@" + domainOf(n.from)
	if err := n.mailer.Send(ctx, m); err != nil {
		return fmt.Errorf("contact reply job %s: %w", j.ID, err)
	}
	n.log.Info("messaging: contact reply mailed", "conversation_id", c.ID, "message_id", p.MessageID, "job_id", j.ID)
	return nil
}

// ---- privacy and retention ----

// messagesPart is a customer's conversations (class messenger_messages).
type messagesPart struct{ svc *messaging.Service }

func (messagesPart) Name() string { return "messages" }

// exportedConversation is one entry of messages/conversations.json.
type exportedConversation struct {
	messaging.Conversation
	// Messages are the conversation's messages (attachments as files).
	Messages []messaging.Message `json:"messages"`
}

func (p messagesPart) Export(ctx context.Context, tenantID, customerID string, add privacy.AddFunc) error {
	if p.svc == nil {
		return nil
	}
	cs, err := p.svc.ExportCustomer(ctx, tenantID, customerID)
	if err != nil {
		return err
	}
	out := make([]exportedConversation, 0, len(cs))
	for _, c := range cs {
		ms := make([]messaging.Message, len(c.Messages))
		for i, m := range c.Messages {
			atts := make([]messaging.Attachment, len(m.Attachments))
			for k, a := range m.Attachments {
				if a.Data != nil {
					if err := add(c.Conversation.ID+"/attachments/"+a.ID+"-"+a.Name, bytes.NewReader(a.Data)); err != nil {
						return err
					}
				}
				a.Data = nil
				atts[k] = a
			}
			m.Attachments = atts
			ms[i] = m
		}
		out = append(out, exportedConversation{Conversation: c.Conversation, Messages: ms})
	}
	return addJSON(add, "conversations.json", out)
}

func (p messagesPart) Erase(ctx context.Context, tenantID, customerID string) (int, error) {
	if p.svc == nil {
		return 0, nil
	}
	return p.svc.EraseCustomer(ctx, tenantID, customerID)
}

// sweepMessages deletes conversations the tenant's period after they
// closed; a hold on the conversation or on its customer keeps them.
func (sw *sweeper) sweepMessages(ctx context.Context, now time.Time) error {
	if sw.messaging == nil {
		return nil
	}
	var held func(messaging.Conversation) bool
	if sw.retention != nil {
		held = func(c messaging.Conversation) bool {
			return sw.retention.Held(ctx, c.TenantID, retention.SubjectConversation, c.ID) ||
				sw.retention.Held(ctx, c.TenantID, retention.SubjectCustomer, c.CustomerID)
		}
	}
	st, err := sw.messaging.SweepExpired(ctx, now, held)
	return sw.recordDelete(ctx, retention.ClassMessengerMessages, now, st.Due, st.Deleted, st.Failed, err, "conversations")
}
