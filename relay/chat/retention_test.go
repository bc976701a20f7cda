package chat

import (
	"bytes"
	"errors"
	"parley/relay/ids"
	"testing"
	"time"
)

func TestDeleteExpiredAfterSevenDaysPerEntry(t *testing.T) {
	e := newEnv(t, nil, Options{MaxMeetingBytes: 2 * ChunkSize})
	t0 := e.clock.Now()
	body := append([]byte(pdfBytes), bytes.Repeat([]byte("x"), ChunkSize)...)
	_, _, err := e.svc.Post(e.ctx, meetingA, customer, "erste", "n1")
	must(t, err)
	f1, err := e.put(meetingA, "a.pdf", body)
	must(t, err)
	e.clock.Advance(24 * time.Hour)
	_, _, err = e.svc.Post(e.ctx, meetingA, advisor, "zweite", "")
	must(t, err)
	_, _, err = e.svc.Post(e.ctx, meetingB, advisor, "andere", "")
	must(t, err)
	if _, err := e.put(meetingA, "b.pdf", body); !errors.Is(err, ErrQuota) {
		t.Fatalf("quota before expiry: %v", err)
	}

	res, err := e.svc.DeleteExpired(e.ctx, t0.Add(Retention-time.Nanosecond))
	must(t, err)
	if res != (DeleteResult{}) {
		t.Fatalf("deleted before the deadline: %+v", res)
	}
	res, err = e.svc.DeleteExpired(e.ctx, t0.Add(Retention))
	must(t, err)
	if res != (DeleteResult{Entries: 2, Files: 1}) {
		t.Fatalf("at the deadline: %+v", res)
	}
	left, err := e.svc.Since(e.ctx, meetingA, 0, 0)
	must(t, err)
	if len(left) != 1 || left[0].Text != "zweite" || left[0].Seq != 3 {
		t.Fatalf("left %+v", left)
	}
	if _, _, err := e.svc.OpenFile(e.ctx, meetingA, f1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired file opens: %v", err)
	}
	if n := e.keys(prefixChunk); n != 0 {
		t.Fatalf("%d chunks of the expired file left", n)
	}
	// The quota is free again, and the old nonce posts anew.
	_, err = e.put(meetingA, "b.pdf", body)
	must(t, err)
	en, created, err := e.svc.Post(e.ctx, meetingA, customer, "erste", "n1")
	if err != nil || !created || en.Seq != 5 {
		t.Fatalf("nonce after expiry: %+v %v %v", en, created, err)
	}

	// Everything expires; the meetings are forgotten entirely.
	e.clock.Advance(Retention)
	res, err = e.svc.DeleteExpired(e.ctx, e.clock.Now())
	must(t, err)
	if res != (DeleteResult{Entries: 4, Files: 1}) {
		t.Fatalf("second sweep: %+v", res)
	}
	if n := e.keys("chat/"); n != 0 {
		t.Fatalf("%d keys left after everything expired", n)
	}
}

func TestDeleteExpiredRemovesAbandonedUploads(t *testing.T) {
	e := newEnv(t, nil, Options{})
	// A relay that crashed after two chunks of an upload.
	fileID := ids.New()
	up := uploadKey(e.clock.Now(), fileID)
	must(t, e.svc.putChunk(e.ctx, up, meetingA, fileID, 0, bytes.Repeat([]byte("a"), ChunkSize), ChunkSize))
	must(t, e.svc.putChunk(e.ctx, up, meetingA, fileID, 1, []byte("b"), ChunkSize+1))

	res, err := e.svc.DeleteExpired(e.ctx, e.clock.Now().Add(DefaultUploadTimeout-time.Second))
	must(t, err)
	if res.Uploads != 0 || e.keys(prefixChunk) != 2 {
		t.Fatalf("an upload in progress was removed: %+v", res)
	}
	res, err = e.svc.DeleteExpired(e.ctx, e.clock.Now().Add(DefaultUploadTimeout))
	must(t, err)
	if res != (DeleteResult{Uploads: 1}) {
		t.Fatalf("abandoned upload: %+v", res)
	}
	if n := e.keys("chat/"); n != 0 {
		t.Fatalf("%d keys left", n)
	}
}

// sweepingReader runs the retention sweep as if the upload had taken too
// long, after the first chunk was read.
type sweepingReader struct {
	e     *env
	n     int
	swept bool
}

func (s *sweepingReader) Read(p []byte) (int, error) {
	if s.n >= ChunkSize && !s.swept {
		s.swept = true
		if _, err := s.e.svc.DeleteExpired(s.e.ctx, s.e.clock.Now().Add(2*DefaultUploadTimeout)); err != nil {
			return 0, err
		}
	}
	if s.n >= 3*ChunkSize {
		return 0, errors.New("unexpected read")
	}
	for i := range p {
		p[i] = "%PDF-1.7 "[(s.n+i)%9]
	}
	s.n += len(p)
	return len(p), nil
}

func TestUploadOutlivedByTheSweepFails(t *testing.T) {
	e := newEnv(t, nil, Options{})
	r := &sweepingReader{e: e}
	if _, err := e.svc.PutFile(e.ctx, meetingA, customer, "langsam.pdf", r); !errors.Is(err, errAbandoned) {
		t.Fatalf("upload after the sweep took it: %v", err)
	}
	if n := e.keys("chat/"); n != 0 {
		t.Fatalf("%d keys left", n)
	}
}

func TestDeleteMeetingErasesItsTimelineOnly(t *testing.T) {
	e := newEnv(t, nil, Options{})
	for range entryBatch + 5 {
		_, _, err := e.svc.Post(e.ctx, meetingA, customer, "x", "")
		must(t, err)
	}
	_, err := e.put(meetingA, "a.pdf", []byte(pdfBytes))
	must(t, err)
	fileID := ids.New()
	must(t, e.svc.putChunk(e.ctx, uploadKey(e.clock.Now(), fileID), meetingA, fileID, 0, []byte("%PDF"), 4))
	other, _, err := e.svc.Post(e.ctx, meetingB, customer, "y", "")
	must(t, err)

	must(t, e.svc.DeleteMeeting(e.ctx, meetingA))
	if got, _ := e.svc.Since(e.ctx, meetingA, 0, 0); len(got) != 0 {
		t.Fatalf("%d entries after erasure", len(got))
	}
	got, err := e.svc.Since(e.ctx, meetingB, 0, 0)
	if err != nil || len(got) != 1 || got[0].ID != other.ID {
		t.Fatalf("other meeting after erasure: %+v %v", got, err)
	}
	// Only meeting B's counter, entry and expiry index remain.
	if n, b := e.keys("chat/"), e.keys(prefixMeeting+meetingB)+e.keys(prefixEntry+meetingB); n != 3 || b != 2 {
		t.Fatalf("%d keys left, %d of them meeting B's record and entry; want 3 and 2", n, b)
	}
}
