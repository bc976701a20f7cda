package whiteboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/store"
)

// Retention is how long an op (and so the object it creates) is kept after
// it was accepted: seven days, data class retention.ClassMeetingContent.
const Retention = 7 * 24 * time.Hour

// Defaults for Options.
const (
	DefaultMaxPoints         = 2000
	DefaultMaxObjectsPerPage = 5000
	DefaultMaxBoardBytes     = 16 << 20
	DefaultMaxTextRunes      = 1000
)

// MaxSince bounds how many ops one Since call returns.
const MaxSince = 10000

// DocumentPages tells how many pages a document of the meeting has (1 for
// an image). It returns an error wrapping ErrUnknownDocument when the
// meeting has no such document.
type DocumentPages func(ctx context.Context, meetingID, docID string) (pages int, err error)

// ContentRule decides, for one meeting, how long its board's ops are kept
// and whether a legal hold keeps them. It has chat.ContentRule's shape:
// convert the relay's rule with ContentRule(rule).
type ContentRule func(ctx context.Context, meetingID string) (period time.Duration, held bool, err error)

// Options configures New.
type Options struct {
	// Store holds the boards' logs. Required.
	Store store.KV
	// Clock stamps ops; nil means the real clock.
	Clock clock.Clock
	// Logger receives events with ids only; nil discards.
	Logger *slog.Logger
	// Documents resolves a presented document's page count; nil means no
	// document can be presented (only the blank board's pages).
	Documents DocumentPages
	// Rule decides per meeting the period and hold that reads apply: an
	// op whose period has run out and that no hold keeps no longer
	// counts, even before the sweep deleted it. It should be the rule
	// the retention sweep uses; nil means Retention and no holds.
	Rule ContentRule
	// MaxPoints bounds a stroke's points; 0 means DefaultMaxPoints,
	// at most HardMaxPoints.
	MaxPoints int
	// MaxObjectsPerPage bounds the objects ever created on one page
	// (erased and undone ones count); 0 means DefaultMaxObjectsPerPage.
	MaxObjectsPerPage int
	// MaxBoardBytes bounds the bytes of a board's stored ops; 0 means
	// DefaultMaxBoardBytes (16 MiB).
	MaxBoardBytes int64
	// MaxTextRunes bounds a text's characters; 0 means
	// DefaultMaxTextRunes, at most HardMaxTextRunes.
	MaxTextRunes int
}

// Service opens boards and applies the retention rule to all of them. It
// is safe for concurrent use.
type Service struct {
	kv    store.KV
	clock clock.Clock
	log   *slog.Logger
	opts  Options
	lim   limits
}

// New returns a Service. It does not touch the store.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("whiteboard: Options.Store is required")
	}
	if opts.MaxPoints < 0 || opts.MaxPoints > HardMaxPoints || opts.MaxObjectsPerPage < 0 ||
		opts.MaxBoardBytes < 0 || opts.MaxTextRunes < 0 || opts.MaxTextRunes > HardMaxTextRunes {
		return nil, errors.New("whiteboard: Options limits out of range")
	}
	if opts.MaxPoints == 0 {
		opts.MaxPoints = DefaultMaxPoints
	}
	if opts.MaxObjectsPerPage == 0 {
		opts.MaxObjectsPerPage = DefaultMaxObjectsPerPage
	}
	if opts.MaxBoardBytes == 0 {
		opts.MaxBoardBytes = DefaultMaxBoardBytes
	}
	if opts.MaxTextRunes == 0 {
		opts.MaxTextRunes = DefaultMaxTextRunes
	}
	s := &Service{kv: opts.Store, clock: clock.Or(opts.Clock), log: opts.Logger, opts: opts,
		lim: limits{points: opts.MaxPoints, textRunes: opts.MaxTextRunes}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Board is one meeting's whiteboard. The signalling room keeps one per
// meeting while the meeting runs; it is safe for concurrent use. Its model
// lives in memory and follows the store: every call first catches up with
// what other Boards of the same meeting (or the retention sweep) changed,
// so several Boards on one store stay consistent.
type Board struct {
	s         *Service
	meetingID string

	mu     sync.Mutex
	eng    *engine
	rec    boardRec // the store's record as of the last sync
	counts map[string]*Counts
	gen    uint64 // times the model dropped ops
}

// Counts are an actor's ops on a Board since it was opened, for the
// caller's rate limits (ops per second are the caller's business).
type Counts struct {
	// Accepted counts ops Apply accepted, pointer ops included.
	Accepted uint64
	// Rejected counts ops Apply refused.
	Rejected uint64
}

// Open loads a meeting's board (an empty board if it has none).
func (s *Service) Open(ctx context.Context, meetingID string) (*Board, error) {
	if !validRef(meetingID) {
		return nil, fmt.Errorf("whiteboard: open: %w", invalid("meeting id"))
	}
	b := &Board{s: s, meetingID: meetingID, eng: newEngine(), counts: map[string]*Counts{}}
	if err := b.sync(ctx); err != nil {
		return nil, fmt.Errorf("whiteboard: open: %w", err)
	}
	return b, nil
}

// Generation counts the times the board's model dropped ops since it was
// opened: they expired, or the board was erased. Participants' replicas
// still show what was dropped, so when Generation changes after a call the
// caller sends every participant a fresh State.
func (b *Board) Generation() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen
}

