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
	writeTopicDescription(&b, td, nil, nil, sizes, errors.New("broker 2: CLUSTER_AUTHORIZATION_FAILED"), nil, nil)
	want := "" +
		"Topic: orders\tTopicId: AAAAAAAAAAAAAAAAAAAAAA\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: \n" +
		"Sizes: error: broker 2: CLUSTER_AUTHORIZATION_FAILED\n" +
		"\tTopic: orders\tPartition: 0\tLeader: 1\tLeaderEpoch: 0\tReplicas: 1\tIsr: 1\tLogStartOffset: ?\tHighWatermark: ?\tSize: 4096\n" +
		"\tTopic: orders\tPartition: 1\tLeader: 2\tLeaderEpoch: 0\tReplicas: 2\tIsr: 2\tLogStartOffset: ?\tHighWatermark: ?\tSize: ?\n"
	equal(t, "describe with a failed DescribeLogDirs", b.String(), want)
}
