package meeting

import (
	"context"
	"errors"
	"fmt"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// Retention classes stored by this package.
const (
	// ClassMeetingMetadata is the meeting metadata of seed 002 §2.3.4.5:
	// kept MetadataRetention after the meeting, then anonymised.
	ClassMeetingMetadata = "meeting_metadata"
	// ClassMeetingState is a meeting's operational record (status, times,
	// title, token digests, participants' states, names and phones). Phones
	// are dropped when the meeting ends; names and token digests together
	// with the meeting's metadata.
	ClassMeetingState = "meeting_state"
)

// Retention actions.
const (
	// ActionAnonymise: personal data is removed or coarsened, the record
	// and its counts stay.
	ActionAnonymise = "anonymise"
	// ActionDelete: the record is deleted.
	ActionDelete = "delete"
)

// MetadataRetention is how long meeting metadata keeps its personal data
// after the meeting ended (seed 002 §2.3.4.5).
const MetadataRetention = 2 * 24 * time.Hour

// RetentionClass describes a class of data this package stores, for the
// privacy engine.
type RetentionClass struct {
	// Name is the class constant, e.g. ClassMeetingMetadata.
	Name string
	// What lists the data in the class.
	What string
	// Period is how long the data is kept before Action.
	Period time.Duration
	// From says when Period starts.
	From string
	// Action is ActionAnonymise or ActionDelete.
	Action string
	// Rule says in words what the action does.
	Rule string
}

// RetentionClasses lists the classes of data this package stores. The
// privacy engine enforces them by calling AnonymiseMetadata.
func RetentionClasses() []RetentionClass {
	return []RetentionClass{
		{
			Name: ClassMeetingMetadata,
			What: "meeting id, start, first customer entry, end, duration, type, initiator, " +
				"advisor display name, customer names, participant IP addresses",
			Period: MetadataRetention,
			From:   "the meeting's end, or the join link's expiry for a meeting never ended",
			Action: ActionAnonymise,
			Rule:   "IP addresses truncated (IPv4 to /24, IPv6 to /48), names dropped, counts and times kept",
		},
		{
			Name: ClassMeetingState,
			What: "meeting status, times, title, digests of the join token and participant secrets, " +
				"participants' states, names and phone numbers",
			Period: MetadataRetention,
			From:   "the meeting's end, or the join link's expiry for a meeting never ended",
			Action: ActionAnonymise,
			Rule: "phone numbers dropped at the meeting's end; after the period names dropped and " +
				"the join link and participant secrets deleted",
		},
	}
}

// Metadata is the meeting-metadata record of one meeting (class
// ClassMeetingMetadata).
type Metadata struct {
	// MeetingID is the meeting.
	MeetingID string `json:"meeting_id"`
	// TenantID is the meeting's tenant.
	TenantID string `json:"tenant_id"`
	// Type is instant or booked.
	Type Type `json:"type"`
	// Initiator is who created the meeting (a user id or a component).
	Initiator string `json:"initiator"`
	// AdvisorID is the advisor's user id.
	AdvisorID string `json:"advisor_id"`
	// AdvisorName is the advisor's display name; dropped by anonymisation.
	AdvisorName string `json:"advisor_name,omitempty"`
	// Created is when the meeting was created.
	Created time.Time `json:"created"`
	// LinkExpiresAt is when the join link expires (the retention period of
	// a meeting that never ends runs from it).
	LinkExpiresAt time.Time `json:"link_expires_at"`
	// Started is the meeting's start; zero if it never started.
	Started time.Time `json:"started,omitzero"`
	// FirstCustomerEntry is when a customer was first admitted; set once.
	FirstCustomerEntry time.Time `json:"first_customer_entry,omitzero"`
	// Ended is the meeting's end; zero while it has not ended.
	Ended time.Time `json:"ended,omitzero"`
	// Duration is Ended − Started; zero if the meeting never started or
	// has not ended.
	Duration time.Duration `json:"duration,omitempty"`
	// Participants are the customers who joined, in join order.
	Participants []MetaParticipant `json:"participants,omitempty"`
	// Anonymised is when anonymisation ran; zero before.
	Anonymised time.Time `json:"anonymised,omitzero"`
}

// MetaParticipant is one customer in a meeting's metadata.
type MetaParticipant struct {
	// ID is the participant id.
	ID string `json:"id"`
	// Name is the name the customer gave; dropped by anonymisation.
	Name string `json:"name,omitempty"`
	// IP is the customer's address at join; truncated by anonymisation.
	IP string `json:"ip,omitempty"`
	// Joined is when the customer entered the waiting room.
	Joined time.Time `json:"joined"`
	// Admitted is when the customer was admitted; zero if never.
	Admitted time.Time `json:"admitted,omitzero"`
}

// due reports whether the record's personal data must be anonymised at
// now: MetadataRetention after the end, or after the link's expiry when
// the meeting never ended.
func (m *Metadata) due(now time.Time) bool { return m.dueAfter(now, MetadataRetention) }

// retentionStart is when the record's retention period starts: its end,
// or its link's expiry when the meeting never ended.
func (m *Metadata) retentionStart() time.Time {
	if m.Ended.IsZero() {
		return m.LinkExpiresAt
	}
	return m.Ended
}

// dueAfter reports whether the record is due at now under period.
func (m *Metadata) dueAfter(now time.Time, period time.Duration) bool {
	return !now.Before(m.retentionStart().Add(period))
}

func getMeta(tx store.Txn, meetingID string) (*Metadata, error) {
	var m Metadata
	err := getJSON(tx, metaKey(meetingID), &m)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// MetadataOf returns a meeting's metadata record, for the privacy engine's
// export and for admins; the caller authorises. It fails with ErrNotFound.
func (s *Service) MetadataOf(ctx context.Context, meetingID string) (Metadata, error) {
	var m *Metadata
	err := s.kv.View(ctx, func(tx store.Txn) (err error) {
		if !ids.Valid(meetingID) {
			return ErrNotFound
		}
		m, err = getMeta(tx, meetingID)
		return err
	})
	if err != nil {
		return Metadata{}, fmt.Errorf("meeting: metadata: %w", err)
	}
	due, err := s.metaExpired(ctx, m)
	if err != nil {
		return Metadata{}, fmt.Errorf("meeting: metadata: %w", err)
	}
	if due {
		// Past its deadline but not yet swept: served as the sweep
		// will leave it.
		m.AdvisorName = ""
		for i := range m.Participants {
			m.Participants[i].Name = ""
			m.Participants[i].IP = TruncateIP(m.Participants[i].IP)
		}
	}
	return *m, nil
}

// metaExpired reports whether m's personal data is past its deadline at
// the clock's now (and no hold keeps it), so that reads leave it out
// before the sweep anonymises the record.
func (s *Service) metaExpired(ctx context.Context, m *Metadata) (bool, error) {
	if !m.Anonymised.IsZero() {
		return false, nil // nothing personal left
	}
	now := s.clock.Now()
	period := MetadataRetention
	if s.opts.MetadataRule != nil {
		if !m.dueAfter(now, 0) {
			return false, nil
		}
		p, held, err := s.opts.MetadataRule(ctx, m.TenantID, m.MeetingID)
		if err != nil {
			return false, err
		}
		if held || p <= 0 {
			return false, nil
		}
		period = p
	}
	return m.dueAfter(now, period), nil
}

// AnonymiseResult counts what AnonymiseMetadata did.
type AnonymiseResult struct {
	// Meetings is the number of meetings anonymised.
	Meetings int
	// Names is the number of names dropped (customers and advisors).
	Names int
	// IPs is the number of IP addresses truncated.
	IPs int
}

// SweepStats tells a retention sweep what AnonymiseMetadataSweep found
// due and what it could not do, for its metrics and alerts.
type SweepStats struct {
	// Due is the number of meetings whose period had run out at now and
	// that no hold kept: those anonymised and those that failed.
	Due int
	// Failed is the number of meetings left as they were because their
	// rule or their anonymisation failed.
	Failed int
	// Pending holds the deadlines of the due meetings still not
	// anonymised after the call (their anonymisation failed).
	Pending []time.Time
}

// AnonymiseMetadata applies the retention rule of ClassMeetingMetadata and
// ClassMeetingState to every meeting that is due at now: its meeting ended
// at least MetadataRetention before now, or never ended and its join link
// expired at least MetadataRetention before now (for an instant meeting
// with the default link lifetime: created 2 days + 24 h ago). For each, it
// drops the advisor's and customers' names, truncates IP addresses (IPv4
// /24, IPv6 /48), keeps the times and counts, and deletes the meeting's
// join link and participant secrets. Records not yet due and records
// already anonymised are left alone, so it is safe to call repeatedly.
func (s *Service) AnonymiseMetadata(ctx context.Context, now time.Time) (AnonymiseResult, error) {
	return s.AnonymiseMetadataBy(ctx, now, nil)
}

// MetadataRule decides, for one meeting, how long its metadata keeps its
// personal data (the period from its end, or its link's expiry) and
// whether a legal hold keeps it as it is. The privacy engine supplies it
// from the tenant's effective policy.
type MetadataRule func(ctx context.Context, tenantID, meetingID string) (period time.Duration, held bool, err error)

// AnonymiseMetadataBy is AnonymiseMetadata with the period and holds
// decided per meeting by rule; nil means MetadataRetention and no holds.
// A meeting whose rule fails is left alone (its error is returned after
// the others were processed), so a failing policy keeps data; so is a
// meeting whose anonymisation fails.
func (s *Service) AnonymiseMetadataBy(ctx context.Context, now time.Time, rule MetadataRule) (AnonymiseResult, error) {
	res, _, err := s.AnonymiseMetadataSweep(ctx, now, rule)
	return res, err
}

// AnonymiseMetadataSweep is AnonymiseMetadataBy that also reports what was
// due and what failed.
func (s *Service) AnonymiseMetadataSweep(ctx context.Context, now time.Time, rule MetadataRule) (AnonymiseResult, SweepStats, error) {
	var res AnonymiseResult
	var st SweepStats
	type candidate struct {
		id, tenantID string
		start        time.Time // when the retention period starts
	}
	var cands []candidate
	err := s.kv.View(ctx, func(tx store.Txn) error {
		cands = cands[:0]
		return tx.Scan([]byte(prefixMeta), func(_, v []byte) error {
			var m Metadata
			if err := jsonUnmarshal(v, &m); err != nil {
				return fmt.Errorf("meeting: decode meta record: %w", err)
			}
			// Without a rule only due records are candidates; with one,
			// every record whose period has started (periods are positive).
			if m.Anonymised.IsZero() && (rule == nil && m.due(now) || rule != nil && m.dueAfter(now, 0)) {
				cands = append(cands, candidate{m.MeetingID, m.TenantID, m.retentionStart()})
			}
			return nil
		})
	})
	if err != nil {
		return res, st, fmt.Errorf("meeting: anonymise: %w", err)
	}
	var ruleErrs []error
	periods := make(map[string]time.Duration, len(cands))
	deadlines := make(map[string]time.Time, len(cands))
	var due []string
	for _, c := range cands {
		period := MetadataRetention
		if rule != nil {
			p, held, err := rule(ctx, c.tenantID, c.id)
			if err != nil {
				st.Failed++
				ruleErrs = append(ruleErrs, fmt.Errorf("meeting: retention rule for %s: %w", c.id, err))
				continue
			}
			if held || p <= 0 {
				continue
			}
			period = p
		}
		if now.Before(c.start.Add(period)) {
			continue // not due yet
		}
		periods[c.id] = period
		deadlines[c.id] = c.start.Add(period)
		due = append(due, c.id)
	}
	st.Due = len(due)
	for _, id := range due {
		if err := ctx.Err(); err != nil {
			return res, st, fmt.Errorf("meeting: anonymise: %w", err)
		}
		var one AnonymiseResult
		err := s.kv.Update(ctx, func(tx store.Txn) error {
			one = AnonymiseResult{}
			m, err := getMeta(tx, id)
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if !m.Anonymised.IsZero() || !m.dueAfter(now, periods[id]) {
				return nil
			}
			one, err = anonymiseTx(tx, m, now)
			return err
		})
		if err != nil {
			// One meeting's failure does not keep the others from
			// their deadline; its error is returned after them.
			st.Failed++
			st.Pending = append(st.Pending, deadlines[id])
			ruleErrs = append(ruleErrs, fmt.Errorf("meeting: anonymise %s: %w", id, err))
			continue
		}
		if one.Meetings > 0 {
			s.log.Info("meeting: metadata anonymised", "meeting_id", id)
		}
		res.Meetings += one.Meetings
		res.Names += one.Names
		res.IPs += one.IPs
	}
	return res, st, errors.Join(ruleErrs...)
}

// anonymiseTx anonymises one meeting's metadata record m and its meeting
// record: names dropped, IP addresses truncated, join link and participant
// secrets deleted; times and counts kept.
func anonymiseTx(tx store.Txn, m *Metadata, now time.Time) (AnonymiseResult, error) {
	one := AnonymiseResult{Meetings: 1}
	if m.AdvisorName != "" {
		m.AdvisorName = ""
		one.Names++
	}
	for i := range m.Participants {
		p := &m.Participants[i]
		if p.Name != "" {
			p.Name = ""
			one.Names++
		}
		if p.IP != "" {
			p.IP = TruncateIP(p.IP)
			one.IPs++
		}
	}
	m.Anonymised = now
	if err := putJSON(tx, metaKey(m.MeetingID), m); err != nil {
		return one, err
	}
	r, err := getMeeting(tx, m.MeetingID)
	if errors.Is(err, ErrNotFound) {
		return one, nil
	}
	if err != nil {
		return one, err
	}
	if r.LinkHash != "" {
		if err := tx.Delete(linkKey(r.LinkHash)); err != nil {
			return one, err
		}
		r.LinkHash = ""
	}
	for i := range r.Participants {
		p := &r.Participants[i]
		if p.SecretHash != "" {
			if err := tx.Delete(secretKey(p.SecretHash)); err != nil {
				return one, err
			}
			p.SecretHash = ""
		}
		p.Name, p.Phone = "", ""
	}
	return one, putMeeting(tx, r)
}
