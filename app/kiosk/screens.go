package kiosk

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"parley/signpad/iso19794"
)

// pageWidth is the width in pixels page images are fetched at, pageShown
// the width in UI units they are shown at.
const (
	pageWidth = 900
	pageShown = 560
)

// Lengths of what is typed on the keypad.
const (
	codeLen   = 6
	maxPINLen = 12
	minPINLen = 6
)

// heading is large centred text.
func heading(text string, size float32) *canvas.Text {
	t := canvas.NewText(text, theme.Color(theme.ColorNameForeground))
	t.TextSize = size
	t.TextStyle.Bold = true
	t.Alignment = fyne.TextAlignCenter
	return t
}

// wrapped is a centred, word-wrapping label.
func wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	l.Alignment = fyne.TextAlignCenter
	return l
}

// button is a large button whose taps count as customer input.
func (k *Kiosk) button(label string, icon fyne.Resource, imp widget.Importance, tapped func()) *widget.Button {
	b := widget.NewButtonWithIcon(label, icon, func() {
		k.touch()
		tapped()
	})
	b.Importance = imp
	return b
}

// tall gives o at least height h.
func tall(o fyne.CanvasObject, h float32) fyne.CanvasObject {
	r := canvas.NewRectangle(color.Transparent)
	r.SetMinSize(fyne.NewSize(0, h))
	return container.NewStack(r, o)
}

// showSetup is the first-start screen: relay address and kiosk token.
func (k *Kiosk) showSetup(notice string) {
	k.paired = false
	addr := widget.NewEntry()
	addr.SetPlaceHolder("https://relay.example.org:8443")
	token := widget.NewPasswordEntry()
	token.SetPlaceHolder("pkd_…")
	status := wrapped(notice)
	var connect *widget.Button
	trustBox := container.NewVBox()
	var pair func()
	pair = func() {
		p := Pairing{Addr: normaliseAddr(addr.Text), Token: strings.TrimSpace(token.Text)}
		if p.Addr == "" || !strings.HasPrefix(p.Token, "pkd_") {
			status.SetText("Enter the relay's address and the kiosk token (it starts with pkd_) your administrator created.")
			return
		}
		connect.Disable()
		status.SetText("Connecting …")
		trustBox.RemoveAll()
		run(k, k.ctx, func(ctx context.Context) (Me, error) {
			if err := k.relay.Connect(ctx, p.Addr); err != nil {
				return Me{}, err
			}
			if err := k.relay.UseToken(p.Token); err != nil {
				return Me{}, err
			}
			return k.relay.Me(ctx)
		}, func(me Me, err error) {
			connect.Enable()
			var fp interface{ Fingerprint() string }
			switch {
			case errors.As(err, &fp) && fp.Fingerprint() != "":
				status.SetText("The relay presented a certificate this kiosk has not seen before. Compare its fingerprint with the one your administrator gave you:")
				f := widget.NewLabelWithStyle(fp.Fingerprint(), fyne.TextAlignCenter, fyne.TextStyle{Monospace: true})
				f.Wrapping = fyne.TextWrapBreak
				trustBox.Add(f)
				trustBox.Add(k.button("Trust and connect", theme.ConfirmIcon(), widget.HighImportance, func() {
					if err := k.relay.Trust(p.Addr, fp.Fingerprint()); err != nil {
						status.SetText(err.Error())
						return
					}
					pair()
				}))
			case errors.Is(err, ErrUnpaired):
				status.SetText("The relay does not know this kiosk token. Check it, or ask your administrator for a new one.")
			case err != nil:
				status.SetText(message(err))
			default:
				if err := k.opts.Pairing.Save(p); err != nil {
					k.log.Error("kiosk: saving the pairing", "err", err)
					status.SetText("The pairing could not be saved on this computer: " + err.Error())
					return
				}
				k.me, k.paired = me, true
				k.log.Info("kiosk: paired", "kiosk", me.ID)
				k.showAttract()
			}
		})
	}
	connect = k.button("Connect", theme.LoginIcon(), widget.HighImportance, pair)
	token.OnSubmitted = func(string) { pair() }
	form := container.NewVBox(
		heading("Set up this kiosk", 36),
		wrapped("An administrator creates the kiosk in the Parley app (Kiosks) and gets a kiosk token. Enter the relay's address and that token."),
		widget.NewLabel("Relay address"), addr,
		widget.NewLabel("Kiosk token"), token,
		connect, status, trustBox,
	)
	k.setScreen("setup", container.NewCenter(container.NewGridWrap(fyne.NewSize(720, 640), form)))
	k.win.Canvas().Focus(addr)
}

