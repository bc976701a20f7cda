package app

import (
	"context"
	"fmt"
	"image"
	"io"
	"strconv"
	"strings"
	"time"
)

// SigningRelay is what the Documents page needs from the relay: the
// advisor's e-signature processes (docs/signing.md), page images of their
// documents, synchronous signing in a meeting and at a kiosk. Like
// [Relay], the UI calls every method off the UI thread with a context
// that carries a timeout and shows the text of any error.
type SigningRelay interface {
	// SigningProcesses returns the processes the user may see.
	SigningProcesses(ctx context.Context) ([]SigningProcess, error)
	// SigningProcess returns one process.
	SigningProcess(ctx context.Context, id string) (SigningProcess, error)
	// CreateSigningProcess uploads a PDF, read from r (size bytes, -1 if
	// unknown), as a new draft.
	CreateSigningProcess(ctx context.Context, title string, r io.Reader, size int64) (SigningProcess, error)
	// SetSigningFields replaces a draft's signers (in signing order) and
	// fields.
	SetSigningFields(ctx context.Context, id string, signers []SignerAssignment, fields []SigningField) (SigningProcess, error)
	// SendSigningProcess sends a draft to its signers.
	SendSigningProcess(ctx context.Context, id string) (SigningProcess, error)
	// CancelSigningProcess cancels a process; the links die at once.
	CancelSigningProcess(ctx context.Context, id string) (SigningProcess, error)
	// DownloadSigningDocument writes the current revision (the sealed
	// PDF once completed) to w.
	DownloadSigningDocument(ctx context.Context, id string, w io.Writer) error
	// AdvisorSign signs as the advisor with the pad's Pointer Events JSON
	// and the values of the advisor's text fields.
	AdvisorSign(ctx context.Context, id string, texts map[string]string, pointer []byte) (SigningProcess, error)
	// SigningPage returns page n (1-based) of the current revision,
	// rendered widthPx wide.
	SigningPage(ctx context.Context, id string, n, widthPx int) (image.Image, error)
	// PresentSigning hands the customer whose turn it is the signing page
	// in a live meeting (participantID is the guest's id) and returns the
	// signer's role.
	PresentSigning(ctx context.Context, id, meetingID, participantID string) (string, error)
	// Kiosks returns the tenant's kiosks.
	Kiosks(ctx context.Context) ([]KioskInfo, error)
	// QueueAtKiosk queues the current customer signer at a kiosk.
	QueueAtKiosk(ctx context.Context, id, kioskID string) (KioskTicket, error)
}

// Signing statuses, as in [SigningProcess.Status].
const (
	SigningDraft     = "draft"     // fields being placed
	SigningSent      = "sent"      // signers are signing
	SigningCompleted = "completed" // signed by all and sealed
	SigningCancelled = "cancelled" // cancelled by the advisor
	SigningExpired   = "expired"   // links expired before everyone signed
)

// Signer states, as in [Signer.State].
const (
	SignerWaiting = "waiting" // others sign first
	SignerPending = "pending" // their turn
	SignerSigned  = "signed"  // signed
)

// Field kinds, as in [SigningField.Kind], and the advisor's role.
const (
	FieldSignature = "signature" // a signature
	FieldText      = "text"      // a text the signer types
	RoleAdvisor    = "advisor"   // the advisor's signer role
)

// Rect is a rectangle in a page's user space: PDF points, origin bottom
// left.
type Rect struct {
	// LLX is the lower-left x.
	LLX float64
	// LLY is the lower-left y.
	LLY float64
	// URX is the upper-right x.
	URX float64
	// URY is the upper-right y.
	URY float64
}

// PageBox describes a page for placing fields.
type PageBox struct {
	// Number is the 1-based page number.
	Number int
	// MediaBox is the page's media box.
	MediaBox Rect
	// CropBox is the visible region, where fields must lie.
	CropBox Rect
	// Rotate is the clockwise rotation in degrees (0, 90, 180, 270).
	Rotate int
}

