package kiosk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"parley/relay/clock"
	"parley/signpad"
)

// Defaults for [Options].
const (
	DefaultIdleTimeout = 90 * time.Second
	DefaultIdleWarning = 15 * time.Second
	DefaultResultDelay = 10 * time.Second
	DefaultCallPoll    = 2 * time.Second
	// callTimeout bounds every Relay call but JoinCall's media setup and
	// page images.
	callTimeout = 20 * time.Second
	// pageTimeout bounds fetching a page image: a relay renders the first
	// page after a start slowly (it compiles its PDF renderer).
	pageTimeout = 90 * time.Second
	// cornerTaps taps in the top-left corner within cornerWindow open the
	// PIN screen.
	cornerTaps   = 5
	cornerWindow = 4 * time.Second
	// reconnectEvery is how often a kiosk that cannot reach its relay
	// tries again.
	reconnectEvery = 10 * time.Second
)

// Options configure a [Kiosk].
type Options struct {
	// Relay is the relay as the kiosk device sees it. Required.
	Relay Relay
	// Pairing keeps the relay address and the kiosk token. Required.
	Pairing PairingStore
	// Pen is the pen tablet; nil means the touch screen or mouse only.
	Pen Pen
	// SessionDir is the per-session folder (temporary files, caches) that
	// is emptied after every customer; empty means none.
	SessionDir string
	// Clock tells the time for the idle timer; nil means the wall clock.
	Clock clock.Clock
	// IdleTimeout ends a customer's session after this long without
	// input; IdleWarning before that, "Are you still there?" is shown.
	// Zero means DefaultIdleTimeout and DefaultIdleWarning.
	IdleTimeout, IdleWarning time.Duration
	// ResultDelay is how long the thank-you and notice screens stay
	// before the attract screen returns; zero means DefaultResultDelay.
	ResultDelay time.Duration
	// CallPoll is how often the state of a call request is read; zero
	// means DefaultCallPoll.
	CallPoll time.Duration
	// Ticks drives the idle timer; nil means a one-second ticker. Tests
	// pass their own channel.
	Ticks <-chan time.Time
	// OnExit is called after the admin PIN was accepted and "Leave kiosk
	// mode" chosen; nil quits the app.
	OnExit func()
	// Logger receives the kiosk's logs (screen changes, ids and errors,
	// never customer data). Nil discards them.
	Logger *slog.Logger
	// Windowed keeps the window out of full-screen mode (tests, demos).
	Windowed bool
}

// Kiosk is the kiosk shell: its window and the state behind it. Build it
// with [New]; its methods must be called on the Fyne UI thread.
type Kiosk struct {
	app   fyne.App
	win   fyne.Window
	opts  Options
	relay Relay
	log   *slog.Logger
	clock clock.Clock
	do    func(func())

	ctx    context.Context
	cancel context.CancelFunc

	me     Me
	paired bool
	// screen names the current screen ("setup", "attract", "code",
	// "sign", "thanks", "waiting", "call", "pin", "admin", "offline").
	screen string
	// sess is the customer's session; nil on the attract screen.
	sess *session
	// resultUntil is when a thank-you or notice screen gives way to the
	// attract screen; zero otherwise.
	resultUntil time.Time
	lastInput   time.Time
	warning     *widget.PopUp
	taps        []time.Time
	// onRune and onKey receive typed characters and keys on screens
	// with a keypad; nextRune and nextKey are the handlers of the screen
	// being built, installed by setScreen.
	onRune, nextRune func(r rune)
	onKey, nextKey   func(k fyne.KeyName)
	// retryAt is when the offline screen tries to reach the relay again.
	retryAt time.Time

	penMu      sync.Mutex
	penPending []penSample
	penQueued  bool
	penTarget  *pad // the pad taking pen samples; guarded by penMu
}

type penSample struct {
	dev signpad.Device
	s   signpad.Sample
}

