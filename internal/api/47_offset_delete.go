package api

// OffsetDelete, version 0 (KIP-496).
//
// Deletes committed offsets of a group: any of an Empty group; of a live
// consumer group, those of topics no member subscribes to
// (GROUP_SUBSCRIBED_TO_TOPIC for the others); a live group of another
// protocol refuses with NON_EMPTY_GROUP. Unlike the other offset APIs it
// refuses the empty group id (INVALID_GROUP_ID).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(47, 0, 0, (*Handler).offsetDelete) }

func (h *Handler) offsetDelete(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.OffsetDeleteRequest)
	resp := kmsg.NewPtrOffsetDeleteResponse()
	if h.Groups == nil {
		resp.ErrorCode = h.code(errNoGroups)
		return respond(req, resp)
	}
	topics := make([]group.TopicPartitions, 0, len(r.Topics))
	for _, t := range r.Topics {
		tp := group.TopicPartitions{Topic: t.Topic}
		for _, p := range t.Partitions {
			tp.Partitions = append(tp.Partitions, p.Partition)
		}
		topics = append(topics, tp)
	}
	results, err := h.Groups.DeleteOffsets(r.Group, topics)
	if err != nil {
		resp.ErrorCode = h.code(err)
		return respond(req, resp)
	}
	for _, pe := range results {
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != pe.Topic {
			t := kmsg.NewOffsetDeleteResponseTopic()
			t.Topic = pe.Topic
			resp.Topics = append(resp.Topics, t)
		}
		p := kmsg.NewOffsetDeleteResponseTopicPartition()
		p.Partition, p.ErrorCode = pe.Partition, pe.Code
		rt := &resp.Topics[len(resp.Topics)-1]
		rt.Partitions = append(rt.Partitions, p)
	}
	return respond(req, resp)
}
