package app

import (
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

func inboxFake() *fakeInbox {
	now := time.Now()
	return &fakeInbox{
		online: true,
		convs: []Conversation{
			{ID: "cv1", Channel: ChannelWhatsApp, CustomerName: "Max Kunde", Status: ConversationOpen, Unread: 1, LastMessageAt: now,
				WindowKnown: true, WindowOpen: true, WindowClosesAt: now.Add(20 * time.Hour)},
			{ID: "cv2", Channel: ChannelChat, CustomerName: "Ida Gast", Status: ConversationPending, LastMessageAt: now.Add(-time.Hour)},
		},
		msgs: map[string][]ChatMessage{
			"cv1": {
				{ID: "m1", ConversationID: "cv1", Seq: 1, Text: "Guten Tag, wie geht es?", Delivery: DeliveryRead, Created: now.Add(-time.Hour)},
				{ID: "m2", ConversationID: "cv1", Seq: 2, FromCustomer: true, Text: "Ich habe eine Frage zum Vertrag.", Created: now,
					Attachments: []FileRef{{ID: "a1", Name: "vertrag.pdf", Type: "application/pdf", Size: 2048}}},
			},
			"cv2": {{ID: "m1", ConversationID: "cv2", Seq: 1, FromCustomer: true, Text: "Hallo", Created: now.Add(-time.Hour)}},
		},
		files:  map[string][]byte{"a1": []byte("%PDF-1.7")},
		canned: []CannedResponse{{ID: "cr1", Title: "Termin", Text: "Gern vereinbaren wir einen Termin."}, {ID: "cr2", Title: "Gruß", Text: "Viele Grüße", TenantWide: true}},
	}
}

type sentNote struct{ title, content string }

// inboxHarness signs in and shows the Inbox page; desktop notifications
// are collected in the returned slice pointer.
func inboxHarness(t *testing.T, in *fakeInbox) (*harness, *inboxPage, *[]sentNote) {
	t.Helper()
	h := newHarness(t, &fakeRelay{}, Options{DefaultAddr: testAddr, Inbox: in})
	h.signIn("acme", "erika", "pw")
	w := h.waitWorkspace()
	notes := &[]sentNote{}
	w.inbox.notify = func(n *fyne.Notification) { *notes = append(*notes, sentNote{n.Title, n.Content}) }
	w.selectPage("Inbox")
	p := w.inbox
	h.eventually("the conversations", func() bool { return len(p.convs) == len(in.convs) && len(in.convs) > 0 })
	return h, p, notes
}

func TestInboxListsConversationsAndShowsMessages(t *testing.T) {
	in := inboxFake()
	h, p, _ := inboxHarness(t, in)
	if !in.called("Start erika") {
		t.Errorf("calls %q", in.Calls())
	}
	if !h.shows("Max Kunde") || !h.shows("WhatsApp · Open") || !h.shows("Chat · Pending") || !h.shows("2 conversations · 1 unread") {
		t.Errorf("texts %q", h.texts())
	}
	if !h.shows("Choose a conversation") || h.shows("Offline") {
		t.Errorf("texts %q", h.texts())
	}
	p.list.Select(0)
	h.eventually("the messages", func() bool { return h.shows("Ich habe eine Frage zum Vertrag.") })
	if !h.shows("Guten Tag, wie geht es?") || !h.shows("✓✓ read") || !h.shows("vertrag.pdf (2 KB)") {
		t.Errorf("texts %q", h.texts())
	}
	if !h.shows("The WhatsApp window is open until") {
		t.Errorf("no window hint: %q", h.texts())
	}
	h.eventually("marked read", func() bool { return in.called("MarkRead cv1 2") })

	// The customer's bubble is on the left, the advisor's on the right.
	first := p.bubbles.Objects[0].(*fyne.Container).Objects
	second := p.bubbles.Objects[1].(*fyne.Container).Objects
	if _, ok := first[0].(fyne.Widget); ok {
		t.Error("the advisor's bubble is not pushed to the right")
	}
	if strings.Join(textsOf(second[0]), " ") == "" {
		t.Error("the customer's bubble is not on the left")
	}

	// An attachment opens from the cache.
	var saved []string
	p.saveFile = func(name string, data []byte) { saved = append(saved, name+"="+string(data)) }
	h.tap("vertrag.pdf (2 KB)")
	h.eventually("the file", func() bool { return len(saved) == 1 })
	if saved[0] != "vertrag.pdf=%PDF-1.7" {
		t.Errorf("saved %q", saved)
	}
}

func TestInboxOfflineQueuesReplies(t *testing.T) {
	in := inboxFake()
	in.online = false
	h, p, _ := inboxHarness(t, in)
	h.eventually("the banner", func() bool { return h.shows("Offline — messages will be sent when connected.") })
	p.list.Select(1)
	h.eventually("the messages", func() bool { return len(p.msgs) == 1 })

	h.tap("Send")
	if p.note.Text != "Write a reply first." || len(in.Calls()) != 1 {
		t.Errorf("note %q calls %q", p.note.Text, in.Calls())
	}
	fill(p.reply, "Ich melde mich morgen.")
	h.tap("Send")
	h.eventually("the queued reply", func() bool { return h.shows("waiting for connection") })
	if !in.called("Send cv2 Ich melde mich morgen.") || p.reply.Text != "" ||
		!strings.Contains(p.note.Text, "sent when the relay is reachable") {
		t.Errorf("calls %q note %q", in.Calls(), p.note.Text)
	}
	// Status changes need the relay.
	p.status.SetSelected("Closed")
	if !strings.Contains(p.note.Text, "when the relay is reachable") || in.called("SetStatus cv2 closed") || p.status.Selected != "Pending" {
		t.Errorf("note %q status %q", p.note.Text, p.status.Selected)
	}
	in.setOnline(true)
	h.eventually("online", func() bool { return !h.shows("Offline") })
}

func TestInboxWhatsAppWindowClosedNeedsTemplate(t *testing.T) {
	in := inboxFake()
	in.convs[0].WindowOpen = false
	h, p, _ := inboxHarness(t, in)
	p.list.Select(0)
	h.eventually("the hint", func() bool { return h.shows("24-hour window is closed") })
	if !p.send.Disabled() || !p.reply.Disabled() {
		t.Error("free text can still be sent")
	}
	h.tap("Send template")
	if p.note.Text != "Enter the name of an approved template." {
		t.Errorf("note %q", p.note.Text)
	}
	fill(p.template, "termin_erinnerung")
	h.tap("Send template")
	h.eventually("the template", func() bool { return in.called("SendTemplate cv1 termin_erinnerung") })
	h.eventually("its bubble", func() bool { return h.shows("Template: termin_erinnerung") })
	// Chat conversations have no template field.
	p.list.Select(1)
	h.eventually("the chat", func() bool { return p.current.ID == "cv2" })
	if h.button("Send template") != nil || p.send.Disabled() {
		t.Error("chat shows the template row or disables Send")
	}
}

func TestInboxAttachmentsCannedResponsesAndStatus(t *testing.T) {
	in := inboxFake()
	h, p, _ := inboxHarness(t, in)
	p.list.Select(1)
	h.eventually("the chat", func() bool { return len(p.msgs) == 1 })

	p.pickFile = func(done func(string, []byte, error)) { done("leer.pdf", nil, nil) }
	h.tap("Attach file")
	if p.note.Text != "leer.pdf is empty." {
		t.Errorf("note %q", p.note.Text)
	}
	p.pickFile = func(done func(string, []byte, error)) { done("angebot.pdf", []byte("%PDF-1.4 angebot"), nil) }
	h.tap("Attach file")
	h.eventually("the attachment", func() bool { return in.called("Attach cv2 angebot.pdf 16") })
	h.eventually("its bubble", func() bool { return h.shows("angebot.pdf (16 bytes)") })

	fill(p.reply, "Hallo Frau Gast,")
	h.tap("Canned responses")
	h.eventually("the picker", func() bool { return h.shows("Gruß (team)") })
	var list *widget.List
	walk(h.ui.Window().Canvas().Overlays().Top(), func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.List); ok {
			list = l
		}
	})
	list.Select(0)
	if p.reply.Text != "Hallo Frau Gast,\nGern vereinbaren wir einen Termin." || h.ui.Window().Canvas().Overlays().Top() != nil {
		t.Errorf("reply %q", p.reply.Text)
	}

	p.status.SetSelected("Closed")
	h.eventually("the status", func() bool { return p.note.Text == "Marked closed." })
	if !in.called("SetStatus cv2 closed") {
		t.Errorf("calls %q", in.Calls())
	}
	h.eventually("the list", func() bool { return h.shows("Chat · Closed") })
}

