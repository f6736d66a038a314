package group

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/record"
)

// txnReq is a TxnOffsetCommit v4 of producer pid (epoch 1, transactional
// id "tx-<pid>") for group: offsets of topic "t" by partition, each with
// metadata "m<offset>" and leader epoch 3, and no member (generation -1).
func txnReq(group string, pid int64, offsets map[int32]int64) *kmsg.TxnOffsetCommitRequest {
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.Version = 4
	r.TransactionalID = fmt.Sprintf("tx-%d", pid)
	r.Group, r.ProducerID, r.ProducerEpoch = group, pid, 1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "t"
	for _, p := range slices.Sorted(maps.Keys(offsets)) {
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		meta := fmt.Sprintf("m%d", offsets[p])
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, offsets[p], 3, &meta
		rt.Partitions = append(rt.Partitions, rp)
	}
	r.Topics = []kmsg.TxnOffsetCommitRequestTopic{rt}
	return r
}

// txnCodes is a TxnOffsetCommit answer as "topic/partition" → code.
func txnCodes(r *kmsg.TxnOffsetCommitResponse) map[string]int16 {
	out := map[string]int16{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			out[fmt.Sprintf("%s/%d", t.Topic, p.Partition)] = p.ErrorCode
		}
	}
	return out
}

func wantCodes(t *testing.T, what string, got map[string]int16, want map[string]*kerr.Error) {
	t.Helper()
	w := map[string]int16{}
	for k, e := range want {
		w[k] = 0
		if e != nil {
			w[k] = e.Code
		}
	}
	if !maps.Equal(got, w) {
		t.Fatalf("%s: codes %v, want %v", what, got, w)
	}
}

// fetchOne is the OffsetFetch answer for one partition of "t".
func fetchOne(t *testing.T, c *Coordinator, group string, partition int32, stable bool) FetchedPartition {
	t.Helper()
	out, err := c.FetchOffsets(group, []TopicPartitions{{Topic: "t", Partitions: []int32{partition}}}, stable)
	if err != nil {
		t.Fatalf("fetch %s: %v", group, err)
	}
	return out[0].Partitions[0]
}

// committedAs is the answer for an offset committed by txnReq.
func committedAs(partition int32, off int64) FetchedPartition {
	return FetchedPartition{Partition: partition, Offset: off, LeaderEpoch: 3, Metadata: fmt.Sprintf("m%d", off)}
}

// none and unstable are the answers without a committed offset, and for
// an offset pending in a transaction when the fetch requires stability.
func none(partition int32) FetchedPartition {
	return FetchedPartition{Partition: partition, Offset: -1, LeaderEpoch: -1}
}

func unstable(partition int32) FetchedPartition {
	return FetchedPartition{Partition: partition, Offset: -1, LeaderEpoch: -1, ErrorCode: kerr.UnstableOffsetCommit.Code}
}

func wantFetched(t *testing.T, what string, got, want FetchedPartition) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: %+v, want %+v", what, got, want)
	}
}

// txnCommit sends a TxnOffsetCommit, has the follower fetch it, and
// returns the answer.
func (e *replicatedEnv) txnCommit(r *kmsg.TxnOffsetCommitRequest) map[string]int16 {
	e.t.Helper()
	wait := e.c.StartTxnCommitOffsets(r)
	ch := make(chan *kmsg.TxnOffsetCommitResponse, 1)
	go func() { ch <- wait(context.Background()) }()
	e.replicate()
	return txnCodes(recv(e.t, ch))
}

// commit commits off for group's partition of "t" as an admin tool does,
// replicated.
func (e *replicatedEnv) commit(group string, partition int32, off int64) {
	e.t.Helper()
	r := commitReq(group, off)
	r.Topics[0].Partitions[0].Partition = partition
	meta := fmt.Sprintf("m%d", off)
	r.Topics[0].Partitions[0].Metadata, r.Topics[0].Partitions[0].LeaderEpoch = &meta, 3
	ch := answer(e.c.StartCommitOffsets(r))
	e.replicate()
	wantCode(e.t, "commit", recv(e.t, ch), nil)
}

