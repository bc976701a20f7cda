package chat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"parley/relay/ids"
	"parley/relay/signal/msg"
	"parley/relay/store"
)

// errAbandoned: the upload's record is gone (DeleteExpired took it as
// abandoned, or the meeting was erased) while it was still being written.
var errAbandoned = errors.New("upload abandoned")

// PutFile stores the file read from r in the meeting's timeline and
// returns its entry (ID is the file id; FileName the sanitised name, with
// an extension that matches the content; FileType the sniffed media type).
// r is read in chunks of ChunkSize; it fails with ErrTooLarge as soon as
// more than MaxFileBytes have arrived, ErrQuota when the meeting's quota
// would be exceeded, ErrTypeNotAllowed when the content is not of an
// allowed type, and ErrInvalid for an unusable name or an empty file. A
// file that fails leaves nothing behind (or, after a crash, chunks that
// DeleteExpired removes).
func (s *Service) PutFile(ctx context.Context, meetingID string, a Author, name string, r io.Reader) (msg.Entry, error) {
	e, err := s.putFile(ctx, meetingID, a, name, r)
	if err != nil {
		return msg.Entry{}, fmt.Errorf("chat: put file: %w", err)
	}
	return e, nil
}

func (s *Service) putFile(ctx context.Context, meetingID string, a Author, name string, r io.Reader) (msg.Entry, error) {
	if !validRef(meetingID) {
		return msg.Entry{}, invalid("meeting id")
	}
	if err := checkAuthor(a); err != nil {
		return msg.Entry{}, err
	}
	name, err := SanitizeName(name)
	if err != nil {
		return msg.Entry{}, err
	}
	var used int64
	err = s.kv.View(ctx, func(tx store.Txn) error {
		m, err := getMeetingRec(tx, meetingID)
		if err != nil {
			return err
		}
		used = m.Bytes
		return nil
	})
	if err != nil {
		return msg.Entry{}, err
	}
	if used >= s.opts.MaxMeetingBytes {
		return msg.Entry{}, ErrQuota
	}

	fileID := ids.New()
	upKey := uploadKey(s.clock.Now(), fileID)
	var (
		total  int64
		chunks int
		kind   fileType
		text   *textCheck
	)
	fail := func(err error) (msg.Entry, error) {
		if chunks > 0 {
			s.discard(ctx, upKey, fileID)
		}
		return msg.Entry{}, err
	}
	for {
		buf := make([]byte, ChunkSize)
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if chunks == 0 {
				var ok bool
				if kind, ok = sniffFirst(buf[:n]); !ok {
					return fail(ErrTypeNotAllowed)
				}
				if kind.mime == kindPlain.mime {
					text = &textCheck{}
				}
			}
			total += int64(n)
			if total > s.opts.MaxFileBytes {
				return fail(ErrTooLarge)
			}
			if used+total > s.opts.MaxMeetingBytes {
				return fail(ErrQuota)
			}
			if text != nil && !text.write(buf[:n]) {
				return fail(ErrTypeNotAllowed)
			}
			if err := s.putChunk(ctx, upKey, meetingID, fileID, chunks, buf[:n], total); err != nil {
				return fail(err)
			}
			chunks++
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fail(fmt.Errorf("reading the upload: %w", rerr))
		}
	}
	if total == 0 {
		return msg.Entry{}, invalid("empty file")
	}

	ft := kind
	switch kind.mime {
	case kindPlain.mime:
		ft = text.result(name)
	case kindZip.mime:
		cr := &chunkReader{ctx: ctx, kv: s.kv, fileID: fileID, chunks: chunks, size: total}
		var ok bool
		if ft, ok = officeType(cr, total); !ok {
			if cr.err != nil {
				return fail(cr.err)
			}
			return fail(ErrTypeNotAllowed)
		}
	}
	name = withExt(name, ft.exts)

	var e msg.Entry
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		if _, err := tx.Get(upKey); errors.Is(err, store.ErrNotFound) {
			return errAbandoned
		} else if err != nil {
			return err
		}
		m, err := getMeetingRec(tx, meetingID)
		if err != nil {
			return err
		}
		if m.Bytes+total > s.opts.MaxMeetingBytes {
			return ErrQuota
		}
		rec := &entryRecord{Entry: msg.Entry{ID: fileID, From: a.ID, Name: a.Name, Role: a.Role,
			Sent: s.clock.Now().UTC(), FileName: name, FileSize: total, FileType: ft.mime}, Chunks: chunks, Bytes: total}
		if err := appendEntry(tx, meetingID, m, rec); err != nil {
			return err
		}
		e = rec.Entry
		return tx.Delete(upKey)
	})
	if err != nil {
		return fail(err)
	}
	s.log.Info("file stored", "meeting_id", meetingID, "file_id", fileID, "seq", e.Seq, "bytes", total, "type", ft.mime)
	return e, nil
}

