package recording

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/retention"
	"parley/relay/store"
)

// Part is a kind of artefact kept with a recording besides its media.
type Part string

// Parts. Chat, metadata and consent are single JSON files; the others are
// folders of files.
const (
	PartFiles      Part = "files"      // files exchanged in the meeting
	PartWhiteboard Part = "whiteboard" // whiteboard snapshots (PNG)
	PartSignatures Part = "signatures" // signed PDFs
	PartChat       Part = "chat"       // the chat as a JSON array of ChatLine
	PartMetadata   Part = "metadata"   // the meeting metadata (JSON)
	PartConsent    Part = "consent"    // the consent record (JSON)
)

const mediaDir = "media"

// folder reports whether p is a folder of files, and whether it is known.
func (p Part) folder() (folder, ok bool) {
	switch p {
	case PartFiles, PartWhiteboard, PartSignatures:
		return true, true
	case PartChat, PartMetadata, PartConsent:
		return false, true
	}
	return false, false
}

// Errors of the Store; check with errors.Is.
var (
	// ErrInvalidMeeting: a meeting id that is not a relay id.
	ErrInvalidMeeting = errors.New("recording: invalid meeting id")
	// ErrUnknownMeeting: no recording was begun for the meeting.
	ErrUnknownMeeting = errors.New("recording: no recording for this meeting")
	// ErrInvalidPart: an unknown Part, or a file for a single-file part.
	ErrInvalidPart = errors.New("recording: invalid part")
	// ErrTooLarge: a JSON part larger than MaxJSONPart.
	ErrTooLarge = errors.New("recording: part too large")
)

// MaxJSONPart bounds the chat, metadata and consent files, which are read
// whole into memory when an archive is built.
const MaxJSONPart = 64 << 20

// Options configure a Store.
type Options struct {
	// Dir is the folder that holds one sub-folder per meeting (e.g.
	// DataDir/recordings); created 0700 if missing. Required.
	Dir string
	// Key seals every file (32 bytes; the relay's store key, from which
	// each file's key is derived with HKDF and a random salt). Required.
	Key []byte
	// KV holds the index of meetings with their end times. Required.
	KV store.KV
	// Clock stamps the index and the sidecars; nil means the real clock.
	Clock clock.Clock
	// Logger receives ids only; nil discards.
	Logger *slog.Logger
	// Period returns a tenant's retention period for recordings; nil (or
	// a zero result) means retention.ClassRecording's default, 180 days.
	// An error keeps the tenant's archives for this sweep.
	Period func(ctx context.Context, tenantID string) (time.Duration, error)
}

// Store keeps recordings on disk, one folder per meeting, every file
// sealed (see OpenSealed), and an index of meetings in a store.KV for the
// retention sweep.
type Store struct {
	dir    string
	key    []byte
	kv     store.KV
	clock  clock.Clock
	log    *slog.Logger
	period func(ctx context.Context, tenantID string) (time.Duration, error)
	def    time.Duration
}

