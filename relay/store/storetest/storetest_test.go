package storetest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// recorder keeps the failures reported to it instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}
func (r *recorder) Helper() {}

func TestAssertNoPlaintextFindsNeedles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "a.vlog"), []byte("xx erika@example.org yy"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.sst"), []byte("ciphertext"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	if n := AssertNoPlaintext(r, dir, "now", "erika@example.org", "Erika Mustermann"); n != 2 {
		t.Fatalf("read %d files, want 2", n)
	}
	if len(r.errs) != 1 {
		t.Fatalf("failures %q, want one for the e-mail address", r.errs)
	}
}
