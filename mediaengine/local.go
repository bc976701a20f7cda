package mediaengine

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"parley/mediaengine/opus"
	"parley/mediaengine/source"
)

// sink is where a local pipeline writes: the current connection's track of
// its kind, or nothing between connections.
type sink struct {
	track   atomic.Pointer[webrtc.TrackLocalStaticSample]
	wantKey atomic.Bool
}

func (s *sink) set(t *webrtc.TrackLocalStaticSample) {
	s.track.Store(t)
	s.wantKey.Store(true)
}

func (s *sink) write(smp media.Sample) {
	if t := s.track.Load(); t != nil {
		_ = t.WriteSample(smp)
	}
}

// pipe is a running capture-and-encode loop.
type pipe struct {
	close func() error
	done  chan struct{}
}

// stop ends the capture and waits for the loop to finish.
func (p *pipe) stop() {
	if p == nil {
		return
	}
	_ = p.close()
	<-p.done
}

// startVideo captures src, encodes VP8 and writes to s until stopped.
// Every frame also goes to pv (for the self view).
func startVideo(src source.Video, f source.Format, bitrate int, s *sink, pv *Preview, log *slog.Logger) (*pipe, error) {
	r, err := src.OpenVideo(f)
	if err != nil {
		return nil, fmt.Errorf("mediaengine: opening %s: %w", src.Name(), err)
	}
	enc, err := newVP8Encoder(teeReader{VideoReader: r, p: pv}, f, bitrate)
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	p := &pipe{close: r.Close, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer pv.clear()
		defer enc.Close()
		last := time.Now()
		for {
			if s.wantKey.Swap(false) {
				enc.ForceKeyFrame()
			}
			b, err := enc.Read()
			if err != nil {
				log.Debug("video capture ended", "err", err)
				return
			}
			now := time.Now()
			s.write(media.Sample{Data: b, Duration: now.Sub(last)})
			last = now
		}
	}()
	return p, nil
}

// startAudio captures src, encodes Opus (20 ms frames) and writes to s
// until stopped.
func startAudio(src source.Audio, s *sink, log *slog.Logger) (*pipe, error) {
	r, err := src.OpenAudio()
	if err != nil {
		return nil, fmt.Errorf("mediaengine: opening %s: %w", src.Name(), err)
	}
	enc, err := opus.NewEncoder(source.SampleRate, 1, 32000)
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	p := &pipe{close: r.Close, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer enc.Close()
		pcm := make([]int16, source.FrameSamples)
		out := make([]byte, 1500)
		for {
			if err := r.Read(pcm); err != nil {
				log.Debug("audio capture ended", "err", err)
				return
			}
			n, err := enc.Encode(pcm, out)
			if err != nil {
				log.Warn("encoding audio", "err", err)
				return
			}
			s.write(media.Sample{Data: append([]byte(nil), out[:n]...), Duration: 20 * time.Millisecond})
		}
	}()
	return p, nil
}
