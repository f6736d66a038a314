package api

import (
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// TestProduceNotLeaderHint: Produce v10+ answers NOT_LEADER_OR_FOLLOWER
// with the partition's current leader and epoch, and the endpoint of that
// leader when it is live (KIP-951), so a client moves the partition
// without waiting for a metadata refresh; earlier versions carry no hint.
func TestProduceNotLeaderHint(t *testing.T) {
	t.Parallel()
	img := metadata.Empty("MkU3OEVBNTcwNTJENDM2Qg", 1)
	off := int64(0)
	apply := func(r metadata.Record) {
		t.Helper()
		next, err := img.Apply(off, r)
		if err != nil {
			t.Fatal(err)
		}
		img, off = next, off+1
	}
	rack := "r2"
	apply(metadata.Record{RegisterBroker: &metadata.RegisterBroker{NodeID: 1, Host: "10.0.0.1", Port: 9092, Unfenced: true}})
	apply(metadata.Record{RegisterBroker: &metadata.RegisterBroker{NodeID: 2, Host: "10.0.0.2", Port: 9093, Rack: &rack, Unfenced: true}})
	apply(metadata.Record{RegisterBroker: &metadata.RegisterBroker{NodeID: 3, Host: "10.0.0.3", Port: 9094}}) // fenced
	id := metadata.NewUUID()
	apply(metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "t", ID: id, Replicas: [][]int32{{2, 1}, {1, 3}}}})
	// Partition 1 moves to broker 3 (epoch 1), which is fenced: its
	// endpoint is not advertised.
	three := int32(3)
	apply(metadata.Record{PartitionChange: &metadata.PartitionChange{TopicID: id, Partition: 1, Leader: &three}})

	pub := metadata.NewPublisher(img)
	t.Cleanup(pub.Close)
	h := New(Deps{NodeID: 1, Host: "10.0.0.1", Port: 9092, Metadata: pub, Logger: slog.New(slog.DiscardHandler)})

	type hint struct {
		code          int16
		leader, epoch int32
	}
	for _, v := range []int16{9, 10, 11} {
		req := kmsg.NewPtrProduceRequest()
		req.Acks = 1
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		for _, p := range []int32{0, 1, 7} {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition = p
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp := call[*kmsg.ProduceResponse](t, h, req, v)
		var got []hint
		for _, p := range resp.Topics[0].Partitions {
			got = append(got, hint{p.ErrorCode, p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch})
		}
		nl, unk := kerr.NotLeaderForPartition.Code, kerr.UnknownTopicOrPartition.Code
		want := []hint{{nl, 2, 0}, {nl, 3, 1}, {unk, -1, -1}}
		var wantBrokers []kmsg.ProduceResponseBroker
		if v < 10 {
			want = []hint{{nl, -1, -1}, {nl, -1, -1}, {unk, -1, -1}}
		} else {
			wantBrokers = []kmsg.ProduceResponseBroker{{NodeID: 2, Host: "10.0.0.2", Port: 9093, Rack: &rack}}
		}
		if len(got) != len(want) {
			t.Fatalf("v%d: partitions %+v, want %+v", v, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("v%d: partition answers %+v, want %+v", v, got, want)
				break
			}
		}
		if len(resp.Brokers) != len(wantBrokers) {
			t.Fatalf("v%d: brokers %+v, want %+v", v, resp.Brokers, wantBrokers)
		}
		for i, b := range resp.Brokers {
			w := wantBrokers[i]
			if b.NodeID != w.NodeID || b.Host != w.Host || b.Port != w.Port || b.Rack == nil || *b.Rack != *w.Rack {
				t.Errorf("v%d: brokers %+v, want %+v", v, resp.Brokers, wantBrokers)
			}
		}
	}
}

// TestCurrentLeaderPrefersNewerLocalRole: while an image is being
// delivered the replica manager has already made the local replica a
// follower of the new leader, and Delivered still returns the old image.
// A NOT_LEADER_OR_FOLLOWER answered then must name the new leader (from
// the replica), not this broker again, which a client would ignore.
func TestCurrentLeaderPrefersNewerLocalRole(t *testing.T) {
	t.Parallel()
	img := &metadata.Image{
		Brokers: map[int32]metadata.Broker{
			1: {NodeID: 1, Host: "h1", Port: 1},
			3: {NodeID: 3, Host: "h3", Port: 3},
		},
		Topics: map[string]*metadata.Topic{"t": {Name: "t", Partitions: []metadata.Partition{
			{Index: 0, Leader: 1, LeaderEpoch: 4, Replicas: []int32{1, 3}, ISR: []int32{1, 3}},
		}}},
	}
	p, err := partition.Open(t.TempDir(), "t", 0, 4, partition.Config{MaxMessageBytes: 1 << 20, MinInsyncReplicas: 1}, log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	check := func(what string, local *partition.Partition, wantLeader, wantEpoch int32) {
		t.Helper()
		sp := kmsg.NewProduceResponseTopicPartition()
		resp := kmsg.NewPtrProduceResponse()
		currentLeader(img, "", "t", 0, local, &sp, resp)
		if sp.CurrentLeader.LeaderID != wantLeader || sp.CurrentLeader.LeaderEpoch != wantEpoch {
			t.Fatalf("%s: hint %d in epoch %d, want %d in %d", what, sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch, wantLeader, wantEpoch)
		}
		if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != wantLeader {
			t.Fatalf("%s: brokers %+v, want node %d's endpoint", what, resp.Brokers, wantLeader)
		}
	}
	check("the image's leadership", nil, 1, 4)
	check("a local leader in the image's epoch", p, 1, 4)
	p.MakeFollower(5, 3, 1)
	check("a local follower of a newer leadership", p, 3, 5)
}
