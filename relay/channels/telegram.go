package channels

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TelegramSecretHeader carries the secret_token given to setWebhook on
// every webhook request the Bot API makes.
const TelegramSecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// TelegramWebhook receives a bot's updates (one Update per request). The
// Bot API does not sign its requests; it repeats the secret_token set with
// setWebhook in TelegramSecretHeader, which is compared in constant time.
// Telegram has no delivery or read receipts for bots: only messages
// become events.
type TelegramWebhook struct {
	// SecretToken is the secret_token given to setWebhook: 1–256 characters
	// of A–Z, a–z, 0–9, "_" and "-" (required).
	SecretToken string
	// Account is put into the events' Account (e.g. the bot's id, the
	// digits before the token's colon); optional.
	Account string
	// Sink stores the decoded events (required).
	Sink Sink
	// MaxBody caps the request body; DefaultMaxBody when zero.
	MaxBody int64
	// Logger receives counts, ids and failures; nil discards.
	Logger *slog.Logger
}

// ValidTelegramSecret reports whether s is a secret_token the Bot API
// accepts.
func ValidTelegramSecret(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ServeHTTP implements http.Handler.
func (h *TelegramWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(&hook{channel: Telegram, sink: h.Sink, log: h.Logger, maxBody: h.MaxBody,
		verify: func(r *http.Request, _ []byte) bool {
			got := r.Header.Get(TelegramSecretHeader)
			return ValidTelegramSecret(h.SecretToken) &&
				subtle.ConstantTimeCompare([]byte(got), []byte(h.SecretToken)) == 1
		},
		decode: func(_ *http.Request, body []byte) ([]Event, error) {
			evs, err := DecodeTelegram(body)
			for i := range evs {
				evs[i].Account = h.Account
			}
			return evs, err
		},
		ack: ackEmpty}).serve(w, r)
}

type tgFile struct {
	FileID   string `json:"file_id"`
	FileName string `json:"file_name"`
	MimeType string `json:"mime_type"`
	FileSize int64  `json:"file_size"`
}

type tgMessage struct {
	MessageID int64 `json:"message_id"`
	From      *struct {
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
	} `json:"from"`
	Chat *struct {
		ID int64 `json:"id"`
	} `json:"chat"`
	Date      int64           `json:"date"`
	Text      string          `json:"text"`
	Caption   string          `json:"caption"`
	Photo     []tgFile        `json:"photo"`
	Document  *tgFile         `json:"document"`
	Audio     *tgFile         `json:"audio"`
	Voice     *tgFile         `json:"voice"`
	Video     *tgFile         `json:"video"`
	VideoNote *tgFile         `json:"video_note"`
	Animation *tgFile         `json:"animation"`
	Sticker   *tgFile         `json:"sticker"`
	Location  json.RawMessage `json:"location"`
	Contact   json.RawMessage `json:"contact"`
	Venue     json.RawMessage `json:"venue"`
	Poll      json.RawMessage `json:"poll"`
}

// DecodeTelegram decodes one Bot API Update. A "message" becomes a
// KindMessage event whose MessageID is "<chat id>:<message_id>" (message
// ids are unique per chat) and whose Address is the chat id; text,
// captions and files (the largest photo size, documents, audio, voice,
// video, animations, stickers) are kept, locations, contacts, venues and
// polls become an Attachment of that Type. Other updates (edits, service
// messages, callbacks, member changes) yield no events.
func DecodeTelegram(body []byte) ([]Event, error) {
	var u struct {
		UpdateID *int64     `json:"update_id"`
		Message  *tgMessage `json:"message"`
	}
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, malformed(Telegram, "not JSON of the expected shape")
	}
	if u.UpdateID == nil {
		return nil, malformed(Telegram, "update without update_id")
	}
	m := u.Message
	if m == nil {
		return nil, nil
	}
	if m.Chat == nil || m.MessageID <= 0 || m.Date < 0 || m.Date > 1<<40 {
		return nil, malformed(Telegram, "message without chat, id or date")
	}
	chat := strconv.FormatInt(m.Chat.ID, 10)
	e := Event{Kind: KindMessage, Channel: Telegram, MessageID: chat + ":" + strconv.FormatInt(m.MessageID, 10),
		Address: chat, Text: m.Text, Time: time.Unix(m.Date, 0).UTC()}
	if m.From != nil {
		e.Name = strings.TrimSpace(m.From.FirstName + " " + m.From.LastName)
	}
	if e.Text == "" {
		e.Text = m.Caption
	}
	file := func(typ string, f *tgFile) {
		if f != nil {
			e.Attachments = append(e.Attachments, Attachment{MediaID: f.FileID, Type: typ, MIMEType: f.MimeType,
				FileName: f.FileName, Size: f.FileSize, Caption: m.Caption})
		}
	}
	if n := len(m.Photo); n > 0 {
		file("photo", &m.Photo[n-1])
	}
	file("document", m.Document)
	file("audio", m.Audio)
	file("voice", m.Voice)
	file("video", m.Video)
	file("video_note", m.VideoNote)
	file("animation", m.Animation)
	file("sticker", m.Sticker)
	for _, x := range []struct {
		typ string
		raw json.RawMessage
	}{{"location", m.Location}, {"contact", m.Contact}, {"venue", m.Venue}, {"poll", m.Poll}} {
		if len(x.raw) > 0 && string(x.raw) != "null" {
			e.Attachments = append(e.Attachments, Attachment{Type: x.typ})
		}
	}
	for _, a := range e.Attachments {
		if a.Type != "location" && a.Type != "contact" && a.Type != "venue" && a.Type != "poll" && a.MediaID == "" {
			return nil, malformed(Telegram, "file without file_id")
		}
	}
	if e.Text == "" && len(e.Attachments) == 0 {
		return nil, nil // a service message (member joined, title changed, …)
	}
	return []Event{e}, nil
}

