package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// fakeRelay is a Relay for tests that works from its zero value: Connect
// succeeds over "QUIC (HTTP/3)", Login signs anybody in as an advisor, and
// every call is recorded.
type fakeRelay struct {
	// Configuration, set before the UI uses the fake.
	transport  string // default "QUIC (HTTP/3)"
	role       string // default "advisor"
	mustChange bool   // Login reports MustChangePassword until ChangePassword succeeds
	untrusted  string // if set, Connect fails with a certificate error carrying this fingerprint until it is trusted
	connectErr error  // returned by Connect
	loginErr   error  // returned by Login
	createErr  error  // returned by CreateUser
	logoutErr  error  // returned by Logout
	// deleteRefusal is DeleteAccount's error after a right password;
	// deleted records that it succeeded.
	deleteRefusal error
	deleted       bool
	gate          chan struct{} // if non-nil, Connect waits for it (or ctx) before answering
	users         []Person      // returned by ListUsers; CreateUser appends
	audit         []AuditEntry  // returned by AuditLog
	meetingErr    error         // returned by StartMeeting and EndMeeting
	guestErr      error         // returned by AdmitGuest, TurnAwayGuest and RemoveGuest
	// secondFactor makes Login ask for a second factor: the right code is
	// 123456 (or the recovery code abcd-efgh-ijkl-mnop), the password for
	// the settings' second-factor calls is "pw", and a challenge takes 5
	// wrong codes, like the relay's.
	secondFactor bool
	sfErr        error // if set, LoginSecondFactor returns it (before checking the code)

	mu      sync.Mutex
	calls   []string
	trusted map[string]string // addr → fingerprint
	created []NewPerson
	changes [][2]string // current, next

	meetings int                // meetings started, numbering them m1, m2, …
	links    map[string]int     // meeting id → links issued, numbering them
	ended    map[string]bool    // meeting id → ended
	guests   map[string][]Guest // meeting id → guests; tests add with addGuest
	list     []MeetingInfo      // returned by Meetings, newest first; StartMeeting prepends
	listErr  error              // returned by Meetings
	listed   int                // calls of Meetings

	challenges int            // challenges issued, numbering them pmf_1, pmf_2, …
	wrongCodes map[string]int // challenge → wrong codes
	enrolling  bool           // StartSecondFactor succeeded, not confirmed yet

	bk fakeBooking // the BookingRelay part; see fake_booking_test.go
}

// listCalls returns how often Meetings was called.
func (f *fakeRelay) listCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listed
}

// certError stands for the link client's unknown-certificate error.
type certError struct{ fp string }

func (e *certError) Error() string       { return "the relay's certificate is not trusted yet" }
func (e *certError) Fingerprint() string { return e.fp }

func (f *fakeRelay) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Calls returns the recorded calls, e.g. "Connect https://h:1".
func (f *fakeRelay) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// called reports how many recorded calls start with prefix.
func (f *fakeRelay) called(prefix string) int {
	n := 0
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeRelay) Connect(ctx context.Context, addr string) (string, error) {
	f.record("Connect %s", addr)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.connectErr != nil {
		return "", f.connectErr
	}
	if f.untrusted != "" && f.trusted[addr] != f.untrusted {
		return "", fmt.Errorf("connect to %s: %w", addr, &certError{fp: f.untrusted})
	}
	if f.transport == "" {
		return "QUIC (HTTP/3)", nil
	}
	return f.transport, nil
}

func (f *fakeRelay) Trust(addr, fingerprint string) error {
	f.record("Trust %s %s", addr, fingerprint)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.trusted == nil {
		f.trusted = map[string]string{}
	}
	f.trusted[addr] = fingerprint
	return nil
}

func (f *fakeRelay) Login(ctx context.Context, tenant, username, password string) (Account, error) {
	f.record("Login %s %s", tenant, username)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loginErr != nil {
		return Account{}, f.loginErr
	}
	if f.secondFactor {
		f.challenges++
		return Account{}, fmt.Errorf("login: %w", &SecondFactorRequired{Challenge: fmt.Sprintf("pmf_%d", f.challenges)})
	}
	return f.account(tenant, username), nil
}

func (f *fakeRelay) account(tenant, username string) Account {
	role := f.role
	if role == "" {
		role = "advisor"
	}
	return Account{Tenant: tenant, Username: username, DisplayName: "Erika Mustermann", Role: role,
		MustChangePassword: f.mustChange, SecondFactor: f.secondFactor}
}

func (f *fakeRelay) ChangePassword(ctx context.Context, current, next string) error {
	f.record("ChangePassword")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, [2]string{current, next})
	f.mustChange = false
	return nil
}

func (f *fakeRelay) Logout(ctx context.Context) error {
	f.record("Logout")
	return f.logoutErr
}

