// Package firefox drives Debian's Firefox ESR over WebDriver BiDi for
// Parley's end-to-end tests, so that the customer's join page is tested in
// Firefox as well as in Chromium (tests/browser, tests/call).
//
// No geckodriver is needed: Firefox started with --remote-debugging-port
// serves WebDriver BiDi itself on a loopback WebSocket. Launch starts a
// headless Firefox with a fresh profile whose user.js turns off every
// background request Firefox would make (updates, telemetry, safe
// browsing, remote settings, captive-portal and connectivity checks) and
// turns on fake camera and microphone and loopback ICE candidates. A
// Browser then sends BiDi commands: Navigate, Evaluate (values come back
// JSON-encoded by the page), Screenshot.
//
// Run the suite in a loopback-only network namespace (see DESIGN.md,
// "Network rule for tests"); the preferences here are a second line of
// defence, not the first.
package firefox

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// DefaultStartTimeout bounds Launch's wait for Firefox to listen when
// Options.StartTimeout is zero. It only stops a hung start; nothing
// asserts on durations.
const DefaultStartTimeout = 60 * time.Second

// ErrNotFound is returned by Path when no Firefox executable is installed.
var ErrNotFound = errors.New("firefox: no firefox-esr or firefox executable (install the Debian package \"firefox-esr\")")

