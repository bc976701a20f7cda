package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"

	"parley/app"
	"parley/relay/auth"
	"parley/relay/server"
	"parley/sync/link"
)

// appID matches FyneApp.toml.
const appID = "eu.parley.app"

// wiring holds what main builds before the UI starts.
type wiring struct {
	opts  app.Options
	local *server.Server
	link  *link.Client
	calls *linkCalls
}

func (w *wiring) close() {
	w.calls.close()
	_ = w.link.Close()
	if w.local != nil {
		_ = w.local.Close()
	}
}

// wire connects the UI to a relay: the given URL, else the remembered one,
// else a relay started in this process on localhost (local mode).
func wire(a fyne.App, relayURL string, kiosk bool) (*wiring, error) {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	prefs := a.Preferences()
	pins := prefPins{prefs}
	w := &wiring{}
	w.link = link.New(link.Options{Pins: pins, Logger: log})
	relay := &linkRelay{c: w.link}
	w.calls = &linkCalls{c: w.link, log: log, synthetic: os.Getenv("PARLEY_SYNTHETIC_MEDIA") != ""}
	w.opts = app.Options{Relay: relay, Prefs: prefs, DefaultAddr: relayURL, DefaultTenant: os.Getenv("PARLEY_TENANT"), Kiosk: kiosk, Calls: w.calls, Booking: relay}
	// The Inbox reads from an encrypted cache on this computer (one per
	// relay and account), kept in step with the relay while signed in.
	w.opts.Inbox = &linkInbox{c: w.link, log: log}
	w.opts.Signing = linkSigning{c: w.link}

	if relayURL != "" {
		// Launched by run.sh (or a deployment) with the relay's fingerprint:
		// pin it so the user is not asked.
		if fp := os.Getenv("PARLEY_RELAY_FINGERPRINT"); fp != "" {
			if err := w.link.Trust(relayURL, fp); err != nil {
				return nil, fmt.Errorf("pin PARLEY_RELAY_FINGERPRINT: %w", err)
			}
		}
		return w, nil
	}
	if app.RememberedRelay(prefs) != "" && os.Getenv("PARLEY_LOCAL") == "" {
		return w, nil
	}

	dir, err := localDataDir()
	if err != nil {
		return nil, err
	}
	media := ""
	if ip := lanAddress(); ip != "" {
		media = net.JoinHostPort(ip, "0")
	}
	w.local, err = server.Start(context.Background(), server.Options{
		DataDir: dir, Listen: "127.0.0.1:0", MediaListen: media, TenantSlug: "local", TenantName: "This computer", Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("start local relay: %w", err)
	}
	if err := w.link.Trust(w.local.URL(), w.local.Fingerprint()); err != nil {
		return nil, err
	}
	otp, err := localOneTimePassword(dir, w.local.Bootstrap())
	if err != nil {
		return nil, err
	}
	relay.onPasswordChanged = func() { _ = os.Remove(filepath.Join(dir, otpFile)) }
	w.opts.DefaultAddr = w.local.URL()
	w.opts.Local = &app.LocalRelay{Addr: w.local.URL(), Tenant: "local", Username: "admin", OneTimePassword: otp}
	return w, nil
}

// localDataDir is where local mode keeps its relay: PARLEY_LOCAL_DIR or the
// user's config folder.
func localDataDir() (string, error) {
	if d := os.Getenv("PARLEY_LOCAL_DIR"); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("local relay folder: %w", err)
	}
	return filepath.Join(base, "parley", "local-relay"), nil
}

const otpFile = "admin-one-time-password"

