package fake

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MetaSign returns the X-Hub-Signature-256 header value Meta puts on a
// webhook: "sha256=" + hex(HMAC-SHA256(app secret, raw body)).
func MetaSign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// graphError writes a Graph API error body.
func graphError(w http.ResponseWriter, status, code, subcode int, typ, msg string) {
	e := map[string]any{"message": msg, "type": typ, "code": code, "fbtrace_id": "A" + randomHex(8)}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	writeJSON(w, status, map[string]any{"error": e})
}

// bearer checks the access token Graph accepts as "Authorization: Bearer"
// or an access_token query parameter.
func bearer(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		got = r.URL.Query().Get("access_token")
	}
	return token != "" && hmac.Equal([]byte(got), []byte(token))
}

func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// WhatsAppSend is a message the WhatsApp fake accepted.
type WhatsAppSend struct {
	// ID is the wamid the fake answered with.
	ID string
	// To is the recipient.
	To string
	// Type is "text" or "template".
	Type string
	// Text is the text body.
	Text string
	// Template is the template name.
	Template string
	// Language is the template language code.
	Language string
	// Params are the template's body parameters.
	Params []string
	// MediaID is the uploaded media's id (image and document messages).
	MediaID string
	// Caption is the media's caption.
	Caption string
	// FileName is the document's file name.
	FileName string
	// File is the uploaded file the message refers to.
	File *Upload
}

// WhatsApp fakes the Cloud API endpoints Parley uses: POST
// /{version}/{phone-number-id}/messages, GET /{version}/{media-id} and the
// media download URL it hands out. Its zero value needs Token and
// PhoneNumberID set before use.
type WhatsApp struct {
	Outage
	log[WhatsAppSend]
	// Version is the Graph API version expected in paths; "v23.0" when empty.
	Version string
	// PhoneNumberID is the business number's id.
	PhoneNumberID string
	// Token is the access token expected as Bearer.
	Token string
	// AppSecret signs webhooks posted with PostWebhook.
	AppSecret string
	// Client posts webhooks; nil means http.DefaultClient.
	Client *http.Client

	mu      sync.Mutex
	media   map[string]Media
	uploads map[string]Upload
	nUp     int
}

// Uploads returns how many files were uploaded to the media endpoint.
func (f *WhatsApp) Uploads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nUp
}

// AddMedia makes id downloadable.
func (f *WhatsApp) AddMedia(id string, m Media) {
	f.mu.Lock()
	if f.media == nil {
		f.media = map[string]Media{}
	}
	f.media[id] = m
	f.mu.Unlock()
}

func (f *WhatsApp) version() string {
	if f.Version == "" {
		return "v23.0"
	}
	return f.Version
}

// ServeHTTP implements http.Handler.
func (f *WhatsApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.intercept(w) {
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && len(parts) == 3 && parts[2] == "messages":
		f.messages(w, r, parts)
	case r.Method == http.MethodPost && len(parts) == 3 && parts[2] == "media":
		f.upload(w, r, parts)
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "_media":
		f.download(w, r, parts[2])
	case r.Method == http.MethodGet && len(parts) == 2:
		f.mediaInfo(w, r, parts)
	default:
		f.reject("unknown endpoint " + r.Method + " " + r.URL.Path)
		graphError(w, http.StatusBadRequest, 100, 0, "GraphMethodException", "Unsupported request")
	}
}

