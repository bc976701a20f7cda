package app

import (
	"context"
	"errors"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// Preference keys. The password is never stored.
const (
	prefAddr     = "relay.addr"
	prefTenant   = "login.tenant"
	prefUsername = "login.username"
)

// RememberedRelay returns the relay address the app remembered from the
// last successful sign-in, or "".
func RememberedRelay(p fyne.Preferences) string { return p.String(prefAddr) }

// callTimeout bounds every Relay call made by the UI. Connecting may try
// QUIC before falling back to TCP, so it is generous.
const callTimeout = 20 * time.Second

// UI is Parley's desktop window and the state behind it. Build it with
// [New]; all of its methods must be called on the Fyne UI thread.
type UI struct {
	app   fyne.App
	win   fyne.Window
	relay Relay
	prefs fyne.Preferences
	opts  Options

	// do hands f to the UI thread; fyne.Do outside tests.
	do func(f func())

	// ctx is cancelled when the window closes; every call derives from it.
	ctx    context.Context
	cancel context.CancelFunc

	login *loginScreen
	// sess is the signed-in session, nil on the login screen.
	sess *session
}

// session is the state of one sign-in; its context is cancelled on sign
// out, so that results of calls still running are dropped.
type session struct {
	ctx       context.Context
	cancel    context.CancelFunc
	addr      string
	transport string
	account   Account
	// password is the password used to sign in, kept only while the relay
	// requires a new one (to prefill "current password"), then cleared.
	password string
	// work is the workspace once shown.
	work *workspace
}

// New builds Parley's window on a with the sign-in screen as its content;
// call Show or ShowAndRun to put it on screen. New does not contact the
// relay; that happens when the user signs in.
func New(a fyne.App, opts Options) *UI {
	return newUI(a, opts, fyne.Do)
}

func newUI(a fyne.App, opts Options, do func(func())) *UI {
	u := &UI{app: a, relay: opts.Relay, prefs: opts.Prefs, opts: opts, do: do}
	if u.prefs == nil {
		u.prefs = a.Preferences()
	}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	u.win = a.NewWindow("Parley")
	u.win.SetOnClosed(func() {
		if u.sess != nil {
			u.sess.cancel()
		}
		u.cancel()
	})
	u.win.Resize(fyne.NewSize(980, 660))
	u.login = newLoginScreen(u)
	u.setContent(u.login.content, u.login.firstEmpty())
	return u
}

// Window returns the UI's window.
func (u *UI) Window() fyne.Window { return u.win }

// Kiosk reports whether the UI was started for a kiosk computer (then it
// does not offer kiosk calls to accept); the kiosk shell itself is
// app/kiosk.
func (u *UI) Kiosk() bool { return u.opts.Kiosk }

// Show shows the window without running the event loop.
func (u *UI) Show() { u.win.Show() }

// ShowAndRun shows the window and runs the application until it quits.
func (u *UI) ShowAndRun() { u.win.ShowAndRun() }

// setContent replaces the window's content and focuses focus, if any.
func (u *UI) setContent(c fyne.CanvasObject, focus fyne.Focusable) {
	u.win.SetContent(c)
	if focus != nil {
		u.win.Canvas().Focus(focus)
	}
}

// showLogin shows the sign-in screen with an optional status message.
func (u *UI) showLogin(status string) {
	u.login.reset(status)
	u.setContent(u.login.content, u.login.firstEmpty())
}

// startSession is called when Login succeeded.
func (u *UI) startSession(addr, transport, password string, acc Account) {
	ctx, cancel := context.WithCancel(u.ctx)
	u.sess = &session{ctx: ctx, cancel: cancel, addr: addr, transport: transport, account: acc}
	if acc.MustChangePassword {
		u.sess.password = password
		u.showChangePassword()
		return
	}
	u.showWorkspace()
}

// showWorkspace shows the workspace of the current session.
func (u *UI) showWorkspace() {
	s := u.sess
	s.password = ""
	s.work = newWorkspace(u, s)
	u.setContent(s.work.content, nil)
	u.watchKioskCalls(s)
}

// signOut tells the relay (off the UI thread) and returns to the sign-in
// screen. The local session ends even when the relay cannot be told.
func (u *UI) signOut(b *busyButton) {
	s := u.sess
	if s == nil {
		return
	}
	b.set(true)
	run(u, u.ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, u.relay.Logout(ctx)
	}, func(_ struct{}, err error) {
		b.set(false)
		if u.sess != s {
			return
		}
		s.cancel()
		u.sess = nil
		if err != nil {
			u.showLogin("Signed out on this computer. The relay could not be told: " + message(err))
			return
		}
		u.showLogin("Signed out.")
	})
}

