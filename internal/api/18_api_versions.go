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
	for _, k := range sortedKeys() {
		a := apis[k]
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: a.advertisedMin, MaxVersion: a.versions.Max})
	}
	return respond(req, resp)
}
