// Package replication owns the partition replicas this broker hosts: it
// opens, reconfigures and deletes them as the metadata image changes. The
// follower fetchers of the multi-broker cluster will live here too.
package replication

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
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
	// LogOptions are passed to every log (FS seam, clock).
	LogOptions log.Options
}

// Manager holds the local replicas.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu     sync.RWMutex
	topics map[metadata.UUID]*topicReplicas
	byName map[string]*topicReplicas
	err    error // first failure to open a replica, reported by Err
}

type topicReplicas struct {
	id         metadata.UUID
	name       string
	partitions []*partition.Partition // nil where this node holds no replica
}

// New returns an empty manager; wire it to the controller with Apply.
func New(cfg Config) *Manager {
	m := &Manager{cfg: cfg, log: cfg.Logger, topics: map[metadata.UUID]*topicReplicas{}, byName: map[string]*topicReplicas{}}
	if m.log == nil {
		m.log = slog.Default()
	}
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

// fs is the filesystem the logs use, for the manager's own files too.
func (m *Manager) fs() log.FS {
	if m.cfg.LogOptions.FS != nil {
		return m.cfg.LogOptions.FS
	}
	return log.OSFS()
}

func (m *Manager) dir(topic string, p int32) string {
	return filepath.Join(m.cfg.DataDir, topic+"-"+strconv.Itoa(int(p)))
}

// Apply brings the local replicas in line with next. It is called by the
// controller in commit order (and first with an empty prev).
func (m *Manager) Apply(prev, next *metadata.Image) {
	m.mu.Lock()
	defer m.mu.Unlock()
	first := len(prev.Topics) == 0 && prev.Offset == -1
	// A topic's config also depends on the dynamic broker configs (its
	// defaults): when they change, every topic is resolved again.
	pd, pb := prev.DynamicBrokerConfigs(m.cfg.NodeID)
	nd, nb := next.DynamicBrokerConfigs(m.cfg.NodeID)
	reresolve := !maps.Equal(pd, nd) || !maps.Equal(pb, nb)
	for id, t := range m.topics {
		if next.ByID[id] == nil {
			m.deleteTopic(t)
		}
	}
	for _, name := range next.TopicNames() {
		nt := next.Topics[name]
		pt := prev.ByID[nt.ID]
		if pt == nil || pt != nt || m.topics[nt.ID] == nil || reresolve {
			m.syncTopic(nt, pt, reresolve)
		}
	}
	if first {
		m.removeStrayDirs(next)
	}
}

func (m *Manager) syncTopic(t *metadata.Topic, prev *metadata.Topic, reresolve bool) {
	tr := m.topics[t.ID]
	if tr == nil {
		tr = &topicReplicas{id: t.ID, name: t.Name}
		m.topics[t.ID] = tr
		m.byName[t.Name] = tr
	}
	cfg := m.cfg.Resolve(t.Configs)
	configChanged := reresolve || prev != nil && !sameConfigs(prev.Configs, t.Configs)
	for len(tr.partitions) < len(t.Partitions) {
		tr.partitions = append(tr.partitions, nil)
	}
	for i, p := range t.Partitions {
		if !contains(p.Replicas, m.cfg.NodeID) {
			continue
		}
		if tr.partitions[i] != nil {
			if configChanged {
				tr.partitions[i].SetConfig(cfg)
			}
			continue
		}
		part, err := m.open(t, p, cfg)
		if err != nil {
			m.log.Error("cannot open partition", "topic", t.Name, "partition", p.Index, "err", err)
			if m.err == nil {
				m.err = err
			}
			continue
		}
		tr.partitions[i] = part
	}
}

// open opens one replica's log. A directory left by an earlier topic of the
// same name (deleted while this broker was down) carries another topic id
// in partition.metadata and is wiped first, as Kafka does with KIP-516.
func (m *Manager) open(t *metadata.Topic, p metadata.Partition, cfg partition.Config) (*partition.Partition, error) {
	dir := m.dir(t.Name, p.Index)
	idPath := filepath.Join(dir, topicIDFile)
	if b, err := os.ReadFile(idPath); err == nil {
		if got := parseTopicID(string(b)); got != t.ID.String() {
			m.log.Warn("removing replica of an earlier topic with the same name", "dir", dir, "topic_id", got)
			if err := os.RemoveAll(dir); err != nil {
				return nil, fmt.Errorf("replication: remove stale %s: %w", dir, err)
			}
		}
	}
	part, err := partition.Open(dir, t.Name, p.Index, p.LeaderEpoch, cfg, m.cfg.LogOptions)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(idPath); errors.Is(err, os.ErrNotExist) {
		if err := log.WriteFileAtomic(m.fs(), idPath, []byte("version: 0\ntopic_id: "+t.ID.String()+"\n")); err != nil {
			part.Close()
			return nil, fmt.Errorf("replication: %w", err)
		}
	}
	return part, nil
}

func (m *Manager) deleteTopic(t *topicReplicas) {
	for _, p := range t.partitions {
		if p == nil {
			continue
		}
		if err := p.Delete(); err != nil {
			m.log.Error("cannot delete partition", "topic", t.name, "partition", p.Index, "err", err)
		}
	}
	delete(m.topics, t.id)
	if m.byName[t.name] == t {
		delete(m.byName, t.name)
	}
}

// removeStrayDirs deletes partition directories of topics that no longer
// exist (deleted while the broker was down, or a crash mid-delete).
func (m *Manager) removeStrayDirs(img *metadata.Image) {
	entries, err := os.ReadDir(m.cfg.DataDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		i := strings.LastIndexByte(name, '-')
		if !e.IsDir() || i <= 0 || strings.HasPrefix(name, "__cluster_metadata") {
			continue
		}
		if _, err := os.Stat(filepath.Join(m.cfg.DataDir, name, topicIDFile)); err != nil {
			continue // not a partition directory of ours
		}
		topic, idx := name[:i], name[i+1:]
		n, err := strconv.Atoi(idx)
		t := img.Topics[topic]
		if err == nil && t != nil && n < len(t.Partitions) && contains(t.Partitions[n].Replicas, m.cfg.NodeID) {
			continue
		}
		m.log.Info("removing replica of a deleted topic", "dir", name)
		if err := os.RemoveAll(filepath.Join(m.cfg.DataDir, name)); err != nil {
			m.log.Error("cannot remove stray replica", "dir", name, "err", err)
		}
	}
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

// Close closes every replica cleanly (flush, snapshots, clean marker).
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, t := range m.topics {
		for _, p := range t.partitions {
			if p != nil {
				errs = append(errs, p.Close())
			}
		}
	}
	m.topics = map[metadata.UUID]*topicReplicas{}
	m.byName = map[string]*topicReplicas{}
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
