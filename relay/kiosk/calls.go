package kiosk

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// CallStatus is where a "talk to an advisor" call stands.
type CallStatus string

// Call statuses.
const (
	// CallWaiting: no advisor has accepted yet.
	CallWaiting CallStatus = "waiting"
	// CallAccepted: an advisor accepted; the call has a meeting.
	CallAccepted CallStatus = "accepted"
	// CallUnanswered: nobody accepted within CallTimeout (computed on
	// read).
	CallUnanswered CallStatus = "unanswered"
	// CallCancelled: the kiosk cancelled it.
	CallCancelled CallStatus = "cancelled"
)

// Call is a kiosk's request to talk to an advisor.
type Call struct {
	// ID is random (32 hex digits).
	ID string `json:"id"`
	// KioskID is the calling kiosk.
	KioskID string `json:"kiosk_id"`
	// TenantID is the kiosk's tenant.
	TenantID string `json:"-"`
	// Status is waiting, accepted, unanswered or cancelled.
	Status CallStatus `json:"status"`
	// Created is when the kiosk called.
	Created time.Time `json:"created_at"`
	// AdvisorID is the advisor who accepted.
	AdvisorID string `json:"advisor_id,omitempty"`
	// MeetingID is the meeting the accepting advisor hosts.
	MeetingID string `json:"meeting_id,omitempty"`
	// Secret is the kiosk's participant secret in that meeting; Call
	// returns it once (the kiosk's first poll after the acceptance), then
	// never again.
	Secret string `json:"participant_secret,omitempty"`
}

// callRecord is a call as stored.
type callRecord struct {
	Call
	TenantID  string    `json:"tenant_id"`
	ClaimedBy string    `json:"claimed_by,omitempty"`
	Claimed   time.Time `json:"claimed,omitzero"`
	SecretOut string    `json:"secret,omitempty"`
}

// claimTimeout frees a claim whose acceptance never completed.
const claimTimeout = 30 * time.Second

// view computes the call's status at now.
func (r *callRecord) view(now time.Time) Call {
	c := r.Call
	c.TenantID = r.TenantID
	c.Secret = ""
	if c.Status == CallWaiting && !now.Before(c.Created.Add(CallTimeout)) && !r.claimed(now) {
		c.Status = CallUnanswered
	}
	return c
}

func (r *callRecord) claimed(now time.Time) bool {
	return r.ClaimedBy != "" && now.Before(r.Claimed.Add(claimTimeout))
}

func getCall(tx store.Txn, tenantID, id string) (*callRecord, error) {
	if !ids.Valid(id) {
		return nil, ErrNotFound
	}
	var r callRecord
	if err := getJSON(tx, callKey(id), &r); errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if r.TenantID != tenantID {
		return nil, ErrNotFound
	}
	return &r, nil
}

func putCall(tx store.Txn, r *callRecord) error {
	return putJSONTTL(tx, callKey(r.ID), r, callKeep)
}

// CreateCall asks the tenant's advisors to talk to the kiosk. A kiosk
// has at most one waiting call: calling again returns that one.
func (s *Service) CreateCall(ctx context.Context, tenantID, kioskID string) (Call, error) {
	var out Call
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		if _, err := device(tx, tenantID, kioskID); err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		var existing *Call
		if err := tx.Scan(callKioskPrefix(kioskID), func(k, _ []byte) error {
			r, err := getCall(tx, tenantID, lastSegment(k))
			if err != nil {
				return nil // expired meanwhile
			}
			if v := r.view(now); v.Status == CallWaiting && existing == nil {
				existing = &v
			}
			return nil
		}); err != nil {
			return err
		}
		if existing != nil {
			out = *existing
			return nil
		}
		r := &callRecord{Call: Call{ID: ids.New(), KioskID: kioskID, Status: CallWaiting, Created: now}, TenantID: tenantID}
		if err := putCall(tx, r); err != nil {
			return err
		}
		if err := tx.SetWithTTL(callKioskKey(kioskID, r.ID), nil, callKeep); err != nil {
			return err
		}
		if err := tx.SetWithTTL(callTenantKey(tenantID, r.ID), nil, callKeep); err != nil {
			return err
		}
		out = r.view(now)
		return nil
	})
	if err != nil {
		return Call{}, fmt.Errorf("kiosk: call from %s: %w", kioskID, err)
	}
	s.log.Info("kiosk: call requested", "kiosk_id", kioskID, "call_id", out.ID)
	return out, nil
}

