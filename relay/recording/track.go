package recording

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"parley/relay/clock"
)

// MIME types the track writer records.
const (
	MimeVP8  = "video/VP8"
	MimeOpus = "audio/opus"
)

// Errors of the track writer; check with errors.Is.
var (
	// ErrUnsupportedCodec: the track's codec is not VP8 or Opus.
	ErrUnsupportedCodec = errors.New("recording: unsupported codec")
	// ErrClosed: the writer was closed.
	ErrClosed = errors.New("recording: writer closed")
)

// TrackInfo describes a published track. The SFU fills it from the
// remote track (webrtc.TrackRemote's ID, StreamID, SSRC and Codec).
type TrackInfo struct {
	// ParticipantID is the publisher (an id, never a name).
	ParticipantID string `json:"participant_id"`
	// TrackID is the publisher's track id (from its SDP; kept in the
	// sidecar only, never in file names).
	TrackID string `json:"track_id"`
	// StreamID is the publisher's stream id.
	StreamID string `json:"stream_id"`
	// MimeType is MimeVP8 or MimeOpus (case-insensitive).
	MimeType string `json:"codec"`
	// ClockRate is the RTP clock rate; 0 means the codec's (90000 for
	// VP8, 48000 for Opus).
	ClockRate uint32 `json:"clock_rate"`
	// Channels is the number of audio channels; 0 means 2 for Opus.
	Channels uint16 `json:"channels,omitempty"`
	// SSRC is the RTP stream recorded (one simulcast layer); 0 means the
	// first stream the writer sees. Packets of other SSRCs are ignored.
	SSRC uint32 `json:"ssrc"`
}

// NTPMapping ties an RTP timestamp to the sender's NTP wall clock (from an
// RTCP sender report), for aligning tracks more precisely than by arrival.
type NTPMapping struct {
	// NTPTime is the sender report's 64-bit NTP timestamp.
	NTPTime uint64 `json:"ntp_time"`
	// RTPTime is the RTP timestamp that corresponds to it.
	RTPTime uint32 `json:"rtp_time"`
	// Wall is NTPTime as a time.
	Wall time.Time `json:"wall"`
}

// SenderClock is a least-squares fit of a track's RTP timestamps against
// its sender's NTP clock over the sender reports of one file. To place WebM
// time t ms on the sender's clock: rtp = FirstRTPTimestamp +
// t*ClockRate/1000, then NTP = SenderReport.Wall + (rtp −
// SenderReport.RTPTime) / RTPPerSecond (RTP differences taken modulo 2³²).
// Two tracks of one sender (its audio and video) align exactly that way;
// RTPPerSecond differs from ClockRate by the sender's clock drift.
type SenderClock struct {
	// Reports is how many sender reports the fit is over.
	Reports int `json:"reports"`
	// RTPPerSecond is the fitted slope: RTP ticks per second of the
	// sender's NTP clock.
	RTPPerSecond float64 `json:"rtp_per_second"`
}

// srFit accumulates sender reports for the least-squares fit: x is NTP
// seconds since the first report, y RTP ticks since it (unwrapped).
type srFit struct {
	first, last      NTPMapping
	n                int
	ext              int64 // y of the last report
	sx, sy, sxx, sxy float64
}

// add takes a report; reports whose NTP time does not advance (a
// restarted or confused sender) are ignored. It reports whether it was
// taken.
func (f *srFit) add(m NTPMapping) bool {
	if f.n > 0 && m.NTPTime <= f.last.NTPTime {
		return false
	}
	if f.n == 0 {
		f.first = m
	} else {
		f.ext += int64(int32(m.RTPTime - f.last.RTPTime))
	}
	f.last = m
	f.n++
	x := float64(m.NTPTime-f.first.NTPTime) / (1 << 32)
	y := float64(f.ext)
	f.sx += x
	f.sy += y
	f.sxx += x * x
	f.sxy += x * y
	return true
}

