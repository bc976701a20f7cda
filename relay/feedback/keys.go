package feedback

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// Key layout. Every key starts with "feedback/"; ids are random hex or the
// caller's tenant ids (checked by ids.ValidRef), months are UTC; no key
// contains personal data.
//
//	feedback/r/<meetingID>                        record (one request per meeting)
//	feedback/token/<sha256(token)>                meetingID
//	feedback/cust/<tenant>/<customerID>/<meetingID> empty (a customer's requests)
//	feedback/count/<tenant>/<YYYY-MM>             counter (answers of the month, no ids)
const (
	prefix      = "feedback/"
	prefixR     = "feedback/r/"
	prefixToken = "feedback/token/"
	prefixCust  = "feedback/cust/"
	prefixCount = "feedback/count/"
)

func recordKey(meetingID string) []byte { return []byte(prefixR + meetingID) }
func tokenKey(hash string) []byte       { return []byte(prefixToken + hash) }
func custPrefix(t, c string) []byte     { return []byte(prefixCust + t + "/" + c + "/") }
func custKey(t, c, m string) []byte     { return append(custPrefix(t, c), m...) }
func countPrefix(t string) []byte       { return []byte(prefixCount + t + "/") }
func countKey(t, month string) []byte   { return append(countPrefix(t), month...) }

// record is the stored form of a feedback request.
type record struct {
	MeetingID    string    `json:"meeting_id"`
	TenantID     string    `json:"tenant_id"`
	AdvisorID    string    `json:"advisor_id"`
	CustomerID   string    `json:"customer_id"`
	Lang         string    `json:"lang"`
	Consent      Consent   `json:"consent"`
	MeetingEnded time.Time `json:"meeting_ended"`
	Created      time.Time `json:"created"`
	Sent         time.Time `json:"sent,omitzero"`
	Expires      time.Time `json:"expires"`
	TokenHash    string    `json:"token_hash"`
	// SealedToken is the link's token sealed with the customer's key, so
	// that the mail, rendered when the outbox job runs, can carry it.
	SealedToken []byte    `json:"sealed_token,omitempty"`
	Answered    time.Time `json:"answered,omitzero"`
	Rating      int       `json:"rating,omitempty"`
	// SealedText is the comment sealed with the customer's key.
	SealedText []byte `json:"sealed_text,omitempty"`
}

// counter is one tenant's answers of one month.
type counter struct {
	// Answers counts the answers.
	Answers int `json:"n"`
	// Sum adds up their ratings.
	Sum int `json:"sum"`
	// Ratings counts the answers per rating (index 0 is rating 1).
	Ratings [5]int `json:"ratings"`
}

// deadline is when the record is deleted: the answer's retention
// deadline, or the link's expiry while unanswered.
func (s *Service) deadline(r *record) time.Time {
	if r.Answered.IsZero() {
		return r.Expires
	}
	return r.Answered.Add(s.retention(r.TenantID))
}

// due reports whether r is past its deadline at now (holds not counted).
func (s *Service) due(r *record, now time.Time) bool { return !now.Before(s.deadline(r)) }

func getJSON(tx store.Txn, key []byte, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("feedback: decode %s record: %w", keyKind(key), err)
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
	kind, _, _ := strings.Cut(strings.TrimPrefix(string(key), prefix), "/")
	return kind
}

// getRecord reads a meeting's record; an unknown or malformed id is
// ErrNotFound.
func getRecord(tx store.Txn, meetingID string) (*record, error) {
	if !ids.Valid(meetingID) {
		return nil, ErrNotFound
	}
	var r record
	err := getJSON(tx, recordKey(meetingID), &r)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// deleteRecord removes a record with its link and index entry (the
// monthly counters stay: they hold no ids).
func deleteRecord(tx store.Txn, r *record) error {
	for _, k := range [][]byte{recordKey(r.MeetingID), tokenKey(r.TokenHash), custKey(r.TenantID, r.CustomerID, r.MeetingID)} {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// lastSegment returns what follows the last "/" of a key.
func lastSegment(k []byte) string {
	s := string(k)
	return s[strings.LastIndexByte(s, '/')+1:]
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
