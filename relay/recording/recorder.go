package recording

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"parley/relay/clock"
	"parley/relay/ids"
)

// Sink is what the SFU feeds each published track's packets into (a
// consumer-side interface: the SFU's forwarder calls it for every packet it
// reads; *Track implements it). WriteRTP must not block and must not keep
// p.
type Sink interface {
	WriteRTP(p *rtp.Packet) error
}

var _ Sink = (*Track)(nil)

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	// Clock drives the consent record and the sidecars; nil means the
	// real clock.
	Clock clock.Clock
	// Logger receives ids only; nil discards.
	Logger *slog.Logger
	// OnChange is called with the new state after every change, to be
	// broadcast to every participant (the recording indicator and the
	// consent dialog). It runs on the caller's goroutine, in order.
	OnChange func(Indicator)
	// FlushEvery is passed to each TrackWriter.
	FlushEvery time.Duration
	// Queue is how many packets per track may wait for the disk; more are
	// dropped (and a video track then waits for its next keyframe). 0
	// means 1024.
	Queue int
}

// Recorder records one meeting: it runs the consent state machine and
// writes each published track while, and only while, every present
// customer has accepted. Files are written per request (a new request
// after a refusal or withdrawal writes new files).
type Recorder struct {
	s         *Store
	meetingID string
	opts      RecorderOptions
	log       *slog.Logger
	consent   *Consent

	mu     sync.Mutex // serialises consent changes with applying them
	tracks map[*Track]struct{}
	phase  Phase
	req    int
	closed bool
}

// NewRecorder begins the meeting's recording in the store (see Begin) and
// returns its recorder, in PhaseOff.
func (s *Store) NewRecorder(ctx context.Context, tenantID, meetingID string, opts RecorderOptions) (*Recorder, error) {
	if err := s.Begin(ctx, tenantID, meetingID); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = s.clock
	}
	if opts.Queue <= 0 {
		opts.Queue = 1024
	}
	r := &Recorder{s: s, meetingID: meetingID, opts: opts, log: opts.Logger, tracks: map[*Track]struct{}{}, phase: PhaseOff}
	if r.log == nil {
		r.log = s.log
	}
	r.consent = NewConsent(meetingID, opts.Clock)
	return r, nil
}

// Indicator returns the current state.
func (r *Recorder) Indicator() Indicator { return r.consent.Indicator() }

// ConsentRecord returns the consent record so far.
func (r *Recorder) ConsentRecord() Record { return r.consent.Record() }

// Join, Leave, Request, Accept, Refuse, Withdraw and Stop run the consent
// state machine (see Consent), start, pause or stop the track writers to
// match, seal the consent record into the recording and call OnChange.

// Join adds a present participant.
func (r *Recorder) Join(id string, role Role) (Indicator, error) {
	return r.do(func() (Indicator, error) { return r.consent.Join(id, role) })
}

// Leave removes a participant.
func (r *Recorder) Leave(id string) (Indicator, error) {
	return r.do(func() (Indicator, error) { return r.consent.Leave(id) })
}

// Request asks to record (advisor).
func (r *Recorder) Request(by string) (Indicator, error) {
	return r.do(func() (Indicator, error) { return r.consent.Request(by) })
}

// Accept records a customer's consent.
func (r *Recorder) Accept(by string) (Indicator, error) {
	return r.do(func() (Indicator, error) { return r.consent.Accept(by) })
}

// Refuse records a customer's refusal; the request ends.
func (r *Recorder) Refuse(by string) (Indicator, error) {
	return r.do(func() (Indicator, error) { return r.consent.Refuse(by) })
}

// Withdraw records a customer withdrawing consent; recording stops.
func (r *Recorder) Withdraw(by string) (Indicator, error) {
	return r.do(func() (Indicator, error) { return r.consent.Withdraw(by) })
}

// Stop ends the request (advisor).
func (r *Recorder) Stop(by string) (Indicator, error) {
	return r.do(func() (Indicator, error) { return r.consent.Stop(by) })
}

// ErrRecorderClosed: the recorder was closed.
var ErrRecorderClosed = errors.New("recording: recorder closed")

