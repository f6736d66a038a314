package group

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/replication"
)

// fakeClock is a manual clock: timers fire, in deadline order and on the
// caller's goroutine, only when Advance moves time past them. Tests that
// use it need no sleeps: after Advance returns, every effect of the timers
// it fired has happened.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c      *fakeClock
	at     time.Time
	f      func()
	done   bool
	seqNum int
}

func newFakeClock() *fakeClock {
	// In the past, so that records stamped with this clock are never
	// "from the future" for the partition's timestamp checks, however far
	// a test advances.
	return &fakeClock{now: time.Now().Add(-48 * time.Hour).Truncate(time.Millisecond)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f, seqNum: len(c.timers)}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves time forward by d, firing every timer that falls due,
// including timers that those timers create within the window.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		live := c.timers[:0]
		for _, t := range c.timers {
			if t.done {
				continue
			}
			live = append(live, t)
			if !t.at.After(target) && (next == nil || t.at.Before(next.at) || (t.at.Equal(next.at) && t.seqNum < next.seqNum)) {
				next = t
			}
		}
		c.timers = live
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		if next.at.After(c.now) {
			c.now = next.at
		}
		next.done = true
		c.mu.Unlock()
		next.f()
	}
}

// env is a coordinator on a real controller, replica manager and
// partitions in a temporary directory, driven by a fake clock.
type env struct {
	t     *testing.T
	dir   string
	sets  []string
	clock *fakeClock
	wall  bool // the wall clock instead of clock
	cfg   *config.Broker
	ctl   *controller.OneNode
	reps  *replication.Manager
	c     *Coordinator
}

// defaultSets keep tests small and fast: 3 partitions, short timeouts.
var defaultSets = []string{
	"offsets.topic.num.partitions=3",
	"group.initial.rebalance.delay.ms=100",
	"group.min.session.timeout.ms=100",
	"offsets.retention.check.interval.ms=10000",
}

func newEnv(t *testing.T, sets ...string) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), sets: append(append([]string{}, defaultSets...), sets...), clock: newFakeClock()}
	e.open()
	t.Cleanup(e.close)
	return e
}

// newWallEnv is newEnv on the wall clock, for tests of concurrency.
func newWallEnv(t *testing.T, sets ...string) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), sets: append(append([]string{}, defaultSets...), sets...), wall: true}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	t := e.t
	t.Helper()
	cfg, err := config.Load("", e.sets, map[string]string{"log.dirs": e.dir})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	e.ctl, err = controller.OpenOneNode(controller.Config{
		DataDir: e.dir, NodeID: cfg.NodeID, ClusterID: "group-test",
		DefaultPartitions: 1, DefaultReplicationFactor: 1, ValidateConfigs: cfg.ValidateTopicOverrides,
	}, "127.0.0.1", 9092)
	if err != nil {
		t.Fatal(err)
	}
	e.reps = replication.New(replication.Config{
		NodeID: cfg.NodeID, DataDir: e.dir,
		Resolve: func(o map[string]string) partition.Config {
			tc := cfg.ResolveTopic(o)
			compact := false
			for _, p := range tc.CleanupPolicy {
				compact = compact || p == "compact"
			}
			return partition.Config{
				Log:               log.Config{SegmentBytes: tc.SegmentBytes},
				MaxMessageBytes:   tc.MaxMessageBytes,
				MinInsyncReplicas: 1, Compact: compact,
				TimestampBeforeMaxMs: tc.TimestampBeforeMaxMs, TimestampAfterMaxMs: tc.TimestampAfterMaxMs,
			}
		},
	})
	e.ctl.Subscribe(e.reps.Apply)
	opts := Options{Clock: e.clock, Logger: slog.New(slog.DiscardHandler)}
	if e.wall {
		opts.Clock = nil
	}
	e.c = New(cfg, e.ctl, e.reps, opts)
	e.c.Start()
	if _, err := e.c.FindCoordinator(context.Background(), "any"); err != nil {
		t.Fatal(err)
	}
	e.waitLoaded()
}

// waitLoaded polls, with a deadline, until every shard has loaded.
func (e *env) waitLoaded() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := e.c.ListGroups(nil, nil); err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatal("coordinator did not load its partitions within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func (e *env) close() {
	if e.c == nil {
		return
	}
	e.c.Close()
	e.reps.Close()
	e.ctl.Close()
	e.c = nil
}

// restart closes everything and reopens it on the same directory, as a
// broker restart does.
func (e *env) restart() {
	e.t.Helper()
	e.close()
	e.open()
}

// createTopic creates a topic the tests commit offsets for.
func (e *env) createTopic(name string, partitions int32) {
	e.t.Helper()
	_, errs := e.ctl.CreateTopics(context.Background(), []controller.TopicSpec{{Name: name, NumPartitions: partitions, ReplicationFactor: 1}}, false)
	if errs[0] != nil {
		e.t.Fatal(errs[0])
	}
}

// sub is a consumer protocol subscription (version 1, with owned
// partitions as KIP-429 cooperative members send them).
func sub(owned map[string][]int32, topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 1
	m.Topics = topics
	keys := make([]string, 0, len(owned))
	for t := range owned {
		keys = append(keys, t)
	}
	sort.Strings(keys)
	for _, t := range keys {
		m.OwnedPartitions = append(m.OwnedPartitions, kmsg.ConsumerMemberMetadataOwnedPartition{Topic: t, Partitions: owned[t]})
	}
	return m.AppendTo(nil)
}

// tmember is a test client of one group member.
type tmember struct {
	e         *env
	group     string
	id        string
	gen       int32
	instance  *string
	version   int16
	session   int32
	rebalance int32
	ptype     string
	protocols []kmsg.JoinGroupRequestProtocol
}

