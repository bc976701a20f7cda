package app

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Inbox is what the Inbox page needs: the signed-in advisor's
// conversations from every channel, read from a cache on this computer
// that is kept in step with the relay, so the page works offline
// (read-only, with replies queued until the relay is reachable). The UI
// calls every method off the UI thread.
type Inbox interface {
	// Start opens the advisor's cache and keeps it in step with the relay
	// until ctx ends (sign-out). onChange is called, on any goroutine,
	// whenever the cache changed or went on- or offline. It returns once
	// the cache can be read.
	Start(ctx context.Context, acc Account, onChange func(InboxChange)) error
	// Conversations returns the cached conversations, latest first.
	Conversations(ctx context.Context) ([]Conversation, error)
	// Messages returns a conversation's messages in order, the ones still
	// waiting to be sent last.
	Messages(ctx context.Context, conversationID string) ([]ChatMessage, error)
	// Send queues a text reply; it is sent when the relay is reachable.
	Send(ctx context.Context, conversationID, text string) error
	// SendTemplate queues an approved WhatsApp template by name.
	SendTemplate(ctx context.Context, conversationID, template string) error
	// Attach queues a file as a reply.
	Attach(ctx context.Context, conversationID, name string, data []byte) error
	// Attachment returns a file of a message (cached, or fetched when
	// online).
	Attachment(ctx context.Context, conversationID, attachmentID string) ([]byte, error)
	// SetStatus changes a conversation's status (online only) and returns
	// the conversation as it is now.
	SetStatus(ctx context.Context, conversationID, status string) (Conversation, error)
	// MarkRead marks the conversation read up to message seq (online
	// only).
	MarkRead(ctx context.Context, conversationID string, seq uint64) error
	// CannedResponses returns the prepared replies (the last known ones
	// when offline).
	CannedResponses(ctx context.Context) ([]CannedResponse, error)
}

// InboxChange tells the Inbox page what changed.
type InboxChange struct {
	// Conversations are the ids of conversations that changed or were
	// removed.
	Conversations []string
	// Incoming are new messages from customers.
	Incoming []ChatMessage
	// Online is whether the relay is reachable.
	Online bool
	// CatchingUp is true while a backlog is being fetched.
	CatchingUp bool
}

// Channels of conversations, as in [Conversation.Channel].
const (
	ChannelChat        = "chat"         // the relay's web chat
	ChannelContactForm = "contact_form" // the contact form
	ChannelWhatsApp    = "whatsapp"     // WhatsApp Business
	ChannelTelegram    = "telegram"     // Telegram
	ChannelMessenger   = "messenger"    // Facebook Messenger
	ChannelSMS         = "sms"          // SMS
)

// Conversation statuses, as in [Conversation.Status].
const (
	ConversationOpen    = "open"    // waiting for the advisor
	ConversationPending = "pending" // waiting for the customer
	ConversationClosed  = "closed"  // done
)

// Delivery states of the advisor's messages, as in [ChatMessage.Delivery].
const (
	DeliveryPending   = "pending"   // on this computer, waiting for the relay
	DeliveryRefused   = "refused"   // the relay refused it
	DeliveryQueued    = "queued"    // on the relay, not yet with the provider
	DeliverySent      = "sent"      // with the provider
	DeliveryDelivered = "delivered" // on the customer's device
	DeliveryRead      = "read"      // read by the customer
	DeliveryFailed    = "failed"    // the provider could not deliver it
)

// Conversation is one conversation of the inbox.
type Conversation struct {
	// ID is the relay's id of the conversation.
	ID string
	// Channel is one of the Channel… constants.
	Channel string
	// CustomerName is the customer's name.
	CustomerName string
	// Status is one of the Conversation… statuses.
	Status string
	// Unread counts the customer's messages not read yet.
	Unread int
	// LastMessageAt is when the latest message was written.
	LastMessageAt time.Time
	// WindowKnown is set on WhatsApp conversations, where WindowOpen says
	// whether free text may be sent (else only a template) and
	// WindowClosesAt when an open window closes.
	WindowKnown bool
	// WindowOpen: see WindowKnown.
	WindowOpen bool
	// WindowClosesAt: see WindowKnown.
	WindowClosesAt time.Time
}

// needsTemplate reports whether only a template may be sent.
func (c Conversation) needsTemplate() bool { return c.WindowKnown && !c.WindowOpen }

