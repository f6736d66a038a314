package api

// JoinGroup, versions 0-9.
//
// v1 adds the rebalance timeout (v0 uses the session timeout); v2 throttle
// time; v4 answers a first join without member id with MEMBER_ID_REQUIRED
// and the id to use (KIP-394); v5 static membership, group.instance.id
// (KIP-345); v6 flexible; v7 the protocol type in the response (KIP-559);
// v8 a join reason (KIP-800); v9 SkipAssignment for a static leader that
// rejoins (KIP-814). The response waits for the rebalance, outside every
// lock of the coordinator.

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(11, 0, 9, (*Handler).joinGroup) }

// errNoGroups answers group requests on a handler built without a group
// coordinator (some tests).
var errNoGroups = &controller.Error{Code: kerr.CoordinatorNotAvailable, Message: "this broker runs no group coordinator"}

func (h *Handler) joinGroup(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.JoinGroupRequest)
	if h.Groups == nil {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.ErrorCode, resp.MemberID, resp.Generation = kerr.CoordinatorNotAvailable.Code, r.MemberID, -1
		return respond(req, resp)
	}
	ch := h.Groups.JoinGroup(r, groupClient(req))
	return func(ctx context.Context) wire.Response {
		select {
		case resp := <-ch:
			return wire.Response{Msg: versioned(req, resp)}
		case <-h.closing:
			// The broker is shutting down: answer as Kafka's coordinator
			// does when it resigns, so the member looks for the new one.
			resp := kmsg.NewPtrJoinGroupResponse()
			resp.ErrorCode, resp.MemberID, resp.Generation = kerr.NotCoordinator.Code, r.MemberID, -1
			return wire.Response{Msg: versioned(req, resp)}
		case <-ctx.Done():
			return wire.Response{Close: true}
		}
	}
}

func versioned(req *wire.Request, msg kmsg.Response) kmsg.Response {
	msg.SetVersion(req.Version)
	return msg
}

// groupClient is the client id and host a group shows for a member; the
// host as Kafka prints an InetAddress, "/" + IP.
func groupClient(req *wire.Request) group.Client {
	var c group.Client
	if req.ClientID != nil {
		c.ID = *req.ClientID
	}
	if req.Conn != nil {
		host := req.Conn.RemoteAddr
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		c.Host = "/" + host
	}
	return c
}
