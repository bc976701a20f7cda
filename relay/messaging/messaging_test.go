package messaging

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"parley/relay/store"
)

func TestSendAssignsSequenceAndIsIdempotent(t *testing.T) {
	f := newFixture(t, nil)
	c := f.open(t, advisorA, cust1)
	m1 := f.send(t, advisorA, c.ID, "c1", "Guten Tag")
	m2 := f.send(t, customer1, c.ID, "c2", "Hallo")
	if m1.Seq != 1 || m2.Seq != 2 || m1.Side != SideAdvisor || m2.Side != SideCustomer {
		t.Fatalf("got %+v %+v", m1, m2)
	}
	again := f.send(t, advisorA, c.ID, "c1", "Guten Tag")
	if again.ID != m1.ID || again.Seq != 1 {
		t.Fatalf("retry: %+v, want %+v", again, m1)
	}
	_, err := f.svc.Send(ctx, advisorA, c.ID, Draft{ClientID: "c1", Text: "something else"})
	if !errors.Is(err, ErrIdempotencyMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	// The same client id by the other side is another message's content.
	if _, err := f.svc.Send(ctx, customer1, c.ID, Draft{ClientID: "c1", Text: "Guten Tag"}); !errors.Is(err, ErrIdempotencyMismatch) {
		t.Fatalf("other side reusing id: %v", err)
	}
	ms, err := f.svc.Messages(ctx, advisorA, c.ID, 0, 0)
	if err != nil || len(ms) != 2 || ms[0].Text != "Guten Tag" || ms[1].Text != "Hallo" {
		t.Fatalf("messages: %v %+v", err, ms)
	}
	got, _ := f.svc.Get(ctx, advisorA, c.ID)
	if got.LastSeq != 2 || got.Unread != 1 {
		t.Fatalf("conversation: %+v", got)
	}
	// Paging after a sequence number.
	ms, err = f.svc.Messages(ctx, customer1, c.ID, 1, 10)
	if err != nil || len(ms) != 1 || ms[0].Seq != 2 {
		t.Fatalf("after 1: %v %+v", err, ms)
	}
}

func TestSendRefusesBadInputAndStoresNothing(t *testing.T) {
	f := newFixture(t, nil)
	c := f.open(t, advisorA, cust1)
	cases := []Draft{
		{ClientID: "", Text: "x"},
		{ClientID: "a/b", Text: "x"},
		{ClientID: strings.Repeat("a", 65), Text: "x"},
		{ClientID: "c", Text: ""},
		{ClientID: "c", Text: "   "},
		{ClientID: "c", Text: "bad \x00 byte"},
		{ClientID: "c", Text: "\xff\xfe"},
		{ClientID: "c", Text: strings.Repeat("ä", MaxTextRunes+1)},
		{ClientID: "c", Template: &Template{Name: "x", Language: "de"}}, // not WhatsApp
	}
	for i, d := range cases {
		if _, err := f.svc.Send(ctx, advisorA, c.ID, d); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("case %d: %v, want ErrInvalidInput", i, err)
		} else if strings.Contains(err.Error(), "ä") || strings.Contains(err.Error(), "bad") {
			t.Errorf("case %d: error quotes input: %v", i, err)
		}
	}
	got, _ := f.svc.Get(ctx, advisorA, c.ID)
	if got.LastSeq != 0 {
		t.Fatalf("stored something: %+v", got)
	}
}

