package broker

// meta.properties: which node and cluster a data directory belongs to, in
// the file and layout of Kafka's KRaft mode (version 1), so an operator who
// knows Kafka recognises it. The broker reads it at start and writes it when
// it learns the cluster id from the quorum; `samsa storage format` writes it
// ahead of the first start (Kafka's `kafka-storage format`). Both go through
// this file, and through log.FS so fault tests cover it.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/samsa-kafka/samsa/internal/log"
)

const metaPropertiesFile = "meta.properties"

// MetaProperties is the content of a data directory's meta.properties.
type MetaProperties struct {
	ClusterID string
	NodeID    int32
}

// ReadMetaProperties reads dir's meta.properties. A directory that was never
// formatted gives an error matching fs.ErrNotExist.
func ReadMetaProperties(fsys log.FS, dir string) (MetaProperties, error) {
	path := filepath.Join(dir, metaPropertiesFile)
	b, err := log.ReadFile(fsys, path)
	if err != nil {
		return MetaProperties{}, fmt.Errorf("broker: %w", err)
	}
	props := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			props[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	// Version 0 is a ZooKeeper-mode Kafka broker's (broker.id, no
	// node.id): its data is not a KRaft node's.
	if v := props["version"]; v != "1" {
		return MetaProperties{}, fmt.Errorf("broker: %s: version=%s, samsa reads version 1 (KRaft)", path, v)
	}
	id, err := strconv.ParseInt(props["node.id"], 10, 32)
	if err != nil {
		return MetaProperties{}, fmt.Errorf("broker: %s: node.id=%q is not a node id", path, props["node.id"])
	}
	if props["cluster.id"] == "" {
		return MetaProperties{}, fmt.Errorf("broker: %s has no cluster.id", path)
	}
	return MetaProperties{ClusterID: props["cluster.id"], NodeID: int32(id)}, nil
}

// WriteMetaProperties replaces dir's meta.properties atomically: a crash
// leaves the old file or the new one.
func WriteMetaProperties(fsys log.FS, dir string, m MetaProperties) error {
	content := fmt.Sprintf("version=1\ncluster.id=%s\nnode.id=%d\n", m.ClusterID, m.NodeID)
	if err := log.WriteFileAtomic(fsys, filepath.Join(dir, metaPropertiesFile), []byte(content)); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}

// check refuses the data of another node, or of another cluster than
// clusterID ("" accepts any cluster).
func (m MetaProperties) check(dir string, nodeID int32, clusterID string) error {
	path := filepath.Join(dir, metaPropertiesFile)
	if m.NodeID != nodeID {
		return fmt.Errorf("broker: %s belongs to node.id %d, not %d", path, m.NodeID, nodeID)
	}
	if clusterID != "" && clusterID != m.ClusterID {
		return fmt.Errorf("broker: %s belongs to cluster %s, not %s", path, m.ClusterID, clusterID)
	}
	return nil
}

// loadMetaProperties returns the cluster id dir's data belongs to: the one
// in meta.properties, else the configured cluster.id (written there now),
// else "" (a fresh node learns it from the quorum, and checkClusterID
// writes it). The data of another node, or of another cluster than the
// configured one, is refused rather than adopted.
func loadMetaProperties(fsys log.FS, dir string, nodeID int32, configured string) (string, error) {
	m, err := ReadMetaProperties(fsys, dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if configured != "" {
			return configured, WriteMetaProperties(fsys, dir, MetaProperties{ClusterID: configured, NodeID: nodeID})
		}
		return "", nil
	case err != nil:
		return "", err
	}
	if err := m.check(dir, nodeID, configured); err != nil {
		return "", err
	}
	return m.ClusterID, nil
}

// ErrFormatted is returned by Format for a data directory that is already
// formatted for the same node and cluster.
var ErrFormatted = errors.New("already formatted")

// Format prepares dir for node nodeID of cluster clusterID, as Kafka's
// `kafka-storage format` does: it writes meta.properties, so the node's
// first start knows its cluster (and a fresh quorum adopts the id). A
// directory already formatted for this node and cluster gives ErrFormatted
// (wrapped, with what it holds); one of another node or cluster is refused.
// It takes the directory's lock, so a running node's data is never
// reformatted.
func Format(fsys log.FS, dir string, nodeID int32, clusterID string) error {
	if fsys == nil {
		fsys = log.OSFS()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("broker: data dir: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	m, err := ReadMetaProperties(fsys, dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return WriteMetaProperties(fsys, dir, MetaProperties{ClusterID: clusterID, NodeID: nodeID})
	case err != nil:
		return err
	}
	if err := m.check(dir, nodeID, clusterID); err != nil {
		return err
	}
	return fmt.Errorf("broker: %s is %w for cluster %s, node %d", dir, ErrFormatted, m.ClusterID, m.NodeID)
}
