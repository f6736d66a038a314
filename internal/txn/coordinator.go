// Package txn is Kafka's transaction coordinator (KIP-98, KIP-447,
// KIP-890): the state of every transactional id, its transitions as
// InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn and EndTxn drive
// them, the transaction markers written to the partitions of a transaction
// when it ends, the abort of transactions past their timeout, and the
// expiry of idle transactional ids. It also hands out producer ids
// (ProducerIDs) and answers partition leaders' verification of a
// transactional produce (KIP-890 part 1: VerifyPartitions, and Verifier
// for another broker's coordinator).
//
// A transactional id lives on partition abs(javaHashCode(id)) % partitions
// of the compacted internal topic __transaction_state, and this node
// coordinates the ids of the partitions it leads, one shard per partition
// and leader epoch, run by the coordinator runtime (package coordinator).
// The shard's leader epoch is the coordinator epoch the markers carry, so
// a partition leader refuses markers from a coordinator that was replaced.
//
// # The state machine and the log
//
// Every transition is a TransactionLogValue record (kmsg's TxnMetadataValue,
// the format Kafka writes, so Kafka's tools decode it), written as leader
// in the shard's epoch with acks=all, and applied to the in-memory state
// only once committed (the shard writer's completion), so the state is
// always the replay of the committed log. While a transition is being
// written the id has a pending transit (Kafka's pendingState) and every
// request that would start another answers CONCURRENT_TRANSACTIONS.
//
// EndTxn writes the decision (PrepareCommit or PrepareAbort) and answers
// once it is committed; markers then go to the leaders of the
// transaction's partitions (WriteTxnMarkers, retried until every partition
// has one), and CompleteCommit or CompleteAbort is written after them. A
// coordinator that takes over a partition (failover, restart, new leader
// epoch) replays it, finds the decisions whose completion is not in the
// log, and sends their markers again: a decision, once committed, is
// never lost nor flipped, and a marker written twice is harmless.
//
// # Concurrency
//
// Each shard has one mutex over its transactional ids; a request decides
// and appends under it and waits for the commit outside it. Lock order:
//
//	controller.mu (onImage) → coordinator.Runtime.mu → shard.mu →
//	coordinator.Writer.mu → partition.mu (Append)
//
// A write's completion runs on the shard's writer goroutine with no writer
// lock held and takes shard.mu itself. Coordinator.mu guards only the
// start, the close and the periodic timers.
//
// # Goroutines
//
// The coordinator owns its runtime (each shard's loader and writer), the
// marker senders (one per ended transaction, stopped when its shard is
// unloaded), and the two periodic sweeps (timed-out transactions, expired
// ids); Close stops them all and waits for them.
package txn

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/metadata"
)

// TopicName is the internal topic holding the transactions' state.
const TopicName = "__transaction_state"

// Metadata and Replicas are what the coordinator needs from the
// controller and the replica manager: the same as the group coordinator.
type (
	Metadata = group.Metadata
	Replicas = group.Replicas
)

// Options are what a caller may inject besides the broker config.
type Options struct {
	Logger *slog.Logger
	// Clock replaces the wall clock and its timers (tests).
	Clock Clock
	// ProducerIDs hands out producer ids; required.
	ProducerIDs *ProducerIDs
	// Markers sends WriteTxnMarkers to partition leaders; PeerMarkers(Peers)
	// when nil.
	Markers MarkerSender
	// Peers reaches the other brokers: the markers, and the verification
	// of a transactional produce by another broker's coordinator.
	Peers Peers
	// MarkerBackoff is the first pause before markers that failed are sent
	// again; it doubles up to a second (100 ms when zero).
	MarkerBackoff time.Duration
	// TransactionVersion replaces the finalized transaction.version the
	// coordinator reads from its metadata image (tests).
	TransactionVersion func() int16
}

// settings are the broker configs the coordinator runs with, read once.
type settings struct {
	nodeID            int32
	numPartitions     int32
	replicationFactor int16
	minISR            int32
	segmentBytes      int32
	maxTimeout        time.Duration
	idExpiration      time.Duration
	abortInterval     time.Duration
	removeInterval    time.Duration
	offsetsPartitions int32
}

func settingsFrom(b *config.Broker) settings {
	return settings{
		nodeID:            b.NodeID,
		numPartitions:     b.TransactionStateLogNumPartitions,
		replicationFactor: b.TransactionStateLogReplicationFactor,
		minISR:            b.TransactionStateLogMinISR,
		segmentBytes:      b.TransactionStateLogSegmentBytes,
		maxTimeout:        ms(b.TransactionMaxTimeoutMs),
		idExpiration:      ms(b.TransactionalIDExpirationMs),
		abortInterval:     ms(b.TransactionAbortTimedOutCleanupIntervalMs),
		removeInterval:    ms(b.TransactionRemoveExpiredCleanupIntervalMs),
		offsetsPartitions: b.OffsetsTopicNumPartitions,
	}
}

