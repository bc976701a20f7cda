package fake

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// TelegramSend is a message the Telegram fake accepted.
type TelegramSend struct {
	// MessageID is the message_id the fake answered with.
	MessageID int64
	// ChatID is the chat_id as sent (a number or @username).
	ChatID string
	// Text is the message text.
	Text string
	// Method is sendMessage, sendPhoto or sendDocument.
	Method string
	// Caption is a photo's or document's caption.
	Caption string
	// File is the uploaded photo or document.
	File *Upload
}

// Telegram fakes the Bot API methods Parley uses: sendMessage and getFile
// at /bot{token}/{method} (JSON, form or query parameters, as the Bot API
// accepts), and file downloads at /file/bot{token}/{file_path}.
type Telegram struct {
	Outage
	log[TelegramSend]
	// Token is the bot token expected in paths.
	Token string
	// SecretToken is sent with PostWebhook as the secret_token header.
	SecretToken string
	// Client posts webhooks; nil means http.DefaultClient.
	Client *http.Client

	mu      sync.Mutex
	next    int64
	files   map[string]telegramFile
	blocked map[string]bool
}

type telegramFile struct {
	path string
	m    Media
}

// AddFile makes fileID resolvable by getFile to path and downloadable.
func (f *Telegram) AddFile(fileID, path string, m Media) {
	f.mu.Lock()
	if f.files == nil {
		f.files = map[string]telegramFile{}
	}
	f.files[fileID] = telegramFile{path, m}
	f.mu.Unlock()
}

// Block makes sends to chatID fail as when the user blocked the bot (403).
func (f *Telegram) Block(chatID string) {
	f.mu.Lock()
	if f.blocked == nil {
		f.blocked = map[string]bool{}
	}
	f.blocked[chatID] = true
	f.mu.Unlock()
}

func tgError(w http.ResponseWriter, code int, desc string) {
	writeJSON(w, code, map[string]any{"ok": false, "error_code": code, "description": desc})
}

// params reads a Bot API call's parameters from the query string, a form
// or a JSON object.
func tgParams(r *http.Request) (map[string]any, bool) {
	out := map[string]any{}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	if r.Method != http.MethodPost {
		return out, true
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var m map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, false
		}
		for k, v := range m {
			out[k] = v
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, false
		}
		for k, v := range r.PostForm {
			out[k] = v[0]
		}
	case "":
	default:
		return nil, false
	}
	return out, true
}

// ServeHTTP implements http.Handler.
func (f *Telegram) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.intercept(w) {
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if rest, ok := strings.CutPrefix(p, "file/bot"+f.Token+"/"); ok && f.Token != "" && r.Method == http.MethodGet {
		f.download(w, r, rest)
		return
	}
	bot, method, ok := strings.Cut(p, "/")
	if !ok || f.Token == "" || subtle.ConstantTimeCompare([]byte(bot), []byte("bot"+f.Token)) != 1 {
		f.reject("token in path")
		tgError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if method == "sendPhoto" || method == "sendDocument" {
		f.sendFile(w, r, method)
		return
	}
	params, ok := tgParams(r)
	if !ok {
		f.reject("parameters")
		tgError(w, http.StatusBadRequest, "Bad Request: can't parse parameters")
		return
	}
	switch method {
	case "sendMessage":
		f.sendMessage(w, params)
	case "getFile":
		f.getFile(w, params)
	default:
		f.reject("method " + method)
		tgError(w, http.StatusNotFound, "Not Found")
	}
}

func (f *Telegram) sendMessage(w http.ResponseWriter, p map[string]any) {
	var chat string
	switch c := p["chat_id"].(type) {
	case json.Number:
		chat = c.String()
	case string:
		chat = c
	}
	n, err := strconv.ParseInt(chat, 10, 64)
	if chat == "" || (err != nil && !strings.HasPrefix(chat, "@")) || (err == nil && n == 0) {
		f.reject("chat_id")
		tgError(w, http.StatusBadRequest, "Bad Request: chat_id is empty")
		return
	}
	text, _ := p["text"].(string)
	if strings.TrimSpace(text) == "" {
		f.reject("text")
		tgError(w, http.StatusBadRequest, "Bad Request: message text is empty")
		return
	}
	if utf8.RuneCountInString(text) > 4096 {
		f.reject("text length")
		tgError(w, http.StatusBadRequest, "Bad Request: message is too long")
		return
	}
	f.mu.Lock()
	blocked := f.blocked[chat]
	f.next++
	id := f.next
	f.mu.Unlock()
	if blocked {
		tgError(w, http.StatusForbidden, "Forbidden: bot was blocked by the user")
		return
	}
	f.add(TelegramSend{MessageID: id, ChatID: chat, Text: text, Method: "sendMessage"})
	botID, _, _ := strings.Cut(f.Token, ":")
	bid, _ := strconv.ParseInt(botID, 10, 64)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": map[string]any{
		"message_id": id,
		"from":       map[string]any{"id": bid, "is_bot": true, "first_name": "Parley", "username": "parley_bot"},
		"chat":       map[string]any{"id": n, "type": "private"},
		"date":       time.Now().Unix(),
		"text":       text,
	}})
}

