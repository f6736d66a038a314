package cluster

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// CreateTopic creates topic through adm and fails the test unless it
// exists afterwards as asked: partitions partitions of rf replicas with
// configs set. A TOPIC_ALREADY_EXISTS answer is taken as the client's
// retry of a creation the controller had committed (franz-go resends a
// CreateTopics that timed out or met NOT_CONTROLLER during a controller
// change; Kafka answers such a retry the same way), so the topic is then
// checked rather than trusted.
func CreateTopic(t testing.TB, ctx context.Context, adm *kadm.Client, topic string, partitions int32, rf int16, configs map[string]*string) {
	t.Helper()
	_, err := adm.CreateTopic(ctx, partitions, rf, configs, topic)
	if err == nil {
		return
	}
	if !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	d := td[topic]
	if d.Err != nil || int32(len(d.Partitions)) != partitions || len(d.Partitions) > 0 && int16(len(d.Partitions[0].Replicas)) != rf {
		t.Fatalf("topic %s existed already, but not as asked (%d partitions of %d replicas): %+v", topic, partitions, rf, d)
	}
	if len(configs) == 0 {
		return
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range configs {
		found := false
		for _, c := range rc.Configs {
			if c.Key == k && c.Value != nil && want != nil && *c.Value == *want {
				found = true
			}
		}
		if !found {
			t.Fatalf("topic %s existed already, but without %s=%v", topic, k, *want)
		}
	}
}
