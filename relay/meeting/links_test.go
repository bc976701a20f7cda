package meeting

import (
	"errors"
	"parley/relay/ids"
	"strings"
	"testing"
	"time"
)

func TestCreateInstantAndResolve(t *testing.T) {
	e := newEnv(t, nil, nil)
	m, tok := e.instant()
	if !strings.HasPrefix(tok, JoinTokenPrefix) || len(tok) != len(JoinTokenPrefix)+43 {
		t.Fatalf("token %q has the wrong form", tok)
	}
	if m.Type != TypeInstant || m.Status != StatusScheduled || !ids.Valid(m.ID) || m.TenantID != tenantA {
		t.Fatalf("meeting %+v", m)
	}
	if want := e.clock.Now().Add(DefaultInstantLinkTTL); !m.LinkExpiresAt.Equal(want) {
		t.Fatalf("LinkExpiresAt %v, want %v", m.LinkExpiresAt, want)
	}
	got, err := e.svc.Resolve(e.ctx, tok)
	if err != nil || got.ID != m.ID {
		t.Fatalf("Resolve: %+v, %v", got, err)
	}
	// Only the token's digest is stored.
	dump := dumpKV(t, e)
	for k, v := range dump {
		if strings.Contains(k, tok) || strings.Contains(v, tok) || strings.Contains(k, tok[len(JoinTokenPrefix):]) {
			t.Fatalf("token stored in %s", keyKind([]byte(k)))
		}
	}
	if _, ok := dump[string(linkKey(ids.TokenHash(tok)))]; !ok {
		t.Fatal("no link index under the token digest")
	}
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, nil, nil)
	for _, nm := range []NewMeeting{
		{AdvisorID: "a"},
		{TenantID: "t"},
		{TenantID: "t/../x", AdvisorID: "a"},
		{TenantID: "t", AdvisorID: "a", Title: "bad\x00title"},
		{TenantID: "t", AdvisorID: "a", AdvisorName: strings.Repeat("x", 201)},
	} {
		if _, _, err := e.svc.CreateInstant(e.ctx, nm); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("CreateInstant(%+v): %v, want ErrInvalidInput", nm, err)
		}
	}
	if _, _, err := e.svc.CreateBooked(e.ctx, NewMeeting{TenantID: "t", AdvisorID: "a"}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("CreateBooked without start: %v", err)
	}
	past := e.clock.Now().Add(-DefaultBookedExpireAfter)
	if _, _, err := e.svc.CreateBooked(e.ctx, NewMeeting{TenantID: "t", AdvisorID: "a", ScheduledStart: past}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("CreateBooked with expired start: %v", err)
	}
}

func TestResolveErrors(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, tok := e.instant()
	body := tok[len(JoinTokenPrefix):]
	forged := JoinTokenPrefix + strings.Repeat("A", len(body))
	flipped := []byte(tok)
	if flipped[len(flipped)-2] == 'x' {
		flipped[len(flipped)-2] = 'y'
	} else {
		flipped[len(flipped)-2] = 'x'
	}
	for name, bad := range map[string]string{
		"empty":         "",
		"forged":        forged,
		"one char off":  string(flipped),
		"wrong prefix":  "pst_" + body,
		"secret prefix": SecretPrefix + body,
		"no prefix":     body,
		"truncated":     tok[:len(tok)-1],
		"extended":      tok + "A",
		"padded":        tok + "=",
		"not base64":    JoinTokenPrefix + strings.Repeat("!", len(body)),
	} {
		if _, err := e.svc.Resolve(e.ctx, bad); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("%s: %v, want ErrLinkInvalid", name, err)
		}
		if _, err := e.svc.Join(e.ctx, bad, JoinRequest{Name: "Max"}); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("%s: Join: %v, want ErrLinkInvalid", name, err)
		}
	}
}

