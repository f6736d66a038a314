package controller

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// Partition reassignment (KIP-455), as KRaft's controller does it
// (ReplicationControlManager.alterPartitionReassignments with
// PartitionReassignmentReplicas and PartitionChangeBuilder):
//
//   - Reassigning a partition from replicas R to a target T commits
//     replicas = T followed by the replicas being removed, adding = T−R and
//     removing = R−T (both in ascending order, as KRaft's sets are). The
//     leader and the ISR stay; the new replicas start as followers.
//   - The reassignment completes in the change that makes the ISR hold all
//     of T (an AlterPartition from the leader once the new replicas caught
//     up, or at once when T already is in the ISR): replicas = T, the ISR
//     loses the removed replicas, adding and removing are cleared, and a
//     leader that is no longer in the ISR is replaced by the first live ISR
//     member in T's order, with a new leader epoch.
//   - A new reassignment of a partition being reassigned replaces the old
//     one, from the current replica set (the old T ∪ R): replicas the old
//     one was adding are kept only where the new target names them.
//   - Cancelling (a null replica list) reverts to the replicas without the
//     ones being added, and the ISR without them; when the ISR would be
//     empty the revert needs an unclean election, allowed only where the
//     topic's unclean.leader.election.enable is.
//
// Differences: KRaft bumps the leader epoch when a replica leaves the
// replica set even when the leader stays; samsa moves only the partition
// epoch (the leader updates its follower set in place, and the removed
// replica stops fetching when it sees the change). A target equal to the
// current replica list clears a reassignment in progress (KRaft leaves
// it running).

// changeTarget is where buildChange takes a partition.
type changeTarget struct {
	isr []int32 // nil: keep the ISR
	// setReplicas replaces the replica set and its reassignment state
	// with replicas, adding and removing.
	setReplicas                bool
	replicas, adding, removing []int32
}

// buildChange returns the change that takes p to tg, as KRaft's
// PartitionChangeBuilder: it completes a reassignment whose target the
// ISR now holds, then elects a leader by kind where the current one no
// longer qualifies. Nil when nothing changes.
func buildChange(img *metadata.Image, topic metadata.UUID, p metadata.Partition, tg changeTarget, kind electionKind) *metadata.PartitionChange {
	isr := p.ISR
	if tg.isr != nil {
		isr = tg.isr
	}
	replicas, adding, removing := p.Replicas, p.Adding, p.Removing
	if tg.setReplicas {
		replicas, adding, removing = tg.replicas, tg.adding, tg.removing
	}
	if len(adding) > 0 || len(removing) > 0 {
		if r, i, ok := completeReassignment(replicas, removing, isr); ok {
			replicas, isr, adding, removing = r, i, nil, nil
		}
	}
	q := p
	q.Replicas = replicas
	ch := planPartition(img, topic, q, isr, kind)
	if slices.Equal(replicas, p.Replicas) && slices.Equal(adding, p.Adding) && slices.Equal(removing, p.Removing) {
		return ch
	}
	if ch == nil {
		ch = &metadata.PartitionChange{TopicID: topic, Partition: p.Index}
	}
	ch.Replicas, ch.Adding, ch.Removing = slices.Clone(replicas), cloneNonEmpty(adding), cloneNonEmpty(removing)
	return ch
}

