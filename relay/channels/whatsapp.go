package channels

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
	"time"
	"unicode/utf8"
)

// WhatsAppWebhook receives a WhatsApp Business Account's webhooks from
// the Cloud API (subscription field "messages"): GET answers the
// verification handshake, POST verifies X-Hub-Signature-256 (HMAC-SHA256
// of the raw body with the app secret), decodes messages and statuses and
// stores them through Sink before answering 200.
type WhatsAppWebhook struct {
	// AppSecret is the Meta app's secret that signs the webhooks
	// (required: without it every POST is refused).
	AppSecret string
	// VerifyToken is the token entered in the app's webhook settings,
	// checked on the GET handshake.
	VerifyToken string
	// Sink stores the decoded events (required).
	Sink Sink
	// MaxBody caps the request body; DefaultMaxBody when zero.
	MaxBody int64
	// Logger receives counts, ids and failures; nil discards.
	Logger *slog.Logger
}

// ServeHTTP implements http.Handler.
func (h *WhatsAppWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		serveHubChallenge(w, r, h.VerifyToken, h.Logger)
		return
	}
	(&hook{channel: WhatsApp, sink: h.Sink, log: h.Logger, maxBody: h.MaxBody,
		verify: func(r *http.Request, body []byte) bool { return verifyMeta(h.AppSecret, r, body) },
		decode: func(_ *http.Request, body []byte) ([]Event, error) { return DecodeWhatsApp(body) },
		ack:    ackEmpty}).serve(w, r)
}

type waMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

type waMessage struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Text      *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *waMedia `json:"image"`
	Video    *waMedia `json:"video"`
	Audio    *waMedia `json:"audio"`
	Document *waMedia `json:"document"`
	Sticker  *waMedia `json:"sticker"`
	Button   *struct {
		Text string `json:"text"`
	} `json:"button"`
	Interactive *struct {
		ButtonReply *struct {
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			Title string `json:"title"`
		} `json:"list_reply"`
	} `json:"interactive"`
}

type waStatus struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Timestamp   string `json:"timestamp"`
	RecipientID string `json:"recipient_id"`
	Errors      []struct {
		Code int `json:"code"`
	} `json:"errors"`
}

