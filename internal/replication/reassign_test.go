package replication

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// TestReassignedReplicas: as a partition is reassigned, the leader keeps
// its replica (no truncation, same leader epoch) and takes the new
// follower into its follower set; a replica reassigned away is closed, its
// fetcher stopped and its directory removed, as a deleted topic's; one
// reassigned back starts afresh as a follower.
func TestReassignedReplicas(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := newManager(t, dir, log.OSFS())
	img0 := metadata.Empty("c", 1)
	// Brokers 2 and 3 have addresses (nothing listens there: the
	// fetchers only need somewhere to fetch from).
	img := img0
	for _, id := range []int32{2, 3} {
		img = apply(t, img, metadata.Record{RegisterBroker: &metadata.RegisterBroker{NodeID: id, Host: "127.0.0.1", Port: 1, Unfenced: true}})
	}
	img = apply(t, img, metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "r", ID: metadata.NewUUID(),
		Replicas: [][]int32{{1, 2}, {2, 1}}}})
	m.Apply(img0, img)
	id := img.Topics["r"].ID
	change := func(c metadata.PartitionChange) {
		t.Helper()
		c.TopicID = id
		prev := img
		img = apply(t, img, metadata.Record{PartitionChange: &c})
		m.Apply(prev, img)
	}
	lead := m.Partition("r", 0)
	fill(t, lead, 3)
	epoch := lead.LeaderEpoch()

	// Start moving r-0 from [1 2] to [1 3]: the leader stays and learns of 3.
	change(metadata.PartitionChange{Partition: 0, Replicas: []int32{1, 3, 2}, Adding: []int32{3}, Removing: []int32{2}})
	if m.Partition("r", 0) != lead || lead.Role() != partition.RoleLeader || lead.LeaderEpoch() != epoch || lead.LogEndOffset() != 3 {
		t.Fatalf("leader after the reassignment started: role %v epoch %d (was %d) log end %d", lead.Role(), lead.LeaderEpoch(), epoch, lead.LogEndOffset())
	}
	if got := lead.Replicas(); !slices.Equal(got, []int32{1, 3, 2}) {
		t.Fatalf("leader's replicas %v", got)
	}
	if f, ok := lead.Follower(3); !ok || f.LogEndOffset != -1 {
		t.Fatalf("adding replica 3 unknown to the leader: %+v %v", f, ok)
	}
	lead.UpdateFollower(3, 3, time.Now())
	if f, _ := lead.Follower(3); f.LogEndOffset != 3 {
		t.Fatalf("adding replica's fetch not recorded: %+v", f)
	}

	// r-1, followed here, moves away from this node: its fetcher stops.
	tp1 := log.TopicPartition{Topic: "r", Partition: 1}
	if !m.fetchers.has(tp1, 2) {
		t.Fatal("no fetcher for r-1")
	}
	follower := m.Partition("r", 1)
	change(metadata.PartitionChange{Partition: 1, Replicas: []int32{2, 3, 1}, Adding: []int32{3}, Removing: []int32{1}})
	if m.Partition("r", 1) != follower || !m.fetchers.has(tp1, 2) {
		t.Fatal("r-1 follower lost while still a replica")
	}
	change(metadata.PartitionChange{Partition: 1, Replicas: []int32{2, 3}, ISR: []int32{2, 3}})
	if m.Partition("r", 1) != nil || m.fetchers.has(tp1, 2) {
		t.Fatal("r-1 still hosted after it was reassigned away")
	}

	// The reassignment of r-0 completes with 3 leading: this node's replica
	// goes as well, and both directories are removed.
	three := int32(3)
	change(metadata.PartitionChange{Partition: 0, Replicas: []int32{3}, ISR: []int32{3}, Leader: &three})
	if m.Partition("r", 0) != nil || lead.CheckLeader(-1) == nil {
		t.Fatal("r-0 still served here after it was reassigned away")
	}
	eventually(t, "directories removed", func() (bool, string) {
		got := dirs(t, dir)
		return len(got) == 0, fmt.Sprint(got)
	})

	// Reassigned back: a fresh, empty replica following 3.
	change(metadata.PartitionChange{Partition: 0, Replicas: []int32{3, 1}, Adding: []int32{1}})
	back := m.Partition("r", 0)
	if back == nil || back == lead || back.Role() != partition.RoleFollower || back.Leader() != 3 || back.LogEndOffset() != 0 {
		t.Fatalf("replica reassigned back: %v", back)
	}
	if !m.fetchers.has(log.TopicPartition{Topic: "r", Partition: 0}, 3) {
		t.Fatal("no fetcher for the replica reassigned back")
	}
	if got := dirs(t, dir); !slices.Equal(got, []string{"r-0"}) {
		t.Fatalf("directories %v, want [r-0]", got)
	}
}
