package api

import (
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
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
