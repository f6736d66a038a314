package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestTopicDescribeSizeFailure: when some broker does not answer
// DescribeLogDirs, describe still prints the table, with the error on a
// line of its own and "?" for the sizes nobody reported.
func TestTopicDescribeSizeFailure(t *testing.T) {
	t.Parallel()
	td := kadm.TopicDetail{Topic: "orders", Partitions: kadm.PartitionDetails{
		0: {Topic: "orders", Partition: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}},
		1: {Topic: "orders", Partition: 1, Leader: 2, Replicas: []int32{2}, ISR: []int32{2}},
	}}
	sizes := kadm.DescribedAllLogDirs{1: kadm.DescribedLogDirs{"/data": kadm.DescribedLogDir{
		Broker: 1, Dir: "/data",
		Topics: kadm.DescribedLogDirTopics{"orders": {0: {Broker: 1, Dir: "/data", Topic: "orders", Partition: 0, Size: 4096}}},
	}}}
	var b strings.Builder
	writeTopicDescription(&b, td, nil, nil, sizes, errors.New("broker 2: CLUSTER_AUTHORIZATION_FAILED"), nil, nil, nil, nil)
	want := "" +
		"Topic: orders\tTopicId: AAAAAAAAAAAAAAAAAAAAAA\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: \n" +
		"Sizes: error: broker 2: CLUSTER_AUTHORIZATION_FAILED\n" +
		"\tTopic: orders\tPartition: 0\tLeader: 1\tLeaderEpoch: 0\tReplicas: 1\tIsr: 1\tLogStartOffset: ?\tHighWatermark: ?\tSize: 4096\n" +
		"\tTopic: orders\tPartition: 1\tLeader: 2\tLeaderEpoch: 0\tReplicas: 2\tIsr: 2\tLogStartOffset: ?\tHighWatermark: ?\tSize: ?\n"
	equal(t, "describe with a failed DescribeLogDirs", b.String(), want)
}

// TestTopicDescribeReassignment: a partition being reassigned shows the
// replicas being added and removed after its ISR, as kafka-topics does,
// and its replication factor (the header's, and the one UnderReplicated
// compares the ISR with) leaves out the ones being added; a failure to
// list reassignments is a line of its own.
func TestTopicDescribeReassignment(t *testing.T) {
	t.Parallel()
	td := kadm.TopicDetail{Topic: "orders", Partitions: kadm.PartitionDetails{
		0: {Topic: "orders", Partition: 0, Leader: 1, Replicas: []int32{3, 4, 1, 2}, ISR: []int32{1, 2}},
		1: {Topic: "orders", Partition: 1, Leader: 2, Replicas: []int32{2, 1}, ISR: []int32{2}},
	}}
	moves := map[int32]kadm.ListPartitionReassignmentsResponse{0: {Topic: "orders", Partition: 0,
		Replicas: []int32{3, 4, 1, 2}, AddingReplicas: []int32{3, 4}, RemovingReplicas: []int32{1, 2}}}
	var b strings.Builder
	writeTopicDescription(&b, td, nil, nil, nil, nil, moves, nil, nil, nil)
	want := "" +
		"Topic: orders\tTopicId: AAAAAAAAAAAAAAAAAAAAAA\tPartitionCount: 2\tReplicationFactor: 2\tConfigs: \n" +
		"\tTopic: orders\tPartition: 0\tLeader: 1\tLeaderEpoch: 0\tReplicas: 3,4,1,2\tIsr: 1,2\tAdding Replicas: 3,4\tRemoving Replicas: 1,2" +
		"\tLogStartOffset: ?\tHighWatermark: ?\tSize: ?\n" +
		"\tTopic: orders\tPartition: 1\tLeader: 2\tLeaderEpoch: 0\tReplicas: 2,1\tIsr: 2\tUnderReplicated: true\tLogStartOffset: ?\tHighWatermark: ?\tSize: ?\n"
	equal(t, "describe during a reassignment", b.String(), want)

	b.Reset()
	writeTopicDescription(&b, td, nil, nil, nil, nil, nil, errors.New("CLUSTER_AUTHORIZATION_FAILED"), nil, nil)
	if got := strings.Split(b.String(), "\n")[1]; got != "Reassignments: error: CLUSTER_AUTHORIZATION_FAILED" {
		t.Errorf("second line %q", got)
	}
}
