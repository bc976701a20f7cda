package booking

import (
	"errors"
	"strings"
	"testing"
	"time"

	"parley/relay/customer"
	"parley/relay/ids"
)

func TestBookStoresSealedDetailsIndexesAndJobs(t *testing.T) {
	e := newEnv(t, nil, nil)
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), videoType(30))
	start := at(2027, 3, 3, 10, 0)
	b, tok, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: start, Contact: erika,
		Text: "Bitte Rückruf", Lang: "en"})
	must(t, err)
	if b.Status != StatusConfirmed || b.Sequence != 0 || !b.Start.Equal(start) || !b.End.Equal(start.Add(30*time.Minute)) ||
		b.TimeZone != "Europe/Berlin" || b.Kind != KindVideo || b.TypeName != "Beratung" || b.Lang != "en" || b.CustomerID == "" {
		t.Fatalf("booking = %+v", b)
	}
	if !strings.HasPrefix(tok, ManageTokenPrefix) || len(tok) != len(ManageTokenPrefix)+43 {
		t.Fatalf("manage token %q", tok)
	}
	// The customer sees it through the link, the advisor and an admin
	// through Get, others not.
	got, d, err := e.svc.ByManageToken(e.ctx, tok)
	must(t, err)
	if got.ID != b.ID || d.Contact.Email != erika.Email || d.Contact.Mobile != "+491701234567" || d.Text != "Bitte Rückruf" {
		t.Fatalf("by token: %+v %+v", got, d)
	}
	for _, a := range []Actor{advisor, adminA} {
		if _, d, err := e.svc.Get(e.ctx, a, b.ID); err != nil || d.Contact.LastName != "Mustermann" {
			t.Fatalf("Get as %s: %v", a.UserID, err)
		}
	}
	for _, a := range []Actor{advisor2, adminB} {
		if _, _, err := e.svc.Get(e.ctx, a, b.ID); !errors.Is(err, ErrForbidden) {
			t.Fatalf("Get as %s: %v", a.UserID, err)
		}
	}
	list, err := e.svc.List(e.ctx, advisor, advisor.UserID, start.Add(-time.Hour), start.Add(time.Hour))
	must(t, err)
	if len(list) != 1 || list[0].ID != b.ID {
		t.Fatalf("List = %+v", list)
	}
	if list, _ := e.svc.List(e.ctx, advisor, advisor.UserID, start.Add(time.Minute), start.Add(time.Hour)); len(list) != 0 {
		t.Fatalf("List outside range = %+v", list)
	}
	byc, err := e.svc.ByCustomer(e.ctx, adminA, b.CustomerID)
	must(t, err)
	if len(byc) != 1 || byc[0].ID != b.ID {
		t.Fatalf("ByCustomer = %+v", byc)
	}
	if byc, _ := e.svc.ByCustomer(e.ctx, advisor2, b.CustomerID); len(byc) != 0 {
		t.Fatalf("another advisor sees %+v", byc)
	}
	// Jobs: both mails now, reminders 24 h and 1 h before.
	jobs := e.jobs(b.ID)
	want := []struct {
		kind string
		at   time.Time
	}{{JobCustomerMail, t0}, {JobAdvisorMail, t0}, {JobReminder, start.Add(-24 * time.Hour)}, {JobReminder, start.Add(-time.Hour)}}
	if len(jobs) != len(want) {
		t.Fatalf("jobs = %+v", jobs)
	}
	kinds := map[string]int{}
	for i, j := range jobs {
		kinds[j.Kind]++
		if !j.NotBefore.Equal(want[i].at) || j.Payload.Sequence != 0 {
			t.Errorf("job %d = %+v", i, j)
		}
	}
	if kinds[JobCustomerMail] != 1 || kinds[JobAdvisorMail] != 1 || kinds[JobReminder] != 2 {
		t.Errorf("job kinds = %v", kinds)
	}
	// No personal data in keys, in the booking record or in the logs.
	for k, v := range e.dump() {
		for _, pd := range []string{erika.Email, erika.LastName, "Rückruf", "1234567"} {
			if strings.Contains(k, pd) {
				t.Errorf("key %q contains personal data", k)
			}
			if strings.HasPrefix(k, "booking/") && strings.Contains(v, pd) {
				t.Errorf("value of %q contains personal data in clear", k)
			}
		}
	}
	e.assertLogsClean(erika.Email, erika.FirstName, erika.LastName, "1234567", "Rückruf", tok)
}

