// Package coordinator is the part of a Kafka coordinator that is not about
// what it coordinates: the runtime that the group coordinator (on
// __consumer_offsets) uses, and the transaction coordinator (on
// __transaction_state) is meant to. A coordinator keeps its state as
// records in the partitions of its internal topic and serves the keys of
// each partition this broker leads, as one shard per partition. Runtime is
// the one interface a coordinator uses: it plugs in Hooks (make a shard's
// state, load it, unload it) and calls OnImage from its metadata
// subscription, Lookup on its request path, and each shard's Writer for
// its records.
//
//   - Elections says which partitions of the topic this broker leads, and
//     in which leader epoch. A shard belongs to one (partition, epoch): a
//     new epoch, even with this broker still the leader, is a new shard
//     (Kafka reloads too), since the log may have been truncated and
//     rewritten in between. Runtime.OnImage diffs Elections against the
//     shards on every metadata image, and only starts or cancels work
//     there: the image's delivery must never wait.
//   - Load, on the shard's own goroutine, waits until the replica leads in
//     the shard's epoch, replays the log from its start to its log end (not
//     the high watermark: the tail the previous leader wrote is this
//     leader's history too), then waits until the high watermark covers
//     what it read, so that a loaded shard shows only committed records.
//   - A Writer appends the shard's records as leader in the shard's epoch
//     only (Partition.AppendAsLeader: a replica that lost the leadership or
//     moved to another epoch refuses), with acks=all, and completes each
//     write once the high watermark covers it, in log order, on the
//     writer's goroutine. The coordinator applies a write to its state in
//     the completion, so its state is always the replay of the committed
//     log, and it answers the client then, with no lock held while it
//     waits. When the batch is committed by the append itself (a single
//     replica) the write completes inline instead, so a one-node broker
//     behaves exactly as without replication.
//   - ErrorCode translates a failed write as Kafka's coordinators do.
package coordinator

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// Partition is the replica surface a coordinator uses
// (*partition.Partition).
type Partition interface {
	AppendAsLeader(epoch int32, batch []byte, acks int16) (partition.AppendResult, error)
	Committed(epoch int32, offset int64) (bool, error)
	CheckLeader(currentLeaderEpoch int32) error
	AddWaiter(ch chan<- struct{}) (remove func())
	ReadForFollower(offset, maxBytes int64, minOne bool) (partition.ReadResult, error)
	LogStartOffset() int64
	LogEndOffset() int64
}

// Election is a partition of a coordinator's topic that this broker leads.
type Election struct {
	Index   int32
	Epoch   int32 // the leader epoch
	TopicID metadata.UUID
}

// Elections returns the partitions of topic that node leads in img, by
// index; nil when the topic does not exist.
func Elections(img *metadata.Image, topic string, node int32) map[int32]Election {
	t := img.Topics[topic]
	if t == nil {
		return nil
	}
	out := map[int32]Election{}
	for _, p := range t.Partitions {
		if p.Leader == node {
			out[p.Index] = Election{Index: p.Index, Epoch: p.LeaderEpoch, TopicID: t.ID}
		}
	}
	return out
}

// ErrorCode is the code a client gets for a coordinator write that failed
// with err, as Kafka's coordinators translate them: a write that cannot
// be replicated now (too few in-sync replicas, a timeout, the partition
// gone) is COORDINATOR_NOT_AVAILABLE, which clients retry; a lost or moved
// leadership (or a storage failure, after which this broker gives the
// partition up) is NOT_COORDINATOR, on which clients find the coordinator
// again; a batch too large is tooLarge (each API has its own). An error
// that carries no Kafka code is a storage failure.
func ErrorCode(err error, tooLarge *kerr.Error) int16 {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return kerr.NotCoordinator.Code
	}
	switch ke {
	case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut:
		return kerr.CoordinatorNotAvailable.Code
	case kerr.NotLeaderForPartition, kerr.FencedLeaderEpoch, kerr.UnknownLeaderEpoch, kerr.KafkaStorageError:
		return kerr.NotCoordinator.Code
	case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
		return tooLarge.Code
	}
	return ke.Code
}
