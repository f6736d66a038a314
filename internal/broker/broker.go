// Package broker assembles one samsa node: the controller, the local
// replicas, the API handlers and the listener. cmd/samsa runs it, and tests
// start it in-process.
package broker

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/samsa-kafka/samsa/internal/api"
	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/replication"
	"github.com/samsa-kafka/samsa/internal/server"
)

// Broker is a running samsa node.
type Broker struct {
	cfg *config.Broker // static: server.properties, --set, flags
	// current is cfg with the dynamic broker configs of the metadata image
	// applied (see applyDynamic); what handlers and replicas resolve with.
	current  atomic.Pointer[config.Broker]
	log      *slog.Logger
	lock     *os.File
	ln       net.Listener
	ctl      *controller.Controller
	replicas *replication.Manager
	groups   *group.Coordinator
	srv      *server.Server
	api      *api.Handler
	served   chan error
	stop     chan struct{} // closed by Shutdown; stops background loops
	loops    sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// Options are what a caller may inject besides the config.
type Options struct {
	Logger *slog.Logger
	// LogFS replaces the filesystem under the partition logs (fault tests).
	LogFS log.FS
}

// Start opens the data directory, recovers, binds the listener and serves.
func Start(cfg *config.Broker, opts Options) (_ *Broker, err error) {
	b := &Broker{cfg: cfg, log: opts.Logger, served: make(chan error, 1), stop: make(chan struct{})}
	b.current.Store(cfg)
	if b.log == nil {
		b.log = slog.Default()
	}
	cfg.LogIgnored(b.log)
	if err := singleNode(cfg); err != nil {
		return nil, err
	}
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: data dir: %w", err)
	}
	if b.lock, err = lockDir(cfg.DataDir); err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { b.lock.Close() })
	clusterID, err := loadMetaProperties(cfg.DataDir, cfg.NodeID, cfg.ClusterID)
	if err != nil {
		return nil, err
	}

	b.ln, err = net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("broker: listen %s: %w", cfg.ListenAddr, err)
	}
	cleanup = append(cleanup, func() { b.ln.Close() })
	host, port, err := advertised(cfg.AdvertisedAddr, b.ln.Addr().(*net.TCPAddr))
	if err != nil {
		return nil, err
	}

	b.ctl, err = controller.Open(controller.Config{
		DataDir:                  cfg.DataDir,
		NodeID:                   cfg.NodeID,
		ClusterID:                clusterID,
		Logger:                   b.log,
		DefaultPartitions:        cfg.NumPartitions,
		DefaultReplicationFactor: cfg.DefaultReplicationFactor,
		ValidateConfigs:          func(o map[string]string) error { return b.Config().ValidateTopicOverrides(o) },
	})
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { b.ctl.Close() })
	if err := b.ctl.RegisterBroker(cfg.NodeID, host, port); err != nil {
		return nil, err
	}

	// applyDynamic subscribes first: the replicas resolve with the
	// configuration it publishes for the same image.
	b.ctl.Subscribe(b.applyDynamic)
	b.replicas = replication.New(replication.Config{
		NodeID:     cfg.NodeID,
		DataDir:    cfg.DataDir,
		Logger:     b.log,
		Resolve:    func(o map[string]string) partition.Config { return partitionConfig(b.Config().ResolveTopic(o)) },
		LogOptions: log.Options{FS: opts.LogFS, Logger: b.log},
	})
	b.ctl.Subscribe(b.replicas.Apply)
	cleanup = append(cleanup, func() { b.replicas.Close() })
	if err := b.replicas.Err(); err != nil {
		return nil, fmt.Errorf("broker: open replicas: %w", err)
	}
	b.groups = group.New(cfg, b.ctl, b.replicas, group.Options{Logger: b.log})
	b.groups.Start()
	cleanup = append(cleanup, func() { b.groups.Close() })

	b.api = api.New(api.Deps{
		NodeID:     cfg.NodeID,
		Host:       host,
		Port:       port,
		Controller: b.ctl,
		Replicas:   b.replicas,
		Config:     cfg,
		Current:    b.Config,
		Logger:     b.log,
		Groups:     b.groups,
	})
	b.srv = server.New(server.Config{
		MaxRequestBytes: cfg.SocketRequestMaxBytes,
		Versions:        api.Versions(),
		IdleTimeout:     idleTimeout(cfg.ConnectionsMaxIdleMs),
		Logger:          b.log,
	}, b.api)
	go func() { b.served <- b.srv.Serve(b.ln) }()
	b.loops.Add(2)
	// flush.ms for idle partitions; retention.ms and retention.bytes.
	go b.everyPartition(flushInterval(cfg.LogFlushSchedulerIntervalMs), "flush", (*partition.Partition).FlushIfDue)
	go b.everyPartition(time.Duration(cfg.LogRetentionCheckIntervalMs)*time.Millisecond, "retention",
		func(p *partition.Partition) error { _, err := p.DeleteOldSegments(time.Now()); return err })
	// The log cleaner: one loop (log.cleaner.threads > 1 runs as 1), every
	// log.cleaner.backoff.ms; a pass runs only where compaction is due.
	if cfg.CleanerEnable && cfg.CleanerThreads > 0 {
		b.loops.Add(1)
		go b.everyPartition(time.Duration(max(cfg.CleanerBackoffMs, 10))*time.Millisecond, "log cleaner",
			func(p *partition.Partition) error {
				_, err := p.Compact(time.Now())
				if errors.Is(err, log.ErrCompactionAborted) {
					return nil // the log changed meanwhile; the next pass retries
				}
				return err
			})
	}
	b.log.Info("samsa broker started", "node_id", cfg.NodeID, "listen", b.ln.Addr().String(),
		"advertised", net.JoinHostPort(host, strconv.Itoa(int(port))), "data_dir", cfg.DataDir, "cluster_id", clusterID)
	return b, nil
}