// localOneTimePassword keeps local mode's generated admin password (mode
// 0600, inside the local relay's folder) until the admin replaces it, so it
// is shown on every start until then.
func localOneTimePassword(dir string, boot auth.BootstrapResult) (string, error) {
	path := filepath.Join(dir, otpFile)
	if boot.Created && boot.Generated {
		if err := os.WriteFile(path, []byte(boot.Password), 0o600); err != nil {
			return "", fmt.Errorf("keep local one-time password: %w", err)
		}
		return boot.Password, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read local one-time password: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// prefPins keeps pinned certificate fingerprints in the app's preferences.
type prefPins struct{ p fyne.Preferences }

func (p prefPins) Pin(host string) (string, bool) {
	fp := p.p.String("pin." + host)
	return fp, fp != ""
}

func (p prefPins) SetPin(host, fingerprint string) error {
	p.p.SetString("pin."+host, fingerprint)
	return nil
}

// linkRelay adapts the link client to the UI's Relay interface.
type linkRelay struct {
	c                 *link.Client
	onPasswordChanged func()
}

var _ app.Relay = (*linkRelay)(nil)

// uiError shows the link client's sentence for a person while keeping the
// error chain (the UI finds an untrusted certificate's fingerprint in it).
type uiError struct{ err error }

func (e uiError) Error() string { return link.UserMessage(e.err) }
func (e uiError) Unwrap() error { return e.err }

func forUI(err error) error {
	if err == nil {
		return nil
	}
	return uiError{err}
}

func (r *linkRelay) Connect(ctx context.Context, addr string) (string, error) {
	t, err := r.c.Connect(ctx, strings.TrimSpace(addr))
	if err != nil {
		return "", forUI(err)
	}
	return t.String(), nil
}

func (r *linkRelay) Trust(addr, fingerprint string) error {
	return forUI(r.c.Trust(addr, fingerprint))
}

func (r *linkRelay) Login(ctx context.Context, tenant, username, password string) (app.Account, error) {
	res, err := r.c.Login(ctx, tenant, username, password)
	if challenge, ok := link.SecondFactorChallenge(err); ok {
		return app.Account{}, &app.SecondFactorRequired{Challenge: challenge}
	}
	if err != nil {
		return app.Account{}, forUI(err)
	}
	return toAccount(res.User), nil
}

func toAccount(u link.User) app.Account {
	return app.Account{Tenant: u.Tenant, Username: u.Username, DisplayName: u.DisplayName, Role: u.Role,
		MustChangePassword: u.MustChangePassword, SecondFactor: u.SecondFactor}
}

// codeError is a wrong second-factor code: the link client's sentence,
// matching app.ErrInvalidCode.
type codeError struct{ uiError }

func (codeError) Is(target error) bool { return target == app.ErrInvalidCode }

// expiredError is a void sign-in challenge, matching
// app.ErrChallengeExpired.
type expiredError struct{ uiError }

func (expiredError) Is(target error) bool { return target == app.ErrChallengeExpired }

// forCode is forUI that also marks wrong codes and void challenges for
// the UI.
func forCode(err error) error {
	if link.IsChallengeExpired(err) {
		return expiredError{uiError{err}}
	}
	if link.IsInvalidCode(err) || errors.Is(err, link.ErrCodeFormat) {
		return codeError{uiError{err}}
	}
	return forUI(err)
}

func (r *linkRelay) LoginSecondFactor(ctx context.Context, challenge, code string) (app.Account, error) {
	res, err := r.c.LoginSecondFactor(ctx, challenge, code)
	if err != nil {
		return app.Account{}, forCode(err)
	}
	return toAccount(res.User), nil
}

func (r *linkRelay) StartSecondFactor(ctx context.Context, password string) (app.SecondFactorSetup, error) {
	s, err := r.c.StartSecondFactor(ctx, password)
	if err != nil {
		return app.SecondFactorSetup{}, forUI(err)
	}
	return app.SecondFactorSetup{Secret: s.Secret, URL: s.OTPAuthURL, Expires: s.ExpiresAt}, nil
}

func (r *linkRelay) ConfirmSecondFactor(ctx context.Context, code string) ([]string, error) {
	codes, err := r.c.ConfirmSecondFactor(ctx, code)
	return codes, forCode(err)
}

func (r *linkRelay) NewRecoveryCodes(ctx context.Context, code string) ([]string, error) {
	codes, err := r.c.NewRecoveryCodes(ctx, code)
	return codes, forCode(err)
}

func (r *linkRelay) DeleteAccount(ctx context.Context, password, code string) error {
	return forCode(r.c.DeleteAccount(ctx, password, code))
}

func (r *linkRelay) DisableSecondFactor(ctx context.Context, password, code string) error {
	return forCode(r.c.DisableSecondFactor(ctx, password, code))
}

func (r *linkRelay) ResetSecondFactor(ctx context.Context, userID string) error {
	return forUI(r.c.ResetSecondFactor(ctx, userID))
}

func (r *linkRelay) ChangePassword(ctx context.Context, current, next string) error {
	if err := r.c.ChangePassword(ctx, current, next); err != nil {
		return forUI(err)
	}
	if r.onPasswordChanged != nil {
		r.onPasswordChanged()
	}
	return nil
}

func (r *linkRelay) Logout(ctx context.Context) error { return forUI(r.c.Logout(ctx)) }

func (r *linkRelay) ListUsers(ctx context.Context) ([]app.Person, error) {
	us, err := r.c.ListUsers(ctx)
	if err != nil {
		return nil, forUI(err)
	}
	out := make([]app.Person, 0, len(us))
	for _, u := range us {
		out = append(out, toPerson(u))
	}
	return out, nil
}

func (r *linkRelay) CreateUser(ctx context.Context, p app.NewPerson) (app.Person, error) {
	u, err := r.c.CreateUser(ctx, link.NewUser{Username: p.Username, DisplayName: p.DisplayName, Email: p.Email, Password: p.Password, Role: p.Role})
	if err != nil {
		return app.Person{}, forUI(err)
	}
	return toPerson(u), nil
}

func (r *linkRelay) SetUserDisabled(ctx context.Context, id string, disabled bool) (app.Person, error) {
	u, err := r.c.SetUserDisabled(ctx, id, disabled)
	if err != nil {
		return app.Person{}, forUI(err)
	}
	return toPerson(u), nil
}

func (r *linkRelay) ResetPassword(ctx context.Context, id string) (string, error) {
	pw, err := r.c.ResetPassword(ctx, id)
	return pw, forUI(err)
}

// auditShown is how many audit entries the desktop shows.
const auditShown = 500

func (r *linkRelay) AuditLog(ctx context.Context) ([]app.AuditEntry, error) {
	// Read the whole log in pages and keep the newest auditShown entries.
	var all []link.AuditEntry
	var after uint64
	for {
		page, err := r.c.Audit(ctx, after, 1000)
		if err != nil {
			return nil, forUI(err)
		}
		all = append(all, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Seq
	}
	if len(all) > auditShown {
		all = all[len(all)-auditShown:]
	}
	out := make([]app.AuditEntry, 0, len(all))
	for _, e := range all {
		out = append(out, app.AuditEntry{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target})
	}
	return out, nil
}

func toPerson(u link.User) app.Person {
	return app.Person{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Role: u.Role, Disabled: u.Disabled,
		SecondFactor: u.SecondFactor}
}

func (r *linkRelay) StartMeeting(ctx context.Context, title string) (app.MeetingInfo, app.JoinLinkInfo, error) {
	m, l, err := r.c.CreateMeeting(ctx, title)
	if err != nil {
		return app.MeetingInfo{}, app.JoinLinkInfo{}, forUI(err)
	}
	return toMeetingInfo(m), app.JoinLinkInfo{URL: l.URL}, nil
}

func (r *linkRelay) Meetings(ctx context.Context, limit int) ([]app.MeetingInfo, error) {
	ms, err := r.c.Meetings(ctx, min(max(limit, 1), 200))
	if err != nil {
		return nil, forUI(err)
	}
	out := make([]app.MeetingInfo, 0, len(ms))
	for _, m := range ms {
		out = append(out, toMeetingInfo(m))
	}
	return out, nil
}

func toMeetingInfo(m link.Meeting) app.MeetingInfo {
	mi := app.MeetingInfo{ID: m.ID, Title: m.Title, Status: m.Status, Created: m.Created, LinkExpiresAt: m.LinkExpiresAt}
	if m.ScheduledStart != nil {
		mi.Scheduled = *m.ScheduledStart
	}
	if m.Ended != nil {
		mi.Ended = *m.Ended
	}
	return mi
}

func (r *linkRelay) NewJoinLink(ctx context.Context, meetingID string) (app.JoinLinkInfo, error) {
	l, err := r.c.RotateLink(ctx, meetingID)
	if err != nil {
		return app.JoinLinkInfo{}, forUI(err)
	}
	return app.JoinLinkInfo{URL: l.URL}, nil
}

func (r *linkRelay) EndMeeting(ctx context.Context, meetingID string) error {
	return forUI(r.c.EndMeeting(ctx, meetingID))
}

func (r *linkRelay) Guests(ctx context.Context, meetingID string) ([]app.Guest, error) {
	ps, err := r.c.Participants(ctx, meetingID)
	if err != nil {
		return nil, forUI(err)
	}
	out := make([]app.Guest, 0, len(ps))
	for _, p := range ps {
		out = append(out, app.Guest{ID: p.ID, Name: p.Name, Phone: p.Phone, State: p.State, Joined: p.Joined})
	}
	return out, nil
}

func (r *linkRelay) AdmitGuest(ctx context.Context, meetingID, guestID string) error {
	return guestError(r.c.Admit(ctx, meetingID, guestID))
}

func (r *linkRelay) TurnAwayGuest(ctx context.Context, meetingID, guestID string) error {
	return guestError(r.c.Reject(ctx, meetingID, guestID))
}

func (r *linkRelay) RemoveGuest(ctx context.Context, meetingID, guestID string) error {
	return guestError(r.c.Remove(ctx, meetingID, guestID))
}

// guestError words the relay's conflict for a guest who is no longer in
// the state the action needs (the link client's generic sentence for a
// conflict is "That already exists.").
func guestError(err error) error {
	var ae *link.APIError
	if errors.As(err, &ae) && ae.Code == link.CodeConflict {
		return guestConflict{forUI(err)}
	}
	return forUI(err)
}

type guestConflict struct{ err error }

func (e guestConflict) Error() string {
	return "The guest is no longer where they were — the waiting room is shown as it is now."
}
func (e guestConflict) Unwrap() error { return e.err }

var _ app.BookingRelay = (*linkRelay)(nil)

func (r *linkRelay) Bookings(ctx context.Context, from, to time.Time) ([]app.Booking, error) {
	bs, err := r.c.Bookings(ctx, from, to)
	if err != nil {
		return nil, forUI(err)
	}
	out := make([]app.Booking, 0, len(bs))
	for _, b := range bs {
		out = append(out, toBooking(b))
	}
	return out, nil
}

func toBooking(b link.Booking) app.Booking {
	out := app.Booking{ID: b.ID, TypeID: b.TypeID, TypeName: b.TypeName, Kind: b.Kind, Start: b.Start, End: b.End,
		TimeZone: b.TimeZone, Status: b.Status, CancelledBy: b.CancelledBy, CustomerID: b.CustomerID, MeetingID: b.MeetingID, Text: b.Text}
	if c := b.Customer; c != nil {
		out.FirstName, out.LastName, out.Email, out.Mobile = c.FirstName, c.LastName, c.Email, c.Mobile
		out.Address = toAddress(c.Address)
	}
	return out
}

func toAddress(a *link.Address) app.Address {
	if a == nil {
		return app.Address{}
	}
	return app.Address{Street: a.Street, PostalCode: a.PostalCode, City: a.City, Country: a.Country}
}

func (r *linkRelay) CancelBooking(ctx context.Context, id string) (app.Booking, error) {
	b, err := r.c.CancelBooking(ctx, id)
	if err != nil {
		return app.Booking{}, forUI(err)
	}
	return toBooking(b), nil
}

func (r *linkRelay) RescheduleBooking(ctx context.Context, id string, start time.Time) (app.Booking, error) {
	b, err := r.c.RescheduleBooking(ctx, id, start)
	if err != nil {
		return app.Booking{}, forUI(err)
	}
	return toBooking(b), nil
}

func (r *linkRelay) BookForCustomer(ctx context.Context, nb app.NewBooking) (app.Booking, error) {
	b, err := r.c.BookFor(ctx, link.NewBooking{CustomerID: nb.CustomerID, TypeID: nb.TypeID, Start: nb.Start, Text: nb.Text})
	if err != nil {
		return app.Booking{}, forUI(err)
	}
	return toBooking(b), nil
}

func (r *linkRelay) Availability(ctx context.Context) (app.Availability, error) {
	a, err := r.c.Availability(ctx)
	var ae *link.APIError
	if errors.As(err, &ae) && ae.Code == link.CodeNotFound {
		return app.Availability{}, nil // not set yet
	}
	if err != nil {
		return app.Availability{}, forUI(err)
	}
	out := app.Availability{TimeZone: a.TimeZone}
	for _, w := range a.Weekly {
		out.Weekly = append(out.Weekly, app.WeeklyHours{Weekday: w.Weekday, Span: app.Span{Start: w.Start, End: w.End}})
	}
	for _, x := range a.Exceptions {
		e := app.DateException{Date: x.Date, Closed: x.Closed}
		for _, h := range x.Hours {
			e.Hours = append(e.Hours, app.Span{Start: h.Start, End: h.End})
		}
		out.Exceptions = append(out.Exceptions, e)
	}
	return out, nil
}

func (r *linkRelay) SaveAvailability(ctx context.Context, a app.Availability) error {
	in := link.Availability{TimeZone: a.TimeZone}
	for _, w := range a.Weekly {
		in.Weekly = append(in.Weekly, link.WeeklyHours{Weekday: w.Weekday, Hours: link.Hours{Start: w.Start, End: w.End}})
	}
	for _, x := range a.Exceptions {
		e := link.AvailabilityException{Date: x.Date, Closed: x.Closed}
		for _, h := range x.Hours {
			e.Hours = append(e.Hours, link.Hours{Start: h.Start, End: h.End})
		}
		in.Exceptions = append(in.Exceptions, e)
	}
	return forUI(r.c.SetAvailability(ctx, in))
}

func minutes(n int) time.Duration { return time.Duration(n) * time.Minute }

func (r *linkRelay) AppointmentTypes(ctx context.Context) ([]app.AppointmentType, error) {
	ts, err := r.c.AppointmentTypes(ctx)
	if err != nil {
		return nil, forUI(err)
	}
	out := make([]app.AppointmentType, 0, len(ts))
	for _, t := range ts {
		out = append(out, toType(t))
	}
	return out, nil
}

func toType(t link.AppointmentType) app.AppointmentType {
	return app.AppointmentType{ID: t.ID, Name: t.Name, Description: t.Description, Kind: t.Kind,
		Duration: minutes(t.DurationMin), BufferBefore: minutes(t.BufferBeforeMin), BufferAfter: minutes(t.BufferAfterMin),
		MinNotice: minutes(t.MinNoticeMin), PerDayLimit: t.PerDayLimit, Active: t.Active}
}

func (r *linkRelay) SaveAppointmentType(ctx context.Context, t app.AppointmentType) (app.AppointmentType, error) {
	in := link.AppointmentType{ID: t.ID, Name: t.Name, Description: t.Description, Kind: t.Kind,
		DurationMin: int(t.Duration / time.Minute), BufferBeforeMin: int(t.BufferBefore / time.Minute),
		BufferAfterMin: int(t.BufferAfter / time.Minute), MinNoticeMin: int(t.MinNotice / time.Minute),
		PerDayLimit: t.PerDayLimit, Active: t.Active}
	var out link.AppointmentType
	var err error
	if t.ID == "" {
		out, err = r.c.CreateAppointmentType(ctx, in)
	} else {
		out, err = r.c.UpdateAppointmentType(ctx, in)
	}
	if err != nil {
		return app.AppointmentType{}, forUI(err)
	}
	return toType(out), nil
}

func (r *linkRelay) DeleteAppointmentType(ctx context.Context, id string) error {
	return forUI(r.c.DeleteAppointmentType(ctx, id))
}

func (r *linkRelay) BookingPage(ctx context.Context) (app.BookingPageInfo, error) {
	p, err := r.c.BookingPage(ctx)
	var ae *link.APIError
	if errors.As(err, &ae) && ae.Code == link.CodeNotFound {
		return app.BookingPageInfo{}, nil // not enabled yet
	}
	if err != nil {
		return app.BookingPageInfo{}, forUI(err)
	}
	return app.BookingPageInfo{URL: p.URL, Enabled: p.Enabled}, nil
}

func (r *linkRelay) EnableBookingPage(ctx context.Context) (app.BookingPageInfo, error) {
	p, err := r.c.EnableBookingPage(ctx)
	if err != nil {
		return app.BookingPageInfo{}, forUI(err)
	}
	return app.BookingPageInfo{URL: p.URL, Enabled: p.Enabled}, nil
}

func (r *linkRelay) CalendarFeed(ctx context.Context) (string, error) {
	u, err := r.c.CalendarFeed(ctx)
	var ae *link.APIError
	if errors.As(err, &ae) && ae.Code == link.CodeFeedIssued {
		return "", nil // shown once already; only a new address can be shown
	}
	return u, forUI(err)
}

func (r *linkRelay) RotateCalendarFeed(ctx context.Context) (string, error) {
	u, err := r.c.RotateCalendarFeed(ctx)
	return u, forUI(err)
}

func toSource(s link.CalendarSource) app.CalendarSource {
	out := app.CalendarSource{ID: s.ID, Kind: s.Kind, URL: s.URL, Label: s.Label, LastError: s.LastError, Events: s.Events}
	if s.LastSync != nil {
		out.LastSync = *s.LastSync
	}
	return out
}

func (r *linkRelay) CalendarSources(ctx context.Context) ([]app.CalendarSource, error) {
	ss, err := r.c.CalendarSources(ctx)
	if err != nil {
		return nil, forUI(err)
	}
	out := make([]app.CalendarSource, 0, len(ss))
	for _, s := range ss {
		out = append(out, toSource(s))
	}
	return out, nil
}

func (r *linkRelay) AddCalendarSource(ctx context.Context, s app.NewCalendarSource) (app.CalendarSource, error) {
	src, err := r.c.AddCalendarSource(ctx, link.NewCalendarSource{Kind: s.Kind, URL: s.URL, Username: s.Username, Password: s.Password, Label: s.Label})
	if err != nil {
		return app.CalendarSource{}, forUI(err)
	}
	return toSource(src), nil
}

func (r *linkRelay) RemoveCalendarSource(ctx context.Context, id string) error {
	return forUI(r.c.RemoveCalendarSource(ctx, id))
}

func toCustomer(c link.Customer) app.Customer {
	return app.Customer{ID: c.ID, FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Mobile: c.Mobile,
		Address: toAddress(c.Address), Created: c.Created, LastInteraction: c.LastInteraction}
}

func (r *linkRelay) Customers(ctx context.Context, query string, limit int) ([]app.Customer, error) {
	cs, err := r.c.Customers(ctx, query, min(max(limit, 1), 200))
	if err != nil {
		return nil, forUI(err)
	}
	out := make([]app.Customer, 0, len(cs))
	for _, c := range cs {
		out = append(out, toCustomer(c))
	}
	return out, nil
}

func (r *linkRelay) CustomerHistory(ctx context.Context, id string) (app.CustomerHistory, error) {
	h, err := r.c.Customer(ctx, id)
	if err != nil {
		return app.CustomerHistory{}, forUI(err)
	}
	out := app.CustomerHistory{Customer: toCustomer(h.Customer)}
	for _, b := range h.Bookings {
		out.Bookings = append(out.Bookings, toBooking(b))
	}
	for _, m := range h.Meetings {
		out.Meetings = append(out.Meetings, toMeetingInfo(m))
	}
	return out, nil
}

func (r *linkRelay) UpdateCustomer(ctx context.Context, c app.Customer) (app.Customer, error) {
	in := link.Customer{ID: c.ID, FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Mobile: c.Mobile}
	if c.Address != (app.Address{}) {
		a := link.Address{Street: c.Address.Street, PostalCode: c.Address.PostalCode, City: c.Address.City, Country: c.Address.Country}
		in.Address = &a
	}
	out, err := r.c.UpdateCustomer(ctx, in)
	if err != nil {
		return app.Customer{}, forUI(err)
	}
	return toCustomer(out), nil
}

var _ app.FeedbackRelay = (*linkRelay)(nil)

func toFeedback(f link.Feedback) app.Feedback {
	out := app.Feedback{MeetingID: f.MeetingID, Status: f.Status, ConsentGiven: f.Consent.Given, ConsentSource: f.Consent.Source,
		MeetingEnded: f.MeetingEnded, Expires: f.Expires, Rating: f.Rating, Text: f.Text}
	if f.Answered != nil {
		out.Answered = *f.Answered
	}
	return out
}

func (r *linkRelay) CustomerFeedback(ctx context.Context, customerID string) ([]app.Feedback, error) {
	fs, err := r.c.CustomerFeedback(ctx, customerID)
	if err != nil {
		return nil, forUI(err)
	}
	out := make([]app.Feedback, 0, len(fs))
	for _, f := range fs {
		out = append(out, toFeedback(f))
	}
	return out, nil
}

func (r *linkRelay) RecordFeedbackConsent(ctx context.Context, meetingID, lang string) (app.Feedback, error) {
	f, err := r.c.RecordFeedbackConsent(ctx, meetingID, lang)
	if err != nil {
		return app.Feedback{}, forUI(err)
	}
	return toFeedback(f), nil
}
