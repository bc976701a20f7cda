package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxSMSLen bounds an SMS job's text (Twilio accepts 1,600 characters;
// Parley's texts stay within 320, two concatenated GSM segments).
const MaxSMSLen = 1600

// SMSSender sends a text message.
type SMSSender interface {
	// SendSMS sends text to the E.164 number to. An error wrapping
	// outbox.ErrPermanent means it can never be delivered.
	SendSMS(ctx context.Context, to, text string) error
}

// ValidE164 reports whether s is an E.164 number: "+", a non-zero digit,
// then up to 14 more digits.
func ValidE164(s string) bool {
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

// TwilioBaseURL is Twilio's REST API root.
const TwilioBaseURL = "https://api.twilio.com"

// Twilio sends SMS through Twilio's Programmable Messaging API: POST
// {BaseURL}/2010-04-01/Accounts/{AccountSID}/Messages.json with the form
// fields To, From (or MessagingServiceSid) and Body, authenticated with
// HTTP Basic (AccountSID:AuthToken). A 201 reply is success; 429 and 5xx
// replies and network failures are temporary; other 4xx replies (invalid
// number, unsubscribed recipient, bad credentials) are permanent. Twilio's
// JSON error body ({"code", "message", "more_info", "status"}) is reduced
// to its numeric code: the message may quote the phone number.
type Twilio struct {
	// BaseURL is the API root; TwilioBaseURL when empty.
	BaseURL string
	// AccountSID is the account ("AC…"), also the Basic-auth user.
	AccountSID string
	// AuthToken is the account's auth token (Basic-auth password).
	AuthToken string
	// From is the sending number (E.164) or alphanumeric sender id; used
	// when MessagingServiceSID is empty.
	From string
	// MessagingServiceSID ("MG…") sends through a messaging service
	// instead of a fixed From.
	MessagingServiceSID string
	// Client makes the requests; nil means a client with a 30s timeout.
	Client *http.Client
	// Logger receives message SIDs and status codes; nil discards.
	Logger *slog.Logger
}

var _ SMSSender = (*Twilio)(nil)

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

// TwilioError is Twilio's error body; only Code and Status are ever put
// into an error message.
type TwilioError struct {
	// Code is Twilio's numeric error code (e.g. 21211 invalid To number).
	Code int `json:"code"`
	// Message is Twilio's explanation (may quote the number: not logged).
	Message string `json:"message"`
	// MoreInfo links to the code's documentation.
	MoreInfo string `json:"more_info"`
	// Status is the HTTP status.
	Status int `json:"status"`
}

// SendSMS sends text to the E.164 number to.
func (t *Twilio) SendSMS(ctx context.Context, to, text string) error {
	if t.AccountSID == "" || t.AuthToken == "" || (t.From == "" && t.MessagingServiceSID == "") {
		return &deliveryError{msg: "notify: twilio: account, token and sender must be configured", permanent: true}
	}
	if !ValidE164(to) {
		return fmt.Errorf("%w: phone number is not E.164", ErrInvalid)
	}
	if text == "" || utf8.RuneCountInString(text) > MaxSMSLen || !utf8.ValidString(text) {
		return fmt.Errorf("%w: SMS text empty, invalid or too long", ErrInvalid)
	}
	base := strings.TrimRight(t.BaseURL, "/")
	if base == "" {
		base = TwilioBaseURL
	}
	form := url.Values{}
	form.Set("To", to)
	if t.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", t.MessagingServiceSID)
	} else {
		form.Set("From", t.From)
	}
	form.Set("Body", text)
	endpoint := base + "/2010-04-01/Accounts/" + url.PathEscape(t.AccountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return &deliveryError{msg: "notify: twilio: bad base URL", permanent: true, cause: err}
	}
	req.SetBasicAuth(t.AccountSID, t.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	hc := t.Client
	if hc == nil {
		hc = defaultHTTP
	}
	log := t.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return &deliveryError{msg: "notify: twilio: " + ctx.Err().Error(), cause: ctx.Err()}
		}
		// url.Error's text holds the endpoint (account SID, no personal data).
		return &deliveryError{msg: "notify: twilio: request failed", cause: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
		var ok struct {
			SID    string `json:"sid"`
			Status string `json:"status"`
		}
		_ = json.Unmarshal(body, &ok)
		log.Debug("notify: SMS accepted", "sid", ok.SID, "status", ok.Status)
		return nil
	}
	var te TwilioError
	_ = json.Unmarshal(body, &te)
	msg := fmt.Sprintf("notify: twilio: HTTP %d", resp.StatusCode)
	if te.Code != 0 {
		msg += fmt.Sprintf(", error %d", te.Code)
	}
	temporary := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	log.Warn("notify: SMS not sent", "http_status", resp.StatusCode, "twilio_code", te.Code, "temporary", temporary)
	if temporary {
		return &deliveryError{msg: msg + " (temporary)", cause: &te}
	}
	return &deliveryError{msg: msg + " (permanent)", permanent: true, cause: &te}
}

// Error implements error with the code and status only.
func (e *TwilioError) Error() string {
	return fmt.Sprintf("twilio error %d (HTTP %d)", e.Code, e.Status)
}
