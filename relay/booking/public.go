package booking

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"parley/relay/customer"
	"parley/relay/ids"
	"parley/relay/store"
)

// maxSlotRange bounds a Slots query (the horizon is shorter anyway).
const maxSlotRange = 400 * 24 * time.Hour

// Slots returns the free slots of the page's advisor for an active type
// whose start lies in [from, to), clamped to [now + minimum notice, end
// of the horizon), in time order. A slot is free when the appointment with
// its buffers overlaps no confirmed booking's buffered time, no live hold
// and no busy time, and the type's per-day limit leaves room that day.
func (s *Service) Slots(ctx context.Context, pageID, typeID string, from, to time.Time) ([]Slot, error) {
	wrap := func(err error) ([]Slot, error) { return nil, fmt.Errorf("booking: slots: %w", err) }
	if from.IsZero() || to.IsZero() || !from.Before(to) || to.Sub(from) > maxSlotRange {
		return wrap(invalid("range", "from must be before to, at most 400 days apart"))
	}
	now := s.clock.Now()
	var (
		page   Page
		typ    AppointmentType
		sc     *schedule
		lo     time.Time
		hi     time.Time
		items  []Interval
		perDay = map[date]int{}
	)
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		if page, err = loadPage(tx, pageID); err != nil {
			return err
		}
		if typ, err = loadType(tx, page.TenantID, page.AdvisorID, typeID, true); err != nil {
			return err
		}
		if sc, err = loadSchedule(tx, page.TenantID, page.AdvisorID); err != nil {
			return err
		}
		lo = maxTime(from, now.Add(time.Duration(typ.MinNoticeMin)*time.Minute))
		_, hEnd := s.horizon(sc.loc, now)
		hi = minTime(to, hEnd)
		if !lo.Before(hi) {
			return nil
		}
		items, err = occupancy(tx, page.TenantID, page.AdvisorID, typ.ID, sc.loc, now,
			lo.Add(-24*time.Hour), hi.Add(24*time.Hour), perDay)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	if !lo.Before(hi) {
		return []Slot{}, nil
	}
	bb := time.Duration(typ.BufferBeforeMin) * time.Minute
	ba := time.Duration(typ.BufferAfterMin) * time.Minute
	dur := time.Duration(typ.DurationMin) * time.Minute
	if s.opts.Busy != nil {
		busy, err := s.opts.Busy.Busy(ctx, page.TenantID, page.AdvisorID, lo.Add(-bb), hi.Add(dur+ba))
		if err != nil {
			return wrap(fmt.Errorf("busy times: %w", err))
		}
		items = append(items, busy...)
	}
	blk := mergeIntervals(items)
	out := []Slot{}
	last := dateOf(hi.In(sc.loc))
	for d := dateOf(lo.In(sc.loc)); !last.before(d); d = d.add(1) {
		if typ.PerDayLimit > 0 && perDay[d] >= typ.PerDayLimit {
			continue
		}
		sc.candidates(d, dur, s.step(), func(t time.Time) bool {
			if !t.Before(hi) {
				return false
			}
			if !t.Before(lo) && t.After(now) && blk.free(t.Add(-bb), t.Add(dur+ba)) {
				out = append(out, Slot{Start: t.UTC(), End: t.Add(dur).UTC()})
			}
			return true
		})
	}
	return out, nil
}