// Telegram Bot API defaults.
const (
	// TelegramBaseURL is the Bot API root.
	TelegramBaseURL = "https://api.telegram.org"
	// MaxTelegramText is sendMessage's text limit.
	MaxTelegramText = 4096
	// MaxTelegramDownload is the largest file a bot may download.
	MaxTelegramDownload = 20 << 20
)

// TelegramSender sends through the Bot API: POST
// {BaseURL}/bot{Token}/sendMessage with a JSON body {chat_id, text}. A
// reply {"ok":false,"error_code":429|5xx} is ErrTransient (with
// parameters.retry_after), other refusals (chat not found, bot blocked)
// are ErrPermanent. The token is part of every URL: errors never quote a
// URL.
type TelegramSender struct {
	// BaseURL is the Bot API root; TelegramBaseURL when empty.
	BaseURL string
	// Token is the bot token from @BotFather (required).
	Token string
	// MaxMedia caps a download; MaxTelegramDownload when zero.
	MaxMedia int64
	// Client makes the requests; nil means a client with a 30s timeout.
	Client *http.Client
	// Logger receives message ids and failures; nil discards.
	Logger *slog.Logger
}

var _ Sender = (*TelegramSender)(nil)

// Channel returns Telegram.
func (s *TelegramSender) Channel() Channel { return Telegram }

func validBotToken(t string) bool {
	if !strings.Contains(t, ":") || len(t) > 128 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == ':') {
			return false
		}
	}
	return true
}

type tgReply struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

func (s *TelegramSender) method(ctx context.Context, name string, body any) (json.RawMessage, error) {
	if !validBotToken(s.Token) {
		return nil, fmt.Errorf("channels: telegram: bot token must be configured: %w", ErrPermanent)
	}
	req, err := newJSONRequest(ctx, Telegram, trimBase(s.BaseURL, TelegramBaseURL)+"/bot"+s.Token+"/"+name, body)
	if err != nil {
		return nil, err
	}
	return s.do(ctx, req)
}

// do sends a Bot API request and reads its {"ok":…} reply.
func (s *TelegramSender) do(ctx context.Context, req *http.Request) (json.RawMessage, error) {
	rep, err := call(ctx, s.Client, Telegram, req)
	if err != nil {
		return nil, err
	}
	var r tgReply
	_ = json.Unmarshal(rep.body, &r)
	if rep.status == http.StatusOK && r.OK {
		return r.Result, nil
	}
	code := r.ErrorCode
	if code == 0 {
		code = rep.status
	}
	wait := time.Duration(max(0, min(r.Parameters.RetryAfter, 86400))) * time.Second
	if wait == 0 {
		wait = retryAfter(rep.header.Get("Retry-After"))
	}
	transient := rep.status == http.StatusTooManyRequests || rep.status >= 500 || code == 429 || code >= 500
	return nil, &ProviderError{Channel: Telegram, HTTPStatus: rep.status, Code: r.ErrorCode, Permanent: !transient,
		RetryAfter: wait, Description: r.Description}
}

