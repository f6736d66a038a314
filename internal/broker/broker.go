// Package broker assembles one samsa node: the controller, the local
// replicas, the API handlers and the listener. cmd/samsa runs it, and tests
// start it in-process.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/samsa-kafka/samsa/internal/api"
	"github.com/samsa-kafka/samsa/internal/auth"
	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/hotkeys"
	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/peer"
	"github.com/samsa-kafka/samsa/internal/replication"
	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/samsa-kafka/samsa/internal/txn"
)

// Broker is a running samsa node.
type Broker struct {
	cfg *config.Broker // static: server.properties, --set, flags
	// current is cfg with the dynamic broker configs of the metadata image
	// applied (see applyDynamic); what handlers and replicas resolve with.
	current atomic.Pointer[config.Broker]
	log     *slog.Logger
	lock    *os.File
	fs      log.FS       // under the data dir: meta.properties and the partition logs
	ln      net.Listener // the first client listener
	clients []clientListener
	// interBroker indexes clients: the listener other brokers use.
	interBroker int
	host        string // the inter-broker listener's advertised endpoint
	port        int32
	pub         *metadata.Publisher
	ctl         *controller.Controller // nil without the controller role
	mux         *controller.Mux        // the controller listener, when voters are configured
	ctlSrv      *server.Server
	client      *ctlClient
	cancel      context.CancelFunc // stops the lifecycle and metadata loops
	ctlServed   chan error

	knownCluster  atomic.Pointer[string]
	fenced        atomic.Bool
	ready         chan struct{}
	readiness     *readiness   // /readyz beyond start-up (readiness.go)
	metaCommitted atomic.Int64 // the active controller's metadata high watermark, as last fetched
	readyOnce     sync.Once
	fatalCh       chan error
	shutdownReq   chan struct{}
	lifecycleDone chan struct{}

	replicas *replication.Manager
	groups   *group.Coordinator
	peers    *peer.Pool
	txns     *txn.Coordinator
	srv      *server.Server
	api      *api.Handler
	served   chan error
	hotkeys  *hotkeys.Tracker // the console's hot keys; nil without an HTTP listener
	httpLn   net.Listener     // nil: no HTTP listener (samsa.http.listen empty)
	httpSrv  *http.Server
	metrics  *nodeMetrics  // nil without the HTTP listener (metrics.go)
	stop     chan struct{} // closed by Shutdown; stops background loops
	loops    sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// Options are what a caller may inject besides the config.
type Options struct {
	Logger *slog.Logger
	// LogFS replaces the filesystem under meta.properties and the
	// partition logs (fault tests).
	LogFS log.FS
}

// Start opens the data directory, recovers, joins (or forms) the metadata
// quorum, binds the listeners and serves. A node with the controller role
// runs its member of the Raft quorum; a node with the broker role serves
// clients and follows the committed metadata. On a one-node cluster (the
// default) Start returns once the broker is registered and unfenced, so
// clients can use it at once; in a larger cluster it returns as soon as
// it serves, and becomes ready when the quorum has formed (WaitReady).
func Start(cfg *config.Broker, opts Options) (_ *Broker, err error) {
	b := &Broker{cfg: cfg, log: opts.Logger, served: make(chan error, 1), stop: make(chan struct{}),
		ready: make(chan struct{}), readiness: newReadiness(), fatalCh: make(chan error, 1), ctlServed: make(chan error, 1)}
	b.current.Store(cfg)
	if b.log == nil {
		b.log = slog.Default()
	}
	cfg.LogIgnored(b.log)
	isBroker, isController := hasRole(cfg, "broker"), hasRole(cfg, "controller")
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
	b.fs = opts.LogFS
	if b.fs == nil {
		b.fs = log.OSFS()
	}
	known, err := loadMetaProperties(b.fs, cfg.DataDir, cfg.NodeID, cfg.ClusterID)
	if err != nil {
		return nil, err
	}
	b.knownCluster.Store(&known)
	b.pub = metadata.NewPublisher(metadata.Empty("", cfg.NodeID))
	cleanup = append(cleanup, b.pub.Close)
	// The cluster id comes from the quorum's first record; this node
	// writes it to meta.properties once, and stops if the quorum it joined
	// is another cluster than the one its data belongs to.
	b.pub.Subscribe(b.checkClusterID)

	var voters []controller.Voter
	for _, v := range cfg.QuorumVoters {
		voters = append(voters, controller.Voter{ID: v.ID, Addr: v.Addr()})
	}
	if isController {
		var mux *controller.Mux
		if len(voters) > 0 {
			if mux, err = b.listenController(cfg, voters); err != nil {
				return nil, err
			}
			cleanup = append(cleanup, func() { mux.Close() })
		}
		b.ctl, err = controller.Open(controller.Config{
			DataDir:                  cfg.MetadataDir,
			NodeID:                   cfg.NodeID,
			ClusterID:                known,
			Logger:                   b.log,
			Voters:                   voters,
			Mux:                      mux,
			DefaultPartitions:        cfg.NumPartitions,
			DefaultReplicationFactor: cfg.DefaultReplicationFactor,
			ValidateConfigs:          func(o map[string]string) error { return b.Config().ValidateTopicOverrides(o) },
			SessionTimeout:           time.Duration(cfg.BrokerSessionTimeoutMs) * time.Millisecond,
			SnapshotBytes:            cfg.MetadataSnapshotBytes,
			Publish:                  b.pub.Publish,
			Fatal:                    b.fatal,
			// The static values: the controller resolves the dynamic
			// ones from the metadata image itself.
			UncleanLeaderElection:        cfg.TopicDefaults.UncleanLeaderElection,
			LeaderImbalanceCheckInterval: time.Duration(cfg.LeaderImbalanceCheckIntervalSeconds) * time.Second,
		})
		if err != nil {
			return nil, err
		}
		cleanup = append(cleanup, func() { b.ctl.Close() })
		b.mux = mux
	} else if len(voters) == 0 {
		return nil, errors.New("broker: process.roles=broker needs controller.quorum.voters to find the controllers")
	}
	b.client = newCtlClient(b.ctl, voters, cfg.NodeID, time.Duration(cfg.BrokerSessionTimeoutMs)*time.Millisecond, b.log)
	cleanup = append(cleanup, b.client.close)
	if b.mux != nil {
		b.ctlSrv = server.New(server.Config{
			MaxRequestBytes: cfg.SocketRequestMaxBytes,
			Versions:        api.ControllerVersions(),
			IdleTimeout:     idleTimeout(cfg.ConnectionsMaxIdleMs),
			Logger:          b.log,
		}, api.New(api.Deps{
			NodeID: cfg.NodeID, Metadata: b.pub, Controller: b.ctl, Client: b.client,
			ControllerListener: true, Config: cfg, Current: b.Config, Logger: b.log,
		}))
		go func() { b.ctlServed <- b.ctlSrv.Serve(b.mux.Kafka()) }()
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	cleanup = append(cleanup, cancel)
	if !isBroker {
		b.pub.ReleaseAt(-1)
		b.readyOnce.Do(func() { close(b.ready) })
		if err := b.startHTTP(cfg, &cleanup); err != nil {
			return nil, err
		}
		b.log.Info("samsa controller started", "node_id", cfg.NodeID, "controller", b.mux.Kafka().Addr().String(), "http", b.HTTPAddr())
		return b, nil
	}
	if !isController {
		b.loops.Add(1)
		go b.followMetadata(ctx)
	}
	b.shutdownReq = make(chan struct{})
	b.lifecycleDone = make(chan struct{})
	if err := b.startBroker(cfg, opts, &cleanup); err != nil {
		return nil, err
	}
	b.loops.Add(1)
	go b.lifecycle(ctx, b.shutdownReq, b.lifecycleDone)
	if isController && len(voters) <= 1 {
		// One node: ready in moments, and callers expect to use it at once.
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		defer wcancel()
		if err := b.WaitReady(wctx); err != nil {
			return nil, fmt.Errorf("broker: the one-node cluster did not become ready: %w", err)
		}
	}
	return b, nil
}

// startBroker opens the replicas and the coordinators and serves clients.
func (b *Broker) startBroker(cfg *config.Broker, opts Options, cleanup *[]func()) error {
	var err error
	// SCRAM credentials are read from the image at each exchange, so one
	// set (or deleted) is in effect as soon as this broker applies it.
	scram := func(user string, m metadata.ScramMechanism) (metadata.ScramCredential, bool) {
		return b.pub.Delivered().ScramCredential(user, m)
	}
	if b.clients, err = listenClients(cfg, scram); err != nil {
		return err
	}
	*cleanup = append(*cleanup, func() {
		for _, l := range b.clients {
			l.ln.Close()
		}
	})
	b.ln = b.clients[0].ln
	for i, l := range b.clients {
		if l.name == cfg.InterBrokerListener {
			b.interBroker = i
		}
	}
	b.host, b.port = b.clients[b.interBroker].host, b.clients[b.interBroker].port
	b.initMetrics(cfg)
	// applyDynamic subscribes first: the replicas resolve with the
	// configuration it publishes for the same image.
	b.pub.Subscribe(b.applyDynamic)
	b.replicas = replication.New(replication.Config{
		NodeID:  cfg.NodeID,
		DataDir: cfg.DataDir,
		Logger:  b.log,
		Resolve: func(o map[string]string) partition.Config { return partitionConfig(b.Config().ResolveTopic(o)) },
		LogOptions: log.Options{FS: b.fs, Logger: b.log, OnFailure: func(dir string, err error) {
			// samsa has one log dir, and Kafka stops a broker whose
			// last log dir failed rather than lead partitions it can
			// no longer write; cmd/samsa shuts down on this (moving
			// leaderships to the ISR first) and exits non-zero.
			b.fatal(fmt.Errorf("broker: the log in %s failed, and this broker has no other log dir: %w", dir, err))
		}, OnFlush: b.flushHook()},
		LagTimeMax:           time.Duration(cfg.ReplicaLagTimeMaxMs) * time.Millisecond,
		HWCheckpointInterval: time.Duration(cfg.ReplicaHWCheckpointMs) * time.Millisecond,
		Fetch: replication.FetchConfig{
			MaxBytes:         cfg.ReplicaFetchMaxBytes,
			MinBytes:         cfg.ReplicaFetchMinBytes,
			ResponseMaxBytes: cfg.ReplicaFetchResponseMaxBytes,
			MaxWait:          time.Duration(cfg.ReplicaFetchWaitMaxMs) * time.Millisecond,
			Backoff:          time.Duration(cfg.ReplicaFetchBackoffMs) * time.Millisecond,
			NumFetchers:      int(cfg.NumReplicaFetchers),
		},
		BrokerEpoch:    b.client.brokerEpoch,
		AlterPartition: b.client.AlterPartition,
		Parallelism:    int(cfg.NumRecoveryThreads),
	})
	b.pub.Subscribe(b.replicas.Apply)
	*cleanup = append(*cleanup, func() { b.replicas.Close() })
	if err := b.replicas.Err(); err != nil {
		return fmt.Errorf("broker: open replicas: %w", err)
	}
	b.groups = group.New(cfg, groupMetadata{b.pub, b.client}, b.replicas, group.Options{Logger: b.log})
	b.groups.Start()
	*cleanup = append(*cleanup, func() { b.groups.Close() })
	// The transaction coordinator reaches partition leaders (markers)
	// and other coordinators (verification) through the peer clients.
	b.peers = peer.New(peer.Config{NodeID: cfg.NodeID, Logger: b.log})
	b.pub.Subscribe(b.peers.OnImage)
	*cleanup = append(*cleanup, b.peers.Close)
	b.txns = txn.New(cfg, groupMetadata{b.pub, b.client}, b.replicas, txn.Options{
		Logger:      b.log,
		ProducerIDs: txn.NewProducerIDs(cfg.NodeID, b.client.AllocateProducerIDs),
		Peers:       b.peers,
	})
	b.txns.Start()
	*cleanup = append(*cleanup, func() { b.txns.Close() })
	// TxnOffsetCommit verifies (and, v5+, adds) its partition with the
	// transaction coordinator (KIP-890).
	b.groups.SetVerifyTxn(b.txns.VerifyTxn)

	if cfg.HTTPListen != "" {
		b.hotkeys = hotkeys.NewTracker()
	}
	b.api = api.New(api.Deps{
		NodeID:     cfg.NodeID,
		Host:       b.host,
		Port:       b.port,
		Metadata:   b.pub,
		Controller: b.ctl,
		Client:     b.client,
		Replicas:   b.replicas,
		Config:     cfg,
		Current:    b.Config,
		Logger:     b.log,
		Groups:     b.groups,
		Txns:       b.txns,
		CountError: b.errorHook(),
		HotKeys:    b.hotkeys,
	})
	b.srv = server.New(server.Config{
		MaxRequestBytes: cfg.SocketRequestMaxBytes,
		Versions:        api.Versions(),
		IdleTimeout:     idleTimeout(cfg.ConnectionsMaxIdleMs),
		FailedAuthDelay: time.Duration(cfg.FailedAuthenticationDelayMs) * time.Millisecond,
		Logger:          b.log,
		Observer:        b.requestObserver(),
	}, b.api)
	// Clients are served once the broker is registered, unfenced and its
	// image shows it (its leaderships among them), as Kafka enables its
	// data-plane listeners only after start-up; until then connections
	// wait in the listen backlog.
	go func() {
		select {
		case <-b.ready:
			b.served <- b.serveClients()
		case <-b.shutdownReq:
			for _, l := range b.clients {
				l.ln.Close()
			}
			b.served <- nil
		}
	}()
	b.loops.Add(2)
	// flush.ms for idle partitions; retention.ms and retention.bytes.
	go b.everyPartition(flushInterval(cfg.LogFlushSchedulerIntervalMs), "flush", (*partition.Partition).FlushIfDue)
	go b.everyPartition(time.Duration(cfg.LogRetentionCheckIntervalMs)*time.Millisecond, "retention",
		func(p *partition.Partition) error { _, err := p.DeleteOldSegments(time.Now()); return err })
	// producer.id.expiration.ms, checked every 10 minutes (Kafka's
	// producer.id.expiration.check.interval.ms default; not configurable).
	b.loops.Add(1)
	go b.everyPartition(producerExpirationCheck, "producer expiration", func(p *partition.Partition) error {
		p.ExpireProducers(time.Now(), time.Duration(b.Config().ProducerIDExpirationMs)*time.Millisecond)
		return nil
	})
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
	if err := b.startHTTP(cfg, cleanup); err != nil {
		return err
	}
	var listen, adv []string
	for _, l := range b.clients {
		listen = append(listen, l.name+"://"+l.ln.Addr().String())
		adv = append(adv, l.name+"://"+net.JoinHostPort(l.host, strconv.Itoa(int(l.port))))
	}
	b.log.Info("samsa broker started", "node_id", cfg.NodeID, "listen", strings.Join(listen, ","),
		"advertised", strings.Join(adv, ","), "http", b.HTTPAddr(), "data_dir", cfg.DataDir)
	return nil
}

// clientListener is one bound client listener and what it advertises.
type clientListener struct {
	name string
	ln   net.Listener
	host string
	port int32
	// sasl authenticates a SASL_PLAINTEXT listener's connections; nil on
	// a PLAINTEXT one.
	sasl *auth.Mechanisms
}

// listenClients binds every client (non-controller) listener, in the
// order configured. On an error it closes what it bound.
func listenClients(cfg *config.Broker, scram auth.ScramLookup) ([]clientListener, error) {
	var out []clientListener
	fail := func(err error) ([]clientListener, error) {
		for _, l := range out {
			l.ln.Close()
		}
		return nil, err
	}
	for _, l := range cfg.Listeners {
		if l.Controller {
			continue
		}
		ln, err := net.Listen("tcp", l.Addr())
		if err != nil {
			return fail(fmt.Errorf("broker: listen %s (%s): %w", l.Addr(), l.Name, err))
		}
		out = append(out, clientListener{name: l.Name, ln: ln})
		if l.Protocol == "SASL_PLAINTEXT" {
			if out[len(out)-1].sasl, err = auth.NewMechanisms(l.SASLMechanisms, l.PlainUsers, scram); err != nil {
				return fail(fmt.Errorf("broker: listener %s: %w", l.Name, err))
			}
		}
		adv := ""
		if l.AdvertisedHost != "" || l.AdvertisedPort != 0 {
			adv = l.AdvertisedAddr()
		}
		c := &out[len(out)-1]
		if c.host, c.port, err = advertised(adv, ln.Addr().(*net.TCPAddr)); err != nil {
			return fail(err)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("broker: no client listener in listeners")
	}
	return out, nil
}

// serveClients serves every client listener until Shutdown and returns the
// first accept failure, if any. A listener that fails makes the node
// unready at once (its clients cannot connect), while the others serve on.
func (b *Broker) serveClients() error {
	errs := make(chan error, len(b.clients))
	for _, l := range b.clients {
		go func() {
			var err error
			if l.sasl != nil {
				err = b.srv.ServeSASL(l.ln, l.name, l.sasl)
			} else {
				err = b.srv.ServeListener(l.ln, l.name)
			}
			if err != nil {
				b.readiness.listenerStopped(fmt.Errorf("listener %s: %w", l.name, err))
			}
			errs <- err
		}()
	}
	var first error
	for range b.clients {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first == nil {
		b.readiness.listenerStopped(nil)
	}
	return first
}

// listenerEndpoints are the client listeners' advertised endpoints, the
// inter-broker one first, for the broker's registration.
func (b *Broker) listenerEndpoints() []metadata.Endpoint {
	endpoint := func(l clientListener) metadata.Endpoint {
		return metadata.Endpoint{Name: l.name, Host: l.host, Port: l.port}
	}
	out := []metadata.Endpoint{endpoint(b.clients[b.interBroker])}
	for i, l := range b.clients {
		if i != b.interBroker {
			out = append(out, endpoint(l))
		}
	}
	return out
}

// producerExpirationCheck is how often expired producers are forgotten.
const producerExpirationCheck = 10 * time.Minute

// groupMetadata is what the group coordinator reads and asks: this node's
// metadata view, and topic creation through the active controller.
type groupMetadata struct {
	*metadata.Publisher
	*ctlClient
}

// listenController binds the controller listener this node's voter entry
// names and splits it between Raft and Kafka requests.
func (b *Broker) listenController(cfg *config.Broker, voters []controller.Voter) (*controller.Mux, error) {
	var self *controller.Voter
	for i := range voters {
		if voters[i].ID == cfg.NodeID {
			self = &voters[i]
		}
	}
	if self == nil {
		return nil, fmt.Errorf("broker: node.id %d has the controller role but is not in controller.quorum.voters", cfg.NodeID)
	}
	addr := ""
	for _, l := range cfg.Listeners {
		if l.Controller {
			addr = l.Addr()
			break
		}
	}
	if addr == "" {
		return nil, errors.New("broker: the controller role needs a controller listener (listeners=...,CONTROLLER://HOST:PORT, or --controller-listen)")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("broker: controller listener %s: %w", addr, err)
	}
	adv, err := net.ResolveTCPAddr("tcp", self.Addr)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("broker: controller.quorum.voters entry %s: %w", self.Addr, err)
	}
	return controller.NewMux(ln, adv), nil
}

func hasRole(cfg *config.Broker, role string) bool {
	if len(cfg.ProcessRoles) == 0 {
		return true
	}
	for _, r := range cfg.ProcessRoles {
		if r == role {
			return true
		}
	}
	return false
}

// WaitReady waits until the broker is registered and unfenced (a
// controller-only node is ready at once).
func (b *Broker) WaitReady(ctx context.Context) error {
	select {
	case <-b.ready:
		return nil
	case err := <-b.fatalCh:
		b.fatalCh <- err
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Fatal delivers the error that made this node stop serving (a metadata
// log it cannot apply, another cluster's data); cmd/samsa exits on it.
func (b *Broker) Fatal() <-chan error { return b.fatalCh }

func (b *Broker) fatal(err error) {
	b.log.Error("node cannot continue", "err", err)
	select {
	case b.fatalCh <- err:
	default:
	}
}

// clusterID is the cluster id this node knows ("" before the first one).
func (b *Broker) clusterID() string { return *b.knownCluster.Load() }

// checkClusterID writes the quorum's cluster id to meta.properties the
// first time this node learns it, and refuses another one.
func (b *Broker) checkClusterID(_, next *metadata.Image) {
	if next.ClusterID == "" {
		return
	}
	known := b.clusterID()
	switch {
	case known == next.ClusterID:
	case known == "":
		if err := WriteMetaProperties(b.fs, b.cfg.DataDir, MetaProperties{ClusterID: next.ClusterID, NodeID: b.cfg.NodeID}); err != nil {
			b.fatal(err)
			return
		}
		id := next.ClusterID
		b.knownCluster.Store(&id)
	default:
		b.fatal(fmt.Errorf("broker: the metadata quorum is cluster %s, but %s belongs to cluster %s", next.ClusterID, b.cfg.DataDir, known))
	}
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

// ListenerAddr is the address the client listener named name is bound
// to, "" if there is none.
func (b *Broker) ListenerAddr(name string) string {
	for _, l := range b.clients {
		if l.name == name {
			return l.ln.Addr().String()
		}
	}
	return ""
}

// Image is the metadata image this broker serves from.
func (b *Broker) Image() *metadata.Image { return b.pub.Delivered() }

// FollowerFetchStats reports the follower fetches this broker served as a
// leader (full and incremental, KIP-227).
func (b *Broker) FollowerFetchStats() api.FollowerFetchStats { return b.api.FollowerFetchStats() }

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
	var errs []error
	errs = append(errs, b.shutdownHTTP(ctx))
	if b.srv != nil {
		// Controlled shutdown first: the controller moves this broker's
		// leaderships away while it still serves, so clients move over
		// after one metadata refresh rather than a timeout.
		close(b.shutdownReq)
		<-b.lifecycleDone
		b.api.BeginShutdown()
		errs = append(errs, b.srv.Shutdown(ctx))
		if err := <-b.served; err != nil {
			errs = append(errs, err)
		}
	}
	b.cancel()
	close(b.stop)
	b.loops.Wait()
	if b.srv != nil {
		errs = append(errs, b.txns.Close())
		b.peers.Close()
		errs = append(errs, b.groups.Close(), b.replicas.Close())
	}
	if b.ctlSrv != nil {
		errs = append(errs, b.ctlSrv.Shutdown(ctx))
		if err := <-b.ctlServed; err != nil {
			errs = append(errs, err)
		}
	}
	if b.ctl != nil {
		errs = append(errs, b.ctl.Close())
	}
	if b.mux != nil {
		errs = append(errs, b.mux.Close())
	}
	b.client.close()
	b.pub.Close()
	errs = append(errs, b.lock.Close())
	err := errors.Join(errs...)
	if err != nil {
		b.log.Error("shutdown finished with errors", "err", err)
	} else {
		b.log.Info("samsa node stopped cleanly")
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
