package api

// AlterPartitionReassignments, versions 0-1: start, replace or cancel (a
// null replica list) partition reassignments (KIP-455). Brokers forward it
// to the active controller, as KRaft brokers do; the decisions are the
// controller's (controller.AlterPartitionReassignments).
//
// v0 is flexible; v1 adds allow_replication_factor_change (KIP-860; v0
// always allows it), echoed in the response.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(45, 0, 1, (*Handler).alterPartitionReassignments) }

func (h *Handler) alterPartitionReassignments(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.AlterPartitionAssignmentsRequest)
	allowRF := r.AllowReplicationFactorChange || req.Version == 0
	ctl, err := h.activeController()
	var errs [][]error
	if err == nil {
		topics := make([]controller.ReassignTopic, 0, len(r.Topics))
		for _, t := range r.Topics {
			rt := controller.ReassignTopic{Topic: t.Topic, Partitions: make([]controller.ReassignPartition, 0, len(t.Partitions))}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, controller.ReassignPartition{Partition: p.Partition, Replicas: p.Replicas})
			}
			topics = append(topics, rt)
		}
		errs, err = ctl.AlterPartitionReassignments(ctx, topics, allowRF)
	}
	if err != nil {
		return respond(req, alterReassignmentsError(r, h.code(err), message(err)))
	}
	resp := kmsg.NewPtrAlterPartitionAssignmentsResponse()
	resp.AllowReplicationFactorChange = allowRF
	for i, t := range r.Topics {
		rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		rt.Topic = t.Topic
		for j, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.ErrorMessage = p.Partition, h.code(errs[i][j]), message(errs[i][j])
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(req, resp)
}

// alterReassignmentsError answers the whole request with code, as Kafka's
// AlterPartitionReassignmentsRequest.getErrorResponse: at the top and for
// every partition the request names.
func alterReassignmentsError(r *kmsg.AlterPartitionAssignmentsRequest, code int16, msg *string) *kmsg.AlterPartitionAssignmentsResponse {
	resp := kmsg.NewPtrAlterPartitionAssignmentsResponse()
	resp.ErrorCode, resp.ErrorMessage = code, msg
	resp.AllowReplicationFactorChange = r.AllowReplicationFactorChange
	for _, t := range r.Topics {
		rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.ErrorMessage = p.Partition, code, msg
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
