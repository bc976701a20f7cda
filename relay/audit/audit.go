// Package audit keeps the relay's audit log: admin actions and deletions,
// append-only and hash-chained with HMAC-SHA256, so that Verify detects any
// entry that was edited, removed, inserted or reordered, and a tail that
// was cut off. Entries carry ids only, never personal data.
package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"parley/relay/clock"
	"parley/relay/store"
)

// Key prefixes in the store.
const (
	entryPrefix = "audit/e/"
	headKey     = "audit/head"
	keyKey      = "audit/key"
	ckeyKey     = "audit/checkpoint-key" // Ed25519 seed of the checkpoint key
)

// Record is what a caller logs.
type Record struct {
	// TenantID is the tenant the action concerns ("" for the relay itself).
	TenantID string
	// Actor is who acted: a user id, or "system".
	Actor string
	// Action names what happened, e.g. "user.create" or "retention.delete".
	Action string
	// Target is the pseudonymous id acted on (a user, meeting, … id).
	Target string
	// Details are further ids and counts; never names, e-mail addresses,
	// IP addresses or free text typed by a person.
	Details map[string]string
}

// Entry is a stored record with its place in the chain.
type Entry struct {
	Seq      uint64            `json:"seq"`                 // place in the chain, from 1
	Time     time.Time         `json:"time"`                // when it was appended (UTC)
	TenantID string            `json:"tenant_id,omitempty"` // see Record
	Actor    string            `json:"actor"`               // see Record
	Action   string            `json:"action"`              // see Record
	Target   string            `json:"target,omitempty"`    // see Record
	Details  map[string]string `json:"details,omitempty"`   // see Record
	// Prev is the MAC of the entry before (empty for the first).
	Prev string `json:"prev,omitempty"`
	// MAC is HMAC-SHA256 over Prev and the entry's other fields.
	MAC string `json:"mac"`
}

type head struct {
	Seq uint64 `json:"seq"`
	MAC string `json:"mac"` // MAC of the last entry
	Sig string `json:"sig"` // HMAC over Seq and MAC
}

// Options configures a Log.
type Options struct {
	// Store holds the log. Required.
	Store store.KV
	// Clock stamps entries; nil means the real clock.
	Clock clock.Clock
	// Logger gets a line per appended entry (ids only); nil discards.
	Logger *slog.Logger
	// CheckpointInterval is how often RunCheckpoints appends a signed
	// checkpoint; zero means DefaultCheckpointInterval.
	CheckpointInterval time.Duration
}

// Log is the audit log.
type Log struct {
	kv  store.KV
	clk clock.Clock
	log *slog.Logger
	key []byte

	ckey     ed25519.PrivateKey // signs checkpoints
	interval time.Duration      // between checkpoints
	poll     time.Duration      // how often RunCheckpoints looks at the clock
	mu       sync.Mutex
	lastCP   time.Time // when the schedule last came due
}

// ErrInvalid is returned for a record without actor or action.
var ErrInvalid = errors.New("audit: record needs an actor and an action")

