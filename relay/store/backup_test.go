package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/relay/store/storetest"
)

// Recognisable personal data that must never appear in a backup file.
var personal = []string{"Erika Quellmann-Zander", "erika.quellmann-zander@example.org", "+49 170 5550123", "Kontoauszug-Mai.pdf"}

// fill writes n small records, a few large ones (several chunks long), one
// record per personal string, a TTL record and a deleted one, and returns
// what the store should hold afterwards.
func fill(t testing.TB, db *Badger, n int) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	want := map[string][]byte{}
	for i := 0; i < n; i += 500 {
		err := db.Update(ctx, func(tx Txn) error {
			for j := i; j < min(i+500, n); j++ {
				k, v := fmt.Sprintf("rec/%06d", j), fmt.Appendf(nil, "value %d %s", j, strings.Repeat("x", j%300))
				want[k] = v
				if err := tx.Set([]byte(k), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := db.Update(ctx, func(tx Txn) error {
		for i, size := range []int{defaultChunkSize - 3, 2*defaultChunkSize + 17, 300 << 10} {
			v := bytes.Repeat([]byte{byte('a' + i)}, size)
			binary.BigEndian.PutUint64(v, uint64(i)) // not all one byte
			k := fmt.Sprintf("big/%d", i)
			want[k] = v
			if err := tx.Set([]byte(k), v); err != nil {
				return err
			}
		}
		for i, p := range personal {
			k := fmt.Sprintf("person/%d", i)
			want[k] = []byte(p)
			if err := tx.Set([]byte(k), []byte(p)); err != nil {
				return err
			}
		}
		want["ttl/a"] = []byte("lives an hour")
		if err := tx.SetWithTTL([]byte("ttl/a"), []byte("lives an hour"), time.Hour); err != nil {
			return err
		}
		return tx.Set([]byte("gone"), []byte("deleted later"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx Txn) error { return tx.Delete([]byte("gone")) }); err != nil {
		t.Fatal(err)
	}
	return want
}

func contents(t testing.TB, db KV) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	err := db.View(context.Background(), func(tx Txn) error {
		return tx.Scan(nil, func(k, v []byte) error {
			got[string(k)] = v
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func sameContents(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("restored store holds %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("key %q missing after restore", k)
		} else if !bytes.Equal(g, v) {
			t.Errorf("key %q: value of %d bytes differs from the %d bytes written", k, len(g), len(v))
		}
	}
}

// backupOf fills a fresh store with n records and returns its contents and
// its backup.
func backupOf(t *testing.T, n int) (map[string][]byte, []byte, Manifest) {
	t.Helper()
	db := openBadger(t, t.TempDir())
	defer db.Close()
	want := fill(t, db, n)
	var buf bytes.Buffer
	m, err := Backup(context.Background(), db, &buf, testKey)
	if err != nil {
		t.Fatal(err)
	}
	return want, buf.Bytes(), m
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	want, b, m := backupOf(t, 2000)
	sum := sha256.Sum256(b)
	if m.Bytes != int64(len(b)) || m.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("manifest says %d bytes, sha256 %s; the file has %d bytes, sha256 %x", m.Bytes, m.SHA256, len(b), sum)
	}
	// Every live key once, the deleted key at least as a marker.
	if m.Entries < len(want) {
		t.Errorf("manifest counts %d entries, %d keys were written", m.Entries, len(want))
	}
	if m.Chunks < 4 {
		t.Errorf("backup has %d chunks; the large values alone span more than 3", m.Chunks)
	}
	id := BackupKeyID(testKey)
	if m.KeyID != hex.EncodeToString(id[:]) {
		t.Errorf("manifest key id %s", m.KeyID)
	}

	dir := filepath.Join(t.TempDir(), "data", "store")
	if err := Restore(context.Background(), bytes.NewReader(b), dir, testKey); err != nil {
		t.Fatal(err)
	}
	db := openBadger(t, dir)
	sameContents(t, contents(t, db), want)
	// The restored store keeps working: it takes new writes.
	if err := db.Update(context.Background(), func(tx Txn) error { return tx.Set([]byte("after"), []byte("restore")) }); err != nil {
		t.Fatalf("write to the restored store: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// It is encrypted with the same key, and only with it.
	if n := storetest.AssertNoPlaintext(t, dir, "restored store", personal...); n == 0 {
		t.Fatal("restored store has no files")
	}
	if _, err := Open(BadgerOptions{Dir: dir, Key: bytes.Repeat([]byte{8}, 32)}); err == nil {
		t.Error("the restored store opened with a different key")
	}
	db = openBadger(t, dir)
	defer db.Close()
	if got := contents(t, db); string(got["after"]) != "restore" || len(got) != len(want)+1 {
		t.Errorf("after reopening, the restored store holds %d keys (want %d) and after=%q", len(got), len(want)+1, got["after"])
	}
}

func TestRestoreIntoExistingEmptyFolder(t *testing.T) {
	want, b, _ := backupOf(t, 10)
	dir := t.TempDir()
	if err := Restore(context.Background(), bytes.NewReader(b), dir, testKey); err != nil {
		t.Fatal(err)
	}
	db := openBadger(t, dir)
	defer db.Close()
	sameContents(t, contents(t, db), want)
}

func TestBackupHoldsNoPlaintext(t *testing.T) {
	_, b, _ := backupOf(t, 100)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "relay.backup"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	needles := append([]string{"rec/000042", "value 42 "}, personal...)
	storetest.AssertNoPlaintext(t, dir, "backup file", needles...)
}

// assertNothingRestored checks that a failed restore left neither the
// target nor a staging folder.
func assertNothingRestored(t *testing.T, parent, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed restore left %s behind (stat: %v)", dir, err)
	}
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		t.Errorf("failed restore left %s in %s", e.Name(), parent)
	}
}

func TestRestoreWithWrongKeyCreatesNothing(t *testing.T) {
	_, b, _ := backupOf(t, 10)
	parent := filepath.Join(t.TempDir(), "new")
	dir := filepath.Join(parent, "store")
	err := Restore(context.Background(), bytes.NewReader(b), dir, bytes.Repeat([]byte{9}, 32))
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("restore with another key: %v, want ErrWrongKey", err)
	}
	if _, err := os.Stat(parent); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("restore with the wrong key created %s", parent)
	}
}

// chunks splits a backup into its header and chunk frames.
func chunks(t *testing.T, b []byte) (header []byte, frames [][]byte) {
	t.Helper()
	header, rest := b[:BackupHeaderSize], b[BackupHeaderSize:]
	for len(rest) > 0 {
		n := 4 + int(binary.BigEndian.Uint32(rest))
		frames = append(frames, rest[:n])
		rest = rest[n:]
	}
	return header, frames
}

func TestRestoreRejectsDamagedBackups(t *testing.T) {
	_, b, _ := backupOf(t, 2000)
	header, frames := chunks(t, b)
	if len(frames) < 4 {
		t.Fatalf("backup has %d chunks, the test needs 4", len(frames))
	}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	flip := func(i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	all := func(fs [][]byte) []byte { return join(append([][]byte{header}, fs...)...) }
	last := len(frames) - 1
	cases := map[string][]byte{
		"empty":                     nil,
		"cut in the header":         b[:BackupHeaderSize-1],
		"header only":               b[:BackupHeaderSize],
		"cut in the first chunk":    b[:BackupHeaderSize+100],
		"cut in the last chunk":     b[:len(b)-1],
		"final chunk dropped":       all(frames[:last]),
		"middle chunk dropped":      all(append(append([][]byte{}, frames[:1]...), frames[2:]...)),
		"chunks 0 and 1 swapped":    all(append([][]byte{frames[1], frames[0]}, frames[2:]...)),
		"final chunk repeated":      all(append(append([][]byte{}, frames...), frames[last])),
		"data after the end":        join(b, []byte{0}),
		"byte flipped in salt":      flip(40),
		"byte flipped in created":   flip(19),
		"byte flipped in chunk 0":   flip(BackupHeaderSize + 4 + 10),
		"byte flipped in the tag":   flip(len(b) - 1),
		"byte flipped in a length":  flip(BackupHeaderSize + 3),
		"byte flipped in the magic": flip(0),
		"chunk 1 from another backup": func() []byte {
			_, other, _ := backupOf(t, 2000)
			_, of := chunks(t, other)
			return all(append([][]byte{frames[0], of[1]}, frames[2:]...))
		}(),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "store")
			err := Restore(context.Background(), bytes.NewReader(data), dir, testKey)
			if err == nil {
				t.Fatal("restore succeeded")
			}
			if !errors.Is(err, ErrBackupDamaged) && !errors.Is(err, ErrNotBackup) {
				t.Errorf("error %v is neither ErrBackupDamaged nor ErrNotBackup", err)
			}
			assertNothingRestored(t, parent, dir)
			if _, err := VerifyBackup(bytes.NewReader(data), testKey); err == nil {
				t.Error("VerifyBackup accepted it")
			}
		})
	}
	if _, err := VerifyBackup(bytes.NewReader(b), testKey); err != nil {
		t.Errorf("VerifyBackup of the intact backup: %v", err)
	}
}

func TestRestoreRefusesNonEmptyFolder(t *testing.T) {
	_, b, _ := backupOf(t, 10)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Restore(context.Background(), bytes.NewReader(b), dir, testKey)
	if !errors.Is(err, ErrRestoreTargetNotEmpty) {
		t.Fatalf("restore into a non-empty folder: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the non-empty folder now holds %d entries", len(entries))
	}
}

func TestBackupOfEmptyStore(t *testing.T) {
	db := openBadger(t, t.TempDir())
	var buf bytes.Buffer
	m, err := Backup(context.Background(), db, &buf, testKey)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if m.Entries != 0 || m.Chunks != 1 {
		t.Errorf("empty store: %d entries in %d chunks, want 0 in 1", m.Entries, m.Chunks)
	}
	dir := filepath.Join(t.TempDir(), "store")
	if err := Restore(context.Background(), &buf, dir, testKey); err != nil {
		t.Fatal(err)
	}
	r := openBadger(t, dir)
	defer r.Close()
	if got := contents(t, r); len(got) != 0 {
		t.Errorf("restored empty store holds %d keys", len(got))
	}
}

func TestBackupStopsWhenCancelled(t *testing.T) {
	db := openBadger(t, t.TempDir())
	defer db.Close()
	fill(t, db, 10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Backup(ctx, db, &bytes.Buffer{}, testKey); !errors.Is(err, context.Canceled) {
		t.Errorf("backup with a cancelled context: %v", err)
	}
}

func FuzzParseBackupHeader(f *testing.F) {
	h := BackupHeader{Version: backupVersion, Created: time.Unix(1_800_000_000, 0).UTC(), KeyID: BackupKeyID(testKey), ChunkSize: defaultChunkSize}
	f.Add(h.marshal())
	f.Add([]byte(backupMagic))
	f.Add(append(h.marshal(), 0, 0, 0, 20))
	f.Add(make([]byte, BackupHeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseBackupHeader(b)
		if err != nil {
			return
		}
		if got := h.marshal(); !bytes.Equal(got, b[:BackupHeaderSize]) {
			t.Fatalf("parse then marshal changed the header:\n%x\n%x", b[:BackupHeaderSize], got)
		}
		if h.ChunkSize == 0 || h.ChunkSize > maxChunkSize {
			t.Fatalf("accepted chunk size %d", h.ChunkSize)
		}
	})
}

// seedBackup is a version 1 backup of a store holding only "k" = "v",
// made with testKey. It is kept as a file so that fuzz workers share it,
// and so that a change of format that cannot read old backups fails here.
// Regenerate with PARLEY_WRITE_SEED_BACKUP=1 go test -run TestSeedBackup.
const seedBackup = "testdata/seed-v1.backup"

func TestSeedBackup(t *testing.T) {
	if os.Getenv("PARLEY_WRITE_SEED_BACKUP") == "1" {
		db := openBadger(t, t.TempDir())
		if err := db.Update(context.Background(), func(tx Txn) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := Backup(context.Background(), db, &buf, testKey); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(seedBackup, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(seedBackup)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := filepath.Join(t.TempDir(), "store")
	if err := Restore(context.Background(), f, dir, testKey); err != nil {
		t.Fatalf("restore the version 1 seed backup: %v", err)
	}
	db := openBadger(t, dir)
	defer db.Close()
	if got := contents(t, db); len(got) != 1 || string(got["k"]) != "v" {
		t.Errorf("seed backup restored as %q", got)
	}
}

func FuzzVerifyBackup(f *testing.F) {
	seed, err := os.ReadFile(seedBackup)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:BackupHeaderSize+4])
	f.Fuzz(func(t *testing.T, b []byte) {
		// Any input either verifies or fails cleanly; only the
		// untouched seed verifies (a forgery would need the key).
		if _, err := VerifyBackup(bytes.NewReader(b), testKey); err == nil && !bytes.Equal(b, seed) {
			t.Fatalf("VerifyBackup accepted %d bytes that are not the seed backup", len(b))
		}
	})
}

// benchStore fills a store with 50,000 records of about 500 bytes, as a
// relay with a few thousand users and meetings holds, and backs it up.
func benchStore(b *testing.B) (*Badger, []byte) {
	b.Helper()
	db, err := Open(BadgerOptions{Dir: b.TempDir(), Key: testKey})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	fill(b, db, 50_000)
	var buf bytes.Buffer
	if _, err := Backup(context.Background(), db, &buf, testKey); err != nil {
		b.Fatal(err)
	}
	return db, buf.Bytes()
}

func BenchmarkBackup50k(b *testing.B) {
	db, backup := benchStore(b)
	b.SetBytes(int64(len(backup)))
	for b.Loop() {
		f, err := os.Create(filepath.Join(b.TempDir(), "backup"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Backup(context.Background(), db, f, testKey); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

func BenchmarkRestore50k(b *testing.B) {
	_, backup := benchStore(b)
	b.SetBytes(int64(len(backup)))
	for b.Loop() {
		if err := Restore(context.Background(), bytes.NewReader(backup), filepath.Join(b.TempDir(), "store"), testKey); err != nil {
			b.Fatal(err)
		}
	}
}
