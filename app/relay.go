package app

import (
	"context"
	"time"

	"fyne.io/fyne/v2"
)

// Relay is what the UI needs from the relay connection. The UI calls every
// method off the UI thread, with a context that carries a timeout, and shows
// the text of any error it returns to the user, so implementations should
// return messages a person can act on.
type Relay interface {
	// Connect opens (or re-opens) the connection to the relay at addr and
	// returns the transport in use as human text, such as "QUIC (HTTP/3)"
	// or "TCP (HTTP/2)". When the relay presents a certificate that is not
	// yet trusted, the error has a method Fingerprint() string that returns
	// the certificate's fingerprint; the UI then asks the user and calls
	// Trust before connecting again.
	Connect(ctx context.Context, addr string) (transport string, err error)
	// Trust pins the certificate with the given fingerprint for addr.
	Trust(addr, fingerprint string) error
	// Login signs the user in to the tenant.
	Login(ctx context.Context, tenant, username, password string) (Account, error)
	// ChangePassword replaces the signed-in user's password.
	ChangePassword(ctx context.Context, current, next string) error
	// Logout ends the session on the relay.
	Logout(ctx context.Context) error
	// ListUsers returns the tenant's users (admins only).
	ListUsers(ctx context.Context) ([]Person, error)
	// CreateUser adds a user to the tenant (admins only).
	CreateUser(ctx context.Context, p NewPerson) (Person, error)
	// SetUserDisabled disables (signing them out everywhere) or re-enables
	// a user of the tenant (admins only) and returns the updated user.
	SetUserDisabled(ctx context.Context, id string, disabled bool) (Person, error)
	// ResetPassword gives a user a new one-time password (admins only) and
	// returns it so the admin can hand it over.
	ResetPassword(ctx context.Context, id string) (string, error)
	// AuditLog returns the tenant's latest audit entries, oldest first
	// (admins only).
	AuditLog(ctx context.Context) ([]AuditEntry, error)

	// LoginSecondFactor finishes a sign-in that Login refused with a
	// *[SecondFactorRequired] error, with a code from the authenticator
	// app or a recovery code. A wrong code (or a challenge the relay no
	// longer accepts) gives an error matching [ErrInvalidCode].
	LoginSecondFactor(ctx context.Context, challenge, code string) (Account, error)
	// StartSecondFactor begins turning on two-factor sign-in for the
	// signed-in user, after their password.
	StartSecondFactor(ctx context.Context, password string) (SecondFactorSetup, error)
	// ConfirmSecondFactor turns two-factor sign-in on with the first code
	// from the app and returns the recovery codes, shown only once.
	ConfirmSecondFactor(ctx context.Context, code string) ([]string, error)
	// NewRecoveryCodes replaces the signed-in user's recovery codes after
	// a current code; the old ones stop working.
	NewRecoveryCodes(ctx context.Context, code string) ([]string, error)
	// DisableSecondFactor turns two-factor sign-in off after the password
	// and a current code (or a recovery code).
	DisableSecondFactor(ctx context.Context, password, code string) error
	// DeleteAccount deletes the signed-in user's own account after the
	// password and, with a second factor, a code ("" without). The relay
	// refuses while appointments are to come, and for the last admin.
	DeleteAccount(ctx context.Context, password, code string) error
	// ResetSecondFactor removes a user's second factor and signs them out
	// everywhere (admins only; for a lost phone).
	ResetSecondFactor(ctx context.Context, userID string) error

	// Meetings returns up to limit of the signed-in user's own meetings,
	// newest first.
	Meetings(ctx context.Context, limit int) ([]MeetingInfo, error)
	// StartMeeting creates an instant meeting owned by the signed-in user,
	// with an optional title, and returns it with its join link.
	StartMeeting(ctx context.Context, title string) (MeetingInfo, JoinLinkInfo, error)
	// NewJoinLink replaces the meeting's join link; the old one stops
	// working at once.
	NewJoinLink(ctx context.Context, meetingID string) (JoinLinkInfo, error)
	// EndMeeting ends the meeting: every guest leaves and the link dies.
	EndMeeting(ctx context.Context, meetingID string) error
	// Guests returns everyone who joined the meeting through its link, in
	// the order they joined, whatever their state.
	Guests(ctx context.Context, meetingID string) ([]Guest, error)
	// AdmitGuest lets a waiting guest into the meeting.
	AdmitGuest(ctx context.Context, meetingID, guestID string) error
	// TurnAwayGuest refuses a waiting guest.
	TurnAwayGuest(ctx context.Context, meetingID, guestID string) error
	// RemoveGuest removes an admitted guest from the meeting.
	RemoveGuest(ctx context.Context, meetingID, guestID string) error
}

// Meeting statuses, as reported in [MeetingInfo.Status].
const (
	MeetingScheduled = "scheduled" // booked, not started yet
	MeetingOpen      = "open"      // started
	MeetingEnded     = "ended"     // over; its link no longer works
)

