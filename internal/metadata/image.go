// Package metadata holds the cluster metadata image: brokers, topics, their
// partitions and configs, as one immutable value that readers share without
// locks. The image only changes by applying Records, in order; today the
// single-node controller produces them from a local durable log, and later a
// Raft quorum will, without changing anything that reads the image.
package metadata

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"sort"
)

// UUID is a Kafka UUID (topic ids, KIP-516).
type UUID [16]byte

// NewUUID returns a random UUID that is neither zero nor Kafka's reserved
// "metadata topic" id (both are special to clients), and whose base64 form
// does not start with '-' (Kafka avoids that so ids never look like flags).
func NewUUID() UUID {
	for {
		var u UUID
		if _, err := rand.Read(u[:]); err != nil {
			panic("metadata: crypto/rand failed: " + err.Error())
		}
		u[6] = (u[6] & 0x0f) | 0x40 // version 4
		u[8] = (u[8] & 0x3f) | 0x80 // IETF variant
		if u == (UUID{}) || u == (UUID{15: 1}) {
			continue
		}
		if s := u.String(); s[0] == '-' {
			continue
		}
		return u
	}
}

// String is the URL-safe unpadded base64 form Kafka uses for ids.
func (u UUID) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// Broker is a registered broker: its endpoint and its state.
type Broker struct {
	NodeID int32
	Host   string
	Port   int32
	Rack   *string
	// Incarnation identifies one run of the broker process; Epoch is the
	// metadata offset of its registration (KRaft's broker epoch).
	Incarnation UUID
	Epoch       int64
	// Fenced brokers lead nothing and are not advertised to clients.
	Fenced bool
	// ShuttingDown: the broker asked for a controlled shutdown; it gets no
	// new leaderships.
	ShuttingDown bool
	// HTTP is the broker's HTTP listener, "" when it has none (or
	// registered before metadata.version 4).
	HTTP string `json:",omitempty"`
	// Listeners are the broker's client listeners with the addresses
	// they advertise, by name; nil for a registration from before
	// metadata.version 5, whose one endpoint is Host and Port. Host and
	// Port are always the inter-broker listener's.
	Listeners []Endpoint `json:",omitempty"`
}

// Endpoint is one named listener's advertised address.
type Endpoint struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Port int32  `json:"port"`
}

// Live reports whether the broker may lead partitions and serve clients.
func (b Broker) Live() bool { return !b.Fenced && !b.ShuttingDown }

// Endpoint is the address the broker advertises on the listener named
// listener, as Kafka answers a client with the endpoints of the listener
// it connected to. "" (a caller that does not know) and a broker
// registered without listener names both give Host and Port; otherwise a
// broker without that listener has none (false).
func (b Broker) Endpoint(listener string) (host string, port int32, ok bool) {
	if listener == "" || b.Listeners == nil {
		return b.Host, b.Port, true
	}
	for _, e := range b.Listeners {
		if e.Name == listener {
			return e.Host, e.Port, true
		}
	}
	return "", 0, false
}

// Partition is one partition's replica assignment and leadership.
type Partition struct {
	Index          int32
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas       []int32
	ISR            []int32
	// Adding and Removing are the replicas a reassignment in progress
	// adds and removes (KIP-455), both nil when none is: Replicas is then
	// the target followed by the replicas being removed. Absent from
	// snapshots written before metadata.version 3, which decode as none.
	Adding   []int32 `json:",omitempty"`
	Removing []int32 `json:",omitempty"`
}

// Reassigning reports whether a reassignment of p is in progress.
func (p Partition) Reassigning() bool { return len(p.Adding) > 0 || len(p.Removing) > 0 }

// Target is the replica set p will have once its reassignment completes:
// Replicas without the ones being removed (Replicas itself when none is
// in progress).
func (p Partition) Target() []int32 {
	if len(p.Removing) == 0 {
		return p.Replicas
	}
	out := make([]int32, 0, len(p.Replicas)-len(p.Removing))
	for _, r := range p.Replicas {
		if !slices.Contains(p.Removing, r) {
			out = append(out, r)
		}
	}
	return out
}

// Topic is a topic and its partitions. Partitions[i].Index == i.
type Topic struct {
	Name       string
	ID         UUID
	Internal   bool
	Partitions []Partition
	// Configs are the topic's dynamic overrides (DYNAMIC_TOPIC_CONFIG).
	Configs map[string]string
}

