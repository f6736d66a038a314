package group

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/record"
)

// invariants checks the consistency of a group's bookkeeping.
func (g *group) invariants() error {
	if len(g.order) != len(g.members) {
		return fmt.Errorf("%d ids in order, %d members", len(g.order), len(g.members))
	}
	supported := map[string]int{}
	awaiting := 0
	for i, id := range g.order {
		m := g.members[id]
		if m == nil || m.id != id || slices.Index(g.order, id) != i {
			return fmt.Errorf("order[%d] = %q is not a member, or twice", i, id)
		}
		if m.instanceID != nil && g.static[*m.instanceID] != id {
			return fmt.Errorf("static member %q not mapped by instance %q", id, *m.instanceID)
		}
		if m.awaitingJoin() {
			awaiting++
		}
		for _, p := range m.protocols {
			supported[p.name]++
		}
	}
	for inst, id := range g.static {
		if m := g.members[id]; m == nil || m.instanceID == nil || *m.instanceID != inst {
			return fmt.Errorf("instance %q maps to %q, which is not its member", inst, id)
		}
	}
	if awaiting != g.awaitingJoin {
		return fmt.Errorf("%d members await a join, counted %d", awaiting, g.awaitingJoin)
	}
	if !equalCounts(supported, g.supported) {
		return fmt.Errorf("supported protocols %v, counted %v", supported, g.supported)
	}
	if (g.leader == "") != (len(g.members) == 0) || (g.leader != "" && g.members[g.leader] == nil) {
		return fmt.Errorf("leader %q with %d members", g.leader, len(g.members))
	}
	switch g.state {
	case stateEmpty:
		if len(g.members) > 0 {
			return fmt.Errorf("Empty with %d members", len(g.members))
		}
	case stateCompletingRebalance, stateStable:
		if len(g.members) == 0 {
			return fmt.Errorf("%s without members", g.state)
		}
	}
	for id := range g.pendingSync {
		if g.members[id] == nil {
			return fmt.Errorf("pending sync of non-member %q", id)
		}
	}
	return nil
}

func equalCounts(a, b map[string]int) bool { return reflect.DeepEqual(a, b) }

// memLog is an in-memory partition, the only replica, that keeps what is
// appended: every write commits as it is appended.
type memLog struct {
	mu      sync.Mutex
	batches [][]byte
	next    int64
}

func (l *memLog) AppendAsLeader(_ int32, batch []byte, _ int16) (partition.AppendResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := slices.Clone(batch)
	record.SetBaseOffset(b, l.next)
	h, err := record.ParseHeader(b)
	if err != nil {
		return partition.AppendResult{}, err
	}
	l.batches = append(l.batches, b)
	res := partition.AppendResult{BaseOffset: l.next, LastOffset: h.LastOffset()}
	l.next = h.LastOffset() + 1
	return res, nil
}

func (l *memLog) Committed(int32, int64) (bool, error) { return true, nil }
func (l *memLog) CheckLeader(int32) error              { return nil }
func (l *memLog) AddWaiter(chan<- struct{}) func()     { return func() {} }
func (l *memLog) ReadForFollower(int64, int64, bool) (partition.ReadResult, error) {
	return partition.ReadResult{}, errors.New("memLog: not readable")
}
func (l *memLog) LogStartOffset() int64 { return 0 }
func (l *memLog) LogEndOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

// replayAll replays every batch appended to l.
func (l *memLog) replayAll() *loadState {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := newLoadState()
	for _, b := range l.batches {
		h, _ := record.ParseHeader(b)
		st.replayBatch(b, h, func(string, ...any) {})
	}
	return st
}

var (
	fuzzCfgOnce sync.Once
	fuzzCfg     *config.Broker
)

func fuzzConfig(tb testing.TB) *config.Broker {
	fuzzCfgOnce.Do(func() {
		cfg, err := config.Load("", []string{"group.initial.rebalance.delay.ms=0", "group.min.session.timeout.ms=1"}, nil)
		if err != nil {
			panic(err)
		}
		fuzzCfg = cfg
	})
	return fuzzCfg
}

