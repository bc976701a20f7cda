package server

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/relay/chat"
	"parley/relay/meeting"
	"parley/relay/retention"
	"parley/relay/signal/msg"
)

// TestSweepNeverOverDeletes is a property test of the retention sweep:
// random meetings of 2–3 tenants (created, ended or not), random chat
// messages and files (some of meetings the relay does not know), random
// tenant overrides (shorter and longer than the defaults) and random legal
// holds placed and released, with sweeps at random times and just before
// and at deadlines. After every sweep, a model decides what must be gone:
// nothing that is not yet due or is held was anonymised or deleted, and
// everything due and not held is gone. PARLEY_SWEEP_SEED=n reproduces a
// run; PARLEY_SWEEP_CASES=n changes the number of cases.
func TestSweepNeverOverDeletes(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PARLEY_SWEEP_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = n
	}
	cases := 200
	if testing.Short() {
		cases = 50
	}
	if s := os.Getenv("PARLEY_SWEEP_CASES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		cases = n
	}
	t.Logf("seed %d (PARLEY_SWEEP_SEED=%d reproduces), %d cases", seed, seed, cases)
	if meeting.MetadataRetention != mustClass(t, retention.ClassMeetingMetadata).Period ||
		chat.Retention != mustClass(t, retention.ClassMeetingContent).Period {
		t.Fatal("the retention table's defaults differ from the services' defaults")
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var sweeps, items int
	for i := range cases {
		s, n := sweepCase(t, rng, i, seed)
		sweeps += s
		items += n
		if t.Failed() {
			return
		}
	}
	t.Logf("%d sweeps checked over %d meetings and entries", sweeps, items)
}

func mustClass(t *testing.T, id string) retention.Class {
	c, ok := retention.Lookup(id)
	if !ok {
		t.Fatalf("no class %s", id)
	}
	return c
}

// Event kinds of a case, in the order they happen at the same time.
const (
	evCreate = iota
	evEnd
	evPost
	evOverride
	evHold
	evRelease
	evSweep
)

type sweepEvent struct {
	at     time.Duration // after the case's start
	kind   int
	m      int           // meeting index (evCreate, evEnd, evHold, evRelease)
	e      int           // entry index (evPost)
	tenant string        // evOverride
	class  string        // evOverride
	period time.Duration // evOverride; 0 clears
}

type modelMeeting struct {
	tenant     string
	id         string
	created    time.Time
	ended      time.Time
	anonymised bool
	holds      []string // hold ids in force
}

type modelEntry struct {
	m       int    // meeting index, or -1
	orphan  string // meeting id when m is -1
	file    bool
	id      string
	sent    time.Time
	deleted bool
}

