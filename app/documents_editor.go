package app

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"slices"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Kinds in the editor's select.
const (
	kindSignatureName = "Signature"
	kindTextName      = "Text"
)

// signerColors tell the signers' fields apart on the page.
var signerColors = []color.NRGBA{
	{R: 0x1e, G: 0x88, B: 0xe5, A: 0xff}, {R: 0x43, G: 0xa0, B: 0x47, A: 0xff}, {R: 0xfb, G: 0x8c, B: 0x00, A: 0xff},
	{R: 0x8e, G: 0x24, B: 0xaa, A: 0xff}, {R: 0x00, G: 0x89, B: 0x7b, A: 0xff}, {R: 0xd8, G: 0x1b, B: 0x60, A: 0xff},
}

// advisorKey is the advisor's signer key in the editor; customers' keys
// are "c:" + profile id, so that fields follow their customer when the
// signing order changes.
const advisorKey = RoleAdvisor

// edCustomer is a customer who signs.
type edCustomer struct{ id, name string }

// docEditor places fields on a draft, chooses the signers and their order,
// and sends it.
type docEditor struct {
	p  *documentsPage
	pr SigningProcess

	page   int // index into pr.Pages
	images map[int]image.Image

	view      *pageView
	pageLabel *widget.Label
	prev      *widget.Button
	next      *widget.Button
	kind      *widget.Select
	signer    *widget.Select
	label     *widget.Entry

	// fields hold signer keys (advisorKey, "c:<id>") in Signer.
	fields    []SigningField
	fieldBox  *fyne.Container
	customers []edCustomer
	advisor   *widget.Check
	signerBox *fyne.Container
	search    *widget.Entry
	results   *fyne.Container
	find      *busyButton
	save      *busyButton
	send      *busyButton
	status    statusLabel

	content fyne.CanvasObject
}

func newDocEditor(p *documentsPage, pr SigningProcess) *docEditor {
	e := &docEditor{p: p, pr: pr, images: map[int]image.Image{}, status: newStatusLabel()}
	keyOf := map[string]string{}
	e.advisor = widget.NewCheck("I sign too (always last)", func(bool) { e.signersChanged() })
	for _, s := range pr.Signers {
		if s.Role == RoleAdvisor {
			e.advisor.Checked = true
			keyOf[s.Role] = advisorKey
			continue
		}
		e.customers = append(e.customers, edCustomer{id: s.CustomerID, name: p.customerName(s.CustomerID)})
		keyOf[s.Role] = "c:" + s.CustomerID
	}
	for _, f := range pr.Fields {
		if k, ok := keyOf[f.Signer]; ok {
			f.Signer = k
			e.fields = append(e.fields, f)
		}
	}
	if len(pr.Signers) == 0 && p.br == nil {
		e.advisor.Checked = true
	}

	e.view = newPageView()
	e.view.onRect = e.placeField
	e.view.colorOf = func(f SigningField) color.Color { return e.colorOf(f.Signer) }
	e.pageLabel = widget.NewLabel("")
	e.prev = widget.NewButtonWithIcon("", theme.NavigateBackIcon(), func() { e.turn(-1) })
	e.next = widget.NewButtonWithIcon("", theme.NavigateNextIcon(), func() { e.turn(1) })
	e.kind = widget.NewSelect([]string{kindSignatureName, kindTextName}, nil)
	e.kind.SetSelected(kindSignatureName)
	e.signer = widget.NewSelect(nil, nil)
	e.signer.PlaceHolder = "Add a signer first"
	e.label = widget.NewEntry()
	e.label.SetPlaceHolder("Caption, e.g. Ort, Datum (optional)")
	e.fieldBox = container.NewVBox()
	e.signerBox = container.NewVBox()
	e.search = widget.NewEntry()
	e.search.SetPlaceHolder("Name or e-mail of the customer")
	e.search.OnSubmitted = func(string) { e.findCustomers() }
	e.find = newBusyButton("Find", theme.SearchIcon(), e.findCustomers)
	e.results = container.NewVBox()
	e.save = newBusyButton("Save", theme.DocumentSaveIcon(), func() { e.store(false) })
	e.send = newBusyButton("Send…", theme.MailSendIcon(), func() { e.store(true) })
	e.send.btn.Importance = widget.HighImportance

	hint := widget.NewLabel("Drag a rectangle on the page to place a field for the chosen signer.")
	hint.Wrapping = fyne.TextWrapWord
	pageCol := container.NewVBox(container.NewHBox(e.prev, e.pageLabel, e.next), e.view)
	tools := widget.NewForm(widget.NewFormItem("Field", e.kind), widget.NewFormItem("For", e.signer), widget.NewFormItem("Caption", e.label))
	var customerPart fyne.CanvasObject = widget.NewLabel("Customers can be added when the app has the customer list.")
	if p.br != nil {
		customerPart = container.NewVBox(container.NewBorder(nil, nil, nil, e.find.row(), e.search), e.results)
	}
	bold := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	side := container.NewVBox(heading(pr.Title), bold("Signers, in signing order"), e.signerBox, e.advisor, customerPart,
		widget.NewSeparator(), bold("Place fields"), hint, tools, bold("Fields"), e.fieldBox,
		widget.NewSeparator(), container.NewHBox(e.save.row(), e.send.row()), e.status.Label)
	split := container.NewHSplit(container.NewScroll(container.NewPadded(pageCol)), container.NewVScroll(container.NewPadded(side)))
	split.Offset = 0.55
	e.content = split
	e.signersChanged()
	e.fieldsChanged()
	return e
}

