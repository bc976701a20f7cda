package link_test

import (
	"errors"
	"strings"
	"testing"

	"parley/sync/link"
)

// TestKioskAdminAgainstRealRelay registers a kiosk as admin, uses its token
// as a kiosk, and removes it: the token dies at once. Advisors may list
// kiosks but not register them.
func TestKioskAdminAgainstRealRelay(t *testing.T) {
	s, _, adv, admin := signingRelay(t)
	ctx := realCtx(t)

	if _, err := adv.CreateKiosk(ctx, "Filiale Süd", "135790"); err == nil {
		t.Fatal("an advisor registered a kiosk")
	}
	if _, err := admin.CreateKiosk(ctx, "Filiale Süd", "12"); err == nil {
		t.Fatal("a two-digit PIN was accepted")
	}
	k, err := admin.CreateKiosk(ctx, "Filiale Süd", "135790")
	if err != nil || k.Kiosk.Name != "Filiale Süd" || !strings.HasPrefix(k.Token, "pkd_") {
		t.Fatalf("create kiosk: %+v %v", k.Kiosk, err)
	}
	ks, err := adv.Kiosks(ctx)
	if err != nil || len(ks) != 1 || ks[0].ID != k.Kiosk.ID {
		t.Fatalf("kiosks seen by the advisor: %+v %v", ks, err)
	}

	dev := link.New(link.Options{})
	t.Cleanup(func() { dev.Close() })
	if err := dev.Trust(s.URL(), s.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Connect(ctx, s.URL()); err != nil {
		t.Fatal(err)
	}
	if err := dev.UseKioskToken(k.Token); err != nil {
		t.Fatal(err)
	}
	if me, err := dev.KioskMe(ctx); err != nil || me.ID != k.Kiosk.ID {
		t.Fatalf("kiosk me: %+v %v", me, err)
	}
	if err := dev.KioskUnlock(ctx, "135790"); err != nil {
		t.Fatalf("unlock with the PIN given at registration: %v", err)
	}

	if err := adv.DeleteKiosk(ctx, k.Kiosk.ID); err == nil {
		t.Fatal("an advisor removed a kiosk")
	}
	if err := admin.DeleteKiosk(ctx, k.Kiosk.ID); err != nil {
		t.Fatalf("delete kiosk: %v", err)
	}
	var ae *link.APIError
	if _, err := dev.KioskMe(ctx); !errors.As(err, &ae) {
		t.Fatalf("removed kiosk's token still works: %v", err)
	}
	if ks, err := admin.Kiosks(ctx); err != nil || len(ks) != 0 {
		t.Fatalf("kiosks after removal: %+v %v", ks, err)
	}
}
