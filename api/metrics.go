package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, in a registry of its own so
// that several servers (in tests) never collide.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	shed     prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "primaryvote_http_requests_total",
			Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "primaryvote_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	m.shed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "primaryvote_http_shed_total",
		Help: "API requests refused with 503 because every request slot was busy.",
	})
	m.registry.MustRegister(m.requests, m.duration, m.shed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(method, route string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(elapsed.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// witnessCollector reports what this server knows of each witness it
// pushes to: the size of the newest checkpoint it cosigned, how many records
// the log holds beyond that, whether its last push failed, and the failed
// pushes. A witness that is down shows as up 0 with a growing lag.
type witnessCollector struct {
	pusher   Pusher
	cosigned *prometheus.Desc
	lag      *prometheus.Desc
	up       *prometheus.Desc
	failed   *prometheus.Desc
}

func newWitnessCollector(p Pusher) *witnessCollector {
	labels := []string{"witness"}
	return &witnessCollector{
		pusher:   p,
		cosigned: prometheus.NewDesc("primaryvote_witness_cosigned_size", "The size of the newest checkpoint the witness cosigned.", labels, nil),
		lag:      prometheus.NewDesc("primaryvote_witness_lag_records", "How many records the log's newest checkpoint holds beyond the witness's newest cosigned one.", labels, nil),
		up:       prometheus.NewDesc("primaryvote_witness_up", "1 if the last push to the witness was cosigned, 0 if it failed.", labels, nil),
		failed:   prometheus.NewDesc("primaryvote_witness_push_failures_total", "Pushes to the witness that it did not cosign.", labels, nil),
	}
}

func (c *witnessCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.cosigned
	ch <- c.lag
	ch <- c.up
	ch <- c.failed
}

func (c *witnessCollector) Collect(ch chan<- prometheus.Metric) {
	var size int64
	status := c.pusher.Status()
	for _, w := range status {
		size = max(size, w.Cosigned, w.LogSize)
	}
	for _, w := range status {
		up := 1.0
		if w.Failures > 0 {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(c.cosigned, prometheus.GaugeValue, float64(w.Cosigned), w.Name)
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(size-w.Cosigned), w.Name)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, w.Name)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(w.Failed), w.Name)
	}
}
