package recording

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"parley/relay/ids"
	"parley/relay/retention"
)

// TestInterruptEndsAtLastWrite: a recording left running by a relay that
// stopped gets its last write as the end and the restart as a note, the
// sweep deletes it 180 days later and not a second earlier, a second
// Interrupt changes nothing, and a new Begin (the meeting is live again)
// reopens it.
func TestInterruptEndsAtLastWrite(t *testing.T) {
	f := newFixture(t)
	s := f.s
	id := ids.New()
	begun := f.clk.Now()
	if err := s.Begin(ctx, "t1", id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, id, PartFiles, "a.txt", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, id, PartMetadata, "", strings.NewReader(`{"meeting_id":"`+id+`"}`)); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Sweep(ctx, begun.Add(1000*retention.Day), nil); err != nil || res.NotEnded != 1 {
		t.Fatalf("before: sweep = %+v, %v", res, err)
	}
	// The relay comes back an hour later.
	restart := begun.Add(time.Hour)
	f.clk.Set(restart)
	info, err := s.Interrupt(ctx, id, ReasonRestart)
	if err != nil {
		t.Fatal(err)
	}
	if info.Ended.IsZero() || info.Ended.Before(begun) || info.Ended.After(restart) || !info.EndedByInterruption || !info.ArtefactsDue {
		t.Fatalf("interrupted: %+v", info)
	}
	// The files were written a moment ago (real clock): the end is the
	// restart time minus that age.
	if restart.Sub(info.Ended) > time.Minute {
		t.Errorf("end %v is not the last write (restart %v)", info.Ended, restart)
	}
	if len(info.Interrupted) != 1 || info.Interrupted[0].Reason != ReasonRestart || !info.Interrupted[0].At.Equal(restart) {
		t.Errorf("interruptions = %+v", info.Interrupted)
	}
	again, err := s.Interrupt(ctx, id, ReasonRestart)
	if err != nil || !again.Ended.Equal(info.Ended) || len(again.Interrupted) != 1 {
		t.Fatalf("second interrupt changed the entry: %+v, %v", again, err)
	}

	src, err := s.Source(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	md, err := src.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		MeetingID string        `json:"meeting_id"`
		Recording RecordingNote `json:"recording"`
	}
	if err := json.Unmarshal(md, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.MeetingID != id || len(doc.Recording.Interrupted) != 1 || doc.Recording.Interrupted[0].Reason != ReasonRestart {
		t.Errorf("metadata = %s", md)
	}

	due := info.Ended.Add(180 * retention.Day)
	if res, err := s.Sweep(ctx, due.Add(-time.Second), nil); err != nil || len(res.Deleted) != 0 {
		t.Fatalf("1 s early: %+v, %v", res, err)
	}
	// Live again: Begin reopens it, End sets the real end.
	if err := s.Begin(ctx, "t1", id); err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(ctx, id); err != nil || !info.Ended.IsZero() || len(info.Interrupted) != 1 {
		t.Fatalf("reopened: %+v, %v", info, err)
	}
	f.clk.Set(restart.Add(time.Hour))
	if err := s.End(ctx, id); err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(ctx, id); err != nil || !info.Ended.Equal(restart.Add(time.Hour)) || info.EndedByInterruption {
		t.Fatalf("ended: %+v, %v", info, err)
	}
	if err := s.Begin(ctx, "t1", id); err != nil { // a real end stays
		t.Fatal(err)
	}
	due = restart.Add(time.Hour + 180*retention.Day)
	if res, err := s.Sweep(ctx, due.Add(-time.Second), nil); err != nil || len(res.Deleted) != 0 {
		t.Fatalf("1 s early: %+v, %v", res, err)
	}
	if res, err := s.Sweep(ctx, due, nil); err != nil || len(res.Deleted) != 1 {
		t.Fatalf("at the deadline: %+v, %v", res, err)
	}
	if _, err := os.Stat(s.Dir(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("folder left: %v", err)
	}
	if _, err := s.Info(ctx, id); !errors.Is(err, ErrUnknownMeeting) {
		t.Errorf("index entry left: %v", err)
	}
}

// TestInterruptWithoutFolder: a recording whose folder is gone (erased)
// ends at its begin and gets no folder back.
func TestInterruptWithoutFolder(t *testing.T) {
	f := newFixture(t)
	id := ids.New()
	begun := f.clk.Now()
	if err := f.s.Begin(ctx, "t1", id); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(f.s.Dir(id)); err != nil {
		t.Fatal(err)
	}
	f.clk.Set(begun.Add(time.Hour))
	info, err := f.s.Interrupt(ctx, id, ReasonRestart)
	if err != nil || !info.Ended.Equal(begun) {
		t.Fatalf("interrupt: %+v, %v (begun %v)", info, err, begun)
	}
	if _, err := os.Stat(f.s.Dir(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("folder came back: %v", err)
	}
	if err := f.s.ArtefactsKept(ctx, id); err != nil {
		t.Fatal(err)
	}
	if info, _ := f.s.Info(ctx, id); info.ArtefactsDue {
		t.Error("artefacts still due")
	}
	if _, err := f.s.Interrupt(ctx, ids.New(), ReasonRestart); !errors.Is(err, ErrUnknownMeeting) {
		t.Errorf("unknown meeting: %v", err)
	}
}
