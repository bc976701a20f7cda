package recording

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"parley/relay/ids"
	"parley/relay/retention"
)

func TestSweepDeletesOnlyDueArchives(t *testing.T) {
	f := newFixture(t)
	s := f.s
	day := retention.Day
	start := f.clk.Now()
	type meeting struct {
		tenant string
		ended  time.Duration // before "now"; 0: not ended
		held   bool
		due    bool
	}
	ms := map[string]meeting{
		"exactly180": {"t1", 180 * day, false, true},
		"older":      {"t1", 400 * day, false, true},
		"younger":    {"t1", 180*day - time.Second, false, false},
		"held":       {"t1", 300 * day, true, false},
		"notEnded":   {"t1", 0, false, false},
		"shortTen":   {"t2", 31 * day, false, true}, // tenant t2 keeps 30 days
		"shortYoung": {"t2", 29 * day, false, false},
		"brokenTen":  {"t3", 400 * day, false, false}, // period unreadable: keep
	}
	now := start.Add(400 * day)
	byName := map[string]string{}
	for name, m := range ms {
		id := ids.New()
		byName[name] = id
		if err := s.Begin(ctx, m.tenant, id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, id, PartFiles, "f.txt", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		if m.ended > 0 {
			f.clk.Set(now.Add(-m.ended))
			if err := s.End(ctx, id); err != nil {
				t.Fatal(err)
			}
			f.clk.Set(now) // a second End keeps the first time
			if err := s.End(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A folder the index does not know is never touched.
	stray := filepath.Join(s.dir, ids.New())
	if err := os.MkdirAll(stray, 0o700); err != nil {
		t.Fatal(err)
	}
	s.period = func(_ context.Context, tenant string) (time.Duration, error) {
		switch tenant {
		case "t2":
			return 30 * day, nil
		case "t3":
			return 0, errors.New("store down")
		}
		return 0, nil
	}
	var heldAsked []string
	held := func(_ context.Context, tenant, meetingID string) bool {
		heldAsked = append(heldAsked, meetingID)
		return meetingID == byName["held"]
	}
	res, err := s.Sweep(ctx, now, held)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range ms {
		id := byName[name]
		_, statErr := os.Stat(s.Dir(id))
		gone := errors.Is(statErr, os.ErrNotExist)
		if gone != m.due || slices.Contains(res.Deleted, id) != m.due {
			t.Errorf("%s: deleted=%v (listed %v), want %v", name, gone, slices.Contains(res.Deleted, id), m.due)
		}
		_, srcErr := s.Source(ctx, id)
		if m.due != errors.Is(srcErr, ErrUnknownMeeting) {
			t.Errorf("%s: index entry after sweep: %v", name, srcErr)
		}
	}
	if res.Held != 1 || res.NotEnded != 1 || res.Failed != 0 || len(res.Deleted) != 3 {
		t.Fatalf("result %+v", res)
	}
	if slices.Contains(heldAsked, byName["younger"]) {
		t.Error("hold checked for a meeting that is not due")
	}
	if _, err := os.Stat(stray); err != nil {
		t.Fatalf("stray folder touched: %v", err)
	}
	// A second sweep finds nothing more.
	res, err = s.Sweep(ctx, now, held)
	if err != nil || len(res.Deleted) != 0 {
		t.Fatalf("second sweep %+v %v", res, err)
	}
}

func TestStoreRejectsBadIDs(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{"", "../x", strings.Repeat("a", 32) + "/", "ABCDEF0123456789ABCDEF0123456789"} {
		if err := f.s.Begin(ctx, "t1", id); !errors.Is(err, ErrInvalidMeeting) {
			t.Errorf("Begin(%q): %v", id, err)
		}
	}
	if err := f.s.End(ctx, ids.New()); !errors.Is(err, ErrUnknownMeeting) {
		t.Errorf("End of unknown: %v", err)
	}
}
