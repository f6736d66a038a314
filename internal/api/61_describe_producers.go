package api

// DescribeProducers, version 0 (KIP-664).
//
// The producers a partition's leader keeps state for: id, epoch, last
// sequence and timestamp, and the open transaction's coordinator epoch and
// first offset (-1 until transactions exist). Sent to the leader, as
// Kafka's admin client does: another broker answers NOT_LEADER_OR_FOLLOWER,
// and a topic or partition that does not exist UNKNOWN_TOPIC_OR_PARTITION.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(61, 0, 0, (*Handler).describeProducers) }

func (h *Handler) describeProducers(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.DescribeProducersRequest)
	resp := kmsg.NewPtrDescribeProducersResponse()
	img := h.image()
	for _, rt := range r.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		for _, idx := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = idx
			t := img.Topics[rt.Topic]
			p := h.leaderReplica(rt.Topic, idx)
			switch {
			case t == nil || idx < 0 || int(idx) >= len(t.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case p == nil:
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				for _, pi := range p.Producers() {
					ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					ap.ProducerID, ap.ProducerEpoch = pi.ProducerID, int32(pi.ProducerEpoch)
					ap.LastSequence, ap.LastTimestamp = pi.LastSequence, pi.LastTimestamp
					ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = pi.CoordinatorEpoch, pi.TxnStartOffset
					sp.ActiveProducers = append(sp.ActiveProducers, ap)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(req, resp)
}
