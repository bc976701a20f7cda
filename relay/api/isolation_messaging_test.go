package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"parley/relay/booking"
	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/ids"
	"parley/relay/messaging"
	"parley/relay/store"
)

// isoInbox is the relay's Inbox wiring reduced to what the isolation
// matrix needs: customer names from the profiles, channel configurations
// in memory, contact-form messages into the inbox. (relay/server has the
// real one, tested through the relay.)
type isoInbox struct {
	cust *customer.Service
	msgs *messaging.Service
	kv   store.KV
	clk  clock.Clock

	mu       sync.Mutex
	channels map[string]ChannelConfig
	tenantOf map[string]string
}

func (n *isoInbox) CustomerName(ctx context.Context, tenantID, customerID string) (string, error) {
	p, err := n.cust.Get(ctx, customer.Actor{TenantID: tenantID, UserID: "iso-inbox", Admin: true}, customerID)
	if err != nil {
		return "", messaging.ErrNotFound
	}
	return strings.TrimSpace(p.Contact.FirstName + " " + p.Contact.LastName), nil
}

func (n *isoInbox) ExternalAddress(ctx context.Context, tenantID, customerID string, ch messaging.Channel) (string, error) {
	return "", &messaging.InputError{Field: "channel", Msg: "the customer must write first"}
}

func (n *isoInbox) Channels(ctx context.Context, tenantID string) ([]ChannelConfig, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []ChannelConfig
	for id, c := range n.channels {
		if n.tenantOf[id] == tenantID {
			out = append(out, c)
		}
	}
	return out, nil
}

func (n *isoInbox) AddChannel(ctx context.Context, tenantID string, in ChannelInput) (ChannelConfig, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := ChannelConfig{ID: "ch_" + ids.New(), Kind: in.Kind, AdvisorID: in.AdvisorID, Hint: "…" + in.Credentials["access_token"][len(in.Credentials["access_token"])-4:]}
	n.channels[c.ID], n.tenantOf[c.ID] = c, tenantID
	return c, nil
}

func (n *isoInbox) RemoveChannel(ctx context.Context, tenantID, id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.tenantOf[id] != tenantID {
		return messaging.ErrNotFound
	}
	delete(n.channels, id)
	delete(n.tenantOf, id)
	return nil
}

func (n *isoInbox) Webhook(ctx context.Context, provider, channelID string) (http.Handler, error) {
	return nil, messaging.ErrNotFound
}

func (n *isoInbox) Contact(ctx context.Context, page booking.Page, in ContactInput) error {
	var id string
	err := n.kv.Update(ctx, func(tx store.Txn) error {
		var err error
		id, err = n.cust.UpsertTx(tx, page.TenantID, customer.Contact{FirstName: in.Name, Email: in.Email}, n.clk.Now())
		return err
	})
	if err != nil {
		return err
	}
	a := messaging.Actor{TenantID: page.TenantID, UserID: id, Role: messaging.RoleCustomer}
	c, _, err := n.msgs.Open(ctx, a, messaging.OpenRequest{Channel: messaging.ChannelContactForm, CustomerID: id, AdvisorID: page.AdvisorID})
	if err != nil {
		return err
	}
	_, err = n.msgs.Send(ctx, a, c.ID, messaging.Draft{ClientID: ids.New(), Text: in.Message})
	return err
}

func (n *isoInbox) Stopping() <-chan struct{} { return nil }

// isoMessaging is the inbox over the fixture's store with the customers'
// keys, and its wiring.
func isoMessaging(t *testing.T, kv store.KV, clk clock.Clock, cust *customer.Service) (*messaging.Service, *isoInbox) {
	t.Helper()
	ms, err := messaging.New(messaging.Options{Store: kv, Clock: clk, Sealer: cust})
	if err != nil {
		t.Fatal(err)
	}
	return ms, &isoInbox{cust: cust, msgs: ms, kv: kv, clk: clk, channels: map[string]ChannelConfig{}, tenantOf: map[string]string{}}
}

// isoMsgs is one tenant's inbox things.
type isoMsgs struct {
	conversationID, attachmentID string
	cannedID, channelID          string
}

