package group

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/record"
)

// commitPart is one partition of an offset commit, with its answer.
type commitPart struct {
	topic     string
	partition int32
	// o is the offset to commit; o.commitTime is -1 for "when written".
	o    offset
	code int16
}

// offsetCommit is an OffsetCommit or a TxnOffsetCommit reduced to what the
// coordinator decides on: who commits, and the partitions in request
// order. Both APIs share one validation and one write path; they differ
// in who may commit (validateCommit) and in what a committed batch
// becomes (the group's offsets, or a transaction's pending offsets).
type offsetCommit struct {
	group      string
	memberID   string
	instanceID *string
	generation int32
	// txn is the transaction's producer (TxnOffsetCommit); nil for
	// OffsetCommit.
	txn   *producer
	parts []commitPart
}

// checkTopics refuses the partitions of unknown topics, as Kafka's request
// handler does before the coordinator sees the request, and returns how
// many partitions are left.
func (cr *offsetCommit) checkTopics(img *metadata.Image) int {
	valid := 0
	for i := range cr.parts {
		p := &cr.parts[i]
		mt := img.Topics[p.topic]
		if mt == nil || p.partition < 0 || int(p.partition) >= len(mt.Partitions) {
			p.code = kerr.UnknownTopicOrPartition.Code
			continue
		}
		valid++
	}
	return valid
}

// failAll answers code for every partition not answered yet.
func (cr *offsetCommit) failAll(code int16) {
	for i := range cr.parts {
		if cr.parts[i].code == 0 {
			cr.parts[i].code = code
		}
	}
}

// startCommit validates cr (its unknown topics already refused) and
// appends its offsets to the group's partition as one batch (a
// transactional one for a TxnOffsetCommit), and returns the wait for the
// answer; cr's codes are final once the wait returns. The offsets are
// applied once the high watermark covers them, and the wait waits for
// that, at most offsets.commit.timeout.ms, with no lock held; on a single
// replica the answer is ready at once. A commit that times out is answered
// COORDINATOR_NOT_AVAILABLE (Kafka's translation of REQUEST_TIMED_OUT), and
// is still applied if it commits later.
func (c *Coordinator) startCommit(cr *offsetCommit) func(context.Context) {
	ready := func(context.Context) {}
	// An empty group id is a valid group for commits, fetches, describes
	// and deletes: old consumers with group.id="" committed under it, and
	// Kafka still serves it "for backwards compatibility".
	// A commit with a generation may not create the group: it comes from
	// a member of a generation this coordinator does not know.
	g, err := c.acquire(cr.group, cr.generation < 0)
	if err != nil {
		cr.failAll(codeOf(err, kerr.IllegalGeneration))
		return ready
	}
	unlock := func() {
		drop := g.dropIfUnused()
		g.mu.Unlock()
		if drop {
			c.removeGroup(g)
		}
	}
	if err := g.validateCommit(cr.memberID, cr.instanceID, cr.generation, cr.txn != nil); err != nil {
		unlock()
		cr.failAll(err.(*kerr.Error).Code)
		return ready
	}

	now := c.nowMs()
	var todo []int // indexes into cr.parts, in record order
	var recs []record.Record
	for i := range cr.parts {
		p := &cr.parts[i]
		if p.code != 0 {
			continue
		}
		if len(p.o.metadata) > c.cfg.maxMetadataBytes {
			p.code = kerr.OffsetMetadataTooLarge.Code
			continue
		}
		if p.o.commitTime == -1 {
			p.o.commitTime = now
		}
		todo = append(todo, i)
		recs = append(recs, record.Record{Key: offsetKey(g.id, p.topic, p.partition), Value: offsetValue(p.o)})
	}
	if len(recs) == 0 {
		unlock()
		return ready
	}
	// The batch's completion gets its own copy of the partitions it
	// writes: it may run after the wait below has timed out and written
	// the answer's codes into cr.parts.
	written := make([]commitPart, len(todo))
	for n, i := range todo {
		written[n] = cr.parts[i]
	}
	// Until the batch completes, a deletion of the group or of these
	// offsets tombstones them too (their records precede the
	// tombstones in the log).
	for _, p := range written {
		g.pendingOffsets[topicPartition{p.topic, p.partition}]++
	}
	wr, err := g.writeAt(recs, cr.txn, func(err error, base int64) {
		for _, p := range written {
			g.donePendingOffset(p.topic, p.partition)
		}
		applied := coordinator.Applied(err) && g.state != stateDead
		// Not applied: not committed; or committed, then the group was
		// deleted (its tombstones covered these offsets) or unloaded.
		if cr.txn != nil {
			// A transactional batch is bookkept either way: the shard
			// counts it in flight until now.
			g.applyTxnOffsets(cr.txn.id, written, base, applied)
			return
		}
		if !applied {
			return
		}
		for n, p := range written {
			o := p.o
			o.record = base + int64(n)
			g.setOffset(p.topic, p.partition, o)
		}
	})
	if err != nil {
		for _, p := range written {
			g.donePendingOffset(p.topic, p.partition)
		}
		unlock()
		c.log.Warn("cannot write offset commit", "group", g.id, "transactional", cr.txn != nil, "err", err)
		code := offsetAppendCode(err)
		for _, i := range todo {
			cr.parts[i].code = code
		}
		return ready
	}
	unlock()
	return func(ctx context.Context) {
		if err := c.wait(ctx, wr); err != nil {
			c.log.Warn("offset commit not replicated", "group", cr.group, "transactional", cr.txn != nil, "err", err)
			code := offsetAppendCode(err)
			for _, i := range todo {
				cr.parts[i].code = code
			}
		}
	}
}

// donePendingOffset counts off a completed commit of one partition.
func (g *group) donePendingOffset(topic string, partition int32) {
	k := topicPartition{topic, partition}
	if g.pendingOffsets[k]--; g.pendingOffsets[k] <= 0 {
		delete(g.pendingOffsets, k)
	}
}

// validateCommit is Kafka's check of who may commit: anyone while the group
// is Empty and the commit carries no generation (admin tools, consumers
// that assign partitions themselves); otherwise a member of the current
// generation, not while its assignment is being computed. A transactional
// commit (TxnOffsetCommit) is checked less: its versions below 3 carry no
// member at all, so an anonymous one is accepted whatever the group's
// state, and the group's state is not enforced for a member's either
// (ClassicGroup.validateOffsetCommit with isTransactional).
func (g *group) validateCommit(memberID string, instanceID *string, generation int32, transactional bool) error {
	if g.state == stateDead {
		return kerr.CoordinatorNotAvailable
	}
	if generation < 0 && g.state == stateEmpty {
		return nil
	}
	if generation >= 0 || memberID != "" || instanceID != nil {
		if err := g.validateMember(memberID, instanceID); err != nil {
			return err
		}
		if generation != g.generation {
			return kerr.IllegalGeneration
		}
	} else if !transactional && g.state != stateEmpty {
		return kerr.UnknownMemberID
	}
	if !transactional && g.state == stateCompletingRebalance {
		return kerr.RebalanceInProgress
	}
	return nil
}
