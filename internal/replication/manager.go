// Package replication owns the partition replicas this broker hosts: it
// opens, reconfigures and deletes them as the metadata image changes, gives
// each its role (leader or follower) from the image, runs the follower
// fetchers (fetcher.go) and checkpoints the high watermarks.
package replication

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// Config configures the manager.
type Config struct {
	NodeID  int32
	DataDir string
	Logger  *slog.Logger
	// Resolve turns a topic's dynamic overrides into partition config.
	Resolve func(overrides map[string]string) partition.Config
	// LogOptions are passed to every log (FS seam, clock). The manager
	// uses LogOptions.FS for its own files too.
	LogOptions log.Options
	// LagTimeMax is replica.lag.time.max.ms (0: the partition default).
	LagTimeMax time.Duration
	// HWCheckpointInterval is replica.high.watermark.checkpoint.interval.ms;
	// 0 checkpoints only at Close.
	HWCheckpointInterval time.Duration
	// Fetch configures the follower fetchers.
	Fetch FetchConfig
	// BrokerEpoch is this broker's epoch (its registration's), -1 until
	// registered: followers send it in their fetches' ReplicaState, and a
	// leader names it for itself in the ISR it proposes (KIP-903). Nil:
	// always -1.
	BrokerEpoch func() int64
	// AlterPartition sends a leader's ISR change to the active
	// controller; nil on a node that never leads a replicated partition
	// (tests). Its error is a failure to reach the controller.
	AlterPartition func(context.Context, controller.PartitionISRRequest) (controller.PartitionISRResult, error)
	// Parallelism bounds the replicas opened (recovered, after an unclean
	// shutdown), given a role or closed at once
	// (num.recovery.threads.per.data.dir); 0: DefaultParallelism.
	Parallelism int
}

// Manager holds the local replicas.
//
// Locks: applyMu → mu. Apply holds applyMu only while it opens logs and
// closes and renames deleted ones, and takes mu just to install or drop
// replicas in the maps, so lookups (Partition, Each), and with them
// produce and fetch on other partitions, never wait for the disk. Deleted
// replicas' files are removed by a background goroutine (deleter).
type Manager struct {
	cfg Config
	fs  log.FS
	log *slog.Logger

	applyMu sync.Mutex // serialises Apply and Close
	closed  bool       // guarded by applyMu

	mu     sync.RWMutex
	topics map[metadata.UUID]*topicReplicas
	byName map[string]*topicReplicas
	err    error // first failure to open a replica, reported by Err

	deleter *deleter

	hws  map[log.TopicPartition]int64    // the checkpoint read at the start; guarded by applyMu
	live atomic.Pointer[map[int32]int64] // live brokers of the latest image and their epochs (ISR eligibility)

	// opening tallies the replicas opened by the first Apply, for the
	// start-up summary; nil otherwise. Guarded by applyMu.
	opening *recoveryTally

	fetchers *fetchers
	stop     chan struct{}
	bg       sync.WaitGroup

	// isrShrinks and isrExpands count the ISR changes the controller
	// accepted from this node as leader (Kafka's IsrShrinksPerSec and
	// IsrExpandsPerSec).
	isrShrinks, isrExpands atomic.Uint64
}

// ISRChanges is the number of ISR shrinks and expands this node made as
// leader since it started.
func (m *Manager) ISRChanges() (shrinks, expands uint64) {
	return m.isrShrinks.Load(), m.isrExpands.Load()
}

type topicReplicas struct {
	id         metadata.UUID
	name       string
	partitions []*partition.Partition // nil where this node holds no replica
}

// New returns an empty manager; wire it to the controller with Apply, and
// Close it to stop its background work.
func New(cfg Config) *Manager {
	m := &Manager{cfg: cfg, fs: cfg.LogOptions.FS, log: cfg.Logger,
		topics: map[metadata.UUID]*topicReplicas{}, byName: map[string]*topicReplicas{}}
	if m.fs == nil {
		m.fs = log.OSFS()
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.deleter = newDeleter(m.fs, m.log)
	hws, err := log.ReadHWCheckpoint(m.fs, cfg.DataDir)
	if err != nil {
		// Kafka's answer to a corrupt checkpoint: every high watermark
		// unknown (the log start), learnt again from the leader.
		m.log.Warn("ignoring unreadable high-watermark checkpoint", "err", err)
	}
	m.hws = hws
	m.stop = make(chan struct{})
	m.fetchers = newFetchers(cfg.NodeID, m.brokerEpoch, cfg.Fetch, m.log)
	if cfg.HWCheckpointInterval > 0 {
		m.every(cfg.HWCheckpointInterval, m.checkpoint)
	}
	m.every(m.lagTimeMax()/2, m.expireISR)
	return m
}

func (m *Manager) lagTimeMax() time.Duration {
	if m.cfg.LagTimeMax > 0 {
		return m.cfg.LagTimeMax
	}
	return 30 * time.Second
}

// every runs fn every interval on its own goroutine until Close.
func (m *Manager) every(interval time.Duration, fn func()) {
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				fn()
			}
		}
	}()
}

