// Package testenv holds the helpers that Parley's end-to-end tests share:
// finding the module root and the artifacts folder, building the relay
// binary once per test binary, starting it as a process (or in-process) on
// a loopback port chosen by the kernel, HTTP clients that trust only the
// relay's own certificate, and locating external tools such as Chromium.
//
// External tools follow one rule: when the environment variable CI is
// "true" a missing tool fails the test with a message naming the Debian
// package to install; elsewhere the test is skipped with that message.
//
// Every helper here sends traffic only to 127.0.0.1.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CI reports whether the tests run in continuous integration (CI=true),
// where missing tools are failures rather than reasons to skip.
func CI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v == "true" || v == "1"
}

// Unavailable stops the test because something it needs is missing: it
// fails the test under CI and skips it elsewhere, with the same message.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s (CI=true: a missing dependency is a failure, not a skip)", msg)
	}
	t.Skip(msg)
}

// debianPackage names the Debian package that provides a tool, for the
// message shown when the tool is missing.
var debianPackage = map[string]string{
	"chromium":   "chromium",
	"Xvfb":       "xvfb",
	"xvfb-run":   "xvfb",
	"xauth":      "xauth",
	"pdfsig":     "poppler-utils",
	"ip":         "iproute2",
	"unshare":    "util-linux",
	"go":         "golang (or /usr/local/go/bin on PATH)",
	"pkg-config": "pkg-config",
}

// RequireTool returns the path of the executable name (looked up in PATH;
// an absolute path is checked as is). When it is missing the test fails
// under CI and is skipped otherwise.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		pkg := debianPackage[filepath.Base(name)]
		if pkg == "" {
			pkg = filepath.Base(name)
		}
		Unavailable(t, "testenv: %s not found (%v); install the Debian package %q", name, err, pkg)
	}
	return path
}

// Chromium returns the path of the Chromium browser: /usr/bin/chromium
// when it exists, else "chromium" or "chromium-browser" from PATH. When
// none is found the test fails under CI and is skipped otherwise.
func Chromium(t testing.TB) string {
	t.Helper()
	if p, err := ChromiumPath(); err == nil {
		return p
	}
	return RequireTool(t, "chromium")
}

// ChromiumPath is Chromium without a test: it returns the browser's path
// or an error saying that none was found.
func ChromiumPath() (string, error) {
	const debian = "/usr/bin/chromium"
	if fi, err := os.Stat(debian); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return debian, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("testenv: no chromium executable (install the Debian package \"chromium\")")
}

// FindModuleRoot walks up from the working directory to the folder that
// holds go.mod.
func FindModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testenv: working directory: %w", err)
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !fi.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod in the working directory or above it")
		}
		dir = parent
	}
}

// ModuleRoot is FindModuleRoot for tests: it fails the test on error.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := FindModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// ArtifactDir returns tests/artifacts under the module root, creating it.
// The folder is git-ignored; tests put screenshots and other evidence for
// humans there.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(ModuleRoot(t), "tests", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testenv: artifacts folder: %v", err)
	}
	return dir
}