// Config is the configuration in effect: the static one with the dynamic
// broker configs (IncrementalAlterConfigs on a broker resource) applied.
func (b *Broker) Config() *config.Broker { return b.current.Load() }

// applyDynamic rebuilds the effective configuration when the dynamic broker
// configs of this broker change. Stored values were validated when set; if
// they no longer build (a samsa upgrade tightened a rule), the broker keeps
// its previous configuration and says why rather than refusing to start.
func (b *Broker) applyDynamic(prev, next *metadata.Image) {
	pd, pb := prev.DynamicBrokerConfigs(b.cfg.NodeID)
	nd, nb := next.DynamicBrokerConfigs(b.cfg.NodeID)
	if maps.Equal(pd, nd) && maps.Equal(pb, nb) {
		return
	}
	c, err := b.cfg.WithDynamic(nd, nb)
	if err != nil {
		b.log.Error("dynamic broker configs not applied", "err", err)
		return
	}
	b.current.Store(c)
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// Server exposes the connection layer (its Stats in tests).
func (b *Broker) Server() *server.Server { return b.srv }

// Shutdown stops accepting, finishes in-flight requests, then flushes and
// closes every log (writing the clean-shutdown markers) and the metadata log.
// Later calls return the first call's result.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.shutdownOnce.Do(func() { b.shutdownErr = b.shutdown(ctx) })
	return b.shutdownErr
}

func (b *Broker) shutdown(ctx context.Context) error {
	b.api.BeginShutdown()
	errs := []error{b.srv.Shutdown(ctx)}
	if err := <-b.served; err != nil {
		errs = append(errs, err)
	}
	close(b.stop)
	b.loops.Wait()
	errs = append(errs, b.groups.Close(), b.replicas.Close(), b.ctl.Close(), b.lock.Close())
	err := errors.Join(errs...)
	if err != nil {
		b.log.Error("shutdown finished with errors", "err", err)
	} else {
		b.log.Info("samsa broker stopped cleanly")
	}
	return err
}

// lockDir takes an exclusive lock on the data directory so two brokers
// never share one (they would corrupt each other's logs).
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("broker: lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("broker: data dir %s is in use by another process: %w", dir, err)
	}
	return f, nil
}

// loadMetaProperties reads (or on first start writes) meta.properties as
// Kafka does: the cluster id is fixed forever (the configured cluster.id,
// or a random one), and a data dir of another node or another cluster is
// refused rather than silently adopted.
func loadMetaProperties(dir string, nodeID int32, configured string) (string, error) {
	path := filepath.Join(dir, "meta.properties")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		id := configured
		if id == "" {
			var raw [16]byte
			if _, err := rand.Read(raw[:]); err != nil {
				return "", err
			}
			id = base64.RawURLEncoding.EncodeToString(raw[:])
		}
		content := fmt.Sprintf("version=1\ncluster.id=%s\nnode.id=%d\n", id, nodeID)
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("broker: %w", err)
		}
		if err := syncFile(tmp); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, path); err != nil {
			return "", fmt.Errorf("broker: %w", err)
		}
		return id, syncFile(dir)
	}
	if err != nil {
		return "", fmt.Errorf("broker: %w", err)
	}
	props := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			props[k] = v
		}
	}
	if props["node.id"] != strconv.Itoa(int(nodeID)) {
		return "", fmt.Errorf("broker: %s belongs to node.id %s, not %d", path, props["node.id"], nodeID)
	}
	if props["cluster.id"] == "" {
		return "", fmt.Errorf("broker: %s has no cluster.id", path)
	}
	if configured != "" && configured != props["cluster.id"] {
		return "", fmt.Errorf("broker: %s belongs to cluster %s, not the configured cluster.id %s", path, props["cluster.id"], configured)
	}
	return props["cluster.id"], nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("broker: sync %s: %w", path, err)
	}
	return nil
}