func (f *fakeRelay) ListUsers(ctx context.Context) ([]Person, error) {
	f.record("ListUsers")
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Person(nil), f.users...), nil
}

func (f *fakeRelay) CreateUser(ctx context.Context, p NewPerson) (Person, error) {
	f.record("CreateUser %s", p.Username)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, p)
	if f.createErr != nil {
		return Person{}, f.createErr
	}
	np := Person{ID: fmt.Sprintf("u%d", len(f.users)+1), Username: p.Username, DisplayName: p.DisplayName, Email: p.Email, Role: p.Role}
	f.users = append(f.users, np)
	return np, nil
}

func (f *fakeRelay) SetUserDisabled(ctx context.Context, id string, disabled bool) (Person, error) {
	f.record("SetUserDisabled %s %v", id, disabled)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.users {
		if f.users[i].ID == id {
			f.users[i].Disabled = disabled
			return f.users[i], nil
		}
	}
	return Person{}, fmt.Errorf("no such user")
}

func (f *fakeRelay) ResetPassword(ctx context.Context, id string) (string, error) {
	f.record("ResetPassword %s", id)
	return "Einmal-Passwort-123", nil
}

func (f *fakeRelay) AuditLog(ctx context.Context) ([]AuditEntry, error) {
	f.record("AuditLog")
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]AuditEntry(nil), f.audit...), nil
}

func (f *fakeRelay) link(id string) JoinLinkInfo {
	if f.links == nil {
		f.links = map[string]int{}
	}
	f.links[id]++
	return JoinLinkInfo{URL: fmt.Sprintf("https://relay.example/j/pmj_%s_%d", id, f.links[id])}
}

func (f *fakeRelay) StartMeeting(ctx context.Context, title string) (MeetingInfo, JoinLinkInfo, error) {
	f.record("StartMeeting %s", title)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.meetingErr != nil {
		return MeetingInfo{}, JoinLinkInfo{}, f.meetingErr
	}
	f.meetings++
	id := fmt.Sprintf("m%d", f.meetings)
	now := time.Now()
	m := MeetingInfo{ID: id, Title: title, Status: MeetingOpen, Created: now, LinkExpiresAt: now.Add(4 * time.Hour)}
	f.list = append([]MeetingInfo{m}, f.list...)
	return m, f.link(id), nil
}

func (f *fakeRelay) Meetings(ctx context.Context, limit int) ([]MeetingInfo, error) {
	// Not recorded in calls (the sign-in tests compare those exactly):
	// counted in listed.
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listed++
	if f.listErr != nil {
		return nil, f.listErr
	}
	return append([]MeetingInfo{}, f.list[:min(limit, len(f.list))]...), nil
}

