package messaging

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"parley/relay/store"
)

// Key layout. Every key starts with "messaging/"; ids are random hex or the
// caller's tenant, user and customer ids (checked by ids.ValidRef); client
// ids, provider message ids and provider addresses appear only as digests
// (addresses as an HMAC with the tenant's pepper, since a phone number is
// guessable); no key contains personal data.
//
//	messaging/c/<conv>                                convRecord
//	messaging/m/<conv>/<seq, 20 digits>               messageRecord (body sealed)
//	messaging/a/<conv>/<attachmentID>                 attachment bytes, sealed
//	messaging/id/<messageID>                          msgRef
//	messaging/cid/<conv>/<sha256(client id)>          idemRecord (client retries)
//	messaging/pid/<tenant>/<channel>/<sha256(provider message id)>
//	                                                  msgRef (inbound dedupe, status matching)
//	messaging/adv/<tenant>/<advisor>/<conv>           empty (an advisor's conversations)
//	messaging/cust/<tenant>/<customer>/<conv>         empty (a customer's conversations)
//	messaging/byc/<tenant>/<channel>/<customer>       conv (the live chat/contact-form conversation)
//	messaging/byt/<tenant>/<channel>/<hmac(address)>  conv (the live conversation of a provider thread)
//	messaging/pepper/<tenant>                         the tenant's random HMAC key
//	messaging/fh/<tenant>/<advisor>                   feed head: last change sequence (decimal)
//	messaging/f/<tenant>/<advisor>/<seq, 20 digits>   changeRecord (ids only)
//	messaging/fi/<conv>/<tenant>/<advisor>/<seq>      empty (a conversation's feed entries)
//	messaging/canned/<tenant>/t/<id>                  cannedRecord (tenant-wide)
//	messaging/canned/<tenant>/a/<advisor>/<id>        cannedRecord (one advisor's)
const (
	prefix       = "messaging/"
	prefixConv   = prefix + "c/"
	prefixMsg    = prefix + "m/"
	prefixAtt    = prefix + "a/"
	prefixID     = prefix + "id/"
	prefixCID    = prefix + "cid/"
	prefixPID    = prefix + "pid/"
	prefixAdv    = prefix + "adv/"
	prefixCust   = prefix + "cust/"
	prefixByC    = prefix + "byc/"
	prefixByT    = prefix + "byt/"
	prefixPepper = prefix + "pepper/"
	prefixHead   = prefix + "fh/"
	prefixFeed   = prefix + "f/"
	prefixFI     = prefix + "fi/"
	prefixCanned = prefix + "canned/"
)

func convKey(id string) []byte              { return []byte(prefixConv + id) }
func msgPrefix(conv string) []byte          { return []byte(prefixMsg + conv + "/") }
func msgKey(conv string, seq uint64) []byte { return fmt.Appendf(msgPrefix(conv), "%020d", seq) }
func attPrefix(conv string) []byte          { return []byte(prefixAtt + conv + "/") }
func attKey(conv, id string) []byte         { return []byte(prefixAtt + conv + "/" + id) }
func idKey(msgID string) []byte             { return []byte(prefixID + msgID) }
func cidPrefix(conv string) []byte          { return []byte(prefixCID + conv + "/") }
func cidKey(conv, clientID string) []byte   { return []byte(prefixCID + conv + "/" + digest(clientID)) }
func pidKey(tenant string, ch Channel, providerID string) []byte {
	return []byte(prefixPID + tenant + "/" + string(ch) + "/" + digest(providerID))
}
func advPrefix(tenant, advisor string) []byte {
	return []byte(prefixAdv + tenant + "/" + advisor + "/")
}
func advKey(tenant, advisor, conv string) []byte {
	return []byte(prefixAdv + tenant + "/" + advisor + "/" + conv)
}
func custPrefix(tenant, customer string) []byte {
	return []byte(prefixCust + tenant + "/" + customer + "/")
}
func custKey(tenant, customer, conv string) []byte {
	return []byte(prefixCust + tenant + "/" + customer + "/" + conv)
}
func byCKey(tenant string, ch Channel, customer string) []byte {
	return []byte(prefixByC + tenant + "/" + string(ch) + "/" + customer)
}
func byTKey(tenant string, ch Channel, mac string) []byte {
	return []byte(prefixByT + tenant + "/" + string(ch) + "/" + mac)
}
func pepperKey(tenant string) []byte        { return []byte(prefixPepper + tenant) }
func headKey(tenant, advisor string) []byte { return []byte(prefixHead + tenant + "/" + advisor) }
func feedPrefix(tenant, advisor string) []byte {
	return []byte(prefixFeed + tenant + "/" + advisor + "/")
}
func feedKey(tenant, advisor string, seq uint64) []byte {
	return fmt.Appendf(feedPrefix(tenant, advisor), "%020d", seq)
}
func fiPrefix(conv string) []byte { return []byte(prefixFI + conv + "/") }
func fiKey(conv, tenant, advisor string, seq uint64) []byte {
	return fmt.Appendf(nil, "%s%s/%s/%s/%020d", prefixFI, conv, tenant, advisor, seq)
}
func cannedPrefix(tenant string, advisor string) []byte {
	if advisor == "" {
		return []byte(prefixCanned + tenant + "/t/")
	}
	return []byte(prefixCanned + tenant + "/a/" + advisor + "/")
}

