package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"parley/relay/api"
	"parley/relay/audit"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/meeting"
	"parley/relay/pdfrender"
	"parley/relay/privacy"
	"parley/relay/recording"
	"parley/relay/retention"
	"parley/relay/whiteboard"
)

// RecordingsDir is the folder under the data folder that holds one sealed
// folder per recorded meeting (package recording).
const RecordingsDir = "recordings"

// Whiteboard pages go into the archive at this size.
const (
	archivePageWidth  = 1280
	archivePageHeight = 720
)

// recordingActor is the user id the recording wiring reads meetings as.
const recordingActor = "recording"

// SignatureSource adds a meeting's signed documents to its recording at
// the meeting's end (the e-signature service, once signatures in a
// meeting exist): put stores one PDF under a name.
type SignatureSource func(ctx context.Context, meetingID string, put func(name string, r io.Reader) error) error

// recordings is the relay's recording wiring: it opens a meeting's
// recorder when its advisor first asks to record (signal.Recordings),
// seals the meeting's chat, files, whiteboard pages, signed documents and
// metadata into the recording when the meeting ends, serves the session
// archive (api.Recordings), sweeps archives 180 days after their meeting
// (the tenant's period; legal holds on the meeting or its customer keep
// them) and deletes them when a linked customer is erased.
type recordings struct {
	store      *recording.Store
	meetings   *meeting.Service
	chat       *chat.Service       // nil: no chat or files to keep
	boards     *whiteboard.Service // nil: no whiteboard pages
	policy     *retention.Policy   // nil: default period, no holds
	signatures SignatureSource     // nil: none
	// pages returns the page renderer (nil: document backgrounds are not
	// drawn). A function because the relay starts it after the recordings;
	// it is called only from goroutines started after the relay started.
	pages func() *pdfrender.Renderer
	clock clock.Clock
	log   *slog.Logger

	mu     sync.Mutex
	live   map[string]*liveRecording
	closed bool
	wg     sync.WaitGroup
}

// liveRecording is a meeting's open recorder and the watch on its end.
type liveRecording struct {
	rec    *recording.Recorder
	unsub  func()
	ending bool // finish is sealing the artefacts in; guarded by recordings.mu
}

// startRecordings opens the recordings store under the data folder,
// sealed with the store key.
func (s *Server) startRecordings(dataDir string, key []byte, meetings *meeting.Service) error {
	rs := &recordings{meetings: meetings, chat: s.chat, boards: s.whiteboard, policy: s.retention, clock: s.clock,
		log: s.log.With("component", "recording"), live: map[string]*liveRecording{},
		pages: func() *pdfrender.Renderer { return s.pages }}
	st, err := recording.NewStore(recording.Options{Dir: filepath.Join(dataDir, RecordingsDir), Key: key, KV: s.store,
		Clock: s.clock, Logger: rs.log, Period: rs.period})
	if err != nil {
		return fmt.Errorf("server: recordings: %w", err)
	}
	rs.store = st
	s.recordings = rs
	// No recorder runs yet: every recording without an end was cut off
	// when the relay stopped. The first sweep seals their artefacts in.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := rs.interruptStale(ctx); err != nil {
		rs.log.Error("recording: ending interrupted recordings failed; the sweep retries", "error", err)
	}
	return nil
}

// interruptStale ends every recording without an end that no recorder of
// this relay writes (its relay stopped or crashed while the meeting ran,
// or an erasure closed it): it ends at its last write and is marked
// interrupted (recording.Store.Interrupt), so that its retention period
// runs. A meeting that is live again gets a new recorder, which reopens
// it.
func (rs *recordings) interruptStale(ctx context.Context) error {
	list, err := rs.store.List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, in := range list {
		if !in.Ended.IsZero() {
			continue
		}
		// Under rs.mu: Recorder cannot begin the meeting anew meanwhile.
		rs.mu.Lock()
		if rs.live[in.MeetingID] == nil && !rs.closed {
			if _, err := rs.store.Interrupt(ctx, in.MeetingID, recording.ReasonRestart); err != nil {
				errs = append(errs, err)
			}
		}
		rs.mu.Unlock()
	}
	return errors.Join(errs...)
}