func ms[T int32 | int64](v T) time.Duration { return time.Duration(v) * time.Millisecond }

// Coordinator is the transaction coordinator of one broker.
type Coordinator struct {
	cfg     settings
	md      Metadata
	reps    Replicas
	log     *slog.Logger
	clock   Clock
	pids    *ProducerIDs
	markers MarkerSender
	peers   Peers
	backoff time.Duration
	tv      func() int16 // nil: the image's transaction.version

	rt     *coordinator.Runtime[*shard]
	topic  *coordinator.Topic             // __transaction_state, created on the first FindCoordinator
	img    atomic.Pointer[metadata.Image] // the last image delivered
	ctx    context.Context                // ends at Close: marker senders, waits
	cancel context.CancelFunc
	wg     sync.WaitGroup // marker senders and timer callbacks

	mu      sync.Mutex
	started bool
	closed  bool
	timers  []Timer
}

// shard is the transactional ids of one __transaction_state partition this
// node leads, in one leader epoch (rt: its partition, epoch and writer).
type shard struct {
	rt     *coordinator.Shard
	ctx    context.Context // ends when the shard is unloaded
	cancel context.CancelFunc

	mu       sync.Mutex
	loaded   bool // replayed; ids may be served
	unloaded bool // no longer ours (or closed): NOT_COORDINATOR
	txns     map[string]*txnMeta
}

// New returns a coordinator for the broker config b. Start it once the
// local replicas are open.
func New(b *config.Broker, md Metadata, reps Replicas, opts Options) *Coordinator {
	c := &Coordinator{
		cfg:     settingsFrom(b),
		md:      md,
		reps:    reps,
		log:     opts.Logger,
		clock:   opts.Clock,
		pids:    opts.ProducerIDs,
		markers: opts.Markers,
		peers:   opts.Peers,
		backoff: opts.MarkerBackoff,
		tv:      opts.TransactionVersion,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("component", "transaction-coordinator")
	if c.clock == nil {
		c.clock = wallClock{}
	}
	if c.backoff <= 0 {
		c.backoff = 100 * time.Millisecond
	}
	if c.markers == nil {
		c.markers = PeerMarkers(c.peers)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.rt = coordinator.NewRuntime(coordinator.RuntimeConfig[*shard]{
		Topic:  TopicName,
		NodeID: c.cfg.nodeID,
		Replica: func(index int32) coordinator.Partition {
			if p := c.reps.Partition(TopicName, index); p != nil {
				return p
			}
			return nil // not a typed nil in the interface
		},
		Hooks: coordinator.Hooks[*shard]{
			New: func(sh *coordinator.Shard) *shard {
				ctx, cancel := context.WithCancel(c.ctx)
				return &shard{rt: sh, ctx: ctx, cancel: cancel, txns: map[string]*txnMeta{}}
			},
			Load:   c.load,
			Unload: func(_ *coordinator.Shard, s *shard) { c.unload(s) },
		},
		Logger:       c.log,
		RetryBackoff: loadRetry,
	})
	// Compacted, uncompressed, without unclean elections (Kafka enforces
	// all three), with transaction.state.log.min.isr as its
	// min.insync.replicas.
	c.topic = &coordinator.Topic{
		Spec: controller.TopicSpec{
			Name:              TopicName,
			NumPartitions:     c.cfg.numPartitions,
			ReplicationFactor: c.cfg.replicationFactor,
			Configs: map[string]string{
				"cleanup.policy":                 "compact",
				"compression.type":               "uncompressed",
				"unclean.leader.election.enable": "false",
				"min.insync.replicas":            fmt.Sprint(c.cfg.minISR),
				"segment.bytes":                  fmt.Sprint(c.cfg.segmentBytes),
			},
		},
		NodeID: c.cfg.nodeID,
		// Late-bound: tests build coordinators without metadata.
		Image: func() *metadata.Image { return c.md.Image() },
		Create: func(ctx context.Context, specs []controller.TopicSpec, validateOnly bool) ([]controller.Created, []error) {
			return c.md.CreateTopics(ctx, specs, validateOnly)
		},
		Serves: c.rt.Serves,
		Logger: c.log,
	}
	return c
}

// FindCoordinator returns the broker coordinating transactionalID,
// creating __transaction_state first if it does not exist (as Kafka does
// on the first FindCoordinator of a transaction). An error wraps
// COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) FindCoordinator(ctx context.Context, transactionalID string) (metadata.Broker, error) {
	return c.topic.Find(ctx, func(partitions int32) int32 { return PartitionFor(transactionalID, partitions) })
}

// ProducerIDs is the broker's producer id allocator.
func (c *Coordinator) ProducerIDs() *ProducerIDs { return c.pids }

// Start subscribes to metadata changes (which loads the partitions this
// node leads) and starts the periodic sweeps.
func (c *Coordinator) Start() {
	c.mu.Lock()
	if c.started || c.closed {
		c.mu.Unlock()
		return
	}
	c.started = true
	c.every(c.cfg.abortInterval, c.abortTimedOut)
	c.every(c.cfg.removeInterval, c.expireIDs)
	c.mu.Unlock()
	c.md.Subscribe(c.onImage)
}

// every runs f every d until Close. Callers hold c.mu.
func (c *Coordinator) every(d time.Duration, f func()) {
	idx := len(c.timers)
	c.timers = append(c.timers, nil)
	var arm func()
	arm = func() {
		c.timers[idx] = c.afterFunc(d, func() {
			f()
			c.mu.Lock()
			if !c.closed {
				arm()
			}
			c.mu.Unlock()
		})
	}
	arm()
}

// afterFunc runs f after d on the coordinator's clock, unless the
// coordinator is closed by then; Close waits for a running f.
func (c *Coordinator) afterFunc(d time.Duration, f func()) Timer {
	return c.clock.AfterFunc(max(d, 0), func() {
		if !c.enter() {
			return
		}
		defer c.wg.Done()
		f()
	})
}

// enter registers a goroutine in c.wg unless the coordinator is closed.
// The lock orders the Add before Close's Wait.
func (c *Coordinator) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

// Close stops the coordinator: loaders, marker senders and timers stop,
// and every goroutine it started has returned when Close does. The
// controller keeps the subscription, which is a no-op from now on.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for _, t := range c.timers {
		if t != nil {
			t.Stop()
		}
	}
	c.mu.Unlock()
	c.cancel()
	c.rt.Close()
	c.wg.Wait()
	return nil
}

