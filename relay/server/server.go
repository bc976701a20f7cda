// Package server assembles the relay: it opens the encrypted store, sets up
// TLS, bootstraps the first tenant, and serves the API on one port over two
// transports — HTTPS on TCP (HTTP/1.1 and HTTP/2) and HTTP/3 on QUIC.
// The desktop app's local mode starts the same Server in-process.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"parley/assets"
	"parley/relay/accesslog"
	"parley/relay/api"
	"parley/relay/audit"
	"parley/relay/auth"
	"parley/relay/booking"
	"parley/relay/calsync"
	"parley/relay/certs"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/feedback"
	"parley/relay/meeting"
	"parley/relay/messaging"
	"parley/relay/outbox"
	"parley/relay/pdfrender"
	"parley/relay/privacy"
	"parley/relay/retention"
	"parley/relay/signal"
	"parley/relay/signing"
	"parley/relay/store"
	"parley/relay/whiteboard"
)

// Options configures a relay.
type Options struct {
	// DataDir holds the store, its key file and the self-signed
	// certificate. Required.
	DataDir string
	// Listen is the host:port for both TCP and UDP; port 0 picks a free
	// port that is free on both. Default "127.0.0.1:8443".
	Listen string
	// TLSCertFile and TLSKeyFile name a PEM certificate and key; when empty
	// a self-signed certificate is kept in DataDir/tls.
	TLSCertFile, TLSKeyFile string
	// Hostnames are extra names/IPs for the self-signed certificate.
	Hostnames []string
	// PublicURL is the base URL customers reach the relay at, used in join
	// links; empty means the host each request came to.
	PublicURL string
	// StoreKey is the 32-byte store encryption key; nil takes it from the
	// environment (store.KeyEnv) or DataDir/store.key (created 0600).
	StoreKey []byte
	// TenantSlug, TenantName and AdminPassword configure the first start:
	// the tenant and its "admin" user are created when the store holds no
	// tenant. An empty AdminPassword generates a one-time password.
	TenantSlug, TenantName, AdminPassword string
	// BootstrapOut receives the one-time admin password on first start
	// (printed once, never logged). Nil prints nothing; the caller can read
	// Server.Bootstrap instead.
	BootstrapOut io.Writer
	// Hash sets the password hashing cost; zero means auth's default.
	Hash auth.HashParams
	// SessionTTL is the session lifetime; zero means auth's default.
	SessionTTL time.Duration
	// SweepInterval is how often retention rules are applied; zero means
	// DefaultSweepInterval.
	SweepInterval time.Duration
	// MediaListen is the host:port of the SFU's media: one UDP port for
	// every peer (ICE UDP mux) and ICE-TCP on the same TCP port. Empty
	// means the Listen host and the next port (port 0 picks a free one).
	MediaListen string
	// MediaPublicIPs are the addresses announced to peers as the SFU's
	// candidates (the relay's public IPs behind 1:1 NAT). Empty means the
	// MediaListen host when it is a specific IP.
	MediaPublicIPs []string
	// TURNListen is the host:port of the embedded TURN server (UDP and
	// TCP, usually :3478); empty runs none.
	TURNListen string
	// TURNPublicHost is the host name or IP in the TURN URLs handed to
	// clients; empty means the first media public IP.
	TURNPublicHost string
	// Logger receives structured logs without personal data; nil discards.
	Logger *slog.Logger
	// Clock is the time source; nil means the real clock.
	Clock clock.Clock
	// Mail configures booking mails (SMTP) and SMS.
	Mail MailOptions
	// CalendarAllowPrivate lets calendar sync fetch from loopback and
	// private networks (tests, an intranet CalDAV server); by default those
	// addresses are refused so that a calendar URL cannot probe the
	// relay's network.
	CalendarAllowPrivate bool
	// Channels configures the messenger channels' provider APIs.
	Channels ChannelOptions
	// RenderPool is the number of PDFium instances rendering page images
	// at the same time; 0 means 1.
	RenderPool int
	// RenderCacheDir keeps the compiled PDFium module between starts;
	// empty means DataDir/pdfrender-cache.
	RenderCacheDir string
}