// Path returns the Firefox executable: firefox-esr, else firefox, from
// PATH (Debian installs both names), or ErrNotFound.
func Path() (string, error) {
	for _, name := range []string{"firefox-esr", "firefox"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNotFound
}

// TestPrefs are the preferences Launch writes to the profile's user.js
// (Options.Prefs adds to and overrides them): fake media devices without
// a permission prompt, loopback and unobfuscated host ICE candidates, and
// no background network traffic of Firefox's own.
var TestPrefs = map[string]any{
	// Media: Firefox's fake camera (a colour pattern) and microphone (a
	// tone); camera and microphone allowed for every site, as if the
	// customer had allowed them, so no prompt; ICE may use loopback, and
	// host candidates carry their address instead of an mDNS name.
	//
	// Not media.navigator.permission.disabled: with it, getUserMedia
	// works but Firefox does not count the page as capturing or
	// permitted, so ICE gathers only the default route's address; in a
	// loopback-only namespace there is none and ICE fails.
	"media.navigator.streams.fake":                      true,
	"permissions.default.camera":                        1,
	"permissions.default.microphone":                    1,
	"media.peerconnection.ice.loopback":                 true,
	"media.peerconnection.ice.obfuscate_host_addresses": false,
	"media.peerconnection.ice.no_host":                  false,

	// No background traffic.
	"app.update.enabled":                                false,
	"app.update.auto":                                   false,
	"app.normandy.enabled":                              false,
	"app.normandy.api_url":                              "",
	"app.shield.optoutstudies.enabled":                  false,
	"browser.safebrowsing.malware.enabled":              false,
	"browser.safebrowsing.phishing.enabled":             false,
	"browser.safebrowsing.blockedURIs.enabled":          false,
	"browser.safebrowsing.downloads.enabled":            false,
	"browser.safebrowsing.downloads.remote.enabled":     false,
	"browser.safebrowsing.provider.google.updateURL":    "",
	"browser.safebrowsing.provider.google4.updateURL":   "",
	"browser.safebrowsing.provider.mozilla.updateURL":   "",
	"datareporting.healthreport.uploadEnabled":          false,
	"datareporting.policy.dataSubmissionEnabled":        false,
	"toolkit.telemetry.enabled":                         false,
	"toolkit.telemetry.unified":                         false,
	"toolkit.telemetry.archive.enabled":                 false,
	"toolkit.telemetry.server":                          "",
	"network.captive-portal-service.enabled":            false,
	"network.connectivity-service.enabled":              false,
	"network.predictor.enabled":                         false,
	"network.prefetch-next":                             false,
	"network.dns.disablePrefetch":                       true,
	"network.http.speculative-parallel-limit":           0,
	"network.trr.mode":                                  5,
	"network.proxy.type":                                0,
	"browser.shell.checkDefaultBrowser":                 false,
	"extensions.update.enabled":                         false,
	"extensions.getAddons.cache.enabled":                false,
	"extensions.systemAddon.update.enabled":             false,
	"extensions.blocklist.enabled":                      false,
	"browser.newtabpage.enabled":                        false,
	"browser.newtabpage.activity-stream.feeds.topsites": false,
	"browser.startup.page":                              0,
	"browser.startup.homepage":                          "about:blank",
	"browser.startup.homepage_override.mstone":          "ignore",
	"startup.homepage_welcome_url":                      "about:blank",
	"browser.aboutwelcome.enabled":                      false,
	"browser.region.update.enabled":                     false,
	"browser.region.network.url":                        "",
	"browser.search.update":                             false,
	"browser.search.geoip.url":                          "",
	"geo.provider.network.url":                          "",
	"geo.enabled":                                       false,
	"messaging-system.rsexperimentloader.enabled":       false,
	"nimbus.rsexperimentloader.enabled":                 false,
	"services.settings.server":                          "data:,#remote-settings-dummy/v1",
	"services.sync.engine.addons":                       false,
	"identity.fxaccounts.enabled":                       false,
	"browser.ping-centre.telemetry":                     false,
	"browser.contentblocking.report.monitor.enabled":    false,
	"security.OCSP.enabled":                             0,
	"security.remote_settings.crlite_filters.enabled":   false,
	"security.remote_settings.intermediates.enabled":    false,
	"privacy.query_stripping.enabled":                   false,
	"dom.push.connection.enabled":                       false,
	"dom.push.serverURL":                                "",
}

// Options configures Launch.
type Options struct {
	// Exe is the Firefox executable; empty means Path().
	Exe string
	// ProfileDir is the fresh, empty folder Firefox uses as its profile
	// (tests pass t.TempDir()). Required.
	ProfileDir string
	// Prefs add to and override TestPrefs; a nil value removes one.
	Prefs map[string]any
	// StartTimeout bounds the wait for Firefox to listen and for the BiDi
	// session; zero means DefaultStartTimeout.
	StartTimeout time.Duration
}

// Browser is a running Firefox with one WebDriver BiDi session. Its
// methods are safe for concurrent use.
type Browser struct {
	cmd    *exec.Cmd
	exited chan struct{}
	out    *tailBuffer
	conn   *websocket.Conn

	mu      sync.Mutex
	nextID  int
	pending map[int]chan reply
	events  []Event
	readErr error
	done    chan struct{} // closed when the reader stops

	closeOnce sync.Once
}

// Event is a BiDi event the session subscribed to.
type Event struct {
	// Method is the event's name, such as "log.entryAdded".
	Method string `json:"method"`
	// Params are the event's parameters, undecoded.
	Params json.RawMessage `json:"params"`
}

// Error is an error reply to a BiDi command.
type Error struct {
	// Method is the command that failed.
	Method string
	// Code is the BiDi error code, such as "no such frame".
	Code string
	// Message is Firefox's explanation.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("firefox: %s: %s: %s", e.Method, e.Code, e.Message)
}

// reply is one message from Firefox: a command's result or error, or an
// event.
type reply struct {
	Type    string          `json:"type"`
	ID      *int            `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// listening matches Firefox's line announcing the BiDi server.
var listening = regexp.MustCompile(`WebDriver BiDi listening on (ws://[^\s]+)`)

// parseListening returns the WebSocket URL Firefox printed in line, if
// any, and refuses one that is not on a loopback address.
func parseListening(line string) (string, bool, error) {
	m := listening.FindStringSubmatch(line)
	if m == nil {
		return "", false, nil
	}
	u, err := url.Parse(m[1])
	if err != nil {
		return "", false, fmt.Errorf("firefox: bad BiDi address %q: %w", m[1], err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return "", false, fmt.Errorf("firefox: BiDi listens on %q, not on a loopback address", u.Host)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 {
		return "", false, fmt.Errorf("firefox: BiDi address %q has no port", u.Host)
	}
	return "ws://" + u.Host + "/session", true, nil
}

// userJS renders prefs as a user.js file, sorted by name.
func userJS(prefs map[string]any) ([]byte, error) {
	names := make([]string, 0, len(prefs))
	for k, v := range prefs {
		if v != nil {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("// Written by parley/tests/firefox for one test run.\n")
	for _, k := range names {
		var val string
		switch v := prefs[k].(type) {
		case bool:
			val = strconv.FormatBool(v)
		case int:
			val = strconv.Itoa(v)
		case string:
			q, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("firefox: pref %s: %w", k, err)
			}
			val = string(q)
		default:
			return nil, fmt.Errorf("firefox: pref %s has type %T; want bool, int or string", k, v)
		}
		key, _ := json.Marshal(k)
		fmt.Fprintf(&b, "user_pref(%s, %s);\n", key, val)
	}
	return []byte(b.String()), nil
}

// Launch starts headless Firefox with opts.ProfileDir as its profile,
// waits until it serves WebDriver BiDi, connects and opens a session that
// accepts the relay's self-signed certificate (acceptInsecureCerts). The
// caller must Close the browser. ctx bounds the start only.
func Launch(ctx context.Context, opts Options) (*Browser, error) {
	exe := opts.Exe
	if exe == "" {
		var err error
		if exe, err = Path(); err != nil {
			return nil, err
		}
	}
	if opts.ProfileDir == "" {
		return nil, errors.New("firefox: Options.ProfileDir is required")
	}
	prefs := make(map[string]any, len(TestPrefs)+len(opts.Prefs))
	for k, v := range TestPrefs {
		prefs[k] = v
	}
	for k, v := range opts.Prefs {
		prefs[k] = v
	}
	js, err := userJS(prefs)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(opts.ProfileDir, "user.js"), js, 0o600); err != nil {
		return nil, fmt.Errorf("firefox: writing user.js: %w", err)
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.Command(exe, "--headless", "--no-remote", "--profile", opts.ProfileDir, "--remote-debugging-port=0")
	// Firefox must not find a display or a session bus of the caller's.
	cmd.Env = append(os.Environ(), "MOZ_HEADLESS=1", "MOZ_CRASHREPORTER_DISABLE=1", "MOZ_DISABLE_AUTO_SAFE_MODE=1")
	setProcAttr(cmd)
	b := &Browser{
		cmd:     cmd,
		exited:  make(chan struct{}),
		out:     &tailBuffer{max: 64 << 10},
		pending: map[int]chan reply{},
		done:    make(chan struct{}),
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("firefox: stderr pipe: %w", err)
	}
	cmd.Stdout = b.out
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
		_ = cmd.Wait()
		close(b.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("firefox: start %s: %w", exe, err)
	}
	found := make(chan string, 1)
	scanErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			b.out.Write([]byte(line + "\n"))
			if sent {
				continue
			}
			if u, ok, err := parseListening(line); err != nil {
				scanErr <- err
				sent = true
			} else if ok {
				found <- u
				sent = true
			}
		}
		// Keep draining after the banner so Firefox never blocks on stderr.
		_, _ = io.Copy(b.out, stderr)
	}()
	var wsURL string
	select {
	case wsURL = <-found:
	case err := <-scanErr:
		b.kill()
		return nil, err
	case <-b.exited:
		return nil, fmt.Errorf("firefox: exited before serving BiDi\n%s", b.Output())
	case <-ctx.Done():
		b.kill()
		return nil, fmt.Errorf("firefox: no BiDi address: %w\n%s", ctx.Err(), b.Output())
	}

	// No proxy, whatever the environment says: the socket is on loopback.
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}}
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		b.kill()
		return nil, fmt.Errorf("firefox: connecting to BiDi: %w\n%s", err, b.Output())
	}
	conn.SetReadLimit(64 << 20) // screenshots arrive as one message
	b.conn = conn
	go b.read()
	if err := b.Call(ctx, "session.new", map[string]any{
		"capabilities": map[string]any{"alwaysMatch": map[string]any{"acceptInsecureCerts": true}},
	}, nil); err != nil {
		b.kill()
		return nil, err
	}
	return b, nil
}

// read delivers replies to their callers and keeps events.
func (b *Browser) read() {
	defer close(b.done)
	for {
		_, data, err := b.conn.Read(context.Background())
		if err != nil {
			b.mu.Lock()
			b.readErr = err
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var r reply
		if err := json.Unmarshal(data, &r); err != nil {
			continue
		}
		b.mu.Lock()
		if r.Type == "event" {
			b.events = append(b.events, Event{Method: r.Method, Params: r.Params})
		} else if r.ID != nil {
			if ch, ok := b.pending[*r.ID]; ok {
				ch <- r
				delete(b.pending, *r.ID)
			}
		}
		b.mu.Unlock()
	}
}

// Call sends the BiDi command method with params and waits for its reply;
// a non-nil result receives the decoded result. A BiDi error comes back as
// *Error.
func (b *Browser) Call(ctx context.Context, method string, params, result any) error {
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan reply, 1)
	b.mu.Lock()
	if b.readErr != nil {
		err := b.readErr
		b.mu.Unlock()
		return fmt.Errorf("firefox: %s: connection closed: %w", method, err)
	}
	b.nextID++
	id := b.nextID
	b.pending[id] = ch
	b.mu.Unlock()
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("firefox: encoding %s: %w", method, err)
	}
	if err := b.conn.Write(ctx, websocket.MessageText, msg); err != nil {
		b.forget(id)
		return fmt.Errorf("firefox: sending %s: %w", method, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return fmt.Errorf("firefox: %s: connection closed before the reply", method)
		}
		if r.Type == "error" {
			return &Error{Method: method, Code: r.Error, Message: r.Message}
		}
		if result != nil {
			if err := json.Unmarshal(r.Result, result); err != nil {
				return fmt.Errorf("firefox: decoding the reply to %s: %w", method, err)
			}
		}
		return nil
	case <-ctx.Done():
		b.forget(id)
		return fmt.Errorf("firefox: %s: %w", method, ctx.Err())
	}
}

