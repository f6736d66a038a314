package api

// ListPartitionReassignments, version 0 (flexible): the reassignments in
// progress (KIP-455), of every partition (null topics) or of the named
// ones; partitions not being reassigned, and unknown ones, are left out,
// as Kafka leaves them out. Brokers forward it to the active controller,
// whose image is the newest (controller.ListPartitionReassignments).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(46, 0, 0, (*Handler).listPartitionReassignments) }

func (h *Handler) listPartitionReassignments(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.ListPartitionReassignmentsRequest)
	resp := kmsg.NewPtrListPartitionReassignmentsResponse()
	ctl, err := h.activeController()
	var list []controller.TopicReassignments
	if err == nil {
		var topics []controller.ElectTopic
		if r.Topics != nil { // null: every partition
			topics = make([]controller.ElectTopic, 0, len(r.Topics))
			for _, t := range r.Topics {
				topics = append(topics, controller.ElectTopic{Topic: t.Topic, Partitions: t.Partitions})
			}
		}
		list, err = ctl.ListPartitionReassignments(ctx, topics)
	}
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = h.code(err), message(err)
		return respond(req, resp)
	}
	for _, t := range list {
		rt := kmsg.NewListPartitionReassignmentsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			rp.Partition, rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas = p.Partition, p.Replicas, p.Adding, p.Removing
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(req, resp)
}
