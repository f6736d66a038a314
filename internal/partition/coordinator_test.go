package partition

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/record"
)

// TestAppendAsLeader: a coordinator's append lands only in the leader
// epoch it names; any other epoch, or a replica that does not lead, is
// NOT_LEADER_OR_FOLLOWER with nothing appended.
func TestAppendAsLeader(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	b := func() []byte { return batch(t, record.CodecNone, clk.now().UnixMilli(), "x") }
	if _, err := p.AppendAsLeader(0, b(), -1); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("before any role: %v", err)
	}
	mustLead(t, p, 3, []int32{1, 2}, []int32{1, 2}, 0)
	res, err := p.AppendAsLeader(3, b(), -1)
	if err != nil || res.BaseOffset != 0 || res.LeaderEpoch != 3 {
		t.Fatalf("epoch 3: %+v, %v", res, err)
	}
	for _, epoch := range []int32{2, 4} {
		if _, err := p.AppendAsLeader(epoch, b(), -1); !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("epoch %d on a leader of 3: %v", epoch, err)
		}
	}
	if _, err := p.AppendAsLeader(-1, b(), -1); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("no epoch: %v", err)
	}
	if p.LogEndOffset() != 1 {
		t.Fatalf("log end %d, want 1", p.LogEndOffset())
	}
	// Not committed until the follower fetched past it.
	if done, err := p.Committed(3, 0); done {
		t.Fatalf("committed before the follower fetched: %v", err)
	}
	p.UpdateFollower(2, 1, clk.now())
	if done, err := p.Committed(3, 0); !done || err != nil {
		t.Fatalf("after the fetch: %v, %v", done, err)
	}
	mustLead(t, p, 4, []int32{1, 2}, []int32{1, 2}, 1)
	if done, err := p.Committed(3, 0); !done || !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("epoch 3 after epoch 4 began: %v, %v", done, err)
	}
	if _, err := p.AppendAsLeader(3, b(), -1); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("epoch 3 after epoch 4 began: %v", err)
	}
	p.MakeFollower(5, 2, 2)
	if _, err := p.AppendAsLeader(5, b(), -1); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("on a follower: %v", err)
	}
	if p.LogEndOffset() != 1 {
		t.Fatalf("log end %d, want 1", p.LogEndOffset())
	}
}

// idemBatch is a batch of n records of idempotent producer pid, epoch 0,
// starting at sequence seq.
func idemBatch(t *testing.T, ts int64, pid int64, seq int32, n int) []byte {
	t.Helper()
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{OffsetDelta: int32(i), Key: []byte("k"), Value: []byte("v")}
	}
	b, err := record.BuildBatch(record.CodecNone, 0, recs, record.BuildOptions{ProducerID: pid, ProducerEpoch: 0, BaseSequence: seq, BaseTimestamp: ts})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIdempotenceAcrossLeaderChange: a follower builds the producer state
// from the batches it replicates, so once it leads, a retry of any of the
// producer's last five batches is answered with its original offsets
// (nothing appended), a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER, and
// the next batch in sequence is appended.
func TestIdempotenceAcrossLeaderChange(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	ts := clk.now().UnixMilli()
	leader := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	mustLead(t, leader, 1, []int32{1, 2}, []int32{1, 2}, 0)
	const pid = 42
	var orig []AppendResult // batches of 3 records: sequences 0-2, 3-5, ...
	for i := range 6 {
		res, err := leader.AppendAcks(idemBatch(t, ts, pid, int32(3*i), 3), -1)
		if err != nil {
			t.Fatal(err)
		}
		orig = append(orig, res)
	}
	f := replica(t, t.TempDir(), ReplicaOptions{LocalID: 2, HighWatermark: -1}, defaults(), clk)
	f.MakeFollower(1, 1, 0)
	if _, err := f.AppendReplicated(1, leaderBytes(t, leader)); err != nil {
		t.Fatal(err)
	}
	// The leader dies; the follower leads in epoch 2.
	mustLead(t, f, 2, []int32{2}, []int32{1, 2}, 1)
	end := f.LogEndOffset()
	for i := 1; i < 6; i++ { // the last five batches
		res, err := f.AppendAcks(idemBatch(t, ts, pid, int32(3*i), 3), -1)
		if err != nil || !res.Duplicate || res.BaseOffset != orig[i].BaseOffset || res.LastOffset != orig[i].LastOffset {
			t.Fatalf("retry of batch %d: %+v, %v; want duplicate at [%d, %d]", i, res, err, orig[i].BaseOffset, orig[i].LastOffset)
		}
	}
	if _, err := f.AppendAcks(idemBatch(t, ts, pid, 19, 3), -1); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("sequence 19 after 17: %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", err)
	}
	if f.LogEndOffset() != end {
		t.Fatalf("log end %d after retries, want %d", f.LogEndOffset(), end)
	}
	res, err := f.AppendAcks(idemBatch(t, ts, pid, 18, 3), -1)
	if err != nil || res.Duplicate || res.BaseOffset != end {
		t.Fatalf("next batch: %+v, %v; want appended at %d", res, err, end)
	}
}

// A coordinator's transactional batch carries a producer id and no
// sequence (Kafka's TxnOffsetCommit records); a client's may not.
func TestAppendAsLeaderNoSequence(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	mustLead(t, p, 3, []int32{1}, []int32{1}, 0)
	b := func() []byte {
		data, err := record.BuildBatch(record.CodecNone, 0, []record.Record{{Key: []byte("k"), Value: []byte("v")}},
			record.BuildOptions{ProducerID: 9, ProducerEpoch: 2, BaseSequence: record.NoSequence, Attributes: record.AttrTransactional, BaseTimestamp: clk.now().UnixMilli()})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if _, err := p.AppendAcks(b(), 1); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("client batch without sequence: %v, want INVALID_RECORD", err)
	}
	for i := range 2 {
		res, err := p.AppendAsLeader(3, b(), -1)
		if err != nil || res.BaseOffset != int64(i) {
			t.Fatalf("coordinator batch %d: %+v, %v", i, res, err)
		}
	}
}
