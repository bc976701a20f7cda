package booking

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/relay/store"
)

// TestThousandConcurrentBooksOneSlot: 1,000 customers book one slot at
// once on a real badger store; exactly one gets it. Then 50 goroutines
// send one request with one idempotency key: one booking, one token.
func TestThousandConcurrentBooksOneSlot(t *testing.T) {
	db := openBadger(t)
	e := newEnv(t, db, nil)
	typ := videoType(30)
	typ.BufferBeforeMin, typ.BufferAfterMin = 10, 10
	p, typ := e.setup(advisor, officeHours("Europe/Berlin"), typ)
	start := at(2027, 3, 3, 10, 0)
	const n = 1000
	var wg sync.WaitGroup
	var ok, taken atomic.Int32
	errs := make(chan error, n)
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			// Half ask for the slot itself, half for one overlapping it
			// only through the buffers.
			s := start
			if i%2 == 1 {
				s = start.Add(45 * time.Minute)
			}
			_, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: s, Contact: contactN(i)})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrSlotTaken):
				taken.Add(1)
			default:
				errs <- err
			}
		}()
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ok.Load() != 1 || taken.Load() != n-1 {
		t.Fatalf("%d succeeded, %d slot taken", ok.Load(), taken.Load())
	}
	list, err := e.svc.List(e.ctx, advisor, advisor.UserID, start.Add(-time.Hour), start.Add(2*time.Hour))
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("%d bookings stored", len(list))
	}

	// One idempotency key from 50 goroutines.
	const m = 50
	type res struct {
		id, tok string
		err     error
	}
	results := make(chan res, m)
	gate = make(chan struct{})
	for range m {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			b, tok, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: start.Add(3 * time.Hour),
				Contact: erika, IdempotencyKey: "retry-of-one-click"})
			results <- res{b.ID, tok, err}
		}()
	}
	close(gate)
	wg.Wait()
	close(results)
	first := res{}
	for r := range results {
		if r.err != nil {
			t.Fatalf("idempotent request: %v", r.err)
		}
		if first.id == "" {
			first = r
		}
		if r.id != first.id || r.tok != first.tok {
			t.Fatalf("idempotent requests got %s and %s", r.id, first.id)
		}
	}
	list, err = e.svc.List(e.ctx, advisor, advisor.UserID, start, start.Add(4*time.Hour))
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("%d bookings after the idempotent requests", len(list))
	}
	if n := len(e.jobs(first.id)); n != 4 {
		t.Fatalf("%d jobs for the idempotent booking", n)
	}
}

