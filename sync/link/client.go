package link

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/idna"
)

// Transport names the protocol a [Client] uses to reach the relay.
type Transport string

// The transports a [Client] can use. The zero Transport means "not connected".
const (
	TransportQUIC Transport = "quic" // HTTP/3 over QUIC (UDP)
	TransportTCP  Transport = "tcp"  // HTTPS over TCP, HTTP/2 when offered
)

// String returns the transport's name for the UI: "QUIC (HTTP/3)",
// "TCP (HTTP/2)", or "not connected".
func (t Transport) String() string {
	switch t {
	case TransportQUIC:
		return "QUIC (HTTP/3)"
	case TransportTCP:
		return "TCP (HTTP/2)"
	case "":
		return "not connected"
	}
	return string(t)
}

// Defaults for [Options].
const (
	DefaultQUICTimeout  = 1500 * time.Millisecond
	DefaultQUICReprobe  = 5 * time.Minute
	maxResponseBody     = 1 << 20 // bytes of a response body that are read at all
	maxResponseHeader   = 64 << 10
	tcpDialTimeout      = 10 * time.Second
	tcpHandshakeTimeout = 10 * time.Second
)

// Options configure a [Client]. The zero value is usable.
type Options struct {
	// Pins stores the accepted certificate fingerprints per host:port.
	// nil means a fresh [MemoryPins].
	Pins PinStore
	// RootCAs are the roots a relay certificate may chain to when its host
	// has no pin. nil means the system roots.
	RootCAs *x509.CertPool
	// Logger receives connection events (transport changes, fallbacks). nil
	// discards them. Tokens, passwords and usernames are never logged.
	Logger *slog.Logger
	// QUICTimeout bounds the QUIC attempt in Connect before falling back to
	// TCP. It also bounds every later QUIC handshake and the background
	// health checks over QUIC. 0 means DefaultQUICTimeout.
	QUICTimeout time.Duration
	// QUICReprobe is how often a client that uses TCP although QUIC is
	// enabled checks, in the background, whether QUIC works again; the
	// check is started by an API call, never by a timer of its own. 0
	// means DefaultQUICReprobe; a negative value never re-checks (Connect
	// always tries QUIC first).
	QUICReprobe time.Duration
	// DisableQUIC forces TCP (the settings switch, and tests).
	DisableQUIC bool
}

// Client is the desktop app's connection to one relay. Create it with
// [New], then call [Client.Connect]. It is safe for concurrent use.
type Client struct {
	opts Options
	log  *slog.Logger

	// life is cancelled by Close, aborting a Connect in progress.
	life     context.Context
	shutdown context.CancelFunc

	connectMu sync.Mutex // serialises Connect; held while probing

	mu       sync.Mutex
	sess     *session
	retiring map[*session]bool // replaced sessions finishing their requests
	token    string
	closed   bool
}