func (f *WhatsApp) messages(w http.ResponseWriter, r *http.Request, parts []string) {
	if parts[0] != f.version() || parts[1] != f.PhoneNumberID {
		f.reject("path " + r.URL.Path)
		graphError(w, http.StatusBadRequest, 100, 33, "GraphMethodException", "Unsupported post request")
		return
	}
	if !bearer(r, f.Token) {
		f.reject("access token")
		graphError(w, http.StatusUnauthorized, 190, 0, "OAuthException", "Invalid OAuth access token")
		return
	}
	if !isJSON(r) {
		f.reject("content type " + r.Header.Get("Content-Type"))
		graphError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid parameter")
		return
	}
	var b struct {
		MessagingProduct string `json:"messaging_product"`
		RecipientType    string `json:"recipient_type"`
		To               string `json:"to"`
		Type             string `json:"type"`
		Text             *struct {
			Body       string `json:"body"`
			PreviewURL *bool  `json:"preview_url"`
		} `json:"text"`
		Template *struct {
			Name     string `json:"name"`
			Language *struct {
				Code string `json:"code"`
			} `json:"language"`
			Components []struct {
				Type       string `json:"type"`
				Parameters []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"parameters"`
			} `json:"components"`
		} `json:"template"`
		Image    *waMediaRef `json:"image"`
		Document *waMediaRef `json:"document"`
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&b); err != nil {
		f.reject("body is not JSON")
		graphError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid parameter")
		return
	}
	s := WhatsAppSend{To: b.To, Type: b.Type}
	bad := ""
	switch {
	case b.MessagingProduct != "whatsapp":
		bad = "messaging_product"
	case b.RecipientType != "" && b.RecipientType != "individual":
		bad = "recipient_type"
	case b.To == "":
		bad = "to"
	case b.Type == "text":
		if b.Text == nil || b.Text.Body == "" || utf8.RuneCountInString(b.Text.Body) > 4096 {
			bad = "text.body"
		} else {
			s.Text = b.Text.Body
		}
	case b.Type == "template":
		if b.Template == nil || b.Template.Name == "" || b.Template.Language == nil || b.Template.Language.Code == "" {
			bad = "template.name/language.code"
			break
		}
		s.Template, s.Language = b.Template.Name, b.Template.Language.Code
		for _, c := range b.Template.Components {
			if c.Type != "body" && c.Type != "header" && c.Type != "button" {
				bad = "template.components.type"
			}
			for _, p := range c.Parameters {
				if p.Type != "text" || p.Text == "" {
					bad = "template parameter"
				}
				s.Params = append(s.Params, p.Text)
			}
		}
	case b.Type == "image" || b.Type == "document":
		ref := b.Image
		if b.Type == "document" {
			ref = b.Document
		}
		if ref == nil || ref.ID == "" || ref.Link != "" {
			bad = b.Type + ".id"
			break
		}
		f.mu.Lock()
		up, ok := f.uploads[ref.ID]
		f.mu.Unlock()
		switch {
		case !ok:
			bad = b.Type + ".id unknown"
		case utf8.RuneCountInString(ref.Caption) > 1024:
			bad = b.Type + ".caption"
		case b.Type == "image" && baseType(up.MIMEType) != "image/jpeg" && baseType(up.MIMEType) != "image/png":
			bad = "image type"
		case b.Type == "image" && len(up.Data) > 5_000_000:
			bad = "image size"
		default:
			s.MediaID, s.Caption, s.FileName, s.File = ref.ID, ref.Caption, ref.Filename, &up
		}
	default:
		bad = "type"
	}
	if bad != "" {
		f.reject("field " + bad)
		graphError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid parameter")
		return
	}
	s.ID = "wamid.HBgL" + strings.ToUpper(randomHex(12))
	f.add(s)
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{{"input": b.To, "wa_id": strings.TrimPrefix(b.To, "+")}},
		"messages":          []map[string]string{{"id": s.ID}},
	})
}

// waMediaRef is an image or document object of a send.
type waMediaRef struct {
	ID       string `json:"id"`
	Link     string `json:"link"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

// whatsAppUploadTypes are the media types the fake's media endpoint
// takes (the Cloud API's image and document types Parley sends).
var whatsAppUploadTypes = map[string]int{"image/jpeg": 5_000_000, "image/png": 5_000_000,
	"application/pdf": 100_000_000, "text/plain": 100_000_000}

// upload is POST /{version}/{phone-number-id}/media: multipart with
// messaging_product=whatsapp, type and the file part "file".
func (f *WhatsApp) upload(w http.ResponseWriter, r *http.Request, parts []string) {
	if parts[0] != f.version() || parts[1] != f.PhoneNumberID {
		f.reject("path " + r.URL.Path)
		graphError(w, http.StatusBadRequest, 100, 33, "GraphMethodException", "Unsupported post request")
		return
	}
	if !bearer(r, f.Token) {
		f.reject("access token")
		graphError(w, http.StatusUnauthorized, 190, 0, "OAuthException", "Invalid OAuth access token")
		return
	}
	fields, files, ok := readMultipart(r)
	if !ok {
		f.reject("upload is not multipart/form-data")
		graphError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid parameter")
		return
	}
	file, hasFile := files["file"]
	limit := whatsAppUploadTypes[baseType(fields["type"])]
	bad := ""
	switch {
	case fields["messaging_product"] != "whatsapp":
		bad = "messaging_product"
	case !hasFile || len(file.Data) == 0:
		bad = "file"
	case limit == 0:
		bad = "type"
	case baseType(file.MIMEType) != baseType(fields["type"]):
		bad = "file content type"
	case len(file.Data) > limit:
		bad = "file size"
	}
	if bad != "" {
		f.reject("upload field " + bad)
		graphError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Param "+bad+" is invalid")
		return
	}
	id := strconvItoa(1_000_000_000_000 + int(randomUint16())*1000 + 1)
	f.mu.Lock()
	if f.uploads == nil {
		f.uploads = map[string]Upload{}
	}
	for f.uploads[id].Data != nil {
		id += "1"
	}
	f.uploads[id] = file
	f.nUp++
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (f *WhatsApp) mediaInfo(w http.ResponseWriter, r *http.Request, parts []string) {
	if !bearer(r, f.Token) {
		f.reject("access token")
		graphError(w, http.StatusUnauthorized, 190, 0, "OAuthException", "Invalid OAuth access token")
		return
	}
	f.mu.Lock()
	m, ok := f.media[parts[1]]
	f.mu.Unlock()
	if parts[0] != f.version() || !ok {
		graphError(w, http.StatusBadRequest, 100, 33, "GraphMethodException", "Unsupported get request")
		return
	}
	sum := sha256.Sum256(m.Data)
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"url":               "http://" + r.Host + "/_media/" + f.PhoneNumberID + "/" + parts[1],
		"mime_type":         m.MIMEType,
		"sha256":            hex.EncodeToString(sum[:]),
		"file_size":         len(m.Data),
		"id":                parts[1],
	})
}

func (f *WhatsApp) download(w http.ResponseWriter, r *http.Request, id string) {
	if !bearer(r, f.Token) {
		f.reject("media download without token")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	m, ok := f.media[id]
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", m.MIMEType)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.Data)))
	w.Write(m.Data)
}

// waEnvelope wraps a change value in the Cloud API's webhook envelope.
func waEnvelope(phoneNumberID string, value map[string]any) []byte {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]string{"display_phone_number": "15550000000", "phone_number_id": phoneNumberID}
	return mustJSON(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": "102290129340398", "changes": []any{
			map[string]any{"value": value, "field": "messages"},
		}}},
	})
}

