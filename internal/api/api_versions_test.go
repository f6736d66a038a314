package api

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// TestApiVersionsPerListener: each listener advertises exactly the table it
// serves. The controller listener's differs from the client listener's
// (BrokerRegistration, BrokerHeartbeat, the Fetch v12+ metadata fetch), and
// a client that learned the client table there refuses to send a broker's
// registration at all.
func TestApiVersionsPerListener(t *testing.T) {
	for _, tc := range []struct {
		name       string
		controller bool
		want       map[int16]wire.VersionRange
	}{
		{"client", false, Versions()},
		{"controller", true, ControllerVersions()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := metadata.NewPublisher(metadata.Empty("", 1))
			t.Cleanup(pub.Close)
			h := New(Deps{ControllerListener: tc.controller, Metadata: pub, Logger: slog.New(slog.DiscardHandler)})
			req := kmsg.NewPtrApiVersionsRequest()
			req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
			resp := call[*kmsg.ApiVersionsResponse](t, h, req, 3)
			if resp.ErrorCode != 0 {
				t.Fatalf("error %d", resp.ErrorCode)
			}
			got := map[int16]wire.VersionRange{}
			for _, k := range resp.ApiKeys {
				got[k.ApiKey] = wire.VersionRange{Min: k.MinVersion, Max: k.MaxVersion}
			}
			for k, vr := range tc.want {
				g, ok := got[k]
				// Produce advertises from v0 while serving from v3 (KAFKA-18659).
				if !ok || g.Max != vr.Max || g.Min > vr.Min {
					t.Errorf("key %d: advertised %v (listed %v), served %v", k, g, ok, vr)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("advertised %d keys, serves %d", len(got), len(tc.want))
			}
		})
	}
}

// TestApiVersionsFeatures: v3 and v4 report metadata.version and
// transaction.version, the features samsa implements, with this build's
// ranges (transaction.version's, which starts at 0, from v4 only), their
// finalized levels from the image, and the image's offset as
// FinalizedFeaturesEpoch (as Kafka's KRaft nodes do); a feature finalized
// at level 0 is left out, as Kafka leaves it out. Below v3 the features are not on the wire; an
// invalid request (KIP-511 software name) carries none.
func TestApiVersionsFeatures(t *testing.T) {
	t.Parallel()
	h := imageHandler(t,
		metadata.Record{Bootstrap: &metadata.Bootstrap{ClusterID: "features"}},
		metadata.Record{FeatureLevel: &metadata.FeatureLevel{Name: metadata.MetadataVersionFeature, Level: 1}},
		metadata.Record{RegisterBroker: &metadata.RegisterBroker{NodeID: 1, Host: "127.0.0.1", Port: 9092, Unfenced: true}},
		metadata.Record{FeatureLevel: &metadata.FeatureLevel{Name: metadata.MetadataVersionFeature, Level: 2}},
		metadata.Record{FeatureLevel: &metadata.FeatureLevel{Name: "group.version", Level: 0}},
		metadata.Record{FeatureLevel: &metadata.FeatureLevel{Name: metadata.TransactionVersionFeature, Level: 2}},
		metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "t", ID: metadata.UUID{15: 1}, Replicas: [][]int32{{1}}}},
	)
	show := func(resp *kmsg.ApiVersionsResponse) string {
		s := fmt.Sprintf("error %d supported", resp.ErrorCode)
		for _, f := range resp.SupportedFeatures {
			s += fmt.Sprintf(" %s[%d,%d]", f.Name, f.MinVersion, f.MaxVersion)
		}
		s += " finalized"
		for _, f := range resp.FinalizedFeatures {
			s += fmt.Sprintf(" %s[%d,%d]", f.Name, f.MinVersionLevel, f.MaxVersionLevel)
		}
		return s + fmt.Sprintf(" epoch %d zk %v", resp.FinalizedFeaturesEpoch, resp.ZkMigrationReady)
	}
	for _, c := range []struct {
		version  int16
		software string
		want     string
	}{
		{4, "test", "error 0 supported metadata.version[1,5] transaction.version[0,2] finalized metadata.version[2,2] transaction.version[2,2] epoch 6 zk false"},
		{3, "test", "error 0 supported metadata.version[1,5] finalized metadata.version[2,2] transaction.version[2,2] epoch 6 zk false"},
		{3, "-bad-", "error 42 supported finalized epoch -1 zk false"},
		{2, "", "error 0 supported finalized epoch -1 zk false"},
	} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = c.software, "1"
		resp := call[*kmsg.ApiVersionsResponse](t, h, req, c.version)
		if got := show(resp); got != c.want {
			t.Errorf("v%d %q: %s\nwant %s", c.version, c.software, got, c.want)
		}
	}
}
