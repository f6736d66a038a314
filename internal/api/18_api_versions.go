package api

// ApiVersions, versions 0-4.
//
// v1 adds throttle time; v3 is flexible and carries the client's software
// name and version (KIP-511), and the response the features (KIP-584,
// tagged); v4 is v3 again (clients that send it also accept that an error
// response is v0, see the server's KIP-511 fallback, and a supported
// feature whose minimum level is 0, which Kafka omits below v4:
// KAFKA-17492).
//
// Features: samsa implements two. metadata.version has levels of its own
// (1 to 3, see metadata.MaxMetadataVersion), not Kafka's: Kafka's tools
// print a level they have no release name for as "UNKNOWN <level>".
// transaction.version has Kafka's (0 to 2, KIP-890), and a new cluster
// finalizes 2, as Kafka 4 does: clients then end transactions with EndTxn
// v5 and add partitions implicitly (Produce v12, TxnOffsetCommit v5),
// while clients of the original protocol are served as before. Its
// supported range starts at 0, so it is listed from v4 only, as Kafka
// lists it (KAFKA-17492). The features samsa does not implement
// (kraft.version, group.version, share.version,
// eligible.leader.replicas.version) are not advertised at all: a Kafka
// broker lists them as supported, and their level 0 ("not enabled") is the
// absence from FinalizedFeatures that samsa's answer has too.

import (
	"context"
	"maps"
	"regexp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
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
	if req.Version >= 3 && resp.ErrorCode == 0 {
		setFeatures(resp, h.image(), req.Version)
	}
	return respond(req, resp)
}

// setFeatures reports the features as Kafka's ApiVersionsResponse.Builder
// does: this node's supported ranges (one starting at 0 from v4 only);
// each finalized feature at its level (min and max alike), leaving out
// level 0, which is "not finalized"; and
// as FinalizedFeaturesEpoch the offset of the metadata image they are read
// from (KRaftMetadataCache.features: image.highestOffsetAndEpoch().offset),
// which grows with every metadata record, not only with feature changes.
// ZkMigrationReady stays false, as on every KRaft node.
func setFeatures(resp *kmsg.ApiVersionsResponse, img *metadata.Image, version int16) {
	resp.SupportedFeatures = []kmsg.ApiVersionsResponseSupportedFeature{{
		Name: metadata.MetadataVersionFeature, MinVersion: metadata.MinMetadataVersion, MaxVersion: metadata.MaxMetadataVersion,
	}}
	if version >= 4 {
		resp.SupportedFeatures = append(resp.SupportedFeatures, kmsg.ApiVersionsResponseSupportedFeature{
			Name: metadata.TransactionVersionFeature, MinVersion: metadata.MinTransactionVersion, MaxVersion: metadata.MaxTransactionVersion,
		})
	}
	for _, name := range slices.Sorted(maps.Keys(img.Features)) {
		if level := img.Features[name]; level != 0 {
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, kmsg.ApiVersionsResponseFinalizedFeature{
				Name: name, MinVersionLevel: level, MaxVersionLevel: level,
			})
		}
	}
	resp.FinalizedFeaturesEpoch = img.Offset
}
