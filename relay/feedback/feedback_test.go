package feedback

import (
	"errors"
	"strings"
	"testing"
	"time"

	"parley/relay/ids"
)

func TestNoConsentNoMail(t *testing.T) {
	e := newEnv(t)
	c := e.customer(tenantA, "klara@example.test")
	m := e.meeting(tenantA, advisorA, c, "")
	a := advisor(tenantA, advisorA)

	if _, err := e.svc.RecordConsent(e.ctx, a, m, ConsentInput{}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("consent not ticked: %v, want ErrInvalidInput", err)
	}
	// A meeting still running.
	running := ids.New()
	e.meetings.put(MeetingInfo{ID: running, TenantID: tenantA, AdvisorID: advisorA, CustomerID: c})
	if _, err := e.svc.RecordConsent(e.ctx, a, running, ConsentInput{Consent: true}); !errors.Is(err, ErrNotEnded) {
		t.Fatalf("running meeting: %v, want ErrNotEnded", err)
	}
	// No customer, and a customer without an e-mail address.
	anon := e.meeting(tenantA, advisorA, "", "")
	if _, err := e.svc.RecordConsent(e.ctx, a, anon, ConsentInput{Consent: true}); !errors.Is(err, ErrNoCustomer) {
		t.Fatalf("meeting without customer: %v, want ErrNoCustomer", err)
	}
	p, err := e.cust.Create(e.ctx, customerActor(), contactNoMail())
	if err != nil {
		t.Fatal(err)
	}
	noMail := e.meeting(tenantA, advisorA, p.ID, "")
	if _, err := e.svc.RecordConsent(e.ctx, a, noMail, ConsentInput{Consent: true}); !errors.Is(err, ErrNoCustomer) {
		t.Fatalf("customer without e-mail: %v, want ErrNoCustomer", err)
	}
	if js := queued(t, e.kv); len(js) != 0 {
		t.Fatalf("jobs without consent: %q", js)
	}
	for _, id := range []string{m, running, anon, noMail} {
		if _, ok, err := e.svc.Invitation(e.ctx, Notice{MeetingID: id}); ok || err != nil {
			t.Fatalf("invitation without consent: %v %v", ok, err)
		}
		if _, err := e.svc.ForMeeting(e.ctx, a, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("feedback without consent: %v, want ErrNotFound", err)
		}
	}
}

