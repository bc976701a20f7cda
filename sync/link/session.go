package link

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// session is one connection to one relay: an HTTP/2-over-TCP client that
// is always present, an HTTP/3 client unless QUIC is disabled, and which of
// the two requests use.
type session struct {
	base relayURL
	log  *slog.Logger

	tcpV      *verifier
	tcp       *http.Transport
	tcpClient *http.Client

	quicV      *verifier // nil when QUIC is disabled
	udp        net.PacketConn
	quicTr     *quic.Transport
	h3         *http3.Transport
	h3Client   *http.Client
	quicWait   time.Duration // QUIC attempt and handshake limit
	reprobeGap time.Duration // <0: never re-check QUIC

	useQUIC atomic.Bool

	ctx      context.Context // cancelled by close; bounds background probes
	cancel   context.CancelFunc
	wg       sync.WaitGroup // background probes
	inflight sync.WaitGroup // API requests (see Client.do)

	closeOnce sync.Once
	closeErr  error

	probeMu   sync.Mutex
	probing   bool
	lastProbe time.Time
	closed    bool
}

func newSession(base relayURL, opts Options, log *slog.Logger) (*session, error) {
	newVerifier := func() *verifier {
		return &verifier{serverName: base.serverName, pinKey: base.pinKey, roots: opts.RootCAs, pins: opts.Pins}
	}
	s := &session{base: base, log: log, quicWait: opts.QUICTimeout, reprobeGap: opts.QUICReprobe}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	s.tcpV = newVerifier()
	dialer := &net.Dialer{Timeout: tcpDialTimeout, KeepAlive: 30 * time.Second}
	s.tcp = &http.Transport{
		Proxy: nil, // never anything but the relay
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != base.hostport {
				return nil, errOffRelay
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:        s.tcpV.tlsConfig("h2", "http/1.1"),
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    tcpHandshakeTimeout,
		MaxIdleConns:           4,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: maxResponseHeader,
	}
	s.tcpClient = &http.Client{Transport: s.tcp, CheckRedirect: noRedirects}

	if opts.DisableQUIC {
		return s, nil
	}
	udp, err := net.ListenUDP("udp", nil)
	if err != nil {
		return nil, fmt.Errorf("link: open UDP socket for QUIC: %w", err)
	}
	s.udp = udp
	s.quicTr = &quic.Transport{Conn: udp}
	s.quicV = newVerifier()
	s.h3 = &http3.Transport{
		TLSClientConfig: s.quicV.tlsConfig(http3.NextProtoH3),
		QUICConfig: &quic.Config{
			HandshakeIdleTimeout: opts.QUICTimeout,
			MaxIdleTimeout:       30 * time.Second,
			KeepAlivePeriod:      10 * time.Second,
			MaxIncomingStreams:   -1, // the relay opens no request streams
		},
		Dial: func(ctx context.Context, addr string, tlsConf *tls.Config, conf *quic.Config) (*quic.Conn, error) {
			if addr != base.hostport {
				return nil, errOffRelay
			}
			ua, err := resolveUDP(ctx, base)
			if err != nil {
				return nil, err
			}
			return s.quicTr.DialEarly(ctx, ua, tlsConf, conf)
		},
		MaxResponseHeaderBytes: maxResponseHeader,
	}
	s.h3Client = &http.Client{Transport: s.h3, CheckRedirect: noRedirects}
	return s, nil
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// resolveUDP resolves the relay's address for QUIC, preferring IPv4 as
// the UDP socket is dual-stack either way.
func resolveUDP(ctx context.Context, base relayURL) (*net.UDPAddr, error) {
	_, portStr, err := net.SplitHostPort(base.hostport)
	if err != nil {
		return nil, err
	}
	port, err := net.LookupPort("udp", portStr)
	if err != nil {
		return nil, err
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, base.serverName)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("link: no address for %s", base.serverName)
	}
	pick := ips[0]
	for _, ip := range ips {
		if ip.IP.To4() != nil {
			pick = ip
			break
		}
	}
	return &net.UDPAddr{IP: pick.IP, Port: port, Zone: pick.Zone}, nil
}

// probe runs Connect's health check: QUIC within quicWait, then TCP.
func (s *session) probe(ctx context.Context) (Transport, error) {
	var quicErr error
	if s.h3Client != nil {
		qctx, cancel := context.WithTimeout(ctx, s.quicWait)
		quicErr = s.healthz(qctx, TransportQUIC)
		cancel()
		switch {
		case quicErr == nil:
			s.useQUIC.Store(true)
			return TransportQUIC, nil
		case isTrustFailure(quicErr):
			return "", quicErr
		case ctx.Err() != nil:
			return "", fmt.Errorf("link: connect to %s: %w", s.base.origin, ctx.Err())
		}
		s.log.Info("link: QUIC unavailable, falling back to TCP", "relay", s.base.origin, "err", quicErr)
	}
	if err := s.healthz(ctx, TransportTCP); err != nil {
		if isTrustFailure(err) || quicErr == nil {
			return "", err
		}
		return "", fmt.Errorf("link: relay %s unreachable over QUIC (%w) and over TCP (%w)", s.base.origin, quicErr, err)
	}
	s.probeMu.Lock()
	s.lastProbe = time.Now()
	s.probeMu.Unlock()
	return TransportTCP, nil
}

// healthz performs GET /healthz over t and checks {"status":"ok"}.
func (s *session) healthz(ctx context.Context, t Transport) error {
	var h struct {
		Status string `json:"status"`
	}
	if err := s.roundTrip(ctx, t, http.MethodGet, "/healthz", "", nil, &h); err != nil {
		return err
	}
	if h.Status != "ok" {
		return fmt.Errorf("%w: /healthz reports status %q", ErrBadResponse, cleanText(h.Status, 40))
	}
	return nil
}

func (s *session) current() Transport {
	if s.useQUIC.Load() {
		return TransportQUIC
	}
	return TransportTCP
}

func (s *session) fingerprint() string {
	v, other := s.tcpV, s.quicV
	if s.useQUIC.Load() {
		v, other = s.quicV, s.tcpV
	}
	if fp, _ := v.outcome(); fp != "" {
		return fp
	}
	if other != nil {
		fp, _ := other.outcome()
		return fp
	}
	return ""
}

// close stops background probes and closes every connection; requests
// still running over QUIC fail. It is idempotent.
func (s *session) close() error {
	s.closeOnce.Do(func() { s.closeErr = s.doClose() })
	return s.closeErr
}

func (s *session) doClose() error {
	s.probeMu.Lock()
	s.closed = true
	s.probeMu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.tcp.CloseIdleConnections()
	if s.h3 == nil {
		return nil
	}
	err := s.h3.Close()
	if e := s.quicTr.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
		err = errors.Join(err, e)
	}
	if e := s.udp.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
		err = errors.Join(err, e)
	}
	return err
}

