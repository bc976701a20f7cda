package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	"github.com/pion/webrtc/v4"

	"parley/app"
	"parley/app/kiosk"
	"parley/mediaengine"
	"parley/relay/sfu"
	"parley/signpad"
	"parley/signpad/evdev"
	"parley/sync/link"
)

// runKiosk runs the app as a branch kiosk (--kiosk) until it quits: the
// kiosk shell of app/kiosk on the relay link, the pen tablet
// (PARLEY_KIOSK_PEN, else the first evdev device that looks like a pen),
// and a private data folder (PARLEY_KIOSK_DIR, else the user's config
// folder) whose session/ subfolder is the process's temporary folder and is
// emptied after every customer.
func runKiosk(a fyne.App, relayURL string) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dir, err := kioskDataDir()
	if err != nil {
		return err
	}
	session := filepath.Join(dir, "session")
	if err := os.MkdirAll(session, 0o700); err != nil {
		return fmt.Errorf("kiosk session folder: %w", err)
	}
	// Temporary files of any library land in the session folder.
	_ = os.Setenv("TMPDIR", session)

	prefs := a.Preferences()
	c := link.New(link.Options{Pins: prefPins{prefs}, Logger: log})
	defer c.Close()
	pairing := &prefPairing{p: prefs, keyFile: filepath.Join(dir, "kiosk.key")}
	if relayURL != "" {
		if fp := os.Getenv("PARLEY_RELAY_FINGERPRINT"); fp != "" {
			if err := c.Trust(relayURL, fp); err != nil {
				return fmt.Errorf("pin PARLEY_RELAY_FINGERPRINT: %w", err)
			}
		}
		// A token given with the address pairs the kiosk without the
		// setup screen (deployment scripts, tests).
		if tok := os.Getenv("PARLEY_KIOSK_TOKEN"); tok != "" {
			if err := pairing.Save(kiosk.Pairing{Addr: relayURL, Token: tok}); err != nil {
				return err
			}
		}
	}
	rel := &linkKiosk{c: c, log: log, synthetic: os.Getenv("PARLEY_SYNTHETIC_MEDIA") != ""}
	opts := kiosk.Options{Relay: rel, Pairing: pairing, SessionDir: session, Logger: log,
		Windowed: os.Getenv("PARLEY_KIOSK_WINDOWED") != ""}
	// Leaving with the admin PIN also ends the Settings choice, so the next
	// start is the advisor app (unless --kiosk is given again).
	opts.OnExit = func() {
		app.SetStartAsKiosk(prefs, false)
		a.Quit()
	}
	if pen := findPen(os.Getenv("PARLEY_KIOSK_PEN"), log); pen != nil {
		opts.Pen = pen
	}
	k, err := kiosk.New(a, opts)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fyne.Do(a.Quit)
	}()
	k.ShowAndRun()
	k.Close()
	return nil
}

// kioskDataDir is PARLEY_KIOSK_DIR or <config>/parley/kiosk.
func kioskDataDir() (string, error) {
	if d := os.Getenv("PARLEY_KIOSK_DIR"); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("kiosk folder: %w", err)
	}
	return filepath.Join(base, "parley", "kiosk"), nil
}

// prefPairing keeps the pairing in the app's preferences; the token is
// encrypted with AES-256-GCM under a key kept in a file of mode 0600 in
// the kiosk's folder (as the Inbox's cache keeps its key).
type prefPairing struct {
	p       fyne.Preferences
	keyFile string
}

const (
	prefKioskAddr  = "kiosk.addr"
	prefKioskToken = "kiosk.token"
)

var _ kiosk.PairingStore = (*prefPairing)(nil)

