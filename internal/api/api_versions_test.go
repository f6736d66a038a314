package api

import (
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

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
			h := New(Deps{ControllerListener: tc.controller, Logger: slog.New(slog.DiscardHandler)})
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
