package chat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"parley/relay/ids"
	"parley/relay/store"
)

// DeleteResult counts what DeleteExpired or DeleteMeeting removed.
type DeleteResult struct {
	// Entries is the number of timeline entries deleted, chat messages
	// and files.
	Entries int
	// Files is how many of Entries were files (their bytes deleted too).
	Files int
	// Uploads is the number of unfinished uploads whose chunks were
	// removed.
	Uploads int
}

// Batch sizes: how many entries, or chunk keys, one transaction deletes.
const (
	entryBatch = 64
	chunkBatch = 256
)

// errStop ends a Scan early.
var errStop = errors.New("stop")

// DeleteExpired applies the retention rule at now: every entry posted
// Retention ago or earlier is deleted with its file's bytes, and chunks of
// uploads that have not finished within UploadTimeout are removed. It
// works in small transactions and can be interrupted and run again.
func (s *Service) DeleteExpired(ctx context.Context, now time.Time) (DeleteResult, error) {
	return s.DeleteExpiredBy(ctx, now, nil)
}

// ContentRule decides, for one meeting, how long its timeline entries are
// kept after they were posted and whether a legal hold keeps them. The
// privacy engine supplies it from the tenant's effective policy.
type ContentRule func(ctx context.Context, meetingID string) (period time.Duration, held bool, err error)

// DeleteExpiredBy is DeleteExpired with the period and holds decided per
// meeting by rule (asked once per meeting and call); nil means Retention
// and no holds. Entries of a meeting whose rule fails are kept and the
// error is returned after the other entries were processed.
func (s *Service) DeleteExpiredBy(ctx context.Context, now time.Time, rule ContentRule) (DeleteResult, error) {
	res, _, err := s.DeleteExpiredSweep(ctx, now, rule)
	return res, err
}

// SweepStats tells a retention sweep what DeleteExpiredSweep found due and
// what it could not do, for its metrics and alerts.
type SweepStats struct {
	// Due is the number of entries whose period had run out at now and
	// that no hold kept: those deleted and those that failed.
	Due int
	// Failed is the number of due entries whose deletion failed, plus
	// the meetings whose rule failed (their entries are kept).
	Failed int
	// Pending holds the deadlines of the due entries still present after
	// the call (their deletion failed).
	Pending []time.Time
}