// recover ends stale recordings (interruptStale) and seals the artefacts
// of interrupted ones that have media into them, as the meeting's end
// would have.
func (rs *recordings) recover(ctx context.Context) error {
	errs := []error{rs.interruptStale(ctx)}
	list, err := rs.store.List(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, in := range list {
		if !in.ArtefactsDue || in.Ended.IsZero() {
			continue
		}
		rs.mu.Lock()
		live := rs.live[in.MeetingID] != nil
		rs.mu.Unlock()
		if live {
			continue
		}
		if err := rs.sealArtefacts(ctx, in.MeetingID); err != nil {
			errs = append(errs, fmt.Errorf("meeting %s: %w", in.MeetingID, err))
			continue
		}
		errs = append(errs, rs.store.ArtefactsKept(ctx, in.MeetingID))
	}
	return errors.Join(errs...)
}

// sealArtefacts seals the meeting's artefacts into its recording if it
// has media.
func (rs *recordings) sealArtefacts(ctx context.Context, meetingID string) error {
	src, err := rs.store.Source(ctx, meetingID)
	if err != nil {
		return err
	}
	media, err := src.Media(ctx)
	if err != nil || len(media) == 0 {
		return err
	}
	return rs.keepArtefacts(ctx, meetingID)
}

// period is a tenant's retention period for recording archives.
func (rs *recordings) period(ctx context.Context, tenantID string) (time.Duration, error) {
	if rs.policy == nil {
		return 0, nil
	}
	r, err := rs.policy.Effective(ctx, tenantID, retention.ClassRecording)
	if err != nil {
		return 0, err
	}
	return r.Period, nil
}

// errMeetingOver: a recorder was asked for a meeting that has ended.
var errMeetingOver = errors.New("server: recording: the meeting has ended")

// Recorder implements signal.Recordings: the meeting's open recorder, or,
// with create, a new one (the meeting's recording begins in the store,
// and its end is watched for).
func (rs *recordings) Recorder(ctx context.Context, meetingID string, create bool) (*recording.Recorder, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if l := rs.live[meetingID]; l != nil || !create || rs.closed {
		switch {
		case l == nil:
			return nil, nil
		case l.ending:
			return nil, errMeetingOver
		}
		return l.rec, nil
	}
	md, err := rs.meetings.MetadataOf(ctx, meetingID)
	if err != nil {
		return nil, fmt.Errorf("server: recording: meeting %s: %w", meetingID, err)
	}
	if !md.Ended.IsZero() {
		return nil, errMeetingOver
	}
	rec, err := rs.store.NewRecorder(ctx, md.TenantID, meetingID, recording.RecorderOptions{Clock: rs.clock, Logger: rs.log})
	if err != nil {
		return nil, err
	}
	events, unsub := rs.meetings.Subscribe(meetingID)
	rs.live[meetingID] = &liveRecording{rec: rec, unsub: unsub}
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		rs.watch(md.TenantID, meetingID, events)
	}()
	rs.log.Info("recording: recorder opened", "meeting_id", meetingID, "tenant_id", md.TenantID)
	return rec, nil
}