// populateMessaging gives tenant w a chat conversation with its booking
// customer (a text and a file), a canned response and a provider channel.
func (f *fixture) populateMessaging(w *isoTenant, tag string) {
	f.t.Helper()
	var c struct{ ID string }
	f.decode(f.callJSON("POST", "/api/v1/conversations", w.advisor, map[string]string{"customer_id": w.customerID, "channel": "chat"}, nil), 201, "conversation", &c)
	w.msgs.conversationID = c.ID
	text := "Kontonummer im Chat " + tag + " 0042"
	f.decode(f.callJSON("POST", "/api/v1/conversations/"+c.ID+"/messages", w.advisor, map[string]string{"client_id": "m1", "text": text}, nil), 201, "message", nil)
	fileName := "Kontoauszug-" + tag + ".pdf"
	var m struct {
		Attachments []struct{ ID string }
	}
	f.decode(f.call("POST", "/api/v1/conversations/"+c.ID+"/attachments?name="+fileName+"&client_id=f1", "application/octet-stream", w.advisor,
		[]byte(strings.Replace(testPDF, "%%EOF", "% Anhang-"+tag+"\n%%EOF", 1)), nil), 201, "attachment", &m)
	w.msgs.attachmentID = m.Attachments[0].ID
	var cr struct{ ID string }
	cannedText := "Vorlage " + tag + " Rueckruf"
	f.decode(f.callJSON("PUT", "/api/v1/canned-responses", w.advisor, map[string]string{"title": "Rueckruf " + tag, "text": cannedText}, nil), 201, "canned", &cr)
	w.msgs.cannedID = cr.ID
	var ch struct{ ID string }
	token := "EAAG-token-" + tag + "-9911"
	f.decode(f.callJSON("POST", "/api/v1/channels", w.admin, map[string]any{"kind": "whatsapp", "advisor_id": w.advisorID,
		"credentials": map[string]string{"access_token": token, "phone_number_id": "77" + tag, "app_secret": "s-" + tag}}, nil), 201, "channel", &ch)
	w.msgs.channelID = ch.ID
	w.private = append(w.private, c.ID, text, fileName, "Anhang-"+tag, w.msgs.attachmentID, cr.ID, cannedText, ch.ID, token)
}

// messagingSnapshotPaths are tenant A's inbox reads for the snapshot.
func messagingSnapshotPaths(a *isoTenant) []struct{ path, token string } {
	c := "/api/v1/conversations/" + a.msgs.conversationID
	return []struct{ path, token string }{
		{"/api/v1/conversations", a.advisor},
		{c, a.advisor},
		{c + "/messages", a.advisor},
		{c + "/attachments/" + a.msgs.attachmentID, a.advisor},
		{"/api/v1/inbox/unread", a.advisor},
		{"/api/v1/canned-responses", a.advisor},
		{"/api/v1/channels", a.admin},
	}
}

// messagingPath substitutes tenant A's inbox ids into a route pattern.
func messagingPath(pattern string, a *isoTenant) string {
	id := a.msgs.conversationID
	switch {
	case strings.HasPrefix(pattern, "/api/v1/canned-responses/"):
		id = a.msgs.cannedID
	case strings.HasPrefix(pattern, "/api/v1/channels/"):
		id = a.msgs.channelID
	}
	return strings.NewReplacer("{id}", id, "{aid}", a.msgs.attachmentID, "{page}", a.pageID).Replace(pattern)
}

