package server

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"parley/relay/audit"
	"parley/relay/booking"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/feedback"
	"parley/relay/meeting"
	"parley/relay/messaging"
	"parley/relay/retention"
	"parley/relay/signing"
	"parley/relay/whiteboard"
)

// DefaultSweepInterval is how often the relay applies the retention rules
// that exist so far (meeting metadata: anonymised 2 days after the end;
// meeting content: deleted 7 days after it was posted; both periods as
// overridden by the meeting's tenant, and meetings under a legal hold
// skipped).
const DefaultSweepInterval = 10 * time.Minute

// overdueIntervals is how many sweep intervals an item may stay past its
// deadline before it counts as overdue (parley_retention_overdue).
const overdueIntervals = 2

// sweeper enforces retention deadlines on a timer: it runs the rules of
// the classes that exist, with each tenant's effective periods and legal
// holds from the privacy engine (relay/retention).
type sweeper struct {
	clock     clock.Clock
	meetings  *meeting.Service
	chat      *chat.Service     // nil: no meeting content
	retention *retention.Policy // nil: the default periods, no holds
	booking   *booking.Service  // nil: no bookings
	customers *customer.Service // nil: no customer profiles
	audit     *audit.Log
	log       *slog.Logger
	quit      <-chan struct{}
	interval  atomic.Int64      // time.Duration; set by run
	feedback  *feedback.Service // nil: no feedback questionnaires

	runs      prometheus.Counter
	processed *prometheus.CounterVec
	failures  prometheus.Counter
	due       *prometheus.GaugeVec
	failed    *prometheus.CounterVec
	overdue   *prometheus.GaugeVec
	lastSweep prometheus.Gauge

	whiteboard *whiteboard.Service // nil: no whiteboards
	accessDir  string              // the access log's folder; "" keeps none
	signing    *signing.Service    // nil: no signature processes
	recordings *recordings         // nil: no recordings
	messaging  *messaging.Service  // nil: no messenger conversations
}

// sweeperDeps are the parts a sweeper works with.
type sweeperDeps struct {
	clock     clock.Clock
	meetings  *meeting.Service
	chat      *chat.Service
	retention *retention.Policy
	booking   *booking.Service
	customers *customer.Service
	audit     *audit.Log
	log       *slog.Logger
	quit      <-chan struct{}

	whiteboard *whiteboard.Service
	accessDir  string
	messaging  *messaging.Service
}

func newSweeper(s *Server, m *meeting.Service, a *audit.Log, reg *prometheus.Registry) *sweeper {
	return newSweeperFrom(sweeperDeps{clock: s.clock, meetings: m, chat: s.chat, retention: s.retention,
		booking: s.booking, customers: s.customers, whiteboard: s.whiteboard, accessDir: s.accessDir(), messaging: s.messaging, audit: a, log: s.log, quit: s.quit}, reg)
}

func newSweeperFrom(d sweeperDeps, reg *prometheus.Registry) *sweeper {
	sw := &sweeper{clock: d.clock, meetings: d.meetings, chat: d.chat, retention: d.retention, booking: d.booking, customers: d.customers,
		whiteboard: d.whiteboard, accessDir: d.accessDir, messaging: d.messaging, audit: d.audit, log: d.log, quit: d.quit,
		runs: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_retention_sweeps_total", Help: "Retention sweeps run."}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_retention_processed_total",
			Help: "Records the retention sweeps anonymised or deleted, by data class and action."}, []string{"class", "action"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_retention_sweep_failures_total", Help: "Retention sweeps that failed."}),
		due: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "parley_retention_due",
			Help: "Records due for anonymisation or deletion at the start of the last sweep, by data class (held records are not due)."}, []string{"class"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_retention_failed_total",
			Help: "Due records a sweep failed to anonymise or delete, by data class (counted at every sweep that fails them)."}, []string{"class"}),
		overdue: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "parley_retention_overdue",
			Help: "Records still present after the last sweep although their deadline passed more than two sweep intervals ago, by data class; alert when above 0."}, []string{"class"}),
		lastSweep: prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_retention_last_sweep_timestamp_seconds",
			Help: "When the last retention sweep ran (relay clock, Unix seconds)."}),
	}
	if sw.log == nil {
		sw.log = slog.New(slog.DiscardHandler)
	}
	sw.interval.Store(int64(DefaultSweepInterval))
	for _, c := range []string{meeting.ClassMeetingMetadata, chat.ClassMeetingContent, retention.ClassBooking, retention.ClassMessengerMessages, retention.ClassCustomerProfile, retention.ClassFeedback} {
		sw.due.WithLabelValues(c)
		sw.failed.WithLabelValues(c)
		sw.overdue.WithLabelValues(c)
	}
	reg.MustRegister(sw.runs, sw.processed, sw.failures, sw.due, sw.failed, sw.overdue, sw.lastSweep)
	return sw
}

