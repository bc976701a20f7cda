package calsync

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"parley/relay/clock"
	"parley/relay/ids"
	"parley/relay/store"
)

// Errors returned by the Service, wrapped with what was being done; check
// them with errors.Is.
var (
	// ErrNotFound: no such source, or an unknown or rotated feed token.
	ErrNotFound = errors.New("calsync: not found")
	// ErrInvalidInput: a malformed tenant or advisor id or source field.
	ErrInvalidInput = errors.New("calsync: invalid input")
	// ErrInvalidSource: a source URL the relay does not fetch (wrong
	// scheme, credentials in the URL, forbidden literal address). It
	// matches ErrInvalidInput too.
	ErrInvalidSource = fmt.Errorf("%w: source URL not allowed", ErrInvalidInput)
	// ErrTooManySources: the advisor already has MaxSources sources.
	ErrTooManySources = errors.New("calsync: too many calendar sources")
	// ErrFetch: the source could not be fetched (network, HTTP status,
	// authentication).
	ErrFetch = errors.New("calsync: fetch failed")
)

// MaxSources is how many calendar sources one advisor may connect.
const MaxSources = 10

// Kind says how a source is read.
type Kind string

// The source kinds.
const (
	// KindICS is a plain iCalendar address, fetched with GET.
	KindICS Kind = "ics"
	// KindCalDAV is a CalDAV calendar collection, calendar home or
	// principal, queried with a calendar-query REPORT.
	KindCalDAV Kind = "caldav"
)

// Source is one outside calendar of an advisor.
type Source struct {
	// ID is the source's random id; empty in PutSource creates a source.
	ID string
	// Kind is KindICS or KindCalDAV.
	Kind Kind
	// URL is the https address of the feed or CalDAV collection
	// (webcal:// is stored as https://). An ICS address is often itself a
	// secret: it is never logged.
	URL string
	// Username and Password are HTTP basic credentials (CalDAV, or a
	// protected ICS address). Never returned by Sources, never logged. In
	// a PutSource update, an empty Username or Password keeps the stored
	// one (to drop credentials, delete the source and add it again).
	Username, Password string
	// Label is the advisor's name for the source (at most 100 characters).
	Label string
	// TimeZone is the IANA (or Windows) zone in which floating times,
	// all-day dates and unknown TZIDs of this calendar are read; empty
	// means DefaultTimeZone.
	TimeZone string
	// LastSync is when the source was last synced successfully.
	LastSync time.Time
	// LastError describes the last failed sync (no personal data); empty
	// after a success.
	LastError string
	// Events counts the busy events of the last successful sync.
	Events int
}

// Options configure a Service.
type Options struct {
	// Store keeps sources, busy time and feed tokens. Required.
	Store store.KV
	// Clock decides when sources are due and the sync window; nil means
	// the real clock.
	Clock clock.Clock
	// Logger receives ids and counts only; nil discards.
	Logger *slog.Logger
	// HTTPClient fetches sources; nil means a hardened client with the dial
	// guard (see AllowPrivateNetworks). A client given here brings its own
	// network policy; bodies are capped at MaxBody either way.
	HTTPClient *http.Client
	// AllowPrivateNetworks lets the hardened client reach loopback and
	// private addresses and plain http URLs. Tests on loopback set it;
	// production must not.
	AllowPrivateNetworks bool
	// PollInterval is how often every source is fetched (plus up to a
	// tenth of it as jitter); default 10 minutes.
	PollInterval time.Duration
	// Window is how far ahead busy time is fetched; default 202 days (the
	// 201-day booking horizon plus a day).
	Window time.Duration
	// MaxBody caps a response body; default 10 MiB.
	MaxBody int64
	// Timeout bounds one HTTP request; default 30 s.
	Timeout time.Duration
	// Workers is how many sources PollDue fetches at once; default 4.
	Workers int
}

