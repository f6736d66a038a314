package api

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
)

// TestDescribeClusterFencedBrokers: a registered broker that has not
// heartbeated yet is fenced. It is listed only by v2 with
// include_fenced_brokers (KIP-1073), marked fenced; earlier versions and v2
// without the flag list the brokers that serve clients, as Metadata does.
func TestDescribeClusterFencedBrokers(t *testing.T) {
	t.Parallel()
	ctl, err := controller.OpenOneNode(controller.Config{DataDir: t.TempDir(), NodeID: 1, ClusterID: "MkU3OEVBNTcwNTJENDM2Qg"}, "127.0.0.1", 9092)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rack := "r2"
	if _, err := ctl.RegisterBroker(ctx, controller.Registration{NodeID: 2, Incarnation: metadata.NewUUID(),
		Host: "10.0.0.2", Port: 9093, Rack: &rack, MaxMetadataVersion: metadata.MaxMetadataVersion}); err != nil {
		t.Fatal(err)
	}
	if err := ctl.Pub.WaitFor(ctx, ctl.Controller.Image().Offset); err != nil {
		t.Fatal(err)
	}
	h := New(Deps{NodeID: 1, Host: "127.0.0.1", Port: 9092, Metadata: ctl.Pub, Controller: ctl.Controller, Client: ctl,
		Logger: slog.New(slog.DiscardHandler)})

	type broker struct {
		id     int32
		host   string
		port   int32
		rack   string
		fenced bool
	}
	one := broker{1, "127.0.0.1", 9092, "", false}
	two := broker{2, "10.0.0.2", 9093, "r2", true}
	for _, c := range []struct {
		version       int16
		includeFenced bool
		want          []broker
	}{
		{0, false, []broker{one}},
		{1, false, []broker{one}},
		{2, false, []broker{one}},
		{2, true, []broker{one, two}},
	} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeFencedBrokers = c.includeFenced
		resp := call[*kmsg.DescribeClusterResponse](t, h, req, c.version)
		var got []broker
		for _, b := range resp.Brokers {
			r := ""
			if b.Rack != nil {
				r = *b.Rack
			}
			got = append(got, broker{b.NodeID, b.Host, b.Port, r, b.IsFenced})
		}
		if resp.ErrorCode != 0 || resp.ClusterID != "MkU3OEVBNTcwNTJENDM2Qg" || resp.ControllerID != 1 || !slices.Equal(got, c.want) {
			t.Errorf("v%d include fenced %v: error %d, cluster %s, controller %d, brokers %+v; want %+v",
				c.version, c.includeFenced, resp.ErrorCode, resp.ClusterID, resp.ControllerID, got, c.want)
		}
	}
}