// advertised resolves the advertised endpoint: the configured one, with the
// bound port filled in when it is empty or 0 (tests listen on :0).
func advertised(addr string, bound *net.TCPAddr) (string, int32, error) {
	if addr == "" {
		addr = bound.String()
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("broker: advertised address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("broker: advertised address %q: bad port", addr)
	}
	if port == 0 {
		port = bound.Port
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = bound.IP.String()
		if bound.IP.IsUnspecified() {
			host = "127.0.0.1"
		}
	}
	return host, int32(port), nil
}

// partitionConfig maps resolved topic configs onto what a partition runs with.
func partitionConfig(t config.Topic) partition.Config {
	compact := false
	for _, p := range t.CleanupPolicy {
		if p == "compact" {
			compact = true
		}
	}
	return partition.Config{
		Log: log.Config{
			SegmentBytes:       t.SegmentBytes,
			SegmentMs:          t.SegmentMs,
			IndexIntervalBytes: t.IndexIntervalBytes,
			SegmentIndexBytes:  t.SegmentIndexBytes,
			FlushMessages:      t.FlushMessages,
			FlushMs:            t.FlushMs,
			FileDeleteDelayMs:  t.FileDeleteDelayMs,
			Preallocate:        t.Preallocate,
		},
		MaxMessageBytes:      t.MaxMessageBytes,
		LogAppendTime:        t.TimestampType == "LogAppendTime",
		TimestampBeforeMaxMs: t.TimestampBeforeMaxMs,
		TimestampAfterMaxMs:  t.TimestampAfterMaxMs,
		MinInsyncReplicas:    t.MinInsyncReplicas,
		Compact:              compact,
		CompressionType:      t.CompressionType,
		Delete:               t.Delete(),
		RetentionMs:          t.RetentionMs,
		RetentionBytes:       t.RetentionBytes,

		DeleteRetentionMs:      t.DeleteRetentionMs,
		MinCompactionLagMs:     t.MinCompactionLagMs,
		MaxCompactionLagMs:     t.MaxCompactionLagMs,
		MinCleanableDirtyRatio: t.MinCleanableDirtyRatio,
	}
}

// singleNode refuses a configuration that names other controllers: until
// the Raft quorum lands, starting anyway would silently make each node its
// own one-node cluster, and clients would see split brains.
func singleNode(cfg *config.Broker) error {
	for _, v := range cfg.QuorumVoters {
		if v.ID != cfg.NodeID {
			return fmt.Errorf("broker: controller.quorum.voters names node %d: multi-node clusters are not supported yet (this build runs one node, its own controller)", v.ID)
		}
	}
	return nil
}

// idleTimeout maps connections.max.idle.ms (negative: never) to the server's
// IdleTimeout; "never" is a year, far beyond any client's lifetime and still
// safe to add to time.Now.
func idleTimeout(ms int64) time.Duration {
	if ms < 0 {
		return 365 * 24 * time.Hour
	}
	return time.Duration(ms) * time.Millisecond
}

// flushInterval is how often the flusher checks flush.ms: Kafka's
// log.flush.scheduler.interval.ms, but at least once a second, so a topic's
// flush.ms holds for idle partitions even with Kafka's default scheduler
// interval (never), which would silently ignore it.
func flushInterval(ms int64) time.Duration {
	return time.Duration(min(max(ms, 10), 1000)) * time.Millisecond
}

// everyPartition runs fn on every local partition each interval until the
// broker stops. It copies the partition list first so the replica
// manager's lock is not held across file work (an fsync, a segment
// deletion), and checks for shutdown between partitions. ErrClosed means
// the topic was deleted meanwhile and is not worth a log line.
func (b *Broker) everyPartition(every time.Duration, what string, fn func(*partition.Partition) error) {
	defer b.loops.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		var parts []*partition.Partition
		b.replicas.Each(func(p *partition.Partition) { parts = append(parts, p) })
		for _, p := range parts {
			select {
			case <-b.stop:
				return
			default:
			}
			if err := fn(p); err != nil && !errors.Is(err, log.ErrClosed) {
				b.log.Error(what+" failed", "topic", p.Topic, "partition", p.Index, "err", err)
			}
		}
	}
}
