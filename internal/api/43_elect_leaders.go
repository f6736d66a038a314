package api

// ElectLeaders, versions 0-2: a preferred (0) or unclean (1) leader
// election for named partitions, or for every partition when the topic
// list is null. Brokers forward it to the active controller, as KRaft
// brokers do; the decisions are the controller's (controller.ElectLeaders).
//
// v1 adds the election type (KIP-460; v0 is preferred) and the top-level
// error code; v2 flexible.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(43, 0, 2, (*Handler).electLeaders) }

func (h *Handler) electLeaders(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.ElectLeadersRequest)
	ctl, err := h.activeController()
	var results []controller.ElectResult
	if err == nil {
		var topics []controller.ElectTopic
		if r.Topics != nil { // null: every partition
			topics = make([]controller.ElectTopic, 0, len(r.Topics))
			for _, t := range r.Topics {
				topics = append(topics, controller.ElectTopic{Topic: t.Topic, Partitions: t.Partitions})
			}
		}
		typ := r.ElectionType
		if req.Version == 0 {
			typ = controller.ElectPreferred
		}
		results, err = ctl.ElectLeaders(ctx, typ, topics)
	}
	if err != nil {
		return respond(req, electLeadersError(r, h.code(err), message(err)))
	}
	resp := kmsg.NewPtrElectLeadersResponse()
	for _, res := range results {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = res.Topic
		for _, p := range res.Partitions {
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.ErrorMessage = p.Partition, h.code(p.Err), message(p.Err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(req, resp)
}

// electLeadersError answers the whole request with code, as Kafka's
// ElectLeadersRequest.getErrorResponse: at the top (v1+) and for every
// partition the request names.
func electLeadersError(r *kmsg.ElectLeadersRequest, code int16, msg *string) *kmsg.ElectLeadersResponse {
	resp := kmsg.NewPtrElectLeadersResponse()
	resp.ErrorCode = code
	for _, t := range r.Topics {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.ErrorMessage = p, code, msg
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
