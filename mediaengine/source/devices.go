package source

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"math"
	"strings"
	"sync"

	"github.com/gen2brain/malgo"
	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"

	// Video drivers register themselves when imported: V4L2 cameras found
	// under /dev/video* and X11 screens when $DISPLAY is reachable. On a
	// machine with neither they register nothing.
	_ "github.com/pion/mediadevices/pkg/driver/camera"
	_ "github.com/pion/mediadevices/pkg/driver/screen"
)

// Cameras returns the cameras mediadevices found, most preferred first.
func Cameras() []Video { return devices(driver.Camera) }

// Screens returns the screens that can be shared (X11 on Linux).
func Screens() []Video { return devices(driver.Screen) }

func devices(t driver.DeviceType) []Video {
	var out []Video
	for _, d := range driver.GetManager().Query(driver.FilterDeviceType(t)) {
		if _, ok := d.(driver.VideoRecorder); ok {
			out = append(out, device{d})
		}
	}
	return out
}

// device is a mediadevices video driver.
type device struct{ d driver.Driver }

func (v device) Name() string {
	if n := v.d.Info().Name; n != "" {
		return n
	}
	return v.d.Info().Label
}

func (v device) OpenVideo(f Format) (VideoReader, error) {
	f = f.orDefault()
	if err := v.d.Open(); err != nil {
		return nil, fmt.Errorf("source: opening %s: %w", v.d.ID(), err)
	}
	p := bestProp(v.d.Properties(), f)
	r, err := v.d.(driver.VideoRecorder).VideoRecord(p)
	if err != nil {
		_ = v.d.Close()
		return nil, fmt.Errorf("source: recording %s: %w", v.d.ID(), err)
	}
	return &deviceReader{d: v.d, r: r}, nil
}

// bestProp picks the supported format whose size is closest to f's.
func bestProp(props []prop.Media, f Format) prop.Media {
	want := prop.Media{Video: prop.Video{Width: f.Width, Height: f.Height, FrameRate: float32(f.FPS)}}
	best, bestD := want, math.MaxInt
	for _, p := range props {
		d := abs(p.Width-f.Width) + abs(p.Height-f.Height)
		if d < bestD {
			best, bestD = p, d
		}
	}
	if best.FrameRate == 0 {
		best.FrameRate = float32(f.FPS)
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

type deviceReader struct {
	d      driver.Driver
	r      video.Reader
	mu     sync.Mutex
	closed bool
}

func (r *deviceReader) Read() (image.Image, func(), error) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, nil, ErrClosed
	}
	img, release, err := r.r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("source: reading %s: %w", r.d.ID(), err)
	}
	return img, release, nil
}

func (r *deviceReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return r.d.Close()
}

// RealBackends lists every miniaudio backend except the null one, so that
// Microphones finds only real devices.
var RealBackends = []malgo.Backend{
	malgo.BackendWasapi, malgo.BackendDsound, malgo.BackendWinmm, malgo.BackendCoreaudio,
	malgo.BackendSndio, malgo.BackendAudio4, malgo.BackendOss, malgo.BackendPulseaudio,
	malgo.BackendAlsa, malgo.BackendJack, malgo.BackendAaudio, malgo.BackendOpensl,
}

// Microphones returns the capture devices of the system's real audio
// backends; none (and no error) on a machine without sound.
func Microphones() ([]Audio, error) {
	ctx, err := malgo.InitContext(RealBackends, malgo.ContextConfig{}, nil)
	if err != nil {
		// No backend could be initialised: no microphones.
		return nil, nil
	}
	defer func() {
		_ = ctx.Uninit()
		ctx.Free()
	}()
	infos, err := ctx.Devices(malgo.Capture)
	if err != nil {
		return nil, fmt.Errorf("source: listing microphones: %w", err)
	}
	out := make([]Audio, 0, len(infos))
	for _, in := range infos {
		// ALSA lists its "null" PCM, which captures silence, as a device.
		if id := string(bytes.TrimRight(in.ID[:], "\x00")); id == "null" || strings.HasPrefix(id, "null:") {
			continue
		}
		out = append(out, Microphone{ID: in.ID, Label: in.Name()})
	}
	return out, nil
}

// Microphone is a capture device of a real audio backend.
type Microphone struct {
	// ID is miniaudio's device id.
	ID malgo.DeviceID
	// Label is the device's name.
	Label string
}

// Name implements Audio.
func (m Microphone) Name() string { return m.Label }

// OpenAudio implements Audio: the device captures 48 kHz mono 16-bit PCM.
func (m Microphone) OpenAudio() (AudioReader, error) {
	ctx, err := malgo.InitContext(RealBackends, malgo.ContextConfig{}, nil)
	if err != nil {
		return nil, fmt.Errorf("source: audio context: %w", err)
	}
	r := &micReader{ctx: ctx, frames: make(chan []int16, 8), done: make(chan struct{})}
	cfg := malgo.DefaultDeviceConfig(malgo.Capture)
	cfg.Capture.Format = malgo.FormatS16
	cfg.Capture.Channels = 1
	id := m.ID
	cfg.Capture.DeviceID = id.Pointer()
	cfg.SampleRate = SampleRate
	cfg.PeriodSizeInFrames = FrameSamples
	dev, err := malgo.InitDevice(ctx.Context, cfg, malgo.DeviceCallbacks{Data: r.data})
	if err != nil {
		r.freeContext()
		return nil, fmt.Errorf("source: opening microphone: %w", err)
	}
	r.dev = dev
	if err := dev.Start(); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("source: starting microphone: %w", err)
	}
	return r, nil
}

// micReader regroups the device's periods into 20 ms frames; when the
// reader falls behind, the oldest frames are dropped.
type micReader struct {
	ctx    *malgo.AllocatedContext
	dev    *malgo.Device
	acc    []int16
	frames chan []int16
	once   sync.Once
	done   chan struct{}
}

func (r *micReader) data(_, in []byte, n uint32) {
	for i := 0; i+1 < len(in) && i/2 < int(n); i += 2 {
		r.acc = append(r.acc, int16(binary.LittleEndian.Uint16(in[i:])))
		if len(r.acc) == FrameSamples {
			select {
			case r.frames <- r.acc:
			default:
				select {
				case <-r.frames:
				default:
				}
				r.frames <- r.acc
			}
			r.acc = make([]int16, 0, FrameSamples)
		}
	}
}

func (r *micReader) Read(pcm []int16) error {
	select {
	case <-r.done:
		return ErrClosed
	case f := <-r.frames:
		copy(pcm, f)
		return nil
	}
}

func (r *micReader) freeContext() {
	_ = r.ctx.Uninit()
	r.ctx.Free()
}

func (r *micReader) Close() error {
	r.once.Do(func() {
		close(r.done)
		if r.dev != nil {
			r.dev.Uninit()
		}
		r.freeContext()
	})
	return nil
}
