package meeting

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// Key layout. Every key starts with "meeting/"; ids are random hex; no key
// contains personal data.
//
//	meeting/m/<meetingID>           meetingRecord (with its participants)
//	meeting/link/<sha256(token)>    meetingID (the current join token only)
//	meeting/secret/<sha256(secret)> secretRecord (meeting and participant id)
//	meeting/meta/<meetingID>        metadataRecord (class meeting_metadata)
//	meeting/adv/<tenantID>/<advisorID>/<created, 20 digits>/<meetingID>
//	                                empty (an advisor's meetings, oldest first)
//	meeting/cust/<tenantID>/<customerID>/<created, 20 digits>/<meetingID>
//	                                empty (a customer's meetings, oldest first)
const (
	prefixMeeting  = "meeting/m/"
	prefixLink     = "meeting/link/"
	prefixSecret   = "meeting/secret/"
	prefixMeta     = "meeting/meta/"
	prefixAdvisor  = "meeting/adv/"
	prefixCustomer = "meeting/cust/"
)

func customerPrefix(tenantID, customerID string) []byte {
	return []byte(prefixCustomer + tenantID + "/" + customerID + "/")
}

func customerKey(r *meetingRecord) []byte {
	return fmt.Appendf(customerPrefix(r.TenantID, r.CustomerID), "%020d/%s", r.Created.UnixNano(), r.ID)
}

func advisorPrefix(tenantID, advisorID string) []byte {
	return []byte(prefixAdvisor + tenantID + "/" + advisorID + "/")
}

func advisorKey(r *meetingRecord) []byte {
	return fmt.Appendf(advisorPrefix(r.TenantID, r.AdvisorID), "%020d/%s", r.Created.UnixNano(), r.ID)
}

func meetingKey(id string) []byte     { return []byte(prefixMeeting + id) }
func linkKey(hash string) []byte      { return []byte(prefixLink + hash) }
func secretKey(hash string) []byte    { return []byte(prefixSecret + hash) }
func metaKey(meetingID string) []byte { return []byte(prefixMeta + meetingID) }

// Token prefixes.
const (
	// JoinTokenPrefix starts every join token (the secret part of a join
	// link).
	JoinTokenPrefix = "pmj_"
	// SecretPrefix starts every participant secret.
	SecretPrefix = "pmp_"
)

// State is where a participant is.
type State string

// The participant states.
const (
	// StateWaiting: in the waiting room.
	StateWaiting State = "waiting"
	// StateAdmitted: in the meeting.
	StateAdmitted State = "admitted"
	// StateRejected: turned away from the waiting room.
	StateRejected State = "rejected"
	// StateRemoved: removed from the meeting by the advisor.
	StateRemoved State = "removed"
	// StateLeft: the customer left the waiting room or the meeting.
	StateLeft State = "left"
	// StateEnded: the meeting ended while the participant was waiting or
	// admitted (ParticipantBySecret reports it for everyone once the
	// meeting has ended).
	StateEnded State = "ended"
)

// participantRecord is a participant inside a meetingRecord. Name is
// dropped when the meeting's metadata is anonymised; Phone when the meeting
// ends.
type participantRecord struct {
	ID         string    `json:"id"`
	SecretHash string    `json:"secret_hash"`
	Name       string    `json:"name,omitempty"`
	Phone      string    `json:"phone,omitempty"`
	State      State     `json:"state"`
	Joined     time.Time `json:"joined"`
	Admitted   time.Time `json:"admitted,omitzero"`
	Left       time.Time `json:"left,omitzero"`
}

// meetingRecord is the stored form of a meeting.
type meetingRecord struct {
	ID             string              `json:"id"`
	TenantID       string              `json:"tenant_id"`
	AdvisorID      string              `json:"advisor_id"`
	CustomerID     string              `json:"customer_id,omitempty"`
	Type           Type                `json:"type"`
	Status         Status              `json:"status"`
	Title          string              `json:"title,omitempty"`
	Created        time.Time           `json:"created"`
	ScheduledStart time.Time           `json:"scheduled_start,omitzero"`
	Started        time.Time           `json:"started,omitzero"`
	Ended          time.Time           `json:"ended,omitzero"`
	LinkHash       string              `json:"link_hash,omitempty"`
	LinkOpensAt    time.Time           `json:"link_opens_at"`
	LinkExpiresAt  time.Time           `json:"link_expires_at"`
	Participants   []participantRecord `json:"participants,omitempty"`
}

func (r *meetingRecord) public() Meeting {
	return Meeting{
		ID: r.ID, TenantID: r.TenantID, AdvisorID: r.AdvisorID, CustomerID: r.CustomerID, Type: r.Type, Status: r.Status,
		Title: r.Title, Created: r.Created, ScheduledStart: r.ScheduledStart,
		Started: r.Started, Ended: r.Ended, LinkOpensAt: r.LinkOpensAt, LinkExpiresAt: r.LinkExpiresAt,
	}
}

func (r *meetingRecord) participant(id string) *participantRecord {
	for i := range r.Participants {
		if r.Participants[i].ID == id {
			return &r.Participants[i]
		}
	}
	return nil
}

func (r *meetingRecord) count(st State) int {
	n := 0
	for _, p := range r.Participants {
		if p.State == st {
			n++
		}
	}
	return n
}

// secretRecord is stored under a participant secret's hash.
type secretRecord struct {
	MeetingID     string `json:"meeting_id"`
	ParticipantID string `json:"participant_id"`
}

// getJSON reads key into v; store.ErrNotFound passes through.
func getJSON(tx store.Txn, key []byte, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	if err := jsonUnmarshal(b, v); err != nil {
		return fmt.Errorf("meeting: decode %s record: %w", keyKind(key), err)
	}
	return nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

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
	rest := strings.TrimPrefix(string(key), "meeting/")
	kind, _, _ := strings.Cut(rest, "/")
	return kind
}

// getMeeting reads a meeting record; an unknown id is ErrNotFound.
func getMeeting(tx store.Txn, id string) (*meetingRecord, error) {
	if !ids.Valid(id) {
		return nil, ErrNotFound
	}
	var r meetingRecord
	err := getJSON(tx, meetingKey(id), &r)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func putMeeting(tx store.Txn, r *meetingRecord) error { return putJSON(tx, meetingKey(r.ID), r) }
