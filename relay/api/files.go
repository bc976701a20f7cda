package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"parley/relay/auth"
	"parley/relay/chat"
	"parley/relay/meeting"
	"parley/relay/signal/msg"
)

// Chat is what the API needs from the meeting timeline service
// (*chat.Service).
type Chat interface {
	Since(ctx context.Context, meetingID string, since uint64, limit int) ([]msg.Entry, error)
	PutFile(ctx context.Context, meetingID string, a chat.Author, name string, r io.Reader) (msg.Entry, error)
	OpenFile(ctx context.Context, meetingID, fileID string) (msg.Entry, io.ReadCloser, error)
}

// Announcer tells a meeting's connected participants about a new timeline
// entry (the signalling hub sends it to them as a "file" message).
type Announcer interface {
	Announce(meetingID string, e msg.Entry)
}

// transferTimeout bounds an upload or a download; longer than
// requestTimeout because files take time over slow links.
const transferTimeout = 10 * time.Minute

// timelinePage is the most entries one timeline answer holds.
const timelinePage = 500

// chatError maps the timeline service's errors to API errors; other
// errors pass through to toError.
func chatError(err error) error {
	switch {
	case errors.Is(err, chat.ErrTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "file_too_large", Message: "The file is larger than the relay accepts."}
	case errors.Is(err, chat.ErrQuota):
		return &Error{Status: http.StatusConflict, Code: "meeting_quota_exceeded", Message: "This meeting has no room for more files."}
	case errors.Is(err, chat.ErrTypeNotAllowed):
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "file_type_not_allowed",
			Message: "Only PDF, PNG, JPEG, GIF, WebP, text, CSV, Word, Excel, PowerPoint and OpenDocument text files can be shared."}
	case errors.Is(err, chat.ErrInvalid):
		return badRequest("The file name is not usable or the file is empty.")
	case errors.Is(err, chat.ErrNotFound):
		return errNotFound
	}
	return err
}