// Service syncs advisors' calendars. It is safe for concurrent use.
type Service struct {
	kv      store.KV
	clk     clock.Clock
	log     *slog.Logger
	http    *http.Client
	private bool
	poll    time.Duration
	window  time.Duration
	maxBody int64
	timeout time.Duration
	workers int
	mu      sync.Mutex // serialises syncs of one source
	running map[string]bool
}

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("calsync: Options.Store is required")
	}
	s := &Service{
		kv: o.Store, clk: clock.Or(o.Clock), log: o.Logger, private: o.AllowPrivateNetworks,
		poll: o.PollInterval, window: o.Window, maxBody: o.MaxBody, timeout: o.Timeout, workers: o.Workers,
		running: map[string]bool{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.poll <= 0 {
		s.poll = 10 * time.Minute
	}
	if s.window <= 0 {
		s.window = 202 * 24 * time.Hour
	}
	if s.maxBody <= 0 {
		s.maxBody = 10 << 20
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.workers <= 0 {
		s.workers = 4
	}
	c := o.HTTPClient
	if c == nil {
		c = newHTTPClient(s.private, s.timeout)
	}
	s.http = wrapClient(c, s.maxBody)
	return s, nil
}

// sourceRecord is what the store keeps per source.
type sourceRecord struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"`
	Advisor     string    `json:"advisor"`
	Kind        Kind      `json:"kind"`
	URL         string    `json:"url"`
	Username    string    `json:"username,omitempty"`
	Password    string    `json:"password,omitempty"`
	Label       string    `json:"label,omitempty"`
	TimeZone    string    `json:"tz"`
	Rev         int64     `json:"rev"` // raised by every PutSource
	Created     time.Time `json:"created"`
	LastAttempt time.Time `json:"last_attempt"`
	LastSync    time.Time `json:"last_sync"`
	LastError   string    `json:"last_error,omitempty"`
	Events      int       `json:"events"`
}

func (r *sourceRecord) public() Source {
	return Source{ID: r.ID, Kind: r.Kind, URL: r.URL, Label: r.Label, TimeZone: r.TimeZone,
		LastSync: r.LastSync, LastError: r.LastError, Events: r.Events}
}

const (
	prefixSource = "calsync/src/"
	prefixBusy   = "calsync/busy/"
	prefixFeed   = "calsync/feed/"
	prefixToken  = "calsync/token/"
)

func advisorPath(tenant, advisor string) string { return tenant + "/" + advisor + "/" }
func sourceKey(tenant, advisor, id string) []byte {
	return []byte(prefixSource + advisorPath(tenant, advisor) + id)
}
func busyKey(tenant, advisor, id string) []byte {
	return []byte(prefixBusy + advisorPath(tenant, advisor) + id)
}

// validID checks a tenant or advisor id before it goes into a key.
func validID(field, id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: %s", ErrInvalidInput, field)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %s", ErrInvalidInput, field)
		}
	}
	return nil
}

func validIDs(tenant, advisor string) error {
	if err := validID("tenant id", tenant); err != nil {
		return err
	}
	return validID("advisor id", advisor)
}

func cleanField(field, s string, max int) (string, error) {
	if len(s) > 4*max || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return "", fmt.Errorf("%w: %s too long or not UTF-8", ErrInvalidInput, field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("%w: %s contains control characters", ErrInvalidInput, field)
		}
	}
	return s, nil
}

// normalizeURL checks a source URL and returns its canonical form.
func (s *Service) normalizeURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 2048 {
		return "", fmt.Errorf("%w: empty or too long", ErrInvalidSource)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: unparsable", ErrInvalidSource)
	}
	switch strings.ToLower(u.Scheme) {
	case "webcal", "webcals":
		u.Scheme = "https"
	default:
		u.Scheme = strings.ToLower(u.Scheme)
	}
	if err := checkScheme(u, s.private); err != nil {
		return "", err
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: credentials belong in Username and Password", ErrInvalidSource)
	}
	if u.Hostname() == "" || u.Opaque != "" {
		return "", fmt.Errorf("%w: no host", ErrInvalidSource)
	}
	if !s.private && forbiddenLiteral(u.Hostname()) {
		return "", fmt.Errorf("%w: %w", ErrInvalidSource, ErrForbiddenAddress)
	}
	u.Fragment = ""
	return u.String(), nil
}

