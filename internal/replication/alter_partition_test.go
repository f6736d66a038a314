package replication

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// TestAlterPartitionBrokerEpochs (KIP-903): a leader's ISR expansion names
// its own broker epoch and the follower's as its fetch carried it; an
// INELIGIBLE_REPLICA answer drops the pending change, and the follower's
// next fetch proposes it again, which the controller may then accept. The
// accepted change counts as one ISR expansion even when the metadata
// applied it before the answer came.
func TestAlterPartitionBrokerEpochs(t *testing.T) {
	t.Parallel()
	type call struct {
		req   controller.PartitionISRRequest
		reply chan controller.PartitionISRResult
	}
	calls := make(chan call)
	m := New(Config{NodeID: 1, DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		Resolve: func(map[string]string) partition.Config {
			return partition.Config{MaxMessageBytes: 1 << 20, TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64,
				MinInsyncReplicas: 1, Delete: true, RetentionMs: -1, RetentionBytes: -1}
		},
		BrokerEpoch: func() int64 { return 5 },
		AlterPartition: func(ctx context.Context, r controller.PartitionISRRequest) (controller.PartitionISRResult, error) {
			c := call{req: r, reply: make(chan controller.PartitionISRResult)}
			select {
			case calls <- c:
			case <-ctx.Done():
				return controller.PartitionISRResult{}, ctx.Err()
			}
			select {
			case res := <-c.reply:
				return res, nil
			case <-ctx.Done():
				return controller.PartitionISRResult{}, ctx.Err()
			}
		},
	})
	t.Cleanup(func() { m.Close() })
	img0 := metadata.Empty("c", 1)
	// Broker 3 first, so that 2's epoch (its registration's offset) is
	// above 0 and the one before it is a real epoch, not -1.
	img := apply(t, img0, metadata.Record{RegisterBroker: &metadata.RegisterBroker{NodeID: 3, Host: "127.0.0.1", Port: 1, Unfenced: true}})
	img = apply(t, img, metadata.Record{RegisterBroker: &metadata.RegisterBroker{NodeID: 2, Host: "127.0.0.1", Port: 1, Unfenced: true}})
	e2 := img.Brokers[2].Epoch
	id := metadata.NewUUID()
	img = apply(t, img, metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "r", ID: id, Replicas: [][]int32{{1, 2}}}})
	img = apply(t, img, metadata.Record{PartitionChange: &metadata.PartitionChange{TopicID: id, Partition: 0, ISR: []int32{1}}})
	m.Apply(img0, img)
	p := m.Partition("r", 0)
	if p == nil || p.Role() != partition.RoleLeader || !slices.Equal(p.ISR(), []int32{1}) {
		t.Fatal("node 1 does not lead r-0 with ISR [1]")
	}
	fill(t, p, 2)
	want := controller.PartitionISRRequest{Topic: "r", TopicID: id, Partition: 0, LeaderEpoch: p.LeaderEpoch(),
		PartitionEpoch: p.PartitionEpoch(), NewISR: []int32{1, 2}, NewISREpochs: []int64{5, e2}}
	same := func(a, b controller.PartitionISRRequest) bool {
		return fmt.Sprint(a) == fmt.Sprint(b)
	}

	// A fetch from an older incarnation of 2 is refused and proposes nothing.
	if err := m.FollowerFetched(p, 2, e2-1, 2, time.Now()); err == nil {
		t.Fatal("fetch from an older incarnation accepted")
	}
	if _, pending := p.PendingISR(); pending {
		t.Fatal("an ISR change proposed for an older incarnation")
	}
	if err := m.FollowerFetched(p, 2, e2, 2, time.Now()); err != nil {
		t.Fatal(err)
	}
	c := <-calls
	if !same(c.req, want) {
		t.Fatalf("AlterPartition %+v, want %+v", c.req, want)
	}
	c.reply <- controller.PartitionISRResult{Err: kerr.IneligibleReplica}
	eventually(t, "the refused change dropped", func() (bool, string) {
		isr, pending := p.PendingISR()
		return !pending, fmt.Sprint(isr)
	})
	if err := m.FollowerFetched(p, 2, e2, 2, time.Now()); err != nil {
		t.Fatal(err)
	}
	c = <-calls
	if !same(c.req, want) {
		t.Fatalf("AlterPartition again %+v, want %+v", c.req, want)
	}
	// The controller commits the change, and the metadata brings it to
	// this node before the answer does: the answer still counts the one
	// expansion this leader made (and the refusal before it none).
	img2 := apply(t, img, metadata.Record{PartitionChange: &metadata.PartitionChange{TopicID: id, Partition: 0, ISR: []int32{1, 2}}})
	m.Apply(img, img2)
	if isr := p.ISR(); !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("ISR %v after the metadata, want [1 2]", isr)
	}
	c.reply <- controller.PartitionISRResult{Leader: 1, LeaderEpoch: want.LeaderEpoch, ISR: []int32{1, 2}, PartitionEpoch: want.PartitionEpoch + 1}
	eventually(t, "the expansion counted", func() (bool, string) {
		s, e := m.ISRChanges()
		return s == 0 && e == 1, fmt.Sprintf("%d shrinks, %d expands", s, e)
	})
	if isr := p.ISR(); !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("ISR %v, want [1 2]", isr)
	}
}
