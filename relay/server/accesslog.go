package server

import (
	"context"
	"path/filepath"
	"time"

	"parley/relay/accesslog"
	"parley/relay/retention"
)

// accessDir is the access log's folder in the data folder.
func (s *Server) accessDir() string {
	if s.dataDir == "" {
		return ""
	}
	return filepath.Join(s.dataDir, accesslog.DirName)
}

// sweepAccessLog deletes the access log's day files 30 days (the class's
// period; the access log is relay-wide, so tenants cannot change it) after
// their day ended.
func (sw *sweeper) sweepAccessLog(ctx context.Context, now time.Time) error {
	if sw.accessDir == "" {
		return nil
	}
	period := accesslog.DefaultRetention
	if c, ok := retention.Lookup(retention.ClassAccessLog); ok {
		period = c.Period
	}
	st, err := accesslog.Sweep(ctx, sw.accessDir, now, period)
	return sw.recordDelete(ctx, retention.ClassAccessLog, now, st.Due, st.Entries, st.Due-st.Deleted, err, "entries")
}