func TestInboxNotifiesNewCustomerMessages(t *testing.T) {
	in := inboxFake()
	h, p, notes := inboxHarness(t, in)
	p.list.Select(0)
	h.eventually("the messages", func() bool { return len(p.msgs) == 2 })

	// The open conversation in a focused window: no notification, the
	// message appears and is marked read.
	in.customerSays("cv1", "Noch da?")
	h.eventually("the message", func() bool { return h.shows("Noch da?") })
	h.eventually("marked read", func() bool { return in.called("MarkRead cv1 3") })
	if len(*notes) != 0 {
		t.Errorf("notified %q", *notes)
	}
	// Another conversation: notified, naming customer and channel only.
	in.customerSays("cv2", "Geheimer Text")
	h.eventually("the notification", func() bool { return len(*notes) == 1 })
	if (*notes)[0] != (sentNote{"New message", "New message from Ida Gast via Chat."}) {
		t.Errorf("notification %q", *notes)
	}
	// The window without focus: notified for the open conversation too.
	p.foreground = false
	in.customerSays("cv1", "Hallo?")
	h.eventually("the second notification", func() bool { return len(*notes) == 2 })
	// Another page shown: notified.
	p.foreground = true
	h.ui.sess.work.selectPage("Meetings")
	in.customerSays("cv1", "Bitte rufen Sie an.")
	h.eventually("the third notification", func() bool { return len(*notes) == 3 })
	h.settle()
	for _, n := range *notes {
		if strings.Contains(n.content, "Geheim") || strings.Contains(n.content, "Hallo") {
			t.Errorf("message text in a notification: %q", n)
		}
	}
}

func TestInboxConversationRemoved(t *testing.T) {
	in := inboxFake()
	h, p, _ := inboxHarness(t, in)
	p.list.Select(0)
	h.eventually("the messages", func() bool { return len(p.msgs) == 2 })
	in.remove("cv1")
	h.eventually("the removal", func() bool { return p.current == nil && len(p.convs) == 1 })
	if !h.shows("Choose a conversation") || h.shows("Max Kunde") {
		t.Errorf("texts %q", h.texts())
	}
	if slices.ContainsFunc(p.convs, func(c Conversation) bool { return c.ID == "cv1" }) {
		t.Error("removed conversation still listed")
	}
}