// clock returns the fitted clock, nil with fewer than two reports.
func (f *srFit) clock() *SenderClock {
	n := float64(f.n)
	d := n*f.sxx - f.sx*f.sx
	if f.n < 2 || d <= 0 {
		return nil
	}
	return &SenderClock{Reports: f.n, RTPPerSecond: (n*f.sxy - f.sx*f.sy) / d}
}

// ntpMapping converts a sender report's times.
func ntpMapping(ntpTime uint64, rtpTime uint32) NTPMapping {
	sec, frac := int64(ntpTime>>32), int64(ntpTime&0xffffffff)
	wall := time.Unix(sec-2208988800, frac*1e9>>32).UTC()
	return NTPMapping{NTPTime: ntpTime, RTPTime: rtpTime, Wall: wall}
}

// Pause is an interval during which a track was not recorded.
type Pause struct {
	// From is when the pause began (wall clock).
	From time.Time `json:"from"`
	// To is when recording resumed; zero if it did not.
	To time.Time `json:"to,omitzero"`
	// AtMS is the media time (ms from the file's start) of the pause.
	AtMS int64 `json:"at_ms"`
}

// TrackMeta is the sidecar JSON written next to each WebM file: what is
// needed to align tracks.
type TrackMeta struct {
	TrackInfo
	// MeetingID is the meeting.
	MeetingID string `json:"meeting_id"`
	// Kind is "video" or "audio".
	Kind string `json:"kind"`
	// File is the WebM file's name (in the archive's media folder).
	File string `json:"file"`
	// Width is the video's width from its first keyframe.
	Width int `json:"width,omitempty"`
	// Height is the video's height from its first keyframe.
	Height int `json:"height,omitempty"`
	// Started is the wall-clock time (the relay's clock) at which the
	// first frame, WebM timecode 0, arrived.
	Started time.Time `json:"started"`
	// FirstRTPTimestamp is the RTP timestamp of that frame: WebM time t ms
	// is RTP time FirstRTPTimestamp + t*ClockRate/1000.
	FirstRTPTimestamp uint32 `json:"first_rtp_timestamp"`
	// SenderReport, when the SFU passed one, maps RTP to the sender's NTP
	// clock: the first RTCP sender report seen for the file (the track's
	// latest one from before the file started, if any).
	SenderReport *NTPMapping `json:"sender_report,omitempty"`
	// LastSenderReport is the latest sender report seen while the file
	// was written (set when there were at least two).
	LastSenderReport *NTPMapping `json:"last_sender_report,omitempty"`
	// SenderClock is the sender's RTP clock fitted over every sender
	// report of the file (set when there were at least two).
	SenderClock *SenderClock `json:"sender_clock,omitempty"`
	// Pauses lists when recording paused and resumed.
	Pauses []Pause `json:"pauses,omitempty"`
	// Frames counts the frames written.
	Frames int64 `json:"frames"`
	// DurationMS is the last frame's timecode.
	DurationMS int64 `json:"duration_ms"`
	// Ended is when the file was closed; zero while it is written.
	Ended time.Time `json:"ended,omitzero"`
}

// TrackOptions configure a TrackWriter.
type TrackOptions struct {
	// Dir is the folder the files go to; it must exist. Required.
	Dir string
	// Name is the files' base name (letters, digits, '-', '_'); the WebM
	// file is Name+".webm"+SealedExt and the sidecar Name+".json"+SealedExt.
	// Required.
	Name string
	// MeetingID goes into the sidecar.
	MeetingID string
	// Key seals the files (32 bytes). Required.
	Key []byte
	// Clock gives wall-clock times for the sidecar; nil means the real
	// clock.
	Clock clock.Clock
	// Logger receives ids only; nil discards.
	Logger *slog.Logger
	// RequestKeyframe is called when the writer waits for a video
	// keyframe (at the start and after a resume); the SFU sends a PLI.
	// Nil does nothing.
	RequestKeyframe func()
	// FlushEvery is how much media time may stay buffered before it is
	// sealed to disk; 0 means one second.
	FlushEvery time.Duration
	// MaxLate is the sample builder's reordering window in packets; 0
	// means 128 for video and 16 for audio.
	MaxLate uint16
	// sink replaces the sealed file (benchmarks).
	sink io.WriteCloser
}

