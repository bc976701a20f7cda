package app

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testAddr = "https://127.0.0.1:8443"

// harness drives one UI. Results of Relay calls are queued instead of going
// through fyne.Do, and eventually runs them on the test goroutine, which
// plays the part of Fyne's event loop: the widgets are touched by one
// goroutine only, as in the real app, and the tests are race-free.
type harness struct {
	t     *testing.T
	ui    *UI
	relay *fakeRelay
	prefs fyne.Preferences
	queue chan func()
}

func newHarness(t *testing.T, relay *fakeRelay, opts Options) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	if opts.Prefs == nil {
		opts.Prefs = a.Preferences()
	}
	opts.Relay = relay
	if opts.Booking == nil {
		opts.Booking = relay
	}
	h := &harness{t: t, relay: relay, prefs: opts.Prefs, queue: make(chan func(), 100)}
	h.ui = newUI(a, opts, func(f func()) { h.queue <- f })
	t.Cleanup(h.ui.Window().Close)
	return h
}

// eventually runs queued UI work until cond holds, failing after a few
// seconds.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; relay calls: %q", what, h.relay.Calls())
		}
		select {
		case f := <-h.queue:
			f()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// settle runs the UI work queued so far and any that arrives shortly after.
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

// walk calls fn for every visible object in the window, dialogs included.
func (h *harness) walk(fn func(fyne.CanvasObject)) {
	c := h.ui.Window().Canvas()
	roots := append([]fyne.CanvasObject{c.Content()}, c.Overlays().List()...)
	for _, r := range roots {
		walk(r, fn)
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

// texts returns every visible text in the window.
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

// shows reports whether some visible text contains s.
func (h *harness) shows(s string) bool {
	return slices.ContainsFunc(h.texts(), func(t string) bool { return strings.Contains(t, s) })
}

// button finds the visible button labelled text, or nil.
func (h *harness) button(text string) *widget.Button {
	var found *widget.Button
	h.walk(func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == text && found == nil {
			found = b
		}
	})
	return found
}

// tap taps the button labelled text, failing when there is none.
func (h *harness) tap(text string) {
	h.t.Helper()
	b := h.button(text)
	if b == nil {
		h.t.Fatalf("no button %q; texts: %q", text, h.texts())
	}
	test.Tap(b)
}

// enter presses Return in e.
func enter(e *widget.Entry) { e.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) }

// fill replaces the text of e by typing.
func fill(e *widget.Entry, text string) {
	e.SetText("")
	test.Type(e, text)
}

// signIn fills the login form and presses Enter in the password field.
func (h *harness) signIn(tenant, username, password string) {
	l := h.ui.login
	fill(l.tenant, tenant)
	fill(l.username, username)
	fill(l.password, password)
	enter(l.password)
}

func (h *harness) waitWorkspace() *workspace {
	h.t.Helper()
	h.eventually("the workspace", func() bool { return h.ui.sess != nil && h.ui.sess.work != nil })
	return h.ui.sess.work
}

func (h *harness) onLogin() bool {
	return h.ui.sess == nil && h.ui.Window().Content() == h.ui.login.content
}

func TestLoginShowsWorkspace(t *testing.T) {
	h := newHarness(t, &fakeRelay{}, Options{DefaultAddr: testAddr})
	if got := h.ui.login.addr.Text; got != testAddr {
		t.Fatalf("address prefilled with %q, want the default %q", got, testAddr)
	}
	if h.ui.Window().Title() != "Parley" {
		t.Errorf("title %q", h.ui.Window().Title())
	}
	h.signIn("acme", "erika", "correct horse")
	h.waitWorkspace()

	if got, want := h.relay.Calls(), []string{"Connect " + testAddr, "Login acme erika"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	for _, item := range []string{"Meetings", "Calendar", "Inbox", "Customers", "Signatures", "Settings"} {
		if !h.shows(item) {
			t.Errorf("navigation lacks %q; texts: %q", item, h.texts())
		}
	}
	if h.shows("Team") {
		t.Error("an advisor sees the Team page")
	}
	if !h.shows("Connected to " + testAddr + " via QUIC (HTTP/3)") {
		t.Errorf("status bar does not name the transport; texts: %q", h.texts())
	}
	if !h.shows("Erika Mustermann · Advisor") {
		t.Errorf("status bar does not name the user; texts: %q", h.texts())
	}
	if !h.shows("No meetings yet") {
		t.Errorf("Meetings is not the first page; texts: %q", h.texts())
	}
}

func TestEveryPageHasContent(t *testing.T) {
	h := newHarness(t, &fakeRelay{role: "admin"}, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	w := h.waitWorkspace()
	for title, text := range map[string]string{
		"Calendar":   "No appointments.",
		"Booking":    "Weekly hours",
		"Inbox":      "Your inbox is empty",
		"Customers":  "No customers yet",
		"Signatures": "No documents to sign",
		"Settings":   "QUIC (HTTP/3)",
		"Team":       "Add an advisor",
		"Meetings":   "No meetings yet",
	} {
		if !w.selectPage(title) {
			t.Fatalf("no page %q", title)
		}
		h.settle()
		if !h.shows(text) {
			t.Errorf("page %s does not show %q", title, text)
		}
	}
}

func TestAdminSeesTeam(t *testing.T) {
	h := newHarness(t, &fakeRelay{role: "admin", transport: "TCP (HTTP/2)"}, Options{DefaultAddr: testAddr})
	h.signIn("acme", "root", "pw")
	h.waitWorkspace()
	if !h.shows("Team") {
		t.Errorf("an admin does not see Team; texts: %q", h.texts())
	}
	if !h.shows("via TCP (HTTP/2)") || !h.shows("Erika Mustermann · Administrator") {
		t.Errorf("status bar wrong; texts: %q", h.texts())
	}
}

func TestSignInBusyWhileConnecting(t *testing.T) {
	gate := make(chan struct{})
	h := newHarness(t, &fakeRelay{gate: gate}, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	h.eventually("Connect to be called", func() bool { return h.relay.called("Connect") == 1 })
	b := h.ui.login.signIn
	if !b.btn.Disabled() || !b.act.Visible() {
		t.Error("while connecting, Sign in is not disabled or no activity shows")
	}
	if !h.shows("Connecting to " + testAddr) {
		t.Errorf("no progress message; texts: %q", h.texts())
	}
	enter(h.ui.login.password) // a second submit while busy is ignored
	close(gate)
	h.waitWorkspace()
	if n := h.relay.called("Connect"); n != 1 {
		t.Errorf("Connect called %d times, want 1", n)
	}
	if b.btn.Disabled() || b.act.Visible() {
		t.Error("Sign in still busy after the call")
	}
}

func TestLoginErrorsKeepForm(t *testing.T) {
	for _, msg := range []string{
		"Wrong username or password.",
		"Too many sign-in attempts. Try again in 30 seconds.",
	} {
		t.Run(msg, func(t *testing.T) {
			h := newHarness(t, &fakeRelay{loginErr: errors.New(msg)}, Options{DefaultAddr: testAddr})
			h.signIn("acme", "erika", "wrong")
			h.eventually("the error", func() bool { return h.shows(msg) })
			l := h.ui.login
			if !h.onLogin() {
				t.Fatal("left the login screen")
			}
			if l.password.Text != "" {
				t.Error("password not cleared")
			}
			if l.addr.Text != testAddr || l.tenant.Text != "acme" || l.username.Text != "erika" {
				t.Errorf("form not kept: %q %q %q", l.addr.Text, l.tenant.Text, l.username.Text)
			}
			if l.signIn.btn.Disabled() {
				t.Error("Sign in still disabled")
			}
			if h.ui.Window().Canvas().Focused() != l.password {
				t.Error("password field not focused for the next try")
			}
			if h.prefs.String(prefTenant) != "" {
				t.Error("a failed sign-in was remembered")
			}
		})
	}
}

func TestMissingFieldsAreNotSent(t *testing.T) {
	h := newHarness(t, &fakeRelay{}, Options{})
	fill(h.ui.login.addr, "relay.example.org:8443")
	h.tap("Sign in")
	if !h.shows("Enter your tenant") {
		t.Errorf("no hint for the tenant; texts: %q", h.texts())
	}
	fill(h.ui.login.tenant, "acme")
	fill(h.ui.login.username, "erika")
	h.tap("Sign in")
	if !h.shows("Enter your password") {
		t.Errorf("no hint for the password; texts: %q", h.texts())
	}
	h.settle()
	if calls := h.relay.Calls(); len(calls) != 0 {
		t.Errorf("relay called with an incomplete form: %q", calls)
	}
	fill(h.ui.login.password, "pw")
	h.tap("Sign in")
	h.waitWorkspace()
	if c := h.relay.Calls()[0]; c != "Connect https://relay.example.org:8443" {
		t.Errorf("address not normalised: %q", c)
	}
}

func TestConnectCancelled(t *testing.T) {
	f := &fakeRelay{gate: make(chan struct{})}
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	h.eventually("Connect", func() bool { return f.called("Connect") == 1 })
	h.ui.cancel() // as when the window closes: the call's context ends
	h.eventually("the message", func() bool { return h.shows("Cancelled.") })
	if f.called("Login") != 0 || !h.onLogin() {
		t.Error("signed in without a connection")
	}
}

func TestConnectFails(t *testing.T) {
	const msg = "The relay at 127.0.0.1:8443 cannot be reached over QUIC or TCP."
	h := newHarness(t, &fakeRelay{connectErr: errors.New(msg)}, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	h.eventually("the message", func() bool { return h.shows(msg) })
	if h.relay.called("Login") != 0 || !h.onLogin() || h.ui.login.signIn.btn.Disabled() {
		t.Errorf("after a failed connect: calls %q", h.relay.Calls())
	}
	if h.ui.login.password.Text != "pw" {
		t.Error("password cleared although it was never sent")
	}
}

func TestTabOrder(t *testing.T) {
	h := newHarness(t, &fakeRelay{}, Options{})
	c := h.ui.Window().Canvas()
	l := h.ui.login
	if c.Focused() != l.addr {
		t.Fatalf("focus starts on %T, want the address", c.Focused())
	}
	for _, want := range []*widget.Entry{l.tenant, l.username, l.password} {
		test.FocusNext(c)
		if c.Focused() != want {
			t.Fatalf("Tab went to %v, want %q", c.Focused(), want.PlaceHolder)
		}
	}
}

func TestUntrustedCertificate(t *testing.T) {
	const fp = "SHA256:AB:12:CD:34:EF:56:78:90:AB:12:CD:34:EF:56:78:90:AB:12:CD:34:EF:56:78:90:AB:12:CD:34:EF:56:78:90"
	h := newHarness(t, &fakeRelay{untrusted: fp}, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	h.eventually("the certificate dialog", func() bool { return h.shows("Unknown relay certificate") })
	if !h.shows(formatFingerprint(fp)) || !h.shows("127.0.0.1:8443") {
		t.Fatalf("dialog lacks host or fingerprint; texts: %q", h.texts())
	}
	var mono bool
	h.walk(func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok && strings.ReplaceAll(l.Text, "\n", "") == fp {
			mono = l.TextStyle.Monospace && l.Wrapping != fyne.TextWrapOff
		}
	})
	if !mono {
		t.Error("fingerprint not monospace and wrapped")
	}
	h.tap("Trust and connect")
	h.waitWorkspace()
	want := []string{"Connect " + testAddr, "Trust " + testAddr + " " + fp, "Connect " + testAddr, "Login acme erika"}
	if got := h.relay.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestUntrustedCertificateCancelled(t *testing.T) {
	h := newHarness(t, &fakeRelay{untrusted: "SHA256:00"}, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	h.eventually("the certificate dialog", func() bool { return h.button("Cancel") != nil })
	h.tap("Cancel")
	h.settle()
	if h.relay.called("Trust") != 0 || h.relay.called("Login") != 0 {
		t.Errorf("calls after Cancel: %q", h.relay.Calls())
	}
	if !h.shows("not trusted") || h.ui.login.signIn.btn.Disabled() {
		t.Errorf("login not ready again; texts: %q", h.texts())
	}
}

func TestMustChangePassword(t *testing.T) {
	f := &fakeRelay{mustChange: true}
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "one-time-1")
	h.eventually("the change-password screen", func() bool { return h.shows("Choose your password") })

	var entries []*widget.Entry
	h.walk(func(o fyne.CanvasObject) {
		if e, ok := o.(*widget.Entry); ok {
			entries = append(entries, e)
		}
	})
	if len(entries) != 3 {
		t.Fatalf("%d entries, want current, new, repeat", len(entries))
	}
	current, next, repeat := entries[0], entries[1], entries[2]
	if current.Text != "one-time-1" {
		t.Errorf("current password not prefilled: %q", current.Text)
	}

	fill(next, "short")
	fill(repeat, "short")
	enter(repeat)
	if !h.shows("at least 8 characters") {
		t.Errorf("no length message; texts: %q", h.texts())
	}
	fill(next, "a long new password")
	fill(repeat, "a long new passw0rd")
	h.tap("Change password")
	if !h.shows("do not match") {
		t.Errorf("no mismatch message; texts: %q", h.texts())
	}
	h.settle()
	if f.called("ChangePassword") != 0 {
		t.Fatal("ChangePassword called despite the client-side check")
	}

	fill(repeat, "a long new password")
	enter(repeat)
	h.waitWorkspace()
	if len(f.changes) != 1 || f.changes[0] != [2]string{"one-time-1", "a long new password"} {
		t.Errorf("ChangePassword got %q", f.changes)
	}
	if h.ui.sess.password != "" {
		t.Error("the sign-in password is still held after the change")
	}
}

func TestTeamCreateUser(t *testing.T) {
	f := &fakeRelay{role: "admin", users: []Person{
		{ID: "u1", Username: "root", DisplayName: "Rita Admin", Email: "rita@example.org", Role: "admin"},
	}}
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "root", "pw")
	w := h.waitWorkspace()
	w.selectPage("Team")
	h.eventually("the user list", func() bool { return h.shows("Rita Admin") })
	if !h.shows("root · rita@example.org · Administrator") {
		t.Errorf("list row incomplete; texts: %q", h.texts())
	}

	tp := w.team
	fill(tp.username, "max")
	fill(tp.displayName, "Max Berger")
	fill(tp.email, "max@example.org")
	fill(tp.password, "initial-pass-1")
	h.tap("Create advisor")
	h.eventually("the new advisor in the list", func() bool { return h.shows("Max Berger") && f.called("ListUsers") == 2 })
	want := NewPerson{Username: "max", DisplayName: "Max Berger", Email: "max@example.org", Password: "initial-pass-1", Role: "advisor"}
	if len(f.created) != 1 || f.created[0] != want {
		t.Errorf("CreateUser got %+v, want %+v", f.created, want)
	}
	if tp.username.Text != "" || tp.password.Text != "" {
		t.Error("form not cleared after success")
	}
	if !h.shows("Created Max Berger") {
		t.Errorf("no confirmation; texts: %q", h.texts())
	}

	f.createErr = errors.New("That username is taken.")
	fill(tp.username, "max")
	fill(tp.displayName, "Max Berger")
	fill(tp.password, "initial-pass-1")
	enter(tp.password)
	h.eventually("the error", func() bool { return h.shows("That username is taken.") })
	if tp.username.Text != "max" || tp.create.btn.Disabled() {
		t.Error("form not kept or button still disabled after an error")
	}
}

func TestSignOut(t *testing.T) {
	h := newHarness(t, &fakeRelay{}, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	w := h.waitWorkspace()
	w.selectPage("Settings")
	h.tap("Sign out")
	h.eventually("the login screen", h.onLogin)
	if h.relay.called("Logout") != 1 {
		t.Errorf("calls %q", h.relay.Calls())
	}
	l := h.ui.login
	if l.password.Text != "" || l.tenant.Text != "acme" || l.username.Text != "erika" {
		t.Errorf("form after sign-out: tenant %q, username %q, password %q", l.tenant.Text, l.username.Text, l.password.Text)
	}
	if !h.shows("Signed out.") {
		t.Errorf("no message; texts: %q", h.texts())
	}

	// Sign in again as another role: the workspace is rebuilt.
	h.relay.role = "admin"
	h.signIn("acme", "root", "pw")
	h.waitWorkspace()
	if !h.shows("Team") {
		t.Error("workspace not rebuilt for the new account")
	}
}

func TestSignOutWhenRelayUnreachable(t *testing.T) {
	h := newHarness(t, &fakeRelay{logoutErr: errors.New("The relay cannot be reached.")}, Options{DefaultAddr: testAddr})
	h.signIn("acme", "erika", "pw")
	w := h.waitWorkspace()
	w.selectPage("Settings")
	h.tap("Sign out")
	h.eventually("the login screen", h.onLogin)
	if !h.shows("The relay cannot be reached.") {
		t.Errorf("no message; texts: %q", h.texts())
	}
}

func TestPrefsRemembered(t *testing.T) {
	const password = "s3cret-Passw0rd"
	h := newHarness(t, &fakeRelay{}, Options{DefaultAddr: testAddr})
	fill(h.ui.login.addr, "https://relay.example.org:8443/")
	h.signIn("acme", "erika", password)
	h.waitWorkspace()

	p := h.prefs
	if got := p.String(prefAddr); got != "https://relay.example.org:8443" {
		t.Errorf("%s = %q", prefAddr, got)
	}
	if got := p.String(prefTenant); got != "acme" {
		t.Errorf("%s = %q", prefTenant, got)
	}
	if got := p.String(prefUsername); got != "erika" {
		t.Errorf("%s = %q", prefUsername, got)
	}
	assertNoPassword(t, p, password)

	// A new window on the same preferences starts prefilled.
	u2 := newUI(fyne.CurrentApp(), Options{Relay: &fakeRelay{}, Prefs: p, DefaultAddr: testAddr}, func(f func()) { f() })
	defer u2.Window().Close()
	l := u2.login
	if l.addr.Text != "https://relay.example.org:8443" || l.tenant.Text != "acme" || l.username.Text != "erika" || l.password.Text != "" {
		t.Errorf("not prefilled: %q %q %q %q", l.addr.Text, l.tenant.Text, l.username.Text, l.password.Text)
	}
	if u2.Window().Canvas().Focused() != l.password {
		t.Error("password field not focused when the rest is remembered")
	}
}

// assertNoPassword fails if any preference key names a password or any
// value contains password.
func assertNoPassword(t *testing.T, p fyne.Preferences, password string) {
	t.Helper()
	r, ok := p.(interface{ ReadValues(func(map[string]any)) })
	if !ok {
		t.Fatalf("cannot list the keys of %T", p)
	}
	r.ReadValues(func(m map[string]any) {
		if len(m) == 0 {
			t.Error("nothing remembered")
		}
		for k, v := range m {
			if strings.Contains(strings.ToLower(k), "pass") {
				t.Errorf("preference key %q", k)
			}
			if s, ok := v.(string); ok && strings.Contains(s, password) {
				t.Errorf("preference %q holds the password", k)
			}
		}
	})
}

func TestLocalRelay(t *testing.T) {
	local := &LocalRelay{Addr: "https://127.0.0.1:9443", Tenant: "local", Username: "admin", OneTimePassword: "otp-XYZ-123"}
	f := &fakeRelay{role: "admin", mustChange: true}
	h := newHarness(t, f, Options{DefaultAddr: testAddr, Local: local})
	l := h.ui.login
	if l.addr.Text != local.Addr || l.tenant.Text != "local" || l.username.Text != "admin" || l.password.Text != local.OneTimePassword {
		t.Errorf("not prefilled from the local relay: %q %q %q %q", l.addr.Text, l.tenant.Text, l.username.Text, l.password.Text)
	}
	if !h.shows("Local relay on this computer") || !h.shows("otp-XYZ-123") {
		t.Errorf("no local card; texts: %q", h.texts())
	}
	h.tap("Sign in")
	h.eventually("the change-password screen", func() bool { return h.shows("Choose your password") })
	var entries []*widget.Entry
	h.walk(func(o fyne.CanvasObject) {
		if e, ok := o.(*widget.Entry); ok {
			entries = append(entries, e)
		}
	})
	fill(entries[1], "my own password")
	fill(entries[2], "my own password")
	enter(entries[2])
	w := h.waitWorkspace()
	if !h.shows("Your password was changed.") {
		t.Errorf("no confirmation; texts: %q", h.texts())
	}
	w.selectPage("Settings")
	h.tap("Sign out")
	h.eventually("the login screen", h.onLogin)
	if h.shows("otp-XYZ-123") {
		t.Error("the used one-time password is still shown")
	}
	r := h.prefs.(interface{ ReadValues(func(map[string]any)) })
	r.ReadValues(func(m map[string]any) {
		if len(m) != 0 {
			t.Errorf("local mode remembered %v", m)
		}
	})
}

func TestKioskStored(t *testing.T) {
	h := newHarness(t, &fakeRelay{}, Options{Kiosk: true})
	if !h.ui.Kiosk() {
		t.Error("Kiosk not stored")
	}
}

func TestLoginScreenGolden(t *testing.T) {
	a := test.NewTempApp(t)
	a.Preferences().SetString(prefTenant, "acme")
	u := newUI(a, Options{Relay: &fakeRelay{}, DefaultAddr: testAddr}, func(f func()) { f() })
	w := u.Window()
	defer w.Close()
	w.Resize(fyne.NewSize(800, 600))
	const golden = "login.xml"
	if *update {
		path := filepath.Join("testdata", golden)
		if err := os.WriteFile(path, []byte(test.RenderToMarkup(w.Canvas())), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
	test.AssertRendersToMarkup(t, golden, w.Canvas())
}

func TestDefaultTenantOfferedUntilOneIsRemembered(t *testing.T) {
	h := newHarness(t, &fakeRelay{}, Options{DefaultAddr: testAddr, DefaultTenant: "default"})
	if got := h.ui.login.tenant.Text; got != "default" {
		t.Fatalf("tenant prefilled with %q, want the default", got)
	}
	h.prefs.SetString(prefTenant, "acme")
	h2 := newHarness(t, &fakeRelay{}, Options{DefaultAddr: testAddr, DefaultTenant: "default", Prefs: h.prefs})
	if got := h2.ui.login.tenant.Text; got != "acme" {
		t.Fatalf("tenant prefilled with %q, want the remembered acme", got)
	}
}

func TestTeamDisableAndResetAdvisor(t *testing.T) {
	f := &fakeRelay{role: "admin", users: []Person{
		{ID: "u1", Username: "root", DisplayName: "Rita Admin", Role: "admin"},
		{ID: "u2", Username: "max", DisplayName: "Max Berger", Role: "advisor"},
	}}
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "root", "pw")
	w := h.waitWorkspace()
	w.selectPage("Team")
	h.eventually("the user list", func() bool { return h.shows("max · Advisor") })
	tp := w.team

	// No actions on one's own account.
	tp.list.Select(0)
	if h.button("Disable") != nil {
		t.Fatal("the admin is offered to disable their own account")
	}

	tp.list.Select(1)
	h.tap("Disable")
	if f.called("SetUserDisabled") != 0 {
		t.Fatal("disabled without confirmation")
	}
	h.tapInDialog("Disable")
	h.eventually("the disabled advisor", func() bool { return h.shows("max · Advisor · disabled") })
	if got := f.Calls(); !slices.Contains(got, "SetUserDisabled u2 true") {
		t.Fatalf("calls %q", got)
	}

	tp.list.Select(1)
	if h.button("Enable") == nil {
		t.Fatalf("a disabled advisor cannot be enabled; texts: %q", h.texts())
	}
	h.tap("Reset password")
	h.tapInDialog("Reset")
	h.eventually("the one-time password", func() bool { return h.shows("Einmal-Passwort-123") })
	if !slices.Contains(f.Calls(), "ResetPassword u2") {
		t.Fatalf("calls %q", f.Calls())
	}
}

// tapInDialog taps the button labelled text in the topmost dialog.
func (h *harness) tapInDialog(text string) {
	h.t.Helper()
	top := h.ui.Window().Canvas().Overlays().Top()
	var found *widget.Button
	walk(top, func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == text && found == nil {
			found = b
		}
	})
	if found == nil {
		h.t.Fatalf("no dialog button %q; texts: %q", text, h.texts())
	}
	test.Tap(found)
}

func TestAuditLogPageNamesPeople(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	f := &fakeRelay{role: "admin",
		users: []Person{
			{ID: "u1", Username: "root", DisplayName: "Rita Admin", Role: "admin"},
			{ID: "u2", Username: "max", DisplayName: "Max Berger", Role: "advisor"},
		},
		audit: []AuditEntry{
			{Seq: 1, Time: at, Actor: "system", Action: "tenant.bootstrap", Target: "u1"},
			{Seq: 2, Time: at.Add(time.Minute), Actor: "u1", Action: "user.create", Target: "u2"},
			{Seq: 3, Time: at.Add(2 * time.Minute), Actor: "u1", Action: "user.disable", Target: "u9"},
		},
	}
	h := newHarness(t, f, Options{DefaultAddr: testAddr})
	h.signIn("acme", "root", "pw")
	w := h.waitWorkspace()
	if !w.selectPage("Audit log") {
		t.Fatal("an admin has no Audit log page")
	}
	h.eventually("the audit rows", func() bool { return h.shows("3 entries") })
	rows := w.audit.rows
	if len(rows) != 3 {
		t.Fatalf("rows %q", rows)
	}
	if !strings.Contains(rows[0], "Rita Admin (root) disabled user deleted user u9") {
		t.Errorf("newest row %q", rows[0])
	}
	if !strings.Contains(rows[1], "Rita Admin (root) created user Max Berger (max)") {
		t.Errorf("second row %q", rows[1])
	}
	if !strings.Contains(rows[2], "Parley tenant created with its first admin") {
		t.Errorf("oldest row %q", rows[2])
	}

	adv := newHarness(t, &fakeRelay{}, Options{DefaultAddr: testAddr})
	adv.signIn("acme", "erika", "pw")
	if adv.waitWorkspace().selectPage("Audit log") {
		t.Error("an advisor sees the Audit log page")
	}
}