// offlineScreen is shown while the relay cannot be reached.
func offlineScreen(k *Kiosk, text string) fyne.CanvasObject {
	return container.NewCenter(container.NewVBox(heading("Parley", 48), wrapped(text)))
}

// showAttract is the idle screen between customers.
func (k *Kiosk) showAttract() {
	name := k.me.TenantName
	if name == "" {
		name = "Welcome"
	}
	top := container.NewCenter(container.NewVBox(
		heading(name, 56),
		heading("Welcome! How can we help you?", 30),
	))
	sign := k.button("Sign a document", theme.DocumentCreateIcon(), widget.HighImportance, k.startSign)
	talk := k.button("Talk to an advisor", theme.MediaVideoIcon(), widget.SuccessImportance, k.startTalk)
	buttons := container.NewPadded(container.NewGridWithColumns(2, container.NewPadded(sign), container.NewPadded(talk)))
	body := container.NewGridWithRows(2, top, buttons)
	corner := newCornerTap(k)
	k.taps = nil
	k.setScreen("attract", container.NewStack(body, container.NewWithoutLayout(corner)))
}

// cornerTap is the invisible top-left square of the attract screen:
// cornerTaps taps within cornerWindow open the PIN screen.
type cornerTap struct {
	widget.BaseWidget
	k *Kiosk
}

func newCornerTap(k *Kiosk) *cornerTap {
	c := &cornerTap{k: k}
	c.ExtendBaseWidget(c)
	c.Resize(fyne.NewSize(96, 96))
	c.Move(fyne.NewPos(0, 0))
	return c
}

// CreateRenderer implements fyne.Widget: nothing visible.
func (c *cornerTap) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(canvas.NewRectangle(color.Transparent))
}

// Tapped implements fyne.Tappable.
func (c *cornerTap) Tapped(*fyne.PointEvent) {
	k := c.k
	now := k.clock.Now()
	keep := k.taps[:0]
	for _, t := range k.taps {
		if now.Sub(t) < cornerWindow {
			keep = append(keep, t)
		}
	}
	k.taps = append(keep, now)
	if len(k.taps) >= cornerTaps {
		k.taps = nil
		k.showPIN()
	}
}

// keypad is a large numeric keypad with a display.
type keypad struct {
	digits  []byte
	max     int
	masked  bool
	display *canvas.Text
	ok      *widget.Button
	minLen  int
}

func (kp *keypad) render() {
	s := string(kp.digits)
	if kp.masked {
		s = strings.Repeat("●", len(kp.digits))
	}
	if s == "" {
		s = strings.Repeat("–", kp.minLen)
	}
	kp.display.Text = s
	kp.display.Refresh()
	if len(kp.digits) >= kp.minLen {
		kp.ok.Enable()
	} else {
		kp.ok.Disable()
	}
}

func (kp *keypad) press(d byte) {
	if len(kp.digits) < kp.max {
		kp.digits = append(kp.digits, d)
		kp.render()
	}
}

func (kp *keypad) back() {
	if n := len(kp.digits); n > 0 {
		kp.digits[n-1] = 0
		kp.digits = kp.digits[:n-1]
		kp.render()
	}
}

// wipe zeroes what was typed.
func (kp *keypad) wipe() {
	clear(kp.digits)
	kp.digits = kp.digits[:0]
	kp.render()
}

