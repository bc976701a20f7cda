package app

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"parley/signpad/browser"
	"parley/signpad/fynepad"
)

// docsHarness signs in and shows the Signatures page.
func docsHarness(t *testing.T, relay *fakeRelay, fs *fakeSigning) (*harness, *documentsPage) {
	t.Helper()
	h := newHarness(t, relay, Options{DefaultAddr: testAddr, Signing: fs})
	h.signIn("acme", "erika", "pw")
	w := h.waitWorkspace()
	if !w.selectPage("Signatures") {
		t.Fatal("no Signatures page")
	}
	p := w.docs
	p.loc = time.UTC
	h.eventually("the processes", func() bool { return fs.called("SigningProcesses") && !p.refresh.busy })
	return h, p
}

// drag drags on the page view between two points given as fractions of
// the page as shown.
func drag(v *pageView, fx0, fy0, fx1, fy1 float32) {
	sz := v.size()
	from := fyne.NewPos(fx0*sz.Width, fy0*sz.Height)
	to := fyne.NewPos(fx1*sz.Width, fy1*sz.Height)
	mid := fyne.NewPos((from.X+to.X)/2, (from.Y+to.Y)/2)
	v.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: mid}, Dragged: fyne.NewDelta(mid.X-from.X, mid.Y-from.Y)})
	v.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: to}, Dragged: fyne.NewDelta(to.X-mid.X, to.Y-mid.Y)})
	v.DragEnd()
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func TestDocumentsNewProcessPlaceFieldsAndSend(t *testing.T) {
	relay := &fakeRelay{}
	relay.bk.customers = []Customer{{ID: "c1", FirstName: "Anna", LastName: "Kunde", Email: "anna@kunde.test", Mobile: "+4917011110001"}}
	fs := &fakeSigning{}
	h, p := docsHarness(t, relay, fs)
	if !h.shows("Choose a document") {
		t.Errorf("texts %q", h.texts())
	}
	pdf := []byte("%PDF-1.7 Vertrag")
	p.openPDF = func(done func(string, io.ReadCloser, int64)) {
		done("Kreditvertrag.pdf", io.NopCloser(bytes.NewReader(pdf)), int64(len(pdf)))
	}
	h.tap("New…")
	if !h.shows("Kreditvertrag.pdf · 1 KB") {
		t.Errorf("texts %q", h.texts())
	}
	h.tap("Upload")
	h.eventually("the editor", func() bool { return p.editor != nil })
	if !fs.called("CreateSigningProcess Kreditvertrag 16") || string(fs.uploads["p1"]) != string(pdf) {
		t.Fatalf("calls %q", fs.Calls())
	}
	e := p.editor
	h.eventually("the page image", func() bool { return e.images[0] != nil })
	if !fs.called("SigningPage p1 1 1000") || !h.shows("Page 1 of 2") || !h.shows("No signers yet.") {
		t.Errorf("calls %q texts %q", fs.Calls(), h.texts())
	}

	// A field before any signer is refused with a hint.
	drag(e.view, 0.2, 0.8, 0.6, 0.9)
	if len(e.fields) != 0 || !strings.Contains(e.status.Text, "Add a signer") {
		t.Fatalf("field without signer: %d, %q", len(e.fields), e.status.Text)
	}
	fill(e.search, "anna")
	h.tap("Find")
	h.eventually("the search result", func() bool { return h.shows("Anna Kunde · anna@kunde.test") })
	h.tap("Add")
	e.advisor.SetChecked(true)
	if !h.shows("1. Customer 1 — Anna Kunde") || !h.shows("2. Advisor (you)") {
		t.Errorf("signers %q", h.texts())
	}
	// Sending without the advisor's signature field says so.
	drag(e.view, 0.2, 0.8, 0.6, 0.9)
	h.tap("Send…")
	if !strings.Contains(e.status.Text, "Advisor (you) has no signature field yet.") || fs.called("SetSigningFields") {
		t.Fatalf("status %q calls %q", e.status.Text, fs.Calls())
	}
	e.kind.SetSelected(kindTextName)
	fill(e.label, "Ort")
	drag(e.view, 0.6, 0.1, 0.8, 0.15)
	// Page 2 is a landscape page turned by 90°.
	e.turn(1)
	h.eventually("page 2", func() bool { return e.images[1] != nil && h.shows("Page 2 of 2") })
	e.kind.SetSelected(kindSignatureName)
	e.signer.SetSelectedIndex(1)
	drag(e.view, 0.2, 0.5, 0.4, 0.7)
	if !h.shows("Text · Customer 1 — Anna Kunde · page 1 · Ort") || !h.shows("Signature · Advisor (you) · page 2") {
		t.Errorf("fields %q", h.texts())
	}
	h.tap("Send…")
	h.eventually("sent", func() bool { return p.detail != nil })
	want := "SetSigningFields p1 customer1=c1 advisor= | sig-1:signature:customer1:p1:119,84,357,168 " +
		"text-2:text:customer1:p1:357,716,476,758 sig-3:signature:advisor:p2:421,119,589,238"
	if !fs.called(want) || !fs.called("SendSigningProcess p1") {
		t.Fatalf("calls %q", fs.Calls())
	}
	for _, s := range []string{"Out for signature · 0 of 2 signed", "1. Customer 1 — Anna Kunde · their turn", "2. Advisor (you) · waiting", "gets the link by e-mail"} {
		if !h.shows(s) {
			t.Errorf("no %q in %q", s, h.texts())
		}
	}
	if h.button("Sign in the meeting…") == nil || h.button("Queue at kiosk…") == nil || h.button("Sign now") != nil {
		t.Errorf("actions %q", h.texts())
	}
	if len(p.visible) != 1 || !h.shows("Out for signature · 0 of 2 signed · sent") {
		t.Errorf("list %q", h.texts())
	}
}