// ChatMessage is one message of a conversation.
type ChatMessage struct {
	// ID is the relay's id; empty while the message waits to be sent.
	ID string
	// ConversationID is the conversation's id.
	ConversationID string
	// Seq is the message's place in the conversation; 0 while it waits
	// to be sent.
	Seq uint64
	// FromCustomer is true for the customer's messages.
	FromCustomer bool
	// Text is the message's text.
	Text string
	// Template is the name of a WhatsApp template that was sent.
	Template string
	// Attachments are the files of the message.
	Attachments []FileRef
	// Delivery is one of the Delivery… states (advisor's messages).
	Delivery string
	// Created is when the message was written.
	Created time.Time
}

// FileRef is a file sent with a message.
type FileRef struct {
	// ID is the relay's id, empty while the message waits to be sent.
	ID string
	// Name is the file name.
	Name string
	// Type is the media type.
	Type string
	// Size is the size in bytes.
	Size int64
}

// CannedResponse is a prepared reply.
type CannedResponse struct {
	// ID is the relay's id.
	ID string
	// Title is what the picker shows.
	Title string
	// Text is what goes into the reply box.
	Text string
	// TenantWide responses are shared by the whole tenant.
	TenantWide bool
}

// maxAttachment is the largest file the reply box accepts (the relay's
// limit).
const maxAttachment = 25 << 20

// channelName is the channel's label.
func channelName(ch string) string {
	switch ch {
	case ChannelChat:
		return "Chat"
	case ChannelContactForm:
		return "Contact form"
	case ChannelWhatsApp:
		return "WhatsApp"
	case ChannelTelegram:
		return "Telegram"
	case ChannelMessenger:
		return "Messenger"
	case ChannelSMS:
		return "SMS"
	}
	return ch
}

// channelIcon is the channel's icon.
func channelIcon(ch string) fyne.Resource {
	switch ch {
	case ChannelChat:
		return theme.ComputerIcon()
	case ChannelContactForm:
		return theme.MailComposeIcon()
	case ChannelSMS:
		return theme.MailSendIcon()
	}
	return theme.MailReplyIcon()
}

// statusName is the status's label.
func statusName(s string) string {
	switch s {
	case ConversationOpen:
		return "Open"
	case ConversationPending:
		return "Pending"
	case ConversationClosed:
		return "Closed"
	}
	return s
}

var statusOptions = []string{statusName(ConversationOpen), statusName(ConversationPending), statusName(ConversationClosed)}

func statusOf(shown string) string {
	for _, s := range []string{ConversationOpen, ConversationPending, ConversationClosed} {
		if statusName(s) == shown {
			return s
		}
	}
	return ""
}

// deliveryText describes an advisor's message's delivery.
func deliveryText(d string) string {
	switch d {
	case DeliveryPending:
		return "waiting for connection"
	case DeliveryRefused:
		return "not sent: refused by the relay"
	case DeliveryQueued:
		return "sending"
	case DeliverySent:
		return "✓ sent"
	case DeliveryDelivered:
		return "✓✓ delivered"
	case DeliveryRead:
		return "✓✓ read"
	case DeliveryFailed:
		return "could not be delivered"
	}
	return ""
}

// inboxPage lists the conversations and shows one with its reply box.
type inboxPage struct {
	u     *UI
	s     *session
	inbox Inbox
	// now is the clock; time.Now outside tests.
	now func() time.Time
	// notify shows a desktop notification; the app's outside tests.
	notify func(*fyne.Notification)
	// focused tells whether the window has the focus.
	focused func() bool
	// pickFile lets the person choose a file to attach; a file dialog
	// outside tests.
	pickFile func(done func(name string, data []byte, err error))
	// saveFile offers an opened attachment to be saved; a file dialog
	// outside tests.
	saveFile func(name string, data []byte)

	started    bool
	online     bool
	catching   bool
	loadSeq    int
	convs      []Conversation
	current    *Conversation // the conversation shown, nil for none
	msgs       []ChatMessage
	msgSeq     int
	canned     []CannedResponse
	isShown    func() bool
	foreground bool

	banner   *fyne.Container
	list     *widget.List
	listNote statusLabel

	empty    fyne.CanvasObject
	detail   fyne.CanvasObject
	name     *widget.Label
	channel  *widget.Label
	status   *widget.Select
	window   statusLabel
	bubbles  *fyne.Container
	scroll   *container.Scroll
	reply    *widget.Entry
	template *widget.Entry
	send     *widget.Button
	sendTpl  *widget.Button
	attach   *widget.Button
	cannedB  *widget.Button
	note     statusLabel

	content fyne.CanvasObject
}

