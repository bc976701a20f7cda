package meeting

import (
	"errors"
	"parley/relay/ids"
	"strings"
	"testing"
	"time"
)

func TestJoinValidation(t *testing.T) {
	for _, tc := range []struct {
		name      string
		req       JoinRequest
		field     string // "" means valid
		wantName  string
		wantPhone string
		wantIP    string
	}{
		{"plain", JoinRequest{Name: "Max Mustermann"}, "", "Max Mustermann", "", ""},
		{"trimmed", JoinRequest{Name: "  Jörg Müller \t"}, "", "Jörg Müller", "", ""},
		{"80 runes", JoinRequest{Name: strings.Repeat("ä", 80)}, "", strings.Repeat("ä", 80), "", ""},
		{"emoji with ZWJ", JoinRequest{Name: "Ana 👩‍💻"}, "", "Ana 👩‍💻", "", ""},
		{"empty", JoinRequest{Name: ""}, "name", "", "", ""},
		{"spaces only", JoinRequest{Name: "   "}, "name", "", "", ""},
		{"81 runes", JoinRequest{Name: strings.Repeat("ä", 81)}, "name", "", "", ""},
		{"huge", JoinRequest{Name: strings.Repeat("a", 100000)}, "name", "", "", ""},
		{"NUL", JoinRequest{Name: "Max\x00"}, "name", "", "", ""},
		{"newline", JoinRequest{Name: "Max\nAdmin"}, "name", "", "", ""},
		{"inner tab", JoinRequest{Name: "Max\tM"}, "name", "", "", ""},
		{"escape", JoinRequest{Name: "Max\x1b[31m"}, "name", "", "", ""},
		{"DEL", JoinRequest{Name: "Max\x7f"}, "name", "", "", ""},
		{"C1", JoinRequest{Name: "Ma\u0085x"}, "name", "", "", ""},
		{"bidi override", JoinRequest{Name: "Max\u202eeM"}, "name", "", "", ""},
		{"line separator", JoinRequest{Name: "Max\u2028M"}, "name", "", "", ""},
		{"invalid UTF-8", JoinRequest{Name: "Max\xff"}, "name", "", "", ""},
		{"phone", JoinRequest{Name: "M", Phone: "+49 170 1234567"}, "", "M", "+491701234567", ""},
		{"phone 6 digits", JoinRequest{Name: "M", Phone: "+123456"}, "", "M", "+123456", ""},
		{"phone 15 digits", JoinRequest{Name: "M", Phone: "+123456789012345"}, "", "M", "+123456789012345", ""},
		{"phone spaces around", JoinRequest{Name: "M", Phone: "  +49 30 123  "}, "", "M", "+4930123", ""},
		{"phone 5 digits", JoinRequest{Name: "M", Phone: "+12345"}, "phone", "", "", ""},
		{"phone 16 digits", JoinRequest{Name: "M", Phone: "+1234567890123456"}, "phone", "", "", ""},
		{"phone no plus", JoinRequest{Name: "M", Phone: "0170 1234567"}, "phone", "", "", ""},
		{"phone dashes", JoinRequest{Name: "M", Phone: "+49-170-1234567"}, "phone", "", "", ""},
		{"phone letters", JoinRequest{Name: "M", Phone: "+49 170 CALLME"}, "phone", "", "", ""},
		{"phone two plus", JoinRequest{Name: "M", Phone: "++491701234567"}, "phone", "", "", ""},
		{"phone plus only", JoinRequest{Name: "M", Phone: "+"}, "phone", "", "", ""},
		{"phone arabic digits", JoinRequest{Name: "M", Phone: "+٤٩١٧٠١٢٣٤٥٦٧"}, "phone", "", "", ""},
		{"ipv4", JoinRequest{Name: "M", IP: "198.51.100.7"}, "", "M", "", "198.51.100.7"},
		{"ipv4-mapped", JoinRequest{Name: "M", IP: "::ffff:198.51.100.7"}, "", "M", "", "198.51.100.7"},
		{"ipv6 zone", JoinRequest{Name: "M", IP: "fe80::1%eth0"}, "", "M", "", "fe80::1"},
		{"bad ip", JoinRequest{Name: "M", IP: "198.51.100.7:443"}, "ip", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, phone, ip, err := validateJoin(tc.req)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if name != tc.wantName || phone != tc.wantPhone || ip != tc.wantIP {
					t.Fatalf("got %q %q %q, want %q %q %q", name, phone, ip, tc.wantName, tc.wantPhone, tc.wantIP)
				}
				return
			}
			var ie *InputError
			if !errors.As(err, &ie) || ie.Field != tc.field || !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("err %v, want *InputError for %s", err, tc.field)
			}
			if tc.req.Name != "" && strings.Contains(err.Error(), tc.req.Name) || tc.req.Phone != "" && strings.Contains(err.Error(), tc.req.Phone) {
				t.Fatalf("error message %q contains the input", err)
			}
		})
	}
	// Through the Service: a bad request changes nothing.
	e := newEnv(t, nil, nil)
	m, tok := e.instant()
	if _, err := e.svc.Join(e.ctx, tok, JoinRequest{Name: "Max\x00"}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("Join: %v", err)
	}
	if ps, _ := e.svc.Participants(e.ctx, advisor, m.ID); len(ps) != 0 {
		t.Fatalf("participants after rejected join: %+v", ps)
	}
}