// sweep applies the retention rules once, at the relay clock's now: meeting
// metadata is anonymised and meeting content (chat, files) deleted. A
// failing rule does not keep the other from running.
func (sw *sweeper) sweep(ctx context.Context) error {
	sw.runs.Inc()
	now := sw.clock.Now()
	// Bookings and conversations go before profiles: they are sealed with
	// their customer's key, so they must not outlive it by a sweep.
	err := errors.Join(sw.sweepMetadata(ctx, now), sw.sweepContent(ctx, now), sw.sweepWhiteboard(ctx, now), sw.sweepBookings(ctx, now), sw.sweepMessages(ctx, now), sw.sweepSigning(ctx, now), sw.sweepRecordings(ctx, now), sw.sweepProfiles(ctx, now), sw.sweepAccessLog(ctx, now))
	// Feedback answers are due 180 days after the answer, long before
	// their customer's profile (360 days after the last interaction).
	err = errors.Join(err, sw.sweepFeedback(ctx, now))
	sw.lastSweep.Set(float64(now.UnixNano()) / 1e9)
	return err
}

// report sets a class's due, failed and overdue metrics from a sweep's
// counts: an item is overdue when it is still present and its deadline
// passed more than overdueIntervals sweep intervals before now.
func (sw *sweeper) report(class string, now time.Time, due, failed int, pending []time.Time) {
	sw.due.WithLabelValues(class).Set(float64(due))
	sw.failed.WithLabelValues(class).Add(float64(failed))
	limit := now.Add(-overdueIntervals * time.Duration(sw.interval.Load()))
	n := 0
	for _, d := range pending {
		if d.Before(limit) {
			n++
		}
	}
	sw.overdue.WithLabelValues(class).Set(float64(n))
}

// metadataRule takes a meeting's metadata period from its tenant's
// effective policy and keeps meetings under a legal hold.
func (sw *sweeper) metadataRule(ctx context.Context, tenantID, meetingID string) (time.Duration, bool, error) {
	r, err := sw.retention.Effective(ctx, tenantID, retention.ClassMeetingMetadata)
	if err != nil {
		return 0, false, err
	}
	return r.Period, sw.retention.Held(ctx, tenantID, retention.SubjectMeeting, meetingID), nil
}

// metadataRule is the meeting service's read-side rule: the same
// deadline and holds as the sweep's, from the policy the relay opened
// after the meeting service (the default period until then).
func (s *Server) metadataRule(ctx context.Context, tenantID, meetingID string) (time.Duration, bool, error) {
	if s.retention == nil {
		return meeting.MetadataRetention, false, nil
	}
	r, err := s.retention.Effective(ctx, tenantID, retention.ClassMeetingMetadata)
	if err != nil {
		return 0, false, err
	}
	return r.Period, s.retention.Held(ctx, tenantID, retention.SubjectMeeting, meetingID), nil
}

