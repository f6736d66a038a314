package api

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
)

// electResult is one partition of an ElectLeaders response.
type electResult struct {
	topic string
	part  int32
	code  int16
	msg   string
}

func electResults(resp *kmsg.ElectLeadersResponse) []electResult {
	var out []electResult
	for _, t := range resp.Topics {
		if len(t.Partitions) == 0 {
			out = append(out, electResult{t.Topic, -1, 0, ""})
		}
		for _, p := range t.Partitions {
			r := electResult{t.Topic, p.Partition, p.ErrorCode, ""}
			if p.ErrorMessage != nil {
				r.msg = *p.ErrorMessage
			}
			out = append(out, r)
		}
	}
	return out
}

func equalResults(a, b []electResult) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestElectLeadersVersions: ElectLeaders on the client listener (decided
// by the local active controller, forwarded otherwise) and on the
// controller listener, at every version: preferred elections (v0 has no
// type), Kafka's per-partition errors and messages, a null topic list, an
// unknown election type.
func TestElectLeadersVersions(t *testing.T) {
	t.Parallel()
	c := openISRCluster(t)
	ctx := context.Background()
	hb := func(id int32, fence bool) {
		t.Helper()
		if _, err := c.ctl.BrokerHeartbeat(ctx, controller.Heartbeat{NodeID: id, Epoch: c.epoch(id),
			MetadataOffset: c.ctl.Controller.Image().Offset, WantFence: fence}); err != nil {
			t.Fatal(err)
		}
	}
	// request names topics in order; none: a null list (all partitions).
	request := func(typ int8, topics ...controller.ElectTopic) *kmsg.ElectLeadersRequest {
		req := kmsg.NewPtrElectLeadersRequest()
		req.ElectionType = typ
		for _, et := range topics {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = et.Topic, et.Partitions
			req.Topics = append(req.Topics, rt)
		}
		return req
	}
	tp := func(name string, parts ...int32) controller.ElectTopic {
		return controller.ElectTopic{Topic: name, Partitions: parts}
	}
	elect := func(h *Handler, v int16, req *kmsg.ElectLeadersRequest, top int16, want ...electResult) {
		t.Helper()
		resp := roundTrip(t, call[*kmsg.ElectLeadersResponse](t, h, req, v))
		if v == 0 {
			top = 0 // no top-level code before v1
		}
		if got := electResults(resp); resp.ErrorCode != top || !equalResults(got, want) {
			t.Errorf("v%d type %d: top %d %v; want %d %v", v, req.ElectionType, resp.ErrorCode, got, top, want)
		}
	}
	notNeeded := electResult{"t", 1, kerr.ElectionNotNeeded.Code, "Leader election not needed for topic partition."}
	for v := int16(0); v <= 2; v++ {
		// Move p1 ([2 3 1]) to 3, then let 2 back into its ISR.
		hb(2, true)
		hb(2, false)
		p := c.partition(1)
		if p.Leader != 3 {
			t.Fatalf("v%d: p1 led by %d after 2 was fenced", v, p.Leader)
		}
		if _, err := c.ctl.AlterPartition(ctx, 3, c.epoch(3), []controller.PartitionISRRequest{{Topic: "t", Partition: 1,
			LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, NewISR: []int32{3, 1, 2}}}); err != nil {
			t.Fatal(err)
		}
		elect(c.cliH, v, request(0, tp("t", 1)), 0, electResult{"t", 1, 0, ""})
		if got := c.partition(1); got.Leader != 2 || got.LeaderEpoch != p.LeaderEpoch+1 {
			t.Errorf("v%d: p1 %+v after the preferred election", v, got)
		}
		elect(c.cliH, v, request(0, tp("t", 1), tp("nope", 0)), 0, notNeeded,
			electResult{"nope", 0, kerr.UnknownTopicOrPartition.Code, "No such topic as nope"})
	}
	// Every partition (a null list): only those that needed an election.
	elect(c.cliH, 2, request(0), 0, electResult{"t", -1, 0, ""})
	// UNCLEAN where there is a leader; on the controller listener too.
	elect(c.ctlH, 2, request(1, tp("t", 1)), 0, notNeeded)
	// An unknown type fails the whole request.
	bad := electResult{"t", 1, kerr.InvalidRequest.Code, "Unknown election type 5"}
	elect(c.cliH, 1, request(5, tp("t", 1)), kerr.InvalidRequest.Code, bad)

	// A forwarding failure answers every named partition.
	resp := errorResponse(request(0, tp("t", 0, 1)), kerr.RequestTimedOut).(*kmsg.ElectLeadersResponse)
	want := []electResult{{"t", 0, kerr.RequestTimedOut.Code, ""}, {"t", 1, kerr.RequestTimedOut.Code, ""}}
	if got := electResults(resp); resp.ErrorCode != kerr.RequestTimedOut.Code || !equalResults(got, want) {
		t.Errorf("error response: %d %v", resp.ErrorCode, got)
	}
	if !NotController(errorResponse(request(0), kerr.NotController)) {
		t.Errorf("NOT_CONTROLLER answer not recognised")
	}
}
