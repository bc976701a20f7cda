package privacy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func entry(id string) LedgerEntry {
	return LedgerEntry{ID: id, TenantID: tenant, CustomerID: "0123456789abcdef0123456789abcdef", Requested: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), By: "admin-1"}
}

func TestLedgerCutsATornLastLineAndRefusesDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), LedgerFileName)
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := entry("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), entry("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
	if err := l.Append(a, b, a); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(b); err != nil { // already there: skipped
		t.Fatal(err)
	}
	got, err := l.Entries()
	if err != nil || len(got) != 2 || got[0].ID != a.ID || got[1].ID != b.ID {
		t.Fatalf("entries %+v, %v", got, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("ledger mode %v", fi.Mode())
	}
	// A crash cut the last write short: it was never acknowledged.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"cccccccccccc`)
	f.Close()
	l2, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	c := entry("cccccccccccccccccccccccccccccccc")
	if err := l2.Append(c); err != nil {
		t.Fatal(err)
	}
	if got, err := l2.Entries(); err != nil || len(got) != 3 || got[2].ID != c.ID {
		t.Fatalf("after a torn line: %+v, %v", got, err)
	}
	// Damage in the middle is refused, not skipped.
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(raw), `"by":"admin-1"`, `"by":"../x"`, 1)), 0o600)
	if _, err := OpenLedger(path); !errors.Is(err, ErrLedgerCorrupt) {
		t.Fatalf("damaged ledger: %v", err)
	}
	if err := l2.Append(LedgerEntry{ID: "short"}); err == nil {
		t.Fatal("malformed entry appended")
	}
}

func FuzzParseLedger(f *testing.F) {
	f.Add([]byte(`{"id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","tenant_id":"t","customer_id":"0123456789abcdef0123456789abcdef","requested":"2026-11-23T09:00:00Z","by":"u"}` + "\n"))
	f.Add([]byte("{}\n"))
	f.Add([]byte("garbage"))
	f.Add([]byte(strings.Repeat("x", 5000) + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, n, err := ParseLedger(strings.NewReader(string(b)))
		if err != nil {
			if !errors.Is(err, ErrLedgerCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if n > int64(len(b)) || (n > 0 && b[n-1] != '\n') {
			t.Fatalf("complete length %d of %d", n, len(b))
		}
		for _, e := range entries {
			if !e.valid() {
				t.Fatalf("invalid entry returned: %+v", e)
			}
		}
	})
}
