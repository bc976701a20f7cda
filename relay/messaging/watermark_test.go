package messaging

import (
	"errors"
	"testing"
	"time"
)

func TestApplyWatermark(t *testing.T) {
	f := newFixture(t, nil)
	in := Inbound{TenantID: tenantA, Channel: ChannelMessenger, ProviderID: "mid.in.1", Address: "12345678",
		CustomerID: cust1, AdvisorID: advA, Text: "Hallo"}
	m0, _, err := f.svc.Receive(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	conv := m0.ConversationID
	// Three answers: the first two accepted by the provider at t0 and
	// t0+1m, the third still queued.
	a1 := f.send(t, advisorA, conv, "a1", "eins")
	a2 := f.send(t, advisorA, conv, "a2", "zwei")
	f.send(t, advisorA, conv, "a3", "drei")
	t0 := f.clock.Now()
	if _, err := f.svc.SetDelivery(ctx, tenantA, a1.ID, DeliverySent, "mid.out.1"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	if _, err := f.svc.SetDelivery(ctx, tenantA, a2.ID, DeliverySent, "mid.out.2"); err != nil {
		t.Fatal(err)
	}
	state := func() []DeliveryState {
		ms, err := f.svc.Messages(ctx, advisorA, conv, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []DeliveryState
		for _, m := range ms {
			if m.Side == SideAdvisor {
				out = append(out, m.Delivery)
			}
		}
		return out
	}
	want := func(ds ...DeliveryState) {
		t.Helper()
		got := state()
		if len(got) != len(ds) {
			t.Fatalf("states %v, want %v", got, ds)
		}
		for i := range ds {
			if got[i] != ds[i] {
				t.Fatalf("states %v, want %v", got, ds)
			}
		}
	}
	// Delivered up to t0+30s: only the first.
	n, err := f.svc.ApplyWatermark(ctx, tenantA, ChannelMessenger, "12345678", t0.Add(30*time.Second), DeliveryDelivered)
	if err != nil || n != 1 {
		t.Fatal(n, err)
	}
	want(DeliveryDelivered, DeliverySent, DeliveryQueued)
	// Read up to now: both accepted ones, never the queued one.
	n, err = f.svc.ApplyWatermark(ctx, tenantA, ChannelMessenger, "12345678", f.clock.Now(), DeliveryRead)
	if err != nil || n != 2 {
		t.Fatal(n, err)
	}
	want(DeliveryRead, DeliveryRead, DeliveryQueued)
	// An older delivered watermark moves nothing back.
	if n, err := f.svc.ApplyWatermark(ctx, tenantA, ChannelMessenger, "12345678", f.clock.Now(), DeliveryDelivered); err != nil || n != 0 {
		t.Fatal(n, err)
	}
	want(DeliveryRead, DeliveryRead, DeliveryQueued)
	c, err := f.svc.Get(ctx, advisorA, conv)
	if err != nil || c.Receipts.CustomerRead != a2.Seq || c.Receipts.CustomerDelivered != a2.Seq {
		t.Fatalf("receipts %+v %v", c.Receipts, err)
	}
	// Another tenant, another address, an unknown address: nothing.
	for _, tc := range []struct{ tenant, addr string }{{tenantB, "12345678"}, {tenantA, "999"}} {
		if n, err := f.svc.ApplyWatermark(ctx, tc.tenant, ChannelMessenger, tc.addr, f.clock.Now(), DeliveryRead); err != nil || n != 0 {
			t.Fatal(tc, n, err)
		}
	}
	if _, err := f.svc.ApplyWatermark(ctx, tenantA, ChannelMessenger, "12345678", f.clock.Now(), DeliveryFailed); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("failed state: %v", err)
	}
	if _, err := f.svc.ApplyWatermark(ctx, tenantA, ChannelChat, "12345678", f.clock.Now(), DeliveryRead); !errors.Is(err, ErrNotFound) {
		t.Fatalf("internal channel: %v", err)
	}
}
