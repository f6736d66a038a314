package replication

import (
	"slices"
	"testing"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// TestRolesFromImage: each image gives the local replica the role its
// partition state says (leader with the image's ISR, follower of the
// image's leader), with the image's leader epoch; the high watermarks are
// checkpointed at Close and read back by the next manager.
func TestRolesFromImage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := newManager(t, dir, log.OSFS())
	img0 := metadata.Empty("c", 1)
	img := apply(t, img0, metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "r", ID: metadata.NewUUID(), Replicas: [][]int32{{1, 2}}}})
	m.Apply(img0, img)
	p := m.Partition("r", 0)
	if p == nil {
		t.Fatal("no replica opened")
	}
	check := func(step string, role partition.Role, leader, epoch int32, isr []int32) {
		t.Helper()
		if p.Role() != role || p.Leader() != leader || p.LeaderEpoch() != epoch || !slices.Equal(p.ISR(), isr) {
			t.Fatalf("%s: role %v leader %d epoch %d ISR %v; want %v %d %d %v", step,
				p.Role(), p.Leader(), p.LeaderEpoch(), p.ISR(), role, leader, epoch, isr)
		}
	}
	ip := img.Topics["r"].Partitions[0]
	check("created", partition.RoleLeader, 1, ip.LeaderEpoch, []int32{1, 2})
	fill(t, p, 3)

	id := img.Topics["r"].ID
	two, one := int32(2), int32(1)
	prev := img
	img = apply(t, img, metadata.Record{PartitionChange: &metadata.PartitionChange{TopicID: id, Partition: 0, Leader: &two}})
	m.Apply(prev, img)
	check("leader moved away", partition.RoleFollower, 2, img.Topics["r"].Partitions[0].LeaderEpoch, nil)

	prev = img
	img = apply(t, img, metadata.Record{PartitionChange: &metadata.PartitionChange{TopicID: id, Partition: 0, Leader: &one, ISR: []int32{1}}})
	m.Apply(prev, img)
	check("leader again", partition.RoleLeader, 1, img.Topics["r"].Partitions[0].LeaderEpoch, []int32{1})
	// Alone in the ISR, the leader commits everything.
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("high watermark %d, want 3", hw)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	hws, err := log.ReadHWCheckpoint(log.OSFS(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := hws[log.TopicPartition{Topic: "r", Partition: 0}]; got != 3 || len(hws) != 1 {
		t.Fatalf("checkpoint %v, want r-0 at 3", hws)
	}
}