// occupancy returns the buffered intervals of confirmed bookings and live
// holds of the advisor that may overlap [from, to), and adds to perDay the
// bookings and holds of the type by local start date.
func occupancy(tx store.Txn, tenant, advisor, typeID string, loc *time.Location, now, from, to time.Time, perDay map[date]int) ([]Interval, error) {
	var out []Interval
	seen := map[string]bool{}
	visit := func(k, v []byte) error {
		id := lastSegment(k)
		if seen[id] {
			return nil
		}
		seen[id] = true
		var e dayEntry
		if err := getJSONBytes(k, v, &e); err != nil {
			return err
		}
		out = append(out, Interval{e.BlockStart, e.BlockEnd})
		if e.TypeID == typeID {
			perDay[dateOf(e.Start.In(loc))]++
		}
		return nil
	}
	dates := datesTouched(time.UTC, from, to)
	if len(dates) > 31 {
		// A long range: one scan of the advisor's whole day index is
		// cheaper than a scan per date.
		p := []byte(prefixDay + tenant + "/" + advisor + "/")
		if err := tx.Scan(p, visit); err != nil {
			return nil, err
		}
	} else {
		for _, d := range dates {
			if err := tx.Scan(dayPrefix(tenant, advisor, d), visit); err != nil {
				return nil, err
			}
		}
	}
	err := tx.Scan(holdPrefix(tenant, advisor), func(k, v []byte) error {
		var h holdRecord
		if err := getJSONBytes(k, v, &h); err != nil {
			return err
		}
		if now.Before(h.Expires) {
			out = append(out, Interval{h.BlockStart, h.BlockEnd})
			if h.TypeID == typeID {
				perDay[dateOf(h.Start.In(loc))]++
			}
		}
		return nil
	})
	return out, err
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Hold keeps a slot for Options.HoldTTL while the customer fills in the
// form: other customers can neither hold nor book it meanwhile. It
// returns the hold token (for Book's Request.HoldToken) and when the hold
// expires. The same rules as for Book apply.
func (s *Service) Hold(ctx context.Context, pageID, typeID string, start time.Time) (string, time.Time, error) {
	wrap := func(err error) (string, time.Time, error) {
		return "", time.Time{}, fmt.Errorf("booking: hold: %w", err)
	}
	now := s.clock.Now()
	p, err := s.prepare(ctx, pageID, typeID, start, now)
	if err != nil {
		return wrap(err)
	}
	if err := s.busyCheck(ctx, p); err != nil {
		return wrap(err)
	}
	token, hash := ids.NewToken(HoldTokenPrefix)
	expires := now.Add(s.opts.HoldTTL)
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		p, err := s.spotTx(tx, pageID, typeID, start, now, false)
		if err != nil {
			return err
		}
		if err := s.claim(tx, p, now, "", ""); err != nil {
			return err
		}
		b, err := json.Marshal(holdRecord{PageID: pageID, TypeID: typeID, Start: p.start, BlockStart: p.blockStart,
			BlockEnd: p.blockEnd, Expires: expires})
		if err != nil {
			return err
		}
		return tx.SetWithTTL(append(holdPrefix(p.tenant, p.advisor), hash...), b, s.opts.HoldTTL+time.Minute)
	})
	if err != nil {
		return wrap(err)
	}
	s.log.Info("booking: slot held", "page_id", pageID, "type_id", typeID)
	return token, expires, nil
}

// prepare checks a public request's page, type and time in a read-only
// view, so that a request that cannot succeed fails before any write.
func (s *Service) prepare(ctx context.Context, pageID, typeID string, start, now time.Time) (spot, error) {
	var p spot
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		p, err = s.spotTx(tx, pageID, typeID, start, now, false)
		return err
	})
	return p, err
}

// spotTx loads page, active type and schedule and checks the start.
func (s *Service) spotTx(tx store.Txn, pageID, typeID string, start, now time.Time, advisorSide bool) (spot, error) {
	page, err := loadPage(tx, pageID)
	if err != nil {
		return spot{}, err
	}
	typ, err := loadType(tx, page.TenantID, page.AdvisorID, typeID, true)
	if err != nil {
		return spot{}, err
	}
	return s.spotFor(tx, page.TenantID, page.AdvisorID, typ, start, now, advisorSide)
}

func (s *Service) spotFor(tx store.Txn, tenant, advisor string, typ AppointmentType, start, now time.Time, advisorSide bool) (spot, error) {
	if start.IsZero() {
		return spot{}, invalid("start", "required")
	}
	sc, err := loadSchedule(tx, tenant, advisor)
	if err != nil {
		return spot{}, err
	}
	p := newSpot(tenant, advisor, typ, sc, start)
	return p, s.checkTime(p, now, advisorSide)
}

// Book books an appointment from the public page in one transaction: it
// creates or updates the customer's profile, stores the booking with its
// sealed details and indexes, consumes the hold and enqueues the
// customer's and the advisor's mails and the reminders. It returns the
// booking and its manage token (shown once; only its digest is stored).
// A repeated request with the same IdempotencyKey returns the first
// booking and the same token.
//
// A hold token that is malformed, or that holds a live hold for another
// slot, is ErrHoldInvalid; an expired or unknown hold counts as none (the
// slot is booked if it is still free).
func (s *Service) Book(ctx context.Context, req Request) (Booking, string, error) {
	b, tok, err := s.book(ctx, req, nil)
	if err != nil {
		return Booking{}, "", fmt.Errorf("booking: book: %w", err)
	}
	return b, tok, nil
}

