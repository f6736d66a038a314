package retention

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// expectOutOfRange fetches at offset and wants OFFSET_OUT_OF_RANGE.
func expectOutOfRange(ctx context.Context, t testing.TB, f *fetcher, offset int64) {
	t.Helper()
	p, err := f.fetch(ctx, offset, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(p.ErrorCode); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("fetch at %d: error %v, want OFFSET_OUT_OF_RANGE", offset, err)
	}
}

// readRange fetches from offset from to the high watermark hw in small
// steps, checking every batch, and that each response reports logStart as
// the log start offset.
func readRange(ctx context.Context, t testing.TB, f *fetcher, from, hw, logStart int64) {
	t.Helper()
	for off := from; off < hw; {
		p, err := f.fetch(ctx, off, 1024)
		if err == nil {
			err = kerr.ErrorForCode(p.ErrorCode)
		}
		if err != nil {
			t.Fatalf("fetch at %d: %v", off, err)
		}
		if p.HighWatermark != hw || p.LogStartOffset != logStart {
			t.Fatalf("fetch at %d: high watermark %d, log start %d; want %d, %d", off, p.HighWatermark, p.LogStartOffset, hw, logStart)
		}
		next, n, err := checkBatches(p.RecordBatches, off)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("fetch at %d below the high watermark %d: no batch", off, hw)
		}
		off = next
	}
}

// TestRetentionByTime: once retention.ms is set, the closed segments whose
// newest record is older go within a few check intervals, oldest first,
// and the log start moves to the first that stays; fetching below it is
// OFFSET_OUT_OF_RANGE. With every record past retention.ms, the active
// segment goes too, as in Kafka: the log rolls, and the log start moves to
// the log end.
func TestRetentionByTime(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := cluster.Start(t, fast...)
	c := newClient(t, b)
	const topic = "by-time"
	// Retention starts off, so the layout can be read before it acts.
	c.createTopic(ctx, t, topic, 1, map[string]string{"segment.bytes": "1024", "retention.ms": "-1"})
	const old, recent = 40, 20
	c.produce(ctx, t, topic, 0, old, time.Now().Add(-2*time.Hour))
	c.produce(ctx, t, topic, 0, recent, time.Now())
	const hw = old + recent
	before := mustLayout(t, b.Dir, topic, 0)
	t.Logf("before retention: %v", before)
	if len(before.bases) < 6 {
		t.Fatalf("%v: want at least 6 segments of 1024 bytes", before)
	}
	// The segment holding the first recent record has a recent newest
	// timestamp: it stays, with every segment after it.
	keep := int64(0)
	for _, base := range before.bases {
		if base <= old {
			keep = base
		}
	}
	if keep == 0 {
		t.Fatalf("%v: no segment wholly of old records", before)
	}

	c.setConfig(ctx, t, topic, "retention.ms", "3600000")
	want := before.from(keep)
	waitFor(ctx, t, "retention.ms to delete the old segments", func() (bool, string) {
		l, err := readLayout(b.Dir, topic, 0)
		if err != nil {
			return false, err.Error()
		}
		return l.equal(want), l.String()
	})
	if got := c.startOffset(ctx, t, topic, 0); got != keep {
		t.Fatalf("earliest offset %d, want %d", got, keep)
	}
	f := c.fetcher(ctx, t, topic, 0)
	expectOutOfRange(ctx, t, f, 0)
	expectOutOfRange(ctx, t, f, keep-1)
	readRange(ctx, t, f, keep, hw, keep)

	// Every record is now past retention.ms: the active segment goes
	// too, by a roll, and one empty segment at the log end is left.
	c.setConfig(ctx, t, topic, "retention.ms", "1")
	everythingGone(ctx, t, b, c, f, topic, hw)
}