// keys returns the signer keys in signing order.
func (e *docEditor) keys() []string {
	var out []string
	for _, c := range e.customers {
		out = append(out, "c:"+c.id)
	}
	if e.advisor.Checked {
		out = append(out, advisorKey)
	}
	return out
}

// roleOf maps a signer key to its role in the current order.
func (e *docEditor) roleOf(key string) string {
	if key == advisorKey {
		return RoleAdvisor
	}
	for i, c := range e.customers {
		if "c:"+c.id == key {
			return "customer" + strconv.Itoa(i+1)
		}
	}
	return ""
}

// keyText is a signer key in words.
func (e *docEditor) keyText(key string) string {
	role := e.roleOf(key)
	t := signerRoleName(role)
	for _, c := range e.customers {
		if "c:"+c.id == key && c.name != "" {
			t += " — " + c.name
		}
	}
	return t
}

func (e *docEditor) colorOf(key string) color.Color {
	i := slices.Index(e.keys(), key)
	if i < 0 {
		return theme.Color(theme.ColorNameDisabled)
	}
	return signerColors[i%len(signerColors)]
}

// signersChanged rebuilds the signer rows and the field signer choice and
// drops the fields of signers no longer there.
func (e *docEditor) signersChanged() {
	keys := e.keys()
	e.fields = slices.DeleteFunc(e.fields, func(f SigningField) bool { return !slices.Contains(keys, f.Signer) })
	e.signerBox.Objects = nil
	for i, c := range e.customers {
		i := i
		key := "c:" + c.id
		up := widget.NewButtonWithIcon("", theme.MoveUpIcon(), func() {
			e.customers[i-1], e.customers[i] = e.customers[i], e.customers[i-1]
			e.signersChanged()
		})
		if i == 0 {
			up.Disable()
		}
		rm := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() {
			e.customers = slices.Delete(e.customers, i, i+1)
			e.signersChanged()
		})
		e.signerBox.Add(container.NewBorder(nil, nil, nil, container.NewHBox(up, rm),
			widget.NewLabel(fmt.Sprintf("%d. %s", i+1, e.keyText(key)))))
	}
	if len(keys) == 0 {
		e.signerBox.Add(widget.NewLabel("No signers yet."))
	} else if e.advisor.Checked {
		e.signerBox.Add(widget.NewLabel(fmt.Sprintf("%d. %s", len(keys), e.keyText(advisorKey))))
	}
	e.signerBox.Refresh()
	sel := e.signer.SelectedIndex()
	var opts []string
	for _, k := range keys {
		opts = append(opts, e.keyText(k))
	}
	e.signer.Options = opts
	e.signer.PlaceHolder = "Add a signer first"
	if len(opts) > 0 {
		e.signer.PlaceHolder = "Choose the signer"
	}
	e.signer.ClearSelected()
	switch {
	case sel >= 0 && sel < len(opts):
		e.signer.SetSelectedIndex(sel)
	case len(opts) > 0:
		e.signer.SetSelectedIndex(0)
	}
	e.signer.Refresh()
	e.fieldsChanged()
}