func (r *Recorder) do(fn func() (Indicator, error)) (Indicator, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return Indicator{}, ErrRecorderClosed
	}
	before := r.consent.Indicator().Seq
	in, err := fn()
	if err != nil || in.Seq == before {
		r.mu.Unlock()
		return in, err
	}
	r.apply(in)
	perr := r.saveConsent()
	r.mu.Unlock()
	if r.opts.OnChange != nil {
		r.opts.OnChange(in)
	}
	r.log.Info("recording: consent state", "meeting_id", r.meetingID, "phase", in.Phase, "request", in.Request, "seq", in.Seq)
	return in, perr
}

// apply brings every track in line with the indicator. r.mu is held.
func (r *Recorder) apply(in Indicator) {
	r.phase, r.req = in.Phase, in.Request
	for t := range r.tracks {
		t.apply(in.Phase, in.Request)
	}
}

func (r *Recorder) saveConsent() error {
	b, err := json.MarshalIndent(r.consent.Record(), "", "  ")
	if err != nil {
		return fmt.Errorf("recording: encoding consent record: %w", err)
	}
	return writeSealedFile(filepath.Join(r.s.Dir(r.meetingID), string(PartConsent)+".json"+SealedExt), r.s.key, b)
}

// AddTrack registers a published track. The returned Track takes the
// track's packets (Sink) and records them while the consent state allows.
// requestKeyframe, if not nil, is called when a video file needs a
// keyframe; the SFU sends the publisher a PLI.
func (r *Recorder) AddTrack(info TrackInfo, requestKeyframe func()) (*Track, error) {
	if !strings.EqualFold(info.MimeType, MimeVP8) && !strings.EqualFold(info.MimeType, MimeOpus) {
		return nil, fmt.Errorf("%w: %.40q", ErrUnsupportedCodec, info.MimeType)
	}
	t := &Track{r: r, info: info, keyframe: requestKeyframe, ch: make(chan queued, r.opts.Queue), quit: make(chan struct{}), stopped: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrRecorderClosed
	}
	r.tracks[t] = struct{}{}
	go t.run()
	t.apply(r.phase, r.req)
	return t, nil
}

// Close stops every track (closing their files), seals the consent record
// and refuses further changes. It does not end the meeting (Store.End).
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	tracks := make([]*Track, 0, len(r.tracks))
	for t := range r.tracks {
		tracks = append(tracks, t)
	}
	r.mu.Unlock()
	var errs []error
	for _, t := range tracks {
		errs = append(errs, t.Close())
	}
	r.mu.Lock()
	errs = append(errs, r.saveConsent())
	r.mu.Unlock()
	return errors.Join(errs...)
}

// queued is a packet waiting for the disk, tagged with the request it was
// received under, or a flush marker.
type queued struct {
	p     *rtp.Packet
	req   int
	flush chan error
}

// Track is a published track of a recorded meeting.
type Track struct {
	r        *Recorder
	info     TrackInfo
	keyframe func()
	ch       chan queued
	quit     chan struct{}
	stopped  chan struct{}
	active   atomic.Int64 // request number being recorded, 0 when none
	dropped  atomic.Uint64
	resync   atomic.Bool

	mu      sync.Mutex
	w       *TrackWriter
	wreq    int
	files   []string
	closed  bool
	lastErr error
	lastSR  *NTPMapping // the latest sender report, for the next file
}

// apply follows the consent phase. The caller holds r.mu.
func (t *Track) apply(p Phase, req int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	switch p {
	case PhaseRecording:
		if t.w != nil && t.wreq != req {
			t.closeWriter()
		}
		if t.w == nil {
			w, err := t.newWriter(req)
			if err != nil {
				t.lastErr = err
				t.r.log.Error("recording: starting track writer failed", "meeting_id", t.r.meetingID, "participant_id", t.info.ParticipantID, "error", err)
				t.active.Store(0)
				return
			}
			t.w, t.wreq = w, req
			if t.lastSR != nil {
				w.SenderReport(t.lastSR.NTPTime, t.lastSR.RTPTime)
			}
		}
		t.w.Resume()
		t.active.Store(int64(req))
	case PhasePaused, PhasePending:
		t.active.Store(0)
		if t.w != nil {
			t.w.Pause()
		}
	default:
		t.active.Store(0)
		t.closeWriter()
	}
}