// watch finishes the meeting's recording when the meeting ends (or, after
// missed events, when a re-read shows it ended). It returns when the
// subscription ends.
func (rs *recordings) watch(tenantID, meetingID string, events <-chan meeting.Event) {
	for ev := range events {
		if ev.Kind != meeting.EventEnded && !ev.Lagged {
			continue
		}
		if ev.Kind != meeting.EventEnded {
			m, err := rs.meetings.Get(context.Background(), meeting.Actor{TenantID: tenantID, UserID: recordingActor, Admin: true}, meetingID)
			if err != nil || m.Status != meeting.StatusEnded {
				continue
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		if err := rs.finish(ctx, meetingID); err != nil {
			rs.log.Error("recording: finishing failed", "meeting_id", meetingID, "error", err)
		}
		cancel()
	}
}

// take removes the meeting's live recorder and returns it (nil if none).
func (rs *recordings) take(meetingID string) *liveRecording {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	l := rs.live[meetingID]
	delete(rs.live, meetingID)
	return l
}

// ending marks the meeting's live recorder as ending and returns it (nil
// if none or already ending): it stays listed, so that no new recorder
// opens and no archive is built until finish is done.
func (rs *recordings) ending(meetingID string) *liveRecording {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	l := rs.live[meetingID]
	if l == nil || l.ending {
		return nil
	}
	l.ending = true
	return l
}

// finish ends a meeting's recording: the recorder closes its files; if
// any media was recorded, the meeting's chat, files, whiteboard pages,
// signed documents and metadata are sealed in beside it (they are kept
// for the archive's 180 days, while their own copies go after 7); the
// meeting's end starts the retention period.
func (rs *recordings) finish(ctx context.Context, meetingID string) error {
	l := rs.ending(meetingID)
	if l == nil {
		return nil
	}
	defer rs.take(meetingID)
	l.unsub()
	errs := []error{l.rec.Close()}
	err := rs.sealArtefacts(ctx, meetingID)
	if err == nil {
		err = rs.store.ArtefactsKept(ctx, meetingID)
	}
	errs = append(errs, err, rs.store.End(ctx, meetingID))
	rs.log.Info("recording: finished", "meeting_id", meetingID)
	return errors.Join(errs...)
}

// keepArtefacts seals the meeting's chat, files, whiteboard pages, signed
// documents and metadata into its recording, replacing what an earlier
// call sealed in (a meeting recorded again after an interruption).
func (rs *recordings) keepArtefacts(ctx context.Context, meetingID string) error {
	var errs []error
	for _, p := range []recording.Part{recording.PartFiles, recording.PartWhiteboard, recording.PartSignatures} {
		if err := rs.store.ClearPart(ctx, meetingID, p); err != nil {
			return err
		}
	}
	put := func(part recording.Part, name string, r io.Reader) {
		if _, err := rs.store.Put(ctx, meetingID, part, name, r); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", part, err))
		}
	}
	if rs.chat != nil {
		entries, err := rs.chat.Since(ctx, meetingID, 0, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("chat: %w", err))
		}
		lines := make([]recording.ChatLine, 0, len(entries))
		for _, e := range entries {
			lines = append(lines, recording.ChatLine{At: e.Sent, AuthorID: e.From, AuthorRole: e.Role, AuthorName: e.Name, Text: e.Text, File: e.FileName})
			if e.FileName == "" {
				continue
			}
			_, rc, err := rs.chat.OpenFile(ctx, meetingID, e.ID)
			if errors.Is(err, chat.ErrNotFound) {
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("file %s: %w", e.ID, err))
				continue
			}
			put(recording.PartFiles, e.FileName, rc)
			rc.Close()
		}
		if len(lines) > 0 {
			if b, err := json.Marshal(lines); err != nil {
				errs = append(errs, err)
			} else {
				put(recording.PartChat, "", bytes.NewReader(b))
			}
		}
	}
	if rs.boards != nil {
		errs = append(errs, rs.keepBoard(ctx, meetingID, put))
	}
	if rs.signatures != nil {
		errs = append(errs, rs.signatures(ctx, meetingID, func(name string, r io.Reader) error {
			_, err := rs.store.Put(ctx, meetingID, recording.PartSignatures, name, r)
			return err
		}))
	}
	if md, err := rs.meetings.MetadataOf(ctx, meetingID); err == nil {
		if b, err := json.MarshalIndent(md, "", "  "); err == nil {
			put(recording.PartMetadata, "", bytes.NewReader(b))
		}
	} else if !errors.Is(err, meeting.ErrNotFound) {
		errs = append(errs, fmt.Errorf("metadata: %w", err))
	}
	return errors.Join(errs...)
}

