package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"parley/relay/certs"
	"parley/relay/store"
)

// CheckpointAction is the action of the log's own signed checkpoints
// (actor "system", no tenant). Callers cannot append it.
const CheckpointAction = "audit.checkpoint"

// DefaultCheckpointInterval is how often a checkpoint is written when
// Options.CheckpointInterval is zero.
const DefaultCheckpointInterval = time.Hour

// publicKeyPrefix starts the text form of a checkpoint public key.
const publicKeyPrefix = "parley-audit-ed25519 "

// Checkpoint details: the entry before the checkpoint, its MAC, the key's
// fingerprint and the Ed25519 signature over the first two.
const (
	detailSeq   = "seq"
	detailChain = "chain"
	detailKey   = "key"
	detailSig   = "sig"
)

// loadCheckpointKey reads the checkpoint signing key from the store, or
// creates it there on first use.
func (l *Log) loadCheckpointKey(ctx context.Context) error {
	err := l.kv.Update(ctx, func(tx store.Txn) error {
		seed, err := tx.Get([]byte(ckeyKey))
		if err == nil {
			if len(seed) != ed25519.SeedSize {
				return fmt.Errorf("stored key has %d bytes", len(seed))
			}
			l.ckey = ed25519.NewKeyFromSeed(seed)
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		seed = make([]byte, ed25519.SeedSize)
		_, _ = rand.Read(seed) // never fails (crypto/rand since Go 1.24)
		l.ckey = ed25519.NewKeyFromSeed(seed)
		return tx.Set([]byte(ckeyKey), seed)
	})
	if err != nil {
		return fmt.Errorf("audit: checkpoint key: %w", err)
	}
	return nil
}

// CheckpointPublicKey is the public half of the key that signs the log's
// checkpoints. An auditor keeps a copy outside the relay and checks the
// log against it with VerifyWithKey.
func (l *Log) CheckpointPublicKey() ed25519.PublicKey {
	return l.ckey.Public().(ed25519.PublicKey)
}

// KeyFingerprint formats the SHA-256 fingerprint of a checkpoint public
// key like the relay's certificate fingerprint ("SHA256:AB:CD:…").
func KeyFingerprint(pub ed25519.PublicKey) string {
	return certs.FormatSHA256(sha256.Sum256(pub))
}

// FormatPublicKey is the one-line text form of a checkpoint public key, as
// written to the data folder's audit-checkpoint.pub.
func FormatPublicKey(pub ed25519.PublicKey) string {
	return publicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads the text form written by FormatPublicKey.
func ParsePublicKey(text string) (ed25519.PublicKey, error) {
	s, ok := strings.CutPrefix(strings.TrimSpace(text), publicKeyPrefix)
	if !ok {
		return nil, errors.New("audit: not a checkpoint public key (want " + strings.TrimSpace(publicKeyPrefix) + " …)")
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("audit: checkpoint public key is damaged")
	}
	return ed25519.PublicKey(b), nil
}

// WriteCheckpointPublicKey writes the checkpoint public key's text form to
// path, readable by all (0644): it is public.
func (l *Log) WriteCheckpointPublicKey(path string) error {
	b := []byte(FormatPublicKey(l.CheckpointPublicKey()) + "\n")
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("audit: write checkpoint public key: %w", err)
	}
	return os.Chmod(path, 0o644) // WriteFile keeps an existing file's mode
}

// checkpointMessage is what a checkpoint signs.
func checkpointMessage(seq uint64, chain string) []byte {
	b := []byte("parley audit checkpoint v1\x00")
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, chain...)
}