// Image is an immutable snapshot of the cluster metadata. Never mutate an
// Image that has been published; Apply returns a new one.
type Image struct {
	ClusterID    string
	ControllerID int32
	// Offset is the index of the last record applied (-1 for none).
	Offset  int64
	Brokers map[int32]Broker
	Topics  map[string]*Topic
	ByID    map[UUID]*Topic
	// NextProducerID is the first producer id not yet handed out.
	NextProducerID int64
	// DefaultBrokerConfigs are the dynamic broker configs set for every
	// broker (DYNAMIC_DEFAULT_BROKER_CONFIG); BrokerConfigs those set for
	// one broker (DYNAMIC_BROKER_CONFIG), by node id. Both are replaced
	// whole, never mutated, so a map can be shared between images.
	DefaultBrokerConfigs map[string]string
	BrokerConfigs        map[int32]map[string]string
	// Features are the finalized feature levels (metadata.version ...).
	Features map[string]int16
	// ScramCredentials are the users' SCRAM credentials, by user and
	// mechanism; nil when there are none. Copy-on-write, as the configs.
	ScramCredentials map[string]map[ScramMechanism]ScramCredential
}

// MetadataVersionFeature names the feature that gates record types.
const MetadataVersionFeature = "metadata.version"

// MinMetadataVersion and MaxMetadataVersion are the oldest and newest
// metadata.version this build reads: 1 is the single-node records, 2 adds
// the cluster records (Bootstrap, BrokerChange, PartitionChange,
// FeatureLevel), 3 the reassignment fields of PartitionChange (Adding,
// Removing), 4 the HTTP listener of RegisterBroker, 5 the SCRAM
// credential records (UserScramCredential, RemoveUserScramCredential) and
// the named listeners of RegisterBroker.
// These levels are samsa's own, not Kafka's.
const (
	MinMetadataVersion = 1
	MaxMetadataVersion = 5
	// ScramMetadataVersion is the first level with SCRAM credentials.
	ScramMetadataVersion = 5
)

// TransactionVersionFeature is Kafka's transaction.version (KIP-890): at 2
// every end of a transaction bumps the producer epoch (EndTxn v5) and
// produces and transactional offset commits add their partitions to the
// transaction themselves (Produce v12, TxnOffsetCommit v5); below it
// clients run the original protocol. Its levels are Kafka's.
const TransactionVersionFeature = "transaction.version"

// MinTransactionVersion and MaxTransactionVersion are the transaction.version
// levels this build supports. A new cluster finalizes the highest, as
// Kafka 4 does.
const (
	MinTransactionVersion = 0
	MaxTransactionVersion = 2
)

// LiveBrokerIDs returns the ids of the unfenced brokers not shutting down, sorted.
func (im *Image) LiveBrokerIDs() []int32 {
	var ids []int32
	for _, id := range im.BrokerIDs() {
		if im.Brokers[id].Live() {
			ids = append(ids, id)
		}
	}
	return ids
}

// Empty returns an image with no records applied.
func Empty(clusterID string, controllerID int32) *Image {
	return &Image{
		ClusterID:    clusterID,
		ControllerID: controllerID,
		Offset:       -1,
		Brokers:      map[int32]Broker{},
		Topics:       map[string]*Topic{},
		ByID:         map[UUID]*Topic{},

		DefaultBrokerConfigs: map[string]string{},
		BrokerConfigs:        map[int32]map[string]string{},
		Features:             map[string]int16{},
	}
}

// DynamicBrokerConfigs returns the cluster-wide and the per-broker dynamic
// configs that apply to broker node. Both are non-nil; do not modify them.
func (im *Image) DynamicBrokerConfigs(node int32) (clusterDefault, perBroker map[string]string) {
	perBroker = im.BrokerConfigs[node]
	if perBroker == nil {
		perBroker = map[string]string{}
	}
	clusterDefault = im.DefaultBrokerConfigs
	if clusterDefault == nil {
		clusterDefault = map[string]string{}
	}
	return clusterDefault, perBroker
}

// Topic returns the named topic or nil.
func (im *Image) Topic(name string) *Topic { return im.Topics[name] }

// TopicNames returns the topic names sorted.
func (im *Image) TopicNames() []string {
	names := make([]string, 0, len(im.Topics))
	for n := range im.Topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// BrokerIDs returns the registered broker ids sorted.
func (im *Image) BrokerIDs() []int32 {
	ids := make([]int32, 0, len(im.Brokers))
	for id := range im.Brokers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
