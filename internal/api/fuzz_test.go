package api

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/replication"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// openTestController opens a one-node controller in dir with the broker
// config sets, closed when the test ends.
func openTestController(t testing.TB, dir string, sets []string) (*config.Broker, *controller.OneNode) {
	t.Helper()
	cfg, err := config.Load("", sets, map[string]string{"log.dirs": dir})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := controller.OpenOneNode(controller.Config{
		DataDir: dir, NodeID: cfg.NodeID, ClusterID: "fuzz-cluster",
		DefaultPartitions: 2, DefaultReplicationFactor: 1,
		ValidateConfigs: cfg.ValidateTopicOverrides,
	}, "127.0.0.1", 9092)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	return cfg, ctl
}

// newTestHandler wires a handler to a real controller and replica manager
// in dir, the way internal/broker does, without a listener.
func newTestHandler(t testing.TB, dir string) *Handler {
	t.Helper()
	cfg, ctl := openTestController(t, dir, []string{"log.segment.bytes=65536"})
	reps := replication.New(replication.Config{
		NodeID: cfg.NodeID, DataDir: dir,
		Resolve: func(o map[string]string) partition.Config {
			t := cfg.ResolveTopic(o)
			return partition.Config{MaxMessageBytes: t.MaxMessageBytes, MinInsyncReplicas: 1,
				TimestampBeforeMaxMs: t.TimestampBeforeMaxMs, TimestampAfterMaxMs: t.TimestampAfterMaxMs}
		},
	})
	ctl.Subscribe(reps.Apply)
	t.Cleanup(func() { reps.Close() }) // runs before the controller's Close
	return New(Deps{NodeID: cfg.NodeID, Host: "127.0.0.1", Port: 9092, Metadata: ctl.Pub, Controller: ctl.Controller, Client: ctl, Replicas: reps, Config: cfg})
}

// newTestControllerHandler is the controller listener's handler over a
// one-node controller in dir, as internal/broker serves it.
func newTestControllerHandler(t testing.TB, dir string) *Handler {
	t.Helper()
	cfg, ctl := openTestController(t, dir, nil)
	return New(Deps{NodeID: cfg.NodeID, Metadata: ctl.Pub, Controller: ctl.Controller, Client: ctl,
		ControllerListener: true, Config: cfg})
}

// fuzzSeed returns a function adding req at version v to f's corpus.
func fuzzSeed(f *testing.F) func(req kmsg.Request, v int16) {
	return func(req kmsg.Request, v int16) {
		req.SetVersion(v)
		f.Add(req.Key(), v, req.AppendTo(nil))
	}
}

// FuzzHandle decodes arbitrary bytes as a request body for every served
// key and version and runs it through the real handlers: whatever a client
// sends that kmsg accepts, no handler may panic or hang.
func FuzzHandle(f *testing.F) {
	seed := fuzzSeed(f)
	topic := "fuzz"
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.Topics = []kmsg.MetadataRequestTopic{{Topic: &topic}}
	seed(mreq, 12)
	creq := kmsg.NewPtrCreateTopicsRequest()
	creq.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "fuzz2", NumPartitions: 2, ReplicationFactor: 1}}
	seed(creq, 7)
	preq := kmsg.NewPtrProduceRequest()
	preq.Acks = -1
	preq.TimeoutMillis = 100
	preq.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: []byte{0, 1, 2}}}}}
	seed(preq, 9)
	freq := kmsg.NewPtrFetchRequest()
	freq.MaxWaitMillis = 1
	freq.Topics = []kmsg.FetchRequestTopic{{Topic: topic, Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, FetchOffset: 0, PartitionMaxBytes: 1 << 20}}}}
	seed(freq, 12)
	freq.IsolationLevel = 1 // read_committed
	seed(freq, 4)
	// A transaction's markers, committed and aborted.
	wreq := kmsg.NewPtrWriteTxnMarkersRequest()
	wreq.Markers = []kmsg.WriteTxnMarkersRequestMarker{
		{ProducerID: 1, Committed: true, Topics: []kmsg.WriteTxnMarkersRequestMarkerTopic{{Topic: topic, Partitions: []int32{0, 1, 9}}}},
		{ProducerID: 2, ProducerEpoch: 3, CoordinatorEpoch: 4, Topics: []kmsg.WriteTxnMarkersRequestMarkerTopic{{Topic: "none", Partitions: []int32{0}}}},
	}
	seed(wreq, 1)
	// A follower's fetch in a session (v15: ReplicaState, topic ids).
	ffreq := kmsg.NewPtrFetchRequest()
	ffreq.MaxWaitMillis = 1
	ffreq.ReplicaState.ID, ffreq.ReplicaState.Epoch = 2, 7
	ffreq.SessionID, ffreq.SessionEpoch = 0, 0
	ffreq.Topics = []kmsg.FetchRequestTopic{{TopicID: [16]byte{1}, Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, FetchOffset: 0, LastFetchedEpoch: -1, PartitionMaxBytes: 1 << 20}}}}
	ffreq.ForgottenTopics = []kmsg.FetchRequestForgottenTopic{{TopicID: [16]byte{1}, Partitions: []int32{1}}}
	seed(ffreq, 15)
	lreq := kmsg.NewPtrListOffsetsRequest()
	lreq.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: topic, Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, Timestamp: -3}}}}
	seed(lreq, 8)
	seed(kmsg.NewPtrDescribeConfigsRequest(), 4)
	seed(kmsg.NewPtrIncrementalAlterConfigsRequest(), 1)
	seed(kmsg.NewPtrApiVersionsRequest(), 3)
	elect := kmsg.NewPtrElectLeadersRequest()
	elect.ElectionType = 1
	elect.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: topic, Partitions: []int32{0, 1, -1}}}
	seed(elect, 2)
	seedReassignments(seed, topic)
	seedScram(seed)

	fuzzHandler(f, newTestHandler(f, f.TempDir()), Versions())
}