func TestSlotsLeaveOutBookingsWithBuffersAndBusyTimes(t *testing.T) {
	busy := &fakeBusy{advisor: advisor.UserID, busy: []Interval{{at(2027, 3, 3, 14, 0), at(2027, 3, 3, 14, 20)}}}
	e := newEnv(t, nil, func(o *Options) { o.Busy = busy })
	typ := videoType(30)
	typ.BufferBeforeMin, typ.BufferAfterMin = 15, 15
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), typ)
	e.book(p, typ, at(2027, 3, 3, 10, 0), erika) // blocks 09:45–10:45
	slots, err := e.svc.Slots(e.ctx, p.ID, typ.ID, at(2027, 3, 3, 0, 0), at(2027, 3, 4, 0, 0))
	must(t, err)
	var got []string
	for _, s := range slots {
		got = append(got, s.Start.In(berlin).Format("15:04"))
	}
	// A slot's buffered time (start-15 to end+15) must not overlap the
	// booking's buffered 09:45–10:45 nor the busy 14:00–14:20: 09:00
	// (08:45–09:45) is free, 09:15–10:45 are not, 11:00 (10:45–11:45) is;
	// 13:15 (13:00–14:00) is free, 13:30–14:30 are not, 14:45 is.
	want := "09:00 11:00 11:15 11:30 11:45 12:00 12:15 12:30 12:45 13:00 13:15 14:45 15:00 15:15 15:30 15:45 16:00 16:15 16:30"
	if strings.Join(got, " ") != want {
		t.Fatalf("slots\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	// Booking into a buffer or a busy time is refused.
	for _, start := range []time.Time{at(2027, 3, 3, 10, 30), at(2027, 3, 3, 9, 15), at(2027, 3, 3, 10, 45), at(2027, 3, 3, 14, 30)} {
		_, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: start, Contact: contactN(1)})
		if !errors.Is(err, ErrSlotTaken) {
			t.Errorf("Book %v: %v, want ErrSlotTaken", start.In(berlin).Format("15:04"), err)
		}
	}
	if _, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: at(2027, 3, 3, 11, 0), Contact: contactN(2)}); err != nil {
		t.Fatalf("Book after buffer: %v", err)
	}
}

func TestPerDayLimit(t *testing.T) {
	e := newEnv(t, nil, nil)
	typ := videoType(30)
	typ.PerDayLimit = 2
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), typ)
	e.book(p, typ, at(2027, 3, 3, 9, 0), contactN(1))
	tok, _, err := e.svc.Hold(e.ctx, p.ID, typ.ID, at(2027, 3, 3, 11, 0))
	must(t, err)
	if _, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: at(2027, 3, 3, 15, 0), Contact: contactN(2)}); !errors.Is(err, ErrDayFull) {
		t.Fatalf("third of the day (one held): %v", err)
	}
	slots, err := e.svc.Slots(e.ctx, p.ID, typ.ID, at(2027, 3, 3, 0, 0), at(2027, 3, 5, 0, 0))
	must(t, err)
	for _, s := range slots {
		if dateOf(s.Start.In(berlin)).String() == "2027-03-03" {
			t.Fatalf("a full day offers %v", s.Start)
		}
	}
	if len(slots) == 0 {
		t.Fatal("the next day offers nothing")
	}
	if _, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: at(2027, 3, 3, 11, 0), Contact: contactN(3), HoldToken: tok}); err != nil {
		t.Fatalf("book the held slot: %v", err)
	}
	e.book(p, typ, at(2027, 3, 4, 9, 0), contactN(4))
}

