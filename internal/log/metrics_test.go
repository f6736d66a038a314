package log

import (
	"testing"
	"time"
)

// OnFlush is told of each successful Flush, and SegmentCount follows the
// rolls.
func TestFlushHookAndSegmentCount(t *testing.T) {
	t.Parallel()
	var flushes []time.Duration
	l, err := Open(t.TempDir(), Options{Config: Config{SegmentBytes: 1}, Logger: quietLogger, Now: newClock().now,
		OnFlush: func(d time.Duration) { flushes = append(flushes, d) }})
	if err != nil {
		t.Fatal(err)
	}
	defer mustClose(t, l)
	if got := l.SegmentCount(); got != 1 {
		t.Fatalf("SegmentCount of an empty log = %d, want 1", got)
	}
	mustAppend(t, l, buildBatch(spec{records: 2}))
	mustAppend(t, l, buildBatch(spec{records: 2}))
	mustAppend(t, l, buildBatch(spec{records: 2}))
	// segment.bytes=1: every batch after the first rolls a new segment.
	if got := l.SegmentCount(); got != 3 {
		t.Fatalf("SegmentCount after three batches with segment.bytes=1 = %d, want 3", got)
	}
	before := len(flushes)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := len(flushes) - before; got != 1 {
		t.Fatalf("Flush reported %d times, want 1", got)
	}
	if d := flushes[len(flushes)-1]; d < 0 {
		t.Fatalf("flush took %v", d)
	}
}
