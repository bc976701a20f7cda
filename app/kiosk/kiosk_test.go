package kiosk

import (
	"context"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"parley/relay/clock"
	"parley/signpad"
	"parley/signpad/iso19794"
)

const (
	testAddr  = "https://127.0.0.1:8443"
	testToken = "pkd_kiosktoken"
	testCode  = "482913"
	testPIN   = "13572468"
)

// fingerprintErr is an untrusted certificate.
type fingerprintErr struct{}

func (fingerprintErr) Error() string       { return "certificate not trusted" }
func (fingerprintErr) Fingerprint() string { return "SHA256:AA:BB" }

// fakeRelay is the relay of these tests.
type fakeRelay struct {
	mu        sync.Mutex
	trusted   bool
	token     string
	submitted []Submission
	callState string
	cancelled []string
	call      *fakeCall
	pages     bool
	calls     []string
}

func (f *fakeRelay) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeRelay) Connect(ctx context.Context, addr string) error {
	f.note("connect")
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.trusted {
		return fingerprintErr{}
	}
	return nil
}

func (f *fakeRelay) Trust(addr, fp string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trusted = fp == "SHA256:AA:BB"
	return nil
}

func (f *fakeRelay) UseToken(token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = token
	return nil
}

func (f *fakeRelay) Me(ctx context.Context) (Me, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.token != testToken {
		return Me{}, ErrUnpaired
	}
	return Me{ID: "k1", Name: "Desk 2", TenantName: "Sparkasse Musterstadt"}, nil
}

func (f *fakeRelay) Open(ctx context.Context, code string) (Document, error) {
	f.note("open")
	if code != testCode {
		return Document{}, ErrWrongCode
	}
	return Document{Token: "psg_t", Session: "pss_s", Signer: "customer1", Title: "Kreditvertrag Nr. 7", Pages: 2,
		Fields: []Field{{ID: "sig", Page: 2, Signature: true}, {ID: "city", Page: 2, Label: "Ort"}}}, nil
}

func (f *fakeRelay) Page(ctx context.Context, doc Document, n, width int) (image.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.pages {
		return nil, errors.New("no page images")
	}
	img := image.NewNRGBA(image.Rect(0, 0, width, width*1414/1000))
	img.Set(1, 1, color.Black)
	return img, nil
}

func (f *fakeRelay) Submit(ctx context.Context, doc Document, s Submission) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if doc.Session != "pss_s" {
		return errors.New("no session")
	}
	s.ISO19794 = slices.Clone(s.ISO19794)
	f.submitted = append(f.submitted, s)
	return nil
}

func (f *fakeRelay) Unlock(ctx context.Context, pin string) error {
	if pin != testPIN {
		return ErrWrongPIN
	}
	return nil
}

func (f *fakeRelay) CallAdvisor(ctx context.Context) (CallRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.callState = CallWaiting
	return CallRequest{ID: "c1", Status: CallWaiting}, nil
}

func (f *fakeRelay) CallStatus(ctx context.Context, id string) (CallRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := CallRequest{ID: id, Status: f.callState}
	if r.Status == CallAccepted {
		r.MeetingID, r.Secret = "m1", "pmp_secret"
	}
	return r, nil
}

func (f *fakeRelay) CancelCall(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, id)
	f.callState = CallCancelled
	return nil
}

func (f *fakeRelay) JoinCall(ctx context.Context, meetingID, secret string) (Call, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if secret != "pmp_secret" {
		return nil, errors.New("bad secret")
	}
	f.call = &fakeCall{done: make(chan struct{})}
	return f.call, nil
}

func (f *fakeRelay) setCallState(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.callState = s
}

type fakeCall struct {
	mu     sync.Mutex
	muted  bool
	left   bool
	done   chan struct{}
	frames frameSource
}

type frameSource struct{}

func (frameSource) Latest() (image.Image, uint64) { return image.NewNRGBA(image.Rect(0, 0, 64, 48)), 1 }

func (c *fakeCall) Remote() VideoSource { return c.frames }
func (c *fakeCall) SetMuted(m bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.muted = m
	return nil
}
func (c *fakeCall) Done() <-chan struct{} { return c.done }
func (c *fakeCall) Leave() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.left {
		c.left = true
		close(c.done)
	}
	return nil
}

