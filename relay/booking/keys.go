package booking

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// Key layout. Every key starts with "booking/"; ids are random hex or the
// caller's tenant and user ids (checked by validRef), dates are the
// advisor's local dates; no key contains personal data.
//
//	booking/type/<tenant>/<advisor>/<typeID>      AppointmentType
//	booking/avail/<tenant>/<advisor>              Availability
//	booking/page/<pageID>                         Page
//	booking/pageof/<tenant>/<advisor>             pageID
//	booking/b/<bookingID>                         bookingRecord
//	booking/det/<bookingID>                       Details, JSON sealed by Profiles.SealTx
//	booking/manage/<sha256(manage token)>         bookingID
//	booking/adv/<tenant>/<advisor>/<start, 20 digits unix ns>/<bookingID>
//	                                              empty (an advisor's bookings by start, cancelled included)
//	booking/day/<tenant>/<advisor>/<YYYY-MM-DD>/<bookingID>
//	                                              dayEntry (confirmed bookings, one entry per local
//	                                              date their buffered interval touches)
//	booking/cust/<tenant>/<customerID>/<bookingID> empty (a customer's bookings)
//	booking/hold/<tenant>/<advisor>/<sha256(hold token)>
//	                                              holdRecord (stored with a TTL for garbage collection)
//	booking/idem/<scope>/<sha256(idempotency key)> idemRecord; scope is "p/<pageID>" for Book
//	                                              and "a/<tenant>/<advisor>" for BookFor
//	booking/lock/<tenant>/<advisor>/<YYYY-MM-DD>  last writer's time; read and written by every
//	                                              transaction that books, holds or moves a slot
//	                                              touching that local date
const (
	prefix       = "booking/"
	prefixType   = "booking/type/"
	prefixAvail  = "booking/avail/"
	prefixPage   = "booking/page/"
	prefixPageOf = "booking/pageof/"
	prefixB      = "booking/b/"
	prefixDet    = "booking/det/"
	prefixManage = "booking/manage/"
	prefixAdv    = "booking/adv/"
	prefixDay    = "booking/day/"
	prefixCust   = "booking/cust/"
	prefixHold   = "booking/hold/"
	prefixIdem   = "booking/idem/"
	prefixLock   = "booking/lock/"
)

func typePrefix(t, a string) []byte  { return []byte(prefixType + t + "/" + a + "/") }
func typeKey(t, a, id string) []byte { return append(typePrefix(t, a), id...) }
func availKey(t, a string) []byte    { return []byte(prefixAvail + t + "/" + a) }
func pageKey(id string) []byte       { return []byte(prefixPage + id) }
func pageOfKey(t, a string) []byte   { return []byte(prefixPageOf + t + "/" + a) }
func bookingKey(id string) []byte    { return []byte(prefixB + id) }
func detKey(id string) []byte        { return []byte(prefixDet + id) }
func manageKey(hash string) []byte   { return []byte(prefixManage + hash) }
func advPrefix(t, a string) []byte   { return []byte(prefixAdv + t + "/" + a + "/") }
func dayPrefix(t, a string, d date) []byte {
	return []byte(prefixDay + t + "/" + a + "/" + d.String() + "/")
}
func custPrefix(t, c string) []byte      { return []byte(prefixCust + t + "/" + c + "/") }
func holdPrefix(t, a string) []byte      { return []byte(prefixHold + t + "/" + a + "/") }
func lockKey(t, a string, d date) []byte { return []byte(prefixLock + t + "/" + a + "/" + d.String()) }

func advKey(b *bookingRecord) []byte {
	return fmt.Appendf(advPrefix(b.TenantID, b.AdvisorID), "%020d/%s", b.Start.UnixNano(), b.ID)
}

func idemKey(scope, key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return []byte(prefixIdem + scope + "/" + hex.EncodeToString(sum[:]))
}

// Token prefixes.
const (
	// ManageTokenPrefix starts every manage token (the secret of the
	// customer's cancel/reschedule link).
	ManageTokenPrefix = "pbk_"
	// HoldTokenPrefix starts every hold token.
	HoldTokenPrefix = "pbh_"
)

// bookingRecord is the stored form of a booking.
type bookingRecord struct {
	Booking
	PageID     string    `json:"page_id,omitempty"`
	BlockStart time.Time `json:"block_start"`
	BlockEnd   time.Time `json:"block_end"`
	ManageHash string    `json:"manage_hash"`
	IdemKey    string    `json:"idem_key,omitempty"` // the full store key, for the sweep
}

// dayEntry is what the day index says about a confirmed booking.
type dayEntry struct {
	TypeID     string    `json:"t"`
	Start      time.Time `json:"s"`
	BlockStart time.Time `json:"bs"`
	BlockEnd   time.Time `json:"be"`
}

// holdRecord is a hold on a slot.
type holdRecord struct {
	PageID     string    `json:"page_id"`
	TypeID     string    `json:"type_id"`
	Start      time.Time `json:"start"`
	BlockStart time.Time `json:"block_start"`
	BlockEnd   time.Time `json:"block_end"`
	Expires    time.Time `json:"expires"`
}

// idemRecord remembers the booking an idempotency key made and its
// manage token, sealed with the customer's key.
type idemRecord struct {
	BookingID   string `json:"booking_id"`
	CustomerID  string `json:"customer_id"`
	SealedToken []byte `json:"sealed_token"`
	// Request is the digest of the request that made the booking.
	Request string `json:"request"`
}

// getJSON reads key into v; store.ErrNotFound passes through.
func getJSON(tx store.Txn, key []byte, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("booking: decode %s record: %w", keyKind(key), err)
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

// getBooking reads a booking record; an unknown id is ErrNotFound.
func getBooking(tx store.Txn, id string) (*bookingRecord, error) {
	if !ids.Valid(id) {
		return nil, ErrNotFound
	}
	var r bookingRecord
	err := getJSON(tx, bookingKey(id), &r)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// lastSegment returns what follows the last "/" of a key.
func lastSegment(k []byte) string {
	s := string(k)
	return s[strings.LastIndexByte(s, '/')+1:]
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