// messagingCases are the isolation cases of the inbox routes: every route
// with tenant A's conversation, attachment, canned response or channel
// (refused), and the lists as they are (tenant B's own only).
func messagingCases() map[string]isoCase {
	advisorOf := func(a *isoTenant) string { return a.advisor }
	adminOf := func(a *isoTenant) string { return a.admin }
	foreign := func(pattern string, extra ...isoTarget) func(a, b *isoTenant) []isoTarget {
		return func(a, b *isoTenant) []isoTarget {
			ts := []isoTarget{{path: messagingPath(pattern, a), foreign: true}}
			if strings.Contains(pattern, "{aid}") {
				// B's own conversation with A's attachment id.
				ts = append(ts, isoTarget{path: strings.Replace(messagingPath(pattern, a), a.msgs.conversationID, b.msgs.conversationID, 1), foreign: true})
			}
			return append(ts, extra...)
		}
	}
	own := func(path string, body any) func(a, b *isoTenant) []isoTarget {
		return func(a, b *isoTenant) []isoTarget { return []isoTarget{{path: path, body: body}} }
	}
	send := func(a, b *isoTenant, c string) (string, []byte) {
		return jsonBody(map[string]string{"client_id": "iso-" + strings.ReplaceAll(c, " ", "-"), "text": "Frage von " + c})
	}
	return map[string]isoCase{
		"GET /api/v1/conversations": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/conversations"}, {path: "/api/v1/conversations?advisor=" + a.advisorID}}
		}, sanity: advisorOf},
		// B's staff open a conversation with A's customer: refused.
		"POST /api/v1/conversations": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/conversations", foreign: true, body: map[string]string{"customer_id": a.customerID, "channel": "chat"}}}
		}, refusals: []int{http.StatusBadRequest}},
		"GET /api/v1/conversations/{id}": {targets: foreign("/api/v1/conversations/{id}"), sanity: advisorOf},
		"PATCH /api/v1/conversations/{id}": {targets: patchTargets, body: func(a, b *isoTenant, c string) (string, []byte) {
			return jsonBody(map[string]string{"status": "pending"})
		}, sanity: advisorOf},
		"GET /api/v1/conversations/{id}/messages":  {targets: foreign("/api/v1/conversations/{id}/messages"), sanity: advisorOf},
		"POST /api/v1/conversations/{id}/messages": {targets: foreign("/api/v1/conversations/{id}/messages"), body: send, sanity: advisorOf},
		"POST /api/v1/conversations/{id}/attachments": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: messagingPath("/api/v1/conversations/{id}/attachments", a) + "?name=Beta.pdf&client_id=iso-f", foreign: true}}
		}, body: pdfBody},
		"GET /api/v1/conversations/{id}/attachments/{aid}": {targets: foreign("/api/v1/conversations/{id}/attachments/{aid}"), sanity: advisorOf},
		"POST /api/v1/conversations/{id}/read": {targets: foreign("/api/v1/conversations/{id}/read"), body: func(a, b *isoTenant, c string) (string, []byte) {
			return jsonBody(map[string]uint64{"seq": 1})
		}, sanity: advisorOf},
		// The feed and the counts of A's advisor: refused; B's own: B's.
		"GET /api/v1/inbox/changes": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/inbox/changes"}, {path: "/api/v1/inbox/changes?advisor=" + a.advisorID, foreign: true}}
		}, sanity: advisorOf},
		"GET /api/v1/inbox/unread": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/inbox/unread"}, {path: "/api/v1/inbox/unread?advisor=" + a.advisorID, foreign: true}}
		}},
		"GET /api/v1/canned-responses": {targets: own("/api/v1/canned-responses", nil), sanity: advisorOf},
		"PUT /api/v1/canned-responses": {targets: own("/api/v1/canned-responses", nil), body: func(a, b *isoTenant, c string) (string, []byte) {
			return jsonBody(map[string]string{"title": "Beta", "text": "Text"})
		}},
		"PUT /api/v1/canned-responses/{id}": {targets: foreign("/api/v1/canned-responses/{id}"), body: func(a, b *isoTenant, c string) (string, []byte) {
			return jsonBody(map[string]string{"title": "Beta", "text": "ueberschrieben"})
		}, sanity: advisorOf},
		"DELETE /api/v1/canned-responses/{id}": {targets: foreign("/api/v1/canned-responses/{id}"), sanity: advisorOf},
		"GET /api/v1/channels":                 {targets: own("/api/v1/channels", nil), sanity: adminOf},
		"POST /api/v1/channels": {targets: func(a, b *isoTenant) []isoTarget {
			// B's admin naming A's advisor as the channel's advisor.
			return []isoTarget{{path: "/api/v1/channels", foreign: true, body: map[string]any{"kind": "whatsapp", "advisor_id": a.advisorID,
				"credentials": map[string]string{"access_token": "tok-beta-0000", "phone_number_id": "1", "app_secret": "x"}}}}
		}, refusals: []int{http.StatusBadRequest}},
		"DELETE /api/v1/channels/{id}": {targets: foreign("/api/v1/channels/{id}"), sanity: adminOf},
		// The contact page is public: A's advisor's name is what it shows.
		"GET /api/v1/contact/{page}": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/contact/" + a.pageID, shown: []string{a.advisorName}, note: "public contact page"},
				{path: "/api/v1/contact/" + a.msgs.conversationID, foreign: true}}
		}, refusals: []int{http.StatusTooManyRequests}, sanity: nobodyToken},
		// Writing to B's own advisor only (A's page would change A's inbox,
		// which the snapshot forbids; anyone may write to any page).
		"POST /api/v1/contact/{page}": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/contact/" + b.pageID, body: map[string]string{"name": "Paula Public", "email": "paula@example.org", "message": "Hallo"}},
				{path: "/api/v1/contact/" + a.bookingID, foreign: true, body: map[string]string{"name": "Paula Public", "email": "paula@example.org", "message": "Hallo"}}}
		}, refusals: []int{http.StatusTooManyRequests}},
	}
}

func nobodyToken(*isoTenant) string { return "" }

// patchTargets: PATCH names A's conversation with a status and, as
// another target, with B's advisor as the new one.
func patchTargets(a, b *isoTenant) []isoTarget {
	p := messagingPath("/api/v1/conversations/{id}", a)
	return []isoTarget{{path: p, foreign: true, body: map[string]string{"status": "closed"}},
		{path: p, foreign: true, body: map[string]string{"advisor_id": b.advisorID}}}
}

// messagingRoute reports whether pattern is an inbox route with ids.
func messagingRoute(pattern string) bool {
	for _, p := range []string{"/api/v1/conversations/", "/api/v1/canned-responses/", "/api/v1/channels/", "/api/v1/contact/"} {
		if strings.HasPrefix(pattern, p) {
			return true
		}
	}
	return false
}
