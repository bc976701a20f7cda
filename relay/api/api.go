// Package api is the relay's HTTP API: the same http.Handler serves
// browsers over TCP (HTTP/1.1, HTTP/2) and the desktop app over QUIC
// (HTTP/3). It translates requests into calls on the domain packages and
// their errors into JSON error bodies; it holds no state of its own.
//
// The contract is described in openapi.json next to this file (served at
// /api/v1/openapi.json); a test keeps the two in step.
package api

import (
	"context"
	_ "embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"parley/relay/accesslog"
	"parley/relay/audit"
	"parley/relay/auth"
	"parley/relay/clock"
)

// Auth is what the API needs from the accounts service (*auth.Service).
type Auth interface {
	Login(ctx context.Context, tenantSlug, username, password, source string) (auth.Session, string, error)
	Authenticate(ctx context.Context, token string) (auth.Session, error)
	Logout(ctx context.Context, token string) error
	ChangePassword(ctx context.Context, tenantID, userID, current, next string) error
	GetUser(ctx context.Context, tenantID, userID string) (auth.User, error)
	TenantByID(ctx context.Context, id string) (auth.Tenant, error)
	ListUsers(ctx context.Context, tenantID string) ([]auth.User, error)
	CreateUser(ctx context.Context, tenantID string, u auth.NewUser) (auth.User, error)
	RevokeUserSessions(ctx context.Context, tenantID, userID string) error
	SetUserDisabled(ctx context.Context, tenantID, userID string, disabled bool) error
	ResetPassword(ctx context.Context, tenantID, userID, password string) (string, error)
	LoginSecondFactor(ctx context.Context, challenge, code, source string) (auth.Session, string, error)
	StartSecondFactor(ctx context.Context, tenantID, userID, password string) (auth.Enrolment, error)
	ConfirmSecondFactor(ctx context.Context, tenantID, userID, code string) ([]string, error)
	NewRecoveryCodes(ctx context.Context, tenantID, userID, code string) ([]string, error)
	DisableSecondFactor(ctx context.Context, tenantID, userID, password, code string) error
	ResetSecondFactor(ctx context.Context, tenantID, userID string) error
	DeleteOwnAccount(ctx context.Context, tenantID, userID, password, code string, before func(context.Context) error) error
}

// AccessLog keeps the access log (*accesslog.Log); Write must not block.
type AccessLog interface {
	Write(e accesslog.Entry)
}

// Auditor records admin actions (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Entry, error)
	List(ctx context.Context, tenantID string, after uint64, limit int) ([]audit.Entry, error)
}

// Options configures the handler.
type Options struct {
	// Auth is the accounts service. Required.
	Auth Auth
	// Audit records admin actions. Required.
	Audit Auditor
	// Meetings is the meetings service. Required.
	Meetings Meetings
	// Logger receives one structured line per request (ids only, never
	// names, e-mail addresses or IP addresses). Nil discards.
	Logger *slog.Logger
	// Clock is the time source; nil means the real clock.
	Clock clock.Clock
	// Registry collects the API's metrics; /metrics serves Gatherer.
	// Nil creates a private registry.
	Registry *prometheus.Registry
	// Web holds the landing page, the customer's join page (join.html)
	// and static files; nil serves none.
	Web fs.FS
	// Signal serves the signalling protocol; nil answers 404.
	Signal Signal
	// Chat keeps the meetings' timelines (chat and files); nil answers
	// 404 on the file and timeline routes.
	Chat Chat
	// Announcer hears about every uploaded file (the signalling hub);
	// nil announces nothing.
	Announcer Announcer
	// PublicURL is the base URL customers reach the relay at, used in join
	// links (e.g. "https://beratung.example-bank.de"); empty means the
	// Host the request came to.
	PublicURL string
	// Retention is the privacy engine (retention policy, overrides, legal
	// holds); nil answers 404 on the retention routes.
	Retention Retention
	// Booking is the booking service (appointment types, availability,
	// bookings, public booking pages); nil answers 404 on its routes.
	Booking Booking
	// Customers keeps customer profiles; nil answers 404 on its routes.
	Customers Customers
	// Calendars is calendar sync (sources in, the ICS feed out); nil
	// answers 404 on its routes.
	Calendars Calendars
	// Privacy exports and erases customers' data; nil answers its routes
	// with 404.
	Privacy Privacy
	// Signing is the e-signature service (signature processes, signer
	// links, tenant keys); nil answers 404 on its routes.
	Signing Signing
	// AccessLog receives one entry per request (the security access log,
	// with the client's IP address); nil keeps none.
	AccessLog AccessLog
	// Messaging is the messenger inbox; with Inbox (the relay's wiring of
	// channels, webhooks and the contact form) it serves the inbox
	// routes. Nil (either) answers them with 404.
	Messaging Messaging
	// Inbox is the relay's wiring around Messaging.
	Inbox Inbox
	// Feedback is the feedback questionnaire; nil answers 404 on its
	// routes.
	Feedback Feedback
	// Recordings serves the session archives; nil answers 404.
	Recordings Recordings
	// Kiosks is synchronous signing (present in a meeting, queue at a
	// kiosk), kiosk devices and their calls; nil answers 404 on its
	// routes.
	Kiosks Kiosks
	// Pages renders document pages as images (signing documents, files
	// shared in meetings); nil answers 404 on the page routes.
	Pages Pages
}

