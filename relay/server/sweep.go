package server

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"parley/relay/audit"
	"parley/relay/meeting"
)

// DefaultSweepInterval is how often the relay applies the retention rules
// that exist so far (meeting metadata: anonymised 2 days after the end).
const DefaultSweepInterval = 10 * time.Minute

// sweeper enforces retention deadlines on a timer. The full privacy engine
// (every data class, holds, overrides) is its own issue; this runs the
// rules of the classes that exist.
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

// sweep applies the retention rules once, at the relay clock's now.
func (sw *sweeper) sweep(ctx context.Context) error {
	sw.runs.Inc()
	res, err := sw.meetings.AnonymiseMetadata(ctx, sw.s.clock.Now())
	if err != nil {
		sw.failures.Inc()
		sw.s.log.Error("retention sweep failed", "class", meeting.ClassMeetingMetadata, "error", err)
		return err
	}
	if res.Meetings == 0 {
		return nil
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
	return nil
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
