package app

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// loginScreen is the sign-in form.
type loginScreen struct {
	u        *UI
	addr     *widget.Entry
	tenant   *widget.Entry
	username *widget.Entry
	password *widget.Entry
	signIn   *busyButton
	status   statusLabel
	content  fyne.CanvasObject
	// otp shows the local relay's one-time password; nil without one.
	otp fyne.CanvasObject
	// now tells the time for the second factor's challenge; tests set it.
	now func() time.Time
}

func newLoginScreen(u *UI) *loginScreen {
	l := &loginScreen{u: u, now: time.Now}
	l.addr = widget.NewEntry()
	l.addr.SetPlaceHolder("https://relay.example.org:8443")
	l.tenant = widget.NewEntry()
	l.tenant.SetPlaceHolder("Your organisation, e.g. acme")
	l.username = widget.NewEntry()
	l.username.SetPlaceHolder("e.g. erika")
	l.password = widget.NewPasswordEntry()
	for _, e := range []*widget.Entry{l.addr, l.tenant, l.username, l.password} {
		e.OnSubmitted = func(string) { l.submit() }
	}
	l.signIn = newBusyButton("Sign in", theme.LoginIcon(), l.submit)
	l.signIn.btn.Importance = widget.HighImportance
	l.status = newStatusLabel()
	l.prefill()

	form := widget.NewForm(
		widget.NewFormItem("Relay address", l.addr),
		widget.NewFormItem("Tenant", l.tenant),
		widget.NewFormItem("Username", l.username),
		widget.NewFormItem("Password", l.password),
	)
	parts := []fyne.CanvasObject{brandHeader("Sign in to your advisory workspace")}
	if lr := u.opts.Local; lr != nil {
		var card fyne.CanvasObject
		card, l.otp = localCard(lr)
		parts = append(parts, card)
	}
	parts = append(parts, form, container.NewBorder(nil, nil, nil, l.signIn.row()), l.status.Label)
	l.content = container.NewCenter(column(440, parts...))
	return l
}

// prefill fills the form from the local relay, or else from the remembered
// preferences and the default address.
func (l *loginScreen) prefill() {
	if lr := l.u.opts.Local; lr != nil {
		l.addr.SetText(lr.Addr)
		l.tenant.SetText(lr.Tenant)
		l.username.SetText(lr.Username)
		l.password.SetText(lr.OneTimePassword)
		return
	}
	p := l.u.prefs
	l.addr.SetText(p.StringWithFallback(prefAddr, l.u.opts.DefaultAddr))
	l.tenant.SetText(p.StringWithFallback(prefTenant, l.u.opts.DefaultTenant))
	l.username.SetText(p.String(prefUsername))
}

// remember stores what the user signed in with, except the password, and
// nothing in local mode.
func (l *loginScreen) remember(addr, tenant, username string) {
	if l.u.opts.Local != nil {
		return
	}
	p := l.u.prefs
	p.SetString(prefAddr, addr)
	p.SetString(prefTenant, tenant)
	p.SetString(prefUsername, username)
}

// reset prepares the form for showing again after a session: the password
// is cleared and status shown.
func (l *loginScreen) reset(status string) {
	l.password.SetText("")
	l.signIn.set(false)
	l.status.info(status)
}

// firstEmpty is the field that should get the focus.
func (l *loginScreen) firstEmpty() fyne.Focusable {
	for _, e := range []*widget.Entry{l.addr, l.tenant, l.username} {
		if strings.TrimSpace(e.Text) == "" {
			return e
		}
	}
	return l.password
}

// submit starts signing in: Connect, then Login.
func (l *loginScreen) submit() {
	if l.signIn.busy {
		return
	}
	addr := normaliseAddr(l.addr.Text)
	tenant := strings.TrimSpace(l.tenant.Text)
	username := strings.TrimSpace(l.username.Text)
	password := l.password.Text
	for _, m := range []struct {
		empty bool
		e     *widget.Entry
		msg   string
	}{
		{addr == "", l.addr, "Enter the relay address your administrator gave you."},
		{tenant == "", l.tenant, "Enter your tenant (your organisation's short name)."},
		{username == "", l.username, "Enter your username."},
		{password == "", l.password, "Enter your password."},
	} {
		if m.empty {
			l.status.fail(m.msg)
			l.u.win.Canvas().Focus(m.e)
			return
		}
	}
	l.addr.SetText(addr)
	l.tenant.SetText(tenant)
	l.username.SetText(username)
	l.signIn.set(true)
	l.connect(addr, tenant, username, password)
}

