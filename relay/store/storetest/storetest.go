// Package storetest holds test helpers for code that keeps data in a
// store's folder on disk.
package storetest

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// AssertNoPlaintext reads every file under dir and fails t for each needle
// found in one of them as plain bytes; when names the moment of the check
// in the failure. It returns how many files it read, so the caller can
// check that there was something to search.
func AssertNoPlaintext(t testing.TB, dir, when string, needles ...string) int {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s: %q found in plain text in %s", when, n, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
