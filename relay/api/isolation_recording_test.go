package api

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"parley/relay/ids"
	"parley/relay/recording"
)

// The session archive route in the tenant isolation matrix. Its service
// is not part of the matrix's shared relay: each case runs against a
// handler with the matrix's accounts and meetings (on the matrix's store)
// and a recordings fake that holds an archive of tenant A's meeting whose
// content is tenant A's private data. Tenant B's admin, advisor, customer
// and nobody ask for A's meeting's archive (and for a made-up meeting,
// which must be answered alike); the answer must be a refusal without
// A's data, and the fake must not have been asked to build A's archive.
// A's advisor gets the archive (sanity), B's advisor gets "no_recording"
// for B's own meeting.

// recordingCases has the case of the archive route.
func recordingCases() map[string]isoCase {
	return map[string]isoCase{"GET /api/v1/meetings/{id}/archive": {run: recordingIsolationCase}}
}

// fakeRecordings holds one archive: a ZIP of the given content.
type fakeRecordings struct {
	meetingID string
	content   []byte
	builds    atomic.Int32
}

func (f *fakeRecordings) Archive(_ context.Context, meetingID string) (SessionArchive, error) {
	if meetingID != f.meetingID {
		return SessionArchive{}, recording.ErrUnknownMeeting
	}
	f.builds.Add(1)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "chat/transcript.txt", Method: zip.Store})
	_, _ = w.Write(f.content)
	_ = zw.Close()
	b := buf.Bytes()
	return SessionArchive{Size: int64(len(b)), Write: func(_ context.Context, w io.Writer) error {
		_, err := w.Write(b)
		return err
	}}, nil
}

func recordingIsolationCase(t *testing.T, f *fixture, a, b *isoTenant, c isoCaller) {
	recs := &fakeRecordings{meetingID: a.meetingID, content: []byte(strings.Join(a.private, "\n"))}
	srv := httptest.NewServer(New(Options{Auth: f.auth, Audit: noAudit{}, Meetings: newMeetings(t, f.kv, f.clock), Clock: f.clock, Recordings: recs}))
	t.Cleanup(srv.Close)
	rf := &fixture{t: t, srv: srv, auth: f.auth, clock: f.clock, kv: f.kv}
	path := func(id string) string { return "/api/v1/meetings/" + id + "/archive" }

	token := c.token(false)
	foreign := rf.call("GET", path(a.meetingID), "", token, nil, nil)
	madeUp := rf.call("GET", path(ids.New()), "", token, nil, nil)
	for _, r := range []resp{foreign, madeUp} {
		if leak := a.leaked(r, nil); leak != "" {
			t.Errorf("archive as %s: the answer (%d) holds tenant A's data %q", c.name, r.status, leak)
		}
		if !refused(r.status, nil) {
			t.Errorf("archive as %s: tenant B reached tenant A's archive: %d %.300s", c.name, r.status, r.body)
		}
	}
	if foreign.status != madeUp.status || foreign.errCode() != madeUp.errCode() {
		t.Errorf("archive as %s: A's meeting answers %d %s, a made-up one %d %s", c.name, foreign.status, foreign.body, madeUp.status, madeUp.body)
	}
	if n := recs.builds.Load(); n != 0 {
		t.Errorf("archive as %s: A's archive was built %d times", c.name, n)
	}

	switch c.name {
	case "B advisor":
		// B's own meeting has nothing recorded.
		if r := rf.call("GET", path(b.meetingID), "", token, nil, nil); r.status != http.StatusNotFound || r.errCode() != "no_recording" {
			t.Errorf("B's own meeting: %d %s, want 404 no_recording", r.status, r.body)
		}
	case "nobody":
		// Sanity: A's advisor and A's admin get A's archive, with its
		// length announced.
		for _, tok := range []string{a.advisor, a.admin} {
			r := rf.call("GET", path(a.meetingID), "", tok, nil, nil)
			if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/zip" ||
				r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) || a.leaked(r, nil) == "" {
				t.Errorf("tenant A's own caller: %d %v %.100q", r.status, r.header, r.body)
			}
		}
	}
}