// reloadWith ends the shard's leader epoch and loads the partition again,
// in a new epoch, after markers were appended to the log, as a replica
// appends the markers it fetched from its leader. (The leader's own
// appends refuse control batches on this branch; the markers path writes
// them through the partition's own method.)
func (e *replicatedEnv) reloadWith(markers ...record.Marker) {
	e.t.Helper()
	epoch := e.p.LeaderEpoch()
	e.p.MakeFollower(epoch+1, 2, epoch+1)
	for _, m := range markers {
		b := record.BuildMarker(m)
		record.SetBaseOffset(b, e.p.LogEndOffset())
		record.SetPartitionLeaderEpoch(b, epoch+1)
		if _, err := e.p.AppendReplicated(epoch+1, b); err != nil {
			e.t.Fatalf("append marker %+v: %v", m, err)
		}
	}
	if _, err := e.p.MakeLeader(epoch+2, []int32{1, 2}, []int32{1, 2}, epoch+2); err != nil {
		e.t.Fatal(err)
	}
	e.md.publish(e.md.image(epoch + 2))
	e.replicate()
	e.waitLoaded()
}

// logBatch returns the first batch at or after offset off of e's log.
func (e *replicatedEnv) logBatch(off int64) []byte {
	e.t.Helper()
	res, err := e.p.ReadForFollower(off, 1<<20, true)
	if err != nil {
		e.t.Fatal(err)
	}
	buf := make([]byte, res.Slice.Len)
	_, err = res.Slice.File.ReadAt(buf, res.Slice.Pos)
	res.Slice.Release()
	if err != nil {
		e.t.Fatal(err)
	}
	batches, err := record.SplitBatches(buf)
	if err != nil || len(batches) == 0 {
		e.t.Fatalf("no batch at %d: %v", off, err)
	}
	return batches[0]
}

// TestTxnOffsetCommitLifecycle: a TxnOffsetCommit is written as one
// transactional batch of the producer, in Kafka's record format; its
// offsets stay invisible (UNSTABLE_OFFSET_COMMIT with RequireStable, the
// old offset without) until the transaction commits, and are dropped when
// it aborts.
func TestTxnOffsetCommitLifecycle(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t)
	e.commit("g", 0, 5)
	at := e.p.LogEndOffset()
	wantCodes(t, "txn commit", e.txnCommit(txnReq("g", 7, map[int32]int64{0: 10, 1: 11})), map[string]*kerr.Error{"t/0": nil, "t/1": nil})

	wantFetched(t, "t/0 while pending", fetchOne(t, e.c, "g", 0, false), committedAs(0, 5))
	wantFetched(t, "t/0 stable while pending", fetchOne(t, e.c, "g", 0, true), unstable(0))
	wantFetched(t, "t/1 while pending", fetchOne(t, e.c, "g", 1, false), none(1))
	wantFetched(t, "t/1 stable while pending", fetchOne(t, e.c, "g", 1, true), unstable(1))

	// The batch as Kafka's tools read it.
	b := e.logBatch(at)
	h, recs, err := record.ReadRecords(b, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != at || !h.IsTransactional() || h.IsControl() || h.ProducerID != 7 || h.ProducerEpoch != 1 || h.BaseSequence != -1 || len(recs) != 2 {
		t.Fatalf("batch header %+v with %d records", h, len(recs))
	}
	for i, r := range recs {
		var k kmsg.OffsetCommitKey
		var v kmsg.OffsetCommitValue
		if err := k.ReadFrom(r.Key); err != nil {
			t.Fatal(err)
		}
		if err := v.ReadFrom(r.Value); err != nil {
			t.Fatal(err)
		}
		off := int64(10 + i)
		if k.Version != 1 || k.Group != "g" || k.Topic != "t" || k.Partition != int32(i) ||
			v.Version != 3 || v.Offset != off || v.LeaderEpoch != 3 || v.Metadata != fmt.Sprintf("m%d", off) || v.CommitTimestamp <= 0 {
			t.Fatalf("record %d: key %+v value %+v", i, k, v)
		}
	}

	e.c.CompleteTxn(0, 7, true)
	wantFetched(t, "t/0 once committed", fetchOne(t, e.c, "g", 0, true), committedAs(0, 10))
	wantFetched(t, "t/1 once committed", fetchOne(t, e.c, "g", 1, true), committedAs(1, 11))

	// The producer's next transaction aborts: the committed offset stays.
	e.txnCommit(txnReq("g", 7, map[int32]int64{0: 20}))
	wantFetched(t, "t/0 stable in the next transaction", fetchOne(t, e.c, "g", 0, true), unstable(0))
	e.c.CompleteTxn(0, 7, false)
	wantFetched(t, "t/0 after the abort", fetchOne(t, e.c, "g", 0, true), committedAs(0, 10))

	// Markers of a producer with nothing pending here, or of a partition
	// this node does not coordinate, change nothing.
	e.c.CompleteTxn(0, 8, true)
	e.c.CompleteTxn(3, 7, true)
	wantFetched(t, "t/0 after stray markers", fetchOne(t, e.c, "g", 0, true), committedAs(0, 10))
	if d := e.c.DescribeGroup("g"); d.State != "Empty" || d.ErrorCode != 0 || len(d.Members) != 0 {
		t.Fatalf("describe: %+v", d)
	}
}