// Server is a running relay.
type Server struct {
	log       *slog.Logger
	clock     clock.Clock
	store     *store.Badger
	sweeper   *sweeper
	auth      *auth.Service
	audit     *audit.Log
	chat      *chat.Service
	retention *retention.Policy
	customers *customer.Service
	booking   *booking.Service
	calendars *calsync.Service
	outbox    *outbox.Outbox
	privacy   *privacy.Service
	access    *accesslog.Log
	dataDir   string
	tcp       net.Listener
	udp       net.PacketConn
	media     *media
	hub       *signal.Hub
	https     *http.Server
	h3        *http3.Server
	cert      tls.Certificate
	bootstrap auth.BootstrapResult
	feedback  *feedback.Service

	whiteboard *whiteboard.Service
	signing    *signing.Service
	messaging  *messaging.Service
	inbox      *inbox
	recordings *recordings
	kiosks     *kiosks
	pages      *pdfrender.Renderer

	closeOnce sync.Once
	closeErr  error
	quit      chan struct{} // closed when Close starts
	done      chan struct{} // closed when Close has finished
	wg        sync.WaitGroup
}

// Start opens everything and begins serving; it returns once both
// listeners are bound. The relay stops when ctx is cancelled or Close is
// called.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("server: DataDir is required")
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:8443"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clk := clock.Or(opts.Clock)

	var cert tls.Certificate
	var err error
	if opts.TLSCertFile != "" || opts.TLSKeyFile != "" {
		cert, err = certs.Load(opts.TLSCertFile, opts.TLSKeyFile)
	} else {
		cert, err = certs.LoadOrCreateSelfSigned(filepath.Join(opts.DataDir, "tls"), opts.Hostnames, clk.Now())
	}
	if err != nil {
		return nil, fmt.Errorf("server: certificate: %w", err)
	}

	storeKey := opts.StoreKey
	if storeKey == nil {
		if storeKey, err = store.LoadOrCreateKey(opts.DataDir); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(store.BadgerOptions{
		Dir: filepath.Join(opts.DataDir, "store"), KeyDir: opts.DataDir, Key: storeKey, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	s := &Server{log: log, clock: clk, store: st, cert: cert, quit: make(chan struct{}), done: make(chan struct{}),
		dataDir: opts.DataDir}
	s.access, err = accesslog.Open(accesslog.Options{Dir: filepath.Join(opts.DataDir, accesslog.DirName), Key: storeKey, Clock: clk,
		Logger: log.With("component", "accesslog")})
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("server: access log: %w", err)
	}
	fail := func(err error) (*Server, error) {
		_ = s.Close()
		return nil, err
	}

	s.auth, err = auth.New(auth.Options{Store: st, Clock: clk, Logger: log, Hash: opts.Hash, SessionTTL: opts.SessionTTL})
	if err != nil {
		return fail(fmt.Errorf("server: auth: %w", err))
	}
	slug := opts.TenantSlug
	if slug == "" {
		slug = "default"
	}
	name := opts.TenantName
	if name == "" {
		name = slug
	}
	s.audit, err = audit.New(ctx, audit.Options{Store: st, Clock: clk, Logger: log})
	if err != nil {
		return fail(fmt.Errorf("server: audit log: %w", err))
	}
	// The checkpoint key's public half, for auditors to keep a copy of.
	if err := s.audit.WriteCheckpointPublicKey(filepath.Join(opts.DataDir, "audit-checkpoint.pub")); err != nil {
		return fail(fmt.Errorf("server: audit log: %w", err))
	}
	meetings, err := meeting.New(meeting.Options{Store: st, Clock: clk, Logger: log, MetadataRule: s.metadataRule})
	if err != nil {
		return fail(fmt.Errorf("server: meetings: %w", err))
	}
	s.retention, err = retention.New(retention.Options{Store: st, Audit: s.audit, Clock: clk, Logger: log.With("component", "retention")})
	if err != nil {
		return fail(fmt.Errorf("server: retention: %w", err))
	}
	// Reads stop serving content at the deadline the sweep purges it by.
	s.chat, err = chat.New(chat.Options{Store: st, Clock: clk, Logger: log.With("component", "chat"),
		Rule: contentRuleOf(meetings, s.retention)})
	if err != nil {
		return fail(fmt.Errorf("server: chat: %w", err))
	}
	if s.whiteboard, err = newWhiteboard(st, clk, log, meetings, s.retention, s.chat); err != nil {
		return fail(fmt.Errorf("server: whiteboard: %w", err))
	}
	s.bootstrap, err = s.auth.Bootstrap(ctx, slug, name, opts.AdminPassword)
	if err != nil {
		return fail(fmt.Errorf("server: first start: %w", err))
	}
	if s.bootstrap.Created {
		if _, err := s.audit.Append(ctx, audit.Record{TenantID: s.bootstrap.Tenant.ID, Actor: "system",
			Action: "tenant.bootstrap", Target: s.bootstrap.Admin.ID}); err != nil {
			return fail(fmt.Errorf("server: first start: %w", err))
		}
		log.Info("first start: tenant and admin created", "tenant_id", s.bootstrap.Tenant.ID, "user_id", s.bootstrap.Admin.ID)
		if s.bootstrap.Generated && opts.BootstrapOut != nil {
			fmt.Fprintf(opts.BootstrapOut, "\nParley first start: tenant %q, user %q, one-time password:\n\n    %s\n\nIt is shown only now; you choose a new one at first sign-in.\n\n",
				s.bootstrap.Tenant.Slug, s.bootstrap.Admin.Username, s.bootstrap.Password)
		}
	}

	if err := s.listen(opts.Listen); err != nil {
		return fail(err)
	}
	port := s.tcp.Addr().(*net.TCPAddr).Port
	reg := prometheus.NewRegistry()
	if err := s.startBooking(opts, meetings, reg); err != nil {
		return fail(err)
	}
	if err := s.startFeedback(opts, meetings); err != nil {
		return fail(err)
	}
	if err := s.startMessaging(opts, storeKey); err != nil {
		return fail(err)
	}
	if err := s.startSigning(opts); err != nil {
		return fail(err)
	}
	if err := s.startKiosks(opts, meetings); err != nil {
		return fail(err)
	}
	if err := s.startRecordings(opts.DataDir, storeKey, meetings); err != nil {
		return fail(err)
	}
	if err := s.startPages(opts); err != nil {
		return fail(err)
	}
	if err := s.startPrivacy(ctx, opts.DataDir, meetings); err != nil {
		return fail(fmt.Errorf("server: privacy: %w", err))
	}
	s.sweeper = newSweeper(s, meetings, s.audit, reg)
	s.sweeper.signing = s.signing
	s.sweeper.recordings = s.recordings
	interval := opts.SweepInterval
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	s.sweeper.feedback = s.feedback
	s.media, err = startMedia(opts, s.Addr(), opts.DataDir, log)
	if err != nil {
		return fail(err)
	}
	s.hub = signal.New(signal.Options{SFU: s.media.sfu, Meetings: meetings, Sessions: s.auth, Timeline: timeline{s.chat}, Boards: s.whiteboard, Recordings: s.recordings, ICE: s.media.ice, Logger: log.With("component", "signal"), Clock: clk})
	handler := api.New(api.Options{Auth: s.auth, Audit: s.audit, Meetings: meetings, Signal: s.hub, Chat: s.chat, Announcer: s.hub, Retention: s.retention,
		Booking: s.booking, Customers: s.customers, Privacy: s.privacy, AccessLog: s.access, Calendars: s.calendars, Signing: s.signing, Messaging: s.messaging, Inbox: s.inbox, Feedback: s.feedback, Recordings: s.recordings, Kiosks: s.kiosks, Pages: s.pages, PublicURL: opts.PublicURL, Logger: log, Clock: clk, Registry: reg, Web: assets.Web()})
	altSvc := `h3=":` + strconv.Itoa(port) + `"; ma=86400`
	withAltSvc := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor < 3 {
			w.Header().Set("Alt-Svc", altSvc)
		}
		handler.ServeHTTP(w, r)
	})

	tlsConf := certs.ServerTLSConfig(cert)
	tcpTLS := tlsConf.Clone()
	tcpTLS.NextProtos = []string{"h2", "http/1.1"}
	s.https = &http.Server{
		Handler:           withAltSvc,
		TLSConfig:         tcpTLS,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	s.h3 = &http3.Server{
		Handler:        withAltSvc,
		TLSConfig:      http3.ConfigureTLSConfig(tlsConf.Clone()),
		QUICConfig:     &quic.Config{MaxIdleTimeout: 60 * time.Second, KeepAlivePeriod: 20 * time.Second},
		MaxHeaderBytes: 64 << 10,
		IdleTimeout:    120 * time.Second,
	}

	s.wg.Add(7)
	for _, run := range []func(context.Context) error{s.outbox.Run, s.calendars.Run} {
		go func() {
			defer s.wg.Done()
			rctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { <-s.quit; cancel() }()
			if err := run(rctx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("background service stopped", "error", err)
			}
		}()
	}
	go func() {
		defer s.wg.Done()
		cctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { <-s.quit; cancel() }()
		s.audit.RunCheckpoints(cctx) // signed audit checkpoints, hourly
	}()
	go func() {
		defer s.wg.Done()
		// Background work outlives no request: it stops with the relay.
		sctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { <-s.quit; cancel() }()
		s.sweeper.run(sctx, interval)
	}()
	go func() {
		defer s.wg.Done()
		if err := s.https.ServeTLS(s.tcp, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("https server stopped", "error", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		if err := s.h3.Serve(s.udp); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, quic.ErrServerClosed) {
			log.Debug("http3 server stopped", "error", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				s.store.RunGC()
			}
		}
	}()
	// Cancelling ctx closes the relay; Close runs on its own goroutine,
	// outside the wait group it waits for.
	context.AfterFunc(ctx, func() { _ = s.Close() })
	log.Info("relay listening", "addr", s.Addr(), "transports", "tcp+quic", "fingerprint", s.Fingerprint())
	return s, nil
}

// listen binds TCP and UDP on the same port. With port 0 it retries until
// the kernel's free TCP port is free for UDP too.
func (s *Server) listen(addr string) error {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("server: listen address %q: %w", addr, err)
	}
	for attempt := 0; attempt < 20; attempt++ {
		tcp, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("server: listen tcp %s: %w", addr, err)
		}
		port := tcp.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			s.tcp, s.udp = tcp, udp
			return nil
		}
		tcp.Close()
		if portStr != "0" {
			return fmt.Errorf("server: listen udp %s: %w", addr, err)
		}
	}
	return errors.New("server: no port free for both TCP and UDP")
}

