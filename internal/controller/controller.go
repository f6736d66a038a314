// Package controller makes the cluster's metadata decisions (topic
// creation, deletion, partition growth, config changes, broker
// registration) and commits them as metadata.Records. Today it is a single
// node that makes records durable in a local log; the multi-broker issue
// replaces the store with a hashicorp/raft quorum behind the same methods.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// Error is a refusal with the Kafka error code a Kafka controller would
// answer and a message for the client. errors.As(err, new(*kerr.Error))
// finds the code.
type Error struct {
	Code    *kerr.Error
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Code }

func errorf(code *kerr.Error, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Config configures the controller.
type Config struct {
	DataDir   string
	NodeID    int32
	ClusterID string
	Logger    *slog.Logger
	// DefaultPartitions and DefaultReplicationFactor answer -1 in
	// CreateTopics (num.partitions, default.replication.factor).
	DefaultPartitions        int32
	DefaultReplicationFactor int16
	// ValidateConfigs checks a topic's whole set of config overrides (each
	// value, and rules that relate several); nil accepts all.
	ValidateConfigs func(configs map[string]string) error
}

// Controller owns the metadata log and the current image.
type Controller struct {
	cfg Config
	log *slog.Logger

	mu   sync.Mutex // serialises commits; held while subscribers run
	st   *store
	img  atomic.Pointer[metadata.Image]
	subs []func(prev, next *metadata.Image)
}

// Open replays the metadata log under cfg.DataDir.
func Open(cfg Config) (*Controller, error) {
	c := &Controller{cfg: cfg, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.Default()
	}
	img := metadata.Empty(cfg.ClusterID, cfg.NodeID)
	var n int64
	st, err := openStore(filepath.Join(cfg.DataDir, "__cluster_metadata-0", "metadata.log"), func(r metadata.Record) error {
		next, err := img.Apply(n, r)
		if err != nil {
			return err
		}
		img, n = next, n+1
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.st = st
	c.img.Store(img)
	return c, nil
}

// Image is the current metadata image.
func (c *Controller) Image() *metadata.Image { return c.img.Load() }

// Subscribe registers fn to be called, in commit order and before the
// committing call returns, with each new image. It is first called with
// (empty, current) so a subscriber can build its state from scratch.
func (c *Controller) Subscribe(fn func(prev, next *metadata.Image)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subs = append(c.subs, fn)
	cur := c.img.Load()
	fn(metadata.Empty(cur.ClusterID, cur.ControllerID), cur)
}

// Close closes the metadata log.
func (c *Controller) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.close()
}

// commit makes recs durable and publishes the resulting image. Callers hold c.mu.
func (c *Controller) commit(recs []metadata.Record) error {
	prev := c.img.Load()
	next := prev
	for _, r := range recs {
		var err error
		if next, err = next.Apply(next.Offset+1, r); err != nil {
			return err
		}
	}
	if err := c.st.append(recs); err != nil {
		return errorf(kerr.KafkaStorageError, "%v", err)
	}
	c.img.Store(next)
	for _, fn := range c.subs {
		fn(prev, next)
	}
	return nil
}

// RegisterBroker records this broker's endpoint if it changed.
func (c *Controller) RegisterBroker(nodeID int32, host string, port int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.img.Load().Brokers[nodeID]; ok && b.Host == host && b.Port == port {
		return nil
	}
	return c.commit([]metadata.Record{{RegisterBroker: &metadata.RegisterBroker{NodeID: nodeID, Host: host, Port: port}}})
}

// TopicSpec is one topic to create.
type TopicSpec struct {
	Name              string
	NumPartitions     int32 // -1: the broker default
	ReplicationFactor int16 // -1: the broker default
	// Assignments, when set, gives each partition's replicas explicitly;
	// then NumPartitions and ReplicationFactor must be -1.
	Assignments [][]int32
	Configs     map[string]string
	Internal    bool
}

// Created describes a topic CreateTopics made (or would make).
type Created struct {
	ID                metadata.UUID // zero for a validate-only creation
	NumPartitions     int32
	ReplicationFactor int16
}

var (
	legalTopic = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
)

// maxTopicLength is Kafka's limit: 249, so that "<topic>-<partition>"
// directories and derived file names stay within 255 bytes.
const maxTopicLength = 249

// ValidateTopicName applies Kafka's topic-name rules.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return errorf(kerr.InvalidTopicException, "topic name is empty")
	case name == "." || name == "..":
		return errorf(kerr.InvalidTopicException, "topic name cannot be %q", name)
	case len(name) > maxTopicLength:
		return errorf(kerr.InvalidTopicException, "topic name is %d characters, longer than the maximum %d", len(name), maxTopicLength)
	case !legalTopic.MatchString(name):
		return errorf(kerr.InvalidTopicException, "topic name %q contains characters other than ASCII alphanumerics, '.', '_' and '-'", name)
	}
	return nil
}

