package api

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/replication"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// newGroupsHandler is a handler with a group coordinator, as the broker
// wires it, with an immediate first rebalance.
func newGroupsHandler(t *testing.T) *Handler {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Load("", []string{"offsets.topic.num.partitions=4", "group.initial.rebalance.delay.ms=0", "group.min.session.timeout.ms=100"}, map[string]string{"log.dirs": dir})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := controller.OpenOneNode(controller.Config{DataDir: dir, NodeID: cfg.NodeID, ClusterID: "groups", DefaultPartitions: 2, DefaultReplicationFactor: 1}, "127.0.0.1", 9092)
	if err != nil {
		t.Fatal(err)
	}
	reps := replication.New(replication.Config{NodeID: cfg.NodeID, DataDir: dir,
		Resolve: func(o map[string]string) partition.Config {
			tc := cfg.ResolveTopic(o)
			return partition.Config{MaxMessageBytes: tc.MaxMessageBytes, MinInsyncReplicas: 1, Compact: true,
				TimestampBeforeMaxMs: tc.TimestampBeforeMaxMs, TimestampAfterMaxMs: tc.TimestampAfterMaxMs}
		}})
	ctl.Subscribe(reps.Apply)
	groups := group.New(cfg, ctl, reps, group.Options{Logger: slog.New(slog.DiscardHandler)})
	groups.Start()
	t.Cleanup(func() { groups.Close(); reps.Close(); ctl.Close() })
	if _, errs := ctl.CreateTopics(context.Background(), []controller.TopicSpec{{Name: "t", NumPartitions: 2, ReplicationFactor: 1}}, false); errs[0] != nil {
		t.Fatal(errs[0])
	}
	return New(Deps{NodeID: cfg.NodeID, Host: "127.0.0.1", Port: 9092, Metadata: ctl.Pub, Controller: ctl.Controller, Client: ctl, Replicas: reps, Config: cfg, Groups: groups, Logger: slog.New(slog.DiscardHandler)})
}

// call runs one request at version v through the handler and checks that
// the response encodes at that version.
func call[R kmsg.Response](t *testing.T, h *Handler, req kmsg.Request, v int16) R {
	t.Helper()
	req.SetVersion(v)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := h.Handle(ctx, &wire.Request{Key: req.Key(), Version: v, Msg: req, Conn: &wire.ConnInfo{RemoteAddr: "10.1.2.3:5555"}})(ctx)
	if resp.Msg == nil {
		t.Fatalf("key %d v%d: no response", req.Key(), v)
	}
	if resp.Msg.GetVersion() != v {
		t.Fatalf("key %d: response version %d, want %d", req.Key(), resp.Msg.GetVersion(), v)
	}
	_ = resp.Msg.AppendTo(nil)
	return resp.Msg.(R)
}