// TestRandomOverlappingRequestsNeverDoubleBook fires 10,000 random
// requests (book, hold then book, reschedule, cancel) with buffers, busy
// times and per-day limits at a few advisors from many goroutines, then
// scans the store: no two confirmed bookings of an advisor overlap with
// their buffers, none overlaps a busy time, no per-day limit is exceeded,
// and the day index matches the bookings.
func TestRandomOverlappingRequestsNeverDoubleBook(t *testing.T) {
	total := 10000
	if testing.Short() {
		total = 2000
	}
	db := openBadger(t)
	busyIv := []Interval{{at(2027, 3, 3, 12, 0), at(2027, 3, 3, 13, 0)}, {at(2027, 3, 8, 9, 0), at(2027, 3, 8, 10, 7)}}
	busy := &fakeBusy{advisor: "advisor-1", busy: busyIv}
	e := newEnv(t, db, func(o *Options) { o.Busy = busy })
	type adv struct {
		page  Page
		types []AppointmentType
	}
	var advs []adv
	for i := 1; i <= 4; i++ {
		a := Actor{TenantID: tenant, UserID: fmt.Sprintf("advisor-%d", i)}
		av := officeHours("Europe/Berlin")
		av.Weekly = append(av.Weekly, WeeklyRule{Weekday: time.Saturday, Span: Span{"10:00", "13:00"}})
		av.Exceptions = []Exception{{Date: "2027-03-05", Closed: true, Hours: []Span{{"12:00", "20:00"}}}}
		p, t1 := e.setup(a, av, AppointmentType{Name: "A", Kind: KindVideo, DurationMin: 30, BufferBeforeMin: 10, BufferAfterMin: 5, PerDayLimit: 3, Active: true})
		t2, err := e.svc.PutType(e.ctx, a, a.UserID, AppointmentType{Name: "B", Kind: KindVideo, DurationMin: 45, BufferAfterMin: 15, Active: true})
		must(t, err)
		t3, err := e.svc.PutType(e.ctx, a, a.UserID, AppointmentType{Name: "C", Kind: KindPhone, DurationMin: 20, BufferBeforeMin: 5, BufferAfterMin: 5, PerDayLimit: 2, Active: true})
		must(t, err)
		advs = append(advs, adv{p, []AppointmentType{t1, t2, t3}})
	}
	var (
		mu     sync.Mutex
		tokens []string
		counts = map[string]int{}
		errs   []error
	)
	count := func(k string) { mu.Lock(); counts[k]++; mu.Unlock() }
	randomStart := func(r *rand.Rand) time.Time {
		return at(2027, 3, 2+r.IntN(10), 8, 0).Add(time.Duration(r.IntN(48)) * 15 * time.Minute)
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for i := range work {
				a := advs[r.IntN(len(advs))]
				typ := a.types[r.IntN(len(a.types))]
				req := Request{PageID: a.page.ID, TypeID: typ.ID, Start: randomStart(r), Contact: contactN(i)}
				req.Contact.Mobile = "+4917012345"
				var err error
				op := r.IntN(100)
				switch {
				case op < 75:
					var tok string
					if _, tok, err = e.svc.Book(e.ctx, req); err == nil {
						mu.Lock()
						tokens = append(tokens, tok)
						mu.Unlock()
					}
					count("book")
				case op < 85:
					if req.HoldToken, _, err = e.svc.Hold(e.ctx, req.PageID, req.TypeID, req.Start); err == nil {
						_, _, err = e.svc.Book(e.ctx, req)
					}
					count("hold+book")
				case op < 95:
					mu.Lock()
					tok := ""
					if len(tokens) > 0 {
						tok = tokens[r.IntN(len(tokens))]
					}
					mu.Unlock()
					if tok == "" {
						continue
					}
					_, err = e.svc.RescheduleByToken(e.ctx, tok, randomStart(r), "")
					count("reschedule")
				default:
					mu.Lock()
					tok := ""
					if len(tokens) > 0 {
						tok = tokens[r.IntN(len(tokens))]
					}
					mu.Unlock()
					if tok == "" {
						continue
					}
					_, err = e.svc.CancelByToken(e.ctx, tok)
					count("cancel")
				}
				switch {
				case err == nil:
					count("ok")
				case errors.Is(err, ErrSlotTaken), errors.Is(err, ErrDayFull), errors.Is(err, ErrOutsideAvailability),
					errors.Is(err, ErrCancelled):
					count("refused")
				case errors.Is(err, ErrInvalidInput):
					count("off grid") // a 15-minute start inside a window that only fits other starts
				default:
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range total {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, err := range errs[:min(len(errs), 5)] {
		t.Errorf("unexpected error: %v", err)
	}
	t.Logf("%d requests: %v", total, counts)
	if counts["ok"] < 100 || counts["reschedule"] == 0 || counts["refused"] < total/2 {
		t.Fatalf("the mix did not contend: %v", counts)
	}
	checkStore(t, e, busyIv)
}

// checkStore scans every booking record and the day index.
func checkStore(t *testing.T, e *env, busy []Interval) {
	t.Helper()
	byAdv := map[string][]*bookingRecord{}
	limits := map[string]int{}
	dayIndex := map[string]bool{}
	must(t, e.kv.View(e.ctx, func(tx store.Txn) error {
		if err := tx.Scan([]byte(prefixType), func(k, v []byte) error {
			var typ AppointmentType
			must(t, getJSONBytes(k, v, &typ))
			limits[typ.ID] = typ.PerDayLimit
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Scan([]byte(prefixDay), func(k, _ []byte) error {
			dayIndex[lastSegment(k)] = true
			return nil
		}); err != nil {
			return err
		}
		return tx.Scan([]byte(prefixB), func(k, v []byte) error {
			var r bookingRecord
			must(t, getJSONBytes(k, v, &r))
			if r.Status == StatusConfirmed {
				byAdv[r.AdvisorID] = append(byAdv[r.AdvisorID], &r)
			} else if dayIndex[r.ID] {
				t.Errorf("cancelled booking %s still in the day index", r.ID)
			}
			return nil
		})
	}))
	confirmed := 0
	for advID, rs := range byAdv {
		confirmed += len(rs)
		sort.Slice(rs, func(i, j int) bool { return rs[i].BlockStart.Before(rs[j].BlockStart) })
		perDay := map[string]int{}
		for i, r := range rs {
			if !dayIndex[r.ID] {
				t.Errorf("confirmed booking %s missing from the day index", r.ID)
			}
			if i > 0 && r.BlockStart.Before(rs[i-1].BlockEnd) {
				t.Errorf("%s: %s [%v, %v) overlaps %s [%v, %v)", advID, r.ID, r.BlockStart, r.BlockEnd,
					rs[i-1].ID, rs[i-1].BlockStart, rs[i-1].BlockEnd)
			}
			if advID == "advisor-1" {
				for _, b := range busy {
					if b.Start.Before(r.BlockEnd) && r.BlockStart.Before(b.End) {
						t.Errorf("%s overlaps a busy time", r.ID)
					}
				}
			}
			k := r.TypeID + "/" + dateOf(r.Start.In(berlin)).String()
			perDay[k]++
			if l := limits[r.TypeID]; l > 0 && perDay[k] > l {
				t.Errorf("%s: %d bookings of a type on one day, limit %d", advID, perDay[k], l)
			}
		}
	}
	t.Logf("%d confirmed bookings checked", confirmed)
}