// contentRule does the same for a meeting's content; the tenant comes
// from the meeting's metadata.
func (sw *sweeper) contentRule(ctx context.Context, meetingID string) (time.Duration, bool, error) {
	return contentRuleOf(sw.meetings, sw.retention)(ctx, meetingID)
}

// contentRuleOf is the per-meeting rule for meeting content, shared by the
// sweep (which purges) and the chat service's reads (which stop serving at
// the same deadline): the period of the meeting's tenant and its legal
// hold; the default period for a meeting without metadata. A nil policy
// gives a nil rule (the default period, no holds).
func contentRuleOf(meetings *meeting.Service, policy *retention.Policy) chat.ContentRule {
	if policy == nil {
		return nil
	}
	return func(ctx context.Context, meetingID string) (time.Duration, bool, error) {
		md, err := meetings.MetadataOf(ctx, meetingID)
		if errors.Is(err, meeting.ErrNotFound) {
			return chat.Retention, false, nil // no tenant to ask: the default
		}
		if err != nil {
			return 0, false, err
		}
		r, err := policy.Effective(ctx, md.TenantID, retention.ClassMeetingContent)
		if err != nil {
			return 0, false, err
		}
		return r.Period, policy.Held(ctx, md.TenantID, retention.SubjectMeeting, meetingID), nil
	}
}

func (sw *sweeper) sweepMetadata(ctx context.Context, now time.Time) error {
	var rule meeting.MetadataRule
	if sw.retention != nil {
		rule = sw.metadataRule
	}
	res, st, err := sw.meetings.AnonymiseMetadataSweep(ctx, now, rule)
	if err != nil {
		sw.failures.Inc()
		sw.log.Error("retention sweep failed", "class", meeting.ClassMeetingMetadata, "error", err)
	}
	sw.report(meeting.ClassMeetingMetadata, now, st.Due, st.Failed, st.Pending)
	if res.Meetings > 0 {
		sw.processed.WithLabelValues(meeting.ClassMeetingMetadata, meeting.ActionAnonymise).Add(float64(res.Meetings))
	}
	if res.Meetings == 0 && st.Due == 0 && st.Failed == 0 {
		return err
	}
	_, aerr := sw.audit.Append(ctx, audit.Record{Actor: "system", Action: "retention.anonymise", Details: map[string]string{
		"class": meeting.ClassMeetingMetadata, "due": strconv.Itoa(st.Due), "failed": strconv.Itoa(st.Failed),
		"meetings": strconv.Itoa(res.Meetings), "names": strconv.Itoa(res.Names), "ips": strconv.Itoa(res.IPs),
	}})
	if aerr != nil {
		sw.log.Error("audit append failed", "action", "retention.anonymise", "error", aerr)
	}
	sw.log.Info("retention sweep", "class", meeting.ClassMeetingMetadata, "due", st.Due, "anonymised", res.Meetings, "failed", st.Failed)
	return errors.Join(err, aerr)
}

// sweepContent deletes chat messages and files 7 days after they were
// posted, and the chunks of uploads that never finished.
func (sw *sweeper) sweepContent(ctx context.Context, now time.Time) error {
	if sw.chat == nil {
		return nil
	}
	var rule chat.ContentRule
	if sw.retention != nil {
		rule = sw.contentRule
	}
	res, st, err := sw.chat.DeleteExpiredSweep(ctx, now, rule)
	if res.Entries > 0 {
		sw.processed.WithLabelValues(chat.ClassMeetingContent, meeting.ActionDelete).Add(float64(res.Entries))
	}
	if err != nil {
		sw.failures.Inc()
		sw.log.Error("retention sweep failed", "class", chat.ClassMeetingContent, "error", err)
	}
	sw.report(chat.ClassMeetingContent, now, st.Due, st.Failed, st.Pending)
	if res.Entries == 0 && res.Uploads == 0 && st.Due == 0 && st.Failed == 0 {
		return err
	}
	_, aerr := sw.audit.Append(ctx, audit.Record{Actor: "system", Action: "retention.delete", Details: map[string]string{
		"class": chat.ClassMeetingContent, "due": strconv.Itoa(st.Due), "failed": strconv.Itoa(st.Failed),
		"entries": strconv.Itoa(res.Entries), "files": strconv.Itoa(res.Files), "unfinished_uploads": strconv.Itoa(res.Uploads),
	}})
	if aerr != nil {
		sw.log.Error("audit append failed", "action", "retention.delete", "error", aerr)
	}
	sw.log.Info("retention sweep", "class", chat.ClassMeetingContent, "due", st.Due, "deleted", res.Entries, "files", res.Files,
		"unfinished_uploads", res.Uploads, "failed", st.Failed)
	return errors.Join(err, aerr)
}