// TestTxnOffsetNewestRecordWins: when a regular commit and a transaction
// commit the same partition, the one whose record is the newer in the log
// is the committed offset once the transaction commits, whatever the
// offsets' values.
func TestTxnOffsetNewestRecordWins(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t)
	e.txnCommit(txnReq("g", 7, map[int32]int64{0: 10}))
	e.commit("g", 0, 15)
	wantFetched(t, "regular commit during the transaction", fetchOne(t, e.c, "g", 0, false), committedAs(0, 15))
	wantFetched(t, "stable during the transaction", fetchOne(t, e.c, "g", 0, true), unstable(0))
	e.c.CompleteTxn(0, 7, true)
	wantFetched(t, "the newer regular commit wins", fetchOne(t, e.c, "g", 0, true), committedAs(0, 15))

	e.commit("g", 1, 30)
	e.txnCommit(txnReq("g", 8, map[int32]int64{1: 25}))
	e.c.CompleteTxn(0, 8, true)
	wantFetched(t, "the newer transactional commit wins", fetchOne(t, e.c, "g", 1, true), committedAs(1, 25))
}

// TestTxnOffsetsReload: a shard loaded again from its log, markers
// included, holds exactly what the live one did: committed transactions'
// offsets committed (unless a newer record won), aborted ones gone, open
// ones pending, to be ended by their markers later.
func TestTxnOffsetsReload(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t)
	e.commit("g1", 1, 3)
	e.txnCommit(txnReq("g1", 1, map[int32]int64{0: 10})) // commits
	e.txnCommit(txnReq("g1", 2, map[int32]int64{1: 20})) // aborts
	e.txnCommit(txnReq("g2", 3, map[int32]int64{0: 30})) // stays open
	e.txnCommit(txnReq("g3", 4, map[int32]int64{0: 40})) // commits, but...
	e.commit("g3", 0, 41)                                // ...a newer record wins
	e.txnCommit(txnReq("g2", 3, map[int32]int64{1: 31})) // the open one again
	e.c.CompleteTxn(0, 1, true)
	e.c.CompleteTxn(0, 2, false)
	e.c.CompleteTxn(0, 4, true)

	check := func(when string) {
		t.Helper()
		for _, c := range []struct {
			group     string
			partition int32
			stable    bool
			want      FetchedPartition
		}{
			{"g1", 0, true, committedAs(0, 10)},
			{"g1", 1, true, committedAs(1, 3)},
			{"g2", 0, true, unstable(0)},
			{"g2", 1, true, unstable(1)},
			{"g2", 0, false, none(0)},
			{"g3", 0, true, committedAs(0, 41)},
		} {
			wantFetched(t, fmt.Sprintf("%s: %s t/%d stable=%v", when, c.group, c.partition, c.stable), fetchOne(t, e.c, c.group, c.partition, c.stable), c.want)
		}
	}
	check("live")
	e.reloadWith(
		record.Marker{ProducerID: 1, ProducerEpoch: 1, Commit: true, Timestamp: time.Now().UnixMilli()},
		record.Marker{ProducerID: 2, ProducerEpoch: 1, Commit: false, Timestamp: time.Now().UnixMilli()},
		record.Marker{ProducerID: 4, ProducerEpoch: 1, Commit: true, Timestamp: time.Now().UnixMilli()},
	)
	check("reloaded")

	// The open transaction commits after the reload.
	e.c.CompleteTxn(0, 3, true)
	wantFetched(t, "g2 t/0 once committed", fetchOne(t, e.c, "g2", 0, true), committedAs(0, 30))
	wantFetched(t, "g2 t/1 once committed", fetchOne(t, e.c, "g2", 1, true), committedAs(1, 31))
	e.reloadWith(record.Marker{ProducerID: 3, ProducerEpoch: 1, Commit: true, Timestamp: time.Now().UnixMilli()})
	wantFetched(t, "g2 t/0 reloaded", fetchOne(t, e.c, "g2", 0, true), committedAs(0, 30))
	wantFetched(t, "g2 t/1 reloaded", fetchOne(t, e.c, "g2", 1, true), committedAs(1, 31))
	wantFetched(t, "g3 t/0 reloaded", fetchOne(t, e.c, "g3", 0, true), committedAs(0, 41))
}