// DeleteExpiredSweep is DeleteExpiredBy that also reports what was due
// and what failed. When deleting a batch of entries fails, each entry is
// tried on its own, so one entry that cannot be deleted keeps no other.
func (s *Service) DeleteExpiredSweep(ctx context.Context, now time.Time, rule ContentRule) (DeleteResult, SweepStats, error) {
	var res DeleteResult
	var st SweepStats
	cutoff := now.Add(-Retention).UnixNano()
	if rule != nil {
		cutoff = now.UnixNano() // any entry posted by now may be due
	}
	type decision struct {
		cutoff int64 // entries sent at or before it are due
		period time.Duration
		keep   bool
	}
	decided := map[string]decision{}
	var ruleErrs []error
	var after []byte // the last index key looked at
	for {
		type ref struct {
			meetingID string
			seq       uint64
			sent      int64
			deadline  int64 // sent + the meeting's period
		}
		var batch []ref
		var stale [][]byte // malformed index keys
		var last []byte
		err := s.kv.View(ctx, func(tx store.Txn) error {
			batch, stale, last = batch[:0], stale[:0], nil
			// Resume after the last key looked at: seeking, not
			// stepping over every key (and deleted key) before it.
			err := store.ScanAfter(tx, []byte(prefixExpiry), after, func(key, _ []byte) error {
				sent, mid, seq, ok := parseExpiryKey(key)
				if !ok {
					stale = append(stale, bytes.Clone(key))
					return nil
				}
				if sent > cutoff || len(batch) == entryBatch {
					return errStop
				}
				batch = append(batch, ref{mid, seq, sent, sent + int64(Retention)})
				last = bytes.Clone(key)
				return nil
			})
			if errors.Is(err, errStop) {
				err = nil
			}
			return err
		})
		if err != nil {
			return res, st, fmt.Errorf("chat: delete expired: %w", err)
		}
		full := len(batch) == entryBatch
		if last != nil {
			after = last
		}
		if rule != nil {
			due := batch[:0]
			for _, r := range batch {
				d, ok := decided[r.meetingID]
				if !ok {
					period, held, err := rule(ctx, r.meetingID)
					switch {
					case err != nil:
						st.Failed++
						ruleErrs = append(ruleErrs, fmt.Errorf("chat: retention rule for %s: %w", r.meetingID, err))
						d.keep = true
					case held || period <= 0:
						d.keep = true
					default:
						d.cutoff, d.period = now.Add(-period).UnixNano(), period
					}
					decided[r.meetingID] = d
				}
				if !d.keep && r.sent <= d.cutoff {
					r.deadline = r.sent + int64(d.period)
					due = append(due, r)
				}
			}
			batch = due
		}
		st.Due += len(batch)
		var n, files int
		del := func(refs []ref, stale [][]byte) error {
			return s.kv.Update(ctx, func(tx store.Txn) error {
				n, files = 0, 0
				for _, k := range stale {
					if err := tx.Delete(k); err != nil {
						return err
					}
				}
				for _, r := range refs {
					found, file, err := deleteEntry(tx, r.meetingID, r.seq)
					if err != nil {
						return err
					}
					if found {
						n++
					}
					if file {
						files++
					}
				}
				return nil
			})
		}
		if err := del(batch, stale); err == nil {
			res.Entries += n
			res.Files += files
		} else {
			if ctx.Err() != nil {
				return res, st, fmt.Errorf("chat: delete expired: %w", err)
			}
			// Try each entry on its own: one that cannot be deleted
			// keeps no other from its deadline.
			for _, r := range batch {
				if err := del([]ref{r}, nil); err != nil {
					st.Failed++
					st.Pending = append(st.Pending, time.Unix(0, r.deadline).UTC())
					ruleErrs = append(ruleErrs, fmt.Errorf("chat: delete expired entry %d of %s: %w", r.seq, r.meetingID, err))
					continue
				}
				res.Entries += n
				res.Files += files
			}
		}
		if !full {
			break
		}
	}

	upCutoff := now.Add(-s.opts.UploadTimeout).UnixNano()
	var old [][]byte
	err := s.kv.View(ctx, func(tx store.Txn) error {
		old = old[:0]
		err := tx.Scan([]byte(prefixUpload), func(key, _ []byte) error {
			started, _, _ := strings.Cut(strings.TrimPrefix(string(key), prefixUpload), "/")
			if t, err := strconv.ParseInt(started, 10, 64); err == nil && t > upCutoff {
				return errStop
			}
			old = append(old, key)
			return nil
		})
		if errors.Is(err, errStop) {
			err = nil
		}
		return err
	})
	if err != nil {
		return res, st, fmt.Errorf("chat: delete expired: %w", err)
	}
	for _, k := range old {
		_, fileID, _ := strings.Cut(strings.TrimPrefix(string(k), prefixUpload), "/")
		ok, err := s.abandon(ctx, k, fileID)
		if err != nil {
			return res, st, fmt.Errorf("chat: delete expired: %w", err)
		}
		if ok {
			res.Uploads++
		}
	}
	if err := s.collectAll(ctx); err != nil {
		return res, st, fmt.Errorf("chat: delete expired: %w", err)
	}
	if res != (DeleteResult{}) {
		s.log.Info("meeting content deleted", "entries", res.Entries, "files", res.Files, "uploads", res.Uploads)
	}
	return res, st, errors.Join(ruleErrs...)
}

// deleteEntry deletes one entry with its indexes inside tx; a file's
// chunks are handed to the garbage list. It reports whether the entry
// existed and whether it was a file.
func deleteEntry(tx store.Txn, meetingID string, seq uint64) (found, file bool, err error) {
	rec, err := getEntry(tx, meetingID, seq)
	if errors.Is(err, ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	e := rec.Entry
	if err := tx.Delete(entryKey(meetingID, seq)); err != nil {
		return false, false, err
	}
	if err := tx.Delete(expiryKey(e.Sent, meetingID, seq)); err != nil {
		return false, false, err
	}
	if e.Nonce != "" {
		nk := nonceKey(meetingID, e.From, e.Nonce)
		if n, err := getSeq(tx, nk); err == nil && n == seq {
			if err := tx.Delete(nk); err != nil {
				return false, false, err
			}
		}
	}
	if rec.Chunks > 0 {
		file = true
		if err := tx.Delete(fileKey(meetingID, e.ID)); err != nil {
			return false, false, err
		}
		if err := putJSON(tx, garbageKey(e.ID), uploadRec{MeetingID: meetingID, Chunks: rec.Chunks, Bytes: rec.Bytes}); err != nil {
			return false, false, err
		}
	}
	m, err := getMeetingRec(tx, meetingID)
	if err != nil {
		return false, false, err
	}
	m.Bytes -= rec.Bytes
	if m.Bytes < 0 {
		m.Bytes = 0
	}
	if seq == m.First {
		m.First++
	}
	if m.First > m.Last {
		// The timeline is empty: forget the meeting.
		return true, file, tx.Delete(meetingKey(meetingID))
	}
	return true, file, putJSON(tx, meetingKey(meetingID), m)
}

// abandon moves an upload's record to the garbage list, so that a
// concurrent writer of the upload fails and collect removes its chunks.
// It reports false when the record was already gone.
func (s *Service) abandon(ctx context.Context, upKey []byte, fileID string) (bool, error) {
	var ok bool
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		var up uploadRec
		err := getJSON(tx, upKey, &up)
		ok = err == nil
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !ids.Valid(fileID) {
			return tx.Delete(upKey)
		}
		if err := tx.Delete(upKey); err != nil {
			return err
		}
		return putJSON(tx, garbageKey(fileID), up)
	})
	return ok, err
}

