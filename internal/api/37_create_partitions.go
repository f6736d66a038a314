package api

// CreatePartitions, versions 0-3.
//
// v2 flexible; v3 is v2 again.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(37, 0, 3, (*Handler).createPartitions) }

func (h *Handler) createPartitions(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.CreatePartitionsRequest)
	resp := kmsg.NewPtrCreatePartitionsResponse()
	count := map[string]int{}
	for _, t := range r.Topics {
		count[t.Topic]++
	}
	for _, rt := range r.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		if count[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			msg := "topic " + rt.Topic + " is named more than once in the request"
			st.ErrorMessage = &msg
		} else {
			var as [][]int32
			for _, a := range rt.Assignment {
				as = append(as, a.Replicas)
			}
			err := h.Controller.CreatePartitions(ctx, rt.Topic, rt.Count, as, r.ValidateOnly)
			st.ErrorCode, st.ErrorMessage = h.code(err), message(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(req, resp)
}
