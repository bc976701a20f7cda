package booking

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRetentionFiltersReadsAndSweepDeletes(t *testing.T) {
	e := newEnv(t, nil, func(o *Options) {
		o.Retention = func(tenantID string) time.Duration {
			if tenantID == tenant {
				return 42 * 24 * time.Hour
			}
			return time.Hour
		}
	})
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), videoType(30))
	kept, keptTok := e.book(p, typ, at(2027, 3, 3, 10, 0), erika)
	gone, goneTok := e.book(p, typ, at(2027, 3, 3, 11, 0), contactN(1))
	_, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: at(2027, 3, 3, 12, 0), Contact: contactN(2), IdempotencyKey: "idem"})
	must(t, err)
	_, err = e.svc.Cancel(e.ctx, advisor, gone.ID)
	must(t, err)
	later, _ := e.book(p, typ, at(2027, 3, 10, 10, 0), contactN(3))

	deadline := gone.End.Add(42 * 24 * time.Hour)
	e.clock.Set(deadline.Add(-time.Second))
	if _, _, err := e.svc.Get(e.ctx, advisor, gone.ID); err != nil {
		t.Fatalf("before the deadline: %v", err)
	}
	if st, err := e.svc.SweepExpired(e.ctx, e.clock.Now(), nil); err != nil || st.Due != 1 || st.Deleted != 1 {
		// Only the 10:00 booking's deadline (an hour earlier) has passed.
		t.Fatalf("sweep before: %+v %v", st, err)
	}
	if _, _, err := e.svc.ByManageToken(e.ctx, keptTok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("swept booking by token: %v", err)
	}
	e.clock.Set(deadline)
	if _, _, err := e.svc.Get(e.ctx, advisor, gone.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("at the deadline Get: %v", err)
	}
	if _, _, err := e.svc.ByManageToken(e.ctx, goneTok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("at the deadline by token: %v", err)
	}
	list, err := e.svc.List(e.ctx, advisor, advisor.UserID, at(2027, 3, 1, 0, 0), at(2027, 4, 1, 0, 0))
	must(t, err)
	var ids []string
	for _, b := range list {
		ids = append(ids, b.ID)
	}
	if len(list) != 2 || list[1].ID != later.ID {
		t.Fatalf("List after deadline = %v", ids)
	}
	if _, _, ok, _ := e.svc.Current(e.ctx, Notice{BookingID: gone.ID, Sequence: 1, Event: EventCancelled}); ok {
		t.Fatal("notice of an expired booking is current")
	}

	// Sweep with the 11:00 booking held: the 12:00 one goes.
	st, err := e.svc.SweepExpired(e.ctx, at(2027, 4, 14, 14, 0), func(b Booking) bool { return b.ID == gone.ID })
	must(t, err)
	if st.Due != 1 || st.Deleted != 1 || st.Failed != 0 {
		t.Fatalf("sweep = %+v", st)
	}
	dump := e.dump()
	for _, id := range []string{kept.ID} {
		for k := range dump {
			if strings.Contains(k, id) {
				t.Errorf("key %q of a swept booking left", k)
			}
		}
	}
	if _, ok := dump[string(bookingKey(gone.ID))]; !ok {
		t.Fatal("held booking deleted")
	}
	var idem, manage, det int
	for k := range dump {
		switch {
		case strings.HasPrefix(k, prefixIdem):
			idem++
		case strings.HasPrefix(k, prefixManage):
			manage++
		case strings.HasPrefix(k, prefixDet):
			det++
		}
	}
	if idem != 0 || manage != 2 || det != 2 {
		t.Fatalf("left: %d idempotency, %d manage, %d details records", idem, manage, det)
	}
	// Once released, the held one goes too.
	st, err = e.svc.SweepExpired(e.ctx, at(2027, 4, 14, 14, 0), nil)
	if err != nil || st.Due != 1 || st.Deleted != 1 {
		t.Fatalf("sweep after release: %+v %v", st, err)
	}
}

func TestEraseCustomerDeletesAllTheirBookings(t *testing.T) {
	e := newEnv(t, nil, nil)
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), videoType(30))
	b1, tok := e.book(p, typ, at(2027, 3, 3, 10, 0), erika)
	e.book(p, typ, at(2027, 3, 4, 10, 0), erika)
	other, _ := e.book(p, typ, at(2027, 3, 5, 10, 0), contactN(1))
	n, err := e.svc.EraseCustomer(e.ctx, tenant, b1.CustomerID)
	if err != nil || n != 2 {
		t.Fatalf("erased %d, %v", n, err)
	}
	if _, _, err := e.svc.ByManageToken(e.ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("erased booking by token: %v", err)
	}
	for k := range e.dump() {
		if strings.HasPrefix(k, prefix) && (strings.Contains(k, b1.CustomerID) || strings.Contains(k, b1.ID)) {
			t.Errorf("key %q left after erasure", k)
		}
	}
	if _, _, err := e.svc.Get(e.ctx, advisor, other.ID); err != nil {
		t.Fatalf("another customer's booking: %v", err)
	}
	// The erased customer's slot is free again.
	e.book(p, typ, at(2027, 3, 3, 10, 0), contactN(2))
}
