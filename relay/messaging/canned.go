package messaging

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// CannedResponse is a prepared answer, an advisor's own or the tenant's.
type CannedResponse struct {
	// ID is random (32 hex digits).
	ID string `json:"id"`
	// AdvisorID is the owning advisor; empty for a tenant-wide response.
	AdvisorID string `json:"advisor_id,omitempty"`
	// Title names the response in the picker (1–MaxTitleRunes).
	Title string `json:"title"`
	// Text is inserted into the message (1–MaxCannedRunes).
	Text string `json:"text"`
	// Created is when it was created.
	Created time.Time `json:"created"`
	// Updated is when it was last changed.
	Updated time.Time `json:"updated"`
}

// CannedInput is what PutCanned stores.
type CannedInput struct {
	// ID is empty to create a response, or the response to replace.
	ID string
	// TenantWide makes the response the tenant's (admins only) instead of
	// the actor's own.
	TenantWide bool
	// Title names the response.
	Title string
	// Text is the response's text.
	Text string
}

func cannedOwner(a Actor, tenantWide bool) (string, error) {
	if !a.valid() || a.Role == RoleCustomer {
		return "", ErrForbidden
	}
	if tenantWide {
		if a.Role != RoleAdmin {
			return "", ErrForbidden
		}
		return "", nil
	}
	return a.UserID, nil
}

// PutCanned creates or replaces a canned response: the actor's own, or a
// tenant-wide one (admins).
func (s *Service) PutCanned(ctx context.Context, a Actor, in CannedInput) (CannedResponse, error) {
	owner, err := cannedOwner(a, in.TenantWide)
	if err != nil {
		return CannedResponse{}, wrap("put canned response", err)
	}
	title := strings.TrimSpace(in.Title)
	if title == "" || strings.ContainsAny(title, "\n\r\t") {
		return CannedResponse{}, wrap("put canned response", invalid("title", "must be one line of text"))
	}
	if err := checkText("title", title, MaxTitleRunes); err != nil {
		return CannedResponse{}, wrap("put canned response", err)
	}
	if strings.TrimSpace(in.Text) == "" {
		return CannedResponse{}, wrap("put canned response", invalid("text", "empty"))
	}
	if err := checkText("text", in.Text, MaxCannedRunes); err != nil {
		return CannedResponse{}, wrap("put canned response", err)
	}
	if in.ID != "" && !ids.Valid(in.ID) {
		return CannedResponse{}, wrap("put canned response", ErrNotFound)
	}
	var out CannedResponse
	err = s.group.Do(ctx, func(tx store.Txn) error {
		now := s.clock.Now().UTC()
		out = CannedResponse{ID: in.ID, AdvisorID: owner, Title: title, Text: in.Text, Created: now, Updated: now}
		key := append(cannedPrefix(a.TenantID, owner), in.ID...)
		if in.ID == "" {
			out.ID = ids.New()
			key = append(cannedPrefix(a.TenantID, owner), out.ID...)
		} else {
			var old cannedRecord
			err := getJSON(tx, key, &old)
			if errors.Is(err, store.ErrNotFound) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			out.Created = old.Created
		}
		return putJSON(tx, key, cannedRecord{out})
	})
	if err != nil {
		return CannedResponse{}, wrap("put canned response", err)
	}
	return out, nil
}

// ListCanned returns the canned responses an advisor may use, their own
// and the tenant's, by title.
func (s *Service) ListCanned(ctx context.Context, a Actor) ([]CannedResponse, error) {
	if !a.valid() || a.Role == RoleCustomer {
		return nil, wrap("list canned responses", ErrForbidden)
	}
	var out []CannedResponse
	err := s.kv.View(ctx, func(tx store.Txn) error {
		out = out[:0]
		for _, p := range [][]byte{cannedPrefix(a.TenantID, a.UserID), cannedPrefix(a.TenantID, "")} {
			err := tx.Scan(p, func(k, v []byte) error {
				var r cannedRecord
				if err := decode(k, v, &r); err != nil {
					return err
				}
				out = append(out, r.CannedResponse)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap("list canned responses", err)
	}
	slices.SortFunc(out, func(x, y CannedResponse) int {
		return cmp.Or(cmp.Compare(strings.ToLower(x.Title), strings.ToLower(y.Title)), cmp.Compare(x.ID, y.ID))
	})
	return out, nil
}

// DeleteCanned deletes one of the actor's canned responses, or a
// tenant-wide one (admins).
func (s *Service) DeleteCanned(ctx context.Context, a Actor, id string, tenantWide bool) error {
	owner, err := cannedOwner(a, tenantWide)
	if err != nil {
		return wrap("delete canned response", err)
	}
	if !ids.Valid(id) {
		return wrap("delete canned response", ErrNotFound)
	}
	err = s.group.Do(ctx, func(tx store.Txn) error {
		key := append(cannedPrefix(a.TenantID, owner), id...)
		if _, err := tx.Get(key); errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		return tx.Delete(key)
	})
	return wrap("delete canned response", err)
}