// WhatsAppText returns a Cloud API webhook body with one text message.
func WhatsAppText(phoneNumberID, waID, name, wamid, text string, at time.Time) []byte {
	return waEnvelope(phoneNumberID, map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]string{"name": name}, "wa_id": waID}},
		"messages": []any{map[string]any{"from": waID, "id": wamid, "timestamp": strconv.FormatInt(at.Unix(), 10),
			"type": "text", "text": map[string]string{"body": text}}},
	})
}

// WhatsAppMedia returns a webhook body with one media message of typ
// (image, document, audio, video, sticker).
func WhatsAppMedia(phoneNumberID, waID, wamid, typ, mediaID, mimeType, fileName, caption string, at time.Time) []byte {
	md := map[string]string{"id": mediaID, "mime_type": mimeType, "sha256": randomHex(32)}
	if caption != "" {
		md["caption"] = caption
	}
	if fileName != "" {
		md["filename"] = fileName
	}
	return waEnvelope(phoneNumberID, map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]string{"name": "Kunde"}, "wa_id": waID}},
		"messages": []any{map[string]any{"from": waID, "id": wamid, "timestamp": strconv.FormatInt(at.Unix(), 10),
			"type": typ, typ: md}},
	})
}

// WhatsAppStatus returns a webhook body with one status (sent, delivered,
// read, failed); errorCode is reported for failed.
func WhatsAppStatus(phoneNumberID, wamid, recipient, status string, errorCode int, at time.Time) []byte {
	st := map[string]any{"id": wamid, "status": status, "timestamp": strconv.FormatInt(at.Unix(), 10),
		"recipient_id": recipient}
	if status != "failed" {
		st["conversation"] = map[string]any{"id": randomHex(16), "origin": map[string]string{"type": "service"}}
		st["pricing"] = map[string]any{"billable": true, "pricing_model": "CBP", "category": "service"}
	} else {
		st["errors"] = []any{map[string]any{"code": errorCode, "title": "Message undeliverable"}}
	}
	return waEnvelope(phoneNumberID, map[string]any{"statuses": []any{st}})
}

