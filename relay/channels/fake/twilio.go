package fake

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// TwilioSign returns X-Twilio-Signature for a form POST to publicURL:
// base64(HMAC-SHA1(auth token, URL + each parameter's name and value,
// sorted by name)).
func TwilioSign(authToken, publicURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(publicURL)
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := append([]string(nil), form[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(k + v)
		}
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TwilioSend is a message the Twilio fake accepted.
type TwilioSend struct {
	// SID is the message sid the fake answered with.
	SID string
	// To is the recipient.
	To string
	// From is the sender number (empty with a messaging service).
	From string
	// MessagingServiceSID is the messaging service, if used.
	MessagingServiceSID string
	// Body is the text.
	Body string
	// StatusCallback is the status callback URL, if given.
	StatusCallback string
	// MediaURLs are the MediaUrl parameters, in order.
	MediaURLs []string
	// Media are the files fetched from the MediaUrls, in order, as
	// Twilio fetches them when it creates an MMS.
	Media []Upload
}

// Twilio fakes Twilio's Messages API (POST
// /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded, HTTP
// Basic auth) and media downloads under the account.
type Twilio struct {
	Outage
	log[TwilioSend]
	// AccountSID is the account expected in paths and as Basic-auth user.
	AccountSID string
	// AuthToken is the Basic-auth password and the webhook signing key.
	AuthToken string
	// Client posts webhooks; nil means http.DefaultClient.
	Client *http.Client

	mu      sync.Mutex
	media   map[string]Media
	fetched int
}

func twilioError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code), "status": status})
}

func e164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// AddMedia makes a media file of an inbound MMS downloadable and returns
// its MediaUrl on base (the fake server's URL).
func (f *Twilio) AddMedia(base string, m Media) string {
	path := "/2010-04-01/Accounts/" + f.AccountSID + "/Messages/MM" + randomHex(16) + "/Media/ME" + randomHex(16)
	f.mu.Lock()
	if f.media == nil {
		f.media = map[string]Media{}
	}
	f.media[path] = m
	f.mu.Unlock()
	return strings.TrimRight(base, "/") + path
}

// ServeHTTP implements http.Handler.
func (f *Twilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.intercept(w) {
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || f.AccountSID == "" || user != f.AccountSID || !hmac.Equal([]byte(pass), []byte(f.AuthToken)) {
		f.reject("basic auth")
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	root := "/2010-04-01/Accounts/" + f.AccountSID + "/"
	switch {
	case r.Method == http.MethodPost && r.URL.Path == root+"Messages.json":
		f.create(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, root+"Messages/"):
		f.mu.Lock()
		m, ok := f.media[r.URL.Path]
		f.mu.Unlock()
		if !ok {
			twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
			return
		}
		w.Header().Set("Content-Type", m.MIMEType)
		w.Header().Set("Content-Length", strconv.Itoa(len(m.Data)))
		w.Write(m.Data)
	default:
		f.reject("endpoint " + r.Method + " " + r.URL.Path)
		twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
	}
}

func (f *Twilio) create(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		f.reject("content type " + r.Header.Get("Content-Type"))
		twilioError(w, http.StatusBadRequest, 20001, "Unsupported content type")
		return
	}
	form := r.PostForm
	s := TwilioSend{To: form.Get("To"), From: form.Get("From"), MessagingServiceSID: form.Get("MessagingServiceSid"),
		Body: form.Get("Body"), StatusCallback: form.Get("StatusCallback")}
	switch {
	case s.To == "":
		f.reject("To")
		twilioError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case !e164(s.To):
		f.reject("To format")
		twilioError(w, http.StatusBadRequest, 21211, "The 'To' number is not a valid phone number.")
		return
	case s.From == "" && s.MessagingServiceSID == "":
		f.reject("From")
		twilioError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case s.Body == "" && form.Get("MediaUrl") == "":
		f.reject("Body")
		twilioError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case utf8.RuneCountInString(s.Body) > 1600:
		f.reject("Body length")
		twilioError(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	case len(form["MediaUrl"]) > 10:
		f.reject("MediaUrl count")
		twilioError(w, http.StatusBadRequest, 21623, "Number of media files exceeds allowed limit.")
		return
	}
	total := 0
	for _, u := range form["MediaUrl"] {
		up, ok := f.fetch(r.Context(), u)
		if !ok {
			f.reject("MediaUrl not fetchable")
			twilioError(w, http.StatusBadRequest, 21620, "Invalid media URL(s).")
			return
		}
		total += len(up.Data)
		s.Media = append(s.Media, up)
		s.MediaURLs = append(s.MediaURLs, u)
	}
	if total > 5_000_000 {
		f.reject("media size")
		twilioError(w, http.StatusBadRequest, 21620, "Total media size exceeds 5 MB.")
		return
	}
	s.SID = "SM" + randomHex(16)
	if len(s.Media) > 0 {
		s.SID = "MM" + randomHex(16)
	}
	f.add(s)
	now := time.Now().UTC().Format(time.RFC1123Z)
	writeJSON(w, http.StatusCreated, map[string]any{
		"account_sid": f.AccountSID, "api_version": "2010-04-01", "body": s.Body, "date_created": now,
		"date_updated": now, "direction": "outbound-api", "from": s.From, "messaging_service_sid": nilIfEmpty(s.MessagingServiceSID),
		"num_media": strconv.Itoa(len(s.Media)), "num_segments": "1", "sid": s.SID, "status": "queued", "to": s.To,
		"uri": "/2010-04-01/Accounts/" + f.AccountSID + "/Messages/" + s.SID + ".json",
	})
}

// fetch GETs a MediaUrl as Twilio does (HTTPS or loopback test URLs,
// no credentials) with Client; a non-200 reply or an unsupported media
// type makes it unfetchable.
func (f *Twilio) fetch(ctx context.Context, raw string) (Upload, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return Upload{}, false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return Upload{}, false
	}
	c := f.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return Upload{}, false
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 5_000_001))
	if err != nil || resp.StatusCode != http.StatusOK {
		return Upload{}, false
	}
	switch baseType(resp.Header.Get("Content-Type")) {
	case "image/jpeg", "image/png", "image/gif":
	default:
		return Upload{}, false
	}
	f.mu.Lock()
	f.fetched++
	f.mu.Unlock()
	return Upload{Field: "MediaUrl", MIMEType: resp.Header.Get("Content-Type"), Data: data}, true
}

