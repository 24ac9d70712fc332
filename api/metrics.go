package api

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// metrics are the API's Prometheus metrics, in a registry of its own so
// that every API (tests make many) counts separately.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // by route and status code
	latency  *prometheus.HistogramVec // by route
	records  *prometheus.CounterVec   // by status: accepted, duplicate
	derived  prometheus.Counter
	checks   *prometheus.CounterVec // by outcome: allowed, denied
	handler  http.Handler
	// The series every request touches, looked up once (a lookup by
	// label values hashes them and takes a lock): each route's latency
	// histogram and count of answers 200 OK, made as the route first
	// needs them, as WithLabelValues would; and the checks' two.
	latencies, oks  sync.Map // route name → prometheus.Observer, prometheus.Counter
	allowed, denied prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "socred_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "socred_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "socred_records_ingested_total",
			Help: "Records submitted through the API, by status: accepted (new) or duplicate (an idempotency key seen before).",
		}, []string{"status"}),
		derived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "socred_records_derived_total",
			Help: "Joint-liability records derived from accepted records.",
		}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "socred_checks_total",
			Help: "Checks answered, by outcome: allowed or denied.",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.records, m.derived, m.checks,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Show the business counters at zero before the first event.
	for _, s := range []string{"accepted", "duplicate"} {
		m.records.WithLabelValues(s)
	}
	m.allowed, m.denied = m.checks.WithLabelValues("allowed"), m.checks.WithLabelValues("denied")
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// observe counts one answered request.
func (m *metrics) observe(route string, status int, d time.Duration) {
	if status == http.StatusOK {
		series(&m.oks, route, func() prometheus.Counter { return m.requests.WithLabelValues(route, "200") }).Inc()
	} else {
		m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	}
	series(&m.latencies, route, func() prometheus.Observer { return m.latency.WithLabelValues(route) }).Observe(d.Seconds())
}

// series returns the series kept in cache for route, made by newSeries the
// first time.
func series[T any](cache *sync.Map, route string, newSeries func() T) T {
	if v, ok := cache.Load(route); ok {
		return v.(T)
	}
	v, _ := cache.LoadOrStore(route, newSeries())
	return v.(T)
}

// recordsIngested counts the results of a records batch.
func (m *metrics) recordsIngested(results []service.RecordResult) {
	var accepted, duplicate, derived int
	for _, r := range results {
		switch r.Status {
		case "accepted":
			accepted++
			derived += len(r.Derived)
		case "duplicate":
			duplicate++ // its derived records were counted when it was accepted
		}
	}
	m.records.WithLabelValues("accepted").Add(float64(accepted))
	m.records.WithLabelValues("duplicate").Add(float64(duplicate))
	m.derived.Add(float64(derived))
}

// checked counts one answered check.
func (m *metrics) checked(d socred.Decision) {
	if d.Allowed {
		m.allowed.Inc()
	} else {
		m.denied.Inc()
	}
}

// serveMetrics serves GET /metrics in the Prometheus text format.
func (a *API) serveMetrics(w http.ResponseWriter, r *http.Request, _ *socred.Caller) error {
	a.metrics.handler.ServeHTTP(w, r)
	return nil
}