// New returns a client that is not yet connected.
func New(opts Options) *Client {
	if opts.Pins == nil {
		opts.Pins = &MemoryPins{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QUICTimeout <= 0 {
		opts.QUICTimeout = DefaultQUICTimeout
	}
	if opts.QUICReprobe == 0 {
		opts.QUICReprobe = DefaultQUICReprobe
	}
	life, shutdown := context.WithCancel(context.Background())
	return &Client{
		opts:     opts,
		log:      opts.Logger,
		life:     life,
		shutdown: shutdown,
	}
}

// Connect checks that the relay at baseURL ("https://host[:port]") answers
// GET /healthz, over QUIC first and, when QUIC fails for any reason other
// than a certificate problem, over TCP. It returns the transport in use.
//
// A certificate that is not trusted yields an *[UntrustedCertError] and a
// changed pinned certificate a *[PinMismatchError], from whichever
// transport met it first; neither is retried over the other transport.
//
// On success the new connection replaces the previous one, which is closed
// as soon as the requests still running on it are done; the session token
// is kept only if the relay stays the same. On failure the previous
// connection, if any, stays in use.
func (c *Client) Connect(ctx context.Context, baseURL string) (Transport, error) {
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return "", err
	}
	c.connectMu.Lock()
	defer c.connectMu.Unlock()
	if c.isClosed() {
		return "", ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.life, cancel)
	defer stop()

	s, err := newSession(base, c.opts, c.log)
	if err != nil {
		return "", err
	}
	t, err := s.probe(ctx)
	if err != nil {
		s.close()
		if c.isClosed() {
			return "", ErrClosed
		}
		return "", err
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		s.close()
		return "", ErrClosed
	}
	old := c.sess
	c.sess = s
	if old == nil || old.base.origin != s.base.origin {
		c.token = ""
	}
	if old != nil {
		if c.retiring == nil {
			c.retiring = make(map[*session]bool)
		}
		c.retiring[old] = true
		go c.retire(old)
	}
	c.mu.Unlock()
	c.log.Info("link: connected to relay", "relay", s.base.origin, "transport", string(t))
	return t, nil
}

// retire closes a replaced session once the requests running on it are
// done; no new request can start on it.
func (c *Client) retire(s *session) {
	s.inflight.Wait()
	s.close()
	c.mu.Lock()
	delete(c.retiring, s)
	c.mu.Unlock()
}

// Transport returns the transport requests currently use, or "" when not
// connected. After Connect it can change on its own: from QUIC to TCP when
// a QUIC request fails below HTTP (or times out and a quick health check
// over QUIC then fails too), and back to QUIC after a successful background
// check (see [Options.QUICReprobe]). The failed request itself is not
// retried.
func (c *Client) Transport() Transport {
	s := c.session()
	if s == nil {
		return ""
	}
	return s.current()
}

// BaseURL returns the normalised base URL of the connected relay, or "".
func (c *Client) BaseURL() string {
	s := c.session()
	if s == nil {
		return ""
	}
	return s.base.origin
}

// Fingerprint returns the fingerprint of the relay certificate accepted on
// the current connection, or "" when not connected.
func (c *Client) Fingerprint() string {
	s := c.session()
	if s == nil {
		return ""
	}
	return s.fingerprint()
}

// Trust pins fingerprint for the host:port of baseURL (trust on first use,
// after the user compared the fingerprint of an [UntrustedCertError]). It
// replaces a previous pin for that host:port and does not connect; call
// Connect afterwards. The fingerprint is normalised with
// [NormalizeFingerprint] before it is stored.
func (c *Client) Trust(baseURL, fingerprint string) error {
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return err
	}
	fp, err := NormalizeFingerprint(fingerprint)
	if err != nil {
		return err
	}
	if err := c.opts.Pins.SetPin(base.pinKey, fp); err != nil {
		return fmt.Errorf("link: store pin for %s: %w", base.pinKey, err)
	}
	c.log.Info("link: relay certificate pinned", "relay", base.pinKey, "fingerprint", fp)
	return nil
}

// LoggedIn reports whether the client holds a session token.
func (c *Client) LoggedIn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token != ""
}

// Close forgets the session token and closes all connections, failing
// the requests still running; a Connect in progress is aborted. It does not end the session on the relay (call
// Logout first for that). A closed client cannot be used again: every call
// returns [ErrClosed]. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	var all []*session
	if c.sess != nil {
		all = append(all, c.sess)
	}
	for s := range c.retiring {
		all = append(all, s)
	}
	c.sess, c.token = nil, ""
	c.mu.Unlock()
	c.shutdown()
	var err error
	for _, s := range all {
		err = errors.Join(err, s.close())
	}
	return err
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *Client) session() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// relayURL is a parsed and normalised relay base URL.
type relayURL struct {
	origin     string // "https://host[:port]" as shown and used in requests
	hostport   string // "host:port" with the port always present
	serverName string // host name or IP literal, without brackets
	pinKey     string // key in the PinStore; equals hostport
}

// parseBaseURL accepts "https://host[:port][/]" and nothing else: the relay
// API lives at the root of its own origin.
func parseBaseURL(raw string) (relayURL, error) {
	bad := func(why string) (relayURL, error) {
		return relayURL{}, fmt.Errorf("%w %q: %s", ErrInvalidURL, raw, why)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return bad("cannot be parsed")
	}
	switch {
	case u.Scheme != "https":
		return bad("it must start with https://")
	case u.Opaque != "" || u.Host == "":
		return bad("it has no host")
	case u.User != nil:
		return bad("it must not contain credentials")
	case u.Path != "" && u.Path != "/":
		return bad("it must not have a path")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return bad("it must not have a query or fragment")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return bad("it has no host")
	}
	if ip := net.ParseIP(host); ip == nil {
		ascii, err := idna.Lookup.ToASCII(host)
		if err != nil {
			return bad("the host name is not valid")
		}
		host = ascii
	} else if strings.Contains(host, "%") {
		return bad("zoned IPv6 addresses are not supported")
	}
	port := u.Port()
	showPort := port != ""
	if !showPort {
		port = "443"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return bad("the port is not valid")
	}
	hostport := net.JoinHostPort(host, port)
	origin := "https://" + hostport
	if !showPort {
		origin = "https://" + strings.TrimSuffix(hostport, ":443")
	}
	return relayURL{origin: origin, hostport: hostport, serverName: host, pinKey: hostport}, nil
}

// errOffRelay is returned by the dialers for any address but the relay's.
var errOffRelay = errors.New("link: refusing to dial an address other than the relay")