// forCustomer is BookFor's part of a booking request.
type forCustomer struct {
	actor      Actor
	advisorID  string
	customerID string
}

// BookFor books an appointment for a known customer on the advisor's
// behalf. Contact fields left empty (mobile, address, even name and
// e-mail) are taken from the customer's profile; the contact must still
// belong to that profile. The minimum notice does not apply; everything
// else does as in Book.
func (s *Service) BookFor(ctx context.Context, a Actor, advisorID, customerID string, req Request) (Booking, string, error) {
	if err := checkActor(a, advisorID); err != nil {
		return Booking{}, "", fmt.Errorf("booking: book for: %w", err)
	}
	if !ids.ValidRef(customerID) {
		return Booking{}, "", fmt.Errorf("booking: book for: %w", invalid("customer_id", "malformed"))
	}
	b, tok, err := s.book(ctx, req, &forCustomer{actor: a, advisorID: advisorID, customerID: customerID})
	if err != nil {
		return Booking{}, "", fmt.Errorf("booking: book for: %w", err)
	}
	return b, tok, nil
}

func (s *Service) book(ctx context.Context, req Request, fc *forCustomer) (Booking, string, error) {
	// Everything that needs no store is checked first.
	lang, err := cleanLang(req.Lang)
	if err != nil {
		return Booking{}, "", err
	}
	text, err := cleanText("text", req.Text, MaxTextRunes, false, true)
	if err != nil {
		return Booking{}, "", err
	}
	if len(req.IdempotencyKey) > MaxIdempotencyKey {
		return Booking{}, "", invalid("idempotency_key", "too long")
	}
	holdHash := ""
	if req.HoldToken != "" {
		var ok bool
		if holdHash, ok = ids.ParseToken(HoldTokenPrefix, req.HoldToken); !ok {
			return Booking{}, "", ErrHoldInvalid
		}
	}
	if req.Start.IsZero() {
		return Booking{}, "", invalid("start", "required")
	}
	if fc == nil && !ids.Valid(req.PageID) {
		return Booking{}, "", ErrNotFound
	}
	if !ids.Valid(req.TypeID) {
		return Booking{}, "", invalid("type_id", "unknown appointment type")
	}
	now := s.clock.Now()
	var idem []byte
	fp := requestDigest(req, fc)
	if req.IdempotencyKey != "" {
		if fc == nil {
			idem = idemKey("p/"+req.PageID, req.IdempotencyKey)
		} else {
			idem = idemKey("a/"+fc.actor.TenantID+"/"+fc.advisorID, req.IdempotencyKey)
		}
	}

	// A read-only pass: an earlier booking under the idempotency key, or
	// a request that cannot succeed, ends here without a write.
	var (
		out   Booking
		token string
		done  bool
		p     spot
	)
	pass := func(tx store.Txn) (customer.Contact, error) {
		out, token, done = Booking{}, "", false
		if idem != nil {
			b, tok, found, err := s.replay(tx, idem, fp)
			if err != nil || found {
				out, token, done = b, tok, found
				return customer.Contact{}, err
			}
		}
		var err error
		if fc == nil {
			p, err = s.spotTx(tx, req.PageID, req.TypeID, req.Start, now, false)
		} else {
			var typ AppointmentType
			if typ, err = loadType(tx, fc.actor.TenantID, fc.advisorID, req.TypeID, false); err != nil {
				return customer.Contact{}, err
			}
			p, err = s.spotFor(tx, fc.actor.TenantID, fc.advisorID, typ, req.Start, now, true)
		}
		if err != nil {
			return customer.Contact{}, err
		}
		c := req.Contact
		if fc != nil {
			prof, err := s.profiles.ContactTx(tx, fc.customerID)
			if errors.Is(err, customer.ErrNotFound) {
				return customer.Contact{}, fmt.Errorf("customer profile: %w", ErrNotFound)
			}
			if err != nil {
				return customer.Contact{}, fmt.Errorf("customer profile: %w", err)
			}
			c = fillContact(c, prof)
		}
		return cleanContact(c, p.typ.Kind)
	}
	if err := s.kv.View(ctx, func(tx store.Txn) error { _, err := pass(tx); return err }); err != nil {
		return Booking{}, "", err
	}
	if done {
		return out, token, nil
	}
	if err := s.busyCheck(ctx, p); err != nil {
		return Booking{}, "", err
	}
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		contact, err := pass(tx)
		if err != nil || done {
			return err
		}
		ownHold := ""
		if holdHash != "" {
			if ownHold, err = s.checkHold(tx, p, holdHash, now); err != nil {
				return err
			}
		}
		if err := s.claim(tx, p, now, "", ownHold); err != nil {
			return err
		}
		custID, err := s.profiles.UpsertTx(tx, p.tenant, contact, now)
		var cin *customer.InputError
		if errors.As(err, &cin) {
			return invalid(cin.Field, cin.Msg) // the field the customer must fix
		}
		if errors.Is(err, customer.ErrInvalidInput) {
			return invalid("contact", "not accepted for the customer profile")
		}
		if err != nil {
			return fmt.Errorf("customer profile: %w", err)
		}
		if fc != nil && custID != fc.customerID {
			return invalid("contact", "does not belong to the customer's profile")
		}
		r := &bookingRecord{
			Booking: Booking{ID: ids.New(), TenantID: p.tenant, AdvisorID: p.advisor, TypeID: p.typ.ID,
				CustomerID: custID, Kind: p.typ.Kind, TypeName: p.typ.Name, Start: p.start, End: p.end,
				TimeZone: p.sc.loc.String(), Status: StatusConfirmed, Created: now.UTC(), Updated: now.UTC(), Lang: lang},
			PageID: req.PageID, BlockStart: p.blockStart, BlockEnd: p.blockEnd,
		}
		if fc != nil {
			r.PageID = ""
		}
		var hash string
		token, hash = ids.NewToken(ManageTokenPrefix)
		r.ManageHash = hash
		if err := s.putDetails(tx, r, Details{Contact: contact, Text: text, ManageToken: token}); err != nil {
			return err
		}
		if idem != nil {
			// The key was read by replay and is written here, so that
			// concurrent requests with one key conflict and the retry
			// replays.
			r.IdemKey = string(idem)
			sealed, err := s.profiles.SealTx(tx, custID, []byte(token))
			if err != nil {
				return fmt.Errorf("seal: %w", err)
			}
			if err := putJSON(tx, idem, idemRecord{BookingID: r.ID, CustomerID: custID, SealedToken: sealed, Request: fp}); err != nil {
				return err
			}
		}
		if ownHold != "" {
			if err := tx.Delete(append(holdPrefix(p.tenant, p.advisor), ownHold...)); err != nil {
				return err
			}
		}
		if err := putBooking(tx, r); err != nil {
			return err
		}
		if err := tx.Set(manageKey(hash), []byte(r.ID)); err != nil {
			return err
		}
		if err := putIndexes(tx, r); err != nil {
			return err
		}
		if err := s.enqueue(tx, r, EventConfirmed, now); err != nil {
			return err
		}
		out = r.Booking
		return nil
	})
	if err != nil {
		return Booking{}, "", err
	}
	if !done {
		s.log.Info("booking: booked", "booking_id", out.ID, "tenant_id", out.TenantID, "advisor_id", out.AdvisorID,
			"type_id", out.TypeID, "customer_id", out.CustomerID, "by_advisor", fc != nil)
	}
	return out, token, nil
}

