package api

// DescribeGroups, versions 0-5.
//
// v1 throttle time; v3 authorized operations (KIP-430); v4 each member's
// group.instance.id (KIP-345); v5 flexible. A group that does not exist is
// described as Dead with no error (v6 would answer GROUP_ID_NOT_FOUND).
// Member metadata and assignments are shown only for a Stable group.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(15, 0, 5, (*Handler).describeGroups) }

// groupOps is what a group allows without an authorizer: READ, DELETE,
// DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS (bit n = AclOperation n).
const groupOps = 1<<3 | 1<<6 | 1<<8 | 1<<10 | 1<<11

func (h *Handler) describeGroups(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.DescribeGroupsRequest)
	resp := kmsg.NewPtrDescribeGroupsResponse()
	for _, id := range r.Groups {
		var d kmsg.DescribeGroupsResponseGroup
		if h.Groups == nil {
			d = kmsg.NewDescribeGroupsResponseGroup()
			d.Group, d.ErrorCode = id, h.code(errNoGroups)
		} else {
			d = h.Groups.DescribeGroup(id)
		}
		if r.IncludeAuthorizedOperations && d.ErrorCode == 0 {
			d.AuthorizedOperations = groupOps
		}
		resp.Groups = append(resp.Groups, d)
	}
	return respond(req, resp)
}
