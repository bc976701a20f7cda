package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"parley/signpad/fynepad"
)

// statusFilters are the list filter's choices, in order.
var statusFilters = []string{"All", signingStatusName(SigningDraft), signingStatusName(SigningSent),
	signingStatusName(SigningCompleted), signingStatusName(SigningCancelled), signingStatusName(SigningExpired)}

// documentsPage is the Documents page: the advisor's signing processes,
// a new process's upload and field editor, and a process's detail with
// its actions.
type documentsPage struct {
	u  *UI
	s  *session
	sr SigningRelay
	br BookingRelay // customer search; nil: only the advisor can sign
	// loc shows dates; time.Local outside tests.
	loc *time.Location

	all     []SigningProcess
	visible []SigningProcess
	// names are the customers' names met in this session, by id.
	names map[string]string

	filter  *widget.Select
	list    *widget.List
	refresh *busyButton
	note    statusLabel
	right   *fyne.Container
	// current is the process shown on the right, nil for none.
	current *SigningProcess
	editor  *docEditor
	// detail holds the detail view's widgets while it is shown.
	detail *docDetail

	// openPDF asks for a PDF; done gets its name and an open reader
	// (closed by the page), on the UI thread. A file dialog outside
	// tests.
	openPDF func(done func(name string, r io.ReadCloser, size int64))
	// saveTarget asks where to save a file; done gets an open writer, on
	// the UI thread. A file dialog outside tests.
	saveTarget func(name string, done func(w io.WriteCloser))
	// newPad makes the signature pad (tests drive it directly).
	newPad func() *fynepad.Pad

	loaded  bool
	content fyne.CanvasObject
}