// TestCompleteTxnInFlight: a transaction may end (its marker committed:
// an abort after a timeout, say) before the completion of one of its
// batches has run; the batch's offsets are then ended as they complete,
// not left pending forever.
func TestCompleteTxnInFlight(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t)
	aborted := e.c.StartTxnCommitOffsets(txnReq("g", 7, map[int32]int64{0: 10}))
	committed := e.c.StartTxnCommitOffsets(txnReq("g", 8, map[int32]int64{1: 12}))
	e.c.CompleteTxn(0, 7, false)
	e.c.CompleteTxn(0, 8, true)
	done := make(chan *kmsg.TxnOffsetCommitResponse, 2)
	go func() { done <- aborted(context.Background()) }()
	go func() { done <- committed(context.Background()) }()
	e.replicate()
	for range 2 {
		for k, code := range txnCodes(recv(t, done)) {
			wantCode(t, k, code, nil)
		}
	}
	wantFetched(t, "aborted in flight", fetchOne(t, e.c, "g", 0, true), none(0))
	wantFetched(t, "committed in flight", fetchOne(t, e.c, "g", 1, true), committedAs(1, 12))
}

// TestCompleteTxnWhileLoading: a marker committed while the shard loads
// (the replay may have read the log before it) ends its transaction once
// the shard is loaded; meanwhile TxnOffsetCommit answers
// COORDINATOR_LOAD_IN_PROGRESS.
func TestCompleteTxnWhileLoading(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t)
	e.txnCommit(txnReq("g", 9, map[int32]int64{1: 50}))
	// An unreplicated commit keeps the next epoch's shard loading until
	// the follower fetches it.
	stuck := answer(e.c.StartCommitOffsets(commitReq("h", 1)))
	if _, err := e.p.MakeLeader(1, []int32{1, 2}, []int32{1, 2}, 1); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "commit across the epoch change", recv(t, stuck), kerr.NotCoordinator)
	e.md.publish(e.md.image(1))
	if _, err := e.c.ListGroups(nil, nil); err != kerr.CoordinatorLoadInProgress {
		t.Fatalf("list while loading: %v", err)
	}
	wantCodes(t, "txn commit while loading", txnCodes(e.c.TxnCommitOffsets(txnReq("g", 10, map[int32]int64{0: 1}))),
		map[string]*kerr.Error{"t/0": kerr.CoordinatorLoadInProgress})
	e.c.CompleteTxn(0, 9, true)
	e.replicate()
	e.waitLoaded()
	wantFetched(t, "ended while loading", fetchOne(t, e.c, "g", 1, true), committedAs(1, 50))
}

