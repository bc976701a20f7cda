// Package accesslog keeps the relay's access log — for each request the
// client's IP address, the time, method, path, status, referrer, user
// agent and session id — for security investigations, and deletes it
// after its retention period (data class access_log, 30 days by default).
//
// Entries go to one file per UTC day under DATA/access-log/, one line
// each, every line sealed with AES-256-GCM under a key derived from the
// store key (the day as associated data), so the IP addresses are
// encrypted at rest like everything else the relay keeps, and the log can
// be read while the relay runs (`relay access-log`), without the store's
// lock. Secrets in paths (join, manage, signing and feed tokens) are cut
// to their prefix, query strings are dropped, the referrer is reduced to
// its origin.
package accesslog

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley/relay/clock"
)

// DirName is the access log's folder in the data folder.
const DirName = "access-log"

// DefaultRetention is how long entries are kept (the seeds' 30 days).
const DefaultRetention = 30 * 24 * time.Hour

// Entry is one request.
type Entry struct {
	// Time is when the request arrived (UTC).
	Time time.Time `json:"time"`
	// IP is the client's address as the relay saw it.
	IP string `json:"ip"`
	// Method is the HTTP method.
	Method string `json:"method"`
	// Path is the request path with secrets cut (see Redact).
	Path string `json:"path"`
	// Route is the matched route pattern, "other" when none.
	Route string `json:"route"`
	// Status is the HTTP status answered.
	Status int `json:"status"`
	// Referrer is the referring page's origin (scheme and host).
	Referrer string `json:"referrer,omitempty"`
	// UserAgent is the client's user agent (at most 256 bytes).
	UserAgent string `json:"user_agent,omitempty"`
	// Session is the session id (a prefix of the token's hash), if any.
	Session string `json:"session,omitempty"`
}

// secret matches the relay's token forms: a p + two letters + "_" prefix
// and a long base64url body (pst_, pmj_, pms_, pbk_, pcf_, pmf_, psg_ …).
var secret = regexp.MustCompile(`\b(p[a-z]{2}_)[A-Za-z0-9_-]{16,}`)

// Redact returns the path without its query and with every token cut to
// its prefix, so the log never holds a credential.
func Redact(path string) string {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if len(path) > 512 {
		path = path[:512]
	}
	return secret.ReplaceAllString(path, "${1}…")
}

