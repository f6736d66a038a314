package api

// DescribeCluster, versions 0-2.
//
// v0 (KIP-700) brokers, controller, cluster id and authorized operations;
// v1 the endpoint type (1 = brokers, 2 = controllers; KIP-919);
// v2 include_fenced_brokers and each broker's is_fenced (KIP-1073).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(60, 0, 2, (*Handler).describeCluster) }

func (h *Handler) describeCluster(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.DescribeClusterRequest)
	resp := kmsg.NewPtrDescribeClusterResponse()
	img := h.image()
	resp.EndpointType = 1
	if req.Version >= 1 && r.EndpointType != 1 {
		// The combined broker+controller listener is a broker endpoint;
		// Kafka answers a controller query on it with this error.
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.EndpointType = r.EndpointType
		return respond(req, resp)
	}
	resp.ClusterID = img.ClusterID
	resp.ControllerID = h.controllerID(img)
	if r.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterOps
	}
	// Without include_fenced_brokers only the brokers that serve clients
	// are listed, as in Metadata; with it every registered broker, a
	// fenced one marked so (one shutting down is not fenced: Kafka lists
	// it too).
	ids := img.LiveBrokerIDs()
	if r.IncludeFencedBrokers {
		ids = img.BrokerIDs()
	}
	for _, id := range ids {
		if b, host, port, ok := brokerOn(img, id, listenerOf(req)); ok {
			resp.Brokers = append(resp.Brokers, kmsg.DescribeClusterResponseBroker{
				NodeID: b.NodeID, Host: host, Port: port, Rack: b.Rack, IsFenced: b.Fenced})
		}
	}
	return respond(req, resp)
}
