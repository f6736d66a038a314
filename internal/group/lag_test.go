package group

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/record"
)

// header builds a batch header with the given timestamps and attributes.
func lagHeader(base, maxTS int64, attrs uint16) []byte {
	b := make([]byte, record.HeaderSize)
	binary.BigEndian.PutUint32(b[record.LengthOffset:], uint32(record.HeaderSize-record.LogOverhead))
	b[record.MagicOffset] = 2
	binary.BigEndian.PutUint16(b[record.AttributesOffset:], attrs)
	binary.BigEndian.PutUint64(b[record.BaseTimestampOffset:], uint64(base))
	binary.BigEndian.PutUint64(b[record.MaxTimestampOffset:], uint64(maxTS))
	return b
}

func TestBatchTimestamp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		b    []byte
		want int64
	}{
		{"CreateTime: the base timestamp", lagHeader(1000, 1500, 0), 1000},
		{"LogAppendTime: the append time", lagHeader(1000, 2000, record.AttrTimestampType), 2000},
		{"short", lagHeader(1000, 1500, 0)[:record.HeaderSize-1], -1},
		{"empty", nil, -1},
	} {
		if got := BatchTimestamp(tc.b); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestFillLag(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(10_000)
	for _, tc := range []struct {
		committed, end, ts int64
		lag                int64
		secs               float64
	}{
		{committed: 5, end: 9, ts: 7_500, lag: 4, secs: 2.5},
		{committed: 9, end: 9, ts: -1, lag: 0, secs: 0},
		{committed: 5, end: 9, ts: -1, lag: 4, secs: -1},      // the timestamp could not be read
		{committed: 5, end: -1, ts: 7_500, lag: -1, secs: -1}, // the end is unknown
		{committed: 5, end: 9, ts: 12_000, lag: 4, secs: 0},   // a timestamp in the future
		{committed: 12, end: 9, ts: -1, lag: 0, secs: 0},      // committed past the high watermark
	} {
		pl := PartitionLag{Committed: tc.committed, End: -1, Lag: -1, LagSeconds: -1}
		fillLag(&pl, tc.end, tc.ts, now)
		if pl.Lag != tc.lag || pl.LagSeconds != tc.secs {
			t.Errorf("%+v: lag %d, %v s; want %d, %v s", tc, pl.Lag, pl.LagSeconds, tc.lag, tc.secs)
		}
	}
}

// FuzzBatchTimestamp: the header of a batch fetched from another broker
// is untrusted; any bytes give a timestamp or -1, never a panic.
func FuzzBatchTimestamp(f *testing.F) {
	f.Add(lagHeader(1000, 1500, 0))
	f.Add(lagHeader(1000, 2000, record.AttrTimestampType))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = BatchTimestamp(b)
	})
}

// askRemote asks about every partition, concurrently, and leaves the ones
// whose leader failed unknown.
func TestAskRemote(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(50_000)
	var pls []*PartitionLag
	for i := range int32(20) {
		pls = append(pls, &PartitionLag{Topic: "t", Partition: i, Committed: int64(i), End: -1, Lag: -1, LagSeconds: -1})
	}
	remote := func(_ context.Context, topic string, partition int32, offset int64) (int64, int64, error) {
		if partition%5 == 0 {
			return -1, -1, errors.New("leader unreachable")
		}
		return 100, 40_000, nil
	}
	askRemote(pls, remote, now)
	for _, pl := range pls {
		want := PartitionLag{Topic: "t", Partition: pl.Partition, Committed: pl.Committed, End: 100, Lag: 100 - pl.Committed, LagSeconds: 10}
		if pl.Partition%5 == 0 {
			want.End, want.Lag, want.LagSeconds = -1, -1, -1
		}
		if *pl != want {
			t.Errorf("partition %d: %+v, want %+v", pl.Partition, *pl, want)
		}
	}
}
