package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"parley/app/kiosk"
	"parley/mediaengine"
	"parley/mediaengine/source"
	"parley/relay/auth"
	"parley/relay/server"
	"parley/relay/sfu"
	"parley/sync/link"
)

// TestKioskCallsAnAdvisor: the kiosk asks for an advisor, the advisor
// accepts and joins the meeting's call, the kiosk joins as a guest over
// the signalling WebSocket with its participant secret and receives the
// advisor's video; hanging up ends the kiosk's call.
func TestKioskCallsAnAdvisor(t *testing.T) {
	if testing.Short() {
		t.Skip("media over the real relay")
	}
	const password = "Wolke-Sieben-Anker-42"
	dir := t.TempDir()
	s, err := server.Start(context.Background(), server.Options{DataDir: dir, Listen: "127.0.0.1:0", TenantSlug: "bank",
		TenantName: "Musterbank", AdminPassword: password, Hash: auth.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The advisor (the admin) signs in over the link.
	adv := link.New(link.Options{})
	t.Cleanup(func() { adv.Close() })
	if err := adv.Trust(s.URL(), s.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := adv.Connect(ctx, s.URL()); err != nil {
		t.Fatal(err)
	}
	login, err := adv.Login(ctx, "bank", "admin", password)
	if err != nil {
		t.Fatal(err)
	}
	// The admin creates the kiosk.
	hc := pinnedHTTP(t, dir)
	body, _ := json.Marshal(map[string]string{"name": "Filiale Mitte", "pin": "24681357"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/api/v1/kiosks", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+login.Token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var made struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&made); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create kiosk: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	// The kiosk.
	kc := link.New(link.Options{})
	t.Cleanup(func() { kc.Close() })
	if err := kc.Trust(s.URL(), s.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	k := &linkKiosk{c: kc, log: slog.New(slog.DiscardHandler), synthetic: true, loopbackOnly: true}
	if err := k.Connect(ctx, s.URL()); err != nil {
		t.Fatal(err)
	}
	if err := k.UseToken(made.Token); err != nil {
		t.Fatal(err)
	}
	if me, err := k.Me(ctx); err != nil || me.Name != "Filiale Mitte" {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	req1, err := k.CallAdvisor(ctx)
	if err != nil || req1.Status != kiosk.CallWaiting {
		t.Fatalf("CallAdvisor = %+v, %v", req1, err)
	}

	// The advisor sees the call, accepts it and joins its meeting.
	r := &linkRelay{c: adv}
	calls, err := r.KioskCalls(ctx)
	if err != nil || len(calls) != 1 || calls[0].KioskName != "Filiale Mitte" {
		t.Fatalf("KioskCalls = %+v, %v", calls, err)
	}
	m, err := r.AcceptKioskCall(ctx, calls[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	sfu.LoopbackOnly(&se)
	advCall, err := mediaengine.Start(context.Background(), mediaengine.Options{
		Dial:      func(ctx context.Context) (mediaengine.Conn, error) { return adv.Signal(ctx) },
		MeetingID: m.ID, Camera: source.TestPattern{}, Microphone: source.Tone{Freq: 440}, SettingEngine: se,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = advCall.Close() })

	st, err := k.CallStatus(ctx, req1.ID)
	if err != nil || st.Status != kiosk.CallAccepted || st.MeetingID != m.ID || st.Secret == "" {
		t.Fatalf("CallStatus = %+v, %v", st, err)
	}
	call, err := k.JoinCall(ctx, st.MeetingID, st.Secret)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = call.Leave() })
	for {
		if src := call.Remote(); src != nil {
			if img, n := src.Latest(); img != nil && n > 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("the kiosk never received the advisor's video")
		case <-call.Done():
			t.Fatal("the kiosk's call ended early")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := call.SetMuted(true); err != nil {
		t.Fatal(err)
	}
	if err := call.Leave(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("the call did not end after hanging up")
	}
}
