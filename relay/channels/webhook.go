package channels

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"
)

// DefaultMaxBody caps a webhook request body when a handler's MaxBody is
// zero. The providers' payloads are small (a batch of messages and
// statuses with media references, never the media itself).
const DefaultMaxBody = 1 << 20

// Limits applied to every decoded event; a payload breaking one is
// refused as a whole (400) and nothing is stored.
const (
	// MaxEvents bounds the events of one webhook request.
	MaxEvents = 1000
	// MaxIDLen bounds provider message ids and addresses.
	MaxIDLen = 256
	// MaxTextLen bounds a message's text in bytes (the providers allow
	// 4,096 characters at most; 64 KiB leaves room for any encoding).
	MaxTextLen = 64 << 10
	// MaxAttachments bounds the attachments of one message.
	MaxAttachments = 20
)

// ErrMalformed reports a webhook payload that cannot be decoded or breaks
// a limit; the handler answers 400 and stores nothing.
var ErrMalformed = errors.New("channels: malformed webhook payload")

func malformed(ch Channel, what string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, ch, what)
}

// hook is the shared POST path of every provider's webhook handler.
type hook struct {
	channel Channel
	sink    Sink
	log     *slog.Logger
	maxBody int64
	// verify reports whether the request's signature over body is valid.
	verify func(r *http.Request, body []byte) bool
	// decode turns the verified body into events.
	decode func(r *http.Request, body []byte) ([]Event, error)
	// ack writes the 200 reply.
	ack func(w http.ResponseWriter)
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func (h *hook) serve(w http.ResponseWriter, r *http.Request) {
	log := logger(h.log).With("channel", string(h.channel))
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.sink == nil {
		log.Error("channels: webhook has no sink")
		http.Error(w, "not configured", http.StatusInternalServerError)
		return
	}
	max := h.maxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			log.Warn("channels: webhook body too large", "limit", max)
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		log.Warn("channels: webhook body unreadable", "err", err)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if !h.verify(r, body) {
		log.Warn("channels: webhook signature missing or invalid")
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	events, err := h.decode(r, body)
	if err == nil {
		err = checkEvents(events)
	}
	if err != nil {
		log.Warn("channels: webhook payload refused", "err", err)
		http.Error(w, "malformed payload", http.StatusBadRequest)
		return
	}
	if len(events) > 0 {
		if err := h.sink.Store(r.Context(), events); err != nil {
			log.Error("channels: storing webhook events failed", "events", len(events), "err", err)
			code := http.StatusServiceUnavailable
			if errors.Is(err, context.Canceled) {
				code = http.StatusInternalServerError
			}
			http.Error(w, "try again", code)
			return
		}
	}
	log.Debug("channels: webhook stored", "events", len(events))
	h.ack(w)
}

func ackEmpty(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }

// checkEvents applies the limits shared by every provider.
func checkEvents(events []Event) error {
	if len(events) > MaxEvents {
		return fmt.Errorf("%w: %d events", ErrMalformed, len(events))
	}
	for i := range events {
		e := &events[i]
		if e.Kind != KindMessage && e.Kind != KindStatus {
			return fmt.Errorf("%w: event kind", ErrMalformed)
		}
		if e.Kind == KindMessage || e.Watermark.IsZero() {
			if !validID(e.MessageID) {
				return fmt.Errorf("%w: event %d: message id", ErrMalformed, i)
			}
		}
		if !validID(e.Address) {
			return fmt.Errorf("%w: event %d: sender address", ErrMalformed, i)
		}
		if e.Account != "" && !validID(e.Account) {
			return fmt.Errorf("%w: event %d: account", ErrMalformed, i)
		}
		if len(e.Text) > MaxTextLen || !utf8.ValidString(e.Text) || len(e.Name) > MaxIDLen || !utf8.ValidString(e.Name) {
			return fmt.Errorf("%w: event %d: text or name", ErrMalformed, i)
		}
		if len(e.Attachments) > MaxAttachments {
			return fmt.Errorf("%w: event %d: %d attachments", ErrMalformed, i, len(e.Attachments))
		}
		for _, a := range e.Attachments {
			if len(a.MediaID) > MaxIDLen || len(a.URL) > 2048 || len(a.MIMEType) > MaxIDLen ||
				len(a.FileName) > MaxIDLen || len(a.Type) > 64 || len(a.SHA256) > 128 ||
				len(a.Caption) > MaxTextLen || a.Size < 0 ||
				!utf8.ValidString(a.FileName) || !utf8.ValidString(a.Caption) {
				return fmt.Errorf("%w: event %d: attachment", ErrMalformed, i)
			}
		}
		if e.Kind == KindMessage && e.Text == "" && len(e.Attachments) == 0 {
			return fmt.Errorf("%w: event %d: empty message", ErrMalformed, i)
		}
		if e.Kind == KindStatus {
			switch e.Status {
			case StatusSent, StatusDelivered, StatusRead, StatusFailed:
			default:
				return fmt.Errorf("%w: event %d: status", ErrMalformed, i)
			}
			if len(e.ErrorCode) > 64 {
				return fmt.Errorf("%w: event %d: error code", ErrMalformed, i)
			}
		}
	}
	return nil
}

// validID reports whether s is a plausible provider id or address:
// non-empty, bounded, printable ASCII without spaces.
func validID(s string) bool {
	if s == "" || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// MetaSignature returns the X-Hub-Signature-256 value Meta sends with a
// WhatsApp or Messenger webhook: "sha256=" and the hex HMAC-SHA256 of the
// raw body keyed with the app secret.
func MetaSignature(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// verifyMeta checks X-Hub-Signature-256 in constant time.
func verifyMeta(appSecret string, r *http.Request, body []byte) bool {
	if appSecret == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256=")
	if !ok {
		return false
	}
	sig, err := hex.DecodeString(got)
	if err != nil || len(sig) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return hmac.Equal(sig, m.Sum(nil))
}

// serveHubChallenge answers Meta's subscription handshake: GET with
// hub.mode=subscribe, hub.verify_token equal to the configured token and a
// hub.challenge to echo.
func serveHubChallenge(w http.ResponseWriter, r *http.Request, verifyToken string, log *slog.Logger) {
	q := r.URL.Query()
	challenge := q.Get("hub.challenge")
	if verifyToken == "" || q.Get("hub.mode") != "subscribe" ||
		subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(verifyToken)) != 1 {
		logger(log).Warn("channels: webhook verification refused")
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if !validChallenge(challenge) {
		http.Error(w, "bad challenge", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, challenge)
}

// validChallenge accepts what Meta sends (a number) and similar tokens,
// never markup.
func validChallenge(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