// sendFile is sendPhoto or sendDocument with a multipart upload: chat_id,
// optional caption (≤ 1024 characters) and the file part "photo" or
// "document" (photos ≤ 10 MB, uploads ≤ 50 MB).
func (f *Telegram) sendFile(w http.ResponseWriter, r *http.Request, method string) {
	fields, files, ok := readMultipart(r)
	if !ok {
		f.reject(method + " without multipart/form-data")
		tgError(w, http.StatusBadRequest, "Bad Request: there is no file in the request")
		return
	}
	field, limit := "document", 50_000_000
	if method == "sendPhoto" {
		field, limit = "photo", 10_000_000
	}
	chat := fields["chat_id"]
	n, err := strconv.ParseInt(chat, 10, 64)
	file, hasFile := files[field]
	bad := ""
	switch {
	case chat == "" || (err != nil && !strings.HasPrefix(chat, "@")) || (err == nil && n == 0):
		bad = "chat_id"
	case !hasFile || len(file.Data) == 0:
		bad = field
	case len(file.Data) > limit:
		bad = field + " size"
	case utf8.RuneCountInString(fields["caption"]) > 1024:
		bad = "caption"
	case method == "sendPhoto" && baseType(file.MIMEType) != "image/jpeg" && baseType(file.MIMEType) != "image/png":
		bad = "photo type"
	}
	if bad != "" {
		f.reject(method + " " + bad)
		tgError(w, http.StatusBadRequest, "Bad Request: "+bad+" is invalid")
		return
	}
	f.mu.Lock()
	blocked := f.blocked[chat]
	f.next++
	id := f.next
	f.mu.Unlock()
	if blocked {
		tgError(w, http.StatusForbidden, "Forbidden: bot was blocked by the user")
		return
	}
	f.add(TelegramSend{MessageID: id, ChatID: chat, Method: method, Caption: fields["caption"], File: &file})
	res := map[string]any{"message_id": id, "chat": map[string]any{"id": n, "type": "private"}, "date": time.Now().Unix()}
	if method == "sendPhoto" {
		res["photo"] = []any{map[string]any{"file_id": "AgAC" + randomHex(8), "file_unique_id": randomHex(4), "file_size": len(file.Data), "width": 800, "height": 600}}
	} else {
		res["document"] = map[string]any{"file_id": "BQAC" + randomHex(8), "file_unique_id": randomHex(4), "file_name": file.FileName, "mime_type": baseType(file.MIMEType), "file_size": len(file.Data)}
	}
	if c := fields["caption"]; c != "" {
		res["caption"] = c
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": res})
}

func (f *Telegram) getFile(w http.ResponseWriter, p map[string]any) {
	id, _ := p["file_id"].(string)
	f.mu.Lock()
	file, ok := f.files[id]
	f.mu.Unlock()
	if !ok {
		tgError(w, http.StatusBadRequest, "Bad Request: invalid file_id")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": map[string]any{
		"file_id": id, "file_unique_id": "AQAD" + id, "file_size": len(file.m.Data), "file_path": file.path}})
}

func (f *Telegram) download(w http.ResponseWriter, r *http.Request, path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, file := range f.files {
		if file.path == path {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(len(file.m.Data)))
			w.Write(file.m.Data)
			return
		}
	}
	http.NotFound(w, r)
}

func tgUpdate(updateID int64, message map[string]any) []byte {
	return mustJSON(map[string]any{"update_id": updateID, "message": message})
}

func tgMessage(chatID, messageID int64, firstName string, at time.Time) map[string]any {
	return map[string]any{
		"message_id": messageID,
		"from":       map[string]any{"id": chatID, "is_bot": false, "first_name": firstName, "language_code": "de"},
		"chat":       map[string]any{"id": chatID, "first_name": firstName, "type": "private"},
		"date":       at.Unix(),
	}
}

// TelegramText returns an Update with a private text message.
func TelegramText(updateID, chatID, messageID int64, firstName, text string, at time.Time) []byte {
	m := tgMessage(chatID, messageID, firstName, at)
	m["text"] = text
	return tgUpdate(updateID, m)
}

// TelegramDocument returns an Update with a document and caption.
func TelegramDocument(updateID, chatID, messageID int64, fileID, fileName, mimeType string, size int, caption string, at time.Time) []byte {
	m := tgMessage(chatID, messageID, "Kunde", at)
	m["document"] = map[string]any{"file_id": fileID, "file_unique_id": "AgAD" + fileID, "file_name": fileName,
		"mime_type": mimeType, "file_size": size}
	if caption != "" {
		m["caption"] = caption
	}
	return tgUpdate(updateID, m)
}

// TelegramPhoto returns an Update with a photo in three sizes; the last
// (largest) carries fileID.
func TelegramPhoto(updateID, chatID, messageID int64, fileID string, at time.Time) []byte {
	m := tgMessage(chatID, messageID, "Kunde", at)
	m["photo"] = []any{
		map[string]any{"file_id": fileID + "_s", "file_unique_id": "s", "file_size": 1200, "width": 90, "height": 67},
		map[string]any{"file_id": fileID + "_m", "file_unique_id": "m", "file_size": 14000, "width": 320, "height": 240},
		map[string]any{"file_id": fileID, "file_unique_id": "l", "file_size": 56000, "width": 800, "height": 600},
	}
	return tgUpdate(updateID, m)
}

// PostWebhook POSTs an Update to hookURL with the secret token header, as
// the Bot API does after setWebhook(url, secret_token).
func (f *Telegram) PostWebhook(ctx context.Context, hookURL string, update []byte) (int, error) {
	h := http.Header{}
	if f.SecretToken != "" {
		h.Set("X-Telegram-Bot-Api-Secret-Token", f.SecretToken)
	}
	return Post(ctx, f.Client, hookURL, "application/json", update, h)
}