func TestHoldBlocksOthersUntilExpiry(t *testing.T) {
	e := newEnv(t, nil, nil)
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), videoType(30))
	start := at(2027, 3, 3, 10, 0)
	tok, exp, err := e.svc.Hold(e.ctx, p.ID, typ.ID, start)
	must(t, err)
	if !exp.Equal(t0.Add(DefaultHoldTTL)) || !strings.HasPrefix(tok, HoldTokenPrefix) {
		t.Fatalf("hold %q until %v", tok, exp)
	}
	free := func() bool {
		slots, err := e.svc.Slots(e.ctx, p.ID, typ.ID, start, start.Add(time.Minute))
		must(t, err)
		return len(slots) == 1
	}
	if free() {
		t.Fatal("held slot offered")
	}
	if _, _, err := e.svc.Hold(e.ctx, p.ID, typ.ID, start.Add(15*time.Minute)); !errors.Is(err, ErrSlotTaken) {
		t.Fatalf("overlapping hold: %v", err)
	}
	if _, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: start, Contact: contactN(1)}); !errors.Is(err, ErrSlotTaken) {
		t.Fatalf("book a held slot without the hold: %v", err)
	}
	// The hold for another slot is refused.
	if _, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: start.Add(time.Hour), Contact: contactN(1), HoldToken: tok}); !errors.Is(err, ErrHoldInvalid) {
		t.Fatalf("hold for another slot: %v", err)
	}
	e.clock.Advance(DefaultHoldTTL - time.Second)
	if free() {
		t.Fatal("hold expired early")
	}
	e.clock.Advance(time.Second)
	if !free() {
		t.Fatal("expired hold still blocks")
	}
	b, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: start, Contact: contactN(2)})
	must(t, err)
	// The holder of the expired hold now finds the slot taken.
	if _, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: start, Contact: contactN(1), HoldToken: tok}); !errors.Is(err, ErrSlotTaken) {
		t.Fatalf("expired holder: %v", err)
	}
	_ = b
	// A live hold is consumed by its booking.
	tok2, _, err := e.svc.Hold(e.ctx, p.ID, typ.ID, start.Add(2*time.Hour))
	must(t, err)
	_, _, err = e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: start.Add(2 * time.Hour), Contact: contactN(3), HoldToken: tok2})
	must(t, err)
	for k := range e.dump() {
		if strings.HasPrefix(k, prefixHold) && strings.HasSuffix(k, ids.TokenHash(tok2)) {
			t.Fatal("consumed hold still stored")
		}
	}
	e.assertLogsClean(tok, tok2)
}

func TestRescheduleRaisesSequenceAndMovesReminders(t *testing.T) {
	e := newEnv(t, nil, nil)
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), videoType(30))
	old := at(2027, 3, 10, 10, 0)
	b, tok := e.book(p, typ, old, erika)
	newStart := at(2027, 3, 12, 14, 30)
	hold, _, err := e.svc.Hold(e.ctx, p.ID, typ.ID, newStart)
	must(t, err)
	e.clock.Advance(time.Minute)
	r, err := e.svc.RescheduleByToken(e.ctx, tok, newStart, hold)
	must(t, err)
	if r.Sequence != 1 || !r.Start.Equal(newStart) || r.ID != b.ID || r.Status != StatusConfirmed {
		t.Fatalf("rescheduled = %+v", r)
	}
	var current, stale int
	for _, j := range e.jobs(b.ID) {
		_, _, ok, err := e.svc.Current(e.ctx, j.Payload)
		must(t, err)
		if j.Payload.Sequence == 1 {
			current++
			if !ok {
				t.Errorf("new job %+v not current", j)
			}
			if j.Kind == JobReminder && !j.NotBefore.Equal(newStart.Add(-24*time.Hour)) && !j.NotBefore.Equal(newStart.Add(-time.Hour)) {
				t.Errorf("reminder at %v", j.NotBefore)
			}
		} else {
			stale++
			if ok {
				t.Errorf("old job %+v still current", j)
			}
		}
	}
	if current != 4 || stale != 4 {
		t.Fatalf("current %d stale %d jobs", current, stale)
	}
	// The old slot is free, the new one taken.
	e.book(p, typ, old, contactN(1))
	if _, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: newStart, Contact: contactN(2)}); !errors.Is(err, ErrSlotTaken) {
		t.Fatalf("new slot: %v", err)
	}
	// The advisor moves it too; into the old (now booked) slot it cannot.
	if _, err := e.svc.Reschedule(e.ctx, advisor, b.ID, old); !errors.Is(err, ErrSlotTaken) {
		t.Fatalf("into a booked slot: %v", err)
	}
	if _, err := e.svc.Reschedule(e.ctx, advisor2, b.ID, at(2027, 3, 15, 9, 0)); !errors.Is(err, ErrForbidden) {
		t.Fatalf("another advisor: %v", err)
	}
	r, err = e.svc.Reschedule(e.ctx, advisor, b.ID, at(2027, 3, 15, 9, 0))
	must(t, err)
	if r.Sequence != 2 {
		t.Fatalf("sequence %d", r.Sequence)
	}
	// Moving to its own time (overlapping itself) is fine.
	if _, err := e.svc.Reschedule(e.ctx, advisor, b.ID, at(2027, 3, 15, 9, 15)); err != nil {
		t.Fatalf("overlapping itself: %v", err)
	}
}

