package channels

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxReply bounds how much of a provider's API reply is read.
const maxReply = 64 << 10

// DefaultMaxMedia caps a media download when a sender's MaxMedia is zero
// (WhatsApp allows documents up to 100 MB; Telegram bots download 20 MB).
const DefaultMaxMedia = 100 << 20

var defaultClient = &http.Client{Timeout: 30 * time.Second}

func clientOr(c *http.Client) *http.Client {
	if c == nil {
		return defaultClient
	}
	return c
}

// transportError wraps a failed round trip as transient without the
// request URL (Telegram's URLs hold the bot token).
func transportError(ch Channel, ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("channels: %s: %w: %w", ch, ErrTransient, ctx.Err())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("channels: %s: request failed: %w: %w", ch, ErrTransient, err)
}

// reply is a provider's answer: status, headers and (capped) body.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// call sends req and reads the reply.
func call(ctx context.Context, hc *http.Client, ch Channel, req *http.Request) (reply, error) {
	resp, err := clientOr(hc).Do(req)
	if err != nil {
		return reply{}, transportError(ch, ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return reply{}, transportError(ch, ctx, err)
	}
	return reply{resp.StatusCode, resp.Header, body}, nil
}

func newJSONRequest(ctx context.Context, ch Channel, endpoint string, v any) (*http.Request, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("channels: %s: encode request: %w", ch, ErrInvalid)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("channels: %s: bad base URL: %w", ch, ErrPermanent)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// retryAfter reads a Retry-After header or field in seconds.
func retryAfter(s string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 || n > 86400 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// graphError is the Graph API's error body (WhatsApp Cloud API and
// Messenger Send API).
type graphError struct {
	Error struct {
		Message     string `json:"message"`
		Type        string `json:"type"`
		Code        int    `json:"code"`
		Subcode     int    `json:"error_subcode"`
		IsTransient bool   `json:"is_transient"`
		FBTraceID   string `json:"fbtrace_id"`
	} `json:"error"`
}

// graphTransient lists Graph API and WhatsApp codes that mean "try again
// later": API unknown/service errors, rate limits, WhatsApp's throughput,
// spam-rate and pair-rate limits and its temporary unavailability.
var graphTransient = map[int]bool{
	1: true, 2: true, 4: true, 17: true, 32: true, 341: true, 613: true,
	80007: true, 130429: true, 131000: true, 131016: true, 131048: true,
	131056: true, 133004: true,
}

func graphFailure(ch Channel, r reply) *ProviderError {
	status, body, hdr := r.status, r.body, r.header
	var g graphError
	_ = json.Unmarshal(body, &g)
	e := &ProviderError{Channel: ch, HTTPStatus: status, Code: g.Error.Code, Subcode: g.Error.Subcode,
		Type: g.Error.Type, Description: g.Error.Message, RetryAfter: retryAfter(hdr.Get("Retry-After"))}
	transient := status == http.StatusTooManyRequests || status >= 500 || g.Error.IsTransient ||
		graphTransient[g.Error.Code] || graphTransient[g.Error.Subcode]
	e.Permanent = !transient
	return e
}

// MediaInfo describes a downloaded file.
type MediaInfo struct {
	// MIMEType is the type the provider declared for the file.
	MIMEType string
	// Size is the number of bytes written.
	Size int64
}

// fetch GETs req and copies at most max bytes of a 200 reply to w.
func fetch(ctx context.Context, hc *http.Client, ch Channel, req *http.Request, max int64, w io.Writer) (MediaInfo, error) {
	if max <= 0 {
		max = DefaultMaxMedia
	}
	resp, err := clientOr(hc).Do(req)
	if err != nil {
		return MediaInfo{}, transportError(ch, ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		transient := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		return MediaInfo{}, &ProviderError{Channel: ch, HTTPStatus: resp.StatusCode, Permanent: !transient,
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	}
	if resp.ContentLength > max {
		return MediaInfo{}, fmt.Errorf("channels: %s: %d bytes over the %d-byte cap: %w", ch, resp.ContentLength, max, ErrTooLarge)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, max+1))
	if err != nil {
		return MediaInfo{}, transportError(ch, ctx, err)
	}
	if n > max {
		return MediaInfo{}, fmt.Errorf("channels: %s: media over the %d-byte cap: %w", ch, max, ErrTooLarge)
	}
	return MediaInfo{MIMEType: resp.Header.Get("Content-Type"), Size: n}, nil
}

func trimBase(base, def string) string {
	base = strings.TrimRight(base, "/")
	if base == "" {
		return def
	}
	return base
}

// sameOrigin reports whether u has the scheme and host of base.
func sameOrigin(u *url.URL, base string) bool {
	b, err := url.Parse(base)
	return err == nil && u.Scheme == b.Scheme && strings.EqualFold(u.Host, b.Host)
}
