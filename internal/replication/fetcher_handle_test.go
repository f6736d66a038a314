package replication

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/record"
)

// leaderBatch is a batch as a leader stored it: two records at base in
// leader epoch epoch.
func leaderBatch(t *testing.T, base int64, epoch int32) []byte {
	t.Helper()
	b, err := record.BuildBatch(record.CodecNone, base, []record.Record{{Value: []byte("a")}, {OffsetDelta: 1, Value: []byte("b")}},
		record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: time.Now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	record.SetPartitionLeaderEpoch(b, epoch)
	return b
}

// TestFetcherHandle drives one follower through a fetcher's answers: a
// DivergingEpoch cuts the log back to where it left the leader's, records
// are appended and the leader's high watermark taken, and a leadership
// error is returned for the fetcher to back off.
func TestFetcherHandle(t *testing.T) {
	t.Parallel()
	cfg := partition.Config{MaxMessageBytes: 1 << 20, TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64,
		MinInsyncReplicas: 1, Delete: true, RetentionMs: -1, RetentionBytes: -1}
	p, err := partition.OpenReplica(t.TempDir(), "t", 0, cfg, partition.ReplicaOptions{LocalID: 2, HighWatermark: -1},
		log.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// As follower of epochs 0 and 1 it got offsets 0-1 (epoch 0) and 2-3
	// (epoch 1, which the new leader never had).
	p.MakeFollower(1, 1, 0)
	for _, b := range [][]byte{leaderBatch(t, 0, 0), leaderBatch(t, 2, 1)} {
		if _, err := p.AppendReplicated(1, b); err != nil {
			t.Fatal(err)
		}
	}
	p.MakeFollower(2, 1, 1)
	f := &fetcher{log: slog.New(slog.DiscardHandler), parts: map[log.TopicPartition]*fetchPart{}}
	tp := log.TopicPartition{Topic: "t", Partition: 0}
	fp := &fetchPart{part: p, epoch: 2}
	ctx := context.Background()

	// The leader's answer to LastFetchedEpoch 1: its epoch 0 ends at 2.
	rp := kmsg.NewFetchResponseTopicPartition()
	rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = 0, 2
	rp.HighWatermark = 2
	if err := f.handle(ctx, nil, tp, fp, &rp); err != nil {
		t.Fatal(err)
	}
	if p.LogEndOffset() != 2 || p.LatestEpoch() != 0 {
		t.Fatalf("after divergence: log end %d, latest epoch %d; want 2, 0", p.LogEndOffset(), p.LatestEpoch())
	}

	// The same answer again cuts nothing: backed off, not spinning.
	if err := f.handle(ctx, nil, tp, fp, &rp); err == nil {
		t.Fatal("a divergence that changes nothing: no error")
	}

	// Records of the new epoch, and the leader's high watermark.
	rp = kmsg.NewFetchResponseTopicPartition()
	rp.RecordBatches = leaderBatch(t, 2, 2)
	rp.HighWatermark, rp.LogStartOffset = 3, 2 // DeleteRecords on the leader
	if err := f.handle(ctx, nil, tp, fp, &rp); err != nil {
		t.Fatal(err)
	}
	if p.LogEndOffset() != 4 || p.LatestEpoch() != 2 || p.HighWatermark() != 3 || p.LogStartOffset() != 2 {
		t.Fatalf("after append: log end %d, latest epoch %d, high watermark %d, log start %d; want 4, 2, 3, 2",
			p.LogEndOffset(), p.LatestEpoch(), p.HighWatermark(), p.LogStartOffset())
	}

	// The leader moved on: the error is returned (the fetcher backs off).
	rp = kmsg.NewFetchResponseTopicPartition()
	rp.ErrorCode = kerr.FencedLeaderEpoch.Code
	if err := f.handle(ctx, nil, tp, fp, &rp); !errors.Is(err, kerr.FencedLeaderEpoch) {
		t.Fatalf("fenced: %v", err)
	}
}
