package controller

import (
	"slices"
	"sync/atomic"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// electionStats counts the leader elections this node committed as the
// active controller (Kafka's ControllerStats LeaderElectionRateAndTimeMs
// and UncleanLeaderElectionsPerSec).
type electionStats struct {
	clean, unclean atomic.Uint64
}

// Elections is the number of leader elections this node committed while
// it was the active controller: clean ones (the new leader was in the
// ISR) and unclean ones (it was not, so committed records may be lost).
func (c *Controller) Elections() (clean, unclean uint64) {
	return c.elections.clean.Load(), c.elections.unclean.Load()
}

// countElections counts the partition changes among recs, committed over
// prev, that gave a partition a new leader. A leader of -1 (a partition
// left offline) is no election.
func (s *electionStats) count(prev *metadata.Image, recs []metadata.Record) {
	for _, r := range recs {
		ch := r.PartitionChange
		if ch == nil || ch.Leader == nil || *ch.Leader < 0 {
			continue
		}
		t := prev.ByID[ch.TopicID]
		if t == nil || ch.Partition < 0 || int(ch.Partition) >= len(t.Partitions) {
			continue
		}
		p := t.Partitions[ch.Partition]
		switch {
		case p.Leader == *ch.Leader:
		case slices.Contains(p.ISR, *ch.Leader):
			s.clean.Add(1)
		default:
			s.unclean.Add(1)
		}
	}
}

// MetadataProgress is this node's Raft commit index and the index it has
// applied to its metadata image (no-op and configuration entries
// included, so the two meet when it is caught up).
func (c *Controller) MetadataProgress() (committed, applied int64) {
	return int64(c.raft.CommitIndex()), int64(c.raft.AppliedIndex())
}