// memPairing is a PairingStore in memory.
type memPairing struct {
	mu sync.Mutex
	p  *Pairing
}

func (m *memPairing) Load() (Pairing, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p == nil {
		return Pairing{}, false, nil
	}
	return *m.p, true, nil
}
func (m *memPairing) Save(p Pairing) error { m.mu.Lock(); defer m.mu.Unlock(); m.p = &p; return nil }
func (m *memPairing) Clear() error         { m.mu.Lock(); defer m.mu.Unlock(); m.p = nil; return nil }

// fakePen hands out the samples the test sends.
type fakePen struct {
	in            chan penSample
	sent, emitted atomic.Int64
}

func (p *fakePen) Name() string { return "evdev: Test Pen Tablet" }
func (p *fakePen) Run(ctx context.Context, emit func(signpad.Device, signpad.Sample)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case s := <-p.in:
			emit(s.dev, s.s)
			p.emitted.Add(1)
		}
	}
}

var tablet = signpad.Device{Source: "evdev", Name: "Test Pen Tablet",
	X: signpad.Axis{Max: 15200, Res: 100}, Y: signpad.Axis{Max: 9500, Res: 100},
	Pressure: signpad.Axis{Max: 4095}, Caps: signpad.CapPressure | signpad.CapHover | signpad.CapTipSwitch}

// harness drives one kiosk; UI work queued by background calls runs on
// the test goroutine.
type harness struct {
	t     *testing.T
	k     *Kiosk
	relay *fakeRelay
	pair  *memPairing
	pen   *fakePen
	clk   *clock.Fake
	dir   string
	exits int
	queue chan func()
}

func newHarness(t *testing.T, paired bool) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	h := &harness{t: t, relay: &fakeRelay{trusted: paired, pages: true}, pair: &memPairing{},
		pen: &fakePen{in: make(chan penSample, 4096)}, clk: clock.NewFake(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)),
		dir: filepath.Join(t.TempDir(), "session"), queue: make(chan func(), 10000)}
	if paired {
		h.pair.p = &Pairing{Addr: testAddr, Token: testToken}
	}
	k, err := newKiosk(a, Options{Relay: h.relay, Pairing: h.pair, Pen: h.pen, SessionDir: h.dir, Clock: h.clk,
		Ticks: make(chan time.Time), CallPoll: 5 * time.Millisecond, Windowed: true,
		OnExit: func() { h.exits++ }}, func(f func()) { h.queue <- f })
	if err != nil {
		t.Fatal(err)
	}
	h.k = k
	t.Cleanup(k.Close)
	if paired {
		h.eventually("the attract screen", func() bool { return k.Screen() == "attract" })
	}
	return h
}

