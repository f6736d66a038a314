package api

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/group"
)

// decoded is req as the broker reads it off the wire at version v: encoded
// and decoded again, so that fields a version lacks are what a real
// request leaves in them.
func decoded(t *testing.T, req *kmsg.TxnOffsetCommitRequest, v int16) *kmsg.TxnOffsetCommitRequest {
	t.Helper()
	req.SetVersion(v)
	out := kmsg.NewPtrTxnOffsetCommitRequest()
	out.SetVersion(v)
	if err := out.ReadFrom(req.AppendTo(nil)); err != nil {
		t.Fatalf("v%d: %v", v, err)
	}
	return out
}

func txnCommitReq(groupID string, pid int64, offsets ...int64) *kmsg.TxnOffsetCommitRequest {
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch = "tx", groupID, pid, 2
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "t"
	for i, o := range offsets {
		p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		meta := "meta"
		p.Partition, p.Offset, p.LeaderEpoch, p.Metadata = int32(i), o, 4, &meta
		rt.Partitions = append(rt.Partitions, p)
	}
	r.Topics = []kmsg.TxnOffsetCommitRequestTopic{rt}
	return r
}

func txnPartitionCodes(r *kmsg.TxnOffsetCommitResponse) []int16 {
	var out []int16
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			out = append(out, p.ErrorCode)
		}
	}
	return out
}

// TestTxnOffsetCommit drives TxnOffsetCommit through the handler: a v2
// commit (no member fields) of an offset stays pending, so OffsetFetch
// with RequireStable (v7, and v8 per group) answers
// UNSTABLE_OFFSET_COMMIT and without it the old offset, until the marker
// path completes the transaction; a v3+ commit of a group member is
// checked against the member's generation.
func TestTxnOffsetCommit(t *testing.T) {
	t.Parallel()
	h := newGroupsHandler(t)
	untilLoaded(t, h)

	r := txnCommitReq("tg", 5, 7, 8)
	p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	p.Partition = 9
	r.Topics[0].Partitions = append(r.Topics[0].Partitions, p)
	codes := txnPartitionCodes(call[*kmsg.TxnOffsetCommitResponse](t, h, decoded(t, r, 2), 2))
	if len(codes) != 3 || codes[0] != 0 || codes[1] != 0 || codes[2] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("commit v2: %v", codes)
	}

	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group = "tg"
	fetch.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	fr := call[*kmsg.OffsetFetchResponse](t, h, fetch, 6)
	if ps := fr.Topics[0].Partitions; fr.ErrorCode != 0 || ps[0].ErrorCode != 0 || ps[0].Offset != -1 || ps[1].Offset != -1 {
		t.Fatalf("fetch v6 while pending: %+v", fr)
	}
	fetch.RequireStable = true
	fr = call[*kmsg.OffsetFetchResponse](t, h, fetch, 7)
	for _, p := range fr.Topics[0].Partitions {
		wantErr(t, "fetch v7 requiring stable offsets", p.ErrorCode, kerr.UnstableOffsetCommit)
		if p.Offset != -1 {
			t.Fatalf("fetch v7 while pending: %+v", p)
		}
	}
	batched := kmsg.NewPtrOffsetFetchRequest()
	batched.RequireStable = true
	batched.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "tg", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{1}}}}}
	br := call[*kmsg.OffsetFetchResponse](t, h, batched, 8)
	wantErr(t, "fetch v8 requiring stable offsets", br.Groups[0].Topics[0].Partitions[0].ErrorCode, kerr.UnstableOffsetCommit)

	h.Groups.CompleteTxn(group.PartitionFor("tg", 4), 5, true)
	fr = call[*kmsg.OffsetFetchResponse](t, h, fetch, 7)
	if ps := fr.Topics[0].Partitions; ps[0].ErrorCode != 0 || ps[0].Offset != 7 || ps[0].LeaderEpoch != 4 || *ps[0].Metadata != "meta" || ps[1].Offset != 8 {
		t.Fatalf("fetch v7 once committed: %+v", ps)
	}

	// A member of a group commits with its generation from v3.
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = "mg", 10000, 10000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0, 0, 0, 0, 1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff}}}
	jr := call[*kmsg.JoinGroupResponse](t, h, join, 3)
	wantErr(t, "join", jr.ErrorCode, nil)
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "mg", jr.MemberID, jr.Generation
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: []byte("a")}}
	wantErr(t, "sync", call[*kmsg.SyncGroupResponse](t, h, sync, 3).ErrorCode, nil)

	r = txnCommitReq("mg", 6, 11)
	r.MemberID, r.Generation = jr.MemberID, jr.Generation+1
	wantErr(t, "commit v3 of a stale generation", txnPartitionCodes(call[*kmsg.TxnOffsetCommitResponse](t, h, decoded(t, r, 3), 3))[0], kerr.IllegalGeneration)
	r.MemberID = "stranger"
	wantErr(t, "commit v4 of a stranger", txnPartitionCodes(call[*kmsg.TxnOffsetCommitResponse](t, h, decoded(t, r, 4), 4))[0], kerr.UnknownMemberID)
	r.MemberID, r.Generation = jr.MemberID, jr.Generation
	wantErr(t, "commit v5 of the member", txnPartitionCodes(call[*kmsg.TxnOffsetCommitResponse](t, h, decoded(t, r, 5), 5))[0], nil)
	// Versions without member fields commit for the live group too.
	wantErr(t, "commit v0 to a live group", txnPartitionCodes(call[*kmsg.TxnOffsetCommitResponse](t, h, decoded(t, r, 0), 0))[0], nil)

	h.Groups.CompleteTxn(group.PartitionFor("mg", 4), 6, false)
	fetch.Group = "mg"
	fr = call[*kmsg.OffsetFetchResponse](t, h, fetch, 7)
	if ps := fr.Topics[0].Partitions; ps[0].ErrorCode != 0 || ps[0].Offset != -1 {
		t.Fatalf("fetch v7 after the abort: %+v", ps)
	}

	r = txnCommitReq("", 6, 11)
	wantErr(t, "empty group id", txnPartitionCodes(call[*kmsg.TxnOffsetCommitResponse](t, h, decoded(t, r, 3), 3))[0], kerr.InvalidGroupID)
}

func TestTxnOffsetCommitWithoutCoordinator(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, t.TempDir())
	r := txnCommitReq("g", 1, 5)
	wantErr(t, "commit", txnPartitionCodes(call[*kmsg.TxnOffsetCommitResponse](t, h, r, 5))[0], kerr.CoordinatorNotAvailable)
}
