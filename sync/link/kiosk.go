package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"parley/relay/signal/msg"
)

// Kiosk device calls (contract B of docs/kiosk.md): a branch kiosk
// authenticates with its device token ("pkd_…") instead of a user's
// session, opens the documents advisors queued for it with a pickup code,
// signs them through the signer routes with the signer session it gets,
// and calls an advisor as a guest of a meeting.

// Prefixes of the tokens the kiosk handles.
const (
	// KioskTokenPrefix starts a kiosk device token.
	KioskTokenPrefix = "pkd_"
	// SignerSessionPrefix starts a signer session ("pss_…").
	SignerSessionPrefix = "pss_"
	// SignerLinkPrefix starts a signer's link token ("psg_…").
	SignerLinkPrefix = "psg_"
)

// Codes of the kiosk routes' errors (see [APIError.Code]); a wrong pickup
// code is [CodeInvalidCode], too many attempts [CodeThrottled].
const (
	// CodeWrongPIN: the admin PIN given to leave kiosk mode is wrong.
	CodeWrongPIN = "wrong_pin"
	// CodeAlreadyTaken: another advisor accepted the kiosk's call first.
	CodeAlreadyTaken = "already_taken"
)

// Statuses of a [KioskCall].
const (
	KioskCallWaiting    = "waiting"    // no advisor has accepted yet
	KioskCallAccepted   = "accepted"   // an advisor accepted: join the meeting
	KioskCallUnanswered = "unanswered" // nobody accepted within 2 minutes
	KioskCallCancelled  = "cancelled"  // the kiosk cancelled it
)

// ErrNotKioskToken is returned by [Client.UseKioskToken] for a token that
// is not a kiosk device token.
var ErrNotKioskToken = errors.New("link: not a kiosk device token (pkd_…)")

// maxSignerPage bounds a page image the client reads (PNG bytes).
const maxSignerPage = 32 << 20

// KioskMe is the kiosk device as the relay knows it.
type KioskMe struct {
	ID         string `json:"id"`          // the kiosk's id
	Name       string `json:"name"`        // the name its admin gave it, e.g. "Branch Mitte, desk 2"
	TenantName string `json:"tenant_name"` // the tenant's display name for the attract screen
}

// KioskEntry is a document queued for the kiosk; it carries no customer
// data.
type KioskEntry struct {
	EntryID     string    `json:"entry_id"`     // the queue entry
	Title       string    `json:"title"`        // the signing process's title
	AdvisorName string    `json:"advisor_name"` // who queued it
	QueuedAt    time.Time `json:"queued_at"`    // when
}

// KioskDocument is a document opened at the kiosk with a pickup code: the
// signer's link token and live session, and what the signer fills in.
type KioskDocument struct {
	Token   string            `json:"token"`   // the signer's link token (psg_…)
	Session string            `json:"session"` // the signer session (pss_…)
	Signer  string            `json:"signer"`  // the signer's role, e.g. "customer1"
	Title   string            `json:"title"`   // the process's title
	Pages   []SigningPageInfo `json:"pages"`   // the document's pages
	Fields  []SigningField    `json:"fields"`  // this signer's fields
}

// LogValue keeps the tokens out of logs.
func (d KioskDocument) LogValue() slog.Value {
	return slog.GroupValue(slog.String("signer", d.Signer), slog.Int("pages", len(d.Pages)), slog.Int("fields", len(d.Fields)))
}

// KioskCall is the kiosk's request to talk to an advisor.
type KioskCall struct {
	ID     string `json:"id"`     // the call request
	Status string `json:"status"` // one of the KioskCall… statuses
	// MeetingID is set once accepted: the kiosk is an admitted
	// participant of that meeting.
	MeetingID string `json:"meeting_id,omitempty"`
	// ParticipantSecret is set once accepted: the kiosk opens the
	// signalling connection with it, as a browser guest would.
	ParticipantSecret string `json:"participant_secret,omitempty"`
}

// LogValue keeps the participant secret out of logs.
func (k KioskCall) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("status", k.Status), slog.String("meeting", k.MeetingID))
}

