package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"parley/relay/auth"
	"parley/relay/meeting"
	"parley/relay/recording"
)

// Recordings serves the meetings' session archives (the relay's recording
// wiring over package recording).
type Recordings interface {
	// Archive returns a meeting's session archive. It fails with an
	// error matching recording.ErrUnknownMeeting when nothing was
	// recorded, and ErrRecordingActive while files are still written.
	Archive(ctx context.Context, meetingID string) (SessionArchive, error)
}

// SessionArchive is one meeting's archive, ready to stream.
type SessionArchive struct {
	// Size is the archive's exact length in bytes (the download's
	// Content-Length, so that the client can show progress).
	Size int64
	// Write streams exactly Size bytes of the ZIP file to w.
	Write func(ctx context.Context, w io.Writer) error
}

// ErrRecordingActive: the meeting is being recorded; its archive can be
// downloaded once the recording stops or the meeting ends.
var ErrRecordingActive = errors.New("api: recording in progress")

// archiveTimeout bounds one archive download (a one-hour meeting is
// about 500 MB).
const archiveTimeout = time.Hour

// meetingArchive streams a meeting's session archive to its advisor or an
// admin of its tenant: GET /api/v1/meetings/{id}/archive.
func (h *handler) meetingArchive(w http.ResponseWriter, r *http.Request, s auth.Session) {
	if h.recordings == nil {
		writeError(w, errNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), archiveTimeout)
	defer cancel()
	m, err := h.meetings.Get(ctx, actorOf(s), r.PathValue("id"))
	if errors.Is(err, meeting.ErrForbidden) {
		err = errNotFound // another's meeting is answered like an unknown one
	}
	if err != nil {
		writeError(w, err)
		return
	}
	a, err := h.recordings.Archive(ctx, m.ID)
	switch {
	case errors.Is(err, recording.ErrUnknownMeeting):
		writeError(w, &Error{Status: http.StatusNotFound, Code: "no_recording", Message: "Nothing of this meeting was recorded."})
		return
	case errors.Is(err, ErrRecordingActive):
		writeError(w, &Error{Status: http.StatusConflict, Code: "recording_active", Message: "The meeting is being recorded; download the archive once the recording has stopped."})
		return
	case err != nil:
		h.log.Error("session archive failed", "meeting_id", m.ID, "error", err)
		writeError(w, errInternal)
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(archiveTimeout))
	hd := w.Header()
	hd.Set("Content-Type", "application/zip")
	hd.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	hd.Set("Content-Disposition", contentDisposition("parley-session-"+m.ID+".zip"))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if err := a.Write(ctx, w); err != nil {
		h.log.Warn("session archive download interrupted", "meeting_id", m.ID, "error", err)
	}
}