// sweepCase runs one random case and returns how many sweeps and items it
// checked.
func sweepCase(t *testing.T, rng *rand.Rand, n int, seed uint64) (int, int) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	e := newSweepEnv(t, t0, DefaultSweepInterval)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("seed %d case %d at +%v: %s", seed, n, e.clk.Now().Sub(t0), fmt.Sprintf(format, args...))
	}
	secs := func(max time.Duration) time.Duration {
		return time.Duration(rng.Int64N(int64(max/time.Second)+1)) * time.Second
	}
	periods := []time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour, 2 * 24 * time.Hour, 3 * 24 * time.Hour,
		7 * 24 * time.Hour, 10 * 24 * time.Hour, 20 * 24 * time.Hour}
	classes := []string{retention.ClassMeetingMetadata, retention.ClassMeetingContent}

	var evs []sweepEvent
	var ms []*modelMeeting
	var es []*modelEntry
	tenants := []string{"t-a", "t-b", "t-c"}[:2+rng.IntN(2)]
	var deadlines []time.Duration // candidate deadlines, for boundary sweeps
	for _, tn := range tenants {
		for range 1 + rng.IntN(3) {
			mi := len(ms)
			created := secs(5 * 24 * time.Hour)
			ms = append(ms, &modelMeeting{tenant: tn})
			evs = append(evs, sweepEvent{at: created, kind: evCreate, m: mi})
			start := created + 24*time.Hour // the link's expiry
			if rng.IntN(10) < 7 {
				end := created + secs(2*24*time.Hour)
				evs = append(evs, sweepEvent{at: end, kind: evEnd, m: mi})
				start = end
			}
			deadlines = append(deadlines, start+periods[rng.IntN(len(periods))], start+meeting.MetadataRetention)
			for range rng.IntN(4) {
				sent := created + secs(3*24*time.Hour)
				evs = append(evs, sweepEvent{at: sent, kind: evPost, e: len(es)})
				es = append(es, &modelEntry{m: mi, file: rng.IntN(4) == 0})
				deadlines = append(deadlines, sent+periods[rng.IntN(len(periods))], sent+chat.Retention)
			}
			if rng.IntN(5) == 0 {
				placed := created + secs(10*24*time.Hour)
				evs = append(evs, sweepEvent{at: placed, kind: evHold, m: mi})
				if rng.IntN(2) == 0 {
					evs = append(evs, sweepEvent{at: placed + secs(15*24*time.Hour), kind: evRelease, m: mi})
				}
			}
		}
		for _, c := range classes {
			for range rng.IntN(3) {
				ev := sweepEvent{at: secs(12 * 24 * time.Hour), kind: evOverride, tenant: tn, class: c}
				if rng.IntN(4) > 0 {
					ev.period = periods[rng.IntN(len(periods))]
				}
				evs = append(evs, ev)
			}
		}
	}
	for range rng.IntN(3) { // content of meetings the relay does not know
		sent := secs(5 * 24 * time.Hour)
		evs = append(evs, sweepEvent{at: sent, kind: evPost, e: len(es)})
		es = append(es, &modelEntry{m: -1, orphan: fmt.Sprintf("orphan-%d", rng.IntN(2)), file: rng.IntN(4) == 0})
		deadlines = append(deadlines, sent+chat.Retention)
	}
	for range 4 + rng.IntN(6) {
		evs = append(evs, sweepEvent{at: secs(30 * 24 * time.Hour), kind: evSweep})
	}
	for range 4 {
		d := deadlines[rng.IntN(len(deadlines))]
		evs = append(evs, sweepEvent{at: d - time.Second, kind: evSweep}, sweepEvent{at: d, kind: evSweep})
	}
	evs = append(evs, sweepEvent{at: 40 * 24 * time.Hour, kind: evSweep})
	slices.SortStableFunc(evs, func(a, b sweepEvent) int {
		if a.at != b.at {
			return int((a.at - b.at) / time.Second)
		}
		return a.kind - b.kind
	})

	override := map[string]time.Duration{} // tenant/class → period; absent: default
	author := chat.Author{ID: "p-1", Name: "Kim Kundin", Role: msg.RoleCustomer}
	nSweeps := 0
	var processedMeta, processedContent int
	for _, ev := range evs {
		at := t0.Add(ev.at)
		if at.After(e.clk.Now()) {
			e.clk.Set(at)
		}
		switch ev.kind {
		case evCreate:
			m, _, err := e.meetings.CreateInstant(e.ctx, meeting.NewMeeting{TenantID: ms[ev.m].tenant, AdvisorID: "u-1", AdvisorName: "Berta Beraterin"})
			if err != nil {
				t.Fatal(err)
			}
			ms[ev.m].id, ms[ev.m].created = m.ID, at
		case evEnd:
			mm := ms[ev.m]
			if err := e.meetings.End(e.ctx, meeting.Actor{TenantID: mm.tenant, UserID: "u-1"}, mm.id); err != nil {
				t.Fatal(err)
			}
			mm.ended = at
		case evPost:
			me := es[ev.e]
			mid := me.orphan
			if me.m >= 0 {
				mid = ms[me.m].id
			}
			if me.file {
				x, err := e.chat.PutFile(e.ctx, mid, author, "Vertrag.pdf", strings.NewReader("%PDF-1.7\n%%EOF\n"))
				if err != nil {
					t.Fatal(err)
				}
				me.id = x.ID
			} else {
				x, _, err := e.chat.Post(e.ctx, mid, author, "Guten Tag", "")
				if err != nil {
					t.Fatal(err)
				}
				me.id = x.ID
			}
			me.sent = at
		case evOverride:
			var err error
			if ev.period == 0 {
				_, err = e.policy.ClearOverride(e.ctx, ev.tenant, admin, ev.class, "back to the default period")
				delete(override, ev.tenant+"/"+ev.class)
			} else {
				_, err = e.policy.SetOverride(e.ctx, ev.tenant, admin, ev.class, ev.period, "kept longer for the supervisory authority")
				override[ev.tenant+"/"+ev.class] = ev.period
			}
			if err != nil {
				t.Fatal(err)
			}
		case evHold:
			mm := ms[ev.m]
			h, err := e.policy.PlaceHold(e.ctx, mm.tenant, admin, retention.SubjectMeeting, mm.id, "litigation")
			if err != nil {
				t.Fatal(err)
			}
			mm.holds = append(mm.holds, h.ID)
		case evRelease:
			mm := ms[ev.m]
			if err := e.policy.ReleaseHold(e.ctx, mm.tenant, admin, mm.holds[0]); err != nil {
				t.Fatal(err)
			}
			mm.holds = mm.holds[1:]
		case evSweep:
			nSweeps++
			now := e.clk.Now()
			period := func(tenant, class string, def time.Duration) time.Duration {
				if p, ok := override[tenant+"/"+class]; ok {
					return p
				}
				return def
			}
			// The model: what is due now and not held goes.
			dueMeta, dueContent := 0, 0
			for _, mm := range ms {
				if mm.id == "" || mm.anonymised || len(mm.holds) > 0 {
					continue
				}
				start := mm.created.Add(24 * time.Hour)
				if !mm.ended.IsZero() {
					start = mm.ended
				}
				if !now.Before(start.Add(period(mm.tenant, retention.ClassMeetingMetadata, meeting.MetadataRetention))) {
					mm.anonymised = true
					dueMeta++
				}
			}
			for _, me := range es {
				if me.id == "" || me.deleted {
					continue
				}
				p := chat.Retention
				if me.m >= 0 {
					mm := ms[me.m]
					if len(mm.holds) > 0 {
						continue
					}
					p = period(mm.tenant, retention.ClassMeetingContent, chat.Retention)
				}
				if !now.Before(me.sent.Add(p)) {
					me.deleted = true
					dueContent++
				}
			}
			if err := e.sw.sweep(e.ctx); err != nil {
				fail("sweep: %v", err)
				return nSweeps, len(ms) + len(es)
			}
			processedMeta += dueMeta
			processedContent += dueContent
			for i, mm := range ms {
				if mm.id == "" {
					continue
				}
				if got := e.anonymised(mm.id); got != mm.anonymised {
					fail("meeting %d (tenant %s, created +%v, ended %v, holds %d): anonymised %v, model %v",
						i, mm.tenant, mm.created.Sub(t0), mm.ended, len(mm.holds), got, mm.anonymised)
				}
			}
			present := map[string]map[string]bool{}
			for i, me := range es {
				if me.id == "" {
					continue
				}
				mid := me.orphan
				if me.m >= 0 {
					mid = ms[me.m].id
				}
				if present[mid] == nil {
					present[mid] = e.entries(mid)
				}
				if got := !present[mid][me.id]; got != me.deleted {
					fail("entry %d (meeting %d, file %v, sent +%v): deleted %v, model %v", i, me.m, me.file, me.sent.Sub(t0), got, me.deleted)
				}
			}
			for _, c := range []struct {
				class          string
				due, processed int
				action         string
			}{
				{meeting.ClassMeetingMetadata, dueMeta, processedMeta, meeting.ActionAnonymise},
				{chat.ClassMeetingContent, dueContent, processedContent, meeting.ActionDelete},
			} {
				if got := e.metric("parley_retention_due", "class="+c.class); got != float64(c.due) {
					fail("%s due %v, model %d", c.class, got, c.due)
				}
				if got := e.metric("parley_retention_processed_total", "class="+c.class, "action="+c.action); got != float64(c.processed) {
					fail("%s processed %v, model %d", c.class, got, c.processed)
				}
				if f, o := e.metric("parley_retention_failed_total", "class="+c.class), e.metric("parley_retention_overdue", "class="+c.class); f != 0 || o != 0 {
					fail("%s failed %v, overdue %v", c.class, f, o)
				}
			}
			if t.Failed() {
				return nSweeps, len(ms) + len(es)
			}
		}
	}
	return nSweeps, len(ms) + len(es)
}
