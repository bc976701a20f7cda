package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"parley/app/kiosk"
	"parley/signpad"
	"parley/signpad/evdev"
	"parley/sync/link"
)

func TestKioskPairingIsEncrypted(t *testing.T) {
	a := test.NewTempApp(t)
	dir := t.TempDir()
	s := &prefPairing{p: a.Preferences(), keyFile: filepath.Join(dir, "kiosk.key")}
	if _, ok, err := s.Load(); ok || err != nil {
		t.Fatalf("empty store: %v %v", ok, err)
	}
	want := kiosk.Pairing{Addr: "https://relay.example:8443", Token: "pkd_secretdevicetoken"}
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	if enc := a.Preferences().String(prefKioskToken); enc == "" || strings.Contains(enc, "secretdevicetoken") {
		t.Fatalf("token stored as %q", enc)
	}
	if st, err := os.Stat(s.keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	got, ok, err := s.Load()
	if err != nil || !ok || got != want {
		t.Fatalf("Load = %+v %v %v", got, ok, err)
	}
	// Bound to the address: a ciphertext moved to another relay is refused.
	a.Preferences().SetString(prefKioskAddr, "https://other.example")
	if _, _, err := s.Load(); err == nil {
		t.Fatal("a token moved to another address was decrypted")
	}
	// Another key (a copied preferences file without the key) cannot read it.
	a.Preferences().SetString(prefKioskAddr, want.Addr)
	other := &prefPairing{p: a.Preferences(), keyFile: filepath.Join(t.TempDir(), "kiosk.key")}
	if _, err := other.key(true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Load(); err == nil {
		t.Fatal("decrypted with another key")
	}
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Load(); ok {
		t.Fatal("Clear kept the pairing")
	}
}

func TestKioskErrorsMapToSentinels(t *testing.T) {
	for code, want := range map[string]error{
		link.CodeInvalidCode: kiosk.ErrWrongCode, link.CodeWrongPIN: kiosk.ErrWrongPIN,
		link.CodeThrottled: kiosk.ErrTooManyAttempts, link.CodeUnauthenticated: kiosk.ErrUnpaired,
	} {
		err := kioskErr(&link.APIError{Code: code})
		if !errors.Is(err, want) {
			t.Errorf("%s → %v", code, err)
		}
	}
	if err := kioskErr(link.ErrNotLoggedIn); !errors.Is(err, kiosk.ErrUnpaired) {
		t.Errorf("not logged in → %v", err)
	}
}

func TestReplayPenPlaysARecordedStream(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("signpad/evdev/testdata/pen-200hz-2s.evdev")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "pen.evdev")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	info := evdev.Info{Name: "Recorded Pen",
		Abs: map[uint16]evdev.AbsInfo{evdev.AbsX: {Maximum: 15200, Resolution: 100}, evdev.AbsY: {Maximum: 9500, Resolution: 100},
			evdev.AbsPressure: {Maximum: 4095}},
		Keys: map[uint16]bool{evdev.BtnToolPen: true, evdev.BtnTouch: true}}
	b, _ := json.Marshal(info)
	if err := os.WriteFile(path+".json", b, 0o600); err != nil {
		t.Fatal(err)
	}
	pen := findPen(path, slog.New(slog.DiscardHandler))
	if pen == nil || pen.Name() != "evdev: Recorded Pen" {
		t.Fatalf("findPen = %v", pen)
	}
	var n, down int
	var dev signpad.Device
	if err := pen.Run(context.Background(), func(d signpad.Device, s signpad.Sample) {
		n++
		dev = d
		if s.Down {
			down++
		}
	}); err != nil {
		t.Fatal(err)
	}
	want, _, err := evdev.Decode(strings.NewReader(string(src)), info.Device(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want.Samples) || down == 0 || !dev.Caps.Has(signpad.CapPressure) {
		t.Fatalf("replayed %d samples (%d down), want %d", n, down, len(want.Samples))
	}
	if findPen(filepath.Join(dir, "missing"), slog.New(slog.DiscardHandler)) != nil {
		t.Error("a missing pen was opened")
	}
}

func TestFieldBoxOnThePage(t *testing.T) {
	a4 := link.SigningRect{URX: 595, URY: 842}
	got := fieldBox(link.SigningPageInfo{Number: 1, MediaBox: a4, CropBox: a4}, link.SigningRect{LLX: 297.5, LLY: 0, URX: 595, URY: 421})
	if got != [4]float32{0.5, 0.5, 1, 1} {
		t.Errorf("box %v", got)
	}
	// A crop box moves the origin; no crop box means the media box.
	crop := link.SigningRect{LLX: 100, LLY: 100, URX: 300, URY: 500}
	if got := fieldBox(link.SigningPageInfo{MediaBox: a4, CropBox: crop}, link.SigningRect{LLX: 100, LLY: 400, URX: 200, URY: 500}); got != [4]float32{0, 0, 0.5, 0.25} {
		t.Errorf("cropped box %v", got)
	}
	if got := fieldBox(link.SigningPageInfo{MediaBox: a4}, link.SigningRect{LLX: -50, LLY: 0, URX: 2000, URY: 842}); got != [4]float32{0, 0, 1, 1} {
		t.Errorf("clamped box %v", got)
	}
	// Rotated pages are shown without the mark.
	if got := fieldBox(link.SigningPageInfo{MediaBox: a4, Rotate: 90}, link.SigningRect{URX: 10, URY: 10}); got != [4]float32{} {
		t.Errorf("rotated page box %v", got)
	}
}
