package api

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
)

// isrCluster is a one-node quorum whose node is broker 1, with brokers 2
// and 3 registered and unfenced, 4 registered and fenced, and topic "t"
// with partitions on [1 2 3], [2 3 1] and [1 2 4] (whose ISR is [1 2]).
type isrCluster struct {
	ctl *controller.OneNode
	// ctlH serves the controller listener, cliH the client listener.
	ctlH, cliH *Handler
}

func openISRCluster(t *testing.T) *isrCluster {
	t.Helper()
	ctl, err := controller.OpenOneNode(controller.Config{DataDir: t.TempDir(), NodeID: 1, ClusterID: "MkU3OEVBNTcwNTJENDM2Qg"}, "127.0.0.1", 9092)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for id := int32(2); id <= 4; id++ {
		epoch, err := ctl.RegisterBroker(ctx, controller.Registration{NodeID: id, Incarnation: metadata.NewUUID(),
			Host: "10.0.0.1", Port: 9090 + id, MaxMetadataVersion: metadata.MaxMetadataVersion})
		if err != nil {
			t.Fatal(err)
		}
		if id < 4 {
			if _, err := ctl.BrokerHeartbeat(ctx, controller.Heartbeat{NodeID: id, Epoch: epoch, MetadataOffset: epoch}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, errs := ctl.CreateTopics(ctx, []controller.TopicSpec{{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{{1, 2, 3}, {2, 3, 1}, {1, 2, 4}}}}, false); errs[0] != nil {
		t.Fatal(errs[0])
	}
	deps := Deps{NodeID: 1, Host: "127.0.0.1", Port: 9092, Metadata: ctl.Pub, Controller: ctl.Controller, Client: ctl,
		Logger: slog.New(slog.DiscardHandler)}
	cli := New(deps)
	deps.ControllerListener = true
	return &isrCluster{ctl: ctl, ctlH: New(deps), cliH: cli}
}

func (c *isrCluster) epoch(id int32) int64 { return c.ctl.Controller.Image().Brokers[id].Epoch }

func (c *isrCluster) partition(idx int32) metadata.Partition {
	return c.ctl.Controller.Image().Topics["t"].Partitions[idx]
}

// roundTrip re-decodes resp at its version, so a field set at a version
// that lacks it shows up as lost.
func roundTrip[R kmsg.Response](t *testing.T, resp R) R {
	t.Helper()
	fresh := kmsg.ResponseForKey(resp.Key())
	fresh.SetVersion(resp.GetVersion())
	if err := fresh.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatalf("key %d v%d: response does not decode: %v", resp.Key(), resp.GetVersion(), err)
	}
	return fresh.(R)
}

// TestAlterPartitionVersions: each version names topics and ISRs its way
// (v0-1 by name, v2+ by id, v3 with broker epochs) and gets the resulting
// leader, leader epoch, ISR and partition epoch; errors per version.
func TestAlterPartitionVersions(t *testing.T) {
	t.Parallel()
	c := openISRCluster(t)
	id := c.ctl.Controller.Image().Topics["t"].ID
	request := func(v int16, broker int32, epoch int64, topic string, tid [16]byte, part int32, isr []int32) *kmsg.AlterPartitionRequest {
		p := c.partition(part)
		req := kmsg.NewPtrAlterPartitionRequest()
		req.BrokerID, req.BrokerEpoch = broker, epoch
		rt := kmsg.NewAlterPartitionRequestTopic()
		rt.Topic, rt.TopicID = topic, tid
		rp := kmsg.NewAlterPartitionRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = part, p.LeaderEpoch, p.PartitionEpoch
		if v >= 3 {
			for _, m := range isr {
				e := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
				e.BrokerID, e.BrokerEpoch = m, c.epoch(m)
				rp.NewEpochISR = append(rp.NewEpochISR, e)
			}
		} else {
			rp.NewISR = isr
		}
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return req
	}
	type part struct {
		code                                int16
		leader, leaderEpoch, partitionEpoch int32
		isr                                 []int32
	}
	get := func(v int16, req *kmsg.AlterPartitionRequest) (int16, string, [16]byte, part) {
		t.Helper()
		resp := roundTrip(t, call[*kmsg.AlterPartitionResponse](t, c.ctlH, req, v))
		if resp.ErrorCode != 0 {
			return resp.ErrorCode, "", [16]byte{}, part{}
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("v%d: %+v", v, resp)
		}
		rt, rp := resp.Topics[0], resp.Topics[0].Partitions[0]
		return 0, rt.Topic, rt.TopidID, part{rp.ErrorCode, rp.LeaderID, rp.LeaderEpoch, rp.PartitionEpoch, rp.ISR}
	}
	eq := func(a, b part) bool {
		return a.code == b.code && a.leader == b.leader && a.leaderEpoch == b.leaderEpoch && a.partitionEpoch == b.partitionEpoch && slices.Equal(a.isr, b.isr)
	}
	pe := int32(0)
	for v := int16(0); v <= 3; v++ {
		name, tid := "t", [16]byte{}
		if v >= 2 {
			name, tid = "", id
		}
		for _, isr := range [][]int32{{1, 2}, {1, 2, 3}} {
			pe++
			top, gotName, gotID, got := get(v, request(v, 1, c.epoch(1), name, tid, 0, isr))
			if want := (part{0, 1, 0, pe, isr}); top != 0 || gotName != name || gotID != tid || !eq(got, want) {
				t.Errorf("v%d isr %v: top %d, topic %q %x, %+v; want %+v", v, isr, top, gotName, gotID, got, want)
			}
		}
		// Errors: an unknown topic, a fenced replica, a stale broker epoch.
		unknownName, unknownID, unknownCode := "nope", [16]byte{}, kerr.UnknownTopicOrPartition.Code
		if v >= 2 {
			unknownName, unknownID, unknownCode = "", [16]byte{7}, kerr.UnknownTopicID.Code
		}
		if _, _, _, got := get(v, request(v, 1, c.epoch(1), unknownName, unknownID, 0, []int32{1})); got.code != unknownCode {
			t.Errorf("v%d unknown topic: %d, want %d", v, got.code, unknownCode)
		}
		ineligible := kerr.IneligibleReplica.Code
		if v < 2 {
			ineligible = kerr.OperationNotAttempted.Code
		}
		if _, _, _, got := get(v, request(v, 1, c.epoch(1), name, tid, 2, []int32{1, 2, 4})); got.code != ineligible {
			t.Errorf("v%d fenced replica: %d, want %d", v, got.code, ineligible)
		}
		if v >= 3 {
			req := request(v, 1, c.epoch(1), name, tid, 0, []int32{1, 2})
			req.Topics[0].Partitions[0].NewEpochISR[1].BrokerEpoch++
			if _, _, _, got := get(v, req); got.code != ineligible {
				t.Errorf("v%d other broker epoch: %d, want %d", v, got.code, ineligible)
			}
		}
		if top, _, _, _ := get(v, request(v, 1, c.epoch(1)+1, name, tid, 0, []int32{1})); top != kerr.StaleBrokerEpoch.Code {
			t.Errorf("v%d stale broker epoch: top-level %d", v, top)
		}
	}
	if p := c.partition(0); p.PartitionEpoch != pe || !slices.Equal(p.ISR, []int32{1, 2, 3}) {
		t.Errorf("final: %+v", p)
	}
}