// origin reduces a referrer to its scheme and host.
func origin(ref string) string {
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Options configures Open.
type Options struct {
	// Dir is the folder of the day files (DATA/access-log). Required.
	Dir string
	// Key is the store key the log's key is derived from. Required.
	Key []byte
	// Clock stamps the retention; nil means the real clock.
	Clock clock.Clock
	// Logger gets write errors (no entry content); nil discards.
	Logger *slog.Logger
	// Buffer is how many entries may wait to be written; when full, new
	// entries are dropped and counted (requests never wait for the log).
	// Zero means 4096.
	Buffer int
}

// Log writes the access log.
type Log struct {
	dir     string
	aead    cipher.AEAD
	clock   clock.Clock
	log     *slog.Logger
	queue   chan Entry
	done    chan struct{}
	dropped atomic.Int64
	written atomic.Int64

	qmu    sync.RWMutex // Write holds it shared; Close exclusively
	closed bool
	mu     sync.Mutex // the open day file
	day    string
	f      *os.File
	w      *bufio.Writer
}

// deriveAEAD derives the log's sealing key from the store key.
func deriveAEAD(storeKey []byte) (cipher.AEAD, error) {
	if len(storeKey) != 32 {
		return nil, errors.New("accesslog: the store key must be 32 bytes")
	}
	k, err := hkdf.Key(sha256.New, storeKey, nil, "parley access log v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Open starts the log's writer. Close flushes and stops it.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("accesslog: Dir is required")
	}
	aead, err := deriveAEAD(opts.Key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("accesslog: %w", err)
	}
	n := opts.Buffer
	if n <= 0 {
		n = 4096
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Log{dir: opts.Dir, aead: aead, clock: clock.Or(opts.Clock), log: log, queue: make(chan Entry, n), done: make(chan struct{})}
	go l.run()
	return l, nil
}

// Write queues an entry; it never blocks. The path is redacted, the
// referrer reduced to its origin and the user agent cut here.
func (l *Log) Write(e Entry) {
	e.Time = e.Time.UTC()
	e.Path = Redact(e.Path)
	e.Referrer = origin(e.Referrer)
	if len(e.UserAgent) > 256 {
		e.UserAgent = e.UserAgent[:256]
	}
	l.qmu.RLock()
	defer l.qmu.RUnlock()
	if l.closed {
		// A long-lived request (signalling) that ends while the relay
		// shuts down: the log is closed already.
		l.dropped.Add(1)
		return
	}
	select {
	case l.queue <- e:
	default:
		l.dropped.Add(1)
	}
}

// Dropped is how many entries were dropped because the queue was full.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

// Written is how many entries were written.
func (l *Log) Written() int64 { return l.written.Load() }

func (l *Log) run() {
	defer close(l.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-l.queue:
			if !ok {
				l.flush()
				return
			}
			if err := l.append(e); err != nil {
				l.dropped.Add(1)
				l.log.Error("access log: write failed", "err", err)
			}
		case <-tick.C:
			l.flush()
		}
	}
}

// Close writes what is queued, syncs and closes the day file.
func (l *Log) Close() error {
	l.qmu.Lock()
	if !l.closed {
		l.closed = true
		close(l.queue)
	}
	l.qmu.Unlock()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func dayOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func (l *Log) append(e Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	day := dayOf(e.Time)
	if day != l.day || l.f == nil {
		if l.f != nil {
			l.w.Flush()
			l.f.Sync()
			l.f.Close()
			l.f = nil
		}
		f, err := os.OpenFile(filepath.Join(l.dir, day+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		l.f, l.w, l.day = f, bufio.NewWriter(f), day
	}
	pt, err := json.Marshal(e)
	if err != nil {
		return err
	}
	nonce := make([]byte, l.aead.NonceSize())
	rand.Read(nonce) // never fails since Go 1.24
	sealed := l.aead.Seal(nonce, nonce, pt, []byte(day))
	l.w.WriteString(base64.RawStdEncoding.EncodeToString(sealed))
	if err := l.w.WriteByte('\n'); err != nil {
		return err
	}
	l.written.Add(1)
	return nil
}

func (l *Log) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		if err := l.w.Flush(); err != nil {
			l.log.Error("access log: flush failed", "err", err)
		}
	}
}

// SweepStats tells what Sweep did.
type SweepStats struct {
	// Due is the number of day files past their deadline.
	Due int
	// Deleted is the number of day files deleted.
	Deleted int
	// Entries is the number of entries in the deleted files.
	Entries int
}

// Sweep deletes every day file whose day ended at least period before now
// (DefaultRetention when period ≤ 0). Files of younger days, and files
// that are not day files, are never touched.
func Sweep(ctx context.Context, dir string, now time.Time, period time.Duration) (SweepStats, error) {
	if period <= 0 {
		period = DefaultRetention
	}
	var st SweepStats
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("accesslog: sweep: %w", err)
	}
	var errs []error
	for _, de := range ents {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		day, ok := strings.CutSuffix(de.Name(), ".log")
		if !ok || !de.Type().IsRegular() {
			continue
		}
		d, err := time.Parse(time.DateOnly, day)
		if err != nil {
			continue
		}
		if now.Before(d.Add(24 * time.Hour).Add(period)) {
			continue
		}
		path := filepath.Join(dir, de.Name())
		n, _ := countLines(path)
		err = os.Remove(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // another sweep was quicker
		}
		st.Due++
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st.Deleted++
		st.Entries += n
	}
	return st, errors.Join(errs...)
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}

// ErrDamaged: a line of a day file does not open with the key (another
// store key, or the file was altered).
var ErrDamaged = errors.New("access log line does not open")

// Read returns the entries of one day (YYYY-MM-DD) in the order written.
// A torn last line (the relay stopped mid-write) is skipped; any other
// line that does not open is ErrDamaged.
func Read(dir, day string, storeKey []byte) ([]Entry, error) {
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return nil, fmt.Errorf("accesslog: day %q: want YYYY-MM-DD", day)
	}
	aead, err := deriveAEAD(storeKey)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, day+".log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("accesslog: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	torn := !strings.HasSuffix(string(b), "\n")
	var out []Entry
	for i, line := range lines {
		if line == "" {
			continue
		}
		last := i == len(lines)-1
		e, err := openLine(aead, day, line)
		if err != nil {
			if last && torn {
				break
			}
			return out, fmt.Errorf("accesslog: %s line %d: %w", day, i+1, ErrDamaged)
		}
		out = append(out, e)
	}
	return out, nil
}

func openLine(aead cipher.AEAD, day, line string) (Entry, error) {
	raw, err := base64.RawStdEncoding.DecodeString(line)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return Entry{}, ErrDamaged
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(day))
	if err != nil {
		return Entry{}, ErrDamaged
	}
	var e Entry
	if err := json.Unmarshal(pt, &e); err != nil {
		return Entry{}, ErrDamaged
	}
	return e, nil
}

// Days lists the days that have a file, oldest first.
func Days(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range ents {
		if day, ok := strings.CutSuffix(de.Name(), ".log"); ok {
			if _, err := time.Parse(time.DateOnly, day); err == nil {
				out = append(out, day)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

var _ io.Closer = (*Log)(nil)
