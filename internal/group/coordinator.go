// Package group is the group coordinator of Kafka's classic consumer-group
// protocol: membership and rebalances (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup), committed offsets, and their persistence in the compacted
// internal topic __consumer_offsets.
//
// A group lives on one partition of __consumer_offsets, chosen by Kafka's
// rule abs(javaHashCode(groupID)) % partitions, and this node coordinates the
// groups of the partitions it leads, one shard per partition and leader
// epoch, run by the coordinator runtime (package coordinator). Every change
// that must survive a restart is appended to that partition as kmsg's
// OffsetCommitKey/Value and GroupMetadataKey/Value records (the formats
// Kafka writes, so Kafka's tools read them), fenced by the shard's leader
// epoch, and applied in memory and answered once the high watermark covers
// it (group.write), so the groups' state is always the replay of the
// committed log. When this node becomes leader of a partition (at start,
// when the topic is created, on a failover, or in a new leader epoch), the
// partition is replayed from its start to its log end, and served once the
// high watermark covers that; meanwhile its groups answer
// COORDINATOR_LOAD_IN_PROGRESS. When it stops leading, the shard is
// unloaded and its groups answer NOT_COORDINATOR.
//
// # Concurrency
//
// There is no global lock on the request path: each group has its own mutex,
// so a rebalance or a slow append in one group never delays another. JoinGroup
// and SyncGroup register the caller and return a channel that the group
// completes later; the API layer waits on it outside every lock.
//
// Lock order (never acquire leftwards while holding a lock to the right):
//
//	controller.mu (held while onImage runs) → coordinator.Runtime.mu
//	(held while a shard is unloaded) → shard.mu → group.mu →
//	coordinator.Writer.mu → partition.mu (Append)
//	group.mu → shardTxns.mu (a shard's open transactions; held alone)
//
// Coordinator.mu guards only the start, the close and the sweep timer.
//
// A write's completion runs on the shard's writer goroutine with no lock
// held and takes group.mu itself; no lock is held while a request waits
// for its write to be committed. Nothing takes Coordinator.mu, Runtime.mu
// or shard.mu while holding a group's mutex: a group that must leave its
// shard's map is marked Dead under its own lock and unlinked after that
// lock is released (removeGroup).
//
// # Ownership of goroutines and timers
//
// The coordinator owns its runtime, which owns the shards' loader and
// writer goroutines (one per shard, stopped when the shard is unloaded),
// and the retention sweep timer and
// every member, join and sync timer. All of them run through afterFunc or go
// under c.wg, and Close stops the runtime, stops the timers, answers every
// parked JoinGroup/SyncGroup with NOT_COORDINATOR and waits for c.wg.
package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// TopicName is the internal topic holding committed offsets and group metadata.
const TopicName = "__consumer_offsets"

// Metadata is what the coordinator needs from the controller.
type Metadata interface {
	Image() *metadata.Image
	// Subscribe calls fn with every new image, in commit order, while the
	// controller's lock is held: fn must not call back into the controller.
	Subscribe(fn func(prev, next *metadata.Image))
	CreateTopics(ctx context.Context, specs []controller.TopicSpec, validateOnly bool) ([]controller.Created, []error)
}

// Replicas gives the local replicas (replication.Manager).
type Replicas interface {
	Partition(topic string, index int32) *partition.Partition
}

// Options are what a caller may inject besides the broker config.
type Options struct {
	Logger *slog.Logger
	// Clock replaces the wall clock and its timers (tests).
	Clock Clock
	// VerifyTxn verifies a TxnOffsetCommit's transaction with the
	// transaction coordinator before it is written (KIP-890); nil
	// verifies nothing. SetVerifyTxn replaces it later.
	VerifyTxn VerifyTxn
}

// settings are the broker configs the coordinator runs with, read once.
type settings struct {
	nodeID               int32
	numPartitions        int32
	replicationFactor    int16
	segmentBytes         int32
	initialDelay         time.Duration
	minSession           time.Duration
	maxSession           time.Duration
	maxSize              int
	retention            time.Duration
	retentionCheck       time.Duration
	maxMetadataBytes     int
	newMemberJoinTimeout time.Duration
	commitTimeout        time.Duration
}

