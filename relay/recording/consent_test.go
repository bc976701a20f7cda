package recording

import (
	"errors"
	"slices"
	"testing"
	"time"

	"parley/relay/clock"
)

func mustT(t testing.TB) func(Indicator, error) Indicator {
	return func(in Indicator, err error) Indicator {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
}

func newConsent(t *testing.T, customers ...string) (*Consent, *clock.Fake) {
	t.Helper()
	must := mustT(t)
	clk := clock.NewFake(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	c := NewConsent("m1", clk)
	must(c.Join("adv", RoleAdvisor))
	for _, id := range customers {
		must(c.Join(id, RoleCustomer))
	}
	return c, clk
}

func TestConsentRefusalIsDefault(t *testing.T) {
	must := mustT(t)
	c, _ := newConsent(t, "c1", "c2")
	in := must(c.Request("adv"))
	if in.Phase != PhasePending || in.Recording || !slices.Equal(in.Awaiting, []string{"c1", "c2"}) || in.RequestedBy != "adv" {
		t.Fatalf("after request: %+v", in)
	}
	in = must(c.Accept("c1"))
	if in.Recording || !slices.Equal(in.Awaiting, []string{"c2"}) || !slices.Equal(in.Accepted, []string{"c1"}) {
		t.Fatalf("one of two accepted: %+v", in)
	}
	in = must(c.Accept("c2"))
	if !in.Recording || in.Phase != PhaseRecording || len(in.Awaiting) != 0 {
		t.Fatalf("all accepted: %+v", in)
	}
}

func TestConsentRolesAndErrorsChangeNothing(t *testing.T) {
	must := mustT(t)
	c, _ := newConsent(t, "c1")
	before := c.Indicator()
	n := len(c.Record().Entries)
	cases := []struct {
		name string
		fn   func() (Indicator, error)
		want error
	}{
		{"accept without request", func() (Indicator, error) { return c.Accept("c1") }, ErrNoRequest},
		{"withdraw without request", func() (Indicator, error) { return c.Withdraw("c1") }, ErrNoRequest},
		{"stop without request", func() (Indicator, error) { return c.Stop("adv") }, ErrNoRequest},
		{"customer requests", func() (Indicator, error) { return c.Request("c1") }, ErrNotAllowed},
		{"advisor accepts", func() (Indicator, error) { return c.Accept("adv") }, ErrNotAllowed},
		{"stranger requests", func() (Indicator, error) { return c.Request("x") }, ErrUnknownParticipant},
		{"stranger accepts", func() (Indicator, error) { return c.Accept("x") }, ErrUnknownParticipant},
		{"empty id", func() (Indicator, error) { return c.Join("", RoleCustomer) }, ErrInvalidParticipant},
		{"bad role", func() (Indicator, error) { return c.Join("z", Role("admin")) }, ErrInvalidParticipant},
		{"role change", func() (Indicator, error) { return c.Join("c1", RoleAdvisor) }, ErrInvalidParticipant},
	}
	for _, tc := range cases {
		if _, err := tc.fn(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if after := c.Indicator(); after.Seq != before.Seq || after.Phase != PhaseOff || len(c.Record().Entries) != n {
		t.Fatalf("failed calls changed state: %+v, %d entries", after, len(c.Record().Entries))
	}
	must(c.Request("adv"))
	if _, err := c.Request("adv"); !errors.Is(err, ErrAlreadyRequested) {
		t.Fatalf("second request: %v", err)
	}
}

func TestConsentRefuseAndWithdrawEndTheRequest(t *testing.T) {
	must := mustT(t)
	c, clk := newConsent(t, "c1", "c2")
	must(c.Request("adv"))
	must(c.Accept("c1"))
	in := must(c.Refuse("c2"))
	if in.Phase != PhaseOff || in.Recording {
		t.Fatalf("after refusal: %+v", in)
	}
	if _, err := c.Accept("c2"); !errors.Is(err, ErrNoRequest) {
		t.Fatalf("accept after refusal: %v", err)
	}
	// A new request asks everyone anew: c1's earlier acceptance is gone.
	in = must(c.Request("adv"))
	if in.Request != 2 || !slices.Equal(in.Awaiting, []string{"c1", "c2"}) {
		t.Fatalf("second request: %+v", in)
	}
	must(c.Accept("c1"))
	must(c.Accept("c2"))
	clk.Advance(time.Minute)
	in = must(c.Withdraw("c1"))
	if in.Phase != PhaseOff || in.Recording {
		t.Fatalf("after withdrawal: %+v", in)
	}
	rec := c.Record()
	last := rec.Entries[len(rec.Entries)-2:]
	if last[0].Action != ActionWithdraw || last[0].ParticipantID != "c1" || last[0].Role != RoleCustomer ||
		!last[0].At.Equal(clk.Now()) || last[1].Action != ActionEnded || last[1].Phase != PhaseOff {
		t.Fatalf("record tail %+v", last)
	}
}

func TestConsentLateJoinerPausesUntilAccepting(t *testing.T) {
	must := mustT(t)
	c, _ := newConsent(t, "c1")
	must(c.Request("adv"))
	must(c.Accept("c1"))
	in := must(c.Join("c2", RoleCustomer))
	if in.Phase != PhasePaused || in.Recording || !slices.Equal(in.Awaiting, []string{"c2"}) {
		t.Fatalf("late joiner: %+v", in)
	}
	in = must(c.Accept("c2"))
	if !in.Recording {
		t.Fatalf("after late accept: %+v", in)
	}
	// A joining advisor does not pause.
	if in = must(c.Join("adv2", RoleAdvisor)); !in.Recording {
		t.Fatalf("advisor joined: %+v", in)
	}
	var actions []Action
	for _, e := range c.Record().Entries {
		actions = append(actions, e.Action)
	}
	want := []Action{ActionJoin, ActionJoin, ActionRequest, ActionAccept, ActionStarted, ActionJoin, ActionPaused, ActionAccept, ActionResumed, ActionJoin}
	if !slices.Equal(actions, want) {
		t.Fatalf("record %v\nwant   %v", actions, want)
	}
}

func TestConsentLeavingCustomersDoNotBlock(t *testing.T) {
	must := mustT(t)
	c, _ := newConsent(t, "c1", "c2")
	must(c.Request("adv"))
	must(c.Accept("c1"))
	in := must(c.Leave("c2"))
	if !in.Recording {
		t.Fatalf("unanswered customer left: %+v", in)
	}
	// Nobody left to record: paused, and a returning customer is asked again.
	in = must(c.Leave("c1"))
	if in.Phase != PhasePaused {
		t.Fatalf("last customer left: %+v", in)
	}
	in = must(c.Join("c1", RoleCustomer))
	if in.Recording || !slices.Equal(in.Awaiting, []string{"c1"}) {
		t.Fatalf("customer returned: %+v", in)
	}
	// Leaving twice or an unknown id changes nothing.
	seq := c.Indicator().Seq
	must(c.Leave("nobody"))
	if c.Indicator().Seq != seq {
		t.Fatal("unknown leave changed state")
	}
}

func TestConsentStopByAdvisor(t *testing.T) {
	must := mustT(t)
	c, _ := newConsent(t, "c1")
	must(c.Request("adv"))
	must(c.Accept("c1"))
	if _, err := c.Stop("c1"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("customer stop: %v", err)
	}
	if in := must(c.Stop("adv")); in.Phase != PhaseOff {
		t.Fatalf("%+v", in)
	}
}

// FuzzConsent runs random operation sequences and checks the invariant:
// recording only while at least one customer is present and every present
// customer has accepted the current request.
func FuzzConsent(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{2, 0x13, 0x23, 0x11, 0x33, 0x40, 0x21, 0x25, 0x36})
	f.Fuzz(func(t *testing.T, ops []byte) {
		c := NewConsent("m", clock.NewFake(time.Time{}))
		present := map[string]Role{}
		accepted := map[string]bool{}
		ids := []string{"a", "b", "c", "d"}
		for _, op := range ops {
			id := ids[op>>4&3]
			role := RoleCustomer
			if id == "a" {
				role = RoleAdvisor
			}
			var err error
			prev := c.Indicator()
			switch op & 7 {
			case 0:
				_, err = c.Join(id, role)
				if err == nil && present[id] == "" {
					present[id] = role
					accepted[id] = false
				}
			case 1:
				_, err = c.Leave(id)
				delete(present, id)
				delete(accepted, id)
			case 2:
				_, err = c.Request(id)
				if err == nil {
					for k := range accepted {
						accepted[k] = false
					}
				}
			case 3, 7:
				_, err = c.Accept(id)
				if err == nil {
					accepted[id] = true
				}
			case 4:
				_, err = c.Refuse(id)
			case 5:
				_, err = c.Withdraw(id)
			case 6:
				_, err = c.Stop(id)
			}
			in := c.Indicator()
			if err != nil && in.Seq != prev.Seq {
				t.Fatalf("failed op %#x changed state", op)
			}
			customers, ok := 0, true
			for k, r := range present {
				if r == RoleCustomer {
					customers++
					ok = ok && accepted[k]
				}
			}
			if in.Recording && (customers == 0 || !ok) {
				t.Fatalf("recording with customers=%d all accepted=%v after %#x", customers, ok, op)
			}
			if in.Phase == PhasePending || in.Phase == PhasePaused {
				if customers > 0 && ok {
					t.Fatalf("not recording although everyone accepted after %#x", op)
				}
			}
		}
	})
}
