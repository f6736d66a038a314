package group

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// staticMetadata is a controller whose image the test sets: one
// __consumer_offsets partition led by node 1, and a topic "t".
type staticMetadata struct {
	mu   sync.Mutex
	img  *metadata.Image
	subs []func(prev, next *metadata.Image)
}

func newStaticMetadata(epoch int32) *staticMetadata {
	m := &staticMetadata{}
	m.img = m.image(epoch)
	return m
}

func (m *staticMetadata) image(epoch int32) *metadata.Image {
	img := metadata.Empty("replicated-test", 1)
	img.Brokers = map[int32]metadata.Broker{1: {NodeID: 1, Host: "127.0.0.1", Port: 9092}}
	img.Topics = map[string]*metadata.Topic{
		TopicName: {Name: TopicName, ID: metadata.UUID{1}, Internal: true, Partitions: []metadata.Partition{
			{Index: 0, Leader: 1, LeaderEpoch: epoch, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}}},
		"t": {Name: "t", ID: metadata.UUID{2}, Partitions: []metadata.Partition{
			{Index: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}},
			{Index: 1, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}}}},
	}
	return img
}

func (m *staticMetadata) Image() *metadata.Image {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.img
}

func (m *staticMetadata) Subscribe(fn func(prev, next *metadata.Image)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs = append(m.subs, fn)
	fn(metadata.Empty("replicated-test", 1), m.img)
}

// publish delivers next to the subscribers, one delivery at a time (the
// test's goroutine is the only publisher).
func (m *staticMetadata) publish(next *metadata.Image) {
	m.mu.Lock()
	prev := m.img
	m.img = next
	subs := m.subs
	m.mu.Unlock()
	for _, fn := range subs {
		fn(prev, next)
	}
}

func (*staticMetadata) CreateTopics(context.Context, []controller.TopicSpec, bool) ([]controller.Created, []error) {
	panic("not used")
}

type oneReplica struct{ p *partition.Partition }

func (r oneReplica) Partition(topic string, index int32) *partition.Partition {
	if topic == TopicName && index == 0 {
		return r.p
	}
	return nil
}

// replicatedEnv is a coordinator on one __consumer_offsets partition whose
// ISR is this node (1) and a follower (2) that the test plays: the high
// watermark moves only when the test says the follower fetched. Topic "t"
// has partitions 0 and 1.
type replicatedEnv struct {
	t  *testing.T
	md *staticMetadata
	p  *partition.Partition
	c  *Coordinator
}

func newReplicatedEnv(t *testing.T, sets ...string) *replicatedEnv {
	t.Helper()
	cfg, err := config.Load("", append([]string{"offsets.topic.num.partitions=1"}, sets...), map[string]string{"log.dirs": t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := partition.OpenReplica(t.TempDir(), TopicName, 0, partition.Config{
		MaxMessageBytes: 1 << 20, MinInsyncReplicas: 1, Compact: true,
		TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64,
	}, partition.ReplicaOptions{LocalID: 1, HighWatermark: -1, LagTimeMax: time.Hour}, log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if _, err := p.MakeLeader(0, []int32{1, 2}, []int32{1, 2}, 0); err != nil {
		t.Fatal(err)
	}
	e := &replicatedEnv{t: t, md: newStaticMetadata(0), p: p}
	e.c = New(cfg, e.md, oneReplica{p}, Options{Logger: slog.New(slog.DiscardHandler)})
	e.c.Start()
	t.Cleanup(func() { e.c.Close() })
	e.waitLoaded()
	return e
}

func (e *replicatedEnv) waitLoaded() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := e.c.ListGroups(nil, nil); err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatal("not loaded within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// replicate has the follower fetch up to the leader's log end.
func (e *replicatedEnv) replicate() { e.p.UpdateFollower(2, e.p.LogEndOffset(), time.Now()) }

func commitReq(group string, off int64) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 8
	r.Group, r.Generation = group, -1
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset = 0, off
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{p}}}
	return r
}

func (e *replicatedEnv) fetched(group string) int64 {
	e.t.Helper()
	out, err := e.c.FetchOffsets(group, []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}, false)
	if err != nil {
		e.t.Fatal(err)
	}
	return out[0].Partitions[0].Offset
}

