package group

import (
	"context"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/record"
)

// CommitOffsets handles an OffsetCommit request and waits for its answer
// (StartCommitOffsets).
func (c *Coordinator) CommitOffsets(req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	return c.StartCommitOffsets(req)(context.Background())
}

// StartCommitOffsets handles an OffsetCommit request of any version (v1's
// per-partition commit timestamp, v2-v4's retention time, v6's leader
// epoch, v7's instance id): it validates the commit and appends the
// offsets to the group's partition, and returns the wait for the answer
// (see startCommit). The offsets are applied to the group, and so visible
// to OffsetFetch, once the high watermark covers them.
func (c *Coordinator) StartCommitOffsets(req *kmsg.OffsetCommitRequest) func(context.Context) *kmsg.OffsetCommitResponse {
	cr := &offsetCommit{group: req.Group, memberID: req.MemberID, instanceID: req.InstanceID, generation: req.Generation}
	now := c.nowMs()
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			o := offset{offset: p.Offset, leaderEpoch: p.LeaderEpoch, commitTime: -1, expireTime: -1}
			if p.Metadata != nil {
				o.metadata = *p.Metadata
			}
			if req.Version == 1 && p.Timestamp != -1 {
				o.commitTime = p.Timestamp // v1 lets the client set it
			}
			if req.RetentionTimeMillis != -1 && req.Version >= 2 && req.Version <= 4 {
				// KIP-211 keeps the old semantics for these versions: the
				// offset expires then, whatever the group's state.
				o.expireTime = now + req.RetentionTimeMillis
			}
			cr.parts = append(cr.parts, commitPart{topic: t.Topic, partition: p.Partition, o: o})
		}
	}
	answer := func() *kmsg.OffsetCommitResponse {
		resp := kmsg.NewPtrOffsetCommitResponse()
		n := 0
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, cr.parts[n].code
				rt.Partitions = append(rt.Partitions, rp)
				n++
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	if cr.checkTopics(c.md.Image()) == 0 {
		return func(context.Context) *kmsg.OffsetCommitResponse { return answer() }
	}
	wait := c.startCommit(cr)
	return func(ctx context.Context) *kmsg.OffsetCommitResponse {
		wait(ctx)
		return answer()
	}
}

func (g *group) setOffset(topic string, partition int32, o offset) {
	ps := g.offsets[topic]
	if ps == nil {
		ps = map[int32]offset{}
		g.offsets[topic] = ps
	}
	ps[partition] = o
}

func (g *group) deleteOffset(topic string, partition int32) {
	if ps := g.offsets[topic]; ps != nil {
		delete(ps, partition)
		if len(ps) == 0 {
			delete(g.offsets, topic)
		}
	}
}

// TopicPartitions names partitions of one topic.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// FetchedPartition is a committed offset; Offset is -1 when none is, or
// when ErrorCode is UNSTABLE_OFFSET_COMMIT.
type FetchedPartition struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	ErrorCode   int16
}

// FetchedTopic is the committed offsets of one topic.
type FetchedTopic struct {
	Topic      string
	Partitions []FetchedPartition
}