// collisionKey maps '.' and '_' together: Kafka refuses topics that differ
// only there because metric names would collide.
func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// CreateTopics creates each topic or explains why not; errs[i] answers specs[i].
func (c *Controller) CreateTopics(ctx context.Context, specs []TopicSpec, validateOnly bool) ([]Created, []error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img := c.img.Load()
	out := make([]Created, len(specs))
	errs := make([]error, len(specs))
	var recs []metadata.Record
	var idx []int
	pending := map[string]bool{}
	for i, s := range specs {
		rec, cr, err := c.planTopic(img, s, pending)
		if err != nil {
			errs[i] = err
			continue
		}
		pending[collisionKey(s.Name)] = true
		out[i] = cr
		if !validateOnly {
			out[i].ID = rec.ID
			recs = append(recs, metadata.Record{CreateTopic: rec})
			idx = append(idx, i)
		}
	}
	if len(recs) > 0 {
		if err := c.commit(recs); err != nil {
			for _, i := range idx {
				errs[i], out[i] = err, Created{}
			}
		}
	}
	return out, errs
}

func (c *Controller) planTopic(img *metadata.Image, s TopicSpec, pending map[string]bool) (*metadata.CreateTopic, Created, error) {
	if err := ValidateTopicName(s.Name); err != nil {
		return nil, Created{}, err
	}
	if img.Topics[s.Name] != nil {
		return nil, Created{}, errorf(kerr.TopicAlreadyExists, "topic %q already exists", s.Name)
	}
	key := collisionKey(s.Name)
	if pending[key] {
		return nil, Created{}, errorf(kerr.InvalidRequest, "topic %q is named more than once in the request", s.Name)
	}
	for _, other := range img.Topics {
		if collisionKey(other.Name) == key {
			return nil, Created{}, errorf(kerr.InvalidTopicException, "topic %q collides with existing topic %q ('.' and '_' are equivalent)", s.Name, other.Name)
		}
	}
	if !s.Internal && strings.HasPrefix(s.Name, "__") && isReservedInternal(s.Name) {
		return nil, Created{}, errorf(kerr.InvalidRequest, "topic %q is reserved for internal use", s.Name)
	}
	if c.cfg.ValidateConfigs != nil {
		if err := c.cfg.ValidateConfigs(s.Configs); err != nil {
			return nil, Created{}, errorf(kerr.InvalidConfig, "%v", err)
		}
	}
	replicas, err := c.assign(img, s.Assignments, s.NumPartitions, s.ReplicationFactor, 0)
	if err != nil {
		return nil, Created{}, err
	}
	rec := &metadata.CreateTopic{
		Name:     s.Name,
		ID:       metadata.NewUUID(),
		Internal: s.Internal,
		Replicas: replicas,
		Configs:  maps.Clone(s.Configs),
	}
	return rec, Created{NumPartitions: int32(len(replicas)), ReplicationFactor: int16(len(replicas[0]))}, nil
}

func isReservedInternal(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state" || name == "__cluster_metadata"
}