// awaitFetched polls until group's committed offset of t-0 is want (10 s
// at most): a commit that timed out is applied once it replicates.
func (e *replicatedEnv) awaitFetched(group string, want int64) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.fetched(group) != want {
		if time.Now().After(deadline) {
			e.t.Fatalf("offset %d on t-0, want %d once replicated", e.fetched(group), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// answer runs a commit's wait on its own goroutine.
func answer(wait func(context.Context) *kmsg.OffsetCommitResponse) <-chan int16 {
	ch := make(chan int16, 1)
	go func() { ch <- wait(context.Background()).Topics[0].Partitions[0].ErrorCode }()
	return ch
}

// TestCommitWaitsForReplication: a commit is answered, and visible to
// OffsetFetch, only once the high watermark covers it; meanwhile the
// group's other requests are served (no lock is held while it waits).
// Commits complete in log order.
func TestCommitWaitsForReplication(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t)
	first := answer(e.c.StartCommitOffsets(commitReq("g", 10)))
	second := answer(e.c.StartCommitOffsets(commitReq("g", 20)))
	pending(t, first)
	if got := e.fetched("g"); got != -1 {
		t.Fatalf("offset %d visible before it is replicated", got)
	}
	if d := e.c.DescribeGroup("g"); d.ErrorCode != 0 || d.State != "Empty" {
		t.Fatalf("describe while a commit waits: %+v", d)
	}
	e.replicate()
	wantCode(t, "first commit", recv(t, first), nil)
	wantCode(t, "second commit", recv(t, second), nil)
	if got := e.fetched("g"); got != 20 {
		t.Fatalf("offset %d, want the later commit's 20", got)
	}
}

// TestCommitTimeout: a commit not replicated within
// offsets.commit.timeout.ms is answered COORDINATOR_NOT_AVAILABLE; it is
// in the log, and visible once the follower catches up.
func TestCommitTimeout(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t, "offsets.commit.timeout.ms=50")
	wantCode(t, "commit", e.c.CommitOffsets(commitReq("g", 7)).Topics[0].Partitions[0].ErrorCode, kerr.CoordinatorNotAvailable)
	if got := e.fetched("g"); got != -1 {
		t.Fatalf("offset %d visible before it is replicated", got)
	}
	e.replicate()
	e.awaitFetched("g", 7)
}

// TestCommitTimeoutAnswerIsNotTheBatch: a commit whose wait timed out has
// its answer written into the request's partitions while its batch is
// still in flight; the batch's completion, which may run at the same time
// on the writer's goroutine (a data race the chaos suite's -race run
// found in a TxnOffsetCommit), must work from its own copy. Here the
// request's partitions are overwritten after the timeout, before the
// follower catches up: the offset still lands on t-0, and t-1 gets none.
func TestCommitTimeoutAnswerIsNotTheBatch(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t, "offsets.commit.timeout.ms=50")
	cr := &offsetCommit{group: "g", generation: -1, parts: []commitPart{
		{topic: "t", partition: 0, o: offset{offset: 7, leaderEpoch: -1, commitTime: -1, expireTime: -1}}}}
	e.c.startCommit(cr)(context.Background())
	wantCode(t, "commit", cr.parts[0].code, kerr.CoordinatorNotAvailable)
	cr.parts[0] = commitPart{topic: "t", partition: 1, o: offset{offset: 99}, code: cr.parts[0].code}
	e.replicate()
	e.awaitFetched("g", 7)
	out, err := e.c.FetchOffsets("g", []TopicPartitions{{Topic: "t", Partitions: []int32{1}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Partitions[0].Offset; got != -1 {
		t.Fatalf("offset %d on t-1, which the batch never held", got)
	}
}

// TestCommitLeaderEpochChange: a commit pending when the partition moves
// to a new leader epoch fails with NOT_COORDINATOR and is not applied; the
// coordinator loads the partition again in the new epoch (from its log,
// uncommitted tail included, once the high watermark covers it), and
// appends in that epoch only.
func TestCommitLeaderEpochChange(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t)
	wait := answer(e.c.StartCommitOffsets(commitReq("g", 5)))
	pending(t, wait)
	// Re-elected in epoch 1: the replica manager applies the record
	// first, then the coordinator sees the image.
	if _, err := e.p.MakeLeader(1, []int32{1, 2}, []int32{1, 2}, 1); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "commit pending across the epoch change", recv(t, wait), kerr.NotCoordinator)
	e.md.publish(e.md.image(1))
	// The new shard waits for the high watermark to cover the log it
	// loaded, the earlier commit included.
	if _, err := e.c.ListGroups(nil, nil); err != kerr.CoordinatorLoadInProgress {
		t.Fatalf("list while loading: %v", err)
	}
	e.replicate()
	e.waitLoaded()
	if got := e.fetched("g"); got != 5 {
		t.Fatalf("offset %d after the reload, want 5 (the log's)", got)
	}
	next := answer(e.c.StartCommitOffsets(commitReq("g", 6)))
	e.replicate()
	wantCode(t, "commit in epoch 1", recv(t, next), nil)
	if got := e.fetched("g"); got != 6 {
		t.Fatalf("offset %d, want 6", got)
	}
}

// TestDeleteGroupWithPendingCommit: a group deleted while a commit of it
// waits for replication is gone for good: its tombstones cover the
// pending commit, so neither the commit's completion nor a reload from the
// log brings the offset back.
func TestDeleteGroupWithPendingCommit(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t)
	commit := answer(e.c.StartCommitOffsets(commitReq("g", 5)))
	deleted := make(chan error, 1)
	go func() { deleted <- e.c.DeleteGroups([]string{"g"})[0] }()
	// The deletion waits for its tombstones, which follow the commit.
	deadline := time.Now().Add(10 * time.Second)
	for e.c.DescribeGroup("g").State != "Dead" {
		if time.Now().After(deadline) {
			t.Fatal("group not deleted within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	pending(t, commit)
	e.replicate()
	wantCode(t, "commit", recv(t, commit), nil)
	if err := recv(t, deleted); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got := e.fetched("g"); got != -1 {
		t.Fatalf("offset %d after the delete, want none", got)
	}
	if _, err := e.p.MakeLeader(1, []int32{1, 2}, []int32{1, 2}, 1); err != nil {
		t.Fatal(err)
	}
	e.md.publish(e.md.image(1))
	e.replicate()
	e.waitLoaded()
	if got := e.fetched("g"); got != -1 {
		t.Fatalf("offset %d after a reload, want none", got)
	}
}

// TestSyncGroupWaitsForReplication: the leader's assignment is handed out,
// and the group becomes Stable, only once its GroupMetadata record is
// replicated; if the leadership ends first, the members are answered
// NOT_COORDINATOR and find the new coordinator.
func TestSyncGroupWaitsForReplication(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t, "group.initial.rebalance.delay.ms=0", "group.min.session.timeout.ms=100")
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version = 3 // no MEMBER_ID_REQUIRED round trip
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = "g", 10000, 10000
	join.ProtocolType = "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: sub(nil, "t")}}
	jr := recv(t, e.c.JoinGroup(join, Client{ID: "c", Host: "/127.0.0.1"}))
	wantCode(t, "join", jr.ErrorCode, nil)
	syncReq := func() *kmsg.SyncGroupRequest {
		r := kmsg.NewPtrSyncGroupRequest()
		r.Group, r.MemberID, r.Generation = "g", jr.MemberID, jr.Generation
		r.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: []byte("a1")}}
		return r
	}
	sync := e.c.SyncGroup(syncReq())
	pending(t, sync)
	if st := e.c.DescribeGroup("g").State; st != "CompletingRebalance" {
		t.Fatalf("state %s while the assignment is replicated", st)
	}
	e.replicate()
	sr := recv(t, sync)
	wantCode(t, "sync", sr.ErrorCode, nil)
	if string(sr.MemberAssignment) != "a1" || e.c.DescribeGroup("g").State != "Stable" {
		t.Fatalf("assignment %q, state %s", sr.MemberAssignment, e.c.DescribeGroup("g").State)
	}

	// A rejoin starts generation 2; its assignment is pending when the
	// partition moves to epoch 1.
	jr = recv(t, e.c.JoinGroup(func() *kmsg.JoinGroupRequest { r := *join; r.MemberID = jr.MemberID; return &r }(), Client{ID: "c", Host: "/127.0.0.1"}))
	wantCode(t, "rejoin", jr.ErrorCode, nil)
	sync = e.c.SyncGroup(syncReq())
	pending(t, sync)
	if _, err := e.p.MakeLeader(1, []int32{1, 2}, []int32{1, 2}, 1); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "sync across the epoch change", recv(t, sync).ErrorCode, kerr.NotCoordinator)
}
