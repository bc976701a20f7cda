package kiosk

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// Entry is a signer queued at a kiosk: the customer signer whose turn it
// is in a process, to be picked up with a pickup code.
type Entry struct {
	// ID is random (32 hex digits).
	ID string `json:"entry_id"`
	// KioskID is the kiosk.
	KioskID string `json:"kiosk_id"`
	// TenantID is the tenant of the kiosk and the process.
	TenantID string `json:"-"`
	// ProcessID is the signature process.
	ProcessID string `json:"process_id"`
	// Role is the signer's role ("customer1" …).
	Role string `json:"role"`
	// AdvisorID is the advisor who queued it.
	AdvisorID string `json:"advisor_id"`
	// Queued is when it was queued.
	Queued time.Time `json:"queued_at"`
	// Expires is when the entry and its code die (Queued + EntryTTL).
	Expires time.Time `json:"expires_at"`
}

// entryRecord is an Entry as stored, with its code's salted digest.
type entryRecord struct {
	Entry
	TenantID   string `json:"tenant_id"`
	CodeSalt   []byte `json:"code_salt"`
	CodeDigest []byte `json:"code_digest"`
}

func (r *entryRecord) public() Entry {
	e := r.Entry
	e.TenantID = r.TenantID
	return e
}

// liveEntries reads the kiosk's entries that have not expired.
func liveEntries(tx store.Txn, kioskID string, now time.Time) ([]entryRecord, error) {
	var out []entryRecord
	err := tx.Scan(queuePrefix(kioskID), func(_, v []byte) error {
		var r entryRecord
		if err := jsonUnmarshal(v, &r); err != nil {
			return fmt.Errorf("kiosk: decode entry: %w", err)
		}
		if now.Before(r.Expires) {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// dropEntry deletes an entry and its process index (when it still points
// at it).
func dropEntry(tx store.Txn, r *entryRecord) error {
	if err := tx.Delete(queueKey(r.KioskID, r.ID)); err != nil {
		return err
	}
	pk := processKey(r.TenantID, r.ProcessID)
	if v, err := tx.Get(pk); err == nil && string(v) == r.KioskID+"/"+r.ID {
		return tx.Delete(pk)
	}
	return nil
}

// Queue puts a process's signer into a kiosk's queue and returns the
// entry and its pickup code (6 digits, shown only now, valid EntryTTL,
// single use). Queueing the same process again replaces its entry, at
// this or another kiosk of the tenant. The caller checks that the process
// and signer may be queued (the signing service).
func (s *Service) Queue(ctx context.Context, tenantID, kioskID, processID, role, advisorID string) (Entry, string, error) {
	if !ids.Valid(processID) || role == "" || len(role) > 32 || !ids.ValidRef(advisorID) {
		return Entry{}, "", fmt.Errorf("kiosk: queue: %w", &InputError{Field: "process", Msg: "a process id, a role and an advisor are required"})
	}
	var out Entry
	var code string
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		if _, err := device(tx, tenantID, kioskID); err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		if v, err := tx.Get(processKey(tenantID, processID)); err == nil {
			kid, eid, _ := strings.Cut(string(v), "/")
			var old entryRecord
			if err := getJSON(tx, queueKey(kid, eid), &old); err == nil {
				if err := dropEntry(tx, &old); err != nil {
					return err
				}
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		live, err := liveEntries(tx, kioskID, now)
		if err != nil {
			return err
		}
		// A code no other live entry of the kiosk answers to.
		for {
			code = newCode()
			clash := false
			for i := range live {
				if subtle.ConstantTimeCompare(codeDigest(live[i].CodeSalt, code), live[i].CodeDigest) == 1 {
					clash = true
				}
			}
			if !clash {
				break
			}
		}
		salt := make([]byte, 16)
		rand.Read(salt) // never fails since Go 1.24
		r := entryRecord{Entry: Entry{ID: ids.New(), KioskID: kioskID, ProcessID: processID, Role: role, AdvisorID: advisorID,
			Queued: now, Expires: now.Add(EntryTTL)}, TenantID: tenantID, CodeSalt: salt, CodeDigest: codeDigest(salt, code)}
		if err := putJSONTTL(tx, queueKey(kioskID, r.ID), r, EntryTTL+entryKeepExtra); err != nil {
			return err
		}
		if err := tx.SetWithTTL(processKey(tenantID, processID), []byte(kioskID+"/"+r.ID), EntryTTL+entryKeepExtra); err != nil {
			return err
		}
		out = r.public()
		return nil
	})
	if err != nil {
		return Entry{}, "", fmt.Errorf("kiosk: queue: %w", err)
	}
	s.log.Info("kiosk: signer queued", "kiosk_id", kioskID, "entry_id", out.ID, "process_id", processID, "role", role)
	return out, code, nil
}

// Entries lists a kiosk's live entries, oldest first.
func (s *Service) Entries(ctx context.Context, tenantID, kioskID string) ([]Entry, error) {
	out := []Entry{}
	err := s.kv.View(ctx, func(tx store.Txn) error {
		if _, err := device(tx, tenantID, kioskID); err != nil {
			return err
		}
		live, err := liveEntries(tx, kioskID, s.clock.Now())
		for i := range live {
			out = append(out, live[i].public())
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("kiosk: entries of %s: %w", kioskID, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queued.Before(out[j].Queued) })
	return out, nil
}

// Open takes the entry a pickup code belongs to off the kiosk's queue
// (single use) and returns it. A code that matches no live entry is
// ErrInvalidCode; after MaxAttempts wrong codes in AttemptWindow every
// attempt is a *WaitError until the window ends.
func (s *Service) Open(ctx context.Context, tenantID, kioskID, code string) (Entry, error) {
	var out Entry
	wrong := false
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		wrong = false
		if _, err := device(tx, tenantID, kioskID); err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		a, err := gate(tx, kioskID, attemptCode, now)
		if err != nil {
			return err
		}
		live, err := liveEntries(tx, kioskID, now)
		if err != nil {
			return err
		}
		var hit *entryRecord
		if digits(code, 6, 6) {
			for i := range live {
				if subtle.ConstantTimeCompare(codeDigest(live[i].CodeSalt, code), live[i].CodeDigest) == 1 && hit == nil {
					hit = &live[i]
				}
			}
		}
		if hit == nil {
			wrong = true
			return fail(tx, kioskID, attemptCode, a, now)
		}
		out = hit.public()
		return dropEntry(tx, hit)
	})
	if err == nil && wrong {
		err = ErrInvalidCode
	}
	if err != nil {
		return Entry{}, fmt.Errorf("kiosk: open at %s: %w", kioskID, err)
	}
	s.log.Info("kiosk: entry opened", "kiosk_id", kioskID, "entry_id", out.ID, "process_id", out.ProcessID)
	return out, nil
}
