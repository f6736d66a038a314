package metadata

import (
	"fmt"
	"maps"
	"slices"
)

// Record is one change to the metadata image. Exactly one field is set.
// Records are the unit the controller makes durable (and, with a quorum,
// replicates); applying the same records in the same order always yields
// the same image.
type Record struct {
	RegisterBroker *RegisterBroker `json:"registerBroker,omitempty"`
	CreateTopic    *CreateTopic    `json:"createTopic,omitempty"`
	DeleteTopic    *DeleteTopic    `json:"deleteTopic,omitempty"`
	AddPartitions  *AddPartitions  `json:"addPartitions,omitempty"`
	SetTopicConfig *SetTopicConfig `json:"setTopicConfig,omitempty"`
	ProducerIDs    *ProducerIDs    `json:"producerIds,omitempty"`
	// SetBrokerConfig was added after the first release: older metadata
	// logs simply have none.
	SetBrokerConfig *SetBrokerConfig `json:"setBrokerConfig,omitempty"`
	// The cluster records (metadata.version 2).
	Bootstrap       *Bootstrap       `json:"bootstrap,omitempty"`
	BrokerChange    *BrokerChange    `json:"brokerChange,omitempty"`
	PartitionChange *PartitionChange `json:"partitionChange,omitempty"`
	FeatureLevel    *FeatureLevel    `json:"featureLevel,omitempty"`
	// The SCRAM credential records (metadata.version 5).
	UserScramCredential       *UserScramCredential       `json:"userScramCredential,omitempty"`
	RemoveUserScramCredential *RemoveUserScramCredential `json:"removeUserScramCredential,omitempty"`
}

// Bootstrap is the first record of a cluster's metadata log: the cluster id
// every node writes to its meta.properties. The first active controller
// commits it; a log that already has one never gets another.
type Bootstrap struct {
	ClusterID string `json:"clusterId"`
}

// FeatureLevel finalizes a feature's level (metadata.version among them).
type FeatureLevel struct {
	Name  string `json:"name"`
	Level int16  `json:"level"`
}

// BrokerChange changes a registered broker's state. Epoch must be the
// broker's current epoch: a change meant for an earlier incarnation is a
// no-op, so a late decision never fences a broker that has re-registered.
type BrokerChange struct {
	NodeID int32 `json:"nodeId"`
	Epoch  int64 `json:"epoch"`
	// Fenced and ShuttingDown, when set, replace the broker's flags.
	Fenced       *bool `json:"fenced,omitempty"`
	ShuttingDown *bool `json:"shuttingDown,omitempty"`
}

// PartitionChange changes one partition's leadership or replicas. A nil
// field keeps the current value. The leader epoch is bumped when the
// leader changes; the partition epoch on every change (as KRaft's
// PartitionChangeRecord), so both are derived, never carried: an ISR-only
// change (AlterPartition) moves the partition epoch alone, as KRaft does
// from metadata.version 3.6 (KAFKA-15021). An ISR is never empty.
//
// Adding and Removing (a reassignment in progress, KIP-455: the replicas
// being added and removed, all of them in Replicas) go with Replicas: a
// change that sets Replicas restates them, absent meaning none, so a
// completed or cancelled reassignment clears them; a change without
// Replicas keeps them. (KRaft's record carries them separately, with null
// for "unchanged"; the codec's omitempty cannot tell an empty list from
// an absent one.) They were added in metadata.version 3; a record that
// has them is encoded as version 1 of its type, so an older node stops at
// it instead of misreading it.
type PartitionChange struct {
	TopicID   UUID    `json:"topicId"`
	Partition int32   `json:"partition"`
	Leader    *int32  `json:"leader,omitempty"`
	ISR       []int32 `json:"isr,omitempty"`
	Replicas  []int32 `json:"replicas,omitempty"`
	Adding    []int32 `json:"adding,omitempty"`
	Removing  []int32 `json:"removing,omitempty"`
}

// SetBrokerConfig replaces the dynamic broker configs of one level: the
// cluster-wide defaults when NodeID is nil, else one broker's. An empty
// Configs removes every dynamic config of that level.
type SetBrokerConfig struct {
	NodeID  *int32            `json:"nodeId,omitempty"`
	Configs map[string]string `json:"configs"`
}