func TestWaitingAdmit(t *testing.T) {
	e := newEnv(t, nil, nil)
	m, tok := e.instant()
	j, err := e.svc.Join(e.ctx, tok, JoinRequest{Name: " Max Kunde ", Phone: "+49 170 1234567", IP: "198.51.100.7"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(j.Secret, SecretPrefix) || !ids.Valid(j.ParticipantID) || j.Meeting.ID != m.ID {
		t.Fatalf("Joined %+v", j)
	}
	c, err := e.svc.ParticipantBySecret(e.ctx, j.Secret)
	if err != nil || c.Participant.State != StateWaiting || c.Participant.ID != j.ParticipantID || c.Meeting.ID != m.ID {
		t.Fatalf("ParticipantBySecret: %+v, %v", c, err)
	}
	w, err := e.svc.Waiting(e.ctx, advisor, m.ID)
	if err != nil || len(w) != 1 || w[0].Name != "Max Kunde" || w[0].Phone != "+491701234567" || w[0].State != StateWaiting {
		t.Fatalf("Waiting: %+v, %v", w, err)
	}
	e.clock.Advance(time.Minute)
	if err := e.svc.Admit(e.ctx, advisor, m.ID, j.ParticipantID); err != nil {
		t.Fatal(err)
	}
	if st := e.state(j.Secret); st != StateAdmitted {
		t.Fatalf("state %s, want admitted", st)
	}
	if w, _ := e.svc.Waiting(e.ctx, advisor, m.ID); len(w) != 0 {
		t.Fatalf("still waiting: %+v", w)
	}
	got, _ := e.svc.Get(e.ctx, advisor, m.ID)
	if got.Status != StatusOpen || !got.Started.Equal(e.clock.Now()) {
		t.Fatalf("first admission did not start the meeting: %+v", got)
	}
	if err := e.svc.Admit(e.ctx, advisor, m.ID, j.ParticipantID); !errors.Is(err, ErrWrongState) {
		t.Fatalf("second Admit: %v, want ErrWrongState", err)
	}
	if err := e.svc.Admit(e.ctx, advisor, m.ID, "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Admit unknown: %v", err)
	}
	e.assertLogsClean("Max Kunde", "+491701234567", "198.51.100.7", j.Secret, tok)
}

func TestReject(t *testing.T) {
	e := newEnv(t, nil, nil)
	m, tok := e.instant()
	j := e.join(tok, "Eve", "")
	if err := e.svc.Reject(e.ctx, advisor, m.ID, j.ParticipantID); err != nil {
		t.Fatal(err)
	}
	if st := e.state(j.Secret); st != StateRejected {
		t.Fatalf("state %s", st)
	}
	if err := e.svc.Admit(e.ctx, advisor, m.ID, j.ParticipantID); !errors.Is(err, ErrWrongState) {
		t.Fatalf("Admit after Reject: %v", err)
	}
	if err := e.svc.Remove(e.ctx, advisor, m.ID, j.ParticipantID); !errors.Is(err, ErrWrongState) {
		t.Fatalf("Remove after Reject: %v", err)
	}
}

func TestRemoveNoRejoin(t *testing.T) {
	e := newEnv(t, nil, nil)
	m, tok := e.instant()
	j := e.join(tok, "Max", "")
	if err := e.svc.Remove(e.ctx, advisor, m.ID, j.ParticipantID); !errors.Is(err, ErrWrongState) {
		t.Fatalf("Remove while waiting: %v", err)
	}
	if err := e.svc.Admit(e.ctx, advisor, m.ID, j.ParticipantID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Remove(e.ctx, advisor, m.ID, j.ParticipantID); err != nil {
		t.Fatal(err)
	}
	// The same secret can never be admitted again.
	if st := e.state(j.Secret); st != StateRemoved {
		t.Fatalf("state %s, want removed", st)
	}
	if err := e.svc.Admit(e.ctx, advisor, m.ID, j.ParticipantID); !errors.Is(err, ErrWrongState) {
		t.Fatalf("re-admit after Remove: %v", err)
	}
	// A new join through the link is a new participant with a new secret.
	j2 := e.join(tok, "Max", "")
	if j2.ParticipantID == j.ParticipantID || j2.Secret == j.Secret {
		t.Fatal("rejoin reused the participant")
	}
	if st := e.state(j.Secret); st != StateRemoved {
		t.Fatalf("old secret state %s after rejoin", st)
	}
}

func TestEndKillsEverything(t *testing.T) {
	e := newEnv(t, nil, nil)
	m, tok := e.instant()
	admitted := e.join(tok, "A", "")
	waiting := e.join(tok, "W", "")
	rejected := e.join(tok, "R", "")
	if _, err := e.svc.Join(e.ctx, tok, JoinRequest{Name: "P", Phone: "+49 30 1234567"}); err != nil {
		t.Fatal(err)
	}
	must(t, e.svc.Admit(e.ctx, advisor, m.ID, admitted.ParticipantID))
	must(t, e.svc.Reject(e.ctx, advisor, m.ID, rejected.ParticipantID))
	if err := e.svc.End(e.ctx, advisor2, m.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("End by another advisor: %v", err)
	}
	e.clock.Advance(10 * time.Minute)
	must(t, e.svc.End(e.ctx, advisor, m.ID))
	for _, j := range []Joined{admitted, waiting, rejected} {
		if st := e.state(j.Secret); st != StateEnded {
			t.Errorf("state after End %s, want ended", st)
		}
	}
	if _, err := e.svc.Resolve(e.ctx, tok); !errors.Is(err, ErrMeetingEnded) {
		t.Fatalf("link after End: %v", err)
	}
	if err := e.svc.Admit(e.ctx, advisor, m.ID, waiting.ParticipantID); !errors.Is(err, ErrMeetingEnded) {
		t.Fatalf("Admit after End: %v", err)
	}
	if err := e.svc.Remove(e.ctx, advisor, m.ID, admitted.ParticipantID); !errors.Is(err, ErrMeetingEnded) {
		t.Fatalf("Remove after End: %v", err)
	}
	got, _ := e.svc.Get(e.ctx, advisor, m.ID)
	if got.Status != StatusEnded || !got.Ended.Equal(e.clock.Now()) {
		t.Fatalf("meeting after End %+v", got)
	}
	ps, _ := e.svc.Participants(e.ctx, advisor, m.ID)
	for _, p := range ps {
		if p.Phone != "" {
			t.Fatalf("phone kept after End: participant %s", p.ID)
		}
	}
	// Ending twice is harmless and keeps the first end.
	ended := got.Ended
	e.clock.Advance(time.Minute)
	must(t, e.svc.End(e.ctx, advisor, m.ID))
	if got, _ := e.svc.Get(e.ctx, advisor, m.ID); !got.Ended.Equal(ended) {
		t.Fatalf("second End moved the end")
	}
}

func TestForbidden(t *testing.T) {
	e := newEnv(t, nil, nil)
	m, tok := e.instant()
	j := e.join(tok, "Max", "")
	for _, a := range []Actor{
		advisor2,
		adminB,
		{TenantID: tenantB, UserID: advisor.UserID},
		{TenantID: tenantB, UserID: advisor.UserID, Admin: true},
		{UserID: advisor.UserID},
		{TenantID: tenantA},
	} {
		if err := e.svc.Admit(e.ctx, a, m.ID, j.ParticipantID); !errors.Is(err, ErrForbidden) {
			t.Errorf("Admit by %+v: %v, want ErrForbidden", a, err)
		}
		if err := e.svc.Reject(e.ctx, a, m.ID, j.ParticipantID); !errors.Is(err, ErrForbidden) {
			t.Errorf("Reject by %+v: %v", a, err)
		}
		if _, err := e.svc.Waiting(e.ctx, a, m.ID); !errors.Is(err, ErrForbidden) {
			t.Errorf("Waiting by %+v: %v", a, err)
		}
		if err := e.svc.End(e.ctx, a, m.ID); !errors.Is(err, ErrForbidden) {
			t.Errorf("End by %+v: %v", a, err)
		}
	}
	if st := e.state(j.Secret); st != StateWaiting {
		t.Fatalf("state %s after forbidden calls", st)
	}
	// An admin of the same tenant may.
	must(t, e.svc.Admit(e.ctx, adminA, m.ID, j.ParticipantID))
}

func TestParticipantBySecretErrors(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, tok := e.instant()
	j := e.join(tok, "Max", "")
	body := j.Secret[len(SecretPrefix):]
	for name, bad := range map[string]string{
		"empty":        "",
		"forged":       SecretPrefix + strings.Repeat("A", len(body)),
		"join token":   tok,
		"wrong prefix": JoinTokenPrefix + body,
		"truncated":    j.Secret[:len(j.Secret)-1],
	} {
		if _, err := e.svc.ParticipantBySecret(e.ctx, bad); !errors.Is(err, ErrSecretInvalid) {
			t.Errorf("%s: %v, want ErrSecretInvalid", name, err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLeave(t *testing.T) {
	e := newEnv(t, nil, nil)
	m, tok := e.instant()
	events, cancel := e.svc.Subscribe(m.ID)
	defer cancel()
	waiting := e.join(tok, "Wanda", "")
	admitted := e.join(tok, "Anton", "")
	must(t, e.svc.Admit(e.ctx, advisor, m.ID, admitted.ParticipantID))
	for _, j := range []Joined{waiting, admitted} {
		must(t, e.svc.Leave(e.ctx, j.Secret))
		if st := e.state(j.Secret); st != StateLeft {
			t.Fatalf("state after Leave %s", st)
		}
	}
	var left int
	for len(events) > 0 {
		if ev := <-events; ev.Kind == EventLeft {
			left++
		}
	}
	if left != 2 {
		t.Fatalf("%d left events, want 2", left)
	}
	// Leaving is final: nobody can admit the customer again, and a second
	// Leave changes nothing.
	if err := e.svc.Admit(e.ctx, advisor, m.ID, waiting.ParticipantID); !errors.Is(err, ErrWrongState) {
		t.Fatalf("admit after leave: %v", err)
	}
	must(t, e.svc.Leave(e.ctx, waiting.Secret))
	ws, err := e.svc.Waiting(e.ctx, advisor, m.ID)
	if err != nil || len(ws) != 0 {
		t.Fatalf("waiting room after leave: %+v %v", ws, err)
	}
	for _, bad := range []string{"", "pmp_forged", waiting.Secret + "x", tok} {
		if err := e.svc.Leave(e.ctx, bad); !errors.Is(err, ErrSecretInvalid) {
			t.Errorf("Leave(%q): %v", bad, err)
		}
	}
}

func TestListIsPerAdvisorNewestFirst(t *testing.T) {
	e := newEnv(t, nil, nil)
	var ids []string
	for range 3 {
		m, _ := e.instant()
		ids = append(ids, m.ID)
		e.clock.Advance(time.Minute)
	}
	if _, _, err := e.svc.CreateInstant(e.ctx, NewMeeting{TenantID: tenantA, AdvisorID: advisor2.UserID}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.List(e.ctx, advisor, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != ids[2] || got[2].ID != ids[0] {
		t.Fatalf("List = %+v, want %v newest first", got, ids)
	}
	two, _ := e.svc.List(e.ctx, advisor, 2)
	if len(two) != 2 || two[0].ID != ids[2] {
		t.Fatalf("List(limit 2) = %+v", two)
	}
	other, _ := e.svc.List(e.ctx, Actor{TenantID: tenantB, UserID: advisor.UserID}, 0)
	if len(other) != 0 {
		t.Fatalf("another tenant's advisor with the same id sees %+v", other)
	}
	if _, err := e.svc.List(e.ctx, Actor{TenantID: "a/b", UserID: "x"}, 0); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("malformed actor: %v", err)
	}
}
