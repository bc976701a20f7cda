package booking

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// checkActor checks the ids and that a manages the advisor's data.
func checkActor(a Actor, advisorID string) error {
	if !ids.ValidRef(a.TenantID) || !ids.ValidRef(a.UserID) {
		return invalid("actor", "malformed")
	}
	if !ids.ValidRef(advisorID) {
		return invalid("advisor_id", "malformed")
	}
	if !a.may(a.TenantID, advisorID) {
		return ErrForbidden
	}
	return nil
}

// PutType creates (t.ID empty) or updates an appointment type of the
// advisor and returns it as stored. Bookings keep the type's kind, name
// and buffers from when they were made.
func (s *Service) PutType(ctx context.Context, a Actor, advisorID string, t AppointmentType) (AppointmentType, error) {
	wrap := func(err error) (AppointmentType, error) {
		return AppointmentType{}, fmt.Errorf("booking: put type: %w", err)
	}
	if err := checkActor(a, advisorID); err != nil {
		return wrap(err)
	}
	t, err := cleanType(t, s.opts.HorizonDays)
	if err != nil {
		return wrap(err)
	}
	create := t.ID == ""
	if create {
		t.ID = ids.New()
	} else if !ids.Valid(t.ID) {
		return wrap(ErrNotFound)
	}
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		if !create {
			if _, err := tx.Get(typeKey(a.TenantID, advisorID, t.ID)); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return ErrNotFound
				}
				return err
			}
		} else {
			n := 0
			if err := tx.Scan(typePrefix(a.TenantID, advisorID), func(_, _ []byte) error { n++; return nil }); err != nil {
				return err
			}
			if n >= MaxTypesPerAdvisor {
				return invalid("type", "too many appointment types")
			}
		}
		return putJSON(tx, typeKey(a.TenantID, advisorID, t.ID), t)
	})
	if err != nil {
		return wrap(err)
	}
	s.log.Info("booking: type saved", "tenant_id", a.TenantID, "advisor_id", advisorID, "type_id", t.ID, "actor_id", a.UserID)
	return t, nil
}

// DeleteType removes an appointment type. Existing bookings stay.
func (s *Service) DeleteType(ctx context.Context, a Actor, advisorID, typeID string) error {
	if err := checkActor(a, advisorID); err != nil {
		return fmt.Errorf("booking: delete type: %w", err)
	}
	if !ids.Valid(typeID) {
		return fmt.Errorf("booking: delete type: %w", ErrNotFound)
	}
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		k := typeKey(a.TenantID, advisorID, typeID)
		if _, err := tx.Get(k); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrNotFound
			}
			return err
		}
		return tx.Delete(k)
	})
	if err != nil {
		return fmt.Errorf("booking: delete type: %w", err)
	}
	s.log.Info("booking: type deleted", "tenant_id", a.TenantID, "advisor_id", advisorID, "type_id", typeID, "actor_id", a.UserID)
	return nil
}

// TypesOf returns all of the advisor's types (active or not), by name.
func (s *Service) TypesOf(ctx context.Context, a Actor, advisorID string) ([]AppointmentType, error) {
	if err := checkActor(a, advisorID); err != nil {
		return nil, fmt.Errorf("booking: types: %w", err)
	}
	return s.types(ctx, a.TenantID, advisorID, false)
}

// Types returns the advisor's active types, by name, for the public page.
func (s *Service) Types(ctx context.Context, tenantID, advisorID string) ([]AppointmentType, error) {
	if !ids.ValidRef(tenantID) || !ids.ValidRef(advisorID) {
		return nil, fmt.Errorf("booking: types: %w", invalid("advisor_id", "malformed"))
	}
	return s.types(ctx, tenantID, advisorID, true)
}

