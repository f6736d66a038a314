package api

// SyncGroup, versions 0-5.
//
// v1 throttle time; v3 group.instance.id (KIP-345); v4 flexible; v5 the
// protocol type and name in request and response (KIP-559). The leader
// sends the assignment; every member's response waits for it, outside
// every lock of the coordinator.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(14, 0, 5, (*Handler).syncGroup) }

func (h *Handler) syncGroup(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.SyncGroupRequest)
	if h.Groups == nil {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return respond(req, resp)
	}
	ch := h.Groups.SyncGroup(r)
	return func(ctx context.Context) wire.Response {
		select {
		case resp := <-ch:
			return wire.Response{Msg: versioned(req, resp)}
		case <-h.closing:
			resp := kmsg.NewPtrSyncGroupResponse()
			resp.ErrorCode = kerr.NotCoordinator.Code
			return wire.Response{Msg: versioned(req, resp)}
		case <-ctx.Done():
			return wire.Response{Close: true}
		}
	}
}