func newInboxPage(u *UI, s *session, inbox Inbox) *inboxPage {
	p := &inboxPage{u: u, s: s, inbox: inbox, now: time.Now, foreground: true}
	p.notify = u.app.SendNotification
	p.focused = func() bool { return p.foreground }
	lc := u.app.Lifecycle()
	lc.SetOnEnteredForeground(func() { p.foreground = true })
	lc.SetOnExitedForeground(func() { p.foreground = false })
	p.pickFile = p.openFileDialog
	p.saveFile = p.saveFileDialog

	offline := widget.NewLabelWithStyle("Offline — messages will be sent when connected.", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	offline.Importance = widget.WarningImportance
	p.banner = container.NewHBox(widget.NewIcon(theme.NewWarningThemedResource(theme.WarningIcon())), offline)
	p.banner.Hide()

	p.list = widget.NewList(
		func() int { return len(p.convs) },
		func() fyne.CanvasObject {
			n := widget.NewLabelWithStyle("Customer name", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			n.Truncation = fyne.TextTruncateEllipsis
			d := widget.NewLabel("WhatsApp · Open · 12:00")
			d.Truncation = fyne.TextTruncateEllipsis
			badge := widget.NewLabelWithStyle("99", fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
			badge.Importance = widget.HighImportance
			return container.NewBorder(nil, nil, widget.NewIcon(theme.MailReplyIcon()), badge, container.NewVBox(n, d))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(p.convs) {
				return
			}
			c := p.convs[id]
			row := o.(*fyne.Container)
			lines := row.Objects[0].(*fyne.Container).Objects
			lines[0].(*widget.Label).SetText(c.CustomerName)
			lines[1].(*widget.Label).SetText(p.convLine(c))
			row.Objects[1].(*widget.Icon).SetResource(channelIcon(c.Channel))
			badge := row.Objects[2].(*widget.Label)
			if c.Unread > 0 {
				badge.SetText(fmt.Sprint(c.Unread))
				badge.Show()
			} else {
				badge.Hide()
			}
		},
	)
	p.list.OnSelected = func(id widget.ListItemID) {
		if id >= 0 && id < len(p.convs) {
			p.open(p.convs[id].ID)
		}
	}
	p.listNote = newStatusLabel()

	p.empty = emptyState(theme.MailComposeIcon(), "Choose a conversation",
		"Customer messages from the contact form, chat, WhatsApp, Telegram, Messenger and SMS arrive here.")
	p.name = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	p.channel = widget.NewLabel("")
	p.status = widget.NewSelect(statusOptions, nil)
	p.window = newStatusLabel()
	p.bubbles = container.NewVBox()
	p.scroll = container.NewVScroll(p.bubbles)
	p.reply = widget.NewMultiLineEntry()
	p.reply.SetPlaceHolder("Write a reply …")
	p.reply.SetMinRowsVisible(3)
	p.reply.Wrapping = fyne.TextWrapWord
	p.template = widget.NewEntry()
	p.template.SetPlaceHolder("Approved template name, e.g. termin_erinnerung")
	p.send = widget.NewButtonWithIcon("Send", theme.MailSendIcon(), p.sendText)
	p.send.Importance = widget.HighImportance
	p.sendTpl = widget.NewButtonWithIcon("Send template", theme.MailSendIcon(), p.sendTemplate)
	p.attach = widget.NewButtonWithIcon("Attach file", theme.FileIcon(), p.attachFile)
	p.cannedB = widget.NewButtonWithIcon("Canned responses", theme.ListIcon(), p.pickCanned)
	p.note = newStatusLabel()

	head := container.NewBorder(nil, nil, nil, container.NewHBox(widget.NewLabel("Status"), p.status),
		container.NewVBox(p.name, p.channel))
	tplRow := container.NewBorder(nil, nil, nil, p.sendTpl, p.template)
	replyBox := container.NewVBox(p.window.Label, p.reply, tplRow,
		container.NewHBox(p.attach, p.cannedB, layout.NewSpacer(), p.send), p.note.Label)
	p.detail = container.NewBorder(container.NewVBox(head, widget.NewSeparator()), replyBox, nil, nil, p.scroll)
	p.detail.Hide()

	left := container.NewBorder(nil, p.listNote.Label, nil, nil, p.list)
	split := container.NewHSplit(left, container.NewStack(p.empty, p.detail))
	split.Offset = 0.33
	p.content = container.NewBorder(p.banner, nil, nil, nil, split)
	return p
}

// convLine is a conversation's second line: channel, status, time.
func (p *inboxPage) convLine(c Conversation) string {
	parts := []string{channelName(c.Channel), statusName(c.Status)}
	if !c.LastMessageAt.IsZero() {
		parts = append(parts, shortTime(c.LastMessageAt, p.now()))
	}
	return strings.Join(parts, " · ")
}

// shortTime is "15:04" today, "Mon 2 Jan" this year, else "2 Jan 2006".
func shortTime(t, now time.Time) string {
	t, now = t.In(time.Local), now.In(time.Local)
	switch {
	case t.YearDay() == now.YearDay() && t.Year() == now.Year():
		return t.Format("15:04")
	case t.Year() == now.Year():
		return t.Format("Mon 2 Jan")
	}
	return t.Format("2 Jan 2006")
}

// start opens the cache once per session, off the UI thread; changes
// then reach the page on the UI thread.
func (p *inboxPage) start() {
	if p.started {
		return
	}
	p.started = true
	u, s, in := p.u, p.s, p.inbox
	p.listNote.info("Opening your inbox …")
	go func() {
		err := in.Start(s.ctx, s.account, func(ch InboxChange) {
			u.do(func() {
				if s.ctx.Err() == nil {
					p.changed(ch)
				}
			})
		})
		u.do(func() {
			if s.ctx.Err() != nil {
				return
			}
			if err != nil {
				p.started = false
				p.listNote.fail("Your inbox could not be opened: " + message(err))
				return
			}
			p.load()
		})
	}()
}

// shown reads the list again.
func (p *inboxPage) shown() {
	if !p.started {
		p.start()
		return
	}
	p.load()
}

// changed applies a change of the cache.
func (p *inboxPage) changed(ch InboxChange) {
	p.online, p.catching = ch.Online, ch.CatchingUp
	if p.online {
		p.banner.Hide()
	} else {
		p.banner.Show()
	}
	p.notifyIncoming(ch.Incoming)
	if len(ch.Conversations) == 0 && len(ch.Incoming) == 0 {
		return
	}
	p.load()
	if p.current != nil && (slices.Contains(ch.Conversations, p.current.ID)) {
		p.loadMessages(p.current.ID, false)
	}
}

// notifyIncoming shows a desktop notification for customer messages
// that arrive while the window is not focused or their conversation is
// not open. The notification names the customer and the channel, never
// the text.
func (p *inboxPage) notifyIncoming(in []ChatMessage) {
	var unseen []ChatMessage
	for _, m := range in {
		if !m.FromCustomer {
			continue
		}
		if p.focused() && p.current != nil && p.current.ID == m.ConversationID && p.isVisible() {
			continue
		}
		unseen = append(unseen, m)
	}
	switch {
	case len(unseen) == 0:
		return
	case len(unseen) == 1:
		who, via := "a customer", ""
		for _, c := range p.convs {
			if c.ID == unseen[0].ConversationID {
				who, via = c.CustomerName, " via "+channelName(c.Channel)
			}
		}
		p.notify(fyne.NewNotification("New message", "New message from "+who+via+"."))
	default:
		p.notify(fyne.NewNotification("New messages", fmt.Sprintf("%d new customer messages in your inbox.", len(unseen))))
	}
}

func (p *inboxPage) isVisible() bool { return p.isShown == nil || p.isShown() }

// load reads the conversation list from the cache.
func (p *inboxPage) load() {
	u, s, in := p.u, p.s, p.inbox
	p.loadSeq++
	seq := p.loadSeq
	run(u, s.ctx, func(ctx context.Context) ([]Conversation, error) {
		return in.Conversations(ctx)
	}, func(cs []Conversation, err error) {
		if s.ctx.Err() != nil || seq != p.loadSeq {
			return
		}
		if err != nil {
			p.listNote.fail("Your conversations could not be read: " + message(err))
			return
		}
		p.convs = cs
		p.list.Refresh()
		sel := -1
		if p.current != nil {
			sel = slices.IndexFunc(cs, func(c Conversation) bool { return c.ID == p.current.ID })
			if sel < 0 {
				// Removed (retention, erasure, reassigned).
				p.current = nil
				p.detail.Hide()
				p.empty.Show()
				p.list.UnselectAll()
			} else {
				c := cs[sel]
				p.current = &c
				p.showHeader()
			}
		}
		unread := 0
		for _, c := range cs {
			unread += c.Unread
		}
		switch {
		case p.catching:
			p.listNote.info("Fetching messages …")
		case len(cs) == 0:
			p.listNote.info("No conversations yet.")
		case unread > 0:
			p.listNote.info(fmt.Sprintf("%d conversations · %d unread", len(cs), unread))
		default:
			p.listNote.info(fmt.Sprintf("%d conversations", len(cs)))
		}
	})
}

// open shows a conversation.
func (p *inboxPage) open(id string) {
	i := slices.IndexFunc(p.convs, func(c Conversation) bool { return c.ID == id })
	if i < 0 {
		return
	}
	c := p.convs[i]
	if p.current == nil || p.current.ID != id {
		p.reply.SetText("")
		p.template.SetText("")
		p.note.info("")
		p.msgs = nil
		p.bubbles.RemoveAll()
	}
	p.current = &c
	p.showHeader()
	p.empty.Hide()
	p.detail.Show()
	p.loadMessages(id, true)
}

// showHeader fills the conversation's header and window hint.
func (p *inboxPage) showHeader() {
	c := *p.current
	p.name.SetText(c.CustomerName)
	p.channel.SetText(channelName(c.Channel))
	p.status.OnChanged = nil
	p.status.SetSelected(statusName(c.Status))
	p.status.OnChanged = p.changeStatus
	switch {
	case c.needsTemplate():
		p.window.fail("The WhatsApp 24-hour window is closed: only an approved template can be sent until the customer writes again.")
		p.reply.Disable()
		p.send.Disable()
	case c.WindowKnown && !c.WindowClosesAt.IsZero():
		p.window.info("The WhatsApp window is open until " + c.WindowClosesAt.In(time.Local).Format("Mon 15:04") + "; after that only templates can be sent.")
		p.reply.Enable()
		p.send.Enable()
	default:
		p.window.info("")
		p.reply.Enable()
		p.send.Enable()
	}
	if c.Channel == ChannelWhatsApp {
		p.template.Show()
		p.sendTpl.Show()
	} else {
		p.template.Hide()
		p.sendTpl.Hide()
	}
}

// loadMessages reads the conversation's messages from the cache; with
// markRead it then marks them read on the relay.
func (p *inboxPage) loadMessages(id string, markRead bool) {
	u, s, in := p.u, p.s, p.inbox
	p.msgSeq++
	seq := p.msgSeq
	run(u, s.ctx, func(ctx context.Context) ([]ChatMessage, error) {
		return in.Messages(ctx, id)
	}, func(ms []ChatMessage, err error) {
		if s.ctx.Err() != nil || seq != p.msgSeq || p.current == nil || p.current.ID != id {
			return
		}
		if err != nil {
			p.note.fail("The messages could not be read: " + message(err))
			return
		}
		var shown uint64
		for _, m := range p.msgs {
			shown = max(shown, m.Seq)
		}
		fresh := false
		for _, m := range ms {
			fresh = fresh || (m.FromCustomer && m.Seq > shown)
		}
		p.msgs = ms
		p.showMessages()
		// Read when opened with unread messages, or when new ones arrive
		// while the person looks at the conversation.
		seen := (markRead && p.current.Unread > 0) || (fresh && shown > 0 && p.focused() && p.isVisible())
		if seen && p.online {
			p.markRead(id)
		}
	})
}

// markRead marks everything shown as read, off the UI thread.
func (p *inboxPage) markRead(id string) {
	var last uint64
	for _, m := range p.msgs {
		last = max(last, m.Seq)
	}
	if last == 0 {
		return
	}
	u, s, in := p.u, p.s, p.inbox
	run(u, s.ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, in.MarkRead(ctx, id, last)
	}, func(_ struct{}, err error) {
		// The change feed brings the new count; a failure only leaves the
		// badge until the next time.
	})
}

// showMessages draws the bubbles.
func (p *inboxPage) showMessages() {
	p.bubbles.RemoveAll()
	if len(p.msgs) == 0 {
		p.bubbles.Add(widget.NewLabel("No messages yet."))
	}
	for _, m := range p.msgs {
		p.bubbles.Add(p.bubble(m))
	}
	p.bubbles.Refresh()
	p.scroll.ScrollToBottom()
}

// bubble is one message: the customer's on the left, the advisor's on
// the right with its delivery state.
func (p *inboxPage) bubble(m ChatMessage) fyne.CanvasObject {
	var parts []fyne.CanvasObject
	if m.Template != "" {
		t := widget.NewLabelWithStyle("Template: "+m.Template, fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
		parts = append(parts, t)
	}
	if m.Text != "" {
		t := widget.NewLabel(m.Text)
		t.Wrapping = fyne.TextWrapWord
		parts = append(parts, t)
	}
	for _, f := range m.Attachments {
		label := fmt.Sprintf("%s (%s)", f.Name, humanSize(f.Size))
		if f.ID == "" {
			parts = append(parts, container.NewHBox(widget.NewIcon(theme.FileIcon()), widget.NewLabel(label)))
			continue
		}
		b := widget.NewButtonWithIcon(label, theme.FileIcon(), func() { p.openAttachment(m.ConversationID, f) })
		parts = append(parts, b)
	}
	meta := shortTime(m.Created, p.now())
	if !m.FromCustomer {
		if d := deliveryText(m.Delivery); d != "" {
			meta += " · " + d
		}
	}
	ml := widget.NewLabel(meta)
	ml.Importance = widget.LowImportance
	if m.Delivery == DeliveryRefused || m.Delivery == DeliveryFailed {
		ml.Importance = widget.DangerImportance
	}
	parts = append(parts, ml)
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	if !m.FromCustomer {
		bg.FillColor = theme.Color(theme.ColorNameSelection)
	}
	bg.CornerRadius = theme.InputRadiusSize()
	body := container.NewStack(bg, container.NewPadded(container.NewVBox(parts...)))
	box := withMinWidth(260, body)
	if m.FromCustomer {
		return container.NewHBox(box, layout.NewSpacer())
	}
	return container.NewHBox(layout.NewSpacer(), box)
}

// humanSize renders a byte count.
func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", (n+1023)/1024)
	}
	return fmt.Sprintf("%d bytes", n)
}

// openAttachment fetches a file (from the cache or the relay) and offers
// it to be saved.
func (p *inboxPage) openAttachment(convID string, f FileRef) {
	u, s, in := p.u, p.s, p.inbox
	p.note.info("Opening " + f.Name + " …")
	run(u, s.ctx, func(ctx context.Context) ([]byte, error) {
		return in.Attachment(ctx, convID, f.ID)
	}, func(data []byte, err error) {
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			p.note.fail(f.Name + " could not be opened: " + message(err))
			return
		}
		p.note.info("")
		p.saveFile(f.Name, data)
	})
}