// PutSource creates (src.ID empty) or updates a calendar source and
// returns it without its credentials. The source is fetched at the next
// poll, or with SyncNow.
func (s *Service) PutSource(ctx context.Context, tenantID, advisorID string, src Source) (Source, error) {
	if err := validIDs(tenantID, advisorID); err != nil {
		return Source{}, fmt.Errorf("calsync: put source: %w", err)
	}
	if src.Kind != KindICS && src.Kind != KindCalDAV {
		return Source{}, fmt.Errorf("calsync: put source: %w: kind", ErrInvalidInput)
	}
	u, err := s.normalizeURL(src.URL)
	if err != nil {
		return Source{}, fmt.Errorf("calsync: put source: %w", err)
	}
	label, err := cleanField("label", strings.TrimSpace(src.Label), 100)
	if err != nil {
		return Source{}, fmt.Errorf("calsync: put source: %w", err)
	}
	for f, v := range map[string]string{"username": src.Username, "password": src.Password} {
		if _, err := cleanField(f, v, 256); err != nil {
			return Source{}, fmt.Errorf("calsync: put source: %w", err)
		}
	}
	tz := strings.TrimSpace(src.TimeZone)
	if tz == "" {
		tz = DefaultTimeZone
	}
	if LookupZone(tz) == nil {
		return Source{}, fmt.Errorf("calsync: put source: %w: unknown time zone", ErrInvalidInput)
	}
	if src.ID != "" && !ids.Valid(src.ID) {
		return Source{}, fmt.Errorf("calsync: put source: %w", ErrNotFound)
	}
	now := s.clk.Now()
	var out sourceRecord
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		rec := sourceRecord{ID: src.ID, Tenant: tenantID, Advisor: advisorID, Created: now}
		if src.ID == "" {
			n := 0
			if err := tx.Scan([]byte(prefixSource+advisorPath(tenantID, advisorID)), func(_, _ []byte) error {
				n++
				return nil
			}); err != nil {
				return err
			}
			if n >= MaxSources {
				return ErrTooManySources
			}
			rec.ID = ids.New()
		} else {
			old, err := getSource(tx, tenantID, advisorID, src.ID)
			if err != nil {
				return err
			}
			rec = old
			if src.Username == "" {
				src.Username = old.Username
			}
			if src.Password == "" {
				src.Password = old.Password
			}
			if old.URL != u || old.Kind != src.Kind || old.Username != src.Username || old.Password != src.Password || old.TimeZone != tz {
				// What was fetched belongs to the old settings.
				if err := tx.Delete(busyKey(tenantID, advisorID, rec.ID)); err != nil {
					return err
				}
				rec.LastAttempt, rec.LastSync, rec.LastError, rec.Events = time.Time{}, time.Time{}, "", 0
			}
		}
		rec.Kind, rec.URL, rec.Username, rec.Password, rec.Label, rec.TimeZone = src.Kind, u, src.Username, src.Password, label, tz
		rec.Rev++
		out = rec
		return putSource(tx, &rec)
	})
	if err != nil {
		return Source{}, fmt.Errorf("calsync: put source: %w", err)
	}
	s.log.Info("calsync: source saved", "tenant", tenantID, "advisor", advisorID, "source", out.ID, "kind", string(out.Kind))
	return out.public(), nil
}

func getSource(tx store.Txn, tenant, advisor, id string) (sourceRecord, error) {
	var rec sourceRecord
	b, err := tx.Get(sourceKey(tenant, advisor, id))
	if errors.Is(err, store.ErrNotFound) {
		return rec, ErrNotFound
	}
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("decode source: %w", err)
	}
	return rec, nil
}