// TestTxnOffsetCommitValidation: the checks of Kafka's
// TxnOffsetCommit: unknown partitions, the empty group id, metadata size,
// and the member's generation (v3+), with a transactional commit's
// leniency: no member fields accepted in any state, and a member's commit
// accepted while the group completes a rebalance.
func TestTxnOffsetCommitValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "offset.metadata.max.bytes=8")
	e.createTopic("t", 2)
	codes := func(r *kmsg.TxnOffsetCommitRequest) map[string]int16 { return txnCodes(e.c.TxnCommitOffsets(r)) }

	r := txnReq("g", 7, map[int32]int64{0: 1, 5: 2})
	r.Topics = append(r.Topics, kmsg.TxnOffsetCommitRequestTopic{Topic: "nope", Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{kmsg.NewTxnOffsetCommitRequestTopicPartition()}})
	wantCodes(t, "unknown partitions", codes(r), map[string]*kerr.Error{"t/0": nil, "t/5": kerr.UnknownTopicOrPartition, "nope/0": kerr.UnknownTopicOrPartition})
	wantFetched(t, "pending", fetchOne(t, e.c, "g", 0, true), unstable(0))

	wantCodes(t, "only unknown partitions", codes(txnReq("ghost", 7, map[int32]int64{9: 1})), map[string]*kerr.Error{"t/9": kerr.UnknownTopicOrPartition})
	if got := e.stateOf("ghost"); got != "Dead" {
		t.Fatalf("refused commit created group ghost (%s)", got)
	}
	wantCodes(t, "empty group id", codes(txnReq("", 7, map[int32]int64{0: 1, 9: 1})), map[string]*kerr.Error{"t/0": kerr.InvalidGroupID, "t/9": kerr.UnknownTopicOrPartition})
	wantCodes(t, "metadata too large", codes(txnReq("g", 7, map[int32]int64{0: 123456789, 1: 5})), map[string]*kerr.Error{"t/0": kerr.OffsetMetadataTooLarge, "t/1": nil})

	r = txnReq("ghost", 7, map[int32]int64{0: 1})
	r.Version, r.Generation, r.MemberID = 3, 2, "m"
	wantCodes(t, "generation of an unknown group", codes(r), map[string]*kerr.Error{"t/0": kerr.IllegalGeneration})
	if got := e.stateOf("ghost"); got != "Dead" {
		t.Fatalf("refused commit created group ghost (%s)", got)
	}

	m := e.member("live")
	e.stabilize(byName, m)
	for _, v := range []int16{0, 1, 2} {
		// These versions have no member fields (a decoded request leaves
		// them zero): accepted, unlike an anonymous OffsetCommit.
		r := txnReq("live", 7, map[int32]int64{0: 4})
		r.Version, r.Generation = v, 0
		wantCodes(t, fmt.Sprintf("v%d to a live group", v), codes(r), map[string]*kerr.Error{"t/0": nil})
	}
	member := func(id string, gen int32, instance *string) *kmsg.TxnOffsetCommitRequest {
		r := txnReq("live", 7, map[int32]int64{0: 4})
		r.Version, r.MemberID, r.Generation, r.InstanceID = 3, id, gen, instance
		return r
	}
	wantCodes(t, "unknown member", codes(member("nobody", m.gen, nil)), map[string]*kerr.Error{"t/0": kerr.UnknownMemberID})
	wantCodes(t, "stale generation", codes(member(m.id, m.gen-1, nil)), map[string]*kerr.Error{"t/0": kerr.IllegalGeneration})
	wantCodes(t, "no generation with a member id", codes(member(m.id, -1, nil)), map[string]*kerr.Error{"t/0": kerr.IllegalGeneration})
	wantCodes(t, "member of the generation", codes(member(m.id, m.gen, nil)), map[string]*kerr.Error{"t/0": nil})

	// A rejoin completes the join phase at once (one member); the group
	// then waits for the leader's SyncGroup.
	m.took(recv(t, m.joinAsync()))
	if got := e.stateOf("live"); got != "CompletingRebalance" {
		t.Fatalf("state %s", got)
	}
	wantCodes(t, "member while completing a rebalance", codes(member(m.id, m.gen, nil)), map[string]*kerr.Error{"t/0": nil})
	wantCode(t, "regular commit while completing a rebalance", m.commit("t", 0, 4, ""), kerr.RebalanceInProgress)

	s := e.staticMember("static", "i1")
	e.stabilize(byName, s)
	r = txnReq("static", 7, map[int32]int64{0: 4})
	r.Version, r.MemberID, r.Generation, r.InstanceID = 5, "replaced", s.gen, s.instance
	wantCodes(t, "fenced instance", codes(r), map[string]*kerr.Error{"t/0": kerr.FencedInstanceID})
	r.MemberID = s.id
	wantCodes(t, "static member", codes(r), map[string]*kerr.Error{"t/0": nil})

	// The log fences a producer's older epoch: nothing is written.
	r = txnReq("fenced", 20, map[int32]int64{0: 4})
	r.ProducerEpoch = 2
	wantCodes(t, "producer epoch 2", codes(r), map[string]*kerr.Error{"t/0": nil})
	r = txnReq("fenced", 20, map[int32]int64{1: 5})
	wantCodes(t, "stale producer epoch", codes(r), map[string]*kerr.Error{"t/1": kerr.InvalidProducerEpoch})
	wantFetched(t, "fenced commit", fetchOne(t, e.c, "fenced", 1, true), none(1))
}

