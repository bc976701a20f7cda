package link

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"parley/relay/signal/msg"
)

// progressReader reports how much of a body has been read.
type progressReader struct {
	r        io.Reader
	n, total int64
	report   func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.report != nil && n > 0 {
		p.report(p.n, p.total)
	}
	return n, err
}

// raw sends one request with a streamed body over the session's current
// transport and returns the response for the caller to read; non-2xx
// answers become *APIError.
func (c *Client) raw(ctx context.Context, method, path string, body io.Reader, size int64) (*http.Response, error) {
	c.mu.Lock()
	s, tok, closed := c.sess, c.token, c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case s == nil:
		return nil, ErrNotConnected
	case tok == "":
		return nil, ErrNotLoggedIn
	}
	t := s.current()
	hc := s.tcpClient
	if t == TransportQUIC {
		hc = s.h3Client
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base.origin+path, body)
	if err != nil {
		return nil, fmt.Errorf("link: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	req.Header.Set("User-Agent", "parley-desktop")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		s.afterRequest(ctx, t, &transportError{err})
		return nil, fmt.Errorf("link: %s %s over %s: %w", method, path, t, &transportError{err})
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
		resp.Body.Close()
		apiErr := parseAPIError(resp.StatusCode, resp.Header, raw, time.Now())
		if hasCode(apiErr, CodeUnauthenticated) {
			c.dropToken(tok)
		}
		return nil, fmt.Errorf("link: %s %s: %w", method, path, apiErr)
	}
	return resp, nil
}

// UploadMeetingFile shares a file in the meeting: the relay checks its
// type and size, stores it and announces it to every participant. size is
// the file's length (-1 if unknown); progress, if not nil, is called as
// bytes go out.
func (c *Client) UploadMeetingFile(ctx context.Context, meetingID, name string, r io.Reader, size int64, progress func(sent, total int64)) (msg.Entry, error) {
	path := "/api/v1/meetings/" + url.PathEscape(meetingID) + "/files?name=" + url.QueryEscape(name)
	resp, err := c.raw(ctx, http.MethodPost, path, &progressReader{r: r, total: size, report: progress}, size)
	if err != nil {
		return msg.Entry{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return msg.Entry{}, fmt.Errorf("link: upload: %w", &transportError{err})
	}
	var out struct {
		Entry msg.Entry `json:"entry"`
	}
	if err := decodeJSON(raw, &out); err != nil || out.Entry.ID == "" {
		return msg.Entry{}, fmt.Errorf("%w: upload answer: %v", ErrBadResponse, err)
	}
	return out.Entry, nil
}

// DownloadMeetingFile writes a file of the meeting to w; progress, if not
// nil, is called as bytes arrive (total -1 when the relay sent no length).
func (c *Client) DownloadMeetingFile(ctx context.Context, meetingID, fileID string, w io.Writer, progress func(got, total int64)) (int64, error) {
	path := "/api/v1/meetings/" + url.PathEscape(meetingID) + "/files/" + url.PathEscape(fileID)
	resp, err := c.raw(ctx, http.MethodGet, path, nil, 0)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, &progressReader{r: resp.Body, total: resp.ContentLength, report: progress})
	if err != nil {
		return n, fmt.Errorf("link: download: %w", &transportError{err})
	}
	return n, nil
}