func TestRotateLink(t *testing.T) {
	e := newEnv(t, nil, nil)
	m, old := e.instant()
	j := e.join(old, "Max Kunde", "")
	if _, err := e.svc.RotateLink(e.ctx, advisor2, m.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("RotateLink by another advisor: %v", err)
	}
	tok, err := e.svc.RotateLink(e.ctx, advisor, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tok == old {
		t.Fatal("rotation returned the old token")
	}
	if _, err := e.svc.Resolve(e.ctx, old); !errors.Is(err, ErrLinkInvalid) {
		t.Fatalf("old token after rotation: %v, want ErrLinkInvalid", err)
	}
	if _, err := e.svc.Join(e.ctx, old, JoinRequest{Name: "Eve"}); !errors.Is(err, ErrLinkInvalid) {
		t.Fatalf("join with old token: %v", err)
	}
	if _, err := e.svc.Resolve(e.ctx, tok); err != nil {
		t.Fatalf("new token: %v", err)
	}
	// Joined customers keep their secrets.
	if st := e.state(j.Secret); st != StateWaiting {
		t.Fatalf("state after rotation %s", st)
	}
	// The window stays the same: the new token expires with the old one.
	e.clock.Advance(DefaultInstantLinkTTL)
	if _, err := e.svc.Resolve(e.ctx, tok); !errors.Is(err, ErrLinkExpired) {
		t.Fatalf("rotated token after 24 h: %v", err)
	}
}

func TestInstantLinkExpiry(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, tok := e.instant()
	e.clock.Advance(DefaultInstantLinkTTL - time.Second)
	if _, err := e.svc.Resolve(e.ctx, tok); err != nil {
		t.Fatalf("1 s before expiry: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.Resolve(e.ctx, tok); !errors.Is(err, ErrLinkExpired) {
		t.Fatalf("at expiry: %v, want ErrLinkExpired", err)
	}
	if _, err := e.svc.Join(e.ctx, tok, JoinRequest{Name: "Max"}); !errors.Is(err, ErrLinkExpired) {
		t.Fatalf("Join at expiry: %v", err)
	}
}

func TestBookedLinkWindow(t *testing.T) {
	e := newEnv(t, nil, nil)
	start := e.clock.Now().Add(3 * time.Hour)
	m, tok := e.booked(start)
	if m.Type != TypeBooked || !m.ScheduledStart.Equal(start) {
		t.Fatalf("meeting %+v", m)
	}
	opens := start.Add(-15 * time.Minute)
	_, err := e.svc.Resolve(e.ctx, tok)
	var nyo *NotYetOpenError
	if !errors.As(err, &nyo) || !errors.Is(err, ErrLinkNotYetOpen) {
		t.Fatalf("before opening: %v, want *NotYetOpenError", err)
	}
	if !nyo.OpensAt.Equal(opens) {
		t.Fatalf("OpensAt %v, want %v", nyo.OpensAt, opens)
	}
	if _, err := e.svc.Join(e.ctx, tok, JoinRequest{Name: "Max"}); !errors.As(err, &nyo) {
		t.Fatalf("Join before opening: %v", err)
	}
	e.clock.Set(opens.Add(-time.Second))
	if _, err := e.svc.Resolve(e.ctx, tok); !errors.Is(err, ErrLinkNotYetOpen) {
		t.Fatalf("1 s before opening: %v", err)
	}
	e.clock.Set(opens)
	if _, err := e.svc.Resolve(e.ctx, tok); err != nil {
		t.Fatalf("at opening: %v", err)
	}
	e.clock.Set(start.Add(2*time.Hour - time.Second))
	if _, err := e.svc.Resolve(e.ctx, tok); err != nil {
		t.Fatalf("1 s before expiry: %v", err)
	}
	e.clock.Set(start.Add(2 * time.Hour))
	if _, err := e.svc.Resolve(e.ctx, tok); !errors.Is(err, ErrLinkExpired) {
		t.Fatalf("at expiry: %v", err)
	}
}

func TestBookedLinkOptions(t *testing.T) {
	e := newEnv(t, nil, func(o *Options) { o.BookedOpenBefore = time.Hour; o.BookedExpireAfter = time.Minute })
	start := e.clock.Now().Add(2 * time.Hour)
	m, _ := e.booked(start)
	if !m.LinkOpensAt.Equal(start.Add(-time.Hour)) || !m.LinkExpiresAt.Equal(start.Add(time.Minute)) {
		t.Fatalf("window %v – %v", m.LinkOpensAt, m.LinkExpiresAt)
	}
}

func TestEndedLink(t *testing.T) {
	e := newEnv(t, nil, nil)
	m, tok := e.instant()
	if err := e.svc.End(e.ctx, advisor, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Resolve(e.ctx, tok); !errors.Is(err, ErrMeetingEnded) {
		t.Fatalf("Resolve after End: %v, want ErrMeetingEnded", err)
	}
	if _, err := e.svc.Join(e.ctx, tok, JoinRequest{Name: "Max"}); !errors.Is(err, ErrMeetingEnded) {
		t.Fatalf("Join after End: %v", err)
	}
	// Ended wins over expired.
	e.clock.Advance(48 * time.Hour)
	if _, err := e.svc.Resolve(e.ctx, tok); !errors.Is(err, ErrMeetingEnded) {
		t.Fatalf("Resolve long after End: %v", err)
	}
	if _, err := e.svc.RotateLink(e.ctx, advisor, m.ID); !errors.Is(err, ErrMeetingEnded) {
		t.Fatalf("RotateLink after End: %v", err)
	}
}

func TestGetAndStart(t *testing.T) {
	e := newEnv(t, nil, nil)
	m, _ := e.instant()
	for _, a := range []Actor{advisor2, adminB, {TenantID: tenantB, UserID: advisor.UserID}, {}} {
		if _, err := e.svc.Get(e.ctx, a, m.ID); !errors.Is(err, ErrForbidden) {
			t.Errorf("Get by %+v: %v, want ErrForbidden", a, err)
		}
	}
	if _, err := e.svc.Get(e.ctx, advisor, "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get unknown: %v", err)
	}
	if _, err := e.svc.Get(e.ctx, advisor, "../x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get malformed: %v", err)
	}
	e.clock.Advance(time.Minute)
	got, err := e.svc.Start(e.ctx, adminA, m.ID)
	if err != nil || got.Status != StatusOpen || !got.Started.Equal(e.clock.Now()) {
		t.Fatalf("Start: %+v, %v", got, err)
	}
	if md := e.meta(m.ID); !md.Started.Equal(got.Started) {
		t.Fatalf("metadata start %v", md.Started)
	}
	e.clock.Advance(time.Minute)
	again, err := e.svc.Start(e.ctx, advisor, m.ID)
	if err != nil || !again.Started.Equal(got.Started) {
		t.Fatalf("second Start moved the start: %+v, %v", again, err)
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without store succeeded")
	}
	e := newEnv(t, nil, nil)
	for _, o := range []Options{
		{Store: e.kv, InstantLinkTTL: -1},
		{Store: e.kv, MaxWaiting: -1},
		{Store: e.kv, EventBuffer: -1},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
	if e.svc.opts.MaxWaiting != 20 || e.svc.opts.MaxParticipants != 50 || e.svc.opts.InstantLinkTTL != 24*time.Hour ||
		e.svc.opts.BookedOpenBefore != 15*time.Minute || e.svc.opts.BookedExpireAfter != 2*time.Hour {
		t.Errorf("defaults %+v", e.svc.opts)
	}
	if _, err := e.svc.MetadataOf(e.ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Errorf("MetadataOf unknown: %v", err)
	}
}

func TestByCustomerListsTheCustomersMeetingsOfTheTenantOnly(t *testing.T) {
	e := newEnv(t, nil, nil)
	cust := ids.New()
	first, _, err := e.svc.CreateInstant(e.ctx, NewMeeting{TenantID: tenantA, AdvisorID: advisor.UserID, CustomerID: cust})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	second, _, err := e.svc.CreateBooked(e.ctx, NewMeeting{TenantID: tenantA, AdvisorID: advisor.UserID, CustomerID: cust, ScheduledStart: e.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	e.instant() // a meeting without a customer
	got, err := e.svc.ByCustomer(e.ctx, Actor{TenantID: tenantA, UserID: "someone-else"}, cust, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != second.ID || got[1].ID != first.ID || got[0].CustomerID != cust {
		t.Fatalf("ByCustomer = %+v, want the two meetings newest first", got)
	}
	other, err := e.svc.ByCustomer(e.ctx, Actor{TenantID: tenantB, UserID: advisor.UserID}, cust, 0)
	if err != nil || len(other) != 0 {
		t.Fatalf("another tenant sees %d meetings (%v)", len(other), err)
	}
	if _, _, err := e.svc.CreateInstant(e.ctx, NewMeeting{TenantID: tenantA, AdvisorID: advisor.UserID, CustomerID: "../x"}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("malformed customer id: %v", err)
	}
}