//go:embed openapi.json
var openAPI []byte

// maxBody limits every request body.
const maxBody = 64 << 10

type handler struct {
	publicURL string
	auth      Auth
	audit     Auditor
	meetings  Meetings
	signal    Signal
	chat      Chat
	announcer Announcer
	retention Retention
	booking   Booking
	customers Customers
	calendars Calendars
	privacy   Privacy
	signing   Signing
	access    AccessLog
	limiter   *limiter
	holds     holdCounter
	log       *slog.Logger
	clock     clock.Clock
	metrics   *metrics

	messaging Messaging
	inbox     Inbox
	feedback  Feedback

	recordings Recordings
	kiosks     Kiosks
	pages      Pages
}

// route is one entry of the API's routing table. The OpenAPI test walks
// this table, so every API route must be listed here.
type route struct {
	method, pattern string
	access          access
	fn              func(h *handler, w http.ResponseWriter, r *http.Request, s auth.Session)
}

type access int

const (
	public        access = iota
	authenticated        // any valid session, even one that must change its password
	active               // a session whose password needs no change
	adminOnly            // active and role admin
)

var routes = []route{
	{"POST", "/api/v1/login", public, (*handler).login},
	{"POST", "/api/v1/login/second-factor", public, (*handler).loginSecondFactor},
	{"POST", "/api/v1/logout", authenticated, (*handler).logout},
	{"GET", "/api/v1/me", authenticated, (*handler).me},
	{"DELETE", "/api/v1/me", active, (*handler).deleteMe},
	{"POST", "/api/v1/me/password", authenticated, (*handler).changePassword},
	{"POST", "/api/v1/me/second-factor", active, (*handler).startSecondFactor},
	{"POST", "/api/v1/me/second-factor/confirm", active, (*handler).confirmSecondFactor},
	{"POST", "/api/v1/me/second-factor/recovery-codes", active, (*handler).newRecoveryCodes},
	{"DELETE", "/api/v1/me/second-factor", active, (*handler).disableSecondFactor},
	{"GET", "/api/v1/users", adminOnly, (*handler).listUsers},
	{"POST", "/api/v1/users", adminOnly, (*handler).createUser},
	{"PATCH", "/api/v1/users/{id}", adminOnly, (*handler).updateUser},
	{"POST", "/api/v1/users/{id}/password-reset", adminOnly, (*handler).resetPassword},
	{"DELETE", "/api/v1/users/{id}/sessions", adminOnly, (*handler).revokeSessions},
	{"DELETE", "/api/v1/users/{id}/second-factor", adminOnly, (*handler).resetSecondFactor},
	{"GET", "/api/v1/audit", adminOnly, (*handler).listAudit},
	{"POST", "/api/v1/meetings", active, (*handler).createMeeting},
	{"GET", "/api/v1/meetings", active, (*handler).listMeetings},
	{"GET", "/api/v1/meetings/{id}", active, (*handler).getMeeting},
	{"POST", "/api/v1/meetings/{id}/link", active, (*handler).rotateLink},
	{"POST", "/api/v1/meetings/{id}/end", active, (*handler).endMeeting},
	{"GET", "/api/v1/meetings/{id}/participants", active, (*handler).listParticipants},
	{"POST", "/api/v1/meetings/{id}/participants/{pid}/admit", active, participantAction("admit")},
	{"POST", "/api/v1/meetings/{id}/participants/{pid}/reject", active, participantAction("reject")},
	{"POST", "/api/v1/meetings/{id}/participants/{pid}/remove", active, participantAction("remove")},
	{"GET", "/api/v1/join/{token}", public, (*handler).resolveLink},
	{"POST", "/api/v1/join/{token}", public, (*handler).joinMeeting},
	{"GET", "/api/v1/participant", public, (*handler).participantState},
	{"POST", "/api/v1/participant/leave", public, (*handler).leaveMeeting},
	{"POST", "/api/v1/participant/files", public, (*handler).participantUpload},
	{"GET", "/api/v1/participant/files/{file}", public, (*handler).participantDownload},
	{"GET", "/api/v1/participant/files/{file}/pages/{n}", public, limited(rateRead, (*handler).participantFilePage)},
	{"GET", "/api/v1/participant/timeline", public, (*handler).participantTimeline},
	{"POST", "/api/v1/meetings/{id}/files", active, (*handler).meetingUpload},
	{"GET", "/api/v1/meetings/{id}/files/{file}", active, (*handler).meetingDownload},
	{"GET", "/api/v1/meetings/{id}/files/{file}/pages/{n}", active, (*handler).meetingFilePage},
	{"GET", "/api/v1/meetings/{id}/timeline", active, (*handler).meetingTimeline},
	{"GET", "/api/v1/meetings/{id}/archive", active, (*handler).meetingArchive},
	{"GET", "/api/v1/signal", public, (*handler).signalWebSocket},
	{"POST", "/api/v1/signal", active, (*handler).signalStream},
	{"GET", "/api/v1/retention/policy", adminOnly, (*handler).retentionPolicy},
	{"PUT", "/api/v1/retention/overrides/{class}", adminOnly, (*handler).setRetentionOverride},
	{"DELETE", "/api/v1/retention/overrides/{class}", adminOnly, (*handler).clearRetentionOverride},
	{"GET", "/api/v1/retention/holds", adminOnly, (*handler).listHolds},
	{"POST", "/api/v1/retention/holds", adminOnly, (*handler).placeHold},
	{"DELETE", "/api/v1/retention/holds/{id}", adminOnly, (*handler).releaseHold},

	// Messaging: the advisor's inbox, the admin's provider channels, the
	// providers' webhooks and the contact form (public, rate-limited).
	{"GET", "/api/v1/conversations", active, (*handler).listConversations},
	{"POST", "/api/v1/conversations", active, (*handler).createConversation},
	{"GET", "/api/v1/conversations/{id}", active, (*handler).getConversation},
	{"PATCH", "/api/v1/conversations/{id}", active, (*handler).patchConversation},
	{"GET", "/api/v1/conversations/{id}/messages", active, (*handler).listMessages},
	{"POST", "/api/v1/conversations/{id}/messages", active, (*handler).sendMessage},
	{"POST", "/api/v1/conversations/{id}/attachments", active, (*handler).uploadAttachment},
	{"GET", "/api/v1/conversations/{id}/attachments/{aid}", active, (*handler).downloadAttachment},
	{"POST", "/api/v1/conversations/{id}/read", active, (*handler).markRead},
	{"GET", "/api/v1/inbox/changes", active, (*handler).inboxChanges},
	{"GET", "/api/v1/inbox/unread", active, (*handler).inboxUnread},
	{"GET", "/api/v1/canned-responses", active, (*handler).listCanned},
	{"PUT", "/api/v1/canned-responses", active, (*handler).putCanned},
	{"PUT", "/api/v1/canned-responses/{id}", active, (*handler).putCanned},
	{"DELETE", "/api/v1/canned-responses/{id}", active, (*handler).deleteCanned},
	{"GET", "/api/v1/channels", adminOnly, (*handler).listChannels},
	{"POST", "/api/v1/channels", adminOnly, (*handler).createChannel},
	{"DELETE", "/api/v1/channels/{id}", adminOnly, (*handler).deleteChannel},
	{"GET", "/api/v1/contact/{page}", public, limited(rateRead, (*handler).contactPage)},
	{"POST", "/api/v1/contact/{page}", public, limited(rateWrite, (*handler).contactSubmit)},

	// Booking: the customer's side (public, rate-limited per address).
	{"GET", "/api/v1/pages/{page}", public, limited(rateRead, (*handler).bookingPage)},
	{"GET", "/api/v1/pages/{page}/slots", public, limited(rateRead, (*handler).bookingSlots)},
	{"POST", "/api/v1/pages/{page}/holds", public, limited(rateWrite, (*handler).bookingHold)},
	{"POST", "/api/v1/pages/{page}/bookings", public, limited(rateWrite, (*handler).bookingCreate)},
	{"GET", "/api/v1/manage/{token}", public, limited(rateRead, (*handler).manageGet)},
	{"POST", "/api/v1/manage/{token}/cancel", public, limited(rateWrite, (*handler).manageCancel)},
	{"POST", "/api/v1/manage/{token}/reschedule", public, limited(rateWrite, (*handler).manageReschedule)},
	// Booking: the advisor's side.
	{"GET", "/api/v1/booking/page", active, (*handler).getBookingPage},
	{"POST", "/api/v1/booking/page", active, (*handler).enableBookingPage},
	{"GET", "/api/v1/booking/types", active, (*handler).listTypes},
	{"POST", "/api/v1/booking/types", active, (*handler).createType},
	{"PUT", "/api/v1/booking/types/{id}", active, (*handler).updateType},
	{"DELETE", "/api/v1/booking/types/{id}", active, (*handler).deleteType},
	{"GET", "/api/v1/booking/availability", active, (*handler).getAvailability},
	{"PUT", "/api/v1/booking/availability", active, (*handler).putAvailability},
	{"GET", "/api/v1/bookings", active, (*handler).listBookings},
	{"POST", "/api/v1/bookings", active, (*handler).bookForCustomer},
	{"GET", "/api/v1/bookings/{id}", active, (*handler).getBooking},
	{"POST", "/api/v1/bookings/{id}/cancel", active, (*handler).cancelBooking},
	{"POST", "/api/v1/bookings/{id}/reschedule", active, (*handler).rescheduleBooking},
	{"GET", "/api/v1/customers", active, (*handler).listCustomers},
	{"POST", "/api/v1/customers", active, (*handler).createCustomer},
	{"GET", "/api/v1/customers/{id}", active, (*handler).getCustomer},
	{"PATCH", "/api/v1/customers/{id}", active, (*handler).updateCustomer},
	{"GET", "/api/v1/customers/{id}/export", adminOnly, (*handler).exportCustomer},
	{"POST", "/api/v1/customers/{id}/erasure", adminOnly, (*handler).eraseCustomer},
	{"GET", "/api/v1/erasures", adminOnly, (*handler).listErasures},
	{"GET", "/api/v1/erasures/{id}", adminOnly, (*handler).getErasure},
	{"GET", "/api/v1/calendar/sources", active, (*handler).listSources},
	{"POST", "/api/v1/calendar/sources", active, (*handler).addSource},
	{"DELETE", "/api/v1/calendar/sources/{id}", active, (*handler).deleteSource},
	{"GET", "/api/v1/calendar/feed", active, (*handler).feedURL},
	{"POST", "/api/v1/calendar/feed/rotate", active, (*handler).rotateFeed},
	// E-signature: the advisor's side, the signer's link (public,
	// rate-limited per address) and the admin's tenant keys.
	{"POST", "/api/v1/signing/processes", active, (*handler).createSigning},
	{"GET", "/api/v1/signing/processes", active, (*handler).listSigning},
	{"GET", "/api/v1/signing/processes/{id}", active, (*handler).getSigning},
	{"PUT", "/api/v1/signing/processes/{id}/fields", active, (*handler).setSigningFields},
	{"POST", "/api/v1/signing/processes/{id}/send", active, signingAction(Signing.Send)},
	{"POST", "/api/v1/signing/processes/{id}/cancel", active, signingAction(Signing.Cancel)},
	{"GET", "/api/v1/signing/processes/{id}/document", active, (*handler).signingDocument},
	{"GET", "/api/v1/signing/processes/{id}/pages/{n}", active, (*handler).signingPage},
	{"POST", "/api/v1/signing/processes/{id}/sign", active, (*handler).advisorSign},
	{"GET", "/api/v1/sign/{token}", public, limited(rateRead, (*handler).signerView)},
	{"POST", "/api/v1/sign/{token}/code", public, limited(rateWrite, (*handler).signerCode)},
	{"POST", "/api/v1/sign/{token}/verify", public, limited(rateWrite, (*handler).signerVerify)},
	{"GET", "/api/v1/sign/{token}/document", public, limited(rateRead, (*handler).signerDocument)},
	{"GET", "/api/v1/sign/{token}/pages/{n}", public, limited(rateRead, (*handler).signerPage)},
	{"POST", "/api/v1/sign/{token}/submit", public, limited(rateWrite, (*handler).signerSubmit)},
	{"PUT", "/api/v1/signing/trustee-key", adminOnly, (*handler).putTrusteeKey},
	{"GET", "/api/v1/signing/trustee-key", adminOnly, (*handler).getTrusteeKey},
	{"GET", "/api/v1/signing/seal-ca", adminOnly, (*handler).getSealCA},
	// Synchronous signing: present in a meeting, queue at a kiosk; the
	// kiosks (admin), the kiosk device's own routes (Bearer pkd_…; the
	// read budget per address, since several kiosks of a branch share one
	// address and codes and PINs have their own limit per kiosk) and the
	// advisors' side of kiosk calls.
	{"POST", "/api/v1/signing/processes/{id}/present", active, (*handler).presentSigning},
	{"POST", "/api/v1/signing/processes/{id}/kiosk", active, (*handler).queueAtKiosk},
	{"POST", "/api/v1/kiosks", adminOnly, (*handler).createKiosk},
	{"GET", "/api/v1/kiosks", active, (*handler).listKiosks},
	{"DELETE", "/api/v1/kiosks/{id}", adminOnly, (*handler).deleteKiosk},
	{"GET", "/api/v1/kiosk/me", public, limited(rateRead, kioskRoute((*handler).kioskMe))},
	{"GET", "/api/v1/kiosk/queue", public, limited(rateRead, kioskRoute((*handler).kioskQueue))},
	{"POST", "/api/v1/kiosk/open", public, limited(rateRead, kioskRoute((*handler).kioskOpen))},
	{"POST", "/api/v1/kiosk/unlock", public, limited(rateRead, kioskRoute((*handler).kioskUnlock))},
	{"POST", "/api/v1/kiosk/calls", public, limited(rateRead, kioskRoute((*handler).kioskCreateCall))},
	{"GET", "/api/v1/kiosk/calls/{id}", public, limited(rateRead, kioskRoute((*handler).kioskGetCall))},
	{"DELETE", "/api/v1/kiosk/calls/{id}", public, limited(rateRead, kioskRoute((*handler).kioskCancelCall))},
	{"GET", "/api/v1/kiosk-calls", active, (*handler).listKioskCalls},
	{"POST", "/api/v1/kiosk-calls/{id}/accept", active, (*handler).acceptKioskCall},
	// Feedback questionnaire: the advisor's consent record and answers,
	// the admin's counters, the customer's link (public, rate-limited).
	{"POST", "/api/v1/meetings/{id}/feedback", active, (*handler).feedbackConsent},
	{"GET", "/api/v1/meetings/{id}/feedback", active, (*handler).feedbackOfMeeting},
	{"DELETE", "/api/v1/meetings/{id}/feedback", active, (*handler).feedbackWithdraw},
	{"GET", "/api/v1/customers/{id}/feedback", active, (*handler).feedbackOfCustomer},
	{"GET", "/api/v1/feedback/stats", adminOnly, (*handler).feedbackStats},
	{"GET", "/api/v1/feedback/{token}", public, limited(rateRead, (*handler).feedbackQuestionnaire)},
	{"POST", "/api/v1/feedback/{token}", public, limited(rateWrite, (*handler).feedbackAnswer)},
}