func cloneNonEmpty(s []int32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// completeReassignment returns the replicas and ISR of a reassignment
// completed with isr (KRaft's maybeCompleteReassignment): both without the
// replicas being removed, when the ISR then still has a member and holds
// every remaining replica.
func completeReassignment(replicas, removing, isr []int32) ([]int32, []int32, bool) {
	keep := func(s []int32) []int32 {
		return slices.DeleteFunc(slices.Clone(s), func(r int32) bool { return slices.Contains(removing, r) })
	}
	newISR, newReplicas := keep(isr), keep(replicas)
	if len(newISR) == 0 || len(newReplicas) == 0 {
		return nil, nil, false
	}
	for _, r := range newReplicas {
		if !slices.Contains(newISR, r) {
			return nil, nil, false
		}
	}
	return newReplicas, newISR, true
}

// ReassignTopic names partitions of one topic to reassign.
type ReassignTopic struct {
	Topic      string
	Partitions []ReassignPartition
}

// ReassignPartition is one partition's target replicas, leader first; nil
// cancels the partition's reassignment.
type ReassignPartition struct {
	Partition int32
	Replicas  []int32
}

// AlterPartitionReassignments starts, replaces or cancels the
// reassignments of an AlterPartitionReassignments request (see the top of
// this file). errs[i][j] answers topics[i].Partitions[j]: nil, or an *Error
// with Kafka's code, checked in KRaft's order: UNKNOWN_TOPIC_OR_PARTITION
// for an unknown topic or partition; for a cancel,
// NO_REASSIGNMENT_IN_PROGRESS when there is none and
// INVALID_REPLICA_ASSIGNMENT when reverting needs an unclean election the
// topic does not allow; for a target, INVALID_REPLICATION_FACTOR when
// allowRFChange is false (v1+, KIP-860) and the target's size differs from
// the replication factor the partition has or is being reassigned to,
// then INVALID_REPLICA_ASSIGNMENT for an empty list, an unregistered
// broker or one named twice (fenced brokers are allowed, as in KRaft).
// The changes commit as one entry, with the elections they make
// necessary; the error is a failure to commit (NOT_CONTROLLER ...), which
// answers the whole request.
func (c *Controller) AlterPartitionReassignments(ctx context.Context, topics []ReassignTopic, allowRFChange bool) ([][]error, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Active() {
		return nil, errNotController()
	}
	img := c.Image()
	next := img
	errs := make([][]error, len(topics))
	var recs []metadata.Record
	for i, rt := range topics {
		errs[i] = make([]error, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			ch, err := c.reassignOne(next, rt.Topic, rp, allowRFChange)
			if err != nil || ch == nil {
				errs[i][j] = err
				continue
			}
			rec := metadata.Record{PartitionChange: ch}
			if next, err = next.Apply(next.Offset+1, rec); err != nil {
				return nil, errorf(kerr.UnknownServerError, "%v", err)
			}
			recs = append(recs, rec)
		}
	}
	if len(recs) > 0 {
		if _, err := c.commitElecting(recs); err != nil {
			return nil, err
		}
	}
	return errs, nil
}

// reassignOne decides one partition of AlterPartitionReassignments: the
// change to commit (nil for none) or why not.
func (c *Controller) reassignOne(img *metadata.Image, topic string, rp ReassignPartition, allowRFChange bool) (*metadata.PartitionChange, error) {
	t := img.Topics[topic]
	if t == nil {
		return nil, errorf(kerr.UnknownTopicOrPartition, "Unable to find a topic named %s.", topic)
	}
	if rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
		return nil, errorf(kerr.UnknownTopicOrPartition, "Unable to find partition %s:%d.", topic, rp.Partition)
	}
	p := t.Partitions[rp.Partition]
	if rp.Replicas == nil {
		return c.revert(img, t, p)
	}
	if !allowRFChange {
		if have := len(p.Target()); have != len(rp.Replicas) {
			return nil, errorf(kerr.InvalidReplicationFactor, "The replication factor is changed from %d to %d", have, len(rp.Replicas))
		}
	}
	if err := checkReplicaList(img, rp.Replicas); err != nil {
		return nil, err
	}
	target := rp.Replicas
	var adding, removing []int32
	for _, r := range p.Replicas {
		if !slices.Contains(target, r) {
			removing = append(removing, r)
		}
	}
	for _, r := range target {
		if !slices.Contains(p.Replicas, r) {
			adding = append(adding, r)
		}
	}
	slices.Sort(adding)
	slices.Sort(removing)
	replicas := append(slices.Clone(target), removing...)
	return buildChange(img, t.ID, p, changeTarget{setReplicas: true, replicas: replicas, adding: adding, removing: removing}, electOnline), nil
}

// revert cancels p's reassignment (KRaft's PartitionReassignmentRevert):
// the replicas and the ISR lose the replicas being added.
func (c *Controller) revert(img *metadata.Image, t *metadata.Topic, p metadata.Partition) (*metadata.PartitionChange, error) {
	if !p.Reassigning() {
		return nil, errorf(kerr.NoReassignmentInProgress, "%s", kerr.NoReassignmentInProgress.Description)
	}
	notAdding := func(s []int32) []int32 {
		return slices.DeleteFunc(slices.Clone(s), func(r int32) bool { return slices.Contains(p.Adding, r) })
	}
	replicas, isr := notAdding(p.Replicas), notAdding(p.ISR)
	unclean := c.uncleanEnabled(img, t)
	if len(isr) == 0 {
		// Every ISR member was being added: the original replicas may
		// lack records only the ISR had.
		if !unclean {
			return nil, errorf(kerr.InvalidReplicaAssignment, "Unable to revert partition assignment for %s:%d because it would require an unclean leader election.", t.Name, p.Index)
		}
		isr = replicas
	}
	kind := electOnline
	if unclean {
		kind = electUnclean
	}
	return buildChange(img, t.ID, p, changeTarget{isr: isr, setReplicas: true, replicas: replicas}, kind), nil
}

// PartitionReassignment is a reassignment in progress, as
// ListPartitionReassignments reports it.
type PartitionReassignment struct {
	Partition                  int32
	Replicas, Adding, Removing []int32
}

// TopicReassignments are the reassignments in progress of one topic.
type TopicReassignments struct {
	Topic      string
	Partitions []PartitionReassignment
}

// ListPartitionReassignments returns the reassignments in progress, as
// KRaft's listPartitionReassignments: of every partition (topics nil:
// topics by name, partitions in order), or of the named ones, in the
// request's order. Unknown topics and partitions, and partitions not
// being reassigned, are left out, and so is a topic with none left.
func (c *Controller) ListPartitionReassignments(ctx context.Context, topics []ElectTopic) ([]TopicReassignments, error) {
	if !c.Active() {
		return nil, errNotController()
	}
	img := c.Image()
	if topics == nil {
		for _, name := range img.TopicNames() {
			et := ElectTopic{Topic: name}
			for _, p := range img.Topics[name].Partitions {
				if p.Reassigning() {
					et.Partitions = append(et.Partitions, p.Index)
				}
			}
			topics = append(topics, et)
		}
	}
	var out []TopicReassignments
	for _, et := range topics {
		t := img.Topics[et.Topic]
		if t == nil {
			continue
		}
		tr := TopicReassignments{Topic: t.Name}
		for _, idx := range et.Partitions {
			if idx < 0 || int(idx) >= len(t.Partitions) || !t.Partitions[idx].Reassigning() {
				continue
			}
			p := t.Partitions[idx]
			tr.Partitions = append(tr.Partitions, PartitionReassignment{Partition: idx,
				Replicas: slices.Clone(p.Replicas), Adding: append([]int32{}, p.Adding...), Removing: append([]int32{}, p.Removing...)})
		}
		if len(tr.Partitions) > 0 {
			out = append(out, tr)
		}
	}
	return out, nil
}