func (s *prefPairing) key(create bool) ([]byte, error) {
	b, err := os.ReadFile(s.keyFile)
	if err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("kiosk: key file %s is not 64 hex digits", s.keyFile)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		return nil, fmt.Errorf("kiosk: reading the key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(s.keyFile), 0o700); err != nil {
		return nil, fmt.Errorf("kiosk: creating the key folder: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.keyFile, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("kiosk: writing the key file: %w", err)
	}
	return k, nil
}

func (s *prefPairing) aead(create bool) (cipher.AEAD, error) {
	k, err := s.key(create)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Load implements kiosk.PairingStore.
func (s *prefPairing) Load() (kiosk.Pairing, bool, error) {
	addr, enc := s.p.String(prefKioskAddr), s.p.String(prefKioskToken)
	if addr == "" || enc == "" {
		return kiosk.Pairing{}, false, nil
	}
	g, err := s.aead(false)
	if err != nil {
		return kiosk.Pairing{}, false, err
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(raw) < g.NonceSize() {
		return kiosk.Pairing{}, false, errors.New("kiosk: the stored token is damaged")
	}
	tok, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], []byte(addr))
	if err != nil {
		return kiosk.Pairing{}, false, errors.New("kiosk: the stored token cannot be decrypted")
	}
	return kiosk.Pairing{Addr: addr, Token: string(tok)}, true, nil
}

// Save implements kiosk.PairingStore.
func (s *prefPairing) Save(p kiosk.Pairing) error {
	g, err := s.aead(true)
	if err != nil {
		return err
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	s.p.SetString(prefKioskAddr, p.Addr)
	s.p.SetString(prefKioskToken, base64.StdEncoding.EncodeToString(g.Seal(nonce, nonce, []byte(p.Token), []byte(p.Addr))))
	return nil
}

// Clear implements kiosk.PairingStore.
func (s *prefPairing) Clear() error {
	s.p.RemoveValue(prefKioskAddr)
	s.p.RemoveValue(prefKioskToken)
	return nil
}

// linkKiosk adapts the link client to the kiosk's Relay.
type linkKiosk struct {
	c         *link.Client
	log       *slog.Logger
	synthetic bool
	// loopbackOnly keeps the call's ICE on loopback (tests).
	loopbackOnly bool
}

var _ kiosk.Relay = (*linkKiosk)(nil)

// kioskErr maps the relay's codes onto the kiosk's sentinels.
func kioskErr(err error) error {
	var ae *link.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, link.ErrNotLoggedIn):
		return fmt.Errorf("%w: %w", kiosk.ErrUnpaired, err)
	case !errors.As(err, &ae):
		return forUI(err)
	case ae.Code == link.CodeInvalidCode:
		return fmt.Errorf("%w: %w", kiosk.ErrWrongCode, err)
	case ae.Code == link.CodeWrongPIN:
		return fmt.Errorf("%w: %w", kiosk.ErrWrongPIN, err)
	case ae.Code == link.CodeThrottled:
		return fmt.Errorf("%w: %w", kiosk.ErrTooManyAttempts, err)
	case ae.Code == link.CodeUnauthenticated:
		return fmt.Errorf("%w: %w", kiosk.ErrUnpaired, err)
	}
	return forUI(err)
}

func (r *linkKiosk) Connect(ctx context.Context, addr string) error {
	_, err := r.c.Connect(ctx, strings.TrimSpace(addr))
	return forUI(err)
}

func (r *linkKiosk) Trust(addr, fp string) error { return forUI(r.c.Trust(addr, fp)) }

func (r *linkKiosk) UseToken(token string) error { return forUI(r.c.UseKioskToken(token)) }

func (r *linkKiosk) Me(ctx context.Context) (kiosk.Me, error) {
	me, err := r.c.KioskMe(ctx)
	if err != nil {
		return kiosk.Me{}, kioskErr(err)
	}
	return kiosk.Me{ID: me.ID, Name: me.Name, TenantName: me.TenantName}, nil
}

func (r *linkKiosk) Open(ctx context.Context, code string) (kiosk.Document, error) {
	d, err := r.c.KioskOpen(ctx, code)
	if err != nil {
		return kiosk.Document{}, kioskErr(err)
	}
	doc := kiosk.Document{Token: d.Token, Session: d.Session, Signer: d.Signer, Title: d.Title, Pages: len(d.Pages)}
	for _, f := range d.Fields {
		kf := kiosk.Field{ID: f.ID, Page: f.Page, Signature: f.Kind == "signature", Label: f.Label}
		if f.Page >= 1 && f.Page <= len(d.Pages) {
			kf.Box = fieldBox(d.Pages[f.Page-1], f.Rect)
		}
		doc.Fields = append(doc.Fields, kf)
	}
	return doc, nil
}

// fieldBox places a field's rectangle (PDF points, lower-left origin) on
// the shown page as fractions from the top-left corner; zero for rotated
// pages and impossible boxes.
func fieldBox(p link.SigningPageInfo, r link.SigningRect) [4]float32 {
	crop := p.CropBox
	if crop.URX-crop.LLX <= 0 || crop.URY-crop.LLY <= 0 {
		crop = p.MediaBox
	}
	w, h := crop.URX-crop.LLX, crop.URY-crop.LLY
	if p.Rotate%360 != 0 || w <= 0 || h <= 0 {
		return [4]float32{}
	}
	clamp := func(v float64) float32 { return float32(min(max(v, 0), 1)) }
	return [4]float32{clamp((r.LLX - crop.LLX) / w), clamp((crop.URY - r.URY) / h), clamp((r.URX - crop.LLX) / w), clamp((crop.URY - r.LLY) / h)}
}

