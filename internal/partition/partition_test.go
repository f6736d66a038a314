package partition

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/record"
)

func open(t *testing.T, cfg Config, now func() time.Time) *Partition {
	t.Helper()
	p, err := Open(t.TempDir(), "t", 0, 0, cfg, log.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func defaults() Config {
	return Config{MaxMessageBytes: 1 << 20, TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: 3600_000, MinInsyncReplicas: 1}
}

func batch(t *testing.T, codec int, ts int64, values ...string) []byte {
	t.Helper()
	var recs []record.Record
	for i, v := range values {
		recs = append(recs, record.Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Key: []byte("k"), Value: []byte(v)})
	}
	b, err := record.BuildBatch(codec, 0, recs, record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: ts})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stored reads back every batch of the partition.
func stored(t *testing.T, p *Partition) [][]byte {
	t.Helper()
	r, err := p.Read(0, 1<<30, true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Slice.Release()
	buf := make([]byte, r.Slice.Len)
	if _, err := r.Slice.File.ReadAt(buf, r.Slice.Pos); err != nil {
		t.Fatal(err)
	}
	bs, err := record.SplitBatches(buf)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func TestAppendMovesHighWatermarkAndWakesWaiters(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_000)
	p := open(t, defaults(), func() time.Time { return now })
	wake := make(chan struct{}, 1)
	defer p.AddWaiter(wake)()
	res, err := p.Append(batch(t, record.CodecNone, now.UnixMilli(), "a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	if res.BaseOffset != 0 || res.LastOffset != 2 || p.HighWatermark() != 3 || p.LogEndOffset() != 3 {
		t.Fatalf("result %+v, hw %d, leo %d", res, p.HighWatermark(), p.LogEndOffset())
	}
	select {
	case <-wake:
	default:
		t.Fatal("waiter not woken by the append")
	}
	if _, err := p.Read(4, 100, true, false); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read past the end: %v, want OFFSET_OUT_OF_RANGE", err)
	}
	r, err := p.Read(3, 100, true, false)
	if err != nil || r.Slice.Len != 0 || r.HighWatermark != 3 {
		t.Fatalf("read at the end: %+v, %v", r, err)
	}
}

func TestCompressionTypeRecompresses(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_000)
	for _, tc := range []struct {
		compressionType string
		sent, want      int
	}{
		{"producer", record.CodecSnappy, record.CodecSnappy},
		{"", record.CodecLZ4, record.CodecLZ4},
		{"gzip", record.CodecNone, record.CodecGzip},
		{"zstd", record.CodecGzip, record.CodecZstd},
		{"uncompressed", record.CodecZstd, record.CodecNone},
	} {
		cfg := defaults()
		cfg.CompressionType = tc.compressionType
		p := open(t, cfg, func() time.Time { return now })
		if _, err := p.Append(batch(t, tc.sent, now.UnixMilli(), "x", "y")); err != nil {
			t.Fatalf("%s: %v", tc.compressionType, err)
		}
		bs := stored(t, p)
		h, recs, err := record.ReadRecords(bs[0], 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) != 1 || h.Codec() != tc.want || len(recs) != 2 || string(recs[1].Value) != "y" || h.BaseTimestamp != now.UnixMilli() {
			t.Fatalf("%s: stored %d batches, codec %d (want %d), records %+v", tc.compressionType, len(bs), h.Codec(), tc.want, recs)
		}
		if _, err := record.Validate(bs[0], record.ValidateOptions{MaxDecompressedBytes: 1 << 20}); err != nil {
			t.Fatalf("%s: stored batch does not validate: %v", tc.compressionType, err)
		}
	}
}

func TestTimestampBoundsAndLogAppendTime(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_000)
	clock := func() time.Time { return now }
	cfg := defaults()
	cfg.TimestampBeforeMaxMs = 60_000
	p := open(t, cfg, clock)
	if _, err := p.Append(batch(t, record.CodecNone, now.UnixMilli()-120_000, "old")); !errors.Is(err, kerr.InvalidTimestamp) {
		t.Fatalf("old timestamp: %v, want INVALID_TIMESTAMP", err)
	}
	if _, err := p.Append(batch(t, record.CodecNone, now.UnixMilli()+2*3600_000, "future")); !errors.Is(err, kerr.InvalidTimestamp) {
		t.Fatalf("future timestamp: %v, want INVALID_TIMESTAMP", err)
	}
	if p.LogEndOffset() != 0 {
		t.Fatalf("refused batches appended: leo %d", p.LogEndOffset())
	}

	cfg = defaults()
	cfg.LogAppendTime = true
	p = open(t, cfg, clock)
	res, err := p.Append(batch(t, record.CodecNone, 5, "ancient but fine"))
	if err != nil || res.LogAppendTime != now.UnixMilli() {
		t.Fatalf("LogAppendTime append: %+v, %v", res, err)
	}
	off, ts, err := p.ListOffset(now.UnixMilli(), false)
	if err != nil || off != 0 || ts != now.UnixMilli() {
		t.Fatalf("ListOffset(now) = %d, %d, %v; want 0, %d", off, ts, err, now.UnixMilli())
	}
}

