package api

// AlterPartition, versions 0-3, served on the controller listener only:
// a partition leader asks the controller to change its ISR (KIP-497).
//
// All versions flexible; v1 adds the leader recovery state (KIP-704); v2
// names topics by id and may answer INELIGIBLE_REPLICA, NEW_LEADER_ELECTED
// and UNKNOWN_TOPIC_ID (KIP-841); v3 carries each ISR member's broker epoch
// (NewIsrWithEpochs, KIP-903). The decisions are the controller's
// (controller.AlterPartition).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func (h *Handler) alterPartition(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.AlterPartitionRequest)
	resp := kmsg.NewPtrAlterPartitionResponse()
	ctl, err := h.activeController()
	var results []controller.PartitionISRResult
	if err == nil {
		var reqs []controller.PartitionISRRequest
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				pr := controller.PartitionISRRequest{
					ByID: req.Version >= 2, TopicID: metadata.UUID(t.TopicID), Topic: t.Topic,
					Partition: p.Partition, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
					NewISR: p.NewISR, LeaderRecoveryState: p.LeaderRecoveryState,
				}
				if req.Version >= 3 {
					pr.NewISR = make([]int32, 0, len(p.NewEpochISR))
					for _, m := range p.NewEpochISR {
						pr.NewISR = append(pr.NewISR, m.BrokerID)
						pr.NewISREpochs = append(pr.NewISREpochs, m.BrokerEpoch)
					}
				}
				reqs = append(reqs, pr)
			}
		}
		results, err = ctl.AlterPartition(ctx, r.BrokerID, r.BrokerEpoch, reqs)
	}
	if err != nil {
		// As Kafka's getErrorResponse: the top-level code alone.
		resp.ErrorCode = h.code(err)
		return respond(req, resp)
	}
	i := 0
	for _, t := range r.Topics {
		rt := kmsg.NewAlterPartitionResponseTopic()
		rt.Topic, rt.TopidID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			res := results[i]
			i++
			rp := kmsg.NewAlterPartitionResponseTopicPartition()
			rp.Partition = p.Partition
			if res.Err != nil {
				rp.ErrorCode = h.code(res.Err)
				if req.Version < 2 && rp.ErrorCode == kerr.IneligibleReplica.Code {
					// v0-1 predate INELIGIBLE_REPLICA (KIP-841).
					rp.ErrorCode = kerr.OperationNotAttempted.Code
				}
			} else {
				rp.LeaderID, rp.LeaderEpoch, rp.ISR, rp.PartitionEpoch = res.Leader, res.LeaderEpoch, res.ISR, res.PartitionEpoch
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(req, resp)
}