// SigningField is a field placed on the document.
type SigningField struct {
	// ID names the field within the process.
	ID string
	// Page is the 1-based page.
	Page int
	// Rect is the field's rectangle in user space.
	Rect Rect
	// Kind is FieldSignature or FieldText.
	Kind string
	// Signer is the role that fills it ("customer1", "advisor").
	Signer string
	// Label is an optional caption shown to the signer.
	Label string
}

// SignerAssignment gives a role to a customer (or the advisor).
type SignerAssignment struct {
	// Role is "customer1" … or RoleAdvisor.
	Role string
	// CustomerID is the customer's profile id; empty for the advisor.
	CustomerID string
}

// Signer is one signer of a process.
type Signer struct {
	// Role is "customer1" … or RoleAdvisor.
	Role string
	// CustomerID is the customer's profile id.
	CustomerID string
	// State is one of the Signer… states.
	State string
	// SignedAt is when they signed; zero before.
	SignedAt time.Time
}

// SigningProcess is one e-signature process.
type SigningProcess struct {
	// ID is the relay's id.
	ID string
	// Title is what the advisor called it.
	Title string
	// Status is one of the Signing… statuses.
	Status string
	// Created is when the PDF was uploaded.
	Created time.Time
	// Sent is when it was sent; zero before.
	Sent time.Time
	// Completed is when the last signer signed; zero before.
	Completed time.Time
	// LinksExpire is when the signers' links stop working.
	LinksExpire time.Time
	// Expires is when the relay deletes the process (retention).
	Expires time.Time
	// Pages are the document's pages.
	Pages []PageBox
	// Signers are the signers in signing order.
	Signers []Signer
	// Fields are the placed fields.
	Fields []SigningField
}

// next returns the signer whose turn it is, or nil.
func (p SigningProcess) next() *Signer {
	if p.Status != SigningSent {
		return nil
	}
	for i := range p.Signers {
		if p.Signers[i].State != SignerSigned && p.Signers[i].SignedAt.IsZero() {
			return &p.Signers[i]
		}
	}
	return nil
}

// signed counts the signers who signed.
func (p SigningProcess) signed() int {
	n := 0
	for _, s := range p.Signers {
		if s.State == SignerSigned || !s.SignedAt.IsZero() {
			n++
		}
	}
	return n
}

// KioskInfo is a branch kiosk.
type KioskInfo struct {
	// ID is the relay's id.
	ID string
	// Name is the kiosk's name, e.g. "Filiale Mitte".
	Name string
}

// KioskTicket is a signer queued at a kiosk.
type KioskTicket struct {
	// PickupCode is the six digits the customer types at the kiosk.
	PickupCode string
	// Expires is when the entry lapses.
	Expires time.Time
}

// statusName is a status in words.
func signingStatusName(s string) string {
	switch s {
	case SigningDraft:
		return "Draft"
	case SigningSent:
		return "Out for signature"
	case SigningCompleted:
		return "Completed"
	case SigningCancelled:
		return "Cancelled"
	case SigningExpired:
		return "Expired"
	}
	return s
}

// signerRoleName is a role in words: "Customer 1", "Advisor".
func signerRoleName(role string) string {
	if role == RoleAdvisor {
		return "Advisor (you)"
	}
	if n, ok := strings.CutPrefix(role, "customer"); ok {
		if _, err := strconv.Atoi(n); err == nil {
			return "Customer " + n
		}
	}
	return role
}

// progressText says how far the signing got: "1 of 3 signed".
func progressText(p SigningProcess) string {
	if len(p.Signers) == 0 {
		return "no signers yet"
	}
	return fmt.Sprintf("%d of %d signed", p.signed(), len(p.Signers))
}

// processSummary is the list row's second line.
func processSummary(p SigningProcess, loc *time.Location) string {
	day := func(t time.Time) string { return t.In(loc).Format("2 Jan 2006") }
	parts := []string{signingStatusName(p.Status), progressText(p)}
	switch {
	case !p.Completed.IsZero():
		parts = append(parts, "completed "+day(p.Completed))
	case !p.Sent.IsZero():
		parts = append(parts, "sent "+day(p.Sent))
	default:
		parts = append(parts, "created "+day(p.Created))
	}
	return strings.Join(parts, " · ")
}
