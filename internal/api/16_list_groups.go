package api

// ListGroups, versions 0-5.
//
// v1 throttle time; v3 flexible; v4 a states filter and each group's state
// (KIP-518); v5 a types filter and each group's type (KIP-848), always
// "classic" here.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(16, 0, 5, (*Handler).listGroups) }

func (h *Handler) listGroups(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.ListGroupsRequest)
	resp := kmsg.NewPtrListGroupsResponse()
	if h.Groups == nil {
		resp.ErrorCode = h.code(errNoGroups)
		return respond(req, resp)
	}
	groups, err := h.Groups.ListGroups(r.StatesFilter, r.TypesFilter)
	if err != nil {
		resp.ErrorCode = h.code(err)
		return respond(req, resp)
	}
	for _, g := range groups {
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.ID, g.ProtocolType, g.State, "classic"
		resp.Groups = append(resp.Groups, lg)
	}
	return respond(req, resp)
}