// Fetched returns how many media URLs the fake has fetched.
func (f *Twilio) Fetched() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetched
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// TwilioInbound returns the form Twilio posts for an incoming SMS/MMS;
// mediaURLs and mimeTypes pair up.
func TwilioInbound(accountSID, messageSID, from, to, body string, mediaURLs, mimeTypes []string) url.Values {
	v := url.Values{
		"ToCountry": {"DE"}, "ToState": {""}, "SmsMessageSid": {messageSID}, "NumMedia": {strconv.Itoa(len(mediaURLs))},
		"ToCity": {""}, "FromZip": {""}, "SmsSid": {messageSID}, "FromState": {""}, "SmsStatus": {"received"},
		"FromCity": {""}, "Body": {body}, "FromCountry": {"DE"}, "To": {to}, "ToZip": {""}, "NumSegments": {"1"},
		"MessageSid": {messageSID}, "AccountSid": {accountSID}, "From": {from}, "ApiVersion": {"2010-04-01"},
	}
	for i, u := range mediaURLs {
		v.Set("MediaUrl"+strconv.Itoa(i), u)
		if i < len(mimeTypes) {
			v.Set("MediaContentType"+strconv.Itoa(i), mimeTypes[i])
		}
	}
	return v
}

// TwilioStatus returns the form of a status callback for an outbound
// message (status: queued, sent, delivered, undelivered, failed, …).
func TwilioStatus(accountSID, messageSID, from, to, status, errorCode string) url.Values {
	v := url.Values{"SmsSid": {messageSID}, "SmsStatus": {status}, "MessageStatus": {status}, "To": {to},
		"MessageSid": {messageSID}, "AccountSid": {accountSID}, "From": {from}, "ApiVersion": {"2010-04-01"}}
	if errorCode != "" {
		v.Set("ErrorCode", errorCode)
	}
	return v
}

// PostWebhook signs form for publicURL (the URL configured at Twilio)
// with AuthToken and POSTs it to postURL (where the relay listens in the
// test); it returns the reply's status.
func (f *Twilio) PostWebhook(ctx context.Context, publicURL, postURL string, form url.Values) (int, error) {
	h := http.Header{}
	h.Set("X-Twilio-Signature", TwilioSign(f.AuthToken, publicURL, form))
	h.Set("I-Twilio-Idempotency-Token", randomHex(16))
	return Post(ctx, f.Client, postURL, "application/x-www-form-urlencoded; charset=utf-8", []byte(form.Encode()), h)
}