// archivedDocument is one entry of the archive's
// whiteboard/documents.json: a file presented on the whiteboard.
type archivedDocument struct {
	// Doc is the file's id (its chat entry).
	Doc string `json:"doc"`
	// File is the file's name (the archive's files/ folder has it).
	File string `json:"file,omitempty"`
	// Pages is the document's page count.
	Pages int `json:"pages"`
	// Shown lists the pages presented, in the order first shown.
	Shown []int `json:"shown"`
	// Images are the whiteboard/ images of its pages with annotations,
	// drawn on the rendered page.
	Images []string `json:"images"`
	// Unrendered lists pages drawn on white because the document could
	// not be rendered (gone, unreadable, or no renderer).
	Unrendered []int `json:"unrendered,omitempty"`
}

// maxArchiveDocument bounds a presented document read for its page
// images (the renderer's own input limit).
const maxArchiveDocument = 32 << 20

// keepBoard renders every whiteboard page with visible objects as a PNG,
// a presented document's page on its rendered page (relay/pdfrender) and
// the blank board's on white, and lists the presented documents with
// their pages in whiteboard/documents.json.
func (rs *recordings) keepBoard(ctx context.Context, meetingID string, put func(recording.Part, string, io.Reader)) error {
	b, err := rs.boards.Open(ctx, meetingID)
	if err != nil {
		return fmt.Errorf("whiteboard: %w", err)
	}
	st, err := b.State(ctx, whiteboard.PageRef{})
	if err != nil {
		return fmt.Errorf("whiteboard: %w", err)
	}
	// The presented documents, from the board's background ops (the state
	// knows only the current one and the annotated pages).
	docs := map[string]*archivedDocument{}
	var order []string
	doc := func(id string, pages int) *archivedDocument {
		d := docs[id]
		if d == nil {
			d = &archivedDocument{Doc: id, Shown: []int{}, Images: []string{}}
			docs[id] = d
			order = append(order, id)
		}
		if pages > d.Pages {
			d.Pages = pages
		}
		return d
	}
	shown := func(d *archivedDocument, page int) {
		if page >= 1 && !slices.Contains(d.Shown, page) {
			d.Shown = append(d.Shown, page)
		}
	}
	for seq := uint64(0); ; {
		ops, err := b.Since(ctx, seq, 0)
		if err != nil {
			break // expired ops: the state's documents only
		}
		for _, op := range ops {
			if op.Kind == whiteboard.KindBackground && op.Doc != "" {
				shown(doc(op.Doc, op.Pages), op.Page)
			}
			seq = op.Seq
		}
		if len(ops) < whiteboard.MaxSince {
			break
		}
	}
	if bg := st.Background; bg.Doc != "" {
		shown(doc(bg.Doc, bg.Pages), bg.Page)
	}
	contents := map[string][]byte{} // documents read, by id
	var renderer *pdfrender.Renderer
	if rs.pages != nil {
		renderer = rs.pages()
	}
	background := func(d *archivedDocument, page int) image.Image {
		data, ok := contents[d.Doc]
		if !ok {
			contents[d.Doc] = nil
			if rs.chat == nil {
				return nil
			}
			e, rc, err := rs.chat.OpenFile(ctx, meetingID, d.Doc)
			if err != nil {
				rs.log.Warn("recording: presented document unavailable", "meeting_id", meetingID, "doc", d.Doc, "error", err)
				return nil
			}
			d.File = e.FileName
			data, err = io.ReadAll(io.LimitReader(rc, maxArchiveDocument+1))
			rc.Close()
			if err != nil || len(data) > maxArchiveDocument {
				rs.log.Warn("recording: presented document unreadable", "meeting_id", meetingID, "doc", d.Doc, "bytes", len(data), "error", err)
				return nil
			}
			contents[d.Doc] = data
		}
		if data == nil || renderer == nil {
			return nil
		}
		img, err := renderer.Render(ctx, data, page, archivePageWidth)
		if err != nil {
			rs.log.Warn("recording: rendering a presented page failed", "meeting_id", meetingID, "doc", d.Doc, "page", page, "error", err)
			return nil
		}
		return img
	}
	for _, p := range st.Pages {
		name := "board-page-" + strconv.Itoa(p.Page) + ".png"
		var bg image.Image
		if p.Doc != "" {
			name = "document-" + p.Doc + "-page-" + strconv.Itoa(p.Page) + ".png"
			d := doc(p.Doc, 0)
			if bg = background(d, p.Page); bg == nil {
				d.Unrendered = append(d.Unrendered, p.Page)
			}
			d.Images = append(d.Images, name)
		}
		img, err := whiteboard.RenderPNG(st, whiteboard.PageRef{Doc: p.Doc, Page: p.Page}, archivePageWidth, archivePageHeight, bg)
		if err != nil {
			return fmt.Errorf("whiteboard page %d: %w", p.Page, err)
		}
		put(recording.PartWhiteboard, name, bytes.NewReader(img))
	}
	if len(order) == 0 {
		return nil
	}
	list := make([]*archivedDocument, 0, len(order))
	for _, id := range order {
		d := docs[id]
		if d.File == "" && rs.chat != nil {
			if e, rc, err := rs.chat.OpenFile(ctx, meetingID, id); err == nil {
				d.File = e.FileName
				rc.Close()
			}
		}
		list = append(list, d)
	}
	j, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	put(recording.PartWhiteboard, "documents.json", bytes.NewReader(j))
	return nil
}