func TestTenantAndAdvisorIsolation(t *testing.T) {
	f := newFixture(t, nil)
	c := f.open(t, advisorA, cust1)
	f.send(t, advisorA, c.ID, "c1", "hello")
	other := Actor{TenantID: tenantA, UserID: cust2, Role: RoleCustomer}
	for _, a := range []Actor{advisorB, outsider, other, {TenantID: tenantA, UserID: "x", Role: "root"}} {
		if _, err := f.svc.Get(ctx, a, c.ID); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrForbidden) {
			t.Errorf("%+v get: %v", a, err)
		}
		if _, err := f.svc.Messages(ctx, a, c.ID, 0, 0); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrForbidden) {
			t.Errorf("%+v messages: %v", a, err)
		}
		if _, err := f.svc.Send(ctx, a, c.ID, Draft{ClientID: "x", Text: "x"}); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrForbidden) {
			t.Errorf("%+v send: %v", a, err)
		}
		if _, err := f.svc.MarkRead(ctx, a, c.ID, 1); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrForbidden) {
			t.Errorf("%+v mark read: %v", a, err)
		}
		if p, err := f.svc.Changes(ctx, a, advA, 0, 0); err == nil && len(p.Changes) > 0 {
			t.Errorf("%+v read advisor A's feed", a)
		}
	}
	if l, err := f.svc.List(ctx, advisorB, ListFilter{}); err != nil || len(l) != 0 {
		t.Fatalf("advisor B list: %v %v", err, l)
	}
	if l, err := f.svc.List(ctx, outsider, ListFilter{}); err != nil || len(l) != 0 {
		t.Fatalf("other tenant list: %v %v", err, l)
	}
	if l, err := f.svc.List(ctx, adminA, ListFilter{}); err != nil || len(l) != 1 {
		t.Fatalf("admin list: %v %v", err, l)
	}
	if l, err := f.svc.List(ctx, customer1, ListFilter{}); err != nil || len(l) != 1 || l[0].Address != "" {
		t.Fatalf("customer list: %v %v", err, l)
	}
	// A customer cannot open a conversation for another customer or on a
	// provider channel.
	if _, _, err := f.svc.Open(ctx, customer1, OpenRequest{Channel: ChannelChat, CustomerID: cust2, AdvisorID: advA}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("customer opening for another: %v", err)
	}
	if _, _, err := f.svc.Open(ctx, customer1, OpenRequest{Channel: ChannelSMS, AdvisorID: advA, Address: "+4917100000"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("customer opening sms: %v", err)
	}
}

func TestOpenFindsLiveConversation(t *testing.T) {
	f := newFixture(t, nil)
	c1, created, err := f.svc.Open(ctx, customer1, OpenRequest{Channel: ChannelContactForm, AdvisorID: advA})
	if err != nil || !created {
		t.Fatal(err, created)
	}
	c2, created, err := f.svc.Open(ctx, advisorA, OpenRequest{Channel: ChannelContactForm, CustomerID: cust1})
	if err != nil || created || c2.ID != c1.ID {
		t.Fatalf("second open: %v %v %s %s", err, created, c1.ID, c2.ID)
	}
	// Closed past its deadline: a new conversation.
	if _, err := f.svc.SetStatus(ctx, advisorA, c1.ID, StatusClosed); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultRetention)
	c3, created, err := f.svc.Open(ctx, advisorA, OpenRequest{Channel: ChannelContactForm, CustomerID: cust1})
	if err != nil || !created || c3.ID == c1.ID {
		t.Fatalf("after expiry: %v %v", err, created)
	}
	// Sweeping the old one leaves the index pointing at the new one.
	if st, err := f.svc.SweepExpired(ctx, f.clock.Now(), nil); err != nil || st.Deleted != 1 {
		t.Fatalf("sweep: %+v %v", st, err)
	}
	c4, created, err := f.svc.Open(ctx, advisorA, OpenRequest{Channel: ChannelContactForm, CustomerID: cust1})
	if err != nil || created || c4.ID != c3.ID {
		t.Fatalf("after sweep: %v %v", err, created)
	}
}

