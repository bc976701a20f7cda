package server

import (
	"testing"
	"time"

	"parley/relay/chat"
	"parley/relay/meeting"
	"parley/relay/signal/msg"
)

// TestSweepAlertsOnOverdueItems makes one meeting's anonymisation and then
// its content's deletion fail: the other meeting is processed on time, the
// failure is counted at every sweep, the item becomes overdue once its
// deadline is more than two sweep intervals past, and the alert clears
// when the sweep succeeds.
func TestSweepAlertsOnOverdueItems(t *testing.T) {
	const interval = 10 * time.Minute
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	e := newSweepEnv(t, t0, interval)
	var ids []string
	var entryIDs []string
	for range 2 {
		m, _, err := e.meetings.CreateInstant(e.ctx, meeting.NewMeeting{TenantID: "t-a", AdvisorID: "u-1", AdvisorName: "Berta Beraterin"})
		if err != nil {
			t.Fatal(err)
		}
		ent, _, err := e.chat.Post(e.ctx, m.ID, chat.Author{ID: "p-1", Name: "Kim", Role: msg.RoleCustomer}, "Guten Tag", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.meetings.End(e.ctx, meeting.Actor{TenantID: "t-a", UserID: "u-1"}, m.ID); err != nil {
			t.Fatal(err)
		}
		ids, entryIDs = append(ids, m.ID), append(entryIDs, ent.ID)
	}
	bad, good := ids[0], ids[1]

	type want struct{ due, failed, overdue float64 }
	check := func(step, class string, w want) {
		t.Helper()
		got := want{e.metric("parley_retention_due", "class="+class), e.metric("parley_retention_failed_total", "class="+class),
			e.metric("parley_retention_overdue", "class="+class)}
		if got != w {
			t.Errorf("%s: %s due/failed/overdue %v, want %v", step, class, got, w)
		}
	}
	sweep := func(wantErr bool) {
		t.Helper()
		err := e.sw.sweep(e.ctx)
		if (err != nil) != wantErr {
			t.Fatalf("sweep at %v: error %v, want error %v", e.clk.Now().Sub(t0), err, wantErr)
		}
		if got := e.metric("parley_retention_last_sweep_timestamp_seconds"); got != float64(e.clk.Now().Unix()) {
			t.Errorf("last sweep timestamp %v, want %v", got, e.clk.Now().Unix())
		}
	}

	// Meeting metadata: due two days after the end.
	e.kv.failWrites(bad)
	e.clk.Set(t0.Add(meeting.MetadataRetention))
	sweep(true)
	if !e.anonymised(good) || e.anonymised(bad) {
		t.Fatalf("anonymised: good %v, failing %v", e.anonymised(good), e.anonymised(bad))
	}
	check("at the deadline", meeting.ClassMeetingMetadata, want{2, 1, 0})
	var found bool
	entries, err := e.audit.List(e.ctx, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range entries {
		if a.Action == "retention.anonymise" {
			found = true
			if d := a.Details; d["due"] != "2" || d["meetings"] != "1" || d["failed"] != "1" {
				t.Errorf("audit details %v, want due 2, meetings 1, failed 1", d)
			}
		}
	}
	if !found {
		t.Error("no retention.anonymise audit entry")
	}
	for i, w := range []want{{1, 2, 0}, {1, 3, 0}, {1, 4, 1}, {1, 5, 1}} {
		e.clk.Advance(interval)
		sweep(true)
		check((time.Duration(i+1)*interval).String()+" after the deadline", meeting.ClassMeetingMetadata, w)
	}
	e.kv.failWrites("")
	e.clk.Advance(interval)
	sweep(false)
	if !e.anonymised(bad) {
		t.Fatal("not anonymised once writes work")
	}
	check("after recovery", meeting.ClassMeetingMetadata, want{1, 5, 0})
	check("before content is due", chat.ClassMeetingContent, want{0, 0, 0})

	// Meeting content: due seven days after it was posted.
	e.kv.failWrites(bad)
	e.clk.Set(t0.Add(chat.Retention))
	sweep(true)
	if !e.entries(bad)[entryIDs[0]] || e.entries(good)[entryIDs[1]] {
		t.Fatalf("after the content deadline: failing meeting keeps %v, other keeps %v", e.entries(bad), e.entries(good))
	}
	check("at the content deadline", chat.ClassMeetingContent, want{2, 1, 0})
	for range 3 {
		e.clk.Advance(interval)
		sweep(true)
	}
	check("three intervals after the content deadline", chat.ClassMeetingContent, want{1, 4, 1})
	e.kv.failWrites("")
	e.clk.Advance(interval)
	sweep(false)
	if len(e.entries(bad)) != 0 {
		t.Fatal("content kept once writes work")
	}
	check("after content recovery", chat.ClassMeetingContent, want{1, 4, 0})
}