// NewStore returns a Store, creating Dir.
func NewStore(opts Options) (*Store, error) {
	if opts.Dir == "" || opts.KV == nil || len(opts.Key) != 32 {
		return nil, errors.New("recording: Options.Dir, Options.KV and a 32-byte Options.Key are required")
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("recording: creating folder: %w", err)
	}
	c, ok := retention.Lookup(retention.ClassRecording)
	if !ok {
		return nil, errors.New("recording: retention class missing")
	}
	s := &Store{dir: opts.Dir, key: bytes.Clone(opts.Key), kv: opts.KV, clock: clock.Or(opts.Clock), log: opts.Logger, period: opts.Period, def: c.Period}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// indexEntry is the index record of a meeting's recording.
type indexEntry struct {
	MeetingID string    `json:"meeting_id"`
	TenantID  string    `json:"tenant_id"`
	Begun     time.Time `json:"begun"`
	Ended     time.Time `json:"ended,omitzero"`
	// EndedBy is "" (the meeting ended: End) or endedByInterrupt.
	EndedBy      string         `json:"ended_by,omitempty"`
	Interrupted  []Interruption `json:"interrupted,omitempty"`
	ArtefactsDue bool           `json:"artefacts_due,omitempty"`
}

const endedByInterrupt = "interrupt"

// maxInterruptions bounds the interruptions kept per recording.
const maxInterruptions = 100

// ReasonRestart is the Interruption.Reason of a recording whose relay
// stopped (or crashed) while the meeting was running.
const ReasonRestart = "interrupted by a relay restart"

// Interruption records that a recording was cut off without its meeting
// ending (the relay stopped or crashed), and what end it was given.
type Interruption struct {
	// At is when the relay found the recording interrupted (relay clock).
	At time.Time `json:"at"`
	// LastWrite is the end given to the recording: when its files were
	// last written.
	LastWrite time.Time `json:"last_write"`
	// Reason says why (ReasonRestart).
	Reason string `json:"reason"`
}

// Info is what the index holds about a meeting's recording (ids and
// times only).
type Info struct {
	// MeetingID is the meeting.
	MeetingID string
	// TenantID is the meeting's tenant.
	TenantID string
	// Begun is when the recording was begun.
	Begun time.Time
	// Ended is when the retention period started: the meeting's end, or
	// the last write of an interrupted recording; zero while it runs.
	Ended time.Time
	// EndedByInterruption reports that Ended comes from Interrupt, not
	// from the meeting's end; a new Begin (the meeting is live again)
	// clears Ended.
	EndedByInterruption bool
	// Interrupted lists the interruptions, oldest first.
	Interrupted []Interruption
	// ArtefactsDue reports that the meeting's artefacts (chat, files,
	// whiteboard, metadata) have not been sealed in since an
	// interruption; see ArtefactsKept.
	ArtefactsDue bool
}

func (e indexEntry) info() Info {
	return Info{MeetingID: e.MeetingID, TenantID: e.TenantID, Begun: e.Begun, Ended: e.Ended,
		EndedByInterruption: e.EndedBy == endedByInterrupt, Interrupted: slices.Clone(e.Interrupted), ArtefactsDue: e.ArtefactsDue}
}

const indexPrefix = "recording/meeting/"

func indexKey(meetingID string) []byte { return []byte(indexPrefix + meetingID) }

// Dir returns the folder of a meeting's recording.
func (s *Store) Dir(meetingID string) string { return filepath.Join(s.dir, meetingID) }

// Begin registers a meeting's recording in the index and creates its
// folder. It is idempotent. A recording that Interrupt ended is running
// again afterwards (its meeting is live again): its end is cleared, its
// interruptions are kept.
func (s *Store) Begin(ctx context.Context, tenantID, meetingID string) error {
	if !ids.Valid(meetingID) {
		return ErrInvalidMeeting
	}
	if tenantID == "" || len(tenantID) > 128 {
		return errors.New("recording: invalid tenant id")
	}
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		e, err := getIndex(tx, meetingID)
		switch {
		case err == nil && e.EndedBy != endedByInterrupt:
			return nil
		case err == nil:
			e.Ended, e.EndedBy = time.Time{}, ""
		case errors.Is(err, ErrUnknownMeeting):
			e = indexEntry{MeetingID: meetingID, TenantID: tenantID, Begun: s.clock.Now().UTC()}
		default:
			return err
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return tx.Set(indexKey(meetingID), b)
	})
	if err != nil {
		return fmt.Errorf("recording: begin: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir(meetingID), mediaDir), 0o700); err != nil {
		return fmt.Errorf("recording: creating meeting folder: %w", err)
	}
	return nil
}

// End records the meeting's end: the retention period runs from it. A
// second call keeps the first end.
func (s *Store) End(ctx context.Context, meetingID string) error {
	if !ids.Valid(meetingID) {
		return ErrInvalidMeeting
	}
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		e, err := getIndex(tx, meetingID)
		if err != nil {
			return err
		}
		if !e.Ended.IsZero() {
			return nil
		}
		e.Ended = s.clock.Now().UTC()
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return tx.Set(indexKey(meetingID), b)
	})
	if err != nil {
		return fmt.Errorf("recording: end: %w", err)
	}
	return nil
}

// Info returns the index entry of a meeting's recording
// (ErrUnknownMeeting if none).
func (s *Store) Info(ctx context.Context, meetingID string) (Info, error) {
	if !ids.Valid(meetingID) {
		return Info{}, ErrInvalidMeeting
	}
	var e indexEntry
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		e, err = getIndex(tx, meetingID)
		return err
	})
	if err != nil {
		return Info{}, fmt.Errorf("recording: info: %w", err)
	}
	return e.info(), nil
}

// List returns every indexed recording, in meeting id order.
func (s *Store) List(ctx context.Context) ([]Info, error) {
	entries, err := s.entries(ctx)
	if err != nil {
		return nil, fmt.Errorf("recording: list: %w", err)
	}
	out := make([]Info, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.info())
	}
	return out, nil
}