func TestDocumentsUploadRefused(t *testing.T) {
	fs := &fakeSigning{}
	h, p := docsHarness(t, &fakeRelay{}, fs)
	p.openPDF = func(done func(string, io.ReadCloser, int64)) {
		done("notes.pdf", io.NopCloser(strings.NewReader("PK zip")), -1)
	}
	h.tap("New…")
	if !h.shows("notes.pdf · size unknown") {
		t.Errorf("texts %q", h.texts())
	}
	h.tap("Upload")
	h.eventually("the refusal", func() bool { return h.shows("this file is not a PDF") })
	if p.editor != nil || len(p.all) != 0 || h.button("Choose another file…") == nil {
		t.Errorf("texts %q", h.texts())
	}
}

// sentProcesses are an advisor-only process at the advisor's turn, one at
// the customer's turn and a completed one.
func sentProcesses() []SigningProcess {
	day := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	pages := []PageBox{{Number: 1, MediaBox: Rect{URX: 595, URY: 842}, CropBox: Rect{URX: 595, URY: 842}}}
	return []SigningProcess{
		{ID: "p1", Title: "Beratungsprotokoll", Status: SigningSent, Created: day, Sent: day, Pages: pages,
			Signers: []Signer{{Role: RoleAdvisor, State: SignerPending}},
			Fields: []SigningField{{ID: "sig", Page: 1, Kind: FieldSignature, Signer: RoleAdvisor, Rect: Rect{LLX: 100, LLY: 100, URX: 300, URY: 160}},
				{ID: "ort", Page: 1, Kind: FieldText, Signer: RoleAdvisor, Label: "Ort", Rect: Rect{LLX: 100, LLY: 200, URX: 300, URY: 230}}}},
		{ID: "p2", Title: "Kreditvertrag", Status: SigningSent, Created: day.Add(time.Hour), Sent: day.Add(time.Hour), Pages: pages,
			Signers: []Signer{{Role: "customer1", CustomerID: "c1", State: SignerPending}, {Role: RoleAdvisor, State: SignerWaiting}}},
		{ID: "p3", Title: "Depotvertrag", Status: SigningCompleted, Created: day.Add(-48 * time.Hour), Completed: day.Add(-24 * time.Hour), Pages: pages,
			Signers: []Signer{{Role: "customer1", CustomerID: "c2", State: SignerSigned, SignedAt: day.Add(-25 * time.Hour)}}},
	}
}