// MeetingID returns the board's meeting.
func (b *Board) MeetingID() string { return b.meetingID }

// Counts returns the actor's counters.
func (b *Board) Counts(actorID string) Counts {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.counts[actorID]; c != nil {
		return *c
	}
	return Counts{}
}

// errStale: the store changed since the board's last sync.
var errStale = errors.New("whiteboard: board changed in the store")

// Apply validates op as sent by actor, logs it and returns the accepted op
// to relay to every participant (the author included: it carries Seq, At
// and, for undo and redo, Target, Show and Hide). Pointer ops come back
// with Seq 0 and are not stored. Apply rejects with the package's
// sentinel errors and stores nothing then.
func (b *Board) Apply(ctx context.Context, a Actor, op Op) (Op, error) {
	acc, err := b.apply(ctx, a, op)
	b.mu.Lock()
	if validRef(a.ID) {
		c := b.counts[a.ID]
		if c == nil && len(b.counts) < 10000 {
			c = &Counts{}
			b.counts[a.ID] = c
		}
		if c != nil && err == nil {
			c.Accepted++
		} else if c != nil {
			c.Rejected++
		}
	}
	b.mu.Unlock()
	if err != nil {
		b.s.log.Debug("whiteboard op refused", "meeting_id", b.meetingID, "actor_id", safeID(a.ID), "kind", safeKind(op.Kind), "error", err)
		return acc, fmt.Errorf("whiteboard: apply %s: %w", safeKind(op.Kind), err)
	}
	return acc, nil
}

func safeID(id string) string {
	if validRef(id) {
		return id
	}
	return "invalid"
}

func safeKind(k string) string {
	if _, ok := allowed[k]; ok {
		return k
	}
	return "unknown"
}

func (b *Board) apply(ctx context.Context, a Actor, op Op) (Op, error) {
	if err := checkActor(a); err != nil {
		return Op{}, err
	}
	if err := op.check(b.s.lim); err != nil {
		return Op{}, err
	}
	op = op.clone()
	b.mu.Lock()
	defer b.mu.Unlock()
	for range 8 {
		if err := b.sync(ctx); err != nil {
			return Op{}, err
		}
		first, err := b.eng.check(a, &op, b.s.opts.MaxObjectsPerPage)
		if errors.Is(err, ErrDuplicateID) && first.Author == a.ID {
			return first.clone(), err
		}
		if err != nil {
			return Op{}, err
		}
		acc := op
		acc.Author, acc.At = a.ID, b.s.clock.Now().UTC()
		if op.Kind == KindPointer {
			return acc, nil
		}
		if op.Kind == KindBackground {
			if acc.Pages, err = b.pages(ctx, op); err != nil {
				return Op{}, err
			}
			if !b.eng.docKnown(op.Doc) && len(b.eng.docs) >= MaxDocuments {
				return Op{}, tooLarge("too many documents presented")
			}
		}
		if op.Kind == KindUndo || op.Kind == KindRedo {
			acc.Target = b.eng.target(op.Kind, a.ID)
		}
		// Numbers keep rising even when the store forgot an emptied
		// board, so that live replicas never see a number twice.
		acc.Seq = max(b.rec.Last, b.eng.last) + 1
		raw, err := encodeStored(acc)
		if err != nil {
			return Op{}, err
		}
		if b.rec.Bytes+int64(len(raw)) > b.s.opts.MaxBoardBytes {
			return Op{}, ErrBoardFull // checked again in the transaction
		}
		want := b.rec
		var rec boardRec
		err = b.s.kv.Update(ctx, func(tx store.Txn) error {
			r, err := getBoardRec(tx, b.meetingID)
			if err != nil {
				return err
			}
			if r != want {
				return errStale
			}
			if r.Bytes+int64(len(raw)) > b.s.opts.MaxBoardBytes {
				return ErrBoardFull
			}
			r.Last = acc.Seq
			if r.First == 0 {
				r.First = acc.Seq
			}
			r.Bytes += int64(len(raw))
			if err := tx.Set(opKey(b.meetingID, acc.Seq), raw); err != nil {
				return err
			}
			if err := tx.Set(expiryKey(acc.At, b.meetingID, acc.Seq), nil); err != nil {
				return err
			}
			rec = r
			return putBoardRec(tx, b.meetingID, r)
		})
		if errors.Is(err, errStale) {
			continue
		}
		if err != nil {
			return Op{}, err
		}
		b.rec = rec
		stored := acc
		b.eng.apply(&stored)
		return stored.clone(), nil
	}
	return Op{}, store.ErrConflict
}

