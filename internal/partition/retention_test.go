package partition

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/record"
)

// retained opens a partition whose segments hold two one-record batches
// of the given timestamp each, with cleanup.policy delete unless compact.
func retained(t *testing.T, now time.Time, batches int, compact bool) *Partition {
	t.Helper()
	one := int64(len(batch(t, record.CodecNone, now.UnixMilli(), "v")))
	cfg := defaults()
	cfg.Log.SegmentBytes = 2 * one
	cfg.Delete, cfg.Compact = !compact, compact
	cfg.RetentionMs, cfg.RetentionBytes = -1, -1
	p := open(t, cfg, func() time.Time { return now })
	for range batches {
		if _, err := p.Append(batch(t, record.CodecNone, now.UnixMilli(), "v")); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestDeleteRecords: the log start moves to the offset asked for (-1: the
// high watermark), never back and never past the high watermark, and
// reads and ListOffsets earliest follow it; a compacted topic refuses.
func TestDeleteRecords(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_000)
	p := retained(t, now, 6, false)
	for _, tc := range []struct {
		offset, low int64
		err         error
		start       int64 // the log start after it
	}{
		{offset: 3, low: 3, start: 3},
		{offset: 1, low: 3, start: 3}, // never back
		{offset: 7, low: -1, err: kerr.OffsetOutOfRange, start: 3},
		{offset: -2, low: -1, err: kerr.OffsetOutOfRange, start: 3},
		{offset: 5, low: 5, start: 5},
		{offset: -1, low: 6, start: 6},
	} {
		low, err := p.DeleteRecords(tc.offset)
		if low != tc.low || !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Fatalf("DeleteRecords(%d): %d, %v; want %d, %v", tc.offset, low, err, tc.low, tc.err)
		}
		want := tc.start
		if got, _, err := p.ListOffset(-2, false); err != nil || got != want {
			t.Fatalf("after DeleteRecords(%d): earliest %d, %v; want %d", tc.offset, got, err, want)
		}
		if _, err := p.Read(want-1, 1<<20, true, false); !errors.Is(err, kerr.OffsetOutOfRange) {
			t.Fatalf("after DeleteRecords(%d): read below the start: %v, want OFFSET_OUT_OF_RANGE", tc.offset, err)
		}
	}
	if r, err := p.Read(6, 1<<20, true, false); err != nil || r.Slice.Len != 0 || r.LogStartOffset != 6 {
		t.Fatalf("read at the start, which is the end: %+v, %v", r, err)
	}

	c := retained(t, now, 2, true)
	if low, err := c.DeleteRecords(1); low != -1 || !errors.Is(err, kerr.PolicyViolation) {
		t.Fatalf("DeleteRecords on a compacted topic: %d, %v; want -1, POLICY_VIOLATION", low, err)
	}
	if c.LogStartOffset() != 0 {
		t.Fatalf("compacted topic's log start moved to %d", c.LogStartOffset())
	}
}

// TestDeleteOldSegmentsFollowsPolicy: retention runs with the partition's
// current config, only under cleanup.policy delete.
func TestDeleteOldSegmentsFollowsPolicy(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_000)
	p := retained(t, now, 5, true) // segments 0, 2, 4
	cfg := *p.Config()
	cfg.RetentionBytes = 0
	p.SetConfig(cfg)
	if n, err := p.DeleteOldSegments(now); n != 0 || err != nil {
		t.Fatalf("compact only: deleted %d, %v; want 0", n, err)
	}
	cfg.Delete = true
	p.SetConfig(cfg)
	// retention.bytes 0 takes every segment, the active one by a roll.
	if n, err := p.DeleteOldSegments(now); n != 3 || err != nil || p.LogStartOffset() != 5 {
		t.Fatalf("compact,delete: deleted %d, %v, start %d; want 3, 5", n, err, p.LogStartOffset())
	}
}
