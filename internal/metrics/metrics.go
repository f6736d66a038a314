// Package metrics exposes a samsa node's state as Prometheus metrics on a
// private registry (never the global one): the Go runtime and the process,
// per-request latency histograms (Requests, which the connection layer
// feeds through server.Observer), and collectors that read, at scrape
// time, the counters and gauges the other packages keep as plain atomics
// (partition.Traffic, server.Stats, the replica manager's, the
// controller's, the group coordinator's lag snapshots). Nothing on the
// request path takes a lock or allocates for a metric; the cost of a
// metric is paid by the scrape. docs/metrics.md lists every metric with
// the Kafka JMX metric it stands for.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every samsa metric.
const namespace = "samsa"

// NewRegistry returns a registry with the Go runtime and process
// collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler serves r in the Prometheus text format (or OpenMetrics when
// asked), reporting a collector's failure in the response rather than
// failing the scrape.
func Handler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