// everythingGone waits for retention to have deleted every record of
// topic's partition 0, the active segment's too: one empty segment at the
// log end hw is left, and stays (an empty active segment is not rolled
// again); the log start is hw, and below it is out of range. Then, with
// retention off, the partition takes a record at hw.
func everythingGone(ctx context.Context, t *testing.T, b *cluster.Broker, c *client, f *fetcher, topic string, hw int64) {
	t.Helper()
	want := layout{bases: []int64{hw}, sizes: []int64{0}}
	empty := func() (bool, string) {
		l, err := readLayout(b.Dir, topic, 0)
		if err != nil {
			return false, err.Error()
		}
		return l.equal(want), l.String()
	}
	waitFor(ctx, t, "retention to delete every segment, the active one too", empty)
	holds(ctx, t, time.Second, "the empty active segment (10 retention checks)", empty)
	if start, end, err := c.offsets(ctx, topic, 0); err != nil || start != hw || end != hw {
		t.Fatalf("earliest and latest offsets %d, %d (%v); want %d, %d", start, end, err, hw, hw)
	}
	expectOutOfRange(ctx, t, f, hw-1)
	p, err := f.fetch(ctx, hw, 1<<20)
	if err != nil || p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.LogStartOffset != hw || p.HighWatermark != hw {
		t.Fatalf("fetch at the log end %d: error %v, code %d, %d bytes, log start %d, high watermark %d; want no error, no bytes, %d, %d",
			hw, err, p.ErrorCode, len(p.RecordBatches), p.LogStartOffset, p.HighWatermark, hw, hw)
	}

	c.setConfig(ctx, t, topic, "retention.ms", "-1")
	c.setConfig(ctx, t, topic, "retention.bytes", "-1")
	c.produce(ctx, t, topic, 0, 1, time.Now())
	readRange(ctx, t, f, hw, hw+1, hw)
}

// TestRetentionBySize: once retention.bytes is set, the oldest segments go
// while the partition without them would still hold at least
// retention.bytes (Kafka's rule), and DescribeLogDirs reports the size
// left. With retention.bytes 0 the active segment goes too, as in Kafka.
func TestRetentionBySize(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := cluster.Start(t, fast...)
	c := newClient(t, b)
	const topic = "by-size"
	c.createTopic(ctx, t, topic, 1, map[string]string{"segment.bytes": "1024", "retention.bytes": "-1"})
	const hw = 60
	// Timestamps an hour ahead: retention.ms (7 days by default) keeps
	// everything, so only the size can delete.
	c.produce(ctx, t, topic, 0, hw, time.Now().Add(time.Hour))
	before := mustLayout(t, b.Dir, topic, 0)
	t.Logf("before retention: %v", before)

	const limit = 3000
	total, n := int64(0), 0
	for _, s := range before.sizes {
		total += s
	}
	for n+1 < len(before.bases) && total-before.sizes[n] >= limit {
		total -= before.sizes[n]
		n++
	}
	if n < 2 {
		t.Fatalf("%v: retention.bytes %d would delete %d segments, want at least 2", before, limit, n)
	}
	keep := before.bases[n]

	c.setConfig(ctx, t, topic, "retention.bytes", "3000")
	want := before.from(keep)
	waitFor(ctx, t, "retention.bytes to delete the oldest segments", func() (bool, string) {
		l, err := readLayout(b.Dir, topic, 0)
		if err != nil {
			return false, err.Error()
		}
		return l.equal(want), l.String()
	})
	if got := c.startOffset(ctx, t, topic, 0); got != keep {
		t.Fatalf("earliest offset %d, want %d", got, keep)
	}
	dirs, err := c.adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 1 {
		t.Fatalf("log dirs of %d brokers, want 1", len(dirs))
	}
	for _, d := range dirs {
		if p, ok := d.LookupPartition(topic, 0); !ok || p.Size != total {
			t.Fatalf("DescribeLogDirs: size %d (found %v), want %d", p.Size, ok, total)
		}
	}
	f := c.fetcher(ctx, t, topic, 0)
	expectOutOfRange(ctx, t, f, keep-1)
	readRange(ctx, t, f, keep, hw, keep)

	c.setConfig(ctx, t, topic, "retention.bytes", "0")
	everythingGone(ctx, t, b, c, f, topic, hw)
}