// KioskCallRequest is a waiting kiosk call as advisors see it.
type KioskCallRequest struct {
	ID        string    `json:"id"`         // the call request
	KioskID   string    `json:"kiosk_id"`   // the calling kiosk
	KioskName string    `json:"kiosk_name"` // its name
	CreatedAt time.Time `json:"created_at"` // when it called
}

// KioskSubmission is a signature captured at the kiosk: an ISO/IEC
// 19794-7 binary record instead of Pointer Events JSON.
type KioskSubmission struct {
	// Texts maps the signer's text field ids to their values.
	Texts map[string]string `json:"texts"`
	// ISO19794 is the binary record (sent base64-encoded).
	ISO19794 []byte `json:"iso19794"`
	// Device describes the pen, "evdev: <device name>" or "pointer".
	Device string `json:"device"`
}

// UseKioskToken makes the client authenticate every later call as the
// kiosk device holding token, replacing any user session. The relay drops
// a token it no longer knows (the kiosk was deleted): calls then fail
// with [ErrNotLoggedIn].
func (c *Client) UseKioskToken(token string) error {
	if !strings.HasPrefix(token, KioskTokenPrefix) || len(token) <= len(KioskTokenPrefix) || len(token) > 256 {
		return ErrNotKioskToken
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.token = token
	return nil
}

// KioskMe returns the kiosk the token belongs to.
func (c *Client) KioskMe(ctx context.Context) (KioskMe, error) {
	const path = "/api/v1/kiosk/me"
	var out KioskMe
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &out); err != nil {
		return KioskMe{}, err
	}
	if out.ID == "" {
		return KioskMe{}, badResponse(path, "kiosk without id")
	}
	return out, nil
}

// KioskQueue lists the documents queued for this kiosk.
func (c *Client) KioskQueue(ctx context.Context) ([]KioskEntry, error) {
	const path = "/api/v1/kiosk/queue"
	var out struct {
		Entries []KioskEntry `json:"entries"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &out); err != nil {
		return nil, err
	}
	if out.Entries == nil {
		return nil, badResponse(path, "no entries list")
	}
	return out.Entries, nil
}

// KioskOpen opens the queued document whose pickup code the customer
// typed. A wrong code is an *[APIError] with [CodeInvalidCode], too many
// wrong codes one with [CodeThrottled].
func (c *Client) KioskOpen(ctx context.Context, code string) (KioskDocument, error) {
	const path = "/api/v1/kiosk/open"
	var out KioskDocument
	if _, _, err := c.do(ctx, http.MethodPost, path, true, map[string]string{"code": code}, &out); err != nil {
		return KioskDocument{}, err
	}
	if !strings.HasPrefix(out.Token, SignerLinkPrefix) || !strings.HasPrefix(out.Session, SignerSessionPrefix) || out.Signer == "" {
		return KioskDocument{}, badResponse(path, "no signer link, session or role")
	}
	return out, nil
}

// KioskUnlock checks the admin PIN that ends kiosk mode. A wrong PIN is an
// *[APIError] with [CodeWrongPIN], too many with [CodeThrottled].
func (c *Client) KioskUnlock(ctx context.Context, pin string) error {
	_, _, err := c.do(ctx, http.MethodPost, "/api/v1/kiosk/unlock", true, map[string]string{"pin": pin}, nil)
	return err
}

// KioskCallAdvisor asks the tenant's advisors for a video call.
func (c *Client) KioskCallAdvisor(ctx context.Context) (KioskCall, error) {
	const path = "/api/v1/kiosk/calls"
	var out KioskCall
	if _, _, err := c.do(ctx, http.MethodPost, path, true, struct{}{}, &out); err != nil {
		return KioskCall{}, err
	}
	return out, checkKioskCall(path, out)
}

func kioskCallPath(id string) string { return "/api/v1/kiosk/calls/" + url.PathEscape(id) }

// KioskCallStatus reads the state of the kiosk's call request.
func (c *Client) KioskCallStatus(ctx context.Context, id string) (KioskCall, error) {
	path := kioskCallPath(id)
	var out KioskCall
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &out); err != nil {
		return KioskCall{}, err
	}
	return out, checkKioskCall(path, out)
}

// KioskCancelCall withdraws the kiosk's call request.
func (c *Client) KioskCancelCall(ctx context.Context, id string) error {
	_, _, err := c.do(ctx, http.MethodDelete, kioskCallPath(id), true, nil, nil)
	return err
}

func checkKioskCall(path string, k KioskCall) error {
	switch k.Status {
	case KioskCallWaiting, KioskCallUnanswered, KioskCallCancelled:
	case KioskCallAccepted:
		if k.MeetingID == "" || k.ParticipantSecret == "" {
			return badResponse(path, "accepted call without meeting or secret")
		}
	default:
		return badResponse(path, "unknown call status")
	}
	if k.ID == "" {
		return badResponse(path, "call without id")
	}
	return nil
}

// KioskCalls lists the tenant's kiosk calls waiting for an advisor (for a
// signed-in advisor).
func (c *Client) KioskCalls(ctx context.Context) ([]KioskCallRequest, error) {
	const path = "/api/v1/kiosk-calls"
	var out struct {
		Calls []KioskCallRequest `json:"calls"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, path, true, nil, &out); err != nil {
		return nil, err
	}
	if out.Calls == nil {
		return nil, badResponse(path, "no calls list")
	}
	return out.Calls, nil
}

