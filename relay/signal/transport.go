package signal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"parley/relay/auth"
	"parley/relay/signal/msg"
)

// ServeWebSocket upgrades a browser's request to a WebSocket and serves
// it. The client authenticates in its hello. Cross-origin upgrades are
// refused (the Origin must match the Host).
func (h *Hub) ServeWebSocket(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		h.log.Debug("websocket upgrade refused", "err", err)
		return
	}
	ws.SetReadLimit(msg.MaxMessageBytes)
	conn := &wsConn{ws: ws}
	// The request's context ends when the handler returns; the hub's
	// own lifetime is the connection's.
	if err := h.Serve(context.WithoutCancel(r.Context()), conn, nil); err != nil {
		h.log.Debug("signalling ended", "err", err)
	}
}

type wsConn struct {
	ws   *websocket.Conn
	once sync.Once
}

func (c *wsConn) Read(ctx context.Context) ([]byte, error) {
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, errors.New("signal: binary frame")
	}
	return b, nil
}

func (c *wsConn) Write(ctx context.Context, b []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *wsConn) Close() error {
	var err error
	c.once.Do(func() { err = c.ws.Close(websocket.StatusNormalClosure, "") })
	return err
}

// StreamContentType is the media type of the stream framing.
const StreamContentType = "application/x-ndjson"

// ServeStream serves the stream framing: the request body carries the
// client's messages, one JSON object per line, and the response body the
// relay's, for as long as the request lasts. sess is the session the API
// authenticated from the Authorization header.
func (h *Hub) ServeStream(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // needed for HTTP/1.1 only
	w.Header().Set("Content-Type", StreamContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		h.log.Debug("stream flush", "err", err)
		return
	}
	conn := newStreamConn(r.Body, w, rc)
	defer conn.stop()
	if err := h.Serve(r.Context(), conn, &sess); err != nil {
		h.log.Debug("signalling ended", "err", err)
	}
}

type streamConn struct {
	w  io.Writer
	rc *http.ResponseController

	lines chan []byte
	rerr  error // set before lines is closed
	done  chan struct{}
	body  io.ReadCloser

	wmu    sync.Mutex
	closed bool
}

func newStreamConn(body io.ReadCloser, w io.Writer, rc *http.ResponseController) *streamConn {
	c := &streamConn{w: w, rc: rc, lines: make(chan []byte), done: make(chan struct{}), body: body}
	go c.readLines()
	return c
}

// readLines splits the request body into messages.
func (c *streamConn) readLines() {
	defer close(c.lines)
	br := bufio.NewReaderSize(c.body, 4096)
	for {
		line, err := readLine(br, msg.MaxMessageBytes)
		if err != nil {
			c.rerr = err
			return
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		select {
		case c.lines <- line:
		case <-c.done:
			c.rerr = io.EOF
			return
		}
	}
}

// errLineTooLong is returned for a line over the message size limit.
var errLineTooLong = errors.New("signal: message line too long")

// readLine reads one line of at most max bytes without the newline.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > max+1 {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			return bytes.TrimSuffix(line, []byte("\n")), nil
		case errors.Is(err, io.EOF) && len(line) > max:
			return nil, errLineTooLong
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, nil
		default:
			return nil, err
		}
	}
}

func (c *streamConn) Read(ctx context.Context) ([]byte, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case b, ok := <-c.lines:
		if !ok {
			return nil, fmt.Errorf("signal: stream: %w", c.rerr)
		}
		return b, nil
	}
}

func (c *streamConn) Write(ctx context.Context, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return errStreamClosed
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.rc.SetWriteDeadline(dl)
	}
	if _, err := c.w.Write(append(b, '\n')); err != nil {
		return err
	}
	return c.rc.Flush()
}

// errStreamClosed is returned by writes after Close.
var errStreamClosed = errors.New("signal: stream closed")

// Close stops writes; the handler's return ends the response.
func (c *streamConn) Close() error {
	// Unblock a write stuck on flow control, then wait for it.
	_ = c.rc.SetWriteDeadline(time.Now())
	c.wmu.Lock()
	c.closed = true
	c.wmu.Unlock()
	return nil
}

// stop ends the line reader.
func (c *streamConn) stop() {
	_ = c.Close()
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	_ = c.body.Close()
}