// digest is the hex SHA-256 of s.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// lastSegment returns what follows the last "/" of a key.
func lastSegment(k []byte) string {
	s := string(k)
	return s[strings.LastIndexByte(s, '/')+1:]
}

// DeliveryState is how far an advisor's message on an external channel
// got. States only move forward: queued → sent → delivered → read;
// failed is reachable from queued and sent only.
type DeliveryState string

// The delivery states.
const (
	// DeliveryQueued: stored, the provider send is in the outbox.
	DeliveryQueued DeliveryState = "queued"
	// DeliverySent: the provider accepted it.
	DeliverySent DeliveryState = "sent"
	// DeliveryDelivered: it reached the customer's device.
	DeliveryDelivered DeliveryState = "delivered"
	// DeliveryRead: the customer opened it.
	DeliveryRead DeliveryState = "read"
	// DeliveryFailed: it will not be delivered.
	DeliveryFailed DeliveryState = "failed"
)

// rank orders the states; failed ranks between sent and delivered so that
// it can follow queued and sent only.
func (d DeliveryState) rank() int {
	switch d {
	case DeliveryQueued:
		return 1
	case DeliverySent:
		return 2
	case DeliveryFailed:
		return 3
	case DeliveryDelivered:
		return 4
	case DeliveryRead:
		return 5
	}
	return 0
}

// advance reports whether a message in state d may move to next.
func (d DeliveryState) advance(next DeliveryState) bool {
	if d == DeliveryFailed || next.rank() == 0 {
		return false
	}
	return next.rank() > d.rank()
}

// convRecord is the stored form of a conversation.
type convRecord struct {
	V          int     `json:"v"`
	ID         string  `json:"id"`
	TenantID   string  `json:"tenant_id"`
	AdvisorID  string  `json:"advisor_id"`
	CustomerID string  `json:"customer_id"`
	Channel    Channel `json:"channel"`
	Status     Status  `json:"status"`
	// SealedAddress is the provider address, sealed for the customer.
	SealedAddress []byte `json:"sealed_address,omitempty"`
	// ThreadMAC is the HMAC of the address, for the byt index.
	ThreadMAC   string    `json:"thread_mac,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	ClosedAt    time.Time `json:"closed_at,omitzero"`
	LastSeq     uint64    `json:"last_seq"`
	LastMessage time.Time `json:"last_message,omitzero"`
	LastInbound time.Time `json:"last_inbound,omitzero"`
	Receipts    Receipts  `json:"receipts"`
	Unread      int       `json:"unread"`
	// Deleting marks a conversation whose deletion has begun: it is not
	// served and the next sweep finishes the deletion.
	Deleting bool `json:"deleting,omitempty"`
}

// attRecord is an attachment's unsealed metadata.
type attRecord struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

// body is what is sealed of a message.
type body struct {
	Text     string    `json:"text,omitempty"`
	Template *Template `json:"template,omitempty"`
	Names    []string  `json:"names,omitempty"`
}

// messageRecord is the stored form of a message.
type messageRecord struct {
	ID       string        `json:"id"`
	Seq      uint64        `json:"seq"`
	Side     Side          `json:"side"`
	AuthorID string        `json:"author_id"`
	Sealed   []byte        `json:"sealed"`
	Atts     []attRecord   `json:"atts,omitempty"`
	Delivery DeliveryState `json:"delivery,omitempty"`
	// ProviderKey is the message's pid key, when it has one.
	ProviderKey string `json:"provider_key,omitempty"`
	// ClientKey is the message's cid key, when it has one.
	ClientKey string    `json:"client_key,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	// Sent is when the provider accepted an advisor's message (the first
	// state past queued); provider watermarks compare with it.
	Sent time.Time `json:"sent,omitzero"`
}