func TestStatusAndAssign(t *testing.T) {
	f := newFixture(t, nil)
	c := f.open(t, advisorA, cust1)
	if _, err := f.svc.SetStatus(ctx, customer1, c.ID, StatusClosed); !errors.Is(err, ErrForbidden) {
		t.Fatalf("customer closing: %v", err)
	}
	got, err := f.svc.SetStatus(ctx, advisorA, c.ID, StatusPending)
	if err != nil || got.Status != StatusPending {
		t.Fatal(err, got)
	}
	got, err = f.svc.SetStatus(ctx, advisorA, c.ID, StatusClosed)
	if err != nil || got.ClosedAt.IsZero() || !got.Expires.Equal(got.ClosedAt.Add(DefaultRetention)) {
		t.Fatal(err, got)
	}
	// A customer's message reopens it.
	f.send(t, customer1, c.ID, "m1", "noch eine Frage")
	got, _ = f.svc.Get(ctx, advisorA, c.ID)
	if got.Status != StatusOpen || !got.ClosedAt.IsZero() || !got.Expires.IsZero() {
		t.Fatalf("after customer message: %+v", got)
	}
	if _, err := f.svc.Assign(ctx, advisorB, c.ID, advB); !errors.Is(err, ErrNotFound) {
		t.Fatalf("B taking A's conversation: %v", err)
	}
	headA, _ := f.svc.Head(ctx, advisorA, advA)
	got, err = f.svc.Assign(ctx, adminA, c.ID, advB)
	if err != nil || got.AdvisorID != advB {
		t.Fatal(err, got)
	}
	if _, err := f.svc.Get(ctx, advisorA, c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("A still sees it: %v", err)
	}
	if _, err := f.svc.Get(ctx, advisorB, c.ID); err != nil {
		t.Fatal(err)
	}
	pa, err := f.svc.Changes(ctx, advisorA, advA, headA, 0)
	if err != nil || len(pa.Changes) != 1 || pa.Changes[0].Kind != ChangeRemoved {
		t.Fatalf("A's feed: %v %+v", err, pa)
	}
	// A's older entries of the conversation are no longer served to A.
	pa, _ = f.svc.Changes(ctx, advisorA, advA, 0, 0)
	for _, ch := range pa.Changes {
		if ch.Message != nil || ch.Conversation != nil {
			t.Fatalf("A's feed still serves content: %+v", ch)
		}
	}
	pb, err := f.svc.Changes(ctx, advisorB, advB, 0, 0)
	if err != nil || len(pb.Changes) != 1 || pb.Changes[0].Kind != ChangeConversation || pb.Changes[0].Conversation.AdvisorID != advB {
		t.Fatalf("B's feed: %v %+v", err, pb)
	}
}

func TestInboundDedupeAndDelivery(t *testing.T) {
	f := newFixture(t, nil)
	in := Inbound{TenantID: tenantA, Channel: ChannelTelegram, ProviderID: "chat:1", Address: "4711",
		CustomerID: cust1, AdvisorID: advA, Text: "Hallo"}
	m1, dup, err := f.svc.Receive(ctx, in)
	if err != nil || dup || m1.Seq != 1 {
		t.Fatal(err, dup, m1)
	}
	m2, dup, err := f.svc.Receive(ctx, in)
	if err != nil || !dup || m2.ID != m1.ID {
		t.Fatal(err, dup, m2)
	}
	in.ProviderID = "chat:2"
	m3, _, err := f.svc.Receive(ctx, in)
	if err != nil || m3.Seq != 2 || m3.ConversationID != m1.ConversationID {
		t.Fatal(err, m3)
	}
	// The same provider id on another channel is another message.
	in2 := in
	in2.Channel, in2.ProviderID = ChannelSMS, "chat:1"
	m4, dup, err := f.svc.Receive(ctx, in2)
	if err != nil || dup || m4.ConversationID == m1.ConversationID {
		t.Fatal(err, dup, m4)
	}
	c, err := f.svc.Get(ctx, advisorA, m1.ConversationID)
	if err != nil || c.Address != "4711" || c.Unread != 2 {
		t.Fatalf("conversation: %v %+v", err, c)
	}
	// The advisor answers: queued, handed to Outbound with the address.
	out := f.send(t, advisorA, c.ID, "r1", "Gern")
	if out.Delivery != DeliveryQueued || len(f.sent) != 1 || f.sent[0].ID != out.ID {
		t.Fatalf("outbound: %+v %+v", out, f.sent)
	}
	if _, err := f.svc.UpdateDelivery(ctx, tenantA, ChannelTelegram, "tg-out-1", DeliveryDelivered); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown provider id: %v", err)
	}
	if m, err := f.svc.SetDelivery(ctx, tenantA, out.ID, DeliverySent, "tg-out-1"); err != nil || m.Delivery != DeliverySent {
		t.Fatal(err, m)
	}
	if m, err := f.svc.UpdateDelivery(ctx, tenantB, ChannelTelegram, "tg-out-1", DeliveryRead); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other tenant's status: %v %+v", err, m)
	}
	if m, err := f.svc.UpdateDelivery(ctx, tenantA, ChannelTelegram, "tg-out-1", DeliveryRead); err != nil || m.Delivery != DeliveryRead {
		t.Fatal(err, m)
	}
	if m, err := f.svc.UpdateDelivery(ctx, tenantA, ChannelTelegram, "tg-out-1", DeliveryDelivered); err != nil || m.Delivery != DeliveryRead {
		t.Fatalf("went back: %v %+v", err, m)
	}
	if m, err := f.svc.UpdateDelivery(ctx, tenantA, ChannelTelegram, "tg-out-1", DeliveryFailed); err != nil || m.Delivery != DeliveryRead {
		t.Fatalf("failed after read: %v %+v", err, m)
	}
	c, _ = f.svc.Get(ctx, advisorA, c.ID)
	if c.Receipts.CustomerRead != 3 || c.Receipts.CustomerDelivered != 3 || c.Unread != 0 {
		t.Fatalf("receipts: %+v", c)
	}
}

