package kiosk

import (
	"context"
	"errors"
	"image"

	"parley/signpad"
)

// Errors the [Relay] returns for outcomes the kiosk words for the
// customer; check with errors.Is. Other errors are shown as they read.
var (
	// ErrWrongCode: no document is queued under this pickup code.
	ErrWrongCode = errors.New("kiosk: wrong pickup code")
	// ErrWrongPIN: the admin PIN is wrong.
	ErrWrongPIN = errors.New("kiosk: wrong PIN")
	// ErrTooManyAttempts: too many wrong codes or PINs; try later.
	ErrTooManyAttempts = errors.New("kiosk: too many attempts")
	// ErrUnpaired: the relay no longer knows the kiosk's token (the kiosk
	// was deleted): it must be set up again.
	ErrUnpaired = errors.New("kiosk: this kiosk is no longer registered")
)

// Relay is what the kiosk needs from the relay (contract B, kiosk device
// side). The program's main package adapts the relay link client to it.
// Every method may block on the network; the kiosk calls them off the UI
// thread with a timeout.
type Relay interface {
	// Connect checks that the relay at addr answers. A certificate this
	// computer does not trust yet yields an error with a method
	// Fingerprint() string (the certificate's SHA-256 fingerprint).
	Connect(ctx context.Context, addr string) error
	// Trust pins fingerprint for the relay at addr.
	Trust(addr, fingerprint string) error
	// UseToken makes later calls authenticate as the kiosk device token.
	UseToken(token string) error
	// Me returns the kiosk as the relay knows it ([ErrUnpaired] for an
	// unknown token).
	Me(ctx context.Context) (Me, error)
	// Open opens the document queued under a pickup code.
	Open(ctx context.Context, code string) (Document, error)
	// Page returns page n (1-based) of doc rendered width pixels wide.
	Page(ctx context.Context, doc Document, n, width int) (image.Image, error)
	// Submit sends the signer's signature and texts.
	Submit(ctx context.Context, doc Document, s Submission) error
	// Unlock checks the admin PIN that ends kiosk mode.
	Unlock(ctx context.Context, pin string) error
	// CallAdvisor asks the tenant's advisors for a video call.
	CallAdvisor(ctx context.Context) (CallRequest, error)
	// CallStatus reads the call request's state.
	CallStatus(ctx context.Context, id string) (CallRequest, error)
	// CancelCall withdraws the call request.
	CancelCall(ctx context.Context, id string) error
	// JoinCall joins the meeting as the guest holding secret; ctx bounds
	// the setup only.
	JoinCall(ctx context.Context, meetingID, secret string) (Call, error)
}

// Me is the kiosk device.
type Me struct {
	// ID is the kiosk's id, Name the name its admin gave it.
	ID, Name string
	// TenantName is shown on the attract screen.
	TenantName string
}

// Document is a document opened with a pickup code.
type Document struct {
	// Token and Session are the signer's link token and session; they are
	// dropped when the session ends.
	Token, Session string
	// Signer is the signer's role; Title the process's title.
	Signer, Title string
	// Pages is the number of pages.
	Pages int
	// Fields are the signer's fields.
	Fields []Field
}

// Field is one of the signer's fields.
type Field struct {
	// ID is the field's id.
	ID string
	// Page is the field's 1-based page.
	Page int
	// Signature is set for a signature field, clear for a text field.
	Signature bool
	// Label is the field's caption (may be empty).
	Label string
	// Box is where the field lies on its page: left, top, right, bottom
	// as fractions of the page's shown width and height; all zero when
	// unknown (then the page is shown without the field marked).
	Box [4]float32
}

// Submission is a captured signature.
type Submission struct {
	// Texts are the values of the signer's text fields by id.
	Texts map[string]string
	// ISO19794 is the signature as an ISO/IEC 19794-7 binary record.
	ISO19794 []byte
	// Device describes the pen: "evdev: <name>" or "pointer".
	Device string
}

// Call request statuses.
const (
	CallWaiting    = "waiting"
	CallAccepted   = "accepted"
	CallUnanswered = "unanswered"
	CallCancelled  = "cancelled"
)

// CallRequest is the kiosk's request to talk to an advisor.
type CallRequest struct {
	// ID identifies the request; Status is one of the Call… statuses.
	ID, Status string
	// MeetingID and Secret are set once an advisor accepted.
	MeetingID, Secret string
}

// Call is the kiosk's presence in an advisor's meeting.
type Call interface {
	// Remote returns the advisor's video; nil before it arrives.
	Remote() VideoSource
	// SetMuted mutes or unmutes the kiosk's microphone.
	SetMuted(muted bool) error
	// Done is closed when the call ended (hang-up on either side).
	Done() <-chan struct{}
	// Leave hangs up; it may be called more than once.
	Leave() error
}

// VideoSource hands out the newest decoded frame and its number (0 and
// nil before the first).
type VideoSource interface {
	Latest() (image.Image, uint64)
}

// Pen is a pen tablet read in the background (evdev on Linux).
type Pen interface {
	// Name describes the pen for the signature's device field, e.g.
	// "evdev: Wacom Intuos".
	Name() string
	// Run reads the pen until ctx ends, calling emit from its own
	// goroutine for every sample, with the device description (whose
	// capabilities may grow as reports arrive). It returns when ctx ends
	// or the pen fails for good.
	Run(ctx context.Context, emit func(signpad.Device, signpad.Sample)) error
}

// Pairing is what the kiosk keeps between customers and restarts.
type Pairing struct {
	// Addr is the relay's address, Token the kiosk device token (pkd_…).
	Addr, Token string
}

// PairingStore keeps the pairing (the token encrypted).
type PairingStore interface {
	// Load returns the saved pairing; ok is false when there is none.
	Load() (p Pairing, ok bool, err error)
	// Save keeps p.
	Save(p Pairing) error
	// Clear forgets the pairing.
	Clear() error
}