// runBusy is run for a session's form: b shows the call as running; when
// it ends and the session is still the same, b is cleared and an error
// goes to st in words, a result to ok.
func runBusy[T any](u *UI, s *session, b *busyButton, st statusLabel, fn func(context.Context) (T, error), ok func(T)) {
	b.set(true)
	run(u, s.ctx, fn, func(v T, err error) {
		if s.ctx.Err() != nil {
			return
		}
		b.set(false)
		if err != nil {
			st.fail(message(err))
			return
		}
		ok(v)
	})
}

// run calls fn on its own goroutine with a context derived from parent
// that times out after callTimeout, and hands the result to done on the UI
// thread. done runs even when parent was cancelled, with the context's
// error; callers drop results they no longer need.
func run[T any](u *UI, parent context.Context, fn func(context.Context) (T, error), done func(T, error)) {
	go func() {
		ctx, cancel := context.WithTimeout(parent, callTimeout)
		defer cancel()
		v, err := fn(ctx)
		u.do(func() { done(v, err) })
	}()
}

// message turns an error from the Relay into text for the user. The link
// client's messages are already human; only timeouts and cancellations
// get a better wording here.
func message(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "The relay did not answer in time. Check the address and your network, then try again."
	case errors.Is(err, context.Canceled):
		return "Cancelled."
	}
	return err.Error()
}

// busyButton ties a button to the activity indicator shown while the call
// it started runs.
type busyButton struct {
	btn  *widget.Button
	act  *widget.Activity
	busy bool
}

func newBusyButton(label string, icon fyne.Resource, tapped func()) *busyButton {
	b := &busyButton{btn: widget.NewButtonWithIcon(label, icon, tapped), act: widget.NewActivity()}
	b.act.Hide()
	return b
}

// set marks the call as running (button disabled, indicator on) or done.
func (b *busyButton) set(on bool) {
	b.busy = on
	if on {
		b.btn.Disable()
		b.act.Show()
		b.act.Start()
		return
	}
	b.btn.Enable()
	b.act.Stop()
	b.act.Hide()
}

// row lays the button out with its indicator to the left of it.
func (b *busyButton) row() fyne.CanvasObject {
	return container.NewHBox(b.act, b.btn)
}

// statusLabel is a wrapping label for progress and error messages.
type statusLabel struct{ *widget.Label }

func newStatusLabel() statusLabel {
	l := widget.NewLabel("")
	l.Wrapping = fyne.TextWrapWord
	return statusLabel{l}
}

// info shows a neutral message.
func (s statusLabel) info(text string) {
	s.Importance = widget.MediumImportance
	s.SetText(text)
}

// fail shows an error message.
func (s statusLabel) fail(text string) {
	s.Importance = widget.DangerImportance
	s.SetText(text)
}

// ok shows a success message.
func (s statusLabel) ok(text string) {
	s.Importance = widget.SuccessImportance
	s.SetText(text)
}

// roleName is the human name of a role.
func roleName(role string) string {
	switch role {
	case "admin":
		return "Administrator"
	case "advisor":
		return "Advisor"
	}
	return role
}

// normaliseAddr trims addr and adds "https://" when no scheme is given.
func normaliseAddr(addr string) string {
	addr = strings.TrimSpace(addr)
	if addr != "" && !strings.Contains(addr, "://") {
		addr = "https://" + addr
	}
	return strings.TrimRight(addr, "/")
}