func TestDocumentsListFilterAndRefresh(t *testing.T) {
	fs := &fakeSigning{procs: sentProcesses()}
	h, p := docsHarness(t, &fakeRelay{}, fs)
	if len(p.visible) != 3 || p.visible[0].ID != "p2" || !h.shows("Completed · 1 of 1 signed · completed 22 Nov 2026") {
		t.Fatalf("list %q", h.texts())
	}
	p.filter.SetSelected(signingStatusName(SigningCompleted))
	if len(p.visible) != 1 || p.visible[0].ID != "p3" {
		t.Errorf("filtered %d", len(p.visible))
	}
	fs.mu.Lock()
	fs.procs = fs.procs[:1]
	fs.mu.Unlock()
	h.tap("Refresh")
	h.eventually("the refreshed list", func() bool { return !p.refresh.busy && len(p.all) == 1 })
	if len(p.visible) != 0 {
		t.Errorf("filtered after refresh %d", len(p.visible))
	}
}

func TestDocumentsSignNowDownloadAndCancel(t *testing.T) {
	fs := &fakeSigning{procs: sentProcesses(), final: []byte("%PDF sealed")}
	h, p := docsHarness(t, &fakeRelay{}, fs)
	var pad *fynepad.Pad
	p.newPad = func() *fynepad.Pad { pad = fynepad.New(nil); return pad }
	p.list.Select(1) // p1
	if p.current == nil || p.current.ID != "p1" {
		t.Fatalf("current %+v", p.current)
	}
	h.tap("Sign now")
	if pad == nil {
		t.Fatal("no pad")
	}
	sign := h.button("Sign")
	if sign == nil || !sign.Disabled() {
		t.Fatal("Sign is not disabled before the signature")
	}
	var ort *widget.Entry
	walk(h.ui.Window().Canvas().Overlays().Top(), func(o fyne.CanvasObject) {
		if e, ok := o.(*widget.Entry); ok {
			ort = e
		}
	})
	if ort == nil || !h.shows("Ort") {
		t.Fatalf("no text field in %q", h.texts())
	}
	fill(ort, "Kiel")
	pad.MouseDown(&desktop.MouseEvent{Button: desktop.MouseButtonPrimary, PointEvent: fyne.PointEvent{Position: fyne.NewPos(20, 80)}})
	for i := 1; i <= 20; i++ {
		pad.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(20+float32(i)*15, 80+float32(i%4)*6)}})
	}
	pad.MouseUp(&desktop.MouseEvent{Button: desktop.MouseButtonPrimary, PointEvent: fyne.PointEvent{Position: fyne.NewPos(320, 80)}})
	if sign.Disabled() {
		t.Fatal("Sign still disabled")
	}
	h.tapInDialog("Sign")
	h.eventually("signed", func() bool { return p.detail != nil && h.shows("the document is sealed") })
	if len(fs.signed) != 1 || fs.texts[0]["ort"] != "Kiel" {
		t.Fatalf("signed %d texts %v", len(fs.signed), fs.texts)
	}
	sig, err := browser.Decode(bytes.NewReader(fs.signed[0]), time.Now())
	if err != nil || len(sig.Strokes()) != 1 || len(sig.Samples) != 22 {
		t.Fatalf("pointer JSON: %v (%d samples)", err, len(sig.Samples))
	}

	var buf bytes.Buffer
	var saved string
	p.saveTarget = func(name string, done func(io.WriteCloser)) { saved = name; done(nopWriteCloser{&buf}) }
	h.tap("Download signed PDF…")
	h.eventually("the download", func() bool { return h.shows("Beratungsprotokoll.pdf saved.") })
	if saved != "Beratungsprotokoll.pdf" || buf.String() != "%PDF sealed" {
		t.Errorf("saved %q: %q", saved, buf.String())
	}

	p.list.Select(0) // p2
	h.tap("Cancel signing")
	h.tapInDialog("Cancel signing")
	h.eventually("cancelled", func() bool { return fs.called("CancelSigningProcess p2") && h.shows("Cancelled.") })
	if p.current.Status != SigningCancelled || h.button("Cancel signing") != nil {
		t.Errorf("after cancel: %+v", p.current)
	}
}

