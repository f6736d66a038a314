package api

import (
	"context"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/record"
	"github.com/samsa-kafka/samsa/internal/replication"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// txnBroker is a handler on broker 1 of three live brokers: topic "t"
// has partition 0 on broker 1 alone and partition 1 on broker 2; topic
// "r" has one partition on brokers 1, 2 and 3, led by 1 with all three in
// the ISR.
type txnBroker struct {
	h    *Handler
	reps *replication.Manager
	ids  map[string][16]byte
}

func openTxnBroker(t *testing.T) *txnBroker {
	t.Helper()
	dir := t.TempDir()
	img := metadata.Empty("MkU3OEVBNTcwNTJENDM2Qg", 1)
	empty := img
	off := int64(0)
	apply := func(r metadata.Record) {
		t.Helper()
		next, err := img.Apply(off, r)
		if err != nil {
			t.Fatal(err)
		}
		img, off = next, off+1
	}
	for id := int32(1); id <= 3; id++ {
		apply(metadata.Record{RegisterBroker: &metadata.RegisterBroker{NodeID: id, Host: "127.0.0.1", Port: 9091 + id, Incarnation: metadata.NewUUID(), Unfenced: true}})
	}
	ids := map[string][16]byte{}
	for name, replicas := range map[string][][]int32{"t": {{1}, {2}}, "r": {{1, 2, 3}}} {
		id := metadata.NewUUID()
		ids[name] = id
		apply(metadata.Record{CreateTopic: &metadata.CreateTopic{Name: name, ID: id, Replicas: replicas}})
	}
	cfg, err := config.Load("", nil, map[string]string{"log.dirs": dir})
	if err != nil {
		t.Fatal(err)
	}
	reps := replication.New(replication.Config{NodeID: 1, DataDir: dir, Logger: slog.New(slog.DiscardHandler),
		Resolve: func(map[string]string) partition.Config {
			return partition.Config{MaxMessageBytes: 1 << 20, MinInsyncReplicas: 1, Delete: true, RetentionMs: -1, RetentionBytes: -1,
				TimestampBeforeMaxMs: 1 << 62, TimestampAfterMaxMs: 1 << 62}
		}})
	t.Cleanup(func() { reps.Close() })
	reps.Apply(empty, img)
	pub := metadata.NewPublisher(img)
	t.Cleanup(pub.Close)
	h := New(Deps{NodeID: 1, Host: "127.0.0.1", Port: 9092, Metadata: pub, Replicas: reps, Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	return &txnBroker{h: h, reps: reps, ids: ids}
}

// produceTxn appends a transactional batch of n records of producer pid
// straight to the partition (the produce path's transactional acceptance
// is another file's business).
func (b *txnBroker) produceTxn(t *testing.T, topic string, index int32, pid int64, seq int32, n int) partition.AppendResult {
	t.Helper()
	var recs []record.Record
	for i := range n {
		recs = append(recs, record.Record{OffsetDelta: int32(i), Value: []byte("v")})
	}
	attrs := int16(record.AttrTransactional)
	if pid < 0 {
		attrs = 0
	}
	batch, err := record.BuildBatch(record.CodecNone, 0, recs, record.BuildOptions{
		ProducerID: pid, BaseSequence: seq, BaseTimestamp: time.Now().UnixMilli(), Attributes: attrs,
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.reps.Partition(topic, index).Append(batch)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type markerTarget struct {
	topic      string
	partitions []int32
}

func markersRequest(pid int64, epoch int16, coordinatorEpoch int32, commit bool, targets ...markerTarget) *kmsg.WriteTxnMarkersRequest {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed = pid, epoch, coordinatorEpoch, commit
	for _, tg := range targets {
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = tg.topic, tg.partitions
		m.Topics = append(m.Topics, mt)
	}
	req.Markers = append(req.Markers, m)
	return req
}

// codes flattens a response to "topic/partition" → error code.
func markerCodes(resp *kmsg.WriteTxnMarkersResponse) map[string]int16 {
	out := map[string]int16{}
	for _, m := range resp.Markers {
		for _, rt := range m.Topics {
			for _, rp := range rt.Partitions {
				out[rt.Topic+"/"+string(rune('0'+rp.Partition))] = rp.ErrorCode
			}
		}
	}
	return out
}

// TestWriteTxnMarkers: markers land in the partitions this broker leads;
// the others get Kafka's codes; an abort marker indexes its transaction;
// a marker from an older coordinator epoch is fenced.
func TestWriteTxnMarkers(t *testing.T) {
	t.Parallel()
	b := openTxnBroker(t)
	b.produceTxn(t, "t", 0, 7, 0, 2) // offsets 0, 1
	p := b.reps.Partition("t", 0)
	if !p.OngoingTxn(7) {
		t.Fatal("no open transaction")
	}
	req := markersRequest(7, 0, 3, false, markerTarget{"t", []int32{0, 1, 5}}, markerTarget{"nope", []int32{0}})
	resp := call[*kmsg.WriteTxnMarkersResponse](t, b.h, req, 1)
	want := map[string]int16{
		"t/0":    0,
		"t/1":    kerr.NotLeaderForPartition.Code,
		"t/5":    kerr.UnknownTopicOrPartition.Code,
		"nope/0": kerr.UnknownTopicOrPartition.Code,
	}
	if got := markerCodes(resp); !reflect.DeepEqual(got, want) || resp.Markers[0].ProducerID != 7 {
		t.Fatalf("codes %v (producer %d), want %v", got, resp.Markers[0].ProducerID, want)
	}
	if p.OngoingTxn(7) || p.LogEndOffset() != 3 || p.HighWatermark() != 3 || p.LastStableOffset() != 3 {
		t.Fatalf("after the marker: open %v, end %d, hw %d, lso %d", p.OngoingTxn(7), p.LogEndOffset(), p.HighWatermark(), p.LastStableOffset())
	}
	r, err := p.Read(0, 1<<20, true, true)
	if err != nil {
		t.Fatal(err)
	}
	r.Slice.Release()
	if len(r.Aborted) != 1 || r.Aborted[0].ProducerID != 7 || r.Aborted[0].FirstOffset != 0 || r.Aborted[0].LastOffset != 2 {
		t.Fatalf("aborted %+v", r.Aborted)
	}

	stale := markersRequest(7, 0, 2, true, markerTarget{"t", []int32{0}})
	if got := markerCodes(call[*kmsg.WriteTxnMarkersResponse](t, b.h, stale, 1)); got["t/0"] != kerr.TransactionCoordinatorFenced.Code {
		t.Fatalf("stale coordinator: %v", got)
	}
	old := markersRequest(7, -1, 3, true, markerTarget{"t", []int32{0}})
	if got := markerCodes(call[*kmsg.WriteTxnMarkersResponse](t, b.h, old, 1)); got["t/0"] != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("old producer epoch: %v", got)
	}
	if p.LogEndOffset() != 3 {
		t.Fatalf("refused markers appended: end %d", p.LogEndOffset())
	}
}

// TestWriteTxnMarkersWaitsForCommit: the answer comes once the marker is
// replicated to the ISR, not when it is appended.
func TestWriteTxnMarkersWaitsForCommit(t *testing.T) {
	t.Parallel()
	b := openTxnBroker(t)
	p := b.reps.Partition("r", 0)
	b.produceTxn(t, "r", 0, 9, 0, 1)
	req := markersRequest(9, 0, 0, true, markerTarget{"r", []int32{0}})
	req.SetVersion(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pending := b.h.Handle(ctx, &wire.Request{Key: 27, Version: 1, Msg: req, Conn: &wire.ConnInfo{}})
	// The marker is in the log as soon as Handle returns.
	if p.LogEndOffset() != 2 || p.OngoingTxn(9) {
		t.Fatalf("marker not appended: end %d, open %v", p.LogEndOffset(), p.OngoingTxn(9))
	}
	done := make(chan wire.Response, 1)
	go func() { done <- pending(ctx) }()
	select {
	case <-done:
		t.Fatal("answered before the followers had the marker")
	default:
	}
	if p.LastStableOffset() != 0 {
		t.Fatalf("last stable offset %d before the marker is committed, want 0", p.LastStableOffset())
	}
	now := time.Now()
	p.UpdateFollower(2, 2, now)
	p.UpdateFollower(3, 2, now)
	resp := <-done
	if got := markerCodes(resp.Msg.(*kmsg.WriteTxnMarkersResponse)); got["r/0"] != 0 {
		t.Fatalf("codes %v", got)
	}
	if p.LastStableOffset() != 2 {
		t.Fatalf("last stable offset %d, want 2", p.LastStableOffset())
	}
}

// TestWriteTxnMarkersTimeout: a marker the ISR does not replicate within
// the request timeout is answered REQUEST_TIMED_OUT. Not parallel: it
// shortens the package's timeout.
func TestWriteTxnMarkersTimeout(t *testing.T) {
	saved := markerTimeout
	markerTimeout = 10 * time.Millisecond
	defer func() { markerTimeout = saved }()
	b := openTxnBroker(t)
	b.produceTxn(t, "r", 0, 9, 0, 1)
	resp := call[*kmsg.WriteTxnMarkersResponse](t, b.h, markersRequest(9, 0, 0, false, markerTarget{"r", []int32{0}}), 1)
	if got := markerCodes(resp); got["r/0"] != kerr.RequestTimedOut.Code {
		t.Fatalf("codes %v", got)
	}
}

// consumerFetch sends a consumer's fetch of topic's partition 0 at offset
// with the isolation level and decodes the answer.
func (b *txnBroker) consumerFetch(t *testing.T, v int16, topic string, isolation int8, offset int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.ReplicaState.ID = -1
	req.MaxBytes, req.MinBytes, req.MaxWaitMillis = 1<<20, 1, 0
	req.IsolationLevel = isolation
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, b.ids[topic]
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = 0, offset, 1<<20, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.SetVersion(v)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := b.h.Handle(ctx, &wire.Request{Key: 1, Version: v, Msg: req, Conn: &wire.ConnInfo{Plaintext: true}})(ctx)
	if resp.Body == nil {
		t.Fatal("fetch: no response body")
	}
	raw := flatten(t, resp.Body.Chunks)
	if resp.Body.Release != nil {
		resp.Body.Release()
	}
	out := kmsg.NewPtrFetchResponse()
	out.SetVersion(v)
	if err := out.ReadFrom(raw); err != nil {
		t.Fatalf("fetch response does not decode: %v", err)
	}
	if len(out.Topics) != 1 || len(out.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response %+v", out)
	}
	return out.Topics[0].Partitions[0]
}

// batchOffsets lists the base offsets of the whole batches in records.
func batchOffsets(t *testing.T, records []byte) []int64 {
	t.Helper()
	bs, err := record.SplitBatches(records)
	if err != nil {
		t.Fatal(err)
	}
	offs := []int64{}
	for _, b := range bs {
		h, _ := record.ParseHeader(b)
		offs = append(offs, h.BaseOffset)
	}
	return offs
}

// TestFetchReadCommitted: a consumer's fetch at isolation level 1 reads to
// the last stable offset and gets the aborted transactions; at level 0 it
// reads to the high watermark with a null list; both report the last
// stable offset. ListOffsets latest at level 1 is the last stable offset.
func TestFetchReadCommitted(t *testing.T) {
	t.Parallel()
	b := openTxnBroker(t)
	b.produceTxn(t, "t", 0, -1, -1, 1) // 0: plain
	b.produceTxn(t, "t", 0, 7, 0, 2)   // 1, 2: producer 7, left open for now
	b.produceTxn(t, "t", 0, 8, 0, 1)   // 3: producer 8
	abort := markersRequest(8, 0, 0, false, markerTarget{"t", []int32{0}})
	if got := markerCodes(call[*kmsg.WriteTxnMarkersResponse](t, b.h, abort, 1)); got["t/0"] != 0 { // 4
		t.Fatalf("abort: %v", got)
	}
	listLatest := func(isolation int8) int64 {
		t.Helper()
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = isolation
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = 0, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := call[*kmsg.ListOffsetsResponse](t, b.h, req, 8)
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != 0 {
			t.Fatalf("ListOffsets: %d", sp.ErrorCode)
		}
		return sp.Offset
	}
	if got, want := listLatest(1), int64(1); got != want {
		t.Fatalf("ListOffsets latest read_committed %d, want %d", got, want)
	}
	if got, want := listLatest(0), int64(5); got != want {
		t.Fatalf("ListOffsets latest read_uncommitted %d, want %d", got, want)
	}

	for _, v := range []int16{4, 12, 16} {
		fp := b.consumerFetch(t, v, "t", 1, 0)
		if offs := batchOffsets(t, fp.RecordBatches); fp.ErrorCode != 0 || fp.HighWatermark != 5 || fp.LastStableOffset != 1 ||
			!reflect.DeepEqual(offs, []int64{0}) || fp.AbortedTransactions == nil || len(fp.AbortedTransactions) != 0 {
			t.Fatalf("v%d read_committed: %+v, batches %v", v, fp, offs)
		}
		fp = b.consumerFetch(t, v, "t", 0, 0)
		if offs := batchOffsets(t, fp.RecordBatches); fp.HighWatermark != 5 || fp.LastStableOffset != 1 ||
			!reflect.DeepEqual(offs, []int64{0, 1, 3, 4}) || fp.AbortedTransactions != nil {
			t.Fatalf("v%d read_uncommitted: %+v, batches %v", v, fp, offs)
		}
	}

	commit := markersRequest(7, 0, 0, true, markerTarget{"t", []int32{0}})
	if got := markerCodes(call[*kmsg.WriteTxnMarkersResponse](t, b.h, commit, 1)); got["t/0"] != 0 { // 5
		t.Fatalf("commit: %v", got)
	}
	if got, want := listLatest(1), int64(6); got != want {
		t.Fatalf("ListOffsets latest read_committed %d, want %d", got, want)
	}
	want := []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 8, FirstOffset: 3}}
	for _, v := range []int16{4, 12, 16} {
		fp := b.consumerFetch(t, v, "t", 1, 0)
		if offs := batchOffsets(t, fp.RecordBatches); fp.HighWatermark != 6 || fp.LastStableOffset != 6 ||
			!reflect.DeepEqual(offs, []int64{0, 1, 3, 4, 5}) || !reflect.DeepEqual(fp.AbortedTransactions, want) {
			t.Fatalf("v%d read_committed: %+v, batches %v", v, fp, offs)
		}
		// From past the aborted transaction's marker: nothing to drop.
		if fp := b.consumerFetch(t, v, "t", 1, 5); len(fp.AbortedTransactions) != 0 || fp.AbortedTransactions == nil {
			t.Fatalf("v%d read_committed from 5: %+v", v, fp.AbortedTransactions)
		}
	}
}
