package channels

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TwilioSignatureHeader carries Twilio's request signature.
const TwilioSignatureHeader = "X-Twilio-Signature"

// TwilioSignature computes X-Twilio-Signature for a form POST: the
// base64 HMAC-SHA1, keyed with the account's auth token, of the full URL
// Twilio was configured with followed by every POST parameter's name and
// value, sorted by name (values of a repeated name sorted too), with no
// delimiters.
func TwilioSignature(authToken, publicURL string, form url.Values) string {
	m := hmac.New(sha1.New, []byte(authToken))
	io.WriteString(m, publicURL)
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		vs := append([]string(nil), form[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			io.WriteString(m, k)
			io.WriteString(m, v)
		}
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TwilioWebhook receives Twilio's incoming-message webhooks and status
// callbacks (MessageStatus) for one number or messaging service. The
// signature is checked against PublicURL, the exact URL configured at
// Twilio (the relay sits behind TLS termination, so the URL the request
// arrived on is not the one Twilio signed). Inbound messages are answered
// with an empty TwiML <Response/>, so Twilio sends no auto-reply.
type TwilioWebhook struct {
	// AuthToken is the account's auth token, the signing key (required).
	AuthToken string
	// PublicURL is the webhook URL exactly as configured at Twilio,
	// including any query string (required).
	PublicURL string
	// Sink stores the decoded events (required).
	Sink Sink
	// MaxBody caps the request body; DefaultMaxBody when zero.
	MaxBody int64
	// Logger receives counts, ids and failures; nil discards.
	Logger *slog.Logger
}

// ServeHTTP implements http.Handler.
func (h *TwilioWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(&hook{channel: SMS, sink: h.Sink, log: h.Logger, maxBody: h.MaxBody,
		verify: func(r *http.Request, body []byte) bool {
			if h.AuthToken == "" || h.PublicURL == "" {
				return false
			}
			got := r.Header.Get(TwilioSignatureHeader)
			if got == "" {
				return false
			}
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return false
			}
			return hmac.Equal([]byte(got), []byte(TwilioSignature(h.AuthToken, h.PublicURL, form)))
		},
		decode: func(r *http.Request, body []byte) ([]Event, error) {
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
				return nil, malformed(SMS, "content type is not a form")
			}
			return DecodeTwilio(body)
		},
		ack: func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)
		}}).serve(w, r)
}

// MaxTwilioMedia is the most media Twilio attaches to one MMS.
const MaxTwilioMedia = 10

// DecodeTwilio decodes a Twilio form body. A request with MessageStatus
// is a status callback: sent, delivered, read, and failed/undelivered/
// canceled (with ErrorCode) become KindStatus events addressed to the
// recipient ("To"); queued, accepted, sending and the like yield nothing.
// Otherwise it is an incoming message from "From" to "To" (Account) with
// Body and NumMedia MediaUrlN/MediaContentTypeN attachments.
func DecodeTwilio(body []byte) ([]Event, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, malformed(SMS, "not a form")
	}
	sid := form.Get("MessageSid")
	if sid == "" {
		sid = form.Get("SmsSid")
	}
	if !strings.HasPrefix(sid, "SM") && !strings.HasPrefix(sid, "MM") {
		return nil, malformed(SMS, "no MessageSid")
	}
	if st := form.Get("MessageStatus"); st != "" {
		e := Event{Kind: KindStatus, Channel: SMS, MessageID: sid, Address: form.Get("To"), Account: sender(form)}
		switch st {
		case "sent":
			e.Status = StatusSent
		case "delivered":
			e.Status = StatusDelivered
		case "read":
			e.Status = StatusRead
		case "failed", "undelivered", "canceled":
			e.Status = StatusFailed
			e.ErrorCode = form.Get("ErrorCode")
		default:
			return nil, nil
		}
		return []Event{e}, nil
	}
	e := Event{Kind: KindMessage, Channel: SMS, MessageID: sid, Address: form.Get("From"), Account: form.Get("To"),
		Text: form.Get("Body")}
	if !utf8.ValidString(e.Text) {
		return nil, malformed(SMS, "body is not UTF-8")
	}
	n := 0
	if s := form.Get("NumMedia"); s != "" {
		n, err = strconv.Atoi(s)
		if err != nil || n < 0 || n > MaxTwilioMedia {
			return nil, malformed(SMS, "NumMedia")
		}
	}
	for i := range n {
		u := form.Get("MediaUrl" + strconv.Itoa(i))
		if u == "" {
			return nil, malformed(SMS, "missing MediaUrl")
		}
		e.Attachments = append(e.Attachments, Attachment{URL: u, Type: "media",
			MIMEType: form.Get("MediaContentType" + strconv.Itoa(i))})
	}
	return []Event{e}, nil
}

