package messaging

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/store"
)

// TestErasureWithCustomerService seals with the real customer service:
// nothing personal is in the store in plain text, destroying the
// customer's key makes bodies, names, attachments and the address
// unreadable, and EraseCustomer removes the rest, leaving tombstones.
func TestErasureWithCustomerService(t *testing.T) {
	clk := clock.NewFake(testStart)
	mem := &store.Memory{Clock: clk}
	cs, err := customer.New(customer.Options{Store: mem, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Options{Store: mem, Clock: clk, Sealer: cs, Touch: cs.TouchTx})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cs.Create(ctx, customer.Actor{TenantID: tenantA, UserID: advA}, customer.Contact{
		FirstName: "Erika", LastName: "Mustermann", Email: "erika@example.org", Mobile: "+49 171 7654321"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := cs.Create(ctx, customer.Actor{TenantID: tenantA, UserID: advA}, customer.Contact{
		FirstName: "Max", LastName: "Muster", Email: "max@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "Meine IBAN ist DE02120300000000202051"
	const fileText = "Kontoauszug Erika Mustermann"
	chat, _, err := svc.Open(ctx, advisorA, OpenRequest{Channel: ChannelChat, CustomerID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	me := Actor{TenantID: tenantA, UserID: p.ID, Role: RoleCustomer}
	m, err := svc.Send(ctx, me, chat.ID, Draft{ClientID: "1", Text: secret,
		Attachments: []AttachmentInput{{Name: "auszug-mustermann.txt", Data: []byte(fileText)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Receive(ctx, Inbound{TenantID: tenantA, Channel: ChannelWhatsApp, ProviderID: "wamid.9",
		Address: "491717654321", CustomerID: p.ID, AdvisorID: advA, Text: secret}); err != nil {
		t.Fatal(err)
	}
	oc, _, err := svc.Open(ctx, advisorA, OpenRequest{Channel: ChannelChat, CustomerID: other.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, advisorA, oc.ID, Draft{ClientID: "1", Text: "Hallo Max"}); err != nil {
		t.Fatal(err)
	}
	for k, v := range rawKeys(t, mem) {
		for _, needle := range []string{"IBAN", "Kontoauszug", "mustermann", "491717654321"} {
			if bytes.Contains(bytes.ToLower([]byte(k+string(v))), bytes.ToLower([]byte(needle))) {
				t.Fatalf("%q in plain text under %s", needle, k)
			}
		}
	}
	// Messages count as interactions with the customer.
	clk.Advance(time.Hour)
	if _, err := svc.Send(ctx, advisorA, chat.ID, Draft{ClientID: "touch", Text: "Danke"}); err != nil {
		t.Fatal(err)
	}
	if got, err := cs.Get(ctx, customer.Actor{TenantID: tenantA, UserID: advA}, p.ID); err != nil || !got.LastInteraction.Equal(clk.Now()) {
		t.Fatalf("profile not touched: %v %+v", err, got.LastInteraction)
	}
	ex, err := svc.ExportCustomer(ctx, tenantA, p.ID)
	if err != nil || len(ex) != 2 {
		t.Fatalf("export: %v %+v", err, ex)
	}
	for _, e := range ex {
		if e.Conversation.Channel == ChannelWhatsApp && e.Conversation.Address != "491717654321" {
			t.Fatalf("export address: %+v", e.Conversation)
		}
		if len(e.Messages) == 0 || e.Messages[0].Text != secret {
			t.Fatalf("export messages: %+v", e.Messages)
		}
		if e.Conversation.ID == chat.ID && string(e.Messages[0].Attachments[0].Data) != fileText {
			t.Fatalf("export attachment: %+v", e.Messages[0].Attachments)
		}
	}

	// Crypto-shredding: the key goes, the sealed data stays unreadable.
	if _, err := cs.Shred(ctx, tenantA, p.ID); err != nil {
		t.Fatal(err)
	}
	ms, err := svc.Messages(ctx, advisorA, chat.ID, 0, 0)
	if err != nil || len(ms) != 2 || !ms[0].Unreadable || ms[0].Text != "" || ms[0].Attachments[0].Name != "" || !ms[1].Unreadable {
		t.Fatalf("after shredding: %v %+v", err, ms)
	}
	if _, err := svc.Attachment(ctx, advisorA, chat.ID, m.Attachments[0].ID); !errors.Is(err, customer.ErrShredded) {
		t.Fatalf("attachment after shredding: %v", err)
	}
	l, _ := svc.List(ctx, advisorA, ListFilter{})
	for _, c := range l {
		if c.Address != "" {
			t.Fatalf("address readable after shredding: %+v", c)
		}
	}
	if _, err := svc.Send(ctx, advisorA, chat.ID, Draft{ClientID: "2", Text: "x"}); !errors.Is(err, customer.ErrShredded) {
		t.Fatalf("sealing for a shredded customer: %v", err)
	}

	// Erasure removes the rest; the other customer is untouched.
	head, _ := svc.Head(ctx, advisorA, advA)
	n, err := svc.EraseCustomer(ctx, tenantA, p.ID)
	if err != nil || n != 2 {
		t.Fatalf("erase: %d %v", n, err)
	}
	for k := range rawKeys(t, mem) {
		if strings.Contains(k, p.ID) || strings.Contains(k, chat.ID) {
			t.Fatalf("left behind: %s", k)
		}
	}
	pg, _ := svc.Changes(ctx, advisorA, advA, head, 0)
	if len(pg.Changes) != 2 || pg.Changes[0].Kind != ChangeDeleted || pg.Changes[1].Kind != ChangeDeleted {
		t.Fatalf("tombstones: %+v", pg)
	}
	if ms, err := svc.Messages(ctx, advisorA, oc.ID, 0, 0); err != nil || len(ms) != 1 || ms[0].Text != "Hallo Max" {
		t.Fatalf("other customer: %v %+v", err, ms)
	}
	if n, err := svc.EraseCustomer(ctx, tenantA, p.ID); err != nil || n != 0 {
		t.Fatalf("erase again: %d %v", n, err)
	}
}

// TestErasureDeletedHookRemovesAdapterRecords: Options.Deleted runs in
// the transaction that deletes each erased conversation, with the
// conversation and its address, so an adapter's own records of it go
// too; afterwards no key anywhere in the store names the erased
// customer's conversations, while the other customer's stay.
func TestErasureDeletedHookRemovesAdapterRecords(t *testing.T) {
	var seen []Conversation
	f := newFixture(t, func(o *Options) {
		o.Deleted = func(tx store.Txn, c Conversation) error {
			seen = append(seen, c)
			return tx.Delete([]byte("wire/cf/" + c.ID))
		}
	})
	chat := f.open(t, advisorA, cust1)
	wa, _, err := f.svc.Receive(ctx, Inbound{TenantID: tenantA, Channel: ChannelWhatsApp, ProviderID: "wamid.1",
		Address: "491711234567", CustomerID: cust1, AdvisorID: advA, Text: "Hallo"})
	if err != nil {
		t.Fatal(err)
	}
	keep := f.open(t, advisorA, cust2)
	for _, id := range []string{chat.ID, wa.ConversationID, keep.ID} {
		f.send(t, advisorA, id, "c-"+id, "Antwort")
		if err := f.mem.Update(ctx, func(tx store.Txn) error { return tx.Set([]byte("wire/cf/"+id), []byte("page")) }); err != nil {
			t.Fatal(err)
		}
	}
	n, err := f.svc.EraseCustomer(ctx, tenantA, cust1)
	if err != nil || n != 2 {
		t.Fatalf("erase: %d %v", n, err)
	}
	if len(seen) != 2 {
		t.Fatalf("hook called %d times, want 2", len(seen))
	}
	for _, c := range seen {
		if c.CustomerID != cust1 || (c.Channel == ChannelWhatsApp && c.Address != "491711234567") {
			t.Fatalf("hook saw %+v", c)
		}
	}
	left := map[string]bool{}
	if err := f.mem.View(ctx, func(tx store.Txn) error {
		return tx.Scan(nil, func(k, v []byte) error {
			for _, id := range []string{chat.ID, wa.ConversationID, keep.ID} {
				if strings.Contains(string(k), id) {
					left[id] = left[id] || !strings.HasPrefix(string(k), "messaging/f/") // tombstones are feed entries
				}
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if left[chat.ID] || left[wa.ConversationID] {
		t.Fatalf("keys of erased conversations remain: %v", left)
	}
	if !left[keep.ID] {
		t.Fatal("the other customer's conversation was touched")
	}
}

func TestDeletedHookErrorAbortsTheStep(t *testing.T) {
	fail := true
	f := newFixture(t, func(o *Options) {
		o.Deleted = func(store.Txn, Conversation) error {
			if fail {
				return errors.New("adapter down")
			}
			return nil
		}
	})
	c := f.open(t, advisorA, cust1)
	f.send(t, advisorA, c.ID, "1", "x")
	if _, err := f.svc.EraseCustomer(ctx, tenantA, cust1); err == nil {
		t.Fatal("hook error ignored")
	}
	if _, err := f.svc.Get(ctx, adminA, c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("half-erased conversation served: %v", err)
	}
	fail = false
	st, err := f.svc.SweepExpired(ctx, f.clock.Now(), func(Conversation) bool { return false })
	if err != nil || st.Deleted != 1 {
		t.Fatalf("the sweep finishes the deletion: %+v %v", st, err)
	}
}