// expireISR is Kafka's isr-expiration task, run every
// replica.lag.time.max.ms/2: each leader checks whether a follower fell
// out of the ISR.
func (m *Manager) expireISR() {
	var parts []*partition.Partition
	m.Each(func(p *partition.Partition) { parts = append(parts, p) })
	for _, p := range parts {
		m.maybeChangeISR(p.Topic, p)
	}
}

// FollowerFetched records a follower's fetch from offset, made with broker
// epoch brokerEpoch (-1 unknown), on the leader p (which may advance the
// high watermark, waking acks=all producers and consumers), then checks
// whether the follower joins the ISR. The error is NOT_LEADER_OR_FOLLOWER
// for a fetch from an older incarnation of the follower
// (partition.UpdateFollowerFetch).
func (m *Manager) FollowerFetched(p *partition.Partition, replica int32, brokerEpoch, offset int64, now time.Time) error {
	if _, err := p.UpdateFollowerFetch(replica, brokerEpoch, offset, now); err != nil {
		return err
	}
	m.maybeChangeISR(p.Topic, p)
	return nil
}

// brokerEpoch is this broker's epoch, -1 unknown.
func (m *Manager) brokerEpoch() int64 {
	if m.cfg.BrokerEpoch == nil {
		return -1
	}
	return m.cfg.BrokerEpoch()
}

// maybeChangeISR proposes the ISR change p wants, if any, to the
// controller in the background: no partition lock is held across the
// request, and the change stays pending (ISRChange proposes nothing more)
// until it is answered.
func (m *Manager) maybeChangeISR(topic string, p *partition.Partition) {
	if m.cfg.AlterPartition == nil {
		return
	}
	u, ok := p.ProposeISR(time.Now(), m.lagTimeMax())
	if !ok {
		return
	}
	isr, epochs := u.ISR, u.Epochs
	if i := slices.Index(isr, m.cfg.NodeID); i >= 0 {
		epochs[i] = m.brokerEpoch()
	}
	req := controller.PartitionISRRequest{Topic: topic, Partition: p.Index,
		LeaderEpoch: p.LeaderEpoch(), PartitionEpoch: p.PartitionEpoch(), NewISR: isr, NewISREpochs: epochs}
	if tr := m.topicByName(topic); tr != nil {
		req.TopicID = tr.id
	}
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		go func() {
			select {
			case <-m.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		res, err := m.cfg.AlterPartition(ctx, req)
		switch {
		case err != nil:
			// NOT_CONTROLLER, no controller reachable: pending until
			// the metadata says what happened (SetISR, MakeLeader).
			m.log.Warn("cannot send an ISR change", "topic", topic, "partition", p.Index, "isr", isr, "err", err)
		case errors.Is(res.Err, kerr.OperationNotAttempted), errors.Is(res.Err, kerr.IneligibleReplica):
			// A member is fenced, shutting down or of another broker
			// epoch than its fetches said (it restarted and may have
			// lost what it had): drop the change; the next fetch or
			// ISR check proposes again, with what the leader then
			// knows (Kafka's handleAlterPartitionError).
			m.log.Info("ISR change refused, retried later", "topic", topic, "partition", p.Index, "isr", isr, "err", res.Err)
			p.AbortISRChange()
		case res.Err != nil:
			// INVALID_UPDATE_VERSION, FENCED_LEADER_EPOCH, ...: the
			// next image resolves it.
			m.log.Info("ISR change refused", "topic", topic, "partition", p.Index, "isr", isr, "err", res.Err)
		default:
			// Counted against the ISR proposed from, not p.ISR(): the
			// metadata may have applied res.ISR before this answer.
			m.countISRChange(u.From, res.ISR)
			p.SetISR(res.ISR, res.PartitionEpoch)
			m.log.Info("ISR changed", "topic", topic, "partition", p.Index, "isr", res.ISR, "partition_epoch", res.PartitionEpoch)
		}
	}()
}

// countISRChange counts an accepted change from old to isr: one that
// drops members is a shrink, one that adds members an expand (a change
// that does both, which samsa's leader never proposes, counts as both).
func (m *Manager) countISRChange(old, isr []int32) {
	if slices.ContainsFunc(old, func(r int32) bool { return !slices.Contains(isr, r) }) {
		m.isrShrinks.Add(1)
	}
	if slices.ContainsFunc(isr, func(r int32) bool { return !slices.Contains(old, r) }) {
		m.isrExpands.Add(1)
	}
}

func (m *Manager) topicByName(name string) *topicReplicas {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.byName[name]
}

// checkpoint is Kafka's highwatermark-checkpoint task, run every
// replica.high.watermark.checkpoint.interval.ms.
func (m *Manager) checkpoint() {
	if err := m.CheckpointHWs(); err != nil {
		m.log.Error("cannot checkpoint high watermarks", "err", err)
	}
}

// CheckpointHWs writes every local replica's high watermark to the data
// directory's replication-offset-checkpoint.
func (m *Manager) CheckpointHWs() error {
	hws := map[log.TopicPartition]int64{}
	m.mu.RLock()
	for _, t := range m.topics {
		for i, p := range t.partitions {
			if p != nil {
				hws[log.TopicPartition{Topic: t.name, Partition: int32(i)}] = p.HighWatermark()
			}
		}
	}
	m.mu.RUnlock()
	return log.WriteHWCheckpoint(m.fs, m.cfg.DataDir, hws)
}

func (m *Manager) eligible(id int32) bool {
	live := m.live.Load()
	if live == nil {
		return false
	}
	_, ok := (*live)[id]
	return ok
}

// liveEpoch is live broker id's registered epoch, -1 when not live.
func (m *Manager) liveEpoch(id int32) int64 {
	if live := m.live.Load(); live != nil {
		if e, ok := (*live)[id]; ok {
			return e
		}
	}
	return -1
}

// Partition returns the local replica of topic/partition, or nil.
func (m *Manager) Partition(topic string, index int32) *partition.Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t := m.byName[topic]
	if t == nil || index < 0 || int(index) >= len(t.partitions) {
		return nil
	}
	return t.partitions[index]
}

