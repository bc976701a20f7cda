package link

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Signing process statuses (SigningProcess.Status), as in docs/signing.md.
const (
	SigningDraft     = "draft"     // uploaded, fields being placed
	SigningSent      = "sent"      // signers are signing
	SigningCompleted = "completed" // everyone signed; the document is sealed
	SigningCancelled = "cancelled" // the advisor cancelled it
	SigningExpired   = "expired"   // sent, not completed before the links expired
)

// Signer states (SigningSigner.State).
const (
	SignerWaiting = "waiting" // signers ahead of them have not signed yet
	SignerPending = "pending" // it is their turn
	SignerSigned  = "signed"  // they signed
)

// Field kinds (SigningField.Kind). The advisor's role in a signing order
// is [RoleAdvisor].
const (
	FieldSignature = "signature" // a signature field
	FieldText      = "text"      // a text field the signer fills
)

// Errors of the signing calls, each matched with errors.Is on the error
// the call returns (which also holds the relay's *[APIError], whose text
// is the relay's sentence for people).
var (
	// ErrNotPDF: the uploaded file is not a PDF (relay code not_pdf).
	ErrNotPDF = errors.New("link: the file is not a PDF")
	// ErrPDFEncrypted: the PDF is password protected (pdf_encrypted).
	ErrPDFEncrypted = errors.New("link: the PDF is encrypted")
	// ErrPDFMalformed: the PDF is damaged (pdf_malformed).
	ErrPDFMalformed = errors.New("link: the PDF is damaged")
	// ErrPDFTooLarge: the PDF exceeds the relay's size (pdf_too_large) or
	// page (pdf_too_many_pages) limit.
	ErrPDFTooLarge = errors.New("link: the PDF is too large")
	// ErrContactMissing: a customer signer lacks an e-mail address or a
	// mobile number in their profile (contact_missing).
	ErrContactMissing = errors.New("link: a signer's e-mail address or mobile number is missing")
	// ErrTrusteeKeyMissing: the tenant has no trustee key for biometric
	// data; an admin must set one (trustee_key_missing).
	ErrTrusteeKeyMissing = errors.New("link: the tenant has no trustee key")
	// ErrNotYourTurn: the signer is not next in the signing order
	// (not_your_turn, and contract B's not_customers_turn).
	ErrNotYourTurn = errors.New("link: not this signer's turn")
	// ErrSigningState: not possible in the process's current state
	// (invalid_state).
	ErrSigningState = errors.New("link: not possible in the process's state")
	// ErrPageNotFound: the page number is outside the document
	// (page_not_found).
	ErrPageNotFound = errors.New("link: no such page")
	// ErrParticipantNotFound: the meeting has no such participant
	// (participant_not_found).
	ErrParticipantNotFound = errors.New("link: no such participant in the meeting")
	// ErrMeetingNotLive: the meeting is not running (meeting_not_live).
	ErrMeetingNotLive = errors.New("link: the meeting is not live")
)

// signingCodes maps relay error codes to the sentinels above.
var signingCodes = map[string]error{
	"not_pdf":               ErrNotPDF,
	"pdf_encrypted":         ErrPDFEncrypted,
	"pdf_malformed":         ErrPDFMalformed,
	"pdf_too_large":         ErrPDFTooLarge,
	"pdf_too_many_pages":    ErrPDFTooLarge,
	"contact_missing":       ErrContactMissing,
	"trustee_key_missing":   ErrTrusteeKeyMissing,
	"not_your_turn":         ErrNotYourTurn,
	"not_customers_turn":    ErrNotYourTurn,
	"invalid_state":         ErrSigningState,
	"page_not_found":        ErrPageNotFound,
	"participant_not_found": ErrParticipantNotFound,
	"meeting_not_live":      ErrMeetingNotLive,
}

// kindError is an error that also matches a sentinel kind.
type kindError struct {
	err  error
	kind error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// signingErr adds the matching sentinel to an error carrying a relay code.
func signingErr(err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		if k, ok := signingCodes[ae.Code]; ok {
			return &kindError{err: err, kind: k}
		}
	}
	return err
}

// SigningRect is a rectangle in PDF user space (points, origin bottom left).
type SigningRect struct {
	LLX float64 `json:"LLX"` // lower-left x
	LLY float64 `json:"LLY"` // lower-left y
	URX float64 `json:"URX"` // upper-right x
	URY float64 `json:"URY"` // upper-right y
}