func (p *inboxPage) saveFileDialog(name string, data []byte) {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		_, werr := w.Write(data)
		if cerr := w.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			p.note.fail(name + " could not be saved: " + werr.Error())
			return
		}
		p.note.ok(name + " saved.")
	}, p.u.win)
	d.SetFileName(name)
	d.Show()
}

func (p *inboxPage) openFileDialog(done func(string, []byte, error)) {
	dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			done("", nil, err)
			return
		}
		defer r.Close()
		data, err := io.ReadAll(io.LimitReader(r, maxAttachment+1))
		done(r.URI().Name(), data, err)
	}, p.u.win).Show()
}

// queue runs a send off the UI thread and reloads the messages.
func (p *inboxPage) queue(what string, fn func(ctx context.Context, convID string) error, after func()) {
	if p.current == nil {
		return
	}
	id := p.current.ID
	u, s := p.u, p.s
	run(u, s.ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx, id)
	}, func(_ struct{}, err error) {
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			p.note.fail(what + " could not be queued: " + message(err))
			return
		}
		if after != nil {
			after()
		}
		if p.online {
			p.note.info("")
		} else {
			p.note.info("Saved on this computer; it will be sent when the relay is reachable.")
		}
		if p.current != nil && p.current.ID == id {
			p.loadMessages(id, false)
		}
	})
}