func putSource(tx store.Txn, rec *sourceRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.Set(sourceKey(rec.Tenant, rec.Advisor, rec.ID), b)
}

func (s *Service) records(ctx context.Context, prefix string) ([]sourceRecord, error) {
	var out []sourceRecord
	err := s.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(prefix), func(_, v []byte) error {
			var rec sourceRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode source: %w", err)
			}
			out = append(out, rec)
			return nil
		})
	})
	return out, err
}

// Sources lists an advisor's sources, oldest first, without credentials.
func (s *Service) Sources(ctx context.Context, tenantID, advisorID string) ([]Source, error) {
	if err := validIDs(tenantID, advisorID); err != nil {
		return nil, fmt.Errorf("calsync: list sources: %w", err)
	}
	recs, err := s.records(ctx, prefixSource+advisorPath(tenantID, advisorID))
	if err != nil {
		return nil, fmt.Errorf("calsync: list sources: %w", err)
	}
	sortRecords(recs)
	out := make([]Source, len(recs))
	for i := range recs {
		out[i] = recs[i].public()
	}
	return out, nil
}

func sortRecords(recs []sourceRecord) {
	for i := 1; i < len(recs); i++ {
		for j := i; j > 0 && (recs[j].Created.Before(recs[j-1].Created) ||
			recs[j].Created.Equal(recs[j-1].Created) && recs[j].ID < recs[j-1].ID); j-- {
			recs[j], recs[j-1] = recs[j-1], recs[j]
		}
	}
}

// DeleteSource removes a source and its busy time.
func (s *Service) DeleteSource(ctx context.Context, tenantID, advisorID, sourceID string) error {
	if err := validIDs(tenantID, advisorID); err != nil {
		return fmt.Errorf("calsync: delete source: %w", err)
	}
	if !ids.Valid(sourceID) {
		return fmt.Errorf("calsync: delete source: %w", ErrNotFound)
	}
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		if _, err := getSource(tx, tenantID, advisorID, sourceID); err != nil {
			return err
		}
		if err := tx.Delete(sourceKey(tenantID, advisorID, sourceID)); err != nil {
			return err
		}
		return tx.Delete(busyKey(tenantID, advisorID, sourceID))
	})
	if err != nil {
		return fmt.Errorf("calsync: delete source: %w", err)
	}
	s.log.Info("calsync: source deleted", "tenant", tenantID, "advisor", advisorID, "source", sourceID)
	return nil
}

// DeleteAdvisor removes every source, all busy time and the feed token of
// an advisor (for the advisor account's deletion).
func (s *Service) DeleteAdvisor(ctx context.Context, tenantID, advisorID string) error {
	if err := validIDs(tenantID, advisorID); err != nil {
		return fmt.Errorf("calsync: delete advisor: %w", err)
	}
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		var keys [][]byte
		for _, p := range []string{prefixSource, prefixBusy} {
			if err := tx.Scan([]byte(p+advisorPath(tenantID, advisorID)), func(k, _ []byte) error {
				keys = append(keys, bytes.Clone(k))
				return nil
			}); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return dropFeedToken(tx, tenantID, advisorID)
	})
	if err != nil {
		return fmt.Errorf("calsync: delete advisor: %w", err)
	}
	return nil
}

// SyncNow fetches every source of an advisor now. Each source's outcome is
// recorded on it (LastSync or LastError); the returned error joins the
// failures (nil when all succeeded).
func (s *Service) SyncNow(ctx context.Context, tenantID, advisorID string) error {
	if err := validIDs(tenantID, advisorID); err != nil {
		return fmt.Errorf("calsync: sync: %w", err)
	}
	recs, err := s.records(ctx, prefixSource+advisorPath(tenantID, advisorID))
	if err != nil {
		return fmt.Errorf("calsync: sync: %w", err)
	}
	var errs []error
	for _, rec := range recs {
		if err := s.syncOne(ctx, rec); err != nil {
			errs = append(errs, fmt.Errorf("calsync: sync source %s: %w", rec.ID, err))
		}
	}
	return errors.Join(errs...)
}