// PostWebhook signs payload with AppSecret as Meta does and POSTs it to
// hookURL; it returns the reply's status.
func (f *WhatsApp) PostWebhook(ctx context.Context, hookURL string, payload []byte) (int, error) {
	h := http.Header{}
	h.Set("X-Hub-Signature-256", MetaSign(f.AppSecret, payload))
	h.Set("User-Agent", "facebookexternalua")
	return Post(ctx, f.Client, hookURL, "application/json", payload, h)
}

// MessengerSend is a message the Messenger fake accepted.
type MessengerSend struct {
	// ID is the mid the fake answered with.
	ID string
	// To is the recipient's PSID.
	To string
	// MessagingType is RESPONSE, UPDATE or MESSAGE_TAG.
	MessagingType string
	// Text is the message text.
	Text string
	// AttachmentType is image or file for an attachment upload.
	AttachmentType string
	// File is the uploaded attachment (multipart field filedata).
	File *Upload
}

// Messenger fakes the Send API: POST /{version}/me/messages (or
// /{version}/{page-id}/messages) with the page token as Bearer or
// access_token parameter.
type Messenger struct {
	Outage
	log[MessengerSend]
	// Version is the Graph API version expected in paths; "v23.0" when empty.
	Version string
	// PageID is the page's id (also accepted in place of "me").
	PageID string
	// PageToken is the page access token expected.
	PageToken string
	// AppSecret signs webhooks posted with PostWebhook.
	AppSecret string
	// Client posts webhooks; nil means http.DefaultClient.
	Client *http.Client
}

