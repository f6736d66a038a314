package controller

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// rstate is what the reassignment tests assert of a partition.
type rstate struct {
	Leader, LeaderEpoch, PartitionEpoch int32
	Replicas, ISR, Adding, Removing     []int32
}

func (s rstate) String() string {
	return fmt.Sprintf("leader %d (epoch %d) replicas %v isr %v adding %v removing %v, partition epoch %d",
		s.Leader, s.LeaderEpoch, s.Replicas, s.ISR, s.Adding, s.Removing, s.PartitionEpoch)
}

func wantReassign(t *testing.T, what string, c *Controller, topic string, idx int32, want rstate) {
	t.Helper()
	p := c.Image().Topics[topic].Partitions[idx]
	got := rstate{p.Leader, p.LeaderEpoch, p.PartitionEpoch, p.Replicas, p.ISR, p.Adding, p.Removing}
	if got.String() != want.String() {
		t.Errorf("%s: %s-%d: %v\n want %v", what, topic, idx, got, want)
	}
}

// reassign sends one partition's reassignment (nil replicas: cancel).
func reassign(t *testing.T, c *Controller, topic string, idx int32, replicas []int32) error {
	t.Helper()
	errs, err := c.AlterPartitionReassignments(context.Background(),
		[]ReassignTopic{{Topic: topic, Partitions: []ReassignPartition{{Partition: idx, Replicas: replicas}}}}, true)
	if err != nil {
		t.Fatalf("reassign %s-%d to %v: %v", topic, idx, replicas, err)
	}
	return errs[0][0]
}

// alterISR sends the leader's AlterPartition for one partition at its
// current epochs.
func alterISR(t *testing.T, c *Controller, topic string, idx int32, isr ...int32) PartitionISRResult {
	t.Helper()
	img := c.Image()
	p := img.Topics[topic].Partitions[idx]
	res, err := c.AlterPartition(context.Background(), p.Leader, img.Brokers[p.Leader].Epoch, []PartitionISRRequest{{
		Topic: topic, Partition: idx, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, NewISR: isr}})
	if err != nil {
		t.Fatalf("alter partition: %v", err)
	}
	return res[0]
}

// TestReassignMovesLeader: a reassignment to replicas that leave out the
// leader adds the new ones as followers (target first, the removed ones
// after), keeps the leader and the ISR, and completes when the ISR holds
// the whole target: the removed replicas leave the replicas and the ISR,
// the first ISR member of the target leads in a new epoch, and the
// AlterPartition that completed it answers NEW_LEADER_ELECTED.
func TestReassignMovesLeader(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, racked(4)...)
	createAssigned(t, c, "t", nil, []int32{1, 2})
	wantReassign(t, "created", c, "t", 0, rstate{1, 0, 0, []int32{1, 2}, []int32{1, 2}, nil, nil})

	wantCode(t, "start", reassign(t, c, "t", 0, []int32{4, 3}), nil)
	wantReassign(t, "started", c, "t", 0, rstate{1, 0, 1, []int32{4, 3, 1, 2}, []int32{1, 2}, []int32{3, 4}, []int32{1, 2}})

	// One new replica caught up: not complete yet.
	res := alterISR(t, c, "t", 0, 1, 2, 4)
	wantCode(t, "first expansion", res.Err, nil)
	if !slices.Equal(res.ISR, []int32{1, 2, 4}) || res.PartitionEpoch != 2 || res.Leader != 1 || res.LeaderEpoch != 0 {
		t.Errorf("first expansion answered %+v", res)
	}
	wantReassign(t, "one caught up", c, "t", 0, rstate{1, 0, 2, []int32{4, 3, 1, 2}, []int32{1, 2, 4}, []int32{3, 4}, []int32{1, 2}})

	res = alterISR(t, c, "t", 0, 1, 2, 4, 3)
	wantCode(t, "completing expansion", res.Err, kerr.NewLeaderElected)
	wantReassign(t, "completed", c, "t", 0, rstate{4, 1, 3, []int32{4, 3}, []int32{4, 3}, nil, nil})
	if p := c.Image().Topics["t"].Partitions[0]; p.Reassigning() {
		t.Errorf("still reassigning: %+v", p)
	}
}

