package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/relay/clock"
	"parley/relay/store"
)

func newCheckpointLog(t *testing.T) (*Log, *store.Memory, *clock.Fake) {
	t.Helper()
	kv := &store.Memory{}
	clk := clock.NewFake(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))
	l, err := New(context.Background(), Options{Store: kv, Clock: clk, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return l, kv, clk
}

func appendN(t *testing.T, l *Log, n int) {
	t.Helper()
	for range n {
		if _, err := l.Append(context.Background(), Record{TenantID: "t1", Actor: "u-admin", Action: "user.create", Target: "u1"}); err != nil {
			t.Fatal(err)
		}
	}
}

func checkpoints(t *testing.T, l *Log) []Entry {
	t.Helper()
	all, err := l.List(context.Background(), "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []Entry
	for _, e := range all {
		if e.Action == CheckpointAction {
			out = append(out, e)
		}
	}
	return out
}

func TestCheckpointsFollowTheScheduleAndSkipIdleHours(t *testing.T) {
	ctx := context.Background()
	l, _, clk := newCheckpointLog(t)
	if _, wrote, err := l.CheckpointIfDue(ctx); err != nil || wrote {
		t.Fatalf("first call starts the schedule: wrote=%v %v", wrote, err)
	}
	appendN(t, l, 3)
	clk.Advance(59 * time.Minute)
	if _, wrote, _ := l.CheckpointIfDue(ctx); wrote {
		t.Fatal("checkpoint before the interval passed")
	}
	clk.Advance(time.Minute)
	e, wrote, err := l.CheckpointIfDue(ctx)
	if err != nil || !wrote || e.Seq != 4 || e.Details["seq"] != "3" || e.Actor != "system" || e.TenantID != "" {
		t.Fatalf("checkpoint after an hour: %+v wrote=%v %v", e, wrote, err)
	}
	// An idle hour: nothing new, no checkpoint.
	clk.Advance(time.Hour)
	if _, wrote, _ := l.CheckpointIfDue(ctx); wrote {
		t.Fatal("checkpoint written though nothing was appended")
	}
	appendN(t, l, 1)
	clk.Advance(time.Hour)
	if e, wrote, _ := l.CheckpointIfDue(ctx); !wrote || e.Details["seq"] != "5" {
		t.Fatalf("checkpoint after new activity: %+v wrote=%v", e, wrote)
	}
	rep := verify(t, l)
	if !rep.OK() || rep.Checkpoints != 2 || rep.LastCheckpoint != 6 || rep.Entries != 6 {
		t.Fatalf("report: %+v", rep)
	}
	if rep.KeyFingerprint != KeyFingerprint(l.CheckpointPublicKey()) {
		t.Fatalf("report fingerprint %s", rep.KeyFingerprint)
	}
	if _, err := l.Append(ctx, Record{Actor: "u-admin", Action: CheckpointAction}); err != ErrInvalid {
		t.Fatalf("a caller appended a checkpoint: %v", err)
	}
}

func TestRunCheckpointsOnTimerAndAtShutdown(t *testing.T) {
	l, _, clk := newCheckpointLog(t)
	l.poll = time.Millisecond
	appendN(t, l, 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.RunCheckpoints(ctx) }()
	// The loop looks at the clock every poll; the hour passes on the fake.
	for len(checkpoints(t, l)) == 0 {
		clk.Advance(time.Hour)
		time.Sleep(time.Millisecond)
	}
	appendN(t, l, 1)
	cancel()
	<-done
	cps := checkpoints(t, l)
	if len(cps) != 2 || cps[0].Details["seq"] != "2" || cps[1].Details["seq"] != "4" {
		t.Fatalf("want a scheduled and a shutdown checkpoint, got %+v", cps)
	}
	if rep := verify(t, l); !rep.OK() {
		t.Fatalf("%+v", rep)
	}
}

func TestTamperingBeforeACheckpointIsDetectedTwice(t *testing.T) {
	ctx := context.Background()
	l, kv, _ := newCheckpointLog(t)
	appendN(t, l, 5)
	if _, wrote, err := l.Checkpoint(ctx); err != nil || !wrote {
		t.Fatal(wrote, err)
	}
	mutate(t, kv, func(tx store.Txn) error {
		b, _ := tx.Get(entryKey(3))
		return tx.Set(entryKey(3), bytes.Replace(b, []byte(`"user.create"`), []byte(`"user.delete"`), 1))
	})
	rep := verify(t, l)
	if !mentions(rep, 3, "edited") {
		t.Errorf("the chain missed the edit: %+v", rep)
	}
	if !mentions(rep, 6, "checkpoint does not match the chain") {
		t.Errorf("the checkpoint missed the edit: %+v", rep)
	}
}

func TestForgedCheckpointIsDetected(t *testing.T) {
	ctx := context.Background()
	l, kv, _ := newCheckpointLog(t)
	appendN(t, l, 2)
	e, _, _ := l.Checkpoint(ctx)
	// Someone with the HMAC key (not the signing key) points the
	// checkpoint elsewhere and re-MACs it: the signature gives it away.
	mutate(t, kv, func(tx store.Txn) error {
		e.Details["seq"] = "1"
		e.MAC = l.mac(e)
		b, _ := json.Marshal(e)
		h := head{Seq: e.Seq, MAC: e.MAC}
		h.Sig = l.headSig(h)
		hb, _ := json.Marshal(h)
		_ = tx.Set([]byte(headKey), hb)
		return tx.Set(entryKey(e.Seq), b)
	})
	if rep := verify(t, l); !mentions(rep, 3, "signature invalid") {
		t.Fatalf("forged checkpoint not found: %+v", rep)
	}
}

func TestReplacedKeyFailsVerifyWithKey(t *testing.T) {
	ctx := context.Background()
	l, kv, _ := newCheckpointLog(t)
	appendN(t, l, 3)
	if _, _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	kept := l.CheckpointPublicKey() // the auditor's copy
	if rep, err := l.VerifyWithKey(ctx, kept); err != nil || !rep.OK() || rep.Checkpoints != 1 {
		t.Fatalf("intact log against the kept key: %+v %v", rep, err)
	}

	// Rewrite history: a new signing key, entry 2 edited, every MAC,
	// the head and the checkpoint redone. Verify alone cannot tell.
	mutate(t, kv, func(tx store.Txn) error { return tx.Delete([]byte(ckeyKey)) })
	l2, err := New(ctx, Options{Store: kv, Clock: clock.NewFake(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	mutate(t, kv, func(tx store.Txn) error {
		_ = tx.Scan([]byte(entryPrefix), func(_, v []byte) error {
			var e Entry
			_ = json.Unmarshal(v, &e)
			entries = append(entries, e)
			return nil
		})
		for _, e := range entries {
			if err := tx.Delete(entryKey(e.Seq)); err != nil {
				return err
			}
		}
		return tx.Delete([]byte(headKey))
	})
	for _, e := range entries[:3] {
		if e.Seq == 2 {
			e.Target = "u-other"
		}
		if _, err := l2.Append(ctx, Record{TenantID: e.TenantID, Actor: e.Actor, Action: e.Action, Target: e.Target}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := l2.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, l2); !rep.OK() || rep.Checkpoints != 1 {
		t.Fatalf("the rewritten log should pass its own Verify: %+v", rep)
	}
	rep, err := l2.VerifyWithKey(ctx, kept)
	if err != nil {
		t.Fatal(err)
	}
	if !mentions(rep, 4, "signature invalid") || !mentions(rep, 0, "replaced") {
		t.Fatalf("replaced key not detected: %+v", rep)
	}
}

func TestCheckpointKeyPersistsAndIsWritten(t *testing.T) {
	ctx := context.Background()
	l, kv, _ := newCheckpointLog(t)
	l2, err := New(ctx, Options{Store: kv})
	if err != nil {
		t.Fatal(err)
	}
	if !l.CheckpointPublicKey().Equal(l2.CheckpointPublicKey()) {
		t.Fatal("a reopened log made a new checkpoint key")
	}
	path := filepath.Join(t.TempDir(), "audit-checkpoint.pub")
	if err := l.WriteCheckpointPublicKey(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("public key file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(path)
	pub, err := ParsePublicKey(string(b))
	if err != nil || !pub.Equal(l.CheckpointPublicKey()) {
		t.Fatalf("parse %q: %v", b, err)
	}
	if _, err := ParsePublicKey("ssh-ed25519 AAAA"); err == nil {
		t.Fatal("parsed a foreign key")
	}
}