func (b *Browser) forget(id int) {
	b.mu.Lock()
	delete(b.pending, id)
	b.mu.Unlock()
}

// Subscribe asks for the named events (for example "log.entryAdded");
// Events returns them.
func (b *Browser) Subscribe(ctx context.Context, events ...string) error {
	return b.Call(ctx, "session.subscribe", map[string]any{"events": events}, nil)
}

// Events returns the events received so far.
func (b *Browser) Events() []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events)
}

// Tab returns the id of the first top-level browsing context, creating a
// tab when there is none.
func (b *Browser) Tab(ctx context.Context) (string, error) {
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	if err := b.Call(ctx, "browsingContext.getTree", map[string]any{"maxDepth": 0}, &tree); err != nil {
		return "", err
	}
	if len(tree.Contexts) > 0 {
		return tree.Contexts[0].Context, nil
	}
	var created struct {
		Context string `json:"context"`
	}
	if err := b.Call(ctx, "browsingContext.create", map[string]any{"type": "tab"}, &created); err != nil {
		return "", err
	}
	return created.Context, nil
}

// SetViewport sets the page's viewport of tab in CSS pixels.
func (b *Browser) SetViewport(ctx context.Context, tab string, width, height int) error {
	return b.Call(ctx, "browsingContext.setViewport", map[string]any{
		"context": tab, "viewport": map[string]any{"width": width, "height": height},
	}, nil)
}