// sendFile sends m's file with sendPhoto (JPEG, PNG) or sendDocument as
// multipart/form-data: chat_id, caption (m.Text) and the file part.
// Uploading is part of the send: a retry after a failed call uploads
// again, which is harmless (no message was made).
func (s *TelegramSender) sendFile(ctx context.Context, chat string, m Outgoing) (json.RawMessage, error) {
	if !validBotToken(s.Token) {
		return nil, fmt.Errorf("channels: telegram: bot token must be configured: %w", ErrPermanent)
	}
	if err := checkLoaded(Telegram, m); err != nil {
		return nil, err
	}
	f := m.Files[0]
	k, _ := classify(Telegram, f)
	fields := []string{"chat_id", chat}
	if m.Text != "" {
		fields = append(fields, "caption", m.Text)
	}
	method := "sendDocument"
	if k.kind == "photo" {
		method = "sendPhoto"
	}
	body, ctype, err := multipartBody(fields, k.kind, f)
	if err != nil {
		return nil, fmt.Errorf("channels: telegram: encode upload: %w", ErrInvalid)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, trimBase(s.BaseURL, TelegramBaseURL)+"/bot"+s.Token+"/"+method, body)
	if err != nil {
		return nil, fmt.Errorf("channels: telegram: bad base URL: %w", ErrPermanent)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	return s.do(ctx, req)
}

// validChatID accepts a numeric chat id or an @channel username.
func validChatID(s string) (any, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n != 0 {
		return n, true
	}
	if len(s) >= 2 && len(s) <= 64 && s[0] == '@' && validID(s) {
		return s, true
	}
	return nil, false
}

// Send sends m.Text to the chat m.To, or m's file with m.Text as caption.
func (s *TelegramSender) Send(ctx context.Context, m Outgoing) (SendResult, error) {
	chat, ok := validChatID(m.To)
	if !ok {
		return SendResult{}, fmt.Errorf("%w: telegram chat id", ErrInvalid)
	}
	log := logger(s.Logger)
	var res json.RawMessage
	var err error
	if len(m.Files) > 0 {
		res, err = s.sendFile(ctx, m.To, m)
	} else {
		if m.Template != nil || !validText(m.Text, MaxTelegramText) {
			return SendResult{}, fmt.Errorf("%w: telegram text empty, invalid or longer than %d characters", ErrInvalid, MaxTelegramText)
		}
		res, err = s.method(ctx, "sendMessage", map[string]any{"chat_id": chat, "text": m.Text})
	}
	if err != nil {
		log.Warn("channels: telegram send failed", "ref", m.Reference, "err", err)
		return SendResult{}, err
	}
	var sent struct {
		MessageID int64 `json:"message_id"`
		Chat      struct {
			ID int64 `json:"id"`
		} `json:"chat"`
	}
	if json.Unmarshal(res, &sent) != nil || sent.MessageID <= 0 {
		return SendResult{}, &ProviderError{Channel: Telegram, HTTPStatus: http.StatusOK, Permanent: true, Description: "reply without message_id"}
	}
	id := strconv.FormatInt(sent.Chat.ID, 10) + ":" + strconv.FormatInt(sent.MessageID, 10)
	log.Debug("channels: telegram sent", "ref", m.Reference, "id", id)
	return SendResult{Channel: Telegram, MessageID: id, Reference: m.Reference}, nil
}

// Download fetches an inbound file: getFile resolves the file_id to a
// file_path, then GET {BaseURL}/file/bot{Token}/{file_path} is copied to
// w, at most MaxMedia bytes (more is ErrTooLarge).
func (s *TelegramSender) Download(ctx context.Context, fileID string, w io.Writer) (MediaInfo, error) {
	if !validID(fileID) {
		return MediaInfo{}, fmt.Errorf("%w: telegram file id", ErrInvalid)
	}
	max := s.MaxMedia
	if max <= 0 {
		max = MaxTelegramDownload
	}
	res, err := s.method(ctx, "getFile", map[string]string{"file_id": fileID})
	if err != nil {
		return MediaInfo{}, err
	}
	var f struct {
		FilePath string `json:"file_path"`
		FileSize int64  `json:"file_size"`
	}
	if json.Unmarshal(res, &f) != nil || !validFilePath(f.FilePath) {
		return MediaInfo{}, &ProviderError{Channel: Telegram, HTTPStatus: http.StatusOK, Permanent: true, Description: "getFile without a usable file_path"}
	}
	if f.FileSize > max {
		return MediaInfo{}, fmt.Errorf("channels: telegram: file of %d bytes: %w", f.FileSize, ErrTooLarge)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		trimBase(s.BaseURL, TelegramBaseURL)+"/file/bot"+s.Token+"/"+f.FilePath, nil)
	if err != nil {
		return MediaInfo{}, fmt.Errorf("channels: telegram: file URL: %w", ErrPermanent)
	}
	return fetch(ctx, s.Client, Telegram, req, max, w)
}

// validFilePath accepts a relative path without dot segments, queries or
// fragments ("photos/file_0.jpg").
func validFilePath(p string) bool {
	if p == "" || len(p) > 512 || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#\\%") {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return url.PathEscape(p) != "" && validID(p)
}