// newKeypad builds the keypad screen body; submit gets the typed digits.
func (k *Kiosk) newKeypad(title, hint string, minLen, maxLen int, masked bool, submit func(kp *keypad), cancel func()) (fyne.CanvasObject, *keypad) {
	kp := &keypad{max: maxLen, minLen: minLen, masked: masked, digits: make([]byte, 0, maxLen)}
	kp.display = heading("", 64)
	kp.ok = k.button("OK", theme.ConfirmIcon(), widget.HighImportance, func() {
		if len(kp.digits) >= kp.minLen {
			submit(kp)
		}
	})
	keys := make([]fyne.CanvasObject, 0, 12)
	for _, d := range "123456789" {
		keys = append(keys, tall(k.button(string(d), nil, widget.MediumImportance, func() { kp.press(byte(d)) }), 80))
	}
	keys = append(keys,
		tall(k.button("", theme.ContentUndoIcon(), widget.MediumImportance, kp.back), 80),
		tall(k.button("0", nil, widget.MediumImportance, func() { kp.press('0') }), 80),
		tall(kp.ok, 80))
	grid := container.NewGridWithColumns(3, keys...)
	k.nextRune = func(r rune) {
		if r >= '0' && r <= '9' {
			kp.press(byte(r))
		}
	}
	k.nextKey = func(n fyne.KeyName) {
		switch n {
		case fyne.KeyBackspace:
			kp.back()
		case fyne.KeyReturn, fyne.KeyEnter:
			kp.ok.OnTapped()
		case fyne.KeyEscape:
			cancel()
		}
	}
	kp.render()
	body := container.NewVBox(
		heading(title, 40),
		wrapped(hint),
		kp.display,
		container.NewGridWrap(fyne.NewSize(480, 4*96), grid),
		k.button("Cancel", theme.CancelIcon(), widget.LowImportance, cancel),
	)
	return container.NewCenter(body), kp
}

// startSign begins a customer's session with the pickup-code keypad.
func (k *Kiosk) startSign() {
	s := k.beginSession()
	k.showCode(s, "")
}

func (k *Kiosk) showCode(s *session, notice string) {
	status := wrapped(notice)
	body, _ := k.newKeypad("Enter your pickup code", "Your advisor gave you a 6-digit code for your document.", codeLen, codeLen, false,
		func(kp *keypad) {
			code := string(kp.digits)
			kp.wipe()
			kp.ok.Disable()
			status.SetText("Opening your document …")
			run(k, s.ctx, func(ctx context.Context) (Document, error) {
				return k.relay.Open(ctx, code)
			}, func(doc Document, err error) {
				switch {
				case errors.Is(err, ErrWrongCode):
					status.SetText("This code does not match a document waiting here. Please check it and try again.")
				case errors.Is(err, ErrTooManyAttempts):
					k.showResult("Too many attempts", "Please ask a member of staff for help.")
				case err != nil:
					status.SetText(message(err))
				default:
					k.log.Info("kiosk: document opened", "fields", len(doc.Fields), "pages", doc.Pages)
					s.doc = &doc
					k.showSign(s)
				}
			})
		}, k.EndSession)
	k.setScreen("code", container.NewBorder(nil, container.NewPadded(status), nil, nil, body))
}

