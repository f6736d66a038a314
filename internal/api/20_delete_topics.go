package api

// DeleteTopics, versions 1-6.
//
// v4 flexible; v5 error messages; v6 topics named by name or by id (KIP-516).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(20, 1, 6, (*Handler).deleteTopics) }

func (h *Handler) deleteTopics(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.DeleteTopicsRequest)
	resp := kmsg.NewPtrDeleteTopicsResponse()
	var names []string
	var ids []metadata.UUID
	if req.Version >= 6 {
		for _, t := range r.Topics {
			n := ""
			if t.Topic != nil {
				n = *t.Topic
			}
			names = append(names, n)
			ids = append(ids, metadata.UUID(t.TopicID))
		}
	} else {
		names = r.TopicNames
	}
	topics, errs := h.Controller.DeleteTopics(ctx, names, ids)
	for i := range errs {
		st := kmsg.NewDeleteTopicsResponseTopic()
		if i < len(names) && names[i] != "" {
			n := names[i]
			st.Topic = &n
		}
		if i < len(ids) {
			st.TopicID = ids[i]
		}
		if t := topics[i]; t != nil {
			n := t.Name
			st.Topic, st.TopicID = &n, t.ID
		}
		st.ErrorCode = h.code(errs[i])
		if errs[i] != nil && req.Version >= 5 {
			st.ErrorMessage = message(errs[i])
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(req, resp)
}