func TestCancelByToken(t *testing.T) {
	e := newEnv(t, nil, nil)
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), videoType(30))
	start := at(2027, 3, 3, 10, 0)
	b, tok := e.book(p, typ, start, erika)
	c, err := e.svc.CancelByToken(e.ctx, tok)
	must(t, err)
	if c.Status != StatusCancelled || c.Sequence != 1 || c.CancelledBy != ByCustomer {
		t.Fatalf("cancelled = %+v", c)
	}
	var cancelMails int
	for _, j := range e.jobs(b.ID) {
		if j.Payload.Event == EventCancelled && j.Payload.Sequence == 1 {
			cancelMails++
		}
		if j.Kind == JobReminder {
			if _, _, ok, _ := e.svc.Current(e.ctx, j.Payload); ok {
				t.Errorf("reminder of a cancelled booking is current")
			}
		}
	}
	if cancelMails != 2 {
		t.Fatalf("%d cancellation mails", cancelMails)
	}
	for _, f := range []func() error{
		func() error { _, err := e.svc.CancelByToken(e.ctx, tok); return err },
		func() error { _, err := e.svc.RescheduleByToken(e.ctx, tok, start.Add(time.Hour), ""); return err },
		func() error { _, err := e.svc.Cancel(e.ctx, advisor, b.ID); return err },
	} {
		if err := f(); !errors.Is(err, ErrCancelled) {
			t.Fatalf("change a cancelled booking: %v", err)
		}
	}
	if got, _, err := e.svc.ByManageToken(e.ctx, tok); err != nil || got.Status != StatusCancelled {
		t.Fatalf("cancelled booking by token: %+v %v", got, err)
	}
	// The slot is free again; once it started, the link cannot change it.
	b2, tok2 := e.book(p, typ, start, contactN(1))
	e.clock.Set(start)
	if _, err := e.svc.CancelByToken(e.ctx, tok2); !errors.Is(err, ErrStarted) || !errors.Is(err, ErrForbidden) {
		t.Fatalf("cancel after start: %v", err)
	}
	if _, err := e.svc.RescheduleByToken(e.ctx, tok2, at(2027, 3, 4, 10, 0), ""); !errors.Is(err, ErrStarted) {
		t.Fatalf("reschedule after start: %v", err)
	}
	if c, err := e.svc.Cancel(e.ctx, advisor, b2.ID); err != nil || c.CancelledBy != ByAdvisor {
		t.Fatalf("advisor cancel after start: %+v %v", c, err)
	}
	for _, bad := range []string{"", "pbk_", tok[:len(tok)-1] + "!", strings.Replace(tok, "pbk_", "pbh_", 1)} {
		if _, err := e.svc.CancelByToken(e.ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}

func TestIdempotentRepeatReturnsSameBookingAndToken(t *testing.T) {
	e := newEnv(t, nil, nil)
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), videoType(30))
	req := Request{PageID: p.ID, TypeID: typ.ID, Start: at(2027, 3, 3, 10, 0), Contact: erika, IdempotencyKey: "k-1"}
	b1, t1, err := e.svc.Book(e.ctx, req)
	must(t, err)
	b2, t2, err := e.svc.Book(e.ctx, req)
	must(t, err)
	if b1.ID != b2.ID || t1 != t2 {
		t.Fatalf("repeat made %s/%s", b2.ID, b1.ID)
	}
	if n := len(e.jobs(b1.ID)); n != 4 {
		t.Fatalf("repeat enqueued again: %d jobs", n)
	}
	// The token is not stored in clear.
	for k, v := range e.dump() {
		if strings.Contains(v, t1) || strings.Contains(k, t1) {
			t.Fatalf("manage token in clear under %q", k)
		}
	}
}

func TestBookForUsesProfile(t *testing.T) {
	e := newEnv(t, nil, nil)
	typ := videoType(30)
	typ.Kind = KindOnsite
	typ.MinNoticeMin = 48 * 60
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), typ)
	withAddr := erika
	withAddr.Address = &customer.Address{Street: "Hauptstr. 1", PostalCode: "10115", City: "Berlin"}
	b, _ := e.book(p, typ, at(2027, 3, 5, 10, 0), withAddr)
	// Within the minimum notice and with only the e-mail given: the
	// advisor may, the rest comes from the profile.
	nb, _, err := e.svc.BookFor(e.ctx, advisor, advisor.UserID, b.CustomerID, Request{TypeID: typ.ID, Start: at(2027, 3, 1, 15, 0)})
	must(t, err)
	_, d, err := e.svc.Get(e.ctx, advisor, nb.ID)
	must(t, err)
	if d.Contact.Address == nil || d.Contact.Address.City != "Berlin" || d.Contact.LastName != "Mustermann" || nb.CustomerID != b.CustomerID {
		t.Fatalf("details %+v", d)
	}
	if _, _, err := e.svc.BookFor(e.ctx, advisor, advisor.UserID, b.CustomerID, Request{TypeID: typ.ID, Start: at(2027, 3, 2, 15, 0), Contact: contactN(1)}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("another person's contact: %v", err)
	}
	if _, _, err := e.svc.BookFor(e.ctx, advisor2, advisor.UserID, b.CustomerID, Request{TypeID: typ.ID, Start: at(2027, 3, 2, 15, 0)}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("another advisor: %v", err)
	}
	// The public page keeps the minimum notice.
	if _, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: at(2027, 3, 2, 15, 0), Contact: withAddr}); !errors.Is(err, ErrTooSoon) {
		t.Fatalf("public within notice: %v", err)
	}
}