// msgRef points at a message.
type msgRef struct {
	Conv string `json:"conv"`
	Seq  uint64 `json:"seq"`
}

// idemRecord remembers a client id's message and what was sent.
type idemRecord struct {
	Seq    uint64 `json:"seq"`
	Digest string `json:"digest"`
}

// changeRecord is one feed entry; it holds ids only, the content is read
// when the change is served.
type changeRecord struct {
	Seq  uint64     `json:"seq"`
	Kind ChangeKind `json:"kind"`
	Conv string     `json:"conv"`
	Msg  uint64     `json:"msg,omitempty"`
	At   time.Time  `json:"at"`
}

// cannedRecord is the stored form of a canned response.
type cannedRecord struct {
	CannedResponse
}

// getJSON reads key into v; store.ErrNotFound passes through.
func getJSON(tx store.Txn, key []byte, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	return decode(key, b, v)
}

func decode(key, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s record: %w", keyKind(key), err)
	}
	return nil
}

func putJSON(tx store.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Set(key, b)
}

// keyKind names the record type of a key for error messages (never the
// key's variable part).
func keyKind(key []byte) string {
	rest := strings.TrimPrefix(string(key), prefix)
	kind, _, _ := strings.Cut(rest, "/")
	return kind
}

// getConv reads a conversation record; ErrNotFound when absent.
func getConv(tx store.Txn, id string) (*convRecord, error) {
	var r convRecord
	err := getJSON(tx, convKey(id), &r)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// getMsg reads a message record; ErrNotFound when absent.
func getMsg(tx store.Txn, conv string, seq uint64) (*messageRecord, error) {
	var r messageRecord
	err := getJSON(tx, msgKey(conv, seq), &r)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// getUint reads a decimal counter; 0 when absent.
func getUint(tx store.Txn, key []byte) (uint64, error) {
	b, err := tx.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("decode %s counter: %w", keyKind(key), err)
	}
	return n, nil
}

// pepper returns the tenant's HMAC key for provider addresses, creating it
// on first use.
func pepper(tx store.Txn, tenant string) ([]byte, error) {
	b, err := tx.Get(pepperKey(tenant))
	if err == nil && len(b) == 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err == nil {
		return nil, errors.New("decode pepper: wrong length")
	}
	p := make([]byte, 32)
	rand.Read(p) // never fails since Go 1.24
	if err := tx.Set(pepperKey(tenant), p); err != nil {
		return nil, err
	}
	return p, nil
}

// threadMAC is the index form of a provider address.
func threadMAC(pep []byte, address string) string {
	m := hmac.New(sha256.New, pep)
	m.Write([]byte(address))
	return hex.EncodeToString(m.Sum(nil))
}

// errStop ends a scan early.
var errStop = errors.New("stop")

// scanFrom calls fn for the keys base + <20-digit number> with a number
// from from to max, in order, until fn returns errStop (which is not an
// error) or another error. Store scans have no seek, so it covers the
// numbers from from upwards with digit prefixes, each of whose scans
// starts where its numbers begin, and stops at the first prefix whose
// numbers all exceed max.
func scanFrom(tx store.Txn, base []byte, from, max uint64, fn func(key, value []byte) error) error {
	if from > max {
		return nil
	}
	digits := fmt.Sprintf("%020d", from)
	// The first range is the number itself; then, for position i from
	// the last digit to the first, the numbers sharing digits[:i] with a
	// larger digit at i, which come after everything visited before.
	err := tx.Scan(append(append([]byte(nil), base...), digits...), fn)
	for i := len(digits) - 1; err == nil && i >= 0; i-- {
		for d := digits[i] + 1; d <= '9' && err == nil; d++ {
			low := digits[:i] + string(d) + strings.Repeat("0", len(digits)-i-1)
			if n, _ := strconv.ParseUint(low, 10, 64); n > max || len(low) != 20 {
				return nil
			}
			err = tx.Scan(append(append([]byte(nil), base...), digits[:i]+string(d)...), fn)
		}
	}
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}
