package api

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/metadata"
)

// imageHandler is a handler over a fixed image built from recs (applied at
// offsets 0, 1, ...), with auto topic creation off: enough for the APIs
// that only read the image.
func imageHandler(t *testing.T, recs ...metadata.Record) *Handler {
	t.Helper()
	img := metadata.Empty("", 1)
	for i, r := range recs {
		var err error
		if img, err = img.Apply(int64(i), r); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load("", []string{"auto.create.topics.enable=false"}, map[string]string{"log.dirs": t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	pub := metadata.NewPublisher(img)
	t.Cleanup(pub.Close)
	return New(Deps{NodeID: 1, Metadata: pub, Config: cfg, Logger: slog.New(slog.DiscardHandler)})
}

// TestMetadataTopicIDs: Metadata names topics by id as
// KafkaApis.handleTopicMetadataRequest does (checked against a Kafka 4.1.1
// broker). Any non-zero id in a v12 request makes the whole request one by
// id: names, even one sent beside an id, are ignored; an unknown id is
// UNKNOWN_TOPIC_ID with its id and a null name, listed before the known
// topics; ids and names are answered once however often they are asked.
// Below v12 a null name or a non-zero id fails the whole request with
// INVALID_REQUEST, every topic echoed with its id and a null name as "".
func TestMetadataTopicIDs(t *testing.T) {
	t.Parallel()
	known := metadata.UUID{15: 7}
	unknown := metadata.UUID{0: 1, 1: 2, 2: 3}
	h := imageHandler(t,
		metadata.Record{Bootstrap: &metadata.Bootstrap{ClusterID: "ids-cluster"}},
		metadata.Record{RegisterBroker: &metadata.RegisterBroker{NodeID: 1, Host: "127.0.0.1", Port: 9092, Unfenced: true}},
		metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "t1", ID: known, Replicas: [][]int32{{1}, {1}}}},
	)
	name := func(s string) *string { return &s }
	empty := ""
	// Each topic of a response as err/name/id/partitions/ops; a null name is <nil>.
	show := func(resp *kmsg.MetadataResponse) string {
		var b strings.Builder
		cid := "<nil>"
		if resp.ClusterID != nil {
			cid = *resp.ClusterID
		}
		fmt.Fprintf(&b, "cluster=%s brokers=%d", cid, len(resp.Brokers))
		for _, mt := range resp.Topics {
			n := "<nil>"
			if mt.Topic != nil {
				n = *mt.Topic
			}
			fmt.Fprintf(&b, " | %d %s %x %d %d", mt.ErrorCode, n, mt.TopicID, len(mt.Partitions), mt.AuthorizedOperations)
		}
		return b.String()
	}
	k, u := fmt.Sprintf("%x", known[:]), fmt.Sprintf("%x", unknown[:])
	zero := strings.Repeat("00", 16)
	const noOps = -2147483648
	for _, c := range []struct {
		name    string
		version int16
		ops     bool
		topics  []kmsg.MetadataRequestTopic
		want    string
	}{
		{"id, null name", 12, false, []kmsg.MetadataRequestTopic{{TopicID: known}},
			fmt.Sprintf("cluster=ids-cluster brokers=1 | 0 t1 %s 2 %d", k, noOps)},
		// The Java Admin client's describeTopics(TopicCollection.ofTopicIds(...)).
		{"id, empty name", 12, false, []kmsg.MetadataRequestTopic{{TopicID: known, Topic: &empty}},
			fmt.Sprintf("cluster=ids-cluster brokers=1 | 0 t1 %s 2 %d", k, noOps)},
		{"id with another topic's name", 12, false, []kmsg.MetadataRequestTopic{{TopicID: known, Topic: name("nosuch")}},
			fmt.Sprintf("cluster=ids-cluster brokers=1 | 0 t1 %s 2 %d", k, noOps)},
		{"unknown id", 12, false, []kmsg.MetadataRequestTopic{{TopicID: unknown}},
			fmt.Sprintf("cluster=ids-cluster brokers=1 | 100 <nil> %s 0 %d", u, noOps)},
		{"known then unknown id, ops", 12, true, []kmsg.MetadataRequestTopic{{TopicID: known}, {TopicID: unknown}},
			fmt.Sprintf("cluster=ids-cluster brokers=1 | 100 <nil> %s 0 %d | 0 t1 %s 2 %d", u, noOps, k, topicOps)},
		{"name ignored beside an id", 12, false, []kmsg.MetadataRequestTopic{{Topic: name("t1")}, {TopicID: unknown}},
			fmt.Sprintf("cluster=ids-cluster brokers=1 | 100 <nil> %s 0 %d", u, noOps)},
		{"null name and zero id ignored beside an id", 12, false, []kmsg.MetadataRequestTopic{{}, {TopicID: known}},
			fmt.Sprintf("cluster=ids-cluster brokers=1 | 0 t1 %s 2 %d", k, noOps)},
		{"id twice", 12, false, []kmsg.MetadataRequestTopic{{TopicID: known}, {TopicID: known}},
			fmt.Sprintf("cluster=ids-cluster brokers=1 | 0 t1 %s 2 %d", k, noOps)},
		{"name twice", 12, false, []kmsg.MetadataRequestTopic{{Topic: name("t1")}, {Topic: name("t1")}},
			fmt.Sprintf("cluster=ids-cluster brokers=1 | 0 t1 %s 2 %d", k, noOps)},
		{"unknown and invalid names, ops", 12, true, []kmsg.MetadataRequestTopic{{Topic: name("nosuch")}, {Topic: &empty}},
			fmt.Sprintf("cluster=ids-cluster brokers=1 | 3 nosuch %s 0 %d | 17  %s 0 %d", zero, topicOps, zero, topicOps)},
		{"null name, no id", 12, false, []kmsg.MetadataRequestTopic{{}, {Topic: name("t1")}},
			fmt.Sprintf("cluster=<nil> brokers=0 | 42  %s 0 %d | 42 t1 %s 0 %d", zero, noOps, zero, noOps)},
		{"v11 id", 11, false, []kmsg.MetadataRequestTopic{{TopicID: known, Topic: name("t1")}},
			fmt.Sprintf("cluster=<nil> brokers=0 | 42 t1 %s 0 %d", k, noOps)},
		{"v10 id", 10, false, []kmsg.MetadataRequestTopic{{TopicID: known, Topic: name("t1")}},
			fmt.Sprintf("cluster=<nil> brokers=0 | 42 t1 %s 0 %d", k, noOps)},
		{"v11 null name", 11, false, []kmsg.MetadataRequestTopic{{}},
			fmt.Sprintf("cluster=<nil> brokers=0 | 42  %s 0 %d", zero, noOps)},
		{"v9 name", 9, false, []kmsg.MetadataRequestTopic{{Topic: name("t1")}},
			fmt.Sprintf("cluster=ids-cluster brokers=1 | 0 t1 %s 2 %d", k, noOps)},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := kmsg.NewPtrMetadataRequest()
			req.Topics = c.topics
			req.IncludeTopicAuthorizedOperations = c.ops
			resp := call[*kmsg.MetadataResponse](t, h, req, c.version)
			if got := show(resp); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}