// putChunk stores chunk i of an upload together with the upload's record,
// in one transaction of at most ChunkSize bytes plus the record.
func (s *Service) putChunk(ctx context.Context, upKey []byte, meetingID, fileID string, i int, b []byte, total int64) error {
	return s.kv.Update(ctx, func(tx store.Txn) error {
		up := uploadRec{MeetingID: meetingID}
		if i > 0 {
			if err := getJSON(tx, upKey, &up); errors.Is(err, store.ErrNotFound) {
				return errAbandoned
			} else if err != nil {
				return err
			}
		}
		up.Chunks, up.Bytes = i+1, total
		if err := tx.Set(chunkKey(fileID, i), b); err != nil {
			return err
		}
		return putJSON(tx, upKey, up)
	})
}

// discard removes a failed upload's chunks. It works on after ctx is
// cancelled (a client that went away); what it cannot remove,
// DeleteExpired does later.
func (s *Service) discard(ctx context.Context, upKey []byte, fileID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := s.abandon(ctx, upKey, fileID); err != nil {
		s.log.Warn("discarding a failed upload", "file_id", fileID, "error", err)
		return
	}
	if err := s.collect(ctx, fileID); err != nil {
		s.log.Warn("discarding a failed upload", "file_id", fileID, "error", err)
	}
}

// OpenFile returns a file of the meeting's timeline and a reader of its
// bytes. A file id of another meeting, or a file past its deadline under
// Options.Rule, is ErrNotFound. The reader reads the
// store one chunk at a time under ctx; close it when done.
func (s *Service) OpenFile(ctx context.Context, meetingID, fileID string) (msg.Entry, io.ReadCloser, error) {
	if !validRef(meetingID) || !ids.Valid(fileID) {
		return msg.Entry{}, nil, fmt.Errorf("chat: open file: %w", ErrNotFound)
	}
	visible, err := s.visibleAfter(ctx, meetingID)
	if err != nil {
		return msg.Entry{}, nil, fmt.Errorf("chat: open file: %w", err)
	}
	var rec *entryRecord
	err = s.kv.View(ctx, func(tx store.Txn) error {
		seq, err := getSeq(tx, fileKey(meetingID, fileID))
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		rec, err = getEntry(tx, meetingID, seq)
		if err == nil && (rec.Chunks == 0 || rec.Entry.ID != fileID || !rec.Entry.Sent.After(visible)) {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return msg.Entry{}, nil, fmt.Errorf("chat: open file: %w", err)
	}
	cr := &chunkReader{ctx: ctx, kv: s.kv, fileID: fileID, chunks: rec.Chunks, size: rec.Entry.FileSize}
	return rec.Entry, fileReader{io.NewSectionReader(cr, 0, cr.size)}, nil
}

type fileReader struct{ *io.SectionReader }

// Close implements io.Closer; the reader holds no resources.
func (fileReader) Close() error { return nil }

// chunkReader reads a stored file at any offset, keeping the last chunk
// it read. err remembers the first store error (zip.Reader hides it).
type chunkReader struct {
	ctx    context.Context
	kv     store.KV
	fileID string
	chunks int
	size   int64

	cur int // index of buf's chunk; buf nil: none
	buf []byte
	err error
}

func (c *chunkReader) chunk(i int) ([]byte, error) {
	if c.buf != nil && c.cur == i {
		return c.buf, nil
	}
	var b []byte
	err := c.kv.View(c.ctx, func(tx store.Txn) error {
		var err error
		b, err = tx.Get(chunkKey(c.fileID, i))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		err = fmt.Errorf("chunk %d missing: %w", i, ErrNotFound)
	}
	if err == nil && i < c.chunks-1 && len(b) != ChunkSize {
		err = fmt.Errorf("chunk %d has %d bytes", i, len(b))
	}
	if err != nil {
		if c.err == nil {
			c.err = err
		}
		return nil, err
	}
	c.cur, c.buf = i, b
	return b, nil
}

// ReadAt implements io.ReaderAt.
func (c *chunkReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("chat: negative offset")
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= c.size {
			return n, io.EOF
		}
		b, err := c.chunk(int(pos / ChunkSize))
		if err != nil {
			return n, err
		}
		in := int(pos % ChunkSize)
		if in >= len(b) {
			return n, io.ErrUnexpectedEOF
		}
		n += copy(p[n:], b[in:])
	}
	return n, nil
}
