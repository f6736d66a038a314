package api

// LeaveGroup, versions 0-5.
//
// v1 throttle time; v3 batches members, each by member id and/or
// group.instance.id, so an admin can remove static members (KIP-345); v4
// flexible; v5 a reason per member (KIP-800). Below v3 the one member's
// error is the response's.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(13, 0, 5, (*Handler).leaveGroup) }

func (h *Handler) leaveGroup(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.LeaveGroupRequest)
	resp := kmsg.NewPtrLeaveGroupResponse()
	members := r.Members
	if req.Version < 3 {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = r.MemberID
		members = []kmsg.LeaveGroupRequestMember{m}
	}
	if h.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return respond(req, resp)
	}
	out, err := h.Groups.LeaveGroup(r.Group, members)
	switch {
	case err != nil:
		resp.ErrorCode = h.code(err)
	case req.Version < 3:
		resp.ErrorCode = out[0].ErrorCode
	default:
		resp.Members = out
	}
	return respond(req, resp)
}
