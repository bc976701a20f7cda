package booking

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRemoveAdvisorRefusesFutureBookingsThenClearsThePage(t *testing.T) {
	e := newEnv(t, nil, nil)
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), videoType(30))
	p2, typ2 := e.setup(advisor2, officeHours("Europe/Berlin"), videoType(30))
	b, _ := e.book(p, typ, at(2027, 3, 2, 10, 0), erika)
	e.book(p2, typ2, at(2027, 3, 2, 10, 0), contactN(2))

	err := e.svc.RemoveAdvisor(e.ctx, tenant, advisor.UserID)
	var fb *FutureBookingsError
	if !errors.As(err, &fb) || fb.Count != 1 || !errors.Is(err, ErrFutureBookings) {
		t.Fatalf("with a future booking: %v", err)
	}
	if _, err := e.svc.Slots(e.ctx, p.ID, typ.ID, at(2027, 3, 3, 0, 0), at(2027, 3, 4, 0, 0)); err != nil {
		t.Fatalf("a refused removal touched the page: %v", err)
	}

	// Once the appointment is over, the advisor's setup goes; the past
	// booking stays for the customer's history.
	e.clock.Set(b.End.Add(time.Minute))
	if err := e.svc.RemoveAdvisor(e.ctx, tenant, advisor.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Slots(e.ctx, p.ID, typ.ID, at(2027, 3, 3, 0, 0), at(2027, 3, 4, 0, 0)); err == nil {
		t.Fatal("the removed advisor's page still offers slots")
	}
	if got, _, err := e.svc.Get(e.ctx, adminA, b.ID); err != nil || got.ID != b.ID {
		t.Fatalf("the past booking: %+v, %v", got, err)
	}
	for k := range e.dump() {
		for _, pre := range []string{prefixType, prefixAvail, prefixPageOf, prefixHold, prefixLock} {
			if strings.HasPrefix(k, pre+tenant+"/"+advisor.UserID+"/") || k == pre+tenant+"/"+advisor.UserID {
				t.Errorf("left behind: %s", k)
			}
		}
		if k == prefixPage+p.ID {
			t.Errorf("the page record is left")
		}
	}
	// The other advisor is untouched.
	if s, err := e.svc.Slots(e.ctx, p2.ID, typ2.ID, at(2027, 3, 3, 0, 0), at(2027, 3, 4, 0, 0)); err != nil || len(s) == 0 {
		t.Fatalf("the other advisor's slots: %d, %v", len(s), err)
	}
}