// customerHeld reports whether a legal hold keeps a tenant's customer.
func (sw *sweeper) customerHeld(ctx context.Context) func(tenantID, customerID string) bool {
	if sw.retention == nil {
		return nil
	}
	return func(tenantID, customerID string) bool {
		return sw.retention.Held(ctx, tenantID, retention.SubjectCustomer, customerID)
	}
}

// sweepBookings deletes bookings 42 days (or the tenant's period) after
// the appointment; a hold on the booking's customer keeps them.
func (sw *sweeper) sweepBookings(ctx context.Context, now time.Time) error {
	if sw.booking == nil {
		return nil
	}
	var held func(booking.Booking) bool
	if h := sw.customerHeld(ctx); h != nil {
		held = func(b booking.Booking) bool { return h(b.TenantID, b.CustomerID) }
	}
	st, err := sw.booking.SweepExpired(ctx, now, held)
	return sw.recordDelete(ctx, retention.ClassBooking, now, st.Due, st.Deleted, st.Failed, err, "bookings")
}

// sweepProfiles deletes customer profiles 360 days (or the tenant's
// period) after the last interaction, destroying their data keys.
func (sw *sweeper) sweepProfiles(ctx context.Context, now time.Time) error {
	if sw.customers == nil {
		return nil
	}
	st, err := sw.customers.SweepExpired(ctx, now, sw.customerHeld(ctx))
	return sw.recordDelete(ctx, retention.ClassCustomerProfile, now, st.Due, st.Deleted, st.Failed, err, "profiles")
}

// recordDelete reports a deleting rule's counts in the metrics, the log
// and (when there was anything to do) the audit log.
func (sw *sweeper) recordDelete(ctx context.Context, class string, now time.Time, due, deleted, failed int, err error, what string) error {
	if deleted > 0 {
		sw.processed.WithLabelValues(class, meeting.ActionDelete).Add(float64(deleted))
	}
	if err != nil {
		sw.failures.Inc()
		sw.log.Error("retention sweep failed", "class", class, "error", err)
	}
	// Whatever is still due after the sweep counts as pending from now:
	// its exact deadline is the domain's, and a failure shows at once.
	var pending []time.Time
	for range failed {
		pending = append(pending, now)
	}
	sw.report(class, now, due, failed, pending)
	if due == 0 && deleted == 0 && failed == 0 {
		return err
	}
	_, aerr := sw.audit.Append(ctx, audit.Record{Actor: "system", Action: "retention.delete", Details: map[string]string{
		"class": class, "due": strconv.Itoa(due), "failed": strconv.Itoa(failed), what: strconv.Itoa(deleted),
	}})
	if aerr != nil {
		sw.log.Error("audit append failed", "action", "retention.delete", "error", aerr)
	}
	sw.log.Info("retention sweep", "class", class, "due", due, "deleted", deleted, "failed", failed)
	return errors.Join(err, aerr)
}

// run sweeps at start and then every interval until the relay stops.
func (sw *sweeper) run(ctx context.Context, interval time.Duration) {
	sw.interval.Store(int64(interval))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_ = sw.sweep(ctx)
		select {
		case <-sw.quit:
			return
		case <-t.C:
		}
	}
}
