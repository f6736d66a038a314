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
// offsets to the group's partition, and returns the wait for the answer.
// The offsets are applied to the group (and so visible to OffsetFetch)
// once the high watermark covers them, and the answer waits for that, at
// most offsets.commit.timeout.ms, with no lock held; on a single replica
// the answer is ready at once. A commit that times out is answered
// COORDINATOR_NOT_AVAILABLE (Kafka's translation of REQUEST_TIMED_OUT),
// and is still applied if it commits later.
func (c *Coordinator) StartCommitOffsets(req *kmsg.OffsetCommitRequest) func(context.Context) *kmsg.OffsetCommitResponse {
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	answer := func() *kmsg.OffsetCommitResponse {
		resp := kmsg.NewPtrOffsetCommitResponse()
		for i, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for j, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, codes[i][j]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	ready := func(context.Context) *kmsg.OffsetCommitResponse { return answer() }
	// Partitions of unknown topics are refused first, as Kafka's request
	// handler does before the coordinator sees the request.
	img := c.md.Image()
	valid := 0
	for i, t := range req.Topics {
		mt := img.Topics[t.Topic]
		for j, p := range t.Partitions {
			if mt == nil || p.Partition < 0 || int(p.Partition) >= len(mt.Partitions) {
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			valid++
		}
	}
	failAll := func(code int16) func(context.Context) *kmsg.OffsetCommitResponse {
		for i := range codes {
			for j := range codes[i] {
				if codes[i][j] == 0 {
					codes[i][j] = code
				}
			}
		}
		return ready
	}
	if valid == 0 {
		return ready
	}
	// An empty group id is a valid group for commits, fetches, describes
	// and deletes: old consumers with group.id="" committed under it, and
	// Kafka still serves it "for backwards compatibility".
	// A commit with a generation may not create the group: it comes from
	// a member of a generation this coordinator does not know.
	g, err := c.acquire(req.Group, req.Generation < 0)
	if err != nil {
		return failAll(codeOf(err, kerr.IllegalGeneration))
	}
	unlock := func() {
		drop := g.dropIfUnused()
		g.mu.Unlock()
		if drop {
			c.removeGroup(g)
		}
	}
	if err := g.validateCommit(req.MemberID, req.InstanceID, req.Generation); err != nil {
		unlock()
		return failAll(err.(*kerr.Error).Code)
	}

	now := c.nowMs()
	type pending struct {
		i, j  int
		topic string
		part  int32
		o     offset
	}
	var todo []pending
	var recs []record.Record
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			if codes[i][j] != 0 {
				continue
			}
			o := offset{offset: p.Offset, leaderEpoch: p.LeaderEpoch, commitTime: now, expireTime: -1}
			if p.Metadata != nil {
				o.metadata = *p.Metadata
			}
			if len(o.metadata) > c.cfg.maxMetadataBytes {
				codes[i][j] = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			if req.Version == 1 && p.Timestamp != -1 {
				o.commitTime = p.Timestamp // v1 lets the client set it
			}
			if req.RetentionTimeMillis != -1 && req.Version >= 2 && req.Version <= 4 {
				// KIP-211 keeps the old semantics for these versions: the
				// offset expires then, whatever the group's state.
				o.expireTime = now + req.RetentionTimeMillis
			}
			todo = append(todo, pending{i, j, t.Topic, p.Partition, o})
			recs = append(recs, record.Record{Key: offsetKey(g.id, t.Topic, p.Partition), Value: offsetValue(o)})
		}
	}
	if len(recs) == 0 {
		unlock()
		return ready
	}
	for _, p := range todo {
		g.pendingOffsets[topicPartition{p.topic, p.part}]++
	}
	wr, err := g.write(recs, func(err error) {
		for _, p := range todo {
			g.donePendingOffset(p.topic, p.part)
		}
		if !coordinator.Applied(err) || g.state == stateDead {
			// Not committed; or committed, then the group was deleted
			// (its tombstones covered these offsets) or unloaded.
			return
		}
		for _, p := range todo {
			g.setOffset(p.topic, p.part, p.o)
		}
	})
	if err != nil {
		for _, p := range todo {
			g.donePendingOffset(p.topic, p.part)
		}
		unlock()
		c.log.Warn("cannot write offset commit", "group", g.id, "err", err)
		code := offsetAppendCode(err)
		for _, p := range todo {
			codes[p.i][p.j] = code
		}
		return ready
	}
	unlock()
	return func(ctx context.Context) *kmsg.OffsetCommitResponse {
		if err := c.wait(ctx, wr); err != nil {
			c.log.Warn("offset commit not replicated", "group", req.Group, "err", err)
			code := offsetAppendCode(err)
			for _, p := range todo {
				codes[p.i][p.j] = code
			}
		}
		return answer()
	}
}

// donePendingOffset counts off a completed commit of one partition.
func (g *group) donePendingOffset(topic string, partition int32) {
	k := topicPartition{topic, partition}
	if g.pendingOffsets[k]--; g.pendingOffsets[k] <= 0 {
		delete(g.pendingOffsets, k)
	}
}

// validateCommit is Kafka's check of who may commit: anyone while the group
// is Empty and the commit carries no generation (admin tools, consumers
// that assign partitions themselves); otherwise a member of the current
// generation, not while its assignment is being computed.
func (g *group) validateCommit(memberID string, instanceID *string, generation int32) error {
	if g.state == stateDead {
		return kerr.CoordinatorNotAvailable
	}
	if generation < 0 && g.state == stateEmpty {
		return nil
	}
	if generation >= 0 || memberID != "" || instanceID != nil {
		if err := g.validateMember(memberID, instanceID); err != nil {
			return err
		}
		if generation != g.generation {
			return kerr.IllegalGeneration
		}
	} else if g.state != stateEmpty {
		return kerr.UnknownMemberID
	}
	if g.state == stateCompletingRebalance {
		return kerr.RebalanceInProgress
	}
	return nil
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

// FetchedPartition is a committed offset; Offset is -1 when none is.
type FetchedPartition struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
}

// FetchedTopic is the committed offsets of one topic.
type FetchedTopic struct {
	Topic      string
	Partitions []FetchedPartition
}

// FetchOffsets returns the group's committed offsets for topics, or for
// every partition it has committed when topics is nil. A group that does
// not exist has no offsets (-1), which is not an error.
func (c *Coordinator) FetchOffsets(groupID string, topics []TopicPartitions) ([]FetchedTopic, error) {
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
			if o, ok := offsets[t.Topic][p]; ok {
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
				// A commit still pending is deleted too: its tombstone
				// follows it in the log.
				_, ok := g.offsets[t.Topic][p]
				if ok || g.pendingOffsets[topicPartition{t.Topic, p}] > 0 {
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
// commits too) and its metadata, and marks it Dead at once, as Kafka does:
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
	for k := range g.pendingOffsets {
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

// CompleteTxn ends the transactional offset commits of producer pid on
// partition index of __consumer_offsets: on commit they become the
// group's committed offsets, on abort they are dropped. The markers path
// calls it once the marker is committed in that partition.
//
// TODO(txn groups): a stub until TxnOffsetCommit exists.
func (c *Coordinator) CompleteTxn(index int32, pid int64, commit bool) {}