// due reports when a source is next fetched: PollInterval after its last
// attempt plus a jitter of up to a tenth of it, fixed per source and
// attempt so that sources spread out.
func (s *Service) due(rec *sourceRecord) time.Time {
	if rec.LastAttempt.IsZero() {
		return time.Time{}
	}
	h := fnv.New64a()
	io.WriteString(h, rec.ID)
	binary.Write(h, binary.BigEndian, rec.LastAttempt.UnixNano())
	jitter := time.Duration(0)
	if span := int64(s.poll / 10); span > 0 {
		jitter = time.Duration(h.Sum64() % uint64(span))
	}
	return rec.LastAttempt.Add(s.poll + jitter)
}

// PollDue fetches every source whose poll is due by the clock and returns
// how many it fetched. Failures are recorded on the sources; the error is
// for the store or ctx only. Run calls it; tests call it with a fake
// clock.
func (s *Service) PollDue(ctx context.Context) (int, error) {
	recs, err := s.records(ctx, prefixSource)
	if err != nil {
		return 0, fmt.Errorf("calsync: poll: %w", err)
	}
	now := s.clk.Now()
	jobs := make(chan sourceRecord)
	var wg sync.WaitGroup
	for range s.workers {
		wg.Go(func() {
			for rec := range jobs {
				if err := s.syncOne(ctx, rec); err != nil && ctx.Err() == nil {
					s.log.Debug("calsync: poll failed", "tenant", rec.Tenant, "advisor", rec.Advisor, "source", rec.ID)
				}
			}
		})
	}
	n := 0
	for _, rec := range recs {
		if ctx.Err() != nil {
			break
		}
		if s.due(&rec).After(now) {
			continue
		}
		n++
		jobs <- rec
	}
	close(jobs)
	wg.Wait()
	return n, ctx.Err()
}

// Run polls the sources until ctx is done, checking what is due every
// tenth of PollInterval (at most every minute). It returns nil when ctx is
// cancelled.
func (s *Service) Run(ctx context.Context) error {
	tick := min(s.poll/10, time.Minute)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := s.PollDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("calsync: poll", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// syncOne fetches one source and stores the outcome. A sync of a source
// already being synced is skipped.
func (s *Service) syncOne(ctx context.Context, rec sourceRecord) error {
	key := rec.Tenant + "/" + rec.Advisor + "/" + rec.ID
	s.mu.Lock()
	if s.running[key] {
		s.mu.Unlock()
		return nil
	}
	s.running[key] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, key)
		s.mu.Unlock()
	}()

	now := s.clk.Now()
	opt := ParseOptions{Zone: LookupZone(rec.TimeZone), From: now.Add(-24 * time.Hour), To: now.Add(s.window)}
	started := time.Now()
	res, ferr := s.fetch(ctx, &rec, opt)
	if ferr != nil && ctx.Err() != nil {
		return ctx.Err() // shutting down: not the source's fault
	}
	var busy []byte
	if ferr == nil {
		busy = encodeBusy(res.Busy)
	}
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		cur, err := getSource(tx, rec.Tenant, rec.Advisor, rec.ID)
		if errors.Is(err, ErrNotFound) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if cur.Rev != rec.Rev {
			return nil // changed meanwhile: the next poll fetches the new settings
		}
		cur.LastAttempt = now
		if ferr != nil {
			cur.LastError = publicMessage(ferr)
			return putSource(tx, &cur)
		}
		cur.LastSync, cur.LastError, cur.Events = now, "", res.Events
		if err := tx.Set(busyKey(rec.Tenant, rec.Advisor, rec.ID), busy); err != nil {
			return err
		}
		return putSource(tx, &cur)
	})
	attrs := []any{"tenant", rec.Tenant, "advisor", rec.Advisor, "source", rec.ID, "kind", string(rec.Kind), "took", time.Since(started)}
	if ferr != nil {
		s.log.Warn("calsync: sync failed", append(attrs, "reason", publicMessage(ferr))...)
		return ferr
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	s.log.Info("calsync: synced", append(attrs, "events", res.Events, "intervals", len(res.Busy), "ignored", res.Ignored, "capped", res.Capped)...)
	return nil
}