func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; screen %q, texts %q", what, h.k.Screen(), h.texts())
		}
		select {
		case f := <-h.queue:
			f()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (h *harness) settle() {
	for {
		select {
		case f := <-h.queue:
			f()
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

func walk(o fyne.CanvasObject, fn func(fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return
	}
	fn(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walk(c, fn)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			walk(c, fn)
		}
	}
}

func (h *harness) walk(fn func(fyne.CanvasObject)) {
	c := h.k.win.Canvas()
	for _, r := range append([]fyne.CanvasObject{c.Content()}, c.Overlays().List()...) {
		walk(r, fn)
	}
}

func (h *harness) texts() []string {
	var out []string
	h.walk(func(o fyne.CanvasObject) {
		switch x := o.(type) {
		case *widget.Label:
			out = append(out, x.Text)
		case *canvas.Text:
			out = append(out, x.Text)
		}
	})
	return out
}

func (h *harness) shows(s string) bool {
	return slices.ContainsFunc(h.texts(), func(t string) bool { return strings.Contains(t, s) })
}

func (h *harness) button(text string) *widget.Button {
	var found *widget.Button
	h.walk(func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == text && found == nil {
			found = b
		}
	})
	return found
}

func (h *harness) tap(text string) {
	h.t.Helper()
	b := h.button(text)
	if b == nil {
		h.t.Fatalf("no button %q on %q; texts: %q", text, h.k.Screen(), h.texts())
	}
	if b.Disabled() {
		h.t.Fatalf("button %q is disabled", text)
	}
	test.Tap(b)
}

// typeCode taps the keypad's digits and OK.
func (h *harness) typeCode(code string) {
	h.t.Helper()
	for _, d := range code {
		h.tap(string(d))
	}
	h.tap("OK")
}

// pageImages counts the page images in the document's scroll view.
func (h *harness) pageImages() int {
	n := 0
	h.walk(func(o fyne.CanvasObject) {
		if sc, ok := o.(*container.Scroll); ok {
			walk(sc.Content, func(o fyne.CanvasObject) {
				if _, ok := o.(*canvas.Image); ok {
					n++
				}
			})
		}
	})
	return n
}

// sessionFiles lists what the session folder holds.
func (h *harness) sessionFiles() []string {
	h.t.Helper()
	var out []string
	err := filepath.WalkDir(h.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != h.dir {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// penStroke sends a pen signature: approach, two strokes, lift.
func (h *harness) penStroke() {
	t := int64(5_000_000_000)
	send := func(x, y, p int32, down bool) {
		t += 5000
		h.pen.sent.Add(1)
		h.pen.in <- penSample{tablet, signpad.Sample{T: t, X: x, Y: y, Pressure: p, Down: down}}
	}
	for i := range 10 {
		send(2000+int32(i)*10, 4000, 0, false)
	}
	for i := range 100 {
		send(2000+int32(i)*80, 4000+int32(i%20)*50, 1500+int32(i)*10, true)
	}
	send(10000, 5000, 0, false)
	for i := range 60 {
		send(3000+int32(i)*100, 6000-int32(i)*20, 2000, true)
	}
	for range 5 {
		send(9000, 5000, 0, false)
	}
	h.eventually("every pen sample", func() bool { return h.pen.emitted.Load() == h.pen.sent.Load() })
	h.settle()
}

func TestSetupTrustsAndPairs(t *testing.T) {
	h := newHarness(t, false)
	if h.k.Screen() != "setup" {
		t.Fatalf("first start shows %q", h.k.Screen())
	}
	var entries []*widget.Entry
	h.walk(func(o fyne.CanvasObject) {
		if e, ok := o.(*widget.Entry); ok {
			entries = append(entries, e)
		}
	})
	if len(entries) != 2 {
		t.Fatalf("setup has %d entries", len(entries))
	}
	test.Type(entries[0], "127.0.0.1:8443")
	test.Type(entries[1], "pst_wrongkind")
	h.tap("Connect")
	if !h.shows("starts with pkd_") || len(h.relay.calls) != 0 {
		t.Fatalf("a token of the wrong kind was tried: %q", h.texts())
	}
	entries[1].SetText("")
	test.Type(entries[1], testToken)
	h.tap("Connect")
	h.eventually("the fingerprint", func() bool { return h.shows("SHA256:AA:BB") })
	if _, ok, _ := h.pair.Load(); ok {
		t.Fatal("paired before the certificate was trusted")
	}
	h.tap("Trust and connect")
	h.eventually("the attract screen", func() bool { return h.k.Screen() == "attract" })
	if !h.shows("Sparkasse Musterstadt") {
		t.Errorf("attract screen without the tenant's name: %q", h.texts())
	}
	p, ok, _ := h.pair.Load()
	if !ok || p.Addr != testAddr || p.Token != testToken {
		t.Errorf("pairing saved as %+v, %v", p, ok)
	}
}

func TestUnknownTokenReturnsToSetup(t *testing.T) {
	h := newHarness(t, false)
	h.relay.trusted = true
	h.pair.p = &Pairing{Addr: testAddr, Token: "pkd_deleted"}
	h.k.start()
	h.eventually("the setup screen", func() bool { return h.k.Screen() == "setup" && h.shows("no longer registered") })
	if _, ok, _ := h.pair.Load(); ok {
		t.Error("a pairing the relay refused was kept")
	}
}

func TestSignWithPenSubmitsISORecordAndWipes(t *testing.T) {
	h := newHarness(t, true)
	h.tap("Sign a document")
	if h.k.Screen() != "code" {
		t.Fatalf("screen %q", h.k.Screen())
	}
	h.typeCode("111111")
	h.eventually("the wrong-code message", func() bool { return h.shows("does not match") })
	// Typed on a keyboard as well.
	for _, r := range testCode {
		h.k.win.Canvas().OnTypedRune()(r)
	}
	h.k.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyReturn})
	h.eventually("the signing screen", func() bool { return h.k.Screen() == "sign" })
	h.eventually("the page images", func() bool { return h.pageImages() == 2 })
	if !h.shows("Kreditvertrag Nr. 7") || !h.shows("Ort") {
		t.Fatalf("signing screen: %q", h.texts())
	}
	if !h.button("Confirm").Disabled() {
		t.Fatal("Confirm enabled before anything was signed")
	}
	// A file some library left in the session folder meanwhile.
	if err := os.WriteFile(filepath.Join(h.dir, "page-cache.png"), []byte("Kreditvertrag"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.penStroke()
	h.eventually("the ink", func() bool { return len(h.k.sess.pad.ink.Objects) > 50 })
	h.eventually("Confirm enabled", func() bool { return !h.button("Confirm").Disabled() })
	// Clear starts over, then the customer signs again.
	h.tap("Clear")
	if len(h.k.sess.pad.ink.Objects) != 0 || !h.button("Confirm").Disabled() {
		t.Fatal("Clear left ink or Confirm enabled")
	}
	h.penStroke()
	if n := len(h.k.sess.pad.samples); n != 10+160+1+5 {
		t.Fatalf("the pad holds %d samples", n)
	}
	var entry *widget.Entry
	h.walk(func(o fyne.CanvasObject) {
		if e, ok := o.(*widget.Entry); ok {
			entry = e
		}
	})
	test.Type(entry, "Berlin")
	pad := h.k.sess.pad
	h.tap("Confirm")
	h.eventually("the thank-you screen", func() bool { return h.k.Screen() == "thanks" })

	h.relay.mu.Lock()
	subs := slices.Clone(h.relay.submitted)
	h.relay.mu.Unlock()
	if len(subs) != 1 {
		t.Fatalf("%d submissions", len(subs))
	}
	sub := subs[0]
	if sub.Device != "evdev: Test Pen Tablet" || sub.Texts["city"] != "Berlin" {
		t.Errorf("submission device %q texts %v", sub.Device, sub.Texts)
	}
	var rec iso19794.Record
	if err := rec.UnmarshalBinary(sub.ISO19794); err != nil {
		t.Fatalf("the record does not decode: %v", err)
	}
	sig, err := rec.Signature()
	if err != nil {
		t.Fatal(err)
	}
	down := 0
	for _, s := range sig.Samples {
		if s.Down {
			down++
		}
	}
	// The leading hover is trimmed to one sample; both strokes arrive.
	if down != 160 || len(sig.Samples) != 160+1+1+1 || sig.Samples[0].T != 0 || len(sig.Strokes()) != 2 {
		t.Errorf("record has %d samples, %d down, %d strokes, first at %d µs", len(sig.Samples), down, len(sig.Strokes()), sig.Samples[0].T)
	}
	if !sig.Device.Caps.Has(signpad.CapPressure) {
		t.Error("the record lost the pressure channel")
	}

	// The thank-you screen gives way to the attract screen by itself.
	record := h.k.sess.record
	h.clk.Advance(DefaultResultDelay)
	h.k.tick()
	if h.k.Screen() != "attract" || h.k.sess != nil {
		t.Fatalf("after the result delay: %q", h.k.Screen())
	}
	if files := h.sessionFiles(); len(files) != 0 {
		t.Errorf("the session folder still holds %q", files)
	}
	for _, b := range record {
		if b != 0 {
			t.Fatal("the submitted record was not zeroed")
		}
	}
	if len(pad.samples) != 0 || pad.source != "" {
		t.Error("the pad kept its samples")
	}
	// Pen samples on the attract screen go nowhere.
	h.penStroke()
	h.settle()
	if h.k.Screen() != "attract" {
		t.Fatal("pen input left the attract screen")
	}
}

func TestSignWithPointer(t *testing.T) {
	h := newHarness(t, true)
	h.relay.pages = false
	h.tap("Sign a document")
	h.typeCode(testCode)
	h.eventually("the signing screen", func() bool { return h.k.Screen() == "sign" })
	h.settle()
	// Without page images the title and the fields are listed.
	if !h.shows("Signature on page 2") {
		t.Errorf("no field list: %q", h.texts())
	}
	p := h.k.sess.pad
	p.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(20, 50)}})
	for i := range 30 {
		h.clk.Advance(10 * time.Millisecond)
		p.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(20+float32(i)*8, 50+float32(i%5)*6)}})
	}
	p.DragEnd()
	// The pen cannot take over a signature made with the finger.
	h.penStroke()
	h.settle()
	h.tap("Confirm")
	h.eventually("the thank-you screen", func() bool { return h.k.Screen() == "thanks" })
	h.relay.mu.Lock()
	sub := h.relay.submitted[0]
	h.relay.mu.Unlock()
	var rec iso19794.Record
	if err := rec.UnmarshalBinary(sub.ISO19794); err != nil {
		t.Fatal(err)
	}
	sig, _ := rec.Signature()
	if sub.Device != "pointer" || len(sig.Samples) < 30 {
		t.Errorf("device %q, %d samples", sub.Device, len(sig.Samples))
	}
	h.tap("Done")
	if h.k.Screen() != "attract" {
		t.Fatalf("Done shows %q", h.k.Screen())
	}
}