// SigningPageInfo describes one page of a process's document, for placing fields.
type SigningPageInfo struct {
	// Number is the 1-based page number.
	Number int `json:"Number"`
	// MediaBox is the page's media box.
	MediaBox SigningRect `json:"MediaBox"`
	// CropBox is the visible region (the media box when absent).
	CropBox SigningRect `json:"CropBox"`
	// Rotate is the page's rotation in degrees clockwise (0, 90, 180, 270).
	Rotate int `json:"Rotate"`
}

// SigningField is one field placed on the document.
type SigningField struct {
	// ID names the field: 1–64 characters of [A-Za-z0-9._-].
	ID string `json:"id"`
	// Page is the 1-based page number.
	Page int `json:"page"`
	// Rect is the field's rectangle in the page's user space (points).
	Rect SigningRect `json:"rect"`
	// Kind is FieldSignature or FieldText.
	Kind string `json:"kind"`
	// Signer is the role that fills the field ("customer1", "advisor").
	Signer string `json:"signer"`
	// Label is an optional caption, not written into the PDF.
	Label string `json:"label,omitempty"`
}

// SignerInput assigns a role ("customer1" … "customer19", or RoleAdvisor
// for the advisor) to a customer profile; the order of the slice given to
// [Client.SetSigningFields] is the signing order.
type SignerInput struct {
	Role       string `json:"role"`                  // the role
	CustomerID string `json:"customer_id,omitempty"` // the profile; empty for the advisor
}

// SigningSigner is one signer of a process.
type SigningSigner struct {
	Role       string    `json:"role"`                  // "customer1" … or "advisor"
	CustomerID string    `json:"customer_id,omitempty"` // the customer's profile id
	Order      int       `json:"order"`                 // 1-based place in the signing order
	State      string    `json:"state"`                 // SignerWaiting, SignerPending or SignerSigned
	SignedAt   time.Time `json:"signed_at,omitzero"`    // when they signed
}

// SigningVersion is one stored revision of a process's document.
type SigningVersion struct {
	N       int       `json:"n"`              // index, 0 is the original
	Kind    string    `json:"kind"`           // "original", "step" or "final"
	Role    string    `json:"role,omitempty"` // the signer of a step
	Size    int64     `json:"size"`           // bytes
	SHA256  string    `json:"sha256"`         // hex SHA-256
	Created time.Time `json:"created"`        // when it was stored
}

// SigningPlan is the validated field layout of a process.
type SigningPlan struct {
	Order  []string       `json:"order"`  // roles in signing order
	Fields []SigningField `json:"fields"` // the fields
}

// SigningProcess is one e-signature process (docs/signing.md).
type SigningProcess struct {
	ID        string `json:"id"`         // the relay's id
	AdvisorID string `json:"advisor_id"` // the owning advisor
	// Title lets the advisor find the process (it may name a customer:
	// never log it).
	Title       string            `json:"title"`
	Lang        string            `json:"lang"`                  // language of mails and SMS
	Status      string            `json:"status"`                // Signing… status
	Created     time.Time         `json:"created"`               // uploaded
	Sent        time.Time         `json:"sent,omitzero"`         // sent
	Completed   time.Time         `json:"completed,omitzero"`    // sealed
	Expires     time.Time         `json:"expires"`               // deleted then (retention)
	LinksExpire time.Time         `json:"links_expire,omitzero"` // signers' links stop working
	Pages       []SigningPageInfo `json:"pages"`                 // the document's pages
	Plan        *SigningPlan      `json:"plan,omitempty"`        // fields, once set
	Signers     []SigningSigner   `json:"signers"`               // in signing order
	Versions    []SigningVersion  `json:"versions"`              // revisions, oldest first
	Rev         int               `json:"rev"`                   // change counter
}

// LogValue keeps the title out of logs.
func (p SigningProcess) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", p.ID), slog.String("status", p.Status))
}

// Next returns the signer whose turn it is, or nil.
func (p SigningProcess) Next() *SigningSigner {
	if p.Status != SigningSent {
		return nil
	}
	for i := range p.Signers {
		if p.Signers[i].SignedAt.IsZero() && p.Signers[i].State != SignerSigned {
			return &p.Signers[i]
		}
	}
	return nil
}

func checkProcess(path string, p SigningProcess) error {
	switch {
	case p.ID == "":
		return badResponse(path, "process without id")
	case p.Status == "":
		return badResponse(path, "process without status")
	case len(p.Pages) == 0:
		return badResponse(path, "process without pages")
	}
	return nil
}

func signingPath(id string) string { return "/api/v1/signing/processes/" + url.PathEscape(id) }