// ProducerIDs hands a block of producer ids [First, First+Size) to a
// broker, which then assigns them to InitProducerId callers without a
// metadata commit each (as KIP-730 does).
type ProducerIDs struct {
	NodeID int32 `json:"nodeId"`
	First  int64 `json:"first"`
	Size   int64 `json:"size"`
}

// RegisterBroker records a broker incarnation and its advertised
// endpoint. The broker's epoch is the metadata offset of this record, so a
// restart (a new incarnation) always gets a larger one. A registered broker
// starts fenced; the controller unfences it once it has caught up.
type RegisterBroker struct {
	NodeID      int32   `json:"nodeId"`
	Host        string  `json:"host"`
	Port        int32   `json:"port"`
	Rack        *string `json:"rack,omitempty"`
	Incarnation UUID    `json:"incarnation,omitempty"`
	// Unfenced registers the broker unfenced (single-node bootstrap).
	Unfenced bool `json:"unfenced,omitempty"`
	// HTTP is the broker's HTTP listener (host:port; the console and
	// /metrics), for the consoles of other brokers to gather cluster-wide
	// traffic from; never shown to Kafka clients. A record with it is
	// encoded at version 1 and needs metadata.version 4.
	HTTP string `json:"http,omitempty"`
	// Listeners are the broker's client listeners by name, the
	// inter-broker one (Host and Port) among them. A record with them is
	// encoded at version 2 and needs metadata.version 5.
	Listeners []Endpoint `json:"listeners,omitempty"`
}

// CreateTopic records a new topic with its partitions' assignments.
type CreateTopic struct {
	Name     string            `json:"name"`
	ID       UUID              `json:"id"`
	Internal bool              `json:"internal,omitempty"`
	Replicas [][]int32         `json:"replicas"` // per partition, leader first
	Configs  map[string]string `json:"configs,omitempty"`
}

// DeleteTopic removes a topic by id.
type DeleteTopic struct {
	ID UUID `json:"id"`
}

// AddPartitions appends partitions to a topic.
type AddPartitions struct {
	ID       UUID      `json:"id"`
	Replicas [][]int32 `json:"replicas"`
}

// SetTopicConfig replaces a topic's dynamic config overrides.
type SetTopicConfig struct {
	ID      UUID              `json:"id"`
	Configs map[string]string `json:"configs"`
}

