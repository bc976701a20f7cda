package link

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"parley/relay/signal/msg"
)

// SignalConn is a signalling connection to the relay (docs/signalling.md):
// one long POST /api/v1/signal whose request body carries the app's
// messages and whose response body carries the relay's, one JSON object
// per line. It runs over the session's current transport: HTTP/3 on the
// QUIC connection, or HTTP/2 over TCP.
type SignalConn struct {
	transport Transport
	pw        *io.PipeWriter
	body      io.ReadCloser
	cancel    context.CancelFunc

	wmu sync.Mutex

	lines  chan []byte
	rerr   error // set before lines is closed
	closed chan struct{}

	closeOnce sync.Once
}

// ErrSignalClosed is returned by SignalConn's methods after Close.
var ErrSignalClosed = errors.New("link: signalling connection closed")

// Signal opens a signalling connection for the logged-in user. It returns
// once the relay has accepted the request; the caller then sends hello.
// The connection lives until Close, until the relay ends it, or until the
// client is closed — not until ctx ends, which bounds only the opening.
func (c *Client) Signal(ctx context.Context) (*SignalConn, error) {
	const path = "/api/v1/signal"
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
	life, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(s.ctx, cancel)
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(life, http.MethodPost, s.base.origin+path, pr)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("link: signal: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/x-ndjson")
	req.Header.Set("User-Agent", "parley-desktop")
	req.Header.Set("Authorization", "Bearer "+tok)

	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := hc.Do(req)
		done <- result{resp, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		cancel()
		stop()
		_ = pw.Close()
		return nil, fmt.Errorf("link: signal over %s: %w", t, ctx.Err())
	}
	if res.err != nil {
		cancel()
		stop()
		_ = pw.Close()
		err := res.err
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		s.afterRequest(ctx, t, &transportError{err})
		return nil, fmt.Errorf("link: signal over %s: %w", t, &transportError{err})
	}
	if res.resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(res.resp.Body, maxResponseBody))
		res.resp.Body.Close()
		cancel()
		stop()
		_ = pw.Close()
		apiErr := parseAPIError(res.resp.StatusCode, res.resp.Header, raw, time.Now())
		if hasCode(apiErr, CodeUnauthenticated) {
			c.dropToken(tok)
		}
		return nil, fmt.Errorf("link: signal: %w", apiErr)
	}
	sc := &SignalConn{transport: t, pw: pw, body: res.resp.Body, lines: make(chan []byte, 16), closed: make(chan struct{})}
	sc.cancel = func() {
		cancel()
		stop()
	}
	go sc.readLines()
	return sc, nil
}

// Transport is the transport the connection runs over.
func (sc *SignalConn) Transport() Transport { return sc.transport }

func (sc *SignalConn) readLines() {
	defer close(sc.lines)
	br := bufio.NewReaderSize(sc.body, 4096)
	for {
		line, err := readSignalLine(br, MaxSignalMessageBytes)
		if err != nil {
			sc.rerr = err
			return
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		select {
		case sc.lines <- line:
		case <-sc.closed:
			sc.rerr = ErrSignalClosed
			return
		}
	}
}

// MaxSignalMessageBytes bounds one message from the relay. Most are small
// (msg.MaxMessageBytes bounds what clients send), but a whiteboard
// board_state carries the whole board: up to the relay's MaxBoardBytes
// (whiteboard.DefaultMaxBoardBytes, 16 MiB) of objects plus the fields
// the relay adds to each, and an undo's "show" can carry as much. The
// limit leaves room for a relay configured with a larger board while
// still stopping a runaway line.
const MaxSignalMessageBytes = 64 << 20

// errSignalLine is returned for a line from the relay over the limit.
var errSignalLine = errors.New("link: signalling message too long")

func readSignalLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > max+1 {
			return nil, errSignalLine
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			return bytes.TrimSuffix(line, []byte("\n")), nil
		case errors.Is(err, io.EOF) && len(line) > max:
			return nil, errSignalLine
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, nil
		default:
			return nil, err
		}
	}
}

// Send writes one message to the relay.
func (sc *SignalConn) Send(ctx context.Context, m msg.Message) error {
	b, err := msg.Encode(m)
	if err != nil {
		return fmt.Errorf("link: signal: encode %s: %w", m.Type, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if _, err := sc.pw.Write(append(b, '\n')); err != nil {
		if errors.Is(err, io.ErrClosedPipe) {
			return ErrSignalClosed
		}
		return fmt.Errorf("link: signal: send %s: %w", m.Type, err)
	}
	return nil
}

// Recv returns the relay's next message. It fails with io.EOF-wrapping or
// transport errors when the connection ends.
func (sc *SignalConn) Recv(ctx context.Context) (msg.Message, error) {
	select {
	case <-ctx.Done():
		return msg.Message{}, ctx.Err()
	case b, ok := <-sc.lines:
		if !ok {
			if sc.rerr == nil || errors.Is(sc.rerr, io.EOF) {
				return msg.Message{}, fmt.Errorf("link: signal: relay ended the connection: %w", io.EOF)
			}
			return msg.Message{}, fmt.Errorf("link: signal: %w", &transportError{sc.rerr})
		}
		var m msg.Message
		if err := json.Unmarshal(b, &m); err != nil {
			return msg.Message{}, fmt.Errorf("%w: signalling message: %v", ErrBadResponse, err)
		}
		return m, nil
	}
}

// Close ends the connection. It is safe to call more than once.
func (sc *SignalConn) Close() error {
	sc.closeOnce.Do(func() {
		close(sc.closed)
		_ = sc.pw.Close()
		sc.cancel()
		_ = sc.body.Close()
	})
	return nil
}
