// Package playout plays the remote participants' audio through malgo: one
// output device, any number of streams mixed into it. Each stream has a
// small jitter buffer; a stream that falls behind loses its oldest audio
// instead of growing its delay.
package playout

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gen2brain/malgo"
)

// Format of every stream and of the device: 48 kHz mono 16-bit PCM.
const SampleRate = 48000

// NullBackend is miniaudio's null backend, a device that consumes audio in
// real time without sound hardware; tests use it. malgo.BackendNull names
// the wrong backend in malgo v0.11.24 (see DESIGN.md).
const NullBackend = malgo.Backend(malgo.BackendNull + 1)

const (
	maxBuffered = SampleRate / 4  // 250 ms
	prebuffer   = SampleRate / 25 // 40 ms before a stream starts or restarts
)

// Options configure a Player.
type Options struct {
	// Backends are tried in order; nil uses miniaudio's default order,
	// which ends with the null backend.
	Backends []malgo.Backend
	// Logger receives device errors. Nil discards them.
	Logger *slog.Logger
}

// Player owns the output device and mixes its streams into it.
type Player struct {
	log *slog.Logger
	ctx *malgo.AllocatedContext
	dev *malgo.Device

	mu      sync.Mutex
	streams map[*Stream]struct{}
	closed  bool
}

// New opens and starts the output device.
func New(opts Options) (*Player, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, err := malgo.InitContext(opts.Backends, malgo.ContextConfig{}, nil)
	if err != nil {
		return nil, fmt.Errorf("playout: audio context: %w", err)
	}
	p := &Player{log: log, ctx: ctx, streams: make(map[*Stream]struct{})}
	cfg := malgo.DefaultDeviceConfig(malgo.Playback)
	cfg.Playback.Format = malgo.FormatS16
	cfg.Playback.Channels = 1
	cfg.SampleRate = SampleRate
	cfg.PeriodSizeInMilliseconds = 10
	dev, err := malgo.InitDevice(ctx.Context, cfg, malgo.DeviceCallbacks{Data: p.fill})
	if err != nil {
		p.freeContext()
		return nil, fmt.Errorf("playout: opening output device: %w", err)
	}
	p.dev = dev
	if err := dev.Start(); err != nil {
		dev.Uninit()
		p.freeContext()
		return nil, fmt.Errorf("playout: starting output device: %w", err)
	}
	return p, nil
}

func (p *Player) freeContext() {
	_ = p.ctx.Uninit()
	p.ctx.Free()
}

// NewStream adds a stream to the mix.
func (p *Player) NewStream() *Stream {
	s := &Stream{p: p}
	p.mu.Lock()
	if !p.closed {
		p.streams[s] = struct{}{}
	}
	p.mu.Unlock()
	return s
}

// Close stops the device. Streams written afterwards are discarded.
func (p *Player) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.streams = nil
	p.mu.Unlock()
	p.dev.Uninit()
	p.freeContext()
	return nil
}

// fill is the device callback: it mixes every stream into out.
func (p *Player) fill(out, _ []byte, frames uint32) {
	n := min(int(frames), len(out)/2)
	mix := make([]int32, n)
	p.mu.Lock()
	for s := range p.streams {
		s.mixInto(mix)
	}
	p.mu.Unlock()
	for i, v := range mix {
		binary.LittleEndian.PutUint16(out[2*i:], uint16(int16(max(min(v, 32767), -32768))))
	}
}

// Stream is one source of audio in the mix, e.g. a remote participant.
type Stream struct {
	p *Player

	mu      sync.Mutex
	buf     []int16
	playing bool
}

// Write queues PCM for playback. It never blocks; audio beyond 250 ms of
// backlog replaces the oldest.
func (s *Stream) Write(pcm []int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, pcm...)
	if over := len(s.buf) - maxBuffered; over > 0 {
		s.buf = append(s.buf[:0], s.buf[over:]...)
	}
}

// Buffered returns how many samples wait to be played.
func (s *Stream) Buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buf)
}

func (s *Stream) mixInto(mix []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.playing && len(s.buf) < prebuffer {
		return
	}
	s.playing = true
	n := min(len(mix), len(s.buf))
	for i := 0; i < n; i++ {
		mix[i] += int32(s.buf[i])
	}
	s.buf = append(s.buf[:0], s.buf[n:]...)
	if len(s.buf) == 0 {
		s.playing = false
	}
}

// Close removes the stream from the mix.
func (s *Stream) Close() {
	s.p.mu.Lock()
	delete(s.p.streams, s)
	s.p.mu.Unlock()
}