// Err is the first error met while opening replicas (a storage failure).
func (m *Manager) Err() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.err
}

const topicIDFile = "partition.metadata"

func (m *Manager) dir(topic string, p int32) string {
	return filepath.Join(m.cfg.DataDir, topic+"-"+strconv.Itoa(int(p)))
}

// Apply brings the local replicas in line with next. It is called by the
// controller in commit order (and first with an empty prev), and returns
// when every replica of next is open and every deleted one is closed and
// out of sight; the deleted files go in the background.
func (m *Manager) Apply(prev, next *metadata.Image) {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	if m.closed {
		return
	}
	first := len(prev.Topics) == 0 && prev.Offset == -1
	if first {
		m.opening = &recoveryTally{start: time.Now()}
		defer func() {
			m.opening.log(m.log, time.Since(m.opening.start))
			m.opening = nil
		}()
	}
	live := map[int32]int64{}
	for _, id := range next.LiveBrokerIDs() {
		live[id] = next.Brokers[id].Epoch
	}
	m.live.Store(&live)
	m.fetchers.setBrokers(next)
	// A topic's config also depends on the dynamic broker configs (its
	// defaults): when they change, every topic is resolved again.
	pd, pb := prev.DynamicBrokerConfigs(m.cfg.NodeID)
	nd, nb := next.DynamicBrokerConfigs(m.cfg.NodeID)
	reresolve := !maps.Equal(pd, nd) || !maps.Equal(pb, nb)

	// Deleted topics first, so that a topic deleted and created again
	// under the same name has its old directories out of the way.
	m.mu.Lock()
	var gone []*topicReplicas
	for id, t := range m.topics {
		if next.ByID[id] == nil {
			gone = append(gone, t)
			delete(m.topics, id)
			if m.byName[t.name] == t {
				delete(m.byName, t.name)
			}
		}
	}
	m.mu.Unlock()
	var moved []string
	for _, t := range gone {
		moved = append(moved, m.retireTopic(t)...)
	}
	m.queueRemoval(moved)

	for _, name := range next.TopicNames() {
		nt := next.Topics[name]
		pt := prev.ByID[nt.ID]
		if pt == nil || pt != nt || m.topic(nt.ID) == nil || reresolve {
			m.syncTopic(nt, pt, reresolve)
		}
	}
	if first {
		m.removeStrayDirs(next)
	}
}

