package metrics

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/server"
)

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	produce := kmsg.NewPtrProduceResponse()
	produce.Topics = []kmsg.ProduceResponseTopic{{Partitions: []kmsg.ProduceResponseTopicPartition{
		{ErrorCode: 0}, {ErrorCode: kerr.NotLeaderForPartition.Code}, {ErrorCode: kerr.NotLeaderForPartition.Code}}}}
	// DescribeGroups is not walked by hand: reflection finds its codes.
	describe := kmsg.NewPtrDescribeGroupsResponse()
	describe.Groups = []kmsg.DescribeGroupsResponseGroup{{ErrorCode: kerr.GroupIDNotFound.Code}, {ErrorCode: 0}}
	join := kmsg.NewPtrJoinGroupResponse()
	join.ErrorCode = kerr.RebalanceInProgress.Code
	for _, tc := range []struct {
		msg  kmsg.Response
		want []int16
	}{
		{produce, []int16{0, 6, 6}},
		{describe, []int16{kerr.GroupIDNotFound.Code, 0}},
		{join, []int16{kerr.RebalanceInProgress.Code}},
	} {
		var got []int16
		ErrorCodes(tc.msg, func(c int16) { got = append(got, c) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%T: codes %v, want %v", tc.msg, got, tc.want)
		}
	}
}

