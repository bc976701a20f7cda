package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var relayBuild struct {
	once sync.Once
	dir  string // temporary folder holding the binary
	path string
	err  error
}

// BuildRelay builds ./relay once per test binary (go build with
// CGO_ENABLED=0, as it ships) into a temporary folder and returns the
// binary's path. Later calls return the same path. A failed build fails
// every test that asks for it.
//
// Call Main from the package's TestMain so that the folder is removed when
// the tests end; without it the binary stays in the system's temporary
// folder.
func BuildRelay(t testing.TB) string {
	t.Helper()
	relayBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "parley-relay-build-")
		if err != nil {
			relayBuild.err = fmt.Errorf("testenv: build folder: %w", err)
			return
		}
		relayBuild.dir = dir
		relayBuild.path, relayBuild.err = BuildRelayTo(dir)
	})
	if relayBuild.err != nil {
		t.Fatal(relayBuild.err)
	}
	return relayBuild.path
}

// BuildRelayTo runs `go build` with CGO_ENABLED=0 for ./relay in the
// module root and writes the binary "relay" into dir. The go command is
// taken from PATH (go test puts GOROOT/bin first).
func BuildRelayTo(dir string) (string, error) {
	root, err := FindModuleRoot()
	if err != nil {
		return "", err
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("testenv: the go command is not on PATH: %w", err)
	}
	out := filepath.Join(dir, "relay")
	cmd := exec.Command(goCmd, "build", "-o", out, "./relay")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("testenv: CGO_ENABLED=0 go build ./relay: %w\n%s", err, log.Bytes())
	}
	return out, nil
}

// Main runs the package's tests and then removes what the package's
// helpers left behind (the relay binary of BuildRelay). Use it as
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if relayBuild.dir != "" {
		_ = os.RemoveAll(relayBuild.dir)
	}
	os.Exit(code)
}