// showSign shows the document, its text fields and the signature pad.
func (k *Kiosk) showSign(s *session) {
	doc := s.doc
	p := newPad(k)
	s.pad = p
	status := wrapped("")

	// Pages: the images when the relay renders them, else the title and
	// the list of fields.
	var fieldLines []string
	for _, f := range doc.Fields {
		kind := "Text"
		if f.Signature {
			kind = "Signature"
		}
		line := fmt.Sprintf("%s on page %d", kind, f.Page)
		if f.Label != "" {
			line = f.Label + " – " + line
		}
		fieldLines = append(fieldLines, line)
	}
	fallback := container.NewVBox(
		heading(doc.Title, 30),
		wrapped(fmt.Sprintf("%d page(s). Your advisor has explained this document to you.", doc.Pages)),
		wrapped(strings.Join(fieldLines, "\n")),
	)
	pages := container.NewVBox(fallback)
	scroll := container.NewVScroll(pages)
	if doc.Pages > 0 {
		k.loadPage(s, pages, scroll, 1)
	}

	texts := map[string]*widget.Entry{}
	form := container.NewVBox()
	for _, f := range doc.Fields {
		if f.Signature {
			continue
		}
		e := widget.NewEntry()
		e.OnChanged = func(string) { k.touch() }
		label := f.Label
		if label == "" {
			label = fmt.Sprintf("Text on page %d", f.Page)
		}
		texts[f.ID] = e
		form.Add(widget.NewLabel(label))
		form.Add(e)
	}
	var confirm *widget.Button
	clearBtn := k.button("Clear", theme.ContentClearIcon(), widget.MediumImportance, p.clearInk)
	confirm = k.button("Confirm", theme.ConfirmIcon(), widget.HighImportance, func() {
		k.submit(s, texts, status, confirm)
	})
	confirm.Disable()
	p.onChange = func(empty bool) {
		if empty {
			confirm.Disable()
		} else {
			confirm.Enable()
		}
	}
	k.nextKey = func(n fyne.KeyName) {
		if (n == fyne.KeyReturn || n == fyne.KeyEnter) && !confirm.Disabled() {
			confirm.OnTapped()
		}
	}
	right := container.NewBorder(
		container.NewVBox(heading(doc.Title, 30), form, wrapped("Please sign in the box below with the pen.")),
		container.NewVBox(status),
		nil, nil, p)
	bottom := tall(container.NewGridWithColumns(3,
		k.button("Cancel", theme.CancelIcon(), widget.LowImportance, k.EndSession),
		clearBtn, confirm), 96)
	body := container.NewBorder(nil, container.NewPadded(bottom), nil, nil,
		container.NewGridWithColumns(2, scroll, container.NewPadded(right)))
	k.setScreen("sign", body)
	k.setPenTarget(p)
}

// loadPage fetches page n and the ones after it in the background and
// adds them to pages; the first failure keeps the fallback text. The
// page with the first signature field is scrolled into view.
func (k *Kiosk) loadPage(s *session, pages *fyne.Container, scroll *container.Scroll, n int) {
	doc := *s.doc
	runFor(k, s.ctx, pageTimeout, func(ctx context.Context) (image.Image, error) {
		return k.relay.Page(ctx, doc, n, pageWidth)
	}, func(img image.Image, err error) {
		if err != nil {
			k.log.Info("kiosk: no page image", "page", n, "err", err)
			return
		}
		if n == 1 {
			pages.RemoveAll()
		}
		pv := pageView(img, doc.Fields, n)
		pages.Add(pv)
		k.log.Info("kiosk: page shown", "page", n)
		for _, f := range doc.Fields {
			if f.Signature && f.Page == n && f.Box != [4]float32{} {
				top := pages.MinSize().Height - pv.MinSize().Height + f.Box[1]*pv.MinSize().Height
				pages.Resize(fyne.NewSize(max(scroll.Size().Width, pages.MinSize().Width), pages.MinSize().Height))
				scroll.ScrollToOffset(fyne.NewPos(0, max(top-120, 0)))
				break
			}
		}
		if n < doc.Pages {
			k.loadPage(s, pages, scroll, n+1)
		}
	})
}

