package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts that bound waits on a relay process. They only keep a broken
// relay from hanging the suite; no test asserts on how long anything takes.
const (
	// DefaultStartTimeout bounds the wait for the "Parley relay on" line.
	DefaultStartTimeout = 90 * time.Second
	// StopTimeout bounds the wait for the process to exit after SIGTERM.
	StopTimeout = 30 * time.Second
)

// RelayConfig describes a relay process to start.
type RelayConfig struct {
	// Binary is the relay executable, usually from BuildRelay. Required.
	Binary string
	// DataDir is passed as --data. Required.
	DataDir string
	// Args are extra arguments, appended after --data DIR --listen
	// 127.0.0.1:0 (a later --listen would win; keep it on loopback).
	Args []string
	// Env holds extra KEY=value pairs. The process inherits the test's
	// environment minus every PARLEY_* variable, so that only Env decides
	// those (for example PARLEY_ADMIN_PASSWORD).
	Env []string
	// StartTimeout bounds the wait for the address and fingerprint lines;
	// zero means DefaultStartTimeout.
	StartTimeout time.Duration
}

// RelayProc is a running relay process started by LaunchRelay or
// StartRelayProcess.
type RelayProc struct {
	// URL is the base URL printed by the relay, https://127.0.0.1:PORT.
	URL string
	// Addr is URL's host:port.
	Addr string
	// Fingerprint is the certificate fingerprint printed by the relay,
	// "SHA256:AB:..".
	Fingerprint string
	// DataDir is the relay's data folder.
	DataDir string

	cmd     *exec.Cmd
	stdout  *lineBuffer
	stderr  *lineBuffer
	exited  chan struct{}
	waitErr error
}

// StartRelayProcess starts binary with --data dataDir --listen 127.0.0.1:0
// and args, waits until it prints its URL and certificate fingerprint, and
// returns it. The test's PARLEY_* environment variables are not passed on
// (use StartRelayProcessConfig to set some). t.Cleanup kills the process if
// it still runs; when the test failed, the relay's output is logged.
func StartRelayProcess(t testing.TB, binary, dataDir string, args ...string) *RelayProc {
	t.Helper()
	return StartRelayProcessConfig(t, RelayConfig{Binary: binary, DataDir: dataDir, Args: args})
}

// StartRelayProcessConfig is StartRelayProcess with a full RelayConfig.
func StartRelayProcessConfig(t testing.TB, cfg RelayConfig) *RelayProc {
	t.Helper()
	p, err := LaunchRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("relay (pid %d) stdout:\n%s", p.Pid(), tail(p.Stdout(), 4000))
			t.Logf("relay (pid %d) stderr:\n%s", p.Pid(), tail(p.Stderr(), 8000))
		}
	})
	return p
}

// LaunchRelay starts a relay process as StartRelayProcess does, without a
// testing.TB (for benchmarks run with go run). The caller must Stop or
// Kill it.
func LaunchRelay(cfg RelayConfig) (*RelayProc, error) {
	if cfg.Binary == "" || cfg.DataDir == "" {
		return nil, errors.New("testenv: RelayConfig needs Binary and DataDir")
	}
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	args := append([]string{"--data", cfg.DataDir, "--listen", "127.0.0.1:0"}, cfg.Args...)
	cmd := exec.Command(cfg.Binary, args...)
	cmd.Env = append(withoutParleyEnv(os.Environ()), cfg.Env...)
	p := &RelayProc{
		DataDir: cfg.DataDir,
		cmd:     cmd,
		stdout:  newLineBuffer(),
		stderr:  newLineBuffer(),
		exited:  make(chan struct{}),
	}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	setProcAttr(cmd)
	// Start and wait on one goroutine locked to its OS thread: on Linux the
	// parent-death signal follows the thread that forked, not the process.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("testenv: start relay: %w", err)
	}

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		changed := p.stdout.changed()
		if done, err := p.parseBanner(); done {
			return p, nil
		} else if err != nil {
			p.Kill()
			return nil, err
		}
		select {
		case <-changed:
		case <-p.exited:
			if done, _ := p.parseBanner(); done {
				return p, nil
			}
			return nil, fmt.Errorf("testenv: relay exited before listening (%v)\nstdout:\n%s\nstderr:\n%s",
				p.waitErr, tail(p.Stdout(), 4000), tail(p.Stderr(), 8000))
		case <-deadline.C:
			p.Kill()
			return nil, fmt.Errorf("testenv: relay printed no address within %v\nstdout:\n%s\nstderr:\n%s",
				timeout, tail(p.Stdout(), 4000), tail(p.Stderr(), 8000))
		}
	}
}

