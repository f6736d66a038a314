package robust

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicNames lists the topics the broker reports.
func topicNames(t testing.TB, c *conn) []string {
	t.Helper()
	md := rt[*kmsg.MetadataResponse](t, c, metadataReq())
	var names []string
	for _, mt := range md.Topics {
		if mt.ErrorCode != 0 || mt.Topic == nil {
			t.Fatalf("metadata of all topics: %+v", mt)
		}
		names = append(names, *mt.Topic)
	}
	slices.Sort(names)
	return names
}

// TestCreateTopicsRefused: every invalid CreateTopics answer, and that
// nothing was created by any of them.
func TestCreateTopicsRefused(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := dial(t, b.Addr())
	createTopic(t, c, "exists", 2)
	createTopic(t, c, "a_b", 1)
	topics := map[string]bool{healthTopic: true, "exists": true, "a_b": true}

	null := kmsg.NewCreateTopicsRequestTopicConfig()
	null.Name = "retention.ms"
	withNull := topicReq("null-config", 1, 1)
	withNull.Configs = append(withNull.Configs, null)

	cases := []struct {
		name         string
		validateOnly bool
		topic        kmsg.CreateTopicsRequestTopic
		want         *kerr.Error
		// msg, when set, must appear in the error message.
		msg string
	}{
		{name: "empty name", topic: topicReq("", 1, 1), want: kerr.InvalidTopicException},
		{name: "name .", topic: topicReq(".", 1, 1), want: kerr.InvalidTopicException},
		{name: "name ..", topic: topicReq("..", 1, 1), want: kerr.InvalidTopicException},
		{name: "name with a space", topic: topicReq("a b", 1, 1), want: kerr.InvalidTopicException},
		{name: "name with a slash", topic: topicReq("a/b", 1, 1), want: kerr.InvalidTopicException},
		{name: "name with a NUL", topic: topicReq("a\x00b", 1, 1), want: kerr.InvalidTopicException},
		{name: "name of 250 characters", topic: topicReq(strings.Repeat("n", 250), 1, 1), want: kerr.InvalidTopicException},
		{name: "name colliding with a_b", topic: topicReq("a.b", 1, 1), want: kerr.InvalidTopicException, msg: "a_b"},
		{name: "name colliding with a_b, validate only", validateOnly: true, topic: topicReq("a.b", 1, 1), want: kerr.InvalidTopicException},
		{name: "existing topic", topic: topicReq("exists", 1, 1), want: kerr.TopicAlreadyExists},
		{name: "existing topic, validate only", validateOnly: true, topic: topicReq("exists", 1, 1), want: kerr.TopicAlreadyExists},
		{name: "0 partitions", topic: topicReq("zero-partitions", 0, 1), want: kerr.InvalidPartitions},
		{name: "-2 partitions", topic: topicReq("negative-partitions", -2, 1), want: kerr.InvalidPartitions},
		{name: "0 partitions, validate only", validateOnly: true, topic: topicReq("zero-partitions", 0, 1), want: kerr.InvalidPartitions},
		{name: "replication factor 3 on one broker", topic: topicReq("rf3", 1, 3), want: kerr.InvalidReplicationFactor},
		{name: "replication factor 0", topic: topicReq("rf0", 1, 0), want: kerr.InvalidReplicationFactor},
		{name: "unknown config", topic: topicReq("unknown-config", 1, 1, "no.such.config=1"), want: kerr.InvalidConfig, msg: "no.such.config"},
		{name: "segment.bytes=abc", topic: topicReq("bad-segment-bytes", 1, 1, "segment.bytes=abc"), want: kerr.InvalidConfig, msg: "segment.bytes"},
		{name: "cleanup.policy=bogus", topic: topicReq("bad-cleanup-policy", 1, 1, "cleanup.policy=bogus"), want: kerr.InvalidConfig, msg: "cleanup.policy"},
		{name: "max.message.bytes=-5", topic: topicReq("bad-max-message", 1, 1, "max.message.bytes=-5"), want: kerr.InvalidConfig, msg: "max.message.bytes"},
		{name: "null config value", topic: withNull, want: kerr.InvalidConfig, msg: "retention.ms"},
		{name: "bad config, validate only", validateOnly: true, topic: topicReq("bad-config-vo", 1, 1, "segment.bytes=abc"), want: kerr.InvalidConfig, msg: "segment.bytes"},
		// validate_only on a valid topic succeeds and creates nothing.
		{name: "valid topic, validate only", validateOnly: true, topic: topicReq("validate-only", 3, 1, "cleanup.policy=compact"), want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := rt[*kmsg.CreateTopicsResponse](t, c, createTopicsReq(tc.validateOnly, tc.topic))
			if len(resp.Topics) != 1 || resp.Topics[0].Topic != tc.topic.Topic {
				t.Fatalf("malformed response %+v", resp.Topics)
			}
			got := resp.Topics[0]
			want := int16(0)
			if tc.want != nil {
				want = tc.want.Code
			}
			if got.ErrorCode != want {
				t.Fatalf("error %s (%s), want %s", codeName(got.ErrorCode), str(got.ErrorMessage), codeName(want))
			}
			if tc.msg != "" && !strings.Contains(str(got.ErrorMessage), tc.msg) {
				t.Errorf("error message %q does not name %q", str(got.ErrorMessage), tc.msg)
			}
			if tc.want == nil && (got.NumPartitions != tc.topic.NumPartitions || got.ReplicationFactor != 1) {
				t.Errorf("validate only: %d partitions, replication factor %d; want %d, 1", got.NumPartitions, got.ReplicationFactor, tc.topic.NumPartitions)
			}
			if names, want := topicNames(t, c), slices.Sorted(maps.Keys(topics)); !slices.Equal(names, want) {
				t.Fatalf("topics %q, want %q", names, want)
			}
			serving(t, b)
		})
	}

	t.Run("a topic named twice in one request", func(t *testing.T) {
		resp := rt[*kmsg.CreateTopicsResponse](t, c, createTopicsReq(false, topicReq("twice", 1, 1), topicReq("twice", 1, 1)))
		if len(resp.Topics) != 2 {
			t.Fatalf("%d topics in the response, want 2", len(resp.Topics))
		}
		for _, rt := range resp.Topics {
			if rt.ErrorCode != kerr.InvalidRequest.Code {
				t.Errorf("error %s, want %s", codeName(rt.ErrorCode), codeName(kerr.InvalidRequest.Code))
			}
		}
		if names := topicNames(t, c); slices.Contains(names, "twice") {
			t.Fatalf("topic twice was created")
		}
	})
	t.Run("the longest legal name (249)", func(t *testing.T) {
		name := strings.Repeat("n", 249)
		createTopic(t, c, name, 1)
		produceOK(t, c, name, 0, plainBatch(t, "long"), 0)
		checkLog(t, c, name, 0, []string{"long"})
	})
}

