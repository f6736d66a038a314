package metadata

import (
	"fmt"
	"maps"
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

// RegisterBroker records a broker and its advertised endpoint.
type RegisterBroker struct {
	NodeID int32   `json:"nodeId"`
	Host   string  `json:"host"`
	Port   int32   `json:"port"`
	Rack   *string `json:"rack,omitempty"`
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
		next.Brokers[b.NodeID] = Broker{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack}
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