// pageView shows a page image with a border, the signer's fields on it
// marked.
func pageView(img image.Image, fields []Field, n int) fyne.CanvasObject {
	b := img.Bounds()
	l := &pageLayout{aspect: float32(b.Dx()) / float32(max(b.Dy(), 1))}
	ci := canvas.NewImageFromImage(img)
	ci.FillMode = canvas.ImageFillStretch
	border := canvas.NewRectangle(color.Transparent)
	border.StrokeColor = lineColor
	border.StrokeWidth = 1
	objs := []fyne.CanvasObject{ci, border}
	for _, f := range fields {
		if f.Page != n || f.Box == [4]float32{} {
			continue
		}
		mark := canvas.NewRectangle(color.NRGBA{R: 0xff, G: 0xd5, B: 0x4f, A: 0x70})
		mark.StrokeColor = color.NRGBA{R: 0xf5, G: 0x9e, B: 0x0b, A: 0xff}
		mark.StrokeWidth = 2
		l.boxes = append(l.boxes, f.Box)
		objs = append(objs, mark)
	}
	return container.New(l, objs...)
}

// pageLayout sizes a page to the column's width (aspect kept): the image
// and its border fill it, each further object is placed at its box.
type pageLayout struct {
	aspect float32
	boxes  [][4]float32
}

// MinSize implements fyne.Layout.
func (l *pageLayout) MinSize([]fyne.CanvasObject) fyne.Size {
	return fyne.NewSize(pageShown, pageShown/l.aspect)
}

// Layout implements fyne.Layout.
func (l *pageLayout) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	w := min(s.Width, s.Height*l.aspect)
	h := w / l.aspect
	x := (s.Width - w) / 2
	for i, o := range objs {
		if i < 2 {
			o.Move(fyne.NewPos(x, 0))
			o.Resize(fyne.NewSize(w, h))
			continue
		}
		b := l.boxes[i-2]
		o.Move(fyne.NewPos(x+b[0]*w, b[1]*h))
		o.Resize(fyne.NewSize((b[2]-b[0])*w, (b[3]-b[1])*h))
	}
}

// submit sends the signature as an ISO/IEC 19794-7 record.
func (k *Kiosk) submit(s *session, texts map[string]*widget.Entry, status *widget.Label, confirm *widget.Button) {
	penName := "pen"
	if k.opts.Pen != nil {
		penName = k.opts.Pen.Name()
	}
	sig, device, err := s.pad.signature(k.clock.Now(), penName)
	if err != nil {
		k.log.Info("kiosk: signature refused", "err", err)
		status.SetText("The signature could not be read. Please press Clear and sign again.")
		return
	}
	rec, err := iso19794.FromSignature(sig)
	clear(sig.Samples)
	if err == nil {
		s.record, err = rec.MarshalBinary()
	}
	if err != nil {
		k.log.Info("kiosk: signature not encodable", "err", err)
		status.SetText("The signature could not be read. Please press Clear and sign again.")
		return
	}
	sub := Submission{Texts: map[string]string{}, ISO19794: s.record, Device: device}
	for id, e := range texts {
		sub.Texts[id] = e.Text
	}
	doc := *s.doc
	confirm.Disable()
	status.SetText("Sending your signature …")
	s.inCall = true // no idle timeout while the relay seals the document
	run(k, s.ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, k.relay.Submit(ctx, doc, sub)
	}, func(_ struct{}, err error) {
		s.inCall = false
		k.touch()
		if err != nil {
			k.log.Warn("kiosk: submitting the signature", "err", err)
			confirm.Enable()
			status.SetText("The signature could not be sent: " + message(err))
			return
		}
		k.log.Info("kiosk: signature submitted", "bytes", len(s.record))
		k.setPenTarget(nil)
		k.showResult("Thank you!", "Your signature has been sent. Your advisor will send you the signed document.")
	})
}

// resultScreen is a thank-you or notice screen with a "Done" button.
func resultScreen(k *Kiosk, title, text string) fyne.CanvasObject {
	return container.NewCenter(container.NewVBox(
		heading(title, 48),
		wrapped(text),
		layout.NewSpacer(),
		tall(k.button("Done", theme.HomeIcon(), widget.HighImportance, k.EndSession), 80),
	))
}