// collect deletes the chunks listed in a file's garbage record, a batch
// per transaction, and then the record.
func (s *Service) collect(ctx context.Context, fileID string) error {
	var g uploadRec
	err := s.kv.View(ctx, func(tx store.Txn) error { return getJSON(tx, garbageKey(fileID), &g) })
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for i := 0; i < g.Chunks; i += chunkBatch {
		err := s.kv.Update(ctx, func(tx store.Txn) error {
			for j := i; j < min(i+chunkBatch, g.Chunks); j++ {
				if err := tx.Delete(chunkKey(fileID, j)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return s.kv.Update(ctx, func(tx store.Txn) error { return tx.Delete(garbageKey(fileID)) })
}

// collectAll runs collect for every garbage record.
func (s *Service) collectAll(ctx context.Context) error {
	var ids []string
	err := s.kv.View(ctx, func(tx store.Txn) error {
		ids = ids[:0]
		return tx.Scan([]byte(prefixGarbage), func(key, _ []byte) error {
			ids = append(ids, strings.TrimPrefix(string(key), prefixGarbage))
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.collect(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// DeleteMeeting erases a meeting's whole timeline now: every entry, every
// file's bytes and the meeting's unfinished uploads (erasure, or a meeting
// deleted early). Entries posted while it runs may survive it.
func (s *Service) DeleteMeeting(ctx context.Context, meetingID string) error {
	if !validRef(meetingID) {
		return fmt.Errorf("chat: delete meeting: %w", invalid("meeting id"))
	}
	if _, err := s.deleteMeeting(ctx, meetingID); err != nil {
		return fmt.Errorf("chat: delete meeting: %w", err)
	}
	return nil
}

func (s *Service) deleteMeeting(ctx context.Context, meetingID string) (DeleteResult, error) {
	var res DeleteResult
	for {
		var m *meetingRec
		err := s.kv.View(ctx, func(tx store.Txn) error {
			var err error
			m, err = getMeetingRec(tx, meetingID)
			return err
		})
		if err != nil {
			return res, err
		}
		if m.Last == 0 {
			break // no record: nothing left
		}
		from, to := m.First, min(m.Last, m.First+entryBatch-1)
		var n, files int
		err = s.kv.Update(ctx, func(tx store.Txn) error {
			n, files = 0, 0
			for seq := from; seq <= to; seq++ {
				found, file, err := deleteEntry(tx, meetingID, seq)
				if err != nil {
					return err
				}
				if found {
					n++
				}
				if file {
					files++
				}
			}
			// Make progress past gaps (entries deleted out of order).
			m, err := getMeetingRec(tx, meetingID)
			if err != nil || m.Last == 0 {
				return err
			}
			if m.First <= to {
				m.First = to + 1
			}
			if m.First > m.Last {
				return tx.Delete(meetingKey(meetingID))
			}
			return putJSON(tx, meetingKey(meetingID), m)
		})
		if err != nil {
			return res, err
		}
		res.Entries += n
		res.Files += files
	}
	var ups [][]byte
	err := s.kv.View(ctx, func(tx store.Txn) error {
		ups = ups[:0]
		return tx.Scan([]byte(prefixUpload), func(key, value []byte) error {
			if bytes.Contains(value, []byte(`"meeting_id":"`+meetingID+`"`)) {
				ups = append(ups, key)
			}
			return nil
		})
	})
	if err != nil {
		return res, err
	}
	for _, k := range ups {
		_, fileID, _ := strings.Cut(strings.TrimPrefix(string(k), prefixUpload), "/")
		ok, err := s.abandon(ctx, k, fileID)
		if err != nil {
			return res, err
		}
		if ok {
			res.Uploads++
		}
	}
	if err := s.collectAll(ctx); err != nil {
		return res, err
	}
	s.log.Info("meeting timeline erased", "meeting_id", meetingID, "entries", res.Entries, "files", res.Files)
	return res, nil
}