func TestRequestsObserve(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	q := NewRequests(reg)
	at := time.Unix(1000, 0)
	resp := kmsg.NewPtrProduceResponse()
	resp.Topics = []kmsg.ProduceResponseTopic{{Partitions: []kmsg.ProduceResponseTopicPartition{{ErrorCode: kerr.NotEnoughReplicas.Code}, {}}}}
	for range 3 {
		q.RequestDone(&server.RequestTiming{Key: 0, Received: at, Started: at.Add(time.Millisecond), Handled: at.Add(2 * time.Millisecond),
			Ready: at.Add(12 * time.Millisecond), WriteStart: at.Add(13 * time.Millisecond), Written: at.Add(14 * time.Millisecond), Msg: resp})
	}
	q.CountError(1, kerr.OffsetOutOfRange.Code)
	q.CountError(1, 0)
	want := `
# HELP samsa_request_errors_total Error codes in responses, per API and error (Kafka's RequestMetrics ErrorsPerSec); a response counts once per error code it carries, per partition or resource.
# TYPE samsa_request_errors_total counter
samsa_request_errors_total{api="Fetch",error="OFFSET_OUT_OF_RANGE"} 1
samsa_request_errors_total{api="Produce",error="NOT_ENOUGH_REPLICAS"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "samsa_request_errors_total"); err != nil {
		t.Error(err)
	}
	// Every stage of the three requests landed in its own series.
	if n := testutil.CollectAndCount(q.durations); n != len(stages) {
		t.Errorf("%d duration series, want %d (one API, every stage)", n, len(stages))
	}
	// Fetch is timed as Kafka does: consumers and followers apart.
	consumer, follower := kmsg.NewPtrFetchRequest(), kmsg.NewPtrFetchRequest()
	consumer.SetVersion(16)
	consumer.ReplicaState.ID = -1
	follower.SetVersion(16)
	follower.ReplicaState.ID = 2
	old := kmsg.NewPtrFetchRequest()
	old.SetVersion(12)
	old.ReplicaID = 3
	for _, req := range []kmsg.Request{consumer, follower, follower, old} {
		q.RequestDone(&server.RequestTiming{Key: 1, Received: at, Started: at, Handled: at, Ready: at, WriteStart: at, Written: at, Req: req})
	}
	for api, want := range map[string]uint64{"FetchConsumer": 1, "FetchFollower": 3} {
		var m dto.Metric
		if err := q.durations.WithLabelValues(api, "total").(prometheus.Histogram).Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetHistogram().GetSampleCount(); got != want {
			t.Errorf("%s: %d requests, want %d", api, got, want)
		}
	}
	h := q.durations.WithLabelValues("Produce", "remote").(prometheus.Histogram)
	if got := testutil.ToFloat64(q.errors.WithLabelValues("Produce", "NOT_ENOUGH_REPLICAS")); got != 3 {
		t.Errorf("errors = %v", got)
	}
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	if c, s := m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum(); c != 3 || s < 0.0299 || s > 0.0301 {
		t.Errorf("remote stage: %d samples summing to %v s, want 3 of 10 ms", c, s)
	}
}

type fakeController struct{ active bool }

func (f fakeController) Active() bool                                 { return f.active }
func (f fakeController) Elections() (uint64, uint64)                  { return 4, 1 }
func (f fakeController) MetadataProgress() (committed, applied int64) { return 20, 17 }

// The collector reports what its source says, and leaves out what it has
// no source for.
func TestCollector(t *testing.T) {
	t.Parallel()
	img := metadata.Empty("c", 1)
	img.Offset = 17
	img.Brokers = map[int32]metadata.Broker{1: {NodeID: 1}, 2: {NodeID: 2, Fenced: true}}
	img.Topics = map[string]*metadata.Topic{"t": {Name: "t", Partitions: []metadata.Partition{{Index: 0, Leader: 1}, {Index: 1, Leader: -1}}}}
	src := Source{
		PartitionSeries: true,
		Server: func() server.Stats {
			return server.Stats{ConnectionsOpen: 2, ConnectionsAccepted: 5, RequestsInFlight: 1}
		},
		Parked:     func() (int64, int64) { return 3, 1 },
		Image:      func() *metadata.Image { return img },
		Controller: fakeController{active: true},
		Lag: func() []group.GroupLag {
			return []group.GroupLag{{Group: "g", State: "Stable", Members: 2, Partitions: []group.PartitionLag{
				{Topic: "t", Partition: 0, Committed: 5, End: 9, Lag: 4, LagSeconds: 1.5},
				{Topic: "t", Partition: 1, Committed: 3, End: -1, Lag: -1, LagSeconds: -1},
			}}}
		},
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src))
	want := `
# HELP samsa_brokers Registered brokers by state, in the active controller's image (reported by the active controller only).
# TYPE samsa_brokers gauge
samsa_brokers{state="active"} 1
samsa_brokers{state="fenced"} 1
samsa_brokers{state="shutting_down"} 0
# HELP samsa_connections_open Kafka client connections open now.
# TYPE samsa_connections_open gauge
samsa_connections_open 2
# HELP samsa_group_lag_records High watermark minus committed offset.
# TYPE samsa_group_lag_records gauge
samsa_group_lag_records{group="g",partition="0",topic="t"} 4
# HELP samsa_group_lag_seconds How long ago the first uncommitted record was written; 0 when caught up.
# TYPE samsa_group_lag_seconds gauge
samsa_group_lag_seconds{group="g",partition="0",topic="t"} 1.5
# HELP samsa_group_topic_lag_records A group's lag in records summed over the topic's partitions whose end is known.
# TYPE samsa_group_topic_lag_records gauge
samsa_group_topic_lag_records{group="g",topic="t"} 4
# HELP samsa_group_topic_lag_seconds A group's largest lag in seconds over the topic's partitions.
# TYPE samsa_group_topic_lag_seconds gauge
samsa_group_topic_lag_seconds{group="g",topic="t"} 1.5
# HELP samsa_group_members Members of a consumer group.
# TYPE samsa_group_members gauge
samsa_group_members{group="g"} 2
# HELP samsa_leader_elections_total Leader elections committed by this node as the active controller.
# TYPE samsa_leader_elections_total counter
samsa_leader_elections_total{type="clean"} 4
samsa_leader_elections_total{type="unclean"} 1
# HELP samsa_metadata_lag Committed minus applied quorum entries on this controller.
# TYPE samsa_metadata_lag gauge
samsa_metadata_lag 3
# HELP samsa_offline_partitions Partitions without a leader, in the active controller's image (reported by the active controller only).
# TYPE samsa_offline_partitions gauge
samsa_offline_partitions 1
# HELP samsa_purgatory_size Requests parked now: fetch long polls, and produce requests waiting for acks=all replication.
# TYPE samsa_purgatory_size gauge
samsa_purgatory_size{operation="fetch"} 3
samsa_purgatory_size{operation="produce"} 1
`
	names := []string{"samsa_brokers", "samsa_connections_open", "samsa_group_lag_records", "samsa_group_lag_seconds", "samsa_group_topic_lag_records", "samsa_group_topic_lag_seconds", "samsa_group_members",
		"samsa_leader_elections_total", "samsa_metadata_lag", "samsa_offline_partitions", "samsa_purgatory_size", "samsa_under_replicated_partitions"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// Observing a request allocates nothing once its API has been seen: the
// request path pays for atomic adds only.
func TestRequestDoneDoesNotAllocate(t *testing.T) {
	q := NewRequests(prometheus.NewRegistry())
	at := time.Now()
	resp := kmsg.NewPtrProduceResponse()
	resp.Topics = []kmsg.ProduceResponseTopic{{Partitions: make([]kmsg.ProduceResponseTopicPartition, 8)}}
	timing := &server.RequestTiming{Key: 0, Received: at, Started: at, Handled: at, Ready: at, WriteStart: at, Written: at, Msg: resp}
	q.RequestDone(timing)
	if n := testing.AllocsPerRun(1000, func() { q.RequestDone(timing) }); n != 0 {
		t.Fatalf("RequestDone allocates %v times per request", n)
	}
	failed := kmsg.NewPtrProduceResponse()
	failed.Topics = []kmsg.ProduceResponseTopic{{Partitions: []kmsg.ProduceResponseTopicPartition{{ErrorCode: kerr.NotEnoughReplicas.Code}}}}
	timing.Msg = failed
	q.RequestDone(timing)
	if n := testing.AllocsPerRun(1000, func() { q.RequestDone(timing) }); n != 0 {
		t.Fatalf("RequestDone of a failed request allocates %v times", n)
	}
}

func BenchmarkRequestDone(b *testing.B) {
	q := NewRequests(prometheus.NewRegistry())
	at := time.Now()
	resp := kmsg.NewPtrProduceResponse()
	resp.Topics = []kmsg.ProduceResponseTopic{{Partitions: make([]kmsg.ProduceResponseTopicPartition, 8)}}
	timing := &server.RequestTiming{Key: 0, Received: at, Started: at, Handled: at, Ready: at, WriteStart: at, Written: at, Msg: resp}
	b.ReportAllocs()
	for b.Loop() {
		q.RequestDone(timing)
	}
}