// AcceptKioskCall takes the kiosk call for the signed-in advisor, who
// hosts the meeting it returns. When another advisor was faster the error
// is an *[APIError] with [CodeAlreadyTaken].
func (c *Client) AcceptKioskCall(ctx context.Context, id string) (Meeting, error) {
	path := "/api/v1/kiosk-calls/" + url.PathEscape(id) + "/accept"
	var out struct {
		Meeting Meeting `json:"meeting"`
	}
	if _, _, err := c.do(ctx, http.MethodPost, path, true, struct{}{}, &out); err != nil {
		return Meeting{}, err
	}
	if err := checkMeeting(path, out.Meeting); err != nil {
		return Meeting{}, err
	}
	return out.Meeting, nil
}

// signPath is a signer route of the link token.
func signPath(token, rest string) string {
	return "/api/v1/sign/" + url.PathEscape(token) + rest
}

// redacted hides a secret (a signer link token in a route's path) in an
// error's text; errors.Is and errors.As see the error it wraps.
type redacted struct {
	err    error
	secret string
}

func (r redacted) Error() string { return strings.ReplaceAll(r.err.Error(), r.secret, "[token]") }
func (r redacted) Unwrap() error { return r.err }

// redact hides secret in err's text; nil stays nil.
func redact(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	return redacted{err, secret}
}

// doBearer sends one JSON request with bearer as its token (a signer
// session) instead of the client's own.
func (c *Client) doBearer(ctx context.Context, method, path, bearer string, in, out any) error {
	c.mu.Lock()
	s, closed := c.sess, c.closed
	if closed || s == nil {
		c.mu.Unlock()
		if closed {
			return ErrClosed
		}
		return ErrNotConnected
	}
	s.inflight.Add(1)
	c.mu.Unlock()
	defer s.inflight.Done()
	t := s.current()
	err := s.roundTrip(ctx, t, method, path, bearer, in, out)
	s.afterRequest(ctx, t, err)
	return err
}

// rawBearer is [Client.raw] for a GET with a given bearer token.
func (c *Client) rawBearer(ctx context.Context, path, bearer string) (*http.Response, error) {
	c.mu.Lock()
	s, closed := c.sess, c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case s == nil:
		return nil, ErrNotConnected
	}
	t := s.current()
	hc := s.tcpClient
	if t == TransportQUIC {
		hc = s.h3Client
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base.origin+path, nil)
	if err != nil {
		return nil, fmt.Errorf("link: GET %s: %w", path, err)
	}
	req.Header.Set("User-Agent", "parley-desktop")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		s.afterRequest(ctx, t, &transportError{err})
		return nil, fmt.Errorf("link: GET %s over %s: %w", path, t, &transportError{err})
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
		resp.Body.Close()
		return nil, fmt.Errorf("link: GET %s: %w", path, parseAPIError(resp.StatusCode, resp.Header, raw, time.Now()))
	}
	return resp, nil
}

