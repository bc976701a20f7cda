package booking

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"testing"
	"time"
)

// p99 reports the 99th percentile of the durations in milliseconds.
func reportP99(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	b.ReportMetric(float64(ds[(len(ds)*99)/100])/float64(time.Millisecond), "p99-ms")
	b.ReportMetric(float64(ds[len(ds)/2])/float64(time.Millisecond), "p50-ms")
}

// busyAdvisor sets up, on badger, an advisor with Monday–Saturday hours,
// 50 exceptions and 500 bookings spread over the 201 days.
func busyAdvisor(b *testing.B) (*env, Page, AppointmentType) {
	e := newEnv(b, openBadger(b), nil)
	av := Availability{TimeZone: "Europe/Berlin"}
	for d := time.Monday; d <= time.Saturday; d++ {
		av.Weekly = append(av.Weekly, WeeklyRule{Weekday: d, Span: Span{"08:00", "12:00"}}, WeeklyRule{Weekday: d, Span: Span{"13:00", "18:00"}})
	}
	for i := range 50 {
		d := dateOf(t0.In(berlin)).add(3 + i*4)
		x := Exception{Date: d.String(), Closed: i%2 == 0}
		if i%3 != 0 {
			x.Hours = []Span{{"18:00", "20:30"}}
		}
		if !x.Closed && len(x.Hours) == 0 {
			x.Closed = true
		}
		av.Exceptions = append(av.Exceptions, x)
	}
	typ := videoType(30)
	typ.BufferBeforeMin, typ.BufferAfterMin = 10, 10
	p, typ := e.setup(advisor, av, typ)
	slots, err := e.svc.Slots(e.ctx, p.ID, typ.ID, t0, t0.Add(202*24*time.Hour))
	must(b, err)
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })
	n := 0
	for i := 0; n < 500 && i < len(slots); i++ {
		if _, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: slots[i].Start, Contact: contactN(i)}); err == nil {
			n++
		}
	}
	if n < 500 {
		b.Fatalf("only %d bookings", n)
	}
	return e, p, typ
}

func benchSlots(b *testing.B, days int) {
	e, p, typ := busyAdvisor(b)
	var ds []time.Duration
	var n int
	for b.Loop() {
		t := time.Now()
		slots, err := e.svc.Slots(e.ctx, p.ID, typ.ID, t0, t0.Add(time.Duration(days)*24*time.Hour))
		ds = append(ds, time.Since(t))
		if err != nil || len(slots) == 0 {
			b.Fatalf("%d slots, %v", len(slots), err)
		}
		n = len(slots)
	}
	b.ReportMetric(float64(n), "slots")
	reportP99(b, ds)
}

// BenchmarkSlots201Days computes the free slots over the whole horizon for
// an advisor with 500 bookings and 50 exceptions (goal: p99 < 50 ms).
func BenchmarkSlots201Days(b *testing.B) { benchSlots(b, 202) }

// BenchmarkSlots7Days is the week view of the same advisor (goal: p99 <
// 5 ms).
func BenchmarkSlots7Days(b *testing.B) { benchSlots(b, 7) }

// allDayAdvisor has 5-minute appointments bookable around the clock, so
// that a benchmark finds fresh slots for a long time.
func allDayAdvisor(b *testing.B) (*env, Page, AppointmentType, []time.Time) {
	e := newEnv(b, openBadger(b), nil)
	av := Availability{TimeZone: "Europe/Berlin"}
	for d := time.Sunday; d <= time.Saturday; d++ {
		av.Weekly = append(av.Weekly, WeeklyRule{Weekday: d, Span: Span{"00:00", "24:00"}})
	}
	e.svc.opts.SlotStepMin = 5
	p, typ := e.setup(advisor, av, AppointmentType{Name: "Kurz", Kind: KindVideo, DurationMin: 5, Active: true})
	slots, err := e.svc.Slots(e.ctx, p.ID, typ.ID, t0, t0.Add(202*24*time.Hour))
	must(b, err)
	starts := make([]time.Time, len(slots))
	for i, s := range slots {
		starts[i] = s.Start
	}
	return e, p, typ, starts
}

// BenchmarkBookCommit books one appointment after another on badger with
// synced writes: the latency of a whole Book call (p99).
func BenchmarkBookCommit(b *testing.B) {
	e, p, typ, starts := allDayAdvisor(b)
	var ds []time.Duration
	i := 0
	for b.Loop() {
		if i >= len(starts) {
			b.Fatal("out of slots")
		}
		t := time.Now()
		_, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: starts[i], Contact: contactN(i)})
		ds = append(ds, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportP99(b, ds)
}

// BenchmarkBookContention has 16 goroutines book one advisor's slots on
// badger, each taking the next free start from a shared counter, so that
// they contend on the same days' lock keys (and sometimes one slot).
func BenchmarkBookContention(b *testing.B) {
	e, p, typ, starts := allDayAdvisor(b)
	var next, ok, taken atomic.Int64
	b.SetParallelism(8)
	t := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// Two goroutines in ten ask for the slot just taken.
			i := next.Add(1) - 1
			if i%5 == 0 && i > 0 {
				i--
			}
			if int(i) >= len(starts) {
				taken.Add(1)
				continue
			}
			_, _, err := e.svc.Book(e.ctx, Request{PageID: p.ID, TypeID: typ.ID, Start: starts[i], Contact: contactN(int(i))})
			switch {
			case err == nil:
				ok.Add(1)
			default:
				taken.Add(1)
			}
		}
	})
	el := time.Since(t)
	b.ReportMetric(float64(ok.Load())/el.Seconds(), "bookings/s")
	b.ReportMetric(float64(taken.Load()), "refused")
	if ok.Load() == 0 {
		b.Fatal(fmt.Sprint("no booking succeeded; refused ", taken.Load()))
	}
}
