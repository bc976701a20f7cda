package signing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"parley/relay/signing"
	"parley/relay/signing/pdf"
	"parley/signpad"
	"parley/signpad/envelope"
	"parley/signpad/iso19794"
)

// evdevRecord is a kiosk's binary ISO/IEC 19794-7 record: a pen tablet
// with pressure and tip switch, n samples 5 ms apart.
func evdevRecord(t testing.TB, n int) []byte {
	t.Helper()
	sig := signpad.Signature{Start: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		Device: signpad.Device{Source: "evdev", Name: "Wacom STU-540 Pen", X: signpad.Axis{Max: 20000, Res: 40}, Y: signpad.Axis{Max: 12000, Res: 40},
			Pressure: signpad.Axis{Max: 1023}, Caps: signpad.CapPressure | signpad.CapTipSwitch | signpad.CapHover}}
	for i := range n {
		sig.Samples = append(sig.Samples, signpad.Sample{T: int64(i) * 5000, X: int32(1000 + 37*i), Y: int32(3000 + (i%17)*40),
			Pressure: int32(200 + i%400), Down: i%25 != 24})
	}
	rec, err := iso19794.FromSignature(sig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rec.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// backwardsRecord has a T channel whose third sample is earlier than the
// second.
func backwardsRecord(t testing.TB) []byte {
	t.Helper()
	rep := iso19794.Representation{Points: []iso19794.Point{
		{iso19794.X: 1, iso19794.Y: 1, iso19794.T: 500}, {iso19794.X: 20, iso19794.Y: 5, iso19794.T: 510}, {iso19794.X: 30, iso19794.Y: 9, iso19794.T: 505},
	}}
	rep.Channels[iso19794.X] = &iso19794.ChannelDesc{}
	rep.Channels[iso19794.Y] = &iso19794.ChannelDesc{}
	rep.Channels[iso19794.T] = &iso19794.ChannelDesc{}
	rec := iso19794.Record{Representations: []iso19794.Representation{rep}}
	b, err := rec.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMeetingSession: the advisor presents the process in a meeting; the
// customer signs without an SMS code; the step records channel meeting.
func TestMeetingSession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c1 := e.customer("Anna", 1)
	p := e.sent(classicPDF(1), []string{c1}, true)
	mailed := e.link(kinds(e.jobs.take())[signing.JobSignerMail][0])

	proc, sg, err := e.svc.CustomerTurn(ctx, e.adv, p.ID)
	if err != nil || sg.Role != "customer1" || proc.ID != p.ID {
		t.Fatalf("customer turn: %+v %v", sg, err)
	}
	if _, _, err := e.svc.CustomerTurn(ctx, signing.Actor{TenantID: "other", UserID: advisor}, p.ID); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("another tenant: %v", err)
	}
	if _, err := e.svc.StartSyncSession(ctx, "other", p.ID, "customer1", signing.ChannelMeeting); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("sync session for another tenant: %v", err)
	}
	if _, err := e.svc.StartSyncSession(ctx, tenant, p.ID, "advisor", signing.ChannelMeeting); !errors.Is(err, signing.ErrNotYourTurn) {
		t.Fatalf("sync session for the advisor: %v", err)
	}
	ss, err := e.svc.StartSyncSession(ctx, tenant, p.ID, "customer1", signing.ChannelMeeting)
	if err != nil {
		t.Fatal(err)
	}
	if ss.Token != mailed || ss.Role != "customer1" || len(ss.Fields) == 0 || len(ss.Pages) != 1 {
		t.Fatalf("session %+v", ss)
	}
	if v, err := e.svc.ByLink(ctx, ss.Token, ss.Session); err != nil || !v.Verified {
		t.Fatalf("view with the session: %+v %v", v, err)
	}
	// A kiosk record is refused on a meeting session.
	if _, err := e.svc.Submit(ctx, ss.Token, ss.Session, signing.Submission{ISO19794: evdevRecord(t, 50), Device: "evdev: Wacom"}); !errors.Is(err, signing.ErrInvalidInput) {
		t.Fatalf("ISO record in a meeting: %v", err)
	}
	if _, err := e.svc.Submit(ctx, ss.Token, ss.Session, signing.Submission{Pointer: pointerJSON(t, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CustomerTurn(ctx, e.adv, p.ID); !errors.Is(err, signing.ErrNotCustomersTurn) {
		t.Fatalf("advisor's turn: %v", err)
	}
	done, err := e.svc.AdvisorSign(ctx, e.adv, p.ID, signing.Submission{Pointer: pointerJSON(t, 2)})
	if err != nil || done.Status != signing.StatusCompleted {
		t.Fatalf("advisor signs: %v", err)
	}
	final, _ := e.svc.CurrentDocument(ctx, e.adv, p.ID)
	reports, err := pdf.Verify(final.Data, e.roots())
	if err != nil || len(reports) != 3 || reports[0].Channel != signing.ChannelMeeting || reports[1].Channel != signing.ChannelApp {
		t.Fatalf("channels: %+v %v", reports, err)
	}
}

// TestKioskRecord: the kiosk submits an ISO record; the envelope holds it
// byte for byte with the kiosk's device; the step records channel kiosk.
// Hostile records are refused with their reason and store nothing.
func TestKioskRecord(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c1 := e.customer("Anna", 1)
	p := e.sent(classicPDF(1), []string{c1}, false)
	ss, err := e.svc.StartSyncSession(ctx, tenant, p.ID, "customer1", signing.ChannelKiosk)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		in   signing.Submission
		code string
	}{
		"garbage":   {signing.Submission{ISO19794: []byte("SDI\x00020\x00garbage"), Device: "evdev: Wacom"}, "record_malformed"},
		"truncated": {signing.Submission{ISO19794: evdevRecord(t, 50)[:60], Device: "evdev: Wacom"}, "record_malformed"},
		"one point": {signing.Submission{ISO19794: evdevRecord(t, 1), Device: "evdev: Wacom"}, "record_empty"},
		"backwards": {signing.Submission{ISO19794: backwardsRecord(t), Device: "evdev: Wacom"}, "record_time"},
		"device":    {signing.Submission{ISO19794: evdevRecord(t, 50), Device: "browser pointer:pen"}, "device"},
		"ctl":       {signing.Submission{ISO19794: evdevRecord(t, 50), Device: "evdev: a\x1b[2Jb"}, "device"},
		"large":     {signing.Submission{ISO19794: make([]byte, signing.MaxISORecord+1), Device: "evdev: Wacom"}, "record_too_large"},
	} {
		_, err := e.svc.Submit(ctx, ss.Token, ss.Session, c.in)
		var re *signing.RecordError
		if !errors.As(err, &re) || re.Code != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
	if cur, _ := e.svc.Get(ctx, e.adv, p.ID); len(cur.Versions) != 1 || cur.Signers[0].State != signing.SignerPending {
		t.Fatalf("a refused record changed the process: %+v", cur)
	}
	rec := evdevRecord(t, 300)
	if _, err := e.svc.Submit(ctx, ss.Token, ss.Session, signing.Submission{ISO19794: rec, Device: "evdev: Wacom STU-540 Pen"}); err != nil {
		t.Fatal(err)
	}
	final, _ := e.svc.CurrentDocument(ctx, e.adv, p.ID)
	reports, err := pdf.Verify(final.Data, e.roots())
	if err != nil || len(reports) != 2 || reports[0].Channel != signing.ChannelKiosk || !reports[0].EnvelopeBound {
		t.Fatalf("reports %+v %v", reports, err)
	}
	c, err := envelope.Open(e.trustee, embeddedEnvelope(t, final.Data[:reports[0].RevisionEnd], reports[0].EnvelopeSHA256))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Record) != string(rec) || c.Device != "evdev: Wacom STU-540 Pen" {
		t.Fatalf("envelope device %q, record %d bytes (want %d)", c.Device, len(c.Record), len(rec))
	}
	// The session died with the step.
	if _, err := e.svc.SignerDocument(ctx, ss.Token, ss.Session); err != nil {
		t.Fatalf("final document by link: %v", err)
	}
}

// TestRemoteSessionStaysRemote: an SMS-verified session records channel
// remote even after a synchronous session existed (the newer session
// replaces the older one).
func TestRemoteSessionStaysRemote(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c1 := e.customer("Anna", 1)
	p := e.sent(classicPDF(1), []string{c1}, false)
	link := e.link(kinds(e.jobs.take())[signing.JobSignerMail][0])
	ss, err := e.svc.StartSyncSession(ctx, tenant, p.ID, "customer1", signing.ChannelKiosk)
	if err != nil {
		t.Fatal(err)
	}
	sess := e.session(link)
	if _, err := e.svc.Submit(ctx, link, ss.Session, signing.Submission{Pointer: pointerJSON(t, 0)}); !errors.Is(err, signing.ErrCodeRequired) {
		t.Fatalf("replaced kiosk session: %v", err)
	}
	if _, err := e.svc.Submit(ctx, link, sess, signing.Submission{Pointer: pointerJSON(t, 0)}); err != nil {
		t.Fatal(err)
	}
	final, _ := e.svc.CurrentDocument(ctx, e.adv, p.ID)
	reports, _ := pdf.Verify(final.Data, e.roots())
	if len(reports) == 0 || reports[0].Channel != signing.ChannelRemote {
		t.Fatalf("reports %+v", reports)
	}
}
