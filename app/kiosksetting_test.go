package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// fakeKioskAdmin is a SigningRelay that also registers kiosks.
type fakeKioskAdmin struct {
	*fakeSigning
	pins map[string]string // kiosk id → PIN it was registered with
}

func (f *fakeKioskAdmin) CreateKiosk(ctx context.Context, name, pin string) (KioskInfo, string, error) {
	f.record("CreateKiosk %s", name)
	f.mu.Lock()
	defer f.mu.Unlock()
	k := KioskInfo{ID: fmt.Sprintf("k%d", len(f.kiosks)+1), Name: name}
	f.kiosks = append(f.kiosks, k)
	f.pins[k.ID] = pin
	return k, "pkd_secret" + k.ID, nil
}

func (f *fakeKioskAdmin) DeleteKiosk(ctx context.Context, id string) error {
	f.record("DeleteKiosk %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kiosks = slices.DeleteFunc(f.kiosks, func(k KioskInfo) bool { return k.ID == id })
	return nil
}

func kioskSettingsHarness(t *testing.T, role string, fs SigningRelay) *harness {
	t.Helper()
	h := newHarness(t, &fakeRelay{role: role}, Options{DefaultAddr: testAddr, Signing: fs})
	h.signIn("acme", "erika", "pw")
	if !h.waitWorkspace().selectPage("Settings") {
		t.Fatal("no Settings page")
	}
	h.settle()
	return h
}

func TestSettingsKioskSectionOnlyForAdmins(t *testing.T) {
	fk := &fakeKioskAdmin{fakeSigning: &fakeSigning{}, pins: map[string]string{}}
	h := kioskSettingsHarness(t, "advisor", fk)
	if h.shows("Branch kiosks") || h.button("Register kiosk") != nil {
		t.Fatalf("an advisor sees the kiosk section; texts: %q", h.texts())
	}
}

func TestSettingsRegisterAndRemoveKiosk(t *testing.T) {
	fk := &fakeKioskAdmin{fakeSigning: &fakeSigning{kiosks: []KioskInfo{{ID: "k0", Name: "Filiale Nord"}}}, pins: map[string]string{}}
	h := kioskSettingsHarness(t, "admin", fk)
	h.eventually("the kiosk list", func() bool { return h.shows("Filiale Nord") })

	// A PIN that is not 6–12 digits is refused before the relay is asked.
	test.Type(h.entry("e.g. Filiale Mitte, Schalter 2"), "Filiale Mitte")
	test.Type(h.entry("6 to 12 digits"), "12ab56")
	h.tap("Register kiosk")
	h.eventually("the PIN error", func() bool { return h.shows("The admin PIN must be 6 to 12 digits.") })
	if fk.called("CreateKiosk") {
		t.Fatal("a bad PIN reached the relay")
	}

	pin := h.entry("6 to 12 digits")
	pin.SetText("")
	test.Type(pin, "20261123")
	h.tap("Register kiosk")
	h.eventually("the token dialog", func() bool { return h.dialogOpen() && h.shows("Kiosk \"Filiale Mitte\" registered.") })
	if got := fk.pins["k2"]; got != "20261123" {
		t.Fatalf("PIN sent = %q", got)
	}
	var token string
	walk(h.ui.Window().Canvas().Overlays().Top(), func(o fyne.CanvasObject) {
		if e, ok := o.(*widget.Entry); ok && strings.HasPrefix(e.Text, "pkd_") {
			token = e.Text
		}
	})
	if token != "pkd_secretk2" {
		t.Fatalf("token shown = %q", token)
	}
	h.tapInDialog("Copy")
	if got := h.ui.app.Clipboard().Content(); got != token {
		t.Fatalf("clipboard = %q", got)
	}
	h.tapInDialog("Done")
	h.eventually("the new kiosk in the list", func() bool { return h.shows("Filiale Mitte") && !h.dialogOpen() })

	// Remove asks first; confirming deletes it on the relay.
	var removeFirst *widget.Button
	h.walk(func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == "Remove" && removeFirst == nil {
			removeFirst = b
		}
	})
	if removeFirst == nil {
		t.Fatal("no Remove button")
	}
	test.Tap(removeFirst)
	h.tapInDialog("Yes")
	h.eventually("the kiosk removed", func() bool { return fk.called("DeleteKiosk k0") && !h.shows("Filiale Nord") })
}

func TestSettingsStartAsKioskIsStored(t *testing.T) {
	fk := &fakeKioskAdmin{fakeSigning: &fakeSigning{}, pins: map[string]string{}}
	h := kioskSettingsHarness(t, "admin", fk)
	var check *widget.Check
	h.walk(func(o fyne.CanvasObject) {
		if c, ok := o.(*widget.Check); ok && strings.HasPrefix(c.Text, "Start this computer as a branch kiosk") {
			check = c
		}
	})
	if check == nil {
		t.Fatalf("no kiosk start choice; texts: %q", h.texts())
	}
	if StartAsKiosk(h.ui.prefs) {
		t.Fatal("kiosk start on by default")
	}
	test.Tap(check)
	if !StartAsKiosk(h.ui.prefs) {
		t.Fatal("choice not stored")
	}
	test.Tap(check)
	if StartAsKiosk(h.ui.prefs) {
		t.Fatal("choice not cleared")
	}
}