// newMemberJoinTimeout bounds how long a new member's first JoinGroup may
// stay parked: its connection may be gone and, without a member id, it
// cannot heartbeat. Kafka's group.classic.new.member.join.timeout.ms, 5 min.
const newMemberJoinTimeout = 5 * time.Minute

func settingsFrom(b *config.Broker) settings {
	return settings{
		nodeID:               b.NodeID,
		numPartitions:        b.OffsetsTopicNumPartitions,
		replicationFactor:    b.OffsetsTopicReplicationFactor,
		segmentBytes:         b.OffsetsTopicSegmentBytes,
		initialDelay:         ms(b.GroupInitialRebalanceDelayMs),
		minSession:           ms(b.GroupMinSessionTimeoutMs),
		maxSession:           ms(b.GroupMaxSessionTimeoutMs),
		maxSize:              int(b.GroupMaxSize),
		retention:            time.Duration(b.OffsetsRetentionMs) * time.Millisecond,
		retentionCheck:       time.Duration(b.OffsetsRetentionCheckIntervalMs) * time.Millisecond,
		maxMetadataBytes:     int(b.OffsetMetadataMaxBytes),
		newMemberJoinTimeout: newMemberJoinTimeout,
		commitTimeout:        ms(b.OffsetsCommitTimeoutMs),
	}
}

func ms[T int32 | int64](v T) time.Duration { return time.Duration(v) * time.Millisecond }

// Coordinator is the group coordinator of one broker.
type Coordinator struct {
	cfg   settings
	md    Metadata
	reps  Replicas
	log   *slog.Logger
	clock Clock

	// rt runs the shards: one per partition of __consumer_offsets this
	// node leads, loaded and unloaded as the metadata says.
	rt    *coordinator.Runtime[*shard]
	topic *coordinator.Topic // __consumer_offsets, created on the first FindCoordinator
	wg    sync.WaitGroup     // timer callbacks in flight

	mu      sync.RWMutex
	started bool
	closed  bool
	sweep   Timer

	verifyTxn atomic.Pointer[VerifyTxn] // nil: no verification

	lag lagCache // lag snapshots (lag.go)
}

// shard is the groups of one __consumer_offsets partition this node leads,
// in one leader epoch (rt: its partition, epoch and writer).
type shard struct {
	rt *coordinator.Shard

	mu       sync.Mutex
	loaded   bool // replayed; groups may be served
	unloaded bool // no longer ours (or closed): NOT_COORDINATOR
	groups   map[string]*group
	// endsWhileLoading are the transactions that ended (CompleteTxn)
	// while the shard loaded, in order, for activate to apply.
	endsWhileLoading []txnEnd

	txns shardTxns // its own lock, after group.mu
}