// FuzzHandleController is FuzzHandle for the controller listener: what a
// peer or a tool sends to a controller (registrations, heartbeats, metadata
// log fetches, AlterPartition, DescribeQuorum, forwarded admin requests,
// ElectLeaders among them).
func FuzzHandleController(f *testing.F) {
	seed := fuzzSeed(f)
	reg := kmsg.NewPtrBrokerRegistrationRequest()
	reg.BrokerID, reg.ClusterID = 2, "fuzz-cluster"
	reg.Listeners = []kmsg.BrokerRegistrationRequestListener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9093}}
	seed(reg, 4)
	hb := kmsg.NewPtrBrokerHeartbeatRequest()
	hb.BrokerID, hb.BrokerEpoch, hb.CurrentMetadataOffset = 2, 5, 10
	seed(hb, 1)
	fetch := kmsg.NewPtrFetchRequest()
	fetch.MaxWaitMillis = 1
	fetch.Topics = []kmsg.FetchRequestTopic{{Topic: "__cluster_metadata", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, FetchOffset: 0, PartitionMaxBytes: 1 << 20}}}}
	seed(fetch, 12)
	dq := kmsg.NewPtrDescribeQuorumRequest()
	dq.Topics = []kmsg.DescribeQuorumRequestTopic{{Topic: "__cluster_metadata", Partitions: []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}}}}
	seed(dq, 1)
	creq := kmsg.NewPtrCreateTopicsRequest()
	creq.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "fuzz2", NumPartitions: 2, ReplicationFactor: 1}}
	seed(creq, 7)
	seed(kmsg.NewPtrApiVersionsRequest(), 3)
	// AlterPartition from broker 1 (the one registered broker, at the
	// epoch of its registration in a fresh log) for a topic the CreateTopics
	// seed makes, by name (v1) and by id with broker epochs (v3).
	alter := kmsg.NewPtrAlterPartitionRequest()
	alter.BrokerID, alter.BrokerEpoch = 1, 3
	alter.Topics = []kmsg.AlterPartitionRequestTopic{{Topic: "fuzz2", TopicID: [16]byte{1}, Partitions: []kmsg.AlterPartitionRequestTopicPartition{
		{Partition: 0, NewISR: []int32{1}, NewEpochISR: []kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{{BrokerID: 1, BrokerEpoch: -1}}},
		{Partition: 1, LeaderEpoch: 1, PartitionEpoch: 2, NewISR: []int32{1, 1}, LeaderRecoveryState: 1},
	}}}
	seed(alter, 1)
	seed(alter, 3)
	elect := kmsg.NewPtrElectLeadersRequest()
	elect.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: "fuzz2", Partitions: []int32{0, 5}}}
	seed(elect, 2)
	seed(kmsg.NewPtrElectLeadersRequest(), 0) // null topics: every partition
	seedReassignments(seed, "fuzz2")
	seedScram(seed)
	fuzzHandler(f, newTestControllerHandler(f, f.TempDir()), ControllerVersions())
}