// assign returns the replica lists for n new partitions, numbered from
// first: explicit ones checked against the registered brokers, or Kafka's
// round-robin placement starting after the previous partition's leader.
func (c *Controller) assign(img *metadata.Image, explicit [][]int32, n int32, rf int16, first int32) ([][]int32, error) {
	brokers := img.BrokerIDs()
	if len(explicit) > 0 {
		if n != -1 || rf != -1 {
			return nil, errorf(kerr.InvalidRequest, "both replica assignments and a partition count or replication factor were given")
		}
		want := len(explicit[0])
		for i, rs := range explicit {
			if len(rs) == 0 || len(rs) != want {
				return nil, errorf(kerr.InvalidReplicaAssignment, "partition %d has %d replicas; every partition needs the same non-zero number", first+int32(i), len(rs))
			}
			seen := map[int32]bool{}
			for _, r := range rs {
				if _, ok := img.Brokers[r]; !ok {
					return nil, errorf(kerr.InvalidReplicaAssignment, "partition %d names unknown broker %d", first+int32(i), r)
				}
				if seen[r] {
					return nil, errorf(kerr.InvalidReplicaAssignment, "partition %d names broker %d twice", first+int32(i), r)
				}
				seen[r] = true
			}
		}
		out := make([][]int32, len(explicit))
		for i, rs := range explicit {
			out[i] = append([]int32(nil), rs...)
		}
		return out, nil
	}
	if n == -1 {
		n = c.cfg.DefaultPartitions
	}
	if rf == -1 {
		rf = c.cfg.DefaultReplicationFactor
	}
	if n <= 0 {
		return nil, errorf(kerr.InvalidPartitions, "number of partitions must be larger than 0, got %d", n)
	}
	if rf <= 0 {
		return nil, errorf(kerr.InvalidReplicationFactor, "replication factor must be larger than 0, got %d", rf)
	}
	if int(rf) > len(brokers) {
		return nil, errorf(kerr.InvalidReplicationFactor, "replication factor %d is larger than the %d available brokers", rf, len(brokers))
	}
	const maxPartitions = 1 << 20 // well above any sane topic; bounds memory for hostile requests
	if n > maxPartitions {
		return nil, errorf(kerr.InvalidPartitions, "number of partitions %d exceeds the limit %d", n, maxPartitions)
	}
	out := make([][]int32, n)
	for p := range n {
		rs := make([]int32, rf)
		for r := range rf {
			rs[r] = brokers[(int(first+p)+int(r))%len(brokers)]
		}
		out[p] = rs
	}
	return out, nil
}

// DeleteTopics deletes topics by name (ids zero) or id; errs[i] answers names[i]/ids[i].
func (c *Controller) DeleteTopics(ctx context.Context, names []string, ids []metadata.UUID) ([]*metadata.Topic, []error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img := c.img.Load()
	n := max(len(names), len(ids))
	out := make([]*metadata.Topic, n)
	errs := make([]error, n)
	var recs []metadata.Record
	var idx []int
	seen := map[metadata.UUID]bool{}
	for i := range n {
		var t *metadata.Topic
		if i < len(ids) && ids[i] != (metadata.UUID{}) {
			if t = img.ByID[ids[i]]; t == nil {
				errs[i] = errorf(kerr.UnknownTopicID, "topic id %s does not exist", ids[i])
				continue
			}
		} else {
			name := ""
			if i < len(names) {
				name = names[i]
			}
			if t = img.Topics[name]; t == nil {
				errs[i] = errorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
				continue
			}
		}
		out[i] = t
		if t.Internal {
			errs[i] = errorf(kerr.TopicDeletionDisabled, "internal topic %q cannot be deleted", t.Name)
			continue
		}
		if seen[t.ID] {
			continue
		}
		seen[t.ID] = true
		recs = append(recs, metadata.Record{DeleteTopic: &metadata.DeleteTopic{ID: t.ID}})
		idx = append(idx, i)
	}
	if len(recs) > 0 {
		if err := c.commit(recs); err != nil {
			for _, i := range idx {
				errs[i] = err
			}
		}
	}
	return out, errs
}

