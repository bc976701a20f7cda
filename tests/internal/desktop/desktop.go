// Package desktop builds the Parley desktop app and launches it, isolated
// from the user's own configuration, for end-to-end tests and benchmarks.
package desktop

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// ModuleRoot walks up from the working directory to the folder with go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("desktop: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Build compiles the desktop app (cgo, GLFW) into outDir and returns the
// binary's path.
func Build(outDir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(outDir, "parley")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("desktop: go build: %w\n%s", err, out)
	}
	return bin, nil
}

// App is a launched desktop app.
type App struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed
}

// Launch starts the app on the given X display in local mode with a fresh
// home folder under dir (so no preferences or pins of the user are used),
// writing its output to dir/parley.log. extraEnv adds VAR=value pairs.
func Launch(bin, display, dir string, extraEnv ...string) (*App, error) {
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "parley.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append([]string{
		"DISPLAY=" + display,
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"PARLEY_LOCAL_DIR=" + filepath.Join(dir, "local-relay"),
		"PATH=" + os.Getenv("PATH"),
		"LIBGL_ALWAYS_SOFTWARE=1",
	}, extraEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("desktop: start: %w", err)
	}
	a := &App{cmd: cmd, done: make(chan struct{})}
	go func() {
		a.err = cmd.Wait()
		logf.Close()
		close(a.done)
	}()
	return a, nil
}

// Exited reports whether the app has ended, and how.
func (a *App) Exited() (bool, error) {
	select {
	case <-a.done:
		return true, a.err
	default:
		return false, nil
	}
}

// Stop asks the app to quit (SIGINT, which it handles like closing its
// window), and kills it if it has not ended within 5 s.
func (a *App) Stop() {
	_ = a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}