func TestDocumentsPresentInMeetingAndQueueAtKiosk(t *testing.T) {
	relay := &fakeRelay{list: []MeetingInfo{{ID: "m1", Title: "Beratung", Status: MeetingOpen, Created: time.Now()},
		{ID: "m0", Title: "Gestern", Status: MeetingEnded}}}
	relay.addGuest("m1", Guest{ID: "g0", Name: "Warte Raum", State: GuestWaiting})
	relay.addGuest("m1", Guest{ID: "g1", Name: "Anna Kunde", State: GuestAdmitted})
	fs := &fakeSigning{procs: sentProcesses(), kiosks: []KioskInfo{{ID: "k1", Name: "Filiale Mitte"}}}
	h, p := docsHarness(t, relay, fs)
	p.list.Select(0) // p2: the customer's turn
	h.tap("Sign in the meeting…")
	h.eventually("the participant", func() bool { return h.shows("Anna Kunde") })
	if h.shows("Gestern") || h.shows("Warte Raum") {
		t.Errorf("ended meetings or waiting guests offered: %q", h.texts())
	}
	h.tapInDialog("Send to the customer")
	h.eventually("presented", func() bool { return h.shows("Sent to Anna Kunde (Customer 1)") })
	if !fs.called("PresentSigning p2 m1 g1") {
		t.Errorf("calls %q", fs.Calls())
	}
	h.tapInDialog("Close")

	h.tap("Queue at kiosk…")
	h.eventually("the kiosk", func() bool { return h.shows("Filiale Mitte") })
	h.tapInDialog("Queue")
	h.eventually("the code", func() bool { return h.shows("123 456") })
	if !fs.called("QueueAtKiosk p2 k1") || !h.shows("Valid until 10:30") {
		t.Errorf("calls %q texts %q", fs.Calls(), h.texts())
	}
}

func TestPageGeometry(t *testing.T) {
	a4 := Rect{URX: 595, URY: 842}
	land := Rect{LLX: 10, LLY: 20, URX: 852, URY: 615}
	for _, c := range []struct {
		page       PageBox
		fx, fy     float64
		x, y       float64
		aspectWide bool
	}{
		{PageBox{CropBox: a4}, 0, 0, 0, 842, false},
		{PageBox{CropBox: a4}, 1, 1, 595, 0, false},
		{PageBox{CropBox: a4}, 0.2, 0.8, 119, 168.4, false},
		// Turned clockwise: the top-left of the image is the page's
		// bottom-left corner.
		{PageBox{CropBox: land, Rotate: 90}, 0, 0, 10, 20, false},
		{PageBox{CropBox: land, Rotate: 90}, 1, 0, 10, 615, false},
		{PageBox{CropBox: land, Rotate: 90}, 0, 1, 852, 20, false},
		{PageBox{CropBox: a4, Rotate: 180}, 0, 0, 595, 0, false},
		{PageBox{CropBox: a4, Rotate: 270}, 0, 0, 595, 842, true},
		{PageBox{CropBox: a4, Rotate: -90}, 1, 0, 595, 0, true},
		{PageBox{CropBox: land}, 0.5, 0.5, 431, 317.5, true},
	} {
		x, y := c.page.toPDF(c.fx, c.fy)
		if math.Abs(x-c.x) > 1e-9 || math.Abs(y-c.y) > 1e-9 {
			t.Errorf("%+v toPDF(%v, %v) = %v, %v; want %v, %v", c.page, c.fx, c.fy, x, y, c.x, c.y)
		}
		if fx, fy := c.page.fromPDF(x, y); math.Abs(fx-c.fx) > 1e-9 || math.Abs(fy-c.fy) > 1e-9 {
			t.Errorf("%+v fromPDF(%v, %v) = %v, %v", c.page, x, y, fx, fy)
		}
		if (c.page.displayAspect() > 1) != c.aspectWide {
			t.Errorf("%+v aspect %v", c.page, c.page.displayAspect())
		}
	}
	// A rectangle dragged from any corner comes out normalised and back.
	p := PageBox{CropBox: land, Rotate: 90}
	r := p.rectToPDF(0.4, 0.7, 0.2, 0.5)
	if r.LLX >= r.URX || r.LLY >= r.URY {
		t.Fatalf("not normalised: %+v", r)
	}
	fx, fy, fw, fh := p.rectOnImage(r)
	if math.Abs(fx-0.2) > 1e-3 || math.Abs(fy-0.5) > 1e-3 || math.Abs(fw-0.2) > 1e-3 || math.Abs(fh-0.2) > 1e-3 {
		t.Errorf("rectOnImage %v %v %v %v", fx, fy, fw, fh)
	}
}
