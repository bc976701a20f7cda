package meeting

import (
	"crypto/rand"
	"testing"

	"parley/relay/store/storetest"
)

// TestBadgerNoPlaintextPersonalData joins a customer into a meeting on a
// real encrypted badger store and checks that neither the customer's name,
// phone and IP nor the advisor's name appears in any file of the data
// folder.
func TestBadgerNoPlaintextPersonalData(t *testing.T) {
	const (
		name    = "Erika Mustermann"
		phone   = "+491701234567"
		ip      = "198.51.100.77"
		ipv6    = "2001:db8:77:1::42"
		advName = "Anna Beraterin"
	)
	dir := t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)

	assertAbsent := func(when string) {
		t.Helper()
		if storetest.AssertNoPlaintext(t, dir, when, name, phone, ip, ipv6, advName) == 0 {
			t.Fatalf("%s: no files in the data folder", when)
		}
	}

	db := openBadger(t, dir, key)
	e := newEnv(t, db, nil)
	m, tok := e.instant()
	j, err := e.svc.Join(e.ctx, tok, JoinRequest{Name: name, Phone: "+49 170 1234567", IP: ip})
	must(t, err)
	j2 := e.join(tok, "Zweite Kundin", ipv6)
	must(t, e.svc.Admit(e.ctx, advisor, m.ID, j.ParticipantID))
	must(t, db.Close())
	assertAbsent("after close")

	// Reopen: the data is there, so the check above looked at real data.
	db = openBadger(t, dir, key)
	e2 := newEnv(t, db, nil)
	c, err := e2.svc.ParticipantBySecret(e2.ctx, j.Secret)
	if err != nil || c.Participant.Name != name || c.Participant.Phone != phone || c.Participant.State != StateAdmitted {
		t.Fatalf("after reopen: %+v, %v", c, err)
	}
	md := e2.meta(m.ID)
	if md.Participants[0].IP != ip || md.Participants[1].IP != ipv6 || md.AdvisorName != advName {
		t.Fatalf("metadata after reopen: %+v", md)
	}
	if st := e2.state(j2.Secret); st != StateWaiting {
		t.Fatalf("second customer %s", st)
	}
	must(t, db.Close())
	assertAbsent("after second close")
	e.assertLogsClean(name, phone, ip, ipv6, advName)
	e2.assertLogsClean(name, phone, ip, ipv6, advName)
}