func (s *Store) entries(ctx context.Context) ([]indexEntry, error) {
	var entries []indexEntry
	err := s.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(indexPrefix), func(_, v []byte) error {
			var e indexEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("index entry: %w", err)
			}
			entries = append(entries, e)
			return nil
		})
	})
	return entries, err
}

// recordingFile is the sealed file, beside the media, that lists a
// recording's interruptions; the archive's metadata.json carries it under
// "recording".
const recordingFile = "recording.json"

// RecordingNote is what the archive's metadata.json holds under
// "recording" when the recording was interrupted.
type RecordingNote struct {
	// Interrupted lists the interruptions, oldest first.
	Interrupted []Interruption `json:"interrupted"`
}

// Interrupt ends a recording that was cut off while its meeting ran (the
// relay stopped or crashed; the caller knows no recorder of this process
// writes it): its end becomes the last write, so that the retention
// period runs, and the interruption is recorded in the index and, sealed,
// in the recording's folder (the archive's metadata). A recording that
// has an end already is left as it is. It returns the entry.
//
// The last write is the newest modification time of the recording's
// files, translated to the store's clock by its age (the same on the real
// clock); never before Begun nor after now. Without files it is Begun.
func (s *Store) Interrupt(ctx context.Context, meetingID, reason string) (Info, error) {
	if !ids.Valid(meetingID) {
		return Info{}, ErrInvalidMeeting
	}
	now := s.clock.Now().UTC()
	age, haveFiles, err := s.lastWriteAge(meetingID)
	if err != nil {
		return Info{}, fmt.Errorf("recording: interrupt: %w", err)
	}
	var out indexEntry
	changed := false
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		e, err := getIndex(tx, meetingID)
		if err != nil {
			return err
		}
		out = e
		if !e.Ended.IsZero() {
			return nil
		}
		end := e.Begun
		if haveFiles {
			end = now.Add(-age)
		}
		if end.Before(e.Begun) {
			end = e.Begun
		}
		if end.After(now) {
			end = now
		}
		e.Ended, e.EndedBy, e.ArtefactsDue = end, endedByInterrupt, true
		e.Interrupted = append(e.Interrupted, Interruption{At: now, LastWrite: end, Reason: reason})
		if len(e.Interrupted) > maxInterruptions {
			e.Interrupted = e.Interrupted[len(e.Interrupted)-maxInterruptions:]
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		out, changed = e, true
		return tx.Set(indexKey(meetingID), b)
	})
	if err != nil {
		return Info{}, fmt.Errorf("recording: interrupt: %w", err)
	}
	if changed {
		if _, err := os.Stat(s.Dir(meetingID)); err == nil {
			b, err := json.MarshalIndent(RecordingNote{Interrupted: out.Interrupted}, "", "  ")
			if err == nil {
				err = writeSealedFile(filepath.Join(s.Dir(meetingID), recordingFile+SealedExt), s.key, b)
			}
			if err != nil {
				return out.info(), fmt.Errorf("recording: interrupt: %w", err)
			}
		}
		s.log.Info("recording: interrupted recording ended at its last write", "meeting_id", meetingID, "ended", out.Ended)
	}
	return out.info(), nil
}

// lastWriteAge is how long ago the newest file of the meeting's folder
// was modified, and whether it has files.
func (s *Store) lastWriteAge(meetingID string) (time.Duration, bool, error) {
	var newest time.Time
	err := filepath.WalkDir(s.Dir(meetingID), func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		return nil
	})
	if err != nil || newest.IsZero() {
		return 0, false, err
	}
	age := time.Since(newest)
	if age < 0 {
		age = 0
	}
	return age, true, nil
}

// ArtefactsKept records that the meeting's artefacts were sealed in after
// an interruption.
func (s *Store) ArtefactsKept(ctx context.Context, meetingID string) error {
	if !ids.Valid(meetingID) {
		return ErrInvalidMeeting
	}
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		e, err := getIndex(tx, meetingID)
		if err != nil || !e.ArtefactsDue {
			return err
		}
		e.ArtefactsDue = false
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return tx.Set(indexKey(meetingID), b)
	})
	if err != nil {
		return fmt.Errorf("recording: artefacts kept: %w", err)
	}
	return nil
}

