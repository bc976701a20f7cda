package privacy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"parley/relay/ids"
)

// LedgerFileName is the erasure ledger's file name in the relay's data
// folder, next to (not inside) the store, so that restoring an older
// store leaves it as it is.
const LedgerFileName = "erasure-ledger.jsonl"

// ErrLedgerCorrupt: a line of the ledger, other than a torn last line, is
// not a valid entry. The relay refuses to start rather than serve data
// whose erasure it cannot replay.
var ErrLedgerCorrupt = errors.New("erasure ledger corrupt")

// LedgerEntry is one erasure request: ids and times only, no personal
// data. It is written, and synced to disk, before the erasure touches
// anything, so that an erasure interrupted by a crash, or undone by
// restoring an older backup, is carried out again.
type LedgerEntry struct {
	// ID identifies the erasure (and its receipt).
	ID string `json:"id"`
	// TenantID is the customer's tenant.
	TenantID string `json:"tenant_id"`
	// CustomerID is the erased customer.
	CustomerID string `json:"customer_id"`
	// Requested is when the erasure was requested.
	Requested time.Time `json:"requested"`
	// By is the user id of the admin who requested it.
	By string `json:"by"`
}

func (e LedgerEntry) valid() bool {
	return ids.Valid(e.ID) && ids.ValidRef(e.TenantID) && ids.Valid(e.CustomerID) && ids.ValidRef(e.By) && !e.Requested.IsZero()
}

// Ledger is the append-only erasure ledger file (JSON lines, fsynced).
type Ledger struct {
	mu   sync.Mutex
	path string
}

// OpenLedger opens (creating it when missing, mode 0600) the ledger at
// path. A torn last line — a write that a crash cut short, and that was
// therefore never acknowledged — is cut off; any other damage is
// ErrLedgerCorrupt.
func OpenLedger(path string) (*Ledger, error) {
	l := &Ledger{path: path}
	if _, err := l.repair(); err != nil {
		return nil, err
	}
	return l, nil
}

// Path is the ledger's file path.
func (l *Ledger) Path() string { return l.path }

// repair creates the file when missing, cuts a torn last line and returns
// the entries.
func (l *Ledger) repair() ([]LedgerEntry, error) {
	b, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
			return nil, fmt.Errorf("privacy: create ledger folder: %w", err)
		}
		f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("privacy: create ledger: %w", err)
		}
		if f != nil {
			if err := f.Close(); err != nil {
				return nil, fmt.Errorf("privacy: create ledger: %w", err)
			}
			if err := syncDir(filepath.Dir(l.path)); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("privacy: read ledger: %w", err)
	}
	entries, complete, err := ParseLedger(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if complete < int64(len(b)) {
		if err := os.Truncate(l.path, complete); err != nil {
			return nil, fmt.Errorf("privacy: cut torn ledger line: %w", err)
		}
	}
	return entries, nil
}

// MaxLedgerLine bounds one ledger line.
const MaxLedgerLine = 4096

// ParseLedger reads ledger lines from r. It returns the entries, the
// length of the complete lines read (a torn last line without its newline
// is not counted and not returned), and ErrLedgerCorrupt for a damaged
// complete line.
func ParseLedger(r io.Reader) ([]LedgerEntry, int64, error) {
	br := bufio.NewReaderSize(r, MaxLedgerLine+1)
	var out []LedgerEntry
	var off int64
	seen := map[string]bool{}
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, io.EOF) {
			return out, off, nil // a torn (or no) last line
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, off, fmt.Errorf("privacy: ledger line %d longer than %d bytes: %w", n, MaxLedgerLine, ErrLedgerCorrupt)
		}
		if err != nil {
			return nil, off, fmt.Errorf("privacy: read ledger: %w", err)
		}
		var e LedgerEntry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || !e.valid() {
			return nil, off, fmt.Errorf("privacy: ledger line %d: %w", n, ErrLedgerCorrupt)
		}
		off += int64(len(line))
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
}

// Entries returns every entry in the ledger, in the order written.
func (l *Ledger) Entries() ([]LedgerEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.Open(l.path)
	if err != nil {
		return nil, fmt.Errorf("privacy: open ledger: %w", err)
	}
	defer f.Close()
	entries, _, err := ParseLedger(f)
	return entries, err
}

// Append writes entries and syncs the file before returning: an entry
// Append returned for survives a crash. Entries whose id is already in
// the ledger are skipped (so merging ledgers is idempotent).
func (l *Ledger) Append(entries ...LedgerEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	have, err := l.repair()
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(have))
	for _, e := range have {
		seen[e.ID] = true
	}
	var buf bytes.Buffer
	for _, e := range entries {
		if !e.valid() {
			return fmt.Errorf("privacy: append to ledger: malformed entry")
		}
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		e.Requested = e.Requested.UTC()
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("privacy: append to ledger: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if buf.Len() == 0 {
		return nil
	}
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("privacy: append to ledger: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("privacy: append to ledger: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("privacy: sync ledger: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("privacy: close ledger: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("privacy: sync ledger folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("privacy: sync ledger folder: %w", err)
	}
	return nil
}
