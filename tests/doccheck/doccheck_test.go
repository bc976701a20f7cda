package doccheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryPackageIsDocumented walks the product's packages (everything but
// the test helpers under tests/) and fails for every exported identifier
// without a doc comment.
func TestEveryPackageIsDocumented(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s", root)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || path == filepath.Join(root, "tests")) {
			return filepath.SkipDir
		}
		missing, err := Missing(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, m := range missing {
			t.Errorf("%s/%s has no doc comment", rel, m)
		}
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("only %d folders checked", checked)
	}
}

func TestMissingFindsUndocumented(t *testing.T) {
	dir := t.TempDir()
	src := `package x

// Documented is fine.
func Documented() {}

func Bare() {}

// T is documented, its field F is not.
type T struct {
	F int
	G int // G is.
}

// Group comment covers A.
const (
	A = 1
)

var B = 2
`
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Missing(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "[package x has no doc comment x.go: B x.go: field T.F x.go: func Bare]"
	if s := strings.Join(got, " "); "["+s+"]" != want {
		t.Fatalf("Missing = %q\nwant %s", got, want)
	}
}