// FetchOffsets returns the group's committed offsets for topics, or for
// every partition it has committed when topics is nil. A group that does
// not exist has no offsets (-1), which is not an error. With
// requireStable (OffsetFetch v7+, KIP-447) a partition with an offset
// pending in an open transaction answers UNSTABLE_OFFSET_COMMIT, so that a
// consumer does not start from an offset the transaction is about to
// replace; without it, the committed offset is returned.
func (c *Coordinator) FetchOffsets(groupID string, topics []TopicPartitions, requireStable bool) ([]FetchedTopic, error) {
	g, err := c.acquire(groupID, false)
	if err != nil && err != errGroupNotFound {
		return nil, err
	}
	var offsets map[string]map[int32]offset
	if g != nil {
		defer g.mu.Unlock()
		offsets = g.offsets
	}
	if topics == nil {
		names := make([]string, 0, len(offsets))
		for t := range offsets {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			tp := TopicPartitions{Topic: t}
			for p := range offsets[t] {
				tp.Partitions = append(tp.Partitions, p)
			}
			sort.Slice(tp.Partitions, func(i, j int) bool { return tp.Partitions[i] < tp.Partitions[j] })
			topics = append(topics, tp)
		}
	}
	out := make([]FetchedTopic, 0, len(topics))
	for _, t := range topics {
		ft := FetchedTopic{Topic: t.Topic, Partitions: make([]FetchedPartition, 0, len(t.Partitions))}
		for _, p := range t.Partitions {
			fp := FetchedPartition{Partition: p, Offset: -1, LeaderEpoch: -1}
			if requireStable && g != nil && g.hasTxnOffset(topicPartition{t.Topic, p}) {
				fp.ErrorCode = kerr.UnstableOffsetCommit.Code
			} else if o, ok := offsets[t.Topic][p]; ok {
				fp.Offset, fp.LeaderEpoch, fp.Metadata = o.offset, o.leaderEpoch, o.metadata
			}
			ft.Partitions = append(ft.Partitions, fp)
		}
		out = append(out, ft)
	}
	return out, nil
}

// PartitionError is the outcome for one partition.
type PartitionError struct {
	Topic     string
	Partition int32
	Code      int16
}

// DeleteOffsets deletes committed offsets (OffsetDelete, KIP-496); unlike
// the other offset APIs it refuses the empty group id. Offsets
// of topics a live consumer group subscribes to are refused per partition
// with GROUP_SUBSCRIBED_TO_TOPIC; a live group of another protocol refuses
// the whole request with NON_EMPTY_GROUP.
func (c *Coordinator) DeleteOffsets(groupID string, topics []TopicPartitions) ([]PartitionError, error) {
	if groupID == "" {
		return nil, kerr.InvalidGroupID
	}
	g, err := c.acquire(groupID, false)
	if err != nil {
		if err == errGroupNotFound {
			return nil, kerr.GroupIDNotFound
		}
		return nil, err
	}
	if g.state != stateEmpty && g.protocolType != consumerProtocolType {
		g.mu.Unlock()
		return nil, kerr.NonEmptyGroup
	}
	img := c.md.Image()
	out := make([]PartitionError, 0, len(topics))
	var recs []record.Record
	var del []topicPartition
	for _, t := range topics {
		for _, p := range t.Partitions {
			pe := PartitionError{Topic: t.Topic, Partition: p}
			switch {
			case img.Topics[t.Topic] == nil:
				pe.Code = kerr.UnknownTopicOrPartition.Code
			case g.state != stateEmpty && g.isSubscribed(t.Topic):
				pe.Code = kerr.GroupSubscribedToTopic.Code
			default:
				// A commit still pending (in flight, or in an open
				// transaction) is deleted too: its tombstone follows it
				// in the log, and the replay of a tombstone drops the
				// transactions' offsets of its partition.
				_, ok := g.offsets[t.Topic][p]
				tp := topicPartition{t.Topic, p}
				if ok || g.pendingOffsets[tp] > 0 || g.hasTxnOffset(tp) {
					recs = append(recs, record.Record{Key: offsetKey(g.id, t.Topic, p)})
					del = append(del, topicPartition{t.Topic, p})
				}
			}
			out = append(out, pe)
		}
	}
	if len(recs) == 0 {
		g.mu.Unlock()
		return out, nil
	}
	wr, err := g.write(recs, func(err error) {
		if !coordinator.Applied(err) {
			return
		}
		for _, d := range del {
			g.deleteOffset(d.topic, d.partition)
			g.dropTxnOffsets(d)
		}
	})
	g.mu.Unlock()
	if err == nil {
		err = c.wait(context.Background(), wr)
	}
	if err != nil {
		code := offsetAppendCode(err)
		for i := range out {
			if out[i].Code == 0 {
				out[i].Code = code
			}
		}
	}
	return out, nil
}

