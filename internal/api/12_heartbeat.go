package api

// Heartbeat, versions 0-4.
//
// v1 throttle time; v3 group.instance.id (KIP-345); v4 flexible. A member
// learns of a rebalance from REBALANCE_IN_PROGRESS here.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(12, 0, 4, (*Handler).heartbeat) }

func (h *Handler) heartbeat(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.HeartbeatRequest)
	resp := kmsg.NewPtrHeartbeatResponse()
	if h.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
	} else {
		resp.ErrorCode = h.Groups.Heartbeat(r)
	}
	return respond(req, resp)
}