func (e *env) member(group string) *tmember {
	return &tmember{
		e: e, group: group, version: 9, session: 10000, rebalance: 30000, ptype: "consumer",
		protocols: []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: sub(nil, "t")}},
	}
}

func (e *env) staticMember(group, instance string) *tmember {
	m := e.member(group)
	m.instance = &instance
	return m
}

func (m *tmember) joinReq() *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = m.version
	r.Group = m.group
	r.MemberID = m.id
	r.InstanceID = m.instance
	r.SessionTimeoutMillis = m.session
	r.RebalanceTimeoutMillis = m.rebalance
	r.ProtocolType = m.ptype
	r.Protocols = m.protocols
	return r
}

// joinAsync sends JoinGroup; a MEMBER_ID_REQUIRED answer (KIP-394) is
// followed at once by the second join with the id handed out.
func (m *tmember) joinAsync() <-chan *kmsg.JoinGroupResponse {
	ch := m.e.c.JoinGroup(m.joinReq(), Client{ID: "test-client", Host: "/127.0.0.1"})
	select {
	case r := <-ch:
		if r.ErrorCode == kerr.MemberIDRequired.Code {
			m.id = r.MemberID
			return m.e.c.JoinGroup(m.joinReq(), Client{ID: "test-client", Host: "/127.0.0.1"})
		}
		out := make(chan *kmsg.JoinGroupResponse, 1)
		out <- r
		return out
	default:
		return ch
	}
}

// took records a successful JoinGroup answer.
func (m *tmember) took(r *kmsg.JoinGroupResponse) *kmsg.JoinGroupResponse {
	m.e.t.Helper()
	if r.ErrorCode != 0 {
		m.e.t.Fatalf("join of %s: %v", m.id, kerr.ErrorForCode(r.ErrorCode))
	}
	m.id, m.gen = r.MemberID, r.Generation
	return r
}

func (m *tmember) syncAsync(assign map[string][]byte) <-chan *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 5
	r.Group, r.MemberID, r.Generation, r.InstanceID = m.group, m.id, m.gen, m.instance
	ids := make([]string, 0, len(assign))
	for id := range assign {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: assign[id]})
	}
	return m.e.c.SyncGroup(r)
}

func (m *tmember) heartbeat() int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Group, r.MemberID, r.Generation, r.InstanceID = m.group, m.id, m.gen, m.instance
	return m.e.c.Heartbeat(r)
}

func (m *tmember) leave() int16 {
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID, lm.InstanceID = m.id, m.instance
	out, err := m.e.c.LeaveGroup(m.group, []kmsg.LeaveGroupRequestMember{lm})
	if err != nil {
		return err.(*kerr.Error).Code
	}
	return out[0].ErrorCode
}

func (m *tmember) commit(topic string, partition int32, off int64, meta string) int16 {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 8
	r.Group, r.MemberID, r.Generation, r.InstanceID = m.group, m.id, m.gen, m.instance
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset, p.Metadata, p.LeaderEpoch = partition, off, &meta, 7
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetCommitRequestTopicPartition{p}}}
	return m.e.c.CommitOffsets(r).Topics[0].Partitions[0].ErrorCode
}

// recv returns the value on ch; the coordinator answers synchronously or
// from a timer fired by Advance, so the deadline only guards a bug.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("no response within 5s")
		panic("unreachable")
	}
}

// pending asserts that no response has been sent on ch yet.
func pending[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected early response %+v", v)
	default:
	}
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var w int16
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Fatalf("%s: got %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// stateOf is the group's state as DescribeGroups shows it.
func (e *env) stateOf(group string) string {
	return e.c.DescribeGroup(group).State
}

// stabilize runs a full rebalance of members (all of which must join):
// joins, the initial delay when the group was empty, the leader's sync
// with assign(leader's member list), and every member's sync. It returns
// each member's assignment.
func (e *env) stabilize(assign func(members []kmsg.JoinGroupResponseMember) map[string][]byte, ms ...*tmember) map[string][]byte {
	e.t.Helper()
	chs := make([]<-chan *kmsg.JoinGroupResponse, len(ms))
	for i, m := range ms {
		chs[i] = m.joinAsync()
	}
	// Members joining during the initial delay extend it (Kafka's
	// rule): advance a delay at a time until the rebalance completes.
	for i := 0; len(chs[0]) == 0 && i < 100; i++ {
		e.clock.Advance(max(e.c.cfg.initialDelay, time.Millisecond))
	}
	var leader *tmember
	var members []kmsg.JoinGroupResponseMember
	for i, m := range ms {
		r := m.took(recv(e.t, chs[i]))
		if r.LeaderID == m.id {
			leader, members = m, r.Members
		}
	}
	if leader == nil {
		e.t.Fatal("no member was told it leads")
	}
	plan := assign(members)
	syncs := make([]<-chan *kmsg.SyncGroupResponse, len(ms))
	for i, m := range ms {
		if m != leader {
			syncs[i] = m.syncAsync(nil)
		}
	}
	for i, m := range ms {
		if m == leader {
			syncs[i] = m.syncAsync(plan)
		}
	}
	out := map[string][]byte{}
	for i, m := range ms {
		r := recv(e.t, syncs[i])
		wantCode(e.t, "sync", r.ErrorCode, nil)
		out[m.id] = r.MemberAssignment
	}
	return out
}

// byName assigns each member its own id as the assignment bytes.
func byName(members []kmsg.JoinGroupResponseMember) map[string][]byte {
	out := map[string][]byte{}
	for _, m := range members {
		out[m.MemberID] = []byte("assigned:" + m.MemberID)
	}
	return out
}