func newDocumentsPage(u *UI, s *session, sr SigningRelay, br BookingRelay) *documentsPage {
	p := &documentsPage{u: u, s: s, sr: sr, br: br, loc: time.Local, names: map[string]string{}}
	p.openPDF = p.openPDFDialog
	p.saveTarget = p.saveDialog
	p.newPad = func() *fynepad.Pad { return fynepad.New(nil) }
	p.filter = widget.NewSelect(statusFilters, func(string) { p.applyFilter() })
	p.filter.SetSelected("All")
	p.list = widget.NewList(
		func() int { return len(p.visible) },
		func() fyne.CanvasObject {
			n := widget.NewLabelWithStyle("Title", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			n.Truncation = fyne.TextTruncateEllipsis
			d := widget.NewLabel("detail")
			d.Truncation = fyne.TextTruncateEllipsis
			return container.NewVBox(n, d)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			pr := p.visible[id]
			rows := o.(*fyne.Container).Objects
			rows[0].(*widget.Label).SetText(pr.Title)
			rows[1].(*widget.Label).SetText(processSummary(pr, p.loc))
		},
	)
	p.list.OnSelected = func(id widget.ListItemID) {
		if id >= 0 && id < len(p.visible) {
			p.open(p.visible[id])
		}
	}
	p.refresh = newBusyButton("Refresh", theme.ViewRefreshIcon(), p.load)
	p.note = newStatusLabel()
	newBtn := widget.NewButtonWithIcon("New…", theme.ContentAddIcon(), p.newProcess)
	newBtn.Importance = widget.HighImportance
	top := container.NewVBox(container.NewHBox(newBtn, p.refresh.row()), container.NewBorder(nil, nil, widget.NewLabel("Show"), nil, p.filter))
	left := container.NewBorder(top, p.note.Label, nil, nil, p.list)
	p.right = container.NewStack(p.placeholder())
	split := container.NewHSplit(left, p.right)
	split.Offset = 0.3
	p.content = split
	return p
}

func (p *documentsPage) placeholder() fyne.CanvasObject {
	return emptyState(theme.DocumentCreateIcon(), "Choose a document",
		"Prepare a PDF for e-signature with “New…”, or choose a document to see who signed, sign it yourself, or hand it to the customer in a meeting or at a kiosk.")
}

// shown loads the list the first time the page is shown.
func (p *documentsPage) shown() {
	if !p.loaded {
		p.loaded = true
		p.load()
	}
}

// load fetches the processes.
func (p *documentsPage) load() {
	runBusy(p.u, p.s, p.refresh, p.note, func(ctx context.Context) ([]SigningProcess, error) {
		return p.sr.SigningProcesses(ctx)
	}, func(ps []SigningProcess) {
		slices.SortStableFunc(ps, func(a, b SigningProcess) int { return b.Created.Compare(a.Created) })
		p.all = ps
		p.note.info("")
		p.applyFilter()
	})
}

// applyFilter shows the processes of the chosen status.
func (p *documentsPage) applyFilter() {
	if p.list == nil {
		return
	}
	want := p.filter.Selected
	p.visible = p.visible[:0]
	for _, pr := range p.all {
		if want == "All" || want == "" || signingStatusName(pr.Status) == want {
			p.visible = append(p.visible, pr)
		}
	}
	p.list.UnselectAll()
	p.list.Refresh()
	if p.current != nil {
		for i, pr := range p.visible {
			if pr.ID == p.current.ID {
				p.list.OnSelected = nil
				p.list.Select(i)
				p.list.OnSelected = func(id widget.ListItemID) {
					if id >= 0 && id < len(p.visible) {
						p.open(p.visible[id])
					}
				}
			}
		}
	}
}

// replace puts an updated process into the list and shows it.
func (p *documentsPage) replace(pr SigningProcess) {
	i := slices.IndexFunc(p.all, func(x SigningProcess) bool { return x.ID == pr.ID })
	if i < 0 {
		p.all = append([]SigningProcess{pr}, p.all...)
	} else {
		p.all[i] = pr
	}
	p.current = &pr
	p.applyFilter()
}

// open shows a process: the editor for a draft, else its detail.
func (p *documentsPage) open(pr SigningProcess) {
	p.current = &pr
	if pr.Status == SigningDraft {
		p.editor = newDocEditor(p, pr)
		p.detail = nil
		p.setRight(p.editor.content)
		p.editor.loadPage()
		return
	}
	p.editor = nil
	p.detail = newDocDetail(p, pr)
	p.setRight(p.detail.content)
}

func (p *documentsPage) setRight(o fyne.CanvasObject) {
	p.right.Objects = []fyne.CanvasObject{o}
	p.right.Refresh()
}

// customerName is a signer's name as far as this session knows it.
func (p *documentsPage) customerName(id string) string {
	if n, ok := p.names[id]; ok {
		return n
	}
	return ""
}

// signerText is a signer in words: "Customer 1 — Anna Kunde".
func (p *documentsPage) signerText(s Signer) string {
	t := signerRoleName(s.Role)
	if n := p.customerName(s.CustomerID); n != "" {
		t += " — " + n
	}
	return t
}

// newProcess asks for a PDF, then a title, and uploads it.
func (p *documentsPage) newProcess() {
	p.openPDF(func(name string, r io.ReadCloser, size int64) {
		title := widget.NewEntry()
		title.SetText(strings.TrimSuffix(name, path.Ext(name)))
		up := newBusyButton("Upload", theme.UploadIcon(), nil)
		up.btn.Importance = widget.HighImportance
		st := newStatusLabel()
		st.info(fmt.Sprintf("%s · %s", name, sizeText(size)))
		cancel := widget.NewButton("Cancel", nil)
		body := column(460, heading("New document"), widget.NewForm(widget.NewFormItem("Title", title)), st.Label,
			container.NewHBox(up.row(), cancel))
		p.current = nil
		p.setRight(container.NewPadded(body))
		done := false
		cancel.OnTapped = func() {
			if !done {
				done = true
				r.Close()
			}
			p.setRight(p.placeholder())
		}
		up.btn.OnTapped = func() {
			t := strings.TrimSpace(title.Text)
			if t == "" {
				st.fail("Give the document a title.")
				return
			}
			done = true
			cancel.Disable()
			title.Disable()
			st.info("Uploading " + name + " …")
			up.set(true)
			run(p.u, p.s.ctx, func(ctx context.Context) (SigningProcess, error) {
				defer r.Close()
				return p.sr.CreateSigningProcess(ctx, t, r, size)
			}, func(pr SigningProcess, err error) {
				if p.s.ctx.Err() != nil {
					return
				}
				up.set(false)
				cancel.Enable()
				if err != nil {
					// The file was read: choosing it again reads it anew.
					st.fail(message(err))
					up.btn.SetText("Choose another file…")
					up.btn.OnTapped = p.newProcess
					return
				}
				p.note.ok("“" + pr.Title + "” uploaded: place the fields.")
				p.replace(pr)
				p.open(pr)
			})
		}
	})
}

func sizeText(n int64) string {
	switch {
	case n < 0:
		return "size unknown"
	case n < 1<<20:
		return fmt.Sprintf("%d KB", (n+1023)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// openPDFDialog is openPDF outside tests: the file is only opened here;
// it is read by the upload, off the UI thread.
func (p *documentsPage) openPDFDialog(done func(name string, r io.ReadCloser, size int64)) {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			p.note.fail("The file could not be opened: " + err.Error())
			return
		}
		if r == nil {
			return
		}
		size := int64(-1)
		if st, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
			if fi, err := st.Stat(); err == nil {
				size = fi.Size()
			}
		}
		done(r.URI().Name(), r, size)
	}, p.u.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".pdf", ".PDF"}))
	d.Show()
}

