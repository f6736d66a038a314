package log

import (
	"testing"
	"time"
)

// TestFlushMsWallClockJumps pins down what flush.ms does when the wall
// clock jumps (docs/reliability.md): the log measures the age of
// unflushed data in wall-clock milliseconds, as Kafka does, so a jump
// forward flushes early (harmless) and a jump back postpones the next
// flush until the clock passes the last flush again.
func TestFlushMsWallClockJumps(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(10_000_000)
	ffs := NewFaultFS(OSFS())
	l, err := Open(t.TempDir(), Options{FS: ffs, Now: func() time.Time { return now }, Logger: quietLogger, Config: Config{FlushMs: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	name := l.segs[0].log.Name()
	appendAndFlush := func(step time.Duration) (synced, size int64) {
		t.Helper()
		if _, err := l.Append(buildBatch(spec{records: 2}), AppendOptions{LogAppendTime: -1}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(step)
		if err := l.FlushIfDue(); err != nil {
			t.Fatal(err)
		}
		return ffs.SyncedSize(name), l.Size()
	}

	// A jump forward of an hour: the data looks an hour old and is
	// flushed at once.
	if synced, size := appendAndFlush(time.Hour); synced != size {
		t.Fatalf("after a jump forward: synced %d of %d bytes, want all", synced, size)
	}
	// A jump back of an hour: the last flush is "in the future", so two
	// seconds later (twice flush.ms) nothing is flushed...
	now = now.Add(-time.Hour)
	before := ffs.SyncedSize(name)
	if synced, size := appendAndFlush(2 * time.Second); synced != before || size == before {
		t.Fatalf("after a jump back: synced %d of %d bytes, want still %d", synced, size, before)
	}
	// ...until the wall clock passes the last flush plus flush.ms.
	if synced, size := appendAndFlush(time.Hour); synced != size {
		t.Fatalf("once the clock caught up: synced %d of %d bytes, want all", synced, size)
	}
}
