package channels

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// MessengerWebhook receives a Facebook page's Messenger webhooks (fields
// messages, message_deliveries, message_reads, messaging_postbacks): GET
// answers the verification handshake, POST verifies X-Hub-Signature-256
// with the app secret, decodes and stores before answering 200.
type MessengerWebhook struct {
	// AppSecret is the Meta app's secret that signs the webhooks
	// (required).
	AppSecret string
	// VerifyToken is the token entered in the app's webhook settings.
	VerifyToken string
	// Sink stores the decoded events (required).
	Sink Sink
	// MaxBody caps the request body; DefaultMaxBody when zero.
	MaxBody int64
	// Logger receives counts, ids and failures; nil discards.
	Logger *slog.Logger
}

// ServeHTTP implements http.Handler.
func (h *MessengerWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		serveHubChallenge(w, r, h.VerifyToken, h.Logger)
		return
	}
	(&hook{channel: Messenger, sink: h.Sink, log: h.Logger, maxBody: h.MaxBody,
		verify: func(r *http.Request, body []byte) bool { return verifyMeta(h.AppSecret, r, body) },
		decode: func(_ *http.Request, body []byte) ([]Event, error) { return DecodeMessenger(body) },
		ack:    ackEmpty}).serve(w, r)
}

type fbEvent struct {
	Sender *struct {
		ID string `json:"id"`
	} `json:"sender"`
	Recipient *struct {
		ID string `json:"id"`
	} `json:"recipient"`
	Timestamp int64 `json:"timestamp"`
	Message   *struct {
		Mid         string `json:"mid"`
		Text        string `json:"text"`
		IsEcho      bool   `json:"is_echo"`
		Attachments []struct {
			Type    string `json:"type"`
			Payload *struct {
				URL   string `json:"url"`
				Title string `json:"title"`
			} `json:"payload"`
		} `json:"attachments"`
	} `json:"message"`
	Delivery *struct {
		Mids      []string `json:"mids"`
		Watermark int64    `json:"watermark"`
	} `json:"delivery"`
	Read *struct {
		Watermark int64 `json:"watermark"`
	} `json:"read"`
	Postback *struct {
		Mid   string `json:"mid"`
		Title string `json:"title"`
	} `json:"postback"`
}

func unixMilli(ms int64) (time.Time, bool) {
	if ms < 0 || ms > 1<<50 {
		return time.Time{}, false
	}
	if ms == 0 {
		return time.Time{}, true
	}
	return time.UnixMilli(ms).UTC(), true
}