// untilLoaded retries FindCoordinator + ListGroups until the partitions of
// the freshly created __consumer_offsets have loaded.
func untilLoaded(t *testing.T, h *Handler) {
	t.Helper()
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "g"
	if r := call[*kmsg.FindCoordinatorResponse](t, h, fc, 3); r.ErrorCode != 0 || r.NodeID != h.NodeID || r.Port != 9092 {
		t.Fatalf("find coordinator: %+v", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := call[*kmsg.ListGroupsResponse](t, h, kmsg.NewPtrListGroupsRequest(), 0); r.ErrorCode == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("coordinator did not load")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFindCoordinatorVersions(t *testing.T) {
	t.Parallel()
	h := newGroupsHandler(t)
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKeys = []string{"foo", "bar"}
	r := call[*kmsg.FindCoordinatorResponse](t, h, req, 4)
	if len(r.Coordinators) != 2 || r.Coordinators[1].Key != "bar" || r.Coordinators[1].NodeID != h.NodeID || r.Coordinators[0].Host != "127.0.0.1" {
		t.Fatalf("batched: %+v", r.Coordinators)
	}
	req.CoordinatorType = 1
	r = call[*kmsg.FindCoordinatorResponse](t, h, req, 6)
	wantErr(t, "transaction key", r.Coordinators[0].ErrorCode, kerr.CoordinatorNotAvailable)
	req.CoordinatorType = 9
	r = call[*kmsg.FindCoordinatorResponse](t, h, req, 6)
	wantErr(t, "unknown key type", r.Coordinators[0].ErrorCode, kerr.InvalidRequest)
	if r.Coordinators[0].NodeID != -1 || r.Coordinators[0].ErrorMessage == nil {
		t.Fatalf("error entry: %+v", r.Coordinators[0])
	}
}

func wantErr(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var w int16
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Fatalf("%s: %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// TestGroupAPIsOldVersions drives a group with the oldest versions, whose
// shapes differ most: v0 JoinGroup has no rebalance timeout and no
// MEMBER_ID_REQUIRED, v0 LeaveGroup names one member and answers at the
// top level, v1 OffsetFetch reports errors per partition.
func TestGroupAPIsOldVersions(t *testing.T) {
	t.Parallel()
	h := newGroupsHandler(t)
	untilLoaded(t, h)

	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.SessionTimeoutMillis, join.ProtocolType = "old", 10000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0, 0, 0, 0, 1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff}}}
	jr := call[*kmsg.JoinGroupResponse](t, h, join, 0)
	wantErr(t, "join v0", jr.ErrorCode, nil)
	if jr.Generation != 1 || jr.LeaderID != jr.MemberID || len(jr.Members) != 1 {
		t.Fatalf("join v0: %+v", jr)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "old", jr.MemberID, 1
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: []byte("x")}}
	if sr := call[*kmsg.SyncGroupResponse](t, h, sync, 0); sr.ErrorCode != 0 || string(sr.MemberAssignment) != "x" {
		t.Fatalf("sync v0: %+v", sr)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "old", jr.MemberID, 1
	wantErr(t, "heartbeat v0", call[*kmsg.HeartbeatResponse](t, h, hb, 0).ErrorCode, nil)

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.MemberID, commit.Generation = "old", jr.MemberID, 1
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Offset, p.Timestamp = 17, 1234
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{p}}}
	wantErr(t, "commit v1", call[*kmsg.OffsetCommitResponse](t, h, commit, 1).Topics[0].Partitions[0].ErrorCode, nil)

	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group = "old"
	fetch.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	fr := call[*kmsg.OffsetFetchResponse](t, h, fetch, 1)
	if got := fr.Topics[0].Partitions; got[0].Offset != 17 || got[1].Offset != -1 || *got[0].Metadata != "" {
		t.Fatalf("fetch v1: %+v", got)
	}
	// Below v2 a group-level error is reported on every partition.
	fetch.Group = "elsewhere"
	h.Groups.Close()
	fr = call[*kmsg.OffsetFetchResponse](t, h, fetch, 1)
	wantErr(t, "fetch v1 from a closed coordinator", fr.Topics[0].Partitions[1].ErrorCode, kerr.CoordinatorNotAvailable)
	fr = call[*kmsg.OffsetFetchResponse](t, h, fetch, 5)
	wantErr(t, "fetch v5 from a closed coordinator", fr.ErrorCode, kerr.CoordinatorNotAvailable)
	if len(fr.Topics) != 0 {
		t.Fatalf("fetch v5 with an error: %+v", fr.Topics)
	}

}

func TestLeaveGroupV0(t *testing.T) {
	t.Parallel()
	h := newGroupsHandler(t)
	untilLoaded(t, h)
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.SessionTimeoutMillis, join.ProtocolType = "old", 10000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	jr := call[*kmsg.JoinGroupResponse](t, h, join, 0)
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group, leave.MemberID = "old", "someone-else"
	wantErr(t, "leave v0 of a stranger", call[*kmsg.LeaveGroupResponse](t, h, leave, 0).ErrorCode, kerr.UnknownMemberID)
	leave.MemberID = jr.MemberID
	wantErr(t, "leave v0", call[*kmsg.LeaveGroupResponse](t, h, leave, 0).ErrorCode, nil)
	leave.Group = ""
	wantErr(t, "leave v0 of the empty group id", call[*kmsg.LeaveGroupResponse](t, h, leave, 0).ErrorCode, kerr.InvalidGroupID)
}

