// Package source provides what the desktop app captures: synthetic sources
// (a moving test pattern with a frame counter, a synthetic screen, a tone)
// for tests and machines without devices, and real cameras, screens and
// microphones found through pion/mediadevices' drivers and malgo.
//
// Every source paces itself: VideoReader.Read blocks until the next frame
// is due, AudioReader.Read until the next 20 ms of audio is available.
package source

import (
	"errors"
	"image"
)

// Audio format shared by every audio source, the Opus encoder and the
// player: 48 kHz mono, 20 ms frames.
const (
	SampleRate   = 48000
	FrameSamples = SampleRate / 50
)

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("source: closed")

// Format asks a video source for a frame size and rate. Real devices
// pick their closest supported format.
type Format struct {
	// Width of a frame in pixels.
	Width int
	// Height of a frame in pixels.
	Height int
	// FPS is the frame rate.
	FPS int
}

func (f Format) orDefault() Format {
	if f.Width <= 0 || f.Height <= 0 {
		f.Width, f.Height = 640, 480
	}
	if f.FPS <= 0 {
		f.FPS = 30
	}
	return f
}

// VideoReader is an open stream of frames; its Read has the shape of
// mediadevices' video.Reader, so it can feed mediadevices' encoders.
type VideoReader interface {
	// Read returns the next frame when it is due, and a function that
	// releases it; after Close it returns ErrClosed.
	Read() (image.Image, func(), error)
	// Close stops the stream and releases its device.
	Close() error
}

// Video is something that can be opened as a stream of frames: a camera,
// a screen, or a synthetic pattern.
type Video interface {
	// Name describes the source for a device picker.
	Name() string
	// OpenVideo starts capture.
	OpenVideo(Format) (VideoReader, error)
}

// AudioReader is an open stream of 48 kHz mono PCM.
type AudioReader interface {
	// Read fills pcm (FrameSamples long) with the next 20 ms when they are
	// available; after Close it returns ErrClosed.
	Read(pcm []int16) error
	// Close stops the stream and releases its device.
	Close() error
}

// Audio is something that can be opened as a stream of PCM: a microphone
// or a synthetic tone.
type Audio interface {
	// Name describes the source for a device picker.
	Name() string
	// OpenAudio starts capture.
	OpenAudio() (AudioReader, error)
}