// transportError marks a failure below HTTP (dial, handshake, stream,
// reading the body), as opposed to an answer the relay gave.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// roundTrip sends one request over transport t and decodes the answer into
// out (nil: the body is discarded). token "" sends no Authorization.
func (s *session) roundTrip(ctx context.Context, t Transport, method, path, token string, in, out any) error {
	hc, v := s.tcpClient, s.tcpV
	if t == TransportQUIC {
		hc, v = s.h3Client, s.quicV
	}
	what := method + " " + path
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("link: %s: encode request: %w", what, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base.origin+path, body)
	if err != nil {
		return fmt.Errorf("link: %s: %w", what, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "parley-desktop")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL: the message names the request already
		}
		trust := trustFailure(err)
		if trust == nil {
			_, trust = v.outcome()
		}
		if trust != nil {
			return fmt.Errorf("link: %s: %w", what, trust)
		}
		return fmt.Errorf("link: %s over %s: %w", what, t, &transportError{err})
	}
	defer resp.Body.Close()

	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return fmt.Errorf("link: %s over %s: read response: %w", what, t, &transportError{err})
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("link: %s: %w", what, parseAPIError(resp.StatusCode, resp.Header, raw, time.Now()))
	}
	if len(raw) > maxResponseBody {
		return fmt.Errorf("%w: %s: response body larger than %d bytes", ErrBadResponse, what, maxResponseBody)
	}
	if out == nil {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fmt.Errorf("%w: %s: content type %q instead of JSON", ErrBadResponse, what, cleanText(resp.Header.Get("Content-Type"), 80))
	}
	if err := decodeJSON(raw, out); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadResponse, what, err)
	}
	return nil
}

// decodeJSON decodes exactly one JSON value from raw into out.
func decodeJSON(raw []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(out); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// afterRequest adjusts the transport after a request over t ended with err.
// Over QUIC, a failure below HTTP moves later requests to TCP at once; a
// request that merely ran out of time (its context ended, which also
// happens when UDP silently stops getting through) triggers a quick health
// check over QUIC, and its failure moves later requests to TCP. Over TCP,
// requests trigger a background check, at most every reprobeGap, whether
// QUIC works again.
func (s *session) afterRequest(ctx context.Context, t Transport, err error) {
	if t == TransportQUIC {
		var te *transportError
		if err == nil || !errors.As(err, &te) || errors.Is(err, http3.ErrTransportClosed) {
			return
		}
		if ctx.Err() == nil {
			s.downgrade(err)
			return
		}
		s.spawnProbe(true, func(perr error) {
			if perr != nil && !isTrustFailure(perr) {
				s.downgrade(perr)
			}
		})
		return
	}
	if s.h3Client == nil || s.reprobeGap < 0 {
		return
	}
	s.spawnProbe(false, func(perr error) {
		if perr == nil && s.useQUIC.CompareAndSwap(false, true) {
			s.log.Info("link: QUIC works again, switching back", "relay", s.base.origin)
		}
	})
}

// downgrade moves later requests from QUIC to TCP.
func (s *session) downgrade(cause error) {
	if !s.useQUIC.CompareAndSwap(true, false) {
		return
	}
	s.probeMu.Lock()
	s.lastProbe = time.Now()
	s.probeMu.Unlock()
	s.log.Warn("link: QUIC failed, switching to TCP", "relay", s.base.origin, "err", cause)
}

// spawnProbe runs one background GET /healthz over QUIC, limited to
// quicWait, and hands its result to done. At most one probe runs at a
// time; unless force, one runs at most every reprobeGap. Probes end when
// the session is closed.
func (s *session) spawnProbe(force bool, done func(error)) {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	if s.closed || s.probing || (!force && time.Since(s.lastProbe) < s.reprobeGap) {
		return
	}
	s.probing = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, s.quicWait)
		err := s.healthz(ctx, TransportQUIC)
		cancel()
		s.probeMu.Lock()
		s.probing, s.lastProbe = false, time.Now()
		s.probeMu.Unlock()
		if s.ctx.Err() == nil {
			done(err)
		}
	}()
}
