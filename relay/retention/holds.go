package retention

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"parley/relay/audit"
	"parley/relay/store"
)

// SubjectKind is what a legal hold is placed on.
type SubjectKind string

// Subject kinds.
const (
	SubjectCustomer     SubjectKind = "customer"
	SubjectMeeting      SubjectKind = "meeting"
	SubjectConversation SubjectKind = "conversation"
	SubjectDocument     SubjectKind = "document"
)

// Valid reports whether k is a known subject kind.
func (k SubjectKind) Valid() bool {
	switch k {
	case SubjectCustomer, SubjectMeeting, SubjectConversation, SubjectDocument:
		return true
	}
	return false
}

// maxSubjectID bounds a subject id's length.
const maxSubjectID = 128

// validID reports whether id is a plausible pseudonymous id: 1 to 128
// letters, digits, '-', '_' or '.'.
func validID(id string) bool {
	if id == "" || len(id) > maxSubjectID {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// Hold is a legal hold: while it exists, no retention rule deletes or
// anonymises the subject's data.
type Hold struct {
	// ID identifies the hold.
	ID string `json:"id"`
	// TenantID is the tenant.
	TenantID string `json:"tenant_id"`
	// SubjectKind is the kind of what is held.
	SubjectKind SubjectKind `json:"subject_kind"`
	// SubjectID is the pseudonymous id of what is held.
	SubjectID string `json:"subject_id"`
	// Reason is the admin's reason (required).
	Reason string `json:"reason"`
	// PlacedBy is the admin's user id.
	PlacedBy string `json:"placed_by"`
	// PlacedAt is when it was placed.
	PlacedAt time.Time `json:"placed_at"`
}

func holdKey(tenantID, id string) []byte { return []byte(holdPrefix + tenantID + "/" + id) }

func holdIndexKey(h Hold) []byte {
	return []byte(holdIndex + h.TenantID + "/" + string(h.SubjectKind) + "/" + h.SubjectID + "/" + h.ID)
}

// PlaceHold places a legal hold on a subject of the tenant. The reason is
// required. The hold is audited (retention.hold.place with the subject's
// kind and id; the reason stays in the hold).
func (p *Policy) PlaceHold(ctx context.Context, tenantID string, actor Actor, kind SubjectKind, subjectID, reason string) (Hold, error) {
	if !actor.Admin {
		return Hold{}, ErrForbidden
	}
	if !kind.Valid() || !validID(subjectID) {
		return Hold{}, ErrInvalidSubject
	}
	reason, err := checkReason(reason)
	if err != nil {
		return Hold{}, err
	}
	if reason == "" {
		return Hold{}, ErrReasonRequired
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails
	h := Hold{ID: "hold_" + hex.EncodeToString(b), TenantID: tenantID, SubjectKind: kind, SubjectID: subjectID,
		Reason: reason, PlacedBy: actor.UserID, PlacedAt: p.clk.Now().UTC()}
	v, err := json.Marshal(h)
	if err != nil {
		return Hold{}, err
	}
	err = p.kv.Update(ctx, func(tx store.Txn) error {
		if err := tx.Set(holdKey(tenantID, h.ID), v); err != nil {
			return err
		}
		return tx.Set(holdIndexKey(h), []byte{1})
	})
	if err != nil {
		return Hold{}, fmt.Errorf("retention: placing hold: %w", err)
	}
	if _, err := p.audit.Append(ctx, audit.Record{TenantID: tenantID, Actor: actor.UserID, Action: "retention.hold.place", Target: h.ID,
		Details: map[string]string{"subject_kind": string(kind), "subject_id": subjectID}}); err != nil {
		return h, fmt.Errorf("retention: auditing hold: %w", err)
	}
	p.log.Info("legal hold placed", "tenant_id", tenantID, "user_id", actor.UserID, "hold_id", h.ID, "subject_kind", kind)
	return h, nil
}

// ReleaseHold removes a hold of the tenant; a hold id of another tenant is
// ErrNotFound. The release is audited (retention.hold.release).
func (p *Policy) ReleaseHold(ctx context.Context, tenantID string, actor Actor, holdID string) error {
	if !actor.Admin {
		return ErrForbidden
	}
	if !validID(holdID) {
		return ErrNotFound
	}
	var h Hold
	err := p.kv.Update(ctx, func(tx store.Txn) error {
		b, err := tx.Get(holdKey(tenantID, holdID))
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &h); err != nil {
			return fmt.Errorf("decode hold: %w", err)
		}
		if err := tx.Delete(holdKey(tenantID, holdID)); err != nil {
			return err
		}
		return tx.Delete(holdIndexKey(h))
	})
	if errors.Is(err, ErrNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("retention: releasing hold: %w", err)
	}
	if _, err := p.audit.Append(ctx, audit.Record{TenantID: tenantID, Actor: actor.UserID, Action: "retention.hold.release", Target: h.ID,
		Details: map[string]string{"subject_kind": string(h.SubjectKind), "subject_id": h.SubjectID}}); err != nil {
		return fmt.Errorf("retention: auditing hold release: %w", err)
	}
	p.log.Info("legal hold released", "tenant_id", tenantID, "user_id", actor.UserID, "hold_id", h.ID)
	return nil
}

// Held reports whether the subject is under at least one hold. When the
// store cannot be read it answers true, so that a failing store keeps data
// rather than deleting it.
func (p *Policy) Held(ctx context.Context, tenantID string, kind SubjectKind, subjectID string) bool {
	held := false
	err := p.kv.View(ctx, func(tx store.Txn) error {
		prefix := []byte(holdIndex + tenantID + "/" + string(kind) + "/" + subjectID + "/")
		return tx.Scan(prefix, func(_, _ []byte) error {
			held = true
			return errStop
		})
	})
	if err != nil && !errors.Is(err, errStop) {
		p.log.Error("reading legal holds failed; treating the subject as held", "tenant_id", tenantID, "subject_kind", kind, "error", err)
		return true
	}
	return held
}

var errStop = errors.New("stop")

// ListHolds returns the tenant's holds, oldest first.
func (p *Policy) ListHolds(ctx context.Context, tenantID string) ([]Hold, error) {
	var out []Hold
	err := p.kv.View(ctx, func(tx store.Txn) error {
		out = out[:0]
		return tx.Scan([]byte(holdPrefix+tenantID+"/"), func(_, v []byte) error {
			var h Hold
			if err := json.Unmarshal(v, &h); err != nil {
				return fmt.Errorf("decode hold: %w", err)
			}
			out = append(out, h)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("retention: listing holds: %w", err)
	}
	sortHolds(out)
	return out, nil
}

func sortHolds(hs []Hold) {
	slices.SortFunc(hs, func(a, b Hold) int {
		if c := a.PlacedAt.Compare(b.PlacedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