// onImage keeps the shards in line with the partitions of
// __transaction_state this node leads (coordinator.Runtime.OnImage). It
// runs under the controller's lock, so it only starts and cancels work.
func (c *Coordinator) onImage(_, next *metadata.Image) {
	c.img.Store(next)
	c.rt.OnImage(next)
}

// transactionVersion is the cluster's finalized transaction.version
// (KIP-890), which the coordinator's own aborts (fences, timeouts) run
// with, as Kafka's do.
func (c *Coordinator) transactionVersion() int16 {
	if c.tv != nil {
		return c.tv()
	}
	return c.image().Features[metadata.TransactionVersionFeature]
}

// image is the metadata the coordinator acts on: the last image delivered
// to it (the one its shards follow), the controller's before the first.
func (c *Coordinator) image() *metadata.Image {
	if img := c.img.Load(); img != nil {
		return img
	}
	return c.md.Image()
}

// unload gives up a shard: its writer is already stopped (pending writes
// fail with NOT_COORDINATOR), its marker senders stop, and its ids are
// dropped. The next leader of the partition sends the markers of every
// decision whose completion this shard had not written.
func (c *Coordinator) unload(s *shard) {
	s.cancel()
	s.mu.Lock()
	s.unloaded = true
	s.txns = map[string]*txnMeta{}
	s.mu.Unlock()
}

// PartitionFor is Kafka's placement of a transactional id on
// __transaction_state, the same rule as a group's on __consumer_offsets.
func PartitionFor(transactionalID string, partitions int32) int32 {
	return group.PartitionFor(transactionalID, partitions)
}

// shardFor returns the shard coordinating id, or NOT_COORDINATOR
// (COORDINATOR_NOT_AVAILABLE once closed).
func (c *Coordinator) shardFor(id string) (*shard, error) {
	return c.rt.Lookup(func(partitions int32) int32 { return PartitionFor(id, partitions) })
}

// acquire returns id's shard with its mutex held: NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS or COORDINATOR_NOT_AVAILABLE when it
// cannot be served here.
func (c *Coordinator) acquire(id string) (*shard, error) {
	s, err := c.shardFor(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	switch {
	case s.unloaded:
		s.mu.Unlock()
		return nil, kerr.NotCoordinator
	case !s.loaded:
		s.mu.Unlock()
		return nil, kerr.CoordinatorLoadInProgress
	}
	return s, nil
}

// loadedShards returns the shards serving ids, and whether any is still
// loading.
func (c *Coordinator) loadedShards() (shards []*shard, loading bool, err error) {
	if c.rt.Closed() {
		return nil, false, kerr.CoordinatorNotAvailable
	}
	for _, s := range c.rt.States() {
		s.mu.Lock()
		if s.loaded && !s.unloaded {
			shards = append(shards, s)
		} else if !s.unloaded {
			loading = true
		}
		s.mu.Unlock()
	}
	return shards, loading, nil
}

func (c *Coordinator) nowMs() int64 { return c.clock.Now().UnixMilli() }
