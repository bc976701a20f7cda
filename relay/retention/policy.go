package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"parley/relay/audit"
	"parley/relay/clock"
	"parley/relay/store"
)

// Key prefixes in the store.
const (
	overridePrefix = "retention/o/" // + tenantID + "/" + class
	holdPrefix     = "retention/h/" // + tenantID + "/" + holdID
	holdIndex      = "retention/s/" // + tenantID + "/" + kind + "/" + subjectID + "/" + holdID
)

// Limits on overrides and reasons.
const (
	// MaxPeriod is the longest period an override may set (10 years).
	MaxPeriod = 10 * 365 * Day
	// MaxReason is the longest reason, in characters.
	MaxReason = 500
)

// Errors. The API maps them to statuses; their messages never hold input.
var (
	// ErrUnknownClass is returned for a class id not in the table.
	ErrUnknownClass = errors.New("retention: unknown data class")
	// ErrNotOverridable is returned for a class whose period a tenant
	// cannot change.
	ErrNotOverridable = errors.New("retention: this data class has no period a tenant can change")
	// ErrInvalidPeriod is returned for a period of zero or less or above
	// MaxPeriod.
	ErrInvalidPeriod = errors.New("retention: the period must be more than 0 and at most 10 years")
	// ErrReasonRequired is returned when a change lengthens a period
	// beyond the default without a reason.
	ErrReasonRequired = errors.New("retention: a period longer than the default needs a reason")
	// ErrInvalidReason is returned for a reason that is too long or not
	// valid text.
	ErrInvalidReason = errors.New("retention: the reason must be at most 500 characters of text")
	// ErrForbidden is returned when the actor is not an admin of the
	// tenant.
	ErrForbidden = errors.New("retention: only an admin may change retention")
	// ErrNotFound is returned for a hold that does not exist in the tenant.
	ErrNotFound = errors.New("retention: no such hold")
	// ErrInvalidSubject is returned for an unknown subject kind or a
	// malformed subject id.
	ErrInvalidSubject = errors.New("retention: invalid hold subject")
)

// Auditor records changes (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Entry, error)
}

// Options configures a Policy.
type Options struct {
	// Store holds overrides and holds. Required.
	Store store.KV
	// Audit records every change. Required.
	Audit Auditor
	// Clock stamps changes; nil means the real clock.
	Clock clock.Clock
	// Logger gets ids only; nil discards.
	Logger *slog.Logger
}

// Policy is the retention table merged with the tenants' overrides, and
// the legal holds.
type Policy struct {
	kv    store.KV
	audit Auditor
	clk   clock.Clock
	log   *slog.Logger
}

// New returns a Policy.
func New(opts Options) (*Policy, error) {
	if opts.Store == nil || opts.Audit == nil {
		return nil, errors.New("retention: Store and Audit are required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Policy{kv: opts.Store, audit: opts.Audit, clk: clock.Or(opts.Clock), log: log}, nil
}

// Actor is who asks for a change.
type Actor struct {
	// UserID is the user's id, logged in the audit log.
	UserID string
	// Admin is true when the user is an admin of the tenant.
	Admin bool
}

// Override is a tenant's period for one class.
type Override struct {
	// TenantID is the tenant.
	TenantID string `json:"tenant_id"`
	// Class is the class id.
	Class string `json:"class"`
	// Period replaces the class's default period.
	Period time.Duration `json:"period"`
	// Reason is the admin's reason (required when Period exceeds the
	// default).
	Reason string `json:"reason,omitempty"`
	// By is the admin's user id.
	By string `json:"by"`
	// At is when it was set.
	At time.Time `json:"at"`
}

// Rule is a class's effective rule for one tenant.
type Rule struct {
	Class
	// Default is the table's period.
	Default time.Duration
	// Override is the tenant's override, nil when none.
	Override *Override
}

// Effective returns the class's rule for the tenant: the default merged
// with the tenant's override. Rule.Period is the period to enforce.
func (p *Policy) Effective(ctx context.Context, tenantID, class string) (Rule, error) {
	c, ok := Lookup(class)
	if !ok {
		return Rule{}, ErrUnknownClass
	}
	var ov *Override
	err := p.kv.View(ctx, func(tx store.Txn) error {
		var err error
		ov, err = getOverride(tx, tenantID, class)
		return err
	})
	if err != nil {
		return Rule{}, fmt.Errorf("retention: reading override: %w", err)
	}
	return merge(c, ov), nil
}

// Table returns every class's effective rule for the tenant, in table
// order.
func (p *Policy) Table(ctx context.Context, tenantID string) ([]Rule, error) {
	ovs := map[string]*Override{}
	err := p.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(overridePrefix+tenantID+"/"), func(_, v []byte) error {
			var o Override
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("decode override: %w", err)
			}
			ovs[o.Class] = &o
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("retention: reading overrides: %w", err)
	}
	var out []Rule
	for _, c := range Classes() {
		out = append(out, merge(c, ovs[c.ID]))
	}
	return out, nil
}

// Overrides returns every tenant's overrides, by tenant id (for the
// privacy report of a whole relay).
func (p *Policy) Overrides(ctx context.Context) (map[string][]Override, error) {
	return ReadOverrides(ctx, p.kv)
}

// ReadOverrides reads every tenant's overrides from kv without writing
// anything (for the privacy report of a stopped relay).
func ReadOverrides(ctx context.Context, kv store.KV) (map[string][]Override, error) {
	out := map[string][]Override{}
	err := kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(overridePrefix), func(_, v []byte) error {
			var o Override
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("decode override: %w", err)
			}
			out[o.TenantID] = append(out[o.TenantID], o)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("retention: reading overrides: %w", err)
	}
	return out, nil
}