// SignerPage fetches page n (1-based) of the document as a PNG image of
// the given width in pixels (the relay clamps it), with the signer's
// session as the bearer.
func (c *Client) SignerPage(ctx context.Context, token, session string, n, width int) ([]byte, error) {
	path := signPath(token, "/pages/"+strconv.Itoa(n)+"?width="+strconv.Itoa(width))
	resp, err := c.rawBearer(ctx, path, session)
	if err != nil {
		return nil, redact(err, token)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSignerPage+1))
	if err != nil {
		return nil, fmt.Errorf("link: page %d: %w", n, &transportError{err})
	}
	if len(b) > maxSignerPage {
		return nil, fmt.Errorf("%w: page %d larger than %d bytes", ErrBadResponse, n, maxSignerPage)
	}
	return b, nil
}

// SignerSubmit submits the signer's signature as an ISO/IEC 19794-7
// record, with the signer's session as the bearer.
func (c *Client) SignerSubmit(ctx context.Context, token, session string, sub KioskSubmission) error {
	if sub.Texts == nil {
		sub.Texts = map[string]string{}
	}
	var out json.RawMessage
	return redact(c.doBearer(ctx, http.MethodPost, signPath(token, "/submit"), session, sub, &out), token)
}

// GuestConn is a signalling connection of a meeting's guest (a kiosk in
// a call): the relay's WebSocket, authenticated by the participant secret
// sent in hello. It satisfies the media engine's Conn.
type GuestConn struct {
	ws        *websocket.Conn
	tr        *http.Transport
	closeOnce sync.Once
}

// GuestSignal opens the relay's signalling WebSocket over TCP (HTTP/1.1,
// with the same certificate checks as every other call). The caller sends
// hello with the participant secret.
func (c *Client) GuestSignal(ctx context.Context) (*GuestConn, error) {
	const path = "/api/v1/signal"
	c.mu.Lock()
	s, closed := c.sess, c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case s == nil:
		return nil, ErrNotConnected
	}
	tr := s.tcp.Clone()
	tr.TLSClientConfig = s.tcpV.tlsConfig("http/1.1")
	tr.ForceAttemptHTTP2 = false
	hc := &http.Client{Transport: tr, CheckRedirect: noRedirects}
	wsURL := "wss" + strings.TrimPrefix(s.base.origin, "https") + path
	ws, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
		HTTPClient: hc,
		HTTPHeader: http.Header{"User-Agent": {"parley-desktop"}},
	})
	if err != nil {
		tr.CloseIdleConnections()
		if resp != nil && resp.StatusCode >= 400 {
			return nil, fmt.Errorf("link: guest signal: %w", parseAPIError(resp.StatusCode, resp.Header, nil, time.Now()))
		}
		return nil, fmt.Errorf("link: guest signal: %w", &transportError{err})
	}
	ws.SetReadLimit(msg.MaxMessageBytes)
	return &GuestConn{ws: ws, tr: tr}, nil
}

// Send writes one message.
func (g *GuestConn) Send(ctx context.Context, m msg.Message) error {
	b, err := msg.Encode(m)
	if err != nil {
		return fmt.Errorf("link: guest signal: encode %s: %w", m.Type, err)
	}
	if err := g.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("link: guest signal: send: %w", err)
	}
	return nil
}

// Recv reads one message.
func (g *GuestConn) Recv(ctx context.Context) (msg.Message, error) {
	typ, b, err := g.ws.Read(ctx)
	if err != nil {
		return msg.Message{}, fmt.Errorf("link: guest signal: receive: %w", err)
	}
	if typ != websocket.MessageText {
		return msg.Message{}, fmt.Errorf("%w: binary signalling frame", ErrBadResponse)
	}
	var m msg.Message
	if err := json.Unmarshal(b, &m); err != nil {
		return msg.Message{}, fmt.Errorf("%w: signalling message: %v", ErrBadResponse, err)
	}
	return m, nil
}

// Close ends the connection.
func (g *GuestConn) Close() error {
	g.closeOnce.Do(func() {
		_ = g.ws.Close(websocket.StatusNormalClosure, "")
		g.tr.CloseIdleConnections()
	})
	return nil
}