// Navigate loads rawURL in tab and waits until the document is complete.
func (b *Browser) Navigate(ctx context.Context, tab, rawURL string) error {
	return b.Call(ctx, "browsingContext.navigate", map[string]any{"context": tab, "url": rawURL, "wait": "complete"}, nil)
}

// EvalOptions changes how Evaluate runs a script.
type EvalOptions struct {
	// UserActivation runs the script as if the user had just interacted
	// with the page (a click on a button counts as the user's), which
	// grants what needs a user gesture such as audible autoplay.
	UserActivation bool
}

// Evaluate runs the JavaScript expression js in tab's page, awaits it if
// it is a promise, and decodes its value into out (which may be nil). The
// page encodes the value with JSON.stringify, so out is any Go value that
// JSON fits; undefined arrives as null. A thrown exception is an error
// carrying its text.
func (b *Browser) Evaluate(ctx context.Context, tab, js string, out any) error {
	return b.EvaluateWith(ctx, tab, js, out, EvalOptions{})
}

// EvaluateWith is Evaluate with options.
func (b *Browser) EvaluateWith(ctx context.Context, tab, js string, out any, opts EvalOptions) error {
	expr := "Promise.resolve((\n" + js + "\n)).then(v => v === undefined ? 'null' : JSON.stringify(v))"
	var res struct {
		Type   string `json:"type"`
		Result struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := b.Call(ctx, "script.evaluate", map[string]any{
		"expression": expr, "target": map[string]any{"context": tab},
		"awaitPromise": true, "userActivation": opts.UserActivation,
	}, &res); err != nil {
		return err
	}
	if res.Type == "exception" {
		return fmt.Errorf("firefox: script threw: %s", res.ExceptionDetails.Text)
	}
	if res.Result.Type != "string" {
		return fmt.Errorf("firefox: script returned a %s, not a JSON string", res.Result.Type)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(res.Result.Value), out); err != nil {
		return fmt.Errorf("firefox: decoding the script's value: %w", err)
	}
	return nil
}

// AddPreloadScript runs the JavaScript function declaration fn (such as
// "() => { ... }") in every page before the page's own scripts, from the
// next navigation on.
func (b *Browser) AddPreloadScript(ctx context.Context, fn string) error {
	return b.Call(ctx, "script.addPreloadScript", map[string]any{"functionDeclaration": fn}, nil)
}

// Screenshot captures tab's viewport as a PNG.
func (b *Browser) Screenshot(ctx context.Context, tab string) ([]byte, error) {
	var res struct {
		Data string `json:"data"`
	}
	if err := b.Call(ctx, "browsingContext.captureScreenshot", map[string]any{"context": tab}, &res); err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil {
		return nil, fmt.Errorf("firefox: decoding the screenshot: %w", err)
	}
	return png, nil
}

// Output is the tail of what Firefox wrote to stdout and stderr, for a
// failed test's log.
func (b *Browser) Output() string { return b.out.String() }

// Close ends the session (briefly: a hung Firefox is killed anyway),
// closes the connection and kills Firefox. It is safe to call twice.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		if b.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = b.Call(ctx, "session.end", nil, nil)
			cancel()
			_ = b.conn.Close(websocket.StatusNormalClosure, "")
		}
		b.kill()
	})
	return nil
}

// kill ends Firefox and its content processes and waits for it.
func (b *Browser) kill() {
	select {
	case <-b.exited:
	default:
		killGroup(b.cmd)
		select {
		case <-b.exited:
		case <-time.After(10 * time.Second):
		}
	}
	if b.conn != nil {
		_ = b.conn.CloseNow()
	}
}

// tailBuffer keeps the last max bytes written to it, safe for concurrent
// use.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