// SealedExt is the extension of every sealed file in a recording folder.
const SealedExt = ".sealed"

// TrackWriter writes one track's RTP packets to a WebM file without
// transcoding: RTP is depacketised by pion's sample builder, and each
// frame becomes a SimpleBlock. A video file starts at a keyframe. Files are
// created lazily, at the first frame written: a writer that never records
// leaves nothing on disk.
//
// WriteRTP, Pause, Resume, SenderReport and Close may be called from
// different goroutines.
type TrackWriter struct {
	opts  TrackOptions
	info  TrackInfo
	video bool
	clock clock.Clock
	log   *slog.Logger
	flush time.Duration

	mu           sync.Mutex
	sb           *samplebuilder.SampleBuilder
	paused       bool
	closed       bool
	needKey      bool
	err          error
	meta         TrackMeta
	seal         flushWriteCloser
	block        webm.BlockWriteCloser
	done         chan error
	fatal        atomic.Pointer[error] // set by the muxer's goroutine
	first        int64                 // extended RTP timestamp of timecode 0
	lastExt      int64
	lastTS       uint32
	haveTS       bool
	lastMS       int64
	lastFlushMS  int64
	wroteAny     bool
	keyRequested bool
	sr           srFit
}

// NewTrackWriter returns a writer for the track; it creates no file yet.
func NewTrackWriter(info TrackInfo, opts TrackOptions) (*TrackWriter, error) {
	var video bool
	switch {
	case strings.EqualFold(info.MimeType, MimeVP8):
		video = true
		info.MimeType = MimeVP8
		if info.ClockRate == 0 {
			info.ClockRate = 90000
		}
	case strings.EqualFold(info.MimeType, MimeOpus):
		info.MimeType = MimeOpus
		if info.ClockRate == 0 {
			info.ClockRate = 48000
		}
		if info.Channels == 0 {
			info.Channels = 2
		}
	default:
		return nil, fmt.Errorf("%w: %.40q", ErrUnsupportedCodec, info.MimeType)
	}
	if !safeName(opts.Name) || opts.Dir == "" {
		return nil, errors.New("recording: track writer needs a Dir and a safe Name")
	}
	if len(opts.Key) != 32 && opts.sink == nil {
		return nil, errors.New("recording: track writer needs a 32-byte key")
	}
	if len(info.TrackID) > 256 || len(info.StreamID) > 256 || len(info.ParticipantID) > maxParticipantID {
		return nil, errors.New("recording: track ids too long")
	}
	w := &TrackWriter{opts: opts, info: info, video: video, clock: clock.Or(opts.Clock), log: opts.Logger, flush: opts.FlushEvery}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.flush <= 0 {
		w.flush = time.Second
	}
	kind := "audio"
	if video {
		kind = "video"
	}
	w.meta = TrackMeta{TrackInfo: info, MeetingID: opts.MeetingID, Kind: kind, File: opts.Name + ".webm"}
	w.reset()
	return w, nil
}

// safeName reports whether s is usable as a file's base name.
func safeName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// reset starts depacketising afresh (at the start and after a pause).
func (w *TrackWriter) reset() {
	maxLate := w.opts.MaxLate
	if w.video {
		if maxLate == 0 {
			maxLate = 128
		}
		w.sb = samplebuilder.New(maxLate, &codecs.VP8Packet{}, w.info.ClockRate)
		w.needKey = true
		w.keyRequested = false
	} else {
		if maxLate == 0 {
			maxLate = 16
		}
		w.sb = samplebuilder.New(maxLate, &codecs.OpusPacket{}, w.info.ClockRate)
	}
}