func TestConsentRecordedInvitesOnceAnswersOnce(t *testing.T) {
	e := newEnv(t)
	c := e.customer(tenantA, "klara@example.test")
	m := e.meeting(tenantA, advisorA, c, "en")
	f, err := e.svc.RecordConsent(e.ctx, advisor(tenantA, advisorA), m, ConsentInput{Consent: true, Lang: "de"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Consent != (Consent{Given: t0, Source: SourceAdvisor, RecordedBy: advisorA}) {
		t.Fatalf("consent recorded as %+v", f.Consent)
	}
	if f.Lang != "en" || f.Status != StatusInvited || !f.Expires.Equal(t0.Add(DefaultLinkTTL)) || !f.DeleteAt.Equal(f.Expires) {
		t.Fatalf("request %+v: want the booking's language, invited, 14 days", f)
	}
	if _, err := e.svc.RecordConsent(e.ctx, admin(tenantA, adminA), m, ConsentInput{Consent: true}); !errors.Is(err, ErrAlreadyRequested) {
		t.Fatalf("second consent: %v, want ErrAlreadyRequested", err)
	}
	if js := queued(t, e.kv); len(js) != 1 {
		t.Fatalf("jobs: %q, want one invitation", js)
	}
	inv, ok, err := e.svc.Invitation(e.ctx, Notice{MeetingID: m})
	if err != nil || !ok || inv.Contact.Email != "klara@example.test" || inv.Lang != "en" || !strings.HasPrefix(inv.Token, TokenPrefix) {
		t.Fatalf("invitation %+v %v %v", inv, ok, err)
	}
	if err := e.svc.MarkSent(e.ctx, m); err != nil {
		t.Fatal(err)
	}
	q, err := e.svc.Questionnaire(e.ctx, inv.Token)
	if err != nil || q.AdvisorID != advisorA || !q.Answered.IsZero() || q.Lang != "en" {
		t.Fatalf("questionnaire %+v %v", q, err)
	}
	e.clock.Advance(time.Hour)
	if err := e.svc.Answer(e.ctx, inv.Token, Answer{Rating: 4, Text: "  Sehr hilfreich,\r\ndanke! \u202e "}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Answer(e.ctx, inv.Token, Answer{Rating: 1}); !errors.Is(err, ErrAnswered) {
		t.Fatalf("second answer: %v, want ErrAnswered", err)
	}
	if _, ok, _ := e.svc.Invitation(e.ctx, Notice{MeetingID: m}); ok {
		t.Fatal("an answered request still mails an invitation")
	}
	got, err := e.svc.ForMeeting(e.ctx, advisor(tenantA, advisorA), m)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusAnswered || got.Rating != 4 || got.Text != "Sehr hilfreich,\ndanke!" || got.Sent.IsZero() ||
		!got.DeleteAt.Equal(t0.Add(time.Hour+DefaultRetention)) {
		t.Fatalf("feedback %+v", got)
	}
	// The text is sealed: the store's bytes do not hold it.
	for k, v := range dump(t, e) {
		if strings.Contains(v, "hilfreich") || strings.Contains(k, c) && strings.Contains(v, "klara") {
			t.Fatalf("plain text in the store under %s", k)
		}
	}
	q, err = e.svc.Questionnaire(e.ctx, inv.Token)
	if err != nil || q.Answered.IsZero() {
		t.Fatalf("answered questionnaire %+v %v", q, err)
	}
	list, err := e.svc.ByCustomer(e.ctx, admin(tenantA, adminA), c)
	if err != nil || len(list) != 1 || list[0].Rating != 4 {
		t.Fatalf("customer's feedback for the admin: %+v %v", list, err)
	}
	st, err := e.svc.Stats(e.ctx, admin(tenantA, adminA), "2026-10", "2026-12")
	if err != nil || len(st) != 3 || st[1].Month != "2026-11" || st[1].Answers != 1 || st[1].Average != 4 || st[1].Ratings[3] != 1 || st[0].Answers != 0 {
		t.Fatalf("stats %+v %v", st, err)
	}
	if _, err := e.svc.Stats(e.ctx, advisor(tenantA, advisorA), "2026-10", "2026-12"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("stats for an advisor: %v, want ErrForbidden", err)
	}
	if st, err := e.svc.Stats(e.ctx, admin(tenantB, "u_badmin"), "2026-11", "2026-11"); err != nil || st[0].Answers != 0 {
		t.Fatalf("tenant B's stats: %+v %v", st, err)
	}
}

func TestAccess(t *testing.T) {
	e := newEnv(t)
	c := e.customer(tenantA, "klara@example.test")
	m := e.meeting(tenantA, advisorA, c, "")
	e.invite(m)
	for _, a := range []Actor{advisor(tenantA, advisorC), advisor(tenantB, advisorB), admin(tenantB, advisorA), {}} {
		if _, err := e.svc.ForMeeting(e.ctx, a, m); !errors.Is(err, ErrForbidden) {
			t.Errorf("ForMeeting as %+v: %v, want ErrForbidden", a, err)
		}
		if _, err := e.svc.RecordConsent(e.ctx, a, m, ConsentInput{Consent: true}); !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrAlreadyRequested) {
			t.Errorf("RecordConsent as %+v: %v", a, err)
		}
		if err := e.svc.Withdraw(e.ctx, a, m); !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrNotFound) {
			t.Errorf("Withdraw as %+v: %v", a, err)
		}
		if l, err := e.svc.ByCustomer(e.ctx, a, c); err == nil && len(l) != 0 {
			t.Errorf("ByCustomer as %+v: %+v", a, l)
		}
	}
	if _, err := e.svc.ForMeeting(e.ctx, admin(tenantA, adminA), m); err != nil {
		t.Fatalf("the tenant's admin: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t)
	c := e.customer(tenantA, "klara@example.test")
	m := e.meeting(tenantA, advisorA, c, "")
	tok := e.invite(m)
	e.clock.Advance(DefaultLinkTTL - time.Second)
	if _, err := e.svc.Questionnaire(e.ctx, tok); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	if st, err := e.svc.SweepExpired(e.ctx, e.clock.Now(), nil); err != nil || st.Deleted != 0 {
		t.Fatalf("sweep before expiry: %+v %v", st, err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.Questionnaire(e.ctx, tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: %v, want ErrExpired", err)
	}
	if err := e.svc.Answer(e.ctx, tok, Answer{Rating: 5}); !errors.Is(err, ErrExpired) {
		t.Fatalf("answer at expiry: %v, want ErrExpired", err)
	}
	if _, ok, _ := e.svc.Invitation(e.ctx, Notice{MeetingID: m}); ok {
		t.Fatal("an expired request still mails an invitation")
	}
	if st, err := e.svc.SweepExpired(e.ctx, e.clock.Now(), nil); err != nil || st.Deleted != 1 || st.Due != 1 {
		t.Fatalf("sweep at expiry: %+v %v", st, err)
	}
	if _, err := e.svc.Questionnaire(e.ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the sweep: %v, want ErrNotFound", err)
	}
	if n := len(dump(t, e)); n != 0 {
		t.Fatalf("%d feedback keys left after the sweep", n)
	}
}

// answered sets up an answered request; it returns the meeting, the
// customer and the answer's time.
func answered(t *testing.T, e *env) (string, string, time.Time) {
	t.Helper()
	c := e.customer(tenantA, "klara@example.test")
	m := e.meeting(tenantA, advisorA, c, "")
	tok := e.invite(m)
	e.clock.Advance(48 * time.Hour)
	at := e.clock.Now()
	if err := e.svc.Answer(e.ctx, tok, Answer{Rating: 2, Text: "Zu kurz"}); err != nil {
		t.Fatal(err)
	}
	return m, c, at
}

func TestRetentionBoundary(t *testing.T) {
	for _, period := range []time.Duration{0, 30 * 24 * time.Hour} {
		e := newEnv(t)
		e.period = period
		want := period
		if want == 0 {
			want = DefaultRetention
		}
		m, c, at := answered(t, e)
		a := advisor(tenantA, advisorA)
		e.clock.Set(at.Add(want - time.Second))
		if f, err := e.svc.ForMeeting(e.ctx, a, m); err != nil || f.Text != "Zu kurz" {
			t.Fatalf("period %v, a second before: %+v %v", want, f, err)
		}
		if st, err := e.svc.SweepExpired(e.ctx, e.clock.Now(), nil); err != nil || st.Due != 0 || st.Deleted != 0 {
			t.Fatalf("sweep a second before: %+v %v", st, err)
		}
		e.clock.Set(at.Add(want))
		if _, err := e.svc.ForMeeting(e.ctx, a, m); !errors.Is(err, ErrNotFound) {
			t.Fatalf("period %v, at the deadline: %v, want ErrNotFound (filtered on read)", want, err)
		}
		if l, err := e.svc.ByCustomer(e.ctx, a, c); err != nil || len(l) != 0 {
			t.Fatalf("customer history at the deadline: %+v %v", l, err)
		}
		if st, err := e.svc.SweepExpired(e.ctx, e.clock.Now(), nil); err != nil || st.Due != 1 || st.Deleted != 1 {
			t.Fatalf("sweep at the deadline: %+v %v", st, err)
		}
		if n := len(dump(t, e)); n != 0 {
			t.Fatalf("%d feedback keys left after the sweep", n)
		}
		// The month's counter stays: it holds no ids.
		if st, err := e.svc.Stats(e.ctx, admin(tenantA, adminA), at.Format("2006-01"), at.Format("2006-01")); err != nil || st[0].Answers != 1 {
			t.Fatalf("counter after the sweep: %+v %v", st, err)
		}
	}
}

func TestLegalHold(t *testing.T) {
	e := newEnv(t)
	m, c, at := answered(t, e)
	e.held[c] = true
	e.clock.Set(at.Add(DefaultRetention + 24*time.Hour))
	if _, err := e.svc.ForMeeting(e.ctx, advisor(tenantA, advisorA), m); err != nil {
		t.Fatalf("held past the deadline: %v", err)
	}
	heldFn := func(_, cid string) bool { return e.held[cid] }
	if st, err := e.svc.SweepExpired(e.ctx, e.clock.Now(), heldFn); err != nil || st.Deleted != 0 || st.Due != 0 {
		t.Fatalf("sweep with a hold: %+v %v", st, err)
	}
	delete(e.held, c)
	if st, err := e.svc.SweepExpired(e.ctx, e.clock.Now(), heldFn); err != nil || st.Deleted != 1 {
		t.Fatalf("sweep after the hold: %+v %v", st, err)
	}
}

func TestHostileAnswerStoresNothing(t *testing.T) {
	e := newEnv(t)
	c := e.customer(tenantA, "klara@example.test")
	m := e.meeting(tenantA, advisorA, c, "")
	tok := e.invite(m)
	before := dump(t, e)
	for name, ans := range map[string]Answer{
		"rating 0": {Rating: 0}, "rating 6": {Rating: 6}, "rating -1": {Rating: -1},
		"invalid UTF-8": {Rating: 3, Text: "gut \xff\xfe"},
		"too long":      {Rating: 3, Text: strings.Repeat("ä", MaxTextRunes+1)},
		"huge":          {Rating: 3, Text: strings.Repeat("a", 1<<20)},
	} {
		err := e.svc.Answer(e.ctx, tok, ans)
		var ie *InputError
		if !errors.As(err, &ie) || strings.Contains(err.Error(), "gut") {
			t.Errorf("%s: %v, want an *InputError without the text", name, err)
		}
	}
	for _, bad := range []string{"", "pfb_", "pfb_" + strings.Repeat("A", 43), tok + "x", strings.ToUpper(tok), "pbk_" + tok[4:]} {
		if err := e.svc.Answer(e.ctx, bad, Answer{Rating: 3}); !errors.Is(err, ErrNotFound) {
			t.Errorf("token %q: %v, want ErrNotFound", bad, err)
		}
	}
	after := dump(t, e)
	if len(before) != len(after) {
		t.Fatalf("hostile answers changed the store: %d keys, then %d", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("hostile answers changed %s", k)
		}
	}
	if q, err := e.svc.Questionnaire(e.ctx, tok); err != nil || !q.Answered.IsZero() {
		t.Fatalf("questionnaire after hostile answers: %+v %v", q, err)
	}
}

func TestEraseAndExport(t *testing.T) {
	e := newEnv(t)
	m, c, _ := answered(t, e)
	other := e.customer(tenantA, "otto@example.test")
	m2 := e.meeting(tenantA, advisorA, other, "")
	tok2 := e.invite(m2)

	ex, err := e.svc.ExportCustomer(e.ctx, tenantA, c)
	if err != nil || len(ex) != 1 || ex[0].MeetingID != m || ex[0].Text != "Zu kurz" || ex[0].Consent.Source != SourceAdvisor {
		t.Fatalf("export %+v %v", ex, err)
	}
	if n, err := e.svc.EraseCustomer(e.ctx, tenantB, c); err != nil || n != 0 {
		t.Fatalf("erasure in another tenant: %d %v", n, err)
	}
	if n, err := e.svc.EraseCustomer(e.ctx, tenantA, c); err != nil || n != 1 {
		t.Fatalf("erase: %d %v", n, err)
	}
	if _, err := e.svc.ForMeeting(e.ctx, advisor(tenantA, advisorA), m); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after erasure: %v", err)
	}
	if ex, err := e.svc.ExportCustomer(e.ctx, tenantA, c); err != nil || len(ex) != 0 {
		t.Fatalf("export after erasure: %+v %v", ex, err)
	}
	// The other customer's request is untouched.
	if _, err := e.svc.Questionnaire(e.ctx, tok2); err != nil {
		t.Fatalf("other customer's link after erasure: %v", err)
	}
}

func TestWithdraw(t *testing.T) {
	e := newEnv(t)
	c := e.customer(tenantA, "klara@example.test")
	m := e.meeting(tenantA, advisorA, c, "")
	tok := e.invite(m)
	if err := e.svc.Withdraw(e.ctx, advisor(tenantA, advisorA), m); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := e.svc.Invitation(e.ctx, Notice{MeetingID: m}); ok || err != nil {
		t.Fatalf("invitation after withdrawal: %v %v", ok, err)
	}
	if err := e.svc.Answer(e.ctx, tok, Answer{Rating: 5}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("answer after withdrawal: %v", err)
	}
}

func TestCustomerShredded(t *testing.T) {
	e := newEnv(t)
	c := e.customer(tenantA, "klara@example.test")
	m := e.meeting(tenantA, advisorA, c, "")
	e.invite(m)
	if _, err := e.cust.Shred(e.ctx, tenantA, c); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := e.svc.Invitation(e.ctx, Notice{MeetingID: m}); ok || err != nil {
		t.Fatalf("invitation to an erased customer: %v %v", ok, err)
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"  gut  ":                   "gut",
		"a\r\nb\rc":                 "a\nb\nc",
		"a\n\n\n\nb":                "a\n\nb",
		"tab\there":                 "tab here",
		"null\x00byte\x1b[31m":      "nullbyte[31m",
		"rtl\u202eoverride\u200b":   "rtloverride",
		"Grüße, 👍":                  "Grüße, 👍",
		"zeile  \nzwei":             "zeile\nzwei",
		"<script>alert(1)</script>": "<script>alert(1)</script>", // escaped where shown
	} {
		got, err := CleanText(in)
		if err != nil || got != want {
			t.Errorf("CleanText(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func customerActor() customerActorT { return customerActorT{TenantID: tenantA, UserID: "u_x"} }