// processCall sends a JSON request answered by {"process": …}.
func (c *Client) processCall(ctx context.Context, method, path string, in any) (SigningProcess, error) {
	var res struct {
		Process SigningProcess `json:"process"`
	}
	if _, _, err := c.do(ctx, method, path, true, in, &res); err != nil {
		return SigningProcess{}, signingErr(err)
	}
	if err := checkProcess(path, res.Process); err != nil {
		return SigningProcess{}, err
	}
	return res.Process, nil
}

// readJSON reads a raw response's JSON body (up to maxResponseBody).
func readJSON(resp *http.Response, path string, out any) error {
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return fmt.Errorf("link: %s: %w", path, &transportError{err})
	}
	if len(raw) > maxResponseBody {
		return badResponse(path, "answer too large")
	}
	if err := decodeJSON(raw, out); err != nil {
		return badResponse(path, err.Error())
	}
	return nil
}

// CreateSigningProcess uploads a PDF (streamed from r; size is its length,
// -1 if unknown) as a new draft process titled title, with lang ("de",
// "en", or "" for the relay's default) the language of the signers' mails.
// A file the relay refuses matches [ErrNotPDF], [ErrPDFEncrypted],
// [ErrPDFMalformed] or [ErrPDFTooLarge]; nothing is stored then.
func (c *Client) CreateSigningProcess(ctx context.Context, title, lang string, r io.Reader, size int64) (SigningProcess, error) {
	q := url.Values{"title": {title}}
	if lang != "" {
		q.Set("lang", lang)
	}
	path := "/api/v1/signing/processes?" + q.Encode()
	resp, err := c.raw(ctx, http.MethodPost, path, r, size)
	if err != nil {
		return SigningProcess{}, signingErr(err)
	}
	var res struct {
		Process SigningProcess `json:"process"`
	}
	if err := readJSON(resp, "/api/v1/signing/processes", &res); err != nil {
		return SigningProcess{}, err
	}
	if err := checkProcess("/api/v1/signing/processes", res.Process); err != nil {
		return SigningProcess{}, err
	}
	return res.Process, nil
}

// SigningProcesses returns the processes the signed-in user may see (an
// advisor: their own; an admin: the tenant's).
func (c *Client) SigningProcesses(ctx context.Context) ([]SigningProcess, error) {
	const path = "/api/v1/signing/processes"
	var res struct {
		Processes []SigningProcess `json:"processes"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &res); err != nil {
		return nil, signingErr(err)
	}
	if res.Processes == nil {
		return nil, badResponse(path, "no process list")
	}
	for _, p := range res.Processes {
		if err := checkProcess(path, p); err != nil {
			return nil, err
		}
	}
	return res.Processes, nil
}

// SigningProcess returns one process.
func (c *Client) SigningProcess(ctx context.Context, id string) (SigningProcess, error) {
	return c.processCall(ctx, http.MethodGet, signingPath(id), nil)
}

// SetSigningFields replaces a draft's signers (in signing order) and
// fields. The relay checks the layout: a refused one is an *[APIError]
// with code "invalid_input".
func (c *Client) SetSigningFields(ctx context.Context, id string, signers []SignerInput, fields []SigningField) (SigningProcess, error) {
	if signers == nil {
		signers = []SignerInput{}
	}
	if fields == nil {
		fields = []SigningField{}
	}
	body := struct {
		Signers []SignerInput  `json:"signers"`
		Fields  []SigningField `json:"fields"`
	}{signers, fields}
	return c.processCall(ctx, http.MethodPut, signingPath(id)+"/fields", body)
}

// SendSigningProcess sends a draft to its signers. It fails with
// [ErrTrusteeKeyMissing] or [ErrContactMissing] when the tenant or a
// customer is not ready for it.
func (c *Client) SendSigningProcess(ctx context.Context, id string) (SigningProcess, error) {
	return c.processCall(ctx, http.MethodPost, signingPath(id)+"/send", nil)
}

// CancelSigningProcess cancels a process; the signers' links die at once.
func (c *Client) CancelSigningProcess(ctx context.Context, id string) (SigningProcess, error) {
	return c.processCall(ctx, http.MethodPost, signingPath(id)+"/cancel", nil)
}

// AdvisorSign signs the process as its advisor, when it is the advisor's
// turn ([ErrNotYourTurn] otherwise): texts are the values of the advisor's
// text fields, pointer the signature as Pointer Events JSON
// (docs/signpad.md, e.g. from signpad/fynepad).
func (c *Client) AdvisorSign(ctx context.Context, id string, texts map[string]string, pointer json.RawMessage) (SigningProcess, error) {
	if texts == nil {
		texts = map[string]string{}
	}
	body := struct {
		Texts   map[string]string `json:"texts"`
		Pointer json.RawMessage   `json:"pointer"`
	}{texts, pointer}
	return c.processCall(ctx, http.MethodPost, signingPath(id)+"/sign", body)
}

// SigningDocument describes a downloaded revision.
type SigningDocument struct {
	// Kind is "original", "step" or "final".
	Kind string
	// Size is the number of bytes written.
	Size int64
	// SHA256 is the hex SHA-256 of the bytes, checked against the relay's.
	SHA256 string
}

// DownloadSigningDocument writes the process's current revision (the
// sealed PDF once completed) to w. The bytes are checked against the
// relay's SHA-256 (ETag); a mismatch is [ErrBadResponse], after w got the
// bytes, so write to a temporary file and keep it only without error.
func (c *Client) DownloadSigningDocument(ctx context.Context, id string, w io.Writer) (SigningDocument, error) {
	path := signingPath(id) + "/document"
	resp, err := c.raw(ctx, http.MethodGet, path, nil, 0)
	if err != nil {
		return SigningDocument{}, signingErr(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/pdf") {
		return SigningDocument{}, badResponse(path, "not a PDF")
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil {
		return SigningDocument{}, fmt.Errorf("link: download document: %w", &transportError{err})
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if et := strings.Trim(resp.Header.Get("ETag"), `"`); et != "" && !strings.EqualFold(et, sum) {
		return SigningDocument{}, badResponse(path, "document does not match its SHA-256")
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return SigningDocument{}, badResponse(path, "document shorter than announced")
	}
	return SigningDocument{Kind: resp.Header.Get("X-Parley-Document-Version"), Size: n, SHA256: sum}, nil
}