// topic returns the replicas of the topic with id, or nil.
func (m *Manager) topic(id metadata.UUID) *topicReplicas {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.topics[id]
}

// syncTopic opens the replicas of t this node hosts and does not have
// yet, then installs them; replicas it has get the new config. Only Apply
// changes a topic's replicas (under applyMu), so those read first are
// still the ones to install next to.
func (m *Manager) syncTopic(t *metadata.Topic, prev *metadata.Topic, reresolve bool) {
	var have []*partition.Partition
	if tr := m.topic(t.ID); tr != nil {
		m.mu.RLock()
		have = slices.Clone(tr.partitions)
		m.mu.RUnlock()
	}
	cfg := m.cfg.Resolve(t.Configs)
	configChanged := reresolve || prev != nil && !sameConfigs(prev.Configs, t.Configs)
	opened := make([]*partition.Partition, len(t.Partitions))
	var removed, existing, toOpen []int
	for i, p := range t.Partitions {
		switch {
		case !contains(p.Replicas, m.cfg.NodeID):
			if i < len(have) && have[i] != nil {
				removed = append(removed, i) // reassigned away
			}
		case i < len(have) && have[i] != nil:
			existing = append(existing, i)
		default:
			toOpen = append(toOpen, i)
		}
	}
	m.inParallel(len(existing), func(k int) {
		i := existing[k]
		if configChanged {
			have[i].SetConfig(cfg)
		}
		if p := t.Partitions[i]; prev == nil || i >= len(prev.Partitions) || !samePartition(prev.Partitions[i], p) {
			m.applyRole(t.Name, t.ID, have[i], p)
		}
	})
	openErrs := make([]error, len(toOpen))
	m.inParallel(len(toOpen), func(k int) {
		i := toOpen[k]
		part, err := m.open(t, t.Partitions[i], cfg)
		if err != nil {
			m.log.Error("cannot open partition", "topic", t.Name, "partition", t.Partitions[i].Index, "err", err)
			openErrs[k] = err
			return
		}
		opened[i] = part
	})
	var openErr error
	for _, err := range openErrs {
		openErr = cmp.Or(openErr, err)
	}

	m.mu.Lock()
	tr := m.topics[t.ID]
	if tr == nil {
		tr = &topicReplicas{id: t.ID, name: t.Name}
		m.topics[t.ID] = tr
		m.byName[t.Name] = tr
	}
	for len(tr.partitions) < len(t.Partitions) {
		tr.partitions = append(tr.partitions, nil)
	}
	for i, part := range opened {
		if part != nil {
			tr.partitions[i] = part
		}
	}
	for _, i := range removed {
		tr.partitions[i] = nil
	}
	m.err = cmp.Or(m.err, openErr)
	m.mu.Unlock()
	// A replica reassigned away goes as a deleted topic's do: out of the
	// maps first (lookups answer NOT_LEADER_OR_FOLLOWER), its fetcher
	// stopped, then closed and moved away for the deleter.
	var moved []string
	for _, i := range removed {
		if dir, ok := m.retire(t.Name, int32(i), have[i]); ok {
			moved = append(moved, dir)
		}
	}
	m.queueRemoval(moved)
	// Roles after installing: a follower's fetcher looks the replica up.
	m.inParallel(len(toOpen), func(k int) {
		if i := toOpen[k]; opened[i] != nil {
			m.applyRole(t.Name, t.ID, opened[i], t.Partitions[i])
		}
	})
}

// DefaultParallelism is Config.Parallelism's default. Opening, giving a
// role to and closing a replica each write and fsync small files (a
// leader-epoch checkpoint, producer snapshots, the clean-shutdown marker),
// so run one after the other they took about a millisecond a partition
// (10 s of a 10,000-partition broker's start, as much of its shutdown);
// run together, the file system commits their fsyncs in shared journal
// transactions.
const DefaultParallelism = 16