// DeleteGroups deletes empty groups with their offsets; errs[i] answers ids[i].
func (c *Coordinator) DeleteGroups(ids []string) []error {
	errs := make([]error, len(ids))
	for i, id := range ids {
		errs[i] = c.deleteGroup(id)
	}
	return errs
}

func (c *Coordinator) deleteGroup(id string) error {
	g, err := c.acquire(id, false)
	if err != nil {
		if err == errGroupNotFound {
			return kerr.GroupIDNotFound
		}
		return err
	}
	if g.state != stateEmpty {
		g.mu.Unlock()
		return kerr.NonEmptyGroup
	}
	wr, err := g.tombstone()
	g.mu.Unlock()
	if err != nil {
		return kerr.ErrorForCode(groupAppendCode(err))
	}
	c.removeGroup(g)
	if err := c.wait(context.Background(), wr); err != nil {
		return kerr.ErrorForCode(groupAppendCode(err))
	}
	return nil
}

// tombstone writes tombstones for the group's offsets (those of pending
// commits and of open transactions too) and its metadata, and marks it
// Dead at once, as Kafka does:
// no member may join a group being deleted. If the tombstones do not
// commit, they are still in this leader's log, which either commits them
// later or loses them with its leadership, and the next leader loads the
// group from its own log.
func (g *group) tombstone() (*coordinator.Write, error) {
	var recs []record.Record
	for t, ps := range g.offsets {
		for p := range ps {
			recs = append(recs, record.Record{Key: offsetKey(g.id, t, p)})
		}
	}
	more := map[topicPartition]struct{}{}
	for k := range g.pendingOffsets {
		more[k] = struct{}{}
	}
	for _, ps := range g.txnOffsets {
		for k := range ps {
			more[k] = struct{}{}
		}
	}
	for k := range more {
		if _, ok := g.offsets[k.topic][k.partition]; !ok {
			recs = append(recs, record.Record{Key: offsetKey(g.id, k.topic, k.partition)})
		}
	}
	recs = append(recs, record.Record{Key: groupKey(g.id)})
	wr, err := g.write(recs, nil)
	if err != nil {
		return nil, err
	}
	clear(g.offsets)
	clear(g.txnOffsets)
	g.shutdown(kerr.CoordinatorNotAvailable.Code)
	return wr, nil
}

// DescribeGroup answers DescribeGroups for one group. A group that does not
// exist is described as Dead without an error, as Kafka does below v6.
func (c *Coordinator) DescribeGroup(id string) kmsg.DescribeGroupsResponseGroup {
	d := kmsg.NewDescribeGroupsResponseGroup()
	d.Group = id
	g, err := c.acquire(id, false)
	if err == errGroupNotFound {
		d.State = stateDead.String()
		return d
	}
	if err != nil {
		d.ErrorCode = codeOf(err, kerr.GroupIDNotFound)
		return d
	}
	defer g.mu.Unlock()
	return g.describe()
}

// ListedGroup is one group of ListGroups.
type ListedGroup struct {
	ID           string
	ProtocolType string
	State        string
}

// ListGroups lists the groups of every loaded partition, filtered by state
// (KIP-518) and type (KIP-848: all of ours are "classic"), both matched
// case-insensitively. While a partition is still loading, the answer is
// COORDINATOR_LOAD_IN_PROGRESS, as a partial list would hide groups.
func (c *Coordinator) ListGroups(states, types []string) ([]ListedGroup, error) {
	shards, loading, err := c.loadedShards()
	if err != nil {
		return nil, err
	}
	if loading {
		return nil, kerr.CoordinatorLoadInProgress
	}
	if len(types) > 0 && !containsFold(types, "classic") {
		return nil, nil
	}
	var out []ListedGroup
	for _, s := range shards {
		for _, g := range s.groupsOf() {
			g.mu.Lock()
			if g.state != stateDead && (len(states) == 0 || containsFold(states, g.state.String())) {
				out = append(out, ListedGroup{ID: g.id, ProtocolType: g.protocolType, State: g.state.String()})
			}
			g.mu.Unlock()
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