func merge(c Class, ov *Override) Rule {
	r := Rule{Class: c, Default: c.Period}
	if ov != nil && c.Overridable {
		r.Period = ov.Period
		r.Override = ov
	}
	return r
}

func overrideKey(tenantID, class string) []byte {
	return []byte(overridePrefix + tenantID + "/" + class)
}

func getOverride(tx store.Txn, tenantID, class string) (*Override, error) {
	b, err := tx.Get(overrideKey(tenantID, class))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var o Override
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("decode override: %w", err)
	}
	return &o, nil
}

// checkReason trims and validates a reason.
func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > MaxReason || strings.ContainsRune(reason, 0) {
		return "", ErrInvalidReason
	}
	return reason, nil
}

func hours(d time.Duration) string { return strconv.FormatInt(int64(d/time.Hour), 10) }

// SetOverride sets the tenant's period for a class. Any admin may shorten
// a period; a period longer than the default needs a reason. The change
// is recorded in the audit log (action retention.override: class, old and
// new period in hours, reason).
func (p *Policy) SetOverride(ctx context.Context, tenantID string, actor Actor, class string, period time.Duration, reason string) (Rule, error) {
	if !actor.Admin {
		return Rule{}, ErrForbidden
	}
	c, ok := Lookup(class)
	if !ok {
		return Rule{}, ErrUnknownClass
	}
	if !c.Overridable {
		return Rule{}, ErrNotOverridable
	}
	if period <= 0 || period > MaxPeriod {
		return Rule{}, ErrInvalidPeriod
	}
	reason, err := checkReason(reason)
	if err != nil {
		return Rule{}, err
	}
	if period > c.Period && reason == "" {
		return Rule{}, ErrReasonRequired
	}
	ov := &Override{TenantID: tenantID, Class: class, Period: period, Reason: reason, By: actor.UserID, At: p.clk.Now().UTC()}
	return p.change(ctx, c, tenantID, actor, ov, reason)
}

// ClearOverride returns the class to its default period for the tenant.
// When that lengthens the period (the override had shortened it), a
// reason is required as for SetOverride. Clearing a class without override
// changes nothing and is not audited.
func (p *Policy) ClearOverride(ctx context.Context, tenantID string, actor Actor, class, reason string) (Rule, error) {
	if !actor.Admin {
		return Rule{}, ErrForbidden
	}
	c, ok := Lookup(class)
	if !ok {
		return Rule{}, ErrUnknownClass
	}
	if !c.Overridable {
		return Rule{}, ErrNotOverridable
	}
	reason, err := checkReason(reason)
	if err != nil {
		return Rule{}, err
	}
	return p.change(ctx, c, tenantID, actor, nil, reason)
}

// change writes ov (nil: delete) and audits the change.
func (p *Policy) change(ctx context.Context, c Class, tenantID string, actor Actor, ov *Override, reason string) (Rule, error) {
	var old *Override
	changed := false
	err := p.kv.Update(ctx, func(tx store.Txn) error {
		var err error
		old, err = getOverride(tx, tenantID, c.ID)
		if err != nil {
			return err
		}
		oldPeriod := merge(c, old).Period
		if ov == nil {
			if old == nil {
				changed = false
				return nil
			}
			if c.Period > oldPeriod && reason == "" {
				return ErrReasonRequired
			}
			changed = true
			return tx.Delete(overrideKey(tenantID, c.ID))
		}
		b, err := json.Marshal(ov)
		if err != nil {
			return err
		}
		changed = true
		return tx.Set(overrideKey(tenantID, c.ID), b)
	})
	if errors.Is(err, ErrReasonRequired) {
		return Rule{}, err
	}
	if err != nil {
		return Rule{}, fmt.Errorf("retention: writing override: %w", err)
	}
	rule := merge(c, ov)
	if !changed {
		return rule, nil
	}
	details := map[string]string{
		"class":            c.ID,
		"old_period_hours": hours(merge(c, old).Period),
		"new_period_hours": hours(rule.Period),
	}
	if ov == nil {
		details["cleared"] = "true"
	}
	if reason != "" {
		details["reason"] = reason
	}
	if _, err := p.audit.Append(ctx, audit.Record{TenantID: tenantID, Actor: actor.UserID, Action: "retention.override", Target: c.ID, Details: details}); err != nil {
		return rule, fmt.Errorf("retention: auditing override: %w", err)
	}
	p.log.Info("retention override", "tenant_id", tenantID, "user_id", actor.UserID, "class", c.ID, "period_hours", hours(rule.Period))
	return rule, nil
}
