package chat

import (
	"errors"
	"strings"
	"testing"

	"parley/relay/signal/msg"
)

func TestPostNumbersTheTimelineAndIgnoresRepeatedNonces(t *testing.T) {
	e := newEnv(t, nil, Options{})
	var seqs []uint64
	for i, text := range []string{"Guten Tag!", "Haben Sie die Unterlagen?", "Ja, einen Moment."} {
		a := customer
		if i%2 == 1 {
			a = advisor
		}
		en, created, err := e.svc.Post(e.ctx, meetingA, a, text, "n"+string(rune('0'+i)))
		must(t, err)
		if !created || en.Text != text || en.From != a.ID || en.Name != a.Name || en.Role != a.Role || en.ID == "" || en.Sent.IsZero() {
			t.Fatalf("post %d: %+v created=%v", i, en, created)
		}
		seqs = append(seqs, en.Seq)
	}
	if seqs[0] != 1 || seqs[1] != 2 || seqs[2] != 3 {
		t.Fatalf("seqs %v, want 1 2 3", seqs)
	}

	// The customer resends its first message after a reconnect.
	again, created, err := e.svc.Post(e.ctx, meetingA, customer, "Guten Tag!", "n0")
	must(t, err)
	if created || again.Seq != 1 {
		t.Fatalf("resent nonce: seq %d created %v", again.Seq, created)
	}
	// The same nonce from someone else is a new message; no nonce never
	// deduplicates.
	if en, created, err := e.svc.Post(e.ctx, meetingA, advisor, "Guten Tag!", "n0"); err != nil || !created || en.Seq != 4 {
		t.Fatalf("other author's nonce: %+v %v %v", en, created, err)
	}
	for want := uint64(5); want <= 6; want++ {
		if en, created, err := e.svc.Post(e.ctx, meetingA, advisor, "ok", ""); err != nil || !created || en.Seq != want {
			t.Fatalf("no nonce: %+v %v %v", en, created, err)
		}
	}
	// Another meeting counts on its own.
	if en, _, err := e.svc.Post(e.ctx, meetingB, advisor, "Hallo", ""); err != nil || en.Seq != 1 {
		t.Fatalf("other meeting: %+v %v", en, err)
	}

	all, err := e.svc.Since(e.ctx, meetingA, 0, 0)
	must(t, err)
	if len(all) != 6 {
		t.Fatalf("since 0: %d entries", len(all))
	}
	for i, en := range all {
		if en.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, en.Seq)
		}
	}
	tail, err := e.svc.Since(e.ctx, meetingA, 4, 1)
	must(t, err)
	if len(tail) != 1 || tail[0].Seq != 5 {
		t.Fatalf("since 4 limit 1: %+v", tail)
	}
	if none, err := e.svc.Since(e.ctx, "0000", 0, 0); err != nil || len(none) != 0 {
		t.Fatalf("unknown meeting: %v %v", none, err)
	}
	e.assertLogsClean("Guten Tag", "Klara", "Anna")
}

func TestPostRefusesInvalidInput(t *testing.T) {
	e := newEnv(t, nil, Options{})
	long := strings.Repeat("ä", msg.MaxChatRunes+1)
	for _, c := range []struct {
		name      string
		meetingID string
		a         Author
		text      string
		nonce     string
	}{
		{"empty", meetingA, customer, "  \n ", ""},
		{"too long", meetingA, customer, long, ""},
		{"control", meetingA, customer, "a\x1bb", ""},
		{"not utf-8", meetingA, customer, "a\xffb", ""},
		{"long nonce", meetingA, customer, "a", strings.Repeat("n", msg.MaxNonce+1)},
		{"meeting id with slash", "a/b", customer, "a", ""},
		{"empty meeting id", "", customer, "a", ""},
		{"no author id", meetingA, Author{Name: "x", Role: msg.RoleCustomer}, "a", ""},
		{"bad role", meetingA, Author{ID: "x", Role: "admin"}, "a", ""},
		{"name with newline", meetingA, Author{ID: "x", Name: "a\nb", Role: msg.RoleCustomer}, "a", ""},
	} {
		if _, _, err := e.svc.Post(e.ctx, c.meetingID, c.a, c.text, c.nonce); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.name, err)
		}
	}
	if n := e.keys("chat/"); n != 0 {
		t.Fatalf("refused posts left %d keys", n)
	}
	// Exactly at the limits is fine.
	if _, _, err := e.svc.Post(e.ctx, meetingA, customer, strings.Repeat("ä", msg.MaxChatRunes), strings.Repeat("n", msg.MaxNonce)); err != nil {
		t.Fatal(err)
	}
}

func TestPostCountsAgainstTheMeetingQuota(t *testing.T) {
	e := newEnv(t, nil, Options{MaxMeetingBytes: 10})
	must2 := func(err error) {
		t.Helper()
		must(t, err)
	}
	_, _, err := e.svc.Post(e.ctx, meetingA, customer, "12345", "")
	must2(err)
	_, _, err = e.svc.Post(e.ctx, meetingA, customer, "12345", "")
	must2(err)
	if _, _, err := e.svc.Post(e.ctx, meetingA, customer, "1", ""); !errors.Is(err, ErrQuota) {
		t.Fatalf("over quota: %v", err)
	}
	if _, _, err := e.svc.Post(e.ctx, meetingB, customer, "1", ""); err != nil {
		t.Fatalf("another meeting: %v", err)
	}
}