func TestOutboundErrorStoresNothing(t *testing.T) {
	boom := errors.New("outbox full")
	f := newFixture(t, func(o *Options) {
		o.Outbound = func(store.Txn, Conversation, Message) error { return boom }
	})
	c, _, err := f.svc.Open(ctx, advisorA, OpenRequest{Channel: ChannelSMS, CustomerID: cust1, Address: "+491711234567"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Send(ctx, advisorA, c.ID, Draft{ClientID: "x", Text: "hi"}); !errors.Is(err, boom) {
		t.Fatalf("send: %v", err)
	}
	got, _ := f.svc.Get(ctx, advisorA, c.ID)
	if got.LastSeq != 0 {
		t.Fatalf("stored: %+v", got)
	}
	for k, v := range rawKeys(t, f.mem) {
		if strings.Contains(k+string(v), "491711234567") {
			t.Fatalf("address in plain text under %s", k)
		}
	}
}

func TestWhatsAppWindow(t *testing.T) {
	f := newFixture(t, nil)
	c, _, err := f.svc.Open(ctx, advisorA, OpenRequest{Channel: ChannelWhatsApp, CustomerID: cust1, Address: "491700000001"})
	if err != nil {
		t.Fatal(err)
	}
	// Never wrote: refused, nothing stored.
	_, err = f.svc.Send(ctx, advisorA, c.ID, Draft{ClientID: "t0", Text: "Hallo"})
	var we *WindowError
	if !errors.Is(err, ErrWindowClosed) || !errors.As(err, &we) || !we.ClosedAt.IsZero() {
		t.Fatalf("first contact: %v", err)
	}
	tpl := &Template{Name: "termin_erinnerung", Language: "de", Params: []string{"Montag"}}
	m, err := f.svc.Send(ctx, advisorA, c.ID, Draft{ClientID: "t1", Template: tpl})
	if err != nil || m.Template == nil || m.Template.Name != tpl.Name || m.Seq != 1 {
		t.Fatalf("template: %v %+v", err, m)
	}
	inboundAt := f.clock.Now()
	if _, _, err := f.svc.Receive(ctx, Inbound{TenantID: tenantA, Channel: ChannelWhatsApp, ProviderID: "wamid.1",
		Address: "491700000001", CustomerID: cust1, AdvisorID: advA, Text: "Ja"}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(WhatsAppWindow - time.Second)
	if w, _ := f.svc.Window(ctx, advisorA, c.ID); !w.Open || !w.Closes.Equal(inboundAt.Add(WhatsAppWindow)) {
		t.Fatalf("window: %+v", w)
	}
	if _, err := f.svc.Send(ctx, advisorA, c.ID, Draft{ClientID: "t2", Text: "Gern"}); err != nil {
		t.Fatalf("inside window: %v", err)
	}
	f.clock.Advance(time.Second)
	_, err = f.svc.Send(ctx, advisorA, c.ID, Draft{ClientID: "t3", Text: "Noch da?"})
	if !errors.As(err, &we) || !we.ClosedAt.Equal(inboundAt.Add(WhatsAppWindow)) || !we.LastInbound.Equal(inboundAt) {
		t.Fatalf("at the window's end: %v", err)
	}
	// A retry of a message stored inside the window is still answered.
	if m, err := f.svc.Send(ctx, advisorA, c.ID, Draft{ClientID: "t2", Text: "Gern"}); err != nil || m.Seq != 3 {
		t.Fatalf("retry after window: %v %+v", err, m)
	}
	if _, err := f.svc.Send(ctx, advisorA, c.ID, Draft{ClientID: "t4", Template: tpl}); err != nil {
		t.Fatalf("template outside window: %v", err)
	}
	if w, _ := f.svc.Window(ctx, advisorA, c.ID); w.Open {
		t.Fatalf("window still open: %+v", w)
	}
	got, _ := f.svc.Get(ctx, advisorA, c.ID)
	if got.LastSeq != 4 {
		t.Fatalf("stored %d messages, want 4", got.LastSeq)
	}
}

func TestReceiptsNeverMoveBackwards(t *testing.T) {
	f := newFixture(t, nil)
	c, _, _ := f.svc.Open(ctx, advisorA, OpenRequest{Channel: ChannelSMS, CustomerID: cust1, Address: "+4917100000002"})
	states := []DeliveryState{DeliverySent, DeliveryDelivered, DeliveryRead, DeliveryFailed, DeliveryQueued}
	var ids []string
	for i := range 20 {
		if i%3 == 0 {
			if _, _, err := f.svc.Receive(ctx, Inbound{TenantID: tenantA, Channel: ChannelSMS, ProviderID: fmt.Sprintf("in%d", i),
				Address: "+4917100000002", CustomerID: cust1, AdvisorID: advA, Text: "x"}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		m := f.send(t, advisorA, c.ID, fmt.Sprintf("c%d", i), "y")
		ids = append(ids, m.ID)
		if _, err := f.svc.SetDelivery(ctx, tenantA, m.ID, DeliverySent, "p"+m.ID); err != nil {
			t.Fatal(err)
		}
	}
	prev, _ := f.svc.Get(ctx, advisorA, c.ID)
	prevState := map[string]DeliveryState{}
	for step := range 400 {
		x := (step*7919 + 13) % 1000
		var err error
		switch x % 4 {
		case 0:
			_, err = f.svc.MarkRead(ctx, advisorA, c.ID, uint64(x%25))
		case 1:
			_, err = f.svc.MarkDelivered(ctx, advisorA, c.ID, uint64(x%25))
		default:
			id := ids[x%len(ids)]
			var m Message
			m, err = f.svc.UpdateDelivery(ctx, tenantA, ChannelSMS, "p"+id, states[x%len(states)])
			if err == nil {
				if m.Delivery.rank() < prevState[id].rank() || (prevState[id] == DeliveryFailed && m.Delivery != DeliveryFailed) {
					t.Fatalf("step %d: message went from %s to %s", step, prevState[id], m.Delivery)
				}
				prevState[id] = m.Delivery
			}
		}
		if err != nil && !errors.Is(err, ErrInvalidInput) {
			t.Fatal(err)
		}
		cur, _ := f.svc.Get(ctx, advisorA, c.ID)
		r, p := cur.Receipts, prev.Receipts
		if r.AdvisorRead < p.AdvisorRead || r.AdvisorDelivered < p.AdvisorDelivered ||
			r.CustomerRead < p.CustomerRead || r.CustomerDelivered < p.CustomerDelivered ||
			r.AdvisorDelivered < r.AdvisorRead || r.CustomerDelivered < r.CustomerRead || r.AdvisorRead > cur.LastSeq {
			t.Fatalf("step %d: receipts %+v after %+v", step, r, p)
		}
		prev = cur
	}
	if prev.Receipts.AdvisorRead == 0 || prev.Receipts.CustomerRead == 0 {
		t.Fatalf("receipts never moved: %+v", prev.Receipts)
	}
}

func TestUnreadCounts(t *testing.T) {
	f := newFixture(t, nil)
	c1 := f.open(t, advisorA, cust1)
	c2 := f.open(t, advisorA, cust2)
	cust2Actor := Actor{TenantID: tenantA, UserID: cust2, Role: RoleCustomer}
	for i := range 3 {
		f.send(t, customer1, c1.ID, fmt.Sprintf("a%d", i), "x")
	}
	f.send(t, cust2Actor, c2.ID, "b0", "x")
	u, err := f.svc.Unread(ctx, advisorA, advA)
	if err != nil || u.Total != 4 || u.ByConversation[c1.ID] != 3 {
		t.Fatal(err, u)
	}
	if _, err := f.svc.MarkRead(ctx, advisorA, c1.ID, 2); err != nil {
		t.Fatal(err)
	}
	u, _ = f.svc.Unread(ctx, advisorA, advA)
	if u.Total != 2 || u.ByConversation[c1.ID] != 1 {
		t.Fatal(u)
	}
	// The customer's read watermark does not change the advisor's count.
	if _, err := f.svc.MarkRead(ctx, customer1, c1.ID, 3); err != nil {
		t.Fatal(err)
	}
	// Answering marks everything before as read.
	f.send(t, advisorA, c2.ID, "r", "y")
	u, _ = f.svc.Unread(ctx, advisorA, advA)
	if u.Total != 1 || u.ByConversation[c2.ID] != 0 {
		t.Fatal(u)
	}
	if _, err := f.svc.Unread(ctx, advisorB, advA); !errors.Is(err, ErrForbidden) {
		t.Fatalf("B reading A's counts: %v", err)
	}
}

func TestCannedResponses(t *testing.T) {
	f := newFixture(t, nil)
	own, err := f.svc.PutCanned(ctx, advisorA, CannedInput{Title: "Gruß", Text: "Mit freundlichen Grüßen"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PutCanned(ctx, advisorA, CannedInput{Title: "Alle", Text: "x", TenantWide: true}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("advisor tenant-wide: %v", err)
	}
	if _, err := f.svc.PutCanned(ctx, customer1, CannedInput{Title: "x", Text: "x"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("customer: %v", err)
	}
	tw, err := f.svc.PutCanned(ctx, adminA, CannedInput{Title: "Öffnungszeiten", Text: "Mo–Fr 9–17 Uhr", TenantWide: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []CannedInput{{Title: "", Text: "x"}, {Title: "a\nb", Text: "x"}, {Title: "x", Text: ""},
		{Title: "x", Text: strings.Repeat("x", MaxCannedRunes+1)}} {
		if _, err := f.svc.PutCanned(ctx, advisorA, in); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%+v: %v", in, err)
		}
	}
	la, _ := f.svc.ListCanned(ctx, advisorA)
	lb, _ := f.svc.ListCanned(ctx, advisorB)
	lo, _ := f.svc.ListCanned(ctx, outsider)
	if len(la) != 2 || len(lb) != 1 || lb[0].ID != tw.ID || len(lo) != 0 {
		t.Fatalf("lists: %v / %v / %v", la, lb, lo)
	}
	f.clock.Advance(time.Minute)
	up, err := f.svc.PutCanned(ctx, advisorA, CannedInput{ID: own.ID, Title: "Gruß", Text: "Viele Grüße"})
	if err != nil || up.Text != "Viele Grüße" || !up.Created.Equal(own.Created) || !up.Updated.After(own.Updated) {
		t.Fatal(err, up)
	}
	if _, err := f.svc.PutCanned(ctx, advisorB, CannedInput{ID: own.ID, Title: "x", Text: "x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("B editing A's: %v", err)
	}
	if err := f.svc.DeleteCanned(ctx, advisorB, own.ID, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("B deleting A's: %v", err)
	}
	if err := f.svc.DeleteCanned(ctx, advisorA, own.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteCanned(ctx, adminA, tw.ID, true); err != nil {
		t.Fatal(err)
	}
	if la, _ = f.svc.ListCanned(ctx, advisorA); len(la) != 0 {
		t.Fatal(la)
	}
}

func TestWaitWakesAfterCommit(t *testing.T) {
	f := newFixture(t, nil)
	c := f.open(t, advisorA, cust1)
	head, _ := f.svc.Head(ctx, advisorA, advA)
	got := make(chan uint64, 1)
	go func() {
		h, err := f.svc.Wait(ctx, advisorA, advA, head)
		if err != nil {
			t.Error(err)
		}
		got <- h
	}()
	f.send(t, customer1, c.ID, "m", "ping")
	if h := <-got; h <= head {
		t.Fatalf("woke with head %d, was %d", h, head)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.svc.Wait(cctx, advisorA, advA, head+100); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}