// sendText queues the reply box's text.
func (p *inboxPage) sendText() {
	text := strings.TrimSpace(p.reply.Text)
	switch {
	case p.current == nil:
		return
	case text == "":
		p.note.fail("Write a reply first.")
		return
	case p.current.needsTemplate():
		p.note.fail("The WhatsApp window is closed: send an approved template instead.")
		return
	}
	in := p.inbox
	p.queue("The reply", func(ctx context.Context, id string) error { return in.Send(ctx, id, text) },
		func() { p.reply.SetText("") })
}

// sendTemplate queues a WhatsApp template.
func (p *inboxPage) sendTemplate() {
	name := strings.TrimSpace(p.template.Text)
	if p.current == nil {
		return
	}
	if name == "" {
		p.note.fail("Enter the name of an approved template.")
		return
	}
	in := p.inbox
	p.queue("The template", func(ctx context.Context, id string) error { return in.SendTemplate(ctx, id, name) },
		func() { p.template.SetText("") })
}

// attachFile lets the person choose a file and queues it.
func (p *inboxPage) attachFile() {
	if p.current == nil {
		return
	}
	if p.current.needsTemplate() {
		p.note.fail("The WhatsApp window is closed: files can be sent after the customer writes again.")
		return
	}
	p.pickFile(func(name string, data []byte, err error) {
		switch {
		case err != nil:
			p.note.fail("The file could not be read: " + message(err))
			return
		case name == "":
			return // cancelled
		case len(data) == 0:
			p.note.fail(name + " is empty.")
			return
		case len(data) > maxAttachment:
			p.note.fail(name + " is larger than 25 MB.")
			return
		}
		in := p.inbox
		p.queue(name, func(ctx context.Context, id string) error { return in.Attach(ctx, id, name, data) }, nil)
	})
}

