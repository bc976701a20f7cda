package accesslog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var key = bytes.Repeat([]byte{7}, 32)

func TestEntriesAreSealedRedactedAndReadBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), DirName)
	l, err := Open(Options{Dir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 23, 59, 59, 0, time.UTC)
	l.Write(Entry{Time: at, IP: "203.0.113.77", Method: "GET", Path: "/j/pmj_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg?x=Kunde", Route: "other",
		Status: 200, Referrer: "https://mail.example/inbox/4711?name=Erika", UserAgent: strings.Repeat("A", 400), Session: "0123456789abcdef"})
	l.Write(Entry{Time: at.Add(2 * time.Second), IP: "2001:db8::1", Method: "POST", Path: "/api/v1/customers?q=Mustermann", Route: "/api/v1/customers", Status: 201})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Written() != 2 || l.Dropped() != 0 {
		t.Fatalf("written %d, dropped %d", l.Written(), l.Dropped())
	}
	days, err := Days(dir)
	if err != nil || len(days) != 2 || days[0] != "2026-11-23" || days[1] != "2026-11-24" {
		t.Fatalf("days %v, %v", days, err)
	}
	for _, d := range days {
		raw, _ := os.ReadFile(filepath.Join(dir, d+".log"))
		for _, plain := range []string{"203.0.113", "2001:db8", "customers", "pmj_"} {
			if strings.Contains(string(raw), plain) {
				t.Fatalf("%s holds %q in plain text", d, plain)
			}
		}
		if fi, _ := os.Stat(filepath.Join(dir, d+".log")); fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v", fi.Mode())
		}
	}
	es, err := Read(dir, "2026-11-23", key)
	if err != nil || len(es) != 1 {
		t.Fatalf("Read: %+v, %v", es, err)
	}
	e := es[0]
	if e.IP != "203.0.113.77" || e.Path != "/j/pmj_…" || e.Referrer != "https://mail.example" || len(e.UserAgent) != 256 || e.Session != "0123456789abcdef" || !e.Time.Equal(at) {
		t.Fatalf("entry %+v", e)
	}
	es, err = Read(dir, "2026-11-24", key)
	if err != nil || len(es) != 1 || es[0].Path != "/api/v1/customers" || es[0].IP != "2001:db8::1" {
		t.Fatalf("second day: %+v, %v", es, err)
	}
	// Another key, or a line moved to another day, does not open.
	if _, err := Read(dir, "2026-11-23", bytes.Repeat([]byte{8}, 32)); !errors.Is(err, ErrDamaged) {
		t.Fatalf("wrong key: %v", err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "2026-11-23.log"))
	b, _ := os.ReadFile(filepath.Join(dir, "2026-11-24.log"))
	os.WriteFile(filepath.Join(dir, "2026-11-24.log"), append(b, a...), 0o600)
	if _, err := Read(dir, "2026-11-24", key); !errors.Is(err, ErrDamaged) {
		t.Fatalf("a line moved to another day: %v", err)
	}
	// A torn last line is skipped.
	os.WriteFile(filepath.Join(dir, "2026-11-24.log"), append(b, a[:20]...), 0o600)
	if es, err := Read(dir, "2026-11-24", key); err != nil || len(es) != 1 {
		t.Fatalf("torn line: %+v, %v", es, err)
	}
	if _, err := Read(dir, "../etc", key); err == nil {
		t.Fatal("a path as the day was accepted")
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"/m/pbk_0123456789abcdefghijKLMNOP":           "/m/pbk_…",
		"/cal/pcf_0123456789abcdefghij_-xyz.ics":      "/cal/pcf_….ics",
		"/api/v1/sign/psg_0123456789abcdefghij/code":  "/api/v1/sign/psg_…/code",
		"/api/v1/customers/0123456789abcdef?q=Muster": "/api/v1/customers/0123456789abcdef",
		"/b/abc#frag": "/b/abc",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSweepDeletesDaysPastTheirDeadlineOnly(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"2026-10-23.log", "2026-10-24.log", "2026-11-23.log", "notes.txt", "2026-13-01.log"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x\ny\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// 2026-10-23 ended at 10-24 00:00; + 30 days = 11-23 00:00.
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	st, err := Sweep(context.Background(), dir, now.Add(-time.Second), 0)
	if err != nil || st.Deleted != 0 {
		t.Fatalf("a second early: %+v, %v", st, err)
	}
	st, err = Sweep(context.Background(), dir, now, 0)
	if err != nil || st.Due != 1 || st.Deleted != 1 || st.Entries != 2 {
		t.Fatalf("at the deadline: %+v, %v", st, err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 4 {
		t.Fatalf("left %d files, want 4", len(left))
	}
	if st, err := Sweep(context.Background(), filepath.Join(dir, "missing"), now, 0); err != nil || st.Due != 0 {
		t.Fatalf("missing folder: %+v, %v", st, err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("AAAA\n"))
	f.Add([]byte("\n\n"))
	f.Add([]byte(strings.Repeat("A", 100)))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "2026-11-23.log"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		// Random bytes never open under the key: every complete line is
		// refused as damaged (a torn last line is skipped), never a panic.
		es, err := Read(dir, "2026-11-23", key)
		if err != nil && !errors.Is(err, ErrDamaged) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if len(es) != 0 {
			t.Fatalf("%d entries opened from random bytes", len(es))
		}
	})
}

// Requests that end while the relay shuts down write after Close: the
// entries are dropped and counted, never a panic or a race.
func TestWriteAfterCloseIsDropped(t *testing.T) {
	l, err := Open(Options{Dir: t.TempDir(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			l.Write(Entry{Time: time.Now(), IP: "127.0.0.1", Path: "/"})
		}
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	l.Write(Entry{Time: time.Now(), IP: "127.0.0.1", Path: "/"})
	if l.Written()+l.Dropped() != 1001 {
		t.Fatalf("written %d + dropped %d, want 1001", l.Written(), l.Dropped())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