// DecodeMessenger decodes a page webhook body (object "page"). Messages
// (not echoes of the page's own sends) and postbacks with a mid become
// KindMessage events with the sender's PSID as Address and the page id as
// Account; attachments keep their type and payload URL. Deliveries become
// one StatusDelivered event per mid, or a watermark event when no mids
// are given; reads are watermark events with StatusRead: every message
// sent to that PSID up to Watermark has that status.
func DecodeMessenger(body []byte) ([]Event, error) {
	var p struct {
		Object string `json:"object"`
		Entry  []struct {
			ID        string    `json:"id"`
			Messaging []fbEvent `json:"messaging"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, malformed(Messenger, "not JSON of the expected shape")
	}
	if p.Object != "page" {
		return nil, malformed(Messenger, "object is not page")
	}
	var out []Event
	for _, entry := range p.Entry {
		for _, m := range entry.Messaging {
			if m.Sender == nil || m.Recipient == nil {
				return nil, malformed(Messenger, "event without sender or recipient")
			}
			ts, ok := unixMilli(m.Timestamp)
			if !ok {
				return nil, malformed(Messenger, "timestamp")
			}
			base := Event{Channel: Messenger, Account: m.Recipient.ID, Address: m.Sender.ID, Time: ts}
			switch {
			case m.Message != nil:
				if m.Message.IsEcho {
					continue
				}
				e := base
				e.Kind, e.MessageID, e.Text = KindMessage, m.Message.Mid, m.Message.Text
				for _, a := range m.Message.Attachments {
					at := Attachment{Type: a.Type}
					if a.Payload != nil {
						at.URL = a.Payload.URL
					}
					e.Attachments = append(e.Attachments, at)
				}
				out = append(out, e)
			case m.Postback != nil:
				if m.Postback.Mid == "" {
					continue
				}
				e := base
				e.Kind, e.MessageID, e.Text = KindMessage, m.Postback.Mid, m.Postback.Title
				out = append(out, e)
			case m.Delivery != nil:
				wm, ok := unixMilli(m.Delivery.Watermark)
				if !ok {
					return nil, malformed(Messenger, "watermark")
				}
				if len(m.Delivery.Mids) == 0 {
					e := base
					e.Kind, e.Status, e.Watermark = KindStatus, StatusDelivered, wm
					if wm.IsZero() {
						return nil, malformed(Messenger, "delivery without mids or watermark")
					}
					out = append(out, e)
				}
				for _, mid := range m.Delivery.Mids {
					e := base
					e.Kind, e.Status, e.MessageID, e.Watermark = KindStatus, StatusDelivered, mid, wm
					out = append(out, e)
				}
			case m.Read != nil:
				wm, ok := unixMilli(m.Read.Watermark)
				if !ok || wm.IsZero() {
					return nil, malformed(Messenger, "read without watermark")
				}
				e := base
				e.Kind, e.Status, e.Watermark = KindStatus, StatusRead, wm
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// MaxMessengerText is the Send API's text limit.
const MaxMessengerText = 2000

// MessengerSender sends through a page's Send API: POST
// {BaseURL}/{Version}/me/messages with the page access token as Bearer and
// {recipient:{id}, messaging_type:"RESPONSE", message:{text}}. HTTP 429,
// 5xx and Graph's transient codes are ErrTransient; others ErrPermanent.
// RESPONSE is allowed within 24 hours of the customer's last message.
type MessengerSender struct {
	// BaseURL is the Graph API root; GraphBaseURL when empty.
	BaseURL string
	// Version is the Graph API version; GraphVersion when empty.
	Version string
	// PageToken is the page access token (required).
	PageToken string
	// MaxMedia caps a download; DefaultMaxMedia when zero.
	MaxMedia int64
	// Client makes the requests; nil means a client with a 30s timeout.
	Client *http.Client
	// Logger receives message ids and failures; nil discards.
	Logger *slog.Logger
}

var _ Sender = (*MessengerSender)(nil)

// Channel returns Messenger.
func (s *MessengerSender) Channel() Channel { return Messenger }

// Send sends m.Text, or m's file (see CheckFiles), to the PSID m.To.
func (s *MessengerSender) Send(ctx context.Context, m Outgoing) (SendResult, error) {
	if s.PageToken == "" {
		return SendResult{}, fmt.Errorf("channels: messenger: page token must be configured: %w", ErrPermanent)
	}
	if !validPhoneish(m.To) || m.To[0] == '+' {
		return SendResult{}, fmt.Errorf("%w: messenger recipient is not a PSID", ErrInvalid)
	}
	v := s.Version
	if v == "" {
		v = GraphVersion
	}
	endpoint := trimBase(s.BaseURL, GraphBaseURL) + "/" + url.PathEscape(v) + "/me/messages"
	var req *http.Request
	var err error
	if len(m.Files) > 0 {
		req, err = s.fileRequest(ctx, endpoint, m)
	} else {
		if m.Template != nil || !validText(m.Text, MaxMessengerText) {
			return SendResult{}, fmt.Errorf("%w: messenger text empty, invalid or longer than %d characters", ErrInvalid, MaxMessengerText)
		}
		req, err = newJSONRequest(ctx, Messenger, endpoint,
			map[string]any{"recipient": map[string]string{"id": m.To}, "messaging_type": "RESPONSE",
				"message": map[string]string{"text": m.Text}})
	}
	if err != nil {
		return SendResult{}, err
	}
	req.Header.Set("Authorization", "Bearer "+s.PageToken)
	log := logger(s.Logger)
	rep, err := call(ctx, s.Client, Messenger, req)
	if err != nil {
		log.Warn("channels: messenger send failed", "ref", m.Reference, "err", err)
		return SendResult{}, err
	}
	if rep.status != http.StatusOK {
		pe := graphFailure(Messenger, rep)
		log.Warn("channels: messenger send refused", "ref", m.Reference, "http_status", rep.status, "code", pe.Code, "permanent", pe.Permanent)
		return SendResult{}, pe
	}
	var ok struct {
		MessageID string `json:"message_id"`
	}
	if json.Unmarshal(rep.body, &ok) != nil || !validID(ok.MessageID) {
		return SendResult{}, &ProviderError{Channel: Messenger, HTTPStatus: rep.status, Permanent: true, Description: "reply without message_id"}
	}
	log.Debug("channels: messenger sent", "ref", m.Reference, "id", ok.MessageID)
	return SendResult{Channel: Messenger, MessageID: ok.MessageID, Reference: m.Reference}, nil
}

// fileRequest is the Send API's attachment upload: multipart with
// recipient and message as JSON fields and the file as filedata
// (message.attachment {type: image|file, payload {is_reusable: false}}).
// Uploading is part of the send: a retry after a failed call uploads
// again, which makes no second message.
func (s *MessengerSender) fileRequest(ctx context.Context, endpoint string, m Outgoing) (*http.Request, error) {
	if err := checkLoaded(Messenger, m); err != nil {
		return nil, err
	}
	f := m.Files[0]
	k, _ := classify(Messenger, f)
	recipient, _ := json.Marshal(map[string]string{"id": m.To})
	message, _ := json.Marshal(map[string]any{"attachment": map[string]any{"type": k.kind,
		"payload": map[string]bool{"is_reusable": false}}})
	body, ctype, err := multipartBody([]string{"recipient", string(recipient), "messaging_type", "RESPONSE",
		"message", string(message)}, "filedata", f)
	if err != nil {
		return nil, fmt.Errorf("channels: messenger: encode upload: %w", ErrInvalid)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		return nil, fmt.Errorf("channels: messenger: bad base URL: %w", ErrPermanent)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// Download fetches an inbound attachment's payload URL (Meta's CDN; no
// credentials are sent) over HTTPS, or on BaseURL's origin, copying at
// most MaxMedia bytes to w.
func (s *MessengerSender) Download(ctx context.Context, rawURL string, w io.Writer) (MediaInfo, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.User != nil || (u.Scheme != "https" && !sameOrigin(u, trimBase(s.BaseURL, GraphBaseURL))) {
		return MediaInfo{}, fmt.Errorf("%w: messenger attachment URL", ErrInvalid)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return MediaInfo{}, fmt.Errorf("%w: messenger attachment URL", ErrInvalid)
	}
	return fetch(ctx, s.Client, Messenger, req, s.MaxMedia, w)
}