// seedReassignments seeds AlterPartitionReassignments (a move, a cancel,
// invalid lists, an unknown partition) and ListPartitionReassignments (all,
// and named partitions) for topic.
func seedReassignments(seed func(kmsg.Request, int16), topic string) {
	alter := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	alter.TimeoutMillis = 100
	alter.Topics = []kmsg.AlterPartitionAssignmentsRequestTopic{{Topic: topic, Partitions: []kmsg.AlterPartitionAssignmentsRequestTopicPartition{
		{Partition: 0, Replicas: []int32{1}}, {Partition: 1}, {Partition: 0, Replicas: []int32{}},
		{Partition: 1, Replicas: []int32{1, 1, -1}}, {Partition: -1, Replicas: []int32{1}},
	}}}
	seed(alter, 0)
	alter.AllowReplicationFactorChange = false
	seed(alter, 1)
	seed(kmsg.NewPtrListPartitionReassignmentsRequest(), 0) // null topics: all
	list := kmsg.NewPtrListPartitionReassignmentsRequest()
	list.Topics = []kmsg.ListPartitionReassignmentsRequestTopic{{Topic: topic, Partitions: []int32{0, -1, 1 << 30}}}
	seed(list, 0)
}

// fuzzHandler runs every body kmsg decodes for a served key and version
// through h: no handler may panic or hang.
func fuzzHandler(f *testing.F, h *Handler, versions map[int16]wire.VersionRange) {
	f.Fuzz(func(t *testing.T, key, version int16, body []byte) {
		vr, ok := versions[key]
		if !ok || version < vr.Min || version > vr.Max {
			return
		}
		msg := kmsg.RequestForKey(key)
		msg.SetVersion(version)
		if err := msg.ReadFrom(body); err != nil {
			return // the server closes the connection on undecodable bodies
		}
		// Bound the waits a fuzzed request may ask for.
		if r, ok := msg.(*kmsg.FetchRequest); ok {
			r.MaxWaitMillis = min(r.MaxWaitMillis, 5)
		}
		if r, ok := msg.(*kmsg.ProduceRequest); ok {
			r.TimeoutMillis = min(r.TimeoutMillis, 5)
		}
		// An admin answer waits up to timeout_ms for this node to act on
		// it (opening thousands of fuzzed partitions takes seconds).
		switch r := msg.(type) {
		// And partition counts stay small: thousands of fuzzed partitions
		// opened on disk would slow every later input to a crawl.
		case *kmsg.CreateTopicsRequest:
			r.TimeoutMillis = min(r.TimeoutMillis, 100)
			for i := range r.Topics {
				r.Topics[i].NumPartitions = min(r.Topics[i].NumPartitions, 16)
			}
		case *kmsg.CreatePartitionsRequest:
			r.TimeoutMillis = min(r.TimeoutMillis, 100)
			for i := range r.Topics {
				r.Topics[i].Count = min(r.Topics[i].Count, 16)
			}
		case *kmsg.DeleteTopicsRequest:
			r.TimeoutMillis = min(r.TimeoutMillis, 100)
		}
		// A handler may wait (an admin answer for this node's replica
		// manager, busy opening a fuzzed topic's thousands of partitions)
		// but must give up promptly when its context ends: a hang is a
		// handler still running well after that.
		const limit = 5 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		start := time.Now()
		req := &wire.Request{Key: key, Version: version, Msg: msg, Conn: &wire.ConnInfo{Plaintext: true}}
		resp := h.Handle(ctx, req)(ctx)
		if resp.Body != nil && resp.Body.Release != nil {
			resp.Body.Release()
		}
		if took := time.Since(start); took > limit+time.Second {
			t.Fatalf("key %d v%d: handler took %v, past its %v context", key, version, took, limit)
		}
	})
}

// seedScram seeds SCRAM credential alterations (one valid upsertion, one
// deletion, a duplicate), a description of all users and of some, and a
// DescribeClientQuotas (kafka-configs asks both).
func seedScram(seed func(kmsg.Request, int16)) {
	alter := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	alter.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
		{Name: "alice", Mechanism: 1, Iterations: 4096, Salt: []byte("salt"), SaltedPassword: make([]byte, 32)},
		{Name: "bob", Mechanism: 2, Iterations: 16384, Salt: []byte("s"), SaltedPassword: make([]byte, 64)},
	}
	alter.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{{Name: "bob", Mechanism: 2}, {Name: "carol", Mechanism: 1}}
	seed(alter, 0)
	seed(kmsg.NewPtrDescribeUserSCRAMCredentialsRequest(), 0)
	desc := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	desc.Users = []kmsg.DescribeUserSCRAMCredentialsRequestUser{{Name: "alice"}, {Name: "alice"}, {Name: ""}}
	seed(desc, 0)
	quotas := kmsg.NewPtrDescribeClientQuotasRequest()
	quotas.Components = []kmsg.DescribeClientQuotasRequestComponent{{EntityType: "user", MatchType: 0, Match: kmsg.StringPtr("alice")}, {EntityType: "ip", MatchType: 2}}
	seed(quotas, 1)
}