// MeetingInfo describes a meeting of the signed-in user.
type MeetingInfo struct {
	// ID is the relay's identifier of the meeting.
	ID string
	// Title is the optional title given when the meeting was started.
	Title string
	// Status is one of the Meeting… statuses; empty means open.
	Status string
	// Created is when the meeting was started.
	Created time.Time
	// Scheduled is a booked meeting's start; zero for instant meetings.
	Scheduled time.Time
	// Ended is when the meeting ended; zero while it has not.
	Ended time.Time
	// LinkExpiresAt is when the join link stops working.
	LinkExpiresAt time.Time
}

// ended reports whether the meeting is over.
func (m MeetingInfo) ended() bool { return m.Status == MeetingEnded }

// JoinLinkInfo is a meeting's join link as handed to customers.
type JoinLinkInfo struct {
	// URL is the customer page's address, with the secret token in it.
	URL string
}

// Guest states, as reported in [Guest.State].
const (
	GuestWaiting  = "waiting"  // in the waiting room
	GuestAdmitted = "admitted" // in the meeting
	GuestRejected = "rejected" // turned away from the waiting room
	GuestRemoved  = "removed"  // removed from the meeting
	GuestEnded    = "ended"    // was there when the meeting ended
	GuestLeft     = "left"     // left the waiting room or the meeting
)

// Guest is a customer who joined a meeting through its link.
type Guest struct {
	// ID identifies the guest within the meeting.
	ID string
	// Name is the name the customer gave.
	Name string
	// Phone is the phone number the customer gave, possibly empty.
	Phone string
	// State is one of the Guest… states.
	State string
	// Joined is when the customer entered the waiting room.
	Joined time.Time
}

// AuditEntry is one recorded admin action.
type AuditEntry struct {
	// Seq is the entry's place in the log.
	Seq uint64
	// Time is when it happened.
	Time time.Time
	// Actor is the acting user's id, or "system".
	Actor string
	// Action names what happened, e.g. "user.create".
	Action string
	// Target is the id of the user (or other object) acted on.
	Target string
}

// Account describes the signed-in user.
type Account struct {
	// Tenant is the tenant's short name, e.g. "acme".
	Tenant string
	// Username is the name the user signs in with.
	Username string
	// DisplayName is the user's full name as shown to others.
	DisplayName string
	// Role is "admin" or "advisor".
	Role string
	// MustChangePassword is true while the account still has its one-time
	// password; the UI then asks for a new one before anything else.
	MustChangePassword bool // SecondFactor is true while signing in needs a code from an
	// authenticator app as well as the password.
	SecondFactor bool
}

// Person is a user of the tenant as listed for admins.
type Person struct {
	// ID is the relay's identifier of the user.
	ID string
	// Username is the name the user signs in with.
	Username string
	// DisplayName is the user's full name.
	DisplayName string
	// Email is the user's e-mail address, possibly empty.
	Email string
	// Role is "admin" or "advisor".
	Role string
	// Disabled users cannot sign in until an admin enables them again.
	Disabled bool // SecondFactor is true while the user signs in with a code from an
	// authenticator app as well as the password.
	SecondFactor bool
}

// NewPerson is what an admin enters to create a user.
type NewPerson struct {
	// Username is the name the new user signs in with.
	Username string
	// DisplayName is the new user's full name.
	DisplayName string
	// Email is the new user's e-mail address.
	Email string
	// Password is the initial (one-time) password; the user must change it
	// at the first sign-in.
	Password string
	// Role is "advisor" when created from the Team page.
	Role string
}

// LocalRelay describes a relay that the program started on this computer.
type LocalRelay struct {
	// Addr is the local relay's address, e.g. "https://127.0.0.1:8443".
	Addr string
	// Tenant is the tenant created for local use.
	Tenant string
	// Username is the local admin's username.
	Username string
	// OneTimePassword is the local admin's initial password; empty once it
	// has been changed.
	OneTimePassword string
}

// Options configures the UI built by [New].
type Options struct {
	// Relay is the connection to the relay. Required.
	Relay Relay
	// Prefs remembers the relay address, tenant and username between runs
	// (never the password). Nil means the app's own Preferences.
	Prefs fyne.Preferences
	// DefaultAddr is the relay address offered when nothing is remembered,
	// e.g. "https://127.0.0.1:8443" when launched by the run script.
	DefaultAddr string
	// DefaultTenant is the tenant offered when nothing is remembered, e.g.
	// "default" for the relay the run script starts.
	DefaultTenant string
	// Local is non-nil when the program started a relay on this computer:
	// the sign-in form is then prefilled from it, a card explains the local
	// relay and shows its one-time password, and nothing is remembered in
	// Prefs (the local values come anew with every start).
	Local *LocalRelay
	// Booking serves the Calendar, Customers and Booking pages; nil shows
	// them as placeholders.
	Booking BookingRelay
	// Inbox serves the Inbox page from the offline cache; nil shows it as
	// a placeholder.
	Inbox Inbox
	// Calls joins meetings' video calls; nil hides "Join call" (the
	// Meetings page then manages links and the waiting room only).
	Calls CallStarter
	// Signing serves the Signatures page (e-signature processes); nil
	// shows it as a placeholder.
	Signing SigningRelay
	// Kiosk is reserved for the full-screen kiosk shell; it is only stored
	// for now.
	Kiosk bool
}