// fillContact fills the fields c leaves empty from the profile.
func fillContact(c, prof customer.Contact) customer.Contact {
	if c.FirstName == "" && c.LastName == "" {
		c.FirstName, c.LastName = prof.FirstName, prof.LastName
	}
	if c.Email == "" {
		c.Email = prof.Email
	}
	if c.Mobile == "" {
		c.Mobile = prof.Mobile
	}
	if c.Address == nil {
		c.Address = prof.Address
	}
	return c
}

// requestDigest identifies what a booking request asks for (type, start,
// who), so that an idempotency key replays only the request it was made
// with: a different request under a known key must not get the first
// booking and its manage token back.
func requestDigest(req Request, fc *forCustomer) string {
	h := sha256.New()
	who := strings.ToLower(strings.TrimSpace(req.Contact.Email)) + "\x00" + strings.TrimSpace(req.Contact.FirstName) + "\x00" + strings.TrimSpace(req.Contact.LastName)
	if fc != nil {
		who = "customer:" + fc.customerID
	}
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%s", req.PageID, req.TypeID, req.Start.UTC().Unix(), who)
	return hex.EncodeToString(h.Sum(nil))
}

// replay returns the booking an idempotency key made, if any; a key
// reused for another request is ErrIdempotencyMismatch.
func (s *Service) replay(tx store.Txn, key []byte, digest string) (Booking, string, bool, error) {
	var rec idemRecord
	err := getJSON(tx, key, &rec)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.BookingID == "") {
		return Booking{}, "", false, nil
	}
	if err != nil {
		return Booking{}, "", false, err
	}
	if rec.Request != digest {
		return Booking{}, "", false, ErrIdempotencyMismatch
	}
	r, err := getBooking(tx, rec.BookingID)
	if errors.Is(err, ErrNotFound) {
		return Booking{}, "", false, nil // swept: book afresh
	}
	if err != nil {
		return Booking{}, "", false, err
	}
	tok, err := s.profiles.OpenTx(tx, rec.CustomerID, rec.SealedToken)
	if err != nil {
		return Booking{}, "", false, fmt.Errorf("open: %w", err)
	}
	return r.Booking, string(tok), true, nil
}

