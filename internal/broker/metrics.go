package broker

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/metrics"
	"github.com/samsa-kafka/samsa/internal/server"
)

// lagSampleInterval is how often the group coordinator's lag snapshot is
// refreshed in the background (scrapes refresh it too, at most every
// group.LagMinInterval).
const lagSampleInterval = 10 * time.Second

// nodeMetrics is a node's registry and the hooks the request path feeds.
// It exists only when the HTTP listener is configured: with
// samsa.http.listen empty nothing is timed or observed, so the metrics
// cost nothing.
type nodeMetrics struct {
	reg      *prometheus.Registry
	requests *metrics.Requests
	onFlush  func(time.Duration)
}

// initMetrics creates the registry and the request hooks before the
// listener and the replicas are built, when the HTTP listener is on.
func (b *Broker) initMetrics(cfg *config.Broker) {
	if cfg.HTTPListen == "" || b.metrics != nil {
		return
	}
	reg := metrics.NewRegistry()
	b.metrics = &nodeMetrics{reg: reg, requests: metrics.NewRequests(reg), onFlush: metrics.FlushObserver(reg)}
}

// requestObserver is the Kafka listener's server.Observer, or nil.
func (b *Broker) requestObserver() server.Observer {
	if b.metrics == nil {
		return nil // a nil interface, not a nil *Requests
	}
	return b.metrics.requests
}

// flushHook is log.Options.OnFlush, or nil.
func (b *Broker) flushHook() func(time.Duration) {
	if b.metrics == nil {
		return nil
	}
	return b.metrics.onFlush
}

// errorHook is api.Deps.CountError, or nil.
func (b *Broker) errorHook() func(key, code int16) {
	if b.metrics == nil {
		return nil
	}
	return b.metrics.requests.CountError
}

// mountMetrics serves /metrics on mux: the node's registry with the
// collector of whatever this node runs (replicas and groups on a broker,
// the quorum member on a controller).
func (b *Broker) mountMetrics(mux *http.ServeMux) {
	b.initMetrics(b.cfg)
	if b.metrics == nil {
		return
	}
	src := metrics.Source{PartitionSeries: b.cfg.PartitionSeries, Image: b.pub.Delivered}
	if b.ctl != nil {
		src.Controller = b.ctl
	}
	if b.srv != nil {
		src.Server = b.srv.Stats
	}
	if b.api != nil {
		src.Parked = b.api.Parked
	}
	if b.replicas != nil {
		src.Partitions = b.replicas.Each
		src.ISRChanges = b.replicas.ISRChanges
	}
	if b.groups != nil {
		src.Lag = b.groups.LagSnapshot
		ctx, cancel := context.WithCancel(context.Background())
		b.loops.Add(1)
		go func() {
			defer b.loops.Done()
			<-b.stop
			cancel()
		}()
		b.loops.Add(1)
		go func() {
			defer b.loops.Done()
			b.groups.RunLagSampler(ctx, lagSampleInterval)
		}()
	}
	b.metrics.reg.MustRegister(metrics.NewCollector(src))
	mux.Handle("GET /metrics", metrics.Handler(b.metrics.reg))
}