// connect connects to addr, asks the user about an unknown certificate,
// and signs in once connected.
func (l *loginScreen) connect(addr, tenant, username, password string) {
	u := l.u
	l.status.info("Connecting to " + addr + " …")
	run(u, u.ctx, func(ctx context.Context) (string, error) {
		return u.relay.Connect(ctx, addr)
	}, func(transport string, err error) {
		if err != nil {
			var fp interface{ Fingerprint() string }
			if errors.As(err, &fp) {
				l.askTrust(addr, fp.Fingerprint(), func() { l.connect(addr, tenant, username, password) })
				return
			}
			l.fail(message(err))
			return
		}
		l.login(addr, transport, tenant, username, password)
	})
}

// askTrust shows the certificate prompt; on "Trust and connect" it pins the
// fingerprint (off the UI thread) and calls then.
func (l *loginScreen) askTrust(addr, fingerprint string, then func()) {
	u := l.u
	l.status.info("The relay presented an unknown certificate.")
	showTrustDialog(u.win, hostOf(addr), fingerprint, func(trust bool) {
		if !trust {
			l.fail("Not connected: the relay's certificate was not trusted.")
			return
		}
		l.status.info("Trusting the certificate …")
		run(u, u.ctx, func(context.Context) (struct{}, error) {
			return struct{}{}, u.relay.Trust(addr, fingerprint)
		}, func(_ struct{}, err error) {
			if err != nil {
				l.fail(message(err))
				return
			}
			then()
		})
	})
}

// login signs in over the connection just made.
func (l *loginScreen) login(addr, transport, tenant, username, password string) {
	u := l.u
	l.status.info(connectedText("", transport) + ". Signing in …")
	run(u, u.ctx, func(ctx context.Context) (Account, error) {
		return u.relay.Login(ctx, tenant, username, password)
	}, func(acc Account, err error) {
		var sf *SecondFactorRequired
		if errors.As(err, &sf) {
			l.askSecondFactor(addr, transport, tenant, username, password, sf.Challenge)
			return
		}
		if err != nil {
			l.password.SetText("")
			l.fail(message(err))
			u.win.Canvas().Focus(l.password)
			return
		}
		l.signedIn(addr, transport, tenant, username, password, acc)
	})
}

// signedIn finishes a sign-in (with or without a second factor).
func (l *loginScreen) signedIn(addr, transport, tenant, username, password string, acc Account) {
	u := l.u
	l.remember(addr, tenant, username)
	if acc.Tenant == "" {
		acc.Tenant = tenant
	}
	if acc.Username == "" {
		acc.Username = username
	}
	if acc.DisplayName == "" {
		acc.DisplayName = acc.Username
	}
	l.password.SetText("")
	l.signIn.set(false)
	l.status.info("")
	u.startSession(addr, transport, password, acc)
}

// fail ends a sign-in attempt with msg.
func (l *loginScreen) fail(msg string) {
	l.signIn.set(false)
	l.status.fail(msg)
}

// connectedText is "Connected[ to addr][ via transport]".
func connectedText(addr, transport string) string {
	s := "Connected"
	if addr != "" {
		s += " to " + addr
	}
	if transport != "" {
		s += " via " + transport
	}
	return s
}

// hostOf returns the host:port of addr, or addr itself.
func hostOf(addr string) string {
	if p, err := url.Parse(addr); err == nil && p.Host != "" {
		return p.Host
	}
	return addr
}

// passwordChanged is told that tenant/username now has a password of their
// own: the local relay's one-time password is hidden if it was theirs.
func (l *loginScreen) passwordChanged(tenant, username string) {
	if lr := l.u.opts.Local; lr != nil && l.otp != nil && lr.Tenant == tenant && lr.Username == username {
		l.otp.Hide()
	}
}

// localCard explains the relay started on this computer; otp is the part
// that shows the one-time password, nil when there is none.
func localCard(lr *LocalRelay) (card, otp fyne.CanvasObject) {
	text := widget.NewLabel("Parley started a relay for you that only this computer can reach. " +
		"The form below is filled in for it.")
	text.Wrapping = fyne.TextWrapWord
	body := container.NewVBox(text)
	if lr.OneTimePassword != "" {
		hint := widget.NewLabel("One-time password (you choose your own right after signing in):")
		hint.Wrapping = fyne.TextWrapWord
		pw := widget.NewLabelWithStyle(lr.OneTimePassword, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		pw.Selectable = true
		pw.Wrapping = fyne.TextWrapBreak
		otp = container.NewVBox(hint, pw)
		body.Add(otp)
	}
	card = widget.NewCard("", "", container.NewBorder(nil, nil,
		container.NewVBox(widget.NewIcon(theme.ComputerIcon())), nil,
		container.NewVBox(widget.NewLabelWithStyle("Local relay on this computer", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), body)))
	return card, otp
}
