package mediaengine

import (
	"errors"
	"fmt"
	"image"
	"io"
	"sync"

	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/codec/vpx"
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/prop"

	"parley/mediaengine/source"
)

// vp8Encoder encodes the frames of a video reader with libvpx.
type vp8Encoder struct {
	enc codec.ReadCloser
}

// newVP8Encoder builds a real-time VP8 encoder reading from r. Frames may be
// any image type; mediadevices converts them to I420.
func newVP8Encoder(r source.VideoReader, f source.Format, bitrate int) (*vp8Encoder, error) {
	p, err := vpx.NewVP8Params()
	if err != nil {
		return nil, fmt.Errorf("mediaengine: VP8 parameters: %w", err)
	}
	p.BitRate = bitrate
	p.LagInFrames = 0
	p.KeyFrameInterval = 4 * f.FPS
	p.RateControlEndUsage = vpx.RateControlCBR
	p.ErrorResilient = vpx.ErrorResilientDefault
	enc, err := p.BuildVideoEncoder(r, prop.Media{Video: prop.Video{
		Width: f.Width, Height: f.Height, FrameRate: float32(f.FPS), FrameFormat: frame.FormatI420,
	}})
	if err != nil {
		return nil, fmt.Errorf("mediaengine: VP8 encoder: %w", err)
	}
	return &vp8Encoder{enc: enc}, nil
}

// Read waits for the next frame and returns it encoded.
func (e *vp8Encoder) Read() ([]byte, error) {
	b, release, err := e.enc.Read()
	if release != nil {
		release()
	}
	return b, err
}

// ForceKeyFrame makes the next frame a key frame.
func (e *vp8Encoder) ForceKeyFrame() {
	if kc, ok := e.enc.Controller().(codec.KeyFrameController); ok {
		_ = kc.ForceKeyFrame()
	}
}

func (e *vp8Encoder) Close() error { return e.enc.Close() }

// errNoInput ends a decoder read when the frame handed in produced no
// picture.
var errNoInput = errors.New("no input frame")

// oneFrame is the decoder's input: it yields the frame handed to Decode once.
type oneFrame struct{ b []byte }

func (o *oneFrame) Read(p []byte) (int, error) {
	if o.b == nil {
		return 0, errNoInput
	}
	n := copy(p, o.b)
	o.b = nil
	return n, nil
}

// VP8Decoder decodes a VP8 stream one frame at a time into *image.YCbCr
// pictures (4:2:0). It is safe for concurrent use, though frames must be
// given in order.
type VP8Decoder struct {
	mu  sync.Mutex
	in  oneFrame
	dec codec.VideoDecoder
}

// NewVP8Decoder returns a libvpx VP8 decoder.
func NewVP8Decoder() (*VP8Decoder, error) {
	d := &VP8Decoder{}
	dec, err := vpx.NewDecoder(&d.in, prop.Media{})
	if err != nil {
		return nil, fmt.Errorf("mediaengine: VP8 decoder: %w", err)
	}
	d.dec = dec
	return d, nil
}

// ErrNoPicture is returned by VP8Decoder.Decode for a frame that decodes to
// no visible picture.
var ErrNoPicture = errors.New("mediaengine: frame has no picture")

// Decode decodes one complete VP8 frame. The picture is newly allocated
// and belongs to the caller.
func (d *VP8Decoder) Decode(frame []byte) (image.Image, error) {
	if len(frame) == 0 {
		return nil, ErrNoPicture
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dec == nil {
		return nil, io.ErrClosedPipe
	}
	d.in.b = frame
	img, release, err := d.dec.Read()
	d.in.b = nil
	if errors.Is(err, errNoInput) {
		return nil, ErrNoPicture
	}
	if err != nil {
		return nil, fmt.Errorf("mediaengine: decoding VP8: %w", err)
	}
	release()
	return img, nil
}

// Close frees the decoder.
func (d *VP8Decoder) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dec == nil {
		return nil
	}
	err := d.dec.Close()
	d.dec = nil
	return err
}

// isVP8KeyFrame reports whether a complete VP8 frame is a key frame (the
// inverse key-frame bit of its first byte is clear).
func isVP8KeyFrame(frame []byte) bool { return len(frame) > 0 && frame[0]&0x01 == 0 }