func (t *Track) closeWriter() {
	if t.w == nil {
		return
	}
	if err := t.w.Close(); err != nil {
		t.lastErr = err
		t.r.log.Error("recording: closing track file failed", "meeting_id", t.r.meetingID, "participant_id", t.info.ParticipantID, "error", err)
	}
	t.w = nil
}

func (t *Track) newWriter(req int) (*TrackWriter, error) {
	who := t.info.ParticipantID
	if !ids.Valid(who) {
		h := sha256.Sum256([]byte(who))
		who = hex.EncodeToString(h[:8])
	}
	kind := "audio"
	if strings.EqualFold(t.info.MimeType, MimeVP8) {
		kind = "video"
	}
	name := "r" + strconv.Itoa(req) + "-" + who + "-" + kind + "-" + ids.New()[:8]
	t.files = append(t.files, name)
	return NewTrackWriter(t.info, TrackOptions{
		Dir: filepath.Join(t.r.s.Dir(t.r.meetingID), mediaDir), Name: name, MeetingID: t.r.meetingID,
		Key: t.r.s.key, Clock: t.r.opts.Clock, Logger: t.r.log, RequestKeyframe: t.keyframe, FlushEvery: t.r.opts.FlushEvery,
	})
}

// WriteRTP queues a packet for recording, without blocking: while nothing
// is recorded it returns at once; when the queue is full the packet is
// dropped (see Dropped).
func (t *Track) WriteRTP(p *rtp.Packet) error {
	req := t.active.Load()
	if req == 0 || p == nil {
		return nil
	}
	select {
	case t.ch <- queued{p: p.Clone(), req: int(req)}:
	default:
		t.dropped.Add(1)
		t.resync.Store(true)
	}
	return nil
}

// Dropped counts packets dropped because the disk fell behind.
func (t *Track) Dropped() uint64 { return t.dropped.Load() }

// SenderReport passes the publisher's RTCP sender report (NTP and RTP
// time) to the current file's sidecar; the latest one also goes to the
// next file the track starts, so that a file begun between two reports
// has a mapping from the start. The SFU calls it for every sender report
// of the recorded encoding.
func (t *Track) SenderReport(ntpTime uint64, rtpTime uint32) {
	if ntpTime == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	m := ntpMapping(ntpTime, rtpTime)
	t.lastSR = &m
	if t.w != nil {
		t.w.SenderReport(ntpTime, rtpTime)
	}
}

// Flush waits until the packets queued so far are written and seals them
// to disk.
func (t *Track) Flush() error {
	done := make(chan error, 1)
	select {
	case t.ch <- queued{flush: done}:
	case <-t.stopped:
		return ErrClosed
	}
	select {
	case err := <-done:
		return err
	case <-t.stopped:
		return ErrClosed
	}
}

// Files returns the base names of the files this track has started, in
// order (one per request it recorded in).
func (t *Track) Files() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.files...)
}

// Writer returns the current track writer, nil when none is open.
func (t *Track) Writer() *TrackWriter {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.w
}

func (t *Track) run() {
	defer close(t.stopped)
	for {
		select {
		case <-t.quit:
			return
		case q := <-t.ch:
			t.mu.Lock()
			w := t.w
			if q.flush != nil {
				var err error
				if w != nil {
					err = w.Flush()
				}
				t.mu.Unlock()
				q.flush <- err
				continue
			}
			if w == nil || t.wreq != q.req {
				t.mu.Unlock()
				continue
			}
			if t.resync.Swap(false) {
				w.resync()
			}
			err := w.WriteRTP(q.p)
			if err != nil && !errors.Is(err, ErrClosed) {
				t.lastErr = err
				t.active.Store(0)
			}
			t.mu.Unlock()
		}
	}
}

// Close stops recording the track (the publisher unpublished it) and
// closes its file.
func (t *Track) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.active.Store(0)
	t.mu.Unlock()
	close(t.quit)
	<-t.stopped
	t.mu.Lock()
	t.closeWriter()
	err := t.lastErr
	t.mu.Unlock()
	t.r.mu.Lock()
	delete(t.r.tracks, t)
	t.r.mu.Unlock()
	return err
}