// TestReassignKeepsLeader: a leader that stays a replica keeps leading in
// its epoch; the completing AlterPartition is answered with the new state.
func TestReassignKeepsLeader(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, racked(4)...)
	createAssigned(t, c, "t", nil, []int32{1, 2, 3})
	wantCode(t, "start", reassign(t, c, "t", 0, []int32{1, 2, 4}), nil)
	wantReassign(t, "started", c, "t", 0, rstate{1, 0, 1, []int32{1, 2, 4, 3}, []int32{1, 2, 3}, []int32{4}, []int32{3}})
	res := alterISR(t, c, "t", 0, 1, 2, 3, 4)
	wantCode(t, "complete", res.Err, nil)
	if !slices.Equal(res.ISR, []int32{1, 2, 4}) || res.PartitionEpoch != 2 || res.Leader != 1 || res.LeaderEpoch != 0 {
		t.Errorf("completing expansion answered %+v", res)
	}
	wantReassign(t, "completed", c, "t", 0, rstate{1, 0, 2, []int32{1, 2, 4}, []int32{1, 2, 4}, nil, nil})
}

// TestReassignImmediate: a target the ISR already holds completes in the
// change that starts it — fewer replicas, or the same ones reordered — and
// a leader left out moves at once.
func TestReassignImmediate(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, racked(3)...)
	createAssigned(t, c, "t", nil, []int32{1, 2, 3}, []int32{1, 2, 3}, []int32{1, 2, 3})
	wantCode(t, "shrink", reassign(t, c, "t", 0, []int32{2, 1}), nil)
	wantReassign(t, "shrink", c, "t", 0, rstate{1, 0, 1, []int32{2, 1}, []int32{1, 2}, nil, nil})
	wantCode(t, "shrink without the leader", reassign(t, c, "t", 1, []int32{3, 2}), nil)
	wantReassign(t, "shrink without the leader", c, "t", 1, rstate{3, 1, 1, []int32{3, 2}, []int32{2, 3}, nil, nil})
	wantCode(t, "reorder", reassign(t, c, "t", 2, []int32{3, 1, 2}), nil)
	wantReassign(t, "reorder", c, "t", 2, rstate{1, 0, 1, []int32{3, 1, 2}, []int32{1, 2, 3}, nil, nil})
	// The same replicas again change nothing.
	offset := c.Image().Offset
	wantCode(t, "same", reassign(t, c, "t", 2, []int32{3, 1, 2}), nil)
	if got := c.Image().Offset; got != offset {
		t.Errorf("a no-op reassignment committed: offset %d, want %d", got, offset)
	}
	// The preferred leader is the target's first: a preferred election
	// moves it there.
	res, err := c.ElectLeaders(context.Background(), ElectPreferred, []ElectTopic{{Topic: "t", Partitions: []int32{2}}})
	if err != nil || res[0].Partitions[0].Err != nil {
		t.Fatalf("preferred election: %v %+v", err, res)
	}
	wantReassign(t, "preferred", c, "t", 2, rstate{3, 1, 2, []int32{3, 1, 2}, []int32{1, 2, 3}, nil, nil})
}

// TestReassignCancel: cancelling reverts to the replicas and ISR without
// the ones being added; with none in progress it is
// NO_REASSIGNMENT_IN_PROGRESS.
func TestReassignCancel(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, racked(4)...)
	createAssigned(t, c, "t", nil, []int32{1, 2})
	wantCode(t, "start", reassign(t, c, "t", 0, []int32{3, 4}), nil)
	alterISR(t, c, "t", 0, 1, 2, 3)
	wantReassign(t, "one caught up", c, "t", 0, rstate{1, 0, 2, []int32{3, 4, 1, 2}, []int32{1, 2, 3}, []int32{3, 4}, []int32{1, 2}})
	wantCode(t, "cancel", reassign(t, c, "t", 0, nil), nil)
	wantReassign(t, "cancelled", c, "t", 0, rstate{1, 0, 3, []int32{1, 2}, []int32{1, 2}, nil, nil})
	wantCode(t, "cancel again", reassign(t, c, "t", 0, nil), kerr.NoReassignmentInProgress)
}

