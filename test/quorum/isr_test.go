package quorum

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestISRShrinkExpandAndPreferredElection shows, through `samsa topic
// describe`, the ISR of a partition shrinking when a follower stops
// fetching (SIGSTOP; its broker session outlives the pause, so the leader's
// lag check removes it, not fencing: no Offline field), growing back when
// the follower catches up after SIGCONT, and a preferred-leader election
// moving leadership back to the first replica after a controlled shutdown
// had moved it away. Every acknowledged record is then read back, and the
// leader describes the producer (DescribeProducers).
func TestISRShrinkExpandAndPreferredElection(t *testing.T) {
	const topic = "isr"
	nodes := startCombined(t, 3,
		"--set", "broker.session.timeout.ms=120000", "--set", "broker.heartbeat.interval.ms=500",
		"--set", "replica.lag.time.max.ms=2000", "--set", "replica.fetch.wait.max.ms=200",
		"--set", "auto.leader.rebalance.enable=false")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	seeds := func(idx ...int) string {
		var as []string
		for _, i := range idx {
			as = append(as, nodes[i].Addr)
		}
		return strings.Join(as, ",")
	}

	// Every broker live (registered and unfenced) before the topic is
	// created: a manual assignment may name a fenced broker, but the new
	// partition's ISR holds only the live ones (as Kafka's), and the ISR
	// then grows in the order the others catch up (1,3,2), not 1,2,3.
	agreed(t, ctx, dialAll(t, nodes), ids(1, 3))
	d := dial(t, nodes[0].Addr)
	poll(t, ctx, func() error {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Replicas = []int32{1, 2, 3}
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = "min.insync.replicas", kmsg.StringPtr("2")
		rt.Configs = append(rt.Configs, c)
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 10000
		resp, err := d.request(ctx, req)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode); err != nil && err != kerr.TopicAlreadyExists {
			return err
		}
		return nil
	})

	// describe runs `samsa topic describe` against the nodes given and
	// returns the partition line up to its offsets, and the high watermark.
	describe := func(idx ...int) (string, string, error) {
		out, err := exec.CommandContext(ctx, cluster.Binary(t), "topic", "describe", topic, "--brokers", seeds(idx...)).CombinedOutput()
		if err != nil {
			return "", "", fmt.Errorf("topic describe: %v: %s", err, out)
		}
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(lines) != 2 {
			return "", "", fmt.Errorf("topic describe printed %q", out)
		}
		state, offsets, ok := strings.Cut(lines[1], "\tLogStartOffset: ")
		if !ok {
			return "", "", fmt.Errorf("no offsets in %q", lines[1])
		}
		hw := ""
		for _, f := range strings.Split(offsets, "\t") {
			if v, ok := strings.CutPrefix(f, "HighWatermark: "); ok {
				hw = v
			}
		}
		return state, hw, nil
	}
	// awaitDescribe polls until describe shows want and a high watermark
	// of hw.
	awaitDescribe := func(what, want string, hw int, idx ...int) {
		t.Helper()
		poll(t, ctx, func() error {
			got, gotHW, err := describe(idx...)
			if err != nil {
				return err
			}
			if got != want || gotHW != fmt.Sprint(hw) {
				return fmt.Errorf("%s: describe shows %q, high watermark %s; want %q, %d", what, got, gotHW, want, hw)
			}
			return nil
		})
	}
	line := func(leader, epoch int, isr string, extra string) string {
		return fmt.Sprintf("\tTopic: %s\tPartition: 0\tLeader: %d\tLeaderEpoch: %d\tReplicas: 1,2,3\tIsr: %s%s", topic, leader, epoch, isr, extra)
	}
	awaitDescribe("healthy", line(1, 0, "1,2,3", ""), 0, 0, 1, 2)

	prod, err := kgo.NewClient(kgo.SeedBrokers(nodes[0].Addr, nodes[1].Addr), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	acked := 0
	produce := func(n int) {
		t.Helper()
		for range n {
			if err := prod.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("r%04d", acked))).FirstErr(); err != nil {
				t.Fatalf("produce record %d: %v", acked, err)
			}
			acked++
		}
	}
	produce(10)
	awaitDescribe("after 10 records", line(1, 0, "1,2,3", ""), 10, 0, 1, 2)

	// Node 3 stops fetching. An acks=all record waits for it until the
	// leader drops it from the ISR (replica.lag.time.max.ms), then the
	// remaining two (min.insync.replicas) acknowledge it.
	nodes[2].Pause()
	produce(5)
	awaitDescribe("follower paused", line(1, 0, "1,2", "\tUnderReplicated: true"), 15, 0, 1)

	// Back, it catches up and the leader adds it to the ISR again.
	nodes[2].Resume()
	produce(5)
	awaitDescribe("follower resumed", line(1, 0, "1,2,3", ""), 20, 0, 1, 2)

	// A controlled shutdown of the leader moves leadership to node 2 (the
	// next in the ISR); on its return node 1 catches up and rejoins the
	// ISR but does not lead: leader balancing is off.
	if err := nodes[0].Stop(); err != nil {
		t.Fatalf("node 1: %v", err)
	}
	produce(5)
	nodes[0].Restart()
	awaitDescribe("node 1 back", line(2, 1, "2,3,1", ""), 25, 0, 1, 2)

	out, err := exec.CommandContext(ctx, cluster.Binary(t), "cluster", "elect-leaders", "--election-type", "preferred",
		"--topic", topic, "--partition", "0", "--brokers", seeds(0, 1, 2)).CombinedOutput()
	if err != nil {
		t.Fatalf("elect-leaders: %v: %s", err, out)
	}
	if want := "Successfully completed leader election (PREFERRED) for partitions isr-0\n"; string(out) != want {
		t.Fatalf("elect-leaders printed %q, want %q", out, want)
	}
	awaitDescribe("preferred leader elected", line(1, 2, "2,3,1", ""), 25, 0, 1, 2)
	produce(5)

	cons, err := kgo.NewClient(kgo.SeedBrokers(nodes[0].Addr, nodes[1].Addr, nodes[2].Addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []string
	for len(got) < acked && ctx.Err() == nil {
		cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	var want []string
	for i := range acked {
		want = append(want, fmt.Sprintf("r%04d", i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("read back %v, want %v", got, want)
	}

	// DescribeProducers: the leader (node 1 again) knows the one
	// idempotent producer and its last sequence, replicated through every
	// leader change above; a follower refuses, as Kafka's do.
	describeProducers := func(addr string) kmsg.DescribeProducersResponseTopicPartition {
		req := kmsg.NewPtrDescribeProducersRequest()
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		req.Topics = append(req.Topics, rt)
		resp, err := dial(t, addr).request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.DescribeProducersResponse).Topics[0].Partitions[0]
	}
	lp := describeProducers(nodes[0].Addr)
	if lp.ErrorCode != 0 || len(lp.ActiveProducers) != 1 || lp.ActiveProducers[0].LastSequence != int32(acked-1) ||
		lp.ActiveProducers[0].ProducerEpoch != 0 || lp.ActiveProducers[0].CurrentTxnStartOffset != -1 {
		t.Fatalf("DescribeProducers on the leader: %+v, want one producer at sequence %d", lp, acked-1)
	}
	if fp := describeProducers(nodes[1].Addr); fp.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("DescribeProducers on a follower: error %d, want NOT_LEADER_OR_FOLLOWER", fp.ErrorCode)
	}
}
