// Package fake provides local stand-ins for the messenger providers that
// relay/channels speaks to: WhatsApp Cloud API, Telegram Bot API,
// Messenger Send API and Twilio's Messages API. Each fake is an
// http.Handler to serve on loopback (httptest.NewServer) that checks sends
// against the provider's documented wire format (path, authentication,
// content type, required fields), answers with the provider's documented
// success or error bodies, records what it accepted, serves media
// downloads, and can be switched into an outage for the next N requests.
// Helpers build inbound webhook payloads in the providers' documented
// shapes and sign and POST them the way the provider would.
//
// The fakes compute signatures with their own code (not relay/channels'),
// so that a test compares two independent implementations of each scheme.
// They hold no real credentials and never contact the real services.
package fake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// FailMode is how a fake fails during an outage.
type FailMode int

const (
	// Unavailable answers 503 Service Unavailable.
	Unavailable FailMode = iota
	// Disconnect closes the connection without answering.
	Disconnect
)

// Outage makes a fake fail its next requests; its zero value fails none.
// It is safe for concurrent use.
type Outage struct {
	mu     sync.Mutex
	n      int
	mode   FailMode
	failed int
}

// Fail makes the next n requests fail in mode.
func (o *Outage) Fail(n int, mode FailMode) {
	o.mu.Lock()
	o.n, o.mode = n, mode
	o.mu.Unlock()
}

// Failed returns how many requests the outage has failed so far.
func (o *Outage) Failed() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failed
}

// intercept fails the request if an outage is on and reports whether it did.
func (o *Outage) intercept(w http.ResponseWriter) bool {
	o.mu.Lock()
	if o.n <= 0 {
		o.mu.Unlock()
		return false
	}
	o.n--
	o.failed++
	mode := o.mode
	o.mu.Unlock()
	if mode == Disconnect {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream
	}
	w.Header().Set("Retry-After", "1")
	http.Error(w, "service unavailable", http.StatusServiceUnavailable)
	return true
}

// log records accepted sends and refusals; embedded by every fake.
type log[T any] struct {
	mu       sync.Mutex
	sent     []T
	rejected []string
}

func (l *log[T]) add(v T) {
	l.mu.Lock()
	l.sent = append(l.sent, v)
	l.mu.Unlock()
}

func (l *log[T]) reject(why string) {
	l.mu.Lock()
	l.rejected = append(l.rejected, why)
	l.mu.Unlock()
}

// Sent returns the sends accepted so far, in order.
func (l *log[T]) Sent() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.sent...)
}

// Rejected returns why requests were refused as malformed or
// unauthenticated, in order; a correct client causes none.
func (l *log[T]) Rejected() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.rejected...)
}

// Media is a file a fake serves for download.
type Media struct {
	// Data is the file's content.
	Data []byte
	// MIMEType is its media type.
	MIMEType string
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fake: %v", err))
	}
	return b
}

// Post sends body to url with the given content type and headers using
// client (http.DefaultClient when nil) and returns the reply's status.
func Post(ctx context.Context, client *http.Client, url, contentType string, body []byte, header http.Header) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("fake: webhook request: %w", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", contentType)
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fake: webhook post: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func randomUint16() uint16 {
	b := make([]byte, 2)
	rand.Read(b)
	return uint16(b[0])<<8 | uint16(b[1])
}

func strconvItoa(n int) string { return fmt.Sprint(n) }