// Apply returns the image that results from applying r at index offset.
// The receiver is not modified. An error means the record does not fit the
// image (a bug in whoever produced it); the image is then unchanged.
func (im *Image) Apply(offset int64, r Record) (*Image, error) {
	next := im.shallowCopy()
	next.Offset = offset
	switch {
	case r.RegisterBroker != nil:
		b := r.RegisterBroker
		next.Brokers = maps.Clone(im.Brokers)
		next.Brokers[b.NodeID] = Broker{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack,
			Incarnation: b.Incarnation, Epoch: offset, Fenced: !b.Unfenced, HTTP: b.HTTP, Listeners: cloneOrNilEndpoints(b.Listeners)}
	case r.BrokerChange != nil:
		c := r.BrokerChange
		b, ok := im.Brokers[c.NodeID]
		if !ok {
			return im, fmt.Errorf("metadata: broker change: unknown broker %d", c.NodeID)
		}
		if b.Epoch != c.Epoch {
			break // meant for an earlier incarnation
		}
		if c.Fenced != nil {
			b.Fenced = *c.Fenced
		}
		if c.ShuttingDown != nil {
			b.ShuttingDown = *c.ShuttingDown
		}
		next.Brokers = maps.Clone(im.Brokers)
		next.Brokers[c.NodeID] = b
	case r.PartitionChange != nil:
		c := r.PartitionChange
		old := im.ByID[c.TopicID]
		if old == nil || c.Partition < 0 || int(c.Partition) >= len(old.Partitions) {
			return im, fmt.Errorf("metadata: partition change %s/%d: unknown partition", c.TopicID, c.Partition)
		}
		if c.ISR != nil && len(c.ISR) == 0 {
			// An empty ISR would not survive the codec (omitempty reads
			// it back as "keep"), so the image that made it and the ones
			// that decode it would differ. The controller never empties
			// an ISR (its last member stays).
			return im, fmt.Errorf("metadata: partition change %s/%d: empty ISR", c.TopicID, c.Partition)
		}
		if err := checkReassignment(c); err != nil {
			return im, fmt.Errorf("metadata: partition change %s/%d: %w", c.TopicID, c.Partition, err)
		}
		t := *old
		t.Partitions = append([]Partition(nil), old.Partitions...)
		p := &t.Partitions[c.Partition]
		if c.Replicas != nil {
			p.Replicas = append([]int32(nil), c.Replicas...)
			p.Adding = cloneOrNil(c.Adding)
			p.Removing = cloneOrNil(c.Removing)
		}
		if c.ISR != nil {
			p.ISR = append([]int32(nil), c.ISR...)
		}
		if c.Leader != nil && *c.Leader != p.Leader {
			p.Leader = *c.Leader
			p.LeaderEpoch++
		}
		p.PartitionEpoch++
		next.putTopic(im, &t)
	case r.Bootstrap != nil:
		if im.ClusterID != "" {
			return im, fmt.Errorf("metadata: bootstrap: cluster id already %s", im.ClusterID)
		}
		if r.Bootstrap.ClusterID == "" {
			return im, fmt.Errorf("metadata: bootstrap: empty cluster id")
		}
		next.ClusterID = r.Bootstrap.ClusterID
	case r.FeatureLevel != nil:
		f := r.FeatureLevel
		if f.Name == MetadataVersionFeature && f.Level > MaxMetadataVersion {
			return im, fmt.Errorf("metadata: %s %d is newer than this node supports (%d)", f.Name, f.Level, MaxMetadataVersion)
		}
		if f.Name == TransactionVersionFeature && (f.Level < MinTransactionVersion || f.Level > MaxTransactionVersion) {
			return im, fmt.Errorf("metadata: %s %d is outside what this node supports (%d to %d)", f.Name, f.Level, MinTransactionVersion, MaxTransactionVersion)
		}
		next.Features = maps.Clone(im.Features)
		if next.Features == nil {
			next.Features = map[string]int16{}
		}
		next.Features[f.Name] = f.Level
	case r.CreateTopic != nil:
		c := r.CreateTopic
		if im.Topics[c.Name] != nil {
			return im, fmt.Errorf("metadata: create topic %q: exists", c.Name)
		}
		if im.ByID[c.ID] != nil {
			return im, fmt.Errorf("metadata: create topic %q: id %s in use", c.Name, c.ID)
		}
		t := &Topic{Name: c.Name, ID: c.ID, Internal: c.Internal, Configs: maps.Clone(c.Configs)}
		if t.Configs == nil {
			t.Configs = map[string]string{}
		}
		t.Partitions = appendPartitions(nil, c.Replicas)
		next.putTopic(im, t)
	case r.DeleteTopic != nil:
		t := im.ByID[r.DeleteTopic.ID]
		if t == nil {
			return im, fmt.Errorf("metadata: delete topic %s: unknown id", r.DeleteTopic.ID)
		}
		next.Topics = maps.Clone(im.Topics)
		next.ByID = maps.Clone(im.ByID)
		delete(next.Topics, t.Name)
		delete(next.ByID, t.ID)
	case r.AddPartitions != nil:
		old := im.ByID[r.AddPartitions.ID]
		if old == nil {
			return im, fmt.Errorf("metadata: add partitions %s: unknown id", r.AddPartitions.ID)
		}
		t := *old
		t.Partitions = appendPartitions(append([]Partition(nil), old.Partitions...), r.AddPartitions.Replicas)
		next.putTopic(im, &t)
	case r.SetTopicConfig != nil:
		old := im.ByID[r.SetTopicConfig.ID]
		if old == nil {
			return im, fmt.Errorf("metadata: set config %s: unknown id", r.SetTopicConfig.ID)
		}
		t := *old
		t.Configs = maps.Clone(r.SetTopicConfig.Configs)
		if t.Configs == nil {
			t.Configs = map[string]string{}
		}
		next.putTopic(im, &t)
	case r.SetBrokerConfig != nil:
		c := r.SetBrokerConfig
		configs := maps.Clone(c.Configs)
		if configs == nil {
			configs = map[string]string{}
		}
		if c.NodeID == nil {
			next.DefaultBrokerConfigs = configs
			break
		}
		if *c.NodeID < 0 {
			return im, fmt.Errorf("metadata: set broker config: node id %d", *c.NodeID)
		}
		next.BrokerConfigs = maps.Clone(im.BrokerConfigs)
		if next.BrokerConfigs == nil {
			next.BrokerConfigs = map[int32]map[string]string{}
		}
		if len(configs) == 0 {
			delete(next.BrokerConfigs, *c.NodeID)
		} else {
			next.BrokerConfigs[*c.NodeID] = configs
		}
	case r.ProducerIDs != nil:
		if r.ProducerIDs.First != im.NextProducerID {
			return im, fmt.Errorf("metadata: producer id block at %d, want %d", r.ProducerIDs.First, im.NextProducerID)
		}
		next.NextProducerID = r.ProducerIDs.First + r.ProducerIDs.Size
	case r.UserScramCredential != nil, r.RemoveUserScramCredential != nil:
		scram, err := im.applyScram(r)
		if err != nil {
			return im, err
		}
		scram.Offset = offset
		return scram, nil
	default:
		return im, fmt.Errorf("metadata: empty record at %d", offset)
	}
	return next, nil
}

