// Package gui tests the desktop app as a person sees it: the real binary
// in a real window under Xvfb, inspected from a screenshot.
package gui

import (
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"parley/tests/internal/desktop"
	"parley/tests/internal/xvfb"
)

func requireXvfb(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("Xvfb is missing in CI: packaging/deps.sh --test installs it")
		}
		t.Skip("Xvfb not installed")
	}
}

// TestRealWindowRendersSignIn starts the app in local mode under Xvfb and
// checks that its window appears, named Parley, with a drawn sign-in screen.
func TestRealWindowRendersSignIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cgo desktop app")
	}
	requireXvfb(t)
	dir := t.TempDir()
	bin, err := desktop.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	x, err := xvfb.Start(1280, 800)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()

	blank, err := x.Screenshot()
	if err != nil {
		t.Fatal(err)
	}
	if xvfb.Measure(blank).Drawn() {
		t.Fatal("the empty X screen already counts as drawn: the check cannot tell")
	}

	a, err := desktop.Launch(bin, x.Display, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()

	deadline := time.Now().Add(90 * time.Second)
	var names []string
	var st xvfb.Stats
	for time.Now().Before(deadline) {
		if exited, _ := a.Exited(); exited {
			break
		}
		names, _ = x.WindowNames()
		img, err := x.Screenshot()
		if err != nil {
			t.Fatal(err)
		}
		st = xvfb.Measure(img)
		if st.Drawn() && slices.Contains(names, "Parley") {
			// Give the local relay's card and fonts a moment, then keep
			// the picture for people to look at.
			time.Sleep(time.Second)
			if img, err = x.Screenshot(); err == nil {
				st = xvfb.Measure(img)
				save(t, img)
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	logs, _ := os.ReadFile(filepath.Join(dir, "parley.log"))
	if !slices.Contains(names, "Parley") {
		t.Fatalf("no window named Parley appeared (windows: %q); app output:\n%s", names, logs)
	}
	if !st.Drawn() {
		t.Fatalf("the window is blank: %+v; app output:\n%s", st, logs)
	}
	if exited, err := a.Exited(); exited {
		t.Fatalf("the app exited (%v):\n%s", err, logs)
	}
	// SIGINT quits the app like closing its window: it closes the local
	// relay and exits with status 0 (the default SIGINT death would not).
	a.Stop()
	if _, err := a.Exited(); err != nil {
		t.Errorf("the app did not exit cleanly on SIGINT: %v", err)
	}
}

// save writes the screenshot to tests/artifacts/ (git-ignored).
func save(t *testing.T, img image.Image) {
	root, err := desktop.ModuleRoot()
	if err != nil {
		return
	}
	dir := filepath.Join(root, "tests", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	f, err := os.Create(filepath.Join(dir, "desktop-window.png"))
	if err != nil {
		return
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Logf("saving screenshot: %v", err)
	}
}