// inParallel runs f(0) to f(n-1), up to the configured parallelism at a
// time, and returns when all have.
func (m *Manager) inParallel(n int, f func(i int)) {
	if n == 1 {
		f(0)
		return
	}
	sem := make(chan struct{}, cmp.Or(m.cfg.Parallelism, DefaultParallelism))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

// applyRole gives a replica the role the image's partition state says,
// and adds it to or removes it from the follower fetchers. MakeLeader and
// MakeFollower ignore a state older than the replica's; the same
// leadership again only updates the ISR.
func (m *Manager) applyRole(topic string, topicID metadata.UUID, part *partition.Partition, p metadata.Partition) {
	tp := log.TopicPartition{Topic: topic, Partition: p.Index}
	if p.Leader == m.cfg.NodeID {
		m.fetchers.remove(tp)
		if _, err := part.MakeLeader(p.LeaderEpoch, p.ISR, p.Replicas, p.PartitionEpoch); err != nil {
			m.log.Error("cannot record the leader epoch", "topic", topic, "partition", p.Index, "err", err)
		}
		return
	}
	changed := part.MakeFollower(p.LeaderEpoch, p.Leader, p.PartitionEpoch)
	if p.Leader < 0 {
		m.fetchers.remove(tp)
		return
	}
	if changed || !m.fetchers.has(tp, p.Leader) {
		m.fetchers.add(tp, topicID, p.Leader, p.LeaderEpoch, part)
	}
}

func samePartition(a, b metadata.Partition) bool {
	return a.Leader == b.Leader && a.LeaderEpoch == b.LeaderEpoch && a.PartitionEpoch == b.PartitionEpoch &&
		slices.Equal(a.ISR, b.ISR) && slices.Equal(a.Replicas, b.Replicas)
}

// open opens one replica's log. A directory left by an earlier topic of the
// same name (deleted while this broker was down) carries another topic id
// in partition.metadata and is moved away for removal first, as Kafka does
// with KIP-516.
func (m *Manager) open(t *metadata.Topic, p metadata.Partition, cfg partition.Config) (*partition.Partition, error) {
	dir := m.dir(t.Name, p.Index)
	idPath := filepath.Join(dir, topicIDFile)
	b, err := log.ReadFile(m.fs, idPath)
	if err == nil {
		if got := parseTopicID(string(b)); got != t.ID.String() {
			m.log.Warn("removing replica of an earlier topic with the same name", "dir", dir, "topic_id", got)
			moved, err := m.moveAway(dir)
			if err != nil {
				return nil, fmt.Errorf("replication: move stale %s away: %w", dir, err)
			}
			m.queueRemoval([]string{moved})
		}
	}
	hw, ok := m.hws[log.TopicPartition{Topic: t.Name, Partition: p.Index}]
	if !ok {
		hw = -1 // unknown: the log start until the leader says
	}
	ro := partition.ReplicaOptions{LocalID: m.cfg.NodeID, HighWatermark: hw, LagTimeMax: m.cfg.LagTimeMax, Eligible: m.eligible, BrokerEpoch: m.liveEpoch}
	part, err := partition.OpenReplica(dir, t.Name, p.Index, cfg, ro, m.cfg.LogOptions)
	if err != nil {
		return nil, err
	}
	m.opening.add(part.Recovery())
	if _, err := m.fs.Stat(idPath); errors.Is(err, fs.ErrNotExist) {
		if err := log.WriteFileAtomic(m.fs, idPath, []byte("version: 0\ntopic_id: "+t.ID.String()+"\n")); err != nil {
			part.Close()
			return nil, fmt.Errorf("replication: %w", err)
		}
	}
	return part, nil
}

// retireTopic closes the replicas of a deleted topic, already out of the
// maps, and moves their directories away; it returns where they went.
func (m *Manager) retireTopic(t *topicReplicas) []string {
	var moved []string
	for i, p := range t.partitions {
		if p == nil {
			continue
		}
		if dir, ok := m.retire(t.name, int32(i), p); ok {
			moved = append(moved, dir)
		}
	}
	return moved
}

// retire stops the fetcher of a replica this node no longer hosts (its
// topic deleted, or the partition reassigned away), already out of the
// maps, closes it and moves its directory away; it returns where to.
func (m *Manager) retire(topic string, idx int32, p *partition.Partition) (string, bool) {
	m.fetchers.remove(log.TopicPartition{Topic: topic, Partition: idx})
	p.CloseForDelete()
	dir, err := m.moveAway(m.dir(topic, idx))
	if err != nil {
		// The directory keeps its name: the next start removes it
		// (removeStrayDirs), and a replica or topic created again under
		// this name moves it away first (open) when it is another
		// topic's; a replica of the same topic reassigned back here
		// reuses it, and catches up from where it is.
		m.log.Error("cannot move a removed partition's directory away", "topic", topic, "partition", idx, "err", err)
		return "", false
	}
	m.log.Info("removed a replica this broker no longer hosts", "topic", topic, "partition", idx)
	return dir, true
}

// deleteSuffix ends the name of a directory waiting for removal:
// <topic>-<partition>.<32 hex digits>-delete, as Kafka names them, so the
// name is free at once for a topic created again, and a crash leaves a
// name that the next start recognises (removeStrayDirs).
const deleteSuffix = "-delete"

// moveAway renames dir to a fresh <dir>.<id>-delete and returns the new
// path.
func (m *Manager) moveAway(dir string) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	to := dir + "." + hex.EncodeToString(id[:]) + deleteSuffix
	if err := m.fs.Rename(dir, to); err != nil {
		return "", err
	}
	return to, nil
}