// CallOf returns a call of the kiosk. The first read after the
// acceptance carries the participant secret; the record forgets it then.
func (s *Service) CallOf(ctx context.Context, tenantID, kioskID, id string) (Call, error) {
	var out Call
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := getCall(tx, tenantID, id)
		if err != nil {
			return err
		}
		if r.KioskID != kioskID {
			return ErrNotFound
		}
		out = r.view(s.clock.Now())
		if r.SecretOut == "" {
			return nil
		}
		out.Secret, r.SecretOut = r.SecretOut, ""
		return putCall(tx, r)
	})
	if err != nil {
		return Call{}, fmt.Errorf("kiosk: call %s: %w", id, err)
	}
	return out, nil
}

// CancelCall cancels a waiting call of the kiosk (an acceptance in
// progress then fails). Cancelling a call that is over changes nothing;
// an accepted one is ErrTaken.
func (s *Service) CancelCall(ctx context.Context, tenantID, kioskID, id string) (Call, error) {
	var out Call
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := getCall(tx, tenantID, id)
		if err != nil {
			return err
		}
		if r.KioskID != kioskID {
			return ErrNotFound
		}
		now := s.clock.Now()
		switch r.view(now).Status {
		case CallAccepted:
			return ErrTaken
		case CallWaiting:
			r.Status = CallCancelled
			r.ClaimedBy = ""
			out = r.view(now)
			return putCall(tx, r)
		}
		out = r.view(now)
		return nil
	})
	if err != nil {
		return Call{}, fmt.Errorf("kiosk: cancel call %s: %w", id, err)
	}
	return out, nil
}

// WaitingCalls lists the tenant's calls that wait for an advisor, oldest
// first (calls being accepted right now are left out).
func (s *Service) WaitingCalls(ctx context.Context, tenantID string) ([]Call, error) {
	out := []Call{}
	if !ids.ValidRef(tenantID) {
		return out, nil
	}
	now := s.clock.Now()
	err := s.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan(callTenantPrefix(tenantID), func(k, _ []byte) error {
			r, err := getCall(tx, tenantID, lastSegment(k))
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if r.view(now).Status == CallWaiting && !r.claimed(now) {
				out = append(out, r.view(now))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("kiosk: waiting calls: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// Claim reserves a waiting call for an advisor, the first step of
// accepting it: the first advisor wins, everyone after gets ErrTaken
// (also for a call that is cancelled, unanswered or accepted). The caller
// then makes the meeting and calls Complete, or Release when that fails.
func (s *Service) Claim(ctx context.Context, tenantID, id, advisorID string) (Call, error) {
	var out Call
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := getCall(tx, tenantID, id)
		if err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		if r.view(now).Status != CallWaiting || r.claimed(now) {
			return ErrTaken
		}
		r.ClaimedBy, r.Claimed = advisorID, now
		out = r.view(now)
		return putCall(tx, r)
	})
	if err != nil {
		return Call{}, fmt.Errorf("kiosk: claim call %s: %w", id, err)
	}
	return out, nil
}

// Release gives up an advisor's claim (the meeting could not be made).
func (s *Service) Release(ctx context.Context, tenantID, id, advisorID string) error {
	return s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := getCall(tx, tenantID, id)
		if err != nil || r.ClaimedBy != advisorID {
			return err
		}
		r.ClaimedBy, r.Claimed = "", time.Time{}
		return putCall(tx, r)
	})
}

// Complete finishes an advisor's claim: the call is accepted with the
// meeting, and the kiosk's participant secret waits for its next poll. It
// is ErrTaken when the claim is gone (cancelled meanwhile, or it timed
// out and someone else claimed the call).
func (s *Service) Complete(ctx context.Context, tenantID, id, advisorID, meetingID, secret string) (Call, error) {
	var out Call
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		r, err := getCall(tx, tenantID, id)
		if err != nil {
			return err
		}
		if r.Status != CallWaiting || r.ClaimedBy != advisorID {
			return ErrTaken
		}
		r.Status, r.AdvisorID, r.MeetingID, r.SecretOut = CallAccepted, advisorID, meetingID, secret
		out = r.view(s.clock.Now())
		return putCall(tx, r)
	})
	if err != nil {
		return Call{}, fmt.Errorf("kiosk: complete call %s: %w", id, err)
	}
	s.log.Info("kiosk: call accepted", "call_id", id, "kiosk_id", out.KioskID, "meeting_id", meetingID, "user_id", advisorID)
	return out, nil
}