// WebMPath is the sealed WebM file's path.
func (w *TrackWriter) WebMPath() string {
	return filepath.Join(w.opts.Dir, w.opts.Name+".webm"+SealedExt)
}

// MetaPath is the sealed sidecar's path.
func (w *TrackWriter) MetaPath() string {
	return filepath.Join(w.opts.Dir, w.opts.Name+".json"+SealedExt)
}

// WriteRTP records a packet. The writer keeps a copy; p is not retained.
// Packets are dropped while the writer is paused. An error means the file
// could not be written; the writer is then dead and should be closed.
func (w *TrackWriter) WriteRTP(p *rtp.Packet) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if w.paused || p == nil {
		return nil
	}
	if w.info.SSRC == 0 {
		w.info.SSRC = p.SSRC // unknown up front: the first stream seen
		w.meta.SSRC = p.SSRC
	}
	if p.SSRC != w.info.SSRC {
		return nil // another simulcast layer or a stray stream
	}
	if w.video && w.needKey && !w.keyRequested && w.opts.RequestKeyframe != nil {
		w.keyRequested = true
		w.opts.RequestKeyframe()
	}
	w.sb.Push(p.Clone())
	for {
		s := w.sb.Pop()
		if s == nil {
			return nil
		}
		if err := w.frame(s.Data, s.PacketTimestamp); err != nil {
			w.err = err
			w.log.Error("recording: writing frame failed", "meeting_id", w.opts.MeetingID, "participant_id", w.info.ParticipantID, "error", err)
			return err
		}
	}
}

// extend unwraps a 32-bit RTP timestamp into a monotonic 64-bit one.
func (w *TrackWriter) extend(ts uint32) int64 {
	if !w.haveTS {
		w.haveTS = true
		w.lastTS = ts
		w.lastExt = int64(ts)
		return w.lastExt
	}
	w.lastExt += int64(int32(ts - w.lastTS))
	w.lastTS = ts
	return w.lastExt
}