// newMemCoordinator is a coordinator of one loaded, in-memory partition,
// with no controller: enough for the group state machine.
func newMemCoordinator(tb testing.TB) (*Coordinator, *shard, *fakeClock, *memLog) {
	clock := newFakeClock()
	c := New(fuzzConfig(tb), nil, nil, Options{Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	ml := &memLog{}
	s := &shard{rt: &coordinator.Shard{Log: ml, Writer: coordinator.NewWriter(ml, 0)}, loaded: true, groups: map[string]*group{}}
	c.rt.Install(s.rt, s, 1)
	return c, s, clock, ml
}

// describeAll is every group's description as a client reads it (the
// DescribeGroups v5 encoding, where null and empty bytes are alike).
func describeAll(groups map[string]*group) map[string]string {
	out := map[string]string{}
	for id, g := range groups {
		g.mu.Lock()
		out[id] = encodeDescribe(g.describe())
		g.mu.Unlock()
	}
	return out
}

func encodeDescribe(d kmsg.DescribeGroupsResponseGroup) string {
	r := kmsg.NewPtrDescribeGroupsResponse()
	r.Version = 5
	r.Groups = []kmsg.DescribeGroupsResponseGroup{d}
	return string(r.AppendTo(nil))
}

// offsetFrom reads a partition from a given offset, as if the log started there.
type offsetFrom struct {
	*partition.Partition
	start int64
}

func (l offsetFrom) LogStartOffset() int64 { return l.start }

// FuzzLoadRecords: whatever key and value bytes are read back from
// __consumer_offsets (a corrupted record, a newer Kafka's record types),
// loading must not crash, must leave consistent groups, and those groups
// must survive being run (expiry, rebalances) and written back.
func FuzzLoadRecords(f *testing.F) {
	gv := kmsg.NewGroupMetadataValue()
	gv.Version, gv.ProtocolType, gv.Generation = 3, "consumer", 4
	proto, leader, inst := "range", "m1", "i1"
	gv.Protocol, gv.Leader = &proto, &leader
	gv.Members = []kmsg.GroupMetadataValueMember{
		{MemberID: "m1", InstanceID: &inst, ClientID: "c", ClientHost: "/h", RebalanceTimeoutMillis: 100, SessionTimeoutMillis: 10, Subscription: sub(nil, "t"), Assignment: []byte{1}},
		{MemberID: "m2", InstanceID: &inst, ClientID: "c", ClientHost: "/h", RebalanceTimeoutMillis: 100, SessionTimeoutMillis: 20, Subscription: []byte{0, 0}},
		{MemberID: "m1"},
	}
	gv4 := gv
	gv4.Version = 4
	ov := offsetValue(offset{offset: 5, leaderEpoch: 2, metadata: "m", commitTime: 1, expireTime: -1})
	ov1 := offsetValue(offset{offset: 5, leaderEpoch: -1, commitTime: 1, expireTime: 2})
	f.Add(groupKey("g"), gv.AppendTo(nil), false, offsetKey("g", "t", 0), ov)
	f.Add(groupKey("g"), gv4.AppendTo(nil), false, offsetKey("g", "t", 1), ov1)
	f.Add(offsetKey("g", "t", 0), ov, false, offsetKey("g", "t", 0), []byte(nil))
	f.Add(groupKey("g"), []byte{}, true, offsetKey("h", "t", 0), ov)
	f.Add([]byte{0, 9, 0, 0}, []byte{1, 2, 3}, false, []byte{0}, []byte{})
	f.Add([]byte{0, 2, 0, 1, 'g'}, []byte{0, 3, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, false, []byte{0, 1}, []byte{0, 3})

	p, err := partition.Open(f.TempDir(), TopicName, 0, 0, partition.Config{
		MaxMessageBytes: 1 << 20, MinInsyncReplicas: 1, Compact: true,
		TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64,
	}, log.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close() })

	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool, key2, value2 []byte) {
		recs := []record.Record{{Key: nonNil(key), Value: value}, {Key: nonNil(key2), Value: value2, OffsetDelta: 1}}
		if tombstone {
			recs[0].Value = nil
		}
		batch, err := record.BuildBatch(record.CodecNone, 0, recs, record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: time.Now().UnixMilli()})
		if err != nil {
			return
		}
		res, err := p.Append(batch)
		if err != nil {
			return // the partition refused it; it never reaches a loader
		}
		st, err := readPartition(context.Background(), offsetFrom{p, res.BaseOffset}, func(string, ...any) {})
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		c, s, clock, ml := newMemCoordinator(t)
		defer c.Close()
		groups := st.groups(c, s)
		c.activate(s, groups)
		for id, g := range groups {
			g.mu.Lock()
			err := g.invariants()
			g.mu.Unlock()
			if err != nil {
				t.Fatalf("loaded group %q: %v", id, err)
			}
		}
		// Written back and loaded again, a loaded group is the same.
		before := describeAll(groups)
		for _, g := range groups {
			g.mu.Lock()
			if err := g.persistMetadata(nil, nil); err != nil {
				t.Fatal(err)
			}
			g.mu.Unlock()
		}
		again := ml.replayAll().groups(c, s)
		for id, d := range describeAll(again) {
			if d != before[id] {
				t.Fatalf("group %q changed when written back:\n%x\n%x", id, d, before[id])
			}
		}
		// Run the groups: sessions expire, groups rebalance and empty.
		clock.Advance(24 * time.Hour)
		for id, g := range groups {
			g.mu.Lock()
			err := g.invariants()
			g.mu.Unlock()
			if err != nil {
				t.Fatalf("group %q after expiry: %v", id, err)
			}
		}
	})
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// FuzzMemberMetadata: the consumer protocol metadata the broker parses (for
// subscribed topics) comes from clients. It must never crash the broker;
// it must parse whatever kmsg parses; and the bytes of a member's metadata
// and assignment are relayed and persisted exactly.
func FuzzMemberMetadata(f *testing.F) {
	f.Add(sub(nil, "a", "b"), sub(map[string][]int32{"a": {0}}, "a"), []byte("assignment"))
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 1, 'x', 0xff, 0xff, 0xff, 0xff}, []byte{}, []byte(nil))
	f.Add([]byte{0, 0, 0x7f, 0xff, 0xff, 0xff}, []byte{0xff, 0xff}, []byte{0})
	f.Add([]byte{0, 3, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe, 1}, []byte{0, 0, 0, 0, 0, 1, 0xff, 0xff}, []byte{})

	f.Fuzz(func(t *testing.T, meta1, meta2, assignment []byte) {
		topics, err1 := subscribedTopics(meta1)
		// kmsg is laxer than Kafka in two ways we do not follow: it
		// reads a negative version, and a negative topic count as an
		// empty list; Kafka refuses both (SchemaException).
		var km kmsg.ConsumerMemberMetadata
		lax := len(meta1) >= 6 && int32(binary.BigEndian.Uint32(meta1[2:])) < 0
		if kerr := km.ReadFrom(meta1); kerr == nil && km.Version >= 0 && !lax {
			if err1 != nil {
				t.Fatalf("kmsg parses %x (topics %q) but we do not: %v", meta1, km.Topics, err1)
			}
			if !slices.Equal(topics, km.Topics) && !(len(topics) == 0 && len(km.Topics) == 0) {
				t.Fatalf("topics %q, kmsg %q", topics, km.Topics)
			}
		}

		c, _, clock, ml := newMemCoordinator(t)
		defer c.Close()
		join := func(meta []byte) <-chan *kmsg.JoinGroupResponse {
			r := kmsg.NewPtrJoinGroupRequest()
			r.Version = 3 // no MEMBER_ID_REQUIRED round trip
			r.Group, r.ProtocolType = "g", "consumer"
			r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = 10000, 10000
			r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta}}
			return c.JoinGroup(r, Client{ID: "c", Host: "/h"})
		}
		j1, j2 := join(meta1), join(meta2)
		clock.Advance(0)
		r1, r2 := recv(t, j1), recv(t, j2)
		if r1.ErrorCode != 0 || r2.ErrorCode != 0 || len(r1.Members) != 2 {
			t.Fatalf("joins: %+v %+v", r1, r2)
		}
		for i, want := range [][]byte{meta1, meta2} {
			if !bytesEqual(r1.Members[i].ProtocolMetadata, want) {
				t.Fatalf("leader got metadata %x, member sent %x", r1.Members[i].ProtocolMetadata, want)
			}
		}
		s2 := c.SyncGroup(&kmsg.SyncGroupRequest{Group: "g", MemberID: r2.MemberID, Generation: 1})
		s1 := c.SyncGroup(&kmsg.SyncGroupRequest{Group: "g", MemberID: r1.MemberID, Generation: 1,
			GroupAssignment: []kmsg.SyncGroupRequestGroupAssignment{{MemberID: r2.MemberID, MemberAssignment: assignment}}})
		if a := recv(t, s2); a.ErrorCode != 0 || !bytesEqual(a.MemberAssignment, assignment) {
			t.Fatalf("follower got %+v, leader assigned %x", a, assignment)
		}
		recv(t, s1)

		g, err := c.acquire("g", false)
		if err != nil {
			t.Fatal(err)
		}
		known, inv := g.subscribed != nil, g.invariants()
		live := encodeDescribe(g.describe())
		g.mu.Unlock()
		_, err2 := subscribedTopics(meta2)
		if known != (err1 == nil && err2 == nil) {
			t.Fatalf("subscriptions known: %v; parse errors %v, %v", known, err1, err2)
		}
		if inv != nil {
			t.Fatal(inv)
		}
		loaded := ml.replayAll().groups(c, &shard{})
		if d := describeAll(loaded)["g"]; d != live {
			t.Fatalf("persisted group differs:\n%x\n%x", d, live)
		}
	})
}

func bytesEqual(a, b []byte) bool { return len(a) == len(b) && string(a) == string(b) }