// New returns the relay's HTTP handler.
func New(opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	h := &handler{publicURL: strings.TrimRight(opts.PublicURL, "/"), auth: opts.Auth, audit: opts.Audit, meetings: opts.Meetings, signal: opts.Signal, chat: opts.Chat, announcer: opts.Announcer, retention: opts.Retention,
		booking: opts.Booking, customers: opts.Customers, calendars: opts.Calendars, privacy: opts.Privacy, access: opts.AccessLog, limiter: newLimiter(clock.Or(opts.Clock)), log: log, clock: clock.Or(opts.Clock), metrics: newMetrics(reg)}

	h.signing = opts.Signing
	h.feedback = opts.Feedback
	h.recordings = opts.Recordings
	h.kiosks = opts.Kiosks
	h.pages = opts.Pages

	mux := http.NewServeMux()
	byPattern := map[string]map[string]route{}
	for _, rt := range routes {
		if byPattern[rt.pattern] == nil {
			byPattern[rt.pattern] = map[string]route{}
		}
		byPattern[rt.pattern][rt.method] = rt
	}
	for pattern, methods := range byPattern {
		mux.Handle(pattern, h.dispatch(pattern, methods))
	}
	handle := func(pattern string, fn http.HandlerFunc) {
		mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			setRoute(r, pattern)
			fn(w, r)
		}))
	}
	handle("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, errMethod)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP)
	handle("/api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound)
	})
	if opts.Web != nil {
		files := http.FileServerFS(opts.Web)
		handle("/{$}", func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				writeError(w, errMethod)
				return
			}
			http.ServeFileFS(w, r, opts.Web, "index.html")
		})
		handle("/static/", files.ServeHTTP)
		handle("/j/{token}", func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				writeError(w, errMethod)
				return
			}
			http.ServeFileFS(w, r, opts.Web, "join.html")
		})
		for pattern, file := range map[string]string{"/b/{page}": "book.html", "/m/{token}": "manage.html", "/c/{page}": "contact.html", "/f/{token}": "feedback.html"} {
			handle(pattern, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet && r.Method != http.MethodHead {
					writeError(w, errMethod)
					return
				}
				http.ServeFileFS(w, r, opts.Web, file)
			})
		}
		// The signing page shows the pages as images fetched with the
		// signer's session (Authorization header) and shown from blob:
		// URLs, which 'self' does not cover. It is the one page that may
		// be framed, and only by this relay's own pages: the join page
		// shows it in an overlay over the call (signing in a meeting,
		// docs/signing.md).
		handle("/s/{token}", func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				writeError(w, errMethod)
				return
			}
			w.Header().Set("X-Frame-Options", "SAMEORIGIN")
			w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob:; frame-ancestors 'self'; base-uri 'none'")
			http.ServeFileFS(w, r, opts.Web, "sign.html")
		})
	}
	handle("/cal/{token}", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, errMethod)
			return
		}
		limited(rateRead, (*handler).calendarFeed)(h, w, r, auth.Session{})
	})
	h.messaging, h.inbox = opts.Messaging, opts.Inbox
	// The providers' webhooks (GET only for Meta's handshake): outside
	// the JSON API, so outside the table; rate-limited per address.
	handle("/hooks/{provider}/{channel}", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			writeError(w, errMethod)
			return
		}
		limited(rateHook, (*handler).webhook)(h, w, r, auth.Session{})
	})
	return h.observe(securityHeaders(mux))
}

// dispatch picks the route for the request method, enforces its access
// level and runs it.
func (h *handler) dispatch(pattern string, methods map[string]route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRoute(r, pattern)
		rt, ok := methods[r.Method]
		if !ok {
			writeError(w, errMethod)
			return
		}
		var sess auth.Session
		if rt.access != public {
			var err error
			sess, err = h.authenticate(r)
			if err != nil {
				writeError(w, err)
				return
			}
			setSession(r, sess.ID)
			if rt.access >= active && sess.MustChangePassword {
				writeError(w, errPasswordChange)
				return
			}
			if rt.access == adminOnly && sess.Role != auth.RoleAdmin {
				writeError(w, errForbidden)
				return
			}
		}
		rt.fn(h, w, r, sess)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// requestTimeout bounds the work done for one request.
const requestTimeout = 30 * time.Second
