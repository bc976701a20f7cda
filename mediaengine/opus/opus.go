// Package opus wraps the system libopus (Debian's libopus-dev, linked with
// pkg-config) for the desktop app: an encoder for the microphone and a
// decoder for every remote audio track. Both work on interleaved 16-bit PCM.
//
// mediadevices' codec/opus bundles a static libopus with an encoder only;
// this package does not import it. Linking both into one binary causes no
// duplicate-symbol error (a static archive and a shared library never
// clash at link time), but Parley uses this package alone so that a single
// libopus serves encoding and decoding.
package opus

/*
#cgo pkg-config: opus
#include <opus.h>

static int parley_opus_set_bitrate(OpusEncoder *e, opus_int32 bitrate) {
	return opus_encoder_ctl(e, OPUS_SET_BITRATE(bitrate));
}
static int parley_opus_set_fec(OpusEncoder *e, opus_int32 on) {
	return opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(on));
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// MaxFrameSamples is the largest frame Opus produces per channel at
// 48 kHz: 120 ms.
const MaxFrameSamples = 5760

// ErrClosed is returned after Close.
var ErrClosed = errors.New("opus: closed")

func opusErr(what string, code C.int) error {
	return fmt.Errorf("opus: %s: %s", what, C.GoString(C.opus_strerror(code)))
}

// Encoder encodes PCM frames to Opus packets. It is safe for concurrent
// use.
type Encoder struct {
	mu       sync.Mutex
	enc      *C.OpusEncoder
	channels int
}

// NewEncoder returns a VoIP encoder for sampleRate (8000, 12000, 16000,
// 24000 or 48000) and channels (1 or 2) at bitrate bits per second (0
// chooses libopus's default), with in-band FEC on.
func NewEncoder(sampleRate, channels, bitrate int) (*Encoder, error) {
	var code C.int
	enc := C.opus_encoder_create(C.opus_int32(sampleRate), C.int(channels), C.OPUS_APPLICATION_VOIP, &code)
	if code != C.OPUS_OK {
		return nil, opusErr("creating encoder", code)
	}
	e := &Encoder{enc: enc, channels: channels}
	if bitrate > 0 {
		if code := C.parley_opus_set_bitrate(enc, C.opus_int32(bitrate)); code != C.OPUS_OK {
			e.Close()
			return nil, opusErr("setting bitrate", code)
		}
	}
	if code := C.parley_opus_set_fec(enc, 1); code != C.OPUS_OK {
		e.Close()
		return nil, opusErr("enabling FEC", code)
	}
	return e, nil
}

// Encode encodes one frame of interleaved PCM (2.5, 5, 10, 20, 40 or 60 ms
// per channel) into out and returns the packet's length.
func (e *Encoder) Encode(pcm []int16, out []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.enc == nil {
		return 0, ErrClosed
	}
	if len(pcm) == 0 || len(pcm)%e.channels != 0 || len(out) == 0 {
		return 0, errors.New("opus: encode: empty or misaligned buffer")
	}
	n := C.opus_encode(e.enc, (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)/e.channels),
		(*C.uchar)(unsafe.Pointer(&out[0])), C.opus_int32(len(out)))
	if n < 0 {
		return 0, opusErr("encoding", C.int(n))
	}
	return int(n), nil
}

// Close frees the encoder. It is safe to call more than once.
func (e *Encoder) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.enc != nil {
		C.opus_encoder_destroy(e.enc)
		e.enc = nil
	}
}

// Decoder decodes Opus packets to PCM. It is safe for concurrent use.
type Decoder struct {
	mu       sync.Mutex
	dec      *C.OpusDecoder
	channels int
}

// NewDecoder returns a decoder producing sampleRate Hz PCM with channels
// (1 or 2) interleaved channels; it decodes mono and stereo streams alike.
func NewDecoder(sampleRate, channels int) (*Decoder, error) {
	var code C.int
	dec := C.opus_decoder_create(C.opus_int32(sampleRate), C.int(channels), &code)
	if code != C.OPUS_OK {
		return nil, opusErr("creating decoder", code)
	}
	return &Decoder{dec: dec, channels: channels}, nil
}

// Decode decodes one packet into pcm and returns the number of samples
// per channel written. A nil or empty packet asks for loss concealment of
// one frame as long as pcm. pcm should hold MaxFrameSamples per channel.
func (d *Decoder) Decode(packet []byte, pcm []int16) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dec == nil {
		return 0, ErrClosed
	}
	if len(pcm) < d.channels {
		return 0, errors.New("opus: decode: output buffer too small")
	}
	var data *C.uchar
	if len(packet) > 0 {
		data = (*C.uchar)(unsafe.Pointer(&packet[0]))
	}
	n := C.opus_decode(d.dec, data, C.opus_int32(len(packet)),
		(*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)/d.channels), 0)
	if n < 0 {
		return 0, opusErr("decoding", C.int(n))
	}
	return int(n), nil
}

// Close frees the decoder. It is safe to call more than once.
func (d *Decoder) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dec != nil {
		C.opus_decoder_destroy(d.dec)
		d.dec = nil
	}
}