func (s *Service) types(ctx context.Context, tenantID, advisorID string, activeOnly bool) ([]AppointmentType, error) {
	var out []AppointmentType
	err := s.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan(typePrefix(tenantID, advisorID), func(k, v []byte) error {
			var t AppointmentType
			if err := getJSONBytes(k, v, &t); err != nil {
				return err
			}
			if t.Active || !activeOnly {
				out = append(out, t)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("booking: types: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SetAvailability replaces the advisor's availability. Existing bookings
// stay where they are.
func (s *Service) SetAvailability(ctx context.Context, a Actor, advisorID string, av Availability) error {
	if err := checkActor(a, advisorID); err != nil {
		return fmt.Errorf("booking: set availability: %w", err)
	}
	if _, err := parseAvailability(av); err != nil {
		return fmt.Errorf("booking: set availability: %w", err)
	}
	if err := s.kv.Update(ctx, func(tx store.Txn) error {
		return putJSON(tx, availKey(a.TenantID, advisorID), av)
	}); err != nil {
		return fmt.Errorf("booking: set availability: %w", err)
	}
	s.log.Info("booking: availability saved", "tenant_id", a.TenantID, "advisor_id", advisorID, "actor_id", a.UserID)
	return nil
}

// Availability returns the advisor's availability; ErrNotFound when none
// was set.
func (s *Service) Availability(ctx context.Context, tenantID, advisorID string) (Availability, error) {
	if !ids.ValidRef(tenantID) || !ids.ValidRef(advisorID) {
		return Availability{}, fmt.Errorf("booking: availability: %w", invalid("advisor_id", "malformed"))
	}
	var av Availability
	err := s.kv.View(ctx, func(tx store.Txn) error {
		err := getJSON(tx, availKey(tenantID, advisorID), &av)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return Availability{}, fmt.Errorf("booking: availability: %w", err)
	}
	return av, nil
}

// EnablePage creates the advisor's booking page, or switches the existing
// one on, and returns it. Idempotent: the page keeps its id.
func (s *Service) EnablePage(ctx context.Context, a Actor, advisorID string) (Page, error) {
	return s.setPage(ctx, a, advisorID, true)
}

// DisablePage switches the advisor's booking page off; it keeps its id.
func (s *Service) DisablePage(ctx context.Context, a Actor, advisorID string) (Page, error) {
	return s.setPage(ctx, a, advisorID, false)
}

func (s *Service) setPage(ctx context.Context, a Actor, advisorID string, on bool) (Page, error) {
	if err := checkActor(a, advisorID); err != nil {
		return Page{}, fmt.Errorf("booking: page: %w", err)
	}
	var p Page
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		id, err := tx.Get(pageOfKey(a.TenantID, advisorID))
		switch {
		case errors.Is(err, store.ErrNotFound):
			if !on {
				return ErrNotFound
			}
			p = Page{ID: ids.New(), TenantID: a.TenantID, AdvisorID: advisorID}
			if err := tx.Set(pageOfKey(a.TenantID, advisorID), []byte(p.ID)); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if err := getJSON(tx, pageKey(string(id)), &p); err != nil {
				return err
			}
		}
		p.Enabled = on
		return putJSON(tx, pageKey(p.ID), p)
	})
	if err != nil {
		return Page{}, fmt.Errorf("booking: page: %w", err)
	}
	s.log.Info("booking: page set", "tenant_id", a.TenantID, "advisor_id", advisorID, "page_id", p.ID, "enabled", on, "actor_id", a.UserID)
	return p, nil
}

// PageOf returns the advisor's booking page; ErrNotFound when there is
// none.
func (s *Service) PageOf(ctx context.Context, a Actor, advisorID string) (Page, error) {
	if err := checkActor(a, advisorID); err != nil {
		return Page{}, fmt.Errorf("booking: page of: %w", err)
	}
	var p Page
	err := s.kv.View(ctx, func(tx store.Txn) error {
		id, err := tx.Get(pageOfKey(a.TenantID, advisorID))
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return getJSON(tx, pageKey(string(id)), &p)
	})
	if err != nil {
		return Page{}, fmt.Errorf("booking: page of: %w", err)
	}
	return p, nil
}

// ResolvePage returns the page with the id; a disabled page comes with
// ErrPageDisabled.
func (s *Service) ResolvePage(ctx context.Context, pageID string) (Page, error) {
	var p Page
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		p, err = loadPage(tx, pageID)
		return err
	})
	if err != nil {
		return p, fmt.Errorf("booking: resolve page: %w", err)
	}
	return p, nil
}

// loadPage reads a page; unknown is ErrNotFound, disabled ErrPageDisabled
// (with the page).
func loadPage(tx store.Txn, pageID string) (Page, error) {
	var p Page
	if !ids.Valid(pageID) {
		return p, ErrNotFound
	}
	err := getJSON(tx, pageKey(pageID), &p)
	if errors.Is(err, store.ErrNotFound) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, err
	}
	if !p.Enabled {
		return p, ErrPageDisabled
	}
	return p, nil
}

// loadType reads a type; unknown or (when activeOnly) inactive is
// ErrNotFound.
func loadType(tx store.Txn, tenantID, advisorID, typeID string, activeOnly bool) (AppointmentType, error) {
	var t AppointmentType
	if !ids.Valid(typeID) {
		return t, invalid("type_id", "unknown appointment type")
	}
	err := getJSON(tx, typeKey(tenantID, advisorID, typeID), &t)
	if errors.Is(err, store.ErrNotFound) {
		return t, invalid("type_id", "unknown appointment type")
	}
	if err != nil {
		return t, err
	}
	if activeOnly && !t.Active {
		return t, invalid("type_id", "appointment type not active")
	}
	return t, nil
}

// loadSchedule reads and parses the advisor's availability; none set is
// an empty schedule in UTC (nothing bookable).
func loadSchedule(tx store.Txn, tenantID, advisorID string) (*schedule, error) {
	var av Availability
	err := getJSON(tx, availKey(tenantID, advisorID), &av)
	if errors.Is(err, store.ErrNotFound) {
		return &schedule{loc: time.UTC}, nil
	}
	if err != nil {
		return nil, err
	}
	sc, err := parseAvailability(av)
	if err != nil {
		return nil, fmt.Errorf("stored availability: %w", err)
	}
	return sc, nil
}

func getJSONBytes(k, v []byte, out any) error {
	if err := jsonUnmarshal(v, out); err != nil {
		return fmt.Errorf("booking: decode %s record: %w", keyKind(k), err)
	}
	return nil
}