// isDeleteDir reports whether name is a directory moved away by moveAway.
func isDeleteDir(name string) bool {
	base, ok := strings.CutSuffix(name, deleteSuffix)
	i := len(base) - 33
	if !ok || i < 1 || base[i] != '.' {
		return false
	}
	_, err := hex.DecodeString(base[i+1:])
	return err == nil
}

// queueRemoval makes the renames of dirs durable (a crash then leaves
// names the next start recognises) and hands them to the deleter.
func (m *Manager) queueRemoval(dirs []string) {
	if len(dirs) == 0 {
		return
	}
	if err := m.fs.SyncDir(m.cfg.DataDir); err != nil {
		m.log.Warn("sync data dir after moving deleted partitions away", "dir", m.cfg.DataDir, "err", err)
	}
	m.deleter.add(dirs...)
}

// removeStrayDirs removes what a crash or a downtime left in the data
// directory: directories moved away for removal (*.<id>-delete), and
// partition directories of topics that no longer exist or whose replica
// is no longer here, which are moved away first. The removal runs in the
// background.
func (m *Manager) removeStrayDirs(img *metadata.Image) {
	entries, err := m.fs.ReadDir(m.cfg.DataDir)
	if err != nil {
		return
	}
	var stray []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, "__cluster_metadata") {
			continue
		}
		if isDeleteDir(name) {
			stray = append(stray, filepath.Join(m.cfg.DataDir, name))
			continue
		}
		i := strings.LastIndexByte(name, '-')
		if i <= 0 {
			continue
		}
		if _, err := m.fs.Stat(filepath.Join(m.cfg.DataDir, name, topicIDFile)); err != nil {
			continue // not a partition directory of ours
		}
		topic, idx := name[:i], name[i+1:]
		n, err := strconv.Atoi(idx)
		t := img.Topics[topic]
		if err == nil && t != nil && n < len(t.Partitions) && contains(t.Partitions[n].Replicas, m.cfg.NodeID) {
			continue
		}
		m.log.Info("removing replica of a deleted topic", "dir", name)
		moved, err := m.moveAway(filepath.Join(m.cfg.DataDir, name))
		if err != nil {
			m.log.Error("cannot move stray replica away", "dir", name, "err", err)
			continue
		}
		stray = append(stray, moved)
	}
	m.queueRemoval(stray)
}

// Each calls fn for every local replica (under the read lock).
func (m *Manager) Each(fn func(*partition.Partition)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, t := range m.topics {
		for _, p := range t.partitions {
			if p != nil {
				fn(p)
			}
		}
	}
}

// Close closes every replica cleanly (flush, snapshots, clean marker) and
// stops the background removal, waiting for the directory it is removing;
// directories still queued are removed at the next start. Apply after
// Close does nothing.
func (m *Manager) Close() error {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	close(m.stop)
	m.bg.Wait()
	m.fetchers.close()
	var errs []error
	if err := m.CheckpointHWs(); err != nil {
		errs = append(errs, err)
	}
	m.mu.Lock()
	topics := m.topics
	m.topics = map[metadata.UUID]*topicReplicas{}
	m.byName = map[string]*topicReplicas{}
	m.mu.Unlock()
	var parts []*partition.Partition
	for _, t := range topics {
		for _, p := range t.partitions {
			if p != nil {
				parts = append(parts, p)
			}
		}
	}
	closeErrs := make([]error, len(parts))
	m.inParallel(len(parts), func(i int) { closeErrs[i] = parts[i].Close() })
	errs = append(errs, closeErrs...)
	m.deleter.close()
	return errors.Join(errs...)
}

func parseTopicID(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "topic_id: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func contains(xs []int32, x int32) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func sameConfigs(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