// New returns a coordinator for the broker config b. Start it once the
// local replicas are open.
func New(b *config.Broker, md Metadata, reps Replicas, opts Options) *Coordinator {
	c := &Coordinator{
		cfg:   settingsFrom(b),
		md:    md,
		reps:  reps,
		log:   opts.Logger,
		clock: opts.Clock,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("component", "group-coordinator")
	if c.clock == nil {
		c.clock = wallClock{}
	}
	c.SetVerifyTxn(opts.VerifyTxn)
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
			New:    func(sh *coordinator.Shard) *shard { return &shard{rt: sh, groups: map[string]*group{}} },
			Load:   c.load,
			Unload: func(_ *coordinator.Shard, s *shard) { c.unload(s) },
		},
		Logger:       c.log,
		RetryBackoff: loadRetry,
	})
	c.topic = &coordinator.Topic{
		Spec: controller.TopicSpec{
			Name:              TopicName,
			NumPartitions:     c.cfg.numPartitions,
			ReplicationFactor: c.cfg.replicationFactor,
			Configs: map[string]string{
				"cleanup.policy": "compact",
				"segment.bytes":  fmt.Sprint(c.cfg.segmentBytes),
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

// FindCoordinator returns the broker coordinating groupID, creating
// __consumer_offsets first if it does not exist (as Kafka does on the first
// FindCoordinator). An error wraps COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) FindCoordinator(ctx context.Context, groupID string) (metadata.Broker, error) {
	return c.topic.Find(ctx, func(partitions int32) int32 { return PartitionFor(groupID, partitions) })
}

// Start subscribes to metadata changes (which loads the partitions this node
// leads) and starts the offset-expiry sweep.
func (c *Coordinator) Start() {
	c.mu.Lock()
	if c.started || c.closed {
		c.mu.Unlock()
		return
	}
	c.started = true
	c.scheduleSweepLocked()
	c.mu.Unlock()
	c.md.Subscribe(c.onImage)
}

// Close stops the coordinator: loaders and timers stop, parked JoinGroup and
// SyncGroup requests are answered with NOT_COORDINATOR, and every goroutine
// it started has returned when Close does. The controller keeps the
// subscription, which is a no-op from now on.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.sweep != nil {
		c.sweep.Stop()
	}
	c.mu.Unlock()
	c.rt.Close()
	c.wg.Wait()
	return nil
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

// enter registers a callback in c.wg unless the coordinator is closed. The
// read lock orders the Add before Close's Wait.
func (c *Coordinator) enter() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

// onImage keeps the shards in line with the partitions of __consumer_offsets
// this node leads (coordinator.Runtime.OnImage): new leaderships are
// loaded, lost ones unloaded, and a new leader epoch of a partition this
// node still leads is unloaded and loaded again, as Kafka does (the log may
// have been truncated and rewritten in between, and the old shard's writes
// are fenced by its epoch). It runs under the controller's lock, so it
// only starts and cancels work and never waits for it.
func (c *Coordinator) onImage(_, next *metadata.Image) {
	c.rt.OnImage(next)
}

// unload gives up a shard: its writer stops (pending writes fail with
// NOT_COORDINATOR), its groups are dropped and their parked requests
// answered with NOT_COORDINATOR, so clients look the coordinator up again.
func (c *Coordinator) unload(s *shard) {
	s.mu.Lock()
	s.unloaded = true
	groups := s.groups
	s.groups = map[string]*group{}
	s.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		g.shutdown(kerr.NotCoordinator.Code)
		g.mu.Unlock()
	}
}

// PartitionFor is Kafka's placement of a group on __consumer_offsets:
// Utils.abs(groupId.hashCode()) % partitions, with Java's String.hashCode
// over UTF-16 code units and Utils.abs mapping MinInt32 to 0.
func PartitionFor(groupID string, partitions int32) int32 {
	if partitions <= 0 {
		return 0
	}
	h := javaStringHash(groupID)
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

func javaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// errGroupNotFound is acquire's answer for a group that does not exist when
// the caller may not create it; each API maps it to its own code.
var errGroupNotFound = errors.New("group: no such group")

// shardFor returns the shard coordinating groupID, or NOT_COORDINATOR.
func (c *Coordinator) shardFor(groupID string) (*shard, error) {
	return c.rt.Lookup(func(partitions int32) int32 { return PartitionFor(groupID, partitions) })
}

// acquire returns groupID's group with its mutex held, creating it (Empty)
// when create is set. Errors: NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
// COORDINATOR_NOT_AVAILABLE, or errGroupNotFound.
func (c *Coordinator) acquire(groupID string, create bool) (*group, error) {
	s, err := c.shardFor(groupID)
	if err != nil {
		return nil, err
	}
	for {
		s.mu.Lock()
		switch {
		case s.unloaded:
			s.mu.Unlock()
			return nil, kerr.NotCoordinator
		case !s.loaded:
			s.mu.Unlock()
			return nil, kerr.CoordinatorLoadInProgress
		}
		g := s.groups[groupID]
		if g == nil {
			if !create {
				s.mu.Unlock()
				return nil, errGroupNotFound
			}
			g = newGroup(c, s, groupID)
			s.groups[groupID] = g
		}
		s.mu.Unlock()
		g.mu.Lock()
		if g.state != stateDead {
			return g, nil
		}
		// Deleted between the lookup and the lock: unlink it (its
		// deleter may not have yet) and look again, so that a group id
		// is usable again as soon as its deletion is answered.
		g.mu.Unlock()
		c.removeGroup(g)
	}
}

// removeGroup unlinks a Dead group from its shard. Called without g.mu.
func (c *Coordinator) removeGroup(g *group) {
	g.shard.mu.Lock()
	if g.shard.groups[g.id] == g {
		delete(g.shard.groups, g.id)
	}
	g.shard.mu.Unlock()
}

// loadedShards returns the shards serving groups, and whether any is still
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

// groupsOf is a snapshot of a shard's groups.
func (s *shard) groupsOf() []*group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, g)
	}
	return out
}
