package api

// TxnOffsetCommit, versions 0-5.
//
// A transactional producer commits a consumer group's offsets as part of
// its transaction (KIP-98): the offsets are written to the group's
// __consumer_offsets partition in a transactional batch of the producer
// and become the group's committed offsets only when the transaction
// commits. v1 is v0; v2 the committed leader epoch; v3 flexible, with the
// member id, generation and group instance id, checked as OffsetCommit
// checks them (KIP-447: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID); v4 clients that know TRANSACTION_ABORTABLE (KIP-890);
// v5 the commit adds the offsets partition to the transaction itself
// (transaction version 2, no AddOffsetsToTxn first). v6 names topics by
// id (not in Kafka 4.1). Unlike OffsetCommit, the empty group id is
// INVALID_GROUP_ID.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(28, 0, 5, (*Handler).txnOffsetCommit) }

func (h *Handler) txnOffsetCommit(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.TxnOffsetCommitRequest)
	if h.Groups == nil {
		resp := kmsg.NewPtrTxnOffsetCommitResponse()
		for _, t := range r.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.CoordinatorNotAvailable.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return respond(req, resp)
	}
	// Without transaction verification the commit is appended now, in
	// request order; the verification, when installed, asks the
	// transaction coordinator first, in the pending, so that the reader
	// never waits on it. Either way the answer waits for the batch's
	// replication outside every lock of the coordinator.
	wait := h.Groups.StartTxnCommitOffsets(r)
	return func(ctx context.Context) wire.Response {
		return wire.Response{Msg: versioned(req, wait(ctx))}
	}
}