// TestTxnVerification: the transaction coordinator's verification runs
// before the batch is written, with the request's transactional id,
// producer and the group's offsets partition, adding the partition from
// v5; its error answers every partition (translated as Kafka's broker
// translates it for older clients) and nothing is written.
func TestTxnVerification(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTopic("t", 2)
	type call struct {
		txnID     string
		pid       int64
		epoch     int16
		partition int32
		implicit  bool
	}
	var calls []call
	var verr error
	e.c.SetVerifyTxn(func(_ context.Context, id string, pid int64, epoch int16, partition int32, implicit bool) error {
		calls = append(calls, call{id, pid, epoch, partition, implicit})
		return verr
	})
	index := PartitionFor("g", 3)
	log := e.reps.Partition(TopicName, index)

	r := txnReq("g", 7, map[int32]int64{0: 1})
	wantCodes(t, "verified", txnCodes(e.c.TxnCommitOffsets(r)), map[string]*kerr.Error{"t/0": nil})
	r.Version = 5
	wantCodes(t, "verified v5", txnCodes(e.c.TxnCommitOffsets(r)), map[string]*kerr.Error{"t/0": nil})
	if want := []call{{"tx-7", 7, 1, index, false}, {"tx-7", 7, 1, index, true}}; !slices.Equal(calls, want) {
		t.Fatalf("calls %+v, want %+v", calls, want)
	}

	for _, c := range []struct {
		err     error
		version int16
		want    *kerr.Error
	}{
		{kerr.InvalidTxnState, 4, kerr.InvalidTxnState},
		{kerr.InvalidProducerEpoch, 4, kerr.InvalidProducerEpoch},
		{kerr.ProducerFenced, 4, kerr.InvalidProducerEpoch},
		{kerr.TransactionAbortable, 3, kerr.InvalidTxnState},
		{kerr.TransactionAbortable, 4, kerr.TransactionAbortable},
		{kerr.ConcurrentTransactions, 4, kerr.ConcurrentTransactions},
		{fmt.Errorf("txn: coordinator moved: %w", kerr.NotCoordinator), 4, kerr.NotCoordinator},
		{fmt.Errorf("txn: ask: %w", context.DeadlineExceeded), 4, kerr.CoordinatorNotAvailable},
		{errors.New("txn: broken"), 4, kerr.UnknownServerError},
	} {
		verr = c.err
		end := log.LogEndOffset()
		r := txnReq("g", 8, map[int32]int64{0: 2, 1: 3, 7: 4})
		r.Version = c.version
		wantCodes(t, fmt.Sprintf("%v at v%d", c.err, c.version), txnCodes(e.c.TxnCommitOffsets(r)),
			map[string]*kerr.Error{"t/0": c.want, "t/1": c.want, "t/7": kerr.UnknownTopicOrPartition})
		if got := log.LogEndOffset(); got != end {
			t.Fatalf("%v: the log grew from %d to %d", c.err, end, got)
		}
	}
	calls = nil
	txnCodes(e.c.TxnCommitOffsets(txnReq("g", 8, map[int32]int64{7: 4})))
	e.c.SetVerifyTxn(nil)
	verr = kerr.InvalidTxnState
	wantCodes(t, "hook removed", txnCodes(e.c.TxnCommitOffsets(txnReq("g", 8, map[int32]int64{0: 2}))), map[string]*kerr.Error{"t/0": nil})
	if len(calls) != 0 {
		t.Fatalf("verified %+v: no partition to write, or no hook", calls)
	}
}

