package whiteboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"parley/relay/store"
)

// DeleteResult counts what DeleteExpired or DeleteMeeting removed.
type DeleteResult struct {
	// Ops is the number of logged ops deleted.
	Ops int
	// Boards is the number of boards left empty and forgotten.
	Boards int
}

// SweepStats tells a retention sweep what DeleteExpiredSweep found due and
// what it could not do, for its metrics and alerts (as chat.SweepStats).
type SweepStats struct {
	// Due is the number of ops whose period had run out and that no hold
	// kept: those deleted and those that failed.
	Due int
	// Failed is the number of due ops whose deletion failed, plus the
	// meetings whose rule failed (their ops are kept).
	Failed int
	// Pending holds the deadlines of the due ops still present after the
	// call.
	Pending []time.Time
}

// opBatch is how many ops one transaction deletes.
const opBatch = 64

var errStop = errors.New("stop")

// DeleteExpired deletes every op accepted Retention ago or earlier.
func (s *Service) DeleteExpired(ctx context.Context, now time.Time) (DeleteResult, error) {
	res, _, err := s.DeleteExpiredSweep(ctx, now, nil)
	return res, err
}

// DeleteExpiredSweep applies the retention rule at now: every op whose
// meeting's period (rule, asked once per meeting and call; nil means
// Retention and no holds) has run out since it was accepted is deleted,
// oldest first, in small transactions; it can be interrupted and run
// again. Ops of a meeting whose rule fails are kept and the error returned
// after the other ops were processed. When a batch fails, each op is
// tried on its own.
func (s *Service) DeleteExpiredSweep(ctx context.Context, now time.Time, rule ContentRule) (DeleteResult, SweepStats, error) {
	var res DeleteResult
	var st SweepStats
	cutoff := now.Add(-Retention).UnixNano()
	if rule != nil {
		cutoff = now.UnixNano()
	}
	type decision struct {
		cutoff int64
		period time.Duration
		keep   bool
	}
	decided := map[string]decision{}
	var errs []error
	var after []byte
	for {
		type ref struct {
			meetingID string
			seq       uint64
			deadline  int64
		}
		var batch []ref
		var stale [][]byte
		var last []byte
		err := s.kv.View(ctx, func(tx store.Txn) error {
			batch, stale, last = batch[:0], stale[:0], nil
			err := tx.Scan([]byte(prefixExpiry), func(key, _ []byte) error {
				if after != nil && bytes.Compare(key, after) <= 0 {
					return nil
				}
				at, mid, seq, ok := parseExpiryKey(key)
				if !ok {
					stale = append(stale, bytes.Clone(key))
					return nil
				}
				if at > cutoff || len(batch) == opBatch {
					return errStop
				}
				batch = append(batch, ref{mid, seq, at + int64(Retention)})
				last = bytes.Clone(key)
				return nil
			})
			if errors.Is(err, errStop) {
				err = nil
			}
			return err
		})
		if err != nil {
			return res, st, fmt.Errorf("whiteboard: delete expired: %w", err)
		}
		full := len(batch) == opBatch
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
						errs = append(errs, fmt.Errorf("whiteboard: retention rule for %s: %w", r.meetingID, err))
						d.keep = true
					case held || period <= 0:
						d.keep = true
					default:
						d.cutoff, d.period = now.Add(-period).UnixNano(), period
					}
					decided[r.meetingID] = d
				}
				at := r.deadline - int64(Retention)
				if !d.keep && at <= d.cutoff {
					r.deadline = at + int64(d.period)
					due = append(due, r)
				}
			}
			batch = due
		}
		st.Due += len(batch)
		var n, boards int
		del := func(refs []ref, stale [][]byte) error {
			return s.kv.Update(ctx, func(tx store.Txn) error {
				n, boards = 0, 0
				for _, k := range stale {
					if err := tx.Delete(k); err != nil {
						return err
					}
				}
				for _, r := range refs {
					found, emptied, err := deleteOp(tx, r.meetingID, r.seq)
					if err != nil {
						return err
					}
					if found {
						n++
					}
					if emptied {
						boards++
					}
				}
				return nil
			})
		}
		if err := del(batch, stale); err == nil {
			res.Ops += n
			res.Boards += boards
		} else {
			if ctx.Err() != nil {
				return res, st, fmt.Errorf("whiteboard: delete expired: %w", err)
			}
			for _, r := range batch {
				if err := del([]ref{r}, nil); err != nil {
					st.Failed++
					st.Pending = append(st.Pending, time.Unix(0, r.deadline).UTC())
					errs = append(errs, fmt.Errorf("whiteboard: delete expired op %d of %s: %w", r.seq, r.meetingID, err))
					continue
				}
				res.Ops += n
				res.Boards += boards
			}
		}
		if !full {
			break
		}
	}
	if res != (DeleteResult{}) {
		s.log.Info("whiteboard content deleted", "ops", res.Ops, "boards", res.Boards)
	}
	return res, st, errors.Join(errs...)
}