// Checkpoint appends a checkpoint that commits to the entry before it: its
// sequence number and MAC, signed with the checkpoint key. It writes
// nothing, and reports false, when the log is empty or its last entry is
// already a checkpoint.
func (l *Log) Checkpoint(ctx context.Context) (Entry, bool, error) {
	var out Entry
	var wrote bool
	err := l.kv.Update(ctx, func(tx store.Txn) error {
		h, err := readHead(tx)
		if err != nil || h.Seq == 0 {
			return err
		}
		var last Entry
		if b, err := tx.Get(entryKey(h.Seq)); err == nil && json.Unmarshal(b, &last) == nil && last.Action == CheckpointAction {
			return nil // nothing appended since the last checkpoint
		}
		sig := ed25519.Sign(l.ckey, checkpointMessage(h.Seq, h.MAC))
		out, err = l.appendTx(tx, h, Record{Actor: "system", Action: CheckpointAction, Details: map[string]string{
			detailSeq:   strconv.FormatUint(h.Seq, 10),
			detailChain: h.MAC,
			detailKey:   KeyFingerprint(l.CheckpointPublicKey()),
			detailSig:   hex.EncodeToString(sig),
		}})
		wrote = err == nil
		return err
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("audit: checkpoint: %w", err)
	}
	if wrote {
		l.log.Info("audit checkpoint", "seq", out.Seq, "covers", out.Seq-1)
	}
	return out, wrote, nil
}

// CheckpointIfDue writes a checkpoint (see Checkpoint) when a
// CheckpointInterval has passed on the log's clock since the schedule last
// came due, or since the first call.
func (l *Log) CheckpointIfDue(ctx context.Context) (Entry, bool, error) {
	now := l.clk.Now()
	l.mu.Lock()
	if l.lastCP.IsZero() {
		l.lastCP = now
	}
	due := now.Sub(l.lastCP) >= l.interval
	if due {
		l.lastCP = now
	}
	l.mu.Unlock()
	if !due {
		return Entry{}, false, nil
	}
	return l.Checkpoint(ctx)
}

// RunCheckpoints writes a checkpoint every CheckpointInterval until ctx is
// cancelled, then a last one (a clean shutdown), and returns.
func (l *Log) RunCheckpoints(ctx context.Context) {
	_, _, _ = l.CheckpointIfDue(ctx) // starts the schedule
	t := time.NewTicker(l.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, _, err := l.Checkpoint(fctx); err != nil {
				l.log.Error("audit checkpoint at shutdown", "error", err)
			}
			return
		case <-t.C:
			if _, _, err := l.CheckpointIfDue(ctx); err != nil && ctx.Err() == nil {
				l.log.Error("audit checkpoint", "error", err)
			}
		}
	}
}

// VerifyWithKey is Verify with the checkpoints checked against pub, a copy
// of the checkpoint public key kept outside the relay: a log whose key was
// replaced, and whose checkpoints were signed afresh, fails it.
func (l *Log) VerifyWithKey(ctx context.Context, pub ed25519.PublicKey) (Report, error) {
	rep, err := l.verify(ctx, pub)
	if err == nil && !pub.Equal(l.CheckpointPublicKey()) {
		rep.Problems = append(rep.Problems, Problem{0, "the log's checkpoint key " + KeyFingerprint(l.CheckpointPublicKey()) + " is not the given key (replaced)"})
	}
	return rep, err
}

// checkCheckpoint checks checkpoint e against the chain MAC recomputed up
// to the entry before it and the key pub; it returns what does not fit,
// or "".
func checkCheckpoint(e Entry, chain string, pub ed25519.PublicKey) string {
	seq, err := strconv.ParseUint(e.Details[detailSeq], 10, 64)
	sig, serr := hex.DecodeString(e.Details[detailSig])
	switch {
	case e.Actor != "system" || e.TenantID != "":
		return "checkpoint not written by the log itself"
	case err != nil || serr != nil:
		return "checkpoint unreadable"
	case !ed25519.Verify(pub, checkpointMessage(seq, e.Details[detailChain]), sig):
		return "checkpoint signature invalid (forged, or signed with another key)"
	case seq+1 != e.Seq || e.Details[detailChain] != chain:
		return fmt.Sprintf("checkpoint does not match the chain up to entry %d as it is now (entries before it changed)", seq)
	}
	return ""
}
