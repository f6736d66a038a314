package api

// DeleteGroups, versions 0-2.
//
// v1 is v0; v2 flexible. Only an Empty group can be deleted
// (NON_EMPTY_GROUP otherwise); its offsets go with it.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(42, 0, 2, (*Handler).deleteGroups) }

func (h *Handler) deleteGroups(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.DeleteGroupsRequest)
	resp := kmsg.NewPtrDeleteGroupsResponse()
	var errs []error
	if h.Groups != nil {
		errs = h.Groups.DeleteGroups(r.Groups)
	}
	for i, id := range r.Groups {
		g := kmsg.NewDeleteGroupsResponseGroup()
		g.Group = id
		if h.Groups == nil {
			g.ErrorCode = h.code(errNoGroups)
		} else {
			g.ErrorCode = h.code(errs[i])
		}
		resp.Groups = append(resp.Groups, g)
	}
	return respond(req, resp)
}