// TestConfigsAndPartitionsRefused covers DescribeConfigs,
// IncrementalAlterConfigs and CreatePartitions errors.
func TestConfigsAndPartitionsRefused(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := dial(t, b.Addr())
	createTopic(t, c, "two", 2, "retention.ms=3600000")

	describe := func(t testing.TB, topic string) kmsg.DescribeConfigsResponseResource {
		t.Helper()
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.Version = 4
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		req.Resources = append(req.Resources, r)
		resp := rt[*kmsg.DescribeConfigsResponse](t, c, req)
		if len(resp.Resources) != 1 {
			t.Fatalf("DescribeConfigs: %d resources", len(resp.Resources))
		}
		return resp.Resources[0]
	}
	retention := func(t testing.TB) string {
		t.Helper()
		r := describe(t, "two")
		if r.ErrorCode != 0 {
			t.Fatalf("DescribeConfigs two: error %s", codeName(r.ErrorCode))
		}
		for _, cfg := range r.Configs {
			if cfg.Name == "retention.ms" {
				return str(cfg.Value)
			}
		}
		t.Fatal("DescribeConfigs two: no retention.ms")
		return ""
	}
	alter := func(t testing.TB, topic string, op kmsg.IncrementalAlterConfigOp, name string, value *string) kmsg.IncrementalAlterConfigsResponseResource {
		t.Helper()
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.Version = 1
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Op, cfg.Value = name, op, value
		r.Configs = append(r.Configs, cfg)
		req.Resources = append(req.Resources, r)
		resp := rt[*kmsg.IncrementalAlterConfigsResponse](t, c, req)
		if len(resp.Resources) != 1 {
			t.Fatalf("IncrementalAlterConfigs: %d resources", len(resp.Resources))
		}
		return resp.Resources[0]
	}
	createPartitions := func(t testing.TB, topic string, count int32) kmsg.CreatePartitionsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Version = 3
		req.TimeoutMillis = 10000
		rt0 := kmsg.NewCreatePartitionsRequestTopic()
		rt0.Topic, rt0.Count = topic, count
		req.Topics = append(req.Topics, rt0)
		resp := rt[*kmsg.CreatePartitionsResponse](t, c, req)
		if len(resp.Topics) != 1 {
			t.Fatalf("CreatePartitions: %d topics", len(resp.Topics))
		}
		return resp.Topics[0]
	}
	partitions := func(t testing.TB) int {
		t.Helper()
		md := rt[*kmsg.MetadataResponse](t, c, metadataReq("two"))
		return len(md.Topics[0].Partitions)
	}

	cases := []struct {
		name string
		do   func(t testing.TB) (int16, *string)
		want *kerr.Error
		msg  string
	}{
		{"DescribeConfigs of an unknown topic", func(t testing.TB) (int16, *string) {
			r := describe(t, "no-such-topic")
			return r.ErrorCode, r.ErrorMessage
		}, kerr.UnknownTopicOrPartition, ""},
		{"IncrementalAlterConfigs retention.ms=abc", func(t testing.TB) (int16, *string) {
			r := alter(t, "two", kmsg.IncrementalAlterConfigOpSet, "retention.ms", kmsg.StringPtr("abc"))
			return r.ErrorCode, r.ErrorMessage
		}, kerr.InvalidConfig, "retention.ms"},
		{"IncrementalAlterConfigs cleanup.policy=bogus", func(t testing.TB) (int16, *string) {
			r := alter(t, "two", kmsg.IncrementalAlterConfigOpSet, "cleanup.policy", kmsg.StringPtr("bogus"))
			return r.ErrorCode, r.ErrorMessage
		}, kerr.InvalidConfig, "cleanup.policy"},
		{"IncrementalAlterConfigs unknown config", func(t testing.TB) (int16, *string) {
			r := alter(t, "two", kmsg.IncrementalAlterConfigOpSet, "no.such.config", kmsg.StringPtr("1"))
			return r.ErrorCode, r.ErrorMessage
		}, kerr.InvalidConfig, "no.such.config"},
		{"IncrementalAlterConfigs of an unknown topic", func(t testing.TB) (int16, *string) {
			r := alter(t, "no-such-topic", kmsg.IncrementalAlterConfigOpSet, "retention.ms", kmsg.StringPtr("1000"))
			return r.ErrorCode, r.ErrorMessage
		}, kerr.UnknownTopicOrPartition, ""},
		{"CreatePartitions to fewer", func(t testing.TB) (int16, *string) {
			r := createPartitions(t, "two", 1)
			return r.ErrorCode, r.ErrorMessage
		}, kerr.InvalidPartitions, ""},
		{"CreatePartitions to the same count", func(t testing.TB) (int16, *string) {
			r := createPartitions(t, "two", 2)
			return r.ErrorCode, r.ErrorMessage
		}, kerr.InvalidPartitions, ""},
		{"CreatePartitions of an unknown topic", func(t testing.TB) (int16, *string) {
			r := createPartitions(t, "no-such-topic", 3)
			return r.ErrorCode, r.ErrorMessage
		}, kerr.UnknownTopicOrPartition, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := tc.do(t)
			if code != tc.want.Code {
				t.Fatalf("error %s (%s), want %s", codeName(code), str(msg), codeName(tc.want.Code))
			}
			if tc.msg != "" && !strings.Contains(str(msg), tc.msg) {
				t.Errorf("error message %q does not name %q", str(msg), tc.msg)
			}
			// Nothing changed.
			if r := retention(t); r != "3600000" {
				t.Errorf("retention.ms is %q, want 3600000", r)
			}
			if n := partitions(t); n != 2 {
				t.Errorf("topic two has %d partitions, want 2", n)
			}
			serving(t, b)
		})
	}
}