type waPayload struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				MessagingProduct string `json:"messaging_product"`
				Metadata         struct {
					PhoneNumberID string `json:"phone_number_id"`
				} `json:"metadata"`
				Contacts []struct {
					WaID    string `json:"wa_id"`
					Profile struct {
						Name string `json:"name"`
					} `json:"profile"`
				} `json:"contacts"`
				Messages []waMessage `json:"messages"`
				Statuses []waStatus  `json:"statuses"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

// unixString parses the Cloud API's timestamps (Unix seconds as a string).
func unixString(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return time.Time{}, fmt.Errorf("timestamp %q", truncateID(s))
	}
	return time.Unix(n, 0).UTC(), nil
}

func truncateID(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strconv.QuoteToASCII(s)
}

// DecodeWhatsApp decodes a Cloud API webhook body (object
// "whatsapp_business_account"). Messages become KindMessage events (text,
// captioned media, button and interactive replies; reactions, system and
// other notices are skipped; other types such as location or contacts
// become a message with one Attachment of that Type and no media);
// statuses become KindStatus events (sent, delivered, read, failed with
// the first error code).
func DecodeWhatsApp(body []byte) ([]Event, error) {
	var p waPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, malformed(WhatsApp, "not JSON of the expected shape")
	}
	if p.Object != "whatsapp_business_account" {
		return nil, malformed(WhatsApp, "object is not whatsapp_business_account")
	}
	var out []Event
	for _, entry := range p.Entry {
		for _, ch := range entry.Changes {
			if ch.Field != "messages" {
				continue
			}
			v := ch.Value
			account := v.Metadata.PhoneNumberID
			names := map[string]string{}
			for _, c := range v.Contacts {
				names[c.WaID] = c.Profile.Name
			}
			for _, m := range v.Messages {
				ts, err := unixString(m.Timestamp)
				if err != nil {
					return nil, malformed(WhatsApp, err.Error())
				}
				e := Event{Kind: KindMessage, Channel: WhatsApp, Account: account, MessageID: m.ID,
					Address: m.From, Name: names[m.From], Time: ts}
				media := func(typ string, md *waMedia) {
					if md == nil {
						md = &waMedia{}
					}
					e.Attachments = append(e.Attachments, Attachment{MediaID: md.ID, Type: typ,
						MIMEType: md.MimeType, FileName: md.Filename, SHA256: md.SHA256, Caption: md.Caption})
					e.Text = md.Caption
				}
				switch m.Type {
				case "text":
					if m.Text != nil {
						e.Text = m.Text.Body
					}
				case "image":
					media(m.Type, m.Image)
				case "video":
					media(m.Type, m.Video)
				case "audio":
					media(m.Type, m.Audio)
				case "document":
					media(m.Type, m.Document)
				case "sticker":
					media(m.Type, m.Sticker)
				case "button":
					if m.Button != nil {
						e.Text = m.Button.Text
					}
				case "interactive":
					if i := m.Interactive; i != nil && i.ButtonReply != nil {
						e.Text = i.ButtonReply.Title
					} else if i != nil && i.ListReply != nil {
						e.Text = i.ListReply.Title
					}
				case "reaction", "system", "ephemeral", "request_welcome":
					continue
				default:
					if len(m.Type) == 0 || len(m.Type) > 32 {
						return nil, malformed(WhatsApp, "message type")
					}
					e.Attachments = append(e.Attachments, Attachment{Type: m.Type})
				}
				if e.Text == "" && len(e.Attachments) == 0 {
					return nil, malformed(WhatsApp, "message without content")
				}
				out = append(out, e)
			}
			for _, s := range v.Statuses {
				ts, err := unixString(s.Timestamp)
				if err != nil {
					return nil, malformed(WhatsApp, err.Error())
				}
				e := Event{Kind: KindStatus, Channel: WhatsApp, Account: account, MessageID: s.ID,
					Address: s.RecipientID, Time: ts}
				switch s.Status {
				case "sent":
					e.Status = StatusSent
				case "delivered":
					e.Status = StatusDelivered
				case "read":
					e.Status = StatusRead
				case "failed":
					e.Status = StatusFailed
					if len(s.Errors) > 0 {
						e.ErrorCode = strconv.Itoa(s.Errors[0].Code)
					}
				default: // "deleted", "warning", future states
					continue
				}
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// WhatsApp Cloud API defaults.
const (
	// GraphBaseURL is the Graph API root for WhatsApp and Messenger.
	GraphBaseURL = "https://graph.facebook.com"
	// GraphVersion is the Graph API version used when none is configured.
	GraphVersion = "v23.0"
	// MaxWhatsAppText is the Cloud API's limit for a text body.
	MaxWhatsAppText = 4096
)

// WhatsAppSender sends through the Cloud API: POST
// {BaseURL}/{Version}/{PhoneNumberID}/messages with a Bearer token, JSON
// text or template bodies. HTTP 429, 5xx and Graph's transient codes are
// ErrTransient; other refusals are ErrPermanent.
type WhatsAppSender struct {
	// BaseURL is the Graph API root; GraphBaseURL when empty.
	BaseURL string
	// Version is the Graph API version ("v23.0"); GraphVersion when empty.
	Version string
	// PhoneNumberID is the business phone number's id (required).
	PhoneNumberID string
	// Token is a system user access token with whatsapp_business_messaging
	// (required; sent as Bearer).
	Token string
	// MediaHosts are the hosts, besides BaseURL's, that media download
	// URLs may point to; when nil, lookaside.fbsbx.com over HTTPS.
	MediaHosts []string
	// MaxMedia caps a download; DefaultMaxMedia when zero.
	MaxMedia int64
	// Uploads keeps the media ids of uploaded files until their message
	// is accepted (optional: without it a retry uploads again).
	Uploads UploadCache
	// Client makes the requests; nil means a client with a 30s timeout.
	Client *http.Client
	// Logger receives message ids and failures; nil discards.
	Logger *slog.Logger
}

var _ Sender = (*WhatsAppSender)(nil)

// Channel returns WhatsApp.
func (s *WhatsAppSender) Channel() Channel { return WhatsApp }

func (s *WhatsAppSender) root() string {
	v := s.Version
	if v == "" {
		v = GraphVersion
	}
	return trimBase(s.BaseURL, GraphBaseURL) + "/" + url.PathEscape(v)
}

// validPhoneish accepts a wa_id or a phone number: optional "+", 6 to 20
// digits.
func validPhoneish(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if len(s) < 6 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validTemplateName(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func validText(s string, max int) bool {
	return strings.TrimSpace(s) != "" && utf8.ValidString(s) && utf8.RuneCountInString(s) <= max
}

// WhatsAppBody returns the Cloud API request body for m.
func WhatsAppBody(m Outgoing) (map[string]any, error) {
	if !validPhoneish(m.To) {
		return nil, fmt.Errorf("%w: whatsapp recipient is not a wa_id or phone number", ErrInvalid)
	}
	body := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": m.To}
	if t := m.Template; t != nil {
		if !validTemplateName(t.Name) || t.Language == "" || len(t.Language) > 16 || len(t.Params) > 100 {
			return nil, fmt.Errorf("%w: whatsapp template name, language or parameters", ErrInvalid)
		}
		tpl := map[string]any{"name": t.Name, "language": map[string]string{"code": t.Language}}
		if len(t.Params) > 0 {
			params := make([]map[string]string, len(t.Params))
			for i, p := range t.Params {
				if !validText(p, 1024) {
					return nil, fmt.Errorf("%w: whatsapp template parameter %d", ErrInvalid, i+1)
				}
				params[i] = map[string]string{"type": "text", "text": p}
			}
			tpl["components"] = []map[string]any{{"type": "body", "parameters": params}}
		}
		body["type"] = "template"
		body["template"] = tpl
		return body, nil
	}
	if !validText(m.Text, MaxWhatsAppText) {
		return nil, fmt.Errorf("%w: whatsapp text empty, invalid or longer than %d characters", ErrInvalid, MaxWhatsAppText)
	}
	body["type"] = "text"
	body["text"] = map[string]any{"preview_url": false, "body": m.Text}
	return body, nil
}

// Send sends m as a text or template message, or as a file message
// when m has a file: the file is uploaded (POST {root}/{phone-number-id}/media,
// multipart) and sent as an image or document with that media id, m.Text
// as caption. With Uploads set, the media id is kept until the message
// is accepted, so a retry does not upload the file again.
func (s *WhatsAppSender) Send(ctx context.Context, m Outgoing) (SendResult, error) {
	if s.PhoneNumberID == "" || s.Token == "" {
		return SendResult{}, fmt.Errorf("channels: whatsapp: phone number id and token must be configured: %w", ErrPermanent)
	}
	if len(m.Files) > 0 {
		return s.sendFile(ctx, m)
	}
	body, err := WhatsAppBody(m)
	if err != nil {
		return SendResult{}, err
	}
	return s.post(ctx, m, body)
}

// post sends a message body to the messages endpoint.
func (s *WhatsAppSender) post(ctx context.Context, m Outgoing, body map[string]any) (SendResult, error) {
	req, err := newJSONRequest(ctx, WhatsApp, s.root()+"/"+url.PathEscape(s.PhoneNumberID)+"/messages", body)
	if err != nil {
		return SendResult{}, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	rep, err := call(ctx, s.Client, WhatsApp, req)
	log := logger(s.Logger)
	if err != nil {
		log.Warn("channels: whatsapp send failed", "ref", m.Reference, "err", err)
		return SendResult{}, err
	}
	if rep.status != http.StatusOK {
		pe := graphFailure(WhatsApp, rep)
		log.Warn("channels: whatsapp send refused", "ref", m.Reference, "http_status", rep.status, "code", pe.Code, "permanent", pe.Permanent)
		return SendResult{}, pe
	}
	var ok struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if json.Unmarshal(rep.body, &ok) != nil || len(ok.Messages) == 0 || !validID(ok.Messages[0].ID) {
		// It may have been sent: retrying could send it twice.
		return SendResult{}, &ProviderError{Channel: WhatsApp, HTTPStatus: rep.status, Permanent: true, Description: "reply without message id"}
	}
	log.Debug("channels: whatsapp sent", "ref", m.Reference, "id", ok.Messages[0].ID)
	return SendResult{Channel: WhatsApp, MessageID: ok.Messages[0].ID, Reference: m.Reference}, nil
}

// sendFile uploads m's file (or reuses the media id of an earlier
// attempt) and sends it.
func (s *WhatsAppSender) sendFile(ctx context.Context, m Outgoing) (SendResult, error) {
	if !validPhoneish(m.To) {
		return SendResult{}, fmt.Errorf("%w: whatsapp recipient is not a wa_id or phone number", ErrInvalid)
	}
	if err := checkLoaded(WhatsApp, m); err != nil {
		return SendResult{}, err
	}
	f := m.Files[0]
	k, _ := classify(WhatsApp, f)
	key := s.PhoneNumberID + "/" + f.ID
	log := logger(s.Logger)
	var mediaID string
	if s.Uploads != nil {
		id, ok, err := s.Uploads.Get(ctx, key)
		if err != nil {
			return SendResult{}, fmt.Errorf("channels: whatsapp: upload cache: %w: %w", ErrTransient, err)
		}
		if ok && validID(id) {
			mediaID = id
		}
	}
	if mediaID == "" {
		id, err := s.upload(ctx, f)
		if err != nil {
			log.Warn("channels: whatsapp upload failed", "ref", m.Reference, "file", f.ID, "err", err)
			return SendResult{}, err
		}
		mediaID = id
		if s.Uploads != nil {
			if err := s.Uploads.Put(ctx, key, mediaID); err != nil {
				log.Warn("channels: whatsapp media id not kept", "file", f.ID, "err", err)
			}
		}
	}
	media := map[string]any{"id": mediaID}
	if m.Text != "" {
		media["caption"] = m.Text
	}
	if k.kind == "document" {
		media["filename"] = f.Name
	}
	res, err := s.post(ctx, m, map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual",
		"to": m.To, "type": k.kind, k.kind: media})
	if s.Uploads != nil && (err == nil || errors.Is(err, ErrPermanent)) {
		if derr := s.Uploads.Delete(ctx, key); derr != nil {
			log.Warn("channels: whatsapp media id not forgotten", "file", f.ID, "err", derr)
		}
	}
	return res, err
}

// upload posts a file to the phone number's media endpoint and returns
// the media id.
func (s *WhatsAppSender) upload(ctx context.Context, f File) (string, error) {
	body, ctype, err := multipartBody([]string{"messaging_product", "whatsapp", "type", f.baseType()}, "file", f)
	if err != nil {
		return "", fmt.Errorf("channels: whatsapp: encode upload: %w", ErrInvalid)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.root()+"/"+url.PathEscape(s.PhoneNumberID)+"/media", body)
	if err != nil {
		return "", fmt.Errorf("channels: whatsapp: bad base URL: %w", ErrPermanent)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Token)
	rep, err := call(ctx, s.Client, WhatsApp, req)
	if err != nil {
		return "", err
	}
	if rep.status != http.StatusOK {
		return "", graphFailure(WhatsApp, rep)
	}
	var ok struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(rep.body, &ok) != nil || !validID(ok.ID) {
		// Uploading again costs storage at Meta, never a second message.
		return "", &ProviderError{Channel: WhatsApp, HTTPStatus: rep.status, Permanent: false, Description: "upload reply without id"}
	}
	return ok.ID, nil
}

// Download fetches an inbound attachment: GET {root}/{mediaID} (Bearer)
// returns the media URL, which is then fetched with the same token and
// copied to w, at most MaxMedia bytes (more is ErrTooLarge; w then holds
// a partial file the caller must discard). The media URL must be on
// BaseURL's origin or, over HTTPS, one of MediaHosts.
func (s *WhatsAppSender) Download(ctx context.Context, mediaID string, w io.Writer) (MediaInfo, error) {
	if !validID(mediaID) {
		return MediaInfo{}, fmt.Errorf("%w: whatsapp media id", ErrInvalid)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.root()+"/"+url.PathEscape(mediaID), nil)
	if err != nil {
		return MediaInfo{}, fmt.Errorf("channels: whatsapp: bad base URL: %w", ErrPermanent)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	rep, err := call(ctx, s.Client, WhatsApp, req)
	if err != nil {
		return MediaInfo{}, err
	}
	if rep.status != http.StatusOK {
		return MediaInfo{}, graphFailure(WhatsApp, rep)
	}
	var meta struct {
		URL      string          `json:"url"`
		MimeType string          `json:"mime_type"`
		FileSize json.RawMessage `json:"file_size"`
	}
	if err := json.Unmarshal(rep.body, &meta); err != nil || meta.URL == "" {
		return MediaInfo{}, &ProviderError{Channel: WhatsApp, HTTPStatus: rep.status, Permanent: true, Description: "media reply without url"}
	}
	u, err := url.Parse(meta.URL)
	if err != nil || !s.mediaHostAllowed(u) {
		return MediaInfo{}, fmt.Errorf("channels: whatsapp: media URL on an unexpected host: %w", ErrPermanent)
	}
	max := s.MaxMedia
	if max <= 0 {
		max = DefaultMaxMedia
	}
	if n, err := strconv.ParseInt(strings.Trim(string(meta.FileSize), `"`), 10, 64); err == nil && n > max {
		return MediaInfo{}, fmt.Errorf("channels: whatsapp: media of %d bytes: %w", n, ErrTooLarge)
	}
	get, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return MediaInfo{}, fmt.Errorf("channels: whatsapp: media URL: %w", ErrPermanent)
	}
	get.Header.Set("Authorization", "Bearer "+s.Token)
	info, err := fetch(ctx, s.Client, WhatsApp, get, max, w)
	if err != nil {
		return MediaInfo{}, err
	}
	if meta.MimeType != "" {
		info.MIMEType = meta.MimeType
	}
	return info, nil
}

func (s *WhatsAppSender) mediaHostAllowed(u *url.URL) bool {
	if sameOrigin(u, trimBase(s.BaseURL, GraphBaseURL)) {
		return true
	}
	if u.Scheme != "https" {
		return false
	}
	hosts := s.MediaHosts
	if hosts == nil {
		hosts = []string{"lookaside.fbsbx.com"}
	}
	for _, h := range hosts {
		if strings.EqualFold(u.Host, h) {
			return true
		}
	}
	return false
}
