package api

// ApiVersions, versions 0-4.
//
// v1 adds throttle time; v3 is flexible and carries the client's software
// name and version (KIP-511); v4 is v3 again (clients that send it also
// accept that an error response is v0, see the server's KIP-511 fallback).

import (
	"context"
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(18, 0, 4, (*Handler).apiVersions) }

// softwareField is KIP-511's rule for ClientSoftwareName/Version.
var softwareField = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

func (h *Handler) apiVersions(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.ApiVersionsRequest)
	resp := kmsg.NewPtrApiVersionsResponse()
	if req.Version >= 3 && (!softwareField.MatchString(r.ClientSoftwareName) || !softwareField.MatchString(r.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
	}
	// The listener's own table: the controller listener serves
	// BrokerRegistration, BrokerHeartbeat and the metadata fetch (Fetch
	// v12+), which the client listener does not. A client caches the
	// table per node, so a wrong one here makes its next requests fail
	// before they are sent (franz-go: "broker is too old").
	table := h.table()
	for _, k := range sortedKeys(table) {
		a := table[k]
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: a.advertisedMin, MaxVersion: a.versions.Max})
	}
	return respond(req, resp)
}