// checkHold looks up the customer's own hold. A live hold for another
// slot is ErrHoldInvalid; an expired or unknown one counts as none.
func (s *Service) checkHold(tx store.Txn, p spot, hash string, now time.Time) (string, error) {
	var h holdRecord
	err := getJSON(tx, append(holdPrefix(p.tenant, p.advisor), hash...), &h)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !now.Before(h.Expires) {
		return "", nil
	}
	if h.TypeID != p.typ.ID || !h.Start.Equal(p.start) {
		return "", ErrHoldInvalid
	}
	return hash, nil
}

func putBooking(tx store.Txn, r *bookingRecord) error { return putJSON(tx, bookingKey(r.ID), r) }

// putDetails seals d with the customer's key and stores it.
func (s *Service) putDetails(tx store.Txn, r *bookingRecord, d Details) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	sealed, err := s.profiles.SealTx(tx, r.CustomerID, b)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	return tx.Set(detKey(r.ID), sealed)
}

// details opens a booking's details.
func (s *Service) details(tx store.Txn, r *bookingRecord) (Details, error) {
	var d Details
	sealed, err := tx.Get(detKey(r.ID))
	if err != nil {
		return d, fmt.Errorf("details: %w", err)
	}
	b, err := s.profiles.OpenTx(tx, r.CustomerID, sealed)
	if errors.Is(err, customer.ErrShredded) || errors.Is(err, customer.ErrNotFound) {
		// The customer was erased: the booking's personal part is gone.
		return d, fmt.Errorf("details: customer data erased: %w", ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("open: %w", err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("decode details: %w", err)
	}
	return d, nil
}

// enqueue adds the jobs of an event: the customer's and the advisor's
// mails, and for confirmed and rescheduled bookings the reminders whose
// time is still ahead.
func (s *Service) enqueue(tx store.Txn, r *bookingRecord, event string, now time.Time) error {
	put := func(kind, ev string, at time.Time) error {
		b, err := json.Marshal(Notice{BookingID: r.ID, Sequence: r.Sequence, Event: ev})
		if err != nil {
			return err
		}
		if err := s.outbox.EnqueueTx(tx, kind, b, at); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		return nil
	}
	if err := put(JobCustomerMail, event, now); err != nil {
		return err
	}
	if err := put(JobAdvisorMail, event, now); err != nil {
		return err
	}
	if event == EventCancelled {
		return nil
	}
	for _, off := range s.opts.Reminders {
		if at := r.Start.Add(-off); at.After(now) {
			if err := put(JobReminder, EventReminder, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// putIndexes writes the advisor and customer index entries of r and, when
// it is confirmed, its day entries.
func putIndexes(tx store.Txn, r *bookingRecord) error {
	if err := tx.Set(advKey(r), nil); err != nil {
		return err
	}
	if err := tx.Set(append(custPrefix(r.TenantID, r.CustomerID), r.ID...), nil); err != nil {
		return err
	}
	if r.Status != StatusConfirmed {
		return nil
	}
	return putDayEntries(tx, r)
}