func TestIdleTimeoutWarnsThenWipes(t *testing.T) {
	h := newHarness(t, true)
	h.tap("Sign a document")
	h.tap("4")
	if err := os.WriteFile(filepath.Join(h.dir, "tmp-123"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(DefaultIdleTimeout - DefaultIdleWarning - time.Second)
	h.k.tick()
	if h.k.warning != nil {
		t.Fatal("warned too early")
	}
	h.clk.Advance(time.Second)
	h.k.tick()
	if h.k.warning == nil || !h.shows("Are you still there?") {
		t.Fatal("no warning before the idle timeout")
	}
	h.tap("Yes, continue")
	if h.k.warning != nil {
		t.Fatal("the warning stayed after a tap")
	}
	h.clk.Advance(DefaultIdleTimeout - time.Second)
	h.k.tick()
	if h.k.Screen() != "code" {
		t.Fatal("the tap did not restart the idle timer")
	}
	h.clk.Advance(time.Second)
	h.k.tick()
	if h.k.Screen() != "attract" || h.k.sess != nil || h.k.warning != nil {
		t.Fatalf("after the idle timeout: screen %q", h.k.Screen())
	}
	if files := h.sessionFiles(); len(files) != 0 {
		t.Errorf("the session folder still holds %q", files)
	}
	// The attract screen has no timeout of its own.
	h.clk.Advance(time.Hour)
	h.k.tick()
	if h.k.Screen() != "attract" || h.k.warning != nil {
		t.Fatal("the attract screen timed out")
	}
}

func TestCornerTapsAndPIN(t *testing.T) {
	h := newHarness(t, true)
	var corner *cornerTap
	h.walk(func(o fyne.CanvasObject) {
		if c, ok := o.(*cornerTap); ok {
			corner = c
		}
	})
	// Four quick taps, a pause, then four more: not enough.
	for range 4 {
		test.Tap(corner)
	}
	h.clk.Advance(cornerWindow)
	for range 4 {
		test.Tap(corner)
		h.clk.Advance(100 * time.Millisecond)
	}
	if h.k.Screen() != "attract" {
		t.Fatal("slow taps opened the PIN screen")
	}
	test.Tap(corner)
	if h.k.Screen() != "pin" {
		t.Fatalf("five taps show %q", h.k.Screen())
	}
	h.typeCode("000000")
	h.eventually("wrong PIN", func() bool { return h.shows("Wrong PIN.") })
	if h.shows("000000") {
		t.Error("the PIN is shown in clear")
	}
	h.typeCode(testPIN)
	h.eventually("the admin screen", func() bool { return h.k.Screen() == "admin" })
	h.tap("Back to the kiosk")
	if h.k.Screen() != "attract" {
		t.Fatal("Back did not return")
	}
	for range 5 {
		test.Tap(corner)
	}
	// The PIN screen times out like a customer's session.
	h.clk.Advance(DefaultIdleTimeout)
	h.k.tick()
	if h.k.Screen() != "attract" {
		t.Fatalf("the PIN screen did not time out: %q", h.k.Screen())
	}
	h.walk(func(o fyne.CanvasObject) {
		if c, ok := o.(*cornerTap); ok {
			corner = c
		}
	})
	for range 5 {
		test.Tap(corner)
	}
	h.typeCode(testPIN)
	h.eventually("the admin screen", func() bool { return h.k.Screen() == "admin" })
	h.tap("Leave kiosk mode")
	if h.exits != 1 {
		t.Fatal("Leave kiosk mode did not exit")
	}
}

func TestTalkToAnAdvisor(t *testing.T) {
	h := newHarness(t, true)
	h.tap("Talk to an advisor")
	h.eventually("the waiting screen", func() bool { return h.k.Screen() == "waiting" && h.k.sess.req != nil })
	// Waiting is not idling.
	h.clk.Advance(DefaultIdleTimeout * 2)
	h.k.tick()
	if h.k.Screen() != "waiting" {
		t.Fatalf("waiting timed out: %q", h.k.Screen())
	}
	h.relay.setCallState(CallAccepted)
	h.eventually("the call screen", func() bool { return h.k.Screen() == "call" })
	h.eventually("the advisor's video", func() bool {
		found := false
		h.walk(func(o fyne.CanvasObject) {
			if i, ok := o.(*canvas.Image); ok && i.Image != nil {
				found = true
			}
		})
		return found
	})
	call := h.relay.call
	h.tap("Mute")
	h.eventually("Unmute", func() bool { return h.button("Unmute") != nil })
	call.mu.Lock()
	muted := call.muted
	call.mu.Unlock()
	if !muted {
		t.Error("Mute did not mute")
	}
	h.tap("Hang up")
	h.eventually("left", func() bool {
		select {
		case <-call.done:
			return h.k.Screen() == "thanks"
		default:
			return false
		}
	})
	h.tap("Done")
	if h.k.Screen() != "attract" {
		t.Fatal("no attract screen after the call")
	}
}

func TestTalkCancelledAndUnanswered(t *testing.T) {
	h := newHarness(t, true)
	h.tap("Talk to an advisor")
	h.eventually("the request", func() bool { return h.k.sess != nil && h.k.sess.req != nil })
	h.tap("Cancel")
	h.eventually("the withdrawn request", func() bool {
		h.relay.mu.Lock()
		defer h.relay.mu.Unlock()
		return slices.Equal(h.relay.cancelled, []string{"c1"})
	})
	if h.k.Screen() != "attract" {
		t.Fatal("cancel did not return")
	}
	h.tap("Talk to an advisor")
	h.eventually("the request", func() bool { return h.k.sess != nil && h.k.sess.req != nil })
	h.relay.setCallState(CallUnanswered)
	h.eventually("the notice", func() bool { return h.shows("No advisor is free") })
	h.clk.Advance(DefaultResultDelay)
	h.k.tick()
	if h.k.Screen() != "attract" {
		t.Fatal("the notice did not return")
	}
}

func TestOfflineRetries(t *testing.T) {
	h := newHarness(t, false)
	h.pair.p = &Pairing{Addr: testAddr, Token: testToken}
	h.k.start() // not trusted: Connect fails
	h.eventually("the offline screen", func() bool { return h.shows("cannot reach") })
	h.relay.mu.Lock()
	h.relay.trusted = true
	h.relay.mu.Unlock()
	h.clk.Advance(reconnectEvery)
	h.k.tick()
	h.eventually("the attract screen", func() bool { return h.k.Screen() == "attract" })
}
