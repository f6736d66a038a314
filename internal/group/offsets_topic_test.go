package group

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// noReplicas has no local replicas: the coordinator serves no group here,
// but names the coordinators elsewhere.
type noReplicas struct{}

func (noReplicas) Partition(string, int32) *partition.Partition { return nil }

// TestOffsetsTopicWaitsForBrokers: with offsets.topic.replication.factor=3
// on a cluster of one broker, FindCoordinator answers
// COORDINATOR_NOT_AVAILABLE and creates nothing; each later request tries
// again, and the first after the third broker registered creates the topic
// with three replicas per partition and names the coordinator.
func TestOffsetsTopicWaitsForBrokers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg, err := config.Load("", []string{"offsets.topic.num.partitions=3", "offsets.topic.replication.factor=3"},
		map[string]string{"log.dirs": dir})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := controller.OpenOneNode(controller.Config{
		DataDir: dir, NodeID: cfg.NodeID, ClusterID: "group-test", SessionTimeout: time.Hour,
		DefaultPartitions: 1, DefaultReplicationFactor: 1, ValidateConfigs: cfg.ValidateTopicOverrides,
	}, "127.0.0.1", 9092)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	c := New(cfg, ctl, noReplicas{}, Options{Clock: newFakeClock(), Logger: slog.New(slog.DiscardHandler)})
	c.Start()
	defer c.Close()
	ctx := context.Background()

	register := func(id int32) {
		t.Helper()
		epoch, err := ctl.RegisterBroker(ctx, controller.Registration{NodeID: id, Incarnation: metadata.NewUUID(),
			Host: "127.0.0.1", Port: 9092 + id, MaxMetadataVersion: metadata.MaxMetadataVersion})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ctl.BrokerHeartbeat(ctx, controller.Heartbeat{NodeID: id, Epoch: epoch, MetadataOffset: epoch}); err != nil {
			t.Fatal(err)
		}
	}
	// Group "a" hashes to partition 1 of 3, which broker 2 leads once the
	// topic exists: broker 1 leads partition 0, the rotation goes on.
	if p := PartitionFor("a", 3); p != 1 {
		t.Fatalf("group a on partition %d", p)
	}
	notYet := func(brokers int) {
		t.Helper()
		if _, err := c.FindCoordinator(ctx, "a"); !errors.Is(err, kerr.CoordinatorNotAvailable) {
			t.Fatalf("%d brokers: %v, want COORDINATOR_NOT_AVAILABLE", brokers, err)
		}
		if ctl.Image().Topics[TopicName] != nil {
			t.Fatalf("%d brokers: %s created", brokers, TopicName)
		}
	}
	notYet(1)
	notYet(1)
	register(2)
	notYet(2)
	register(3)
	b, err := c.FindCoordinator(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if b.NodeID != 2 || b.Port != 9094 {
		t.Errorf("coordinator %d at port %d, want broker 2 at 9094", b.NodeID, b.Port)
	}
	tp := ctl.Image().Topics[TopicName]
	var got [][]int32
	for _, p := range tp.Partitions {
		got = append(got, p.Replicas)
	}
	if want := [][]int32{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}}; !tp.Internal || !reflect.DeepEqual(got, want) {
		t.Errorf("%s: internal %v, replicas %v; want internal, %v", TopicName, tp.Internal, got, want)
	}
}

// TestOffsetsTopicOneNode: a node that names no quorum, as `samsa broker`
// without flags, is its cluster's only broker, and creates the topic with
// one replica per partition, without offsets.topic.replication.factor set.
func TestOffsetsTopicOneNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // newEnv's FindCoordinator created the topic
	tp := e.ctl.Image().Topics[TopicName]
	if tp == nil || len(tp.Partitions) != 3 {
		t.Fatalf("%s: %+v", TopicName, tp)
	}
	for _, p := range tp.Partitions {
		if !reflect.DeepEqual(p.Replicas, []int32{1}) {
			t.Errorf("partition %d on %v, want [1]", p.Index, p.Replicas)
		}
	}
}