// parseBanner looks for the "Parley relay on URL (...)" and
// "certificate SHA256:..." lines. It refuses an address that is not
// loopback: tests must never talk to another address.
func (p *RelayProc) parseBanner() (bool, error) {
	var rawURL, fp string
	for _, line := range p.stdout.lines() {
		if rest, ok := strings.CutPrefix(line, "Parley relay on "); ok {
			rawURL, _, _ = strings.Cut(rest, " ")
		}
		if rest, ok := strings.CutPrefix(line, "certificate "); ok {
			fp = strings.TrimSpace(rest)
		}
	}
	if rawURL == "" || fp == "" {
		return false, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return false, fmt.Errorf("testenv: relay printed a bad URL %q", rawURL)
	}
	host, _, err := net.SplitHostPort(u.Host)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return false, fmt.Errorf("testenv: relay listens on %q, not on a loopback address", u.Host)
	}
	p.URL, p.Addr, p.Fingerprint = rawURL, u.Host, fp
	return true, nil
}

// Pid is the relay's process id.
func (p *RelayProc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *RelayProc) Exited() <-chan struct{} { return p.exited }

// Stdout is everything the relay wrote to stdout so far.
func (p *RelayProc) Stdout() string { return p.stdout.String() }

// Stderr is everything the relay wrote to stderr so far.
func (p *RelayProc) Stderr() string { return p.stderr.String() }

// StderrLines are the complete lines the relay wrote to stderr so far.
func (p *RelayProc) StderrLines() []string { return p.stderr.lines() }

// Logs parses every stderr line that is a JSON object (the relay's slog
// output) and returns them in order; other lines are left out.
func (p *RelayProc) Logs() []map[string]any {
	var out []map[string]any
	for _, line := range p.stderr.lines() {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// FindLog returns the first JSON log line whose "msg" is msg.
func (p *RelayProc) FindLog(msg string) (map[string]any, bool) {
	for _, m := range p.Logs() {
		if m["msg"] == msg {
			return m, true
		}
	}
	return nil, false
}

// Stop sends SIGTERM, waits for the process to exit and returns its exit
// code (-1 when a signal ended it). If it has not exited after StopTimeout
// it is killed and Stop returns an error. Stopping an exited relay just
// returns its exit code.
func (p *RelayProc) Stop() (int, error) {
	select {
	case <-p.exited:
		return p.exitCode(), nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return -1, fmt.Errorf("testenv: SIGTERM to relay: %w", err)
	}
	t := time.NewTimer(StopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
		return p.exitCode(), nil
	case <-t.C:
		p.Kill()
		return -1, fmt.Errorf("testenv: relay did not exit within %v of SIGTERM; killed it", StopTimeout)
	}
}

// Kill ends the process with SIGKILL (if it still runs) and waits for it.
func (p *RelayProc) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func (p *RelayProc) exitCode() int {
	if p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// withoutParleyEnv drops PARLEY_* variables from env.
func withoutParleyEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PARLEY_") {
			out = append(out, kv)
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// lineBuffer collects a process's output, safe for concurrent use, and
// lets readers wait for more.
type lineBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{}
}

func newLineBuffer() *lineBuffer { return &lineBuffer{notify: make(chan struct{})} }

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	close(b.notify)
	b.notify = make(chan struct{})
	return len(p), nil
}

// changed returns a channel that is closed at the next Write.
func (b *lineBuffer) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.notify
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the complete (newline-terminated) lines written so far.
func (b *lineBuffer) lines() []string {
	s := b.String()
	end := strings.LastIndexByte(s, '\n')
	if end < 0 {
		return nil
	}
	return strings.Split(s[:end], "\n")
}