// saveDialog is saveTarget outside tests.
func (p *documentsPage) saveDialog(name string, done func(w io.WriteCloser)) {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			p.note.fail("The file could not be saved: " + err.Error())
			return
		}
		if w != nil {
			done(w)
		}
	}, p.u.win)
	d.SetFileName(name)
	d.Show()
}

// docDetail is the detail view of a sent, completed, cancelled or expired
// process.
type docDetail struct {
	p       *documentsPage
	pr      SigningProcess
	status  statusLabel
	cancel  *busyButton
	save    *busyButton
	content fyne.CanvasObject
}

func newDocDetail(p *documentsPage, pr SigningProcess) *docDetail {
	d := &docDetail{p: p, pr: pr, status: newStatusLabel()}
	day := func(t time.Time) string { return t.In(p.loc).Format("2 Jan 2006, 15:04") }
	info := []string{signingStatusName(pr.Status) + " · " + progressText(pr)}
	if !pr.Sent.IsZero() {
		info = append(info, "Sent "+day(pr.Sent))
	}
	if !pr.Completed.IsZero() {
		info = append(info, "Completed "+day(pr.Completed))
	} else if pr.Status == SigningSent && !pr.LinksExpire.IsZero() {
		info = append(info, "Links work until "+day(pr.LinksExpire))
	}
	if !pr.Expires.IsZero() {
		info = append(info, "Deleted from the relay "+pr.Expires.In(p.loc).Format("2 Jan 2006"))
	}
	rows := []fyne.CanvasObject{heading(pr.Title), widget.NewLabel(strings.Join(info, "\n")),
		widget.NewLabelWithStyle("Signers", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})}
	for i, s := range pr.Signers {
		state := "waiting"
		switch {
		case !s.SignedAt.IsZero():
			state = "signed " + day(s.SignedAt)
		case s.State == SignerPending:
			state = "their turn"
		}
		rows = append(rows, widget.NewLabel(fmt.Sprintf("%d. %s · %s", i+1, p.signerText(s), state)))
	}
	var actions []fyne.CanvasObject
	if nx := pr.next(); nx != nil {
		if nx.Role == RoleAdvisor {
			b := widget.NewButtonWithIcon("Sign now", theme.DocumentCreateIcon(), d.signNow)
			b.Importance = widget.HighImportance
			actions = append(actions, b)
		} else {
			actions = append(actions,
				widget.NewButtonWithIcon("Sign in the meeting…", theme.MediaVideoIcon(), d.present),
				widget.NewButtonWithIcon("Queue at kiosk…", theme.ComputerIcon(), d.queueAtKiosk))
		}
	}
	if pr.Status == SigningSent {
		d.cancel = newBusyButton("Cancel signing", theme.CancelIcon(), d.cancelProcess)
		d.cancel.btn.Importance = widget.DangerImportance
		actions = append(actions, d.cancel.row())
	}
	if pr.Status == SigningCompleted {
		d.save = newBusyButton("Download signed PDF…", theme.DownloadIcon(), d.download)
		actions = append(actions, d.save.row())
	}
	rows = append(rows, container.NewGridWrap(fyne.NewSize(230, 40), actions...), d.status.Label)
	d.content = container.NewVScroll(container.NewPadded(container.NewVBox(rows...)))
	return d
}

// cancelProcess cancels after asking.
func (d *docDetail) cancelProcess() {
	confirm(d.p.u.win, "Cancel “"+d.pr.Title+"”?", "The signers' links stop working at once. Signatures given so far stay in the document until the relay deletes it.", "Cancel signing", func() {
		runBusy(d.p.u, d.p.s, d.cancel, d.status, func(ctx context.Context) (SigningProcess, error) {
			return d.p.sr.CancelSigningProcess(ctx, d.pr.ID)
		}, func(pr SigningProcess) {
			d.p.replace(pr)
			d.p.open(pr)
			d.p.detail.status.ok("Cancelled.")
		})
	})
}

// download saves the sealed PDF where the advisor chooses.
func (d *docDetail) download() {
	name := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`/\:*?"<>|`, r) || r < ' ' {
			return '_'
		}
		return r
	}, d.pr.Title) + ".pdf"
	d.p.saveTarget(name, func(w io.WriteCloser) {
		d.status.info("Downloading …")
		runBusy(d.p.u, d.p.s, d.save, d.status, func(ctx context.Context) (struct{}, error) {
			err := d.p.sr.DownloadSigningDocument(ctx, d.pr.ID, w)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return struct{}{}, fmt.Errorf("the saved file is incomplete, delete it: %w", err)
			}
			return struct{}{}, nil
		}, func(struct{}) { d.status.ok(name + " saved.") })
	})
}

