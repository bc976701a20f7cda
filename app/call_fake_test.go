package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"strings"
	"sync"
)

// fakeStarter is a CallStarter for tests: JoinCall hands out call (a new
// fakeCall when nil) or fails with err.
type fakeStarter struct {
	mu    sync.Mutex
	call  *fakeCall
	err   error
	joins []string
}

func (s *fakeStarter) JoinCall(ctx context.Context, meetingID string) (Call, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.joins = append(s.joins, meetingID)
	if s.err != nil {
		return nil, s.err
	}
	if s.call == nil {
		s.call = newFakeCall()
	}
	return s.call, nil
}

// fakeCall is a Call whose events the test emits, recording every call.
type fakeCall struct {
	events chan CallEvent
	local  *fakeVideo

	mu       sync.Mutex
	calls    []string
	setErr   error             // returned by SetMuted, SetCamera and SetScreenShare
	chatErr  error             // returned by SendChat
	fileGate chan struct{}     // if non-nil, SendFile waits for it after half the file
	files    map[string][]byte // SaveFile's files by entry id
	closed   bool
}

func newFakeCall() *fakeCall {
	return &fakeCall{events: make(chan CallEvent, 100), local: newFakeVideo(color.NRGBA{R: 0x60, G: 0x80, B: 0xa0, A: 0xff})}
}

func (c *fakeCall) record(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, fmt.Sprintf(format, args...))
}

// Calls returns the recorded calls, e.g. "SetMuted true".
func (c *fakeCall) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// called counts the recorded calls that start with prefix.
func (c *fakeCall) called(prefix string) int {
	n := 0
	for _, s := range c.Calls() {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// emit sends events to the view unless the call was left.
func (c *fakeCall) emit(evs ...CallEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	for _, ev := range evs {
		c.events <- ev
	}
}

// end closes the event channel as a call does after it ended.
func (c *fakeCall) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.events)
	}
}

func (c *fakeCall) Events() <-chan CallEvent { return c.events }

func (c *fakeCall) set(what string, on bool) error {
	c.record("%s %v", what, on)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setErr
}

func (c *fakeCall) SetMuted(muted bool) error { return c.set("SetMuted", muted) }
func (c *fakeCall) SetCamera(on bool) error   { return c.set("SetCamera", on) }

// SetRecording makes the fake a CallRecorder.
func (c *fakeCall) SetRecording(_ context.Context, on bool) error { return c.set("SetRecording", on) }
func (c *fakeCall) SetScreenShare(on bool) error                  { return c.set("SetScreenShare", on) }

func (c *fakeCall) SendChat(ctx context.Context, text string) error {
	c.record("SendChat %s", text)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.chatErr
}

func (c *fakeCall) SendFile(ctx context.Context, name string, r io.Reader, progress func(sent, total int64)) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	total := int64(len(b))
	progress(total/2, total)
	c.mu.Lock()
	gate := c.fileGate
	c.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	progress(total, total)
	c.record("SendFile %s %d", name, total)
	return nil
}

func (c *fakeCall) SaveFile(ctx context.Context, entryID string, w io.Writer, progress func(got, total int64)) error {
	c.mu.Lock()
	content, ok := c.files[entryID]
	c.mu.Unlock()
	if !ok {
		return errors.New("no such file")
	}
	progress(int64(len(content))/2, int64(len(content)))
	if _, err := w.Write(content); err != nil {
		return err
	}
	progress(int64(len(content)), int64(len(content)))
	c.record("SaveFile %s", entryID)
	return nil
}

func (c *fakeCall) LocalVideo() VideoSource { return c.local }

func (c *fakeCall) Leave() error {
	c.record("Leave")
	c.end()
	return nil
}

var _ Call = (*fakeCall)(nil)

// fakeVideo is a VideoSource whose frames the test produces.
type fakeVideo struct {
	base color.NRGBA

	mu  sync.Mutex
	img image.Image
	n   uint64
}

func newFakeVideo(base color.NRGBA) *fakeVideo { return &fakeVideo{base: base} }

// frame produces the next frame: a small picture whose shade changes.
func (v *fakeVideo) frame() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.n++
	img := image.NewNRGBA(image.Rect(0, 0, 64, 36))
	c := v.base
	c.G += uint8(v.n * 8)
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	v.img = img
}

// setImage makes img the next frame.
func (v *fakeVideo) setImage(img image.Image) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.n++
	v.img = img
}

func (v *fakeVideo) Latest() (image.Image, uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.img, v.n
}

var _ VideoSource = (*fakeVideo)(nil)