func (f *fakeRelay) NewJoinLink(ctx context.Context, id string) (JoinLinkInfo, error) {
	f.record("NewJoinLink %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.link(id), nil
}

func (f *fakeRelay) EndMeeting(ctx context.Context, id string) error {
	f.record("EndMeeting %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.meetingErr != nil {
		return f.meetingErr
	}
	if f.ended == nil {
		f.ended = map[string]bool{}
	}
	f.ended[id] = true
	for i := range f.list {
		if f.list[i].ID == id {
			f.list[i].Status, f.list[i].Ended = MeetingEnded, time.Now()
		}
	}
	for i := range f.guests[id] {
		if g := &f.guests[id][i]; g.State == GuestWaiting || g.State == GuestAdmitted {
			g.State = GuestEnded
		}
	}
	return nil
}

// addGuest puts a guest into the meeting's waiting room.
func (f *fakeRelay) addGuest(meetingID string, g Guest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.guests == nil {
		f.guests = map[string][]Guest{}
	}
	if g.State == "" {
		g.State = GuestWaiting
	}
	f.guests[meetingID] = append(f.guests[meetingID], g)
}

// guestState returns the state of a guest, or "".
func (f *fakeRelay) guestState(meetingID, guestID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.guests[meetingID] {
		if g.ID == guestID {
			return g.State
		}
	}
	return ""
}

func (f *fakeRelay) Guests(ctx context.Context, id string) ([]Guest, error) {
	f.record("Guests %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Guest{}, f.guests[id]...), nil
}

// moveGuest changes a guest's state from one state to another.
func (f *fakeRelay) moveGuest(meetingID, guestID, from, to string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.guestErr != nil {
		return f.guestErr
	}
	for i := range f.guests[meetingID] {
		if g := &f.guests[meetingID][i]; g.ID == guestID {
			if g.State != from {
				return fmt.Errorf("the guest is %s, not %s", g.State, from)
			}
			g.State = to
			return nil
		}
	}
	return fmt.Errorf("no such guest")
}

func (f *fakeRelay) AdmitGuest(ctx context.Context, meetingID, guestID string) error {
	f.record("AdmitGuest %s %s", meetingID, guestID)
	return f.moveGuest(meetingID, guestID, GuestWaiting, GuestAdmitted)
}

func (f *fakeRelay) TurnAwayGuest(ctx context.Context, meetingID, guestID string) error {
	f.record("TurnAwayGuest %s %s", meetingID, guestID)
	return f.moveGuest(meetingID, guestID, GuestWaiting, GuestRejected)
}

func (f *fakeRelay) RemoveGuest(ctx context.Context, meetingID, guestID string) error {
	f.record("RemoveGuest %s %s", meetingID, guestID)
	return f.moveGuest(meetingID, guestID, GuestAdmitted, GuestRemoved)
}

// wrongCode is the fake's answer to a wrong code.
type wrongCode struct{}

func (wrongCode) Error() string        { return "That code is not right or was used already." }
func (wrongCode) Is(target error) bool { return target == ErrInvalidCode }

const (
	fakeCode     = "123456"
	fakeRecovery = "abcd-efgh-ijkl-mnop"
	fakeSecret   = "JBSWY3DPEHPK3PXP"
	fakeOTPURL   = "otpauth://totp/Parley%20acme:erika?algorithm=SHA1&digits=6&issuer=Parley+acme&period=30&secret=" + fakeSecret
)

// goodCode reports whether code (as typed) is the fake's code or
// recovery code.
func goodCode(code string) bool {
	c := strings.Join(strings.Fields(code), "")
	return c == fakeCode || c == fakeRecovery
}

func (f *fakeRelay) LoginSecondFactor(ctx context.Context, challenge, code string) (Account, error) {
	f.record("LoginSecondFactor %s %s", challenge, code)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sfErr != nil {
		return Account{}, f.sfErr
	}
	if f.wrongCodes == nil {
		f.wrongCodes = map[string]int{}
	}
	if f.wrongCodes[challenge] >= 5 || !goodCode(code) {
		f.wrongCodes[challenge]++
		return Account{}, fmt.Errorf("second factor: %w", wrongCode{})
	}
	f.wrongCodes[challenge] = 5 // used up
	return f.account("acme", "erika"), nil
}

func (f *fakeRelay) StartSecondFactor(ctx context.Context, password string) (SecondFactorSetup, error) {
	f.record("StartSecondFactor")
	f.mu.Lock()
	defer f.mu.Unlock()
	if password != "pw" {
		return SecondFactorSetup{}, fmt.Errorf("Wrong username or password.")
	}
	f.enrolling = true
	return SecondFactorSetup{Secret: fakeSecret, URL: fakeOTPURL, Expires: time.Now().Add(15 * time.Minute)}, nil
}

func fakeRecoveryCodes() []string {
	codes := make([]string, 10)
	for i := range codes {
		codes[i] = fmt.Sprintf("rc%02d-aaaa-bbbb-cccc", i)
	}
	return codes
}

func (f *fakeRelay) ConfirmSecondFactor(ctx context.Context, code string) ([]string, error) {
	f.record("ConfirmSecondFactor %s", code)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.enrolling {
		return nil, fmt.Errorf("Two-factor sign-in is not on (or its set-up expired — start again).")
	}
	if strings.TrimSpace(code) != fakeCode {
		return nil, wrongCode{}
	}
	f.enrolling, f.secondFactor = false, true
	return fakeRecoveryCodes(), nil
}

func (f *fakeRelay) NewRecoveryCodes(ctx context.Context, code string) ([]string, error) {
	f.record("NewRecoveryCodes %s", code)
	if strings.TrimSpace(code) != fakeCode {
		return nil, wrongCode{}
	}
	return fakeRecoveryCodes(), nil
}

func (f *fakeRelay) DeleteAccount(ctx context.Context, password, code string) error {
	f.record("DeleteAccount %s", code)
	f.mu.Lock()
	defer f.mu.Unlock()
	if password != "pw" {
		return fmt.Errorf("Wrong username or password.")
	}
	if f.deleteRefusal != nil {
		return f.deleteRefusal
	}
	f.deleted = true
	return nil
}

func (f *fakeRelay) DisableSecondFactor(ctx context.Context, password, code string) error {
	f.record("DisableSecondFactor %s", code)
	f.mu.Lock()
	defer f.mu.Unlock()
	if password != "pw" {
		return fmt.Errorf("Wrong username or password.")
	}
	if !goodCode(code) {
		return wrongCode{}
	}
	f.secondFactor = false
	return nil
}

func (f *fakeRelay) ResetSecondFactor(ctx context.Context, id string) error {
	f.record("ResetSecondFactor %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.users {
		if f.users[i].ID == id {
			f.users[i].SecondFactor = false
			return nil
		}
	}
	return fmt.Errorf("no such user")
}

var _ Relay = (*fakeRelay)(nil)