// advisorTextFields are the advisor's text fields.
func (d *docDetail) advisorTextFields() []SigningField {
	var out []SigningField
	for _, f := range d.pr.Fields {
		if f.Signer == RoleAdvisor && f.Kind == FieldText {
			out = append(out, f)
		}
	}
	return out
}

// signNow opens the pad for the advisor's signature.
func (d *docDetail) signNow() {
	p := d.p
	pad := p.newPad()
	var entries []*widget.Entry
	form := widget.NewForm()
	for _, f := range d.advisorTextFields() {
		e := widget.NewEntry()
		label := f.Label
		if label == "" {
			label = f.ID
		}
		form.Append(label, e)
		entries = append(entries, e)
	}
	st := newStatusLabel()
	st.info("Sign in the box with the mouse, touchpad or pen.")
	sign := newBusyButton("Sign", theme.ConfirmIcon(), nil)
	sign.btn.Importance = widget.HighImportance
	sign.btn.Disable()
	pad.OnChanged = func() {
		if pad.Strokes() > 0 && !sign.busy {
			sign.btn.Enable()
		} else {
			sign.btn.Disable()
		}
	}
	clearBtn := widget.NewButtonWithIcon("Clear", theme.ContentClearIcon(), pad.Clear)
	body := container.NewVBox(form, container.NewGridWrap(fyne.NewSize(480, 160), pad), st.Label,
		container.NewHBox(clearBtn, sign.row()))
	dlg := dialog.NewCustom("Sign “"+d.pr.Title+"”", "Close", body, p.u.win)
	sign.btn.OnTapped = func() {
		js, err := pad.JSON()
		if err != nil {
			st.fail(padMessage(err))
			return
		}
		texts := map[string]string{}
		for i, f := range d.advisorTextFields() {
			if v := strings.TrimSpace(entries[i].Text); v != "" {
				texts[f.ID] = v
			}
		}
		st.info("Signing …")
		runBusy(p.u, p.s, sign, st, func(ctx context.Context) (SigningProcess, error) {
			return p.sr.AdvisorSign(ctx, d.pr.ID, texts, js)
		}, func(pr SigningProcess) {
			dlg.Hide()
			p.replace(pr)
			p.open(pr)
			if pr.Status == SigningCompleted {
				p.detail.status.ok("Signed. Everyone has signed: the document is sealed.")
			} else {
				p.detail.status.ok("Signed.")
			}
		})
	}
	dlg.Show()
}

func padMessage(err error) string {
	switch {
	case errors.Is(err, fynepad.ErrEmpty):
		return "Sign in the box first."
	case errors.Is(err, fynepad.ErrFull):
		return "The signature is too long: clear it and sign again."
	}
	return err.Error()
}