// close closes every open recorder (the relay stops): their files are
// sealed; the meetings are not ended.
func (rs *recordings) close() {
	rs.mu.Lock()
	rs.closed = true
	live := rs.live
	rs.live = map[string]*liveRecording{}
	rs.mu.Unlock()
	for id, l := range live {
		l.unsub()
		if err := l.rec.Close(); err != nil {
			rs.log.Error("recording: closing recorder failed", "meeting_id", id, "error", err)
		}
	}
	rs.wg.Wait()
}

// Archive implements api.Recordings: the meeting's session archive, its
// size counted by building it once without keeping it (the builder is
// deterministic over sealed files that no longer change).
func (rs *recordings) Archive(ctx context.Context, meetingID string) (api.SessionArchive, error) {
	rs.mu.Lock()
	l := rs.live[meetingID]
	rs.mu.Unlock()
	if l != nil {
		rs.mu.Lock()
		ending := l.ending
		rs.mu.Unlock()
		if p := l.rec.Indicator().Phase; ending || p == recording.PhaseRecording || p == recording.PhasePaused {
			return api.SessionArchive{}, api.ErrRecordingActive
		}
	}
	src, err := rs.store.Source(ctx, meetingID)
	if err != nil {
		return api.SessionArchive{}, err
	}
	media, err := src.Media(ctx)
	if err != nil {
		return api.SessionArchive{}, fmt.Errorf("server: archive: %w", err)
	}
	if len(media) == 0 {
		return api.SessionArchive{}, fmt.Errorf("server: archive: no media: %w", recording.ErrUnknownMeeting)
	}
	var n countWriter
	if err := recording.WriteArchive(ctx, &n, src, nil); err != nil {
		return api.SessionArchive{}, fmt.Errorf("server: archive: %w", err)
	}
	size := int64(n)
	return api.SessionArchive{Size: size, Write: func(ctx context.Context, w io.Writer) error {
		lw := &limitWriter{w: w, left: size}
		if err := recording.WriteArchive(ctx, lw, src, nil); err != nil {
			return err
		}
		if lw.left != 0 {
			return fmt.Errorf("server: archive: %d bytes short of the announced size", lw.left)
		}
		return nil
	}}, nil
}

// countWriter counts what is written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// limitWriter fails once more than left bytes are written: an archive
// that came out longer than announced must not reach the client as if it
// were whole.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, errors.New("server: archive: longer than the announced size")
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	return n, err
}

// held keeps a recording that a legal hold on its meeting or on the
// meeting's customer covers; it answers true when it cannot tell.
func (rs *recordings) held(ctx context.Context, tenantID, meetingID string) bool {
	if rs.policy == nil {
		return false
	}
	if rs.policy.Held(ctx, tenantID, retention.SubjectMeeting, meetingID) {
		return true
	}
	m, err := rs.meetings.Get(ctx, meeting.Actor{TenantID: tenantID, UserID: recordingActor, Admin: true}, meetingID)
	if errors.Is(err, meeting.ErrNotFound) {
		return false
	}
	if err != nil {
		return true
	}
	return m.CustomerID != "" && rs.policy.Held(ctx, tenantID, retention.SubjectCustomer, m.CustomerID)
}