// admittedCustomer authenticates the calling customer by their
// participant secret; only an admitted participant of a running meeting
// passes. On failure it has written the error.
func (h *handler) admittedCustomer(w http.ResponseWriter, r *http.Request) (meeting.Customer, bool) {
	if h.chat == nil {
		writeError(w, errNotFound)
		return meeting.Customer{}, false
	}
	secret := bearer(r)
	if secret == "" {
		writeError(w, errUnauth)
		return meeting.Customer{}, false
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	c, err := h.meetings.ParticipantBySecret(ctx, secret)
	if err != nil {
		writeError(w, err)
		return meeting.Customer{}, false
	}
	switch c.Participant.State {
	case meeting.StateAdmitted:
		return c, true
	case meeting.StateEnded:
		writeError(w, meeting.ErrMeetingEnded)
	default:
		writeError(w, &Error{Status: http.StatusForbidden, Code: "not_admitted", Message: "Only participants admitted to the meeting can do this."})
	}
	return meeting.Customer{}, false
}

// advisorMeeting checks that the caller may manage meeting {id} (its
// advisor or an admin of its tenant). On failure it has written the error.
func (h *handler) advisorMeeting(w http.ResponseWriter, r *http.Request, s auth.Session) (meeting.Meeting, bool) {
	if h.chat == nil {
		writeError(w, errNotFound)
		return meeting.Meeting{}, false
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	m, err := h.meetings.Get(ctx, actorOf(s), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return meeting.Meeting{}, false
	}
	return m, true
}

func (h *handler) participantUpload(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	c, ok := h.admittedCustomer(w, r)
	if !ok {
		return
	}
	h.upload(w, r, c.Meeting.ID, chat.Author{ID: c.Participant.ID, Name: c.Participant.Name, Role: msg.RoleCustomer})
}

func (h *handler) participantDownload(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	c, ok := h.admittedCustomer(w, r)
	if !ok {
		return
	}
	h.download(w, r, c.Meeting.ID, r.PathValue("file"))
}

func (h *handler) participantTimeline(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	c, ok := h.admittedCustomer(w, r)
	if !ok {
		return
	}
	h.timeline(w, r, c.Meeting.ID)
}

func (h *handler) meetingUpload(w http.ResponseWriter, r *http.Request, s auth.Session) {
	m, ok := h.advisorMeeting(w, r, s)
	if !ok {
		return
	}
	if m.Status == meeting.StatusEnded {
		writeError(w, meeting.ErrMeetingEnded)
		return
	}
	ctx, cancel := reqContext(r)
	u, err := h.auth.GetUser(ctx, s.TenantID, s.UserID)
	cancel()
	if err != nil {
		writeError(w, err)
		return
	}
	h.upload(w, r, m.ID, chat.Author{ID: s.UserID, Name: u.DisplayName, Role: msg.RoleAdvisor})
}

func (h *handler) meetingDownload(w http.ResponseWriter, r *http.Request, s auth.Session) {
	m, ok := h.advisorMeeting(w, r, s)
	if !ok {
		return
	}
	h.download(w, r, m.ID, r.PathValue("file"))
}

func (h *handler) meetingTimeline(w http.ResponseWriter, r *http.Request, s auth.Session) {
	m, ok := h.advisorMeeting(w, r, s)
	if !ok {
		return
	}
	h.timeline(w, r, m.ID)
}

// upload stores the request body as a file of the meeting and announces
// it. The body is the file's bytes in any content type: the relay sniffs.
func (h *handler) upload(w http.ResponseWriter, r *http.Request, meetingID string, a chat.Author) {
	name := r.URL.Query().Get("name")
	if strings.TrimSpace(name) == "" || len(name) > 1024 {
		writeError(w, badRequest("Parameter \"name\" (the file name, at most 1024 bytes) is required."))
		return
	}
	// The server's read timeout is made for small JSON bodies.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(transferTimeout))
	ctx, cancel := context.WithTimeout(r.Context(), transferTimeout)
	defer cancel()
	e, err := h.chat.PutFile(ctx, meetingID, a, name, r.Body)
	if err != nil {
		if errors.Is(err, chat.ErrTooLarge) {
			w.Header().Set("Connection", "close") // do not read the rest
		}
		writeError(w, chatError(err))
		return
	}
	if h.announcer != nil {
		h.announcer.Announce(meetingID, e)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"entry": e})
}

// download sends a file of the meeting as an attachment that browsers
// neither sniff nor render in the relay's origin.
func (h *handler) download(w http.ResponseWriter, r *http.Request, meetingID, fileID string) {
	ctx, cancel := context.WithTimeout(r.Context(), transferTimeout)
	defer cancel()
	e, rc, err := h.chat.OpenFile(ctx, meetingID, fileID)
	if err != nil {
		writeError(w, chatError(err))
		return
	}
	defer rc.Close()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(transferTimeout))
	hd := w.Header()
	hd.Set("Content-Type", e.FileType)
	hd.Set("Content-Length", strconv.FormatInt(e.FileSize, 10))
	hd.Set("Content-Disposition", contentDisposition(e.FileName))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "sandbox")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		h.log.Warn("file download interrupted", "meeting_id", meetingID, "file_id", fileID, "error", err)
	}
}

// timeline answers the meeting's entries after ?since=N (default 0), at
// most timelinePage of them.
func (h *handler) timeline(w http.ResponseWriter, r *http.Request, meetingID string) {
	since, err := parseSince(r.URL.Query().Get("since"))
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := reqContext(r)
	defer cancel()
	entries, err := h.chat.Since(ctx, meetingID, since, timelinePage)
	if err != nil {
		writeError(w, chatError(err))
		return
	}
	if entries == nil {
		entries = []msg.Entry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
}

func parseSince(v string) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, badRequest("Parameter \"since\" must be a sequence number.")
	}
	return n, nil
}

// contentDisposition names a download (RFC 6266): an ASCII fallback in
// filename and the exact UTF-8 name in filename* (RFC 8187).
func contentDisposition(name string) string {
	var fallback, exact strings.Builder
	for _, r := range name {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			fallback.WriteByte('_')
		} else {
			fallback.WriteRune(r)
		}
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			exact.WriteByte(c)
		} else {
			exact.WriteByte('%')
			exact.WriteByte(hex[c>>4])
			exact.WriteByte(hex[c&15])
		}
	}
	return `attachment; filename="` + fallback.String() + `"; filename*=UTF-8''` + exact.String()
}