// New opens the log, creating its HMAC key (kept in the encrypted store) on
// first use.
func New(ctx context.Context, opts Options) (*Log, error) {
	if opts.Store == nil {
		return nil, errors.New("audit: Store is required")
	}
	l := &Log{kv: opts.Store, clk: clock.Or(opts.Clock), log: opts.Logger, interval: opts.CheckpointInterval}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.interval <= 0 {
		l.interval = DefaultCheckpointInterval
	}
	l.poll = min(l.interval, time.Minute)
	err := l.kv.Update(ctx, func(tx store.Txn) error {
		k, err := tx.Get([]byte(keyKey))
		if err == nil {
			l.key = k
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		l.key = make([]byte, 32)
		_, _ = rand.Read(l.key) // never fails (crypto/rand since Go 1.24)
		return tx.Set([]byte(keyKey), l.key)
	})
	if err != nil {
		return nil, fmt.Errorf("audit: key: %w", err)
	}
	if err := l.loadCheckpointKey(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

func entryKey(seq uint64) []byte { return fmt.Appendf(nil, "%s%020d", entryPrefix, seq) }

// mac computes an entry's MAC from its fields (MAC itself excluded).
func (l *Log) mac(e Entry) string {
	e.MAC = ""
	b, _ := json.Marshal(e) // map keys are sorted: the encoding is canonical
	m := hmac.New(sha256.New, l.key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

func (l *Log) headSig(h head) string {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte("head"))
	_ = binary.Write(m, binary.BigEndian, h.Seq)
	m.Write([]byte(h.MAC))
	return hex.EncodeToString(m.Sum(nil))
}

// Append adds a record durably and returns the stored entry. The action
// CheckpointAction is reserved for the log's own checkpoints.
func (l *Log) Append(ctx context.Context, r Record) (Entry, error) {
	if strings.TrimSpace(r.Actor) == "" || strings.TrimSpace(r.Action) == "" || r.Action == CheckpointAction {
		return Entry{}, ErrInvalid
	}
	var out Entry
	err := l.kv.Update(ctx, func(tx store.Txn) error {
		h, err := readHead(tx)
		if err != nil {
			return err
		}
		out, err = l.appendTx(tx, h, r)
		return err
	})
	if err != nil {
		return Entry{}, fmt.Errorf("audit: append %s: %w", r.Action, err)
	}
	l.log.Info("audit", "seq", out.Seq, "action", out.Action, "tenant_id", out.TenantID, "actor", out.Actor, "target", out.Target)
	return out, nil
}

// readHead reads the chain's head; the zero head for an empty log.
func readHead(tx store.Txn) (head, error) {
	var h head
	if b, err := tx.Get([]byte(headKey)); err == nil {
		if err := json.Unmarshal(b, &h); err != nil {
			return h, fmt.Errorf("audit: head: %w", err)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return h, err
	}
	return h, nil
}

// appendTx stores r as the entry after h and moves the head to it.
func (l *Log) appendTx(tx store.Txn, h head, r Record) (Entry, error) {
	e := Entry{Seq: h.Seq + 1, Time: l.clk.Now().UTC(), TenantID: r.TenantID, Actor: r.Actor,
		Action: r.Action, Target: r.Target, Details: r.Details, Prev: h.MAC}
	e.MAC = l.mac(e)
	b, err := json.Marshal(e)
	if err != nil {
		return Entry{}, err
	}
	if err := tx.Set(entryKey(e.Seq), b); err != nil {
		return Entry{}, err
	}
	h = head{Seq: e.Seq, MAC: e.MAC}
	h.Sig = l.headSig(h)
	hb, _ := json.Marshal(h)
	return e, tx.Set([]byte(headKey), hb)
}

// List returns up to limit entries of a tenant with Seq > after, oldest
// first.
func (l *Log) List(ctx context.Context, tenantID string, after uint64, limit int) ([]Entry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var out []Entry
	stop := errors.New("enough")
	err := l.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(entryPrefix), func(_, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit: entry: %w", err)
			}
			if e.Seq > after && e.TenantID == tenantID {
				out = append(out, e)
				if len(out) == limit {
					return stop
				}
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, stop) {
		return nil, err
	}
	return out, nil
}

// Problem is one inconsistency Verify found.
type Problem struct {
	Seq  uint64 // the entry where it shows (0 for the head)
	What string // what does not fit, for people
}

// Report is the result of Verify.
type Report struct {
	Entries  uint64    // entries read, checkpoints included
	Problems []Problem // empty when the chain is intact
	// Checkpoints counts the signed checkpoints read; LastCheckpoint is
	// the sequence number of the last one (0 for none).
	Checkpoints, LastCheckpoint uint64
	// KeyFingerprint is the fingerprint of the key the checkpoints were
	// checked against (see KeyFingerprint).
	KeyFingerprint string
}

// OK reports whether the chain is intact.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify walks the whole chain and reports every entry that does not fit:
// a MAC that does not match its content (edited), a sequence gap (removed),
// a Prev that is not the previous MAC (reordered or inserted), a head
// that disagrees with the last entry (tail cut off or head forged), and a
// checkpoint whose signature does not verify under the log's checkpoint
// key or that does not commit to the chain before it as it is now.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	return l.verify(ctx, l.CheckpointPublicKey())
}

func (l *Log) verify(ctx context.Context, pub ed25519.PublicKey) (Report, error) {
	rep := Report{KeyFingerprint: KeyFingerprint(pub)}
	err := l.kv.View(ctx, func(tx store.Txn) error {
		var prevSeq uint64
		var prevMAC string
		var chain string // the MAC chain recomputed from the entries' content
		err := tx.Scan([]byte(entryPrefix), func(k, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				rep.Problems = append(rep.Problems, Problem{prevSeq + 1, "unreadable entry " + string(k)})
				return nil
			}
			rep.Entries++
			if string(k) != string(entryKey(e.Seq)) {
				rep.Problems = append(rep.Problems, Problem{e.Seq, "entry stored under another sequence number"})
			}
			if e.Seq != prevSeq+1 {
				rep.Problems = append(rep.Problems, Problem{e.Seq, fmt.Sprintf("sequence jumps from %d to %d (entries removed)", prevSeq, e.Seq)})
			}
			if e.Prev != prevMAC {
				rep.Problems = append(rep.Problems, Problem{e.Seq, "does not follow the entry before it (removed, inserted or reordered)"})
			}
			if !hmac.Equal([]byte(e.MAC), []byte(l.mac(e))) {
				rep.Problems = append(rep.Problems, Problem{e.Seq, "content does not match its MAC (edited)"})
			}
			if e.Action == CheckpointAction {
				rep.Checkpoints++
				rep.LastCheckpoint = e.Seq
				if what := checkCheckpoint(e, chain, pub); what != "" {
					rep.Problems = append(rep.Problems, Problem{e.Seq, what})
				}
			}
			c := e
			c.Prev = chain
			chain = l.mac(c)
			prevSeq, prevMAC = e.Seq, e.MAC
			return nil
		})
		if err != nil {
			return err
		}
		var h head
		b, err := tx.Get([]byte(headKey))
		switch {
		case errors.Is(err, store.ErrNotFound):
			if rep.Entries > 0 {
				rep.Problems = append(rep.Problems, Problem{0, "head missing"})
			}
			return nil
		case err != nil:
			return err
		}
		if err := json.Unmarshal(b, &h); err != nil {
			rep.Problems = append(rep.Problems, Problem{0, "head unreadable"})
			return nil
		}
		if !hmac.Equal([]byte(h.Sig), []byte(l.headSig(h))) {
			rep.Problems = append(rep.Problems, Problem{0, "head signature invalid (forged)"})
		}
		if h.Seq != prevSeq || h.MAC != prevMAC {
			rep.Problems = append(rep.Problems, Problem{0, fmt.Sprintf("head names entry %d but the chain ends at %d (tail removed)", h.Seq, prevSeq)})
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("audit: verify: %w", err)
	}
	return rep, nil
}