// sweepRecordings deletes recording archives 180 days (or the tenant's
// period) after their meeting ended, unless a legal hold on the meeting
// or its customer keeps them; every deletion is audited.
func (sw *sweeper) sweepRecordings(ctx context.Context, now time.Time) error {
	if sw.recordings == nil {
		return nil
	}
	// Recordings cut off by a relay stop get their end first, so that
	// this sweep counts them.
	rerr := sw.recordings.recover(ctx)
	if rerr != nil {
		sw.log.Error("recording: recovering interrupted recordings failed", "error", rerr)
	}
	res, err := sw.recordings.store.Sweep(ctx, now, sw.recordings.held)
	err = errors.Join(err, rerr)
	for _, id := range res.Deleted {
		if _, aerr := sw.audit.Append(ctx, audit.Record{Actor: "system", Action: "retention.delete", Target: id, Details: map[string]string{
			"class": retention.ClassRecording, "part": "recording archive",
		}}); aerr != nil {
			sw.log.Error("audit append failed", "action", "retention.delete", "error", aerr)
			err = errors.Join(err, aerr)
		}
	}
	return sw.recordDelete(ctx, retention.ClassRecording, now, len(res.Deleted)+res.Failed, len(res.Deleted), res.Failed, err, "archives")
}

// recordingPart is the recordings of the meetings held with a customer.
// Export lists them with their consent records (who agreed, refused or
// withdrew, and when); the media stays with the advisor's archive. Erase
// deletes the whole recording of each linked meeting that no legal hold
// on the meeting keeps (the recording shows every participant, so it
// cannot be cut down to the others); it runs before the meetings part,
// which forgets the links.
type recordingPart struct {
	rs *recordings
}

func (recordingPart) Name() string { return "recordings" }

// exportedRecording is one entry of recordings/recordings.json.
type exportedRecording struct {
	MeetingID string `json:"meeting_id"`
	// Files are the recording's media and artefact files.
	Files []string `json:"files"`
}

func (p recordingPart) Export(ctx context.Context, tenantID, customerID string, add privacy.AddFunc) error {
	mids, err := p.rs.meetings.MeetingsOf(ctx, tenantID, customerID)
	if err != nil {
		return err
	}
	out := []exportedRecording{}
	for _, id := range mids {
		src, err := p.rs.store.Source(ctx, id)
		if errors.Is(err, recording.ErrUnknownMeeting) {
			continue
		}
		if err != nil {
			return err
		}
		er := exportedRecording{MeetingID: id, Files: []string{}}
		for _, list := range []func(context.Context) ([]recording.Item, error){src.Media, src.Files, src.Whiteboard, src.Signatures} {
			items, err := list(ctx)
			if err != nil {
				return err
			}
			for _, it := range items {
				er.Files = append(er.Files, it.Name)
			}
		}
		out = append(out, er)
		consent, err := src.Consent(ctx)
		if err != nil {
			return err
		}
		if consent != nil {
			if err := add(id+"/consent.json", bytes.NewReader(consent)); err != nil {
				return err
			}
		}
	}
	return addJSON(add, "recordings.json", out)
}

func (p recordingPart) Erase(ctx context.Context, tenantID, customerID string) (int, error) {
	mids, err := p.rs.meetings.MeetingsOf(ctx, tenantID, customerID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range mids {
		if p.rs.policy != nil && p.rs.policy.Held(ctx, tenantID, retention.SubjectMeeting, id) {
			continue
		}
		if l := p.rs.take(id); l != nil {
			l.unsub()
			_ = l.rec.Close()
		}
		dir := p.rs.store.Dir(id)
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			continue
		}
		// The index entry (ids and times only) stays until the sweep;
		// without a folder the meeting has no archive.
		if err := os.RemoveAll(dir); err != nil {
			return n, fmt.Errorf("server: erasing recording of meeting %s: %w", id, err)
		}
		n++
	}
	return n, nil
}