// TestReassignCancelUnclean: when every ISR member is one being added,
// cancelling needs an unclean election: INVALID_REPLICA_ASSIGNMENT unless
// the topic allows those, and then the first live original replica leads.
func TestReassignCancelUnclean(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, racked(4)...)
	createAssigned(t, c, "clean", nil, []int32{1, 2})
	createAssigned(t, c, "unclean", map[string]string{"unclean.leader.election.enable": "true"}, []int32{1, 2})
	for _, topic := range []string{"clean", "unclean"} {
		wantCode(t, "start", reassign(t, c, topic, 0, []int32{3, 4}), nil)
		alterISR(t, c, topic, 0, 1, 2, 3)
	}
	// 1 and 2 go: the partition falls to 3, the one new replica in sync.
	shutDown(t, c, 1)
	shutDown(t, c, 2)
	wantReassign(t, "originals gone", c, "clean", 0, rstate{3, 1, 4, []int32{3, 4, 1, 2}, []int32{3}, []int32{3, 4}, []int32{1, 2}})
	reregister(t, c, 1)
	wantCode(t, "cancel clean", reassign(t, c, "clean", 0, nil), kerr.InvalidReplicaAssignment)
	wantReassign(t, "cancel refused", c, "clean", 0, rstate{3, 1, 4, []int32{3, 4, 1, 2}, []int32{3}, []int32{3, 4}, []int32{1, 2}})
	wantCode(t, "cancel unclean", reassign(t, c, "unclean", 0, nil), nil)
	// Broker 2 is still down: it leaves the reverted ISR in the same entry.
	wantReassign(t, "cancelled uncleanly", c, "unclean", 0, rstate{1, 2, 6, []int32{1, 2}, []int32{1}, nil, nil})
}

// TestReassignReplace: a reassignment over one in progress starts from the
// current replica set; what the first was adding and the second does not
// name is removed.
func TestReassignReplace(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, racked(5)...)
	createAssigned(t, c, "t", nil, []int32{1, 2})
	wantCode(t, "start", reassign(t, c, "t", 0, []int32{3, 4}), nil)
	alterISR(t, c, "t", 0, 1, 2, 3)
	wantCode(t, "replace", reassign(t, c, "t", 0, []int32{3, 5}), nil)
	wantReassign(t, "replaced", c, "t", 0, rstate{1, 0, 3, []int32{3, 5, 1, 2, 4}, []int32{1, 2, 3}, []int32{5}, []int32{1, 2, 4}})
	res := alterISR(t, c, "t", 0, 1, 2, 3, 5)
	wantCode(t, "complete", res.Err, kerr.NewLeaderElected)
	wantReassign(t, "completed", c, "t", 0, rstate{3, 1, 4, []int32{3, 5}, []int32{3, 5}, nil, nil})
	// A target equal to the whole current set ends a reassignment with
	// every replica kept.
	wantCode(t, "start again", reassign(t, c, "t", 0, []int32{1, 2}), nil)
	wantCode(t, "keep all", reassign(t, c, "t", 0, []int32{1, 2, 3, 5}), nil)
	wantReassign(t, "kept all", c, "t", 0, rstate{3, 1, 6, []int32{1, 2, 3, 5}, []int32{3, 5}, nil, nil})
}