func TestAttachMeetingAndNotice(t *testing.T) {
	e := newEnv(t, nil, nil)
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), videoType(30))
	b, _ := e.book(p, typ, at(2027, 3, 3, 10, 0), erika)
	mid := "0123456789abcdef0123456789abcdef"
	must(t, e.svc.AttachMeeting(e.ctx, b.ID, mid, "pmj_secretjoin"))
	nb, d, err := e.svc.Notice(e.ctx, b.ID)
	must(t, err)
	if nb.MeetingID != mid || d.JoinToken != "pmj_secretjoin" || nb.Sequence != 0 || d.Contact.Email != erika.Email {
		t.Fatalf("notice %+v %+v", nb, d)
	}
	for k, v := range e.dump() {
		if strings.Contains(v, "pmj_secretjoin") {
			t.Fatalf("join token in clear under %q", k)
		}
	}
	if err := e.svc.AttachMeeting(e.ctx, b.ID, "nope", "x"); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("bad meeting id: %v", err)
	}
	e.assertLogsClean("pmj_secretjoin")
}

func TestAdvisorSideAccessAndPages(t *testing.T) {
	e := newEnv(t, nil, nil)
	if _, err := e.svc.PutType(e.ctx, advisor2, advisor.UserID, videoType(30)); !errors.Is(err, ErrForbidden) {
		t.Fatalf("other advisor: %v", err)
	}
	if _, err := e.svc.PageOf(e.ctx, Actor{TenantID: tenant, UserID: "x"}, advisor.UserID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a non-admin for someone else: %v", err)
	}
	p1, err := e.svc.EnablePage(e.ctx, adminA, advisor.UserID)
	must(t, err)
	p2, err := e.svc.EnablePage(e.ctx, advisor, advisor.UserID)
	must(t, err)
	if p1 != p2 || !p1.Enabled || p1.AdvisorID != advisor.UserID {
		t.Fatalf("pages %+v %+v", p1, p2)
	}
	typ, err := e.svc.PutType(e.ctx, advisor, advisor.UserID, videoType(30))
	must(t, err)
	must(t, e.svc.SetAvailability(e.ctx, advisor, advisor.UserID, officeHours("Europe/Berlin")))
	if _, err := e.svc.DisablePage(e.ctx, advisor, advisor.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ResolvePage(e.ctx, p1.ID); !errors.Is(err, ErrPageDisabled) {
		t.Fatalf("disabled page: %v", err)
	}
	if _, _, err := e.svc.Book(e.ctx, Request{PageID: p1.ID, TypeID: typ.ID, Start: at(2027, 3, 3, 10, 0), Contact: erika}); !errors.Is(err, ErrPageDisabled) {
		t.Fatalf("book on disabled page: %v", err)
	}
	if got, _ := e.svc.PageOf(e.ctx, advisor, advisor.UserID); got.ID != p1.ID || got.Enabled {
		t.Fatalf("PageOf = %+v", got)
	}
	e.svc.EnablePage(e.ctx, advisor, advisor.UserID)
	typ.Active = false
	_, err = e.svc.PutType(e.ctx, advisor, advisor.UserID, typ)
	must(t, err)
	if ts, _ := e.svc.Types(e.ctx, tenant, advisor.UserID); len(ts) != 0 {
		t.Fatalf("inactive type listed: %+v", ts)
	}
	if _, err := e.svc.Slots(e.ctx, p1.ID, typ.ID, t0, t0.Add(time.Hour)); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("slots of an inactive type: %v", err)
	}
	must(t, e.svc.DeleteType(e.ctx, advisor, advisor.UserID, typ.ID))
	if err := e.svc.DeleteType(e.ctx, advisor, advisor.UserID, typ.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	av, err := e.svc.Availability(e.ctx, tenant, advisor.UserID)
	must(t, err)
	if av.TimeZone != "Europe/Berlin" || len(av.Weekly) != 5 {
		t.Fatalf("availability %+v", av)
	}
}