// startTalk asks for an advisor and shows the waiting screen.
func (k *Kiosk) startTalk() {
	s := k.beginSession()
	s.inCall = true
	status := wrapped("Please wait a moment: we are asking our advisors.")
	k.setScreen("waiting", container.NewCenter(container.NewVBox(
		heading("Finding an advisor for you …", 40),
		status,
		widget.NewProgressBarInfinite(),
		tall(k.button("Cancel", theme.CancelIcon(), widget.MediumImportance, k.EndSession), 80),
	)))
	run(k, s.ctx, func(ctx context.Context) (CallRequest, error) {
		return k.relay.CallAdvisor(ctx)
	}, func(req CallRequest, err error) {
		if err != nil {
			k.log.Warn("kiosk: asking for an advisor", "err", err)
			k.showResult("Sorry", "No advisor could be reached: "+message(err))
			return
		}
		s.req = &req
		k.log.Info("kiosk: waiting for an advisor", "call", req.ID)
		go k.pollCall(s, req.ID)
	})
}

// pollCall reads the call request's state until it is decided or the
// session ends.
func (k *Kiosk) pollCall(s *session, id string) {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(k.opts.CallPoll):
		}
		ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
		req, err := k.relay.CallStatus(ctx, id)
		cancel()
		if err != nil {
			k.log.Debug("kiosk: reading the call request", "call", id, "err", err)
			continue
		}
		if req.Status == CallWaiting {
			continue
		}
		k.do(func() {
			if k.sess != s {
				return
			}
			s.req = &req
			switch req.Status {
			case CallAccepted:
				k.joinCall(s, req)
			case CallUnanswered:
				k.showResult("No advisor is free right now", "Please try again in a few minutes, or ask a member of staff.")
			default:
				k.EndSession()
			}
		})
		return
	}
}

// joinCall joins the meeting as a guest and shows the call screen.
func (k *Kiosk) joinCall(s *session, req CallRequest) {
	run(k, s.ctx, func(ctx context.Context) (Call, error) {
		return k.relay.JoinCall(ctx, req.MeetingID, req.Secret)
	}, func(c Call, err error) {
		if err != nil {
			k.log.Warn("kiosk: joining the call", "meeting", req.MeetingID, "err", err)
			k.showResult("Sorry", "The call could not be started: "+message(err))
			return
		}
		s.call = c
		k.showCall(s, c)
	})
}

// showCall is the full-screen call: the advisor's video, mute, hang up.
func (k *Kiosk) showCall(s *session, c Call) {
	video := canvas.NewImageFromImage(nil)
	video.FillMode = canvas.ImageFillContain
	bg := canvas.NewRectangle(color.Black)
	waiting := heading("Connecting to your advisor …", 30)
	waiting.Color = color.White
	muted := false
	var mute *widget.Button
	mute = k.button("Mute", theme.VolumeMuteIcon(), widget.MediumImportance, func() {
		want := !muted
		go func() {
			err := c.SetMuted(want)
			k.do(func() {
				if err != nil || k.sess != s {
					return
				}
				muted = want
				if muted {
					mute.SetText("Unmute")
					mute.SetIcon(theme.VolumeUpIcon())
				} else {
					mute.SetText("Mute")
					mute.SetIcon(theme.VolumeMuteIcon())
				}
			})
		}()
	})
	hang := k.button("Hang up", theme.CancelIcon(), widget.DangerImportance, func() {
		k.log.Info("kiosk: hung up")
		go func() { _ = c.Leave() }()
		k.showResult("Thank you for your visit", "Goodbye!")
	})
	bar := tall(container.NewGridWithColumns(2, mute, hang), 96)
	k.setScreen("call", container.NewBorder(nil, container.NewPadded(bar), nil, nil,
		container.NewStack(bg, container.NewCenter(waiting), video)))
	// Frames: redraw when the advisor's picture changes; end with the call.
	go func() {
		t := time.NewTicker(time.Second / 15)
		defer t.Stop()
		var last uint64
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-c.Done():
				k.do(func() {
					if k.sess == s && k.resultUntil.IsZero() {
						k.log.Info("kiosk: the call ended")
						k.showResult("The call has ended", "Thank you for your visit.")
					}
				})
				return
			case <-t.C:
				src := c.Remote()
				if src == nil {
					continue
				}
				img, n := src.Latest()
				if img == nil || n == last {
					continue
				}
				last = n
				k.do(func() {
					if k.sess != s {
						return
					}
					waiting.Hide()
					video.Image = img
					video.Refresh()
				})
			}
		}
	}()
}