func (e *engine) docKnown(doc string) bool {
	_, ok := e.docs[doc]
	return doc == "" || ok
}

// pages returns the page count of a background op's document and checks
// the page against it.
func (b *Board) pages(ctx context.Context, op Op) (int, error) {
	if op.Doc == "" {
		if op.Page > MaxBlankPages {
			return 0, ErrBadPage
		}
		return 0, nil
	}
	n, ok := b.eng.docs[op.Doc]
	if !ok {
		if b.s.opts.Documents == nil {
			return 0, ErrUnknownDocument
		}
		var err error
		n, err = b.s.opts.Documents(ctx, b.meetingID, op.Doc)
		if err != nil {
			return 0, fmt.Errorf("document pages: %w", err)
		}
		if n < 1 || n > MaxDocPages {
			return 0, tooLarge("document page count")
		}
	}
	if op.Page > n {
		return 0, ErrBadPage
	}
	return n, nil
}

// sync brings the model up to the store: new ops by other Boards are
// applied, and after an expiry or deletion the model is rebuilt from what
// is left. Ops past the meeting's period are then dropped from the model.
func (b *Board) sync(ctx context.Context) error {
	var rec boardRec
	var fresh []*Op
	var rebuild bool
	err := b.s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		rec, err = getBoardRec(tx, b.meetingID)
		if err != nil {
			return err
		}
		fresh, rebuild = fresh[:0], false
		if rec == b.rec {
			return nil
		}
		from := b.rec.Last + 1
		if rec.First != b.rec.First || rec.Last < b.rec.Last {
			rebuild, from = true, 0
		}
		return tx.Scan(opPrefix(b.meetingID), func(key, value []byte) error {
			if from > 0 && bytes.Compare(key, opKey(b.meetingID, from)) < 0 {
				return nil
			}
			op, err := decodeStored(value)
			if err != nil {
				return err
			}
			fresh = append(fresh, op)
			return nil
		})
	})
	if err != nil {
		return err
	}
	visible, err := b.visibleAfter(ctx)
	if err != nil {
		return err
	}
	if rebuild {
		if len(b.eng.ops) > 0 {
			b.gen++
		}
		last := b.eng.last
		b.eng = newEngine()
		b.eng.last = max(rec.Last, last)
	}
	for _, op := range fresh {
		if op.At.After(visible) {
			b.eng.apply(op)
		}
	}
	b.eng.last = max(b.eng.last, rec.Last)
	b.rec = rec
	if len(b.eng.ops) > 0 && !b.eng.ops[0].At.After(visible) {
		// Ops have run out their period: rebuild from the rest.
		old, last := b.eng.ops, b.eng.last
		b.gen++
		b.eng = newEngine()
		b.eng.last = last
		for _, op := range old {
			if op.At.After(visible) {
				b.eng.apply(op)
			}
		}
	}
	return nil
}

// visibleAfter returns the time after which an op must have been accepted
// to count now (see chat's rule of the same name).
func (b *Board) visibleAfter(ctx context.Context) (time.Time, error) {
	now := b.s.clock.Now()
	if b.s.opts.Rule == nil {
		return now.Add(-Retention), nil
	}
	period, held, err := b.s.opts.Rule(ctx, b.meetingID)
	if err != nil {
		return time.Time{}, fmt.Errorf("retention rule: %w", err)
	}
	if held || period <= 0 {
		return time.Time{}, nil
	}
	return now.Add(-period), nil
}

// State returns the visible objects of one page, or of every page for the
// zero PageRef, with the background and the sequence number they reflect.
func (b *Board) State(ctx context.Context, page PageRef) (State, error) {
	if page != (PageRef{}) && (page.Page < 1 || (page.Doc != "" && !ids.Valid(page.Doc))) {
		return State{}, fmt.Errorf("whiteboard: state: %w", ErrBadPage)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.sync(ctx); err != nil {
		return State{}, fmt.Errorf("whiteboard: state: %w", err)
	}
	return b.eng.state(page), nil
}

// Since returns the logged ops after seq in order, at most limit of them
// (limit ≤ 0 or above MaxSince: MaxSince), for a participant that
// reconnects. It returns ErrResync when ops after seq have expired or seq
// is beyond the log: the participant then fetches State.
func (b *Board) Since(ctx context.Context, seq uint64, limit int) ([]Op, error) {
	if limit <= 0 || limit > MaxSince {
		limit = MaxSince
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.sync(ctx); err != nil {
		return nil, fmt.Errorf("whiteboard: since: %w", err)
	}
	e := b.eng
	if seq > e.last || (seq < e.last && seq+1 < e.first()) {
		return nil, fmt.Errorf("whiteboard: since %d: %w", seq, ErrResync)
	}
	out := []Op{}
	for _, op := range e.ops {
		if op.Seq > seq {
			out = append(out, op.clone())
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}