func sender(form url.Values) string {
	if s := form.Get("MessagingServiceSid"); s != "" {
		return s
	}
	return form.Get("From")
}

// TwilioBaseURL is Twilio's REST API root.
const TwilioBaseURL = "https://api.twilio.com"

// MaxSMSText is the longest Body Twilio accepts.
const MaxSMSText = 1600

// TwilioSender sends SMS through Twilio's Messages API: POST
// {BaseURL}/2010-04-01/Accounts/{AccountSID}/Messages.json, form fields
// To, From or MessagingServiceSid, Body and StatusCallback, HTTP Basic
// auth; the reply's sid is the message id later status callbacks carry.
// 429 and 5xx are ErrTransient, other 4xx ErrPermanent.
type TwilioSender struct {
	// BaseURL is the API root; TwilioBaseURL when empty.
	BaseURL string
	// AccountSID is the account ("AC…"), also the Basic-auth user (required).
	AccountSID string
	// AuthToken is the account's auth token (required).
	AuthToken string
	// From is the sending number (E.164); used when MessagingServiceSID
	// is empty.
	From string
	// MessagingServiceSID ("MG…") sends through a messaging service.
	MessagingServiceSID string
	// StatusCallback is the public URL Twilio posts status changes to
	// (the TwilioWebhook's PublicURL); none when empty.
	StatusCallback string
	// MaxMedia caps a download; DefaultMaxMedia when zero.
	MaxMedia int64
	// MediaURL returns a public HTTPS URL from which Twilio fetches the
	// file f of the message ref for an MMS (Twilio takes media by URL
	// only); required to send files. The relay hands out a short-lived
	// single-file link.
	MediaURL func(ctx context.Context, ref string, f File) (string, error)
	// Client makes the requests; nil means a client with a 30s timeout.
	Client *http.Client
	// Logger receives message sids and failures; nil discards.
	Logger *slog.Logger
}

var _ Sender = (*TwilioSender)(nil)

// Channel returns SMS.
func (s *TwilioSender) Channel() Channel { return SMS }

