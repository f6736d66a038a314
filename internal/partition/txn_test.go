package partition

import (
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/record"
)

// txnBatch is a transactional batch of producer pid with the values.
func txnBatch(t *testing.T, ts int64, pid int64, seq int32, values ...string) []byte {
	t.Helper()
	var recs []record.Record
	for i, v := range values {
		recs = append(recs, record.Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Key: []byte("k"), Value: []byte(v)})
	}
	b, err := record.BuildBatch(record.CodecNone, 0, recs, record.BuildOptions{
		ProducerID: pid, BaseSequence: seq, BaseTimestamp: ts, Attributes: record.AttrTransactional,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readOffsets reads with readCommitted from offset and returns the base
// offsets of the whole batches read and the result.
func readOffsets(t *testing.T, p *Partition, offset int64, readCommitted bool) ([]int64, ReadResult) {
	t.Helper()
	r, err := p.Read(offset, 1<<20, true, readCommitted)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Slice.Release()
	buf := make([]byte, r.Slice.Len)
	if r.Slice.Len > 0 {
		if _, err := r.Slice.File.ReadAt(buf, r.Slice.Pos); err != nil {
			t.Fatal(err)
		}
	}
	bs, err := record.SplitBatches(buf)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, b := range bs {
		h, _ := record.ParseHeader(b)
		offs = append(offs, h.BaseOffset)
	}
	return offs, r
}

func mustAppend(t *testing.T, p *Partition, b []byte, wantBase int64) {
	t.Helper()
	res, err := p.Append(b)
	if err != nil || res.BaseOffset != wantBase {
		t.Fatalf("append: %+v, %v; want base %d", res, err, wantBase)
	}
}

func mustMarker(t *testing.T, p *Partition, m record.Marker, wantBase int64) {
	t.Helper()
	res, err := p.AppendMarker(m)
	if err != nil || res.BaseOffset != wantBase || res.LastOffset != wantBase {
		t.Fatalf("marker: %+v, %v; want offset %d", res, err, wantBase)
	}
}

// TestReadCommitted: a read_committed read stops at the last stable offset
// and returns the aborted transactions among what it read; a
// read_uncommitted one reads to the high watermark and returns none; both
// report the last stable offset, as ListOffsets latest does.
func TestReadCommitted(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	p := open(t, defaults(), clk.now)
	ts := clk.now().UnixMilli()
	mustAppend(t, p, batch(t, record.CodecNone, ts, "a", "b"), 0)
	mustAppend(t, p, txnBatch(t, ts+10, 1, 0, "A1", "A2"), 2)
	mustAppend(t, p, txnBatch(t, ts, 2, 0, "B1"), 4)
	mustAppend(t, p, batch(t, record.CodecNone, ts, "c"), 5)
	mustMarker(t, p, record.Marker{ProducerID: 2, CoordinatorEpoch: 1}, 6) // B aborts
	if !p.OngoingTxn(1) || p.OngoingTxn(2) {
		t.Fatalf("ongoing: 1 %v, 2 %v", p.OngoingTxn(1), p.OngoingTxn(2))
	}
	if hw, lso := p.HighWatermark(), p.LastStableOffset(); hw != 7 || lso != 2 {
		t.Fatalf("high watermark %d, last stable offset %d; want 7, 2", hw, lso)
	}
	offs, r := readOffsets(t, p, 0, true)
	if !reflect.DeepEqual(offs, []int64{0}) || r.HighWatermark != 7 || r.LastStableOffset != 2 || r.Aborted != nil {
		t.Fatalf("read_committed: batches %v, %+v", offs, r)
	}
	if offs, r := readOffsets(t, p, 2, true); len(offs) != 0 || r.LastStableOffset != 2 {
		t.Fatalf("read_committed at the last stable offset: %v, %+v", offs, r)
	}
	offs, r = readOffsets(t, p, 0, false)
	if !reflect.DeepEqual(offs, []int64{0, 2, 4, 5, 6}) || r.LastStableOffset != 2 || r.Aborted != nil {
		t.Fatalf("read_uncommitted: batches %v, %+v", offs, r)
	}
	for _, tc := range []struct {
		committed bool
		want      int64
	}{{false, 7}, {true, 2}} {
		if off, ts, err := p.ListOffset(-1, tc.committed); err != nil || off != tc.want || ts != -1 {
			t.Fatalf("ListOffset(latest, read_committed %v) = %d, %d, %v; want %d", tc.committed, off, ts, err, tc.want)
		}
	}
	// A record found by timestamp past the last stable offset is not
	// answered to read_committed.
	if off, _, err := p.ListOffset(ts+10, true); err != nil || off != -1 {
		t.Fatalf("ListOffset(ts, read_committed) = %d, %v; want -1", off, err)
	}
	if off, _, err := p.ListOffset(ts+10, false); err != nil || off != 2 {
		t.Fatalf("ListOffset(ts) = %d, %v; want 2", off, err)
	}

	mustMarker(t, p, record.Marker{ProducerID: 1, CoordinatorEpoch: 1, Commit: true}, 7) // A commits
	if lso := p.LastStableOffset(); lso != 8 {
		t.Fatalf("last stable offset %d, want 8", lso)
	}
	aborted := []log.AbortedTxn{{ProducerID: 2, FirstOffset: 4, LastOffset: 6, LastStableOffset: 2}}
	offs, r = readOffsets(t, p, 0, true)
	if !reflect.DeepEqual(offs, []int64{0, 2, 4, 5, 6, 7}) || !reflect.DeepEqual(r.Aborted, aborted) {
		t.Fatalf("read_committed: batches %v, aborted %+v", offs, r.Aborted)
	}
	if _, r = readOffsets(t, p, 5, true); !reflect.DeepEqual(r.Aborted, aborted) {
		t.Fatalf("read_committed from 5: aborted %+v", r.Aborted)
	}
	if _, r = readOffsets(t, p, 7, true); r.Aborted != nil {
		t.Fatalf("read_committed from 7: aborted %+v", r.Aborted)
	}
}

// TestLastStableOffsetWaitsForReplication: a marker ends its transaction
// for readers only once the high watermark passes it, and the last stable
// offset moves with the high watermark, waking its waiters.
func TestLastStableOffsetWaitsForReplication(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	mustLead(t, p, 1, []int32{1, 2}, []int32{1, 2}, 0)
	ts := clk.now().UnixMilli()
	mustAppend(t, p, txnBatch(t, ts, 7, 0, "x", "y"), 0)
	p.UpdateFollower(2, 2, clk.now())
	res, err := p.AppendMarker(record.Marker{ProducerID: 7, Commit: true, Timestamp: 5})
	if err != nil || res.BaseOffset != 2 {
		t.Fatalf("marker: %+v, %v", res, err)
	}
	if hw, lso := p.HighWatermark(), p.LastStableOffset(); hw != 2 || lso != 0 {
		t.Fatalf("high watermark %d, last stable offset %d; want 2, 0", hw, lso)
	}
	if done, _ := p.Committed(res.LeaderEpoch, res.LastOffset); done {
		t.Fatal("marker committed before the follower fetched it")
	}
	wake := make(chan struct{}, 1)
	defer p.AddWaiter(wake)()
	p.UpdateFollower(2, 3, clk.now())
	select {
	case <-wake:
	default:
		t.Fatal("waiter not woken")
	}
	if hw, lso := p.HighWatermark(), p.LastStableOffset(); hw != 3 || lso != 3 {
		t.Fatalf("high watermark %d, last stable offset %d; want 3, 3", hw, lso)
	}
	if done, err := p.Committed(res.LeaderEpoch, res.LastOffset); !done || err != nil {
		t.Fatalf("marker committed: %v, %v", done, err)
	}
}

// TestAppendMarkerErrors: a marker is refused with Kafka's codes, and
// nothing is appended.
func TestAppendMarkerErrors(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	cfg := defaults()
	cfg.MinInsyncReplicas = 2
	p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, cfg, clk)
	m := record.Marker{ProducerID: 3, ProducerEpoch: 1, CoordinatorEpoch: 4, Commit: true}
	if _, err := p.AppendMarker(m); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("no role: %v", err)
	}
	p.MakeFollower(1, 2, 0)
	if _, err := p.AppendMarker(m); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("follower: %v", err)
	}
	mustLead(t, p, 2, []int32{1}, []int32{1, 2}, 1)
	if _, err := p.AppendMarker(m); !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("ISR under min.insync.replicas: %v", err)
	}
	p.SetISR([]int32{1, 2}, 2)
	if _, err := p.AppendMarker(m); err != nil {
		t.Fatal(err)
	}
	stale := m
	stale.CoordinatorEpoch = 3
	if _, err := p.AppendMarker(stale); !errors.Is(err, kerr.TransactionCoordinatorFenced) {
		t.Fatalf("older coordinator: %v", err)
	}
	stale = m
	stale.ProducerEpoch = 0
	if _, err := p.AppendMarker(stale); !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("older producer epoch: %v", err)
	}
	// A plain idempotent batch of a producer inside a transaction.
	mustAppendAt := func(b []byte) error { _, err := p.Append(b); return err }
	if err := mustAppendAt(txnBatch(t, clk.now().UnixMilli(), 9, 0, "t")); err != nil {
		t.Fatal(err)
	}
	b, err := record.BuildBatch(record.CodecNone, 0, []record.Record{{Value: []byte("p")}}, record.BuildOptions{
		ProducerID: 9, BaseSequence: 1, BaseTimestamp: clk.now().UnixMilli(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mustAppendAt(b); !errors.Is(err, kerr.InvalidTxnState) {
		t.Fatalf("non-transactional batch inside a transaction: %v", err)
	}
	if p.LogEndOffset() != 2 {
		t.Fatalf("log end %d, want 2", p.LogEndOffset())
	}
}

// TestFollowerTruncationReopensTxn: a follower that truncates a marker it
// replicated has the transaction open again.
func TestFollowerTruncationReopensTxn(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	leader := open(t, defaults(), clk.now)
	ts := clk.now().UnixMilli()
	mustAppend(t, leader, txnBatch(t, ts, 4, 0, "a"), 0)
	mustMarker(t, leader, record.Marker{ProducerID: 4}, 1)
	f := replica(t, t.TempDir(), ReplicaOptions{LocalID: 2, HighWatermark: -1}, defaults(), clk)
	f.MakeFollower(0, 1, 0)
	if _, err := f.AppendReplicated(0, leaderBytes(t, leader)); err != nil {
		t.Fatal(err)
	}
	if f.OngoingTxn(4) {
		t.Fatal("replicated marker left the transaction open")
	}
	if err := f.SetFollowerHW(1); err != nil {
		t.Fatal(err)
	}
	if lso := f.LastStableOffset(); lso != 0 {
		t.Fatalf("follower last stable offset %d, want 0", lso)
	}
	if err := f.TruncateTo(1); err != nil {
		t.Fatal(err)
	}
	if !f.OngoingTxn(4) {
		t.Fatal("truncated marker did not reopen the transaction")
	}
	if off, ok := f.FirstUnstableOffset(); !ok || off != 0 {
		t.Fatalf("first unstable offset %d, %v", off, ok)
	}
}