// ClearPart deletes the files of a folder part (files, whiteboard,
// signatures) of a meeting's recording, before they are sealed in anew
// (a meeting recorded again after an interruption).
func (s *Store) ClearPart(ctx context.Context, meetingID string, part Part) error {
	folder, ok := part.folder()
	if !ok || !folder {
		return ErrInvalidPart
	}
	if err := s.begun(ctx, meetingID); err != nil {
		return fmt.Errorf("recording: clear part: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(s.Dir(meetingID), string(part))); err != nil {
		return fmt.Errorf("recording: clear part: %w", err)
	}
	return nil
}

func getIndex(tx store.Txn, meetingID string) (indexEntry, error) {
	var e indexEntry
	b, err := tx.Get(indexKey(meetingID))
	if errors.Is(err, store.ErrNotFound) {
		return e, ErrUnknownMeeting
	}
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("recording: index entry: %w", err)
	}
	return e, nil
}

func (s *Store) begun(ctx context.Context, meetingID string) error {
	if !ids.Valid(meetingID) {
		return ErrInvalidMeeting
	}
	return s.kv.View(ctx, func(tx store.Txn) error {
		_, err := getIndex(tx, meetingID)
		return err
	})
}

// Put seals an artefact into a begun meeting's recording: a file of a
// folder part (files, whiteboard, signatures) under a safe version of
// name (see SafeFileName; a taken name gets a counter), or the single
// file of a JSON part (chat, metadata, consent; name is ignored, the file
// is replaced, and it may hold at most MaxJSONPart bytes). It returns the
// stored name.
func (s *Store) Put(ctx context.Context, meetingID string, part Part, name string, r io.Reader) (string, error) {
	folder, ok := part.folder()
	if !ok {
		return "", ErrInvalidPart
	}
	if err := s.begun(ctx, meetingID); err != nil {
		return "", fmt.Errorf("recording: put: %w", err)
	}
	if !folder {
		b, err := io.ReadAll(io.LimitReader(r, MaxJSONPart+1))
		if err != nil {
			return "", fmt.Errorf("recording: put %s: %w", part, err)
		}
		if len(b) > MaxJSONPart {
			return "", fmt.Errorf("recording: put %s: %w", part, ErrTooLarge)
		}
		if !json.Valid(b) {
			return "", fmt.Errorf("recording: put %s: not JSON: %w", part, ErrInvalidPart)
		}
		name := string(part) + ".json"
		if err := writeSealedFile(filepath.Join(s.Dir(meetingID), name+SealedExt), s.key, b); err != nil {
			return "", err
		}
		return name, nil
	}
	dir := filepath.Join(s.Dir(meetingID), string(part))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("recording: put: %w", err)
	}
	base := SafeFileName(name)
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	for i := 1; ; i++ {
		cand := base
		if i > 1 {
			cand = stem + "-" + strconv.Itoa(i) + ext
		}
		f, err := os.OpenFile(filepath.Join(dir, cand+SealedExt), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) && i < 1000 {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("recording: put: %w", err)
		}
		sw, err := newSealWriter(syncCloser{f}, s.key)
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			return "", err
		}
		_, err = io.Copy(sw, ctxReader{ctx, r})
		err = errors.Join(err, sw.Close())
		if err != nil {
			os.Remove(f.Name())
			return "", fmt.Errorf("recording: put: %w", err)
		}
		return cand, nil
	}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Source returns the archive source of a begun meeting's recording, read
// from its sealed files. Media files still being written (or left
// incomplete by a crash) contribute what was sealed so far.
func (s *Store) Source(ctx context.Context, meetingID string) (Source, error) {
	if err := s.begun(ctx, meetingID); err != nil {
		return nil, fmt.Errorf("recording: source: %w", err)
	}
	return dirSource{s: s, dir: s.Dir(meetingID)}, nil
}

type dirSource struct {
	s   *Store
	dir string
}