// showWarning asks whether the customer is still there.
func (k *Kiosk) showWarning() {
	secs := int(k.opts.IdleWarning / time.Second)
	content := container.NewVBox(
		heading("Are you still there?", 36),
		wrapped(fmt.Sprintf("For your privacy this kiosk starts over in %d seconds.", secs)),
		tall(k.button("Yes, continue", theme.ConfirmIcon(), widget.HighImportance, func() {}), 80),
	)
	k.warning = widget.NewModalPopUp(container.NewPadded(content), k.win.Canvas())
	k.warning.Show()
}

// showPIN asks for the admin PIN to leave kiosk mode.
func (k *Kiosk) showPIN() {
	k.lastInput = k.clock.Now()
	status := wrapped("")
	body, _ := k.newKeypad("Administrator", "Enter the kiosk's PIN to leave kiosk mode.", minPINLen, maxPINLen, true,
		func(kp *keypad) {
			pin := string(kp.digits)
			kp.wipe()
			kp.ok.Disable()
			status.SetText("Checking …")
			run(k, k.ctx, func(ctx context.Context) (struct{}, error) {
				return struct{}{}, k.relay.Unlock(ctx, pin)
			}, func(_ struct{}, err error) {
				if k.screen != "pin" {
					return
				}
				switch {
				case errors.Is(err, ErrWrongPIN):
					k.log.Warn("kiosk: wrong admin PIN")
					status.SetText("Wrong PIN.")
				case errors.Is(err, ErrTooManyAttempts):
					k.log.Warn("kiosk: too many wrong admin PINs")
					status.SetText("Too many wrong PINs. Try again later.")
				case err != nil:
					status.SetText(message(err))
				default:
					k.log.Info("kiosk: unlocked")
					k.showAdmin()
				}
			})
		}, k.showAttract)
	k.setScreen("pin", container.NewBorder(nil, container.NewPadded(status), nil, nil, body))
}

// showAdmin is shown after the PIN was accepted.
func (k *Kiosk) showAdmin() {
	k.setScreen("admin", container.NewCenter(container.NewVBox(
		heading("Kiosk administration", 40),
		wrapped(fmt.Sprintf("Kiosk %q of %s.", k.me.Name, k.me.TenantName)),
		tall(k.button("Leave kiosk mode", theme.LogoutIcon(), widget.DangerImportance, func() {
			k.log.Info("kiosk: leaving kiosk mode")
			if k.opts.OnExit != nil {
				k.opts.OnExit()
				return
			}
			k.app.Quit()
		}), 80),
		tall(k.button("Set up again (forget this pairing)", theme.DeleteIcon(), widget.MediumImportance, func() {
			if err := k.opts.Pairing.Clear(); err != nil {
				k.log.Error("kiosk: forgetting the pairing", "err", err)
			}
			k.showSetup("")
		}), 80),
		tall(k.button("Back to the kiosk", theme.NavigateBackIcon(), widget.HighImportance, k.showAttract), 80),
	)))
}

// message turns an error into text for the screen.
func message(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "The server did not answer in time. Please try again."
	case errors.Is(err, context.Canceled):
		return "Cancelled."
	}
	return err.Error()
}

// normaliseAddr trims addr and adds "https://" when no scheme is given.
func normaliseAddr(addr string) string {
	addr = strings.TrimSpace(addr)
	if addr != "" && !strings.Contains(addr, "://") {
		addr = "https://" + addr
	}
	return strings.TrimRight(addr, "/")
}
