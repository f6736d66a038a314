package main

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// topicID returns the ID as `topic describe` prints it.
func topicID(t *testing.T, addr, topic string) string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	defer adm.Close()
	tds, err := adm.ListTopics(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	id := tds[topic].ID
	return base64.RawURLEncoding.EncodeToString(id[:])
}

func TestTopicRoundTrip(t *testing.T) {
	t.Parallel()
	b := newCluster(t, 0)
	topic := func(args ...string) string {
		return mustRun(t, "", append([]string{"topic", "--brokers", b}, args...)...)
	}
	fail := func(want string, args ...string) {
		mustFail(t, want, "", append([]string{"topic", "--brokers", b}, args...)...)
	}

	equal(t, "create", topic("create", "orders", "--partitions", "2", "--replication-factor", "1",
		"--config", "retention.ms=1000", "--config", "cleanup.policy=compact"), "Created topic orders.\n")
	fail(`create topic "orders": TOPIC_ALREADY_EXISTS`, "create", "orders", "--partitions", "2")
	equal(t, "create --if-not-exists", topic("create", "orders", "--if-not-exists"), "Topic orders already exists.\n")
	equal(t, "create --validate-only", topic("create", "scratch", "--partitions", "1", "--validate-only"),
		"Topic scratch is valid (validate only: not created).\n")
	fail(`--config "retention.ms": want key=value`, "create", "x", "--config", "retention.ms")
	equal(t, "list", topic("list"), "orders\n")

	// Two records in partition 1 show up as its high watermark. Produced
	// by two runs, they are two batches of one record each: 61 bytes of
	// batch header and 8 of record, so SIZE is exactly 2 x 69.
	mustRun(t, "a\n", "produce", "orders", "--brokers", b, "--partition", "1")
	mustRun(t, "b\n", "produce", "orders", "--brokers", b, "--partition", "1")
	id := topicID(t, b, "orders")
	equal(t, "describe", topic("describe", "orders"), ""+
		"Topic: orders\tTopicId: "+id+"\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: cleanup.policy=compact,retention.ms=1000\n"+
		"\tTopic: orders\tPartition: 0\tLeader: 0\tLeaderEpoch: 0\tReplicas: 0\tIsr: 0\tLogStartOffset: 0\tHighWatermark: 0\tSize: 0\n"+
		"\tTopic: orders\tPartition: 1\tLeader: 0\tLeaderEpoch: 0\tReplicas: 0\tIsr: 0\tLogStartOffset: 0\tHighWatermark: 2\tSize: 138\n")

	equal(t, "alter-config", topic("alter-config", "orders", "--set", "retention.ms=2000", "--delete", "cleanup.policy"),
		"Altered configs of topic orders.\n")
	fail("nothing to change", "alter-config", "orders")
	equal(t, "add-partitions", topic("add-partitions", "orders", "--total", "3"), "Topic orders now has 3 partitions.\n")
	fail(`add partitions to "orders": INVALID_PARTITIONS`, "add-partitions", "orders", "--total", "2")
	fail("--total must be positive", "add-partitions", "orders", "--total", "0")
	equal(t, "describe after changes", topic("describe", "orders"), ""+
		"Topic: orders\tTopicId: "+id+"\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: retention.ms=2000\n"+
		"\tTopic: orders\tPartition: 0\tLeader: 0\tLeaderEpoch: 0\tReplicas: 0\tIsr: 0\tLogStartOffset: 0\tHighWatermark: 0\tSize: 0\n"+
		"\tTopic: orders\tPartition: 1\tLeader: 0\tLeaderEpoch: 0\tReplicas: 0\tIsr: 0\tLogStartOffset: 0\tHighWatermark: 2\tSize: 138\n"+
		"\tTopic: orders\tPartition: 2\tLeader: 0\tLeaderEpoch: 0\tReplicas: 0\tIsr: 0\tLogStartOffset: 0\tHighWatermark: 0\tSize: 0\n")
	// A healthy one-broker cluster has no partition in any listed state.
	equal(t, "list --under-replicated --unavailable --under-min-isr",
		topic("list", "--under-replicated", "--unavailable", "--under-min-isr"), "")

	fail(`describe topic "nope": UNKNOWN_TOPIC_OR_PARTITION`, "describe", "nope")
	equal(t, "delete", topic("delete", "orders"), "Deleted topic orders.\n")
	fail(`delete topic "orders": UNKNOWN_TOPIC_OR_PARTITION`, "delete", "orders")
	equal(t, "delete --if-exists", topic("delete", "orders", "--if-exists"), "")
	equal(t, "list after delete", topic("list"), "")
}