// frame writes one depacketised frame.
func (w *TrackWriter) frame(data []byte, ts uint32) error {
	if len(data) == 0 {
		return nil
	}
	key := true
	if w.video {
		key = vp8Key(data)
		if w.needKey && !key {
			return nil
		}
		w.needKey = false
	}
	ext := w.extend(ts)
	if w.block == nil {
		if err := w.open(data, ts, ext); err != nil {
			return err
		}
	}
	ms := (ext - w.first) * 1000 / int64(w.info.ClockRate)
	if w.wroteAny && ms < w.lastMS {
		return nil // late frame from before the last one: WebM needs order
	}
	if _, err := w.block.Write(key, ms, data); err != nil {
		return fmt.Errorf("recording: writing block: %w", err)
	}
	if err := <-w.done; err != nil {
		if f := w.fatal.Load(); f != nil {
			return *f
		}
		if !errors.Is(err, mkvcore.ErrIgnoreOldFrame) {
			return err
		}
		return nil
	}
	w.wroteAny = true
	w.lastMS = ms
	w.meta.Frames++
	w.meta.DurationMS = ms
	if time.Duration(ms-w.lastFlushMS)*time.Millisecond >= w.flush {
		w.lastFlushMS = ms
		if err := w.seal.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// vp8Key reports whether a VP8 frame is a keyframe (RFC 6386, 9.1: the
// frame tag's P bit is 0 and the start code follows).
func vp8Key(b []byte) bool {
	return len(b) >= 10 && b[0]&0x01 == 0 && b[3] == 0x9d && b[4] == 0x01 && b[5] == 0x2a
}

// opusHead is the Opus identification header (RFC 7845, 5.1) that
// Matroska's A_OPUS wants as CodecPrivate.
func opusHead(channels uint16) []byte {
	b := []byte("OpusHead")
	b = append(b, 1, byte(channels))
	b = binary.LittleEndian.AppendUint16(b, 312) // pre-skip (6.5 ms at 48 kHz)
	b = binary.LittleEndian.AppendUint32(b, 48000)
	b = binary.LittleEndian.AppendUint16(b, 0) // output gain
	return append(b, 0)                        // mapping family 0
}

// open creates the sealed WebM file at the first frame.
func (w *TrackWriter) open(data []byte, ts uint32, ext int64) error {
	entry := webm.TrackEntry{TrackNumber: 1, TrackUID: randUID()}
	if w.video {
		width := int(binary.LittleEndian.Uint16(data[6:8]) & 0x3fff)
		height := int(binary.LittleEndian.Uint16(data[8:10]) & 0x3fff)
		w.meta.Width, w.meta.Height = width, height
		entry.Name, entry.CodecID, entry.TrackType = "Video", "V_VP8", 1
		entry.Video = &webm.Video{PixelWidth: uint64(width), PixelHeight: uint64(height)}
	} else {
		entry.Name, entry.CodecID, entry.TrackType = "Audio", "A_OPUS", 2
		entry.CodecPrivate = opusHead(w.info.Channels)
		entry.Audio = &webm.Audio{SamplingFrequency: float64(w.info.ClockRate), Channels: uint64(w.info.Channels)}
	}
	var out io.WriteCloser = w.opts.sink
	if out == nil {
		f, err := os.OpenFile(w.WebMPath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("recording: creating media file: %w", err)
		}
		out = syncCloser{f}
	}
	var sw flushWriteCloser
	if w.opts.sink != nil && len(w.opts.Key) != 32 {
		sw = plainFlusher{out}
	} else {
		s, err := newSealWriter(out, w.opts.Key)
		if err != nil {
			out.Close()
			return err
		}
		sw = s
	}
	w.seal = sw
	w.done = make(chan error, 1)
	hook := func(e *ebml.Element) {
		if e.Type == ebml.ElementSimpleBlock {
			w.done <- nil
		}
	}
	onFatal := func(err error) {
		f := fmt.Errorf("recording: muxer: %w", err)
		w.fatal.Store(&f)
		select {
		case w.done <- err:
		default:
		}
	}
	onError := func(err error) {
		select {
		case w.done <- err:
		default:
		}
	}
	ws, err := webm.NewSimpleBlockWriter(sw, []webm.TrackEntry{entry},
		mkvcore.WithBlockInterceptor(nil),
		mkvcore.WithMarshalOptions(ebml.WithElementWriteHooks(hook)),
		mkvcore.WithOnFatalHandler(onFatal),
		mkvcore.WithOnErrorHandler(onError),
	)
	if err != nil {
		sw.Close()
		return fmt.Errorf("recording: starting WebM: %w", err)
	}
	w.block = ws[0]
	w.first = ext
	w.meta.Started = w.clock.Now().UTC()
	w.meta.FirstRTPTimestamp = ts
	if err := w.writeMeta(); err != nil {
		return err
	}
	w.log.Info("recording: track file started", "meeting_id", w.opts.MeetingID, "participant_id", w.info.ParticipantID, "file", w.opts.Name)
	return nil
}

func randUID() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) | 1
}

// writeMeta seals the sidecar, replacing the previous one atomically.
func (w *TrackWriter) writeMeta() error {
	if w.opts.sink != nil {
		return nil
	}
	b, err := json.MarshalIndent(w.meta, "", "  ")
	if err != nil {
		return fmt.Errorf("recording: encoding sidecar: %w", err)
	}
	return writeSealedFile(w.MetaPath(), w.opts.Key, b)
}

// writeSealedFile seals b into path through a temporary file and a rename.
func writeSealedFile(path string, key, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("recording: creating file: %w", err)
	}
	sw, err := newSealWriter(syncCloser{f}, key)
	if err == nil {
		_, err = sw.Write(b)
		err = errors.Join(err, sw.Close())
	} else {
		f.Close()
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("recording: renaming file: %w", err)
	}
	return nil
}

// flushWriteCloser is where the muxer writes: a sealed file, or a plain
// sink in benchmarks.
type flushWriteCloser interface {
	io.WriteCloser
	Flush() error
}