// fieldsChanged rebuilds the field rows and redraws the page.
func (e *docEditor) fieldsChanged() {
	e.fieldBox.Objects = nil
	for i, f := range e.fields {
		i := i
		kind := kindSignatureName
		if f.Kind == FieldText {
			kind = kindTextName
		}
		t := fmt.Sprintf("%s · %s · page %d", kind, e.keyText(f.Signer), f.Page)
		if f.Label != "" {
			t += " · " + f.Label
		}
		rm := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() {
			e.fields = slices.Delete(e.fields, i, i+1)
			e.fieldsChanged()
		})
		e.fieldBox.Add(container.NewBorder(nil, nil, nil, rm, widget.NewLabel(t)))
	}
	if len(e.fields) == 0 {
		e.fieldBox.Add(widget.NewLabel("No fields yet."))
	}
	e.fieldBox.Refresh()
	e.showPage()
}

// placeField adds a field where the advisor dragged.
func (e *docEditor) placeField(fx0, fy0, fx1, fy1 float64) {
	keys := e.keys()
	i := e.signer.SelectedIndex()
	if i < 0 || i >= len(keys) {
		e.status.fail("Add a signer and choose them under “For” first.")
		return
	}
	pg := e.pr.Pages[e.page]
	f := SigningField{Page: pg.Number, Rect: pg.rectToPDF(fx0, fy0, fx1, fy1), Kind: FieldSignature, Signer: keys[i],
		Label: strings.TrimSpace(e.label.Text)}
	prefix := "sig"
	if e.kind.Selected == kindTextName {
		f.Kind, prefix = FieldText, "text"
	}
	for n := len(e.fields) + 1; ; n++ {
		id := prefix + "-" + strconv.Itoa(n)
		if !slices.ContainsFunc(e.fields, func(x SigningField) bool { return x.ID == id }) {
			f.ID = id
			break
		}
	}
	e.fields = append(e.fields, f)
	e.label.SetText("")
	e.status.info("")
	e.fieldsChanged()
}

// turn moves by delta pages.
func (e *docEditor) turn(delta int) {
	n := e.page + delta
	if n < 0 || n >= len(e.pr.Pages) {
		return
	}
	e.page = n
	e.loadPage()
}

// showPage shows the current page with what is loaded.
func (e *docEditor) showPage() {
	if len(e.pr.Pages) == 0 {
		return
	}
	e.pageLabel.SetText(fmt.Sprintf("Page %d of %d", e.page+1, len(e.pr.Pages)))
	if e.page == 0 {
		e.prev.Disable()
	} else {
		e.prev.Enable()
	}
	if e.page == len(e.pr.Pages)-1 {
		e.next.Disable()
	} else {
		e.next.Enable()
	}
	e.view.show(e.pr.Pages[e.page], e.images[e.page], e.fields)
}

// loadPage shows the current page and fetches its image off the UI
// thread when it is not loaded yet.
func (e *docEditor) loadPage() {
	e.showPage()
	n := e.page
	if e.images[n] != nil || len(e.pr.Pages) == 0 {
		return
	}
	p := e.p
	run(p.u, p.s.ctx, func(ctx context.Context) (image.Image, error) {
		return p.sr.SigningPage(ctx, e.pr.ID, e.pr.Pages[n].Number, pageImageWidth)
	}, func(img image.Image, err error) {
		if p.s.ctx.Err() != nil || p.editor != e {
			return
		}
		if err != nil {
			e.status.fail("The page image could not be loaded (" + message(err) + "). Fields can still be placed on the blank page.")
			return
		}
		e.images[n] = img
		if e.page == n {
			e.showPage()
		}
	})
}