// present chooses a live meeting and a participant and hands them the
// signing page.
func (d *docDetail) present() {
	p := d.p
	meetings := widget.NewSelect(nil, nil)
	meetings.PlaceHolder = "Loading meetings …"
	guests := widget.NewSelect(nil, nil)
	guests.PlaceHolder = "Choose a meeting first"
	st := newStatusLabel()
	send := newBusyButton("Send to the customer", theme.MailSendIcon(), nil)
	send.btn.Importance = widget.HighImportance
	var live []MeetingInfo
	var in []Guest
	meetings.OnChanged = func(string) {
		i := meetings.SelectedIndex()
		if i < 0 {
			return
		}
		guests.ClearSelected()
		guests.Options = nil
		guests.PlaceHolder = "Loading participants …"
		guests.Refresh()
		m := live[i]
		run(p.u, p.s.ctx, func(ctx context.Context) ([]Guest, error) { return p.u.relay.Guests(ctx, m.ID) }, func(gs []Guest, err error) {
			if p.s.ctx.Err() != nil || meetings.SelectedIndex() != i {
				return
			}
			if err != nil {
				st.fail(message(err))
				return
			}
			in = in[:0]
			var opts []string
			for _, g := range gs {
				if g.State == GuestAdmitted {
					in = append(in, g)
					opts = append(opts, g.Name)
				}
			}
			guests.Options = opts
			guests.PlaceHolder = "Choose the customer"
			if len(opts) == 0 {
				guests.PlaceHolder = "Nobody admitted in this meeting"
			}
			guests.Refresh()
			if len(opts) == 1 {
				guests.SetSelectedIndex(0)
			}
		})
	}
	nx := d.pr.next()
	intro := widget.NewLabel("The customer gets the document on their screen in the meeting and signs there, without an SMS code: you see them. Signer now: " + p.signerText(*nx) + ".")
	intro.Wrapping = fyne.TextWrapWord
	body := column(440, intro, widget.NewForm(widget.NewFormItem("Meeting", meetings), widget.NewFormItem("Customer", guests)), st.Label, send.row())
	dlg := dialog.NewCustom("Sign in the meeting", "Close", body, p.u.win)
	send.btn.OnTapped = func() {
		mi, gi := meetings.SelectedIndex(), guests.SelectedIndex()
		if mi < 0 || gi < 0 || gi >= len(in) {
			st.fail("Choose the meeting and the customer.")
			return
		}
		m, g := live[mi], in[gi]
		runBusy(p.u, p.s, send, st, func(ctx context.Context) (string, error) {
			return p.sr.PresentSigning(ctx, d.pr.ID, m.ID, g.ID)
		}, func(role string) {
			st.ok("Sent to " + g.Name + " (" + signerRoleName(role) + "). The document updates here once they signed: press Refresh.")
		})
	}
	dlg.Show()
	run(p.u, p.s.ctx, func(ctx context.Context) ([]MeetingInfo, error) { return p.u.relay.Meetings(ctx, 50) }, func(ms []MeetingInfo, err error) {
		if p.s.ctx.Err() != nil {
			return
		}
		if err != nil {
			st.fail(message(err))
			return
		}
		var opts []string
		for _, m := range ms {
			if m.Status == MeetingOpen || m.Status == "" {
				live = append(live, m)
				t := m.Title
				if t == "" {
					t = "Meeting"
				}
				opts = append(opts, t+" · started "+m.Created.In(p.loc).Format("15:04"))
			}
		}
		meetings.Options = opts
		meetings.PlaceHolder = "Choose a live meeting"
		if len(opts) == 0 {
			meetings.PlaceHolder = "No live meeting: start one first"
		}
		meetings.Refresh()
		if len(opts) == 1 {
			meetings.SetSelectedIndex(0)
		}
	})
}

// queueAtKiosk chooses a kiosk, queues the signer and shows the pickup
// code large.
func (d *docDetail) queueAtKiosk() {
	p := d.p
	kiosks := widget.NewSelect(nil, nil)
	kiosks.PlaceHolder = "Loading kiosks …"
	st := newStatusLabel()
	queue := newBusyButton("Queue", theme.ConfirmIcon(), nil)
	queue.btn.Importance = widget.HighImportance
	code := canvas.NewText("", theme.Color(theme.ColorNameForeground))
	code.TextSize = 56
	code.TextStyle = fyne.TextStyle{Monospace: true}
	code.Alignment = fyne.TextAlignCenter
	code.Hide()
	var list []KioskInfo
	body := column(420, widget.NewForm(widget.NewFormItem("Kiosk", kiosks)), queue.row(), container.NewCenter(code), st.Label)
	dlg := dialog.NewCustom("Queue at a kiosk", "Close", body, p.u.win)
	queue.btn.OnTapped = func() {
		i := kiosks.SelectedIndex()
		if i < 0 {
			st.fail("Choose a kiosk.")
			return
		}
		k := list[i]
		runBusy(p.u, p.s, queue, st, func(ctx context.Context) (KioskTicket, error) {
			return p.sr.QueueAtKiosk(ctx, d.pr.ID, k.ID)
		}, func(t KioskTicket) {
			code.Text = t.PickupCode[:3] + " " + t.PickupCode[3:]
			code.Show()
			code.Refresh()
			st.ok("Tell the customer this code; they type it at “" + k.Name + "”. Valid until " + t.Expires.In(p.loc).Format("15:04") + ".")
		})
	}
	dlg.Show()
	run(p.u, p.s.ctx, func(ctx context.Context) ([]KioskInfo, error) { return p.sr.Kiosks(ctx) }, func(ks []KioskInfo, err error) {
		if p.s.ctx.Err() != nil {
			return
		}
		if err != nil {
			st.fail(message(err))
			return
		}
		list = ks
		var opts []string
		for _, k := range ks {
			opts = append(opts, k.Name)
		}
		kiosks.Options = opts
		kiosks.PlaceHolder = "Choose a kiosk"
		if len(opts) == 0 {
			kiosks.PlaceHolder = "No kiosks: an admin registers them"
		}
		kiosks.Refresh()
		if len(opts) == 1 {
			kiosks.SetSelectedIndex(0)
		}
	})
}