type plainFlusher struct{ io.WriteCloser }

func (plainFlusher) Flush() error { return nil }

// syncCloser syncs a file before closing it.
type syncCloser struct{ f *os.File }

func (s syncCloser) Write(p []byte) (int, error) { return s.f.Write(p) }
func (s syncCloser) Close() error                { return errors.Join(s.f.Sync(), s.f.Close()) }

// SenderReport takes the RTP/NTP mapping of one of the publisher's RTCP
// sender reports (a zero NTP time is ignored). The sidecar keeps the
// first, the latest and a clock fitted over all of them; it is rewritten
// at the first report of an open file (so that a crash keeps a mapping)
// and at Close.
func (w *TrackWriter) SenderReport(ntpTime uint64, rtpTime uint32) {
	if ntpTime == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || !w.sr.add(ntpMapping(ntpTime, rtpTime)) {
		return
	}
	first := w.sr.first
	w.meta.SenderReport = &first
	if w.sr.n > 1 {
		last := w.sr.last
		w.meta.LastSenderReport = &last
	}
	w.meta.SenderClock = w.sr.clock()
	if w.sr.n == 1 && w.block != nil && w.err == nil {
		if err := w.writeMeta(); err != nil {
			w.log.Error("recording: writing sidecar failed", "meeting_id", w.opts.MeetingID, "participant_id", w.info.ParticipantID, "error", err)
		}
	}
}

// Pause stops recording packets until Resume. Buffered frames are
// dropped; after Resume a video track waits for its next keyframe. The
// media timeline continues, so that a pause shows as a gap.
func (w *TrackWriter) Pause() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paused || w.closed {
		return
	}
	w.paused = true
	if w.block != nil {
		w.meta.Pauses = append(w.meta.Pauses, Pause{From: w.clock.Now().UTC(), AtMS: w.lastMS})
		if w.err == nil {
			if err := w.seal.Flush(); err != nil {
				w.err = err
			}
		}
	}
}

// Resume records again after Pause.
func (w *TrackWriter) Resume() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.paused || w.closed {
		return
	}
	w.paused = false
	w.reset()
	if n := len(w.meta.Pauses); n > 0 && w.meta.Pauses[n-1].To.IsZero() {
		w.meta.Pauses[n-1].To = w.clock.Now().UTC()
	}
}

// resync drops what is being depacketised after packets were lost on the
// way to the writer: a video track waits for its next keyframe.
func (w *TrackWriter) resync() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.paused && !w.closed {
		w.reset()
	}
}

// Paused reports whether the writer is paused.
func (w *TrackWriter) Paused() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.paused
}

// Flush seals what has been written so far to disk.
func (w *TrackWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seal == nil || w.closed {
		return w.err
	}
	if err := w.seal.Flush(); err != nil {
		w.err = err
	}
	return w.err
}

// Frames returns how many frames have been written.
func (w *TrackWriter) Frames() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.meta.Frames
}

// Meta returns the sidecar's current content.
func (w *TrackWriter) Meta() TrackMeta {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.meta
	m.Pauses = append([]Pause(nil), m.Pauses...)
	return m
}

// Close finishes the WebM file and the sidecar. Frames still in the
// reordering window are dropped. A writer that never wrote a frame
// creates no file. Close is idempotent.
func (w *TrackWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.block == nil {
		return w.err
	}
	w.block.Close() // writes the last cluster and closes the sealed file
	err := w.err
	if cerr := w.seal.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if f := w.fatal.Load(); f != nil && err == nil {
		err = *f
	}
	now := w.clock.Now().UTC()
	if n := len(w.meta.Pauses); n > 0 && w.meta.Pauses[n-1].To.IsZero() && !w.paused {
		w.meta.Pauses[n-1].To = now
	}
	w.meta.Ended = now
	if merr := w.writeMeta(); merr != nil && err == nil {
		err = merr
	}
	return err
}