// CreatePartitions grows a topic to total partitions.
func (c *Controller) CreatePartitions(ctx context.Context, name string, total int32, assignments [][]int32, validateOnly bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	img := c.img.Load()
	t := img.Topics[name]
	if t == nil {
		return errorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	have := int32(len(t.Partitions))
	if total < have {
		return errorf(kerr.InvalidPartitions, "topic %q has %d partitions; the count can only grow, not to %d", name, have, total)
	}
	if total == have {
		return errorf(kerr.InvalidPartitions, "topic %q already has %d partitions", name, have)
	}
	add := total - have
	var replicas [][]int32
	var err error
	if len(assignments) > 0 {
		if int32(len(assignments)) != add {
			return errorf(kerr.InvalidReplicaAssignment, "%d assignments given for %d new partitions", len(assignments), add)
		}
		replicas, err = c.assign(img, assignments, -1, -1, have)
	} else {
		replicas, err = c.assign(img, nil, add, int16(len(t.Partitions[0].Replicas)), have)
	}
	if err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	return c.commit([]metadata.Record{{AddPartitions: &metadata.AddPartitions{ID: t.ID, Replicas: replicas}}})
}

// AlterTopicConfig replaces topic's dynamic configs with what alter returns
// for the current ones. alter validates and reports INVALID_CONFIG itself.
func (c *Controller) AlterTopicConfig(ctx context.Context, name string, validateOnly bool, alter func(cur map[string]string) (map[string]string, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.img.Load().Topics[name]
	if t == nil {
		return errorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	next, err := alter(maps.Clone(t.Configs))
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return err
		}
		return errorf(kerr.InvalidConfig, "%v", err)
	}
	if c.cfg.ValidateConfigs != nil {
		if err := c.cfg.ValidateConfigs(next); err != nil {
			return errorf(kerr.InvalidConfig, "%v", err)
		}
	}
	if validateOnly || maps.Equal(next, t.Configs) {
		return nil
	}
	return c.commit([]metadata.Record{{SetTopicConfig: &metadata.SetTopicConfig{ID: t.ID, Configs: next}}})
}

// AlterBrokerConfig replaces the dynamic broker configs of one level
// (node nil: the cluster-wide defaults; else that broker's) with what alter
// returns for the current ones. alter validates; an error that is not
// already an *Error is answered INVALID_REQUEST, as Kafka answers a
// ConfigException about a broker config ("Invalid config value for
// resource ..."), unlike a topic config's INVALID_CONFIG.
func (c *Controller) AlterBrokerConfig(ctx context.Context, node *int32, validateOnly bool, alter func(cur map[string]string) (map[string]string, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	img := c.img.Load()
	cur := img.DefaultBrokerConfigs
	if node != nil {
		cur = img.BrokerConfigs[*node]
	}
	if cur == nil {
		cur = map[string]string{}
	}
	next, err := alter(maps.Clone(cur))
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return err
		}
		return errorf(kerr.InvalidRequest, "%v", err)
	}
	if validateOnly || maps.Equal(next, cur) {
		return nil
	}
	if node != nil {
		n := *node
		node = &n
	}
	return c.commit([]metadata.Record{{SetBrokerConfig: &metadata.SetBrokerConfig{NodeID: node, Configs: next}}})
}

// AllocateProducerIDs commits a block of size producer ids for nodeID and
// returns its first id.
func (c *Controller) AllocateProducerIDs(nodeID int32, size int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.img.Load().NextProducerID
	if first > math.MaxInt64-size {
		return 0, errorf(kerr.UnknownServerError, "producer ids exhausted")
	}
	err := c.commit([]metadata.Record{{ProducerIDs: &metadata.ProducerIDs{NodeID: nodeID, First: first, Size: size}}})
	return first, err
}
