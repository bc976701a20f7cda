// Command relay is Parley's server: `go run ./relay`. It serves the API on
// one port over HTTPS (TCP) and HTTP/3 (QUIC) with an embedded, encrypted
// store in a data folder. `relay fingerprint` prints the certificate
// fingerprint that desktop apps pin. `relay backup` writes an encrypted
// backup of a stopped relay's store and `relay restore` recreates a data
// folder from one. `relay privacy-report` prints the data classes with their
// retention, storage and processors as Markdown.
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"parley/relay/audit"
	"parley/relay/auth"
	"parley/relay/certs"
	"parley/relay/notify"
	"parley/relay/retention"
	"parley/relay/server"
	"parley/relay/store"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "fingerprint":
			return fingerprint(args[1:])
		case "audit-verify":
			return auditVerify(args[1:])
		case "privacy-report":
			return privacyReport(args[1:], os.Stdout)
		case "backup":
			return backup(args[1:])
		case "restore":
			return restore(args[1:])
		case "access-log":
			return accessLog(args[1:], os.Stdout)
		}
	}
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	data := fs.String("data", envOr("PARLEY_DATA", "parley-data"), "data folder (store, key file, self-signed certificate)")
	listen := fs.String("listen", envOr("PARLEY_LISTEN", "127.0.0.1:8443"), "host:port for HTTPS (TCP) and HTTP/3 (UDP)")
	certFile := fs.String("tls-cert", os.Getenv("PARLEY_TLS_CERT"), "PEM certificate chain (default: self-signed in the data folder)")
	keyFile := fs.String("tls-key", os.Getenv("PARLEY_TLS_KEY"), "PEM private key")
	hosts := fs.String("hostnames", os.Getenv("PARLEY_HOSTNAMES"), "comma-separated extra names for the self-signed certificate")
	publicURL := fs.String("public-url", os.Getenv("PARLEY_PUBLIC_URL"), "base URL customers reach the relay at, for join links (default: the host each request came to)")
	tenant := fs.String("tenant", envOr("PARLEY_TENANT", "default"), "slug of the tenant created on first start")
	tenantName := fs.String("tenant-name", os.Getenv("PARLEY_TENANT_NAME"), "display name of that tenant")
	adminPassword := fs.String("admin-password", "", "first admin's password (or PARLEY_ADMIN_PASSWORD); default: a one-time password printed once")
	mediaListen := fs.String("media-listen", os.Getenv("PARLEY_MEDIA_LISTEN"), "host:port for WebRTC media, UDP and ICE-TCP (default: the listen host, next port)")
	mediaIPs := fs.String("media-public-ip", os.Getenv("PARLEY_MEDIA_PUBLIC_IP"), "comma-separated public IPs announced for media (default: the media listen host)")
	turnListen := fs.String("turn-listen", os.Getenv("PARLEY_TURN_LISTEN"), "host:port for the embedded TURN server, UDP and TCP, e.g. :3478 (default: no TURN)")
	turnHost := fs.String("turn-public-host", os.Getenv("PARLEY_TURN_PUBLIC_HOST"), "host name or IP in the TURN URLs given to clients (default: the first media public IP)")
	level := fs.String("log-level", envOr("PARLEY_LOG_LEVEL", "info"), "debug, info, warn or error")
	smtpAddr := fs.String("smtp", os.Getenv("PARLEY_SMTP"), "host:port of the SMTP server for booking mails (default: none; mails wait in the outbox)")
	smtpTLS := fs.String("smtp-tls", envOr("PARLEY_SMTP_TLS", "mandatory"), "SMTP transport security: mandatory (STARTTLS required), opportunistic, tls (implicit, port 465) or none")
	smtpUser := fs.String("smtp-user", os.Getenv("PARLEY_SMTP_USER"), "SMTP user name (password from PARLEY_SMTP_PASSWORD)")
	mailFrom := fs.String("mail-from", os.Getenv("PARLEY_MAIL_FROM"), "sender address of booking mails, e.g. termine@example-bank.de")
	twilioSID := fs.String("sms-twilio-account", os.Getenv("PARLEY_TWILIO_ACCOUNT"), "Twilio account SID for SMS reminders (token from PARLEY_TWILIO_TOKEN; default: no SMS)")
	smsFrom := fs.String("sms-from", os.Getenv("PARLEY_SMS_FROM"), "sender number or id of SMS reminders (or a Twilio messaging service MG…)")
	calPrivate := fs.Bool("calendar-allow-private", os.Getenv("PARLEY_CALENDAR_ALLOW_PRIVATE") == "1", "let calendar sync fetch from loopback and private networks (tests, intranet CalDAV)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *adminPassword == "" {
		*adminPassword = os.Getenv("PARLEY_ADMIN_PASSWORD")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var hostnames []string
	if *hosts != "" {
		hostnames = strings.Split(*hosts, ",")
	}
	var ips []string
	if *mediaIPs != "" {
		ips = strings.Split(*mediaIPs, ",")
	}
	mail := server.MailOptions{SMTPAddr: *smtpAddr, TLS: *smtpTLS, Username: *smtpUser, Password: os.Getenv("PARLEY_SMTP_PASSWORD"), From: *mailFrom}
	if *twilioSID != "" {
		tw := &notify.Twilio{AccountSID: *twilioSID, AuthToken: os.Getenv("PARLEY_TWILIO_TOKEN"), Logger: log.With("component", "sms")}
		if strings.HasPrefix(*smsFrom, "MG") {
			tw.MessagingServiceSID = *smsFrom
		} else {
			tw.From = *smsFrom
		}
		if tw.AuthToken == "" || *smsFrom == "" {
			return fmt.Errorf("SMS: --sms-twilio-account needs PARLEY_TWILIO_TOKEN and --sms-from")
		}
		mail.SMS = tw
	}
	srv, err := server.Start(ctx, server.Options{
		MediaListen: *mediaListen, MediaPublicIPs: ips, TURNListen: *turnListen, TURNPublicHost: *turnHost,
		DataDir: *data, Listen: *listen, TLSCertFile: *certFile, TLSKeyFile: *keyFile, Hostnames: hostnames, PublicURL: *publicURL,
		TenantSlug: *tenant, TenantName: *tenantName, AdminPassword: *adminPassword,
		BootstrapOut: os.Stdout, Logger: log,
		Mail:                 server.MailOptions{SMTPAddr: *smtpAddr, TLS: *smtpTLS, Username: *smtpUser, Password: os.Getenv("PARLEY_SMTP_PASSWORD"), From: *mailFrom},
		CalendarAllowPrivate: *calPrivate,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "Parley relay on %s (TCP and QUIC)\ncertificate %s\n", srv.URL(), srv.Fingerprint())
	<-ctx.Done()
	log.Info("shutting down", "reason", context.Cause(ctx))
	return srv.Close()
}

func fingerprint(args []string) error {
	fs := flag.NewFlagSet("relay fingerprint", flag.ContinueOnError)
	data := fs.String("data", envOr("PARLEY_DATA", "parley-data"), "data folder")
	certFile := fs.String("tls-cert", os.Getenv("PARLEY_TLS_CERT"), "PEM certificate (default: the self-signed one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := *certFile
	if path == "" {
		path = filepath.Join(*data, "tls", certs.CertFile)
	}
	der, err := certs.ReadLeaf(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no certificate at %s yet: start the relay once", path)
		}
		return err
	}
	fmt.Println(certs.Fingerprint(der))
	return nil
}

// auditVerify checks the audit log's hash chain and signed checkpoints in
// a stopped relay's data folder and fails when any entry was edited,
// removed or reordered, or (with --key) the checkpoint key was replaced.
func auditVerify(args []string) error {
	fs := flag.NewFlagSet("relay audit-verify", flag.ContinueOnError)
	data := fs.String("data", envOr("PARLEY_DATA", "parley-data"), "data folder of a stopped relay")
	keyFile := fs.String("key", "", "a copy of audit-checkpoint.pub kept outside the relay, to check the checkpoints against")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var kept ed25519.PublicKey
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return err
		}
		if kept, err = audit.ParsePublicKey(string(b)); err != nil {
			return fmt.Errorf("%s: %w", *keyFile, err)
		}
	}
	if _, err := os.Stat(filepath.Join(*data, "store")); err != nil {
		return fmt.Errorf("no store in %s: %w", *data, err)
	}
	st, err := store.Open(store.BadgerOptions{Dir: filepath.Join(*data, "store"), KeyDir: *data})
	if err != nil {
		return fmt.Errorf("open the store (is the relay still running?): %w", err)
	}
	defer st.Close()
	ctx := context.Background()
	l, err := audit.New(ctx, audit.Options{Store: st})
	if err != nil {
		return err
	}
	verify := l.Verify
	if kept != nil {
		verify = func(ctx context.Context) (audit.Report, error) { return l.VerifyWithKey(ctx, kept) }
	}
	rep, err := verify(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("checkpoint key: %s\n%s\n", audit.KeyFingerprint(l.CheckpointPublicKey()), audit.FormatPublicKey(l.CheckpointPublicKey()))
	if rep.OK() {
		fmt.Printf("audit log intact: %d entries, %d signed checkpoints (last at entry %d)\n", rep.Entries, rep.Checkpoints, rep.LastCheckpoint)
		return nil
	}
	for _, p := range rep.Problems {
		fmt.Printf("entry %d: %s\n", p.Seq, p.What)
	}
	return fmt.Errorf("audit log damaged: %d problems in %d entries", len(rep.Problems), rep.Entries)
}