// Page image limits.
const (
	// DefaultPageWidth is the width the relay renders without one.
	DefaultPageWidth = 1000
	// maxPageImage bounds a page image's bytes.
	maxPageImage = 32 << 20
	// maxPageSide bounds a page image's side in pixels (the relay clamps
	// widths to 2000; a rotated A-series page is ≈1.42 times as tall).
	maxPageSide = 4000
)

// SigningPage returns page n (1-based) of the process's current revision
// rendered widthPx wide (0: the relay's default; the relay clamps to
// 100..2000), decoded (contract A). A page out of range is
// [ErrPageNotFound].
func (c *Client) SigningPage(ctx context.Context, id string, n, widthPx int) (image.Image, error) {
	return c.pageImage(ctx, signingPath(id)+"/pages/"+strconv.Itoa(n), widthPx)
}

// MeetingFilePage returns page n of a PDF or image shared in a meeting
// (the whiteboard's background) and the file's page count (contract A).
func (c *Client) MeetingFilePage(ctx context.Context, meetingID, fileID string, n, widthPx int) (image.Image, int, error) {
	path := "/api/v1/meetings/" + url.PathEscape(meetingID) + "/files/" + url.PathEscape(fileID) + "/pages/" + strconv.Itoa(n)
	var count int
	img, err := c.pageImageHeader(ctx, path, widthPx, func(h http.Header) {
		count, _ = strconv.Atoi(h.Get("X-Page-Count"))
	})
	return img, count, err
}

func (c *Client) pageImage(ctx context.Context, path string, widthPx int) (image.Image, error) {
	return c.pageImageHeader(ctx, path, widthPx, nil)
}

func (c *Client) pageImageHeader(ctx context.Context, path string, widthPx int, header func(http.Header)) (image.Image, error) {
	if widthPx > 0 {
		path += "?width=" + strconv.Itoa(widthPx)
	}
	resp, err := c.raw(ctx, http.MethodGet, path, nil, 0)
	if err != nil {
		return nil, signingErr(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "image/png") {
		return nil, badResponse(path, "page is not a PNG")
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxPageImage+1))
	if err != nil {
		return nil, fmt.Errorf("link: page image: %w", &transportError{err})
	}
	if len(raw) > maxPageImage {
		return nil, badResponse(path, "page image too large")
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(raw))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxPageSide || cfg.Height > maxPageSide {
		return nil, badResponse(path, "page image unreadable or of an impossible size")
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, badResponse(path, "page image unreadable")
	}
	if header != nil {
		header(resp.Header)
	}
	return img, nil
}

