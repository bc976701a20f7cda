package retention

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/relay/audit"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/meeting"
	"parley/relay/store"
)

var update = flag.Bool("update", false, "rewrite testdata/privacy-report.golden")

var (
	admin   = Actor{UserID: "u_admin", Admin: true}
	advisor = Actor{UserID: "u_adv"}
)

type fixture struct {
	p   *Policy
	log *audit.Log
	clk *clock.Fake
}

func newFixtureKV(t *testing.T, kv store.KV, clk *clock.Fake) fixture {
	t.Helper()
	l, err := audit.New(context.Background(), audit.Options{Store: kv, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Store: kv, Audit: l, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{p: p, log: l, clk: clk}
}

func newFixture(t *testing.T) fixture {
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	return newFixtureKV(t, &store.Memory{Clock: clk}, clk)
}

func (f fixture) entries(t *testing.T, tenant string) []audit.Entry {
	t.Helper()
	es, err := f.log.List(context.Background(), tenant, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestTableCoversDesignAndMatchesEnforcedRules(t *testing.T) {
	want := map[string]struct {
		period time.Duration
		action Action
		kind   Kind
	}{
		ClassMeetingContent:    {7 * Day, Delete, FromCreation},
		ClassMeetingMetadata:   {2 * Day, Anonymise, FromEvent},
		ClassMeetingState:      {2 * Day, Anonymise, FromEvent},
		ClassAccessLog:         {30 * Day, Delete, FromCreation},
		ClassBooking:           {42 * Day, Delete, FromEvent},
		ClassCustomerProfile:   {360 * Day, Delete, Sliding},
		ClassSignatureProcess:  {30 * Day, Delete, FromEvent},
		ClassSignedDocument:    {180 * Day, Delete, FromEvent},
		ClassRecording:         {180 * Day, Delete, FromCreation},
		ClassAdvisorAccount:    {0, Delete, UntilDeleted},
		ClassMessengerMessages: {30 * Day, Delete, FromEvent},
		ClassFeedback:          {180 * Day, Delete, FromEvent},
	}
	cs := Classes()
	if len(cs) != len(want) {
		t.Fatalf("table has %d classes, want %d", len(cs), len(want))
	}
	for _, c := range cs {
		w, ok := want[c.ID]
		if !ok {
			t.Errorf("unexpected class %q", c.ID)
			continue
		}
		if c.Period != w.period || c.Action != w.action || c.Kind != w.kind {
			t.Errorf("%s: period %v action %s kind %s, want %v %s %s", c.ID, c.Period, c.Action, c.Kind, w.period, w.action, w.kind)
		}
		if c.What == "" || c.Purpose == "" || c.From == "" || c.Storage == "" || len(c.Persons) == 0 || len(c.Processors) == 0 {
			t.Errorf("%s: a column is empty: %+v", c.ID, c)
		}
	}
	// The classes the relay enforces today agree with the packages that
	// enforce them.
	if c, _ := Lookup(ClassMeetingMetadata); c.Period != meeting.MetadataRetention || !c.Implemented || c.ID != meeting.ClassMeetingMetadata {
		t.Errorf("meeting_metadata disagrees with relay/meeting: %+v", c)
	}
	if c, _ := Lookup(ClassMeetingContent); c.Period != chat.Retention || !c.Implemented || c.ID != chat.ClassMeetingContent {
		t.Errorf("meeting_content disagrees with relay/chat: %+v", c)
	}
	// Classes() hands out copies.
	cs[0].Persons[0] = "nobody"
	if c, _ := Lookup(cs[0].ID); c.Persons[0] == "nobody" {
		t.Error("Classes() shares its slices with the table")
	}
}

func TestOverrides(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)

	r, err := f.p.Effective(ctx, "t1", ClassMeetingContent)
	if err != nil || r.Period != 7*Day || r.Override != nil {
		t.Fatalf("default: %+v %v", r, err)
	}
	// Shortening needs no reason.
	if _, err := f.p.SetOverride(ctx, "t1", admin, ClassMeetingContent, 3*Day, ""); err != nil {
		t.Fatal(err)
	}
	r, _ = f.p.Effective(ctx, "t1", ClassMeetingContent)
	if r.Period != 3*Day || r.Default != 7*Day || r.Override == nil || r.Override.By != admin.UserID {
		t.Fatalf("after shortening: %+v", r)
	}
	if r, _ := f.p.Effective(ctx, "t2", ClassMeetingContent); r.Period != 7*Day {
		t.Fatalf("another tenant sees the override: %v", r.Period)
	}
	// Lengthening beyond the default needs a reason.
	if _, err := f.p.SetOverride(ctx, "t1", admin, ClassMeetingContent, 8*Day, "  "); !errors.Is(err, ErrReasonRequired) {
		t.Fatalf("lengthening without reason: %v", err)
	}
	if _, err := f.p.SetOverride(ctx, "t1", admin, ClassMeetingContent, 30*Day, "Prüfung durch die Revision, Az. 2026-17"); err != nil {
		t.Fatal(err)
	}
	if r, _ := f.p.Effective(ctx, "t1", ClassMeetingContent); r.Period != 30*Day {
		t.Fatalf("after lengthening: %v", r.Period)
	}

	for name, tc := range map[string]struct {
		actor  Actor
		class  string
		period time.Duration
		reason string
		want   error
	}{
		"advisor":         {advisor, ClassMeetingContent, Day, "", ErrForbidden},
		"unknown class":   {admin, "passwords", Day, "", ErrUnknownClass},
		"until deleted":   {admin, ClassAdvisorAccount, Day, "", ErrNotOverridable},
		"follows another": {admin, ClassMeetingState, Day, "", ErrNotOverridable},
		"zero":            {admin, ClassMeetingContent, 0, "", ErrInvalidPeriod},
		"negative":        {admin, ClassMeetingContent, -Day, "x", ErrInvalidPeriod},
		"above 10 years":  {admin, ClassRecording, MaxPeriod + time.Hour, "x", ErrInvalidPeriod},
		"long reason":     {admin, ClassRecording, 400 * Day, strings.Repeat("ä", MaxReason+1), ErrInvalidReason},
		"invalid utf8":    {admin, ClassRecording, 400 * Day, "\xff", ErrInvalidReason},
	} {
		if _, err := f.p.SetOverride(ctx, "t1", tc.actor, tc.class, tc.period, tc.reason); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := f.p.SetOverride(ctx, "t1", admin, ClassRecording, MaxPeriod, strings.Repeat("ä", MaxReason)); err != nil {
		t.Errorf("10 years with a 500-character reason: %v", err)
	}

	// Clearing back to a longer default needs a reason too.
	if _, err := f.p.SetOverride(ctx, "t1", admin, ClassMeetingMetadata, Day, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.ClearOverride(ctx, "t1", admin, ClassMeetingMetadata, ""); !errors.Is(err, ErrReasonRequired) {
		t.Fatalf("clearing a shortening without reason: %v", err)
	}
	if _, err := f.p.ClearOverride(ctx, "t1", admin, ClassMeetingMetadata, "back to the default"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.ClearOverride(ctx, "t1", advisor, ClassMeetingContent, "x"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("advisor clearing: %v", err)
	}
	if r, err := f.p.ClearOverride(ctx, "t1", admin, ClassMeetingContent, ""); err != nil || r.Period != 7*Day {
		t.Fatalf("clearing a lengthening needs no reason: %+v %v", r, err)
	}

	tab, err := f.p.Table(ctx, "t1")
	if err != nil || len(tab) != len(Classes()) {
		t.Fatalf("table: %d %v", len(tab), err)
	}
	for _, r := range tab {
		if (r.ID == ClassRecording) != (r.Override != nil) {
			t.Errorf("table row %s override %+v", r.ID, r.Override)
		}
	}

	// Every change is audited with class, old and new period, reason.
	var got []string
	for _, e := range f.entries(t, "t1") {
		if e.Action != "retention.override" || e.Actor != admin.UserID {
			t.Errorf("unexpected entry %+v", e)
		}
		got = append(got, e.Details["class"]+" "+e.Details["old_period_hours"]+"->"+e.Details["new_period_hours"]+" "+e.Details["reason"])
	}
	want := []string{
		"meeting_content 168->72 ",
		"meeting_content 72->720 Prüfung durch die Revision, Az. 2026-17",
		"recording 4320->87600 " + strings.Repeat("ä", MaxReason),
		"meeting_metadata 48->24 ",
		"meeting_metadata 24->48 back to the default",
		"meeting_content 720->168 ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep, err := f.log.Verify(ctx); err != nil || !rep.OK() {
		t.Fatalf("audit chain: %+v %v", rep, err)
	}
}

func TestHolds(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.p.PlaceHold(ctx, "t1", advisor, SubjectMeeting, "m1", "x"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("advisor placing: %v", err)
	}
	for _, tc := range []struct {
		kind    SubjectKind
		id, why string
		want    error
	}{
		{"invoice", "m1", "x", ErrInvalidSubject},
		{SubjectMeeting, "", "x", ErrInvalidSubject},
		{SubjectMeeting, "m1/../m2", "x", ErrInvalidSubject},
		{SubjectMeeting, strings.Repeat("a", 129), "x", ErrInvalidSubject},
		{SubjectMeeting, "m1", " ", ErrReasonRequired},
		{SubjectMeeting, "m1", strings.Repeat("x", 501), ErrInvalidReason},
	} {
		if _, err := f.p.PlaceHold(ctx, "t1", admin, tc.kind, tc.id, tc.why); !errors.Is(err, tc.want) {
			t.Errorf("%s %q %q: %v, want %v", tc.kind, tc.id, tc.why, err, tc.want)
		}
	}
	h1, err := f.p.PlaceHold(ctx, "t1", admin, SubjectMeeting, "m1", "Rechtsstreit 4 O 17/26")
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Minute)
	h2, err := f.p.PlaceHold(ctx, "t1", admin, SubjectMeeting, "m1", "second matter")
	if err != nil {
		t.Fatal(err)
	}
	if !f.p.Held(ctx, "t1", SubjectMeeting, "m1") {
		t.Fatal("held meeting not held")
	}
	for _, q := range [][3]string{{"t2", "meeting", "m1"}, {"t1", "customer", "m1"}, {"t1", "meeting", "m"}, {"t1", "meeting", "m10"}} {
		if f.p.Held(ctx, q[0], SubjectKind(q[1]), q[2]) {
			t.Errorf("%v held", q)
		}
	}
	hs, err := f.p.ListHolds(ctx, "t1")
	if err != nil || len(hs) != 2 || hs[0].ID != h1.ID || hs[1].ID != h2.ID || hs[0].Reason != "Rechtsstreit 4 O 17/26" {
		t.Fatalf("list: %+v %v", hs, err)
	}
	if hs, _ := f.p.ListHolds(ctx, "t2"); len(hs) != 0 {
		t.Fatalf("other tenant lists %+v", hs)
	}
	if err := f.p.ReleaseHold(ctx, "t2", admin, h1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("release from another tenant: %v", err)
	}
	if err := f.p.ReleaseHold(ctx, "t1", advisor, h1.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("advisor release: %v", err)
	}
	if err := f.p.ReleaseHold(ctx, "t1", admin, h1.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.p.ReleaseHold(ctx, "t1", admin, h1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second release: %v", err)
	}
	if !f.p.Held(ctx, "t1", SubjectMeeting, "m1") {
		t.Fatal("the second hold no longer holds")
	}
	if err := f.p.ReleaseHold(ctx, "t1", admin, h2.ID); err != nil {
		t.Fatal(err)
	}
	if f.p.Held(ctx, "t1", SubjectMeeting, "m1") {
		t.Fatal("released meeting still held")
	}
	var actions []string
	for _, e := range f.entries(t, "t1") {
		actions = append(actions, e.Action+" "+e.Target+" "+e.Details["subject_kind"]+"/"+e.Details["subject_id"])
		if _, ok := e.Details["reason"]; ok {
			t.Errorf("hold reason in the audit log: %+v", e)
		}
	}
	want := []string{
		"retention.hold.place " + h1.ID + " meeting/m1", "retention.hold.place " + h2.ID + " meeting/m1",
		"retention.hold.release " + h1.ID + " meeting/m1", "retention.hold.release " + h2.ID + " meeting/m1",
	}
	if strings.Join(actions, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit:\n%s\nwant\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
	}
}

// failingKV fails every transaction.
type failingKV struct{}

func (failingKV) View(context.Context, func(store.Txn) error) error   { return errors.New("disk gone") }
func (failingKV) Update(context.Context, func(store.Txn) error) error { return errors.New("disk gone") }

func TestHeldFailsSafe(t *testing.T) {
	p, err := New(Options{Store: failingKV{}, Audit: &audit.Log{}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Held(context.Background(), "t1", SubjectMeeting, "m1") {
		t.Fatal("a store error must count as held")
	}
	if _, err := p.Effective(context.Background(), "t1", ClassMeetingContent); err == nil {
		t.Fatal("Effective hid a store error")
	}
}

func TestBadgerKeepsOverridesAndHolds(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, 32)
	open := func() *store.Badger {
		st, err := store.Open(store.BadgerOptions{Dir: filepath.Join(dir, "store"), Key: key})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	st := open()
	f := newFixtureKV(t, st, clk)
	if _, err := f.p.SetOverride(ctx, "t1", admin, ClassBooking, 14*Day, ""); err != nil {
		t.Fatal(err)
	}
	h, err := f.p.PlaceHold(ctx, "t1", admin, SubjectCustomer, "c_42", "audit request")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = open()
	defer st.Close()
	f = newFixtureKV(t, st, clk)
	if r, err := f.p.Effective(ctx, "t1", ClassBooking); err != nil || r.Period != 14*Day {
		t.Fatalf("after reopening: %+v %v", r, err)
	}
	if !f.p.Held(ctx, "t1", SubjectCustomer, "c_42") {
		t.Fatal("hold lost on reopening")
	}
	all, err := f.p.Overrides(ctx)
	if err != nil || len(all["t1"]) != 1 || all["t1"][0].Class != ClassBooking {
		t.Fatalf("overrides: %+v %v", all, err)
	}
	if err := f.p.ReleaseHold(ctx, "t1", admin, h.ID); err != nil {
		t.Fatal(err)
	}
}

func TestPrivacyReportGolden(t *testing.T) {
	var out bytes.Buffer
	rep := Report{
		Source: "the store in `parley-data`",
		Overrides: map[string][]Override{
			"tn_b": {{TenantID: "tn_b", Class: ClassRecording, Period: 400 * Day, Reason: "Aufbewahrung | Revision", By: "u_1", At: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)}},
			"tn_a": {
				{TenantID: "tn_a", Class: ClassMeetingMetadata, Period: 12 * time.Hour, By: "u_2", At: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)},
				{TenantID: "tn_a", Class: ClassMeetingContent, Period: 3 * Day, By: "u_2", At: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)},
			},
		},
		TenantNames: map[string]string{"tn_a": "Sparkasse"},
	}
	if err := rep.WriteMarkdown(&out); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "privacy-report.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("report differs from %s (run with -update after checking):\n%s", golden, out.String())
	}
	// Without a store, the report says the overrides were not read.
	out.Reset()
	if err := (Report{}).WriteMarkdown(&out); err != nil || !strings.Contains(out.String(), "Not read") {
		t.Fatalf("report without store: %v\n%s", err, out.String())
	}
	// Every class appears in every table.
	for _, c := range Classes() {
		if n := strings.Count(string(want), c.Title); n < 3 {
			t.Errorf("%s appears %d times", c.Title, n)
		}
	}
}

func TestFormatPeriod(t *testing.T) {
	for d, want := range map[time.Duration]string{Day: "1 day", 7 * Day: "7 days", time.Hour: "1 hour", 36 * time.Hour: "36 hours", 0: "-"} {
		if got := FormatPeriod(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}
