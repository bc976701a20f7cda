package server

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"parley/relay/audit"
	"parley/relay/chat"
	"parley/relay/meeting"
	"parley/relay/retention"
)

// DefaultSweepInterval is how often the relay applies the retention rules
// that exist so far (meeting metadata: anonymised 2 days after the end;
// meeting content: deleted 7 days after it was posted; both periods as
// overridden by the meeting's tenant, and meetings under a legal hold
// skipped).
const DefaultSweepInterval = 10 * time.Minute

// sweeper enforces retention deadlines on a timer: it runs the rules of
// the classes that exist, with each tenant's effective periods and legal
// holds from the privacy engine (relay/retention).
type sweeper struct {
	s         *Server
	meetings  *meeting.Service
	audit     *audit.Log
	runs      prometheus.Counter
	processed *prometheus.CounterVec
	failures  prometheus.Counter
}

func newSweeper(s *Server, m *meeting.Service, a *audit.Log, reg *prometheus.Registry) *sweeper {
	sw := &sweeper{s: s, meetings: m, audit: a,
		runs: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_retention_sweeps_total", Help: "Retention sweeps run."}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_retention_processed_total",
			Help: "Records the retention sweeps anonymised or deleted, by data class and action."}, []string{"class", "action"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_retention_sweep_failures_total", Help: "Retention sweeps that failed."}),
	}
	reg.MustRegister(sw.runs, sw.processed, sw.failures)
	return sw
}

// sweep applies the retention rules once, at the relay clock's now: meeting
// metadata is anonymised and meeting content (chat, files) deleted. A
// failing rule does not keep the other from running.
func (sw *sweeper) sweep(ctx context.Context) error {
	sw.runs.Inc()
	now := sw.s.clock.Now()
	return errors.Join(sw.sweepMetadata(ctx, now), sw.sweepContent(ctx, now))
}

// metadataRule takes a meeting's metadata period from its tenant's
// effective policy and keeps meetings under a legal hold.
func (sw *sweeper) metadataRule(ctx context.Context, tenantID, meetingID string) (time.Duration, bool, error) {
	r, err := sw.s.retention.Effective(ctx, tenantID, retention.ClassMeetingMetadata)
	if err != nil {
		return 0, false, err
	}
	return r.Period, sw.s.retention.Held(ctx, tenantID, retention.SubjectMeeting, meetingID), nil
}

// contentRule does the same for a meeting's content; the tenant comes
// from the meeting's metadata.
func (sw *sweeper) contentRule(ctx context.Context, meetingID string) (time.Duration, bool, error) {
	md, err := sw.meetings.MetadataOf(ctx, meetingID)
	if errors.Is(err, meeting.ErrNotFound) {
		return chat.Retention, false, nil // no tenant to ask: the default
	}
	if err != nil {
		return 0, false, err
	}
	r, err := sw.s.retention.Effective(ctx, md.TenantID, retention.ClassMeetingContent)
	if err != nil {
		return 0, false, err
	}
	return r.Period, sw.s.retention.Held(ctx, md.TenantID, retention.SubjectMeeting, meetingID), nil
}

func (sw *sweeper) sweepMetadata(ctx context.Context, now time.Time) error {
	var rule meeting.MetadataRule
	if sw.s.retention != nil {
		rule = sw.metadataRule
	}
	res, err := sw.meetings.AnonymiseMetadataBy(ctx, now, rule)
	if err != nil {
		sw.failures.Inc()
		sw.s.log.Error("retention sweep failed", "class", meeting.ClassMeetingMetadata, "error", err)
	}
	if res.Meetings == 0 {
		return err
	}
	sw.processed.WithLabelValues(meeting.ClassMeetingMetadata, meeting.ActionAnonymise).Add(float64(res.Meetings))
	_, err = sw.audit.Append(ctx, audit.Record{Actor: "system", Action: "retention.anonymise", Details: map[string]string{
		"class": meeting.ClassMeetingMetadata, "meetings": strconv.Itoa(res.Meetings),
		"names": strconv.Itoa(res.Names), "ips": strconv.Itoa(res.IPs),
	}})
	if err != nil {
		sw.s.log.Error("audit append failed", "action", "retention.anonymise", "error", err)
	}
	sw.s.log.Info("retention sweep", "class", meeting.ClassMeetingMetadata, "anonymised", res.Meetings)
	return err
}

// sweepContent deletes chat messages and files 7 days after they were
// posted, and the chunks of uploads that never finished.
func (sw *sweeper) sweepContent(ctx context.Context, now time.Time) error {
	if sw.s.chat == nil {
		return nil
	}
	var rule chat.ContentRule
	if sw.s.retention != nil {
		rule = sw.contentRule
	}
	res, err := sw.s.chat.DeleteExpiredBy(ctx, now, rule)
	if res.Entries > 0 {
		sw.processed.WithLabelValues(chat.ClassMeetingContent, meeting.ActionDelete).Add(float64(res.Entries))
	}
	if err != nil {
		sw.failures.Inc()
		sw.s.log.Error("retention sweep failed", "class", chat.ClassMeetingContent, "error", err)
	}
	if res.Entries == 0 && res.Uploads == 0 {
		return err
	}
	_, aerr := sw.audit.Append(ctx, audit.Record{Actor: "system", Action: "retention.delete", Details: map[string]string{
		"class": chat.ClassMeetingContent, "entries": strconv.Itoa(res.Entries),
		"files": strconv.Itoa(res.Files), "unfinished_uploads": strconv.Itoa(res.Uploads),
	}})
	if aerr != nil {
		sw.s.log.Error("audit append failed", "action", "retention.delete", "error", aerr)
	}
	sw.s.log.Info("retention sweep", "class", chat.ClassMeetingContent, "deleted", res.Entries, "files", res.Files, "unfinished_uploads", res.Uploads)
	return err
}

// run sweeps at start and then every interval until the relay stops.
func (sw *sweeper) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_ = sw.sweep(ctx)
		select {
		case <-sw.s.quit:
			return
		case <-t.C:
		}
	}
}
