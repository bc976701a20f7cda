package api

import (
	"context"
	"log/slog"
	"net/http"
	"parley/relay/accesslog"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	logins   *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_http_requests_total", Help: "HTTP requests by route, status code and transport.",
		}, []string{"route", "code", "transport"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "parley_http_request_duration_seconds", Help: "Time to answer HTTP requests by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_logins_total", Help: "Sign-in attempts by result code.",
		}, []string{"result"}),
	}
	reg.MustRegister(m.requests, m.duration, m.logins)
	// Process and Go runtime metrics; ignore "already registered" when the
	// caller shares a registry.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

type infoKey struct{}

// reqInfo collects what the access log and metrics need while a request
// is handled.
type reqInfo struct {
	route   string
	session string
}

func setRoute(r *http.Request, pattern string) {
	if ri, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
		ri.route = pattern
	}
}

func setSession(r *http.Request, id string) {
	if ri, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
		ri.session = id
	}
}

// recorder remembers the status code for logs and metrics.
type recorder struct {
	http.ResponseWriter
	status   int
	internal error
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observe logs one line per request (no IPs, names or query strings),
// counts it, and turns a panic into a 500 JSON error.
func (h *handler) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := h.clock.Now()
		ri := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, ri))
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.log.Error("handler panic", "route", ri.route, "panic", slog.AnyValue(p))
				if rec.status == 0 {
					writeError(rec, errInternal)
				}
			}
			route := ri.route
			if route == "" {
				route = "other"
			}
			transport := "tcp"
			if r.ProtoMajor == 3 {
				transport = "quic"
			}
			elapsed := h.clock.Now().Sub(start)
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			h.metrics.requests.WithLabelValues(route, strconv.Itoa(status), transport).Inc()
			h.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
			attrs := []slog.Attr{
				slog.String("method", r.Method), slog.String("route", route),
				slog.Int("status", status), slog.String("transport", transport),
				slog.Duration("elapsed", elapsed),
			}
			if ri.session != "" {
				attrs = append(attrs, slog.String("session_id", ri.session))
			}
			if rec.internal != nil {
				attrs = append(attrs, slog.String("error", rec.internal.Error()))
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			h.log.LogAttrs(r.Context(), level, "http request", attrs...)
			if h.access != nil {
				h.access.Write(accesslog.Entry{Time: start, IP: source(r), Method: r.Method, Path: r.URL.Path, Route: route,
					Status: status, Referrer: r.Referer(), UserAgent: r.UserAgent(), Session: ri.session})
			}
		}()
		next.ServeHTTP(rec, r)
	})
}