// deleteOp deletes one logged op with its index entry inside tx and
// updates the board's record; it reports whether the op existed and
// whether the board is now empty (its record deleted too).
func deleteOp(tx store.Txn, meetingID string, seq uint64) (found, emptied bool, err error) {
	raw, err := tx.Get(opKey(meetingID, seq))
	if errors.Is(err, store.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if err := tx.Delete(opKey(meetingID, seq)); err != nil {
		return false, false, err
	}
	if op, err := decodeStored(raw); err == nil {
		if err := tx.Delete(expiryKey(op.At, meetingID, seq)); err != nil {
			return false, false, err
		}
	}
	r, err := getBoardRec(tx, meetingID)
	if err != nil {
		return false, false, err
	}
	r.Bytes = max(0, r.Bytes-int64(len(raw)))
	if seq == r.First {
		r.First++
	}
	if r.First > r.Last {
		return true, true, tx.Delete(boardKey(meetingID))
	}
	return true, false, putBoardRec(tx, meetingID, r)
}

// DeleteMeeting erases a meeting's whole board now (erasure, or a meeting
// deleted early). Open Boards of the meeting see an empty board at their
// next call. Ops applied while it runs may survive it.
func (s *Service) DeleteMeeting(ctx context.Context, meetingID string) (DeleteResult, error) {
	if !validRef(meetingID) {
		return DeleteResult{}, fmt.Errorf("whiteboard: delete meeting: %w", invalid("meeting id"))
	}
	var res DeleteResult
	for {
		var seqs []uint64
		err := s.kv.View(ctx, func(tx store.Txn) error {
			seqs = seqs[:0]
			err := tx.Scan(opPrefix(meetingID), func(key, value []byte) error {
				if len(seqs) == opBatch {
					return errStop
				}
				op, err := decodeStored(value)
				if err != nil || !bytes.Equal(key, opKey(meetingID, op.Seq)) {
					return fmt.Errorf("whiteboard: corrupt op record in %s", meetingID)
				}
				seqs = append(seqs, op.Seq)
				return nil
			})
			if errors.Is(err, errStop) {
				err = nil
			}
			return err
		})
		if err != nil {
			return res, fmt.Errorf("whiteboard: delete meeting: %w", err)
		}
		if len(seqs) == 0 {
			break
		}
		var n, boards int
		err = s.kv.Update(ctx, func(tx store.Txn) error {
			n, boards = 0, 0
			for _, seq := range seqs {
				found, emptied, err := deleteOp(tx, meetingID, seq)
				if err != nil {
					return err
				}
				if found {
					n++
				}
				if emptied {
					boards++
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("whiteboard: delete meeting: %w", err)
		}
		res.Ops += n
		res.Boards += boards
	}
	// Out-of-order deletions can leave the record behind; forget it.
	var left bool
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		_, err := tx.Get(boardKey(meetingID))
		left = err == nil
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return tx.Delete(boardKey(meetingID))
	})
	if err != nil {
		return res, fmt.Errorf("whiteboard: delete meeting: %w", err)
	}
	if left {
		res.Boards++
	}
	s.log.Info("whiteboard erased", "meeting_id", meetingID, "ops", res.Ops)
	return res, nil
}