// PresentSigning starts synchronous signing in a live meeting (contract
// B): the relay opens a signer session for the customer whose turn it is
// and sends only that participant the signing link. It returns the
// signer's role. [ErrNotYourTurn] (not the customers' turn),
// [ErrParticipantNotFound], [ErrMeetingNotLive].
func (c *Client) PresentSigning(ctx context.Context, id, meetingID, participantID string) (string, error) {
	path := signingPath(id) + "/present"
	body := struct {
		MeetingID     string `json:"meeting_id"`
		ParticipantID string `json:"participant_id"`
	}{meetingID, participantID}
	var res struct {
		Signer string `json:"signer"`
	}
	if _, _, err := c.do(ctx, http.MethodPost, path, true, body, &res); err != nil {
		return "", signingErr(err)
	}
	if res.Signer == "" {
		return "", badResponse(path, "no signer")
	}
	return res.Signer, nil
}

// Kiosk is a branch's signing kiosk (contract B).
type Kiosk struct {
	ID      string    `json:"id"`         // the relay's id
	Name    string    `json:"name"`       // e.g. "Filiale Mitte, Schalter 2"
	Created time.Time `json:"created_at"` // when it was registered
}

// Kiosks returns the tenant's kiosks (advisors may list them to queue a
// signer).
func (c *Client) Kiosks(ctx context.Context) ([]Kiosk, error) {
	const path = "/api/v1/kiosks"
	var res struct {
		Kiosks []Kiosk `json:"kiosks"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &res); err != nil {
		return nil, signingErr(err)
	}
	if res.Kiosks == nil {
		return nil, badResponse(path, "no kiosk list")
	}
	for _, k := range res.Kiosks {
		if k.ID == "" {
			return nil, badResponse(path, "kiosk without id")
		}
	}
	return res.Kiosks, nil
}

// KioskTicket is a signer queued at a kiosk: the customer types the
// pickup code at the kiosk.
type KioskTicket struct {
	EntryID    string    `json:"entry_id"`    // the queue entry
	PickupCode string    `json:"pickup_code"` // six digits, told to the customer
	Expires    time.Time `json:"expires_at"`  // the entry's end (30 min)
}

// LogValue keeps the pickup code out of logs.
func (k KioskTicket) LogValue() slog.Value {
	return slog.GroupValue(slog.String("entry", k.EntryID), slog.Time("expires_at", k.Expires))
}

// QueueAtKiosk queues the current customer signer of a sent process at a
// kiosk (contract B); queueing again replaces the entry.
func (c *Client) QueueAtKiosk(ctx context.Context, id, kioskID string) (KioskTicket, error) {
	path := signingPath(id) + "/kiosk"
	body := struct {
		KioskID string `json:"kiosk_id"`
	}{kioskID}
	var k KioskTicket
	if _, _, err := c.do(ctx, http.MethodPost, path, true, body, &k); err != nil {
		return KioskTicket{}, signingErr(err)
	}
	if k.EntryID == "" || len(k.PickupCode) != 6 || k.Expires.IsZero() {
		return KioskTicket{}, badResponse(path, "entry id, pickup code or expiry missing")
	}
	return k, nil
}

// NewKiosk is a kiosk just registered: the device token is shown once.
type NewKiosk struct {
	Kiosk Kiosk  `json:"kiosk"` // the registered kiosk
	Token string `json:"token"` // pkd_…, typed into the kiosk's setup screen
}

// LogValue keeps the device token out of logs.
func (k NewKiosk) LogValue() slog.Value { return slog.StringValue(k.Kiosk.ID) }

// CreateKiosk registers a branch kiosk (admins only). The PIN (6–12
// digits) is what leaves kiosk mode; the relay stores it hashed.
func (c *Client) CreateKiosk(ctx context.Context, name, pin string) (NewKiosk, error) {
	const path = "/api/v1/kiosks"
	body := struct {
		Name string `json:"name"`
		PIN  string `json:"pin"`
	}{name, pin}
	var k NewKiosk
	if _, _, err := c.do(ctx, http.MethodPost, path, true, body, &k); err != nil {
		return NewKiosk{}, signingErr(err)
	}
	if k.Kiosk.ID == "" || !strings.HasPrefix(k.Token, "pkd_") {
		return NewKiosk{}, badResponse(path, "kiosk id or token missing")
	}
	return k, nil
}

// DeleteKiosk removes a kiosk (admins only); its token stops working at once.
func (c *Client) DeleteKiosk(ctx context.Context, id string) error {
	path := "/api/v1/kiosks/" + url.PathEscape(id)
	_, _, err := c.do(ctx, http.MethodDelete, path, true, nil, nil)
	return signingErr(err)
}