// TestReassignErrors: each refusal has Kafka's code, and refusals commit
// nothing while the request's other partitions go ahead.
func TestReassignErrors(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, append(racked(3), testBroker{id: 4, fenced: true})...)
	createAssigned(t, c, "t", nil, []int32{1, 2}, []int32{1, 2})
	ctx := context.Background()
	offset := c.Image().Offset
	for _, tc := range []struct {
		name     string
		topic    string
		part     int32
		replicas []int32
		allowRF  bool
		code     *kerr.Error
	}{
		{"unknown topic", "nope", 0, []int32{1}, true, kerr.UnknownTopicOrPartition},
		{"unknown partition", "t", 2, []int32{1}, true, kerr.UnknownTopicOrPartition},
		{"negative partition", "t", -1, []int32{1}, true, kerr.UnknownTopicOrPartition},
		{"cancel unknown topic", "nope", 0, nil, true, kerr.UnknownTopicOrPartition},
		{"empty", "t", 0, []int32{}, true, kerr.InvalidReplicaAssignment},
		{"twice", "t", 0, []int32{2, 3, 2}, true, kerr.InvalidReplicaAssignment},
		{"unregistered broker", "t", 0, []int32{2, 9}, true, kerr.InvalidReplicaAssignment},
		{"negative broker", "t", 0, []int32{-1, 2}, true, kerr.InvalidReplicaAssignment},
		{"replication factor change", "t", 0, []int32{1, 2, 3}, false, kerr.InvalidReplicationFactor},
		{"replication factor change and invalid", "t", 0, []int32{}, false, kerr.InvalidReplicationFactor},
		{"no reassignment to cancel", "t", 0, nil, true, kerr.NoReassignmentInProgress},
	} {
		errs, err := c.AlterPartitionReassignments(ctx, []ReassignTopic{{Topic: tc.topic, Partitions: []ReassignPartition{{Partition: tc.part, Replicas: tc.replicas}}}}, tc.allowRF)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		wantCode(t, tc.name, errs[0][0], tc.code)
	}
	if got := c.Image().Offset; got != offset {
		t.Errorf("refused reassignments committed: offset %d, want %d", got, offset)
	}
	// A fenced broker may be a target, as in KRaft; one refusal does not
	// hold back the rest of the request.
	errs, err := c.AlterPartitionReassignments(ctx, []ReassignTopic{
		{Topic: "t", Partitions: []ReassignPartition{{Partition: 0, Replicas: []int32{1, 4}}, {Partition: 1, Replicas: []int32{3, 3}}}},
		{Topic: "nope", Partitions: []ReassignPartition{{Partition: 0, Replicas: []int32{1}}}},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "to a fenced broker", errs[0][0], nil)
	wantCode(t, "twice, with others", errs[0][1], kerr.InvalidReplicaAssignment)
	wantCode(t, "unknown topic, with others", errs[1][0], kerr.UnknownTopicOrPartition)
	wantReassign(t, "to a fenced broker", c, "t", 0, rstate{1, 0, 1, []int32{1, 4, 2}, []int32{1, 2}, []int32{4}, []int32{2}})
	// The replication factor a partition is being reassigned to is the
	// one a further reassignment must keep.
	errs, _ = c.AlterPartitionReassignments(ctx, []ReassignTopic{{Topic: "t", Partitions: []ReassignPartition{{Partition: 0, Replicas: []int32{3, 1}}}}}, false)
	wantCode(t, "same factor as the target", errs[0][0], nil)

	// A controller that is not active answers NOT_CONTROLLER for the whole
	// request, listing included.
	c.Close()
	_, err = c.AlterPartitionReassignments(ctx, []ReassignTopic{{Topic: "t", Partitions: []ReassignPartition{{Partition: 0, Replicas: []int32{1}}}}}, true)
	wantCode(t, "inactive", err, kerr.NotController)
	_, err = c.ListPartitionReassignments(ctx, nil)
	wantCode(t, "inactive list", err, kerr.NotController)
}

// TestListPartitionReassignments: every reassignment in progress, or those
// of the named partitions; unknown and idle ones are left out.
func TestListPartitionReassignments(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, racked(3)...)
	createAssigned(t, c, "a", nil, []int32{1}, []int32{2}, []int32{3})
	createAssigned(t, c, "b", nil, []int32{1})
	for _, r := range []struct {
		topic    string
		part     int32
		replicas []int32
	}{{"a", 2, []int32{1, 2}}, {"a", 0, []int32{2}}, {"b", 0, []int32{3}}} {
		wantCode(t, "start", reassign(t, c, r.topic, r.part, r.replicas), nil)
	}
	ctx := context.Background()
	all, err := c.ListPartitionReassignments(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []TopicReassignments{
		{Topic: "a", Partitions: []PartitionReassignment{
			{Partition: 0, Replicas: []int32{2, 1}, Adding: []int32{2}, Removing: []int32{1}},
			{Partition: 2, Replicas: []int32{1, 2, 3}, Adding: []int32{1, 2}, Removing: []int32{3}},
		}},
		{Topic: "b", Partitions: []PartitionReassignment{{Partition: 0, Replicas: []int32{3, 1}, Adding: []int32{3}, Removing: []int32{1}}}},
	}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("all:\n got %+v\nwant %+v", all, want)
	}
	named, err := c.ListPartitionReassignments(ctx, []ElectTopic{{Topic: "b", Partitions: []int32{0, 7}}, {Topic: "nope", Partitions: []int32{0}},
		{Topic: "a", Partitions: []int32{1, 2, -1}}})
	if err != nil {
		t.Fatal(err)
	}
	want = []TopicReassignments{want[1], {Topic: "a", Partitions: want[0].Partitions[1:]}}
	if !reflect.DeepEqual(named, want) {
		t.Errorf("named:\n got %+v\nwant %+v", named, want)
	}
	none, err := c.ListPartitionReassignments(ctx, []ElectTopic{{Topic: "a", Partitions: []int32{1}}})
	if err != nil || none != nil {
		t.Errorf("idle partition: %+v %v", none, err)
	}
}