// findCustomers searches the customer list.
func (e *docEditor) findCustomers() {
	q := strings.TrimSpace(e.search.Text)
	p := e.p
	runBusy(p.u, p.s, e.find, e.status, func(ctx context.Context) ([]Customer, error) {
		return p.br.Customers(ctx, q, 10)
	}, func(cs []Customer) {
		e.results.Objects = nil
		for _, c := range cs {
			c := c
			p.names[c.ID] = c.name()
			detail := c.name()
			if c.Email != "" {
				detail += " · " + c.Email
			}
			if c.Email == "" || c.Mobile == "" {
				detail += " · e-mail or mobile missing"
			}
			add := widget.NewButtonWithIcon("Add", theme.ContentAddIcon(), func() { e.addCustomer(c) })
			if slices.ContainsFunc(e.customers, func(x edCustomer) bool { return x.id == c.ID }) {
				add.Disable()
			}
			e.results.Add(container.NewBorder(nil, nil, nil, add, widget.NewLabel(detail)))
		}
		if len(cs) == 0 {
			e.results.Add(widget.NewLabel("No customer found."))
		}
		e.results.Refresh()
	})
}

// addCustomer appends a customer to the signing order.
func (e *docEditor) addCustomer(c Customer) {
	if slices.ContainsFunc(e.customers, func(x edCustomer) bool { return x.id == c.ID }) {
		return
	}
	if len(e.customers) >= 19 {
		e.status.fail("At most 19 customers can sign one document.")
		return
	}
	e.customers = append(e.customers, edCustomer{id: c.ID, name: c.name()})
	e.results.Objects = nil
	e.results.Refresh()
	e.search.SetText("")
	e.signersChanged()
	e.signer.SetSelectedIndex(len(e.customers) - 1)
}

// check says what is missing before the layout can be saved or sent.
func (e *docEditor) check() string {
	keys := e.keys()
	if len(keys) == 0 {
		return "Add at least one signer."
	}
	for _, k := range keys {
		if !slices.ContainsFunc(e.fields, func(f SigningField) bool { return f.Signer == k && f.Kind == FieldSignature }) {
			return e.keyText(k) + " has no signature field yet."
		}
	}
	return ""
}

// layout returns the signers and fields with roles for the relay.
func (e *docEditor) layout() ([]SignerAssignment, []SigningField) {
	var signers []SignerAssignment
	for _, c := range e.customers {
		signers = append(signers, SignerAssignment{Role: e.roleOf("c:" + c.id), CustomerID: c.id})
	}
	if e.advisor.Checked {
		signers = append(signers, SignerAssignment{Role: RoleAdvisor})
	}
	fields := make([]SigningField, len(e.fields))
	for i, f := range e.fields {
		f.Signer = e.roleOf(f.Signer)
		fields[i] = f
	}
	return signers, fields
}

// store saves the layout and, with send, sends the process.
func (e *docEditor) store(send bool) {
	if msg := e.check(); msg != "" {
		e.status.fail(msg)
		return
	}
	p := e.p
	signers, fields := e.layout()
	b := e.save
	if send {
		b = e.send
	}
	e.status.info("")
	runBusy(p.u, p.s, b, e.status, func(ctx context.Context) (SigningProcess, error) {
		pr, err := p.sr.SetSigningFields(ctx, e.pr.ID, signers, fields)
		if err != nil || !send {
			return pr, err
		}
		return p.sr.SendSigningProcess(ctx, e.pr.ID)
	}, func(pr SigningProcess) {
		p.replace(pr)
		if !send {
			e.pr.Fields, e.pr.Signers = pr.Fields, pr.Signers
			e.status.ok("Saved.")
			return
		}
		p.open(pr)
		msg := "Sent."
		if nx := pr.next(); nx != nil && nx.Role != RoleAdvisor {
			msg = "Sent: " + p.signerText(*nx) + " gets the link by e-mail and a code by SMS, or signs with you in a meeting or at a kiosk."
		} else if nx != nil {
			msg = "Sent: it is your turn to sign."
		}
		p.detail.status.ok(msg)
	})
}