// session is one customer's visit. Its context is cancelled when it ends,
// so results of calls still running are dropped.
type session struct {
	ctx    context.Context
	cancel context.CancelFunc
	// doc is the opened document; pad the signature being captured.
	doc *Document
	pad *pad
	// req is the call request, call the call once joined.
	req  *CallRequest
	call Call
	// inCall suspends the idle timer while talking to an advisor or
	// waiting for one.
	inCall bool
	// record is the submitted ISO record, zeroed on wipe.
	record []byte
}

// New builds the kiosk's window on a (full-screen unless
// Options.Windowed) with the setup screen, or the attract screen when the
// kiosk is already paired; call Show or ShowAndRun to put it on screen.
func New(a fyne.App, opts Options) (*Kiosk, error) {
	return newKiosk(a, opts, fyne.Do)
}

func newKiosk(a fyne.App, opts Options, do func(func())) (*Kiosk, error) {
	if opts.Relay == nil || opts.Pairing == nil {
		return nil, errors.New("kiosk: Options.Relay and Options.Pairing are required")
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.IdleWarning <= 0 || opts.IdleWarning >= opts.IdleTimeout {
		opts.IdleWarning = min(DefaultIdleWarning, opts.IdleTimeout/2)
	}
	if opts.ResultDelay <= 0 {
		opts.ResultDelay = DefaultResultDelay
	}
	if opts.CallPoll <= 0 {
		opts.CallPoll = DefaultCallPoll
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	k := &Kiosk{app: a, opts: opts, relay: opts.Relay, log: log, clock: clock.Or(opts.Clock), do: do}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	a.Settings().SetTheme(kioskTheme{})
	k.win = a.NewWindow("Parley Kiosk")
	k.win.SetPadded(false)
	k.win.SetCloseIntercept(func() {}) // only the admin PIN ends kiosk mode
	k.win.SetOnClosed(k.cancel)
	if !opts.Windowed {
		k.win.SetFullScreen(true)
	}
	k.win.Resize(fyne.NewSize(1280, 800))
	k.win.Canvas().SetOnTypedRune(func(r rune) {
		k.touch()
		if k.onRune != nil {
			k.onRune(r)
		}
	})
	k.win.Canvas().SetOnTypedKey(func(e *fyne.KeyEvent) {
		k.touch()
		if k.onKey != nil {
			k.onKey(e.Name)
		}
	})
	if err := k.wipeDir(); err != nil {
		return nil, err
	}
	if opts.Pen != nil {
		go func() {
			if err := opts.Pen.Run(k.ctx, k.penEmit); err != nil && k.ctx.Err() == nil {
				k.log.Warn("kiosk: pen stopped", "err", err)
			}
		}()
	}
	ticks := opts.Ticks
	if ticks == nil {
		t := time.NewTicker(time.Second)
		ticks = t.C
		context.AfterFunc(k.ctx, t.Stop)
	}
	go func() {
		for {
			select {
			case <-k.ctx.Done():
				return
			case <-ticks:
				k.do(k.tick)
			}
		}
	}()
	k.start()
	return k, nil
}

// Window returns the kiosk's window.
func (k *Kiosk) Window() fyne.Window { return k.win }

// Show shows the window without running the event loop.
func (k *Kiosk) Show() { k.win.Show() }

// ShowAndRun shows the window and runs the application until it quits.
func (k *Kiosk) ShowAndRun() { k.win.ShowAndRun() }

// Screen names the screen shown: "setup", "offline", "attract", "code",
// "sign", "thanks", "waiting", "call", "pin" or "admin".
func (k *Kiosk) Screen() string { return k.screen }

// Close stops the kiosk's background work and ends the session.
func (k *Kiosk) Close() {
	if k.sess != nil {
		k.endSession(false)
	}
	k.cancel()
}

// start loads the pairing and connects, or shows the setup screen.
func (k *Kiosk) start() {
	p, ok, err := k.opts.Pairing.Load()
	if err != nil {
		k.log.Warn("kiosk: reading the pairing", "err", err)
	}
	if !ok || err != nil {
		k.showSetup("")
		return
	}
	k.connect(p)
}

// connect reaches the paired relay and shows the attract screen, or the
// offline screen (retried) or, for a token the relay no longer knows, the
// setup screen.
func (k *Kiosk) connect(p Pairing) {
	k.setScreen("offline", offlineScreen(k, "Connecting …"))
	run(k, k.ctx, func(ctx context.Context) (Me, error) {
		if err := k.relay.Connect(ctx, p.Addr); err != nil {
			return Me{}, err
		}
		if err := k.relay.UseToken(p.Token); err != nil {
			return Me{}, err
		}
		return k.relay.Me(ctx)
	}, func(me Me, err error) {
		switch {
		case errors.Is(err, ErrUnpaired):
			k.log.Warn("kiosk: the relay does not know this kiosk any more")
			_ = k.opts.Pairing.Clear()
			k.showSetup("This kiosk is no longer registered with the relay. Set it up again with a new kiosk token.")
		case err != nil:
			k.log.Warn("kiosk: cannot reach the relay", "err", err)
			k.retryAt = k.clock.Now().Add(reconnectEvery)
			k.setScreen("offline", offlineScreen(k, "This kiosk cannot reach its server at the moment. It tries again by itself."))
		default:
			k.me, k.paired = me, true
			k.log.Info("kiosk: connected", "kiosk", me.ID)
			k.showAttract()
		}
	})
}

// setScreen replaces the window's content; it logs the screen's name
// (no data).
func (k *Kiosk) setScreen(name string, c fyne.CanvasObject) {
	k.onRune, k.onKey = k.nextRune, k.nextKey
	k.nextRune, k.nextKey = nil, nil
	k.screen = name
	k.win.SetContent(c)
	k.log.Info("kiosk: screen", "screen", name)
}

// touch records customer input for the idle timer and hides the warning.
func (k *Kiosk) touch() {
	k.lastInput = k.clock.Now()
	if k.warning != nil {
		k.warning.Hide()
		k.warning = nil
	}
}

// tick runs every second on the UI thread: idle timer, result screens,
// reconnecting.
func (k *Kiosk) tick() {
	now := k.clock.Now()
	if !k.resultUntil.IsZero() && !now.Before(k.resultUntil) {
		k.endSession(true)
		return
	}
	if k.screen == "offline" && !k.retryAt.IsZero() && !now.Before(k.retryAt) {
		k.retryAt = time.Time{}
		k.start()
		return
	}
	if k.idleApplies() {
		idle := now.Sub(k.lastInput)
		switch {
		case idle >= k.opts.IdleTimeout:
			k.log.Info("kiosk: idle timeout")
			k.endSession(true)
		case idle >= k.opts.IdleTimeout-k.opts.IdleWarning && k.warning == nil:
			k.showWarning()
		}
	}
}

// idleApplies reports whether the idle timer runs: during a customer's
// session (but not while talking to an advisor or waiting for one, nor on
// a result screen, which returns by itself) and on the PIN and admin
// screens.
func (k *Kiosk) idleApplies() bool {
	if k.screen == "pin" || k.screen == "admin" {
		return true
	}
	return k.sess != nil && !k.sess.inCall && k.resultUntil.IsZero()
}

// beginSession starts a customer's session.
func (k *Kiosk) beginSession() *session {
	if k.sess != nil {
		k.endSession(false)
	}
	ctx, cancel := context.WithCancel(k.ctx)
	k.sess = &session{ctx: ctx, cancel: cancel}
	k.touch()
	return k.sess
}

// EndSession ends the customer's session now: everything of it is wiped
// and the attract screen returns.
func (k *Kiosk) EndSession() { k.endSession(true) }

func (k *Kiosk) endSession(attract bool) {
	s := k.sess
	k.sess = nil
	k.resultUntil = time.Time{}
	if k.warning != nil {
		k.warning.Hide()
		k.warning = nil
	}
	k.setPenTarget(nil)
	if s != nil {
		s.cancel()
		s.wipe(k)
	}
	if err := k.wipeDir(); err != nil {
		k.log.Error("kiosk: emptying the session folder", "err", err)
	}
	if attract && k.paired {
		k.showAttract()
	}
}

// wipe forgets everything of the session: signature buffers are zeroed,
// the document's tokens dropped, a call hung up and a call request
// withdrawn.
func (s *session) wipe(k *Kiosk) {
	if s.pad != nil {
		s.pad.wipe()
		s.pad = nil
	}
	clear(s.record)
	s.record = nil
	if s.doc != nil {
		*s.doc = Document{}
		s.doc = nil
	}
	if s.call != nil {
		c := s.call
		go func() { _ = c.Leave() }()
		s.call = nil
	}
	if s.req != nil && s.req.Status == CallWaiting {
		id := s.req.ID
		go func() {
			ctx, cancel := context.WithTimeout(k.ctx, callTimeout)
			defer cancel()
			if err := k.relay.CancelCall(ctx, id); err != nil {
				k.log.Debug("kiosk: withdrawing the call request", "call", id, "err", err)
			}
		}()
	}
	s.req = nil
}

// wipeDir removes everything inside the session folder, keeping the
// folder itself.
func (k *Kiosk) wipeDir() error {
	dir := k.opts.SessionDir
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("kiosk: creating the session folder: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("kiosk: reading the session folder: %w", err)
	}
	var first error
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil && first == nil {
			first = fmt.Errorf("kiosk: emptying the session folder: %w", err)
		}
	}
	return first
}

// showResult shows a thank-you or notice screen that gives way to the
// attract screen after ResultDelay (or a tap on "Done").
func (k *Kiosk) showResult(title, text string) {
	k.resultUntil = k.clock.Now().Add(k.opts.ResultDelay)
	k.setScreen("thanks", resultScreen(k, title, text))
}

// run calls fn on its own goroutine with a timeout derived from parent
// and hands the result to done on the UI thread, unless parent ended
// meanwhile (a session that ended drops its results).
func run[T any](k *Kiosk, parent context.Context, fn func(context.Context) (T, error), done func(T, error)) {
	runFor(k, parent, callTimeout, fn, done)
}

// runFor is run with its own timeout.
func runFor[T any](k *Kiosk, parent context.Context, timeout time.Duration, fn func(context.Context) (T, error), done func(T, error)) {
	go func() {
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		v, err := fn(ctx)
		k.do(func() {
			if parent.Err() != nil {
				return
			}
			done(v, err)
		})
	}()
}

// penEmit receives pen samples on the pen's goroutine and hands them, in
// batches, to the pad on the UI thread. Samples while no pad is shown are
// dropped at once.
func (k *Kiosk) penEmit(dev signpad.Device, s signpad.Sample) {
	k.penMu.Lock()
	defer k.penMu.Unlock()
	if k.penTarget == nil {
		return
	}
	if len(k.penPending) < signpad.MaxSamples {
		k.penPending = append(k.penPending, penSample{dev, s})
	}
	if !k.penQueued {
		k.penQueued = true
		k.do(k.penFlush)
	}
}

func (k *Kiosk) penFlush() {
	k.penMu.Lock()
	batch, target := k.penPending, k.penTarget
	k.penPending, k.penQueued = nil, false
	k.penMu.Unlock()
	if target == nil || len(batch) == 0 {
		return
	}
	k.touch()
	for _, p := range batch {
		target.penSample(p.dev, p.s)
	}
	clear(batch)
}

func (k *Kiosk) setPenTarget(p *pad) {
	k.penMu.Lock()
	defer k.penMu.Unlock()
	k.penTarget = p
	clear(k.penPending)
	k.penPending = nil
}