func TestGroupAPIsNewVersions(t *testing.T) {
	t.Parallel()
	h := newGroupsHandler(t)
	untilLoaded(t, h)

	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = "new", 10000, 10000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "cooperative-sticky", Metadata: []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}}
	jr := call[*kmsg.JoinGroupResponse](t, h, join, 9)
	wantErr(t, "first join v9", jr.ErrorCode, kerr.MemberIDRequired)
	join.MemberID = jr.MemberID
	jr = call[*kmsg.JoinGroupResponse](t, h, join, 9)
	if jr.ErrorCode != 0 || *jr.ProtocolType != "consumer" || *jr.Protocol != "cooperative-sticky" {
		t.Fatalf("join v9: %+v", jr)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "new", jr.MemberID, jr.Generation
	other := "range"
	sync.Protocol = &other
	wantErr(t, "sync v5 naming another protocol", call[*kmsg.SyncGroupResponse](t, h, sync, 5).ErrorCode, kerr.InconsistentGroupProtocol)
	sync.Protocol = jr.Protocol
	wantErr(t, "sync v5", call[*kmsg.SyncGroupResponse](t, h, sync, 5).ErrorCode, nil)

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.MemberID, commit.Generation = "new", jr.MemberID, jr.Generation
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	meta := "m"
	p.Offset, p.LeaderEpoch, p.Metadata = 5, 3, &meta
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{p}}}
	wantErr(t, "commit v9", call[*kmsg.OffsetCommitResponse](t, h, commit, 9).Topics[0].Partitions[0].ErrorCode, nil)

	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "new"}, {Group: "", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}}}, {Group: "none", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}}}}
	fr := call[*kmsg.OffsetFetchResponse](t, h, fetch, 9)
	if g := fr.Groups[0]; g.ErrorCode != 0 || len(g.Topics) != 1 || g.Topics[0].Partitions[0].Offset != 5 || g.Topics[0].Partitions[0].LeaderEpoch != 3 || *g.Topics[0].Partitions[0].Metadata != "m" {
		t.Fatalf("fetch all of new: %+v", g)
	}
	for _, g := range fr.Groups[1:] {
		// The empty group id is a group like any other here.
		if g.ErrorCode != 0 || g.Topics[0].Partitions[0].Offset != -1 {
			t.Fatalf("fetch of group %q: %+v", g.Group, g)
		}
	}

	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups, dg.IncludeAuthorizedOperations = []string{"new", "none"}, true
	dr := call[*kmsg.DescribeGroupsResponse](t, h, dg, 5)
	if g := dr.Groups[0]; g.State != "Stable" || g.AuthorizedOperations != groupOps || len(g.Members) != 1 || g.Members[0].ClientHost != "/10.1.2.3" {
		t.Fatalf("describe: %+v", g)
	}
	if g := dr.Groups[1]; g.State != "Dead" || g.ErrorCode != 0 {
		t.Fatalf("describe unknown: %+v", g)
	}

	lg := kmsg.NewPtrListGroupsRequest()
	lg.StatesFilter, lg.TypesFilter = []string{"Stable"}, []string{"classic"}
	lr := call[*kmsg.ListGroupsResponse](t, h, lg, 5)
	if len(lr.Groups) != 1 || lr.Groups[0].Group != "new" || lr.Groups[0].GroupState != "Stable" || lr.Groups[0].GroupType != "classic" || lr.Groups[0].ProtocolType != "consumer" {
		t.Fatalf("list: %+v", lr.Groups)
	}

	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "new"
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	odr := call[*kmsg.OffsetDeleteResponse](t, h, od, 0)
	// The member's subscription (an empty v0 consumer subscription) does
	// not include t, so the offset may go.
	if odr.ErrorCode != 0 || odr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("offset delete: %+v", odr)
	}

	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"new"}
	wantErr(t, "delete a live group", call[*kmsg.DeleteGroupsResponse](t, h, del, 2).Groups[0].ErrorCode, kerr.NonEmptyGroup)

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = "new"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: jr.MemberID}, {MemberID: "x"}}
	lv := call[*kmsg.LeaveGroupResponse](t, h, leave, 5)
	if lv.ErrorCode != 0 || lv.Members[0].ErrorCode != 0 || lv.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave v5: %+v", lv)
	}
	leave.Group = "unknown"
	wantErr(t, "leave of an unknown group", call[*kmsg.LeaveGroupResponse](t, h, leave, 5).ErrorCode, kerr.UnknownMemberID)
	wantErr(t, "delete an empty group", call[*kmsg.DeleteGroupsResponse](t, h, del, 2).Groups[0].ErrorCode, nil)
}

// TestGroupAPIsWithoutCoordinator: a handler built without a coordinator
// answers instead of crashing.
func TestGroupAPIsWithoutCoordinator(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, t.TempDir())
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group = "g"
	wantErr(t, "join", call[*kmsg.JoinGroupResponse](t, h, join, 9).ErrorCode, kerr.CoordinatorNotAvailable)
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "g"
	wantErr(t, "find", call[*kmsg.FindCoordinatorResponse](t, h, fc, 2).ErrorCode, kerr.CoordinatorNotAvailable)
}