func TestListOffsetSpecials(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_000)
	p := open(t, defaults(), func() time.Time { return now })
	base := now.UnixMilli() - 10_000
	// Timestamps base, base+1 | base+100 (the max, in the middle) | base+50.
	if _, err := p.Append(batch(t, record.CodecNone, base, "a", "b")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(batch(t, record.CodecNone, base+100, "c")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(batch(t, record.CodecNone, base+50, "d")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ts, off, gotTS int64
	}{
		{-1, 4, -1},
		{-2, 0, -1},
		{-4, 0, -1},
		{-3, 2, base + 100},
		{base - 1, 0, base},
		{base + 1, 1, base + 1},
		{base + 2, 2, base + 100},
		{base + 101, -1, -1},
	} {
		off, ts, err := p.ListOffset(tc.ts, false)
		if err != nil || off != tc.off || ts != tc.gotTS {
			t.Errorf("ListOffset(%d) = %d, %d, %v; want %d, %d", tc.ts, off, ts, err, tc.off, tc.gotTS)
		}
	}
}

// TestHighWatermarkWaitsForFlushPolicy: with flush.messages=1 a deferred
// append is not committed (nor visible to read_committed-by-HW readers)
// until its fsync, which FlushTo runs and which moves the high watermark.
func TestHighWatermarkWaitsForFlushPolicy(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_000)
	cfg := defaults()
	cfg.Log.FlushMessages = 1
	p := open(t, cfg, func() time.Time { return now })
	res, err := p.AppendDeferFlush(batch(t, record.CodecNone, now.UnixMilli(), "a", "b"), 1)
	if err != nil || !res.FlushDue {
		t.Fatalf("deferred append: %+v, %v", res, err)
	}
	if p.HighWatermark() != 0 || p.LogEndOffset() != 2 {
		t.Fatalf("before the fsync: hw %d, leo %d; want 0, 2", p.HighWatermark(), p.LogEndOffset())
	}
	wake := make(chan struct{}, 1)
	defer p.AddWaiter(wake)()
	if err := p.FlushTo(res.LastOffset + 1); err != nil {
		t.Fatal(err)
	}
	if p.HighWatermark() != 2 {
		t.Fatalf("after the fsync: hw %d, want 2", p.HighWatermark())
	}
	select {
	case <-wake:
	default:
		t.Fatal("waiter not woken by the high watermark's move")
	}
	// AppendAcks runs the policy's fsync itself.
	res, err = p.AppendAcks(batch(t, record.CodecNone, now.UnixMilli(), "c"), 1)
	if err != nil || res.FlushDue || p.HighWatermark() != 3 {
		t.Fatalf("AppendAcks: %+v, %v, hw %d; want hw 3", res, err, p.HighWatermark())
	}
}
