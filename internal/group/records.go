package group

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/record"
)

// Records of __consumer_offsets, as Kafka writes them. The key starts with
// an int16 version that says what the record is:
//
//	key v0, v1  OffsetCommitKey{group, topic, partition}   (we write v1)
//	key v2      GroupMetadataKey{group}
//	key v3+     records of Kafka's KIP-848/share coordinators (skipped)
//
// Values: OffsetCommitValue v3 (with the leader epoch, KIP-320), or v1 when
// the commit carried an explicit retention (OffsetCommit v2-v4), since only
// v1 has the expire timestamp; GroupMetadataValue v3 (static members,
// KIP-345). A null value is a tombstone: the offset or group is deleted, and
// compaction eventually drops both records.
const (
	offsetKeyVersion   = 1
	groupKeyVersion    = 2
	groupValueVersion  = 3
	offsetValueCurrent = 3
	offsetValueExpire  = 1
)

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

func offsetValue(o offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueCurrent
	v.Offset = o.offset
	v.LeaderEpoch = o.leaderEpoch
	v.Metadata = o.metadata
	v.CommitTimestamp = o.commitTime
	if o.expireTime >= 0 {
		v.Version = offsetValueExpire
		v.ExpireTimestamp = o.expireTime
	}
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: group}
	return k.AppendTo(nil)
}

// groupValue encodes the group as it stands, with each member's metadata
// for the selected protocol and its assignment (from assign when given).
func (g *group) groupValue(assign map[string][]byte) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	v.Protocol = strPtr(g.protocol)
	v.Leader = strPtr(g.leader)
	v.CurrentStateTimestamp = g.stateTime
	for _, id := range g.order {
		m := g.members[id]
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		vm.InstanceID = m.instanceID
		vm.ClientID = m.clientID
		vm.ClientHost = m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		vm.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		vm.Subscription = m.metadataFor(g.protocol)
		vm.Assignment = m.assignment
		if assign != nil {
			vm.Assignment = assign[id]
		}
		if vm.Subscription == nil {
			vm.Subscription = []byte{}
		}
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

// persistMetadata writes the group's metadata record (see write).
func (g *group) persistMetadata(assign map[string][]byte, apply func(err error)) error {
	_, err := g.write([]record.Record{{Key: groupKey(g.id), Value: g.groupValue(assign)}}, apply)
	return err
}

// write appends recs to the group's partition as one uncompressed,
// non-idempotent batch (acks=all, in the shard's leader epoch) and calls
// apply, with g.mu held, once the batch is committed or has failed:
// coordinator.Applied(err) says whether it is in the committed log, and so
// whether apply must apply it to the group. apply runs before write
// returns when the append committed the batch (a single replica), else
// later from the shard's writer, after every earlier write of the shard;
// so the group's state is the replay of the committed log, in log order.
// An error means nothing was appended, and apply is not called. apply may
// be nil. Callers hold g.mu.
func (g *group) write(recs []record.Record, apply func(err error)) (*coordinator.Write, error) {
	var at func(error, int64)
	if apply != nil {
		at = func(err error, _ int64) { apply(err) }
	}
	return g.writeAt(recs, nil, at)
}

// writeAt is write for a batch of transaction txn (nil: none), whose
// apply also learns the log offset of the batch's first record. A
// transactional batch carries the producer's id and epoch and no sequence,
// as Kafka's coordinator writes a TxnOffsetCommit: the log checks its
// epoch against the producer's, and the transaction's marker later ends
// it in this partition. Such a batch is counted in flight in the shard's
// shardTxns until its apply settles it (applyTxnOffsets), which it must.
func (g *group) writeAt(recs []record.Record, txn *producer, apply func(err error, base int64)) (*coordinator.Write, error) {
	now := g.c.nowMs()
	for i := range recs {
		recs[i].OffsetDelta = int32(i)
	}
	opts := record.BuildOptions{
		ProducerID:    record.NoProducerID,
		ProducerEpoch: -1,
		BaseSequence:  record.NoSequence,
		BaseTimestamp: now,
	}
	if txn != nil {
		opts.ProducerID, opts.ProducerEpoch, opts.Attributes = txn.id, txn.epoch, record.AttrTransactional
	}
	batch, err := record.BuildBatch(record.CodecNone, 0, recs, opts)
	if err != nil {
		return nil, fmt.Errorf("group: encode records: %w: %w", err, kerr.MessageTooLarge)
	}
	// The completion reads wr under g.mu, which the caller holds until
	// wr is assigned: a completion cannot run before Append returned.
	var wr *coordinator.Write
	base := func() int64 { return wr.LastOffset() - int64(len(recs)-1) }
	if txn != nil {
		// Counted in flight before it is in the log: a transaction that
		// ends meanwhile must know to end this batch's offsets too.
		g.shard.txns.begin(txn.id)
	}
	wr, err = g.shard.rt.Writer.Append(batch, func(err error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.pendingWrites--
		if apply != nil {
			apply(err, base())
		}
	})
	if err != nil {
		if txn != nil {
			g.shard.txns.done(txn.id)
		}
		return nil, fmt.Errorf("group: append to %s-%d: %w", TopicName, g.shard.rt.Index, err)
	}
	if wr.Inline() {
		if apply != nil {
			apply(wr.Err(), base())
		}
	} else {
		g.pendingWrites++
	}
	return wr, nil
}

// wait waits, at most offsets.commit.timeout.ms, for a write to complete,
// and returns its error, nil once committed. Called without g.mu.
func (c *Coordinator) wait(ctx context.Context, wr *coordinator.Write) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.commitTimeout)
	defer cancel()
	return coordinator.Wait(ctx, wr)
}

// groupAppendCode is the code of a failed group metadata write.
func groupAppendCode(err error) int16 { return coordinator.ErrorCode(err, kerr.UnknownServerError) }

// offsetAppendCode is the code of a failed offset commit write.
func offsetAppendCode(err error) int16 {
	return coordinator.ErrorCode(err, kerr.InvalidCommitOffsetSize)
}

// recordKind classifies a record key by its version prefix.
func recordKind(key []byte) (int16, bool) {
	if len(key) < 2 {
		return 0, false
	}
	return int16(binary.BigEndian.Uint16(key)), true
}