// publicMessage is a source's LastError: the error's own text, which this
// package builds from fixed phrases, status codes and counts only.
func publicMessage(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

func (s *Service) fetch(ctx context.Context, rec *sourceRecord, opt ParseOptions) (ParseResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*s.timeout)
	defer cancel()
	if rec.Kind == KindCalDAV {
		return s.fetchCalDAV(ctx, rec, opt)
	}
	return s.fetchICS(ctx, rec, opt)
}

func (s *Service) fetchICS(ctx context.Context, rec *sourceRecord, opt ParseOptions) (ParseResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rec.URL, nil)
	if err != nil {
		return ParseResult{}, fmt.Errorf("%w: bad request", ErrFetch)
	}
	req.Header.Set("Accept", "text/calendar, */*;q=0.5")
	req.Header.Set("User-Agent", "Parley-CalSync/1")
	if rec.Username != "" || rec.Password != "" {
		req.SetBasicAuth(rec.Username, rec.Password)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return ParseResult{}, fetchError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ParseResult{}, fmt.Errorf("%w: HTTP status %d", ErrFetch, resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return ParseResult{}, fetchError(ctx, err)
	}
	return ParseICS(body, opt)
}

// encodeBusy writes intervals as a version byte and, per interval, the
// start's distance from the previous end and the length, in seconds
// (varints).
func encodeBusy(ivs []Interval) []byte {
	b := []byte{1}
	b = binary.AppendUvarint(b, uint64(len(ivs)))
	var prev int64
	for _, iv := range ivs {
		s, e := iv.Start.Unix(), iv.End.Unix()
		b = binary.AppendVarint(b, s-prev)
		b = binary.AppendUvarint(b, uint64(e-s))
		prev = e
	}
	return b
}

func decodeBusy(b []byte) ([]Interval, error) {
	bad := errors.New("calsync: damaged busy record")
	if len(b) == 0 || b[0] != 1 {
		return nil, bad
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, bad
	}
	b = b[k:]
	out := make([]Interval, 0, n)
	var prev int64
	for range n {
		d, k1 := binary.Varint(b)
		if k1 <= 0 {
			return nil, bad
		}
		l, k2 := binary.Uvarint(b[k1:])
		if k2 <= 0 {
			return nil, bad
		}
		b = b[k1+k2:]
		s := prev + d
		e := s + int64(l)
		out = append(out, Interval{Start: time.Unix(s, 0).UTC(), End: time.Unix(e, 0).UTC()})
		prev = e
	}
	return out, nil
}

// Busy returns the advisor's busy time from all synced sources within
// [from, to): merged, sorted and clipped, in UTC.
func (s *Service) Busy(ctx context.Context, tenantID, advisorID string, from, to time.Time) ([]Interval, error) {
	if err := validIDs(tenantID, advisorID); err != nil {
		return nil, fmt.Errorf("calsync: busy: %w", err)
	}
	var all []Interval
	err := s.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(prefixBusy+advisorPath(tenantID, advisorID)), func(_, v []byte) error {
			ivs, err := decodeBusy(v)
			if err != nil {
				return err
			}
			for _, iv := range ivs {
				if iv.End.After(from) && iv.Start.Before(to) {
					all = append(all, iv)
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("calsync: busy: %w", err)
	}
	return Merge(all, from, to), nil
}