// ServeHTTP implements http.Handler.
func (f *Messenger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.intercept(w) {
		return
	}
	v := f.Version
	if v == "" {
		v = "v23.0"
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if r.Method != http.MethodPost || len(parts) != 3 || parts[0] != v || (parts[1] != "me" && parts[1] != f.PageID) || parts[2] != "messages" {
		f.reject("endpoint " + r.Method + " " + r.URL.Path)
		graphError(w, http.StatusBadRequest, 100, 33, "GraphMethodException", "Unsupported request")
		return
	}
	if !bearer(r, f.PageToken) {
		f.reject("page token")
		graphError(w, http.StatusUnauthorized, 190, 0, "OAuthException", "Invalid OAuth access token")
		return
	}
	if fields, files, ok := readMultipart(r); ok {
		f.attachment(w, fields, files)
		return
	}
	if !isJSON(r) {
		f.reject("content type " + r.Header.Get("Content-Type"))
		graphError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid parameter")
		return
	}
	var b struct {
		Recipient *struct {
			ID string `json:"id"`
		} `json:"recipient"`
		MessagingType string `json:"messaging_type"`
		Message       *struct {
			Text string `json:"text"`
		} `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.Recipient == nil || b.Recipient.ID == "" {
		f.reject("recipient.id")
		graphError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) The parameter recipient is required")
		return
	}
	switch b.MessagingType {
	case "RESPONSE", "UPDATE", "MESSAGE_TAG":
	default:
		f.reject("messaging_type")
		graphError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Param messaging_type is invalid")
		return
	}
	if b.Message == nil || b.Message.Text == "" || utf8.RuneCountInString(b.Message.Text) > 2000 {
		f.reject("message.text")
		graphError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Length of param message[text] must be less than or equal to 2000")
		return
	}
	s := MessengerSend{ID: "m_" + randomHex(20), To: b.Recipient.ID, MessagingType: b.MessagingType, Text: b.Message.Text}
	f.add(s)
	writeJSON(w, http.StatusOK, map[string]string{"recipient_id": s.To, "message_id": s.ID})
}

// attachment is a Send API upload: multipart with recipient and
// message as JSON strings, messaging_type and the file as filedata;
// message.attachment.type is image, video, audio or file and the
// payload has is_reusable.
func (f *Messenger) attachment(w http.ResponseWriter, fields map[string]string, files map[string]Upload) {
	var rcp struct {
		ID string `json:"id"`
	}
	var msg struct {
		Text       *string `json:"text"`
		Attachment *struct {
			Type    string `json:"type"`
			Payload *struct {
				IsReusable *bool  `json:"is_reusable"`
				URL        string `json:"url"`
			} `json:"payload"`
		} `json:"attachment"`
	}
	file, hasFile := files["filedata"]
	bad := ""
	switch {
	case json.Unmarshal([]byte(fields["recipient"]), &rcp) != nil || rcp.ID == "":
		bad = "recipient"
	case fields["messaging_type"] != "RESPONSE" && fields["messaging_type"] != "UPDATE" && fields["messaging_type"] != "MESSAGE_TAG":
		bad = "messaging_type"
	case json.Unmarshal([]byte(fields["message"]), &msg) != nil || msg.Attachment == nil || msg.Attachment.Payload == nil:
		bad = "message.attachment"
	case msg.Text != nil:
		bad = "message.text with an attachment"
	case msg.Attachment.Type != "image" && msg.Attachment.Type != "file" && msg.Attachment.Type != "video" && msg.Attachment.Type != "audio":
		bad = "message.attachment.type"
	case msg.Attachment.Payload.IsReusable == nil || msg.Attachment.Payload.URL != "":
		bad = "message.attachment.payload"
	case !hasFile || len(file.Data) == 0 || file.MIMEType == "":
		bad = "filedata"
	case len(file.Data) > 25_000_000:
		bad = "filedata size"
	case msg.Attachment.Type == "image" && !strings.HasPrefix(baseType(file.MIMEType), "image/"):
		bad = "image type"
	}
	if bad != "" {
		f.reject("attachment " + bad)
		graphError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Param "+bad+" is invalid")
		return
	}
	s := MessengerSend{ID: "m_" + randomHex(20), To: rcp.ID, MessagingType: fields["messaging_type"],
		AttachmentType: msg.Attachment.Type, File: &file}
	f.add(s)
	writeJSON(w, http.StatusOK, map[string]string{"recipient_id": s.To, "message_id": s.ID, "attachment_id": "1" + randomHex(6)})
}

func fbEnvelope(pageID string, at time.Time, event map[string]any) []byte {
	return mustJSON(map[string]any{"object": "page", "entry": []any{
		map[string]any{"id": pageID, "time": at.UnixMilli(), "messaging": []any{event}},
	}})
}

// MessengerText returns a page webhook body with one text message from
// psid.
func MessengerText(pageID, psid, mid, text string, at time.Time) []byte {
	return fbEnvelope(pageID, at, map[string]any{
		"sender": map[string]string{"id": psid}, "recipient": map[string]string{"id": pageID},
		"timestamp": at.UnixMilli(), "message": map[string]any{"mid": mid, "text": text},
	})
}

// MessengerImage returns a page webhook body with one image attachment.
func MessengerImage(pageID, psid, mid, imageURL string, at time.Time) []byte {
	return fbEnvelope(pageID, at, map[string]any{
		"sender": map[string]string{"id": psid}, "recipient": map[string]string{"id": pageID},
		"timestamp": at.UnixMilli(), "message": map[string]any{"mid": mid,
			"attachments": []any{map[string]any{"type": "image", "payload": map[string]string{"url": imageURL}}}},
	})
}

// MessengerDelivery returns a message_deliveries webhook body: mids (may
// be empty) delivered up to watermark.
func MessengerDelivery(pageID, psid string, mids []string, watermark time.Time) []byte {
	d := map[string]any{"watermark": watermark.UnixMilli()}
	if len(mids) > 0 {
		d["mids"] = mids
	}
	return fbEnvelope(pageID, watermark, map[string]any{
		"sender": map[string]string{"id": psid}, "recipient": map[string]string{"id": pageID},
		"timestamp": watermark.UnixMilli(), "delivery": d,
	})
}

// MessengerRead returns a message_reads webhook body.
func MessengerRead(pageID, psid string, watermark time.Time) []byte {
	return fbEnvelope(pageID, watermark, map[string]any{
		"sender": map[string]string{"id": psid}, "recipient": map[string]string{"id": pageID},
		"timestamp": watermark.UnixMilli(), "read": map[string]any{"watermark": watermark.UnixMilli()},
	})
}

// PostWebhook signs payload with AppSecret and POSTs it to hookURL.
func (f *Messenger) PostWebhook(ctx context.Context, hookURL string, payload []byte) (int, error) {
	h := http.Header{}
	h.Set("X-Hub-Signature-256", MetaSign(f.AppSecret, payload))
	return Post(ctx, f.Client, hookURL, "application/json", payload, h)
}
