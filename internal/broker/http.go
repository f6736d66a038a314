package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// startHTTP binds samsa.http.listen and serves /healthz, /readyz, /metrics
// and the web console on it. An empty address serves nothing. The default
// address being taken (a second samsa on one machine) is not fatal: the
// Kafka listener is what clients need, so the node starts without the HTTP
// one and says so; an address the operator chose must bind.
func (b *Broker) startHTTP(cfg *config.Broker, cleanup *[]func()) error {
	if cfg.HTTPListen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		if cfg.HTTPListenDefault && errors.Is(err, syscall.EADDRINUSE) {
			b.log.Warn("HTTP listener not started: its default address is in use; set samsa.http.listen (--http) to another address",
				"addr", cfg.HTTPListen)
			return nil
		}
		return fmt.Errorf("broker: HTTP listener %s (samsa.http.listen): %w", cfg.HTTPListen, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", b.serveReadyz)
	b.mountMetrics(mux)
	b.mountConsole(mux, ln.Addr())
	b.httpLn = ln
	b.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.httpSrv.Serve(ln) }()
	*cleanup = append(*cleanup, func() { b.httpSrv.Close() })
	return nil
}

// HTTPAddr is the address the HTTP listener is bound to, or "" when there
// is none.
func (b *Broker) HTTPAddr() string {
	if b.httpLn == nil {
		return ""
	}
	return b.httpLn.Addr().String()
}

// shutdownHTTP stops the HTTP listener first, so that a probe sees the node
// leave before its Kafka listener does.
func (b *Broker) shutdownHTTP(ctx context.Context) error {
	if b.httpSrv == nil {
		return nil
	}
	if err := b.httpSrv.Shutdown(ctx); err != nil {
		b.httpSrv.Close()
		return err
	}
	return nil
}

// serveReadyz answers a readiness probe: 200 once the node is registered
// and unfenced with its image applied, not shutting down, and leading only
// partitions whose local replica serves as leader; 503 with the reasons
// otherwise, one a line.
func (b *Broker) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	reasons := b.notReady()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(reasons) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, strings.Join(reasons, "\n"))
		return
	}
	fmt.Fprintln(w, "ready")
}

func (b *Broker) notReady() []string {
	var reasons []string
	select {
	case <-b.ready:
	default:
		return []string{"not registered with the controller quorum yet"}
	}
	select {
	case <-b.stop:
		return []string{"shutting down"}
	default:
	}
	if b.shutdownReq != nil {
		select {
		case <-b.shutdownReq:
			return []string{"shutting down"}
		default:
		}
	}
	b.observeMetadata()
	session := time.Duration(b.cfg.BrokerSessionTimeoutMs) * time.Millisecond
	if b.replicas == nil {
		// A controller-only node: ready while its quorum has a leader and
		// it applies what the quorum commits.
		if b.ctl.Leader() < 0 {
			reasons = append(reasons, "no controller quorum leader known")
		}
		return append(reasons, b.readiness.reasons(time.Now(), session, false)...)
	}
	reasons = append(reasons, b.readiness.reasons(time.Now(), session, true)...)
	if b.fenced.Load() {
		reasons = append(reasons, "fenced by the controller")
	}
	img := b.pub.Delivered()
	offline := 0
	for name, t := range img.Topics {
		for _, p := range t.Partitions {
			if p.Leader != b.cfg.NodeID {
				continue
			}
			if r := b.replicas.Partition(name, p.Index); r == nil || r.Role() != partition.RoleLeader {
				offline++
			}
		}
	}
	if offline > 0 {
		reasons = append(reasons, fmt.Sprintf("%d partitions this node leads in the metadata are not served as leader here", offline))
	}
	return reasons
}

// observeMetadata tells the readiness check how far this node's delivered
// metadata is from the quorum's: a controller compares with its own
// applied image, a broker-only node with the active controller's high
// watermark as its last metadata fetch saw it.
func (b *Broker) observeMetadata() {
	committed := b.metaCommitted.Load()
	if b.ctl != nil {
		committed = b.ctl.Image().Offset
	}
	b.readiness.observeMetadata(time.Now(), b.pub.Delivered().Offset, committed)
}
