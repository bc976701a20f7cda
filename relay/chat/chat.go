// Package chat is a meeting's timeline: the text messages and files its
// participants post during the meeting, numbered per meeting from 1 without
// gaps, kept for seven days after each entry was posted (data class
// ClassMeetingContent, seed 002 §2.3.4.3) and then deleted.
//
// It is a domain package: it knows nothing of HTTP or signalling, takes its
// time from an injected clock and keeps everything in a store.KV under the
// key prefix "chat/". Texts, names and files live in values only, which the
// store encrypts at rest; keys hold random ids, meeting ids, sequence
// numbers, times and SHA-256 digests. Logs carry ids only.
//
// Files are sniffed (only PDF, PNG, JPEG, GIF, WebP, plain text, CSV and
// macro-free docx/xlsx/pptx/odt are accepted), streamed into the store in
// chunks of at most ChunkSize bytes, each chunk in its own transaction, and
// become visible only when their timeline entry is written in a final
// transaction; chunks of uploads that never finished are removed by
// DeleteExpired.
package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/signal/msg"
	"parley/relay/store"
)

// ClassMeetingContent is the data class of a meeting's chat messages and
// files (seed 002 §2.3.4.3): deleted Retention after each entry was posted.
const ClassMeetingContent = "meeting_content"

// Retention is how long a timeline entry (a chat message or a file) is kept
// after it was posted.
const Retention = 7 * 24 * time.Hour

// Defaults for Options.
const (
	DefaultMaxFileBytes    = 25 << 20
	DefaultMaxMeetingBytes = 200 << 20
	// DefaultUploadTimeout bounds how long an upload may take; an upload
	// still unfinished after it is treated as abandoned and its chunks are
	// removed by DeleteExpired.
	DefaultUploadTimeout = time.Hour
)

// ChunkSize is the largest piece of a file stored in one transaction.
const ChunkSize = 256 << 10

// MaxNameBytes bounds an author's display name.
const MaxNameBytes = 400

// Errors returned by the Service, wrapped with what was being done; check
// them with errors.Is.
var (
	// ErrTooLarge: the file is larger than Options.MaxFileBytes.
	ErrTooLarge = errors.New("file too large")
	// ErrQuota: the meeting's timeline would exceed
	// Options.MaxMeetingBytes.
	ErrQuota = errors.New("meeting storage quota exceeded")
	// ErrTypeNotAllowed: the file's content is not of an allowed type.
	ErrTypeNotAllowed = errors.New("file type not allowed")
	// ErrNotFound: no such file or entry in this meeting.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: a malformed argument (meeting id, author, text, nonce,
	// file name, an empty file). The message never contains the value.
	ErrInvalid = errors.New("invalid input")
)

func invalid(what string) error { return fmt.Errorf("%w: %s", ErrInvalid, what) }

// Author is who posts an entry.
type Author struct {
	// ID is the participant id of a customer or the user id of an
	// advisor (1–64 characters of [A-Za-z0-9_-]).
	ID string
	// Name is shown next to the entry (at most MaxNameBytes, no control
	// characters).
	Name string
	// Role is msg.RoleAdvisor or msg.RoleCustomer.
	Role string
}

// Options configures New.
type Options struct {
	// Store holds the timelines and files. Required.
	Store store.KV
	// Clock stamps entries; nil means the real clock.
	Clock clock.Clock
	// Logger receives events with ids only; nil discards.
	Logger *slog.Logger
	// MaxFileBytes bounds one file; 0 means DefaultMaxFileBytes (25 MiB).
	MaxFileBytes int64
	// MaxMeetingBytes bounds what one meeting's timeline holds at a time
	// (file sizes plus chat text); 0 means DefaultMaxMeetingBytes
	// (200 MiB).
	MaxMeetingBytes int64
	// UploadTimeout is how long an upload may take before it counts as
	// abandoned; 0 means DefaultUploadTimeout (1 h).
	UploadTimeout time.Duration
	// Rule decides, per meeting, the period and hold that reads apply
	// (Since, OpenFile): an entry whose period has run out and that no
	// hold keeps is not served, even before DeleteExpired removed it.
	// It should be the rule the retention sweep uses; nil means Retention
	// and no holds.
	Rule ContentRule
}

// Service keeps meeting timelines. It is safe for concurrent use; every
// state change is a store transaction, so several Services may share one
// store.
type Service struct {
	kv    store.KV
	clock clock.Clock
	log   *slog.Logger
	opts  Options
}

// New returns a Service. It does not touch the store.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("chat: Options.Store is required")
	}
	if opts.MaxFileBytes < 0 || opts.MaxMeetingBytes < 0 || opts.UploadTimeout < 0 {
		return nil, errors.New("chat: Options limits must not be negative")
	}
	if opts.MaxFileBytes == 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.MaxMeetingBytes == 0 {
		opts.MaxMeetingBytes = DefaultMaxMeetingBytes
	}
	if opts.UploadTimeout == 0 {
		opts.UploadTimeout = DefaultUploadTimeout
	}
	s := &Service{kv: opts.Store, clock: clock.Or(opts.Clock), log: opts.Logger, opts: opts}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// validRef reports whether a meeting or author id is safe inside a key:
// 1–64 characters of [A-Za-z0-9_-].
func validRef(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkAuthor(a Author) error {
	if !validRef(a.ID) {
		return invalid("author id")
	}
	if a.Role != msg.RoleAdvisor && a.Role != msg.RoleCustomer {
		return invalid("author role")
	}
	if len(a.Name) > MaxNameBytes || !utf8.ValidString(a.Name) {
		return invalid("author name")
	}
	for _, r := range a.Name {
		if unicode.IsControl(r) {
			return invalid("author name")
		}
	}
	return nil
}

// checkText applies the signalling protocol's rules for chat text.
func checkText(text, nonce string) error {
	if !utf8.ValidString(text) || strings.TrimSpace(text) == "" {
		return invalid("text empty or not UTF-8")
	}
	if utf8.RuneCountInString(text) > msg.MaxChatRunes {
		return invalid("text too long")
	}
	for _, r := range text {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f {
			return invalid("control characters in text")
		}
	}
	if len(nonce) > msg.MaxNonce {
		return invalid("nonce too long")
	}
	return nil
}

// Post appends a chat message to the meeting's timeline. Posting the same
// non-empty nonce again as the same author returns the entry posted first
// with created false, so a client may resend after a reconnect.
func (s *Service) Post(ctx context.Context, meetingID string, a Author, text, nonce string) (msg.Entry, bool, error) {
	if !validRef(meetingID) {
		return msg.Entry{}, false, fmt.Errorf("chat: post: %w", invalid("meeting id"))
	}
	if err := checkAuthor(a); err != nil {
		return msg.Entry{}, false, fmt.Errorf("chat: post: %w", err)
	}
	if err := checkText(text, nonce); err != nil {
		return msg.Entry{}, false, fmt.Errorf("chat: post: %w", err)
	}
	id := ids.New()
	var e msg.Entry
	var created bool
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		created = false
		if nonce != "" {
			seq, err := getSeq(tx, nonceKey(meetingID, a.ID, nonce))
			if err == nil {
				rec, err := getEntry(tx, meetingID, seq)
				if err == nil {
					e = rec.Entry
					return nil
				}
				if !errors.Is(err, ErrNotFound) {
					return err
				}
				// The first post has expired: post again.
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		m, err := getMeetingRec(tx, meetingID)
		if err != nil {
			return err
		}
		size := int64(len(text))
		if m.Bytes+size > s.opts.MaxMeetingBytes {
			return ErrQuota
		}
		rec := &entryRecord{Entry: msg.Entry{ID: id, From: a.ID, Name: a.Name, Role: a.Role,
			Sent: s.clock.Now().UTC(), Text: text, Nonce: nonce}, Bytes: size}
		if err := appendEntry(tx, meetingID, m, rec); err != nil {
			return err
		}
		e, created = rec.Entry, true
		return nil
	})
	if err != nil {
		return msg.Entry{}, false, fmt.Errorf("chat: post: %w", err)
	}
	if created {
		s.log.Debug("chat posted", "meeting_id", meetingID, "seq", e.Seq, "author_id", a.ID)
	}
	return e, created, nil
}

// appendEntry gives rec the meeting's next sequence number and writes it
// with its indexes and the updated meeting record m.
func appendEntry(tx store.Txn, meetingID string, m *meetingRec, rec *entryRecord) error {
	m.Last++
	if m.First == 0 {
		m.First = m.Last
	}
	m.Bytes += rec.Bytes
	rec.Entry.Seq = m.Last
	if err := putJSON(tx, entryKey(meetingID, m.Last), rec); err != nil {
		return err
	}
	if err := tx.Set(expiryKey(rec.Entry.Sent, meetingID, m.Last), nil); err != nil {
		return err
	}
	if rec.Entry.Nonce != "" {
		if err := tx.Set(nonceKey(meetingID, rec.Entry.From, rec.Entry.Nonce), seqBytes(m.Last)); err != nil {
			return err
		}
	}
	if rec.Chunks > 0 {
		if err := tx.Set(fileKey(meetingID, rec.Entry.ID), seqBytes(m.Last)); err != nil {
			return err
		}
	}
	return putJSON(tx, meetingKey(meetingID), m)
}

// visibleAfter returns the time after which an entry of the meeting must
// have been posted to be served now: entries posted at or before it have
// reached their deadline (posted + the meeting's period) and no hold keeps
// them. The meeting's rule is asked once.
func (s *Service) visibleAfter(ctx context.Context, meetingID string) (time.Time, error) {
	now := s.clock.Now()
	if s.opts.Rule == nil {
		return now.Add(-Retention), nil
	}
	period, held, err := s.opts.Rule(ctx, meetingID)
	if err != nil {
		return time.Time{}, fmt.Errorf("retention rule: %w", err)
	}
	if held || period <= 0 {
		return time.Time{}, nil // kept: every entry is served
	}
	return now.Add(-period), nil
}

// MaxSince bounds how many entries Since returns when asked for all.
const MaxSince = 100000

// Since returns the meeting's entries with a sequence number above since,
// in ascending order, at most limit of them (limit ≤ 0: all, up to
// MaxSince). An unknown meeting has an empty timeline. Entries past their
// deadline under Options.Rule are left out.
func (s *Service) Since(ctx context.Context, meetingID string, since uint64, limit int) ([]msg.Entry, error) {
	if !validRef(meetingID) {
		return nil, fmt.Errorf("chat: since: %w", invalid("meeting id"))
	}
	if limit <= 0 || limit > MaxSince {
		limit = MaxSince
	}
	visible, err := s.visibleAfter(ctx, meetingID)
	if err != nil {
		return nil, fmt.Errorf("chat: since: %w", err)
	}
	var out []msg.Entry
	err = s.kv.View(ctx, func(tx store.Txn) error {
		out = out[:0]
		m, err := getMeetingRec(tx, meetingID)
		if err != nil {
			return err
		}
		from := max(since+1, m.First)
		for seq := from; seq <= m.Last && len(out) < limit; seq++ {
			rec, err := getEntry(tx, meetingID, seq)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if !rec.Entry.Sent.After(visible) {
				continue // expired: not served, the sweep purges it
			}
			out = append(out, rec.Entry)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chat: since: %w", err)
	}
	return out, nil
}