func (d dirSource) items(sub string) ([]Item, error) {
	dir := filepath.Join(d.dir, sub)
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, de := range des {
		name := de.Name()
		if !de.Type().IsRegular() || !strings.HasSuffix(name, SealedExt) {
			continue
		}
		p := filepath.Join(dir, name)
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		size, err := SealedSize(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, Item{Name: strings.TrimSuffix(name, SealedExt), Size: size, Open: func(context.Context) (io.ReadCloser, error) {
			return d.s.openSealed(p)
		}})
	}
	slices.SortFunc(out, func(a, b Item) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// sealedFile reads a sealed file's plaintext; an incomplete file ends
// where its sealed chunks end.
type sealedFile struct {
	f *os.File
	r *SealReader
}

func (s sealedFile) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if errors.Is(err, ErrIncomplete) {
		err = io.EOF
	}
	return n, err
}

func (s sealedFile) Close() error { return s.f.Close() }

func (s *Store) openSealed(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := OpenSealed(f, s.key)
	if err != nil {
		f.Close()
		return nil, err
	}
	return sealedFile{f, r}, nil
}

func (d dirSource) json(part Part) ([]byte, error) {
	rc, err := d.s.openSealed(filepath.Join(d.dir, string(part)+".json"+SealedExt))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxJSONPart+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxJSONPart {
		return nil, ErrTooLarge
	}
	return b, nil
}

func (d dirSource) Media(context.Context) ([]Item, error) { return d.items(mediaDir) }
func (d dirSource) Files(context.Context) ([]Item, error) { return d.items(string(PartFiles)) }
func (d dirSource) Whiteboard(context.Context) ([]Item, error) {
	return d.items(string(PartWhiteboard))
}
func (d dirSource) Signatures(context.Context) ([]Item, error) {
	return d.items(string(PartSignatures))
}

// Metadata is the meeting's metadata with, under "recording", the
// recording's interruptions if there were any.
func (d dirSource) Metadata(context.Context) ([]byte, error) {
	md, err := d.json(PartMetadata)
	if err != nil {
		return nil, err
	}
	note, err := d.json(Part(strings.TrimSuffix(recordingFile, ".json")))
	if err != nil || note == nil {
		return md, err
	}
	obj := map[string]json.RawMessage{}
	if md != nil {
		if err := json.Unmarshal(md, &obj); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
	}
	obj["recording"] = note
	return json.MarshalIndent(obj, "", "  ")
}
func (d dirSource) Consent(context.Context) ([]byte, error) { return d.json(PartConsent) }

func (d dirSource) Chat(context.Context) ([]ChatLine, error) {
	b, err := d.json(PartChat)
	if err != nil || b == nil {
		return nil, err
	}
	var lines []ChatLine
	if err := json.Unmarshal(b, &lines); err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	return lines, nil
}

// HeldFunc reports whether a legal hold keeps a tenant's meeting (for
// example retention.Policy.Held with retention.SubjectMeeting). It should
// answer true when it cannot tell.
type HeldFunc func(ctx context.Context, tenantID, meetingID string) bool

// SweepResult counts what a sweep did.
type SweepResult struct {
	// Deleted lists the meetings whose recordings were deleted.
	Deleted []string
	// Held counts due recordings kept by a legal hold.
	Held int
	// NotEnded counts recordings of meetings without a recorded end
	// (kept; their period has not started).
	NotEnded int
	// Failed counts due recordings that could not be deleted (retried at
	// the next sweep).
	Failed int
}

// Sweep deletes the recordings (the whole meeting folder, then the index
// entry) of meetings that ended at least their tenant's retention period
// before now and are not held. It deletes nothing without an index entry
// and an end time: a folder the index does not know is never touched.
func (s *Store) Sweep(ctx context.Context, now time.Time, held HeldFunc) (SweepResult, error) {
	var res SweepResult
	entries, err := s.entries(ctx)
	if err != nil {
		return res, fmt.Errorf("recording: sweep: reading index: %w", err)
	}
	periods := map[string]time.Duration{}
	var errs []error
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if e.Ended.IsZero() {
			res.NotEnded++
			continue
		}
		if !ids.Valid(e.MeetingID) {
			res.Failed++
			continue
		}
		p, ok := periods[e.TenantID]
		if !ok {
			p = s.def
			if s.period != nil {
				q, err := s.period(ctx, e.TenantID)
				if err != nil {
					s.log.Error("recording: sweep: reading retention period failed; keeping", "tenant_id", e.TenantID, "error", err)
					p = -1
				} else if q > 0 {
					p = q
				}
			}
			periods[e.TenantID] = p
		}
		if p < 0 || now.Before(e.Ended.Add(p)) {
			continue
		}
		if held != nil && held(ctx, e.TenantID, e.MeetingID) {
			res.Held++
			continue
		}
		if err := os.RemoveAll(s.Dir(e.MeetingID)); err != nil {
			res.Failed++
			errs = append(errs, err)
			s.log.Error("recording: sweep: deleting folder failed", "meeting_id", e.MeetingID, "error", err)
			continue
		}
		err := s.kv.Update(ctx, func(tx store.Txn) error { return tx.Delete(indexKey(e.MeetingID)) })
		if err != nil {
			res.Failed++
			errs = append(errs, err)
			continue
		}
		res.Deleted = append(res.Deleted, e.MeetingID)
		s.log.Info("recording: archive deleted", "meeting_id", e.MeetingID, "tenant_id", e.TenantID, "class", retention.ClassRecording)
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("recording: sweep: %w", errors.Join(errs...))
	}
	return res, nil
}
