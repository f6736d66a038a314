// Package replication owns the partition replicas this broker hosts: it
// opens, reconfigures and deletes them as the metadata image changes. The
// follower fetchers of the multi-broker cluster will live here too.
package replication

import (
	"cmp"
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
	return m
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
	var openErr error
	for i, p := range t.Partitions {
		if !contains(p.Replicas, m.cfg.NodeID) {
			continue
		}
		if i < len(have) && have[i] != nil {
			if configChanged {
				have[i].SetConfig(cfg)
			}
			// Leadership moved (a fence, a restart): appends are stamped
			// with, and requests checked against, the image's epoch.
			have[i].SetLeaderEpoch(p.LeaderEpoch)
			continue
		}
		part, err := m.open(t, p, cfg)
		if err != nil {
			m.log.Error("cannot open partition", "topic", t.Name, "partition", p.Index, "err", err)
			openErr = cmp.Or(openErr, err)
			continue
		}
		opened[i] = part
	}

	m.mu.Lock()
	defer m.mu.Unlock()
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
	m.err = cmp.Or(m.err, openErr)
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
	part, err := partition.Open(dir, t.Name, p.Index, p.LeaderEpoch, cfg, m.cfg.LogOptions)
	if err != nil {
		return nil, err
	}
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
		p.CloseForDelete()
		dir, err := m.moveAway(m.dir(t.name, int32(i)))
		if err != nil {
			// The directory keeps its name: the next start removes it
			// (removeStrayDirs), and a topic created again under this
			// name moves it away first (open).
			m.log.Error("cannot move a deleted partition's directory away", "topic", t.name, "partition", i, "err", err)
			continue
		}
		moved = append(moved, dir)
	}
	return moved
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
	m.closed = true
	m.mu.Lock()
	topics := m.topics
	m.topics = map[metadata.UUID]*topicReplicas{}
	m.byName = map[string]*topicReplicas{}
	m.mu.Unlock()
	var errs []error
	for _, t := range topics {
		for _, p := range t.partitions {
			if p != nil {
				errs = append(errs, p.Close())
			}
		}
	}
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