func (im *Image) shallowCopy() *Image {
	c := *im
	return &c
}

// putTopic installs t (new or replacing the topic of the same id) into the
// copy-on-write maps of next, whose maps are still shared with prev.
func (im *Image) putTopic(prev *Image, t *Topic) {
	im.Topics = maps.Clone(prev.Topics)
	im.ByID = maps.Clone(prev.ByID)
	im.Topics[t.Name] = t
	im.ByID[t.ID] = t
}

// checkReassignment checks a change's Adding and Removing: only with
// Replicas, each a set of its members, and no replica in both. (An image
// whose Adding or Removing names a replica outside Replicas would make a
// broker follow a partition it is not a replica of.)
func checkReassignment(c *PartitionChange) error {
	if c.Replicas == nil {
		if c.Adding != nil || c.Removing != nil {
			return fmt.Errorf("adding or removing replicas without the replica set")
		}
		return nil
	}
	return validReassignment(c.Replicas, c.Adding, c.Removing)
}

// validReassignment checks that adding and removing name replicas only,
// none twice.
func validReassignment(replicas, adding, removing []int32) error {
	seen := make(map[int32]bool, len(adding)+len(removing))
	for _, id := range append(slices.Clone(adding), removing...) {
		if seen[id] || !slices.Contains(replicas, id) {
			return fmt.Errorf("replica %d is added or removed twice, or is not a replica", id)
		}
		seen[id] = true
	}
	return nil
}

func cloneOrNil(s []int32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func appendPartitions(ps []Partition, replicas [][]int32) []Partition {
	for _, rs := range replicas {
		p := Partition{
			Index:    int32(len(ps)),
			Replicas: append([]int32(nil), rs...),
			ISR:      append([]int32(nil), rs...),
			Leader:   -1,
		}
		if len(rs) > 0 {
			p.Leader = rs[0]
		}
		ps = append(ps, p)
	}
	return ps
}

// ApplyEntry applies one metadata log entry at offset: every record or,
// if one does not fit, none of them (the image then only moves its
// offset, and the error says why). Controllers and brokers apply entries
// through it alike, so their images never differ.
func (im *Image) ApplyEntry(offset int64, recs []Record) (*Image, error) {
	next := im
	for _, r := range recs {
		var err error
		if next, err = next.Apply(offset, r); err != nil {
			return im.withOffset(offset), err
		}
	}
	return next.withOffset(offset), nil
}

func (im *Image) withOffset(off int64) *Image {
	if im.Offset == off {
		return im
	}
	c := *im
	c.Offset = off
	return &c
}

func cloneOrNilEndpoints(s []Endpoint) []Endpoint {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