// privacyReport prints the privacy report (data classes, retention,
// storage location, processors; the DPA's annexes 3 and 4) from the code's
// policy table and, with --data, the tenant overrides in a stopped relay's
// store.
func privacyReport(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("relay privacy-report", flag.ContinueOnError)
	data := fs.String("data", "", "data folder of a stopped relay whose tenant overrides to include (default: the code's defaults only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rep := retention.Report{}
	if *data != "" {
		if _, err := os.Stat(filepath.Join(*data, "store")); err != nil {
			return fmt.Errorf("no store in %s: %w", *data, err)
		}
		st, err := store.Open(store.BadgerOptions{Dir: filepath.Join(*data, "store"), KeyDir: *data})
		if err != nil {
			return fmt.Errorf("open the store (is the relay still running?): %w", err)
		}
		defer st.Close()
		ctx := context.Background()
		rep.Source = "the store in `" + *data + "`"
		if rep.Overrides, err = retention.ReadOverrides(ctx, st); err != nil {
			return err
		}
		rep.TenantNames = map[string]string{}
		if accounts, err := auth.New(auth.Options{Store: st}); err == nil {
			for id := range rep.Overrides {
				if t, err := accounts.TenantByID(ctx, id); err == nil {
					rep.TenantNames[id] = t.Name
				}
			}
		}
	}
	return rep.WriteMarkdown(w)
}
