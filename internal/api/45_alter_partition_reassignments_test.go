package api

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// reassignRequest asks for partition → replicas pairs of topic t (nil
// replicas: cancel).
func reassignRequest(allowRF bool, parts map[int32][]int32, order ...int32) *kmsg.AlterPartitionAssignmentsRequest {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.AllowReplicationFactorChange = allowRF
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = "t"
	for _, p := range order {
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = p, parts[p]
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// reassignResults renders a response: the top-level code, then each
// partition's code and message.
func reassignResults(resp *kmsg.AlterPartitionAssignmentsResponse) string {
	s := fmt.Sprintf("top %d", resp.ErrorCode)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			s += fmt.Sprintf(" %s-%d:%d", t.Topic, p.Partition, p.ErrorCode)
			if p.ErrorMessage != nil {
				s += fmt.Sprintf(" %q", *p.ErrorMessage)
			}
		}
	}
	return s
}

func listResults(resp *kmsg.ListPartitionReassignmentsResponse) string {
	s := fmt.Sprintf("top %d", resp.ErrorCode)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			s += fmt.Sprintf(" %s-%d:%v+%v-%v", t.Topic, p.Partition, p.Replicas, p.AddingReplicas, p.RemovingReplicas)
		}
	}
	return s
}

// TestPartitionReassignmentsVersions: AlterPartitionReassignments (both
// versions; v0 always allows a replication factor change) and
// ListPartitionReassignments on the client listener (decided by the local
// active controller) and the controller listener: Kafka's codes and
// messages per partition, the whole-request answers of a forwarding
// failure, and NOT_CONTROLLER recognised for the forwarder's retry.
func TestPartitionReassignmentsVersions(t *testing.T) {
	t.Parallel()
	c := openISRCluster(t) // t: [1 2 3] [2 3 1] [1 2 4]; broker 4 fenced
	alter := func(h *Handler, v int16, req *kmsg.AlterPartitionAssignmentsRequest, want string) {
		t.Helper()
		resp := roundTrip(t, call[*kmsg.AlterPartitionAssignmentsResponse](t, h, req, v))
		if got := reassignResults(resp); got != want {
			t.Errorf("alter v%d:\n got %s\nwant %s", v, got, want)
		}
		if v >= 1 && resp.AllowReplicationFactorChange != req.AllowReplicationFactorChange {
			t.Errorf("alter v%d: allow_replication_factor_change %v not echoed", v, resp.AllowReplicationFactorChange)
		}
	}
	list := func(h *Handler, topics []kmsg.ListPartitionReassignmentsRequestTopic, want string) {
		t.Helper()
		req := kmsg.NewPtrListPartitionReassignmentsRequest()
		req.Topics = topics
		resp := roundTrip(t, call[*kmsg.ListPartitionReassignmentsResponse](t, h, req, 0))
		if got := listResults(resp); got != want {
			t.Errorf("list %v:\n got %s\nwant %s", topics, got, want)
		}
	}

	alter(c.cliH, 1, reassignRequest(true, map[int32][]int32{2: {1, 2, 3}, 1: nil}, 2, 1),
		`top 0 t-2:0 t-1:85 "No partition reassignment is in progress."`)
	if p := c.partition(2); !slices.Equal(p.Replicas, []int32{1, 2, 3, 4}) || !slices.Equal(p.Adding, []int32{3}) || !slices.Equal(p.Removing, []int32{4}) {
		t.Errorf("t-2 after the reassignment: %+v", p)
	}
	list(c.cliH, nil, "top 0 t-2:[1 2 3 4]+[3]-[4]")
	list(c.ctlH, []kmsg.ListPartitionReassignmentsRequestTopic{{Topic: "t", Partitions: []int32{0, 2, 9}}, {Topic: "nope", Partitions: []int32{0}}},
		"top 0 t-2:[1 2 3 4]+[3]-[4]")

	alter(c.ctlH, 1, reassignRequest(false, map[int32][]int32{0: {1, 2}, 1: {3, 3, 1}}, 0, 1),
		`top 0 t-0:38 "The replication factor is changed from 3 to 2" t-1:39 "The manual partition assignment includes the broker 3 more than once."`)
	// v0 always allows it: t-0's ISR holds the target, so it completes at once.
	alter(c.cliH, 0, reassignRequest(false, map[int32][]int32{0: {2, 1}, 1: {2, 9, 1}}, 0, 1),
		`top 0 t-0:0 t-1:39 "The manual partition assignment includes broker 9, but no such broker is registered."`)
	if p := c.partition(0); !slices.Equal(p.Replicas, []int32{2, 1}) || p.Reassigning() {
		t.Errorf("t-0 after shrinking: %+v", p)
	}
	unknown := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	unknown.Topics = []kmsg.AlterPartitionAssignmentsRequestTopic{{Topic: "nope", Partitions: []kmsg.AlterPartitionAssignmentsRequestTopicPartition{{Partition: 0}}}}
	alter(c.cliH, 1, unknown, `top 0 nope-0:3 "Unable to find a topic named nope."`)

	alter(c.cliH, 1, reassignRequest(true, map[int32][]int32{2: nil}, 2), "top 0 t-2:0")
	if p := c.partition(2); !slices.Equal(p.Replicas, []int32{1, 2, 4}) || p.Reassigning() {
		t.Errorf("t-2 after cancelling: %+v", p)
	}
	list(c.cliH, nil, "top 0")

	// A forwarding failure answers the whole request.
	req := reassignRequest(true, map[int32][]int32{0: {1}, 1: nil}, 0, 1)
	resp := errorResponse(req, kerr.RequestTimedOut).(*kmsg.AlterPartitionAssignmentsResponse)
	if got, want := reassignResults(resp), "top 7 t-0:7 t-1:7"; got != want {
		t.Errorf("error response: %s, want %s", got, want)
	}
	lresp := errorResponse(kmsg.NewPtrListPartitionReassignmentsRequest(), kerr.RequestTimedOut).(*kmsg.ListPartitionReassignmentsResponse)
	if lresp.ErrorCode != kerr.RequestTimedOut.Code {
		t.Errorf("list error response: %d", lresp.ErrorCode)
	}
	if !NotController(errorResponse(req, kerr.NotController)) || !NotController(errorResponse(kmsg.NewPtrListPartitionReassignmentsRequest(), kerr.NotController)) {
		t.Errorf("NOT_CONTROLLER answers not recognised")
	}
}