// maxPageSide bounds a decoded page image's side.
const maxPageSide = 4000

func (r *linkKiosk) Page(ctx context.Context, doc kiosk.Document, n, width int) (image.Image, error) {
	b, err := r.c.SignerPage(ctx, doc.Token, doc.Session, n, width)
	if err != nil {
		return nil, kioskErr(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width > maxPageSide || cfg.Height > maxPageSide {
		return nil, fmt.Errorf("page %d: not a readable PNG of a page's size", n)
	}
	img, err := png.Decode(bytes.NewReader(b))
	clear(b)
	if err != nil {
		return nil, fmt.Errorf("page %d: %w", n, err)
	}
	return img, nil
}

func (r *linkKiosk) Submit(ctx context.Context, doc kiosk.Document, s kiosk.Submission) error {
	return kioskErr(r.c.SignerSubmit(ctx, doc.Token, doc.Session, link.KioskSubmission{Texts: s.Texts, ISO19794: s.ISO19794, Device: s.Device}))
}

func (r *linkKiosk) Unlock(ctx context.Context, pin string) error {
	return kioskErr(r.c.KioskUnlock(ctx, pin))
}

func toCallRequest(k link.KioskCall) kiosk.CallRequest {
	return kiosk.CallRequest{ID: k.ID, Status: k.Status, MeetingID: k.MeetingID, Secret: k.ParticipantSecret}
}

func (r *linkKiosk) CallAdvisor(ctx context.Context) (kiosk.CallRequest, error) {
	k, err := r.c.KioskCallAdvisor(ctx)
	return toCallRequest(k), kioskErr(err)
}

func (r *linkKiosk) CallStatus(ctx context.Context, id string) (kiosk.CallRequest, error) {
	k, err := r.c.KioskCallStatus(ctx, id)
	return toCallRequest(k), kioskErr(err)
}

func (r *linkKiosk) CancelCall(ctx context.Context, id string) error {
	return kioskErr(r.c.KioskCancelCall(ctx, id))
}

// JoinCall joins the meeting as a guest over the relay's signalling
// WebSocket, with the kiosk's camera and microphone (or the synthetic
// ones).
func (r *linkKiosk) JoinCall(ctx context.Context, meetingID, secret string) (kiosk.Call, error) {
	lc := &linkCalls{c: r.c, log: r.log, synthetic: r.synthetic}
	cam, mic, _ := lc.sources()
	var se webrtc.SettingEngine
	switch {
	case r.loopbackOnly:
		sfu.LoopbackOnly(&se)
	case relayOnThisMachine(r.c.BaseURL()):
		se.SetIncludeLoopbackCandidate(true)
	}
	call, err := mediaengine.Start(context.Background(), mediaengine.Options{
		Dial: func(ctx context.Context) (mediaengine.Conn, error) {
			g, err := r.c.GuestSignal(ctx)
			if err != nil {
				return nil, err
			}
			return g, nil
		},
		Token: secret, Camera: cam, Microphone: mic, SettingEngine: se,
		Player: lc.playerOnce(), Logger: r.log.With("meeting", meetingID),
	})
	if err != nil {
		return nil, forUI(err)
	}
	return &kioskCall{call: call, lc: lc}, nil
}

// kioskCall adapts the media engine's call to the kiosk's Call.
type kioskCall struct {
	call *mediaengine.Call
	lc   *linkCalls
	once sync.Once
}

func (k *kioskCall) Remote() kiosk.VideoSource {
	for _, t := range k.call.Tracks() {
		if t.Kind == mediaengine.KindCamera || t.Kind == mediaengine.KindScreen {
			return remoteVideo{t}
		}
	}
	return nil
}

type remoteVideo struct{ t *mediaengine.RemoteTrack }

func (v remoteVideo) Latest() (image.Image, uint64) { return v.t.Latest(), v.t.Decoded() }

func (k *kioskCall) SetMuted(m bool) error { return forUI(k.call.SetMuted(m)) }

func (k *kioskCall) Done() <-chan struct{} { return k.call.Done() }

func (k *kioskCall) Leave() error {
	k.once.Do(func() {
		_ = k.call.Close()
		k.lc.close()
	})
	return nil
}

// findPen opens the pen tablet: path if given (an evdev device, or a
// recorded stream of input_event records — a file or a named pipe — with
// its device description in path + ".json"), else the first
// /dev/input/event* device with absolute X/Y and a pen tool. nil means
// none: the kiosk takes signatures on the touch screen or with the mouse.
func findPen(path string, log *slog.Logger) kiosk.Pen {
	if path != "" {
		st, err := os.Stat(path)
		if err != nil {
			log.Warn("kiosk: pen not found", "err", err)
			return nil
		}
		if st.Mode()&os.ModeCharDevice != 0 {
			return &livePen{path: path, log: log}
		}
		b, err := os.ReadFile(path + ".json")
		if err != nil {
			log.Warn("kiosk: recorded pen stream without its description", "err", err)
			return nil
		}
		var info evdev.Info
		if err := json.Unmarshal(b, &info); err != nil {
			log.Warn("kiosk: pen description unreadable", "err", err)
			return nil
		}
		return &replayPen{path: path, info: info, fifo: st.Mode()&os.ModeNamedPipe != 0}
	}
	paths, _ := filepath.Glob("/dev/input/event*")
	for _, p := range paths {
		l, err := evdev.Open(p, false)
		if err != nil {
			continue
		}
		info := l.Info()
		_ = l.Close()
		if info.Keys[evdev.BtnToolPen] {
			log.Info("kiosk: pen tablet found", "device", p)
			return &livePen{path: p, log: log}
		}
	}
	return nil
}

// livePen reads an evdev pen tablet, grabbed so it does not move the
// mouse pointer. A decoder is replaced when it reaches its report limit,
// the device reopened when it fails (unplugged).
type livePen struct {
	path string
	log  *slog.Logger
	mu   sync.Mutex
	name string
}

func (p *livePen) Name() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "evdev: " + p.name
}

func (p *livePen) Run(ctx context.Context, emit func(signpad.Device, signpad.Sample)) error {
	for ctx.Err() == nil {
		l, err := evdev.Open(p.path, true)
		if err != nil {
			p.log.Warn("kiosk: opening the pen", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
			continue
		}
		p.mu.Lock()
		p.name = l.Info().Name
		p.mu.Unlock()
		stop := context.AfterFunc(ctx, func() { _ = l.Close() })
		err = pump(ctx, l.Decoder, emit)
		stop()
		_ = l.Close()
		if ctx.Err() == nil {
			p.log.Warn("kiosk: pen stopped, reopening", "err", err)
			time.Sleep(time.Second)
		}
	}
	return nil
}

// pump reads samples until an error other than a decoder's report limit
// (after which a fresh decoder continues on the same device).
func pump(ctx context.Context, newDecoder func() *evdev.Decoder, emit func(signpad.Device, signpad.Sample)) error {
	d := newDecoder()
	for ctx.Err() == nil {
		s, err := d.Next()
		if errors.Is(err, signpad.ErrTooManySamples) || errors.Is(err, signpad.ErrTimeBackwards) {
			d = newDecoder()
			continue
		}
		if err != nil {
			return err
		}
		emit(d.Device(), s)
	}
	return ctx.Err()
}

// replayPen plays a recorded stream: a file once, a named pipe every time
// a writer opens it.
type replayPen struct {
	path string
	info evdev.Info
	fifo bool
}

func (p *replayPen) Name() string { return "evdev: " + p.info.Name }

func (p *replayPen) Run(ctx context.Context, emit func(signpad.Device, signpad.Sample)) error {
	for ctx.Err() == nil {
		f, err := os.Open(p.path) // blocks until a writer opens a pipe
		if err != nil {
			return fmt.Errorf("kiosk: opening the recorded pen stream: %w", err)
		}
		stop := context.AfterFunc(ctx, func() { _ = f.Close() })
		err = pump(ctx, func() *evdev.Decoder { return evdev.NewDecoder(f, p.info.Device()) }, emit)
		stop()
		_ = f.Close()
		if !p.fifo {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	return nil
}

// Advisors' side of kiosk calls (app.KioskCallRelay).

var _ app.KioskCallRelay = (*linkRelay)(nil)

func (r *linkRelay) KioskCalls(ctx context.Context) ([]app.KioskCall, error) {
	list, err := r.c.KioskCalls(ctx)
	if err != nil {
		return nil, forUI(err)
	}
	out := make([]app.KioskCall, len(list))
	for i, c := range list {
		out[i] = app.KioskCall{ID: c.ID, KioskName: c.KioskName, Created: c.CreatedAt}
	}
	return out, nil
}

func (r *linkRelay) AcceptKioskCall(ctx context.Context, id string) (app.MeetingInfo, error) {
	m, err := r.c.AcceptKioskCall(ctx, id)
	var ae *link.APIError
	if errors.As(err, &ae) && ae.Code == link.CodeAlreadyTaken {
		return app.MeetingInfo{}, fmt.Errorf("%w: %w", app.ErrKioskCallTaken, forUI(err))
	}
	if err != nil {
		return app.MeetingInfo{}, forUI(err)
	}
	return toMeetingInfo(m), nil
}
