package mediaengine

import (
	"errors"
	"image"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"parley/mediaengine/opus"
	"parley/mediaengine/playout"
	"parley/mediaengine/source"
	"parley/relay/clock"
	"parley/relay/signal/msg"
)

// TrackKind says what a remote track carries.
type TrackKind int

// Kinds of remote tracks.
const (
	KindAudio TrackKind = iota
	KindCamera
	KindScreen
)

// String names the kind for logs.
func (k TrackKind) String() string {
	switch k {
	case KindAudio:
		return "audio"
	case KindCamera:
		return "camera"
	default:
		return "screen"
	}
}

// Local track ids. The SFU passes track ids through, so a receiver can tell
// a screen share by its track id even where the stream id is not
// "<peer>/screen".
const (
	trackAudio  = "audio"
	trackCamera = "camera"
	trackScreen = "screen"
)

const (
	levelStale  = 300 * time.Millisecond // no audio for this long reads as silence
	pliInterval = 500 * time.Millisecond
)

// RemoteTrack is one track of another participant, decoded. Video tracks
// deliver pictures on Frames; audio tracks are played (when the call has a
// player) and measured by Level.
type RemoteTrack struct {
	// PeerID is the publishing participant's peer id (see the roster).
	PeerID string
	// StreamID is PeerID for camera and microphone, PeerID + "/screen"
	// for a screen share.
	StreamID string
	// Kind is audio, camera or screen.
	Kind TrackKind

	frames  chan image.Image
	decoded atomic.Uint64
	level   atomic.Uint64 // math.Float64bits of the last frame's RMS
	lastPCM atomic.Int64  // unix nanoseconds of the last decoded audio
	clock   clock.Clock
	done    chan struct{}

	mu     sync.Mutex
	latest image.Image
}

func newRemoteTrack(tr *webrtc.TrackRemote, clk clock.Clock) *RemoteTrack {
	t := &RemoteTrack{StreamID: tr.StreamID(), clock: clk, done: make(chan struct{})}
	switch {
	case tr.Kind() == webrtc.RTPCodecTypeAudio:
		t.Kind = KindAudio
	case strings.HasSuffix(t.StreamID, msg.ScreenSuffix):
		t.Kind = KindScreen
	case strings.HasPrefix(tr.ID(), trackScreen):
		t.Kind = KindScreen
		t.StreamID += msg.ScreenSuffix
	default:
		t.Kind = KindCamera
	}
	t.PeerID = strings.TrimSuffix(t.StreamID, msg.ScreenSuffix)
	if t.Kind != KindAudio {
		t.frames = make(chan image.Image, 1)
	}
	return t
}

// Frames delivers decoded pictures (*image.YCbCr) of a video track, newest
// only: a picture the consumer has not taken yet is replaced by the next
// one, so a slow UI drops frames instead of queueing them. The channel is
// never closed; Done says when the track ended. Nil for audio tracks.
func (t *RemoteTrack) Frames() <-chan image.Image { return t.frames }

// Latest returns the most recently decoded picture, or nil.
func (t *RemoteTrack) Latest() image.Image {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latest
}

// Decoded counts the pictures (video) or 20 ms frames (audio) decoded so
// far.
func (t *RemoteTrack) Decoded() uint64 { return t.decoded.Load() }

// Level is the RMS of the latest decoded audio from 0 (silence) to 1 (full
// scale); a track that has not delivered audio for 300 ms reads 0.
func (t *RemoteTrack) Level() float64 {
	last := t.lastPCM.Load()
	if last == 0 || t.clock.Now().Sub(time.Unix(0, last)) > levelStale {
		return 0
	}
	return math.Float64frombits(t.level.Load())
}

// Done is closed when the track ends.
func (t *RemoteTrack) Done() <-chan struct{} { return t.done }

func (t *RemoteTrack) deliver(img image.Image) {
	t.mu.Lock()
	t.latest = img
	t.mu.Unlock()
	t.decoded.Add(1)
	for {
		select {
		case t.frames <- img:
			return
		default:
		}
		select {
		case <-t.frames:
		default:
		}
	}
}

// receiveVideo depacketises and decodes a VP8 track until it ends. After a
// loss or a decoding error it asks the publisher for a key frame (PLI, at
// most every 500 ms) and skips frames until one arrives.
func (t *RemoteTrack) receiveVideo(tr *webrtc.TrackRemote, pc *webrtc.PeerConnection, log *slog.Logger) {
	defer close(t.done)
	if !strings.EqualFold(tr.Codec().MimeType, webrtc.MimeTypeVP8) {
		log.Warn("unsupported video codec", "codec", tr.Codec().MimeType)
		drain(tr)
		return
	}
	dec, err := NewVP8Decoder()
	if err != nil {
		log.Warn("video decoder", "err", err)
		drain(tr)
		return
	}
	defer dec.Close()
	sb := samplebuilder.New(256, &codecs.VP8Packet{}, 90000)
	needKey := true
	var lastPLI time.Time
	pli := func() {
		now := t.clock.Now()
		if now.Sub(lastPLI) < pliInterval {
			return
		}
		lastPLI = now
		_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
	}
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		sb.Push(pkt)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			if s.PrevDroppedPackets > 0 {
				needKey = true
			}
			if needKey && !isVP8KeyFrame(s.Data) {
				pli()
				continue
			}
			img, err := dec.Decode(s.Data)
			if errors.Is(err, ErrNoPicture) {
				continue
			}
			if err != nil {
				log.Debug("decoding video", "err", err)
				needKey = true
				pli()
				continue
			}
			needKey = false
			t.deliver(img)
		}
	}
}

// receiveAudio decodes an Opus track, measures its level and writes it to
// the player's stream (if any) until the track ends.
func (t *RemoteTrack) receiveAudio(tr *webrtc.TrackRemote, out *playout.Stream, log *slog.Logger) {
	defer close(t.done)
	if out != nil {
		defer out.Close()
	}
	dec, err := opus.NewDecoder(source.SampleRate, 1)
	if err != nil {
		log.Warn("audio decoder", "err", err)
		drain(tr)
		return
	}
	defer dec.Close()
	pcm := make([]int16, opus.MaxFrameSamples)
	var pkt rtp.Packet
	buf := make([]byte, 1500)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil || len(pkt.Payload) == 0 {
			continue
		}
		got, err := dec.Decode(pkt.Payload, pcm)
		if err != nil {
			log.Debug("decoding audio", "err", err)
			continue
		}
		t.level.Store(math.Float64bits(rms(pcm[:got])))
		t.lastPCM.Store(t.clock.Now().UnixNano())
		t.decoded.Add(1)
		if out != nil {
			out.Write(pcm[:got])
		}
	}
}

func drain(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := tr.Read(buf); err != nil {
			return
		}
	}
}

func rms(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var s float64
	for _, v := range pcm {
		f := float64(v) / 32768
		s += f * f
	}
	return math.Sqrt(s / float64(len(pcm)))
}

func (c *Call) playerStream() *playout.Stream {
	if c.opts.Player == nil {
		return nil
	}
	return c.opts.Player.NewStream()
}
