package api

// DeleteRecords, versions 0-2 (KIP-107).
//
// v1 is v0 with the throttle applied after the response; v2 flexible.
//
// Each partition's log start offset moves up to the requested offset (-1:
// the high watermark), and the segments wholly below it are deleted; the
// answer is the new low watermark. As in Kafka: an offset above the high
// watermark is OFFSET_OUT_OF_RANGE, a topic whose cleanup.policy lacks
// "delete" POLICY_VIOLATION, and an internal topic (__consumer_offsets,
// __transaction_state) INVALID_TOPIC_EXCEPTION, since cutting it would
// lose committed offsets or transaction state. On one node the leader's
// log start is every replica's, so the answer does not wait.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(21, 0, 2, (*Handler).deleteRecords) }

func (h *Handler) deleteRecords(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.DeleteRecordsRequest)
	resp := kmsg.NewPtrDeleteRecordsResponse()
	img := h.image()
	for _, rt := range r.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		t := img.Topics[rt.Topic]
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			switch {
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case t.Internal:
				sp.ErrorCode = kerr.InvalidTopicException.Code
			default:
				p := h.leaderReplica(rt.Topic, rp.Partition)
				if p == nil {
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
					break
				}
				low, err := p.DeleteRecords(rp.Offset)
				sp.ErrorCode = h.code(err)
				if err == nil {
					sp.LowWatermark = low
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(req, resp)
}