// TestTxnOffsetsExpiryAndDeletion: offsets with a pending transactional
// offset of their partition do not expire, and a group with open
// transactions is not deleted for having no offsets left; OffsetDelete
// and DeleteGroups tombstone pending offsets too, so neither their
// transaction's commit nor a reload brings them back.
func TestTxnOffsetsExpiryAndDeletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "offsets.retention.minutes=1")
	e.createTopic("t", 2)
	idx := func(group string) int32 { return PartitionFor(group, 3) }
	e.adminCommit("simple", 8, map[string]map[int32]int64{"t": {0: 5}})
	e.c.TxnCommitOffsets(txnReq("simple", 7, map[int32]int64{0: 6}))
	e.c.TxnCommitOffsets(txnReq("only", 8, map[int32]int64{0: 1}))
	e.clock.Advance(2 * time.Minute)
	if got := e.committed("simple", "t", 0); got.Offset != 5 {
		t.Fatalf("offset under an open transaction expired: %+v", got)
	}
	if got := e.stateOf("only"); got != "Empty" {
		t.Fatalf("group with an open transaction: %s", got)
	}
	e.c.CompleteTxn(idx("simple"), 7, false)
	e.c.CompleteTxn(idx("only"), 8, false)
	e.clock.Advance(2 * time.Minute)
	for _, g := range []string{"simple", "only"} {
		if got := e.stateOf(g); got != "Dead" {
			t.Fatalf("group %s after its transaction aborted and its offsets expired: %s", g, got)
		}
	}

	e.c.TxnCommitOffsets(txnReq("del", 9, map[int32]int64{0: 90, 1: 91}))
	out, err := e.c.DeleteOffsets("del", []TopicPartitions{{Topic: "t", Partitions: []int32{0}}})
	if err != nil || len(out) != 1 || out[0] != (PartitionError{Topic: "t", Partition: 0}) {
		t.Fatalf("delete offsets: %+v, %v", out, err)
	}
	wantFetched(t, "deleted pending offset", fetchOne(t, e.c, "del", 0, true), none(0))
	wantFetched(t, "other pending offset", fetchOne(t, e.c, "del", 1, true), unstable(1))
	e.c.TxnCommitOffsets(txnReq("gone", 10, map[int32]int64{0: 100}))
	if errs := e.c.DeleteGroups([]string{"gone"}); errs[0] != nil {
		t.Fatalf("delete group: %v", errs[0])
	}
	check := func(when string) {
		t.Helper()
		wantFetched(t, when+": deleted pending offset", fetchOne(t, e.c, "del", 0, true), none(0))
		wantFetched(t, when+": other pending offset", fetchOne(t, e.c, "del", 1, true), unstable(1))
		wantFetched(t, when+": deleted group", fetchOne(t, e.c, "gone", 0, true), none(0))
		if got := e.stateOf("gone"); got != "Dead" {
			t.Fatalf("%s: deleted group is %s", when, got)
		}
	}
	check("live")
	e.restart()
	check("reloaded")
	e.c.CompleteTxn(idx("del"), 9, true)
	e.c.CompleteTxn(idx("gone"), 10, true)
	wantFetched(t, "deleted pending offset, committed", fetchOne(t, e.c, "del", 0, true), none(0))
	wantFetched(t, "other pending offset, committed", fetchOne(t, e.c, "del", 1, true), committedAs(1, 91))
	wantFetched(t, "deleted group, committed", fetchOne(t, e.c, "gone", 0, true), none(0))
	if got := e.stateOf("gone"); got != "Dead" {
		t.Fatalf("deleted group came back: %s", got)
	}
}