// validE164 reports whether v is "+", a non-zero digit and up to 14 more.
func validE164(v string) bool {
	if len(v) < 3 || len(v) > 16 || v[0] != '+' || v[1] < '1' || v[1] > '9' {
		return false
	}
	for i := 2; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// Send sends m.Text to the E.164 number m.To; with files, an MMS whose
// MediaUrls come from MediaURL (see CheckFiles for what is taken).
func (s *TwilioSender) Send(ctx context.Context, m Outgoing) (SendResult, error) {
	if s.AccountSID == "" || s.AuthToken == "" || (s.From == "" && s.MessagingServiceSID == "") {
		return SendResult{}, fmt.Errorf("channels: sms: account, token and sender must be configured: %w", ErrPermanent)
	}
	if !validE164(m.To) {
		return SendResult{}, fmt.Errorf("%w: sms recipient is not E.164", ErrInvalid)
	}
	form := url.Values{"To": {m.To}}
	if len(m.Files) > 0 {
		if err := checkLoaded(SMS, m); err != nil {
			return SendResult{}, err
		}
		if s.MediaURL == nil {
			return SendResult{}, fmt.Errorf("channels: sms: no MediaURL for MMS: %w", ErrPermanent)
		}
		for _, f := range m.Files {
			u, err := s.MediaURL(ctx, m.Reference, f)
			if err != nil {
				return SendResult{}, fmt.Errorf("channels: sms: media URL of file %s: %w", f.ID, err)
			}
			form.Add("MediaUrl", u)
		}
		if m.Text != "" {
			form.Set("Body", m.Text)
		}
	} else {
		if m.Template != nil || !validText(m.Text, MaxSMSText) {
			return SendResult{}, fmt.Errorf("%w: sms text empty, invalid or longer than %d characters", ErrInvalid, MaxSMSText)
		}
		form.Set("Body", m.Text)
	}
	if s.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", s.MessagingServiceSID)
	} else {
		form.Set("From", s.From)
	}
	if s.StatusCallback != "" {
		form.Set("StatusCallback", s.StatusCallback)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.messagesURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return SendResult{}, fmt.Errorf("channels: sms: bad base URL: %w", ErrPermanent)
	}
	req.SetBasicAuth(s.AccountSID, s.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	log := logger(s.Logger)
	rep, err := call(ctx, s.Client, SMS, req)
	if err != nil {
		log.Warn("channels: sms send failed", "ref", m.Reference, "err", err)
		return SendResult{}, err
	}
	if rep.status != http.StatusCreated && rep.status != http.StatusOK {
		var te struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(rep.body, &te)
		transient := rep.status == http.StatusTooManyRequests || rep.status >= 500
		log.Warn("channels: sms send refused", "ref", m.Reference, "http_status", rep.status, "code", te.Code, "permanent", !transient)
		return SendResult{}, &ProviderError{Channel: SMS, HTTPStatus: rep.status, Code: te.Code, Permanent: !transient,
			RetryAfter: retryAfter(rep.header.Get("Retry-After")), Description: te.Message}
	}
	var ok struct {
		SID string `json:"sid"`
	}
	if json.Unmarshal(rep.body, &ok) != nil || !strings.HasPrefix(ok.SID, "SM") && !strings.HasPrefix(ok.SID, "MM") {
		return SendResult{}, &ProviderError{Channel: SMS, HTTPStatus: rep.status, Permanent: true, Description: "reply without sid"}
	}
	log.Debug("channels: sms sent", "ref", m.Reference, "sid", ok.SID)
	return SendResult{Channel: SMS, MessageID: ok.SID, Reference: m.Reference}, nil
}

func (s *TwilioSender) accountRoot() string {
	return trimBase(s.BaseURL, TwilioBaseURL) + "/2010-04-01/Accounts/" + url.PathEscape(s.AccountSID) + "/"
}

func (s *TwilioSender) messagesURL() string { return s.accountRoot() + "Messages.json" }

// Download fetches an inbound MMS attachment (a MediaUrlN of the
// webhook) with HTTP Basic auth, which Twilio requires when media
// authentication is on; the URL must lie under this account on BaseURL's
// origin. Twilio redirects to its media store; Go's client drops the
// Authorization header on a redirect to another host. At most MaxMedia
// bytes are copied to w.
func (s *TwilioSender) Download(ctx context.Context, mediaURL string, w io.Writer) (MediaInfo, error) {
	u, err := url.Parse(mediaURL)
	if err != nil || u.User != nil || !sameOrigin(u, trimBase(s.BaseURL, TwilioBaseURL)) ||
		!strings.HasPrefix(u.Path, "/2010-04-01/Accounts/"+s.AccountSID+"/") || strings.Contains(u.Path, "..") {
		return MediaInfo{}, fmt.Errorf("%w: twilio media URL outside the account", ErrInvalid)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return MediaInfo{}, fmt.Errorf("%w: twilio media URL", ErrInvalid)
	}
	req.SetBasicAuth(s.AccountSID, s.AuthToken)
	return fetch(ctx, s.Client, SMS, req, s.MaxMedia, w)
}