// Addr is the bound host:port, the same for TCP and UDP.
func (s *Server) Addr() string { return s.tcp.Addr().String() }

// URL is the relay's base URL.
func (s *Server) URL() string { return "https://" + s.Addr() }

// Fingerprint is the SHA-256 fingerprint of the relay's certificate.
func (s *Server) Fingerprint() string { return certs.Fingerprint(s.cert.Certificate[0]) }

// Bootstrap reports what the first start created (Created is false on
// later starts).
func (s *Server) Bootstrap() auth.BootstrapResult { return s.bootstrap }

// Sweep applies the retention rules once, as the relay does on its timer.
func (s *Server) Sweep(ctx context.Context) error { return s.sweeper.sweep(ctx) }

// DeliverDue runs every outbox job that is due by the relay's clock once
// (mails, reminders), for tests and tools that step the clock; the relay
// also delivers on its own.
func (s *Server) DeliverDue(ctx context.Context) (int, error) { return s.outbox.RunDue(ctx) }

// Done is closed when the relay has stopped and its store is closed.
func (s *Server) Done() <-chan struct{} { return s.done }

// Close stops serving (letting requests in flight finish for up to 10 s)
// and closes the store. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		defer close(s.done)
		close(s.quit)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var errs []error
		if s.hub != nil {
			s.hub.Close() // ends the long-lived signalling requests
		}
		if s.recordings != nil {
			s.recordings.close() // seals the open recordings' files
		}
		if s.https != nil {
			if err := s.https.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("https shutdown: %w", err))
			}
		} else if s.tcp != nil {
			s.tcp.Close()
		}
		if s.h3 != nil {
			if err := s.h3.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http3 shutdown: %w", err))
			}
		}
		if s.udp != nil {
			s.udp.Close()
		}
		s.wg.Wait()
		if err := s.closePages(); err != nil {
			errs = append(errs, err)
		}
		if s.audit != nil {
			// A last checkpoint covers what requests appended while
			// shutting down (none when nothing was).
			if _, _, err := s.audit.Checkpoint(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if s.media != nil {
			s.media.close()
		}
		if s.access != nil {
			if err := s.access.Close(); err != nil {
				errs = append(errs, fmt.Errorf("access log close: %w", err))
			}
		}
		if s.store != nil {
			if err := s.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("store close: %w", err))
			}
		}
		s.closeErr = errors.Join(errs...)
		s.log.Info("relay stopped")
	})
	return s.closeErr
}