// pickCanned reads the canned responses and shows a picker; the chosen
// text goes into the reply box.
func (p *inboxPage) pickCanned() {
	if p.current == nil {
		return
	}
	u, s, in := p.u, p.s, p.inbox
	run(u, s.ctx, func(ctx context.Context) ([]CannedResponse, error) {
		return in.CannedResponses(ctx)
	}, func(rs []CannedResponse, err error) {
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			p.note.fail("The canned responses could not be read: " + message(err))
			return
		}
		if len(rs) == 0 {
			p.note.info("No canned responses yet.")
			return
		}
		p.canned = rs
		var d dialog.Dialog
		list := widget.NewList(func() int { return len(rs) },
			func() fyne.CanvasObject { return widget.NewLabel("Title") },
			func(id widget.ListItemID, o fyne.CanvasObject) {
				t := rs[id].Title
				if rs[id].TenantWide {
					t += " (team)"
				}
				o.(*widget.Label).SetText(t)
			})
		list.OnSelected = func(id widget.ListItemID) {
			p.insertCanned(rs[id])
			d.Hide()
		}
		d = dialog.NewCustom("Canned responses", "Cancel", withMinWidth(360, container.NewGridWrap(fyne.NewSize(360, 300), list)), u.win)
		d.Show()
	})
}

// insertCanned puts a canned response into the reply box.
func (p *inboxPage) insertCanned(r CannedResponse) {
	text := r.Text
	if cur := strings.TrimSpace(p.reply.Text); cur != "" {
		text = cur + "\n" + text
	}
	p.reply.SetText(text)
}

// changeStatus sets the shown conversation's status on the relay.
func (p *inboxPage) changeStatus(shown string) {
	if p.current == nil {
		return
	}
	st := statusOf(shown)
	c := *p.current
	if st == "" || st == c.Status {
		return
	}
	if !p.online {
		p.note.fail("The status can be changed when the relay is reachable.")
		p.showHeader()
		return
	}
	u, s, in := p.u, p.s, p.inbox
	run(u, s.ctx, func(ctx context.Context) (Conversation, error) {
		return in.SetStatus(ctx, c.ID, st)
	}, func(nc Conversation, err error) {
		if s.ctx.Err() != nil || p.current == nil || p.current.ID != c.ID {
			return
		}
		if err != nil {
			p.note.fail("The status could not be changed: " + message(err))
			p.showHeader()
			return
		}
		p.current = &nc
		p.showHeader()
		p.note.ok("Marked " + strings.ToLower(statusName(st)) + ".")
		p.load()
	})
}
