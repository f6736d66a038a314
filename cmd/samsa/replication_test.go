package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestPartitionStatesAndElections: on a 3-node quorum, `topic describe`,
// the `topic list` partition filters and `cluster elect-leaders` show and
// change what a node's shutdown does to its partitions. Node 3 stopping
// leaves every ISR (but stays the last member of b-0's, which has no leader
// then), and its leaderships move away; preferred and unclean elections
// fail as Kafka's do. Then node 3 comes back and node 2 stops, leaving c-0
// with node 2 as its only ISR member: an unclean election gives it node 3.
// Leader balancing is off, so only the commands move leaders.
func TestPartitionStatesAndElections(t *testing.T) {
	t.Parallel()
	nodes := cluster.StartQuorum(t, 3, "auto.leader.rebalance.enable=false")
	live := cluster.Bootstrap(nodes[:2])
	run := func(args ...string) string {
		t.Helper()
		return mustRun(t, "", append(args, "--brokers", live)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// a: RF 3, min ISR 2; b: only on node 3; c: RF 2, min ISR 2.
	createAssigned(t, ctx, nodes[0].Addr(), "a", [][]int32{{1, 2, 3}, {3, 1, 2}}, "min.insync.replicas", "2")
	createAssigned(t, ctx, nodes[0].Addr(), "b", [][]int32{{3}})
	createAssigned(t, ctx, nodes[0].Addr(), "c", [][]int32{{2, 3}}, "min.insync.replicas", "2")
	healthy := map[string][]partState{
		"a": {{1, []int32{1, 2, 3}, nil}, {3, []int32{3, 1, 2}, nil}},
		"b": {{3, []int32{3}, nil}},
		"c": {{2, []int32{2, 3}, nil}},
	}
	awaitStates(t, ctx, nodes, healthy)

	idA := topicID(t, nodes[0].Addr(), "a")
	equal(t, "describe healthy", run("topic", "describe", "a"), ""+
		"Topic: a\tTopicId: "+idA+"\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: min.insync.replicas=2\n"+
		"\tTopic: a\tPartition: 0\tLeader: 1\tLeaderEpoch: 0\tReplicas: 1,2,3\tIsr: 1,2,3\tLogStartOffset: 0\tHighWatermark: 0\tSize: 0\n"+
		"\tTopic: a\tPartition: 1\tLeader: 3\tLeaderEpoch: 0\tReplicas: 3,1,2\tIsr: 3,1,2\tLogStartOffset: 0\tHighWatermark: 0\tSize: 0\n")
	equal(t, "list filters, healthy", run("topic", "list", "--under-replicated", "--unavailable", "--under-min-isr"), "")
	equal(t, "elect preferred, not needed", run("cluster", "elect-leaders", "--election-type", "preferred", "--topic", "a", "--partition", "1"),
		"Valid replica already elected for partitions a-1\n")

	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	if err := nodes[2].Shutdown(sctx); err != nil {
		t.Fatalf("node 3: shutdown: %v", err)
	}
	awaitStates(t, ctx, nodes[:2], map[string][]partState{
		"a": {{1, []int32{1, 2}, []int32{3}}, {1, []int32{1, 2}, []int32{3}}},
		"b": {{-1, []int32{3}, []int32{3}}},
		"c": {{2, []int32{2}, []int32{3}}},
	})

	// Node 3's partitions: a-1 moved to node 1 (a new leader epoch), b-0
	// has no leader and keeps node 3 as its ISR; every ISR lost node 3.
	idB, idC := topicID(t, nodes[0].Addr(), "b"), topicID(t, nodes[0].Addr(), "c")
	a0 := "\tTopic: a\tPartition: 0\tLeader: 1\tLeaderEpoch: 0\tReplicas: 1,2,3\tIsr: 1,2\tOffline: 3\tUnderReplicated: true"
	a1 := "\tTopic: a\tPartition: 1\tLeader: 1\tLeaderEpoch: 1\tReplicas: 3,1,2\tIsr: 1,2\tOffline: 3\tUnderReplicated: true"
	b0 := "\tTopic: b\tPartition: 0\tLeader: none\tLeaderEpoch: 1\tReplicas: 3\tIsr: 3\tOffline: 3\tOfflinePartition: true"
	c0 := "\tTopic: c\tPartition: 0\tLeader: 2\tLeaderEpoch: 0\tReplicas: 2,3\tIsr: 2\tOffline: 3\tUnderReplicated: true"
	empty := "\tLogStartOffset: 0\tHighWatermark: 0\tSize: 0\n"
	equal(t, "describe, node 3 down", run("topic", "describe", "a", "b", "c"), ""+
		"Topic: a\tTopicId: "+idA+"\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: min.insync.replicas=2\n"+
		a0+empty+a1+empty+"\n"+
		"Topic: b\tTopicId: "+idB+"\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n"+
		b0+"\tLogStartOffset: ?\tHighWatermark: ?\tSize: ?\n\n"+
		"Topic: c\tTopicId: "+idC+"\tPartitionCount: 1\tReplicationFactor: 2\tConfigs: min.insync.replicas=2\n"+
		c0+empty)
	equal(t, "list --under-replicated", run("topic", "list", "--under-replicated"), a0+"\n"+a1+"\n"+c0+"\n")
	equal(t, "list --unavailable", run("topic", "list", "--unavailable"), b0+"\n")
	// a's ISR (2) is at its min.insync.replicas, c's (1) below.
	equal(t, "list --under-min-isr", run("topic", "list", "--under-min-isr"), b0+"\n"+c0+"\n")
	equal(t, "list --unavailable --under-replicated", run("topic", "list", "--unavailable", "--under-replicated"),
		a0+"\n"+a1+"\n"+b0+"\n"+c0+"\n")

	r := mustFail(t, "2 replica(s) could not be elected", "",
		"cluster", "elect-leaders", "--brokers", live, "--election-type", "preferred", "--all-topic-partitions")
	equal(t, "elect preferred, all, node 3 down", r.stdout, ""+
		"Error completing leader election (PREFERRED) for partition: a-1: PREFERRED_LEADER_NOT_AVAILABLE: The preferred leader was not available\n"+
		"Error completing leader election (PREFERRED) for partition: b-0: PREFERRED_LEADER_NOT_AVAILABLE: The preferred leader was not available\n")
	r = mustFail(t, "1 replica(s) could not be elected", "",
		"cluster", "elect-leaders", "--brokers", live, "--election-type", "unclean", "--all-topic-partitions")
	equal(t, "elect unclean, all, node 3 down", r.stdout,
		"Error completing leader election (UNCLEAN) for partition: b-0: ELIGIBLE_LEADERS_NOT_AVAILABLE: Eligible topic partition leaders are not available\n")
	equal(t, "elect unclean, led partition", run("cluster", "elect-leaders", "--election-type", "UNCLEAN", "--topic", "a", "--partition", "0"),
		"Valid replica already elected for partitions a-0\n")
	r = mustFail(t, "1 replica(s) could not be elected", "",
		"cluster", "elect-leaders", "--brokers", live, "--election-type", "preferred", "--topic", "nope", "--partition", "0")
	equal(t, "elect, unknown topic", r.stdout,
		"Error completing leader election (PREFERRED) for partition: nope-0: UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition. (No such topic as nope)\n")

	// Node 3 back (it rejoins no ISR: nothing of this test makes its
	// followers catch up), it leads b again; node 2 stopping then leaves
	// c with its ISR only node 2, and node 3 a live replica outside it.
	n3 := nodes[2].Restart()
	awaitStates(t, ctx, []*cluster.Broker{nodes[0], n3}, map[string][]partState{
		"b": {{3, []int32{3}, nil}},
		"c": {{2, []int32{2}, nil}},
	})
	if err := nodes[1].Shutdown(sctx); err != nil {
		t.Fatalf("node 2: shutdown: %v", err)
	}
	live = cluster.Bootstrap([]*cluster.Broker{nodes[0], n3})
	awaitStates(t, ctx, []*cluster.Broker{nodes[0], n3}, map[string][]partState{
		"c": {{-1, []int32{2}, []int32{2}}},
	})
	r = mustFail(t, "1 replica(s) could not be elected", "",
		"cluster", "elect-leaders", "--brokers", live, "--election-type", "preferred", "--topic", "c", "--partition", "0")
	equal(t, "elect preferred, c-0 leaderless", r.stdout,
		"Error completing leader election (PREFERRED) for partition: c-0: PREFERRED_LEADER_NOT_AVAILABLE: The preferred leader was not available\n")
	equal(t, "elect unclean, c-0 leaderless", run("cluster", "elect-leaders", "--election-type", "unclean", "--topic", "c", "--partition", "0"),
		"Successfully completed leader election (UNCLEAN) for partitions c-0\n")
	// The unclean leader is the whole ISR; the election is committed
	// before the answer, but each broker may still be applying it.
	awaitStates(t, ctx, []*cluster.Broker{nodes[0], n3}, map[string][]partState{
		"c": {{3, []int32{3}, []int32{2}}},
	})
	equal(t, "describe c after the unclean election", run("topic", "describe", "c"), ""+
		"Topic: c\tTopicId: "+idC+"\tPartitionCount: 1\tReplicationFactor: 2\tConfigs: min.insync.replicas=2\n"+
		"\tTopic: c\tPartition: 0\tLeader: 3\tLeaderEpoch: 2\tReplicas: 2,3\tIsr: 3\tOffline: 2\tUnderReplicated: true"+empty)
}

// createAssigned creates topic with the replicas of each partition given,
// and the config key=value pairs kv.
func createAssigned(t *testing.T, ctx context.Context, addr, topic string, replicas [][]int32, kv ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	for i, rs := range replicas {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = int32(i), rs
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = kv[i], kmsg.StringPtr(kv[i+1])
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// partState is what Metadata says of a partition: its leader (-1: none),
// ISR and offline replicas, compared as sets.
type partState struct {
	leader       int32
	isr, offline []int32
}

// awaitStates polls each node's own Metadata until every one shows the
// topics' partitions in the states want, so that a command then gets the
// same answer from whichever node it asks.
func awaitStates(t *testing.T, ctx context.Context, nodes []*cluster.Broker, want map[string][]partState) {
	t.Helper()
	var last error
	for {
		last = nil
		for _, n := range nodes {
			if err := checkStates(ctx, n.Addr(), want); err != nil {
				last = fmt.Errorf("node at %s: %w", n.Addr(), err)
				break
			}
		}
		if last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("partitions never reached their states: %v", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func checkStates(ctx context.Context, addr string, want map[string][]partState) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	for topic := range want {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	// The seed broker itself, not whichever broker the client picks.
	resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
	if err != nil {
		return err
	}
	sorted := func(ids []int32) []int32 { ids = slices.Clone(ids); slices.Sort(ids); return ids }
	for _, rt := range resp.Topics {
		topic := *rt.Topic
		if len(rt.Partitions) != len(want[topic]) {
			return fmt.Errorf("%s has %d partitions, want %d", topic, len(rt.Partitions), len(want[topic]))
		}
		for _, p := range rt.Partitions {
			w := want[topic][p.Partition]
			got := partState{p.Leader, sorted(p.ISR), sorted(p.OfflineReplicas)}
			if got.leader != w.leader || !slices.Equal(got.isr, sorted(w.isr)) || !slices.Equal(got.offline, sorted(w.offline)) {
				return fmt.Errorf("%s-%d is %+v, want %+v", topic, p.Partition, got, w)
			}
		}
	}
	return nil
}
